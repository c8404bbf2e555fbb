/* ss-op-shape.c: concat, gather (index_select / embedding), rotary position
 * embedding and interpolation. */
#define G_LOG_DOMAIN "ss-ops"

#include "config.h"
#include "tensor/ops/ss-ops-private.h"

#include <math.h>
#include <string.h>

/* ---------------------------------------------------------------- concat */

typedef struct {
  int dim;
  guint n;
  gint64 *lens;
} ConcatData;

static void
concat_data_free (gpointer p)
{
  ConcatData *cd = p;
  g_free (cd->lens);
  g_free (cd);
}

static gboolean
concat_backward (SsAutogradNode *node, SsTensor *grad, SsTensor **gi, GError **error)
{
  ConcatData *cd = ss_autograd_node_get_data (node);
  gint64 off = 0;
  for (guint i = 0; i < cd->n; i++)
    {
      if (ss_autograd_node_needs_input_grad (node, i))
        {
          gi[i] = ss_tensor_slice (grad, cd->dim, off, off + cd->lens[i], error);
          SS_OPS_TRY (gi[i]);
        }
      off += cd->lens[i];
    }
  return TRUE;
}

/* The row stride of x seen as rows (the dims before d, merged) of contiguous
 * columns (dims d.. : one run of elements), or -1 when x is not laid out so. */
static gint64
concat_row_stride (SsTensor *x, int d)
{
  gint64 run = 1;
  for (int k = x->ndim - 1; k >= d; k--)
    {
      if (x->shape[k] != 1 && x->strides[k] != run)
        return -1;
      run *= x->shape[k];
    }
  gint64 row = -1, next = 0;   /* stride of the innermost outer dim; expected stride of the next */
  for (int k = d - 1; k >= 0; k--)
    {
      if (x->shape[k] == 1)
        continue;
      if (row < 0)
        row = x->strides[k];
      else if (x->strides[k] != next)
        return -1;
      next = x->strides[k] * x->shape[k];
    }
  return row < 0 ? run : row;
}

/* y = the inputs side by side along d: one ops_concat dispatch per 7 inputs
 * (one binding each, the output the eighth). Inputs that are not rows of
 * contiguous columns are copied first. */
static gboolean
concat_run (guint n, SsTensor *const *xs, int d, SsTensor *y, GError **error)
{
  enum { GROUP = 7 };
  guint64 rows = ss_ops_prod (y, 0, d), y_cols = ss_ops_prod (y, d, y->ndim);
  if (rows == 0 || y_cols == 0)
    return TRUE;
  gsize es = ss_dtype_size (y->dtype);
  guint max_unit = MIN (16, ss_gpu_device_get_caps (y->device)->min_storage_offset_align);
  guint64 col = 0;
  guint i = 0;
  while (i < n)
    {
      SsTensor *grp[GROUP] = { 0 };
      guint64 cols[GROUP], stride[GROUP], start[GROUP];
      guint64 c0 = col;
      guint k = 0;
      gboolean ok = TRUE;
      for (; i < n && k < GROUP; i++)
        {
          guint64 ci = ss_ops_prod (xs[i], d, xs[i]->ndim);
          if (ci == 0)
            continue;
          gint64 s = concat_row_stride (xs[i], d);
          if (s >= 0)
            grp[k] = ss_tensor_ref (xs[i]);
          else if (!(grp[k] = ss_ops_contig (xs[i], error)))
            {
              ok = FALSE;
              break;
            }
          else
            s = ci;
          cols[k] = ci;
          stride[k] = s;
          start[k] = col - c0;
          col += ci;
          k++;
        }
      if (ok && k > 0)
        {
          guint64 win = col - c0, y_off = y->offset + c0;
          /* the widest unit that divides every offset, stride and column count */
          guint unit = es, q = 1;
          for (guint u = max_unit; u > es; u /= 2)
            {
              guint64 kk = u / es;
              gboolean fits = win % kk == 0 && y_cols % kk == 0 && y_off % kk == 0;
              for (guint j = 0; fits && j < k; j++)
                fits = cols[j] % kk == 0 && stride[j] % kk == 0 && grp[j]->offset % kk == 0;
              if (fits)
                {
                  unit = u;
                  q = kk;
                  break;
                }
            }
          struct {
            guint32 rows, win, m_win, s_win, y_off, y_cols, n;
            guint32 start[GROUP], off[GROUP], stride[GROUP];
          } p = { rows, win / q, 0, 0, y_off / q, y_cols / q, k };
          ss_fastdiv_magic (p.win, &p.m_win, &p.s_win);
          SsGpuBinding b[GROUP + 1];
          for (guint j = 0; j < GROUP; j++)
            {
              SsTensor *x = grp[j < k ? j : 0];
              b[j] = ss_tensor_binding (x, SS_GPU_READ);
              p.start[j] = j < k ? start[j] / q : p.win;
              p.off[j] = j < k ? x->offset / q : 0;
              p.stride[j] = j < k ? stride[j] / q : 0;
            }
          b[GROUP] = ss_tensor_binding (y, SS_GPU_WRITE);
          char shader[32];
          g_snprintf (shader, sizeof shader, "ops_concat.raw%u", unit);
          ok = ss_ops_dispatch_shader (y->device, shader, NULL, 0, b, GROUP + 1, &p, sizeof p,
                                       ((guint64) p.rows * p.win + 1023) / 1024, error);   /* 256 x 4 */
        }
      for (guint j = 0; j < k; j++)
        ss_tensor_unref (grp[j]);
      if (!ok)
        return FALSE;
    }
  return TRUE;
}

