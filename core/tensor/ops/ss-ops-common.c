/* ss-ops-common.c: shared helpers of the op implementations. */
#define G_LOG_DOMAIN "ss-ops"

#include "config.h"
#include "tensor/ops/ss-ops-private.h"

gboolean
ss_ops_dispatch_shader (SsGpuDevice *dev, const char *shader,
                        const guint32 *spec, guint n_spec,
                        const SsGpuBinding *bindings, guint n_bindings,
                        const void *push, guint push_size,
                        guint64 n_groups, GError **error)
{
  if (n_groups == 0)
    return TRUE;
  SsGpuDispatch d = {
    .shader = shader,
    .spec = spec, .n_spec = n_spec,
    .bindings = bindings, .n_bindings = n_bindings,
    .push = push, .push_size = push_size,
  };
  ss_gpu_groups_1d (dev, n_groups, d.groups);
  return ss_gpu_dispatch (dev, &d, error);
}

gboolean
ss_ops_dispatch (SsGpuDevice *dev, const char *stem, SsDType dtype,
                 const guint32 *spec, guint n_spec,
                 const SsGpuBinding *bindings, guint n_bindings,
                 const void *push, guint push_size,
                 guint64 n_groups, GError **error)
{
  char name[96];
  return ss_ops_dispatch_shader (dev, ss_tensor_shader (stem, dtype, name, sizeof name), spec, n_spec,
                                 bindings, n_bindings, push, push_size, n_groups, error);
}

void
ss_ops_row_chunks (guint64 cols, guint32 n, guint32 *chunks, guint32 *chunk_len)
{
  guint64 c = CLAMP ((gint64) (131072 / MAX (cols, 1)), 1, MAX (n / 32, 1));
  *chunk_len = (n + c - 1) / c;
  *chunks = (n + *chunk_len - 1) / *chunk_len;
}

int
ss_ops_dim (const char *op, SsTensor *t, int dim, GError **error)
{
  int d = dim < 0 ? dim + t->ndim : dim;
  if (d < 0 || d >= t->ndim)
    {
      g_autofree char *desc = ss_tensor_describe (t);
      g_set_error (error, SS_ERROR, SS_ERROR_INVALID_DATA,
                   "%s: dimension %d is out of range for a tensor %s", op, dim, desc);
      return -1;
    }
  return d;
}

SsTensor *
ss_ops_contig (SsTensor *t, GError **error)
{
  if (ss_tensor_is_contiguous (t))
    return ss_tensor_ref (t);
  g_auto (SsNoGradGuard) guard G_GNUC_UNUSED = ss_autograd_no_grad ();
  return ss_tensor_contiguous (t, error);
}

gint64
ss_ops_prod (SsTensor *t, int from, int to)
{
  gint64 p = 1;
  for (int i = from; i < to; i++)
    p *= t->shape[i];
  return p;
}

gboolean
ss_ops_check_dtypes (const char *op, guint n, SsTensor *const *ts, GError **error)
{
  SsTensor *first = NULL;
  for (guint i = 0; i < n; i++)
    {
      if (!ts[i])
        continue;
      if (!first)
        first = ts[i];
      else if (ts[i]->dtype != first->dtype)
        {
          g_set_error (error, SS_ERROR, SS_ERROR_INVALID_DATA,
                       "%s: inputs have different dtypes (%s and %s)", op,
                       ss_dtype_name (first->dtype), ss_dtype_name (ts[i]->dtype));
          return FALSE;
        }
    }
  return TRUE;
}

SsGpuBuffer *
ss_ops_upload (SsGpuDevice *dev, const void *data, gsize size, GError **error)
{
  SsGpuBuffer *buf = ss_gpu_buffer_new (dev, MAX (size, 16), error);
  if (!buf)
    return NULL;
  if (size && !ss_gpu_buffer_upload (buf, 0, data, size, error))
    {
      ss_gpu_buffer_unref (buf);
      return NULL;
    }
  return buf;
}

SsAutogradNode *
ss_ops_record (SsTensor *out, const char *name, SsBackwardFunc fn,
               guint n, SsTensor *const *inputs)
{
  if (!ss_autograd_needs_grad (n, inputs))
    return NULL;
  SsAutogradNode *node = ss_autograd_node_new (name, fn, n, inputs);
  ss_autograd_attach (out, node);
  return node;
}

void
ss_ops_save_detached (SsAutogradNode *node, SsTensor *t)
{
  g_autoptr (SsTensor) d = t ? ss_tensor_detach (t) : NULL;
  ss_autograd_node_save (node, d);
}
