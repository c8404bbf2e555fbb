/* ss-tensor.c: tensors, views, transfers and the copy/fill/axpy kernels. */
#define G_LOG_DOMAIN "ss-tensor"

#include "config.h"
#include "tensor/ss-tensor.h"
#include "tensor/ss-autograd.h"
#include "ss-half.h"
#include "ss-env.h"

#include <math.h>
#include <string.h>

/* ------------------------------------------------------------- dtypes */

gsize
ss_dtype_size (SsDType dtype)
{
  return dtype == SS_DTYPE_F32 ? 4 : 2;
}

const char *
ss_dtype_name (SsDType dtype)
{
  switch (dtype)
    {
    case SS_DTYPE_F32: return "f32";
    case SS_DTYPE_F16: return "f16";
    case SS_DTYPE_BF16: return "bf16";
    default: return "?";
    }
}

float
ss_bf16_to_float (guint16 v)
{
  return ss_half_bf16_to_f32 (v);
}

guint16
ss_float_to_bf16 (float v)
{
  guint32 u;
  memcpy (&u, &v, 4);
  if ((u & 0x7fffffffu) > 0x7f800000u)
    return 0x7fc0;
  u += 0x7fffu + ((u >> 16) & 1u);
  return (guint16) (u >> 16);
}

float
ss_half_to_float (guint16 h)
{
  return ss_half_f16_to_f32 (h);
}

guint16
ss_float_to_half (float f)
{
  guint32 u;
  memcpy (&u, &f, 4);
  guint32 sign = (u >> 16) & 0x8000;
  guint32 absu = u & 0x7fffffffu;
  if (absu > 0x7f800000u)
    return (guint16) (sign | 0x7e00);
  if (absu >= 0x477ff000u) /* rounds to >= 65520 -> inf */
    return (guint16) (sign | 0x7c00);
  if (absu < 0x38800000u)
    {
      /* subnormal or zero: value / 2^-24, rounded to nearest even */
      float a;
      memcpy (&a, &absu, 4);
      double s = (double) a * 16777216.0;
      double r = nearbyint (s);
      return (guint16) (sign | (guint32) r);
    }
  guint32 mant_odd = (absu >> 13) & 1;
  absu += 0xfffu + mant_odd;
  return (guint16) (sign | ((absu - 0x38000000u) >> 13));
}

/* ------------------------------------------------------------ creation */

static void
set_contiguous_strides (SsTensor *t)
{
  gint64 s = 1;
  for (int d = t->ndim - 1; d >= 0; d--)
    {
      t->strides[d] = s;
      s *= t->shape[d];
    }
}

static SsTensor *
tensor_alloc_struct (SsDType dtype, int ndim, const gint64 *shape)
{
  SsTensor *t = g_new0 (SsTensor, 1);
  t->ref_count = 1;
  t->dtype = dtype;
  t->ndim = ndim;
  for (int i = 0; i < ndim; i++)
    t->shape[i] = shape[i];
  set_contiguous_strides (t);
  return t;
}

static gboolean
check_shape (int ndim, const gint64 *shape, GError **error)
{
  if (ndim < 0 || ndim > SS_TENSOR_MAX_DIMS)
    {
      g_set_error (error, SS_ERROR, SS_ERROR_INVALID_DATA,
                   "Tensors have at most %d dimensions (got %d)", SS_TENSOR_MAX_DIMS, ndim);
      return FALSE;
    }
  gint64 n = 1;
  for (int i = 0; i < ndim; i++)
    {
      if (shape[i] < 0 || (shape[i] > 0 && n > G_MAXINT64 / shape[i]))
        {
          g_set_error (error, SS_ERROR, SS_ERROR_INVALID_DATA, "Invalid tensor shape");
          return FALSE;
        }
      n *= shape[i];
    }
  if (n > (gint64) G_MAXUINT32)
    {
      g_set_error (error, SS_ERROR, SS_ERROR_UNSUPPORTED,
                   "Tensor of %" G_GINT64_FORMAT " elements is too large (at most 2^32)", n);
      return FALSE;
    }
  return TRUE;
}

