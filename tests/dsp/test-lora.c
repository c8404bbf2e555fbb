/* test-lora.c: LoRA on a frozen two-layer model learns a low-rank change of
 * its first layer (gradients through the frozen second layer), the base
 * weights stay bit-identical, adapters save/load exactly, merging matches. */
#include <glib.h>
#include <glib/gstdio.h>
#include <math.h>
#include <string.h>

#include "tensor/ss-lora.h"
#include "tensor/ss-ops.h"
#include "tensor/ss-optim.h"
#include "tensor/ss-safetensors.h"
#include "dsp-test.h"

static float *
randn (GRand *rng, gint64 n, double scale)
{
  float *x = g_new (float, n);
  for (gint64 i = 0; i < n; i++)
    {
      double u1 = g_rand_double_range (rng, 1e-12, 1.0), u2 = g_rand_double (rng);
      x[i] = (float) (scale * sqrt (-2 * log (u1)) * cos (2 * G_PI * u2));
    }
  return x;
}

enum { N = 64, IN = 24, HID = 32, OUT = 8 };

typedef struct {
  SsTensor *x, *w0, *b0, *w1, *target;
} Model;

static void
model_clear (Model *m)
{
  g_clear_pointer (&m->x, ss_tensor_unref);
  g_clear_pointer (&m->w0, ss_tensor_unref);
  g_clear_pointer (&m->b0, ss_tensor_unref);
  g_clear_pointer (&m->w1, ss_tensor_unref);
  g_clear_pointer (&m->target, ss_tensor_unref);
}

/* y = gelu(x W0^T + b0) W1^T, with LoRA on "blocks.0.fc1" only. */
static SsTensor *
forward (SsLora *lora, Model *m, SsTensor *x, GError **error)
{
  g_autoptr (SsTensor) h = ss_lora_linear (lora, "blocks.0.fc1", x, m->w0, m->b0, error);
  if (!h)
    return NULL;
  g_autoptr (SsTensor) a = ss_op_gelu (h, FALSE, error);
  if (!a)
    return NULL;
  return ss_lora_linear (lora, "blocks.0.fc2", a, m->w1, NULL, error);
}

/* Frozen random model; the target comes from the same model with
 * W0 + U V (rank 2) in place of W0. */
static void
model_init (Model *m, GRand *rng)
{
  g_autoptr (GError) error = NULL;
  g_autofree float *x = randn (rng, N * IN, 1.0);
  g_autofree float *w0 = randn (rng, HID * IN, 1.0 / sqrt (IN));
  g_autofree float *b0 = randn (rng, HID, 0.1);
  g_autofree float *w1 = randn (rng, OUT * HID, 1.0 / sqrt (HID));
  g_autofree float *u = randn (rng, HID * 2, 0.5);
  g_autofree float *v = randn (rng, 2 * IN, 0.5);
  g_autofree float *w0t = g_new (float, HID * IN);
  for (int o = 0; o < HID; o++)
    for (int i = 0; i < IN; i++)
      w0t[o * IN + i] = w0[o * IN + i] + u[o * 2] * v[i] + u[o * 2 + 1] * v[IN + i];
  m->x = ss_tensor_new_from_floats (SS_DTYPE_F32, 2, SS_SHAPE (N, IN), x, &error);
  m->w0 = ss_tensor_new_from_floats (SS_DTYPE_F32, 2, SS_SHAPE (HID, IN), w0, &error);
  m->b0 = ss_tensor_new_from_floats (SS_DTYPE_F32, 1, SS_SHAPE (HID), b0, &error);
  m->w1 = ss_tensor_new_from_floats (SS_DTYPE_F32, 2, SS_SHAPE (OUT, HID), w1, &error);
  g_assert_no_error (error);
  g_autoptr (SsTensor) w0teach = ss_tensor_new_from_floats (SS_DTYPE_F32, 2, SS_SHAPE (HID, IN),
                                                            w0t, &error);
  SS_NO_GRAD_SCOPE;
  g_autoptr (SsTensor) h = ss_op_linear (m->x, w0teach, m->b0, &error);
  g_autoptr (SsTensor) a = ss_op_gelu (h, FALSE, &error);
  m->target = ss_op_linear (a, m->w1, NULL, &error);
  g_assert_no_error (error);
}

