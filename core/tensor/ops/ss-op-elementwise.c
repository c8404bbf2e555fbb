/* ss-op-elementwise.c: unary elementwise ops and binary ops with broadcasting. */
#define G_LOG_DOMAIN "ss-ops"

#include "config.h"
#include "tensor/ops/ss-ops-private.h"

#include <string.h>

/* ---------------------------------------------------------------- unary */

typedef struct {
  SsUnaryOp op;
  float a, b;
} UnaryData;

static gboolean
unary_run (SsTensor *x, SsTensor *dy, SsTensor *y, SsUnaryOp op, float a, float b,
           GError **error)
{
  gint64 n = ss_tensor_numel (y);
  struct { guint32 n, x_off, dy_off, y_off; float a, b; } p = {
    n, x->offset, dy ? dy->offset : 0, y->offset, a, b
  };
  /* groups of 4 as one load / store where every offset and n allow it */
  guint32 vec = n % 4 == 0 && p.x_off % 4 == 0 && p.dy_off % 4 == 0 && p.y_off % 4 == 0;
  guint32 spec[3] = { op, dy != NULL, vec };
  SsGpuBinding bind[3] = {
    ss_tensor_binding (x, SS_GPU_READ),
    ss_tensor_binding (dy ? dy : x, SS_GPU_READ),
    ss_tensor_binding (y, SS_GPU_WRITE),
  };
  return ss_ops_dispatch (y->device, "ops_unary", y->dtype, spec, 3, bind, 3, &p, sizeof p,
                          vec ? (n + 4095) / 4096 : (n + 2047) / 2048, error);   /* 256 x 8 elements (4 groups of 4) */
}

static gboolean
unary_backward (SsAutogradNode *node, SsTensor *grad, SsTensor **gi, GError **error)
{
  UnaryData *ud = ss_autograd_node_get_data (node);
  SsTensor *x = ss_autograd_node_saved (node, 0);
  g_autoptr (SsTensor) g = ss_ops_contig (grad, error);
  SS_OPS_TRY (g);
  g_autoptr (SsTensor) dx = ss_tensor_new_like (x, error);
  SS_OPS_TRY (dx);
  SS_OPS_TRY (unary_run (x, g, dx, ud->op, ud->a, ud->b, error));
  gi[0] = g_steal_pointer (&dx);
  return TRUE;
}

SsTensor *
ss_op_unary (SsTensor *x, SsUnaryOp op, float a, float b, GError **error)
{
  g_return_val_if_fail (x != NULL, NULL);
  g_return_val_if_fail (op < SS_UNARY_COUNT, NULL);
  g_autoptr (SsTensor) xc = ss_ops_contig (x, error);
  if (!xc)
    return NULL;
  g_autoptr (SsTensor) y = ss_tensor_new_like (xc, error);
  if (!y || !unary_run (xc, NULL, y, op, a, b, error))
    return NULL;
  static const char *names[SS_UNARY_COUNT] = {
    "gelu", "gelu_tanh", "silu", "scale", "exp", "log", "sqrt", "rsqrt", "square",
    "neg", "tanh", "sigmoid", "relu", "pow", "recip",
  };
  SsAutogradNode *node = ss_ops_record (y, names[op], unary_backward, 1, &x);
  if (node)
    {
      UnaryData *ud = g_new (UnaryData, 1);
      *ud = (UnaryData) { op, a, b };
      ss_autograd_node_set_data (node, ud, g_free);
      ss_ops_save_detached (node, xc);
    }
  return g_steal_pointer (&y);
}

SsTensor *
ss_op_gelu (SsTensor *x, gboolean tanh_approx, GError **error)
{
  return ss_op_unary (x, tanh_approx ? SS_UNARY_GELU_TANH : SS_UNARY_GELU_ERF, 0, 0, error);
}

SsTensor *
ss_op_silu (SsTensor *x, GError **error)
{
  return ss_op_unary (x, SS_UNARY_SILU, 0, 0, error);
}

SsTensor *
ss_op_scale (SsTensor *x, float a, float b, GError **error)
{
  return ss_op_unary (x, SS_UNARY_AFFINE, a, b, error);
}

