/* test-ops.c: every op of core/tensor/ops forward and backward on the GPU
 * (lavapipe in CI) against the double-precision references, in f32 and,
 * where the device stores 16-bit floats, f16 and bf16; outputs start as NaN
 * (SOUNDSTAGE_POISON=1) so unwritten elements fail; f32 gradients are also
 * checked against finite differences of the GPU forward. */
#define G_LOG_DOMAIN "test-ops"

#include "config.h"
#include "ss-optest.h"

#include <math.h>
#include <string.h>

static SsRng rng;

static const SsDType dtypes[] = { SS_DTYPE_F32, SS_DTYPE_F16, SS_DTYPE_BF16 };

static gboolean
have_dtype (SsDType dt)
{
  if (dt == SS_DTYPE_F32)
    return TRUE;
  g_autoptr (GError) error = NULL;
  SsGpuDevice *dev = ss_gpu_device_get_default (&error);
  g_assert_no_error (error);
  return ss_gpu_device_get_caps (dev)->fp16_storage;
}

#define SKIP_UNLESS_DTYPE(dt) \
  G_STMT_START { if (!have_dtype (dt)) { g_test_skip ("no 16-bit storage"); return; } } G_STMT_END

static double *
rnd (size_t n, double lo, double hi)
{
  double *x = g_new (double, MAX (n, 1));
  ss_check_fill_uniform (&rng, x, n, lo, hi);
  return x;
}

static void
set_shape (SsOpTest *t, int i, int ndim, const gint64 *shape)
{
  t->ndim[i] = ndim;
  memcpy (t->shape[i], shape, sizeof (gint64) * ndim);
}

#define DT(data) ((SsDType) GPOINTER_TO_INT (data))

/* ================================================================ unary */

typedef struct {
  SsUnaryOp op;
  float a, b;
} UnaryCtx;

static SsTensor *
unary_fwd (void *ctx, SsTensor *const *in, GError **error)
{
  UnaryCtx *c = ctx;
  if (c->op == SS_UNARY_GELU_ERF)
    return ss_op_gelu (in[0], FALSE, error);
  if (c->op == SS_UNARY_GELU_TANH)
    return ss_op_gelu (in[0], TRUE, error);
  if (c->op == SS_UNARY_SILU)
    return ss_op_silu (in[0], error);
  if (c->op == SS_UNARY_AFFINE)
    return ss_op_scale (in[0], c->a, c->b, error);
  return ss_op_unary (in[0], c->op, c->a, c->b, error);
}

static void
test_unary (gconstpointer data)
{
  SsDType dt = DT (data);
  SKIP_UNLESS_DTYPE (dt);
  G_STATIC_ASSERT ((int) SS_UNARY_COUNT == (int) SS_REF_UNARY_COUNT);
  /* 3 x 1001: element by element, 2 workgroups of 2048; 5 x 1640: units of 4,
   * 3 workgroups of 256 x 4 units */
  static const gint64 shapes[][2] = { { 3, 1001 }, { 5, 1640 } };
  for (guint s = 0; s < G_N_ELEMENTS (shapes); s++)
    for (int op = 0; op < SS_UNARY_COUNT; op++)
      {
        UnaryCtx c = { op, 1.7f, -0.3f };
        SsOpTest t = { .name = ss_ref_unary_name (op), .dtype = dt, .n_in = 1, .fwd = unary_fwd,
                       .ctx = &c, .grad = { TRUE }, .fd_checks = 6 };
        set_shape (&t, 0, 2, shapes[s]);
        size_t n = shapes[s][0] * shapes[s][1];
        t.x[0] = g_new (double, n);
        gboolean positive = op == SS_UNARY_LOG || op == SS_UNARY_SQRT || op == SS_UNARY_RSQRT
                            || op == SS_UNARY_POW || op == SS_UNARY_RECIP;
        if (positive)
          ss_check_fill_uniform (&rng, t.x[0], n, 0.3, 3);
        else
          ss_check_fill_away (&rng, t.x[0], n, 0.05, 3);
        ss_optest_prepare (&t, n, &rng);
        ss_ref_unary (op, t.x[0], t.ref_y, n, c.a, c.b);
        ss_ref_unary_backward (op, t.x[0], t.w, t.ref_dx[0], n, c.a, c.b);
        ss_optest_run (&t, &rng);
        ss_optest_clear (&t);
      }
}

/* ================================================================ binary */

typedef struct {
  SsBinaryOp op;
  gboolean transpose_a;   /* a is given as its transpose (last two dims) */
} BinaryCtx;

static SsTensor *
binary_fwd (void *ctx, SsTensor *const *in, GError **error)
{
  BinaryCtx *c = ctx;
  if (!c->transpose_a)
    return ss_op_binary (in[0], in[1], c->op, error);
  g_autoptr (SsTensor) at = ss_tensor_transpose (in[0], -1, -2, error);
  return at ? ss_op_binary (at, in[1], c->op, error) : NULL;
}

static void
test_binary (gconstpointer data)
{
  SsDType dt = DT (data);
  SKIP_UNLESS_DTYPE (dt);
  static const struct { int na, nb; gint64 a[4], b[4]; gboolean ta; } cases[] = {
    { 4, 4, { 2, 3, 4, 5 }, { 2, 3, 4, 5 }, FALSE },
    { 4, 4, { 2, 3, 4, 5 }, { 1, 1, 1, 5 }, FALSE },
    { 4, 4, { 2, 1, 4, 1 }, { 1, 3, 1, 5 }, FALSE },
    { 4, 1, { 2, 3, 4, 5 }, { 5 }, FALSE },
    { 2, 4, { 4, 1 }, { 2, 3, 4, 70 }, FALSE },   /* large reduction for a's gradient */
    { 3, 3, { 2, 6, 5 }, { 2, 1, 6 }, TRUE },     /* strided (transposed) a */
    { 3, 3, { 2, 40, 8 }, { 2, 1, 8 }, FALSE },   /* [B, L, C] * [B, 1, C]: block reduction */
    { 4, 4, { 1, 3, 50, 9 }, { 1, 3, 1, 1 }, FALSE }, /* per-channel: block reduction, inner 1 */
    { 3, 3, { 2, 150, 8 }, { 2, 1, 8 }, FALSE },  /* a modulation over 150 rows: sums in row chunks */
  };
  for (int op = 0; op < SS_BINARY_COUNT; op++)
    for (guint k = 0; k < G_N_ELEMENTS (cases); k++)
      {
        BinaryCtx c = { op, cases[k].ta };
        g_autofree char *name = g_strdup_printf ("%s case %u", ss_ref_binary_name (op), k);
        SsOpTest t = { .name = name, .dtype = dt, .n_in = 2, .fwd = binary_fwd, .ctx = &c,
                       .grad = { TRUE, TRUE }, .fd_checks = k == 2 ? 6 : 0 };
        set_shape (&t, 0, cases[k].na, cases[k].a);
        set_shape (&t, 1, cases[k].nb, cases[k].b);
        size_t na = ss_optest_numel (&t, 0), nb = ss_optest_numel (&t, 1);
        t.x[0] = rnd (na, -1, 1);
        t.x[1] = g_new (double, nb);
        ss_check_fill_away (&rng, t.x[1], nb, 0.5, 2);
        /* reference shapes right-aligned to 4-D; a un-transposed */
        int sa[4], sb[4], so[4];
        for (int d = 0; d < 4; d++)
          {
            int da = d - (4 - cases[k].na), db = d - (4 - cases[k].nb);
            sa[d] = da >= 0 ? cases[k].a[da] : 1;
            sb[d] = db >= 0 ? cases[k].b[db] : 1;
          }
        if (c.transpose_a)
          {
            int tmp = sa[2];
            sa[2] = sa[3];
            sa[3] = tmp;
          }
        g_assert_true (ss_ref_broadcast_shape (4, sa, sb, so));
        size_t ny = (size_t) so[0] * so[1] * so[2] * so[3];
        ss_optest_prepare (&t, ny, &rng);
        g_autofree double *a_ref = g_new (double, na), *da_ref = g_new0 (double, na);
        int perm[4] = { 0, 1, 3, 2 }, sx[4] = { sa[0], sa[1], sa[3], sa[2] };
        if (c.transpose_a)
          ss_ref_permute (t.x[0], a_ref, 4, sx, perm);
        else
          memcpy (a_ref, t.x[0], sizeof (double) * na);
        ss_ref_binary (op, 4, a_ref, sa, t.x[1], sb, t.ref_y);
        ss_ref_binary_backward (op, 4, a_ref, sa, t.x[1], sb, t.w, da_ref, t.ref_dx[1]);
        if (c.transpose_a)
          ss_ref_permute_backward (da_ref, t.ref_dx[0], 4, sx, perm);
        else
          memcpy (t.ref_dx[0], da_ref, sizeof (double) * na);
        t.tol_dx = k >= 4 ? 4 : 1;   /* gradients summed over many terms */
        ss_optest_run (&t, &rng);
        ss_optest_clear (&t);
      }
}

/* Row-broadcast and same-shape binary ops on rows of whole 16-byte units
 * (ops_binary_rows.comp) and the shapes / views that must fall back to the
 * general kernel. Operand o is uploaded flat with pre[o] elements before it
 * (a view at that offset) or, with colpad, as rows of colpad more columns
 * (a column slice: strided rows). */
typedef struct {
  SsBinaryOp op;
  int nd[2];
  gint64 shape[2][4];
  int pre[2], colpad;
} BinaryRowsCtx;

static SsTensor *
binary_rows_view (const BinaryRowsCtx *c, int o, SsTensor *x, GError **error)
{
  if (o == 0 && c->colpad)
    return ss_tensor_slice (x, 1, c->colpad / 2, c->colpad / 2 + c->shape[0][1], error);
  gint64 n = 1;
  for (int d = 0; d < c->nd[o]; d++)
    n *= c->shape[o][d];
  g_autoptr (SsTensor) flat = ss_tensor_slice (x, 0, c->pre[o], c->pre[o] + n, error);
  return flat ? ss_tensor_reshape (flat, c->nd[o], c->shape[o], error) : NULL;
}

static SsTensor *
binary_rows_fwd (void *ctx, SsTensor *const *in, GError **error)
{
  BinaryRowsCtx *c = ctx;
  g_autoptr (SsTensor) a = binary_rows_view (c, 0, in[0], error);
  g_autoptr (SsTensor) b = a ? binary_rows_view (c, 1, in[1], error) : NULL;
  return b ? ss_op_binary (a, b, c->op, error) : NULL;
}

