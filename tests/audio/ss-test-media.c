/* ss-test-media.c: generated fixtures for tests/audio. */
#define G_LOG_DOMAIN "ss-test"

#include "ss-test-media.h"

#include <math.h>

gboolean
ss_test_make_video (const char *path, int n_frames, int fps_num, GError **error)
{
  const int w = 64, h = 48;
  g_autoptr(SsEncoder) enc = ss_encoder_new (path, w, h, fps_num, 1, 0, 0, error);
  if (enc == NULL)
    return FALSE;
  for (int i = 0; i < n_frames; i++)
    {
      g_autoptr(SsFrame) f = ss_frame_new (w, h);
      for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++)
          {
            guint8 *p = f->data + y * f->stride + x * 4;
            p[0] = (guint8) SS_TEST_FRAME_RED (i);
            p[1] = 96;
            p[2] = 160;
            p[3] = 255;
          }
      f->index = i;
      f->pts = (SsTime) i * SS_TIME_SECOND / fps_num;
      if (!ss_encoder_write_video (enc, f, error))
        return FALSE;
    }
  return ss_encoder_finish (enc, error);
}

gboolean
ss_test_make_tone (const char *path, double seconds, double freq, double amp, GError **error)
{
  gsize n = (gsize) (seconds * SS_MIX_RATE);
  g_autofree float *buf = g_new (float, n * 2);
  for (gsize i = 0; i < n; i++)
    {
      float v = (float) (amp * sin (2 * G_PI * freq * (double) i / SS_MIX_RATE));
      buf[2 * i] = v;
      buf[2 * i + 1] = v;
    }
  return ss_wav_write (path, buf, n, SS_MIX_RATE, 2, error);
}

void
ss_test_spin (guint ms)
{
  gint64 end = g_get_monotonic_time () + (gint64) ms * 1000;
  while (g_get_monotonic_time () < end)
    {
      while (g_main_context_iteration (NULL, FALSE))
        ;
      g_usleep (2000);
    }
}
