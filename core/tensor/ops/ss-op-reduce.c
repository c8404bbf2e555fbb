/* ss-op-reduce.c: reductions (sum, mean, max) over one dim, softmax and
 * log-softmax. Both view the tensor as (outer, n, inner) around the dim. */
#define G_LOG_DOMAIN "ss-ops"

#include "config.h"
#include "tensor/ops/ss-ops-private.h"
#include "ss-env.h"

/* ---------------------------------------------------------------- reduce */

typedef struct {
  SsReduceOp op;
  guint32 outer, n, inner;
  SsGpuBuffer *idx;
} ReduceData;

static void
reduce_data_free (gpointer p)
{
  ReduceData *rd = p;
  g_clear_pointer (&rd->idx, ss_gpu_buffer_unref);
  g_free (rd);
}

static gboolean
reduce_backward (SsAutogradNode *node, SsTensor *grad, SsTensor **gi, GError **error)
{
  ReduceData *rd = ss_autograd_node_get_data (node);
  SsTensor *x = ss_autograd_node_input (node, 0);
  g_autoptr (SsTensor) g = ss_ops_contig (grad, error);
  SS_OPS_TRY (g);
  g_autoptr (SsTensor) dx = ss_tensor_new (x->dtype, x->ndim, x->shape, error);
  SS_OPS_TRY (dx);
  struct { guint32 outer, n, inner, dy_off, dx_off; } p = {
    rd->outer, rd->n, rd->inner, g->offset, dx->offset
  };
  guint32 spec[1] = { rd->op };
  SsGpuBinding bind[3] = {
    ss_tensor_binding (g, SS_GPU_READ),
    rd->idx ? (SsGpuBinding) { rd->idx, 0, 0, SS_GPU_READ } : ss_tensor_binding (g, SS_GPU_READ),
    ss_tensor_binding (dx, SS_GPU_WRITE),
  };
  guint64 total = (guint64) rd->outer * rd->n * rd->inner;
  SS_OPS_TRY (ss_ops_dispatch (dx->device, "ops_reduce_bwd", dx->dtype, spec, 1, bind, 3,
                               &p, sizeof p, (total + 255) / 256, error));
  gi[0] = g_steal_pointer (&dx);
  return TRUE;
}

/* Sums / means of contiguous rows (inner == 1): ops_reduce_rows.comp. Rows
 * (and chunks) that start at whole 16-byte units are read in those units.
 * Each row is summed by a power of two of threads (up to a workgroup of 256),
 * about 8 units each, more threads where few rows would leave the GPU idle;
 * longer rows in chunks of 256 x 8 units (one workgroup each: 1 K workgroups
 * for 16 M elements of f16) whose partial sums the workgroup that finishes a
 * row's last chunk adds (LAST; counters per row in a buffer of the device's,
 * up to ROW_COUNTERS rows), or a second pass (more rows, or
 * SOUNDSTAGE_REDUCE_LAST=0). */
enum { ROW_COUNTERS = 65536 };

/* the device's row counters of LAST (zeros; every LAST dispatch leaves them so) */
static SsGpuBuffer *
row_counters (SsGpuDevice *dev, GError **error)
{
  static GMutex lock;
  g_autoptr (GMutexLocker) locker G_GNUC_UNUSED = g_mutex_locker_new (&lock);
  SsGpuBuffer *b = ss_gpu_device_get_data (dev, "reduce-row-counters");
  if (b)
    return b;
  b = ss_gpu_buffer_new (dev, ROW_COUNTERS * sizeof (guint32), error);
  if (!b)
    return NULL;
  if (!ss_gpu_buffer_fill (b, 0, ROW_COUNTERS * sizeof (guint32), 0, error))
    {
      ss_gpu_buffer_unref (b);
      return NULL;
    }
  ss_gpu_device_set_data (dev, "reduce-row-counters", b, (GDestroyNotify) ss_gpu_buffer_unref);
  return b;
}