SsTensor *
ss_op_concat (guint n, SsTensor *const *xs, int dim, GError **error)
{
  g_return_val_if_fail (n > 0 && xs != NULL && xs[0] != NULL, NULL);
  int d = ss_ops_dim ("concat", xs[0], dim, error);
  if (d < 0 || !ss_ops_check_dtypes ("concat", n, xs, error))
    return NULL;
  gint64 shape[5];
  memcpy (shape, xs[0]->shape, sizeof shape);
  shape[d] = 0;
  for (guint i = 0; i < n; i++)
    {
      gboolean ok = xs[i] && xs[i]->ndim == xs[0]->ndim;
      for (int k = 0; ok && k < xs[0]->ndim; k++)
        ok = k == d || xs[i]->shape[k] == xs[0]->shape[k];
      if (!ok)
        {
          g_autofree char *a = ss_tensor_describe (xs[0]);
          g_autofree char *b = xs[i] ? ss_tensor_describe (xs[i]) : g_strdup ("NULL");
          g_set_error (error, SS_ERROR, SS_ERROR_INVALID_DATA,
                       "concat: %s and %s differ outside dimension %d", a, b, d);
          return NULL;
        }
      shape[d] += xs[i]->shape[d];
    }
  g_autoptr (SsTensor) y = ss_tensor_new (xs[0]->dtype, xs[0]->ndim, shape, error);
  if (!y || !concat_run (n, xs, d, y, error))
    return NULL;
  SsAutogradNode *node = ss_ops_record (y, "concat", concat_backward, n, xs);
  if (node)
    {
      ConcatData *cd = g_new0 (ConcatData, 1);
      cd->dim = d;
      cd->n = n;
      cd->lens = g_new (gint64, n);
      for (guint i = 0; i < n; i++)
        cd->lens[i] = xs[i]->shape[d];
      ss_autograd_node_set_data (node, cd, concat_data_free);
    }
  return g_steal_pointer (&y);
}