static float
loss_value (SsTensor *loss)
{
  g_autoptr (GError) error = NULL;
  float v = NAN;
  g_assert_true (ss_tensor_to_floats (loss, &v, &error));
  return v;
}

static void
test_lora_learns_frozen (void)
{
  if (!have_gpu ())
    return;
  g_autoptr (GError) error = NULL;
  g_autoptr (GRand) rng = g_rand_new_with_seed (1234);
  Model m = { 0 };
  model_init (&m, rng);

  g_autofree guint8 *w0_before = g_malloc (HID * IN * 4);
  g_autofree guint8 *w1_before = g_malloc (OUT * HID * 4);
  g_autofree guint8 *b0_before = g_malloc (HID * 4);
  g_assert_true (ss_tensor_to_raw (m.w0, w0_before, &error));
  g_assert_true (ss_tensor_to_raw (m.w1, w1_before, &error));
  g_assert_true (ss_tensor_to_raw (m.b0, b0_before, &error));

  const char *targets[] = { "*.fc1", NULL };
  SsLoraConfig cfg = { .rank = 4, .alpha = 8.0f, .targets = targets, .seed = 42 };
  g_autoptr (SsLora) lora = ss_lora_new (&cfg);
  g_assert_true (ss_lora_attach (lora, "blocks.0.fc1", HID, IN, &error));
  g_assert_false (ss_lora_attach (lora, "blocks.0.fc2", OUT, HID, &error)); /* not a target */
  g_assert_no_error (error);
  g_assert_cmpuint (ss_lora_get_n_adapters (lora), ==, 1);
  g_assert_cmpfloat (ss_lora_get_scale (lora), ==, 2.0f);

  /* A new adapter does not change the model (B = 0). */
  {
    SS_NO_GRAD_SCOPE;
    g_autoptr (SsTensor) y = forward (lora, &m, m.x, &error);
    g_autoptr (SsTensor) h = ss_op_linear (m.x, m.w0, m.b0, &error);
    g_autoptr (SsTensor) a = ss_op_gelu (h, FALSE, &error);
    g_autoptr (SsTensor) y0 = ss_op_linear (a, m.w1, NULL, &error);
    g_autofree float *fy = ss_tensor_to_floats_dup (y, &error);
    g_autofree float *fy0 = ss_tensor_to_floats_dup (y0, &error);
    g_assert_cmpmem (fy, N * OUT * 4, fy0, N * OUT * 4);
  }

  g_autoptr (GPtrArray) params = ss_lora_get_parameters (lora);
  g_assert_cmpuint (params->len, ==, 2);
  g_autoptr (SsOptim) opt = ss_optim_new (SS_OPTIM_ADAMW);
  SsOptimHyper h = ss_optim_hyper_adamw_default ();
  h.lr = 1e-2f;
  h.weight_decay = 0.0f;
  ss_optim_add_group (opt, params->len, (SsTensor **) params->pdata, &h);
  ss_optim_set_max_grad_norm (opt, 1.0f);

  float first = 0, last = 0;
  for (int step = 0; step < 200; step++)
    {
      g_autoptr (SsTensor) y = forward (lora, &m, m.x, &error);
      g_assert_no_error (error);
      g_autoptr (SsTensor) loss = ss_op_mse_loss (y, m.target, &error);
      g_assert_no_error (error);
      if (step == 0)
        first = loss_value (loss);
      g_assert_true (ss_tensor_backward (loss, NULL, &error));
      g_assert_no_error (error);
      /* Frozen weights get no gradient; both adapter matrices do (B through
       * the frozen fc2, A only once B is non-zero). */
      g_assert_null (m.w0->grad);
      g_assert_null (m.w1->grad);
      g_assert_nonnull (((SsTensor *) params->pdata[1])->grad);
      g_assert_true (ss_optim_step (opt, &error));
      ss_optim_zero_grad (opt);
    }
  {
    g_autoptr (SsTensor) y = forward (lora, &m, m.x, &error);
    g_autoptr (SsTensor) loss = ss_op_mse_loss (y, m.target, &error);
    last = loss_value (loss);
  }
  if (g_test_verbose ())
    g_printerr ("  loss %.5g -> %.5g\n", first, last);
  g_assert_cmpfloat (first, >, 1e-2);
  g_assert_cmpfloat (last, <, 0.05f * first);

  /* Base weights bit-identical. */
  g_autofree guint8 *w0_after = g_malloc (HID * IN * 4);
  g_autofree guint8 *w1_after = g_malloc (OUT * HID * 4);
  g_autofree guint8 *b0_after = g_malloc (HID * 4);
  g_assert_true (ss_tensor_to_raw (m.w0, w0_after, &error));
  g_assert_true (ss_tensor_to_raw (m.w1, w1_after, &error));
  g_assert_true (ss_tensor_to_raw (m.b0, b0_after, &error));
  g_assert_cmpmem (w0_after, HID * IN * 4, w0_before, HID * IN * 4);
  g_assert_cmpmem (w1_after, OUT * HID * 4, w1_before, OUT * HID * 4);
  g_assert_cmpmem (b0_after, HID * 4, b0_before, HID * 4);

  /* Merged weight gives the same outputs. */
  {
    SS_NO_GRAD_SCOPE;
    ss_lora_set_training (lora, FALSE);
    g_autoptr (SsTensor) y = forward (lora, &m, m.x, &error);
    g_autoptr (SsTensor) wm = ss_lora_merge (lora, "blocks.0.fc1", m.w0, &error);
    g_assert_no_error (error);
    g_autoptr (SsTensor) hm = ss_op_linear (m.x, wm, m.b0, &error);
    g_autoptr (SsTensor) am = ss_op_gelu (hm, FALSE, &error);
    g_autoptr (SsTensor) ym = ss_op_linear (am, m.w1, NULL, &error);
    g_autofree float *fy = ss_tensor_to_floats_dup (y, &error);
    g_autofree float *fym = ss_tensor_to_floats_dup (ym, &error);
    for (int i = 0; i < N * OUT; i++)
      g_assert_cmpfloat (fabsf (fy[i] - fym[i]), <, 1e-4f * (1 + fabsf (fy[i])));
  }

  /* Save, load into a new LoRA, identical outputs. */
  g_autofree char *dir = g_dir_make_tmp ("ss-lora-XXXXXX", &error);
  g_autofree char *path = g_build_filename (dir, "edit.lora.safetensors", NULL);
  g_assert_true (ss_lora_save (lora, path, &error));
  g_assert_no_error (error);
  {
    g_autoptr (SsSafetensors) st = ss_safetensors_open (path, &error);
    g_assert_no_error (error);
    g_assert_cmpuint (ss_safetensors_get_n_tensors (st), ==, 2);
    const SsSafetensorsInfo *ia = ss_safetensors_lookup (st, "blocks.0.fc1.lora_A.weight");
    const SsSafetensorsInfo *ib = ss_safetensors_lookup (st, "blocks.0.fc1.lora_B.weight");
    g_assert_nonnull (ia);
    g_assert_nonnull (ib);
    g_assert_cmpint (ia->shape[0], ==, 4);
    g_assert_cmpint (ia->shape[1], ==, IN);
    g_assert_cmpint (ib->shape[0], ==, HID);
    g_assert_cmpint (ib->shape[1], ==, 4);
    g_assert_cmpstr (ss_safetensors_get_metadata_value (st, "lora_rank"), ==, "4");
    g_assert_cmpstr (ss_safetensors_get_metadata_value (st, "lora_targets"), ==, "*.fc1");
  }
  g_autoptr (SsLora) loaded = ss_lora_load (path, &error);
  g_assert_no_error (error);
  g_assert_cmpint (ss_lora_get_rank (loaded), ==, 4);
  g_assert_cmpfloat (ss_lora_get_alpha (loaded), ==, 8.0f);
  g_assert_true (ss_lora_has_adapter (loaded, "blocks.0.fc1"));
  {
    SS_NO_GRAD_SCOPE;
    g_autoptr (SsTensor) y = forward (lora, &m, m.x, &error);
    g_autoptr (SsTensor) y2 = forward (loaded, &m, m.x, &error);
    g_autofree float *fy = ss_tensor_to_floats_dup (y, &error);
    g_autofree float *fy2 = ss_tensor_to_floats_dup (y2, &error);
    g_assert_cmpmem (fy, N * OUT * 4, fy2, N * OUT * 4);
  }

  /* An adapter for another layer shape is refused with the layer's name. */
  g_autoptr (SsTensor) wrong = ss_tensor_zeros (SS_DTYPE_F32, 2, SS_SHAPE (HID, IN + 1), &error);
  g_autoptr (SsTensor) xw = ss_tensor_zeros (SS_DTYPE_F32, 2, SS_SHAPE (2, IN + 1), &error);
  g_assert_null (ss_lora_linear (loaded, "blocks.0.fc1", xw, wrong, NULL, &error));
  g_assert_error (error, SS_ERROR, SS_ERROR_INVALID_DATA);
  g_assert_nonnull (strstr (error->message, "blocks.0.fc1"));
  g_clear_error (&error);

  g_unlink (path);
  g_rmdir (dir);
  model_clear (&m);
}

