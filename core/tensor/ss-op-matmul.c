/* ss-op-matmul.c: batched matmul and linear, forward and backward. */
#define G_LOG_DOMAIN "ss-op-matmul"

#include "config.h"
#include "tensor/ss-ops.h"
#include "tensor/ss-op-matmul-private.h"
#include "ss-env.h"

#include <string.h>

typedef struct {
  guint32 M, N, K, bias_mode;
  guint32 a_off, a_bs, a_rs, a_cs;
  guint32 b_off, b_bs, b_rs, b_cs;
  guint32 c_off, c_bs, c_rs, bias_off;
  float alpha, beta;
} GemmPush;

/* fewer 128 x 128 tiles than a large GPU has SMs (132 on the H100): the
 * workgroup-scope kernels' 128 x 64 tiles (n64) keep more of them busy
 * (1036 x 768 x 768: 63 against 51 TFLOP/s; docs/PERFORMANCE-engine.md,
 * sixth session) */
static gboolean
cm2_few_tiles (gint64 m, gint64 n, int batch)
{
  return ((m + 127) / 128) * ((n + 127) / 128) * batch < 128;
}

typedef struct {
  guint32 M, N, K, flags;
  guint32 a_off, a_bs, a_ld, b_off;
  guint32 b_bs, b_ld, c_off, c_bs;
  guint32 c_ld, bias_off, pad0, pad1;
  float alpha, beta;
} CoopPush;

/* SOUNDSTAGE_GEMM_LOG=1: each product's shape and kernel (tensor-core and
 * portable), to find the shapes a model spends its time on */
static void
gemm_log (const char *shader, gint64 m, gint64 n, gint64 k, int batch, guint layout, guint bias)
{
  if (ss_env_flag ("SOUNDSTAGE_GEMM_LOG", FALSE))
    g_message ("gemm %s m %" G_GINT64_FORMAT " n %" G_GINT64_FORMAT " k %" G_GINT64_FORMAT
               " batch %d layout %u bias %u", shader, m, n, k, batch, layout, bias);
}

/* the subgroup-scope tensor-core kernel (matmul_coopmat*) for a product with
 * operand layout flags (bits 0-1), written to buf */
static void
subgroup_shader (SsGpuDevice *dev, guint32 flags, gint64 m, gint64 n, gint64 k, char *buf, gsize len)
{
  /* experimental: fragments straight from global memory (whole 64-tiles only;
   * NV matrices only) */
  gboolean use_direct = ss_env_flag ("SOUNDSTAGE_GEMM_DIRECT", FALSE) && m % 64 == 0 && n % 64 == 0 &&
                        k % 16 == 0 && ss_gpu_device_has_shader (dev, "matmul_coopmat_direct.f16");
  /* 8 warps of 64x32 (133 TFLOP/s on the H100) by default; SOUNDSTAGE_GEMM_W8=0
   * selects 4 warps of 64x64 (94 TFLOP/s) */
  gboolean w8 = ss_env_flag ("SOUNDSTAGE_GEMM_W8", TRUE);
  /* the 8-warp kernel comes in a variant per operand layout (fixed at compile
   * time: 158 against 134 TFLOP/s with the layout read at run time) */
  if (use_direct)
    g_strlcpy (buf, "matmul_coopmat_direct.f16", len);
  else if (w8)
    g_snprintf (buf, len, "matmul_coopmat.f16w8l%u", flags & 3u);
  else
    g_strlcpy (buf, "matmul_coopmat.f16", len);
  /* experiments: SOUNDSTAGE_GEMM_VARIANT=<v> runs matmul_coopmat.<v> */
  const char *xv = ss_env_value ("SOUNDSTAGE_GEMM_VARIANT");
  if (xv)
    {
      char alt[64];
      g_snprintf (alt, sizeof alt, "matmul_coopmat.%s", xv);
      if (ss_gpu_device_has_shader (dev, alt))
        g_strlcpy (buf, alt, len);
    }
}