static void
test_binary_rows (gconstpointer data)
{
  SsDType dt = DT (data);
  SKIP_UNLESS_DTYPE (dt);
  static const struct { int na, nb; gint64 a[4], b[4]; int pre_a, pre_b, colpad; } cases[] = {
    { 2, 1, { 1030, 40 }, { 40 }, 0, 0, 0 },        /* bias: 11 workgroups (f32), cols of 10 / 5 units */
    { 1, 3, { 40 }, { 3, 70, 40 }, 0, 0, 0 },       /* the row is a */
    { 3, 3, { 8, 2, 16 }, { 8, 2, 16 }, 8, 16, 0 }, /* same shape, views at whole units */
    { 2, 1, { 33, 24 }, { 24 }, 3, 0, 0 },          /* a at an odd offset: general kernel */
    { 2, 1, { 33, 24 }, { 24 }, 0, 8, 0 },          /* the bias at an offset of whole units */
    { 2, 1, { 20, 12 }, { 12 }, 0, 0, 0 },          /* rows of 3 units (f32); 16-bit: general */
    { 2, 1, { 50, 32 }, { 32 }, 0, 0, 8 },          /* strided rows: general kernel */
    { 3, 1, { 3, 25, 4 }, { 1 }, 0, 0, 0 },         /* a scalar: general kernel */
    { 2, 1, { 4100, 64 }, { 64 }, 0, 0, 0 },        /* many rows */
    { 2, 1, { 300, 8 }, { 8 }, 0, 0, 0 },           /* rows of 2 / 1 units: the same column */
    { 1, 2, { 64 }, { 50, 64 }, 0, 0, 0 },          /* the row is a, one column a thread */
    { 2, 1, { 12, 2056 }, { 2056 }, 0, 0, 0 },      /* rows longer than a workgroup's 256 units */
    { 3, 3, { 4, 70, 48 }, { 4, 1, 48 }, 0, 0, 0 },  /* one row per group (a modulation per item) */
    { 3, 3, { 3, 1, 16 }, { 3, 50, 16 }, 0, 8, 0 },  /* the grouped row is a; b at an offset */
    { 3, 3, { 5, 300, 8 }, { 5, 1, 8 }, 0, 0, 0 },   /* groups of 300 rows of 1 / 2 units */
  };
  for (int op = 0; op < SS_BINARY_COUNT; op++)
    for (guint k = 0; k < G_N_ELEMENTS (cases); k++)
      {
        BinaryRowsCtx c = { op, { cases[k].na, cases[k].nb }, { { 0 }, { 0 } },
                            { cases[k].pre_a, cases[k].pre_b }, cases[k].colpad };
        memcpy (c.shape[0], cases[k].a, sizeof cases[k].a);
        memcpy (c.shape[1], cases[k].b, sizeof cases[k].b);
        g_autofree char *name = g_strdup_printf ("%s rows case %u", ss_ref_binary_name (op), k);
        SsOpTest t = { .name = name, .dtype = dt, .n_in = 2, .fwd = binary_rows_fwd, .ctx = &c,
                       .grad = { TRUE, TRUE }, .tol_dx = 4 };
        int sa[4], sb[4], so[4];
        size_t n[2] = { 1, 1 };
        for (int d = 0; d < 4; d++)
          {
            int da = d - (4 - cases[k].na), db = d - (4 - cases[k].nb);
            sa[d] = da >= 0 ? cases[k].a[da] : 1;
            sb[d] = db >= 0 ? cases[k].b[db] : 1;
            n[0] *= sa[d];
            n[1] *= sb[d];
          }
        if (c.colpad)
          set_shape (&t, 0, 2, (gint64[]) { cases[k].a[0], cases[k].a[1] + c.colpad });
        else
          set_shape (&t, 0, 1, (gint64[]) { c.pre[0] + n[0] });
        set_shape (&t, 1, 1, (gint64[]) { c.pre[1] + n[1] });
        size_t nx[2] = { ss_optest_numel (&t, 0), ss_optest_numel (&t, 1) };
        t.x[0] = rnd (nx[0], -1, 1);
        t.x[1] = g_new (double, nx[1]);
        ss_check_fill_away (&rng, t.x[1], nx[1], 0.5, 2);
        g_assert_true (ss_ref_broadcast_shape (4, sa, sb, so));
        size_t ny = (size_t) so[0] * so[1] * so[2] * so[3];
        ss_optest_prepare (&t, ny, &rng);
        g_autofree double *av = g_new (double, n[0]), *dav = g_new0 (double, n[0]);
        g_autofree double *dbv = g_new0 (double, n[1]);
        if (c.colpad)
          ss_ref_slice (t.x[0], av, sa[2], sa[3] + c.colpad, 1, c.colpad / 2, sa[3], 1);
        else
          memcpy (av, t.x[0] + c.pre[0], sizeof (double) * n[0]);
        ss_ref_binary (op, 4, av, sa, t.x[1] + c.pre[1], sb, t.ref_y);
        ss_ref_binary_backward (op, 4, av, sa, t.x[1] + c.pre[1], sb, t.w, dav, dbv);
        if (c.colpad)
          ss_ref_slice_backward (dav, t.ref_dx[0], sa[2], sa[3] + c.colpad, 1, c.colpad / 2, sa[3], 1);
        else
          memcpy (t.ref_dx[0] + c.pre[0], dav, sizeof (double) * n[0]);
        memcpy (t.ref_dx[1] + c.pre[1], dbv, sizeof (double) * n[1]);
        ss_optest_run (&t, &rng);
        ss_optest_clear (&t);
      }
}

/* ================================================================ reduce */

/* Sizes before, along (@len may be NULL) and after dimension @dim (negative:
 * from the end). */
static void
split_at_dim (int ndim, const gint64 *shape, int dim, int *outer, int *len, int *inner)
{
  int d = dim < 0 ? dim + ndim : dim;
  *outer = *inner = 1;
  if (len)
    *len = shape[d];
  for (int i = 0; i < d; i++)
    *outer *= shape[i];
  for (int i = d + 1; i < ndim; i++)
    *inner *= shape[i];
}

typedef struct {
  SsReduceOp op;
  int dim;
  gboolean keepdim;
} ReduceCtx;

static SsTensor *
reduce_fwd (void *ctx, SsTensor *const *in, GError **error)
{
  ReduceCtx *c = ctx;
  return ss_op_reduce (in[0], c->op, c->dim, c->keepdim, error);
}

static void
test_reduce (gconstpointer data)
{
  SsDType dt = DT (data);
  SKIP_UNLESS_DTYPE (dt);
  static const struct { int ndim; gint64 shape[3]; int dim; } cases[] = {
    { 3, { 3, 50, 7 }, 0 }, { 3, { 3, 50, 7 }, 1 }, { 3, { 3, 50, 7 }, 2 },
    { 2, { 2, 1000 }, -1 }, { 1, { 300 }, 0 },
    { 2, { 2, 40000 }, 1 },   /* long rows: two-pass sum */
    { 3, { 2, 3000, 5 }, 1 }, /* few long columns: chunked partial sums */
    { 1, { 40003 }, 0 },      /* long row in units of 4 and a tail of 3 */
    { 2, { 3, 32771 }, 1 },   /* long rows not starting at multiples of 4 */
    { 2, { 1500, 136 }, 1 },  /* many rows of whole units: 8 to 16 rows a workgroup */
    { 2, { 700, 1030 }, 1 },  /* many rows not starting at whole units */
  };
  for (int op = 0; op < SS_REDUCE_COUNT; op++)
    for (guint k = 0; k < G_N_ELEMENTS (cases); k++)
      {
        ReduceCtx c = { op, cases[k].dim, k % 2 };
        g_autofree char *name = g_strdup_printf ("%s case %u", ss_ref_reduce_name (op), k);
        SsOpTest t = { .name = name, .dtype = dt, .n_in = 1, .fwd = reduce_fwd, .ctx = &c,
                       .grad = { TRUE }, .fd_checks = op == SS_REDUCE_MAX ? 0 : 4 };
        set_shape (&t, 0, cases[k].ndim, cases[k].shape);
        size_t n = ss_optest_numel (&t, 0);
        t.x[0] = rnd (n, -1, 1);
        int outer, len, inner;
        split_at_dim (cases[k].ndim, cases[k].shape, cases[k].dim, &outer, &len, &inner);
        ss_optest_prepare (&t, (size_t) outer * inner, &rng);
        ss_ref_reduce (op, t.x[0], t.ref_y, outer, len, inner);
        ss_ref_reduce_backward (op, t.x[0], t.w, t.ref_dx[0], outer, len, inner);
        t.tol_y = 10;   /* long fp32 sums */
        /* mean over thousands in f16: dy / n lies in the subnormal range, where
         * f16 cannot hold the gradient to the threshold; the f32 and bf16 runs
         * check that path */
        if (k >= 5 && dt == SS_DTYPE_F16 && op == SS_REDUCE_MEAN)
          t.grad[0] = FALSE;
        ss_optest_run (&t, &rng);
        ss_optest_clear (&t);
      }
}

/* Sums over the last dim of flat views at an offset of pre elements, reshaped
 * to rows: offsets of whole 16-byte units read in units, others element by
 * element (ops_reduce_rows.comp). */
typedef struct {
  SsReduceOp op;
  int pre;
  gint64 shape[2];
} ReduceViewCtx;

static SsTensor *
reduce_view_fwd (void *ctx, SsTensor *const *in, GError **error)
{
  ReduceViewCtx *c = ctx;
  g_autoptr (SsTensor) flat = ss_tensor_slice (in[0], 0, c->pre, c->pre + c->shape[0] * c->shape[1], error);
  g_autoptr (SsTensor) v = flat ? ss_tensor_reshape (flat, 2, c->shape, error) : NULL;
  return v ? ss_op_reduce (v, c->op, 1, FALSE, error) : NULL;
}