static gboolean
reduce_rows_run (SsTensor *x, SsTensor *y, SsReduceOp op, guint32 outer, guint32 n,
                 GError **error)
{
  enum { WG = 256, UPT = 8 };
  guint32 ue = x->dtype == SS_DTYPE_F32 ? 4 : 8;
  guint32 vec = x->offset % ue == 0 && (outer == 1 || n % ue == 0);
  guint32 u = vec ? ue : 1;
  guint32 ur = (n + u - 1) / u;   /* units (vec) or elements per row */
  struct { guint32 outer, n, x_off, y_off, chunks, chunk_len, tpr_log2; } p = {
    outer, n, x->offset, y->offset, 1, n, 0
  };
  if (ur > WG * UPT)
    {
      p.chunk_len = WG * UPT * u;
      p.chunks = (n + p.chunk_len - 1) / p.chunk_len;
      p.tpr_log2 = 8;
    }
  else
    {
      guint32 per = (ur + UPT - 1) / UPT;
      while ((1u << p.tpr_log2) < MIN (per, WG))
        p.tpr_log2++;
      /* more threads per row while few rows leave the GPU idle */
      while ((1u << p.tpr_log2) < WG && (guint64) outer << p.tpr_log2 < 131072
             && ur >= 2u << p.tpr_log2)
        p.tpr_log2++;
    }
  g_autoptr (SsGpuBuffer) part = NULL;
  SsGpuBuffer *counters = NULL;
  if (p.chunks > 1)
    {
      part = ss_gpu_buffer_new (y->device, (gsize) outer * p.chunks * 4, error);
      if (!part)
        return FALSE;
      if (outer <= ROW_COUNTERS && ss_env_flag ("SOUNDSTAGE_REDUCE_LAST", TRUE))
        {
          counters = row_counters (y->device, error);
          if (!counters)
            return FALSE;
        }
    }
  /* (y stands in at the bindings a dispatch does not use: it writes y anyway) */
  SsGpuBinding bind[4] = {
    ss_tensor_binding (x, SS_GPU_READ), ss_tensor_binding (y, SS_GPU_WRITE),
    part ? (SsGpuBinding) { part, 0, 0, SS_GPU_RW } : ss_tensor_binding (y, SS_GPU_WRITE),
    counters ? (SsGpuBinding) { counters, 0, 0, SS_GPU_RW } : ss_tensor_binding (y, SS_GPU_WRITE),
  };
  guint32 s0[4] = { op, 0, vec, counters != NULL }, s1[4] = { op, 1, 0, 0 };
  guint64 segs = (guint64) outer * p.chunks;
  if (!ss_ops_dispatch (y->device, "ops_reduce_rows", y->dtype, s0, 4, bind, 4, &p, sizeof p,
                        (segs + (WG >> p.tpr_log2) - 1) / (WG >> p.tpr_log2), error))
    return FALSE;
  return p.chunks == 1 || counters
         || ss_ops_dispatch (y->device, "ops_reduce_rows", y->dtype, s1, 4, bind, 4, &p, sizeof p,
                             outer, error);
}

