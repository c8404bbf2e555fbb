/* test-optim.c: AdamW and SGD steps on the GPU against a double-precision
 * reference of PyTorch's formulas, with parameter groups, global-norm
 * clipping and f16/bf16 parameters (fp32 master weights). */
#include <glib.h>
#include <math.h>
#include <string.h>

#include <glib/gstdio.h>

#include "tensor/ss-ops.h"
#include "tensor/ss-optim.h"
#include "dsp-test.h"

/* Reference state of one parameter. */
typedef struct {
  gint64 n;
  double *w, *m, *v;
  gint64 step;
} Ref;

static void
ref_init (Ref *r, const float *w, gint64 n)
{
  r->n = n;
  r->w = g_new (double, n);
  r->m = g_new0 (double, n);
  r->v = g_new0 (double, n);
  r->step = 0;
  for (gint64 i = 0; i < n; i++)
    r->w[i] = w[i];
}

static void
ref_clear (Ref *r)
{
  g_free (r->w);
  g_free (r->m);
  g_free (r->v);
}

static void
ref_adamw (Ref *r, const double *g, double scale, const SsOptimHyper *h)
{
  r->step++;
  double bc1 = 1 - pow (h->beta1, r->step), bc2 = 1 - pow (h->beta2, r->step);
  for (gint64 i = 0; i < r->n; i++)
    {
      double gi = g[i] * scale;
      r->w[i] *= 1 - (double) h->lr * h->weight_decay;
      r->m[i] = h->beta1 * r->m[i] + (1 - (double) h->beta1) * gi;
      r->v[i] = h->beta2 * r->v[i] + (1 - (double) h->beta2) * gi * gi;
      r->w[i] -= h->lr / bc1 * r->m[i] / (sqrt (r->v[i]) / sqrt (bc2) + h->eps);
    }
}

static void
ref_sgd (Ref *r, const double *g, const SsOptimHyper *h)
{
  r->step++;
  for (gint64 i = 0; i < r->n; i++)
    {
      double gi = g[i] + h->weight_decay * r->w[i];
      if (h->momentum != 0)
        {
          r->m[i] = r->step == 1 ? gi : h->momentum * r->m[i] + (1 - h->dampening) * gi;
          gi = h->nesterov ? gi + h->momentum * r->m[i] : r->m[i];
        }
      r->w[i] -= h->lr * gi;
    }
}

/* Sets p->grad = c through autograd: loss = sum(p * c). */
static void
make_grad (SsTensor *p, const float *c)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (SsTensor) ct = ss_tensor_new_from_floats (p->dtype, p->ndim, p->shape, c, &error);
  g_assert_no_error (error);
  g_autoptr (SsTensor) prod = ss_op_mul (p, ct, &error);
  g_assert_no_error (error);
  g_autoptr (SsTensor) loss = ss_op_sum_all (prod, &error);
  g_assert_no_error (error);
  g_assert_true (ss_tensor_backward (loss, NULL, &error));
  g_assert_no_error (error);
}

static float *
random_floats (GRand *rng, gint64 n, double scale)
{
  float *x = g_new (float, n);
  for (gint64 i = 0; i < n; i++)
    x[i] = (float) (g_rand_double_range (rng, -1, 1) * scale);
  return x;
}

/* max |got - ref| / (|ref| + floor) */
static double
max_rel (const float *got, const double *ref, gint64 n, double floor_)
{
  double worst = 0;
  for (gint64 i = 0; i < n; i++)
    {
      g_assert_false (isnan (got[i]));
      worst = MAX (worst, fabs (got[i] - ref[i]) / (fabs (ref[i]) + floor_));
    }
  return worst;
}

