/* ss-op-norm.c: layer norm, RMS norm and group norm (forward saves the
 * per-block mean and 1/std in fp32 for the backward). */
#define G_LOG_DOMAIN "ss-ops"

#include "config.h"
#include "tensor/ops/ss-ops-private.h"
#include "ss-env.h"

typedef struct {
  guint32 nblocks, block_len, s, cg, groups, channels;
  guint32 x_off, w_off, b_off, dy_off, y_off, db_off;
  guint32 has_w, has_b;
  float eps;
  guint32 chunk_len, chunks;
} NormPush;

/* blocks longer than this are split over several workgroups */
#define NORM_SPLIT 8192
#define NORM_CHUNK 4096   /* at most 8 x 128 units of 4 (ops_norm.comp VEC stages 4, 7) */

typedef struct {
  NormPush p;
  gboolean rms;
  gboolean regs;        /* rows in registers (stages 12 / 13) */
  guint32 sub_rows;     /* ... a subgroup per row, this many rows a workgroup (stages 14 / 15), or 0 */
  SsGpuBuffer *stats;
  SsGpuBuffer *part;    /* split path only */
} NormData;

static void
norm_data_free (gpointer data)
{
  NormData *nd = data;
  g_clear_pointer (&nd->stats, ss_gpu_buffer_unref);
  g_clear_pointer (&nd->part, ss_gpu_buffer_unref);
  g_free (nd);
}

#define CDIV(a, b) (((guint64) (a) + (b) - 1) / (b))

/* SOUNDSTAGE_NORM_VEC=0: the chunked stages element by element, for comparison */
static gboolean
norm_scalar (void)
{
  return !ss_env_flag ("SOUNDSTAGE_NORM_VEC", TRUE);
}

static gboolean
norm_dispatch (guint32 stage, gboolean rms, NormPush *p, SsTensor *x, SsTensor *w, SsTensor *b,
               SsTensor *dy, SsGpuBuffer *stats, SsGpuBuffer *part, SsTensor *y, SsTensor *db,
               guint64 groups, GError **error)
{
  /* units of 4 in the chunked stages (ops_norm.comp VEC) */
  gboolean vec = (stage == 4 || stage == 6 || stage == 7 || stage == 9) && p->s % 4 == 0 &&
                 p->block_len % 4 == 0 && p->chunk_len % 4 == 0 && p->x_off % 4 == 0 &&
                 p->y_off % 4 == 0 && (!dy || p->dy_off % 4 == 0) && !norm_scalar ();
  if (vec && (stage == 6 || stage == 9))
    groups = CDIV (groups, 16);   /* 4 units of 4 a thread where one element was */
  guint32 spec[3] = { stage, rms, vec };
  gboolean stats_written = stage == 0 || stage == 5 || stage == 12 || stage == 14;   /* the stages that store mean and rstd */
  SsGpuBinding bind[8] = {
    ss_tensor_binding (x, SS_GPU_READ),
    ss_tensor_binding (w ? w : x, SS_GPU_READ),
    ss_tensor_binding (b ? b : x, SS_GPU_READ),
    ss_tensor_binding (dy ? dy : x, SS_GPU_READ),
    { stats, 0, 0, stats_written ? SS_GPU_WRITE : SS_GPU_READ },
    ss_tensor_binding (y, SS_GPU_WRITE),
    ss_tensor_binding (db ? db : y, SS_GPU_WRITE),
    /* stages without partial sums get y (written anyway): the shader
     * declares the binding writable (synchronization validation) */
    part ? (SsGpuBinding) { part, 0, 0, SS_GPU_RW } : ss_tensor_binding (y, SS_GPU_WRITE),
  };
  return ss_ops_dispatch (x->device, "ops_norm", x->dtype, spec, 3, bind, 8, p, sizeof *p,
                          groups, error);
}

