/* ss-ops-ext.h: elementwise, broadcast, reduction, softmax, normalization,
 * shape, gather, rotary, interpolation and loss ops (forward on the GPU,
 * backward recorded on the autograd tape). Included by tensor/ss-ops.h.
 *
 * Conventions (as in ss-ops.h): a new reference or NULL with error set;
 * inputs may be any view; all float inputs of one op share a dtype (f32, f16
 * or bf16) and the output has it; arithmetic is fp32. dims may be negative
 * (counted from the end). Index arrays (embedding ids, class targets) are
 * host arrays of gint32, checked against the tensor sizes (an index out of
 * range is an SS_ERROR_INVALID_DATA error); ss_op_embedding_device takes ids
 * already on the device, as a raw SsGpuBuffer of gint32 (the form the ops keep
 * uploaded indices in; there is no integer tensor dtype). */
#pragma once

#include "tensor/ss-tensor.h"
#include "tensor/ss-autograd.h"

G_BEGIN_DECLS

/* ---- unary elementwise ---- */
typedef enum {
  SS_UNARY_GELU_ERF,    /* x * Phi(x) (PyTorch gelu, approximate='none') */
  SS_UNARY_GELU_TANH,   /* approximate='tanh' */
  SS_UNARY_SILU,        /* x * sigmoid(x) */
  SS_UNARY_AFFINE,      /* a * x + b */
  SS_UNARY_EXP,
  SS_UNARY_LOG,
  SS_UNARY_SQRT,
  SS_UNARY_RSQRT,
  SS_UNARY_SQUARE,
  SS_UNARY_NEG,
  SS_UNARY_TANH,
  SS_UNARY_SIGMOID,
  SS_UNARY_RELU,
  SS_UNARY_POW,         /* x^a */
  SS_UNARY_RECIP,       /* 1 / x */
  SS_UNARY_COUNT
} SsUnaryOp;

SsTensor *ss_op_unary (SsTensor *x, SsUnaryOp op, float a, float b, GError **error);
SsTensor *ss_op_gelu  (SsTensor *x, gboolean tanh_approx, GError **error);
SsTensor *ss_op_silu  (SsTensor *x, GError **error);
/* scalar ops: a * x + b */
SsTensor *ss_op_scale (SsTensor *x, float a, float b, GError **error);

/* ---- binary elementwise with numpy broadcasting (shapes right-aligned) ---- */
typedef enum {
  SS_BINARY_ADD,
  SS_BINARY_SUB,
  SS_BINARY_MUL,
  SS_BINARY_DIV,
  SS_BINARY_COUNT
} SsBinaryOp;

SsTensor *ss_op_binary (SsTensor *a, SsTensor *b, SsBinaryOp op, GError **error);
SsTensor *ss_op_add (SsTensor *a, SsTensor *b, GError **error);
SsTensor *ss_op_sub (SsTensor *a, SsTensor *b, GError **error);
SsTensor *ss_op_mul (SsTensor *a, SsTensor *b, GError **error);
SsTensor *ss_op_div (SsTensor *a, SsTensor *b, GError **error);

/* ---- reductions over one dim (max: gradient to the first maximum) ---- */
typedef enum {
  SS_REDUCE_SUM,
  SS_REDUCE_MEAN,
  SS_REDUCE_MAX,
  SS_REDUCE_COUNT
} SsReduceOp;

SsTensor *ss_op_reduce (SsTensor *x, SsReduceOp op, int dim, gboolean keepdim, GError **error);
SsTensor *ss_op_sum  (SsTensor *x, int dim, gboolean keepdim, GError **error);
SsTensor *ss_op_mean (SsTensor *x, int dim, gboolean keepdim, GError **error);
SsTensor *ss_op_max  (SsTensor *x, int dim, gboolean keepdim, GError **error);
/* (a 1-D input reduced without keepdim gives shape [1]: there are no 0-D tensors) */
/* over all elements: shape [1] */
SsTensor *ss_op_sum_all  (SsTensor *x, GError **error);
SsTensor *ss_op_mean_all (SsTensor *x, GError **error);

/* ---- softmax ---- */
SsTensor *ss_op_softmax     (SsTensor *x, int dim, GError **error);
SsTensor *ss_op_log_softmax (SsTensor *x, int dim, GError **error);

/* ---- normalization (weight / bias may be NULL) ----
 * layer / RMS norm over the last dim (w, b: [C]); group norm on x [N, C, ...]
 * with C divisible by groups (w, b: [C]). */