static gboolean
gemm_coopmat (const SsGemmOperand *a, const SsGemmOperand *b, const SsGemmOperand *c,
              int batch, gint64 m, gint64 n, gint64 k, float alpha, float beta,
              SsTensor *bias, SsGemmBias bias_mode, GError **error)
{
  /* operands must be row- or column-major with 16-byte aligned rows */
  gboolean a_col = a->rs == 1 && a->cs != 1;
  gboolean b_col = b->rs == 1 && b->cs != 1;
  gint64 a_ld = a_col ? a->cs : a->rs;
  gint64 b_ld = b_col ? b->cs : b->rs;
  if (!a_col && a->cs != 1)
    return FALSE;
  if (!b_col && b->cs != 1)
    return FALSE;
  if (a_ld % 8 || b_ld % 8 || c->rs % 8 || a->off % 8 || b->off % 8 || c->off % 8 ||
      a->bs % 8 || b->bs % 8 || c->bs % 8 || m < 64 || n < 64 || k < 32)
    return FALSE;
  /* the contiguous extent of each operand must be whole 8-element vectors */
  if ((a_col ? m : k) % 8 || (b_col ? k : n) % 8)
    return FALSE;
  CoopPush p = {
    .M = m, .N = n, .K = k,
    .flags = (a_col ? 1u : 0u) | (b_col ? 2u : 0u) | ((guint32) (bias ? bias_mode : 0) << 2),
    .a_off = a->off, .a_bs = a->bs, .a_ld = a_ld,
    .b_off = b->off, .b_bs = b->bs, .b_ld = b_ld,
    .c_off = c->off, .c_bs = c->bs, .c_ld = c->rs,
    .bias_off = bias ? bias->offset : 0,
    .alpha = alpha, .beta = beta,
  };
  SsGpuBinding bd[4] = {
    ss_tensor_binding (a->t, SS_GPU_READ),
    ss_tensor_binding (b->t, SS_GPU_READ),
    ss_tensor_binding (c->t, beta != 0.0f ? SS_GPU_RW : SS_GPU_WRITE),
    ss_tensor_binding (bias ? bias : c->t, SS_GPU_READ),
  };
  /* workgroup-scope matrices (coopmat2) for 128 x 128 tiles without beta:
   * 8 warps with two register sets of prefetched tiles (q8); with fewer
   * tiles than a large GPU has SMs, 4 warps on 128 x 64 tiles (n64).
   * SOUNDSTAGE_CM2 forces a variant: w4 (4 warps, one register set), w8,
   * p8 (three sets), n64; ta, tc: tensor-addressing loads straight from
   * global memory, slower; b256: 128 x 256 tiles, K steps of 16
   * (shaders/meson.build). bf16 has q8 and n64's
   * choice falls back to q8 */
  const char *cm2 = g_getenv ("SOUNDSTAGE_CM2");   /* every time: the tests change it */
  const SsGpuCaps *caps = ss_gpu_device_get_caps (c->t->device);
  /* tensor: tensor-addressing loads; whole: whole tiles only (C stored from
   * the matrix, not through shared memory with bounds checks) */
  static const struct { const char *name; guint warps, bn, bk; gboolean tensor, whole; } cm2_kinds[] = {
    { "q8", 8, 128, 32, FALSE, FALSE }, { "w4", 4, 128, 32, FALSE, FALSE }, { "n64", 4, 64, 32, FALSE, FALSE },
    { "w8", 8, 128, 32, FALSE, FALSE }, { "p8", 8, 128, 32, FALSE, FALSE },
    { "ta", 8, 256, 64, TRUE, TRUE }, { "tc", 4, 128, 32, TRUE, TRUE }, { "b256", 8, 256, 16, FALSE, TRUE },
  };
  gboolean bf16 = c->t->dtype == SS_DTYPE_BF16;
  guint kind = !bf16 && cm2_few_tiles (m, n, batch) ? 2 : 0;   /* n64 : q8 */
  for (guint i = 0; cm2 && !bf16 && i < G_N_ELEMENTS (cm2_kinds); i++)
    if (g_strcmp0 (cm2, cm2_kinds[i].name) == 0)
      kind = i;
  guint32 sizes = bf16 ? caps->coopmat_wg_bf16_sizes : caps->coopmat_wg_sizes;
  char shader[64];
  guint bn = 128;
  const char *label = "matmul_coopmat";
  /* edge tiles in M and N are the kernel's, except with tensor loads (and
   * with SOUNDSTAGE_CM2_WHOLE=1, for comparisons) */
  gboolean whole = m % 128 == 0 && n % cm2_kinds[kind].bn == 0;
  gboolean edges = !cm2_kinds[kind].whole && !ss_env_flag ("SOUNDSTAGE_CM2_WHOLE", FALSE);
  if (beta == 0.0f && (whole || edges) && k % cm2_kinds[kind].bk == 0 && (alpha != 0.0f || !bias) &&
      ss_gpu_device_use_coopmat_wg (c->t->device) && (sizes & (1u << cm2_kinds[kind].warps)) &&
      (!cm2_kinds[kind].tensor || caps->coopmat_tensor))
    {
      g_snprintf (shader, sizeof shader, "matmul_cm2%s.%sl%u",
                  bf16 ? "_bf16" : cm2_kinds[kind].tensor ? "t" : "", cm2_kinds[kind].name, p.flags & 3u);
      bn = cm2_kinds[kind].bn;
      label = whole ? "matmul_cm2" : "matmul_cm2 (edge tiles)";
    }
  else if (bf16)
    return FALSE;  /* the portable kernels */
  else
    subgroup_shader (c->t->device, p.flags, m, n, k, shader, sizeof shader);
  gemm_log (shader, m, n, k, batch, p.flags & 3u, p.flags >> 2);
  SsGpuDispatch d = {
    .shader = shader,
    .bindings = bd, .n_bindings = 4, .push = &p, .push_size = sizeof p,
    .groups = { (n + bn - 1) / bn, (m + 127) / 128, batch },
    .label = label,
  };
  GError *local = NULL;
  if (!ss_gpu_dispatch (c->t->device, &d, &local))
    {
      g_propagate_error (error, local);
      return TRUE; /* handled (with an error) */
    }
  return TRUE;
}

/* the portable kernel forced by ss_gemm_set_portable () or
 * SOUNDSTAGE_GEMM_PORTABLE; -1: not read yet */
static int portable_forced = -1;

void
ss_gemm_set_portable (SsGemmPortable kind)
{
  portable_forced = kind;
}

SsGemmPortable
ss_gemm_get_portable (void)
{
  if (portable_forced < 0)
    {
      const char *e = ss_env_value ("SOUNDSTAGE_GEMM_PORTABLE");
      SsGemmPortable kind = SS_GEMM_PORTABLE_AUTO;
      if (g_strcmp0 (e, "small") == 0)
        kind = SS_GEMM_PORTABLE_SMALL;
      else if (g_strcmp0 (e, "big") == 0 || ss_env_flag ("SOUNDSTAGE_GEMM_BIG", FALSE))
        kind = SS_GEMM_PORTABLE_BIG;
      else if (g_strcmp0 (e, "new") == 0 || g_strcmp0 (e, "reg") == 0)
        kind = SS_GEMM_PORTABLE_REG;
      else if (g_strcmp0 (e, "new16") == 0 || g_strcmp0 (e, "reg16") == 0)
        kind = SS_GEMM_PORTABLE_REG_K16;
      else if (e && *e && g_strcmp0 (e, "auto") != 0)
        g_warning ("SOUNDSTAGE_GEMM_PORTABLE=%s: expected auto, small, big, new or new16", e);
      portable_forced = kind;
    }
  return portable_forced;
}

