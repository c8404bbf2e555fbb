/* test-transport.c: play/pause/seek/step/shuttle semantics, frame-accurate seeking
 * through the decoder, and A/B take switching reaching the mixer at once. */
#include "audio/ss-transport.h"
#include "audio/ss-transport-private.h"
#include "audio/ss-audio-lock.h"
#include "ss-test-media.h"

#include <glib/gstdio.h>
#include <math.h>

#define FPS 25
#define N_FRAMES 50   /* 2 s */

typedef struct {
  char        *dir;
  char        *video;
  SsProject   *project;
  SsTransport *transport;
} Fixture;

static void
fixture_setup (Fixture *fx, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  fx->dir = g_dir_make_tmp ("ss-transport-XXXXXX", &error);
  g_assert_no_error (error);
  fx->video = g_build_filename (fx->dir, "frames.mp4", NULL);
  g_assert_true (ss_test_make_video (fx->video, N_FRAMES, FPS, &error));
  g_assert_no_error (error);

  fx->project = ss_project_new ();
  const char *mid = ss_test_add_media (fx->project, fx->video);
  g_assert_nonnull (ss_project_insert_media (fx->project, mid, 0, NULL, &error));
  g_assert_no_error (error);

  fx->transport = ss_transport_new ();
  ss_transport_set_null_audio (fx->transport, TRUE);
  ss_transport_set_project (fx->transport, fx->project);
}

static void
fixture_teardown (Fixture *fx, gconstpointer data)
{
  g_clear_object (&fx->transport);
  g_clear_object (&fx->project);
  g_unlink (fx->video);
  g_rmdir (fx->dir);
  g_free (fx->video);
  g_free (fx->dir);
}

/* Waits until the transport shows frame @index; returns the frame. */
static SsFrame *
wait_for_frame (SsTransport *t, gint64 index)
{
  gint64 deadline = g_get_monotonic_time () + 15 * G_USEC_PER_SEC;
  while (g_get_monotonic_time () < deadline)
    {
      while (g_main_context_iteration (NULL, FALSE))
        ;
      SsFrame *f = ss_transport_dup_frame (t);
      if (f != NULL && f->index == index)
        return f;
      g_clear_pointer (&f, ss_frame_unref);
      g_usleep (2000);
    }
  return ss_transport_dup_frame (t);
}

static void
assert_frame_is (SsFrame *f, gint64 index)
{
  g_assert_nonnull (f);
  g_assert_cmpint (f->index, ==, index);
  /* The picture is that frame's, not a neighbour's (which would differ by 6). */
  int red = f->data[(f->height / 2) * f->stride + (f->width / 2) * 4];
  g_assert_cmpint (abs (red - SS_TEST_FRAME_RED (index)), <=, 2);
}

/* A frame step lands exactly on the next frame's time and shows that frame. */
static void
test_step (Fixture *fx, gconstpointer data)
{
  SsTransport *t = fx->transport;
  g_assert_cmpint (ss_transport_get_position (t), ==, 0);
  ss_transport_step (t, 3);
  g_assert_cmpint (ss_transport_get_position (t), ==, 3 * SS_TIME_SECOND / FPS);
  g_autoptr(SsFrame) f3 = wait_for_frame (t, 3);
  assert_frame_is (f3, 3);

  ss_transport_step (t, -1);
  g_assert_cmpint (ss_transport_get_position (t), ==, 2 * SS_TIME_SECOND / FPS);
  g_autoptr(SsFrame) f2 = wait_for_frame (t, 2);
  assert_frame_is (f2, 2);

  /* From between two frames a step goes to the next frame's start. */
  ss_transport_seek (t, ss_time_from_seconds (0.5) + 7000);
  ss_transport_step (t, 1);
  g_assert_cmpint (ss_transport_get_position (t), ==, 13 * SS_TIME_SECOND / FPS);

  /* Never before the start nor past the last frame. */
  ss_transport_step (t, -1000);
  g_assert_cmpint (ss_transport_get_position (t), ==, 0);
  ss_transport_step (t, 1000);
  g_assert_cmpint (ss_transport_get_position (t), ==, (N_FRAMES - 1) * SS_TIME_SECOND / FPS);

  /* Stepping while playing pauses. */
  ss_transport_seek (t, 0);
  ss_transport_play (t);
  g_assert_true (ss_transport_get_playing (t));
  ss_transport_step (t, 1);
  g_assert_false (ss_transport_get_playing (t));
  SsTime p = ss_transport_get_position (t);
  g_assert_cmpint (p % (SS_TIME_SECOND / FPS), ==, 0);
}

