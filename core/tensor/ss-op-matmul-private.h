/* ss-op-matmul-private.h: the strided GEMM behind matmul, linear, conv and
 * attention backward (for op implementations inside core/tensor). */
#pragma once

#include "tensor/ss-tensor.h"

G_BEGIN_DECLS

/* Operand X(b, r, c) = storage[off + b*bs + r*rs + c*cs] of tensor t's buffer
 * (off is absolute in elements: include t->offset). */
typedef struct {
  SsTensor *t;
  gint64    off;
  gint64    bs, rs, cs;
} SsGemmOperand;

typedef enum {
  SS_GEMM_BIAS_NONE = 0,
  SS_GEMM_BIAS_COL = 1,   /* bias[n] */
  SS_GEMM_BIAS_ROW = 2,   /* bias[m] */
} SsGemmBias;

/* C = alpha * A @ B + beta * C (+ bias), for `batch` batches. C must have
 * cs == 1. All operands share one dtype. Picks the cooperative-matrix kernel
 * when the device has it and the layout allows. */
gboolean ss_gemm (const SsGemmOperand *a, const SsGemmOperand *b, const SsGemmOperand *c,
                  int batch, gint64 m, gint64 n, gint64 k, float alpha, float beta,
                  SsTensor *bias, SsGemmBias bias_mode, GError **error);

/* The kernel for GEMMs that do not take the cooperative-matrix kernel:
 * AUTO picks the register-blocked matmul_reg (128x128 tiles, 8x8 per thread)
 * on non-CPU devices for M, N >= 128 and K >= 64, and the 64x64 matmul
 * otherwise. The others force one kernel for every shape (tests, benchmarks).
 * The default comes from SOUNDSTAGE_GEMM_PORTABLE=auto|small|big|new|new16
 * (SOUNDSTAGE_GEMM_BIG=1 is big); the setter overrides it (not thread-safe:
 * call it between dispatches). */
typedef enum {
  SS_GEMM_PORTABLE_AUTO = 0,
  SS_GEMM_PORTABLE_SMALL,     /* matmul: 64x64x16, 4x4 per thread */
  SS_GEMM_PORTABLE_BIG,       /* matmul_big: matmul.comp at 128x128x8, 8x8 per thread */
  SS_GEMM_PORTABLE_REG,       /* matmul_reg: 128x128x8, vec4 operands, double-buffered ("new") */
  SS_GEMM_PORTABLE_REG_K16,   /* matmul_reg_k16: the same with BK 16 ("new16") */
} SsGemmPortable;

/* The B operand of an implicit-GEMM convolution: column n of image b is the
 * output position (z, y, x) = (n / (ox oy), n / ox % oy, n % ox), row k the
 * tap ((tz ky + ty) kx + tx) and channel c of k = tap C + c, read from the
 * channels-last packed image (conv_pack) at z mz + y my + x mx + tz tz' +
 * ty ty' + tx tx' + c (in elements; tz', ty', tx' are the tap steps tx, ty,
 * tz here). The kernels' push constants end with it, as ConvGeo
 * (shaders/conv_implicit.glsl), in this order. */
typedef struct {
  guint32 C, kx, ky, ox, oy, mx, my, mz, tx, ty, tz;
  guint32 S, Ls;    /* the weight gradient's slices: S of Ls positions each */
  guint32 L;        /* ... over positions 0 .. L - 1 of the image (dy zero past them) */
} SsGemmConv;

/* C[b](m, n) = sum_k A(m, k) B_b(k, n) (+ bias[m]) for the images b of the
 * packed `img` (image b at img_off + b img_bs elements), A row-major. Runs
 * the workgroup-scope tensor-core kernel (fp16/bf16, geo->C % 32 == 0,
 * m, n >= 64), else the register-blocked kernel (GPUs, channels a multiple
 * of 4, 9 taps or more, m, n >= 128; or wherever SS_GEMM_PORTABLE_REG is
 * forced), else with `portable` the 64 x 64 portable kernel (any shape). Sets *handled to FALSE and does nothing
 * where neither applies; returns FALSE only on errors. With img NULL it
 * only sets *handled (a's tensor need not exist yet: a->t gives the dtype
 * and device).
 * With wgrad, the weight gradient's products instead: batch entry b is
 * slice b % S of image b / S, C[b](m, n) = sum over the slice's Ls
 * positions k of A(m, k) (A = dy, image b / S at a->off + (b / S) a->bs,
 * the slice Ls further) times the image at position k, tap and channel n
 * (tensor cores: geo->C % 8 == 0, Ls % 32 == 0). */
gboolean ss_gemm_conv (const SsGemmOperand *a, SsTensor *img, gint64 img_off, gint64 img_bs,
                       const SsGemmOperand *c, int batch, gint64 m, gint64 n, gint64 k,
                       const SsGemmConv *geo, SsTensor *bias, gboolean wgrad, gboolean portable,
                       gboolean *handled, GError **error);

void           ss_gemm_set_portable (SsGemmPortable kind);
SsGemmPortable ss_gemm_get_portable (void);

/* out[c] (+)= sum of dy viewed as [outer, C, inner] over outer and inner. */
gboolean ss_bias_grad (SsTensor *dy, gint64 outer, gint64 channels, gint64 inner,
                       SsTensor *out, float beta, GError **error);

G_END_DECLS
