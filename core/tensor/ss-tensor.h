/* ss-tensor.h: GPU tensors (up to 5-D, fp32/fp16/bf16) with views.
 *
 * A tensor is a reference-counted view (shape, strides in elements, element
 * offset) on a reference-counted device buffer. reshape (of contiguous
 * tensors), permute, transpose, slice, unsqueeze/squeeze and expand are pure
 * metadata; shaders mostly want contiguous inputs: call
 * ss_tensor_contiguous() (a no-op ref when already contiguous).
 *
 * The view functions that take a GError record autograd nodes (see
 * ss-autograd.h) so gradients flow through views.
 *
 * The struct fields are public for reading; change them only through the API.
 */
#pragma once

#include <glib.h>
#include "gpu/ss-gpu.h"

G_BEGIN_DECLS

#define SS_TENSOR_MAX_DIMS 5

typedef enum {
  SS_DTYPE_F32 = 0,
  SS_DTYPE_F16 = 1,
  SS_DTYPE_BF16 = 2,
} SsDType;

typedef struct _SsTensor SsTensor;
typedef struct _SsAutogradNode SsAutogradNode;

struct _SsTensor {
  /*< private >*/
  gint            ref_count;
  /*< public, read-only >*/
  SsDType         dtype;
  int             ndim;
  gint64          shape[SS_TENSOR_MAX_DIMS];
  gint64          strides[SS_TENSOR_MAX_DIMS];   /* in elements */
  gint64          offset;                        /* in elements, into buffer */
  SsGpuBuffer    *buffer;
  SsGpuDevice    *device;
  /* autograd */
  gboolean        requires_grad;
  SsTensor       *grad;     /* accumulated gradient (leaves; NULL until backward) */
  SsAutogradNode *node;     /* the op that produced this tensor (NULL for leaves) */
  char           *name;     /* optional, for messages */
};

/* dtype helpers */
gsize        ss_dtype_size (SsDType dtype);
const char  *ss_dtype_name (SsDType dtype);   /* "f32", "f16", "bf16": shader variant suffix */
float        ss_bf16_to_float (guint16 v);
guint16      ss_float_to_bf16 (float v);      /* round to nearest even */
float        ss_half_to_float (guint16 v);
guint16      ss_float_to_half (float v);      /* round to nearest even */

/* creation: on the default device. shape has ndim entries (1..5). */
SsTensor *ss_tensor_new (SsDType dtype, int ndim, const gint64 *shape, GError **error);   /* uninitialised */
SsTensor *ss_tensor_zeros (SsDType dtype, int ndim, const gint64 *shape, GError **error);
SsTensor *ss_tensor_full (SsDType dtype, int ndim, const gint64 *shape, float value, GError **error);
/* from host floats (converted to dtype); data has numel entries, row-major */
SsTensor *ss_tensor_new_from_floats (SsDType dtype, int ndim, const gint64 *shape,
                                     const float *data, GError **error);
/* from raw host bytes already in dtype's encoding (numel * dtype size bytes) */
SsTensor *ss_tensor_new_from_raw (SsDType dtype, int ndim, const gint64 *shape,
                                  const void *data, GError **error);
/* a contiguous tensor on an existing buffer (referenced) at byte_offset
 * (a multiple of the element size); fails if it does not fit */
SsTensor *ss_tensor_new_with_buffer (SsGpuBuffer *buffer, gsize byte_offset, SsDType dtype,
                                     int ndim, const gint64 *shape, GError **error);
/* a new contiguous tensor of the same dtype and shape, uninitialised */
SsTensor *ss_tensor_new_like (SsTensor *t, GError **error);
/* convenience: ss_tensor_zeros (SS_DTYPE_F32, 2, SS_SHAPE (2, 3), &error) */
#define SS_SHAPE(...) (const gint64[]){ __VA_ARGS__ }

SsTensor *ss_tensor_ref (SsTensor *t);
void      ss_tensor_unref (SsTensor *t);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (SsTensor, ss_tensor_unref)

gint64    ss_tensor_numel (SsTensor *t);
gboolean  ss_tensor_is_contiguous (SsTensor *t);
gboolean  ss_tensor_same_shape (SsTensor *a, SsTensor *b);
/* "[2, 3, 4] f32" */
char     *ss_tensor_describe (SsTensor *t);
void      ss_tensor_set_name (SsTensor *t, const char *name);
void      ss_tensor_set_requires_grad (SsTensor *t, gboolean requires_grad);

/* transfers (wait for the GPU). to_floats converts any dtype/layout. */
gboolean  ss_tensor_to_floats (SsTensor *t, float *out, GError **error);
float    *ss_tensor_to_floats_dup (SsTensor *t, GError **error);   /* g_free */
gboolean  ss_tensor_to_raw (SsTensor *t, void *out, GError **error);  /* contiguous bytes in dtype */
/* overwrite a contiguous tensor's contents (no autograd) */
gboolean  ss_tensor_upload_floats (SsTensor *t, const float *data, GError **error);
gboolean  ss_tensor_upload_raw (SsTensor *t, const void *data, GError **error);
gboolean  ss_tensor_fill (SsTensor *t, float value, GError **error);  /* contiguous tensors */

/* copies and conversions (record autograd) */
SsTensor *ss_tensor_contiguous (SsTensor *t, GError **error);   /* ref if already contiguous */
SsTensor *ss_tensor_clone (SsTensor *t, GError **error);        /* always a new buffer */
SsTensor *ss_tensor_to_dtype (SsTensor *t, SsDType dtype, GError **error);
/* dst[...] = src[...] elementwise over equal shapes, any strides/dtypes (no autograd) */
gboolean  ss_tensor_copy_into (SsTensor *dst, SsTensor *src, GError **error);
/* dst = beta * dst + alpha * src (same shape, both contiguous, same dtype; no autograd) */
gboolean  ss_tensor_axpy (SsTensor *dst, float alpha, SsTensor *src, float beta, GError **error);

/* views (metadata only; record autograd). dims may be negative (from the end). */
SsTensor *ss_tensor_reshape (SsTensor *t, int ndim, const gint64 *shape, GError **error); /* one -1 allowed; copies if not viewable */
SsTensor *ss_tensor_permute (SsTensor *t, const int *perm, GError **error);
SsTensor *ss_tensor_transpose (SsTensor *t, int d0, int d1, GError **error);
SsTensor *ss_tensor_slice (SsTensor *t, int dim, gint64 start, gint64 end, GError **error);
SsTensor *ss_tensor_unsqueeze (SsTensor *t, int dim, GError **error);
SsTensor *ss_tensor_squeeze (SsTensor *t, int dim, GError **error);
/* size-1 dims to n with stride 0 (read-only view; no autograd: use the ops' broadcasting) */
SsTensor *ss_tensor_expand (SsTensor *t, int ndim, const gint64 *shape, GError **error);
/* a view without autograd history sharing the storage */
SsTensor *ss_tensor_detach (SsTensor *t);

/* For op implementations: the storage binding of a tensor. Shaders get the
 * element offset (t->offset) through push constants; the binding starts at
 * the buffer start. */
SsGpuBinding ss_tensor_binding (SsTensor *t, SsGpuAccess access);
/* "<stem>.<dtype>" shader name in a static buffer-free form: caller's buffer */
const char  *ss_tensor_shader (const char *stem, SsDType dtype, char *buf, gsize len);

G_END_DECLS
