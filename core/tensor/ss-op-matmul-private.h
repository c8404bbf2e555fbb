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

void           ss_gemm_set_portable (SsGemmPortable kind);
SsGemmPortable ss_gemm_get_portable (void);

/* out[c] (+)= sum of dy viewed as [outer, C, inner] over outer and inner. */
gboolean ss_bias_grad (SsTensor *dy, gint64 outer, gint64 channels, gint64 inner,
                       SsTensor *out, float beta, GError **error);

G_END_DECLS