static gboolean gemm_one (const SsGemmOperand *a, const SsGemmOperand *b, const SsGemmOperand *c,
                          int batch, gint64 m, gint64 n, gint64 k, float alpha, float beta,
                          SsTensor *bias, SsGemmBias bias_mode, GError **error);

gboolean
ss_gemm (const SsGemmOperand *a, const SsGemmOperand *b, const SsGemmOperand *c,
         int batch, gint64 m, gint64 n, gint64 k, float alpha, float beta,
         SsTensor *bias, SsGemmBias bias_mode, GError **error)
{
  /* the batch is the grid's z dimension: split it within the device limit */
  const int max_z = 65535;
  for (int b0 = 0; b0 < batch; b0 += max_z)
    {
      int nb = MIN (max_z, batch - b0);
      SsGemmOperand A = *a, B = *b, C = *c;
      A.off += (gint64) b0 * a->bs;
      B.off += (gint64) b0 * b->bs;
      C.off += (gint64) b0 * c->bs;
      if (!gemm_one (&A, &B, &C, nb, m, n, k, alpha, beta, bias, bias_mode, error))
        return FALSE;
    }
  return TRUE;
}

static gboolean gemm_run (const SsGemmOperand *a, const SsGemmOperand *b, const SsGemmOperand *c,
                          int batch, gint64 m, gint64 n, gint64 k, float alpha, float beta,
                          SsTensor *bias, SsGemmBias bias_mode, GError **error);

/* Split-K for products with few output tiles and a long K (the weight
 * gradients of training: out x in over all tokens ran a handful of
 * workgroups, 4 for 192 x 192): slices of K as the batch of one GEMM into
 * partial products (in C's dtype, fp32 accumulation within each), then one
 * sum over the slices into C. Only for a single product with beta 0, no bias
 * and C rows contiguous. The number of slices aims at about 256 workgroups
 * of 128 x 128, with slices of at least 1024 (multiples of 64, so the
 * tensor-core kernels keep whole K steps); SOUNDSTAGE_GEMM_SPLITK=0 turns it
 * off, =1 splits every such product with K >= 16 into about 3 slices (tests,
 * lavapipe included). Returns FALSE with *done FALSE where it does not apply. */
static gboolean
gemm_split_k (const SsGemmOperand *a, const SsGemmOperand *b, const SsGemmOperand *c,
              int batch, gint64 m, gint64 n, gint64 k, float alpha, float beta,
              SsTensor *bias, gboolean *done, GError **error)
{
  int env = ss_env_choice ("SOUNDSTAGE_GEMM_SPLITK");
  *done = FALSE;
  if (env == 0 || batch != 1 || beta != 0.0f || bias || c->rs != n)
    return FALSE;
  gint64 tiles = ((m + 127) / 128) * ((n + 127) / 128);
  gint64 kc;
  if (env == 1)
    {
      if (k < 16)
        return FALSE;
      kc = (k / 3 + 7) / 8 * 8;
    }
  else
    {
      if (ss_gpu_device_get_caps (c->t->device)->is_cpu || tiles >= 64 || k < 2048)
        return FALSE;
      gint64 slices = CLAMP ((256 + tiles - 1) / tiles, 2, k / 1024);
      kc = ((k + slices - 1) / slices + 63) / 64 * 64;
    }
  gint64 full = k / kc, rest = k - full * kc;
  if (full + (rest > 0) < 2)
    return FALSE;
  g_autoptr (SsTensor) part = ss_tensor_new (c->t->dtype, 3, SS_SHAPE (full + (rest > 0), m, n), error);
  if (!part)
    return TRUE;
  SsGemmOperand A = { a->t, a->off, kc * a->cs, a->rs, a->cs };
  SsGemmOperand B = { b->t, b->off, kc * b->rs, b->rs, b->cs };
  SsGemmOperand P = { part, part->offset, m * n, n, 1 };
  if (!gemm_run (&A, &B, &P, (int) full, m, n, kc, alpha, 0.0f, NULL, 0, error))
    return TRUE;
  if (rest > 0)
    {
      A.off += full * kc * a->cs;
      B.off += full * kc * b->rs;
      P.off += full * m * n;
      if (!gemm_run (&A, &B, &P, 1, m, n, rest, alpha, 0.0f, NULL, 0, error))
        return TRUE;
    }
  SS_NO_GRAD_SCOPE;
  g_autoptr (SsTensor) sum = ss_op_sum (part, 0, FALSE, error);
  g_autoptr (SsTensor) dst = sum ? ss_tensor_new_with_buffer (c->t->buffer, c->off * ss_dtype_size (c->t->dtype),
                                                               c->t->dtype, 2, SS_SHAPE (m, n), error)
                                 : NULL;
  if (dst && ss_tensor_copy_into (dst, sum, error))
    *done = TRUE;
  return TRUE;
}

static gboolean
gemm_one (const SsGemmOperand *a, const SsGemmOperand *b, const SsGemmOperand *c,
          int batch, gint64 m, gint64 n, gint64 k, float alpha, float beta,
          SsTensor *bias, SsGemmBias bias_mode, GError **error)
{
  g_return_val_if_fail (a->t->dtype == b->t->dtype && b->t->dtype == c->t->dtype, FALSE);
  g_return_val_if_fail (c->cs == 1, FALSE);
  if (m == 0 || n == 0 || batch == 0)
    return TRUE;
  gboolean done;
  if (gemm_split_k (a, b, c, batch, m, n, k, alpha, beta, bias, &done, error))
    return done;
  return gemm_run (a, b, c, batch, m, n, k, alpha, beta, bias, bias_mode, error);
}

