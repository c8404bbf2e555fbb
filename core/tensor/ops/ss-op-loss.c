/* ss-op-loss.c: MSE, cross-entropy (with logits) and symmetric InfoNCE. */
#define G_LOG_DOMAIN "ss-ops"

#include "config.h"
#include "tensor/ops/ss-ops-private.h"

/* ---------------------------------------------------------------- MSE */

typedef struct {
  guint32 n, a_off, b_off, dy_off, y_off, db_off, chunks, chunk_len, has_da, has_db;
} MsePush;

#define MSE_CHUNK 16384

static gboolean
mse_dispatch (guint32 stage, MsePush *p, SsTensor *a, SsTensor *b, SsTensor *dy, SsGpuBuffer *part,
              SsTensor *y, SsTensor *db, guint64 groups, GError **error)
{
  guint32 spec[1] = { stage };
  SsGpuBinding bind[6] = {
    ss_tensor_binding (a, SS_GPU_READ),
    ss_tensor_binding (b, SS_GPU_READ),
    ss_tensor_binding (dy ? dy : a, SS_GPU_READ),
    /* the shader declares the partial sums writable: stage 1 reads them but
     * they are bound RW, and stage 2, which does not use them, gets y (written
     * anyway), so that the synchronization validation sees no write that the
     * barrier tracking does not know */
    part ? (SsGpuBinding) { part, 0, 0, stage == 0 ? SS_GPU_WRITE : SS_GPU_RW } : ss_tensor_binding (y, SS_GPU_WRITE),
    ss_tensor_binding (y, SS_GPU_WRITE),
    ss_tensor_binding (db ? db : y, SS_GPU_WRITE),
  };
  return ss_ops_dispatch (a->device, "ops_mse", a->dtype, spec, 1, bind, 6, p, sizeof *p, groups, error);
}

static gboolean
mse_backward (SsAutogradNode *node, SsTensor *grad, SsTensor **gi, GError **error)
{
  SsTensor *a = ss_autograd_node_saved (node, 0), *b = ss_autograd_node_saved (node, 1);
  gboolean need_a = ss_autograd_node_needs_input_grad (node, 0);
  gboolean need_b = ss_autograd_node_needs_input_grad (node, 1);
  g_autoptr (SsTensor) g = ss_ops_contig (grad, error);
  g_autoptr (SsTensor) da = need_a ? ss_tensor_new_like (a, error) : NULL;
  g_autoptr (SsTensor) db = need_b ? ss_tensor_new_like (b, error) : NULL;
  SS_OPS_TRY (g && (!need_a || da) && (!need_b || db));
  if (!need_a && !need_b)
    return TRUE;
  guint32 n = ss_tensor_numel (a);
  MsePush p = { n, a->offset, b->offset, g->offset, da ? da->offset : db->offset, db ? db->offset : 0,
                0, 0, need_a, need_b };
  SS_OPS_TRY (mse_dispatch (2, &p, a, b, g, NULL, da ? da : db, db, (n + 1023) / 1024, error));
  gi[0] = g_steal_pointer (&da);
  gi[1] = g_steal_pointer (&db);
  return TRUE;
}

SsTensor *
ss_op_mse_loss (SsTensor *x, SsTensor *target, GError **error)
{
  g_return_val_if_fail (x != NULL && target != NULL, NULL);
  if (!ss_tensor_same_shape (x, target))
    {
      g_autofree char *a = ss_tensor_describe (x), *b = ss_tensor_describe (target);
      g_set_error (error, SS_ERROR, SS_ERROR_INVALID_DATA,
                   "mse_loss: prediction %s and target %s differ in shape", a, b);
      return NULL;
    }
  if (!ss_ops_check_dtypes ("mse_loss", 2, (SsTensor *[]) { x, target }, error))
    return NULL;
  g_autoptr (SsTensor) xc = ss_ops_contig (x, error);
  g_autoptr (SsTensor) tc = xc ? ss_ops_contig (target, error) : NULL;
  if (!tc)
    return NULL;
  g_autoptr (SsTensor) y = ss_tensor_new (x->dtype, 1, (gint64[]) { 1 }, error);
  if (!y)
    return NULL;
  guint32 n = ss_tensor_numel (xc);
  MsePush p = { n, xc->offset, tc->offset, 0, y->offset, 0, MAX (1, (n + MSE_CHUNK - 1) / MSE_CHUNK), MSE_CHUNK, 0, 0 };
  g_autoptr (SsGpuBuffer) part = ss_gpu_buffer_new (y->device, sizeof (float) * p.chunks, error);
  if (!part || !mse_dispatch (0, &p, xc, tc, NULL, part, y, NULL, p.chunks, error)
      || !mse_dispatch (1, &p, xc, tc, NULL, part, y, NULL, 1, error))
    return NULL;
  SsAutogradNode *node = ss_ops_record (y, "mse_loss", mse_backward, 2, (SsTensor *[]) { x, target });
  if (node)
    {
      ss_ops_save_detached (node, xc);
      ss_ops_save_detached (node, tc);
    }
  return g_steal_pointer (&y);
}