/* bf16 activations: the fp32 adapters still get gradients and learn. With
 * dropout the training is noisier but still reduces the loss. */
static void
test_lora_bf16_dropout (void)
{
  if (!have_gpu ())
    return;
  g_autoptr (GError) error = NULL;
  g_autoptr (GRand) rng = g_rand_new_with_seed (99);
  Model m = { 0 };
  model_init (&m, rng);
  Model mb = { 0 };
  mb.x = ss_tensor_to_dtype (m.x, SS_DTYPE_BF16, &error);
  mb.w0 = ss_tensor_to_dtype (m.w0, SS_DTYPE_BF16, &error);
  mb.b0 = ss_tensor_to_dtype (m.b0, SS_DTYPE_BF16, &error);
  mb.w1 = ss_tensor_to_dtype (m.w1, SS_DTYPE_BF16, &error);
  mb.target = ss_tensor_to_dtype (m.target, SS_DTYPE_BF16, &error);
  g_assert_no_error (error);

  SsLoraConfig cfg = { .rank = 4, .alpha = 4.0f, .dropout = 0.1f, .seed = 7 };
  g_autoptr (SsLora) lora = ss_lora_new (&cfg); /* no targets: every attached layer */
  g_assert_true (ss_lora_attach (lora, "blocks.0.fc1", HID, IN, &error));
  g_autoptr (GPtrArray) params = ss_lora_get_parameters (lora);
  g_autoptr (SsOptim) opt = ss_optim_new (SS_OPTIM_ADAMW);
  SsOptimHyper h = ss_optim_hyper_adamw_default ();
  h.lr = 1e-2f;
  ss_optim_add_group (opt, params->len, (SsTensor **) params->pdata, &h);

  float first = 0;
  for (int step = 0; step < 150; step++)
    {
      g_autoptr (SsTensor) y = forward (lora, &mb, mb.x, &error);
      g_autoptr (SsTensor) loss = ss_op_mse_loss (y, mb.target, &error);
      g_assert_no_error (error);
      if (step == 0)
        first = loss_value (loss);
      g_assert_true (ss_tensor_backward (loss, NULL, &error));
      SsTensor *a = params->pdata[0];
      g_assert_cmpint (a->dtype, ==, SS_DTYPE_F32);
      g_assert_true (ss_optim_step (opt, &error));
      ss_optim_zero_grad (opt);
    }
  ss_lora_set_training (lora, FALSE);
  g_autoptr (SsTensor) y = forward (lora, &mb, mb.x, &error);
  g_autoptr (SsTensor) loss = ss_op_mse_loss (y, mb.target, &error);
  float last = loss_value (loss);
  if (g_test_verbose ())
    g_printerr ("  bf16 + dropout: loss %.5g -> %.5g\n", first, last);
  g_assert_cmpfloat (last, <, 0.3f * first);
  model_clear (&m);
  model_clear (&mb);
}