static void
test_reduce_views (gconstpointer data)
{
  SsDType dt = DT (data);
  SKIP_UNLESS_DTYPE (dt);
  static const struct { int pre; gint64 shape[2]; } cases[] = {
    { 3, { 40, 64 } },    /* odd offset: element by element */
    { 8, { 40, 64 } },    /* whole units at an offset */
    { 4, { 40, 64 } },    /* whole units of f32 only */
    { 8, { 1, 40003 } },  /* chunks of whole units at an offset, a tail of 3 */
    { 5, { 1, 20000 } },  /* chunks element by element */
    { 4, { 2, 20008 } },  /* chunks of whole units of f32 only */
  };
  for (int op = 0; op < SS_REDUCE_MAX; op++)
    for (guint k = 0; k < G_N_ELEMENTS (cases); k++)
      {
        ReduceViewCtx c = { op, cases[k].pre, { cases[k].shape[0], cases[k].shape[1] } };
        int rows = c.shape[0], len = c.shape[1];
        g_autofree char *name = g_strdup_printf ("%s view case %u", ss_ref_reduce_name (op), k);
        SsOpTest t = { .name = name, .dtype = dt, .n_in = 1, .fwd = reduce_view_fwd, .ctx = &c,
                       .grad = { TRUE }, .tol_y = 10 };
        set_shape (&t, 0, 1, (gint64[]) { c.pre + (gint64) rows * len });
        t.x[0] = rnd (ss_optest_numel (&t, 0), -1, 1);
        ss_optest_prepare (&t, rows, &rng);
        ss_ref_reduce (op, t.x[0] + c.pre, t.ref_y, rows, len, 1);
        ss_ref_reduce_backward (op, t.x[0] + c.pre, t.w, t.ref_dx[0] + c.pre, rows, len, 1);
        /* (dy / n of a long mean lies in the f16 subnormal range, as in test_reduce) */
        if (len > 1000 && dt == SS_DTYPE_F16 && op == SS_REDUCE_MEAN)
          t.grad[0] = FALSE;
        ss_optest_run (&t, &rng);
        ss_optest_clear (&t);
      }
}

/* ================================================================ softmax */

typedef struct {
  gboolean log;
  int dim;
} SoftmaxCtx;

static SsTensor *
softmax_fwd (void *ctx, SsTensor *const *in, GError **error)
{
  SoftmaxCtx *c = ctx;
  return c->log ? ss_op_log_softmax (in[0], c->dim, error) : ss_op_softmax (in[0], c->dim, error);
}

static void
test_softmax (gconstpointer data)
{
  SsDType dt = DT (data);
  SKIP_UNLESS_DTYPE (dt);
  static const struct { int ndim; gint64 shape[3]; int dim; } cases[] = {
    { 2, { 5, 300 }, -1 }, { 3, { 4, 33, 6 }, 1 }, { 3, { 2, 3, 17 }, 2 },
    { 2, { 3, 2000 }, -1 },   /* rows past 4 x 128: unrolled loops */
  };
  for (int lg = 0; lg < 2; lg++)
    for (guint k = 0; k < G_N_ELEMENTS (cases); k++)
      {
        SoftmaxCtx c = { lg, cases[k].dim };
        g_autofree char *name = g_strdup_printf ("%s case %u", lg ? "log_softmax" : "softmax", k);
        /* (no finite differences over 2000 classes: gradients near 1e-6 drown
         * in the fp32 noise of the loss; the reference comparison covers them) */
        SsOpTest t = { .name = name, .dtype = dt, .n_in = 1, .fwd = softmax_fwd, .ctx = &c,
                       .grad = { TRUE }, .fd_checks = k == 3 ? 0 : 4 };
        set_shape (&t, 0, cases[k].ndim, cases[k].shape);
        size_t n = ss_optest_numel (&t, 0);
        t.x[0] = rnd (n, -4, 4);
        int outer, len, inner;
        split_at_dim (cases[k].ndim, cases[k].shape, cases[k].dim, &outer, &len, &inner);
        ss_optest_prepare (&t, n, &rng);
        if (lg)
          {
            ss_ref_log_softmax (t.x[0], t.ref_y, outer, len, inner);
            ss_ref_log_softmax_backward (t.ref_y, t.w, t.ref_dx[0], outer, len, inner);
          }
        else
          {
            ss_ref_softmax (t.x[0], t.ref_y, outer, len, inner);
            ss_ref_softmax_backward (t.ref_y, t.w, t.ref_dx[0], outer, len, inner);
          }
        ss_optest_run (&t, &rng);
        ss_optest_clear (&t);
      }
}

/* ================================================================ norms */

typedef struct {
  int kind;      /* 0 layer, 1 rms, 2 group */
  gboolean w, b;
  int groups;
  float eps;
} NormCtx;

static SsTensor *
norm_fwd (void *ctx, SsTensor *const *in, GError **error)
{
  NormCtx *c = ctx;
  SsTensor *w = c->w ? in[1] : NULL, *b = c->b ? in[c->w ? 2 : 1] : NULL;
  switch (c->kind)
    {
    case 0: return ss_op_layer_norm (in[0], w, b, c->eps, error);
    case 1: return ss_op_rms_norm (in[0], w, c->eps, error);
    default: return ss_op_group_norm (in[0], c->groups, w, b, c->eps, error);
    }
}

static void
test_norms (gconstpointer data)
{
  SsDType dt = DT (data);
  SKIP_UNLESS_DTYPE (dt);
  static const struct { int kind; gboolean w, b; int ndim; gint64 shape[4]; int groups; } cases[] = {
    { 0, TRUE, TRUE, 2, { 7, 300 }, 0 },
    { 0, FALSE, FALSE, 3, { 2, 3, 64 }, 0 },
    { 1, TRUE, FALSE, 2, { 6, 200 }, 0 },
    { 1, FALSE, FALSE, 2, { 3, 33 }, 0 },
    { 2, TRUE, TRUE, 4, { 2, 8, 5, 6 }, 4 },
    { 2, FALSE, FALSE, 3, { 3, 6, 10 }, 3 },
    { 2, TRUE, TRUE, 3, { 2, 6, 50 }, 1 },
    /* blocks longer than 4 x 128: the unrolled loops of the one-workgroup path */
    { 0, TRUE, TRUE, 2, { 3, 1000 }, 0 },
    { 2, TRUE, TRUE, 4, { 2, 8, 40, 20 }, 2 },
    /* blocks longer than 8192: the split (multi-workgroup) path */
    { 2, TRUE, TRUE, 4, { 2, 4, 64, 80 }, 2 },
    { 0, TRUE, TRUE, 2, { 2, 10000 }, 0 },
    { 1, TRUE, FALSE, 2, { 3, 9000 }, 0 },
    /* more than 64 rows: weight / bias gradients summed in row chunks */
    { 0, TRUE, TRUE, 2, { 300, 40 }, 0 },
    { 1, TRUE, FALSE, 3, { 2, 65, 96 }, 0 },
  };
  static const char *names[] = { "layer_norm", "rms_norm", "group_norm" };
  for (guint k = 0; k < G_N_ELEMENTS (cases); k++)
    {
      NormCtx c = { cases[k].kind, cases[k].w, cases[k].b, cases[k].groups, 1e-5f };
      g_autofree char *name = g_strdup_printf ("%s case %u", names[c.kind], k);
      SsOpTest t = { .name = name, .dtype = dt, .fwd = norm_fwd, .ctx = &c, .fd_checks = 4 };
      set_shape (&t, 0, cases[k].ndim, cases[k].shape);
      int ch = c.kind == 2 ? cases[k].shape[1] : cases[k].shape[cases[k].ndim - 1];
      int n_in = 1;
      if (c.w)
        set_shape (&t, n_in++, 1, (gint64[]) { ch });
      if (c.b)
        set_shape (&t, n_in++, 1, (gint64[]) { ch });
      t.n_in = n_in;
      size_t n = ss_optest_numel (&t, 0);
      t.x[0] = rnd (n, -2, 3);
      t.grad[0] = TRUE;
      for (int i = 1; i < n_in; i++)
        {
          t.x[i] = rnd (ch, i == 1 && c.w ? 0.5 : -1, 1.5);
          t.grad[i] = TRUE;
        }
      ss_optest_prepare (&t, n, &rng);
      double *w = c.w ? t.x[1] : NULL, *b = c.b ? t.x[c.w ? 2 : 1] : NULL;
      double *dw = c.w ? t.ref_dx[1] : NULL, *db = c.b ? t.ref_dx[c.w ? 2 : 1] : NULL;
      int rows = n / ch;
      if (c.kind == 0)
        {
          ss_ref_layer_norm (t.x[0], w, b, t.ref_y, rows, ch, c.eps);
          ss_ref_layer_norm_backward (t.x[0], w, t.w, t.ref_dx[0], dw, db, rows, ch, c.eps);
        }
      else if (c.kind == 1)
        {
          ss_ref_rms_norm (t.x[0], w, t.ref_y, rows, ch, c.eps);
          ss_ref_rms_norm_backward (t.x[0], w, t.w, t.ref_dx[0], dw, rows, ch, c.eps);
        }
      else
        {
          int nn = cases[k].shape[0], s = n / (nn * ch);
          ss_ref_group_norm (t.x[0], w, b, t.ref_y, nn, ch, s, c.groups, c.eps);
          ss_ref_group_norm_backward (t.x[0], w, t.w, t.ref_dx[0], dw, db, nn, ch, s, c.groups, c.eps);
        }
      t.tol_dx = 10;
      ss_optest_run (&t, &rng);
      ss_optest_clear (&t);
    }
}

static SsTensor *
l2n_fwd (void *ctx, SsTensor *const *in, GError **error)
{
  return ss_op_l2_normalize (in[0], 1e-12f, error);
}

static void
test_l2_normalize (gconstpointer data)
{
  SsDType dt = DT (data);
  SKIP_UNLESS_DTYPE (dt);
  int rows = 5, d = 40;
  SsOpTest t = { .name = "l2_normalize", .dtype = dt, .n_in = 1, .fwd = l2n_fwd,
                 .grad = { TRUE }, .fd_checks = 4, .tol_y = 4, .tol_dx = 10 };
  set_shape (&t, 0, 2, (gint64[]) { rows, d });
  t.x[0] = rnd ((size_t) rows * d, -1, 1);
  ss_optest_prepare (&t, (size_t) rows * d, &rng);
  for (int r = 0; r < rows; r++)
    {
      const double *x = t.x[0] + r * d, *g = t.w + r * d;
      double *y = t.ref_y + r * d, *dx = t.ref_dx[0] + r * d;
      double nrm = sqrt (ss_check_dot (x, x, d) + 1e-12);
      for (int i = 0; i < d; i++)
        y[i] = x[i] / nrm;
      double yg = ss_check_dot (y, g, d);
      for (int i = 0; i < d; i++)
        dx[i] = (g[i] - y[i] * yg) / nrm;
    }
  ss_optest_run (&t, &rng);
  ss_optest_clear (&t);
}

