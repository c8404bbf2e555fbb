/* mel-ref.h: double-precision reference of torchaudio.transforms.MelSpectrogram
 * (periodic Hann window zero-padded and centered, optional reflect centering,
 * power 2, HTK mel filterbank without normalization, optional log(x + offset)).
 * Written from the formulas, independently of core/dsp. */
#pragma once

#include <glib.h>

typedef struct {
  int sample_rate, n_fft, win_length, hop_length, n_mels;
  gboolean center;
  double log_offset; /* > 0: log(mel + offset) (log_kind 0) or floor (1: ln, 2: log10) */
  int pad;           /* reflect padding when !center */
  gboolean magnitude;
  double mag_eps;
  gboolean slaney;   /* Slaney mel scale and Slaney area normalization (librosa default) */
  int log_kind;      /* 0: ln(x + offset) if offset > 0; 1: ln(max(x, offset)); 2: log10(max) */
  gboolean clamp_input;
  double f_max;      /* <= 0: sample_rate / 2 */
} MelRefParams;

/* HTK filterbank [n_fft/2+1][n_mels]. g_free. */
double *mel_ref_filterbank (const MelRefParams *p);
/* x: L samples -> [n_mels][T] (g_free); *T_out = frames. */
double *mel_ref_compute (const MelRefParams *p, const float *x, gint64 L, gint64 *T_out);