static void
run_adamw (gboolean clip)
{
  if (!have_gpu ())
    return;
  g_autoptr (GError) error = NULL;
  g_autoptr (GRand) rng = g_rand_new_with_seed (clip ? 7 : 3);
  gint64 n0 = 37, n1 = 35;
  g_autofree float *w0 = random_floats (rng, n0, 1.0);
  g_autofree float *w1 = random_floats (rng, n1, 1.0);
  g_autoptr (SsTensor) p0 = ss_tensor_new_from_floats (SS_DTYPE_F32, 1, SS_SHAPE (n0), w0, &error);
  g_autoptr (SsTensor) p1 = ss_tensor_new_from_floats (SS_DTYPE_F32, 2, SS_SHAPE (5, 7), w1, &error);
  ss_tensor_set_requires_grad (p0, TRUE);
  ss_tensor_set_requires_grad (p1, TRUE);

  g_autoptr (SsOptim) opt = ss_optim_new (SS_OPTIM_ADAMW);
  SsOptimHyper h0 = ss_optim_hyper_adamw_default ();
  h0.lr = 1e-2f;
  h0.weight_decay = 0.1f;
  SsOptimHyper h1 = ss_optim_hyper_adamw_default ();
  h1.lr = 3e-3f;
  h1.weight_decay = 0.0f;
  h1.beta1 = 0.8f;
  h1.beta2 = 0.99f;
  h1.eps = 1e-6f;
  g_assert_cmpuint (ss_optim_add_group (opt, 1, &p0, &h0), ==, 0);
  g_assert_cmpuint (ss_optim_add_group (opt, 1, &p1, &h1), ==, 1);
  if (clip)
    ss_optim_set_max_grad_norm (opt, 0.5f);

  Ref r0, r1;
  ref_init (&r0, w0, n0);
  ref_init (&r1, w1, n1);
  for (int step = 0; step < 5; step++)
    {
      /* gradients of varying size; with clipping the norm is ~ 2-6 */
      double gs = clip ? 1.0 : 0.3 * (step + 1);
      g_autofree float *c0 = random_floats (rng, n0, gs);
      g_autofree float *c1 = random_floats (rng, n1, gs);
      make_grad (p0, c0);
      make_grad (p1, c1);
      g_assert_true (ss_optim_step (opt, &error));
      g_assert_no_error (error);
      ss_optim_zero_grad (opt);
      g_assert_null (p0->grad);

      g_autofree double *g0 = g_new (double, n0);
      g_autofree double *g1 = g_new (double, n1);
      double sq = 0;
      for (gint64 i = 0; i < n0; i++)
        sq += (g0[i] = c0[i]) * c0[i];
      for (gint64 i = 0; i < n1; i++)
        sq += (g1[i] = c1[i]) * c1[i];
      double norm = sqrt (sq), scale = 1.0;
      if (clip)
        {
          scale = MIN (1.0, 0.5 / (norm + 1e-6));
          float got_norm = 0;
          g_assert_true (ss_optim_get_grad_norm (opt, &got_norm, &error));
          g_assert_cmpfloat (fabs (got_norm - norm), <, 1e-5 * norm);
          g_assert_cmpfloat (scale, <, 0.5); /* clipping really happened */
        }
      else
        g_assert_false (ss_optim_get_grad_norm (opt, &(float){ 0 }, NULL));
      ref_adamw (&r0, g0, scale, &h0);
      ref_adamw (&r1, g1, scale, &h1);

      g_autofree float *got0 = ss_tensor_to_floats_dup (p0, &error);
      g_autofree float *got1 = ss_tensor_to_floats_dup (p1, &error);
      double e0 = max_rel (got0, r0.w, n0, 1e-3), e1 = max_rel (got1, r1.w, n1, 1e-3);
      if (g_test_verbose ())
        g_printerr ("  step %d: rel err %.2g %.2g\n", step + 1, e0, e1);
      g_assert_cmpfloat (e0, <, 2e-6);
      g_assert_cmpfloat (e1, <, 2e-6);
      /* the update moved the weights noticeably (the test can fail) */
      if (step == 0)
        g_assert_cmpfloat (fabs (got0[0] - w0[0]), >, 1e-4);
    }
  g_assert_cmpint (ss_optim_get_step (opt), ==, 5);
  ref_clear (&r0);
  ref_clear (&r1);
}

static void
test_adamw (void)
{
  run_adamw (FALSE);
}

static void
test_adamw_clip (void)
{
  run_adamw (TRUE);
}