/* ================================================================ concat, slice, permute */

typedef struct {
  int dim;
} ConcatCtx;

static SsTensor *
concat_fwd (void *ctx, SsTensor *const *in, GError **error)
{
  ConcatCtx *c = ctx;
  return ss_op_concat (3, in, c->dim, error);
}

static void
test_concat (gconstpointer data)
{
  SsDType dt = DT (data);
  SKIP_UNLESS_DTYPE (dt);
  /* along the middle dim and along the last dim */
  for (int variant = 0; variant < 2; variant++)
    {
      ConcatCtx c = { variant ? -1 : 1 };
      gint64 lens[3] = { 3, 5, 1 };
      SsOpTest t = { .name = variant ? "concat last" : "concat middle", .dtype = dt, .n_in = 3,
                     .fwd = concat_fwd, .ctx = &c, .grad = { TRUE, FALSE, TRUE }, .fd_checks = 3 };
      for (int i = 0; i < 3; i++)
        {
          gint64 s[3] = { 2, variant ? 4 : lens[i], variant ? lens[i] : 4 };
          set_shape (&t, i, 3, s);
          t.x[i] = rnd (ss_optest_numel (&t, i), -1, 1);
        }
      ss_optest_prepare (&t, 2 * 9 * 4, &rng);
      int ns[3] = { 3, 5, 1 };
      int outer = variant ? 8 : 2, inner = variant ? 1 : 4;
      ss_ref_concat (3, (const double *const *) t.x, ns, t.ref_y, outer, inner);
      double *dxs[3] = { t.ref_dx[0], NULL, t.ref_dx[2] };
      ss_ref_concat_backward (3, ns, t.w, dxs, outer, inner);
      ss_optest_run (&t, &rng);
      ss_optest_clear (&t);
    }
}

/* Concat along the last dim with widths chosen so that the one-pass kernel
 * moves units of 16, 8, 4 and 2 bytes (f16: 24/16/8 -> 16-byte units, ...,
 * 8/3/17 -> single elements). */
static void
test_concat_units (gconstpointer data)
{
  SsDType dt = DT (data);
  SKIP_UNLESS_DTYPE (dt);
  static const int sets[][3] = { { 8, 16, 24 }, { 4, 8, 12 }, { 2, 6, 4 }, { 8, 3, 17 }, { 1, 1, 2 } };
  for (guint v = 0; v < G_N_ELEMENTS (sets); v++)
    {
      ConcatCtx c = { -1 };
      g_autofree char *name = g_strdup_printf ("concat widths %d %d %d", sets[v][0], sets[v][1],
                                               sets[v][2]);
      SsOpTest t = { .name = name, .dtype = dt, .n_in = 3, .fwd = concat_fwd, .ctx = &c,
                     .grad = { TRUE, TRUE, TRUE } };
      int total = 0;
      for (int i = 0; i < 3; i++)
        {
          set_shape (&t, i, 3, (gint64[]) { 2, 3, sets[v][i] });
          t.x[i] = rnd (ss_optest_numel (&t, i), -1, 1);
          total += sets[v][i];
        }
      ss_optest_prepare (&t, (size_t) 6 * total, &rng);
      ss_ref_concat (3, (const double *const *) t.x, sets[v], t.ref_y, 6, 1);
      ss_ref_concat_backward (3, sets[v], t.w, t.ref_dx, 6, 1);
      ss_optest_run (&t, &rng);
      ss_optest_clear (&t);
    }
}

/* Nine pieces (two dispatches of the one-pass kernel) of four inputs
 * [2, 3, *]: five column slices of x0 (rows with a stride), x1 twice, x2
 * uploaded as [2, 5, 3] and transposed (copied first), x3 [1, 1, 4] expanded
 * to [2, 3, 4] (row stride 0; expand records no gradient, so x3 gets none). */
#define PIECES_N 9
static const int pieces_x0[6] = { 0, 3, 11, 12, 28, 40 };

static SsTensor *
concat_pieces_fwd (void *ctx, SsTensor *const *in, GError **error)
{
  SsTensor *p[PIECES_N] = { 0 };
  SsTensor *y = NULL;
  if (ctx)
    {
      /* x0[..., 0:3] and x0[..., 8:13] of [2, 3, 16]: offsets and row strides
       * fit 16-byte units, the widths do not */
      if ((p[0] = ss_tensor_slice (in[0], 2, 0, 3, error))
          && (p[1] = ss_tensor_slice (in[0], 2, 8, 13, error)))
        y = ss_op_concat (2, p, -1, error);
      goto out;
    }
  for (int i = 0; i < 5; i++)
    if (!(p[i] = ss_tensor_slice (in[0], 2, pieces_x0[i], pieces_x0[i + 1], error)))
      goto out;
  p[5] = ss_tensor_ref (in[1]);
  p[6] = ss_tensor_ref (in[1]);
  if (!(p[7] = ss_tensor_transpose (in[2], 1, 2, error))
      || !(p[8] = ss_tensor_expand (in[3], 3, (gint64[]) { 2, 3, 4 }, error)))
    goto out;
  y = ss_op_concat (PIECES_N, p, -1, error);
out:
  for (int i = 0; i < PIECES_N; i++)
    if (p[i])
      ss_tensor_unref (p[i]);
  return y;
}

static void
test_concat_pieces (gconstpointer data)
{
  SsDType dt = DT (data);
  SKIP_UNLESS_DTYPE (dt);
  SsOpTest t = { .name = "concat of 9 pieces", .dtype = dt, .n_in = 4, .fwd = concat_pieces_fwd,
                 .grad = { TRUE, TRUE, TRUE, FALSE }, .fd_checks = 3 };
  set_shape (&t, 0, 3, (gint64[]) { 2, 3, 40 });
  set_shape (&t, 1, 3, (gint64[]) { 2, 3, 8 });
  set_shape (&t, 2, 3, (gint64[]) { 2, 5, 3 });
  set_shape (&t, 3, 3, (gint64[]) { 1, 1, 4 });
  for (int i = 0; i < 4; i++)
    t.x[i] = rnd (ss_optest_numel (&t, i), -1, 1);
  int ns[PIECES_N] = { 3, 8, 1, 16, 12, 8, 8, 5, 4 }, total = 65;
  ss_optest_prepare (&t, (size_t) 6 * total, &rng);
  /* the pieces on the host, rows of 6 */
  double *px[PIECES_N], *pg[PIECES_N];
  for (int i = 0; i < PIECES_N; i++)
    {
      px[i] = g_new (double, 6 * ns[i]);
      pg[i] = g_new0 (double, 6 * ns[i]);
    }
  for (int r = 0; r < 6; r++)
    {
      for (int i = 0; i < 5; i++)
        for (int k = 0; k < ns[i]; k++)
          px[i][r * ns[i] + k] = t.x[0][r * 40 + pieces_x0[i] + k];
      for (int k = 0; k < 8; k++)
        px[5][r * 8 + k] = px[6][r * 8 + k] = t.x[1][r * 8 + k];
      for (int k = 0; k < 5; k++)   /* [b, j = r % 3, k] of the transpose = x2[b, k, j] */
        px[7][r * 5 + k] = t.x[2][(r / 3) * 15 + k * 3 + r % 3];
      for (int k = 0; k < 4; k++)
        px[8][r * 4 + k] = t.x[3][k];
    }
  ss_ref_concat (PIECES_N, (const double *const *) px, ns, t.ref_y, 6, 1);
  ss_ref_concat_backward (PIECES_N, ns, t.w, pg, 6, 1);
  for (int r = 0; r < 6; r++)
    {
      for (int i = 0; i < 5; i++)
        for (int k = 0; k < ns[i]; k++)
          t.ref_dx[0][r * 40 + pieces_x0[i] + k] = pg[i][r * ns[i] + k];
      for (int k = 0; k < 8; k++)
        t.ref_dx[1][r * 8 + k] = pg[5][r * 8 + k] + pg[6][r * 8 + k];
      for (int k = 0; k < 5; k++)
        t.ref_dx[2][(r / 3) * 15 + k * 3 + r % 3] = pg[7][r * 5 + k];
    }
  for (int i = 0; i < PIECES_N; i++)
    {
      g_free (px[i]);
      g_free (pg[i]);
    }
  t.tol_dx = 4;   /* x1's gradient is a sum */
  ss_optest_run (&t, &rng);
  ss_optest_clear (&t);

  SsOpTest t2 = { .name = "concat of aligned slices of odd widths", .dtype = dt, .n_in = 1,
                  .fwd = concat_pieces_fwd, .ctx = &t2, .grad = { TRUE } };
  set_shape (&t2, 0, 3, (gint64[]) { 2, 3, 16 });
  t2.x[0] = rnd (96, -1, 1);
  ss_optest_prepare (&t2, 48, &rng);
  for (int r = 0; r < 6; r++)
    for (int k = 0; k < 8; k++)
      {
        int src = r * 16 + (k < 3 ? k : k + 5);
        t2.ref_y[r * 8 + k] = t2.x[0][src];
        t2.ref_dx[0][src] = t2.w[r * 8 + k];
      }
  ss_optest_run (&t2, &rng);
  ss_optest_clear (&t2);
}

static SsTensor *
slice_permute_fwd (void *ctx, SsTensor *const *in, GError **error)
{
  static const int perm[4] = { 2, 0, 3, 1 };
  g_autoptr (SsTensor) s = ss_tensor_slice (in[0], 1, 2, 9, error);
  if (!s)
    return NULL;
  g_autoptr (SsTensor) p = ss_tensor_permute (s, perm, error);
  if (!p)
    return NULL;
  return ss_tensor_contiguous (p, error);
}