/* ---------------------------------------------------------------- cross-entropy */

typedef struct {
  guint32 rows, classes;
  int ignore_index;
  float smoothing;
  SsGpuBuffer *targets, *work;
} CeData;

static void
ce_data_free (gpointer p)
{
  CeData *cd = p;
  g_clear_pointer (&cd->targets, ss_gpu_buffer_unref);
  g_clear_pointer (&cd->work, ss_gpu_buffer_unref);
  g_free (cd);
}

static gboolean
ce_dispatch (CeData *cd, guint32 stage, SsTensor *x, SsTensor *dy, SsTensor *y, GError **error)
{
  struct { guint32 rows, classes, x_off, dy_off, y_off; gint32 ignore_index; float smoothing; } p = {
    cd->rows, cd->classes, x->offset, dy ? dy->offset : 0, y->offset, cd->ignore_index, cd->smoothing
  };
  guint32 spec[1] = { stage };
  SsGpuBinding bind[5] = {
    ss_tensor_binding (x, SS_GPU_READ), { cd->targets, 0, 0, SS_GPU_READ },
    { cd->work, 0, 0, stage == 2 ? SS_GPU_READ : SS_GPU_RW },
    ss_tensor_binding (dy ? dy : x, SS_GPU_READ), ss_tensor_binding (y, SS_GPU_WRITE),
  };
  return ss_ops_dispatch (x->device, "ops_cross_entropy", x->dtype, spec, 1, bind, 5, &p, sizeof p,
                          stage == 1 ? 1 : cd->rows, error);
}

static gboolean
ce_backward (SsAutogradNode *node, SsTensor *grad, SsTensor **gi, GError **error)
{
  CeData *cd = ss_autograd_node_get_data (node);
  SsTensor *x = ss_autograd_node_saved (node, 0);
  SsTensor *in = ss_autograd_node_input (node, 0);
  g_autoptr (SsTensor) g = ss_ops_contig (grad, error);
  SS_OPS_TRY (g);
  g_autoptr (SsTensor) dx = ss_tensor_new (in->dtype, in->ndim, in->shape, error);
  SS_OPS_TRY (dx);
  SS_OPS_TRY (ce_dispatch (cd, 2, x, g, dx, error));
  gi[0] = g_steal_pointer (&dx);
  return TRUE;
}

SsTensor *
ss_op_cross_entropy (SsTensor *logits, const gint32 *targets, int ignore_index,
                     float label_smoothing, GError **error)
{
  g_return_val_if_fail (logits != NULL && targets != NULL, NULL);
  if (logits->ndim > 2 || label_smoothing < 0 || label_smoothing >= 1)
    {
      g_autofree char *desc = ss_tensor_describe (logits);
      g_set_error (error, SS_ERROR, SS_ERROR_INVALID_DATA,
                   "cross_entropy: logits %s are not [N, C] (or the label smoothing %g is "
                   "outside [0, 1))", desc, label_smoothing);
      return NULL;
    }
  guint32 classes = logits->shape[logits->ndim - 1];
  guint32 rows = logits->ndim == 2 ? logits->shape[0] : 1;
  for (guint32 r = 0; r < rows; r++)
    if (targets[r] != ignore_index && (targets[r] < 0 || (guint32) targets[r] >= classes))
      {
        g_set_error (error, SS_ERROR, SS_ERROR_INVALID_DATA,
                     "cross_entropy: target %d of row %u is not a class in [0, %u)",
                     targets[r], r, classes);
        return NULL;
      }
  g_autoptr (SsTensor) xc = ss_ops_contig (logits, error);
  if (!xc)
    return NULL;
  g_autoptr (SsTensor) y = ss_tensor_new (logits->dtype, 1, (gint64[]) { 1 }, error);
  if (!y)
    return NULL;
  g_autofree CeData *cd = g_new0 (CeData, 1);
  *cd = (CeData) { rows, classes, ignore_index, label_smoothing, NULL, NULL };
  cd->targets = ss_ops_upload (y->device, targets, sizeof (gint32) * rows, error);
  cd->work = cd->targets ? ss_gpu_buffer_new (y->device, sizeof (float) * (3 * (gsize) rows + 1), error) : NULL;
  if (!cd->work || !ce_dispatch (cd, 0, xc, NULL, y, error) || !ce_dispatch (cd, 1, xc, NULL, y, error))
    {
      g_clear_pointer (&cd->targets, ss_gpu_buffer_unref);
      g_clear_pointer (&cd->work, ss_gpu_buffer_unref);
      return NULL;
    }
  SsAutogradNode *node = ss_ops_record (y, "cross_entropy", ce_backward, 1, &logits);
  if (node)
    {
      ss_autograd_node_set_data (node, g_steal_pointer (&cd), ce_data_free);
      ss_ops_save_detached (node, xc);
    }
  else
    {
      g_clear_pointer (&cd->targets, ss_gpu_buffer_unref);
      g_clear_pointer (&cd->work, ss_gpu_buffer_unref);
    }
  return g_steal_pointer (&y);
}

