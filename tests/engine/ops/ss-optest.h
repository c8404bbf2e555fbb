/* ss-optest.h: a runner for GPU op tests: uploads inputs, runs the op,
 * compares the output and the input gradients (upstream gradient = random
 * weights w, i.e. loss = sum(w * y)) with double-precision references, and
 * checks gradients against central finite differences of the GPU forward. */
#pragma once

#include "ss-check.h"
#include "ss-ref.h"
#include "tensor/ss-ops.h"

G_BEGIN_DECLS

#define SS_OPTEST_MAX_IN 4

typedef SsTensor *(*SsOpTestFwd) (void *ctx, SsTensor *const *in, GError **error);

typedef struct {
  const char  *name;
  SsDType      dtype;
  int          n_in;
  int          ndim[SS_OPTEST_MAX_IN];
  gint64       shape[SS_OPTEST_MAX_IN][5];
  double      *x[SS_OPTEST_MAX_IN];       /* host inputs (quantized by ss_optest_prepare) */
  gboolean     grad[SS_OPTEST_MAX_IN];    /* input is differentiable and checked */
  SsOpTestFwd  fwd;
  void        *ctx;
  /* filled by the caller after ss_optest_prepare */
  double      *ref_y;                     /* reference output */
  size_t       ny;
  double      *w;                         /* upstream gradient (ss_optest_prepare allocates) */
  double      *ref_dx[SS_OPTEST_MAX_IN];  /* reference gradients (zeroed by prepare) */
  /* tolerances: multipliers of ss_check_threshold (default 1) */
  double       tol_y, tol_dx;
  /* finite differences (f32 only): number of checked elements per input (0: off) */
  int          fd_checks;
  double       fd_eps;                    /* default 1e-2 */
  double       fd_tol;                    /* default 1e-3 (nmse; fp32 forward noise
                                           * over 2 eps bounds what FD can resolve,
                                           * the reference comparison is the precise one) */
} SsOpTest;

size_t   ss_optest_numel (const SsOpTest *t, int i);
/* quantizes inputs to the dtype, allocates w (random, ny elements, quantized)
 * and zeroed ref_y / ref_dx buffers. */
void     ss_optest_prepare (SsOpTest *t, size_t ny, SsRng *rng);
/* runs and checks; g_test_fail()s with messages on mismatches */
void     ss_optest_run (SsOpTest *t, SsRng *rng);
void     ss_optest_clear (SsOpTest *t);

/* helpers */
SsTensor *ss_optest_upload (SsDType dt, int ndim, const gint64 *shape, const double *x,
                            gboolean requires_grad);
double   *ss_optest_download (SsTensor *t);
SsCheckDtype ss_optest_check_dtype (SsDType dt);

G_END_DECLS
