/* ss-test-media.h: small media fixtures generated at run time for the audio,
 * transport and timeline tests. */
#pragma once

#include "ss-test-pattern.h"

G_BEGIN_DECLS

/* Level of the red channel that frame @index of a test video carries. */
#define SS_TEST_FRAME_RED(index) ((int) (((index) * 6) % 240) + 8)

/* Writes a video-only clip of @n_frames at @fps_num/1 whose frame i is a flat colour
 * with red = SS_TEST_FRAME_RED (i). */
gboolean  ss_test_make_video (const char *path, int n_frames, int fps_num, GError **error);
/* Writes a stereo float WAV at SS_MIX_RATE: a sine of @freq Hz and @amp. */
gboolean  ss_test_make_tone  (const char *path, double seconds, double freq, double amp, GError **error);
/* Spins the default main context for @ms milliseconds. */
void      ss_test_spin       (guint ms);

G_END_DECLS