SsTensor *
ss_op_slice_step (SsTensor *x, int dim, gint64 start, gint64 end, gint64 step, GError **error)
{
  g_return_val_if_fail (x != NULL, NULL);
  int d = ss_ops_dim ("slice", x, dim, error);
  if (d < 0)
    return NULL;
  if (step < 1)
    {
      g_set_error (error, SS_ERROR, SS_ERROR_INVALID_DATA, "slice: step %" G_GINT64_FORMAT
                   " is not positive", step);
      return NULL;
    }
  gint64 len = x->shape[d];
  if (start < 0)
    start += len;
  if (end < 0)
    end += len;
  start = CLAMP (start, 0, len);
  end = CLAMP (end, start, len);
  if (step == 1)
    {
      g_autoptr (SsTensor) v = ss_tensor_slice (x, d, start, end, error);
      return v ? ss_tensor_contiguous (v, error) : NULL;
    }
  gint64 m = (end - start + step - 1) / step;
  g_autofree gint32 *idx = g_new (gint32, MAX (m, 1));
  for (gint64 i = 0; i < m; i++)
    idx[i] = start + i * step;
  return ss_op_index_select (x, d, idx, m, error);
}

/* ---------------------------------------------------------------- gather */

typedef struct {
  guint32 outer, n, inner, m;
  gint32 *idx;          /* host copy, for the inverse map of the backward */
  SsGpuBuffer *ids;     /* or the device ids (a private copy) when there is none */
} GatherData;

static void
gather_data_free (gpointer p)
{
  GatherData *gd = p;
  g_free (gd->idx);
  g_clear_pointer (&gd->ids, ss_gpu_buffer_unref);
  g_free (gd);
}

static gboolean
gather_backward (SsAutogradNode *node, SsTensor *grad, SsTensor **gi, GError **error)
{
  GatherData *gd = ss_autograd_node_get_data (node);
  SsTensor *x = ss_autograd_node_input (node, 0);
  g_autoptr (SsTensor) g = ss_ops_contig (grad, error);
  SS_OPS_TRY (g);
  g_autoptr (SsTensor) dx = ss_tensor_new (x->dtype, x->ndim, x->shape, error);
  SS_OPS_TRY (dx);
  if (!gd->idx)
    {
      /* device ids: read back once (a sync) for the inverse map */
      gd->idx = g_new (gint32, MAX (gd->m, 1));
      SS_OPS_TRY (ss_gpu_buffer_download (gd->ids, 0, gd->idx, sizeof (gint32) * gd->m, error));
    }
  /* inverse map (CSR): offsets [n + 1], then positions grouped by row; ids
   * outside [0, n) (device ids only: their rows were zeros) have no gradient */
  g_autofree gint32 *csr = g_new0 (gint32, (gsize) gd->n + 1 + MAX (gd->m, 1));
  for (guint32 i = 0; i < gd->m; i++)
    if ((guint32) gd->idx[i] < gd->n)
      csr[gd->idx[i] + 1]++;
  for (guint32 j = 0; j < gd->n; j++)
    csr[j + 1] += csr[j];
  g_autofree gint32 *fill = g_memdup2 (csr, sizeof (gint32) * gd->n);
  for (guint32 i = 0; i < gd->m; i++)
    if ((guint32) gd->idx[i] < gd->n)
      csr[gd->n + 1 + fill[gd->idx[i]]++] = i;
  g_autoptr (SsGpuBuffer) ib = ss_ops_upload (dx->device, csr,
                                              sizeof (gint32) * ((gsize) gd->n + 1 + gd->m), error);
  SS_OPS_TRY (ib);
  struct { guint32 outer, n, inner, m, x_off, y_off, i_off, m_inner, s_inner, m_m, s_m; } p = {
    gd->outer, gd->n, gd->inner, gd->m, g->offset, dx->offset, 0, 0, 0, 0, 0
  };
  /* whole 16-byte units along inner: one thread per unit (ops_gather.comp VEC) */
  guint32 ue = dx->dtype == SS_DTYPE_F32 ? 4 : 8;
  guint32 vec = p.inner % ue == 0 && p.x_off % ue == 0 && p.y_off % ue == 0;
  if (vec)
    {
      p.inner /= ue;
      p.x_off /= ue;
      p.y_off /= ue;
    }
  guint32 spec[2] = { 1, vec };
  SsGpuBinding bind[3] = {
    ss_tensor_binding (g, SS_GPU_READ), { ib, 0, 0, SS_GPU_READ },
    ss_tensor_binding (dx, SS_GPU_WRITE),
  };
  SS_OPS_TRY (ss_ops_dispatch (dx->device, "ops_gather", dx->dtype, spec, 2, bind, 3, &p, sizeof p,
                               ((guint64) gd->outer * gd->n * p.inner + 255) / 256, error));
  gi[0] = g_steal_pointer (&dx);
  return TRUE;
}