static gboolean
gemm_run (const SsGemmOperand *a, const SsGemmOperand *b, const SsGemmOperand *c,
          int batch, gint64 m, gint64 n, gint64 k, float alpha, float beta,
          SsTensor *bias, SsGemmBias bias_mode, GError **error)
{
  /* (arguments checked by gemm_one) */
  SsGpuDevice *dev = c->t->device;
  gboolean tensor_cores =
    (c->t->dtype == SS_DTYPE_F16 && ss_gpu_device_use_coopmat (dev) &&
     ss_gpu_device_has_shader (dev, "matmul_coopmat.f16")) ||
    (c->t->dtype == SS_DTYPE_BF16 && ss_gpu_device_use_coopmat_wg (dev) &&
     ss_gpu_device_get_caps (dev)->coopmat_wg_bf16_sizes && ss_gpu_has_shader ("matmul_cm2_bf16.q8l0"));
  if (tensor_cores && (!bias || bias->dtype == c->t->dtype))
    {
      GError *local = NULL;
      if (gemm_coopmat (a, b, c, batch, m, n, k, alpha, beta, bias, bias_mode, &local))
        {
          if (local)
            {
              g_propagate_error (error, local);
              return FALSE;
            }
          return TRUE;
        }
    }
  GemmPush p = {
    .M = m, .N = n, .K = k, .bias_mode = bias ? bias_mode : 0,
    .a_off = a->off, .a_bs = a->bs, .a_rs = a->rs, .a_cs = a->cs,
    .b_off = b->off, .b_bs = b->bs, .b_rs = b->rs, .b_cs = b->cs,
    .c_off = c->off, .c_bs = c->bs, .c_rs = c->rs,
    .bias_off = bias ? bias->offset : 0,
    .alpha = alpha, .beta = beta,
  };
  char name[64];
  SsGpuBinding bd[4] = {
    ss_tensor_binding (a->t, SS_GPU_READ),
    ss_tensor_binding (b->t, SS_GPU_READ),
    ss_tensor_binding (c->t, beta != 0.0f ? SS_GPU_RW : SS_GPU_WRITE),
    ss_tensor_binding (bias ? bias : c->t, SS_GPU_READ),
  };
  SsGemmPortable kind = ss_gemm_get_portable ();
  if (kind == SS_GEMM_PORTABLE_AUTO)
    {
      /* the register-blocked kernel for large products, the 64x64 kernel for
       * the rest; on CPU devices (lavapipe) from M, N >= 64 (eleventh
       * session: there, 2 cores, fp32 products of the small Synchformer ran
       * 1.5-5x faster on it, even with half its 128-tiles empty, and its
       * analysis of 10 s 2x; docs/PERFORMANCE-engine.md) */
      gint64 lo = ss_gpu_device_get_caps (dev)->is_cpu ? 64 : 128;
      kind = m >= lo && n >= lo && k >= 64 ? SS_GEMM_PORTABLE_REG : SS_GEMM_PORTABLE_SMALL;
    }
  if (kind == SS_GEMM_PORTABLE_REG || kind == SS_GEMM_PORTABLE_REG_K16)
    {
      /* layout, fixed per pipeline: each operand loaded in groups of 4 along
       * its unit-stride dim, as one load where offsets, strides and the
       * extent along the group are multiples of 4 (matmul_reg.comp) */
      gboolean a_kfast = a->cs == 1;
      gboolean a_vec = a_kfast ? a->off % 4 == 0 && a->bs % 4 == 0 && a->rs % 4 == 0 && k % 4 == 0
                               : a->rs == 1 && a->off % 4 == 0 && a->bs % 4 == 0 && a->cs % 4 == 0 && m % 4 == 0;
      gboolean b_nfast = b->cs == 1;
      gboolean b_vec = b_nfast ? b->off % 4 == 0 && b->bs % 4 == 0 && b->rs % 4 == 0 && n % 4 == 0
                               : b->rs == 1 && b->off % 4 == 0 && b->bs % 4 == 0 && b->cs % 4 == 0 && k % 4 == 0;
      guint32 spec[4] = { a_kfast, a_vec, b_nfast, b_vec };
      gboolean k16 = kind == SS_GEMM_PORTABLE_REG_K16;
      SsGpuDispatch d = {
        .shader = ss_tensor_shader (k16 ? "matmul_reg_k16" : "matmul_reg", c->t->dtype, name, sizeof name),
        .bindings = bd, .n_bindings = 4, .push = &p, .push_size = sizeof p,
        .spec = spec, .n_spec = 4,
        .groups = { (n + 127) / 128, (m + 127) / 128, batch },
        .label = k16 ? "matmul_reg_k16" : "matmul_reg",
      };
      gemm_log (name, m, n, k, batch, (a_kfast ? 0u : 1u) | (b_nfast ? 0u : 2u), p.bias_mode);
      return ss_gpu_dispatch (dev, &d, error);
    }
  /* 128x128 tiles with 8x8 per thread, matmul.comp's loops: only on request;
   * on the H100 it ran at 1.8 TFLOP/s against 25 for the 64x64 kernel
   * (register spills) */
  gboolean big = kind == SS_GEMM_PORTABLE_BIG && m >= 2 && n >= 2;
  gint64 tile = big ? 128 : 64;
  SsGpuDispatch d = {
    .shader = ss_tensor_shader (big ? "matmul_big" : "matmul", c->t->dtype, name, sizeof name),
    .bindings = bd, .n_bindings = 4, .push = &p, .push_size = sizeof p,
    .groups = { (n + tile - 1) / tile, (m + tile - 1) / tile, batch },
    .label = big ? "matmul_big" : "matmul",
  };
  gemm_log (name, m, n, k, batch, (a->cs == 1 ? 0u : 1u) | (b->cs == 1 ? 0u : 2u), p.bias_mode);
  return ss_gpu_dispatch (dev, &d, error);
}

