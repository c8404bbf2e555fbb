/* ss-onset.h: onset detection on a log-mel spectrogram (host).
 *
 * Onset strength is the spectral flux of the log-mel frames (librosa's
 * onset_strength with lag 1, mean aggregation):
 *   o[t] = mean over mels of max(0, S[m, t] - S[m, t - 1]),  o[0] = 0.
 * Peaks: o[t] is the maximum of o[t - w .. t + w], exceeds the mean of that
 * neighbourhood by delta and is at least min_gap frames after the previous
 * peak. With hop 160 at 16 kHz one frame is 10 ms.
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* logmel: [n_mels, T] row-major (ss_mel_compute's layout); out: T values. */
void  ss_onset_strength (const float *logmel, int n_mels, gint64 T, float *out);

/* Frame indices of onset peaks, ascending; returns how many (<= max_out). */
gsize ss_onset_peaks (const float *strength, gint64 T, int half_window, float delta,
                      int min_gap, gint64 *out, gsize max_out);

G_END_DECLS