/* y = x with dim d replaced by the m indices at element i_off of the device
 * buffer ib (host_idx: the same indices on the host, or NULL) */
static SsTensor *
gather_run (SsTensor *x, int d, SsGpuBuffer *ib, gsize i_off, const gint32 *host_idx, gint64 m,
            GError **error)
{
  g_autoptr (SsTensor) xc = ss_ops_contig (x, error);
  if (!xc)
    return NULL;
  gint64 shape[5];
  memcpy (shape, x->shape, sizeof shape);
  shape[d] = m;
  g_autoptr (SsTensor) y = ss_tensor_new (x->dtype, x->ndim, shape, error);
  if (!y)
    return NULL;
  guint32 outer = ss_ops_prod (x, 0, d), n = x->shape[d], inner = ss_ops_prod (x, d + 1, x->ndim);
  struct { guint32 outer, n, inner, m, x_off, y_off, i_off, m_inner, s_inner, m_m, s_m; } p = {
    outer, n, inner, m, xc->offset, y->offset, i_off, 0, 0, 0, 0
  };
  guint32 spec[1] = { 0 };
  SsGpuBinding bind[3] = {
    ss_tensor_binding (xc, SS_GPU_READ), { ib, 0, 0, SS_GPU_READ }, ss_tensor_binding (y, SS_GPU_WRITE),
  };
  /* rows of whole 16-byte units at 16-byte offsets: moved as units */
  guint32 k = 16 / ss_dtype_size (x->dtype);
  gboolean raw = inner % k == 0 && p.x_off % k == 0 && p.y_off % k == 0;
  char shader[32];
  if (raw)
    {
      p.inner /= k;
      p.x_off /= k;
      p.y_off /= k;
      g_strlcpy (shader, "ops_gather.raw16", sizeof shader);
    }
  else
    ss_tensor_shader ("ops_gather", y->dtype, shader, sizeof shader);
  ss_fastdiv_magic (MAX (p.inner, 1), &p.m_inner, &p.s_inner);
  ss_fastdiv_magic (MAX (p.m, 1), &p.m_m, &p.s_m);
  if (!ss_ops_dispatch_shader (y->device, shader, spec, 1, bind, 3, &p, sizeof p,
                               ((guint64) outer * m * p.inner + 1023) / 1024, error))   /* 256 x 4 */
    return NULL;
  SsAutogradNode *node = ss_ops_record (y, "index_select", gather_backward, 1, &x);
  if (node)
    {
      GatherData *gd = g_new0 (GatherData, 1);
      *gd = (GatherData) { outer, n, inner, m };
      if (host_idx)
        gd->idx = g_memdup2 (host_idx, sizeof (gint32) * MAX (m, 1));
      else
        {
          /* a private copy: the caller may reuse its buffer before the backward */
          gd->ids = ss_gpu_buffer_new (y->device, sizeof (gint32) * MAX (m, 1), error);
          if (!gd->ids || (m > 0 && !ss_gpu_buffer_copy (ib, sizeof (gint32) * i_off, gd->ids, 0,
                                                         sizeof (gint32) * m, error)))
            {
              gather_data_free (gd);
              return NULL;
            }
        }
      ss_autograd_node_set_data (node, gd, gather_data_free);
    }
  return g_steal_pointer (&y);
}