SsTensor *ss_op_layer_norm (SsTensor *x, SsTensor *w, SsTensor *b, float eps, GError **error);
SsTensor *ss_op_rms_norm   (SsTensor *x, SsTensor *w, float eps, GError **error);
SsTensor *ss_op_group_norm (SsTensor *x, int groups, SsTensor *w, SsTensor *b, float eps,
                            GError **error);

/* L2 normalization along the last dim: x / sqrt(sum(x^2) + eps) */
SsTensor *ss_op_l2_normalize (SsTensor *x, float eps, GError **error);

/* ---- shapes (slice, permute, transpose: views in ss-tensor.h) ---- */
SsTensor *ss_op_concat (guint n, SsTensor *const *xs, int dim, GError **error);
/* x[..., start:end:step, ...] along dim (step >= 1; a copy, unlike
 * ss_tensor_slice); start/end as in Python, clamped */
SsTensor *ss_op_slice_step (SsTensor *x, int dim, gint64 start, gint64 end, gint64 step,
                            GError **error);

/* ---- gather ----
 * index_select: y = x with dim `dim` replaced by the n entries idx[i].
 * embedding: table [V, D], ids of shape (ndim, shape) -> [shape..., D].
 * Backward scatter-adds into the table (repeated ids accumulate). */
SsTensor *ss_op_index_select (SsTensor *x, int dim, const gint32 *idx, gint64 n, GError **error);
SsTensor *ss_op_embedding    (SsTensor *table, const gint32 *ids, int ndim, const gint64 *shape,
                              GError **error);
/* embedding with the ids on the device: prod(shape) gint32 starting at element
 * ids_offset of ids (e.g. filled once with ss_gpu_buffer_upload, or by a
 * kernel), so that a call uploads nothing. The ids are not checked on the host
 * (that would need a device -> host sync): an id outside [0, V) gives a row of
 * zeros and no gradient, where ss_op_embedding reports an error. With grad
 * mode on the ids are copied on the device (the buffer may be refilled before
 * the backward), and the backward reads them back once (one sync; it builds
 * the scatter's inverse map on the host, as for host ids). */
SsTensor *ss_op_embedding_device (SsTensor *table, SsGpuBuffer *ids, gsize ids_offset, int ndim,
                                  const gint64 *shape, GError **error);

/* ---- rotary position embedding ----
 * x [..., L, ..., D]: seq_dim is the position dim; the dims between it and the
 * last are heads (e.g. [B, H, L, D]: seq_dim 2; [B, L, H, D]: seq_dim 1).
 * The first rot_dim (even, <= D) features of each head rotate by pos *
 * base^(-2i/rot_dim); interleaved pairs (2i, 2i+1) or half-split pairs
 * (i, i + rot_dim/2). positions: L entries, or NULL for 0..L-1.
 * The cos/sin tables are computed in double precision on the host and cached
 * on the device (8 most recent (L, rot_dim, base, positions) tables). */
SsTensor *ss_op_rope (SsTensor *x, int seq_dim, int rot_dim, float base, gboolean interleaved,
                      const float *positions, GError **error);

/* ---- interpolation (PyTorch F.interpolate with size=) ----
 * x [N, C, W] with n_size 1 or [N, C, H, W] with n_size 2. Source indices
 * are computed exactly (64-bit integer arithmetic): nearest takes
 * floor(dst * in / out) (PyTorch computes it in fp32, which agrees except
 * possibly at exact integer boundaries of very long signals). */
typedef enum {
  SS_INTERP_NEAREST,
  SS_INTERP_LINEAR,     /* linear (1-D) / bilinear (2-D) */
} SsInterpMode;

SsTensor *ss_op_interpolate (SsTensor *x, int n_size, const gint64 *size, SsInterpMode mode,
                             gboolean align_corners, GError **error);

/* ---- losses (mean reduction; result shape [1]) ---- */
SsTensor *ss_op_mse_loss (SsTensor *x, SsTensor *target, GError **error);
/* logits [N, C] (or [C]); targets[N] in [0, C) or ignore_index */
SsTensor *ss_op_cross_entropy (SsTensor *logits, const gint32 *targets, int ignore_index,
                               float label_smoothing, GError **error);
/* Symmetric InfoNCE (CLIP loss) over a [N, D], b [N, D]: rows L2-normalized
 * when normalize; logits = a b^T / temperature; (CE(logits, arange) +
 * CE(logits^T, arange)) / 2. temperature_t (a [1] tensor, e.g. learned) is
 * used instead of temperature when not NULL. */
SsTensor *ss_op_infonce (SsTensor *a, SsTensor *b, float temperature, SsTensor *temperature_t,
                         gboolean normalize, GError **error);

G_END_DECLS