/* ---------------------------------------------------------------- binary */

typedef struct {
  guint32 n, ndim, a_off, b_off, y_off;
  guint32 shape[5];
  guint32 a_stride[5];
  guint32 b_stride[5];
  guint32 magic[5], shift[5];   /* ss_fastdiv_magic of shape[] (forward kernel) */
} BinaryPush;

/* Right-aligns t to ndim dims: aligned shape (1 on missing dims) and strides
 * (0 on missing and broadcast dims). */
static void
align_operand (SsTensor *t, int ndim, const gint64 *out_shape, gint64 *shape, guint32 *stride)
{
  int lead = ndim - t->ndim;
  for (int d = 0; d < ndim; d++)
    {
      if (d < lead)
        {
          shape[d] = 1;
          stride[d] = 0;
          continue;
        }
      shape[d] = t->shape[d - lead];
      stride[d] = (shape[d] == 1 && out_shape[d] != 1) || shape[d] == 1 ? 0 : (guint32) t->strides[d - lead];
    }
}

static gboolean
broadcast_shape (SsTensor *a, SsTensor *b, int *ndim, gint64 *shape, GError **error)
{
  int nd = MAX (a->ndim, b->ndim);
  for (int d = 0; d < nd; d++)
    {
      int da = d - (nd - a->ndim), db = d - (nd - b->ndim);
      gint64 sa = da >= 0 ? a->shape[da] : 1, sb = db >= 0 ? b->shape[db] : 1;
      if (sa != sb && sa != 1 && sb != 1)
        {
          g_autofree char *x = ss_tensor_describe (a), *y = ss_tensor_describe (b);
          g_set_error (error, SS_ERROR, SS_ERROR_INVALID_DATA,
                       "elementwise op: shapes %s and %s do not broadcast", x, y);
          return FALSE;
        }
      shape[d] = MAX (sa, sb);
    }
  *ndim = nd;
  return TRUE;
}

static void
binary_push (SsTensor *a, SsTensor *b, int nd, const gint64 *shape, BinaryPush *p,
             gint64 *sa, gint64 *sb)
{
  memset (p, 0, sizeof *p);
  p->ndim = nd;
  p->a_off = a->offset;
  p->b_off = b->offset;
  gint64 n = 1;
  for (int d = 0; d < nd; d++)
    {
      p->shape[d] = shape[d];
      n *= shape[d];
    }
  p->n = n;
  align_operand (a, nd, shape, sa, p->a_stride);
  align_operand (b, nd, shape, sb, p->b_stride);
}

/* Drops size-1 dims and merges neighbouring dims that are contiguous in the
 * output and in both operands (or broadcast in both), so same-shape and
 * row-broadcast cases index with one or two dims. */
static void
collapse_dims (BinaryPush *p)
{
  guint32 sh[5], as[5], bs[5];
  int n = 0;
  for (guint d = 0; d < p->ndim; d++)
    {
      if (p->shape[d] == 1)
        continue;
      if (n > 0 && as[n - 1] == p->a_stride[d] * p->shape[d]
          && bs[n - 1] == p->b_stride[d] * p->shape[d])
        {
          sh[n - 1] *= p->shape[d];
          as[n - 1] = p->a_stride[d];
          bs[n - 1] = p->b_stride[d];
          continue;
        }
      sh[n] = p->shape[d];
      as[n] = p->a_stride[d];
      bs[n] = p->b_stride[d];
      n++;
    }
  if (n == 0)
    {
      sh[0] = 1;
      as[0] = bs[0] = 0;
      n = 1;
    }
  memset (p->shape, 0, sizeof p->shape);
  memset (p->a_stride, 0, sizeof p->a_stride);
  memset (p->b_stride, 0, sizeof p->b_stride);
  for (int d = 0; d < n; d++)
    {
      p->shape[d] = sh[d];
      p->a_stride[d] = as[d];
      p->b_stride[d] = bs[d];
    }
  p->ndim = n;
  for (int d = 0; d < n; d++)
    ss_fastdiv_magic (MAX (p->shape[d], 1), &p->magic[d], &p->shift[d]);
}