static void
test_slice_permute (gconstpointer data)
{
  SsDType dt = DT (data);
  SKIP_UNLESS_DTYPE (dt);
  SsOpTest t = { .name = "slice+permute+contiguous", .dtype = dt, .n_in = 1,
                 .fwd = slice_permute_fwd, .grad = { TRUE }, .fd_checks = 3 };
  set_shape (&t, 0, 4, (gint64[]) { 2, 10, 3, 4 });
  t.x[0] = rnd (240, -1, 1);
  ss_optest_prepare (&t, 2 * 7 * 3 * 4, &rng);
  g_autofree double *s = g_new0 (double, 168), *ds = g_new0 (double, 168);
  ss_ref_slice (t.x[0], s, 2, 10, 12, 2, 7, 1);
  int ss[4] = { 2, 7, 3, 4 }, perm[4] = { 2, 0, 3, 1 };
  ss_ref_permute (s, t.ref_y, 4, ss, perm);
  ss_ref_permute_backward (t.w, ds, 4, ss, perm);
  ss_ref_slice_backward (ds, t.ref_dx[0], 2, 10, 12, 2, 7, 1);
  ss_optest_run (&t, &rng);
  ss_optest_clear (&t);
}

typedef struct {
  gint64 start, end, step;
} SliceStepCtx;

static SsTensor *
slice_step_fwd (void *ctx, SsTensor *const *in, GError **error)
{
  SliceStepCtx *c = ctx;
  return ss_op_slice_step (in[0], 1, c->start, c->end, c->step, error);
}

static void
test_slice_step (gconstpointer data)
{
  SsDType dt = DT (data);
  SKIP_UNLESS_DTYPE (dt);
  static const SliceStepCtx cases[] = { { 1, 10, 3 }, { -7, -1, 2 }, { 0, 100, 1 }, { 4, 5, 4 } };
  for (guint k = 0; k < G_N_ELEMENTS (cases); k++)
    {
      SliceStepCtx c = cases[k];
      int n = 11, start = c.start < 0 ? c.start + n : c.start, end = c.end < 0 ? c.end + n : c.end;
      end = MIN (end, n);
      int len = (end - start + c.step - 1) / c.step;
      g_autofree char *name = g_strdup_printf ("slice_step case %u", k);
      SsOpTest t = { .name = name, .dtype = dt, .n_in = 1, .fwd = slice_step_fwd, .ctx = &c,
                     .grad = { TRUE }, .fd_checks = 3 };
      set_shape (&t, 0, 3, (gint64[]) { 2, n, 3 });
      t.x[0] = rnd (66, -1, 1);
      ss_optest_prepare (&t, (size_t) 2 * len * 3, &rng);
      ss_ref_slice (t.x[0], t.ref_y, 2, n, 3, start, len, c.step);
      ss_ref_slice_backward (t.w, t.ref_dx[0], 2, n, 3, start, len, c.step);
      ss_optest_run (&t, &rng);
      ss_optest_clear (&t);
    }
}

/* ================================================================ gather */

typedef struct {
  gboolean embedding;
  int dim;
  const gint32 *idx;
  gint64 m;
  int ids_ndim;
  gint64 ids_shape[2];
  SsGpuBuffer *ids_dev;   /* ss_op_embedding_device: the ids at element ids_off */
  gsize ids_off;
} GatherCtx;

static SsTensor *
gather_fwd (void *ctx, SsTensor *const *in, GError **error)
{
  GatherCtx *c = ctx;
  if (c->embedding && c->ids_dev)
    {
      /* c->idx: the whole buffer (32 ids), filled before each call */
      g_assert_true (ss_gpu_buffer_upload (c->ids_dev, 0, c->idx, 32 * sizeof (gint32), NULL));
      SsTensor *y = ss_op_embedding_device (in[0], c->ids_dev, c->ids_off, c->ids_ndim,
                                            c->ids_shape, error);
      if (y && y->requires_grad)
        {
          /* the buffer refilled right away (ordered after the forward): the
           * backward must not read these */
          gint32 junk[32];
          for (int i = 0; i < 32; i++)
            junk[i] = (i * 5) % 12;
          g_assert_true (ss_gpu_buffer_upload (c->ids_dev, 0, junk, sizeof junk, NULL));
        }
      return y;
    }
  if (c->embedding)
    return ss_op_embedding (in[0], c->idx, c->ids_ndim, c->ids_shape, error);
  return ss_op_index_select (in[0], c->dim, c->idx, c->m, error);
}

static void
test_gather (gconstpointer data)
{
  SsDType dt = DT (data);
  SKIP_UNLESS_DTYPE (dt);
  {
    static const gint32 idx[] = { 3, 0, 3, 9, 1, 3, 7 };
    GatherCtx c = { FALSE, 1, idx, 7 };
    SsOpTest t = { .name = "index_select", .dtype = dt, .n_in = 1, .fwd = gather_fwd, .ctx = &c,
                   .grad = { TRUE }, .fd_checks = 4 };
    set_shape (&t, 0, 3, (gint64[]) { 3, 10, 5 });
    t.x[0] = rnd (150, -1, 1);
    ss_optest_prepare (&t, 3 * 7 * 5, &rng);
    ss_ref_gather (t.x[0], idx, t.ref_y, 3, 10, 5, 7);
    ss_ref_gather_backward (idx, t.w, t.ref_dx[0], 3, 10, 5, 7);
    ss_optest_run (&t, &rng);
    ss_optest_clear (&t);
  }
  {
    gint32 ids[18];
    for (int i = 0; i < 18; i++)
      ids[i] = ss_rng_int (&rng, 0, 11);   /* 18 draws from 12 rows: repeats */
    GatherCtx c = { TRUE, 0, ids, 18, 2, { 2, 9 } };
    SsOpTest t = { .name = "embedding", .dtype = dt, .n_in = 1, .fwd = gather_fwd, .ctx = &c,
                   .grad = { TRUE }, .fd_checks = 4 };
    set_shape (&t, 0, 2, (gint64[]) { 12, 16 });
    t.x[0] = rnd (12 * 16, -1, 1);
    ss_optest_prepare (&t, 18 * 16, &rng);
    ss_ref_gather (t.x[0], ids, t.ref_y, 1, 12, 16, 18);
    ss_ref_gather_backward (ids, t.w, t.ref_dx[0], 1, 12, 16, 18);
    ss_optest_run (&t, &rng);
    ss_optest_clear (&t);
  }
  /* embedding with device ids, at an element offset, rows of 16 (16-byte units
   * in every dtype) and 7 elements; the second set has ids out of range
   * (rows of zeros, no gradient) */
  for (int variant = 0; variant < 4; variant++)
    {
      gboolean bad = variant & 1;
      int dim = variant & 2 ? 7 : 16;
      gint32 ids[32];
      for (int i = 0; i < 32; i++)
        ids[i] = ss_rng_int (&rng, 0, 11);
      if (bad)
        {
          ids[3 + 4] = 12;
          ids[3 + 11] = -1;
        }
      g_autoptr (GError) error = NULL;
      g_autoptr (SsGpuBuffer) buf = ss_gpu_buffer_new (ss_gpu_device_get_default (NULL), sizeof ids, &error);
      g_assert_no_error (error);
      GatherCtx c = { TRUE, 0, ids, 18, 2, { 2, 9 }, buf, 3 };
      g_autofree char *name = g_strdup_printf ("embedding, device ids%s, dim %d",
                                               bad ? " (some out of range)" : "", dim);
      SsOpTest t = { .name = name, .dtype = dt, .n_in = 1, .fwd = gather_fwd, .ctx = &c,
                     .grad = { TRUE }, .fd_checks = 4 };
      set_shape (&t, 0, 2, (gint64[]) { 12, dim });
      t.x[0] = rnd (12 * dim, -1, 1);
      ss_optest_prepare (&t, 18 * dim, &rng);
      for (int i = 0; i < 18; i++)
        {
          gint32 id = ids[3 + i];
          if (id < 0 || id >= 12)
            continue;   /* ref_y stays 0 */
          for (int k = 0; k < dim; k++)
            {
              t.ref_y[i * dim + k] = t.x[0][id * dim + k];
              t.ref_dx[0][id * dim + k] += t.w[i * dim + k];
            }
        }
      ss_optest_run (&t, &rng);
      ss_optest_clear (&t);
    }
  {
    /* ids past the end of the buffer; the host version's range check */
    g_autoptr (GError) error = NULL;
    g_autoptr (SsTensor) table = ss_tensor_zeros (dt, 2, SS_SHAPE (12, 16), &error);
    g_assert_no_error (error);
    g_autoptr (SsGpuBuffer) buf = ss_gpu_buffer_new (table->device, 16 * sizeof (gint32), &error);
    g_assert_no_error (error);
    g_autoptr (SsTensor) y = ss_op_embedding_device (table, buf, 4, 1, (gint64[]) { 13 }, &error);
    g_assert_error (error, SS_ERROR, SS_ERROR_INVALID_DATA);
    g_assert_null (y);
    g_clear_error (&error);
    static const gint32 host_bad[2] = { 3, 12 };
    g_autoptr (SsTensor) y2 = ss_op_embedding (table, host_bad, 1, (gint64[]) { 2 }, &error);
    g_assert_error (error, SS_ERROR, SS_ERROR_INVALID_DATA);
    g_assert_null (y2);
  }
}

/* ================================================================ rope */

typedef struct {
  int seq_dim, rot_dim;
  float base;
  gboolean interleaved;
  const float *pos;
} RopeCtx;

static SsTensor *
rope_fwd (void *ctx, SsTensor *const *in, GError **error)
{
  RopeCtx *c = ctx;
  return ss_op_rope (in[0], c->seq_dim, c->rot_dim, c->base, c->interleaved, c->pos, error);
}

static void
test_rope (gconstpointer data)
{
  SsDType dt = DT (data);
  SKIP_UNLESS_DTYPE (dt);
  static const float posf[9] = { 0, 5, 17, 18, 40, 41, 100, 250, 3 };
  double posd[9];
  for (int i = 0; i < 9; i++)
    posd[i] = posf[i];
  for (int variant = 0; variant < 4; variant++)
    {
      gboolean il = variant & 1, bhld = variant < 2;
      RopeCtx c = { bhld ? 2 : 1, bhld ? 8 : 16, 10000, il, variant == 3 ? posf : NULL };
      g_autofree char *name = g_strdup_printf ("rope %s %s%s", il ? "interleaved" : "half-split",
                                               bhld ? "[B,H,L,D] partial" : "[B,L,H,D]",
                                               c.pos ? " positions" : "");
      SsOpTest t = { .name = name, .dtype = dt, .n_in = 1, .fwd = rope_fwd, .ctx = &c,
                     .grad = { TRUE }, .fd_checks = 4 };
      gint64 shape[4] = { 2, bhld ? 3 : 9, bhld ? 9 : 3, bhld ? 10 : 16 };
      set_shape (&t, 0, 4, shape);
      size_t n = ss_optest_numel (&t, 0);
      t.x[0] = rnd (n, -1, 1);
      ss_optest_prepare (&t, n, &rng);
      SsRefRope p = { .outer = bhld ? 6 : 2, .len = 9, .heads = bhld ? 1 : 3, .dim = shape[3],
                      .rot_dim = c.rot_dim, .base = c.base, .interleaved = il,
                      .pos = c.pos ? posd : NULL };
      ss_ref_rope (&p, t.x[0], t.ref_y);
      ss_ref_rope_backward (&p, t.w, t.ref_dx[0]);
      t.tol_y = t.tol_dx = 10;   /* fp32 cos/sin tables */
      ss_optest_run (&t, &rng);
      ss_optest_clear (&t);
    }
}

