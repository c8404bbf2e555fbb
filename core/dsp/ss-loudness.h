/* ss-loudness.h: level measurements of sample buffers (host, no GPU).
 *
 * dBFS: 0 dB is a full-scale square wave (RMS 1.0); a full-scale sine reads
 * -3.01 dB RMS. Silence (all zeros, or n == 0) is -INFINITY; callers that
 * display levels clamp to their own floor (e.g. SS_LOUDNESS_FLOOR_DB).
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

#define SS_LOUDNESS_FLOOR_DB (-120.0)

/* RMS of n samples (computed in double). */
double ss_loudness_rms (const float *x, gsize n);
/* 20 log10(RMS); -INFINITY for silence. */
double ss_loudness_rms_dbfs (const float *x, gsize n);
/* 20 log10(max |x|); -INFINITY for silence. */
double ss_loudness_peak_dbfs (const float *x, gsize n);
/* Interleaved multichannel: RMS over all channels together. */
double ss_loudness_rms_dbfs_interleaved (const float *x, gsize n_frames, guint channels);

/* Short-term RMS envelope in dBFS (floored at SS_LOUDNESS_FLOOR_DB): frame i
 * covers x[i*hop, i*hop + win) (zeros past the end). Returns the number of
 * frames written: 1 + (n - 1) / hop for n > 0, at most max_out. */
gsize  ss_loudness_envelope_dbfs (const float *x, gsize n, gsize win, gsize hop,
                                  float *out, gsize max_out);
/* Frames ss_loudness_envelope_dbfs() writes for n samples. */
gsize  ss_loudness_envelope_frames (gsize n, gsize hop);

/* Gain (linear) that brings a buffer from its RMS dBFS to target dBFS
 * (1.0 for silence). */
double ss_loudness_gain_to (const float *x, gsize n, double target_dbfs);

G_END_DECLS