/* The forward kernel's VEC mode (ops_binary.comp): groups of 4 along the
 * innermost (collapsed) dim when the output and every operand that steps
 * through the group start each group at a multiple of 4 elements. */
static guint32
binary_vec_mode (const BinaryPush *p)
{
  guint last = p->ndim - 1;
  if (p->shape[last] % 4 != 0 || p->y_off % 4 != 0)
    return 0;
  gboolean vec[2];
  const guint32 *strides[2] = { p->a_stride, p->b_stride };
  const guint32 offs[2] = { p->a_off, p->b_off };
  for (int o = 0; o < 2; o++)
    {
      if (strides[o][last] > 1)
        return 0;
      vec[o] = strides[o][last] == 1;
      if (vec[o])
        {
          if (offs[o] % 4 != 0)
            return 0;
          for (guint d = 0; d < last; d++)
            if (strides[o][d] % 4 != 0)
              return 0;
        }
    }
  return vec[0] && vec[1] ? 1 : vec[0] ? 2 : vec[1] ? 3 : 0;
}

/* ops_binary_rows.comp: the collapsed output is rows of whole 16-byte units
 * (4 elements of f32, 8 of a 16-bit dtype) and each operand is either
 * contiguous like the output or one row broadcast over the rows (a bias), or
 * over the rows of its group (collapsed [G, R, C] against an operand [G, 1, C]),
 * all starting at whole units. Dispatches it and returns TRUE in *done, or
 * leaves *done FALSE for the general kernel. */
static gboolean
binary_rows_run (const BinaryPush *p, SsTensor *a, SsTensor *b, SsTensor *y, SsBinaryOp op,
                 gboolean *done, GError **error)
{
  *done = FALSE;
  guint32 ue = y->dtype == SS_DTYPE_F32 ? 4 : 8;
  guint last = p->ndim - 1;
  guint32 cols = p->shape[last];
  if (p->n == 0 || p->ndim > 3 || cols % ue != 0 || p->y_off % ue != 0 || p->a_off % ue != 0
      || p->b_off % ue != 0)
    return TRUE;
  /* rows per group: all rows when ndim <= 2 */
  guint32 rpg = p->ndim == 3 ? p->shape[1] : p->n / cols;
  guint32 row[2];
  const guint32 *strides[2] = { p->a_stride, p->b_stride };
  for (int o = 0; o < 2; o++)
    {
      if (strides[o][last] != 1)
        return TRUE;
      if (p->ndim == 2)
        {
          row[o] = strides[o][0] == 0;
          if (!row[o] && strides[o][0] != cols)
            return TRUE;
        }
      else if (p->ndim == 3)
        {
          row[o] = strides[o][1] == 0;
          if (row[o] ? strides[o][0] != cols : strides[o][1] != cols || strides[o][0] != rpg * cols)
            return TRUE;
        }
      else
        row[o] = 0;
    }
  struct { guint32 units, cols, step, magic, shift, a_off, b_off, y_off, rpg_magic, rpg_shift; } q = {
    p->n / ue, cols / ue, 256 % (cols / ue), 0, 0, p->a_off / ue, p->b_off / ue, p->y_off / ue, 0, 0
  };
  ss_fastdiv_magic (q.cols, &q.magic, &q.shift);
  ss_fastdiv_magic (MAX (rpg, 1), &q.rpg_magic, &q.rpg_shift);
  guint32 spec[4] = { op, row[0], row[1], p->ndim == 3 };
  SsGpuBinding bind[3] = {
    ss_tensor_binding (a, SS_GPU_READ), ss_tensor_binding (b, SS_GPU_READ),
    ss_tensor_binding (y, SS_GPU_WRITE),
  };
  *done = TRUE;
  return ss_ops_dispatch (y->device, "ops_binary_rows", y->dtype, spec, 4, bind, 3, &q, sizeof q,
                          (q.units + 1023) / 1024, error);   /* 256 threads x 4 units */
}

typedef struct {
  SsBinaryOp op;
} BinaryData;

/* When the broadcast dims of the target form one block of neighbouring dims,
 * the gradient is the elementwise term reduced over the middle of
 * (outer, n, inner): computed with full-size elementwise ops and the
 * coalesced reduction kernel. Returns (SsTensor *) 1 when not applicable. */
