/* ss-ref.h: double-precision reference implementations of every engine op,
 * forward and backward, for the op tests.
 *
 * Conventions:
 * - All tensors are contiguous, row-major (last index fastest), double.
 * - Backward functions take the upstream gradient dy and ACCUMULATE (+=) into
 *   the gradient buffers they are given; any gradient pointer may be NULL to
 *   skip it. Callers zero the buffers first.
 * - "Axis" ops take a shape collapsed to (outer, n, inner): the op works along
 *   the middle dimension of length n; element (o, i, k) is at (o * n + i) * inner + k.
 * - No GLib/GPU dependencies beyond glib.h types, so unit tests can use it.
 */
#pragma once

#include <glib.h>
#include <stddef.h>

G_BEGIN_DECLS

#define SS_REF_MAX_DIMS 5

/* ---- batched matmul ------------------------------------------------------
 * C[b] = op(A[b]) @ op(B[b]);  op(A) is M x K, op(B) is K x N, C is M x N.
 * A is stored M x K (or K x M when trans_a), B is K x N (or N x K when trans_b).
 * a_bstride / b_bstride: elements between batches (0 broadcasts one matrix). */
void ss_ref_matmul          (const double *a, const double *b, double *c,
                             int batch, int m, int n, int k,
                             gboolean trans_a, gboolean trans_b,
                             size_t a_bstride, size_t b_bstride);
void ss_ref_matmul_backward (const double *a, const double *b, const double *dc,
                             double *da, double *db,
                             int batch, int m, int n, int k,
                             gboolean trans_a, gboolean trans_b,
                             size_t a_bstride, size_t b_bstride);

/* ---- linear: y[r, o] = sum_i x[r, i] * w[o, i] + bias[o]  (bias may be NULL) */
void ss_ref_linear          (const double *x, const double *w, const double *bias,
                             double *y, int rows, int in, int out);
void ss_ref_linear_backward (const double *x, const double *w, const double *dy,
                             double *dx, double *dw, double *dbias,
                             int rows, int in, int out);

/* ---- convolution (1-D, 2-D, 3-D) ------------------------------------------
 * x [N, Cin, D, H, W], w [Cout, Cin/groups, kD, kH, kW], bias [Cout] or NULL,
 * y [N, Cout, oD, oH, oW]. 1-D/2-D convs use D = H = 1 (and k = 1, stride 1,
 * pad 0 in the unused leading dims). Sizes arrays are {D, H, W}. */
typedef struct {
  int n, cin, cout, groups;
  int in[3];        /* D, H, W of the input */
  int k[3];         /* kernel */
  int stride[3];
  int pad[3];
  int dil[3];
  int out_pad[3];   /* transposed conv only: extra size on the high side */
} SsRefConv;

/* Output spatial size of the (forward) convolution / transposed convolution. */
void ss_ref_conv_out_size           (const SsRefConv *p, int out[3]);
void ss_ref_conv_transpose_out_size (const SsRefConv *p, int out[3]);

void ss_ref_conv          (const SsRefConv *p, const double *x, const double *w,
                           const double *bias, double *y);
void ss_ref_conv_backward (const SsRefConv *p, const double *x, const double *w,
                           const double *dy, double *dx, double *dw, double *dbias);
/* Transposed convolution: the adjoint of ss_ref_conv with respect to its input.
 * Here x [N, Cin, in...] is the (small) input, w [Cin, Cout/groups, k...] as in
 * PyTorch's ConvTranspose, y [N, Cout, out...] with out from
 * ss_ref_conv_transpose_out_size. */
void ss_ref_conv_transpose          (const SsRefConv *p, const double *x, const double *w,
                                     const double *bias, double *y);
void ss_ref_conv_transpose_backward (const SsRefConv *p, const double *x, const double *w,
                                     const double *dy, double *dx, double *dw, double *dbias);

/* ---- scaled dot-product attention -----------------------------------------
 * q [B, H, Lq, D], k [B, H, Lk, D], v [B, H, Lk, Dv], o [B, H, Lq, Dv].
 * s = scale * q k^T + mask; causal masks j > i + (Lk - Lq) when causal_bottom_right,
 * else j > i (PyTorch's is_causal, top-left aligned). mask (additive, may hold
 * -INFINITY) is indexed mask[b * mask_bstride + h * mask_hstride + i * Lk + j];
 * NULL for none. A row whose scores are all -inf yields zeros (and no gradient).
 * lse (may be NULL) receives the log-sum-exp of each row, [B, H, Lq]. */
typedef struct {
  int b, h, lq, lk, d, dv;
  double scale;
  gboolean causal;
  gboolean causal_bottom_right;
  const double *mask;
  size_t mask_bstride, mask_hstride;
} SsRefAttn;