gboolean
ss_gemm_conv (const SsGemmOperand *a, SsTensor *img, gint64 img_off, gint64 img_bs,
              const SsGemmOperand *c, int batch, gint64 m, gint64 n, gint64 k,
              const SsGemmConv *geo, SsTensor *bias, gboolean wgrad, gboolean portable,
              gboolean *handled, GError **error)
{
  SsGpuDevice *dev = c->t->device;
  SsDType dt = c->t->dtype;
  const SsGpuCaps *caps = ss_gpu_device_get_caps (dev);
  *handled = FALSE;
  g_return_val_if_fail (a->t->dtype == dt && (!img || img->dtype == dt) && a->cs == 1 && c->cs == 1, FALSE);
  /* offsets stay within 32 bits, the batch within the grid */
  if (batch < 1 || batch > 65535 || img_off + batch * img_bs >= G_MAXINT32 ||
      c->off + batch * c->bs >= G_MAXINT32 || a->off + m * a->rs >= G_MAXINT32 ||
      (bias && bias->dtype != dt))
    return TRUE;
  /* tensor cores: a K step of 32 is one tap's run of channels */
  gboolean bf16 = dt == SS_DTYPE_BF16;
  guint32 sizes = bf16 ? caps->coopmat_wg_bf16_sizes : caps->coopmat_wg_sizes;
  /* (the forward stores rows of any alignment; the weight gradient's rows
   * of C, its taps by channels, are multiples of 8) */
  gboolean cm2 = (dt == SS_DTYPE_F16 || bf16) && ss_gpu_device_use_coopmat_wg (dev) &&
                 (wgrad ? geo->C % 8 == 0 && geo->Ls % 32 == 0 && a->bs % 8 == 0 && !bias &&
                          c->rs % 8 == 0 && c->off % 8 == 0 && c->bs % 8 == 0
                        : geo->C % 32 == 0) &&
                 m >= 64 && n >= 64 && a->rs % 8 == 0 && a->off % 8 == 0 &&
                 img_off % 8 == 0 && img_bs % 8 == 0 && (sizes & (1u << 8));
  /* few tiles: 128 x 64 (fp16, cm2_few_tiles); 64 rows or fewer (output
   * channels): 64 x 128 tiles (fp16).
   * SOUNDSTAGE_CONV_CM2=q8|n64|m64|m64w8 forces one (fp16) */
  static const struct { const char *name; guint bm, bn, warps; } kinds[] = {
    { "q8", 128, 128, 8 }, { "n64", 128, 64, 4 }, { "m64", 64, 128, 4 }, { "m64w8", 64, 128, 8 },
  };
  guint kind = 0;
  if (!bf16 && m <= 64)
    kind = 2;
  else if (!bf16 && cm2_few_tiles (m, n, batch))
    kind = 1;
  const char *force = ss_env_value ("SOUNDSTAGE_CONV_CM2");
  for (guint i = 0; force && !bf16 && i < G_N_ELEMENTS (kinds); i++)
    if (g_strcmp0 (force, kinds[i].name) == 0)
      kind = i;
  if (!(sizes & (1u << kinds[kind].warps)))
    kind = 0;
  /* without tensor cores: the register-blocked kernel where the GEMM would
   * take it (GPUs, large products, or forced: SS_GEMM_PORTABLE_REG), with
   * whole groups of 4 channels, for kernels of 9 taps or more: its B tiles
   * (groups along k, stored as 4 scalars) cost more than im2col saves for 3
   * taps (fp32 conv1d C512 k3 on the H100: 1.60 against 1.47 ms; conv2d N8
   * C128 3x3: 0.33 against 0.38, forward+backward 1.13 against 1.44); on CPU
   * devices for any number of taps, from M, N >= 64 like the GEMM
   * (lavapipe: docs/PERFORMANCE-engine.md, eleventh session) */
  SsGemmPortable pk = ss_gemm_get_portable ();
  gint64 taps = (wgrad ? n : k) / MAX (geo->C, 1);
  gboolean reg = !cm2 && geo->C % 4 == 0 && a->rs % 4 == 0 && a->off % 4 == 0 && img_off % 4 == 0 &&
                 img_bs % 4 == 0 && (!wgrad || (a->bs % 4 == 0 && geo->Ls % 4 == 0)) &&
                 (pk == SS_GEMM_PORTABLE_REG ||
                  (pk == SS_GEMM_PORTABLE_AUTO && (caps->is_cpu ? m >= 64 && n >= 64 : m >= 128 && n >= 128 && taps >= 9) &&
                   k >= 64));
  char shader[64];
  if (cm2)
    g_snprintf (shader, sizeof shader, "matmul_cm2%s.%s%s", bf16 ? "_bf16" : "", kinds[kind].name,
                wgrad ? "l0w" : "l2i");
  else if (reg)
    g_snprintf (shader, sizeof shader, "matmul_reg_conv.%s%s", wgrad ? "w" : "", ss_dtype_name (dt));
  else if (portable)
    g_snprintf (shader, sizeof shader, "matmul_conv.%s%s", wgrad ? "w" : "", ss_dtype_name (dt));
  else
    return TRUE;
  if (!ss_gpu_has_shader (shader))
    return TRUE;
  *handled = TRUE;
  if (!img)
    return TRUE;   /* only asked */
  SsGpuBinding bd[4] = {
    ss_tensor_binding (a->t, SS_GPU_READ),
    ss_tensor_binding (img, SS_GPU_READ),
    ss_tensor_binding (c->t, SS_GPU_WRITE),
    ss_tensor_binding (bias ? bias : c->t, SS_GPU_READ),
  };
  guint32 g[14] = { geo->C, geo->kx, geo->ky, geo->ox, geo->oy, geo->mx, geo->my, geo->mz,
                    geo->tx, geo->ty, geo->tz, wgrad ? geo->S : 1, wgrad ? geo->Ls : 0, wgrad ? geo->L : 0 };
  SsGpuDispatch d = { .shader = shader, .bindings = bd, .n_bindings = 4 };
  struct { CoopPush p; guint32 geo[14]; } cp;
  struct { GemmPush p; guint32 geo[14]; } gp;
  guint32 spec[4];
  G_STATIC_ASSERT (sizeof cp <= SS_GPU_MAX_PUSH && sizeof gp <= SS_GPU_MAX_PUSH);
  gint64 a_bs = wgrad ? a->bs : 0;
  if (cm2)
    {
      cp.p = (CoopPush) {
        .M = m, .N = n, .K = k, .flags = (wgrad ? 0u : 2u) | (bias ? (guint32) SS_GEMM_BIAS_ROW << 2 : 0u),
        .a_off = a->off, .a_bs = a_bs, .a_ld = a->rs,
        .b_off = img_off, .b_bs = img_bs, .b_ld = 0,
        .c_off = c->off, .c_bs = c->bs, .c_ld = c->rs,
        .bias_off = bias ? bias->offset : 0, .alpha = 1.0f, .beta = 0.0f,
      };
      memcpy (cp.geo, g, sizeof g);
      d.push = &cp;
      d.push_size = sizeof cp;
      d.groups[0] = (n + kinds[kind].bn - 1) / kinds[kind].bn;
      d.groups[1] = (m + kinds[kind].bm - 1) / kinds[kind].bm;
      d.label = wgrad ? "matmul_cm2 (implicit conv dW)" : "matmul_cm2 (implicit conv)";
    }
  else
    {
      gp.p = (GemmPush) {
        .M = m, .N = n, .K = k, .bias_mode = bias ? SS_GEMM_BIAS_ROW : 0,
        .a_off = a->off, .a_bs = a_bs, .a_rs = a->rs, .a_cs = 1,
        .b_off = img_off, .b_bs = img_bs,
        .c_off = c->off, .c_bs = c->bs, .c_rs = c->rs,
        .bias_off = bias ? bias->offset : 0, .alpha = 1.0f, .beta = 0.0f,
      };
      memcpy (gp.geo, g, sizeof g);
      d.push = &gp;
      d.push_size = sizeof gp;
      gint64 tile = reg ? 128 : 64;
      d.groups[0] = (n + tile - 1) / tile;
      d.groups[1] = (m + tile - 1) / tile;
      if (reg)
        {
          /* A row-major (vectors where aligned), B's groups of 4 channels
           * along k (the convolution) or n (its weight gradient) */
          spec[0] = TRUE;
          spec[1] = a->off % 4 == 0 && a->rs % 4 == 0 && k % 4 == 0 && a_bs % 4 == 0;
          spec[2] = wgrad;
          spec[3] = TRUE;
          d.spec = spec;
          d.n_spec = 4;
          d.label = wgrad ? "matmul_reg (implicit conv dW)" : "matmul_reg (implicit conv)";
        }
      else
        d.label = wgrad ? "matmul_conv (dW)" : "matmul_conv";
    }
  d.groups[2] = batch;
  return ss_gpu_dispatch (dev, &d, error);
}