/* f16/bf16 parameters: updated through an fp32 master copy, stored rounded. */
static void
test_adamw_half (void)
{
  if (!have_gpu ())
    return;
  const SsDType dts[2] = { SS_DTYPE_F16, SS_DTYPE_BF16 };
  for (int d = 0; d < 2; d++)
    {
      g_autoptr (GError) error = NULL;
      g_autoptr (GRand) rng = g_rand_new_with_seed (11 + d);
      gint64 n = 300;
      g_autofree float *w = random_floats (rng, n, 1.0);
      g_autoptr (SsTensor) p = ss_tensor_new_from_floats (dts[d], 1, SS_SHAPE (n), w, &error);
      g_autoptr (SsTensor) p32 = ss_tensor_to_dtype (p, SS_DTYPE_F32, &error);
      g_autofree float *wq = ss_tensor_to_floats_dup (p32, &error); /* the rounded start */
      ss_tensor_set_requires_grad (p, TRUE);
      g_autoptr (SsOptim) opt = ss_optim_new (SS_OPTIM_ADAMW);
      SsOptimHyper h = ss_optim_hyper_adamw_default ();
      h.lr = 3e-4f; /* updates below half a bf16 ulp: only a master copy keeps them */
      ss_optim_add_group (opt, 1, &p, &h);
      Ref r;
      ref_init (&r, wq, n);
      g_autofree float *sign = random_floats (rng, n, 1.0);
      for (int step = 0; step < 20; step++)
        {
          /* consistent signs so the weights travel ~20 lr */
          g_autofree float *c = random_floats (rng, n, 0.5);
          for (gint64 i = 0; i < n; i++)
            c[i] = (sign[i] < 0 ? -1.0f : 1.0f) * (1.0f + c[i]);
          /* c as the gradient: quantized to the dtype like the GPU's */
          g_autoptr (SsTensor) cq = ss_tensor_new_from_floats (dts[d], 1, SS_SHAPE (n), c, &error);
          g_autofree float *cqf = ss_tensor_to_floats_dup (cq, &error);
          make_grad (p, c);
          g_assert_true (ss_optim_step (opt, &error));
          ss_optim_zero_grad (opt);
          g_autofree double *g = g_new (double, n);
          for (gint64 i = 0; i < n; i++)
            g[i] = cqf[i];
          ref_adamw (&r, g, 1.0, &h);
        }
      g_autofree float *got = ss_tensor_to_floats_dup (p, &error);
      /* within one rounding of the dtype of the exact trajectory */
      double ulp = d == 0 ? 1.0 / 1024 : 1.0 / 128;
      double moved = 0;
      for (gint64 i = 0; i < n; i++)
        {
          g_assert_cmpfloat (fabs (got[i] - r.w[i]), <=, ulp * fabs (r.w[i]) + 1e-6);
          moved = MAX (moved, fabs (r.w[i] - wq[i]));
        }
      /* 20 steps of 3e-4 moved the weights by ~6e-3: visible in bf16 only
       * because the master copy accumulated them */
      g_assert_cmpfloat (moved, >, 4e-3);
      int changed = 0;
      for (gint64 i = 0; i < n; i++)
        changed += got[i] != wq[i];
      g_assert_cmpint (changed, >, n / 2);
      ref_clear (&r);
    }
}

static void
test_sgd (void)
{
  if (!have_gpu ())
    return;
  g_autoptr (GError) error = NULL;
  g_autoptr (GRand) rng = g_rand_new_with_seed (5);
  const SsOptimHyper hs[3] = {
    { .lr = 0.1f },
    { .lr = 0.05f, .momentum = 0.9f, .dampening = 0.1f, .weight_decay = 0.01f },
    { .lr = 0.05f, .momentum = 0.8f, .nesterov = TRUE, .weight_decay = 0.02f },
  };
  gint64 n = 50;
  SsTensor *ps[3];
  Ref refs[3];
  g_autoptr (SsOptim) opt = ss_optim_new (SS_OPTIM_SGD);
  for (int k = 0; k < 3; k++)
    {
      g_autofree float *w = random_floats (rng, n, 1.0);
      ps[k] = ss_tensor_new_from_floats (SS_DTYPE_F32, 1, SS_SHAPE (n), w, &error);
      ss_tensor_set_requires_grad (ps[k], TRUE);
      ss_optim_add_group (opt, 1, &ps[k], &hs[k]);
      ref_init (&refs[k], w, n);
    }
  for (int step = 0; step < 4; step++)
    {
      double *gd[3];
      for (int k = 0; k < 3; k++)
        {
          g_autofree float *c = random_floats (rng, n, 1.0);
          make_grad (ps[k], c);
          gd[k] = g_new (double, n);
          for (gint64 i = 0; i < n; i++)
            gd[k][i] = c[i];
        }
      g_assert_true (ss_optim_step (opt, &error));
      ss_optim_zero_grad (opt);
      for (int k = 0; k < 3; k++)
        {
          ref_sgd (&refs[k], gd[k], &hs[k]);
          g_autofree float *got = ss_tensor_to_floats_dup (ps[k], &error);
          double e = max_rel (got, refs[k].w, n, 0.1);
          if (g_test_verbose ())
            g_printerr ("  sgd group %d step %d: err %.2g\n", k, step + 1, e);
          g_assert_cmpfloat (e, <, 2e-6);
          g_free (gd[k]);
        }
    }
  for (int k = 0; k < 3; k++)
    {
      ss_tensor_unref (ps[k]);
      ref_clear (&refs[k]);
    }
}