/* GPU dropout: rate, scaling, determinism by seed, gradient through the same mask. */
static void
test_dropout (void)
{
  if (!have_gpu ())
    return;
  g_autoptr (GError) error = NULL;
  g_autoptr (GRand) rng = g_rand_new_with_seed (5);
  const gint64 n = 100000;
  g_autofree float *xv = randn (rng, n, 1.0);
  g_autofree float *wv = randn (rng, n, 1.0);
  g_autoptr (SsTensor) x = ss_tensor_new_from_floats (SS_DTYPE_F32, 2, SS_SHAPE (1000, 100), xv, &error);
  g_autoptr (SsTensor) w = ss_tensor_new_from_floats (SS_DTYPE_F32, 2, SS_SHAPE (1000, 100), wv, &error);
  ss_tensor_set_requires_grad (x, TRUE);
  g_autoptr (SsTensor) y = ss_lora_dropout (x, 0.25f, 123, &error);
  g_assert_no_error (error);
  g_autofree float *yv = ss_tensor_to_floats_dup (y, &error);
  gint64 zeros = 0;
  for (gint64 i = 0; i < n; i++)
    {
      if (yv[i] == 0.0f)
        zeros++;
      else
        g_assert_cmpfloat (fabsf (yv[i] - xv[i] / 0.75f), <=, 1e-6f * fabsf (xv[i]));
    }
  double rate = (double) zeros / n;
  if (g_test_verbose ())
    g_printerr ("  dropout rate %.4f (p = 0.25)\n", rate);
  g_assert_cmpfloat (fabs (rate - 0.25), <, 0.01);

  /* same seed, same mask; another seed, another mask */
  {
    SS_NO_GRAD_SCOPE;
    g_autoptr (SsTensor) y2 = ss_lora_dropout (x, 0.25f, 123, &error);
    g_autoptr (SsTensor) y3 = ss_lora_dropout (x, 0.25f, 124, &error);
    g_autofree float *y2v = ss_tensor_to_floats_dup (y2, &error);
    g_autofree float *y3v = ss_tensor_to_floats_dup (y3, &error);
    g_assert_cmpmem (y2v, n * 4, yv, n * 4);
    gint64 differ = 0;
    for (gint64 i = 0; i < n; i++)
      differ += (y3v[i] == 0.0f) != (yv[i] == 0.0f);
    g_assert_cmpint (differ, >, n / 5);
  }

  /* d/dx sum(w * dropout(x)) = w * mask / (1 - p) */
  g_autoptr (SsTensor) prod = ss_op_mul (y, w, &error);
  g_autoptr (SsTensor) loss = ss_op_sum_all (prod, &error);
  g_assert_true (ss_tensor_backward (loss, NULL, &error));
  g_assert_no_error (error);
  g_autofree float *gx = ss_tensor_to_floats_dup (x->grad, &error);
  for (gint64 i = 0; i < n; i++)
    {
      float want = yv[i] == 0.0f ? 0.0f : wv[i] / 0.75f;
      g_assert_cmpfloat (fabsf (gx[i] - want), <=, 1e-6f * (1 + fabsf (want)));
    }

  /* bf16 storage */
  g_autoptr (SsTensor) xb = ss_tensor_to_dtype (x, SS_DTYPE_BF16, &error);
  g_autoptr (SsTensor) yb = ss_lora_dropout (xb, 0.5f, 9, &error);
  g_assert_cmpint (yb->dtype, ==, SS_DTYPE_BF16);
  g_autofree float *ybv = ss_tensor_to_floats_dup (yb, &error);
  zeros = 0;
  for (gint64 i = 0; i < n; i++)
    zeros += ybv[i] == 0.0f;
  g_assert_cmpfloat (fabs ((double) zeros / n - 0.5), <, 0.01);
}