/* Seeking shows the frame at that time, decoded frame-accurately (not the
 * nearest keyframe), also backwards and in random order. */
static void
test_seek_frame_accurate (Fixture *fx, gconstpointer data)
{
  SsTransport *t = fx->transport;
  const double times[] = { 1.23, 0.41, 1.96, 0.0, 0.999, 0.04 };
  for (guint i = 0; i < G_N_ELEMENTS (times); i++)
    {
      SsTime at = ss_time_from_seconds (times[i]);
      ss_transport_seek (t, at);
      g_assert_cmpint (ss_transport_get_position (t), ==, at);
      gint64 index = (gint64) floor (times[i] * FPS + 1e-9);
      g_assert_cmpint (ss_transport_time_to_frame (t, at), ==, index);
      g_autoptr(SsFrame) f = wait_for_frame (t, index);
      assert_frame_is (f, index);
    }
  /* Seeking past the end clamps to the end. */
  ss_transport_seek (t, 10 * SS_TIME_SECOND);
  g_assert_cmpint (ss_transport_get_position (t), ==, ss_project_get_duration (fx->project));
}

static guint n_position_notifies;

static void
on_position (GObject *o, GParamSpec *p, gpointer data)
{
  n_position_notifies++;
}

/* Play advances with the (null sink's) audio clock and shows frames; pause stops
 * it where it is; toggle flips. */
static void
test_play_pause (Fixture *fx, gconstpointer data)
{
  SsTransport *t = fx->transport;
  g_signal_connect (t, "notify::position", G_CALLBACK (on_position), NULL);

  ss_transport_toggle (t);
  g_assert_true (ss_transport_get_playing (t));
  g_assert_cmpfloat (ss_transport_get_rate (t), ==, 1.0);
  g_assert_true (ss_audio_engine_is_null_sink (ss_transport_get_engine (t)));

  n_position_notifies = 0;
  ss_test_spin (400);
  SsTime p1 = ss_transport_get_position (t);
  g_assert_cmpint (p1, >, ss_time_from_seconds (0.1));
  g_assert_cmpint (p1, <, ss_time_from_seconds (1.5));
  g_assert_cmpuint (n_position_notifies, >, 2);
  /* The frame on screen is one played (the decoder keeps up with 64x48). */
  g_autoptr(SsFrame) f = ss_transport_dup_frame (t);
  g_assert_nonnull (f);
  g_assert_cmpint (f->index, >, 0);

  ss_transport_toggle (t);
  g_assert_false (ss_transport_get_playing (t));
  g_assert_cmpfloat (ss_transport_get_rate (t), ==, 0.0);
  SsTime paused = ss_transport_get_position (t);
  g_assert_cmpint (paused, >=, p1);
  ss_test_spin (100);
  g_assert_cmpint (ss_transport_get_position (t), ==, paused);

  /* Playing to the end stops there. */
  ss_transport_seek (t, ss_time_from_seconds (1.8));
  ss_transport_play (t);
  ss_test_spin (700);
  g_assert_false (ss_transport_get_playing (t));
  g_assert_cmpint (ss_transport_get_position (t), ==, ss_project_get_duration (fx->project));
  /* Play at the end starts over. */
  ss_transport_play (t);
  g_assert_true (ss_transport_get_playing (t));
  g_assert_cmpint (ss_transport_get_position (t), <, ss_time_from_seconds (0.5));
  ss_transport_pause (t);
}