SsTensor *
ss_tensor_new (SsDType dtype, int ndim, const gint64 *shape, GError **error)
{
  if (!check_shape (ndim, shape, error))
    return NULL;
  SsGpuDevice *dev = ss_gpu_device_get_default (error);
  if (!dev)
    return NULL;
  SsTensor *t = tensor_alloc_struct (dtype, ndim, shape);
  gsize bytes = MAX ((gsize) ss_tensor_numel (t) * ss_dtype_size (dtype), 4);
  t->buffer = ss_gpu_buffer_new (dev, (bytes + 3) & ~(gsize) 3, error);
  if (!t->buffer)
    {
      g_free (t);
      return NULL;
    }
  t->device = dev;
  /* SOUNDSTAGE_POISON=1 (tests): new tensors start as NaN in every dtype, so
   * elements a kernel forgets to write fail the comparisons */
  if (ss_env_flag ("SOUNDSTAGE_POISON", FALSE) && !ss_gpu_buffer_fill (t->buffer, 0, ss_gpu_buffer_get_size (t->buffer), 0x7fc07fc0u, error))
    {
      ss_tensor_unref (t);
      return NULL;
    }
  return t;
}

SsTensor *
ss_tensor_new_with_buffer (SsGpuBuffer *buffer, gsize byte_offset, SsDType dtype,
                           int ndim, const gint64 *shape, GError **error)
{
  g_return_val_if_fail (buffer != NULL, NULL);
  g_return_val_if_fail (byte_offset % ss_dtype_size (dtype) == 0, NULL);
  if (!check_shape (ndim, shape, error))
    return NULL;
  SsTensor *t = tensor_alloc_struct (dtype, ndim, shape);
  if (byte_offset + ss_tensor_numel (t) * ss_dtype_size (dtype) > ss_gpu_buffer_get_size (buffer))
    {
      g_free (t);
      g_set_error (error, SS_ERROR, SS_ERROR_INVALID_DATA, "tensor does not fit in its buffer");
      return NULL;
    }
  t->buffer = ss_gpu_buffer_ref (buffer);
  t->device = ss_gpu_buffer_get_device (buffer);
  t->offset = byte_offset / ss_dtype_size (dtype);
  return t;
}

SsTensor *
ss_tensor_new_like (SsTensor *t, GError **error)
{
  return ss_tensor_new (t->dtype, t->ndim, t->shape, error);
}

SsTensor *
ss_tensor_zeros (SsDType dtype, int ndim, const gint64 *shape, GError **error)
{
  SsTensor *t = ss_tensor_new (dtype, ndim, shape, error);
  if (t && !ss_gpu_buffer_fill (t->buffer, 0, ss_gpu_buffer_get_size (t->buffer), 0, error))
    g_clear_pointer (&t, ss_tensor_unref);
  return t;
}

SsTensor *
ss_tensor_full (SsDType dtype, int ndim, const gint64 *shape, float value, GError **error)
{
  SsTensor *t = ss_tensor_new (dtype, ndim, shape, error);
  if (t && !ss_tensor_fill (t, value, error))
    g_clear_pointer (&t, ss_tensor_unref);
  return t;
}

static void
floats_to_raw (SsDType dtype, const float *src, void *dst, gsize n)
{
  if (dtype == SS_DTYPE_F32)
    memcpy (dst, src, n * 4);
  else if (dtype == SS_DTYPE_F16)
    for (gsize i = 0; i < n; i++)
      ((guint16 *) dst)[i] = ss_float_to_half (src[i]);
  else
    for (gsize i = 0; i < n; i++)
      ((guint16 *) dst)[i] = ss_float_to_bf16 (src[i]);
}

static void
raw_to_floats (SsDType dtype, const void *src, float *dst, gsize n)
{
  if (dtype == SS_DTYPE_F32)
    memcpy (dst, src, n * 4);
  else if (dtype == SS_DTYPE_F16)
    for (gsize i = 0; i < n; i++)
      dst[i] = ss_half_to_float (((const guint16 *) src)[i]);
  else
    for (gsize i = 0; i < n; i++)
      dst[i] = ss_bf16_to_float (((const guint16 *) src)[i]);
}