gboolean
ss_bias_grad (SsTensor *dy, gint64 outer, gint64 channels, gint64 inner,
              SsTensor *out, float beta, GError **error)
{
  /* bias_grad.comp: partial sums of chunks of dy, about 528 workgroups in
   * all, then their sum per channel; one pass where one chunk per channel
   * is enough (convolutions with 128 channels or more: a second dispatch
   * cost more than the chunks gained, H100 `eng115`) */
  gint64 cols = inner == 1 ? (channels + 63) / 64 : channels;
  static gint64 want = 0;   /* SOUNDSTAGE_BIAS_GRAD_WG: the target workgroup count (experiments) */
  if (!want)
    {
      const char *e = ss_env_value ("SOUNDSTAGE_BIAS_GRAD_WG");
      want = e ? MAX (1, g_ascii_strtoll (e, NULL, 10)) : 528;
    }
  gint64 chunks = CLAMP ((want + cols - 1) / cols, 1, MAX (1, inner == 1 ? outer / 16 : outer * inner / 2048));
  if (inner > 1 && channels >= 128)
    chunks = 1;
  if (cols > 65535 || chunks > 65535)
    {
      g_set_error (error, SS_ERROR, SS_ERROR_INVALID_DATA, "bias gradient: %" G_GINT64_FORMAT
                   " channels exceed the grid", channels);
      return FALSE;
    }
  g_autoptr (SsTensor) part = chunks > 1 ? ss_tensor_new (SS_DTYPE_F32, 1, SS_SHAPE (chunks * channels), error) : NULL;
  if (chunks > 1 && !part)
    return FALSE;
  struct { guint32 outer, C, inner, dy_off, o_off, chunks, phase; float beta; } p = {
    outer, channels, inner, dy->offset, out->offset, chunks, chunks > 1 ? 0 : 2, beta };
  char name[64];
  SsGpuBinding bd[3] = { ss_tensor_binding (dy, SS_GPU_READ), ss_tensor_binding (out, SS_GPU_RW),
                         ss_tensor_binding (part ? part : out, SS_GPU_RW) };
  SsGpuDispatch d = {
    .shader = ss_tensor_shader ("bias_grad", dy->dtype, name, sizeof name),
    .bindings = bd, .n_bindings = 3, .push = &p, .push_size = sizeof p,
    .groups = { cols, chunks, 1 },
  };
  if (!ss_gpu_dispatch (dy->device, &d, error))
    return FALSE;
  if (chunks == 1)
    return TRUE;
  p.phase = 1;
  ss_gpu_groups_1d (dy->device, (channels + 255) / 256, d.groups);
  return ss_gpu_dispatch (dy->device, &d, error);
}

/* ------------------------------------------------------------------ matmul */