SsTensor *
ss_op_index_select (SsTensor *x, int dim, const gint32 *idx, gint64 m, GError **error)
{
  g_return_val_if_fail (x != NULL && (idx != NULL || m == 0), NULL);
  int d = ss_ops_dim ("index_select", x, dim, error);
  if (d < 0)
    return NULL;
  for (gint64 i = 0; i < m; i++)
    if (idx[i] < 0 || idx[i] >= x->shape[d])
      {
        g_autofree char *desc = ss_tensor_describe (x);
        g_set_error (error, SS_ERROR, SS_ERROR_INVALID_DATA,
                     "index_select: index %d (at position %" G_GINT64_FORMAT ") is out of range "
                     "for dimension %d of %s", idx[i], i, d, desc);
        return NULL;
      }
  g_autoptr (SsGpuBuffer) ib = ss_ops_upload (x->device, idx, m * sizeof (gint32), error);
  if (!ib)
    return NULL;
  return gather_run (x, d, ib, 0, idx, m, error);
}

/* the number of ids of an ids shape, checked; -1 with an error */
static gint64
embedding_check (SsTensor *table, int ndim, const gint64 *shape, gint64 out_shape[5], GError **error)
{
  if (table->ndim != 2)
    {
      g_autofree char *desc = ss_tensor_describe (table);
      g_set_error (error, SS_ERROR, SS_ERROR_INVALID_DATA,
                   "embedding: the table %s is not 2-D", desc);
      return -1;
    }
  gint64 m = 1;
  for (int i = 0; i < ndim; i++)
    {
      m *= shape[i];
      out_shape[i] = shape[i];
    }
  out_shape[ndim] = table->shape[1];
  return m;
}

SsTensor *
ss_op_embedding (SsTensor *table, const gint32 *ids, int ndim, const gint64 *shape, GError **error)
{
  g_return_val_if_fail (table != NULL && ndim >= 1 && ndim <= 4, NULL);
  gint64 out_shape[5], m = embedding_check (table, ndim, shape, out_shape, error);
  if (m < 0)
    return NULL;
  /* checks the ids on the host, uploads them and gathers (keeping the host
   * copy for the backward) */
  g_autoptr (SsTensor) rows = ss_op_index_select (table, 0, ids, m, error);
  if (!rows)
    return NULL;
  return ss_tensor_reshape (rows, ndim + 1, out_shape, error);
}

SsTensor *
ss_op_embedding_device (SsTensor *table, SsGpuBuffer *ids, gsize ids_offset, int ndim,
                        const gint64 *shape, GError **error)
{
  g_return_val_if_fail (table != NULL && ids != NULL && ndim >= 1 && ndim <= 4, NULL);
  gint64 out_shape[5], m = embedding_check (table, ndim, shape, out_shape, error);
  if (m < 0)
    return NULL;
  if ((ids_offset + m) * sizeof (gint32) > ss_gpu_buffer_get_size (ids))
    {
      g_set_error (error, SS_ERROR, SS_ERROR_INVALID_DATA,
                   "embedding: %" G_GINT64_FORMAT " ids at element %" G_GSIZE_FORMAT
                   " pass the end of a buffer of %" G_GSIZE_FORMAT " bytes", m, ids_offset,
                   ss_gpu_buffer_get_size (ids));
      return NULL;
    }
  g_autoptr (SsTensor) rows = gather_run (table, 0, ids, ids_offset, NULL, m, error);
  if (!rows)
    return NULL;
  return ss_tensor_reshape (rows, ndim + 1, out_shape, error);
}

/* ---------------------------------------------------------------- rope */

typedef struct {
  guint32 rows, len, heads, dim, rot_dim;
  gboolean interleaved;
  SsGpuBuffer *table;
} RopeData;

static void
rope_data_free (gpointer p)
{
  RopeData *rd = p;
  g_clear_pointer (&rd->table, ss_gpu_buffer_unref);
  g_free (rd);
}

