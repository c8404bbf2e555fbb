/* ss-sync-sp.h: the signal-processing sync estimate (needs no weights).
 *
 * Audio onset strength (half-wave rectified spectral flux of a log-magnitude
 * STFT, 100 Hz) is cross-correlated with visual motion energy (frame differences
 * after compensating the camera's global shift, per block, minus the median
 * block, 25 Hz resampled to 100 Hz) over lags of +-2 s. The offset is the peak
 * (refined between lags), the 21 class probabilities are a softmax over the
 * correlation pooled around each class lag, the confidence comes from how far the
 * peak stands above the second peak. Long clips are also analysed in sliding
 * 4.8 s windows (offset over time). It is the fallback when no sync model is
 * installed and the baseline the learned models are measured against.
 *
 * The offset follows ss-sync.h: positive = the audio leads.
 * Everything runs on the CPU (its own radix-2 FFT); no GPU needed.
 */
#pragma once

#include <gio/gio.h>
#include "ss-sync.h"

G_BEGIN_DECLS

#define SS_SYNC_SP_RATE 100    /* feature rate, Hz */

typedef struct {
  double max_offset;     /* +- seconds searched (2.0) */
  double window;         /* sliding window length (4.8 s); <= 0: no windows */
  double hop;            /* sliding window hop (1.0 s) */
  double temperature;    /* softmax temperature on correlation values */
} SsSyncSpOptions;

void ss_sync_sp_options_init (SsSyncSpOptions *opt);

typedef struct {
  double offset;                          /* seconds, refined peak */
  int    class_index;                     /* most probable class */
  double probs[SS_SYNC_N_CLASSES];        /* over ss_sync_class_offset(i) */
  double confidence;                      /* 0 (no idea) .. 1 (clear single peak) */
  double peak, second_peak;               /* correlation values (Pearson) */
} SsSyncEstimate;

typedef struct {
  SsSyncEstimate  overall;
  double          start, duration;        /* analysed span of the video (s) */
  int             n_windows;
  double         *window_start;           /* seconds */
  SsSyncEstimate *windows;
  int             n_lags;                 /* correlation curve of the whole clip */
  double          first_lag;              /* seconds of lag 0 of the curve */
  double          lag_step;               /* seconds */
  float          *correlation;
} SsSyncSpResult;

void ss_sync_sp_result_free (SsSyncSpResult *result);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (SsSyncSpResult, ss_sync_sp_result_free)

/* Video frames in memory: RGBA 8-bit, all of one size. */
typedef struct {
  int            width, height, stride;   /* stride in bytes */
  int            n_frames;
  double         fps;
  const guint8 **frames;                  /* n_frames pointers */
} SsSyncSpVideo;

/* Features alone (also used by tests and other models). Returned arrays are
 * g_free'd by the caller. Onsets at SS_SYNC_SP_RATE, frame j at j/100 s;
 * motion at the video rate, value k (k >= 1) is the change from frame k-1 to k. */
float *ss_sync_sp_audio_onsets  (const float *audio, gsize n_samples, int rate, gsize *n_out);
float *ss_sync_sp_motion_energy (const SsSyncSpVideo *video, GCancellable *cancellable, gsize *n_out);

/* Analyses mono audio (@rate Hz) against the frames. Audio sample 0 and frame 0
 * are at the same time. Errors: clip shorter than the window, no audio, silent
 * audio, no frames. @name names the clip in messages (may be NULL). */
SsSyncSpResult *ss_sync_sp_analyse (const SsSyncSpVideo *video, const float *audio, gsize n_samples,
                                    int rate, const SsSyncSpOptions *opt, const char *name,
                                    GCancellable *cancellable, GError **error);

/* Decodes a media file (core/media) and analyses it. Errors name the file:
 * no audio stream, no video stream, shorter than 4.8 s, unreadable. */
SsSyncSpResult *ss_sync_sp_analyse_file (const char *path, const SsSyncSpOptions *opt,
                                         GCancellable *cancellable, GError **error);

/* In-place complex FFT of size n (a power of two), interleaved re/im; exposed for tests. */
void ss_sync_sp_fft (float *data, int n);

G_END_DECLS