/* J/K/L: L plays, repeated L doubles up to 8x, J plays backwards (doubling too),
 * K pauses. */
static void
test_shuttle (Fixture *fx, gconstpointer data)
{
  SsTransport *t = fx->transport;
  ss_transport_shuttle (t, 1);
  g_assert_cmpfloat (ss_transport_get_rate (t), ==, 1.0);
  ss_transport_shuttle (t, 1);
  g_assert_cmpfloat (ss_transport_get_rate (t), ==, 2.0);
  ss_transport_shuttle (t, 1);
  ss_transport_shuttle (t, 1);
  g_assert_cmpfloat (ss_transport_get_rate (t), ==, 8.0);
  ss_transport_shuttle (t, 1);
  g_assert_cmpfloat (ss_transport_get_rate (t), ==, 8.0);
  ss_transport_shuttle (t, 0);
  g_assert_false (ss_transport_get_playing (t));

  /* Backwards from near the end: the position decreases. */
  ss_transport_seek (t, ss_time_from_seconds (1.96));
  ss_transport_shuttle (t, -1);
  g_assert_true (ss_transport_get_playing (t));
  g_assert_cmpfloat (ss_transport_get_rate (t), ==, -1.0);
  ss_test_spin (200);
  SsTime p = ss_transport_get_position (t);
  g_assert_cmpint (p, <, ss_time_from_seconds (1.9));
  g_assert_true (ss_transport_get_playing (t) || p == 0);
  ss_transport_shuttle (t, -1);
  g_assert_cmpfloat (ss_transport_get_rate (t), ==, -2.0);
  /* L while reversing goes forward at normal speed. */
  ss_transport_shuttle (t, 1);
  g_assert_cmpfloat (ss_transport_get_rate (t), ==, 1.0);
  ss_transport_shuttle (t, 0);
  g_assert_false (ss_transport_get_playing (t));

  /* Reverse play reaches the start and stops there. */
  ss_transport_seek (t, ss_time_from_seconds (0.2));
  ss_transport_shuttle (t, -1);
  ss_transport_shuttle (t, -1);
  ss_test_spin (400);
  g_assert_false (ss_transport_get_playing (t));
  g_assert_cmpint (ss_transport_get_position (t), ==, 0);
}

static double
rms (const float *buf, gsize n)
{
  double s = 0;
  for (gsize i = 0; i < n * 2; i++)
    s += (double) buf[i] * buf[i];
  return sqrt (s / (double) (n * 2));
}

/* Switching the active take (A/B) changes what playback renders for the same time,
 * as soon as the project says it changed. */