/* ================================================================ interpolation */

typedef struct {
  int n_size;
  gint64 size[2];
  SsInterpMode mode;
  gboolean align;
} InterpCtx;

static SsTensor *
interp_fwd (void *ctx, SsTensor *const *in, GError **error)
{
  InterpCtx *c = ctx;
  return ss_op_interpolate (in[0], c->n_size, c->size, c->mode, c->align, error);
}

static void
test_interp (gconstpointer data)
{
  SsDType dt = DT (data);
  SKIP_UNLESS_DTYPE (dt);
  static const struct { int n_size; gint64 in[2], out[2]; } cases[] = {
    { 1, { 1, 7 }, { 1, 13 } }, { 1, { 1, 7 }, { 1, 4 } }, { 1, { 1, 5 }, { 1, 20 } },
    { 2, { 5, 6 }, { 9, 4 } }, { 2, { 4, 4 }, { 8, 8 } }, { 2, { 6, 9 }, { 3, 2 } },
    /* audio-length 1-D resampling: index products past 2^32 */
    { 1, { 1, 48000 }, { 1, 160001 } },
    /* integer factors on rows of whole 4-element units (nearest: ops_upsample;
     * 16-bit dtypes with odd width factors take 8-byte stores), then
     * non-integer factors on such rows and a factor over 8 */
    { 2, { 3, 8 }, { 6, 24 } }, { 2, { 2, 4 }, { 6, 4 } }, { 1, { 1, 8 }, { 1, 16 } },
    { 2, { 3, 12 }, { 12, 96 } }, { 1, { 1, 12 }, { 1, 12 } },
    { 2, { 4, 8 }, { 6, 12 } }, { 1, { 1, 4 }, { 1, 36 } },
  };
  for (int mode = 0; mode < 3; mode++)
    for (guint k = 0; k < G_N_ELEMENTS (cases); k++)
      {
        InterpCtx c = { cases[k].n_size, { 0, 0 }, mode ? SS_INTERP_LINEAR : SS_INTERP_NEAREST,
                        mode == 2 };
        gint64 ih = cases[k].in[0], iw = cases[k].in[1], oh = cases[k].out[0], ow = cases[k].out[1];
        if (c.n_size == 1)
          c.size[0] = ow;
        else
          {
            c.size[0] = oh;
            c.size[1] = ow;
          }
        g_autofree char *name = g_strdup_printf ("interpolate %s %dd case %u",
                                                 mode == 0 ? "nearest" : mode == 1 ? "linear" : "linear align",
                                                 c.n_size, k);
        SsOpTest t = { .name = name, .dtype = dt, .n_in = 1, .fwd = interp_fwd, .ctx = &c,
                       .grad = { TRUE }, .fd_checks = 4 };
        gboolean big = iw > 1000;
        if (big && (mode == 2 || dt != SS_DTYPE_F32))
          continue;   /* one precision case is enough */
        if (c.n_size == 1)
          set_shape (&t, 0, 3, (gint64[]) { big ? 1 : 2, big ? 1 : 3, iw });
        else
          set_shape (&t, 0, 4, (gint64[]) { 2, 3, ih, iw });
        t.x[0] = rnd (ss_optest_numel (&t, 0), -1, 1);
        int nc = big ? 1 : 6;
        ss_optest_prepare (&t, (size_t) nc * oh * ow, &rng);
        ss_ref_interp (mode ? SS_REF_INTERP_LINEAR : SS_REF_INTERP_NEAREST, c.align, t.x[0],
                       t.ref_y, nc, ih, iw, oh, ow);
        ss_ref_interp_backward (mode ? SS_REF_INTERP_LINEAR : SS_REF_INTERP_NEAREST, c.align,
                                t.w, t.ref_dx[0], nc, ih, iw, oh, ow);
        ss_optest_run (&t, &rng);
        ss_optest_clear (&t);
      }
}

/* ================================================================ losses */

static SsTensor *
mse_fwd (void *ctx, SsTensor *const *in, GError **error)
{
  return ss_op_mse_loss (in[0], in[1], error);
}

typedef struct {
  const gint32 *targets;
  int ignore;
  float smoothing;
} CeCtx;

static SsTensor *
ce_fwd (void *ctx, SsTensor *const *in, GError **error)
{
  CeCtx *c = ctx;
  return ss_op_cross_entropy (in[0], c->targets, c->ignore, c->smoothing, error);
}

typedef struct {
  float temp;
  gboolean normalize, learned;
} NceCtx;

static SsTensor *
nce_fwd (void *ctx, SsTensor *const *in, GError **error)
{
  NceCtx *c = ctx;
  return ss_op_infonce (in[0], in[1], c->temp, c->learned ? in[2] : NULL, c->normalize, error);
}

static void
test_losses (gconstpointer data)
{
  SsDType dt = DT (data);
  SKIP_UNLESS_DTYPE (dt);
  /* one chunk; several chunks of the fused kernel (16384 elements each) */
  for (int big = 0; big < 2; big++)
    {
      gint64 r = big ? 129 : 6, c = big ? 300 : 33;
      size_t n = r * c;
      SsOpTest t = { .name = big ? "mse_loss (3 chunks)" : "mse_loss", .dtype = dt, .n_in = 2, .fwd = mse_fwd,
                     .grad = { TRUE, TRUE }, .fd_checks = big ? 0 : 4, .tol_y = 10, .tol_dx = 10 };
      /* (finite differences of a mean over 38 700 elements are below fp32 resolution) */
      set_shape (&t, 0, 2, (gint64[]) { r, c });
      set_shape (&t, 1, 2, (gint64[]) { r, c });
      t.x[0] = rnd (n, -1, 1);
      t.x[1] = rnd (n, -1, 1);
      /* over 38 700 elements the f16 gradient, 2 w (x - t) / n, lies in the
       * subnormal range, whose steps (6e-8) exceed the threshold whenever the
       * random w is small (as for the mean in test_reduce); f32 and bf16 check it */
      if (big && dt == SS_DTYPE_F16)
        t.grad[0] = t.grad[1] = FALSE;
      ss_optest_prepare (&t, 1, &rng);
      t.ref_y[0] = ss_ref_mse_loss (t.x[0], t.x[1], n);
      ss_ref_mse_loss_backward (t.x[0], t.x[1], n, t.w[0], t.ref_dx[0], t.ref_dx[1]);
      ss_optest_run (&t, &rng);
      ss_optest_clear (&t);
    }
  for (int variant = 0; variant < 3; variant++)
    {
      int rows = variant == 2 ? 3 : 9, classes = variant == 2 ? 1000 : 13;
      g_autofree gint32 *tg = g_new (gint32, rows);
      for (int r = 0; r < rows; r++)
        tg[r] = ss_rng_int (&rng, 0, classes - 1);
      if (variant == 1)
        tg[4] = -100;
      CeCtx c = { tg, -100, variant == 1 ? 0.1f : 0.0f };
      g_autofree char *name = g_strdup_printf ("cross_entropy case %d", variant);
      /* (no finite differences for 1000 classes: gradients of 1e-5 drown in
       * the fp32 noise of the loss; the reference comparison covers them) */
      SsOpTest t = { .name = name, .dtype = dt, .n_in = 1, .fwd = ce_fwd, .ctx = &c,
                     .grad = { TRUE }, .fd_checks = variant == 2 ? 0 : 4, .fd_eps = 3e-2 };
      set_shape (&t, 0, 2, (gint64[]) { rows, classes });
      t.x[0] = rnd ((size_t) rows * classes, -3, 3);
      ss_optest_prepare (&t, 1, &rng);
      t.ref_y[0] = ss_ref_cross_entropy (t.x[0], tg, rows, classes, -100, c.smoothing);
      ss_ref_cross_entropy_backward (t.x[0], tg, rows, classes, -100, c.smoothing, t.w[0], t.ref_dx[0]);
      ss_optest_run (&t, &rng);
      ss_optest_clear (&t);
    }
  for (int variant = 0; variant < 3; variant++)
    {
      NceCtx c = { 0.2f, variant != 1, variant == 2 };
      g_autofree char *name = g_strdup_printf ("infonce %s%s", c.normalize ? "normalized" : "raw",
                                               c.learned ? " learned temperature" : "");
      SsOpTest t = { .name = name, .dtype = dt, .n_in = c.learned ? 3 : 2, .fwd = nce_fwd, .ctx = &c,
                     .grad = { TRUE, TRUE, TRUE }, .fd_checks = 4, .fd_eps = 4e-3,
                     .tol_y = 20, .tol_dx = 20 };   /* small eps: 1/temperature curves fast */
      set_shape (&t, 0, 2, (gint64[]) { 6, 16 });
      set_shape (&t, 1, 2, (gint64[]) { 6, 16 });
      t.x[0] = rnd (96, -0.5, 0.5);
      t.x[1] = rnd (96, -0.5, 0.5);
      /* the temperature gradient is a sum of O(1) terms that nearly cancel:
       * checked in f32 only */
      t.grad[2] = dt == SS_DTYPE_F32;
      if (c.learned)
        {
          set_shape (&t, 2, 1, (gint64[]) { 1 });
          t.x[2] = g_new (double, 1);
          t.x[2][0] = 0.25;
        }
      ss_optest_prepare (&t, 1, &rng);
      double temp = c.learned ? t.x[2][0] : c.temp;
      t.ref_y[0] = ss_ref_infonce (t.x[0], t.x[1], 6, 16, temp, c.normalize);
      ss_ref_infonce_backward (t.x[0], t.x[1], 6, 16, temp, c.normalize, t.w[0], t.ref_dx[0],
                               t.ref_dx[1], c.learned ? t.ref_dx[2] : NULL);
      ss_optest_run (&t, &rng);
      ss_optest_clear (&t);
    }
}