void ss_ref_attention          (const SsRefAttn *p, const double *q, const double *k,
                                const double *v, double *o, double *lse);
void ss_ref_attention_backward (const SsRefAttn *p, const double *q, const double *k,
                                const double *v, const double *dout,
                                double *dq, double *dk, double *dv);

/* ---- normalizations ---------------------------------------------------------
 * layer norm: x [rows, c] normalized over c; weight/bias [c] (may be NULL).
 * rms norm:   y = x / sqrt(mean(x^2) + eps) * weight.
 * group norm: x [n, c, s] (s = spatial size), groups split c; weight/bias [c]. */
void ss_ref_layer_norm          (const double *x, const double *w, const double *b,
                                 double *y, int rows, int c, double eps);
void ss_ref_layer_norm_backward (const double *x, const double *w, const double *dy,
                                 double *dx, double *dw, double *db,
                                 int rows, int c, double eps);
void ss_ref_rms_norm            (const double *x, const double *w, double *y,
                                 int rows, int c, double eps);
void ss_ref_rms_norm_backward   (const double *x, const double *w, const double *dy,
                                 double *dx, double *dw, int rows, int c, double eps);
void ss_ref_group_norm          (const double *x, const double *w, const double *b,
                                 double *y, int n, int c, int s, int groups, double eps);
void ss_ref_group_norm_backward (const double *x, const double *w, const double *dy,
                                 double *dx, double *dw, double *db,
                                 int n, int c, int s, int groups, double eps);

/* ---- softmax / log-softmax along the middle axis of (outer, n, inner) ---- */
void ss_ref_softmax              (const double *x, double *y, int outer, int n, int inner);
void ss_ref_softmax_backward     (const double *y, const double *dy, double *dx,
                                  int outer, int n, int inner);
void ss_ref_log_softmax          (const double *x, double *y, int outer, int n, int inner);
void ss_ref_log_softmax_backward (const double *y, const double *dy, double *dx,
                                  int outer, int n, int inner);

/* ---- unary elementwise ------------------------------------------------------ */
typedef enum {
  SS_REF_GELU_ERF,     /* x * Phi(x) */
  SS_REF_GELU_TANH,    /* 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))) */
  SS_REF_SILU,         /* x * sigmoid(x) */
  SS_REF_AFFINE,       /* a * x + b  (scalar ops: add, sub, mul, div by scalar) */
  SS_REF_EXP,
  SS_REF_LOG,
  SS_REF_SQRT,
  SS_REF_RSQRT,
  SS_REF_SQUARE,
  SS_REF_NEG,
  SS_REF_TANH,
  SS_REF_SIGMOID,
  SS_REF_RELU,
  SS_REF_POW,          /* x^a (x > 0) */
  SS_REF_RECIP,        /* 1 / x */
  SS_REF_UNARY_COUNT
} SsRefUnary;

const char *ss_ref_unary_name  (SsRefUnary op);
double ss_ref_unary_f          (SsRefUnary op, double x, double a, double b);
double ss_ref_unary_df         (SsRefUnary op, double x, double a, double b);
void   ss_ref_unary            (SsRefUnary op, const double *x, double *y, size_t n,
                                double a, double b);
void   ss_ref_unary_backward   (SsRefUnary op, const double *x, const double *dy,
                                double *dx, size_t n, double a, double b);

/* ---- binary elementwise with numpy broadcasting ------------------------------
 * Shapes have `ndim` dims (<= 5) each; a size-1 dim broadcasts. The output shape
 * is the elementwise max. Use ss_ref_broadcast_shape to compute it. */
typedef enum {
  SS_REF_ADD,
  SS_REF_SUB,
  SS_REF_MUL,
  SS_REF_DIV,
  SS_REF_BINARY_COUNT
} SsRefBinary;

const char *ss_ref_binary_name (SsRefBinary op);
gboolean ss_ref_broadcast_shape (int ndim, const int *sa, const int *sb, int *sout);
void ss_ref_binary          (SsRefBinary op, int ndim,
                             const double *a, const int *sa,
                             const double *b, const int *sb,
                             double *y);
void ss_ref_binary_backward (SsRefBinary op, int ndim,
                             const double *a, const int *sa,
                             const double *b, const int *sb,
                             const double *dy, double *da, double *db);

/* ---- reductions along the middle axis of (outer, n, inner) -> (outer, inner) */
typedef enum {
  SS_REF_SUM,
  SS_REF_MEAN,
  SS_REF_MAX,          /* gradient flows to the first maximum */
  SS_REF_REDUCE_COUNT
} SsRefReduce;

const char *ss_ref_reduce_name (SsRefReduce op);
void ss_ref_reduce          (SsRefReduce op, const double *x, double *y,
                             int outer, int n, int inner);
