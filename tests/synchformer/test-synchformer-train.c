/* test-synchformer-train.c: a micro training run (tiny config, lavapipe): the
 * trainer's loss goes down over a few AdamW steps on fixed corpus batches, the
 * saved weights load back and give the trained model's outputs. */
#define G_LOG_DOMAIN "test-synchformer-train"

#include <math.h>
#include <glib/gstdio.h>

#include "ss-types.h"
#include "ss-sync-trainer.h"

static void
test_micro_run (void)
{
  g_autoptr (GError) error = NULL;
  const SsSynchformerConfig *c = ss_synchformer_config_tiny ();
  g_autoptr (SsSynchformer) m = ss_synchformer_new_random (c, 3, TRUE, &error);
  g_assert_no_error (error);
  SsSyncTrainOptions opt;
  ss_sync_train_options_init (&opt);
  opt.batch = 4;
  opt.steps = 8;
  opt.warmup = 1;
  opt.lr = 2e-3f;
  opt.fixed_batches = 1;       /* overfit one batch */
  opt.unrelated_fraction = 0.5;
  opt.threads = 2;
  opt.seed = 5;
  opt.weight_decay = 0;       /* so a parameter changes only through its gradient */
  g_autoptr (SsSyncTrainer) t = ss_sync_trainer_new (m, &opt, &error);
  g_assert_no_error (error);
  /* every parameter the forward pass uses must be updated: a broken gradient path
   * (features that never learn) shows as an unchanged tensor */
  guint n_params = ss_synchformer_get_n_params (m);
  g_autofree float **before = g_new0 (float *, n_params);
  for (guint i = 0; i < n_params; i++)
    before[i] = ss_tensor_to_floats_dup (ss_synchformer_get_param_index (m, i), &error);
  float first = 0, last = 0, best = INFINITY;
  for (int s = 0; s < opt.steps; s++)
    {
      float loss = 0, acc = 0;
      gboolean ok = ss_sync_trainer_step (t, &loss, &acc, &error);
      g_assert_no_error (error);
      g_assert_true (ok);
      g_assert_true (isfinite (loss));
      g_test_message ("step %d loss %.4f acc %.2f", s, loss, acc);
      if (s == 0)
        first = loss;
      last = loss;
      best = MIN (best, loss);
    }
  /* random init: about ln 21 + ln 2 = 3.7; a dozen steps on one batch must cut it clearly */
  g_assert_cmpfloat (first, >, 2.0);
  g_assert_cmpfloat (last, <, 0.7 * first);
  const char *const *names = ss_synchformer_get_param_names (m);
  for (guint i = 0; i < n_params; i++)
    {
      SsTensor *p = ss_synchformer_get_param_index (m, i);
      g_autofree float *after = ss_tensor_to_floats_dup (p, &error);
      gint64 n = ss_tensor_numel (p), changed = 0;
      for (gint64 k = 0; k < n; k++)
        changed += after[k] != before[i][k];
      /* the 2-D patch embedding is kept for the checkpoint's key list but not used */
      if (g_str_has_prefix (names[i], "vfeat_extractor.patch_embed.proj"))
        g_assert_cmpint (changed, ==, 0);
      else if (changed == 0)
        g_error ("parameter %s was not updated by training", names[i]);
      g_free (before[i]);
    }

  /* saved weights (fp32) load back with the sync head */
  g_autofree char *dir = g_dir_make_tmp ("ss-train-XXXXXX", &error);
  g_autofree char *path = g_build_filename (dir, "m.safetensors", NULL);
  g_assert_true (ss_synchformer_save (m, path, FALSE, &error));
  g_autoptr (SsSynchformer) back = ss_synchformer_load (NULL, path, &error);
  g_assert_no_error (error);
  g_assert_true (ss_synchformer_has_sync_head (back));
  g_autofree float *a = ss_tensor_to_floats_dup (ss_synchformer_get_param (m, "transformer.off_head.weight"), &error);
  g_autofree float *b = ss_tensor_to_floats_dup (ss_synchformer_get_param (back, "transformer.off_head.weight"), &error);
  for (int i = 0; i < 21 * c->s_dim; i++)
    g_assert_cmpfloat (a[i], ==, b[i]);
  g_remove (path);
  g_rmdir (dir);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/synchformer/train/micro-run", test_micro_run);
  return g_test_run ();
}
