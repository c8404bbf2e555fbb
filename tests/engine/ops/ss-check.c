/* ss-check.c: helpers for the engine op tests. */
#define G_LOG_DOMAIN "ss-check"

#include "ss-check.h"

#include <math.h>
#include <string.h>

void
ss_check_fill_uniform (SsRng *rng, double *x, size_t n, double lo, double hi)
{
  for (size_t i = 0; i < n; i++)
    x[i] = ss_rng_range (rng, lo, hi);
}

void
ss_check_fill_normal (SsRng *rng, double *x, size_t n, double mean, double std)
{
  for (size_t i = 0; i < n; i++)
    x[i] = mean + std * ss_rng_normal (rng);
}

void
ss_check_fill_away (SsRng *rng, double *x, size_t n, double lo, double hi)
{
  for (size_t i = 0; i < n; i++)
    {
      double v = ss_rng_range (rng, lo, hi);
      x[i] = (ss_rng_next (rng) & 1) ? v : -v;
    }
}

guint64
ss_check_seed (guint64 fallback)
{
  const char *env = g_getenv ("SS_TEST_SEED");
  guint64 seed = env ? g_ascii_strtoull (env, NULL, 0) : fallback;
  if (g_test_initialized ())
    g_test_message ("seed %" G_GUINT64_FORMAT " (set SS_TEST_SEED to replay)", seed);
  return seed;
}

/* ---------------------------------------------------------------- dtypes */

const char *
ss_check_dtype_name (SsCheckDtype dt)
{
  switch (dt)
    {
    case SS_CHECK_F32: return "f32";
    case SS_CHECK_F16: return "f16";
    case SS_CHECK_BF16: return "bf16";
    default: return "?";
    }
}

size_t
ss_check_dtype_size (SsCheckDtype dt)
{
  return dt == SS_CHECK_F32 ? 4 : 2;
}

static inline guint32
f2u (float f)
{
  guint32 u;
  memcpy (&u, &f, 4);
  return u;
}

static inline float
u2f (guint32 u)
{
  float f;
  memcpy (&f, &u, 4);
  return f;
}

guint16
ss_check_f32_to_f16 (float f)
{
  guint32 x = f2u (f);
  guint32 sign = (x >> 16) & 0x8000;
  guint32 absx = x & 0x7fffffff;
  if (absx >= 0x7f800000)                    /* inf or nan */
    return sign | 0x7c00 | (absx > 0x7f800000 ? 0x200 : 0);
  if (absx >= 0x477ff000)                    /* rounds to >= 65520: inf */
    return sign | 0x7c00;
  if (absx < 0x38800000)                     /* subnormal half (or zero) */
    {
      /* value * 2^24 rounded to nearest even */
      float v = u2f (absx) * 16777216.0f;
      float r = nearbyintf (v);
      return sign | (guint16) r;
    }
  guint32 mant = absx & 0x7fffff;
  guint32 exp = (absx >> 23) - 127 + 15;
  guint32 h = (exp << 10) | (mant >> 13);
  guint32 rem = mant & 0x1fff;
  if (rem > 0x1000 || (rem == 0x1000 && (h & 1)))
    h++;
  return sign | h;
}

float
ss_check_f16_to_f32 (guint16 h)
{
  guint32 sign = (guint32) (h & 0x8000) << 16;
  guint32 exp = (h >> 10) & 0x1f, mant = h & 0x3ff;
  if (exp == 0)
    {
      float v = mant / 16777216.0f;
      return (h & 0x8000) ? -v : v;
    }
  if (exp == 31)
    return u2f (sign | 0x7f800000 | (mant << 13));
  return u2f (sign | ((exp - 15 + 127) << 23) | (mant << 13));
}

guint16
ss_check_f32_to_bf16 (float f)
{
  guint32 x = f2u (f);
  if ((x & 0x7fffffff) > 0x7f800000)
    return (guint16) ((x >> 16) | 0x40);
  guint32 lsb = (x >> 16) & 1;
  x += 0x7fff + lsb;
  return (guint16) (x >> 16);
}

float
ss_check_bf16_to_f32 (guint16 h)
{
  return u2f ((guint32) h << 16);
}

void
ss_check_quantize (SsCheckDtype dt, double *x, size_t n)
{
  for (size_t i = 0; i < n; i++)
    {
      float f = (float) x[i];
      switch (dt)
        {
        case SS_CHECK_F32: x[i] = f; break;
        case SS_CHECK_F16: x[i] = ss_check_f16_to_f32 (ss_check_f32_to_f16 (f)); break;
        case SS_CHECK_BF16: x[i] = ss_check_bf16_to_f32 (ss_check_f32_to_bf16 (f)); break;
        }
    }
}

void *
ss_check_pack (SsCheckDtype dt, const double *x, size_t n)
{
  void *buf = g_malloc (MAX (n, 1) * ss_check_dtype_size (dt));
  for (size_t i = 0; i < n; i++)
    {
      float f = (float) x[i];
      switch (dt)
        {
        case SS_CHECK_F32: ((float *) buf)[i] = f; break;
        case SS_CHECK_F16: ((guint16 *) buf)[i] = ss_check_f32_to_f16 (f); break;
        case SS_CHECK_BF16: ((guint16 *) buf)[i] = ss_check_f32_to_bf16 (f); break;
        }
    }
  return buf;
}