/* ---------------------------------------------------------------- InfoNCE */

SsTensor *
ss_op_l2_normalize (SsTensor *x, float eps, GError **error)
{
  g_autoptr (SsTensor) sq = ss_op_unary (x, SS_UNARY_SQUARE, 0, 0, error);
  if (!sq)
    return NULL;
  g_autoptr (SsTensor) s = ss_op_sum (sq, -1, TRUE, error);
  if (!s)
    return NULL;
  g_autoptr (SsTensor) se = ss_op_scale (s, 1.0f, eps, error);
  if (!se)
    return NULL;
  g_autoptr (SsTensor) r = ss_op_unary (se, SS_UNARY_RSQRT, 0, 0, error);
  if (!r)
    return NULL;
  return ss_op_mul (x, r, error);
}

SsTensor *
ss_op_infonce (SsTensor *a, SsTensor *b, float temperature, SsTensor *temperature_t,
               gboolean normalize, GError **error)
{
  g_return_val_if_fail (a != NULL && b != NULL, NULL);
  if (a->ndim != 2 || !ss_tensor_same_shape (a, b) || (!temperature_t && temperature <= 0))
    {
      g_autofree char *x = ss_tensor_describe (a), *y = ss_tensor_describe (b);
      g_set_error (error, SS_ERROR, SS_ERROR_INVALID_DATA,
                   "infonce: embeddings %s and %s are not two [N, D] tensors of one shape "
                   "(or the temperature %g is not positive)", x, y, temperature);
      return NULL;
    }
  gint64 n = a->shape[0];
  g_autoptr (SsTensor) an = normalize ? ss_op_l2_normalize (a, 1e-12f, error) : ss_tensor_ref (a);
  g_autoptr (SsTensor) bn = an && normalize ? ss_op_l2_normalize (b, 1e-12f, error) : (an ? ss_tensor_ref (b) : NULL);
  if (!an || !bn)
    return NULL;
  g_autoptr (SsTensor) sim = ss_op_matmul (an, bn, FALSE, TRUE, error);
  if (!sim)
    return NULL;
  g_autoptr (SsTensor) logits = temperature_t ? ss_op_div (sim, temperature_t, error)
                                              : ss_op_scale (sim, 1.0f / temperature, 0, error);
  if (!logits)
    return NULL;
  g_autofree gint32 *diag = g_new (gint32, MAX (n, 1));
  for (gint64 i = 0; i < n; i++)
    diag[i] = i;
  g_autoptr (SsTensor) l1 = ss_op_cross_entropy (logits, diag, -1, 0, error);
  if (!l1)
    return NULL;
  g_autoptr (SsTensor) lt = ss_tensor_transpose (logits, 0, 1, error);
  if (!lt)
    return NULL;
  g_autoptr (SsTensor) l2 = ss_op_cross_entropy (lt, diag, -1, 0, error);
  if (!l2)
    return NULL;
  g_autoptr (SsTensor) sum = ss_op_add (l1, l2, error);
  if (!sum)
    return NULL;
  return ss_op_scale (sum, 0.5f, 0, error);
}
