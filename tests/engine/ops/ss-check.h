/* ss-check.h: test helpers for the engine op tests: deterministic random data,
 * normalized-MSE comparison with per-dtype thresholds (NaN/Inf never pass),
 * output poisoning, fp16/bf16 conversion and finite-difference gradient checks. */
#pragma once

#include <glib.h>
#include <stddef.h>
#include "ss-rng.h"

G_BEGIN_DECLS

/* Random numbers: the project's PRNG (core/ss-rng.h). */

void    ss_check_fill_uniform (SsRng *rng, double *x, size_t n, double lo, double hi);
void    ss_check_fill_normal  (SsRng *rng, double *x, size_t n, double mean, double std);
/* uniform in [lo, hi] with the sign flipped at random: |x| >= lo (away from kinks) */
void    ss_check_fill_away    (SsRng *rng, double *x, size_t n, double lo, double hi);

/* Seed for a test: SS_TEST_SEED from the environment when set, else `fallback`.
 * The seed is printed with g_test_message so a failure can be replayed. */
guint64 ss_check_seed (guint64 fallback);

/* ---- storage types ---- */
typedef enum {
  SS_CHECK_F32,
  SS_CHECK_F16,
  SS_CHECK_BF16,
} SsCheckDtype;

const char *ss_check_dtype_name (SsCheckDtype dt);
size_t      ss_check_dtype_size (SsCheckDtype dt);

guint16 ss_check_f32_to_f16  (float f);   /* round to nearest even, inf/nan kept */
float   ss_check_f16_to_f32  (guint16 h);
guint16 ss_check_f32_to_bf16 (float f);   /* round to nearest even */
float   ss_check_bf16_to_f32 (guint16 h);

/* Round doubles to the values the dtype can hold (so references see the same
 * inputs as the GPU). */
void    ss_check_quantize (SsCheckDtype dt, double *x, size_t n);

/* Pack doubles into dtype storage (returns a g_malloc'd buffer of n * size)
 * and unpack dtype storage back to doubles. */
void   *ss_check_pack   (SsCheckDtype dt, const double *x, size_t n);
void    ss_check_unpack (SsCheckDtype dt, const void *buf, double *x, size_t n);

/* Fill a buffer of n elements with a quiet-NaN pattern, so elements an op
 * forgets to write fail the comparison. */
void    ss_check_poison (SsCheckDtype dt, void *buf, size_t n);

/* ---- comparison ---- */

/* sum((got - ref)^2) / sum(ref^2); when the reference is all (near) zero, the
 * plain mean squared error. +INFINITY when any value of got is NaN or Inf
 * (or the reference is not finite). */
double  ss_check_nmse (const double *ref, const double *got, size_t n);

/* Default normalized-MSE threshold for results stored in dt (fp32 accumulation). */
double  ss_check_threshold (SsCheckDtype dt);

/* Compares, prints a diagnostic (name, nmse, threshold, worst element, first
 * non-finite element) with g_test_message, and returns TRUE when nmse <= threshold. */
gboolean ss_check_close (const char *name, const double *ref, const double *got,
                         size_t n, double threshold);

/* Convenience for tests: g_test_fail () (and a message) when not close. */
#define ss_assert_close(name, ref, got, n, thr) \
  G_STMT_START { \
    if (!ss_check_close ((name), (ref), (got), (n), (thr))) \
      { \
        g_test_message ("%s:%d: %s differs from the reference", __FILE__, __LINE__, (name)); \
        g_test_fail (); \
      } \
  } G_STMT_END

/* ---- gradients ---- */

/* sum_i w[i] * y[i]: the scalar loss used to test backward passes (dL/dy = w). */
double  ss_check_dot (const double *w, const double *y, size_t n);

/* Scalar function of the (modified in place) inputs. */
typedef double (*SsCheckScalarFn) (void *user_data);

/* Central finite differences of f with respect to x[i] for up to max_checks
 * indices (all when n <= max_checks, else a random subset from rng), compared
 * with grad[i] by normalized MSE over the checked indices; x is restored.
 * Returns TRUE when nmse <= tol. */
gboolean ss_check_grad_fd (const char *name, SsCheckScalarFn f, void *user_data,
                           double *x, size_t n, const double *grad,
                           double eps, size_t max_checks, SsRng *rng, double tol);

/* float <-> double copies */
void    ss_check_f32_to_f64 (const float *src, double *dst, size_t n);
void    ss_check_f64_to_f32 (const double *src, float *dst, size_t n);

G_END_DECLS
