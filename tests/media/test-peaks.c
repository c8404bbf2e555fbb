/* Waveform peaks of a known signal, thumbnail strips, and their disk cache
 * (hit on the second call, a damaged cache file ignored and rewritten). */
#include <math.h>
#include <string.h>
#include <glib/gstdio.h>
#include "ss-test-pattern.h"
#include "media/ss-media-private.h"

static char *tmpdir;

/* 1 s at 48 kHz: 0.5 s of a 1 kHz sine at 0.5, then a 500 Hz square at ±0.25. */
static char *
write_known (void)
{
  g_autoptr(GError) error = NULL;
  const gsize n = 48000;
  g_autofree float *buf = g_new (float, n * 2);
  char *path = g_build_filename (tmpdir, "known.wav", NULL);

  for (gsize i = 0; i < n; i++)
    {
      float v = i < n / 2 ? (float) (0.5 * sin (2 * G_PI * 1000.0 * i / 48000.0)) : ((i / 48) % 2 ? -0.25f : 0.25f);
      buf[2 * i] = buf[2 * i + 1] = v;
    }
  g_assert_true (ss_wav_write (path, buf, n, 48000, 2, &error));
  return path;
}

static void
check_known (const SsWaveform *w)
{
  g_assert_cmpuint (w->n_buckets, ==, 100);
  g_assert_cmpfloat (w->buckets_per_second, ==, 100.0);
  for (gsize i = 0; i < 100; i++)
    {
      float amp = i < 50 ? 0.5f : 0.25f;
      g_assert_cmpfloat_with_epsilon (w->max[i], amp, 2e-3);
      g_assert_cmpfloat_with_epsilon (w->min[i], -amp, 2e-3);
    }
}

static void
test_waveform (void)
{
  g_autofree char *path = write_known ();
  g_autoptr(GError) error = NULL;
  guint hits = ss_media_cache_get_hits ();
  g_autofree char *key = NULL;
  g_autofree char *cache = NULL;

  {
    g_autoptr(SsWaveform) w = ss_waveform_compute (path, 100.0, NULL, &error);
    g_assert_no_error (error);
    check_known (w);
    g_assert_cmpuint (ss_media_cache_get_hits (), ==, hits);
  }
  {
    g_autoptr(SsWaveform) w = ss_waveform_compute (path, 100.0, NULL, &error);
    g_assert_no_error (error);
    check_known (w);
    g_assert_cmpuint (ss_media_cache_get_hits (), ==, hits + 1);   /* from the cache */
  }
  /* damage the cache file: ignored, recomputed, rewritten */
  key = ss_media_cache_key (path, "waveform 100");
  cache = ss_media_cache_path ("waveforms", key);
  g_assert_true (g_file_test (cache, G_FILE_TEST_IS_REGULAR));
  {
    g_autofree char *data = NULL;
    gsize len;
    g_assert_true (g_file_get_contents (cache, &data, &len, NULL));
    data[len - 5] ^= 0x55;
    g_assert_true (g_file_set_contents (cache, data, (gssize) len, NULL));
  }
  {
    g_autoptr(SsWaveform) w = ss_waveform_compute (path, 100.0, NULL, &error);
    g_assert_no_error (error);
    check_known (w);
    g_assert_cmpuint (ss_media_cache_get_hits (), ==, hits + 1);
  }
  {
    /* a truncated cache file too */
    g_autofree char *data = NULL;
    gsize len;
    g_assert_true (g_file_get_contents (cache, &data, &len, NULL));
    g_assert_true (g_file_set_contents (cache, data, (gssize) len / 2, NULL));
    g_autoptr(SsWaveform) w = ss_waveform_compute (path, 100.0, NULL, &error);
    check_known (w);
  }
  {
    g_autoptr(SsWaveform) w = ss_waveform_compute (path, 100.0, NULL, &error);
    check_known (w);
    g_assert_cmpuint (ss_media_cache_get_hits (), ==, hits + 2);   /* rewritten */
  }
  /* another resolution is another cache entry */
  {
    g_autoptr(SsWaveform) w = ss_waveform_compute (path, 10.0, NULL, &error);
    g_assert_no_error (error);
    g_assert_cmpuint (w->n_buckets, ==, 10);
    g_assert_cmpfloat_with_epsilon (w->max[2], 0.5, 2e-3);
    g_assert_cmpfloat_with_epsilon (w->max[7], 0.25, 2e-3);
  }
}

static void
test_waveform_cancel (void)
{
  g_autofree char *path = write_known ();
  g_autoptr(GError) error = NULL;
  g_autoptr(GCancellable) c = g_cancellable_new ();

  g_cancellable_cancel (c);
  g_assert_null (ss_waveform_compute (path, 37.0, c, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
}

static void
test_thumbnails (void)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *path = g_build_filename (tmpdir, "thumbs.mp4", NULL);
  SsTestPattern p;
  guint hits;
  const gint64 expect[4] = { 0, 12, 25, 37 };   /* frames shown at 0, 0.5, 1.0, 1.5 s */

  ss_test_pattern_init (&p);
  p.n_frames = 50;
  p.gop = 25;
  p.sample_rate = 0;
  p.width = 640;
  p.height = 480;
  g_assert_true (ss_test_pattern_write (path, &p, &error));
  hits = ss_media_cache_get_hits ();
  for (int pass = 0; pass < 2; pass++)
    {
      g_autoptr(SsThumbnails) t = ss_thumbnails_compute (path, 500 * SS_TIME_MS, 120, NULL, &error);
      g_assert_no_error (error);
      g_assert_cmpuint (t->frames->len, ==, 4);
      g_assert_cmpint (t->interval, ==, 500 * SS_TIME_MS);
      for (guint i = 0; i < 4; i++)
        {
          SsFrame *f = g_ptr_array_index (t->frames, i);
          g_assert_cmpint (f->height, ==, 120);
          g_assert_cmpint (f->width, ==, 160);
          g_assert_cmpint (ss_test_pattern_read (f), ==, expect[i]);
          g_assert_cmpint (f->index, ==, expect[i]);
        }
      g_assert_cmpuint (ss_media_cache_get_hits (), ==, hits + pass);
    }
  {
    g_autoptr(GCancellable) c = g_cancellable_new ();
    g_cancellable_cancel (c);
    g_assert_null (ss_thumbnails_compute (path, 250 * SS_TIME_MS, 60, c, &error));
    g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  }
}

int
main (int argc, char **argv)
{
  int ret;

  tmpdir = ss_test_tmpdir ();
  {
    /* a private cache dir, set before GLib reads it */
    g_autofree char *cache = g_build_filename (tmpdir, "cache", NULL);
    g_setenv ("XDG_CACHE_HOME", cache, TRUE);
  }
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/media/peaks/waveform", test_waveform);
  g_test_add_func ("/media/peaks/waveform-cancel", test_waveform_cancel);
  g_test_add_func ("/media/peaks/thumbnails", test_thumbnails);
  ret = g_test_run ();
  ss_test_rmdir (tmpdir);
  return ret;
}
