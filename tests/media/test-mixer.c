/* Mixer: what the user hears is the active take of each clip, inside the clip's
 * bounds, with clip and track gain, honouring mute and solo. */
#include <math.h>
#include <string.h>
#include <stdio.h>
#include "ss-test-pattern.h"
#include "audio/ss-mixer.h"
#include "project/ss-project.h"

#define RATE SS_MIX_RATE

static char *tmpdir;
static char *path_a, *path_b;

/* Two different exactly-representable signals (float WAV: no rounding). */
static float
sig_a (gint64 i, int c)
{
  return (float) (0.25 * sin (2 * G_PI * 440.0 * i / RATE) + (c ? 0.01 : 0.0));
}

static float
sig_b (gint64 i, int c)
{
  return (float) (((i % 480) / 480.0 - 0.5) * 0.4 + (c ? -0.02 : 0.0));
}

static char *
write_signal (const char *name, float (*f) (gint64, int), double seconds)
{
  g_autoptr(GError) error = NULL;
  gsize n = (gsize) (seconds * RATE);
  g_autofree float *buf = g_new (float, n * 2);
  char *path = g_build_filename (tmpdir, name, NULL);

  for (gsize i = 0; i < n; i++)
    for (int c = 0; c < 2; c++)
      buf[i * 2 + c] = f ((gint64) i, c);
  g_assert_true (ss_wav_write (path, buf, n, RATE, 2, &error));
  g_assert_no_error (error);
  return path;
}

static const char *
audio_track (SsProject *p, guint nth)
{
  for (guint i = 0, k = 0; i < ss_project_get_n_tracks (p); i++)
    {
      const SsTrack *t = ss_project_get_track (p, i);
      if (t->kind == SS_TRACK_AUDIO && k++ == nth)
        return t->id;
    }
  return NULL;
}

typedef struct {
  SsProject  *p;
  const char *ma, *mb;
  const char *t1, *t2;
  const char *c1, *c2;
} Fixture;

/* Track 1: clip of A at 1.0 s for 2.0 s from source 0.5 s, -6 dB.
 * Track 2: clip of B at 2.0 s for 1.5 s from source 0, 0 dB. */
static void
fixture_init (Fixture *f)
{
  g_autoptr(GError) error = NULL;

  f->p = ss_project_new ();
  f->ma = ss_test_add_media (f->p, path_a);
  f->mb = ss_test_add_media (f->p, path_b);
  f->t1 = audio_track (f->p, 0);
  f->t2 = ss_project_add_track (f->p, SS_TRACK_AUDIO, "Audio 2", &error);
  g_assert_no_error (error);
  f->c1 = ss_project_add_clip (f->p, f->t1, f->ma, 1 * SS_TIME_SECOND, 500 * SS_TIME_MS, 2 * SS_TIME_SECOND, &error);
  g_assert_no_error (error);
  g_assert_true (ss_project_set_clip_gain (f->p, f->c1, -6.0, &error));
  f->c2 = ss_project_add_clip (f->p, f->t2, f->mb, 2 * SS_TIME_SECOND, 0, 1500 * SS_TIME_MS, &error);
  g_assert_no_error (error);
}

typedef struct {
  gboolean a_on, b_on;
  gboolean a_is_b;       /* clip 1 plays take B */
  double   gain1, gain2; /* linear, clip*track */
} Expect;

static void
expected (const Expect *e, gint64 s, float out[2])
{
  for (int c = 0; c < 2; c++)
    {
      double v = 0;
      if (e->a_on && s >= 1 * RATE && s < 3 * RATE)
        {
          gint64 src = s - RATE + RATE / 2;
          v += e->gain1 * (e->a_is_b ? sig_b (src, c) : sig_a (src, c));
        }
      if (e->b_on && s >= 2 * RATE && s < 2 * RATE + 3 * RATE / 2)
        v += e->gain2 * sig_b (s - 2 * RATE, c);
      out[c] = (float) v;
    }
}

/* Renders 0.5 s .. 4 s in playback-sized blocks and compares every sample. */
static void
check_mix (SsMixer *m, const char *track_id, const Expect *e)
{
  const gsize block = 256;
  float buf[256 * 2];
  gint64 start = RATE / 2, end = 4 * RATE;

  for (gint64 s = start; s < end; s += (gint64) block)
    {
      g_autoptr(GError) error = NULL;
      SsTime t = (s * SS_TIME_SECOND + RATE / 2) / RATE;
      g_assert_true (ss_mixer_render (m, t, buf, block, track_id, &error));
      g_assert_no_error (error);
      for (gsize i = 0; i < block; i++)
        {
          float want[2];
          expected (e, s + (gint64) i, want);
          for (int c = 0; c < 2; c++)
            if (fabsf (buf[i * 2 + c] - want[c]) > 1e-5f)
              g_error ("sample %" G_GINT64_FORMAT " ch %d: got %f want %f", s + (gint64) i, c, buf[i * 2 + c], want[c]);
        }
    }
}