static gboolean
norm_backward (SsAutogradNode *node, SsTensor *grad, SsTensor **gi, GError **error)
{
  NormData *nd = ss_autograd_node_get_data (node);
  SsTensor *x = ss_autograd_node_saved (node, 0);
  SsTensor *w = ss_autograd_node_saved (node, 1), *b = ss_autograd_node_saved (node, 2);
  g_autoptr (SsTensor) g = ss_ops_contig (grad, error);
  SS_OPS_TRY (g);
  NormPush p = nd->p;
  p.dy_off = g->offset;
  if (ss_autograd_node_needs_input_grad (node, 0))
    {
      g_autoptr (SsTensor) dx = ss_tensor_new_like (x, error);
      SS_OPS_TRY (dx);
      p.y_off = dx->offset;
      if (nd->part)
        {
          SS_OPS_TRY (norm_dispatch (7, nd->rms, &p, x, w, b, g, nd->stats, nd->part, dx, NULL,
                                     (guint64) p.nblocks * p.chunks, error));
          SS_OPS_TRY (norm_dispatch (8, nd->rms, &p, x, w, b, g, nd->stats, nd->part, dx, NULL,
                                     CDIV (p.nblocks, 128), error));
          SS_OPS_TRY (norm_dispatch (9, nd->rms, &p, x, w, b, g, nd->stats, nd->part, dx, NULL,
                                     CDIV ((guint64) p.nblocks * p.block_len, 128), error));
        }
      else
        {
          gboolean regs = nd->regs && p.dy_off % 4 == 0 && p.y_off % 4 == 0;
          gboolean sub = regs && nd->sub_rows;
          SS_OPS_TRY (norm_dispatch (sub ? 15 : regs ? 13 : 1, nd->rms, &p, x, w, b, g, nd->stats, NULL, dx, NULL,
                                     sub ? CDIV (p.nblocks, nd->sub_rows) : p.nblocks, error));
        }
      gi[0] = g_steal_pointer (&dx);
    }
  gboolean need_w = w && ss_autograd_node_needs_input_grad (node, 1);
  gboolean need_b = b && ss_autograd_node_needs_input_grad (node, 2);
  if (need_w || need_b)
    {
      SsTensor *wb = w ? w : b;
      g_autoptr (SsTensor) dw = need_w ? ss_tensor_new_like (w, error) : NULL;
      g_autoptr (SsTensor) db = need_b ? ss_tensor_new_like (b, error) : NULL;
      SS_OPS_TRY ((!need_w || dw) && (!need_b || db));
      p.has_w = need_w;
      p.has_b = need_b;
      p.y_off = dw ? dw->offset : 0;
      p.db_off = db ? db->offset : 0;
      SsTensor *out0 = dw ? dw : db;
      gboolean rowwise = p.s == 1 && p.groups == 1;   /* layer / RMS norm */
      guint64 colgroups = CDIV (p.channels, 32);
      /* rows in chunks (at least 64 rows each) so that some 512 workgroups
       * share the column sums, then one thread per channel adds the chunks */
      guint64 chunks = MIN (CDIV (512, colgroups), CDIV (p.nblocks, 64));
      if (rowwise && chunks > 1)
        {
          p.chunk_len = CDIV (p.nblocks, chunks);
          p.chunks = CDIV (p.nblocks, p.chunk_len);
          g_autoptr (SsGpuBuffer) part = ss_gpu_buffer_new (x->device, sizeof (float) * 2 * p.chunks * p.channels,
                                                            error);
          SS_OPS_TRY (part);
          SS_OPS_TRY (norm_dispatch (10, nd->rms, &p, x, NULL, NULL, g, nd->stats, part, out0, db,
                                     colgroups * p.chunks, error));
          SS_OPS_TRY (norm_dispatch (11, nd->rms, &p, x, NULL, NULL, g, nd->stats, part, out0, db,
                                     CDIV (p.channels, 128), error));
        }
      else
        SS_OPS_TRY (norm_dispatch (rowwise ? 3 : 2, nd->rms, &p, x, NULL, NULL, g, nd->stats, NULL, out0, db,
                                   rowwise ? colgroups : p.channels, error));
      (void) wb;
      gi[1] = g_steal_pointer (&dw);
      gi[2] = g_steal_pointer (&db);
    }
  return TRUE;
}

