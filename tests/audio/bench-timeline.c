/* bench-timeline.c: timeline redraw time on a 200-clip-per-track project, rendered
 * offscreen N times (run under Xvfb). Not a test; figures go to
 * docs/PERFORMANCE-timeline.md.
 *
 *   xvfb-run -a -s '-screen 0 1920x1080x24' build/tests/audio/bench-timeline [-n N] [--png DIR]
 */
#include <adwaita.h>

#include "ss-timeline.h"
#include "ss-timeline-private.h"
#include "ss-test-media.h"
#include "jobs/ss-job.h"

#include <glib/gstdio.h>
#include <math.h>

#define N_CLIPS  200
#define CLIP_S   2.0
#define PERIOD_S 2.5
#define WIN_W    1600
#define WIN_H    360

static int
cmp_double (gconstpointer a, gconstpointer b)
{
  double x = *(const double *) a, y = *(const double *) b;
  return x < y ? -1 : x > y;
}

static void
spin (guint ms)
{
  ss_test_spin (ms);
}

static void
bench (GtkWidget *timeline, const char *name, int n, const char *png_dir)
{
  spin (100);
  int w = gtk_widget_get_width (timeline), h = gtk_widget_get_height (timeline);
  GskRenderer *renderer = gtk_native_get_renderer (gtk_widget_get_native (timeline));
  g_autofree double *snap_ms = g_new (double, n);
  g_autofree double *total_ms = g_new (double, n);

  for (int i = -3; i < n; i++)   /* 3 warm-up rounds */
    {
      gint64 t0 = g_get_monotonic_time ();
      GtkSnapshot *snapshot = gtk_snapshot_new ();
      /* The widget's own snapshot vfunc: GTK would otherwise reuse the cached
       * node of an unchanged widget. */
      GTK_WIDGET_GET_CLASS (timeline)->snapshot (timeline, snapshot);
      GskRenderNode *node = gtk_snapshot_free_to_node (snapshot);
      gint64 t1 = g_get_monotonic_time ();
      GdkTexture *tex = gsk_renderer_render_texture (renderer, node, &GRAPHENE_RECT_INIT (0, 0, w, h));
      gint64 t2 = g_get_monotonic_time ();
      if (i == n - 1 && png_dir != NULL)
        {
          g_autofree char *file = g_strdup_printf ("%s/timeline-%s.png", png_dir, name);
          gdk_texture_save_to_png (tex, file);
        }
      g_object_unref (tex);
      gsk_render_node_unref (node);
      if (i >= 0)
        {
          snap_ms[i] = (t1 - t0) / 1000.0;
          total_ms[i] = (t2 - t0) / 1000.0;
        }
    }
  qsort (snap_ms, n, sizeof (double), cmp_double);
  qsort (total_ms, n, sizeof (double), cmp_double);
  double snap_mean = 0, total_mean = 0;
  for (int i = 0; i < n; i++)
    {
      snap_mean += snap_ms[i] / n;
      total_mean += total_ms[i] / n;
    }
  g_print ("| %-22s | %5u | %7.3f | %7.3f | %7.3f | %7.3f |\n", name,
           ss_timeline_get_last_drawn_clips (SS_TIMELINE (timeline)),
           snap_mean, snap_ms[n / 2], total_mean, total_ms[(int) (n * 0.95)]);
}

