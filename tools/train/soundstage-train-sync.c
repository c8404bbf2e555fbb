/* soundstage-train-sync: trains the default sync model on the procedural corpus.
 *
 *   soundstage-train-sync --out data/models/sync-small.safetensors [--config small]
 *       [--steps 2000] [--batch 8] [--lr 3e-4] [--seed 1] [--eval 105] [--time-limit S]
 *       [--init weights.safetensors] [--difficulty easy|moderate|hard]
 *       [--pretrain-steps N] [--pretrain-time S] [--pretrain-lr LR] [--freeze-features]
 *   soundstage-train-sync --steps 0 --init W --eval 105 --out W2   (evaluate W only)
 *
 * With --pretrain-steps, the feature extractors are first trained contrastively
 * (Synchformer's first stage, segment-level InfoNCE on synchronized clips), then
 * the whole model (or, with --freeze-features, the rest) on the offset.
 * Writes fp16 safetensors (with the synchronizability head) and prints the loss,
 * then the accuracy on held-out clips next to the signal-processing estimate;
 * those figures go into the file's metadata (heldout_<difficulty>_accuracy,
 * ..._accuracy1, ..._sp_accuracy, ..._sp_accuracy1), which the editor's "auto"
 * method reads to decide whether the model beats the signal-processing estimate.
 */
#define G_LOG_DOMAIN "soundstage-train-sync"

#include <locale.h>
#include <stdio.h>

#include "ss-types.h"
#include "ss-sync-trainer.h"

/* --profile-steps: GPU time by kernel over the profiled steps (start: switch
 * timestamps on; else print and switch them off) */
static void
print_profile (gboolean start, int n_steps)
{
  SsGpuDevice *dev = ss_gpu_device_get_default (NULL);
  if (!dev)
    return;
  if (start)
    {
      GArray *before = ss_gpu_device_take_profile (dev, NULL);   /* drop what came before */
      if (before)
        g_array_unref (before);
      ss_gpu_device_set_profiling (dev, TRUE);
      return;
    }
  g_autoptr (GError) error = NULL;
  g_autoptr (GArray) pr = ss_gpu_device_take_profile (dev, &error);
  ss_gpu_device_set_profiling (dev, FALSE);
  double total = 0;
  for (guint i = 0; pr && i < pr->len; i++)
    total += g_array_index (pr, SsGpuProfileEntry, i).total_ms;
  printf ("GPU time of %d steps: %.1f ms per step\n", n_steps, total / n_steps);
  for (guint i = 0; pr && i < pr->len && i < 20; i++)
    {
      SsGpuProfileEntry *e = &g_array_index (pr, SsGpuProfileEntry, i);
      printf ("  %-36s %6" G_GUINT64_FORMAT " x %9.2f ms per step (%4.1f %%)\n", e->label, e->count / n_steps,
              e->total_ms / n_steps, 100 * e->total_ms / MAX (total, 1e-9));
    }
  fflush (stdout);
}

