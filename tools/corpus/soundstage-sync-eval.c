/* soundstage-sync-eval: accuracy of the sync methods on clips with known offsets.
 *
 *   soundstage-sync-eval DIR                      labelled clips written by soundstage-corpus
 *   soundstage-sync-eval --generate N [--seed S] [--difficulty D] [--size PX] [--duration SEC]
 *                                                 the same clips made in memory (no codecs)
 *
 * Methods: "sp" (signal-processing estimate on the whole clip) and "sp-4.8s" (the same
 * on the 4.8 s window in the middle of the clip, picture and sound cut alike: the
 * input a Synchformer sees). For each: accuracy (class exact) and +-1 accuracy
 * (within 0.2 s), over the 21 classes of -2.0 .. +2.0 s; also the mean confidence of
 * right and wrong answers, and the mean -log probability of the true class (NLL, to
 * calibrate the softmax temperature). Learned methods are added here as they arrive.
 */
#define G_LOG_DOMAIN "soundstage-sync-eval"

#include "models/ss-corpus.h"
#include "models/sync/ss-sync-sp.h"
#include "ss-types.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { M_SP, M_SP_WINDOW, N_METHODS };
static const char *method_names[N_METHODS] = { "sp", "sp-4.8s" };

typedef struct {
  int n, exact, within1;
  double conf_right, conf_wrong;
  int n_right, n_wrong;
  double abs_err;
  double nll;          /* mean -log p(true class): calibration of the probabilities */
} Score;

static SsSyncSpOptions options;

static void
score_add (Score *s, int truth_class, const SsSyncEstimate *e, double truth)
{
  s->n++;
  s->exact += e->class_index == truth_class;
  s->within1 += abs (e->class_index - truth_class) <= 1;
  if (abs (e->class_index - truth_class) <= 1)
    {
      s->conf_right += e->confidence;
      s->n_right++;
    }
  else
    {
      s->conf_wrong += e->confidence;
      s->n_wrong++;
    }
  s->abs_err += fabs (e->offset - truth);
  s->nll += -log (MAX (e->probs[truth_class], 1e-12));
}

static void
print_scores (const Score *scores)
{
  printf ("%-10s %6s %9s %9s %12s %12s %10s %7s\n", "method", "clips", "accuracy", "+-1 acc", "conf right",
          "conf wrong", "mean |err|", "NLL");
  for (int m = 0; m < N_METHODS; m++)
    {
      const Score *s = &scores[m];
      if (s->n == 0)
        continue;
      printf ("%-10s %6d %8.1f%% %8.1f%% %12.2f %12.2f %9.3fs %7.3f\n", method_names[m], s->n,
              100.0 * s->exact / s->n, 100.0 * s->within1 / s->n, s->n_right ? s->conf_right / s->n_right : 0.0,
              s->n_wrong ? s->conf_wrong / s->n_wrong : 0.0, s->abs_err / s->n, s->nll / s->n);
    }
}

/* Runs both methods on frames + audio in memory. */
static gboolean
evaluate (const SsSyncSpVideo *v, const float *audio, gsize n_samples, int rate, double truth, const char *name,
          Score *scores, gboolean verbose, GError **error)
{
  int tc = ss_sync_offset_class (truth);
  g_autoptr (SsSyncSpResult) r = ss_sync_sp_analyse (v, audio, n_samples, rate, &options, name, NULL, error);
  if (r == NULL)
    return FALSE;
  score_add (&scores[M_SP], tc, &r->overall, truth);

  /* the 4.8 s in the middle, both streams cut alike */
  double dur = MIN (v->n_frames / v->fps, (double) n_samples / rate);
  double start = MAX (0.0, floor ((dur - SS_SYNC_WINDOW) / 2 * v->fps) / v->fps);
  int f0 = (int) lround (start * v->fps), nf = (int) lround (SS_SYNC_WINDOW * v->fps);
  gsize s0 = (gsize) llround (start * rate), ns = (gsize) llround (SS_SYNC_WINDOW * rate);
  if (f0 + nf <= v->n_frames && s0 + ns <= n_samples)
    {
      SsSyncSpVideo w = *v;
      w.frames = v->frames + f0;
      w.n_frames = nf;
      g_autoptr (SsSyncSpResult) rw = ss_sync_sp_analyse (&w, audio + s0, ns, rate, &options, name, NULL, error);
      if (rw == NULL)
        return FALSE;
      score_add (&scores[M_SP_WINDOW], tc, &rw->overall, truth);
      if (verbose)
        printf ("%s: truth %+.1f  sp %+.2f (conf %.2f)  sp-4.8s %+.2f (conf %.2f)\n", name, truth,
                r->overall.offset, r->overall.confidence, rw->overall.offset, rw->overall.confidence);
    }
  return TRUE;
}