/* (cos, sin) tables [len, rot_dim / 2, 2], computed in double precision on the
 * host (sin/cos of large angles in fp32 shaders lose accuracy) and cached:
 * every layer of a model asks for the same table. */
typedef struct {
  SsGpuDevice *dev;
  guint32 len, rot_dim;
  float base;
  float *pos;          /* NULL: 0..len-1 */
  SsGpuBuffer *buf;
  guint64 stamp;
} RopeTable;

#define ROPE_CACHE 8
static GMutex rope_lock;
static RopeTable rope_cache[ROPE_CACHE];
static guint64 rope_clock;

static SsGpuBuffer *
rope_table (SsGpuDevice *dev, guint32 len, guint32 rot_dim, float base, const float *pos,
            GError **error)
{
  g_autoptr (GMutexLocker) locker G_GNUC_UNUSED = g_mutex_locker_new (&rope_lock);
  RopeTable *slot = &rope_cache[0];
  for (int i = 0; i < ROPE_CACHE; i++)
    {
      RopeTable *e = &rope_cache[i];
      if (e->buf && e->dev == dev && e->len == len && e->rot_dim == rot_dim && e->base == base
          && (pos == NULL) == (e->pos == NULL)
          && (!pos || memcmp (pos, e->pos, sizeof (float) * len) == 0))
        {
          e->stamp = ++rope_clock;
          return ss_gpu_buffer_ref (e->buf);
        }
      if (e->stamp < slot->stamp)
        slot = e;
    }
  guint32 half = rot_dim / 2;
  g_autofree float *tab = g_new (float, MAX ((gsize) len * half * 2, 1));
  for (guint32 l = 0; l < len; l++)
    {
      double p = pos ? pos[l] : (double) l;
      for (guint32 i = 0; i < half; i++)
        {
          double theta = p * pow (base, -2.0 * i / rot_dim);
          tab[(l * half + i) * 2] = cos (theta);
          tab[(l * half + i) * 2 + 1] = sin (theta);
        }
    }
  SsGpuBuffer *buf = ss_ops_upload (dev, tab, sizeof (float) * len * half * 2, error);
  if (!buf)
    return NULL;
  g_clear_pointer (&slot->buf, ss_gpu_buffer_unref);
  g_clear_pointer (&slot->pos, g_free);
  *slot = (RopeTable) { dev, len, rot_dim, base, pos ? g_memdup2 (pos, sizeof (float) * len) : NULL,
                        ss_gpu_buffer_ref (buf), ++rope_clock };
  return buf;
}

static gboolean
rope_run (RopeData *rd, SsTensor *x, SsTensor *y, gboolean bwd, GError **error)
{
  struct { guint32 rows, len, heads, dim, rot_dim, x_off, y_off; } p = {
    rd->rows, rd->len, rd->heads, rd->dim, rd->rot_dim, x->offset, y->offset
  };
  guint32 spec[2] = { rd->interleaved, bwd };
  SsGpuBinding bind[3] = {
    ss_tensor_binding (x, SS_GPU_READ), { rd->table, 0, 0, SS_GPU_READ },
    ss_tensor_binding (y, SS_GPU_WRITE),
  };
  guint64 per_row = rd->rot_dim / 2 + (rd->dim - rd->rot_dim);
  return ss_ops_dispatch (y->device, "ops_rope", y->dtype, spec, 2, bind, 3, &p, sizeof p,
                          ((guint64) rd->rows * per_row + 255) / 256, error);
}

static gboolean
rope_backward (SsAutogradNode *node, SsTensor *grad, SsTensor **gi, GError **error)
{
  RopeData *rd = ss_autograd_node_get_data (node);
  SsTensor *x = ss_autograd_node_input (node, 0);
  g_autoptr (SsTensor) g = ss_ops_contig (grad, error);
  SS_OPS_TRY (g);
  g_autoptr (SsTensor) dx = ss_tensor_new (x->dtype, x->ndim, x->shape, error);
  SS_OPS_TRY (dx);
  SS_OPS_TRY (rope_run (rd, g, dx, TRUE, error));
  gi[0] = g_steal_pointer (&dx);
  return TRUE;
}