static void
test_take_switch (void)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *dir = g_dir_make_tmp ("ss-ab-XXXXXX", &error);
  g_autofree char *a = g_build_filename (dir, "a.wav", NULL);
  g_autofree char *b = g_build_filename (dir, "b.wav", NULL);
  g_assert_true (ss_test_make_tone (a, 1.0, 440, 0.5, &error));
  g_assert_true (ss_test_make_tone (b, 1.0, 440, 0.05, &error));

  g_autoptr(SsProject) p = ss_project_new ();
  const char *ma = ss_test_add_media (p, a);
  const char *mb = ss_test_add_media (p, b);
  const SsTrack *audio = NULL;
  for (guint i = 0; i < ss_project_get_n_tracks (p); i++)
    if (ss_project_get_track (p, i)->kind == SS_TRACK_AUDIO)
      audio = ss_project_get_track (p, i);
  g_assert_nonnull (audio);
  g_autofree char *track_id = g_strdup (audio->id);
  g_autofree char *clip = g_strdup (ss_project_add_clip (p, track_id, ma, 0, 0, SS_TIME_SECOND, &error));
  g_assert_no_error (error);
  g_assert_nonnull (ss_project_add_take (p, clip, mb, 0, "B", &error));
  g_assert_no_error (error);

  g_autoptr(SsTransport) t = ss_transport_new ();
  ss_transport_set_null_audio (t, TRUE);
  ss_transport_set_project (t, p);

  enum { N = 4800 };
  g_autofree float *buf = g_new0 (float, N * 2);
  SsTime at = ss_time_from_seconds (0.25);
  g_assert_true (ss_transport_render_at (t, at, buf, N));
  double rms_b = rms (buf, N);

  /* Take A, while playing. */
  ss_transport_play (t);
  g_assert_true (ss_project_set_active_take (p, clip, 0, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (ss_transport_get_snapshot_revision (t), ==, ss_project_get_revision (p));
  g_assert_true (ss_transport_render_at (t, at, buf, N));
  double rms_a = rms (buf, N);
  ss_transport_pause (t);

  g_test_message ("rms take B %.4f, take A %.4f", rms_b, rms_a);
  g_assert_cmpfloat (fabs (rms_a - 0.5 / G_SQRT2), <, 0.05);
  g_assert_cmpfloat (fabs (rms_b - 0.05 / G_SQRT2), <, 0.01);

  /* And back (undo) */
  g_assert_true (ss_project_undo (p));
  g_assert_true (ss_transport_render_at (t, at, buf, N));
  g_assert_cmpfloat (fabs (rms (buf, N) - rms_b), <, 0.01);

  g_unlink (a);
  g_unlink (b);
  g_rmdir (dir);
}

typedef struct {
  SsLock lock;
  gboolean armed;
  SsTime   first_t;      /* time of the first quiet block after arming */
  SsTime   loud_end;     /* end of the latest loud block rendered */
  gboolean saw_loud;
} Tap;

static void
tap_cb (SsTime t, const float *block, gsize n, gpointer data)
{
  Tap *tap = data;
  double r = rms (block, n);
  ss_lock (&tap->lock);
  if (r > 0.2)
    {
      tap->saw_loud = TRUE;
      tap->loud_end = MAX (tap->loud_end, t + (SsTime) n * SS_TIME_SECOND / SS_MIX_RATE);
    }
  if (tap->armed && tap->first_t == SS_TIME_NONE && r < 0.1 && r > 0.0)
    tap->first_t = t;
  ss_unlock (&tap->lock);
}

/* During playback, switching to the quiet take is heard at once: the audio
 * rendered ahead with the loud take is dropped and the quiet one starts right
 * where playback is, not after the buffered audio. */
static void
test_take_switch_while_playing (void)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *dir = g_dir_make_tmp ("ss-ab-XXXXXX", &error);
  g_autofree char *a = g_build_filename (dir, "a.wav", NULL);
  g_autofree char *b = g_build_filename (dir, "b.wav", NULL);
  g_assert_true (ss_test_make_tone (a, 4.0, 440, 0.5, &error));
  g_assert_true (ss_test_make_tone (b, 4.0, 440, 0.05, &error));
  g_autoptr(SsProject) p = ss_project_new ();
  const char *ma = ss_test_add_media (p, a);
  const char *mb = ss_test_add_media (p, b);
  g_autofree char *track_id = g_strdup (ss_project_get_track (p, 1)->id);
  g_assert_cmpint (ss_project_get_track (p, 1)->kind, ==, SS_TRACK_AUDIO);
  g_autofree char *clip = g_strdup (ss_project_add_clip (p, track_id, ma, 0, 0, 4 * SS_TIME_SECOND, &error));
  g_assert_nonnull (ss_project_add_take (p, clip, mb, 0, "B", &error));
  g_assert_true (ss_project_set_active_take (p, clip, 0, &error));

  Tap tap = { .first_t = SS_TIME_NONE };
  ss_lock_init (&tap.lock);
  g_autoptr(SsTransport) t = ss_transport_new ();
  ss_transport_set_null_audio (t, TRUE);
  ss_transport_set_project (t, p);
  ss_transport_set_tap (t, tap_cb, &tap);
  ss_transport_play (t);
  ss_test_spin (300);
  ss_lock (&tap.lock);
  g_assert_true (tap.saw_loud);
  tap.armed = TRUE;
  ss_unlock (&tap.lock);

  SsTime at_switch = ss_transport_get_position (t);
  g_assert_true (ss_project_set_active_take (p, clip, 1, &error));
  ss_test_spin (300);
  ss_transport_set_tap (t, NULL, NULL);
  ss_transport_pause (t);

  g_test_message ("switched at %.3f s; loud take rendered up to %.3f s; quiet take from %.3f s",
                  ss_time_to_seconds (at_switch), ss_time_to_seconds (tap.loud_end),
                  ss_time_to_seconds (tap.first_t));
  g_assert_cmpint (tap.first_t, !=, SS_TIME_NONE);
  g_assert_cmpint (tap.first_t, >=, at_switch - 60 * SS_TIME_MS);
  /* The loud take had been rendered ahead (~150 ms); the quiet take replaced part of
   * that instead of starting after it. */
  g_assert_cmpint (tap.first_t, <=, tap.loud_end - 20 * SS_TIME_MS);
  ss_lock_clear (&tap.lock);
  g_unlink (a);
  g_unlink (b);
  g_rmdir (dir);
}