SsTensor *
ss_tensor_new_from_raw (SsDType dtype, int ndim, const gint64 *shape, const void *data, GError **error)
{
  SsTensor *t = ss_tensor_new (dtype, ndim, shape, error);
  if (t && !ss_tensor_upload_raw (t, data, error))
    g_clear_pointer (&t, ss_tensor_unref);
  return t;
}

SsTensor *
ss_tensor_new_from_floats (SsDType dtype, int ndim, const gint64 *shape, const float *data, GError **error)
{
  SsTensor *t = ss_tensor_new (dtype, ndim, shape, error);
  if (t && !ss_tensor_upload_floats (t, data, error))
    g_clear_pointer (&t, ss_tensor_unref);
  return t;
}

SsTensor *
ss_tensor_ref (SsTensor *t)
{
  g_return_val_if_fail (t != NULL, NULL);
  g_atomic_int_inc (&t->ref_count);
  return t;
}

void
ss_tensor_unref (SsTensor *t)
{
  if (!t || !g_atomic_int_dec_and_test (&t->ref_count))
    return;
  if (t->node)
    ss_autograd_node_free (t->node);
  g_clear_pointer (&t->grad, ss_tensor_unref);
  g_clear_pointer (&t->buffer, ss_gpu_buffer_unref);
  g_free (t->name);
  g_free (t);
}

gint64
ss_tensor_numel (SsTensor *t)
{
  gint64 n = 1;
  for (int i = 0; i < t->ndim; i++)
    n *= t->shape[i];
  return n;
}

gboolean
ss_tensor_is_contiguous (SsTensor *t)
{
  gint64 s = 1;
  for (int d = t->ndim - 1; d >= 0; d--)
    {
      if (t->shape[d] != 1 && t->strides[d] != s)
        return FALSE;
      s *= t->shape[d];
    }
  return TRUE;
}

gboolean
ss_tensor_same_shape (SsTensor *a, SsTensor *b)
{
  if (a->ndim != b->ndim)
    return FALSE;
  for (int i = 0; i < a->ndim; i++)
    if (a->shape[i] != b->shape[i])
      return FALSE;
  return TRUE;
}

char *
ss_tensor_describe (SsTensor *t)
{
  GString *s = g_string_new (t->name ? t->name : "");
  if (t->name)
    g_string_append_c (s, ' ');
  g_string_append_c (s, '[');
  for (int i = 0; i < t->ndim; i++)
    g_string_append_printf (s, "%s%" G_GINT64_FORMAT, i ? ", " : "", t->shape[i]);
  g_string_append_printf (s, "] %s", ss_dtype_name (t->dtype));
  return g_string_free (s, FALSE);
}

void
ss_tensor_set_name (SsTensor *t, const char *name)
{
  g_free (t->name);
  t->name = g_strdup (name);
}

void
ss_tensor_set_requires_grad (SsTensor *t, gboolean requires_grad)
{
  t->requires_grad = requires_grad;
}

SsGpuBinding
ss_tensor_binding (SsTensor *t, SsGpuAccess access)
{
  return (SsGpuBinding) { t->buffer, 0, 0, access };
}

const char *
ss_tensor_shader (const char *stem, SsDType dtype, char *buf, gsize len)
{
  g_snprintf (buf, len, "%s.%s", stem, ss_dtype_name (dtype));
  return buf;
}

/* --------------------------------------------------------- GPU kernels */

typedef struct {
  guint32 n, ndim, src_off, dst_off;
  guint32 shape[5];
  guint32 src_stride[5];
  guint32 dst_stride[5];
  guint32 magic[5], shift[5];   /* ss_fastdiv_magic of shape[] */
} CopyPush;

