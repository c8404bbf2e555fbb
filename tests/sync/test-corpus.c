/* The synthetic audio-visual corpus: deterministic per seed, and what it labels
 * is really there (a visible change where and when the label says, a sound at the
 * labelled audio time). Sync evaluation and training would silently measure
 * nonsense otherwise. */
#include "models/ss-corpus.h"
#include "ss-types.h"

#include <glib/gstdio.h>
#include <math.h>
#include <string.h>

static SsCorpusClip *
make (SsCorpusDifficulty d, guint64 seed, double offset, int size)
{
  SsCorpusParams p;
  ss_corpus_params_init (&p, d);
  p.seed = seed;
  p.duration = 6.0;
  p.width = p.height = size;
  p.offset = offset;
  g_autoptr (GError) error = NULL;
  SsCorpusClip *c = ss_corpus_generate (&p, &error);
  g_assert_no_error (error);
  g_assert_nonnull (c);
  return c;
}

static void
test_deterministic (void)
{
  g_autoptr (SsCorpusClip) a = make (SS_CORPUS_HARD, 42, 0.6, 96);
  g_autoptr (SsCorpusClip) b = make (SS_CORPUS_HARD, 42, 0.6, 96);
  g_autoptr (SsCorpusClip) c = make (SS_CORPUS_HARD, 43, 0.6, 96);
  g_assert_cmpint (a->n_frames, ==, 150);
  g_assert_cmpuint (a->n_samples, ==, 96000);
  g_assert_cmpint (memcmp (a->rgba, b->rgba, a->n_frames * a->frame_size), ==, 0);
  g_assert_cmpint (memcmp (a->audio, b->audio, a->n_samples * sizeof (float)), ==, 0);
  g_assert_cmpuint (a->events->len, ==, b->events->len);
  g_assert_cmpint (memcmp (a->events->data, b->events->data, a->events->len * sizeof (SsCorpusEvent)), ==, 0);
  g_autofree char *ja = ss_corpus_clip_label_json (a, "x.mkv");
  g_autofree char *jb = ss_corpus_clip_label_json (b, "x.mkv");
  g_assert_cmpstr (ja, ==, jb);
  /* another seed: another clip */
  g_assert_cmpint (memcmp (a->rgba, c->rgba, a->n_frames * a->frame_size), !=, 0);
  g_assert_cmpint (memcmp (a->audio, c->audio, a->n_samples * sizeof (float)), !=, 0);
  /* the audio is usable: not silent, not clipped */
  float peak = 0;
  for (gsize i = 0; i < a->n_samples; i++)
    peak = MAX (peak, fabsf (a->audio[i]));
  g_assert_cmpfloat (peak, >, 0.05f);
  g_assert_cmpfloat (peak, <=, 0.95f + 1e-6f);
  g_assert_cmpuint (a->events->len, >=, 6);
}

/* Mean absolute grey difference between frames k-1 and k in a box. */
static double
box_change (const SsCorpusClip *c, int k, double cx, double cy, int r)
{
  int w = c->params.width, h = c->params.height;
  double s = 0;
  int n = 0;
  const guint8 *a = ss_corpus_clip_frame (c, k - 1), *b = ss_corpus_clip_frame (c, k);
  for (int y = MAX (0, (int) cy - r); y <= MIN (h - 1, (int) cy + r); y++)
    for (int x = MAX (0, (int) cx - r); x <= MIN (w - 1, (int) cx + r); x++)
      {
        const guint8 *pa = a + ((gsize) y * w + x) * 4, *pb = b + ((gsize) y * w + x) * 4;
        s += (abs (pa[0] - pb[0]) + abs (pa[1] - pb[1]) + abs (pa[2] - pb[2])) / 3.0;
        n++;
      }
  return n ? s / n : 0;
}

static double
rms (const float *x, gsize n_total, gint64 start, gint64 len)
{
  double s = 0;
  gint64 n = 0;
  for (gint64 i = start; i < start + len; i++)
    if (i >= 0 && (guint64) i < n_total)
      {
        s += x[i] * x[i];
        n++;
      }
  return n ? sqrt (s / n) : 0;
}

static void
test_events_visible_and_audible (void)
{
  int checked = 0, audible = 0, visible = 0;
  for (guint64 seed = 1; seed <= 6; seed++)
    {
      g_autoptr (SsCorpusClip) c = make (SS_CORPUS_EASY, seed, 0.4, 128);
      double fs = c->params.sample_rate, fps = c->params.fps;
      for (guint i = 0; i < c->events->len; i++)
        {
          const SsCorpusEvent *e = &g_array_index (c->events, SsCorpusEvent, i);
          g_assert_cmpfloat (e->audio_time, ==, e->time - 0.4);
          g_assert_true (e->x >= 0 && e->x < c->params.width && e->y >= 0 && e->y < c->params.height);
          /* another event's sound or sight right before would mask this one */
          gboolean crowded = FALSE;
          for (guint j = 0; j < c->events->len; j++)
            if (j != i && fabs (g_array_index (c->events, SsCorpusEvent, j).time - e->time) < 0.3)
              crowded = TRUE;
          if (crowded)
            continue;
          checked++;
          /* audible: twice as loud in the 30 ms after the labelled audio time as in the 30 ms before */
          gint64 s0 = (gint64) llround (e->audio_time * fs);
          double after = rms (c->audio, c->n_samples, s0, (gint64) (0.03 * fs));
          double before = rms (c->audio, c->n_samples, s0 - (gint64) (0.04 * fs), (gint64) (0.03 * fs));
          if (after > 2.0 * before)
            audible++;
          else
            g_test_message ("seed %d %s at %.2f: %.4f after, %.4f before", (int) seed,
                            ss_corpus_event_kind_name (e->kind), e->audio_time, after, before);
          /* visible: the picture changes around (x, y) at the labelled time, and more than
           * it does there half a second away from any event */
          int k = (int) lround (e->time * fps);
          double at = 0;
          for (int kk = MAX (1, k - 1); kk <= MIN (c->n_frames - 1, k + 1); kk++)
            at = MAX (at, box_change (c, kk, e->x, e->y, 8));
          if (at > 2.0)
            visible++;
        }
    }
  g_test_message ("%d isolated events: %d audible, %d visible", checked, audible, visible);
  g_assert_cmpint (checked, >=, 15);
  g_assert_cmpint (audible, ==, checked);
  g_assert_cmpint (visible, ==, checked);
}