void ss_ref_reduce_backward (SsRefReduce op, const double *x, const double *dy,
                             double *dx, int outer, int n, int inner);

/* ---- concat / slice ---------------------------------------------------------
 * concat: `count` inputs of shape (outer, ns[i], inner) -> (outer, sum ns, inner).
 * slice:  (outer, n, inner) -> (outer, len, inner), element i from start + i*step. */
void ss_ref_concat          (int count, const double *const *xs, const int *ns,
                             double *y, int outer, int inner);
void ss_ref_concat_backward (int count, const int *ns, const double *dy,
                             double *const *dxs, int outer, int inner);
void ss_ref_slice           (const double *x, double *y, int outer, int n, int inner,
                             int start, int len, int step);
void ss_ref_slice_backward  (const double *dy, double *dx, int outer, int n, int inner,
                             int start, int len, int step);

/* ---- permute: y has shape sx[perm[0]], ..., y[..i_d..] = x[i with i[perm[d]] = i_d] */
void ss_ref_permute          (const double *x, double *y, int ndim, const int *sx,
                              const int *perm);
void ss_ref_permute_backward (const double *dy, double *dx, int ndim, const int *sx,
                              const int *perm);

/* ---- gather along an axis (index_select; embedding = outer 1, inner D) ------
 * x (outer, n, inner), idx [m] in [0, n) -> y (outer, m, inner).
 * Backward scatter-adds (repeated indices accumulate). */
void ss_ref_gather          (const double *x, const gint32 *idx, double *y,
                             int outer, int n, int inner, int m);
void ss_ref_gather_backward (const gint32 *idx, const double *dy, double *dx,
                             int outer, int n, int inner, int m);

/* ---- rotary position embedding ------------------------------------------------
 * x (outer, L, heads, D); rotates the first rot_dim (even, <= D) features of each
 * head by angle pos * base^(-2i / rot_dim) for pair i; the rest pass through.
 * interleaved: pairs are (2i, 2i+1) (GPT-J / Meta LLaMA style);
 * otherwise half-split: (i, i + rot_dim/2) (GPT-NeoX / HF style).
 * pos[L] gives each position (NULL = 0..L-1). */
typedef struct {
  int outer, len, heads, dim, rot_dim;
  double base;
  gboolean interleaved;
  const double *pos;
} SsRefRope;

void ss_ref_rope          (const SsRefRope *p, const double *x, double *y);
void ss_ref_rope_backward (const SsRefRope *p, const double *dy, double *dx);

/* ---- interpolation (PyTorch F.interpolate semantics) -------------------------
 * x [nc, ih, iw] -> y [nc, oh, ow]. 1-D: ih = oh = 1.
 * NEAREST: src = floor(dst * in / out) (PyTorch 'nearest').
 * LINEAR: bilinear (linear when ih = oh = 1); align_corners as in PyTorch. */
typedef enum {
  SS_REF_INTERP_NEAREST,
  SS_REF_INTERP_LINEAR,
} SsRefInterpMode;

void ss_ref_interp          (SsRefInterpMode mode, gboolean align_corners,
                             const double *x, double *y,
                             int nc, int ih, int iw, int oh, int ow);
void ss_ref_interp_backward (SsRefInterpMode mode, gboolean align_corners,
                             const double *dy, double *dx,
                             int nc, int ih, int iw, int oh, int ow);

/* ---- losses (mean reduction; backward scales by the scalar dloss) ------------ */
double ss_ref_mse_loss          (const double *x, const double *t, size_t n);
void   ss_ref_mse_loss_backward (const double *x, const double *t, size_t n,
                                 double dloss, double *dx, double *dt);

/* logits [rows, classes], targets [rows]; rows whose target == ignore_index are
 * skipped; the mean is over the remaining rows (0 if none).
 * label_smoothing in [0, 1) as in PyTorch. */
double ss_ref_cross_entropy          (const double *logits, const gint32 *targets,
                                      int rows, int classes, int ignore_index,
                                      double label_smoothing);
void   ss_ref_cross_entropy_backward (const double *logits, const gint32 *targets,
                                      int rows, int classes, int ignore_index,
                                      double label_smoothing,
                                      double dloss, double *dlogits);

/* Symmetric InfoNCE (CLIP loss): a [n, d], b [n, d]; when normalize, rows are
 * L2-normalized first; logits = a b^T / temperature; loss =
 * (CE(logits, arange) + CE(logits^T, arange)) / 2. dtemp may be NULL. */
double ss_ref_infonce          (const double *a, const double *b, int n, int d,
                                double temperature, gboolean normalize);
void   ss_ref_infonce_backward (const double *a, const double *b, int n, int d,
                                double temperature, gboolean normalize,
                                double dloss, double *da, double *db, double *dtemp);

G_END_DECLS