static void
tap_count_cb (SsTime t, const float *block, gsize n, gpointer data)
{
  SsTime *first = data;
  if (*first == SS_TIME_NONE && rms (block, n) > 0.2)
    *first = t;
}

/* Scrubbing while paused plays a short burst from the scrub position and leaves
 * the transport paused there. */
static void
test_scrub (void)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *dir = g_dir_make_tmp ("ss-scrub-XXXXXX", &error);
  g_autofree char *a = g_build_filename (dir, "a.wav", NULL);
  g_assert_true (ss_test_make_tone (a, 3.0, 440, 0.5, &error));
  g_autoptr(SsProject) p = ss_project_new ();
  const char *ma = ss_test_add_media (p, a);
  g_autofree char *track_id = g_strdup (ss_project_get_track (p, 1)->id);
  g_assert_nonnull (ss_project_add_clip (p, track_id, ma, SS_TIME_SECOND, 0, 2 * SS_TIME_SECOND, &error));

  g_autoptr(SsTransport) t = ss_transport_new ();
  ss_transport_set_null_audio (t, TRUE);
  ss_transport_set_project (t, p);
  SsTime first = SS_TIME_NONE;
  ss_transport_set_tap (t, tap_count_cb, &first);   /* written on the feeder thread */

  SsTime at = ss_time_from_seconds (1.5);
  ss_transport_scrub (t, at);
  g_assert_false (ss_transport_get_playing (t));
  g_assert_true (ss_audio_engine_is_running (ss_transport_get_engine (t)));
  ss_test_spin (400);
  ss_transport_set_tap (t, NULL, NULL);
  /* The burst was the audio at the scrub position; then the output stopped and the
   * position did not move. */
  g_assert_cmpint (first, >=, at);
  g_assert_cmpint (first, <=, at + 20 * SS_TIME_MS);
  g_assert_false (ss_audio_engine_is_running (ss_transport_get_engine (t)));
  g_assert_cmpint (ss_transport_get_position (t), ==, at);
  g_unlink (a);
  g_rmdir (dir);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_setenv ("SOUNDSTAGE_AUDIO", "null", TRUE);
  g_test_add ("/transport/step", Fixture, NULL, fixture_setup, test_step, fixture_teardown);
  g_test_add ("/transport/seek-frame-accurate", Fixture, NULL, fixture_setup, test_seek_frame_accurate, fixture_teardown);
  g_test_add ("/transport/play-pause", Fixture, NULL, fixture_setup, test_play_pause, fixture_teardown);
  g_test_add ("/transport/shuttle", Fixture, NULL, fixture_setup, test_shuttle, fixture_teardown);
  g_test_add_func ("/transport/take-switch", test_take_switch);
  g_test_add_func ("/transport/take-switch-while-playing", test_take_switch_while_playing);
  g_test_add_func ("/transport/scrub", test_scrub);
  return g_test_run ();
}