/* ================================================================ random shapes */

static int
ri (int lo, int hi)
{
  return ss_rng_int (&rng, lo, hi);
}

/* Random shapes (from the seed; SS_TEST_SEED varies them) for the ops whose
 * behaviour depends most on the shape: broadcasting, reductions, softmax,
 * norms, concat, gather, rope and interpolation. */
static void
test_random_shapes (gconstpointer data)
{
  SsDType dt = DT (data);
  SKIP_UNLESS_DTYPE (dt);
  for (int iter = 0; iter < 3; iter++)
    {
      /* broadcast binary: random rank 1..5, each operand dim full or 1 */
      {
        int nd = ri (1, 5), op = ri (0, SS_BINARY_COUNT - 1);
        int sa[5], sb[5], so[5], sa4[5], sb4[5];
        for (int d = 0; d < nd; d++)
          {
            int full = ri (1, 6), mode = ri (0, 3);
            sa[d] = mode == 1 ? 1 : full;
            sb[d] = mode == 2 ? 1 : full;
          }
        BinaryCtx c = { op, FALSE };
        g_autofree char *name = g_strdup_printf ("random %s rank %d", ss_ref_binary_name (op), nd);
        SsOpTest t = { .name = name, .dtype = dt, .n_in = 2, .fwd = binary_fwd, .ctx = &c,
                       .grad = { TRUE, TRUE }, .tol_dx = 4 };
        gint64 ga[5], gb[5];
        for (int d = 0; d < nd; d++)
          {
            ga[d] = sa[d];
            gb[d] = sb[d];
          }
        set_shape (&t, 0, nd, ga);
        set_shape (&t, 1, nd, gb);
        size_t na = ss_optest_numel (&t, 0), nb = ss_optest_numel (&t, 1);
        t.x[0] = rnd (na, -1, 1);
        t.x[1] = g_new (double, nb);
        ss_check_fill_away (&rng, t.x[1], nb, 0.5, 2);
        for (int d = 0; d < 5; d++)
          {
            sa4[d] = d < 5 - nd ? 1 : sa[d - (5 - nd)];
            sb4[d] = d < 5 - nd ? 1 : sb[d - (5 - nd)];
          }
        g_assert_true (ss_ref_broadcast_shape (5, sa4, sb4, so));
        ss_optest_prepare (&t, (size_t) so[0] * so[1] * so[2] * so[3] * so[4], &rng);
        ss_ref_binary (op, 5, t.x[0], sa4, t.x[1], sb4, t.ref_y);
        ss_ref_binary_backward (op, 5, t.x[0], sa4, t.x[1], sb4, t.w, t.ref_dx[0], t.ref_dx[1]);
        ss_optest_run (&t, &rng);
        ss_optest_clear (&t);
      }
      /* reductions and softmax over a random dim of a random rank-1..4 shape */
      {
        int nd = ri (1, 4), dim = ri (0, nd - 1), op = ri (0, SS_REDUCE_COUNT - 1);
        gint64 shape[4];
        for (int d = 0; d < nd; d++)
          shape[d] = ri (1, 9);
        shape[dim] = ri (1, 300);
        int outer, inner;
        split_at_dim (nd, shape, dim, &outer, NULL, &inner);
        for (int which = 0; which < 2; which++)
          {
            ReduceCtx rc = { op, dim, ri (0, 1) };
            SoftmaxCtx sc = { ri (0, 1), dim };
            g_autofree char *name = g_strdup_printf ("random %s rank %d dim %d",
                                                     which ? (sc.log ? "log_softmax" : "softmax")
                                                           : ss_ref_reduce_name (op), nd, dim);
            SsOpTest t = { .name = name, .dtype = dt, .n_in = 1,
                           .fwd = which ? softmax_fwd : reduce_fwd, .ctx = which ? (void *) &sc : &rc,
                           .grad = { TRUE }, .tol_y = 10, .tol_dx = 10 };
            set_shape (&t, 0, nd, shape);
            size_t n = ss_optest_numel (&t, 0);
            t.x[0] = rnd (n, -3, 3);
            ss_optest_prepare (&t, which ? n : (size_t) outer * inner, &rng);
            if (!which)
              {
                ss_ref_reduce (op, t.x[0], t.ref_y, outer, shape[dim], inner);
                ss_ref_reduce_backward (op, t.x[0], t.w, t.ref_dx[0], outer, shape[dim], inner);
              }
            else if (sc.log)
              {
                ss_ref_log_softmax (t.x[0], t.ref_y, outer, shape[dim], inner);
                ss_ref_log_softmax_backward (t.ref_y, t.w, t.ref_dx[0], outer, shape[dim], inner);
              }
            else
              {
                ss_ref_softmax (t.x[0], t.ref_y, outer, shape[dim], inner);
                ss_ref_softmax_backward (t.ref_y, t.w, t.ref_dx[0], outer, shape[dim], inner);
              }
            ss_optest_run (&t, &rng);
            ss_optest_clear (&t);
          }
      }
      /* norms: random rows / channels / groups */
      {
        /* (blocks of at least 8 elements: with 2 or 3 the normalized values are
         * nearly fixed and the gradient is all cancellation) */
        int kind = ri (0, 2), groups = ri (1, 4), cg = ri (2, 5), s = ri (4, 30);
        int rows = ri (1, 20) * ri (1, 8), ch = kind == 2 ? groups * cg : ri (8, 400);
        NormCtx c = { kind, ri (0, 1), kind != 1 && ri (0, 1), groups, 1e-5f };
        g_autofree char *name = g_strdup_printf ("random norm %d (%d x %d)", kind, rows, ch);
        SsOpTest t = { .name = name, .dtype = dt, .fwd = norm_fwd, .ctx = &c, .tol_y = 4, .tol_dx = 20 };
        if (kind == 2)
          set_shape (&t, 0, 3, (gint64[]) { rows, ch, s });
        else
          set_shape (&t, 0, 2, (gint64[]) { rows, ch });
        int n_in = 1;
        if (c.w)
          set_shape (&t, n_in++, 1, (gint64[]) { ch });
        if (c.b)
          set_shape (&t, n_in++, 1, (gint64[]) { ch });
        t.n_in = n_in;
        size_t n = ss_optest_numel (&t, 0);
        t.x[0] = rnd (n, -2, 3);
        for (int i = 0; i < n_in; i++)
          t.grad[i] = TRUE;
        for (int i = 1; i < n_in; i++)
          t.x[i] = rnd (ch, 0.5, 1.5);
        ss_optest_prepare (&t, n, &rng);
        double *w = c.w ? t.x[1] : NULL, *b = c.b ? t.x[c.w ? 2 : 1] : NULL;
        double *dw = c.w ? t.ref_dx[1] : NULL, *db = c.b ? t.ref_dx[c.w ? 2 : 1] : NULL;
        if (kind == 0)
          {
            ss_ref_layer_norm (t.x[0], w, b, t.ref_y, rows, ch, c.eps);
            ss_ref_layer_norm_backward (t.x[0], w, t.w, t.ref_dx[0], dw, db, rows, ch, c.eps);
          }
        else if (kind == 1)
          {
            ss_ref_rms_norm (t.x[0], w, t.ref_y, rows, ch, c.eps);
            ss_ref_rms_norm_backward (t.x[0], w, t.w, t.ref_dx[0], dw, rows, ch, c.eps);
          }
        else
          {
            ss_ref_group_norm (t.x[0], w, b, t.ref_y, rows, ch, s, groups, c.eps);
            ss_ref_group_norm_backward (t.x[0], w, t.w, t.ref_dx[0], dw, db, rows, ch, s, groups, c.eps);
          }
        ss_optest_run (&t, &rng);
        ss_optest_clear (&t);
      }
      /* gather along a random dim with random indices */
      {
        int nd = ri (1, 3), dim = ri (0, nd - 1), m = ri (1, 12);
        gint64 shape[3];
        for (int d = 0; d < nd; d++)
          shape[d] = ri (1, 7);
        int outer, inner;
        split_at_dim (nd, shape, dim, &outer, NULL, &inner);
        g_autofree gint32 *idx = g_new (gint32, m);
        for (int i = 0; i < m; i++)
          idx[i] = ri (0, shape[dim] - 1);
        GatherCtx c = { FALSE, dim, idx, m };
        SsOpTest t = { .name = "random index_select", .dtype = dt, .n_in = 1, .fwd = gather_fwd,
                       .ctx = &c, .grad = { TRUE } };
        set_shape (&t, 0, nd, shape);
        t.x[0] = rnd (ss_optest_numel (&t, 0), -1, 1);
        ss_optest_prepare (&t, (size_t) outer * m * inner, &rng);
        ss_ref_gather (t.x[0], idx, t.ref_y, outer, shape[dim], inner, m);
        ss_ref_gather_backward (idx, t.w, t.ref_dx[0], outer, shape[dim], inner, m);
        ss_optest_run (&t, &rng);
        ss_optest_clear (&t);
      }
      /* rope: random heads / length / rotated dims */
      {
        int b = ri (1, 3), len = ri (1, 40), heads = ri (1, 4), dim = 2 * ri (1, 12);
        RopeCtx c = { 1, 2 * ri (1, dim / 2), 10000, ri (0, 1), NULL };
        SsOpTest t = { .name = "random rope", .dtype = dt, .n_in = 1, .fwd = rope_fwd, .ctx = &c,
                       .grad = { TRUE }, .tol_y = 10, .tol_dx = 10 };
        set_shape (&t, 0, 4, (gint64[]) { b, len, heads, dim });
        size_t n = ss_optest_numel (&t, 0);
        t.x[0] = rnd (n, -1, 1);
        ss_optest_prepare (&t, n, &rng);
        SsRefRope p = { b, len, heads, dim, c.rot_dim, c.base, c.interleaved, NULL };
        ss_ref_rope (&p, t.x[0], t.ref_y);
        ss_ref_rope_backward (&p, t.w, t.ref_dx[0]);
        ss_optest_run (&t, &rng);
        ss_optest_clear (&t);
      }
      /* interpolation: random sizes and mode */
      {
        int mode = ri (0, 2), two = ri (0, 1);
        int ih = two ? ri (1, 9) : 1, iw = ri (1, 12), oh = two ? ri (1, 15) : 1, ow = ri (1, 20);
        InterpCtx c = { two ? 2 : 1, { two ? oh : ow, ow }, mode ? SS_INTERP_LINEAR : SS_INTERP_NEAREST,
                        mode == 2 };
        g_autofree char *name = g_strdup_printf ("random interpolate mode %d %dx%d -> %dx%d",
                                                 mode, ih, iw, oh, ow);
        SsOpTest t = { .name = name, .dtype = dt, .n_in = 1, .fwd = interp_fwd, .ctx = &c,
                       .grad = { TRUE }, .tol_dx = 4 };
        if (two)
          set_shape (&t, 0, 4, (gint64[]) { 1, 2, ih, iw });
        else
          set_shape (&t, 0, 3, (gint64[]) { 1, 2, iw });
        t.x[0] = rnd (ss_optest_numel (&t, 0), -1, 1);
        ss_optest_prepare (&t, (size_t) 2 * oh * ow, &rng);
        ss_ref_interp (mode ? SS_REF_INTERP_LINEAR : SS_REF_INTERP_NEAREST, c.align, t.x[0],
                       t.ref_y, 2, ih, iw, oh, ow);
        ss_ref_interp_backward (mode ? SS_REF_INTERP_LINEAR : SS_REF_INTERP_NEAREST, c.align,
                                t.w, t.ref_dx[0], 2, ih, iw, oh, ow);
        ss_optest_run (&t, &rng);
        ss_optest_clear (&t);
      }
    }
}