void
ss_check_unpack (SsCheckDtype dt, const void *buf, double *x, size_t n)
{
  for (size_t i = 0; i < n; i++)
    switch (dt)
      {
      case SS_CHECK_F32: x[i] = ((const float *) buf)[i]; break;
      case SS_CHECK_F16: x[i] = ss_check_f16_to_f32 (((const guint16 *) buf)[i]); break;
      case SS_CHECK_BF16: x[i] = ss_check_bf16_to_f32 (((const guint16 *) buf)[i]); break;
      }
}

void
ss_check_poison (SsCheckDtype dt, void *buf, size_t n)
{
  for (size_t i = 0; i < n; i++)
    switch (dt)
      {
      case SS_CHECK_F32: ((guint32 *) buf)[i] = 0x7fc0dead; break;
      case SS_CHECK_F16: ((guint16 *) buf)[i] = 0x7e5d; break;
      case SS_CHECK_BF16: ((guint16 *) buf)[i] = 0x7fd5; break;
      }
}

/* ---------------------------------------------------------------- compare */

double
ss_check_nmse (const double *ref, const double *got, size_t n)
{
  double num = 0, den = 0;
  for (size_t i = 0; i < n; i++)
    {
      if (!isfinite (got[i]) || !isfinite (ref[i]))
        return INFINITY;
      double d = got[i] - ref[i];
      num += d * d;
      den += ref[i] * ref[i];
    }
  if (n == 0)
    return 0;
  /* an all-zero reference: compare absolute mean squared error */
  if (den < 1e-30 * n)
    return num / n;
  return num / den;
}

double
ss_check_threshold (SsCheckDtype dt)
{
  switch (dt)
    {
    case SS_CHECK_F32: return 1e-9;   /* eps 6e-8; squared, with accumulation headroom */
    case SS_CHECK_F16: return 3e-6;   /* eps 4.9e-4 -> 2.4e-7 per element */
    case SS_CHECK_BF16: return 2e-4;  /* eps 3.9e-3 -> 1.5e-5 per element */
    default: return 0;
    }
}

gboolean
ss_check_close (const char *name, const double *ref, const double *got,
                size_t n, double threshold)
{
  double nmse = ss_check_nmse (ref, got, n);
  gboolean ok = nmse <= threshold;      /* false for NaN and +inf */
  size_t worst = 0, first_bad = (size_t) -1;
  double worst_err = -1;
  for (size_t i = 0; i < n; i++)
    {
      if (!isfinite (got[i]))
        {
          if (first_bad == (size_t) -1)
            first_bad = i;
          continue;
        }
      double e = fabs (got[i] - ref[i]);
      if (e > worst_err)
        {
          worst_err = e;
          worst = i;
        }
    }
  if (!ok || g_test_verbose ())
    {
      char msg[512];
      int len = g_snprintf (msg, sizeof msg, "%s: n=%zu nmse=%.3g (threshold %.3g) %s",
                            name, n, nmse, threshold, ok ? "ok" : "FAILED");
      if (worst_err >= 0 && len < (int) sizeof msg)
        len += g_snprintf (msg + len, sizeof msg - len, "; worst [%zu] got %.9g want %.9g",
                           worst, got[worst], ref[worst]);
      if (first_bad != (size_t) -1 && len < (int) sizeof msg)
        g_snprintf (msg + len, sizeof msg - len, "; first non-finite [%zu] = %g (of %zu)",
                    first_bad, got[first_bad], n);
      if (g_test_initialized ())
        g_test_message ("%s", msg);
      else
        g_printerr ("%s\n", msg);
    }
  return ok;
}

/* ---------------------------------------------------------------- gradients */

double
ss_check_dot (const double *w, const double *y, size_t n)
{
  double s = 0;
  for (size_t i = 0; i < n; i++)
    s += w[i] * y[i];
  return s;
}

gboolean
ss_check_grad_fd (const char *name, SsCheckScalarFn f, void *user_data,
                  double *x, size_t n, const double *grad,
                  double eps, size_t max_checks, SsRng *rng, double tol)
{
  size_t count = MIN (n, max_checks);
  g_autofree double *fd = g_new (double, MAX (count, 1));
  g_autofree double *an = g_new (double, MAX (count, 1));
  for (size_t c = 0; c < count; c++)
    {
      size_t i = n <= max_checks ? c : (size_t) (ss_rng_next (rng) % n);
      double saved = x[i];
      x[i] = saved + eps;
      double fp = f (user_data);
      x[i] = saved - eps;
      double fm = f (user_data);
      x[i] = saved;
      fd[c] = (fp - fm) / (2 * eps);
      an[c] = grad[i];
    }
  g_autofree char *label = g_strdup_printf ("%s (finite differences, %zu of %zu)", name, count, n);
  return ss_check_close (label, fd, an, count, tol);
}

void
ss_check_f32_to_f64 (const float *src, double *dst, size_t n)
{
  for (size_t i = 0; i < n; i++)
    dst[i] = src[i];
}

void
ss_check_f64_to_f32 (const double *src, float *dst, size_t n)
{
  for (size_t i = 0; i < n; i++)
    dst[i] = (float) src[i];
}
