/* ss-mel.h: STFT power and log-mel spectrogram on the GPU.
 *
 * Conventions follow torchaudio.transforms.MelSpectrogram with defaults, as
 * Synchformer (and MMAudio's Synchformer features) use it; docs/dsp.md has the
 * full list. In short, for ss_mel_params_init_synchformer():
 *   16 kHz, n_fft 1024, win_length 400 periodic Hann zero-padded to 1024 and
 *   centered (offset 312), hop 160, center=TRUE with reflect padding of 512,
 *   power 2 (|X|^2, no normalization), 128 mel bins, HTK mel scale, f_min 0,
 *   f_max 8000, no filter-area normalization, then log(mel + 1e-6).
 *   No dither, no pre-emphasis, no DC removal (those are Kaldi fbank options,
 *   not used by Synchformer).
 *   Frames T = 1 + n_samples / hop (integer division).
 * The model then pads/truncates time to 66 and normalizes with
 * (x - (-4.2677393)) / (2 * 4.5689974): see ss_mel_synchformer_normalize().
 *
 * ss_mel_params_init_mmaudio() gives MMAudio's VAE mel (docs/dsp.md).
 *
 * Implementation: one fused kernel (shaders/dsp/mel_fft.comp): radix-2 FFT
 * of two real frames at once in shared memory, power, sparse mel filterbank,
 * log. n_fft must be a power of two between 16 and 2048.
 */
#pragma once

#include <glib.h>
#include "tensor/ss-tensor.h"

G_BEGIN_DECLS

typedef enum {
  SS_MEL_SCALE_HTK = 0,     /* 2595 log10(1 + f/700) (torchaudio's default) */
  SS_MEL_SCALE_SLANEY,      /* linear below 1 kHz, log above (librosa's default) */
} SsMelScale;

typedef enum {
  SS_MEL_LOG_ADD = 0,       /* ln(mel + log_offset); log_offset <= 0: no log */
  SS_MEL_LOG_CLAMP,         /* ln(max(mel, log_offset)) */
  SS_MEL_LOG10_CLAMP,       /* log10(max(mel, log_offset)) */
} SsMelLog;

/* Zero-initialized fields give the torchaudio defaults where there is one. */
typedef struct {
  int        sample_rate;
  int        n_fft;
  int        win_length;   /* <= n_fft; periodic Hann, zero-padded and centered */
  int        hop_length;
  int        n_mels;
  double     f_min;
  double     f_max;        /* <= 0: sample_rate / 2 */
  gboolean   center;       /* reflect-pad n_fft/2 on both sides */
  int        reflect_pad;  /* without center: reflect-pad this many samples on both sides */
  gboolean   magnitude;    /* |X| = sqrt(re^2 + im^2 + mag_eps) instead of |X|^2 */
  double     mag_eps;
  SsMelScale mel_scale;
  gboolean   slaney_norm;  /* scale each filter by 2 / (f_high - f_low) */
  SsMelLog   log_mode;
  double     log_offset;   /* offset (SS_MEL_LOG_ADD) or floor (the CLAMP modes) */
  gboolean   clamp_input;  /* clamp samples to [-1, 1] first */
} SsMelParams;

/* 16 kHz, n_fft 1024, win 400, hop 160, 128 mels, center, log offset 1e-6. */
void ss_mel_params_init_synchformer (SsMelParams *p);
/* MMAudio's MelConverter (BigVGAN style) for its VAE: sample_rate 16000
 * (n_fft 1024, 80 mels, hop 256, f_max 8000, log10) or 44100 (n_fft 2048,
 * 128 mels, hop 512, f_max 22050, ln); window n_fft; reflect pad
 * (n_fft - hop) / 2, no centering; magnitude sqrt(|X|^2 + 1e-9); Slaney mel
 * scale and norm (librosa.filters.mel defaults); log of max(mel, 1e-5);
 * input clamped to [-1, 1]. */
void ss_mel_params_init_mmaudio (SsMelParams *p, int sample_rate);

typedef struct _SsMel SsMel;

/* Validates the parameters (SS_ERROR_UNSUPPORTED for what the kernel cannot
 * do) and uploads window, twiddles and filterbank to the default device. */
SsMel   *ss_mel_new (const SsMelParams *params, GError **error);
void     ss_mel_free (SsMel *mel);
const SsMelParams *ss_mel_get_params (SsMel *mel);

/* Number of STFT frames for n_samples (0 if too short). */
gint64   ss_mel_n_frames (const SsMelParams *params, gint64 n_samples);

/* wave: f32 [L] or [B, L] (any view); returns f32 [n_mels, T] or
 * [B, n_mels, T]. L must exceed the reflect padding and the padded length must
 * hold one frame; shorter audio is SS_ERROR_INVALID_DATA. No autograd. */
SsTensor *ss_mel_compute (SsMel *mel, SsTensor *wave, GError **error);

/* Log-mel of overlapping segments of one signal wave [L] (f32 or any view):
 * segment s is samples [s*seg_hop, s*seg_hop + seg_len), each analysed on its
 * own (padding reflects inside the segment, as when slicing first). Output
 * [n_segments, n_mels, out_frames]: frames past the segment's own count hold
 * pad_value, extra frames are dropped (PadOrTruncate), then every value v
 * becomes scale * v + shift. One dispatch, no copies. */
SsTensor *ss_mel_compute_segments (SsMel *mel, SsTensor *wave, gint64 seg_len, gint64 seg_hop,
                                   gint64 n_segments, gint64 out_frames, float pad_value,
                                   float scale, float shift, GError **error);

/* Synchformer's whole audio input from 4.8 s of 16 kHz audio (wave [L],
 * L >= 76800; the first 76800 samples are used): 14 segments of 10240 samples
 * (0.64 s) with hop 5120, log-mel (65 frames) padded with 0 to 66, normalized
 * (x - mean) / (2 std). Returns [14, 128, 66]; the AST takes it as [14, 1, 128, 66]
 * (ss_tensor_unsqueeze (t, 1, ...)). mel must have the Synchformer parameters. */
SsTensor *ss_mel_compute_synchformer (SsMel *mel, SsTensor *wave, GError **error);
#define SS_MEL_SYNCHFORMER_SEGMENT  10240
#define SS_MEL_SYNCHFORMER_SEGMENTS 14

/* Host filterbank as torchaudio.functional.melscale_fbanks (mel_scale and norm
 * from params; Slaney + Slaney norm equals librosa.filters.mel's default):
 * [n_fft/2 + 1, n_mels] row-major, in double. g_free. */
double  *ss_mel_filterbank (const SsMelParams *params);

/* Synchformer's input normalization, in place on host data:
 * x = (x + 4.2677393) / (2 * 4.5689974). */
void     ss_mel_synchformer_normalize (float *x, gsize n);
#define SS_MEL_SYNCHFORMER_MEAN (-4.2677393)
#define SS_MEL_SYNCHFORMER_STD  (4.5689974)
/* Synchformer's segment length in frames after PadOrTruncate (pad value 0
 * in the log domain, before normalization). */
#define SS_MEL_SYNCHFORMER_FRAMES 66

G_DEFINE_AUTOPTR_CLEANUP_FUNC (SsMel, ss_mel_free)

G_END_DECLS