/* ================================================================ views and shared inputs */

static SsTensor *
view_softmax_fwd (void *ctx, SsTensor *const *in, GError **error)
{
  /* softmax over the first dim of x, through a transposed (strided) view */
  g_autoptr (SsTensor) t = ss_tensor_transpose (in[0], 0, 1, error);
  return t ? ss_op_softmax (t, -1, error) : NULL;
}

static SsTensor *
view_norm_fwd (void *ctx, SsTensor *const *in, GError **error)
{
  /* layer norm of a column slice (offset, strided rows) */
  g_autoptr (SsTensor) v = ss_tensor_slice (in[0], 1, 3, 11, error);
  return v ? ss_op_layer_norm (v, in[1], NULL, 1e-5f, error) : NULL;
}

static SsTensor *
square_by_mul_fwd (void *ctx, SsTensor *const *in, GError **error)
{
  return ss_op_mul (in[0], in[0], error);   /* one tensor as both inputs */
}

static void
test_views (gconstpointer data)
{
  SsDType dt = DT (data);
  SKIP_UNLESS_DTYPE (dt);
  {
    SsOpTest t = { .name = "softmax of a transposed view", .dtype = dt, .n_in = 1,
                   .fwd = view_softmax_fwd, .grad = { TRUE }, .fd_checks = 4 };
    set_shape (&t, 0, 2, (gint64[]) { 7, 5 });
    t.x[0] = rnd (35, -2, 2);
    ss_optest_prepare (&t, 35, &rng);
    /* x [7, 5] -> y [5, 7] = softmax over the 7 rows of each column */
    g_autofree double *xt = g_new (double, 35), *dxt = g_new0 (double, 35);
    int sx[2] = { 7, 5 }, perm[2] = { 1, 0 };
    ss_ref_permute (t.x[0], xt, 2, sx, perm);
    ss_ref_softmax (xt, t.ref_y, 5, 7, 1);
    ss_ref_softmax_backward (t.ref_y, t.w, dxt, 5, 7, 1);
    ss_ref_permute_backward (dxt, t.ref_dx[0], 2, sx, perm);
    ss_optest_run (&t, &rng);
    ss_optest_clear (&t);
  }
  {
    SsOpTest t = { .name = "layer norm of a sliced view", .dtype = dt, .n_in = 2,
                   .fwd = view_norm_fwd, .grad = { TRUE, TRUE }, .fd_checks = 4, .tol_dx = 10 };
    set_shape (&t, 0, 2, (gint64[]) { 4, 16 });
    set_shape (&t, 1, 1, (gint64[]) { 8 });
    t.x[0] = rnd (64, -2, 2);
    t.x[1] = rnd (8, 0.5, 1.5);
    ss_optest_prepare (&t, 32, &rng);
    g_autofree double *v = g_new (double, 32), *dv = g_new0 (double, 32);
    ss_ref_slice (t.x[0], v, 4, 16, 1, 3, 8, 1);
    ss_ref_layer_norm (v, t.x[1], NULL, t.ref_y, 4, 8, 1e-5);
    ss_ref_layer_norm_backward (v, t.x[1], t.w, dv, t.ref_dx[1], NULL, 4, 8, 1e-5);
    ss_ref_slice_backward (dv, t.ref_dx[0], 4, 16, 1, 3, 8, 1);
    ss_optest_run (&t, &rng);
    ss_optest_clear (&t);
  }
  {
    SsOpTest t = { .name = "mul (x, x)", .dtype = dt, .n_in = 1, .fwd = square_by_mul_fwd,
                   .grad = { TRUE }, .fd_checks = 4 };
    set_shape (&t, 0, 1, (gint64[]) { 50 });
    t.x[0] = rnd (50, -2, 2);
    ss_optest_prepare (&t, 50, &rng);
    for (int i = 0; i < 50; i++)
      {
        t.ref_y[i] = t.x[0][i] * t.x[0][i];
        t.ref_dx[0][i] = 2 * t.x[0][i] * t.w[i];   /* both inputs' gradients add up */
      }
    ss_optest_run (&t, &rng);
    ss_optest_clear (&t);
  }
}

/* ================================================================ errors */

static void
test_errors (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (SsTensor) a = ss_tensor_zeros (SS_DTYPE_F32, 2, SS_SHAPE (2, 3), &error);
  g_assert_no_error (error);
  g_autoptr (SsTensor) b = ss_tensor_zeros (SS_DTYPE_F32, 2, SS_SHAPE (3, 2), &error);
  g_assert_no_error (error);
  g_autoptr (SsTensor) y = ss_op_add (a, b, &error);
  g_assert_null (y);
  g_assert_error (error, SS_ERROR, SS_ERROR_INVALID_DATA);
  g_clear_error (&error);

  gint32 bad[] = { 0, 2 };
  g_autoptr (SsTensor) g = ss_op_index_select (a, 0, bad, 2, &error);
  g_assert_null (g);
  g_assert_error (error, SS_ERROR, SS_ERROR_INVALID_DATA);
  g_clear_error (&error);

  gint32 tg[] = { 1, 3 };
  g_autoptr (SsTensor) ce = ss_op_cross_entropy (a, tg, -100, 0, &error);
  g_assert_null (ce);
  g_assert_error (error, SS_ERROR, SS_ERROR_INVALID_DATA);
  g_clear_error (&error);

  g_autoptr (SsTensor) gn = ss_op_group_norm (b, 4, NULL, NULL, 1e-5f, &error);
  g_assert_null (gn);
  g_assert_error (error, SS_ERROR, SS_ERROR_INVALID_DATA);
  g_clear_error (&error);

  g_autoptr (SsTensor) r = ss_op_rope (a, 0, 3, 10000, FALSE, NULL, &error);
  g_assert_null (r);
  g_assert_error (error, SS_ERROR, SS_ERROR_INVALID_DATA);
  g_clear_error (&error);
}

/* NaN inputs must come out as NaN (never silently pass a comparison) */
static void
test_nan_propagates (void)
{
  g_autoptr (GError) error = NULL;
  float x[4] = { 1, NAN, 2, 3 };
  g_autoptr (SsTensor) t = ss_tensor_new_from_floats (SS_DTYPE_F32, 2, SS_SHAPE (1, 4), x, &error);
  g_assert_no_error (error);
  g_autoptr (SsTensor) s = ss_op_softmax (t, -1, &error);
  g_assert_no_error (error);
  g_autoptr (SsTensor) n = ss_op_layer_norm (t, NULL, NULL, 1e-5f, &error);
  g_assert_no_error (error);
  g_autofree double *sd = ss_optest_download (s);
  g_autofree double *nd = ss_optest_download (n);
  double ref[4] = { 0.25, 0.25, 0.25, 0.25 };
  g_assert_false (ss_check_close ("softmax of NaN", ref, sd, 4, 1e3));
  g_assert_false (ss_check_close ("layer_norm of NaN", ref, nd, 4, 1e3));
}

int
main (int argc, char **argv)
{
  g_setenv ("SOUNDSTAGE_POISON", "1", TRUE);
  g_test_init (&argc, &argv, NULL);
  ss_rng_init (&rng, ss_check_seed (20261124));

  g_autoptr (GError) error = NULL;
  SsGpuDevice *dev = ss_gpu_device_get_default (&error);
  if (!dev)
    {
      g_test_message ("no Vulkan device: %s", error->message);
      return 77;
    }
  g_test_message ("device: %s", ss_gpu_device_get_caps (dev)->name);

  static const struct { const char *name; GTestDataFunc fn; } tests[] = {
    { "unary", test_unary }, { "binary", test_binary },
    { "binary-rows", test_binary_rows }, { "reduce", test_reduce },
    { "reduce-views", test_reduce_views },
    { "softmax", test_softmax }, { "norms", test_norms }, { "l2-normalize", test_l2_normalize },
    { "concat", test_concat }, { "concat-units", test_concat_units },
    { "concat-pieces", test_concat_pieces },
    { "slice-permute", test_slice_permute }, { "slice-step", test_slice_step }, { "gather", test_gather }, { "rope", test_rope },
    { "interpolate", test_interp }, { "losses", test_losses },
    { "random-shapes", test_random_shapes }, { "views", test_views },
  };
  for (guint i = 0; i < G_N_ELEMENTS (tests); i++)
    for (guint d = 0; d < G_N_ELEMENTS (dtypes); d++)
      {
        g_autofree char *path = g_strdup_printf ("/ops/%s/%s", tests[i].name, ss_dtype_name (dtypes[d]));
        g_test_add_data_func (path, GINT_TO_POINTER (dtypes[d]), tests[i].fn);
      }
  g_test_add_func ("/ops/errors", test_errors);
  g_test_add_func ("/ops/nan", test_nan_propagates);
  int rc = g_test_run ();
  ss_gpu_device_shutdown ();
  return rc;
}