SsTensor *
ss_op_rope (SsTensor *x, int seq_dim, int rot_dim, float base, gboolean interleaved,
            const float *positions, GError **error)
{
  g_return_val_if_fail (x != NULL, NULL);
  int d = ss_ops_dim ("rope", x, seq_dim, error);
  if (d < 0)
    return NULL;
  gint64 dim = x->shape[x->ndim - 1];
  if (d == x->ndim - 1 || rot_dim <= 0 || rot_dim % 2 != 0 || rot_dim > dim || base <= 0)
    {
      g_autofree char *desc = ss_tensor_describe (x);
      g_set_error (error, SS_ERROR, SS_ERROR_INVALID_DATA,
                   "rope: cannot rotate %d features of %s with positions along dimension %d",
                   rot_dim, desc, seq_dim);
      return NULL;
    }
  g_autoptr (SsTensor) xc = ss_ops_contig (x, error);
  if (!xc)
    return NULL;
  g_autoptr (SsTensor) y = ss_tensor_new_like (xc, error);
  if (!y)
    return NULL;
  guint32 len = x->shape[d];
  g_autofree RopeData *rd = g_new0 (RopeData, 1);
  *rd = (RopeData) { ss_tensor_numel (x) / dim, len, ss_ops_prod (x, d + 1, x->ndim - 1), dim,
                     rot_dim, interleaved, NULL };
  rd->table = rope_table (y->device, len, rot_dim, base, positions, error);
  if (!rd->table || !rope_run (rd, xc, y, FALSE, error))
    {
      if (rd->table)
        ss_gpu_buffer_unref (rd->table);
      return NULL;
    }
  SsAutogradNode *node = ss_ops_record (y, "rope", rope_backward, 1, &x);
  if (node)
    ss_autograd_node_set_data (node, g_steal_pointer (&rd), rope_data_free);
  else
    ss_gpu_buffer_unref (rd->table);
  return g_steal_pointer (&y);
}

/* ---------------------------------------------------------------- interpolate */

typedef struct {
  guint32 nc, ih, iw, oh, ow;
  SsInterpMode mode;
  gboolean align;
} InterpData;

/* Nearest by integer factors (up to 8) on rows of whole units of 4 elements
 * goes to ops_upsample: each unit of x is written to its SH x SW block of y
 * with 16-byte stores (8-byte for 16-bit dtypes with an odd SW); the backward
 * sums the blocks. */
static gboolean
upsample_applies (InterpData *id, SsTensor *x, SsTensor *y)
{
  return id->mode == SS_INTERP_NEAREST && id->oh % id->ih == 0 && id->ow % id->iw == 0
         && id->oh / id->ih <= 8 && id->ow / id->iw <= 8
         && id->iw % 4 == 0 && x->offset % 4 == 0 && y->offset % 4 == 0;
}

static gboolean
upsample_run (InterpData *id, SsTensor *x, SsTensor *y, gboolean bwd, GError **error)
{
  guint32 sh = id->oh / id->ih, sw = id->ow / id->iw;
  guint32 units = id->nc * id->ih * (id->iw / 4);
  struct { guint32 units, iw4, m_iw4, s_iw4, ow, x_off, y_off; } p = {
    units, id->iw / 4, 0, 0, id->ow, x->offset, y->offset
  };
  ss_fastdiv_magic (p.iw4, &p.m_iw4, &p.s_iw4);
  /* the forward's 16-byte stores of 16-bit elements need row chunks (4 * SW
   * elements) of whole 16-byte units at 16-byte offsets */
  guint32 wide = x->dtype == SS_DTYPE_F32 || (sw % 2 == 0 && y->offset % 8 == 0);
  guint32 spec[4] = { sh, sw, bwd, wide };
  SsGpuBinding bind[2] = { ss_tensor_binding (x, SS_GPU_READ), ss_tensor_binding (y, SS_GPU_WRITE) };
  return ss_ops_dispatch (y->device, "ops_upsample", y->dtype, spec, 4, bind, 2, &p, sizeof p,
                          ((guint64) units + 1023) / 1024, error);   /* 256 x 4 */
}