typedef struct {
  gboolean ta, tb;
} MatmulData;

static gint64
batch_of (SsTensor *t)
{
  gint64 b = 1;
  for (int i = 0; i < t->ndim - 2; i++)
    b *= t->shape[i];
  return b;
}

/* sums r [batch, X, Y] over batch into a new [shape of target] tensor */
static SsTensor *
sum_batches (SsTensor *r, SsTensor *target, GError **error)
{
  gint64 batch = batch_of (r);
  gint64 per = ss_tensor_numel (r) / MAX (batch, 1);
  g_autoptr (SsTensor) rc = ss_tensor_contiguous (r, error);
  if (!rc)
    return NULL;
  g_autoptr (SsTensor) out = ss_tensor_zeros (target->dtype, target->ndim, target->shape, error);
  if (!out)
    return NULL;
  for (gint64 b = 0; b < batch; b++)
    {
      SsTensor view = *rc;
      view.ndim = 1;
      view.shape[0] = per;
      view.strides[0] = 1;
      view.offset = rc->offset + b * per;
      SsTensor ov = *out;
      ov.ndim = 1;
      ov.shape[0] = per;
      ov.strides[0] = 1;
      if (!ss_tensor_axpy (&ov, 1.0f, &view, 1.0f, error))
        return NULL;
    }
  return g_steal_pointer (&out);
}

static gboolean
matmul_backward (SsAutogradNode *node, SsTensor *g, SsTensor **gi, GError **error)
{
  MatmulData *md = ss_autograd_node_get_data (node);
  SsTensor *a = ss_autograd_node_input (node, 0);
  SsTensor *b = ss_autograd_node_input (node, 1);
  if (ss_autograd_node_needs_input_grad (node, 0))
    {
      g_autoptr (SsTensor) r = md->ta ? ss_op_matmul (b, g, md->tb, TRUE, error)
                                      : ss_op_matmul (g, b, FALSE, !md->tb, error);
      if (!r)
        return FALSE;
      if (batch_of (r) != batch_of (a) || r->ndim != a->ndim)
        gi[0] = batch_of (r) == batch_of (a) ? ss_tensor_reshape (r, a->ndim, a->shape, error)
                                             : sum_batches (r, a, error);
      else
        gi[0] = g_steal_pointer (&r);
      if (!gi[0])
        return FALSE;
    }
  if (ss_autograd_node_needs_input_grad (node, 1))
    {
      g_autoptr (SsTensor) r = md->tb ? ss_op_matmul (g, a, TRUE, md->ta, error)
                                      : ss_op_matmul (a, g, !md->ta, FALSE, error);
      if (!r)
        return FALSE;
      if (batch_of (r) != batch_of (b) || r->ndim != b->ndim)
        gi[1] = batch_of (r) == batch_of (b) ? ss_tensor_reshape (r, b->ndim, b->shape, error)
                                             : sum_batches (r, b, error);
      else
        gi[1] = g_steal_pointer (&r);
      if (!gi[1])
        return FALSE;
    }
  return TRUE;
}

SsTensor *
ss_op_matmul (SsTensor *a, SsTensor *b, gboolean trans_a, gboolean trans_b, GError **error)
{
  g_return_val_if_fail (a != NULL && b != NULL, NULL);
  if (a->ndim < 2 || b->ndim < 2 || a->dtype != b->dtype)
    {
      g_autofree char *da = ss_tensor_describe (a);
      g_autofree char *db = ss_tensor_describe (b);
      g_set_error (error, SS_ERROR, SS_ERROR_INVALID_DATA,
                   "matmul: operands %s and %s need 2+ dimensions and one dtype", da, db);
      return NULL;
    }
  gint64 m = trans_a ? a->shape[a->ndim - 1] : a->shape[a->ndim - 2];
  gint64 ka = trans_a ? a->shape[a->ndim - 2] : a->shape[a->ndim - 1];
  gint64 kb = trans_b ? b->shape[b->ndim - 1] : b->shape[b->ndim - 2];
  gint64 n = trans_b ? b->shape[b->ndim - 2] : b->shape[b->ndim - 1];
  gint64 ba = batch_of (a), bb = batch_of (b);
  gboolean batch_ok = ba == bb || ba == 1 || bb == 1;
  if (ka != kb || !batch_ok)
    {
      g_autofree char *da = ss_tensor_describe (a);
      g_autofree char *db = ss_tensor_describe (b);
      g_set_error (error, SS_ERROR, SS_ERROR_INVALID_DATA,
                   "matmul: shapes %s and %s do not match", da, db);
      return NULL;
    }
  SsTensor *shape_src = (ba >= bb) ? a : b;
  if (ba == bb && b->ndim > a->ndim)
    shape_src = b;
  gint64 batch = MAX (ba, bb);
  gint64 oshape[SS_TENSOR_MAX_DIMS];
  int ond = MAX (shape_src->ndim, 2);
  for (int i = 0; i < ond - 2; i++)
    oshape[i] = shape_src->shape[i];
  oshape[ond - 2] = m;
  oshape[ond - 1] = n;

  g_autoptr (SsTensor) ac = NULL;
  g_autoptr (SsTensor) bc = NULL;
  {
    SS_NO_GRAD_SCOPE;
    ac = ss_tensor_contiguous (a, error);
    bc = ac ? ss_tensor_contiguous (b, error) : NULL;
  }
  if (!bc)
    return NULL;
  SsTensor *out = ss_tensor_new (a->dtype, ond, oshape, error);
  if (!out)
    return NULL;
  gint64 ar = a->shape[a->ndim - 2], acl = a->shape[a->ndim - 1];
  gint64 br = b->shape[b->ndim - 2], bcl = b->shape[b->ndim - 1];
  SsGemmOperand A = { ac, ac->offset, ba == 1 ? 0 : ar * acl, trans_a ? 1 : acl, trans_a ? acl : 1 };
  SsGemmOperand B = { bc, bc->offset, bb == 1 ? 0 : br * bcl, trans_b ? 1 : bcl, trans_b ? bcl : 1 };
  SsGemmOperand C = { out, out->offset, m * n, n, 1 };
  if (!ss_gemm (&A, &B, &C, batch, m, n, ka, 1.0f, 0.0f, NULL, 0, error))
    {
      ss_tensor_unref (out);
      return NULL;
    }
  SsTensor *ins[2] = { a, b };
  if (ss_autograd_needs_grad (2, ins))
    {
      SsAutogradNode *node = ss_autograd_node_new ("matmul", matmul_backward, 2, ins);
      MatmulData *md = g_new (MatmulData, 1);
      md->ta = trans_a;
      md->tb = trans_b;
      ss_autograd_node_set_data (node, md, g_free);
      ss_autograd_attach (out, node);
    }
  return out;
}

