/* ss-test-pattern.h: media files whose every frame says its own number, with
 * exact tones for audio, for decode-accuracy tests and benchmarks. */
#pragma once

#include "media/ss-media.h"
#include "project/ss-project.h"

G_BEGIN_DECLS

typedef struct {
  int         width, height;        /* 0: no video */
  int         fps_num, fps_den;
  int         n_frames;
  int         sample_rate, channels; /* 0: no audio */
  double      duration;              /* audio length in s (0: n_frames / fps) */
  double      amplitude;             /* tone amplitude (0: 0.5) */
  const char *video_codec, *audio_codec;
  int         gop, max_b_frames;
  SsTime      start_time;
  const SsTime *vfr_pts;             /* if set: n_frames timestamps (µs), fps must be 1000/1 */
} SsTestPattern;

void     ss_test_pattern_init   (SsTestPattern *p);   /* 320x240, 25 fps, 50 frames, 48 kHz stereo */
gboolean ss_test_pattern_write  (const char *path, const SsTestPattern *p, GError **error);
/* Draws frame @n of the pattern into @f. */
void     ss_test_pattern_draw   (SsFrame *f, gint64 n);
/* The frame number written in @f, or -1 when the pattern cannot be read. */
gint64   ss_test_pattern_read   (const SsFrame *f);
/* Tone of channel @ch: frequency 440 Hz * (ch + 1) / 1 ... */
double   ss_test_pattern_tone_hz (int ch);
/* Expected sample at media time @t seconds on channel @ch. */
double   ss_test_pattern_sample (const SsTestPattern *p, double t, int ch);

/* A fresh temporary directory (removed by ss_test_rmdir). */
char    *ss_test_tmpdir         (void);
void     ss_test_rmdir          (const char *dir);

/* Probes @path and adds it to @project; returns the media id. */
const char *ss_test_add_media   (SsProject *project, const char *path);

G_END_DECLS