static gboolean
interp_run (InterpData *id, SsTensor *x, SsTensor *y, gboolean bwd, GError **error)
{
  if (upsample_applies (id, x, y))
    return upsample_run (id, x, y, bwd, error);
  struct { guint32 nc, ih, iw, oh, ow, x_off, y_off, m_oh, s_oh, m_ow, s_ow; } p = {
    id->nc, id->ih, id->iw, id->oh, id->ow, x->offset, y->offset, 0, 0, 0, 0
  };
  ss_fastdiv_magic (MAX (id->oh, 1), &p.m_oh, &p.s_oh);
  ss_fastdiv_magic (MAX (id->ow, 1), &p.m_ow, &p.s_ow);
  guint32 spec[3] = { id->mode == SS_INTERP_LINEAR, id->align, bwd };
  SsGpuBinding bind[2] = { ss_tensor_binding (x, SS_GPU_READ), ss_tensor_binding (y, SS_GPU_WRITE) };
  guint64 n = (guint64) id->nc * (bwd ? (guint64) id->ih * id->iw : (guint64) id->oh * id->ow);
  return ss_ops_dispatch (y->device, "ops_interp", y->dtype, spec, 3, bind, 2, &p, sizeof p,
                          (n + 255) / 256, error);
}

static gboolean
interp_backward (SsAutogradNode *node, SsTensor *grad, SsTensor **gi, GError **error)
{
  InterpData *id = ss_autograd_node_get_data (node);
  SsTensor *x = ss_autograd_node_input (node, 0);
  g_autoptr (SsTensor) g = ss_ops_contig (grad, error);
  SS_OPS_TRY (g);
  g_autoptr (SsTensor) dx = ss_tensor_new (x->dtype, x->ndim, x->shape, error);
  SS_OPS_TRY (dx);
  SS_OPS_TRY (interp_run (id, g, dx, TRUE, error));
  gi[0] = g_steal_pointer (&dx);
  return TRUE;
}

SsTensor *
ss_op_interpolate (SsTensor *x, int n_size, const gint64 *size, SsInterpMode mode,
                   gboolean align_corners, GError **error)
{
  g_return_val_if_fail (x != NULL && size != NULL, NULL);
  if ((n_size != 1 && n_size != 2) || x->ndim != n_size + 2 || size[0] <= 0
      || (n_size == 2 && size[1] <= 0))
    {
      g_autofree char *desc = ss_tensor_describe (x);
      g_set_error (error, SS_ERROR, SS_ERROR_INVALID_DATA,
                   "interpolate: %s is not [N, C, W] or [N, C, H, W] with a matching output size",
                   desc);
      return NULL;
    }
  g_autoptr (SsTensor) xc = ss_ops_contig (x, error);
  if (!xc)
    return NULL;
  gint64 shape[4] = { x->shape[0], x->shape[1], size[0], n_size == 2 ? size[1] : 0 };
  g_autoptr (SsTensor) y = ss_tensor_new (x->dtype, x->ndim, shape, error);
  if (!y)
    return NULL;
  InterpData id = {
    x->shape[0] * x->shape[1],
    n_size == 2 ? x->shape[2] : 1, x->shape[x->ndim - 1],
    n_size == 2 ? size[0] : 1, size[n_size - 1],
    mode, align_corners,
  };
  if (!interp_run (&id, xc, y, FALSE, error))
    return NULL;
  SsAutogradNode *node = ss_ops_record (y, "interpolate", interp_backward, 1, &x);
  if (node)
    ss_autograd_node_set_data (node, g_memdup2 (&id, sizeof id), g_free);
  return g_steal_pointer (&y);
}
