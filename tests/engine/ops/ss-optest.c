/* ss-optest.c: GPU op test runner (see ss-optest.h). */
#define G_LOG_DOMAIN "ss-optest"

#include "config.h"
#include "ss-optest.h"

#include <math.h>
#include <string.h>

SsCheckDtype
ss_optest_check_dtype (SsDType dt)
{
  return dt == SS_DTYPE_F16 ? SS_CHECK_F16 : dt == SS_DTYPE_BF16 ? SS_CHECK_BF16 : SS_CHECK_F32;
}

size_t
ss_optest_numel (const SsOpTest *t, int i)
{
  size_t n = 1;
  for (int d = 0; d < t->ndim[i]; d++)
    n *= t->shape[i][d];
  return n;
}

void
ss_optest_prepare (SsOpTest *t, size_t ny, SsRng *rng)
{
  SsCheckDtype cd = ss_optest_check_dtype (t->dtype);
  for (int i = 0; i < t->n_in; i++)
    {
      ss_check_quantize (cd, t->x[i], ss_optest_numel (t, i));
      t->ref_dx[i] = g_new0 (double, MAX (ss_optest_numel (t, i), 1));
    }
  t->ny = ny;
  t->ref_y = g_new0 (double, MAX (ny, 1));
  t->w = g_new (double, MAX (ny, 1));
  ss_check_fill_uniform (rng, t->w, ny, -1, 1);
  ss_check_quantize (cd, t->w, ny);
}

void
ss_optest_clear (SsOpTest *t)
{
  for (int i = 0; i < t->n_in; i++)
    {
      g_clear_pointer (&t->x[i], g_free);
      g_clear_pointer (&t->ref_dx[i], g_free);
    }
  g_clear_pointer (&t->ref_y, g_free);
  g_clear_pointer (&t->w, g_free);
}

SsTensor *
ss_optest_upload (SsDType dt, int ndim, const gint64 *shape, const double *x, gboolean requires_grad)
{
  g_autoptr (GError) error = NULL;
  size_t n = 1;
  for (int d = 0; d < ndim; d++)
    n *= shape[d];
  g_autofree float *f = g_new (float, MAX (n, 1));
  ss_check_f64_to_f32 (x, f, n);
  SsTensor *t = ss_tensor_new_from_floats (dt, ndim, shape, f, &error);
  g_assert_no_error (error);
  ss_tensor_set_requires_grad (t, requires_grad);
  return t;
}

double *
ss_optest_download (SsTensor *t)
{
  g_autoptr (GError) error = NULL;
  size_t n = ss_tensor_numel (t);
  g_autofree float *f = g_new (float, MAX (n, 1));
  gboolean ok = ss_tensor_to_floats (t, f, &error);
  g_assert_no_error (error);
  g_assert_true (ok);
  double *d = g_new (double, MAX (n, 1));
  ss_check_f32_to_f64 (f, d, n);
  return d;
}

/* forward under no-grad with host inputs x; returns sum(w * y) */
static double
fd_loss (SsOpTest *t)
{
  g_autoptr (GError) error = NULL;
  g_auto (SsNoGradGuard) guard G_GNUC_UNUSED = ss_autograd_no_grad ();
  SsTensor *in[SS_OPTEST_MAX_IN] = { 0 };
  for (int i = 0; i < t->n_in; i++)
    in[i] = ss_optest_upload (t->dtype, t->ndim[i], t->shape[i], t->x[i], FALSE);
  g_autoptr (SsTensor) y = t->fwd (t->ctx, in, &error);
  g_assert_no_error (error);
  g_autofree double *yd = ss_optest_download (y);
  for (int i = 0; i < t->n_in; i++)
    ss_tensor_unref (in[i]);
  return ss_check_dot (t->w, yd, t->ny);
}

typedef struct {
  SsOpTest *t;
} FdCtx;

static double
fd_fn (void *ud)
{
  return fd_loss (((FdCtx *) ud)->t);
}

void
ss_optest_run (SsOpTest *t, SsRng *rng)
{
  g_autoptr (GError) error = NULL;
  SsCheckDtype cd = ss_optest_check_dtype (t->dtype);
  double thr = ss_check_threshold (cd);
  double tol_y = t->tol_y > 0 ? t->tol_y : 1.0, tol_dx = t->tol_dx > 0 ? t->tol_dx : 1.0;
  SsTensor *in[SS_OPTEST_MAX_IN] = { 0 };
  gboolean any_grad = FALSE;
  for (int i = 0; i < t->n_in; i++)
    {
      in[i] = ss_optest_upload (t->dtype, t->ndim[i], t->shape[i], t->x[i], t->grad[i]);
      any_grad |= t->grad[i];
    }
  g_autoptr (SsTensor) y = t->fwd (t->ctx, in, &error);
  g_assert_no_error (error);
  g_assert_nonnull (y);
  g_assert_cmpint (y->dtype, ==, t->dtype);
  g_assert_cmpuint (ss_tensor_numel (y), ==, t->ny);

  g_autofree char *yname = g_strdup_printf ("%s [%s] forward", t->name, ss_dtype_name (t->dtype));
  g_autofree double *yd = ss_optest_download (y);
  ss_assert_close (yname, t->ref_y, yd, t->ny, thr * tol_y);

  if (any_grad)
    {
      g_assert_true (y->requires_grad);
      g_autoptr (SsTensor) w = ss_optest_upload (t->dtype, y->ndim, y->shape, t->w, FALSE);
      gboolean ok = ss_tensor_backward (y, w, &error);
      g_assert_no_error (error);
      g_assert_true (ok);
      for (int i = 0; i < t->n_in; i++)
        {
          if (!t->grad[i])
            continue;
          g_autofree char *gname = g_strdup_printf ("%s [%s] grad of input %d", t->name,
                                                    ss_dtype_name (t->dtype), i);
          if (!in[i]->grad)
            {
              g_test_message ("%s: no gradient", gname);
              g_test_fail ();
              continue;
            }
          g_assert_true (ss_tensor_same_shape (in[i]->grad, in[i]));
          g_autofree double *gd = ss_optest_download (in[i]->grad);
          ss_assert_close (gname, t->ref_dx[i], gd, ss_optest_numel (t, i), thr * tol_dx);

          if (t->fd_checks > 0 && t->dtype == SS_DTYPE_F32)
            {
              FdCtx fc = { t };
              g_autofree char *fname = g_strdup_printf ("%s input %d", t->name, i);
              if (!ss_check_grad_fd (fname, fd_fn, &fc, t->x[i], ss_optest_numel (t, i), gd,
                                     t->fd_eps > 0 ? t->fd_eps : 1e-2, t->fd_checks, rng,
                                     t->fd_tol > 0 ? t->fd_tol : 1e-3))
                {
                  g_test_message ("%s: GPU gradient differs from finite differences of the GPU forward",
                                  fname);
                  g_test_fail ();
                }
            }
        }
    }
  for (int i = 0; i < t->n_in; i++)
    ss_tensor_unref (in[i]);
}