static void
test_gain_and_bounds (void)
{
  Fixture f;
  g_autoptr(SsMixer) m = ss_mixer_new ();
  double g6 = pow (10, -6.0 / 20);

  fixture_init (&f);
  ss_mixer_set_project (m, f.p);
  check_mix (m, NULL, &(Expect) { TRUE, TRUE, FALSE, g6, 1.0 });
  /* track gain adds to clip gain */
  g_assert_true (ss_project_set_track_gain (f.p, f.t2, 6.0));
  ss_mixer_set_project (m, f.p);
  check_mix (m, NULL, &(Expect) { TRUE, TRUE, FALSE, g6, 1.0 / g6 });
  g_object_unref (f.p);
}

static void
test_mute_solo (void)
{
  Fixture f;
  g_autoptr(SsMixer) m = ss_mixer_new ();
  double g6 = pow (10, -6.0 / 20);

  fixture_init (&f);
  g_assert_true (ss_project_set_track_muted (f.p, f.t1, TRUE));
  ss_mixer_set_project (m, f.p);
  check_mix (m, NULL, &(Expect) { FALSE, TRUE, FALSE, g6, 1.0 });
  /* a stem ignores mute/solo */
  check_mix (m, f.t1, &(Expect) { TRUE, FALSE, FALSE, g6, 1.0 });
  g_assert_true (ss_project_set_track_muted (f.p, f.t1, FALSE));
  g_assert_true (ss_project_set_track_solo (f.p, f.t1, TRUE));
  ss_mixer_set_project (m, f.p);
  check_mix (m, NULL, &(Expect) { TRUE, FALSE, FALSE, g6, 1.0 });
  check_mix (m, f.t2, &(Expect) { FALSE, TRUE, FALSE, g6, 1.0 });
  g_object_unref (f.p);
}

static void
test_active_take (void)
{
  Fixture f;
  g_autoptr(SsMixer) m = ss_mixer_new ();
  g_autoptr(GError) error = NULL;
  double g6 = pow (10, -6.0 / 20);

  fixture_init (&f);
  /* take 2 of clip 1 is B from 0.5 s: it becomes active */
  ss_project_add_take (f.p, f.c1, f.mb, 500 * SS_TIME_MS, "Take 2", &error);
  g_assert_no_error (error);
  ss_mixer_set_project (m, f.p);
  check_mix (m, NULL, &(Expect) { TRUE, TRUE, TRUE, g6, 1.0 });
  g_assert_true (ss_project_set_active_take (f.p, f.c1, 0, &error));
  ss_mixer_set_project (m, f.p);
  check_mix (m, NULL, &(Expect) { TRUE, TRUE, FALSE, g6, 1.0 });
  g_object_unref (f.p);
}

static void
test_missing_media (void)
{
  Fixture f;
  g_autoptr(SsMixer) m = ss_mixer_new ();
  g_autoptr(GError) error = NULL;
  g_autofree char *copy = g_build_filename (tmpdir, "gone.wav", NULL);
  float buf[2 * 512];
  SsMedia info;
  const char *mid, *cid;

  fixture_init (&f);
  /* a media file deleted after it was added: the rest still plays, the error names it */
  g_assert_true (g_file_set_contents (copy, "x", 1, NULL));
  {
    g_autofree char *data = NULL;
    gsize len;
    g_assert_true (g_file_get_contents (path_a, &data, &len, NULL));
    g_assert_true (g_file_set_contents (copy, data, (gssize) len, NULL));
  }
  g_assert_true (ss_media_probe (copy, &info, &error));
  mid = ss_project_add_media (f.p, &info, &error);
  ss_media_clear (&info);
  g_assert_no_error (error);
  cid = ss_project_add_clip (f.p, f.t1, mid, 5 * SS_TIME_SECOND, 0, SS_TIME_SECOND, &error);
  g_assert_no_error (error);
  g_assert_nonnull (cid);
  g_assert_cmpint (remove (copy), ==, 0);
  ss_mixer_set_project (m, f.p);
  g_assert_false (ss_mixer_render (m, 5 * SS_TIME_SECOND, buf, 512, NULL, &error));
  g_assert_error (error, SS_ERROR, SS_ERROR_NOT_FOUND);
  g_assert_nonnull (strstr (error->message, "gone.wav"));
  /* other clips are unaffected */
  g_clear_error (&error);
  check_mix (m, NULL, &(Expect) { TRUE, TRUE, FALSE, pow (10, -6.0 / 20), 1.0 });
  g_object_unref (f.p);
}