gboolean
ss_tensor_copy_into (SsTensor *dst, SsTensor *src, GError **error)
{
  g_return_val_if_fail (dst && src, FALSE);
  g_return_val_if_fail (ss_tensor_same_shape (dst, src), FALSE);
  gint64 n = ss_tensor_numel (dst);
  if (n == 0)
    return TRUE;
  if (src->dtype == dst->dtype && ss_tensor_is_contiguous (src) && ss_tensor_is_contiguous (dst))
    {
      /* a plain byte copy (vkCmdCopyBuffer): no index arithmetic */
      gsize es = ss_dtype_size (src->dtype);
      return ss_gpu_buffer_copy (src->buffer, src->offset * es, dst->buffer, dst->offset * es, n * es, error);
    }
  CopyPush p = { .n = n, .ndim = 1, .src_off = src->offset, .dst_off = dst->offset };
  p.shape[0] = 1;
  p.src_stride[0] = p.dst_stride[0] = 0;
  /* dims of size 1 dropped, and a dim merged into the next (inner) one where
   * both tensors step over it as one run: fewer divisions per element */
  int nd = 0;
  for (int i = 0; i < dst->ndim; i++)
    {
      if (dst->shape[i] == 1)
        continue;
      guint32 sh = dst->shape[i], ss = src->strides[i], ds = dst->strides[i];
      if (nd > 0 && p.src_stride[nd - 1] == (guint64) ss * sh && p.dst_stride[nd - 1] == (guint64) ds * sh)
        {
          p.shape[nd - 1] *= sh;
          p.src_stride[nd - 1] = ss;
          p.dst_stride[nd - 1] = ds;
          continue;
        }
      p.shape[nd] = sh;
      p.src_stride[nd] = ss;
      p.dst_stride[nd] = ds;
      nd++;
    }
  p.ndim = MAX (nd, 1);
  char name[64];
  g_snprintf (name, sizeof name, "tensor_copy.%s_%s", ss_dtype_name (src->dtype), ss_dtype_name (dst->dtype));
  /* same dtype, innermost dim contiguous in both: move 16-, 8- or 4-byte units
   * when every offset, stride and the innermost length are multiples of them */
  gsize es = ss_dtype_size (src->dtype);
  guint max_unit = MIN (16, ss_gpu_device_get_caps (dst->device)->min_storage_offset_align);
  if (src->dtype == dst->dtype && p.src_stride[p.ndim - 1] == 1 && p.dst_stride[p.ndim - 1] == 1)
    for (guint unit = max_unit; unit >= 4 && unit > es; unit /= 2)
      {
        guint k = unit / es;
        gboolean ok = p.src_off % k == 0 && p.dst_off % k == 0 && p.shape[p.ndim - 1] % k == 0;
        for (guint d = 0; ok && d + 1 < p.ndim; d++)
          ok = p.src_stride[d] % k == 0 && p.dst_stride[d] % k == 0;
        if (!ok)
          continue;
        p.src_off /= k;
        p.dst_off /= k;
        p.shape[p.ndim - 1] /= k;
        p.n /= k;
        for (guint d = 0; d + 1 < p.ndim; d++)
          {
            p.src_stride[d] /= k;
            p.dst_stride[d] /= k;
          }
        g_snprintf (name, sizeof name, "tensor_copy.raw%u", unit);
        break;
      }
  for (guint d = 0; d < p.ndim; d++)
    ss_fastdiv_magic (MAX (p.shape[d], 1), &p.magic[d], &p.shift[d]);
  SsGpuBinding b[2] = { ss_tensor_binding (src, SS_GPU_READ), ss_tensor_binding (dst, SS_GPU_WRITE) };
  SsGpuDispatch d = { .shader = name, .bindings = b, .n_bindings = 2, .push = &p, .push_size = sizeof p };
  ss_gpu_groups_1d (dst->device, (p.n + 1023) / 1024, d.groups);   /* 256 threads x 4 elements */
  return ss_gpu_dispatch (dst->device, &d, error);
}