/* A parameter without a gradient is left exactly as it was. */
static void
test_no_grad_untouched (void)
{
  if (!have_gpu ())
    return;
  g_autoptr (GError) error = NULL;
  g_autoptr (GRand) rng = g_rand_new_with_seed (9);
  g_autofree float *w = random_floats (rng, 64, 1.0);
  g_autoptr (SsTensor) a = ss_tensor_new_from_floats (SS_DTYPE_F32, 1, SS_SHAPE (64), w, &error);
  g_autoptr (SsTensor) b = ss_tensor_new_from_floats (SS_DTYPE_F32, 1, SS_SHAPE (64), w, &error);
  ss_tensor_set_requires_grad (a, TRUE);
  ss_tensor_set_requires_grad (b, TRUE);
  g_autoptr (SsOptim) opt = ss_optim_new (SS_OPTIM_ADAMW);
  SsTensor *both[2] = { a, b };
  ss_optim_add_group (opt, 2, both, NULL);
  ss_optim_set_max_grad_norm (opt, 1.0f);
  g_autofree float *c = random_floats (rng, 64, 1.0);
  make_grad (a, c);
  g_assert_true (ss_optim_step (opt, &error));
  g_autofree float *ga = ss_tensor_to_floats_dup (a, &error);
  g_autofree float *gb = ss_tensor_to_floats_dup (b, &error);
  g_assert_cmpmem (gb, 64 * sizeof (float), w, 64 * sizeof (float));
  g_assert_true (memcmp (ga, w, 64 * sizeof (float)) != 0);
  /* Nothing to do: no step counted. */
  ss_optim_zero_grad (opt);
  g_assert_true (ss_optim_step (opt, &error));
  g_assert_cmpint (ss_optim_get_step (opt), ==, 1);
}

/* Saving and loading the state resumes training exactly. */
static void
test_state_resume (void)
{
  if (!have_gpu ())
    return;
  g_autoptr (GError) error = NULL;
  g_autoptr (GRand) rng = g_rand_new_with_seed (21);
  gint64 n = 40;
  g_autofree float *w = random_floats (rng, n, 1.0);
  float *grads[5];
  for (int k = 0; k < 5; k++)
    grads[k] = random_floats (rng, n, 1.0);
  const SsDType dts[2] = { SS_DTYPE_F32, SS_DTYPE_BF16 };
  g_autofree char *dir = g_dir_make_tmp ("ss-optim-XXXXXX", &error);
  g_autofree char *path = g_build_filename (dir, "optim.safetensors", NULL);

  /* a: 5 steps straight; b: 3 steps, save, new optimizer + load, 2 steps;
   * c: like b without loading (must differ, or the test could not fail) */
  g_autoptr (SsTensor) a = ss_tensor_new_from_floats (SS_DTYPE_F32, 2, SS_SHAPE (5, 8), w, &error);
  g_autoptr (SsTensor) b16 = ss_tensor_new_from_floats (dts[1], 1, SS_SHAPE (n), w, &error);
  g_autoptr (SsTensor) b = ss_tensor_new_from_floats (SS_DTYPE_F32, 2, SS_SHAPE (5, 8), w, &error);
  g_autoptr (SsTensor) c = ss_tensor_new_from_floats (SS_DTYPE_F32, 2, SS_SHAPE (5, 8), w, &error);
  g_autoptr (SsTensor) a16 = ss_tensor_new_from_floats (dts[1], 1, SS_SHAPE (n), w, &error);
  SsTensor *all[5] = { a, b, c, a16, b16 };
  for (int i = 0; i < 5; i++)
    ss_tensor_set_requires_grad (all[i], TRUE);
  SsOptimHyper h = ss_optim_hyper_adamw_default ();
  h.lr = 0.05f;
  g_autoptr (SsOptim) oa = ss_optim_new (SS_OPTIM_ADAMW);
  ss_optim_add_group (oa, 2, (SsTensor *[]){ a, a16 }, &h);
  SsOptim *ob = ss_optim_new (SS_OPTIM_ADAMW);
  ss_optim_add_group (ob, 2, (SsTensor *[]){ b, b16 }, &h);
  g_autoptr (SsOptim) oc = ss_optim_new (SS_OPTIM_ADAMW);
  ss_optim_add_group (oc, 1, &c, &h);
  for (int k = 0; k < 5; k++)
    {
      if (k == 3)
        {
          g_assert_true (ss_optim_save_state (ob, path, &error));
          g_assert_no_error (error);
          ss_optim_free (ob);
          ob = ss_optim_new (SS_OPTIM_ADAMW);
          ss_optim_add_group (ob, 2, (SsTensor *[]){ b, b16 }, &h);
          g_assert_true (ss_optim_load_state (ob, path, &error));
          g_assert_no_error (error);
          g_assert_cmpint (ss_optim_get_step (ob), ==, 3);
          g_clear_pointer (&oc, ss_optim_free);
          oc = ss_optim_new (SS_OPTIM_ADAMW);
          ss_optim_add_group (oc, 1, &c, &h);
        }
      make_grad (a, grads[k]);
      make_grad (a16, grads[k]);
      make_grad (b, grads[k]);
      make_grad (b16, grads[k]);
      make_grad (c, grads[k]);
      g_assert_true (ss_optim_step (oa, &error));
      g_assert_true (ss_optim_step (ob, &error));
      g_assert_true (ss_optim_step (oc, &error));
      ss_optim_zero_grad (oa);
      ss_optim_zero_grad (ob);
      ss_optim_zero_grad (oc);
    }
  g_autofree float *fa = ss_tensor_to_floats_dup (a, &error);
  g_autofree float *fb = ss_tensor_to_floats_dup (b, &error);
  g_autofree float *fc = ss_tensor_to_floats_dup (c, &error);
  g_autofree float *fa16 = ss_tensor_to_floats_dup (a16, &error);
  g_autofree float *fb16 = ss_tensor_to_floats_dup (b16, &error);
  g_assert_cmpmem (fa, n * 4, fb, n * 4);
  g_assert_cmpmem (fa16, n * 4, fb16, n * 4);
  g_assert_true (memcmp (fa, fc, n * 4) != 0);

  /* Wrong optimizer kind or parameter count: refused, state unchanged. */
  g_autoptr (SsOptim) sgd = ss_optim_new (SS_OPTIM_SGD);
  ss_optim_add_group (sgd, 2, (SsTensor *[]){ b, b16 }, NULL);
  g_assert_false (ss_optim_load_state (sgd, path, &error));
  g_assert_error (error, SS_ERROR, SS_ERROR_INVALID_DATA);
  g_clear_error (&error);
  g_autoptr (SsOptim) one = ss_optim_new (SS_OPTIM_ADAMW);
  ss_optim_add_group (one, 1, &b, NULL);
  g_assert_false (ss_optim_load_state (one, path, &error));
  g_assert_error (error, SS_ERROR, SS_ERROR_INVALID_DATA);
  g_assert_nonnull (strstr (error->message, "optim.safetensors"));
  g_clear_error (&error);
  g_assert_cmpint (ss_optim_get_step (one), ==, 0);

  ss_optim_free (ob);
  for (int k = 0; k < 5; k++)
    g_free (grads[k]);
  g_unlink (path);
  g_rmdir (dir);
}

