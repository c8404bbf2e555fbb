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

/* The default model shipped in data/models: it loads as the "small" config with
 * its synchronizability head and the trainer's held-out figures, and finds the
 * offset (within one class) of most easy generated clips it never saw. */
static void
test_shipped_model (void)
{
  g_autoptr (GError) error = NULL;
  const char *src = g_getenv ("SOUNDSTAGE_SOURCE_DIR");
  g_assert_nonnull (src);
  g_autofree char *path = g_build_filename (src, "data", "models", "sync-small.safetensors", NULL);
  g_autoptr (SsSynchformer) m = ss_synchformer_load (NULL, path, &error);
  g_assert_no_error (error);
  const SsSynchformerConfig *c = ss_synchformer_get_config (m);
  g_assert_cmpstr (c->name, ==, "small");
  g_assert_true (ss_synchformer_has_sync_head (m));
  double acc = -1, sp = -1;
  g_assert_true (ss_synchformer_get_heldout_accuracy (m, &acc, &sp));
  g_assert_cmpfloat (acc, >, 1.5 / SS_SYNC_N_CLASSES);   /* better than chance */
  int n = 6, near = 0;
  for (int i = 0; i < n; i++)
    {
      int k = (i * 7 + 3) % SS_SYNC_N_CLASSES;
      g_autoptr (SsCorpusClip) clip = ss_sync_trainer_make_clip (c, 777000 + i, ss_sync_class_offset (k),
                                                                 SS_CORPUS_EASY, SS_SYNC_WINDOW + 0.2, &error);
      g_assert_no_error (error);
      int side = clip->params.width;
      g_autofree const guint8 **fr = g_new (const guint8 *, clip->n_frames);
      for (int f = 0; f < clip->n_frames; f++)
        fr[f] = ss_corpus_clip_frame (clip, f);
      g_autoptr (SsSynchformerResult) r = ss_synchformer_analyse (m, fr, clip->n_frames, side, side, side * 4,
                                                                  clip->params.fps, clip->audio, clip->n_samples,
                                                                  NULL, "clip", NULL, &error);
      g_assert_no_error (error);
      g_test_message ("clip %d: true class %d, found %d (p %.2f)", i, k, r->overall.class_index,
                      r->overall.probs[r->overall.class_index]);
      near += ABS (r->overall.class_index - k) <= 1;
    }
  /* held out: 96 % within one class on easy clips; chance is 14 % */
  g_assert_cmpint (near, >=, 4);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/synchformer/train/micro-run", test_micro_run);
  g_test_add_func ("/synchformer/train/shipped-model", test_shipped_model);
  return g_test_run ();
}