int
main (int argc, char **argv)
{
  int n = 200;
  const char *png_dir = NULL;
  for (int i = 1; i < argc; i++)
    {
      if (g_str_equal (argv[i], "-n") && i + 1 < argc)
        n = atoi (argv[++i]);
      else if (g_str_equal (argv[i], "--png") && i + 1 < argc)
        png_dir = argv[++i];
    }
  g_setenv ("SOUNDSTAGE_AUDIO", "null", TRUE);
  if (!gtk_init_check ())
    {
      g_printerr ("bench-timeline needs a display (run it under xvfb-run)\n");
      return 1;
    }
  adw_init ();

  g_autoptr(GError) error = NULL;
  g_autofree char *dir = g_dir_make_tmp ("ss-bench-timeline-XXXXXX", &error);
  g_autofree char *video = g_build_filename (dir, "clip.mp4", NULL);
  g_autofree char *wav = g_build_filename (dir, "tone.wav", NULL);
  if (!ss_test_make_video (video, 250, 25, &error) ||
      !ss_test_make_tone (wav, 10.0, 3.0, 0.8, &error))
    g_error ("fixtures: %s", error->message);

  g_autoptr(SsProject) p = ss_project_new ();
  const char *mv = ss_test_add_media (p, video);
  const char *ma = ss_test_add_media (p, wav);
  const char *vt = NULL, *at = NULL;
  for (guint i = 0; i < ss_project_get_n_tracks (p); i++)
    {
      const SsTrack *t = ss_project_get_track (p, i);
      if (t->kind == SS_TRACK_VIDEO && !vt)
        vt = t->id;
      if (t->kind == SS_TRACK_AUDIO && !at)
        at = t->id;
    }
  g_autofree char *vtrack = g_strdup (vt), *atrack = g_strdup (at);
  ss_project_begin_group (p, "bench");
  for (int i = 0; i < N_CLIPS; i++)
    {
      SsTime start = ss_time_from_seconds (i * PERIOD_S);
      SsTime in = ss_time_from_seconds ((i % 4) * 2.0);
      if (!ss_project_add_clip (p, vtrack, mv, start, in, ss_time_from_seconds (CLIP_S), &error) ||
          !ss_project_add_clip (p, atrack, ma, start, in, ss_time_from_seconds (CLIP_S), &error))
        g_error ("add clip: %s", error->message);
    }
  ss_project_end_group (p);

  GtkWidget *window = gtk_window_new ();
  gtk_window_set_default_size (GTK_WINDOW (window), WIN_W, WIN_H);
  GtkWidget *timeline = ss_timeline_new ();
  gtk_window_set_child (GTK_WINDOW (window), timeline);
  ss_timeline_set_project (SS_TIMELINE (timeline), p);
  gtk_window_present (GTK_WINDOW (window));
  gint64 deadline = g_get_monotonic_time () + 10 * G_USEC_PER_SEC;
  while (gtk_widget_get_width (timeline) < WIN_W / 2 && g_get_monotonic_time () < deadline)
    g_main_context_iteration (NULL, TRUE);

  /* Draw once so thumbnails and waveforms are computed, and wait for them. */
  gtk_widget_activate_action (timeline, "timeline.zoom-fit", NULL);
  spin (200);
  deadline = g_get_monotonic_time () + 60 * G_USEC_PER_SEC;
  while (ss_job_manager_get_n_running (ss_job_manager_get_default ()) > 0 &&
         g_get_monotonic_time () < deadline)
    spin (20);
  spin (100);

  GskRenderer *renderer = gtk_native_get_renderer (GTK_NATIVE (window));
  g_print ("Renderer %s, widget %dx%d, %d clips on each of 2 tracks, %d frames per case\n\n",
           G_OBJECT_TYPE_NAME (renderer), gtk_widget_get_width (timeline),
           gtk_widget_get_height (timeline), N_CLIPS, n);
  g_print ("| case                   | clips drawn | snapshot mean ms | snapshot median ms | snapshot+render mean ms | snapshot+render p95 ms |\n");
  g_print ("|---|---|---|---|---|---|\n");

  bench (timeline, "fit-all-400-clips", n, png_dir);
  ss_timeline_set_zoom (SS_TIMELINE (timeline), 100);
  ss_timeline_scroll_to (SS_TIMELINE (timeline), ss_time_from_seconds (200));
  bench (timeline, "100px-per-s", n, png_dir);
  ss_timeline_set_zoom (SS_TIMELINE (timeline), 1000);
  bench (timeline, "1000px-per-s", n, png_dir);
  ss_timeline_set_zoom (SS_TIMELINE (timeline), 8);
  ss_timeline_scroll_to (SS_TIMELINE (timeline), 0);
  bench (timeline, "8px-per-s", n, png_dir);

  gtk_window_destroy (GTK_WINDOW (window));
  spin (50);
  g_unlink (video);
  g_unlink (wav);
  g_rmdir (dir);
  return 0;
}