static SsTensor *
block_reduce_grad (SsTensor *a, SsTensor *b, SsTensor *g, SsBinaryOp op, int which,
                   const gint64 *ts, SsTensor *target, GError **error)
{
  int nd = g->ndim, first = -1, last = -1;
  for (int d = 0; d < nd; d++)
    if (ts[d] == 1 && g->shape[d] > 1)
      {
        if (first < 0)
          first = d;
        else
          for (int k = last + 1; k < d; k++)
            if (g->shape[k] > 1)
              return (SsTensor *) 1;   /* a kept dim between reduced dims */
        last = d;
      }
  if (first < 0)
    return (SsTensor *) 1;
  gint64 outer = 1, n = 1, inner = 1;
  for (int d = 0; d < nd; d++)
    {
      if (d < first)
        outer *= g->shape[d];
      else if (d <= last)
        n *= g->shape[d];
      else
        inner *= g->shape[d];
    }
  /* a product whose other operand has the output's shape: one fused kernel
   * multiplies and sums in fp32 (ops_mulsum.comp) */
  SsTensor *full = which ? a : b;
  if (op == SS_BINARY_MUL && ss_tensor_same_shape (full, g) && full->dtype == g->dtype)
    {
      g_autoptr (SsTensor) gc = ss_ops_contig (g, error);
      g_autoptr (SsTensor) zc = gc ? ss_ops_contig (full, error) : NULL;
      if (!zc)
        return NULL;
      g_autoptr (SsTensor) r = ss_tensor_new (g->dtype, 1, (gint64[]) { outer * inner }, error);
      if (!r)
        return NULL;
      guint64 cols = (guint64) outer * inner;
      struct { guint32 outer, n, inner, g_off, z_off, y_off, chunks, chunk_len; } p = {
        outer, n, inner, gc->offset, zc->offset, r->offset, 1, n
      };
      if (n >= 64)
        ss_ops_row_chunks (cols, n, &p.chunks, &p.chunk_len);
      g_autoptr (SsGpuBuffer) part = ss_gpu_buffer_new (g->device, MAX (cols * p.chunks * 4, 16), error);
      if (!part)
        return NULL;
      SsGpuBinding bind[4] = {
        ss_tensor_binding (gc, SS_GPU_READ), ss_tensor_binding (zc, SS_GPU_READ),
        { part, 0, 0, SS_GPU_RW }, ss_tensor_binding (r, SS_GPU_WRITE),
      };
      guint32 s0[1] = { 0 }, s1[1] = { 1 };
      if (!ss_ops_dispatch (g->device, "ops_mulsum", g->dtype, s0, 1, bind, 4, &p, sizeof p,
                            (cols * p.chunks + 127) / 128, error)
          || !ss_ops_dispatch (g->device, "ops_mulsum", g->dtype, s1, 1, bind, 4, &p, sizeof p,
                               (cols + 127) / 128, error))
        return NULL;
      return ss_tensor_reshape (r, target->ndim, target->shape, error);
    }
  /* products and quotients of 16-bit values are formed in fp32 (rounding each
   * term to 16 bits before a long sum loses the small totals) */
  g_autoptr (SsTensor) a32 = NULL, b32 = NULL, g32 = NULL;
  if (g->dtype != SS_DTYPE_F32 && (op == SS_BINARY_MUL || op == SS_BINARY_DIV))
    {
      /* only the operands the term uses: g and the other operand (a product),
       * g and b, or g, a and b (a quotient's gradient for a or b) */
      gboolean need_a = which == 1, need_b = which == 0 || op == SS_BINARY_DIV;
      a32 = need_a ? ss_tensor_to_dtype (a, SS_DTYPE_F32, error) : NULL;
      b32 = need_b ? ss_tensor_to_dtype (b, SS_DTYPE_F32, error) : NULL;
      g32 = ss_tensor_to_dtype (g, SS_DTYPE_F32, error);
      if ((need_a && !a32) || (need_b && !b32) || !g32)
        return NULL;
      a = need_a ? a32 : NULL;
      b = need_b ? b32 : NULL;
      g = g32;
    }
  SsTensor *other = which ? a : b;
  g_autoptr (SsTensor) term = NULL;
  gboolean negate = FALSE;
  switch (op)
    {
    case SS_BINARY_ADD:
      term = ss_tensor_ref (g);
      break;
    case SS_BINARY_SUB:
      term = ss_tensor_ref (g);
      negate = which == 1;
      break;
    case SS_BINARY_MUL:
      term = ss_op_mul (g, other, error);
      break;
    default:
      if (which == 0)
        term = ss_op_div (g, b, error);
      else
        {
          g_autoptr (SsTensor) ga = ss_op_mul (g, a, error);
          g_autoptr (SsTensor) bb = ga ? ss_op_mul (b, b, error) : NULL;
          term = bb ? ss_op_div (ga, bb, error) : NULL;
          negate = TRUE;
        }
      break;
    }
  if (!term)
    return NULL;
  g_autoptr (SsTensor) t3 = ss_tensor_reshape (term, 3, (gint64[]) { outer, n, inner }, error);
  if (!t3)
    return NULL;
  g_autoptr (SsTensor) r = ss_op_reduce (t3, SS_REDUCE_SUM, 1, FALSE, error);
  if (!r)
    return NULL;
  if (negate)
    {
      SsTensor *neg = ss_op_scale (r, -1.0f, 0.0f, error);
      ss_tensor_unref (r);
      r = neg;
      if (!r)
        return NULL;
    }
  if (r->dtype != target->dtype)
    {
      SsTensor *conv = ss_tensor_to_dtype (r, target->dtype, error);
      ss_tensor_unref (r);
      r = conv;
      if (!r)
        return NULL;
    }
  return ss_tensor_reshape (r, target->ndim, target->shape, error);
}