SsTensor *
ss_op_reduce (SsTensor *x, SsReduceOp op, int dim, gboolean keepdim, GError **error)
{
  g_return_val_if_fail (x != NULL, NULL);
  g_return_val_if_fail (op < SS_REDUCE_COUNT, NULL);
  static const char *names[] = { "sum", "mean", "max" };
  int d = ss_ops_dim (names[op], x, dim, error);
  if (d < 0)
    return NULL;
  if (x->shape[d] == 0)
    {
      g_set_error (error, SS_ERROR, SS_ERROR_INVALID_DATA, "%s: the reduced dimension is empty",
                   names[op]);
      return NULL;
    }
  g_autoptr (SsTensor) xc = ss_ops_contig (x, error);
  if (!xc)
    return NULL;
  guint32 outer = ss_ops_prod (x, 0, d), n = x->shape[d], inner = ss_ops_prod (x, d + 1, x->ndim);
  gint64 shape[5];
  int nd = 0;
  for (int i = 0; i < x->ndim; i++)
    if (i != d)
      shape[nd++] = x->shape[i];
    else if (keepdim)
      shape[nd++] = 1;
  if (nd == 0)
    shape[nd++] = 1;
  g_autoptr (SsTensor) y = ss_tensor_new (x->dtype, nd, shape, error);
  if (!y)
    return NULL;
  g_autoptr (SsGpuBuffer) idx = NULL;
  if (op == SS_REDUCE_MAX)
    {
      idx = ss_gpu_buffer_new (y->device, MAX ((gsize) outer * inner * 4, 16), error);
      if (!idx)
        return NULL;
    }
  guint32 mode = inner == 1 ? 0 : 1;
  struct { guint32 outer, n, inner, x_off, y_off, chunks, chunk_len; } p = {
    outer, n, inner, xc->offset, y->offset, 0, 0
  };
  if (mode == 0 && op != SS_REDUCE_MAX)
    {
      if (!reduce_rows_run (xc, y, op, outer, n, error))
        return NULL;
      mode = 4;   /* done */
    }
  else if (mode == 1 && op != SS_REDUCE_MAX && (guint64) outer * inner < 65536 && n >= 256)
    {
      /* few long columns: partial sums over chunks of rows (about 128 K threads
       * in all, so that a large GPU is busy), then per column */
      guint64 cols = (guint64) outer * inner;
      ss_ops_row_chunks (cols, n, &p.chunks, &p.chunk_len);
      g_autoptr (SsGpuBuffer) part = ss_gpu_buffer_new (y->device, cols * p.chunks * 4, error);
      if (!part)
        return NULL;
      SsGpuBinding b2[3] = {
        ss_tensor_binding (xc, SS_GPU_READ), ss_tensor_binding (y, SS_GPU_WRITE),
        { part, 0, 0, SS_GPU_RW },
      };
      guint32 s4[2] = { op, 4 }, s5[2] = { op, 5 };
      if (!ss_ops_dispatch (y->device, "ops_reduce", y->dtype, s4, 2, b2, 3, &p, sizeof p,
                            (cols * p.chunks + 127) / 128, error)
          || !ss_ops_dispatch (y->device, "ops_reduce", y->dtype, s5, 2, b2, 3, &p, sizeof p,
                               (cols + 127) / 128, error))
        return NULL;
      mode = 4;   /* done */
    }
  guint32 spec[2] = { op, mode };
  SsGpuBinding bind[3] = {
    ss_tensor_binding (xc, SS_GPU_READ), ss_tensor_binding (y, SS_GPU_WRITE),
    idx ? (SsGpuBinding) { idx, 0, 0, SS_GPU_WRITE } : ss_tensor_binding (y, SS_GPU_WRITE),
  };
  guint64 groups = mode == 0 ? outer : ((guint64) outer * inner + 127) / 128;
  if (mode != 4 && !ss_ops_dispatch (y->device, "ops_reduce", y->dtype, spec, 2, bind, 3,
                                     &p, sizeof p, groups, error))
    return NULL;
  SsAutogradNode *node = ss_ops_record (y, names[op], reduce_backward, 1, &x);
  if (node)
    {
      ReduceData *rd = g_new0 (ReduceData, 1);
      *rd = (ReduceData) { op, outer, n, inner, g_steal_pointer (&idx) };
      ss_autograd_node_set_data (node, rd, reduce_data_free);
    }
  return g_steal_pointer (&y);
}

SsTensor *
ss_op_sum (SsTensor *x, int dim, gboolean keepdim, GError **error)
{
  return ss_op_reduce (x, SS_REDUCE_SUM, dim, keepdim, error);
}

SsTensor *
ss_op_mean (SsTensor *x, int dim, gboolean keepdim, GError **error)
{
  return ss_op_reduce (x, SS_REDUCE_MEAN, dim, keepdim, error);
}

SsTensor *
ss_op_max (SsTensor *x, int dim, gboolean keepdim, GError **error)
{
  return ss_op_reduce (x, SS_REDUCE_MAX, dim, keepdim, error);
}

static SsTensor *
reduce_all (SsTensor *x, SsReduceOp op, GError **error)
{
  g_autoptr (SsTensor) flat = ss_tensor_reshape (x, 1, (gint64[]) { ss_tensor_numel (x) }, error);
  if (!flat)
    return NULL;
  return ss_op_reduce (flat, op, 0, TRUE, error);
}