gboolean
ss_tensor_axpy (SsTensor *dst, float alpha, SsTensor *src, float beta, GError **error)
{
  g_return_val_if_fail (dst && src, FALSE);
  g_return_val_if_fail (ss_tensor_numel (dst) == ss_tensor_numel (src), FALSE);
  g_return_val_if_fail (dst->dtype == src->dtype, FALSE);
  g_return_val_if_fail (ss_tensor_is_contiguous (dst) && ss_tensor_is_contiguous (src), FALSE);
  gint64 n = ss_tensor_numel (dst);
  if (n == 0)
    return TRUE;
  struct { guint32 n, x_off, y_off; float alpha, beta; } p = { n, src->offset, dst->offset, alpha, beta };
  char name[64];
  SsGpuBinding b[2] = { ss_tensor_binding (src, SS_GPU_READ), ss_tensor_binding (dst, SS_GPU_RW) };
  SsGpuDispatch d = { .shader = ss_tensor_shader ("tensor_axpy", dst->dtype, name, sizeof name),
                      .bindings = b, .n_bindings = 2, .push = &p, .push_size = sizeof p };
  ss_gpu_groups_1d (dst->device, (n + 255) / 256, d.groups);
  return ss_gpu_dispatch (dst->device, &d, error);
}

gboolean
ss_tensor_fill (SsTensor *t, float value, GError **error)
{
  g_return_val_if_fail (t != NULL, FALSE);
  g_return_val_if_fail (ss_tensor_is_contiguous (t), FALSE);
  gint64 n = ss_tensor_numel (t);
  if (n == 0)
    return TRUE;
  /* whole 32-bit words: vkCmdFillBuffer (16-bit values repeated in both halves) */
  gsize es = ss_dtype_size (t->dtype);
  if ((t->offset * es) % 4 == 0 && (n * es) % 4 == 0)
    {
      guint32 word;
      if (t->dtype == SS_DTYPE_F32)
        memcpy (&word, &value, 4);
      else
        {
          guint16 h = t->dtype == SS_DTYPE_F16 ? ss_float_to_half (value) : ss_float_to_bf16 (value);
          word = h | ((guint32) h << 16);
        }
      return ss_gpu_buffer_fill (t->buffer, t->offset * es, n * es, word, error);
    }
  struct { guint32 n, y_off; float value; } p = { n, t->offset, value };
  char name[64];
  SsGpuBinding b[1] = { ss_tensor_binding (t, SS_GPU_WRITE) };
  SsGpuDispatch d = { .shader = ss_tensor_shader ("tensor_fill", t->dtype, name, sizeof name),
                      .bindings = b, .n_bindings = 1, .push = &p, .push_size = sizeof p };
  ss_gpu_groups_1d (t->device, (n + 255) / 256, d.groups);
  return ss_gpu_dispatch (t->device, &d, error);
}

/* ------------------------------------------------------------ transfers */

gboolean
ss_tensor_upload_raw (SsTensor *t, const void *data, GError **error)
{
  g_return_val_if_fail (t && ss_tensor_is_contiguous (t), FALSE);
  return ss_gpu_buffer_upload (t->buffer, t->offset * ss_dtype_size (t->dtype), data,
                               ss_tensor_numel (t) * ss_dtype_size (t->dtype), error);
}

gboolean
ss_tensor_upload_floats (SsTensor *t, const float *data, GError **error)
{
  g_return_val_if_fail (t && ss_tensor_is_contiguous (t), FALSE);
  gsize n = ss_tensor_numel (t);
  if (t->dtype == SS_DTYPE_F32)
    return ss_tensor_upload_raw (t, data, error);
  g_autofree guint16 *raw = g_new (guint16, MAX (n, 1));
  floats_to_raw (t->dtype, data, raw, n);
  return ss_tensor_upload_raw (t, raw, error);
}

gboolean
ss_tensor_to_raw (SsTensor *t, void *out, GError **error)
{
  g_return_val_if_fail (t != NULL, FALSE);
  g_autoptr (SsTensor) c = NULL;
  {
    ss_autograd_no_grad_begin ();
    c = ss_tensor_contiguous (t, error);
    ss_autograd_no_grad_end ();
  }
  if (!c)
    return FALSE;
  return ss_gpu_buffer_download (c->buffer, c->offset * ss_dtype_size (c->dtype), out,
                                 ss_tensor_numel (c) * ss_dtype_size (c->dtype), error);
}