/* ------------------------------------------------------------------ linear */

static gboolean
linear_backward (SsAutogradNode *node, SsTensor *g, SsTensor **gi, GError **error)
{
  SsTensor *x = ss_autograd_node_input (node, 0);
  SsTensor *w = ss_autograd_node_input (node, 1);
  SsTensor *bias = ss_autograd_node_input (node, 2);
  gint64 in = w->shape[1], outf = w->shape[0];
  gint64 rows = ss_tensor_numel (x) / MAX (in, 1);
  g_autoptr (SsTensor) gc = ss_tensor_contiguous (g, error);
  if (!gc)
    return FALSE;
  SsGemmOperand G = { gc, gc->offset, 0, outf, 1 };
  if (ss_autograd_node_needs_input_grad (node, 0))
    {
      g_autoptr (SsTensor) wc = ss_tensor_contiguous (w, error);
      SsTensor *dx = wc ? ss_tensor_new (x->dtype, x->ndim, x->shape, error) : NULL;
      if (!dx)
        return FALSE;
      gi[0] = dx;
      SsGemmOperand W = { wc, wc->offset, 0, in, 1 };
      SsGemmOperand DX = { dx, dx->offset, 0, in, 1 };
      if (!ss_gemm (&G, &W, &DX, 1, rows, in, outf, 1.0f, 0.0f, NULL, 0, error))
        return FALSE;
    }
  if (ss_autograd_node_needs_input_grad (node, 1))
    {
      g_autoptr (SsTensor) xc = ss_tensor_contiguous (x, error);
      SsTensor *dw = xc ? ss_tensor_new (w->dtype, 2, w->shape, error) : NULL;
      if (!dw)
        return FALSE;
      gi[1] = dw;
      SsGemmOperand GT = { gc, gc->offset, 0, 1, outf };
      SsGemmOperand X = { xc, xc->offset, 0, in, 1 };
      SsGemmOperand DW = { dw, dw->offset, 0, in, 1 };
      if (!ss_gemm (&GT, &X, &DW, 1, outf, in, rows, 1.0f, 0.0f, NULL, 0, error))
        return FALSE;
    }
  if (bias && ss_autograd_node_needs_input_grad (node, 2))
    {
      SsTensor *db = ss_tensor_new (bias->dtype, bias->ndim, bias->shape, error);
      if (!db)
        return FALSE;
      gi[2] = db;
      if (!ss_bias_grad (gc, rows, outf, 1, db, 0.0f, error))
        return FALSE;
    }
  return TRUE;
}

SsTensor *
ss_op_linear (SsTensor *x, SsTensor *w, SsTensor *bias, GError **error)
{
  g_return_val_if_fail (x != NULL && w != NULL, NULL);
  if (w->ndim != 2 || x->ndim < 1 || x->shape[x->ndim - 1] != w->shape[1] ||
      x->dtype != w->dtype || (bias && (bias->dtype != w->dtype || ss_tensor_numel (bias) != w->shape[0])))
    {
      g_autofree char *dx = ss_tensor_describe (x);
      g_autofree char *dw = ss_tensor_describe (w);
      g_set_error (error, SS_ERROR, SS_ERROR_INVALID_DATA,
                   "linear: input %s does not match weight %s (or bias)", dx, dw);
      return NULL;
    }
  gint64 in = w->shape[1], outf = w->shape[0];
  gint64 rows = ss_tensor_numel (x) / MAX (in, 1);
  g_autoptr (SsTensor) xc = NULL, wc = NULL, bc = NULL;
  {
    SS_NO_GRAD_SCOPE;
    xc = ss_tensor_contiguous (x, error);
    wc = xc ? ss_tensor_contiguous (w, error) : NULL;
    bc = (wc && bias) ? ss_tensor_contiguous (bias, error) : NULL;
  }
  if (!wc || (bias && !bc))
    return NULL;
  gint64 oshape[SS_TENSOR_MAX_DIMS];
  memcpy (oshape, x->shape, sizeof oshape);
  oshape[x->ndim - 1] = outf;
  SsTensor *out = ss_tensor_new (x->dtype, x->ndim, oshape, error);
  if (!out)
    return NULL;
  SsGemmOperand X = { xc, xc->offset, 0, in, 1 };
  SsGemmOperand WT = { wc, wc->offset, 0, 1, in };
  SsGemmOperand Y = { out, out->offset, 0, outf, 1 };
  if (!ss_gemm (&X, &WT, &Y, 1, rows, outf, in, 1.0f, 0.0f, bc, SS_GEMM_BIAS_COL, error))
    {
      ss_tensor_unref (out);
      return NULL;
    }
  SsTensor *ins[3] = { x, w, bias };
  if (ss_autograd_needs_grad (3, ins))
    ss_autograd_attach (out, ss_autograd_node_new ("linear", linear_backward, 3, ins));
  return out;
}