static gboolean
binary_grad (SsTensor *a, SsTensor *b, SsTensor *g, SsBinaryOp op, int which,
             SsTensor **out, GError **error)
{
  SsTensor *target = which ? b : a;
  BinaryPush bp;
  gint64 sa[5], sb[5];
  int nd = g->ndim;
  binary_push (a, b, nd, g->shape, &bp, sa, sb);
  const gint64 *ts = which ? sb : sa;
  gint64 n = ss_tensor_numel (target);
  gint64 reduce_n = n ? bp.n / n : 0;

  if (reduce_n == 1 && (op == SS_BINARY_ADD || (op == SS_BINARY_SUB && which == 0)))
    {
      /* the gradient is the upstream gradient itself */
      *out = ss_tensor_reshape (g, target->ndim, target->shape, error);
      return *out != NULL;
    }
  if (reduce_n == 1 && (op == SS_BINARY_MUL || (op == SS_BINARY_DIV && which == 0)))
    {
      /* nothing to sum: g * other (g / b), the forward kernel with its
       * broadcasting (rounded to the storage type once, like the general kernel) */
      g_autoptr (SsTensor) t = op == SS_BINARY_MUL ? ss_op_mul (g, which ? a : b, error) : ss_op_div (g, b, error);
      *out = t ? ss_tensor_reshape (t, target->ndim, target->shape, error) : NULL;
      return *out != NULL;
    }

  if (reduce_n > 32)
    {
      SsTensor *r = block_reduce_grad (a, b, g, op, which, ts, target, error);
      if (r != (SsTensor *) 1)
        {
          *out = r;
          return r != NULL;
        }
    }

  struct {
    guint32 n, reduce_n, ndim, a_off, b_off, dy_off;
    guint32 shape[5], tshape[5], a_stride[5], b_stride[5];
  } p = { n, reduce_n, nd, bp.a_off, bp.b_off, g->offset };
  for (int d = 0; d < nd; d++)
    {
      p.shape[d] = bp.shape[d];
      p.tshape[d] = ts[d];
      p.a_stride[d] = bp.a_stride[d];
      p.b_stride[d] = bp.b_stride[d];
    }
  g_autoptr (SsTensor) d = ss_tensor_new (target->dtype, target->ndim, target->shape, error);
  SS_OPS_TRY (d);
  guint32 wg_mode = reduce_n > 32;
  guint32 spec[3] = { op, which, wg_mode };
  SsGpuBinding bind[4] = {
    ss_tensor_binding (a, SS_GPU_READ), ss_tensor_binding (b, SS_GPU_READ),
    ss_tensor_binding (g, SS_GPU_READ), ss_tensor_binding (d, SS_GPU_WRITE),
  };
  SS_OPS_TRY (ss_ops_dispatch (d->device, "ops_binary_bwd", d->dtype, spec, 3, bind, 4,
                               &p, sizeof p, wg_mode ? (guint64) n : (guint64) (n + 127) / 128,
                               error));
  *out = g_steal_pointer (&d);
  return TRUE;
}