static int
run_generated (int count, gint64 seed, SsCorpusDifficulty d, int size, double duration, gboolean verbose)
{
  Score scores[N_METHODS] = { 0 };
  for (int i = 0; i < count; i++)
    {
      SsCorpusParams p;
      ss_corpus_params_init (&p, d);
      p.seed = (guint64) (seed + i);
      p.width = p.height = size;
      p.duration = duration;
      /* the same offsets soundstage-corpus --offsets grid writes */
      SsRng rng;
      ss_rng_init (&rng, p.seed ^ G_GUINT64_CONSTANT (0x5eed0ff5e7));
      p.offset = ss_sync_class_offset (ss_rng_int (&rng, 0, SS_SYNC_N_CLASSES - 1));
      g_autoptr (GError) error = NULL;
      g_autoptr (SsCorpusClip) clip = ss_corpus_generate (&p, &error);
      if (clip == NULL)
        {
          fprintf (stderr, "soundstage-sync-eval: %s\n", error->message);
          return 1;
        }
      g_autofree const guint8 **frames = g_new (const guint8 *, clip->n_frames);
      for (int k = 0; k < clip->n_frames; k++)
        frames[k] = ss_corpus_clip_frame (clip, k);
      SsSyncSpVideo v = { p.width, p.height, p.width * 4, clip->n_frames, p.fps, frames };
      g_autofree char *name = g_strdup_printf ("clip-%" G_GUINT64_FORMAT, p.seed);
      if (!evaluate (&v, clip->audio, clip->n_samples, p.sample_rate, p.offset, name, scores, verbose, &error))
        {
          fprintf (stderr, "soundstage-sync-eval: %s\n", error->message);
          return 1;
        }
    }
  printf ("generated: %d clips, seeds %" G_GINT64_FORMAT "..%" G_GINT64_FORMAT ", %s, %dx%d, %.1f s\n", count, seed,
          seed + count - 1, ss_corpus_difficulty_name (d), size, size, duration);
  print_scores (scores);
  return 0;
}

static int
compare_paths (gconstpointer a, gconstpointer b)
{
  return g_strcmp0 (*(char *const *) a, *(char *const *) b);
}

static int
run_dir (const char *dir, gboolean verbose)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GDir) d = g_dir_open (dir, 0, &error);
  if (d == NULL)
    {
      fprintf (stderr, "soundstage-sync-eval: %s\n", error->message);
      return 1;
    }
  g_autoptr (GPtrArray) labels = g_ptr_array_new_with_free_func (g_free);
  const char *n;
  while ((n = g_dir_read_name (d)))
    if (g_str_has_suffix (n, ".json"))
      g_ptr_array_add (labels, g_build_filename (dir, n, NULL));
  g_ptr_array_sort (labels, compare_paths);
  Score scores[N_METHODS] = { 0 };
  int failed = 0;
  for (guint i = 0; i < labels->len; i++)
    {
      const char *label = g_ptr_array_index (labels, i);
      double offset = 0;
      g_autofree char *media = NULL;
      if (!ss_corpus_label_load (label, &offset, NULL, &media, &error) || media == NULL)
        {
          fprintf (stderr, "soundstage-sync-eval: %s\n", error ? error->message : "label names no media file");
          g_clear_error (&error);
          failed++;
          continue;
        }
      g_autofree char *path = g_path_is_absolute (media) ? g_strdup (media) : g_build_filename (dir, media, NULL);
      g_autoptr (SsSyncSpResult) r = ss_sync_sp_analyse_file (path, &options, NULL, &error);
      if (r == NULL)
        {
          fprintf (stderr, "soundstage-sync-eval: %s\n", error->message);
          g_clear_error (&error);
          failed++;
          continue;
        }
      score_add (&scores[M_SP], ss_sync_offset_class (offset), &r->overall, offset);
      if (verbose)
        printf ("%s: truth %+.1f  sp %+.2f (conf %.2f)\n", media, offset, r->overall.offset, r->overall.confidence);
    }
  printf ("%s: %u labelled clips, %d failed to load\n", dir, labels->len, failed);
  print_scores (scores);
  return failed ? 1 : 0;
}

int
main (int argc, char **argv)
{
  int generate = 0, size = 224;
  gint64 seed = 100000;
  double duration = 8.0;
  gboolean verbose = FALSE;
  g_autofree char *difficulty = NULL;
  ss_sync_sp_options_init (&options);
  GOptionEntry entries[] = {
    { "generate", 'g', 0, G_OPTION_ARG_INT, &generate, "Make N labelled clips in memory instead of reading DIR", "N" },
    { "seed", 's', 0, G_OPTION_ARG_INT64, &seed, "Seed of the first generated clip (100000)", "S" },
    { "difficulty", 'd', 0, G_OPTION_ARG_STRING, &difficulty, "easy, moderate (default) or hard", "D" },
    { "size", 0, 0, G_OPTION_ARG_INT, &size, "Frame size of generated clips (224)", "PX" },
    { "duration", 0, 0, G_OPTION_ARG_DOUBLE, &duration, "Seconds per generated clip (8)", "SEC" },
    { "verbose", 'v', 0, G_OPTION_ARG_NONE, &verbose, "One line per clip", NULL },
    { "temperature", 0, 0, G_OPTION_ARG_DOUBLE, &options.temperature, "Softmax temperature of the SP estimate", "T" },
    { NULL }
  };
  g_autoptr (GOptionContext) ctx = g_option_context_new ("[DIR] - accuracy of sync methods on labelled clips");
  g_option_context_add_main_entries (ctx, entries, NULL);
  g_autoptr (GError) error = NULL;
  if (!g_option_context_parse (ctx, &argc, &argv, &error))
    {
      fprintf (stderr, "soundstage-sync-eval: %s\n", error->message);
      return 2;
    }
  SsCorpusDifficulty d = SS_CORPUS_MODERATE;
  if (difficulty && !ss_corpus_difficulty_from_name (difficulty, &d))
    {
      fprintf (stderr, "soundstage-sync-eval: unknown difficulty “%s”\n", difficulty);
      return 2;
    }
  if (generate > 0)
    return run_generated (generate, seed, d, size, duration, verbose);
  if (argc != 2)
    {
      fprintf (stderr, "usage: soundstage-sync-eval DIR | --generate N [--seed S] [--difficulty D]\n");
      return 2;
    }
  return run_dir (argv[1], verbose);
}