static void
test_lora_load_errors (void)
{
  if (!have_gpu ())
    return;
  g_autoptr (GError) error = NULL;
  g_autofree char *dir = g_dir_make_tmp ("ss-lora-XXXXXX", &error);
  g_autofree char *path = g_build_filename (dir, "bad.safetensors", NULL);
  float a[8] = { 0 };
  /* A without B */
  {
    g_autoptr (SsSafetensorsWriter) w = ss_safetensors_writer_new ();
    ss_safetensors_writer_add (w, "x.lora_A.weight", SS_SAFETENSORS_F32, 2, SS_SHAPE (2, 4), a);
    g_assert_true (ss_safetensors_writer_write (w, path, &error));
    g_assert_null (ss_lora_load (path, &error));
    g_assert_error (error, SS_ERROR, SS_ERROR_INVALID_DATA);
    g_assert_nonnull (strstr (error->message, "“x.lora_B.weight”"));
    g_clear_error (&error);
  }
  /* rank mismatch between A and B */
  {
    g_autoptr (SsSafetensorsWriter) w = ss_safetensors_writer_new ();
    ss_safetensors_writer_add (w, "x.lora_A.weight", SS_SAFETENSORS_F32, 2, SS_SHAPE (2, 4), a);
    ss_safetensors_writer_add (w, "x.lora_B.weight", SS_SAFETENSORS_F32, 2, SS_SHAPE (2, 4), a);
    g_assert_true (ss_safetensors_writer_write (w, path, &error));
    g_assert_null (ss_lora_load (path, &error));
    g_assert_error (error, SS_ERROR, SS_ERROR_INVALID_DATA);
    g_assert_nonnull (strstr (error->message, "“x.lora_B.weight”"));
    g_clear_error (&error);
  }
  /* a full model instead of adapters */
  {
    g_autoptr (SsSafetensorsWriter) w = ss_safetensors_writer_new ();
    ss_safetensors_writer_add (w, "blocks.0.fc1.weight", SS_SAFETENSORS_F32, 2, SS_SHAPE (2, 4), a);
    g_assert_true (ss_safetensors_writer_write (w, path, &error));
    g_assert_null (ss_lora_load (path, &error));
    g_assert_error (error, SS_ERROR, SS_ERROR_INVALID_DATA);
    g_assert_nonnull (strstr (error->message, "not a LoRA adapter"));
    g_clear_error (&error);
  }
  /* PEFT prefix is accepted and stripped */
  {
    g_autoptr (SsSafetensorsWriter) w = ss_safetensors_writer_new ();
    ss_safetensors_writer_add (w, "base_model.model.q.lora_A.weight", SS_SAFETENSORS_F32, 2,
                               SS_SHAPE (2, 4), a);
    ss_safetensors_writer_add (w, "base_model.model.q.lora_B.weight", SS_SAFETENSORS_F32, 2,
                               SS_SHAPE (4, 2), a);
    g_assert_true (ss_safetensors_writer_write (w, path, &error));
    g_autoptr (SsLora) l = ss_lora_load (path, &error);
    g_assert_no_error (error);
    g_assert_true (ss_lora_has_adapter (l, "q"));
    g_assert_cmpint (ss_lora_get_rank (l), ==, 2);
  }
  g_unlink (path);
  g_rmdir (dir);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/lora/learns-frozen", test_lora_learns_frozen);
  g_test_add_func ("/lora/bf16-dropout", test_lora_bf16_dropout);
  g_test_add_func ("/lora/load-errors", test_lora_load_errors);
  g_test_add_func ("/lora/dropout", test_dropout);
  return g_test_run ();
}