gboolean
ss_tensor_to_floats (SsTensor *t, float *out, GError **error)
{
  gsize n = ss_tensor_numel (t);
  if (t->dtype == SS_DTYPE_F32)
    return ss_tensor_to_raw (t, out, error);
  g_autofree guint16 *raw = g_new (guint16, MAX (n, 1));
  if (!ss_tensor_to_raw (t, raw, error))
    return FALSE;
  raw_to_floats (t->dtype, raw, out, n);
  return TRUE;
}

float *
ss_tensor_to_floats_dup (SsTensor *t, GError **error)
{
  float *out = g_new (float, MAX (ss_tensor_numel (t), 1));
  if (!ss_tensor_to_floats (t, out, error))
    g_clear_pointer (&out, g_free);
  return out;
}

/* ---------------------------------------------------------------- views */

static SsTensor *
view_of (SsTensor *t)
{
  SsTensor *v = g_new0 (SsTensor, 1);
  v->ref_count = 1;
  v->dtype = t->dtype;
  v->ndim = t->ndim;
  memcpy (v->shape, t->shape, sizeof v->shape);
  memcpy (v->strides, t->strides, sizeof v->strides);
  v->offset = t->offset;
  v->buffer = ss_gpu_buffer_ref (t->buffer);
  v->device = t->device;
  return v;
}

SsTensor *
ss_tensor_detach (SsTensor *t)
{
  return view_of (t);
}

/* identity-shaped backward: grad passes through (reshaped to the input) */
static gboolean
reshape_backward (SsAutogradNode *n, SsTensor *g, SsTensor **gi, GError **error)
{
  SsTensor *in = ss_autograd_node_input (n, 0);
  gi[0] = ss_tensor_reshape (g, in->ndim, in->shape, error);
  return gi[0] != NULL;
}

static SsTensor *
record_unary (SsTensor *out, SsTensor *in, const char *name, SsBackwardFunc fn)
{
  if (ss_autograd_needs_grad (1, &in))
    ss_autograd_attach (out, ss_autograd_node_new (name, fn, 1, &in));
  return out;
}

SsTensor *
ss_tensor_clone (SsTensor *t, GError **error)
{
  SsTensor *c = ss_tensor_new (t->dtype, t->ndim, t->shape, error);
  if (!c)
    return NULL;
  if (!ss_tensor_copy_into (c, t, error))
    {
      ss_tensor_unref (c);
      return NULL;
    }
  return record_unary (c, t, "clone", reshape_backward);
}

SsTensor *
ss_tensor_contiguous (SsTensor *t, GError **error)
{
  if (ss_tensor_is_contiguous (t))
    return ss_tensor_ref (t);
  return ss_tensor_clone (t, error);
}

static gboolean
to_dtype_backward (SsAutogradNode *n, SsTensor *g, SsTensor **gi, GError **error)
{
  SsTensor *in = ss_autograd_node_input (n, 0);
  gi[0] = ss_tensor_to_dtype (g, in->dtype, error);
  return gi[0] != NULL;
}

SsTensor *
ss_tensor_to_dtype (SsTensor *t, SsDType dtype, GError **error)
{
  if (t->dtype == dtype)
    return ss_tensor_ref (t);
  SsTensor *c = ss_tensor_new (dtype, t->ndim, t->shape, error);
  if (!c)
    return NULL;
  if (!ss_tensor_copy_into (c, t, error))
    {
      ss_tensor_unref (c);
      return NULL;
    }
  return record_unary (c, t, "to_dtype", to_dtype_backward);
}

static int
norm_dim (SsTensor *t, int d)
{
  return d < 0 ? d + t->ndim : d;
}