static SsTensor *
norm_op (const char *name, SsTensor *x, SsTensor *w, SsTensor *b, float eps, gboolean rms,
         guint32 nblocks, guint32 block_len, guint32 s, guint32 cg, guint32 groups,
         guint32 channels, GError **error)
{
  if (!ss_ops_check_dtypes (name, 3, (SsTensor *[]) { x, w, b }, error))
    return NULL;
  for (int i = 0; i < 2; i++)
    {
      SsTensor *t = i ? b : w;
      if (t && ss_tensor_numel (t) != channels)
        {
          g_autofree char *desc = ss_tensor_describe (t);
          g_set_error (error, SS_ERROR, SS_ERROR_INVALID_DATA,
                       "%s: %s %s does not have %u elements", name, i ? "bias" : "weight",
                       desc, channels);
          return NULL;
        }
    }
  g_autoptr (SsTensor) xc = ss_ops_contig (x, error);
  g_autoptr (SsTensor) wc = w ? ss_ops_contig (w, error) : NULL;
  g_autoptr (SsTensor) bc = b ? ss_ops_contig (b, error) : NULL;
  if (!xc || (w && !wc) || (b && !bc))
    return NULL;
  g_autoptr (SsTensor) y = ss_tensor_new_like (xc, error);
  if (!y)
    return NULL;
  g_autoptr (SsGpuBuffer) stats = ss_gpu_buffer_new (y->device, MAX (8 * (gsize) nblocks, 16), error);
  if (!stats)
    return NULL;
  NormPush p = {
    nblocks, block_len, s, cg, groups, channels,
    xc->offset, wc ? wc->offset : 0, bc ? bc->offset : 0, 0, y->offset, 0,
    wc != NULL, bc != NULL, eps, 0, 0,
  };
  g_autoptr (SsGpuBuffer) part = NULL;
  /* layer / RMS norm rows that fit in registers in units of 4 (stages 12, 13) */
  gboolean regs = s == 1 && groups == 1 && block_len % 4 == 0 && block_len <= SS_OPS_REGISTER_ROW_MAX &&
                  p.x_off % 4 == 0 && p.y_off % 4 == 0 && p.w_off % 4 == 0 && p.b_off % 4 == 0;
  /* on CPU devices, rows of at most 8 units a lane with a subgroup each
   * (stages 14, 15): a workgroup per row spent its time in barriers there
   * (lavapipe, 2 cores: the small Synchformer's 30 layer norms of rows of
   * 128, 155 ms a window; docs/PERFORMANCE-engine.md, eleventh session);
   * SOUNDSTAGE_NORM_SUBGROUP=0: off. Only where the subgroup size is fixed,
   * as lavapipe's is: the grid counts OPS_WG / size rows a workgroup */
  const SsGpuCaps *caps = ss_gpu_device_get_caps (y->device);
  guint32 sg = caps->subgroup_size;
  guint32 sub_rows = regs && caps->is_cpu && sg >= 4 && 128 % sg == 0 && block_len / 4 <= 8 * sg &&
                     ss_env_flag ("SOUNDSTAGE_NORM_SUBGROUP", TRUE) ? 128 / sg : 0;
  if (block_len > NORM_SPLIT)
    {
      p.chunk_len = NORM_CHUNK;
      p.chunks = CDIV (block_len, NORM_CHUNK);
      part = ss_gpu_buffer_new (y->device, sizeof (float) * (2 * (gsize) nblocks * p.chunks + 2 * (gsize) nblocks),
                                error);
      if (!part
          || !norm_dispatch (4, rms, &p, xc, wc, bc, NULL, stats, part, y, NULL,
                             (guint64) nblocks * p.chunks, error)
          || !norm_dispatch (5, rms, &p, xc, wc, bc, NULL, stats, part, y, NULL,
                             CDIV (nblocks, 128), error)
          || !norm_dispatch (6, rms, &p, xc, wc, bc, NULL, stats, part, y, NULL,
                             CDIV ((guint64) nblocks * block_len, 128), error))
        return NULL;
    }
  else if (!norm_dispatch (sub_rows ? 14 : regs ? 12 : 0, rms, &p, xc, wc, bc, NULL, stats, NULL, y, NULL,
                           sub_rows ? CDIV (nblocks, sub_rows) : nblocks, error))
    return NULL;
  SsAutogradNode *node = ss_ops_record (y, name, norm_backward, 3, (SsTensor *[]) { x, w, b });
  if (node)
    {
      NormData *nd = g_new0 (NormData, 1);
      nd->p = p;
      nd->rms = rms;
      nd->regs = regs;
      nd->sub_rows = sub_rows;
      nd->stats = g_steal_pointer (&stats);
      nd->part = g_steal_pointer (&part);
      ss_autograd_node_set_data (node, nd, norm_data_free);
      ss_ops_save_detached (node, xc);
      ss_ops_save_detached (node, wc);
      ss_ops_save_detached (node, bc);
    }
  return g_steal_pointer (&y);
}

SsTensor *
ss_op_layer_norm (SsTensor *x, SsTensor *w, SsTensor *b, float eps, GError **error)
{
  g_return_val_if_fail (x != NULL, NULL);
  guint32 c = x->shape[x->ndim - 1];
  guint32 rows = c ? ss_tensor_numel (x) / c : 0;
  return norm_op ("layer_norm", x, w, b, eps, FALSE, rows, c, 1, c, 1, c, error);
}

SsTensor *
ss_op_rms_norm (SsTensor *x, SsTensor *w, float eps, GError **error)
{
  g_return_val_if_fail (x != NULL, NULL);
  guint32 c = x->shape[x->ndim - 1];
  guint32 rows = c ? ss_tensor_numel (x) / c : 0;
  return norm_op ("rms_norm", x, w, NULL, eps, TRUE, rows, c, 1, c, 1, c, error);
}

SsTensor *
ss_op_group_norm (SsTensor *x, int groups, SsTensor *w, SsTensor *b, float eps, GError **error)
{
  g_return_val_if_fail (x != NULL, NULL);
  if (x->ndim < 2 || groups <= 0 || x->shape[1] % groups != 0)
    {
      g_autofree char *desc = ss_tensor_describe (x);
      g_set_error (error, SS_ERROR, SS_ERROR_INVALID_DATA,
                   "group_norm: %s cannot be split into %d groups over dim 1", desc, groups);
      return NULL;
    }
  guint32 n = x->shape[0], c = x->shape[1], s = ss_ops_prod (x, 2, x->ndim);
  guint32 cg = c / groups;
  return norm_op ("group_norm", x, w, b, eps, FALSE, n * groups, cg * s, s, cg, groups, c, error);
}