SsTensor *
ss_op_sum_all (SsTensor *x, GError **error)
{
  return reduce_all (x, SS_REDUCE_SUM, error);
}

SsTensor *
ss_op_mean_all (SsTensor *x, GError **error)
{
  return reduce_all (x, SS_REDUCE_MEAN, error);
}

/* ---------------------------------------------------------------- softmax */

typedef struct {
  gboolean log;
  guint32 outer, n, inner;
} SoftmaxData;

static gboolean
softmax_run (SsTensor *x, SsTensor *dy, SsTensor *y, gboolean log, guint32 outer,
             guint32 n, guint32 inner, GError **error)
{
  struct { guint32 outer, n, inner, x_off, dy_off, y_off; } p = {
    outer, n, inner, x->offset, dy ? dy->offset : 0, y->offset
  };
  /* rows in registers (MODE 2) where they fit in units of 4 */
  gboolean regs = inner == 1 && n % 4 == 0 && n <= SS_OPS_REGISTER_ROW_MAX &&
                  p.x_off % 4 == 0 && p.dy_off % 4 == 0 && p.y_off % 4 == 0;
  guint32 mode = regs ? 2 : inner == 1 ? 0 : 1;
  guint32 spec[3] = { log, dy != NULL, mode };
  SsGpuBinding bind[3] = {
    ss_tensor_binding (x, SS_GPU_READ), ss_tensor_binding (dy ? dy : x, SS_GPU_READ),
    ss_tensor_binding (y, SS_GPU_WRITE),
  };
  guint64 groups = mode != 1 ? outer : ((guint64) outer * inner + 127) / 128;
  return ss_ops_dispatch (y->device, "ops_softmax", y->dtype, spec, 3, bind, 3, &p, sizeof p,
                          groups, error);
}

static gboolean
softmax_backward (SsAutogradNode *node, SsTensor *grad, SsTensor **gi, GError **error)
{
  SoftmaxData *sd = ss_autograd_node_get_data (node);
  SsTensor *y = ss_autograd_node_saved (node, 0);
  g_autoptr (SsTensor) g = ss_ops_contig (grad, error);
  SS_OPS_TRY (g);
  g_autoptr (SsTensor) dx = ss_tensor_new_like (y, error);
  SS_OPS_TRY (dx);
  SS_OPS_TRY (softmax_run (y, g, dx, sd->log, sd->outer, sd->n, sd->inner, error));
  gi[0] = g_steal_pointer (&dx);
  return TRUE;
}

static SsTensor *
softmax_op (SsTensor *x, int dim, gboolean log, GError **error)
{
  g_return_val_if_fail (x != NULL, NULL);
  const char *name = log ? "log_softmax" : "softmax";
  int d = ss_ops_dim (name, x, dim, error);
  if (d < 0)
    return NULL;
  g_autoptr (SsTensor) xc = ss_ops_contig (x, error);
  if (!xc)
    return NULL;
  guint32 outer = ss_ops_prod (x, 0, d), n = x->shape[d], inner = ss_ops_prod (x, d + 1, x->ndim);
  g_autoptr (SsTensor) y = ss_tensor_new_like (xc, error);
  if (!y || !softmax_run (xc, NULL, y, log, outer, n, inner, error))
    return NULL;
  SsAutogradNode *node = ss_ops_record (y, name, softmax_backward, 1, &x);
  if (node)
    {
      SoftmaxData *sd = g_new (SoftmaxData, 1);
      *sd = (SoftmaxData) { log, outer, n, inner };
      ss_autograd_node_set_data (node, sd, g_free);
      ss_ops_save_detached (node, y);
    }
  return g_steal_pointer (&y);
}

SsTensor *
ss_op_softmax (SsTensor *x, int dim, GError **error)
{
  return softmax_op (x, dim, FALSE, error);
}

SsTensor *
ss_op_log_softmax (SsTensor *x, int dim, GError **error)
{
  return softmax_op (x, dim, TRUE, error);
}
