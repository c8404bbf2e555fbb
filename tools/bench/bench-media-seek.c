/* bench-media-seek: frame-accurate seek latency and sequential decode speed on a
 * generated 1080p H.264 clip. Not a test: prints figures.
 *
 *   bench-media-seek [seconds=20] [gop=50]
 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <glib/gstdio.h>
#include "ss-test-pattern.h"

static int
cmp_double (const void *a, const void *b)
{
  double x = *(const double *) a, y = *(const double *) b;
  return x < y ? -1 : x > y;
}

static void
report (const char *what, double *ms, int n)
{
  double sum = 0;
  qsort (ms, (size_t) n, sizeof *ms, cmp_double);
  for (int i = 0; i < n; i++)
    sum += ms[i];
  printf ("%-44s n=%-4d mean %7.1f ms  median %7.1f ms  p95 %7.1f ms  max %7.1f ms\n", what, n, sum / n, ms[n / 2],
          ms[(int) (n * 0.95)], ms[n - 1]);
}

/* CPU time of the whole process (all decoder threads), in ms: unlike wall time
 * it does not grow when other programs compete for the cores. */
static double
cpu_ms (void)
{
  struct timespec ts;
  clock_gettime (CLOCK_PROCESS_CPUTIME_ID, &ts);
  return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static void
run_seeks (const char *path, int n_frames, int out_w, int out_h, const char *label)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(SsVideoDecoder) dec = ss_video_decoder_new (path, &error);
  GRand *rand = g_rand_new_with_seed (42);
  double ms[200], cpu[200];
  int bad = 0;

  if (!dec)
    g_error ("%s", error->message);
  ss_video_decoder_set_output_size (dec, out_w, out_h);
  for (int i = 0; i < 200; i++)
    {
      gint64 n = g_rand_int_range (rand, 0, n_frames);
      gint64 t0 = g_get_monotonic_time ();
      double c0 = cpu_ms ();
      g_autoptr(SsFrame) f = ss_video_decoder_get_frame_index (dec, n, &error);
      ms[i] = (g_get_monotonic_time () - t0) / 1000.0;
      cpu[i] = cpu_ms () - c0;
      if (!f || ss_test_pattern_read (f) != n)
        bad++;
    }
  report (label, ms, 200);
  {
    g_autofree char *l = g_strdup_printf ("%s, CPU time", label);
    report (l, cpu, 200);
  }
  if (bad)
    printf ("  WARNING: %d frames decoded wrong\n", bad);
  g_rand_free (rand);

  {
    /* sequential playback from a random point: per-frame cost */
    double per[250];
    SsFrame *first = ss_video_decoder_get_frame_index (dec, n_frames / 3, &error);
    g_clear_pointer (&first, ss_frame_unref);
    for (int i = 0; i < 250 && n_frames / 3 + 1 + i < n_frames; i++)
      {
        gint64 t0 = g_get_monotonic_time ();
        SsFrame *f = ss_video_decoder_get_frame_index (dec, n_frames / 3 + 1 + i, &error);
        per[i] = (g_get_monotonic_time () - t0) / 1000.0;
        g_clear_pointer (&f, ss_frame_unref);
      }
    {
      g_autofree char *l = g_strdup_printf ("%s, sequential", label);
      int n = MIN (250, n_frames - n_frames / 3 - 1);
      report (l, per, n);
    }
  }
}

int
main (int argc, char **argv)
{
  double seconds = argc > 1 ? atof (argv[1]) : 20.0;
  int gop = argc > 2 ? atoi (argv[2]) : 50;
  g_autoptr(GError) error = NULL;
  g_autofree char *dir = g_dir_make_tmp ("ss-bench-XXXXXX", NULL);
  g_autofree char *path = g_build_filename (dir, "clip1080.mp4", NULL);
  SsTestPattern p;
  gint64 t0;

  ss_test_pattern_init (&p);
  p.width = 1920;
  p.height = 1080;
  p.fps_num = 25;
  p.n_frames = (int) (seconds * 25);
  p.gop = gop;
  p.duration = seconds;
  t0 = g_get_monotonic_time ();
  if (!ss_test_pattern_write (path, &p, &error))
    g_error ("%s", error->message);
  printf ("clip: 1920x1080 H.264 (libx264 veryfast, GOP %d, B-frames) + AAC, %.0f s, %d frames, encoded in %.1f s\n",
          gop, seconds, p.n_frames, (g_get_monotonic_time () - t0) / 1e6);
  run_seeks (path, p.n_frames, 0, 0, "random seek, full 1920x1080 RGBA");
  run_seeks (path, p.n_frames, 640, 360, "random seek, scaled to 640x360");
  g_unlink (path);
  g_rmdir (dir);
  return 0;
}