SsTensor *
ss_tensor_reshape (SsTensor *t, int ndim, const gint64 *shape, GError **error)
{
  g_return_val_if_fail (t != NULL, NULL);
  gint64 s[SS_TENSOR_MAX_DIMS];
  gint64 known = 1;
  int neg = -1;
  if (ndim < 0 || ndim > SS_TENSOR_MAX_DIMS)
    {
      g_set_error (error, SS_ERROR, SS_ERROR_INVALID_DATA, "reshape: %d dimensions", ndim);
      return NULL;
    }
  for (int i = 0; i < ndim; i++)
    {
      s[i] = shape[i];
      if (s[i] == -1 && neg < 0)
        neg = i;
      else
        known *= s[i];
    }
  gint64 n = ss_tensor_numel (t);
  if (neg >= 0)
    s[neg] = known ? n / known : 0;
  gint64 total = 1;
  for (int i = 0; i < ndim; i++)
    total *= s[i];
  if (total != n)
    {
      g_autofree char *d = ss_tensor_describe (t);
      g_set_error (error, SS_ERROR, SS_ERROR_INVALID_DATA,
                   "reshape: cannot view %s as %" G_GINT64_FORMAT " elements", d, total);
      return NULL;
    }
  g_autoptr (SsTensor) c = NULL;
  {
    ss_autograd_no_grad_begin ();
    c = ss_tensor_contiguous (t, error);
    ss_autograd_no_grad_end ();
  }
  if (!c)
    return NULL;
  SsTensor *v = view_of (c);
  v->ndim = ndim;
  for (int i = 0; i < ndim; i++)
    v->shape[i] = s[i];
  set_contiguous_strides (v);
  return record_unary (v, t, "reshape", reshape_backward);
}

static gboolean
permute_backward (SsAutogradNode *n, SsTensor *g, SsTensor **gi, GError **error)
{
  const int *perm = ss_autograd_node_get_data (n);
  int inv[SS_TENSOR_MAX_DIMS];
  for (int i = 0; i < g->ndim; i++)
    inv[perm[i]] = i;
  gi[0] = ss_tensor_permute (g, inv, error);
  return gi[0] != NULL;
}

SsTensor *
ss_tensor_permute (SsTensor *t, const int *perm, GError **error)
{
  gboolean seen[SS_TENSOR_MAX_DIMS] = { 0 };
  for (int i = 0; i < t->ndim; i++)
    {
      int p = perm[i] < 0 ? perm[i] + t->ndim : perm[i];
      if (p < 0 || p >= t->ndim || seen[p])
        {
          g_set_error (error, SS_ERROR, SS_ERROR_INVALID_DATA, "permute: invalid permutation");
          return NULL;
        }
      seen[p] = TRUE;
    }
  SsTensor *v = view_of (t);
  int *saved = g_new (int, SS_TENSOR_MAX_DIMS);
  for (int i = 0; i < t->ndim; i++)
    {
      int p = perm[i] < 0 ? perm[i] + t->ndim : perm[i];
      saved[i] = p;
      v->shape[i] = t->shape[p];
      v->strides[i] = t->strides[p];
    }
  if (ss_autograd_needs_grad (1, &t))
    {
      SsAutogradNode *n = ss_autograd_node_new ("permute", permute_backward, 1, &t);
      ss_autograd_node_set_data (n, saved, g_free);
      ss_autograd_attach (v, n);
    }
  else
    g_free (saved);
  return v;
}

SsTensor *
ss_tensor_transpose (SsTensor *t, int d0, int d1, GError **error)
{
  int perm[SS_TENSOR_MAX_DIMS];
  d0 = norm_dim (t, d0);
  d1 = norm_dim (t, d1);
  if (d0 < 0 || d0 >= t->ndim || d1 < 0 || d1 >= t->ndim)
    {
      g_set_error (error, SS_ERROR, SS_ERROR_INVALID_DATA, "transpose: dimension out of range");
      return NULL;
    }
  for (int i = 0; i < t->ndim; i++)
    perm[i] = i;
  perm[d0] = d1;
  perm[d1] = d0;
  return ss_tensor_permute (t, perm, error);
}

typedef struct {
  int dim;
  gint64 start;
} SliceData;

