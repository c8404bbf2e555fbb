/* test-audio-engine.c: the null sink plays at the wall clock's rate, the render
 * function sees a continuous stream, flush restarts rendering where playback is. */
#include "audio/ss-audio-engine.h"
#include "audio/ss-audio-lock.h"

#include <math.h>
#include <string.h>

typedef struct {
  SsLock lock;
  gint64 next_expected;     /* stream frame the next render should start at */
  gboolean backwards;       /* a render started before the end of the previous one */
  gboolean skipped;         /* a render started after a hole (feeder starved) */
  gint64 rendered;
  gint64 last_start;
  gboolean recording;
  int n_starts;
  gint64 starts[8];
} Feed;

static void
render_ramp (gint64 stream_frame, float *out, gsize n, gpointer data)
{
  Feed *f = data;
  ss_lock (&f->lock);
  if (f->next_expected >= 0 && stream_frame < f->next_expected)
    f->backwards = TRUE;
  if (f->next_expected >= 0 && stream_frame > f->next_expected)
    f->skipped = TRUE;
  f->next_expected = stream_frame + (gint64) n;
  f->rendered += (gint64) n;
  f->last_start = stream_frame;
  if (f->recording && f->n_starts < 8)
    f->starts[f->n_starts++] = stream_frame;
  ss_unlock (&f->lock);
  for (gsize i = 0; i < n; i++)
    out[2 * i] = out[2 * i + 1] = (float) ((stream_frame + (gint64) i) % 1000) / 1000.f;
}

/* Playback time follows real time: a player whose clock drifted would show video
 * out of step with the sound. */
static void
test_null_clock_rate (void)
{
  Feed f = { .next_expected = -1 };
  ss_lock_init (&f.lock);
  g_autoptr(SsAudioEngine) e = ss_audio_engine_new_null (render_ramp, &f);
  g_assert_true (ss_audio_engine_is_null_sink (e));
  g_assert_false (ss_audio_engine_is_running (e));

  ss_audio_engine_start (e);
  g_assert_true (ss_audio_engine_is_running (e));
  gint64 t0 = g_get_monotonic_time ();
  gint64 c0 = ss_audio_engine_get_clock (e);
  gint64 prev = c0;
  for (int i = 0; i < 50; i++)
    {
      g_usleep (10 * 1000);
      gint64 c = ss_audio_engine_get_clock (e);
      g_assert_cmpint (c, >=, prev);          /* never runs backwards */
      prev = c;
    }
  gint64 t1 = g_get_monotonic_time ();
  gint64 c1 = ss_audio_engine_get_clock (e);

  double played = (double) (c1 - c0) / SS_MIX_RATE;
  double wall = (double) (t1 - t0) / G_USEC_PER_SEC;
  g_test_message ("played %.4f s in %.4f s of wall time", played, wall);
  g_assert_cmpfloat (wall, >=, 0.5);
  g_assert_cmpfloat (fabs (played - wall), <, 0.02 * wall + 0.005);

  /* The feeder rendered the stream in order, ahead of what was played; a hole is
   * only allowed where the sink ran dry (a starved feeder on a loaded machine), and
   * then it was counted as an underrun. */
  ss_lock (&f.lock);
  g_assert_false (f.backwards);
  if (f.skipped)
    g_assert_cmpuint (ss_audio_engine_get_underruns (e), >, 0);
  ss_unlock (&f.lock);

  /* Stopped: the clock holds still. */
  ss_audio_engine_stop (e);
  gint64 s0 = ss_audio_engine_get_clock (e);
  g_usleep (50 * 1000);
  g_assert_cmpint (ss_audio_engine_get_clock (e), ==, s0);
  ss_lock_clear (&f.lock);
}

/* After a flush (seek, take switch) the next audio rendered starts where the
 * listener is, not after the audio that was buffered ahead. */
static void
test_flush_restarts_at_play_position (void)
{
  Feed f = { .next_expected = -1 };
  ss_lock_init (&f.lock);
  g_autoptr(SsAudioEngine) e = ss_audio_engine_new_null (render_ramp, &f);
  ss_audio_engine_start (e);

  /* It renders ahead of what is heard (wait for that on a loaded machine). */
  gint64 ahead_before = 0, clock = 0;
  gint64 wait_until = g_get_monotonic_time () + 5 * G_USEC_PER_SEC;
  do
    {
      g_usleep (10 * 1000);
      ss_lock (&f.lock);
      ahead_before = f.next_expected;
      clock = ss_audio_engine_get_clock (e);
      ss_unlock (&f.lock);
    }
  while (ahead_before < clock + SS_MIX_RATE / 20 && g_get_monotonic_time () < wait_until);
  g_assert_cmpint (ahead_before, >=, clock + SS_MIX_RATE / 20);

  guint underruns_at_flush = ss_audio_engine_get_underruns (e);
  gint64 at = ss_audio_engine_flush (e);
  g_assert_cmpint (at, <=, ahead_before);
  g_assert_cmpint (at, >=, clock);

  ss_lock (&f.lock);
  f.n_starts = 0;
  f.recording = TRUE;
  ss_unlock (&f.lock);
  gint64 deadline = g_get_monotonic_time () + 2 * G_USEC_PER_SEC;
  int n = 0;
  while (n < 3 && g_get_monotonic_time () < deadline)
    {
      g_usleep (2000);
      ss_lock (&f.lock);
      n = f.n_starts;
      ss_unlock (&f.lock);
    }
  g_assert_cmpint (n, >=, 3);
  /* A render that was in flight during the flush started before @at (and was
   * dropped); the first one after it starts at the flush position. */
  gint64 first = -1;
  for (int i = 0; i < n && first < 0; i++)
    if (f.starts[i] >= at)
      first = f.starts[i];
  g_assert_cmpint (first, >=, at);
  /* Right at the flush position, unless the feeder was starved meanwhile (then the
   * null sink moved on and counted the underrun). */
  if (first > at + SS_MIX_RATE / 10)
    g_assert_cmpuint (ss_audio_engine_get_underruns (e), >, underruns_at_flush);
  ss_audio_engine_stop (e);
  ss_lock_clear (&f.lock);
}

/* Opening the default device either works or falls back to the null sink, and
 * the clock advances either way (CI has no sound card). */
static void
test_default_device_or_fallback (void)
{
  Feed f = { .next_expected = -1 };
  ss_lock_init (&f.lock);
  g_autoptr(SsAudioEngine) e = ss_audio_engine_new (render_ramp, &f);
  g_assert_nonnull (ss_audio_engine_get_device_name (e));
  g_test_message ("output: %s", ss_audio_engine_get_device_name (e));
  ss_audio_engine_start (e);
  gint64 c0 = ss_audio_engine_get_clock (e);
  gint64 deadline = g_get_monotonic_time () + 3 * G_USEC_PER_SEC;
  while (ss_audio_engine_get_clock (e) <= c0 && g_get_monotonic_time () < deadline)
    g_usleep (5000);
  g_assert_cmpint (ss_audio_engine_get_clock (e), >, c0);
  ss_audio_engine_stop (e);
  ss_lock_clear (&f.lock);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/audio-engine/null-clock-rate", test_null_clock_rate);
  g_test_add_func ("/audio-engine/flush-restarts-at-play-position", test_flush_restarts_at_play_position);
  g_test_add_func ("/audio-engine/default-device-or-fallback", test_default_device_or_fallback);
  return g_test_run ();
}
