/* ss-ops.h: the public op API. One function per op; each runs the forward on
 * the GPU and, when an input requires grad (and grad mode is on), records the
 * backward on the autograd tape (ss-autograd.h).
 *
 * Conventions for every op:
 * - returns a new reference, or NULL with error set (SS_ERROR_OUT_OF_MEMORY,
 *   SS_ERROR_DEVICE_LOST, SS_ERROR_INVALID_DATA for shape mismatches that data
 *   can cause);
 * - inputs may be any view; ops make them contiguous as needed;
 * - all tensor inputs of one op share a dtype (f32, f16 or bf16); the output
 *   has that dtype; arithmetic is fp32.
 *
 * The ops of the OPS helper (elementwise, norms, softmax, reductions, ...)
 * are declared in core/tensor/ops/ss-ops-ext.h, included here when present.
 */
#pragma once

#include "tensor/ss-tensor.h"
#include "tensor/ss-autograd.h"

G_BEGIN_DECLS

/* Batched matrix multiply: op(a) @ op(b).
 * a: [..., M, K] ([..., K, M] when trans_a), b: [..., K, N] ([..., N, K] when
 * trans_b). Batch dims (all but the last two) must be equal, or one side has
 * none (or only 1s) and is broadcast. Result [..., M, N]. */
SsTensor *ss_op_matmul (SsTensor *a, SsTensor *b, gboolean trans_a, gboolean trans_b,
                        GError **error);

/* y = x @ w^T + bias. x: [..., in], w: [out, in], bias: [out] or NULL. */
SsTensor *ss_op_linear (SsTensor *x, SsTensor *w, SsTensor *bias, GError **error);

/* Scaled dot-product attention, fused (flash-style, online softmax).
 * q: [B, H, Lq, D], k: [B, H, Lk, D], v: [B, H, Lk, Dv]; D, Dv <= 128.
 * mask: NULL or additive, [Lq, Lk], [Bm, Hm, Lq, Lk] with Bm in {1, B} and Hm in
 * {1, H} (no gradient flows into the mask). causal: key j visible to query i
 * when j <= i (top-left aligned, as PyTorch's is_causal). scale <= 0 means
 * 1/sqrt(D). Result [B, H, Lq, Dv]. */
SsTensor *ss_op_attention (SsTensor *q, SsTensor *k, SsTensor *v, SsTensor *mask,
                           gboolean causal, float scale, GError **error);

/* Internal, exposed for tests: checks the probe of the fp32 cooperative-matrix
 * layout (coopmat_probe.comp's output: out[0] components per lane, then 16 slots
 * per lane holding r * 16 + c) against the quad layout the one-pass attention
 * kernel assumes, and packs the per-component row and column offsets into its
 * two specialization constants. FALSE, with a reason in why, otherwise. */
gboolean ss_attention_flash_layout_parse (const float *out, guint32 spec[2], char *why, gsize why_len);
/* The same for workgroup-scope accumulators (coopmat_probe_wg's output for nt
 * invocations: out[0] and out[1] the components per invocation of S (rows x
 * s_cols) and O (rows x o_cols), then 64 slots per invocation holding S's
 * components r * s_cols + c, then 128 per invocation for O's, r * o_cols + c):
 * TRUE when both follow the layout attention_fwd_cm2.comp assumes. */
gboolean ss_attention_cm2_layout_check (const float *out, guint nt, guint rows, guint s_cols, guint o_cols,
                                        char *why, gsize why_len);
/* Runs coopmat_probe_wg.<variant> once and copies its output (the layout
 * above, then, at 2 + 192 nt, the fp16 conversion check: S2 (element e mod
 * 2048, loaded like S with row stride 64) times an identity, row stride 64)
 * into out, SS_ATTENTION_CM2_PROBE_FLOATS floats. */
#define SS_ATTENTION_CM2_PROBE_FLOATS (2 + 256 * 64 + 256 * 128 + 128 * 64)
gboolean ss_attention_cm2_probe (SsGpuDevice *dev, const char *variant, float *out, GError **error);

/* Divided space-time attention (TimeSformer/Motionformer) for inference, on the
 * packed projection qkv [B, N, 3*D] (q, k, v side by side; N = 1 + frames*P
 * tokens: CLS, then frames of P patches; D = heads*dh, dh <= 128) ->
 * [B, N, D] with the heads merged. The CLS query attends to every token; patch
 * (f, p) to the CLS key and, with time_mode, to patch p of every frame, else to
 * the patches of frame f. Scale 1/sqrt(dh). No autograd: SS_ERROR_UNSUPPORTED
 * when qkv needs a gradient (train through ss_op_attention on grouped views). */
SsTensor *ss_op_divided_attention (SsTensor *qkv, int heads, int frames, gboolean time_mode,
                                   GError **error);
/* TRUE when ss_op_divided_attention runs the space half's patch rows on a
 * blocked kernel (workgroup-scope matrices for fp16/bf16 at head size 64;
 * the register-blocked kernel on other GPUs, head sizes up to 64): the models
 * then take the fused path for the space half too */
gboolean  ss_op_divided_attention_space_fast (SsTensor *qkv, int heads);

/* Convolutions. x: [N, C, L] / [N, C, H, W] / [N, C, D, H, W];
 * w: [O, C/groups, k...]; bias: [O] or NULL. Output size per dim:
 * (in + 2*pad - dil*(k-1) - 1) / stride + 1. */
typedef struct {
  int stride[3];
  int padding[3];
  int dilation[3];
  int output_padding[3];   /* transposed only */
  int groups;
} SsConvParams;

/* defaults: stride 1, padding 0, dilation 1, groups 1 */
SsConvParams ss_conv_params_default (void);

SsTensor *ss_op_conv1d (SsTensor *x, SsTensor *w, SsTensor *bias,
                        int stride, int padding, int dilation, int groups, GError **error);
SsTensor *ss_op_conv2d (SsTensor *x, SsTensor *w, SsTensor *bias,
                        const SsConvParams *p, GError **error);
SsTensor *ss_op_conv3d (SsTensor *x, SsTensor *w, SsTensor *bias,
                        const SsConvParams *p, GError **error);
/* Transposed convolution (the adjoint of conv; PyTorch's ConvTransposeNd).
 * w: [C, O/groups, k...]. Output size per dim:
 * (in - 1)*stride - 2*pad + dil*(k-1) + output_padding + 1. */
SsTensor *ss_op_conv_transpose1d (SsTensor *x, SsTensor *w, SsTensor *bias,
                                  int stride, int padding, int output_padding,
                                  int dilation, int groups, GError **error);
SsTensor *ss_op_conv_transpose2d (SsTensor *x, SsTensor *w, SsTensor *bias,
                                  const SsConvParams *p, GError **error);
SsTensor *ss_op_conv_transpose3d (SsTensor *x, SsTensor *w, SsTensor *bias,
                                  const SsConvParams *p, GError **error);
/* Any dimensionality (1..3 spatial dims from x->ndim - 2). */
SsTensor *ss_op_conv (SsTensor *x, SsTensor *w, SsTensor *bias,
                      const SsConvParams *p, gboolean transposed, GError **error);

G_END_DECLS

#if defined(__has_include)
#if __has_include("tensor/ops/ss-ops-ext.h")
#include "tensor/ops/ss-ops-ext.h"
#endif
#endif