/* Nothing audible happens at an event's video time when the audio is shifted: the
 * offset really moves the sound, not only the label. */
static void
test_offset_moves_sound (void)
{
  g_autoptr (SsCorpusClip) b = make (SS_CORPUS_EASY, 9, 1.0, 64);
  double fs = b->params.sample_rate;
  int hits = 0;
  for (guint i = 0; i < b->events->len; i++)
    {
      const SsCorpusEvent *e = &g_array_index (b->events, SsCorpusEvent, i);
      gint64 sv = (gint64) llround (e->time * fs), sa = (gint64) llround (e->audio_time * fs);
      hits += rms (b->audio, b->n_samples, sa, (gint64) (0.03 * fs)) > rms (b->audio, b->n_samples, sv, (gint64) (0.03 * fs));
    }
  g_assert_cmpuint (b->events->len, >=, 4);
  g_assert_cmpint (hits, >=, (int) b->events->len * 3 / 4);
}

static void
test_label_roundtrip (void)
{
  g_autoptr (SsCorpusClip) c = make (SS_CORPUS_MODERATE, 5, -1.2, 64);
  g_autofree char *json = ss_corpus_clip_label_json (c, "clip-5.mkv");
  g_autofree char *dir = g_dir_make_tmp ("ss-corpus-XXXXXX", NULL);
  g_autofree char *path = g_build_filename (dir, "clip-5.json", NULL);
  g_assert_true (g_file_set_contents (path, json, -1, NULL));
  double offset = 0;
  g_autoptr (GArray) events = NULL;
  g_autofree char *media = NULL;
  g_autoptr (GError) error = NULL;
  g_assert_true (ss_corpus_label_load (path, &offset, &events, &media, &error));
  g_assert_no_error (error);
  g_assert_cmpfloat_with_epsilon (offset, -1.2, 1e-12);
  g_assert_cmpstr (media, ==, "clip-5.mkv");
  g_assert_cmpuint (events->len, ==, c->events->len);
  for (guint i = 0; i < events->len; i++)
    {
      SsCorpusEvent *x = &g_array_index (events, SsCorpusEvent, i), *y = &g_array_index (c->events, SsCorpusEvent, i);
      g_assert_cmpint (x->kind, ==, y->kind);
      g_assert_cmpfloat_with_epsilon (x->time, y->time, 1e-9);
    }
  /* not a label */
  g_assert_true (g_file_set_contents (path, "{\"format\": \"other\"}", -1, NULL));
  g_assert_false (ss_corpus_label_load (path, &offset, NULL, NULL, &error));
  g_assert_error (error, SS_ERROR, SS_ERROR_INVALID_DATA);
  g_assert_nonnull (strstr (error->message, "clip-5.json"));
  g_clear_error (&error);
  g_remove (path);
  g_assert_false (ss_corpus_label_load (path, &offset, NULL, NULL, &error));
  g_assert_error (error, SS_ERROR, SS_ERROR_NOT_FOUND);
  g_rmdir (dir);
}

static void
test_kinds_and_bad_params (void)
{
  SsCorpusParams p;
  ss_corpus_params_init (&p, SS_CORPUS_EASY);
  p.width = p.height = 64;
  p.duration = 5.0;
  p.kinds = SS_CORPUS_KIND_BIT (SS_CORPUS_EVENT_FLASH);
  g_autoptr (GError) error = NULL;
  g_autoptr (SsCorpusClip) c = ss_corpus_generate (&p, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (c->events->len, >=, 1);
  for (guint i = 0; i < c->events->len; i++)
    g_assert_cmpint (g_array_index (c->events, SsCorpusEvent, i).kind, ==, SS_CORPUS_EVENT_FLASH);

  struct { const char *what; void (*set) (SsCorpusParams *); } bad[] = {
    { "duration", NULL }, { "size", NULL }, { "offset", NULL }, { "rate", NULL },
  };
  for (guint i = 0; i < G_N_ELEMENTS (bad); i++)
    {
      ss_corpus_params_init (&p, SS_CORPUS_EASY);
      if (i == 0) p.duration = 0.5;
      if (i == 1) p.width = 33;
      if (i == 2) p.offset = 5.0;
      if (i == 3) p.sample_rate = 100;
      SsCorpusClip *x = ss_corpus_generate (&p, &error);
      g_assert_null (x);
      g_assert_error (error, SS_ERROR, SS_ERROR_INVALID_DATA);
      g_clear_error (&error);
    }
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/sync/corpus/deterministic", test_deterministic);
  g_test_add_func ("/sync/corpus/events-visible-and-audible", test_events_visible_and_audible);
  g_test_add_func ("/sync/corpus/offset-moves-sound", test_offset_moves_sound);
  g_test_add_func ("/sync/corpus/label-roundtrip", test_label_roundtrip);
  g_test_add_func ("/sync/corpus/kinds-and-bad-params", test_kinds_and_bad_params);
  return g_test_run ();
}