static gboolean
slice_backward (SsAutogradNode *n, SsTensor *g, SsTensor **gi, GError **error)
{
  SsTensor *in = ss_autograd_node_input (n, 0);
  SliceData *sd = ss_autograd_node_get_data (n);
  g_autoptr (SsTensor) z = ss_tensor_zeros (in->dtype, in->ndim, in->shape, error);
  if (!z)
    return FALSE;
  g_autoptr (SsTensor) view = ss_tensor_slice (z, sd->dim, sd->start, sd->start + g->shape[sd->dim], error);
  if (!view || !ss_tensor_copy_into (view, g, error))
    return FALSE;
  gi[0] = g_steal_pointer (&z);
  return TRUE;
}

SsTensor *
ss_tensor_slice (SsTensor *t, int dim, gint64 start, gint64 end, GError **error)
{
  dim = norm_dim (t, dim);
  if (dim < 0 || dim >= t->ndim)
    {
      g_set_error (error, SS_ERROR, SS_ERROR_INVALID_DATA, "slice: dimension out of range");
      return NULL;
    }
  gint64 len = t->shape[dim];
  if (start < 0)
    start += len;
  if (end < 0)
    end += len;
  start = CLAMP (start, 0, len);
  end = CLAMP (end, start, len);
  SsTensor *v = view_of (t);
  v->shape[dim] = end - start;
  v->offset += start * t->strides[dim];
  if (ss_autograd_needs_grad (1, &t))
    {
      SsAutogradNode *n = ss_autograd_node_new ("slice", slice_backward, 1, &t);
      SliceData *sd = g_new (SliceData, 1);
      sd->dim = dim;
      sd->start = start;
      ss_autograd_node_set_data (n, sd, g_free);
      ss_autograd_attach (v, n);
    }
  return v;
}

SsTensor *
ss_tensor_unsqueeze (SsTensor *t, int dim, GError **error)
{
  if (dim < 0)
    dim += t->ndim + 1;
  if (dim < 0 || dim > t->ndim || t->ndim >= SS_TENSOR_MAX_DIMS)
    {
      g_set_error (error, SS_ERROR, SS_ERROR_INVALID_DATA, "unsqueeze: dimension out of range");
      return NULL;
    }
  gint64 s[SS_TENSOR_MAX_DIMS];
  for (int i = 0, j = 0; i <= t->ndim; i++)
    s[i] = i == dim ? 1 : t->shape[j++];
  return ss_tensor_reshape (t, t->ndim + 1, s, error);
}

SsTensor *
ss_tensor_squeeze (SsTensor *t, int dim, GError **error)
{
  dim = norm_dim (t, dim);
  if (dim < 0 || dim >= t->ndim || t->shape[dim] != 1)
    {
      g_set_error (error, SS_ERROR, SS_ERROR_INVALID_DATA, "squeeze: dimension is not of size 1");
      return NULL;
    }
  gint64 s[SS_TENSOR_MAX_DIMS];
  for (int i = 0, j = 0; i < t->ndim; i++)
    if (i != dim)
      s[j++] = t->shape[i];
  return ss_tensor_reshape (t, t->ndim - 1, s, error);
}

SsTensor *
ss_tensor_expand (SsTensor *t, int ndim, const gint64 *shape, GError **error)
{
  if (ndim < t->ndim || ndim > SS_TENSOR_MAX_DIMS)
    {
      g_set_error (error, SS_ERROR, SS_ERROR_INVALID_DATA, "expand: bad rank");
      return NULL;
    }
  SsTensor *v = view_of (t);
  int shift = ndim - t->ndim;
  v->ndim = ndim;
  for (int i = ndim - 1; i >= 0; i--)
    {
      int j = i - shift;
      gint64 sz = j >= 0 ? t->shape[j] : 1;
      gint64 st = j >= 0 ? t->strides[j] : 0;
      if (sz != shape[i])
        {
          if (sz != 1)
            {
              ss_tensor_unref (v);
              g_set_error (error, SS_ERROR, SS_ERROR_INVALID_DATA, "expand: dimension %d is not 1", i);
              return NULL;
            }
          st = 0;
        }
      v->shape[i] = shape[i];
      v->strides[i] = st;
    }
  return v;
}