static gboolean
binary_backward (SsAutogradNode *node, SsTensor *grad, SsTensor **gi, GError **error)
{
  BinaryData *bd = ss_autograd_node_get_data (node);
  SsTensor *a = ss_autograd_node_saved (node, 0), *b = ss_autograd_node_saved (node, 1);
  g_autoptr (SsTensor) g = ss_ops_contig (grad, error);
  SS_OPS_TRY (g);
  for (int w = 0; w < 2; w++)
    if (ss_autograd_node_needs_input_grad (node, w))
      SS_OPS_TRY (binary_grad (a, b, g, bd->op, w, &gi[w], error));
  return TRUE;
}

SsTensor *
ss_op_binary (SsTensor *a, SsTensor *b, SsBinaryOp op, GError **error)
{
  g_return_val_if_fail (a != NULL && b != NULL, NULL);
  g_return_val_if_fail (op < SS_BINARY_COUNT, NULL);
  if (!ss_ops_check_dtypes ("elementwise op", 2, (SsTensor *[]) { a, b }, error))
    return NULL;
  int nd;
  gint64 shape[5];
  if (!broadcast_shape (a, b, &nd, shape, error))
    return NULL;
  g_autoptr (SsTensor) y = ss_tensor_new (a->dtype, nd, shape, error);
  if (!y)
    return NULL;
  BinaryPush p;
  gint64 sa[5], sb[5];
  binary_push (a, b, nd, shape, &p, sa, sb);
  collapse_dims (&p);
  p.y_off = y->offset;
  gboolean done;
  if (!binary_rows_run (&p, a, b, y, op, &done, error))
    return NULL;
  guint32 vec = binary_vec_mode (&p);
  guint32 spec[2] = { op, vec };
  SsGpuBinding bind[3] = {
    ss_tensor_binding (a, SS_GPU_READ), ss_tensor_binding (b, SS_GPU_READ),
    ss_tensor_binding (y, SS_GPU_WRITE),
  };
  if (!done && !ss_ops_dispatch (y->device, "ops_binary", y->dtype, spec, 2, bind, 3, &p, sizeof p,
                                 vec ? (p.n + 4095) / 4096 : (p.n + 1023) / 1024, error))   /* 256 threads x 4 (groups of 4) */
    return NULL;
  static const char *names[] = { "add", "sub", "mul", "div" };
  SsAutogradNode *node = ss_ops_record (y, names[op], binary_backward, 2, (SsTensor *[]) { a, b });
  if (node)
    {
      BinaryData *bd = g_new (BinaryData, 1);
      bd->op = op;
      ss_autograd_node_set_data (node, bd, g_free);
      ss_ops_save_detached (node, a);
      ss_ops_save_detached (node, b);
    }
  return g_steal_pointer (&y);
}

SsTensor *
ss_op_add (SsTensor *a, SsTensor *b, GError **error)
{
  return ss_op_binary (a, b, SS_BINARY_ADD, error);
}

SsTensor *
ss_op_sub (SsTensor *a, SsTensor *b, GError **error)
{
  return ss_op_binary (a, b, SS_BINARY_SUB, error);
}

SsTensor *
ss_op_mul (SsTensor *a, SsTensor *b, GError **error)
{
  return ss_op_binary (a, b, SS_BINARY_MUL, error);
}

SsTensor *
ss_op_div (SsTensor *a, SsTensor *b, GError **error)
{
  return ss_op_binary (a, b, SS_BINARY_DIV, error);
}
