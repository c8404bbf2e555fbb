/* bench-media-memory: memory (RSS) and speed of the mixer and video decoders
 * over a one-hour project. Not a test: prints figures.
 *
 *   bench-media-memory [audio_tracks=4]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <glib/gstdio.h>
#include "ss-test-pattern.h"
#include "audio/ss-mixer.h"
#include "project/ss-project.h"

static long
rss_kb (void)
{
  g_autofree char *status = NULL;
  const char *p;
  if (!g_file_get_contents ("/proc/self/status", &status, NULL, NULL) || !(p = strstr (status, "VmRSS:")))
    return -1;
  return atol (p + 6);
}

static long
peak_kb (void)
{
  struct rusage ru;
  getrusage (RUSAGE_SELF, &ru);
  return ru.ru_maxrss;
}

static const char *
add_media (SsProject *p, const char *path)
{
  g_autoptr(GError) error = NULL;
  SsMedia info;
  const char *id;
  if (!ss_media_probe (path, &info, &error))
    g_error ("%s", error->message);
  id = ss_project_add_media (p, &info, &error);
  if (!id)
    g_error ("%s", error->message);
  ss_media_clear (&info);
  return id;
}

int
main (int argc, char **argv)
{
  int n_tracks = argc > 1 ? atoi (argv[1]) : 4;
  g_autoptr(GError) error = NULL;
  g_autofree char *dir = g_dir_make_tmp ("ss-bench-XXXXXX", NULL);
  g_autoptr(SsProject) proj = ss_project_new ();
  g_autoptr(SsMixer) mixer = ss_mixer_new ();
  const char *audio_ids[8], *video_id, *track_ids[8];
  const SsTime hour = 3600 * SS_TIME_SECOND, clip = 60 * SS_TIME_SECOND;
  const gsize block = 512;
  float *buf = g_new (float, 48000 * 2);
  long base;
  gint64 t0;
  int n_clips = 0;

  n_tracks = CLAMP (n_tracks, 1, 8);
  printf ("RSS at start: %ld KiB\n", rss_kb ());
  /* media: 8 one-minute FLAC stems and a 10 s 1280x720 H.264 clip */
  for (int i = 0; i < 8; i++)
    {
      SsTestPattern p;
      g_autofree char *path = g_strdup_printf ("%s/stem%d.flac", dir, i);
      ss_test_pattern_init (&p);
      p.width = 0;
      p.duration = 60.0;
      p.amplitude = 0.05 + 0.01 * i;
      if (!ss_test_pattern_write (path, &p, &error))
        g_error ("%s", error->message);
      audio_ids[i] = add_media (proj, path);
    }
  {
    SsTestPattern p;
    g_autofree char *path = g_strdup_printf ("%s/video.mp4", dir);
    ss_test_pattern_init (&p);
    p.width = 1280;
    p.height = 720;
    p.n_frames = 250;
    p.gop = 50;
    if (!ss_test_pattern_write (path, &p, &error))
      g_error ("%s", error->message);
    video_id = add_media (proj, path);
  }
  /* timeline: one hour of video (360 clips of 10 s) and @n_tracks audio tracks
   * each filled with 60 one-minute clips */
  for (guint i = 0; i < ss_project_get_n_tracks (proj); i++)
    if (ss_project_get_track (proj, i)->kind == SS_TRACK_AUDIO)
      track_ids[0] = ss_project_get_track (proj, i)->id;
  for (int k = 1; k < n_tracks; k++)
    track_ids[k] = ss_project_add_track (proj, SS_TRACK_AUDIO, "Stem", &error);
  ss_project_begin_group (proj, "bench");
  for (int k = 0; k < n_tracks; k++)
    for (SsTime t = 0; t < hour; t += clip, n_clips++)
      if (!ss_project_add_clip (proj, track_ids[k], audio_ids[(k + t / clip) % 8], t, 0, clip, &error))
        g_error ("%s", error->message);
  for (guint i = 0; i < ss_project_get_n_tracks (proj); i++)
    if (ss_project_get_track (proj, i)->kind == SS_TRACK_VIDEO)
      for (SsTime t = 0; t < hour; t += 10 * SS_TIME_SECOND, n_clips++)
        if (!ss_project_add_clip (proj, ss_project_get_track (proj, i)->id, video_id, t, 0, 10 * SS_TIME_SECOND, &error))
          g_error ("%s", error->message);
  ss_project_end_group (proj);
  printf ("project: %d clips, %d audio tracks, %.0f s long\n", n_clips, n_tracks,
          ss_time_to_seconds (ss_project_get_duration (proj)));

  base = rss_kb ();
  printf ("RSS with the project built: %ld KiB\n", base);
  {
    g_autoptr(SsProject) snap = ss_project_snapshot (proj);
    ss_mixer_set_project (mixer, snap);
  }

  /* playback: 10 s at 12 places across the hour, in 512-frame blocks */
  t0 = g_get_monotonic_time ();
  for (int place = 0; place < 12; place++)
    {
      gint64 s0 = (gint64) place * 300 * 48000 + 12345;
      for (gint64 s = s0; s < s0 + 10 * 48000; s += (gint64) block)
        if (!ss_mixer_render (mixer, s * SS_TIME_SECOND / 48000, buf, block, NULL, &error))
          g_error ("%s", error->message);
    }
  printf ("playback (512-frame blocks, 12 x 10 s): %.1f x real time, RSS %ld KiB (+%ld), readers open %u\n",
          120.0 / ((g_get_monotonic_time () - t0) / 1e6), rss_kb (), rss_kb () - base, ss_mixer_get_n_readers (mixer));

  /* the whole hour, as export renders it */
  t0 = g_get_monotonic_time ();
  for (gint64 s = 0; s < 3600LL * 48000; s += 4800)
    if (!ss_mixer_render (mixer, s * SS_TIME_SECOND / 48000, buf, 4800, NULL, &error))
      g_error ("%s", error->message);
  printf ("full-hour mix (4800-frame blocks): %.1f s, %.0f x real time, RSS %ld KiB (+%ld), peak %ld KiB, readers open %u\n",
          (g_get_monotonic_time () - t0) / 1e6, 3600.0 / ((g_get_monotonic_time () - t0) / 1e6), rss_kb (),
          rss_kb () - base, peak_kb (), ss_mixer_get_n_readers (mixer));

  /* video across the hour: one frame every 5 s through a decoder (scrubbing) */
  {
    g_autoptr(SsVideoDecoder) dec = NULL;
    g_autofree char *vpath = g_strdup (ss_project_find_media (proj, video_id)->path);
    dec = ss_video_decoder_new (vpath, &error);
    ss_video_decoder_set_output_size (dec, 640, 360);
    t0 = g_get_monotonic_time ();
    for (SsTime t = 0; t < hour; t += 5 * SS_TIME_SECOND)
      {
        g_autoptr(SsFrame) f = ss_video_decoder_get_frame (dec, t % (10 * SS_TIME_SECOND), &error);
        if (!f)
          g_error ("%s", error->message);
      }
    printf ("video scrub (720 frames across the hour, 640x360): %.1f ms per frame, RSS %ld KiB (+%ld)\n",
            (g_get_monotonic_time () - t0) / 1e3 / 720, rss_kb (), rss_kb () - base);
  }
  ss_mixer_free (g_steal_pointer (&mixer));
  printf ("peak RSS of the process: %ld KiB\n", peak_kb ());
  g_free (buf);
  {
    GDir *d = g_dir_open (dir, 0, NULL);
    const char *name;
    while ((name = g_dir_read_name (d)))
      {
        g_autofree char *p = g_build_filename (dir, name, NULL);
        g_unlink (p);
      }
    g_dir_close (d);
    g_rmdir (dir);
  }
  return 0;
}