typedef struct {
  SsMixer  *m;
  gint      stop;
  int       blocks, mixed, muted, bad;
} Player;

/* The audio thread: renders 256-frame blocks at 2.0 s .. 2.5 s (both clips play). */
static gpointer
player_thread (gpointer data)
{
  Player *pl = data;
  Expect on = { TRUE, TRUE, FALSE, pow (10, -6.0 / 20), 1.0 };
  Expect off = { FALSE, TRUE, FALSE, pow (10, -6.0 / 20), 1.0 };
  float buf[256 * 2];

  while (!g_atomic_int_get (&pl->stop) || pl->blocks < 200)
    {
      gint64 s = 2 * RATE + (gint64) (pl->blocks % 90) * 256;
      gboolean is_on = TRUE, is_off = TRUE;
      g_assert_true (ss_mixer_render (pl->m, (s * SS_TIME_SECOND + RATE / 2) / RATE, buf, 256, NULL, NULL));
      for (int i = 0; i < 256; i++)
        {
          float a[2], b[2];
          expected (&on, s + i, a);
          expected (&off, s + i, b);
          for (int c = 0; c < 2; c++)
            {
              is_on = is_on && fabsf (buf[i * 2 + c] - a[c]) <= 1e-5f;
              is_off = is_off && fabsf (buf[i * 2 + c] - b[c]) <= 1e-5f;
            }
        }
      pl->mixed += is_on;
      pl->muted += is_off;
      pl->bad += !is_on && !is_off;
      pl->blocks++;
    }
  return NULL;
}

/* The UI thread swaps snapshots (mute on/off) while the audio thread renders:
 * every block is entirely the old or the new state, never garbage. */
static void
test_swap_while_rendering (void)
{
  Fixture f;
  Player pl = { ss_mixer_new (), 0, 0, 0, 0, 0 };
  GThread *th;

  fixture_init (&f);
  {
    g_autoptr(SsProject) snap = ss_project_snapshot (f.p);
    ss_mixer_set_project (pl.m, snap);   /* the audio thread only ever sees snapshots */
  }
  th = g_thread_new ("player", player_thread, &pl);
  for (int i = 0; i < 300; i++)
    {
      g_autoptr(SsProject) snap = NULL;
      g_assert_true (ss_project_set_track_muted (f.p, f.t1, i % 2 == 0));
      snap = ss_project_snapshot (f.p);
      ss_mixer_set_project (pl.m, snap);
      g_usleep (200);
    }
  g_atomic_int_set (&pl.stop, 1);
  g_thread_join (th);
  g_assert_cmpint (pl.bad, ==, 0);
  g_assert_cmpint (pl.mixed + pl.muted, ==, pl.blocks);
  ss_mixer_free (pl.m);
  g_object_unref (f.p);
}

static void
test_no_project_silence (void)
{
  g_autoptr(SsMixer) m = ss_mixer_new ();
  float buf[64];

  memset (buf, 0x7f, sizeof buf);
  g_assert_true (ss_mixer_render (m, 0, buf, 32, NULL, NULL));
  for (int i = 0; i < 64; i++)
    g_assert_cmpfloat (buf[i], ==, 0.0f);
}

int
main (int argc, char **argv)
{
  int ret;

  g_test_init (&argc, &argv, NULL);
  tmpdir = ss_test_tmpdir ();
  path_a = write_signal ("a.wav", sig_a, 4.0);
  path_b = write_signal ("b.wav", sig_b, 4.0);
  g_test_add_func ("/mixer/gain-and-bounds", test_gain_and_bounds);
  g_test_add_func ("/mixer/mute-solo", test_mute_solo);
  g_test_add_func ("/mixer/active-take", test_active_take);
  g_test_add_func ("/mixer/missing-media", test_missing_media);
  g_test_add_func ("/mixer/no-project", test_no_project_silence);
  g_test_add_func ("/mixer/swap-while-rendering", test_swap_while_rendering);
  ret = g_test_run ();
  ss_test_rmdir (tmpdir);
  g_free (path_a);
  g_free (path_b);
  return ret;
}