static void
test_lr_schedule (void)
{
  /* warmup 10, cosine to 1e-5 at 110 */
  g_assert_cmpfloat (fabsf (ss_optim_lr_warmup_cosine (0, 10, 110, 1e-3f, 1e-5f) - 1e-4f), <, 1e-9f);
  g_assert_cmpfloat (fabsf (ss_optim_lr_warmup_cosine (9, 10, 110, 1e-3f, 1e-5f) - 1e-3f), <, 1e-9f);
  g_assert_cmpfloat (fabsf (ss_optim_lr_warmup_cosine (10, 10, 110, 1e-3f, 1e-5f) - 1e-3f), <, 1e-9f);
  g_assert_cmpfloat (fabsf (ss_optim_lr_warmup_cosine (60, 10, 110, 1e-3f, 1e-5f) - 5.05e-4f), <, 1e-8f);
  g_assert_cmpfloat (ss_optim_lr_warmup_cosine (110, 10, 110, 1e-3f, 1e-5f), ==, 1e-5f);
  g_assert_cmpfloat (ss_optim_lr_warmup_cosine (500, 10, 110, 1e-3f, 1e-5f), ==, 1e-5f);
  /* monotone decay after warmup */
  for (int s = 10; s < 110; s++)
    g_assert_cmpfloat (ss_optim_lr_warmup_cosine (s + 1, 10, 110, 1e-3f, 1e-5f), <=,
                       ss_optim_lr_warmup_cosine (s, 10, 110, 1e-3f, 1e-5f));
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/optim/adamw", test_adamw);
  g_test_add_func ("/optim/adamw-clip", test_adamw_clip);
  g_test_add_func ("/optim/adamw-half", test_adamw_half);
  g_test_add_func ("/optim/sgd", test_sgd);
  g_test_add_func ("/optim/no-grad-untouched", test_no_grad_untouched);
  g_test_add_func ("/optim/lr-schedule", test_lr_schedule);
  g_test_add_func ("/optim/state-resume", test_state_resume);
  return g_test_run ();
}