int
main (int argc, char **argv)
{
  setlocale (LC_ALL, "");
  g_autofree char *out = NULL, *config_name = g_strdup ("small"), *init = NULL, *difficulty = NULL;
  int steps = 2000, batch = 8, eval = 105, log_every = 10, save_every = 200, pretrain_steps = 0;
  int profile_steps = 0;
  double lr = 3e-4, time_limit = 0, unrelated = 0.25, pretrain_time = 0, pretrain_lr = 1e-3;
  double event_weight = 1.0, contrastive_weight = 0.0;
  gint64 seed = 1;
  gboolean fp32 = FALSE, freeze = FALSE;
  GOptionEntry entries[] = {
    { "out", 'o', 0, G_OPTION_ARG_FILENAME, &out, "Output safetensors", "PATH" },
    { "config", 'c', 0, G_OPTION_ARG_STRING, &config_name, "Model config (small, tiny)", "NAME" },
    { "init", 0, 0, G_OPTION_ARG_FILENAME, &init, "Start from these weights", "PATH" },
    { "steps", 's', 0, G_OPTION_ARG_INT, &steps, "Optimizer steps", "N" },
    { "batch", 'b', 0, G_OPTION_ARG_INT, &batch, "Clips per step", "N" },
    { "lr", 0, 0, G_OPTION_ARG_DOUBLE, &lr, "Peak learning rate", "LR" },
    { "seed", 0, 0, G_OPTION_ARG_INT64, &seed, "Seed", "N" },
    { "unrelated", 0, 0, G_OPTION_ARG_DOUBLE, &unrelated, "Fraction of clips with unrelated audio", "F" },
    { "eval", 'e', 0, G_OPTION_ARG_INT, &eval, "Held-out clips to evaluate (0: none)", "N" },
    { "difficulty", 'd', 0, G_OPTION_ARG_STRING, &difficulty, "Hardest training difficulty (default moderate)", "NAME" },
    { "time-limit", 't', 0, G_OPTION_ARG_DOUBLE, &time_limit, "Stop training after this many seconds", "S" },
    { "save-every", 0, 0, G_OPTION_ARG_INT, &save_every, "Save every N steps", "N" },
    { "profile-steps", 0, 0, G_OPTION_ARG_INT, &profile_steps,
      "Time the GPU kernels of N offset steps (after 20) and print where the time goes", "N" },
    { "fp32", 0, 0, G_OPTION_ARG_NONE, &fp32, "Store fp32 instead of fp16", NULL },
    { "pretrain-steps", 0, 0, G_OPTION_ARG_INT, &pretrain_steps, "Contrastive steps before the offset training", "N" },
    { "pretrain-time", 0, 0, G_OPTION_ARG_DOUBLE, &pretrain_time, "Stop the contrastive stage after this many seconds", "S" },
    { "pretrain-lr", 0, 0, G_OPTION_ARG_DOUBLE, &pretrain_lr, "Peak learning rate of the contrastive stage", "LR" },
    { "event-weight", 0, 0, G_OPTION_ARG_DOUBLE, &event_weight, "Weight of the event-detection loss on the feature tokens (default 1)", "W" },
    { "contrastive-weight", 0, 0, G_OPTION_ARG_DOUBLE, &contrastive_weight, "Weight of the InfoNCE loss in the first stage (default 0)", "W" },
    { "freeze-features", 0, 0, G_OPTION_ARG_NONE, &freeze, "Freeze the feature extractors in the offset stage", NULL },
    { NULL }
  };
  g_autoptr (GOptionContext) ctx = g_option_context_new ("- train the Synchformer sync model on the procedural corpus");
  g_option_context_add_main_entries (ctx, entries, NULL);
  g_autoptr (GError) error = NULL;
  if (!g_option_context_parse (ctx, &argc, &argv, &error))
    {
      fprintf (stderr, "%s\n", error->message);
      return 2;
    }
  if (!out)
    {
      fprintf (stderr, "--out is required\n");
      return 2;
    }
  const SsSynchformerConfig *c = ss_synchformer_config_lookup (config_name);
  if (!c)
    {
      fprintf (stderr, "Unknown config “%s”\n", config_name);
      return 2;
    }
  SsSyncTrainOptions opt;
  ss_sync_train_options_init (&opt);
  opt.batch = batch;
  opt.steps = steps;
  opt.warmup = MAX (1, MIN (100, steps / 10));
  opt.lr = (float) lr;
  opt.seed = (guint64) seed;
  opt.unrelated_fraction = unrelated;
  opt.pretrain_steps = pretrain_steps;
  opt.pretrain_lr = (float) pretrain_lr;
  opt.freeze_features = freeze;
  opt.event_weight = (float) event_weight;
  opt.contrastive_weight = (float) contrastive_weight;
  if (difficulty && !ss_corpus_difficulty_from_name (difficulty, &opt.difficulty_max))
    {
      fprintf (stderr, "Unknown difficulty “%s”\n", difficulty);
      return 2;
    }

  g_autoptr (SsSynchformer) model = init ? ss_synchformer_load (c, init, &error)
                                         : ss_synchformer_new_random (c, (guint64) seed, TRUE, &error);
  if (!model)
    {
      fprintf (stderr, "%s\n", error->message);
      return 1;
    }
  /* training init: unit LayerNorms, zero biases, small weights */
  if (!init)
    {
      const char *const *names = ss_synchformer_get_param_names (model);
      for (guint i = 0; names[i]; i++)
        {
          SsTensor *p = ss_synchformer_get_param_index (model, i);
          if (p->ndim == 1 && g_str_has_suffix (names[i], ".weight"))
            ss_tensor_fill (p, 1.0f, NULL);
          else if (g_str_has_suffix (names[i], "bias"))
            ss_tensor_fill (p, 0.0f, NULL);
        }
    }
  if (steps > 0)   /* --steps 0 --init W: evaluate W only */
    {
    printf ("config %s: %.2f M parameters, batch %d, %d steps, lr %g\n", c->name,
            ss_synchformer_count_parameters (model) / 1e6, batch, steps, lr);
    fflush (stdout);
    g_autoptr (SsSyncTrainer) tr = ss_sync_trainer_new (model, &opt, &error);
    if (!tr)
      {
        fprintf (stderr, "%s\n", error->message);
        return 1;
      }
    gint64 t0 = g_get_monotonic_time ();
    double sum_loss = 0, sum_acc = 0, sum_ev = 0;
    int n_avg = 0, done = 0;
    for (int s = 0; s < pretrain_steps; s++)
      {
        float loss = 0, acc = 0;
        double el = (g_get_monotonic_time () - t0) / 1e6;
        if (pretrain_time > 0)
          ss_sync_trainer_set_progress (tr, MAX ((double) s / pretrain_steps, el / pretrain_time));
        if (!ss_sync_trainer_pretrain_step (tr, &loss, &acc, &error))
          {
            fprintf (stderr, "feature step %d: %s\n", s, error->message);
            return 1;
          }
        sum_loss += loss, sum_acc += acc, sum_ev += ss_sync_trainer_get_event_accuracy (tr), n_avg++;
        el = (g_get_monotonic_time () - t0) / 1e6;
        if ((s + 1) % log_every == 0 || s + 1 == pretrain_steps)
          {
            printf ("features %5d  loss %.4f  events (balanced acc) %.3f  retrieval %.3f  %.1f s\n", s + 1,
                    sum_loss / n_avg, sum_ev / n_avg, sum_acc / n_avg, el);
            fflush (stdout);
            sum_loss = sum_acc = sum_ev = 0, n_avg = 0;
          }
        if (pretrain_time > 0 && el > pretrain_time)
          {
            printf ("feature stage: time limit reached after %d steps\n", s + 1);
            break;
          }
      }
    ss_sync_trainer_set_progress (tr, -1);
    sum_loss = sum_acc = sum_ev = 0, n_avg = 0;
    t0 = g_get_monotonic_time ();
    for (int s = 0; s < steps; s++)
      {
        float loss = 0, acc = 0;
        if (time_limit > 0)
          ss_sync_trainer_set_progress (tr, MAX ((double) s / steps, (g_get_monotonic_time () - t0) / 1e6 / time_limit));
        if (profile_steps > 0 && (s == 20 || s == 20 + profile_steps))
          print_profile (s == 20, profile_steps);
        if (!ss_sync_trainer_step (tr, &loss, &acc, &error))
          {
            fprintf (stderr, "step %d: %s\n", s, error->message);
            return 1;
          }
        done = s + 1;
        sum_loss += loss, sum_acc += acc, sum_ev += ss_sync_trainer_get_event_accuracy (tr), n_avg++;
        double el = (g_get_monotonic_time () - t0) / 1e6;
        if (done % log_every == 0 || done == steps)
          {
            printf ("step %5d  loss %.4f  acc %.3f  events %.3f  %.1f s\n", done, sum_loss / n_avg, sum_acc / n_avg,
                    sum_ev / n_avg, el);
            fflush (stdout);
            sum_loss = sum_acc = sum_ev = 0, n_avg = 0;
          }
        if (save_every > 0 && done % save_every == 0
            && !ss_synchformer_save (model, out, !fp32, &error))
          {
            fprintf (stderr, "%s\n", error->message);
            return 1;
          }
        if (time_limit > 0 && el > time_limit)
          {
            printf ("time limit reached after %d steps\n", done);
            break;
          }
      }
    ss_synchformer_set_trainable (model, FALSE);
    if (!ss_synchformer_save (model, out, !fp32, &error))
      {
        fprintf (stderr, "%s\n", error->message);
        return 1;
      }
    printf ("wrote %s (%d steps, %.1f s)\n", out, done, (g_get_monotonic_time () - t0) / 1e6);
    fflush (stdout);
    }
  if (eval > 0)
    {
      /* reload what was written (fp16 rounding included) */
      g_autoptr (SsSynchformer) saved = ss_synchformer_load (c, steps == 0 && init ? init : out, &error);
      if (!saved)
        {
          fprintf (stderr, "%s\n", error->message);
          return 1;
        }
      for (int d = SS_CORPUS_EASY; d <= SS_CORPUS_HARD; d++)
        {
          SsSyncEvalResult r;
          if (!ss_sync_trainer_evaluate (saved, eval, G_GUINT64_CONSTANT (900000000) + d * 100000,
                                         (SsCorpusDifficulty) d, TRUE, &r, &error))
            {
              fprintf (stderr, "evaluation: %s\n", error->message);
              return 1;
            }
          const char *dn = ss_corpus_difficulty_name ((SsCorpusDifficulty) d);
          const char *keys[4] = { "accuracy", "accuracy1", "sp_accuracy", "sp_accuracy1" };
          double vals[4] = { r.model_acc, r.model_acc1, r.sp_acc, r.sp_acc1 };
          for (int k = 0; k < 4; k++)
            {
              char key[64], val[G_ASCII_DTOSTR_BUF_SIZE];
              g_snprintf (key, sizeof key, "heldout_%s_%s", dn, keys[k]);
              ss_synchformer_set_metadata (saved, key, g_ascii_formatd (val, sizeof val, "%.4f", vals[k]));
            }
          printf ("held-out %-8s n=%d  model acc %.3f  +-1 %.3f  | signal-processing acc %.3f  +-1 %.3f | synchronizability acc %.3f\n",
                  ss_corpus_difficulty_name ((SsCorpusDifficulty) d), r.n, r.model_acc, r.model_acc1,
                  r.sp_acc, r.sp_acc1, r.sync_acc);
          fflush (stdout);
        }
      char n[32];
      g_snprintf (n, sizeof n, "%d", eval);
      ss_synchformer_set_metadata (saved, "heldout_clips", n);
      if (!ss_synchformer_save (saved, out, !fp32, &error))
        {
          fprintf (stderr, "%s\n", error->message);
          return 1;
        }
      printf ("wrote %s with the held-out figures\n", out);
    }
  return 0;
}
