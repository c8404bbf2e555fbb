/* ss-op-attention.c: fused scaled-dot-product attention, forward and backward.
 * Forward streams K/V tiles with an online softmax and keeps the per-row
 * log-sum-exp; backward recomputes the probabilities tile by tile (one kernel
 * for dK/dV over key tiles, one for dQ over query tiles), never storing the
 * Lq x Lk matrix. Short key sequences (divided space-time attention) use a
 * kernel with one thread per query row (attention_fwd_rows.comp), a few rows
 * over many keys its SPLIT form with the keys split among a workgroup
 * (attention_fwd_split). */
#define G_LOG_DOMAIN "ss-op-attention"

#include "config.h"
#include "tensor/ss-ops.h"
#include "ss-env.h"

#include <math.h>

typedef struct {
  guint32 Lq, Lk, D, Dv;
  guint32 H, flags, q_off, k_off;
  guint32 v_off, o_off, m_off, m_bs;
  guint32 m_hs, l_off, do_off, g_off;
  float scale;
  guint32 BH;
  guint32 bh0;     /* first batch*head of a dispatch: grids over 65535 are split */
  guint32 m_rs;    /* the mask's row stride (the masked workgroup-scope kernels) */
} AttnPush;

/* Dispatches d once per slice of at most 65535 batch*heads (the y grid size
 * every Vulkan device supports), with p->bh0 set to the slice's first. */
static gboolean
dispatch_bh_slices (SsGpuDevice *dev, SsGpuDispatch *d, AttnPush *p, gint64 BH, GError **error)
{
  for (gint64 b0 = 0; b0 < BH; b0 += 65535)
    {
      p->bh0 = (guint32) b0;
      d->groups[1] = (guint) MIN (65535, BH - b0);
      if (!ss_gpu_dispatch (dev, d, error))
        return FALSE;
    }
  return TRUE;
}

typedef enum { ATTN_TILED, ATTN_COOP, ATTN_FLASH, ATTN_ROWS, ATTN_SPLIT, ATTN_CM2, ATTN_REG } AttnKernel;

/* The one-pass tensor-core kernel (attention_fwd_flash.comp) reads and scales
 * the components of accumulator fragments by row, so it needs their layout,
 * which GL_NV_cooperative_matrix leaves to the driver. It is probed once per
 * device (coopmat_probe.comp loads a matrix whose elements name their row and
 * column); the kernel runs only when every lane's components follow the quad
 * layout it assumes (lane l, component i: row l/4 + {0 or 8}, column
 * 2 (l % 4) + a per-component offset), with those offsets as specialization
 * constants. Otherwise the two-pass kernel runs. */
typedef struct {
  gboolean ok;
  guint32 spec[2];   /* rows: bit i = component i is 8 rows down; columns: nibble i */
  char why[96];
} FlashLayout;

gboolean
ss_attention_flash_layout_parse (const float *out, guint32 spec[2], char *why, gsize why_len)
{
  if (out[0] != 8.0f)
    {
      g_snprintf (why, why_len, "%g components per lane, not 8", out[0]);
      return FALSE;
    }
  guint rowoff[8], coloff[8];
  gboolean seen[256] = { FALSE };
  for (guint lane = 0; lane < 32; lane++)
    for (guint i = 0; i < 8; i++)
      {
        float v = out[1 + lane * 16 + i];
        if (!(v >= 0.0f && v < 256.0f) || v != floorf (v))
          {
            g_snprintf (why, why_len, "lane %u component %u holds %g", lane, i, v);
            return FALSE;
          }
        guint e = (guint) v, row = e / 16, col = e % 16;
        if (lane == 0)
          {
            rowoff[i] = row;
            coloff[i] = col;
            if ((row != 0 && row != 8) || col > 9)
              {
                g_snprintf (why, why_len, "lane 0 component %u is (%u, %u)", i, row, col);
                return FALSE;
              }
          }
        if (row != lane / 4 + rowoff[i] || col != 2 * (lane % 4) + coloff[i] || seen[e])
          {
            g_snprintf (why, why_len, "lane %u component %u is (%u, %u)", lane, i, row, col);
            return FALSE;
          }
        seen[e] = TRUE;
      }
  spec[0] = spec[1] = 0;
  for (guint i = 0; i < 8; i++)
    {
      spec[0] |= (rowoff[i] == 8 ? 1u : 0u) << i;
      spec[1] |= coloff[i] << (4 * i);
    }
  return TRUE;
}

static const FlashLayout *
flash_layout (SsGpuDevice *dev)
{
  /* one probe per device even when several threads get here first; the
   * result lives as long as the device and is never replaced */
  static GMutex lock;
  g_autoptr (GMutexLocker) locker G_GNUC_UNUSED = g_mutex_locker_new (&lock);
  FlashLayout *fl = ss_gpu_device_get_data (dev, "attention-flash-layout");
  if (fl)
    return fl;
  fl = g_new0 (FlashLayout, 1);
  float src[256], out[1 + 32 * 16];
  for (int i = 0; i < 256; i++)
    src[i] = (float) i;
  GError *error = NULL;
  g_autoptr (SsTensor) s = ss_tensor_new_from_floats (SS_DTYPE_F32, 1, SS_SHAPE (256), src, &error);
  g_autoptr (SsTensor) o = s ? ss_tensor_full (SS_DTYPE_F32, 1, SS_SHAPE (G_N_ELEMENTS (out)), -1.0f, &error) : NULL;
  if (o)
    {
      SsGpuBinding b[2] = { ss_tensor_binding (s, SS_GPU_READ), ss_tensor_binding (o, SS_GPU_WRITE) };
      SsGpuDispatch d = { .shader = "coopmat_probe.f32", .bindings = b, .n_bindings = 2,
                          .groups = { 1, 1, 1 }, .label = "coopmat_probe" };
      if (ss_gpu_dispatch (dev, &d, &error) && ss_tensor_to_floats (o, out, &error))
        fl->ok = ss_attention_flash_layout_parse (out, fl->spec, fl->why, sizeof fl->why);
    }
  if (error)
    {
      g_snprintf (fl->why, sizeof fl->why, "%s", error->message);
      g_clear_error (&error);
    }
  if (fl->ok)
    g_debug ("one-pass attention: accumulator layout rows 0x%02x columns 0x%08x", fl->spec[0], fl->spec[1]);
  else
    g_message ("one-pass tensor-core attention is off on this GPU: %s", fl->why);
  ss_gpu_device_set_data (dev, "attention-flash-layout", fl, g_free);
  return fl;
}

/* The workgroup-scope kernel (attention_fwd_cm2.comp) likewise works on the
 * components of workgroup accumulators. It assumes the H100 driver's layout:
 * the warps form 2 row halves of WN = warps / 2 column groups; in an R x C
 * matrix warp w holds rows R/2 (w / WN) .. + R/2 - 1 and columns CW (w % WN)
 * .. + CW - 1 (CW = C / WN), and lane l's component i is row R/2 (w / WN) +
 * 8 (i / (CW / 4)) + l / 4, column CW (w % WN) + 8 ((i % (CW / 4)) / 2) +
 * 2 (l % 4) + i % 2. Probed once per device and shape set with
 * coopmat_probe_wg. */
static gboolean
cm2_matrix_check (const float *comps, guint stride, guint n, guint nt, guint rows, guint cols,
                  const char *what, char *why, gsize why_len)
{
  guint wn = nt / 64, cw = cols / wn;
  if (n != rows * cols / nt)
    {
      g_snprintf (why, why_len, "%s: %u components per invocation, not %u", what, n, rows * cols / nt);
      return FALSE;
    }
  for (guint inv = 0; inv < nt; inv++)
    for (guint i = 0; i < n; i++)
      {
        guint w = inv / 32, lane = inv % 32;
        guint row = rows / 2 * (w / wn) + 8 * (i / (cw / 4)) + lane / 4;
        guint col = cw * (w % wn) + 8 * ((i % (cw / 4)) / 2) + 2 * (lane % 4) + i % 2;
        float v = comps[inv * stride + i];
        if (v != (float) (row * cols + col))
          {
            g_snprintf (why, why_len, "%s: invocation %u component %u holds %g, not (%u, %u)",
                        what, inv, i, v, row, col);
            return FALSE;
          }
      }
  return TRUE;
}

gboolean
ss_attention_cm2_layout_check (const float *out, guint nt, guint rows, guint s_cols, guint o_cols,
                               char *why, gsize why_len)
{
  return cm2_matrix_check (out + 2, 64, (guint) out[0], nt, rows, s_cols, "S", why, why_len) &&
         cm2_matrix_check (out + 2 + nt * 64, 128, (guint) out[1], nt, rows, o_cols, "O", why, why_len);
}

gboolean
ss_attention_cm2_probe (SsGpuDevice *dev, const char *variant, float *out, GError **error)
{
  /* coopmat_probe_wg.comp's bindings: src (element e = e), src2 (e mod 2048,
   * exact in fp16), a 64 x 64 identity, dst */
  g_autofree float *src = g_new (float, 128 * 128);
  g_autofree float *src2 = g_new (float, 128 * 64);
  g_autofree float *eye = g_new0 (float, 64 * 64);
  for (int i = 0; i < 128 * 128; i++)
    src[i] = (float) i;
  for (int i = 0; i < 128 * 64; i++)
    src2[i] = (float) (i % 2048);
  for (int i = 0; i < 64; i++)
    eye[i * 64 + i] = 1.0f;
  g_autoptr (SsTensor) s = ss_tensor_new_from_floats (SS_DTYPE_F32, 1, SS_SHAPE (128 * 128), src, error);
  g_autoptr (SsTensor) s2 = s ? ss_tensor_new_from_floats (SS_DTYPE_F32, 1, SS_SHAPE (128 * 64), src2, error) : NULL;
  g_autoptr (SsTensor) e = s2 ? ss_tensor_new_from_floats (SS_DTYPE_F16, 1, SS_SHAPE (64 * 64), eye, error) : NULL;
  g_autoptr (SsTensor) o = e ? ss_tensor_full (SS_DTYPE_F32, 1, SS_SHAPE (SS_ATTENTION_CM2_PROBE_FLOATS), -1.0f, error)
                             : NULL;
  if (!o)
    return FALSE;
  g_autofree char *shader = g_strdup_printf ("coopmat_probe_wg.%s", variant);
  SsGpuBinding b[4] = { ss_tensor_binding (s, SS_GPU_READ), ss_tensor_binding (s2, SS_GPU_READ),
                        ss_tensor_binding (e, SS_GPU_READ), ss_tensor_binding (o, SS_GPU_WRITE) };
  SsGpuDispatch d = { .shader = shader, .bindings = b, .n_bindings = 4,
                      .groups = { 1, 1, 1 }, .label = "coopmat_probe_wg" };
  return ss_gpu_dispatch (dev, &d, error) && ss_tensor_to_floats (o, out, error);
}

typedef struct {
  gboolean ok;
  char why[160];
} Cm2Layout;

/* Whether the workgroup-scope attention kernels can run with nt invocations
 * on dtype (fp16, or bf16 for the kernels rewritten to it): the device has
 * workgroup-scope matrices of that element type for that workgroup size and
 * their conversions, and its layout (probed once per device and variant, on
 * the fp32 accumulator, the same for both:
 * coopmat_probe_wg's, S rows x s_cols and O rows x o_cols; "w8": 256,
 * 128 x 64 and 128 x 128; "q64w4": 128, 64 x 32 and 64 x 128; "k64w8": 256,
 * 64 x 64 and 64 x 64) is the one they assume. */
static gboolean
cm2_usable (SsGpuDevice *dev, SsDType dtype, const char *variant, guint nt, guint rows, guint s_cols, guint o_cols)
{
  const SsGpuCaps *caps = ss_gpu_device_get_caps (dev);
  guint32 sizes = dtype == SS_DTYPE_F16 ? caps->coopmat_wg_sizes
                : dtype == SS_DTYPE_BF16 && caps->bf16_arith ? caps->coopmat_wg_bf16_sizes : 0;
  if (!ss_gpu_device_use_coopmat_wg (dev) || !caps->coopmat_conversions || !(sizes & (1u << (nt / 32))))
    return FALSE;
  static GMutex lock;
  g_autoptr (GMutexLocker) locker G_GNUC_UNUSED = g_mutex_locker_new (&lock);
  g_autofree char *key = g_strdup_printf ("attention-cm2-layout-%s", variant);
  Cm2Layout *cl = ss_gpu_device_get_data (dev, key);
  if (cl)
    return cl->ok;
  cl = g_new0 (Cm2Layout, 1);
  g_autofree float *out = g_new (float, SS_ATTENTION_CM2_PROBE_FLOATS);
  GError *error = NULL;
  if (ss_attention_cm2_probe (dev, variant, out, &error))
    cl->ok = ss_attention_cm2_layout_check (out, nt, rows, s_cols, o_cols, cl->why, sizeof cl->why);
  if (error)
    {
      g_snprintf (cl->why, sizeof cl->why, "%s", error->message);
      g_clear_error (&error);
    }
  if (!cl->ok)
    g_message ("workgroup-scope attention (%s) is off on this GPU: %s", variant, cl->why);
  ss_gpu_device_set_data (dev, key, cl, g_free);
  return cl->ok;
}

/* The row kernels' forms with 4 invocations per row or key (attention_row.glsl)
 * where subgroups can shuffle (SOUNDSTAGE_ATTN_ROWS4=0: the one-lane forms) */
static gboolean
rows4_enabled (SsGpuDevice *dev)
{
  const SsGpuCaps *caps = ss_gpu_device_get_caps (dev);
  return caps->subgroup_shuffle && caps->subgroup_size >= 4 && ss_env_flag ("SOUNDSTAGE_ATTN_ROWS4", TRUE);
}

/* The register-blocked kernels (attention_fwd_reg, attention_bwd_reg): 8
 * neighbouring invocations of a subgroup shuffle, 32 KiB of shared memory */
static gboolean
reg_usable (SsGpuDevice *dev)
{
  const SsGpuCaps *caps = ss_gpu_device_get_caps (dev);
  return caps->subgroup_shuffle && caps->subgroup_size >= 8 && caps->shared_memory >= 32768;
}

typedef struct {
  gboolean causal;
  float scale;
  gint64 mbs, mhs;
} AttnData;

static gboolean
check_inputs (SsTensor *q, SsTensor *k, SsTensor *v, SsTensor *mask, gint64 *mbs, gint64 *mhs, GError **error)
{
  gboolean ok = q->ndim == 4 && k->ndim == 4 && v->ndim == 4 &&
    q->dtype == k->dtype && k->dtype == v->dtype &&
    k->shape[0] == q->shape[0] && v->shape[0] == q->shape[0] &&
    k->shape[1] == q->shape[1] && v->shape[1] == q->shape[1] &&
    k->shape[3] == q->shape[3] && v->shape[2] == k->shape[2] &&
    q->shape[3] >= 1 && q->shape[3] <= 128 && v->shape[3] >= 1 && v->shape[3] <= 128;
  gint64 B = q->shape[0], H = q->shape[1], Lq = q->shape[2], Lk = k->shape[2];
  *mbs = *mhs = 0;
  if (ok && mask)
    {
      ok = mask->dtype == q->dtype;
      if (ok && mask->ndim == 2)
        ok = mask->shape[0] == Lq && mask->shape[1] == Lk;
      else if (ok && mask->ndim == 4)
        {
          ok = (mask->shape[0] == 1 || mask->shape[0] == B) && (mask->shape[1] == 1 || mask->shape[1] == H) &&
               mask->shape[2] == Lq && mask->shape[3] == Lk;
          *mhs = mask->shape[1] == 1 ? 0 : Lq * Lk;
          *mbs = mask->shape[0] == 1 ? 0 : mask->shape[1] * Lq * Lk;
        }
      else
        ok = FALSE;
    }
  if (!ok)
    {
      g_autofree char *a = ss_tensor_describe (q);
      g_autofree char *b = ss_tensor_describe (k);
      g_autofree char *c = ss_tensor_describe (v);
      g_autofree char *d = mask ? ss_tensor_describe (mask) : g_strdup ("none");
      g_set_error (error, SS_ERROR, SS_ERROR_INVALID_DATA,
                   "attention: q %s, k %s, v %s, mask %s do not fit (q [B,H,Lq,D], k [B,H,Lk,D], "
                   "v [B,H,Lk,Dv], D and Dv <= 128, one dtype)", a, b, c, d);
    }
  return ok;
}

/* The masked workgroup-scope kernels read the mask (contiguous, mc) in
 * 16-byte units: its first element, planes and rows must start at multiples
 * of 8 elements. Where they do not (Lk not a multiple of 8, or an offset
 * view), a copy whose rows are padded with zeros to a multiple of 8: 8
 * element loads per unit in the kernels were 1.3x (forward) to 1.7x
 * (backward) slower than the 16-byte ones on the H100 (call eng147), a
 * copy costs one pass over the mask. Sets p's mask fields. */
static SsTensor *
cm2_mask_tensor (SsTensor *mc, gint64 Lk, gint64 mbs, gint64 mhs, AttnPush *p, GError **error)
{
  p->m_off = mc->offset;
  p->m_rs = Lk;
  if (Lk % 8 == 0 && mc->offset % 8 == 0)
    return ss_tensor_ref (mc);   /* planes are multiples of rows */
  SS_NO_GRAD_SCOPE;
  gint64 lk8 = (Lk + 7) / 8 * 8, rows = ss_tensor_numel (mc) / Lk;
  g_autoptr (SsTensor) pad = ss_tensor_zeros (mc->dtype, 2, SS_SHAPE (rows, lk8), error);
  g_autoptr (SsTensor) flat = pad ? ss_tensor_reshape (mc, 2, SS_SHAPE (rows, Lk), error) : NULL;
  g_autoptr (SsTensor) view = flat ? ss_tensor_slice (pad, 1, 0, Lk, error) : NULL;
  if (!view || !ss_tensor_copy_into (view, flat, error))
    return NULL;
  p->m_off = pad->offset;
  p->m_rs = lk8;
  p->m_bs = mbs / Lk * lk8;
  p->m_hs = mhs / Lk * lk8;
  return g_steal_pointer (&pad);
}

/* The backward's kernel choice, the same for both halves */
typedef struct {
  SsDType dtype;
  gint64 D;
  const FlashLayout *fl;   /* the fp16 subgroup tensor-core kernels (attention_bwd_coop) */
  gboolean cm2;            /* attention_bwd_cm2 (fp16, or its bf16 form) */
  gboolean cm2_mask;       /* ... its masked form (fp16, or its bf16 form) */
  gboolean reg, reg64;     /* attention_bwd_reg, head sizes up to 64 */
  guint32 reg_vec;         /* its VEC specialization constant */
} BwdKernel;

/* Sets d's shader (in name), grid x and specialization constants for half
 * ("dkv" over L = Lk keys, "dq" over L = Lq queries) */
static void
bwd_kernel (const BwdKernel *bk, const char *half, gint64 L, SsGpuDispatch *d, char *name, gsize size)
{
  d->groups[0] = (L + 15) / 16;
  d->groups[1] = d->groups[2] = 1;
  if (bk->cm2)
    {
      g_snprintf (name, size, "attention_bwd_cm2%s.%s64%s", bk->dtype == SS_DTYPE_BF16 ? "_bf16" : "", half,
                  bk->cm2_mask ? "m" : "");
      /* SOUNDSTAGE_ATTN_BWD_CM2_X=conv: the driver's conversions (comparisons) */
      if (g_strcmp0 (ss_env_value ("SOUNDSTAGE_ATTN_BWD_CM2_X"), "conv") == 0 && bk->dtype != SS_DTYPE_BF16 &&
          !bk->cm2_mask)
        g_strlcat (name, "conv", size);
      d->groups[0] = (L + 63) / 64;
    }
  else if (bk->reg)
    {
      g_snprintf (name, size, "attention_bwd_reg.%s%d_%s", half, bk->reg64 ? 64 : 128, ss_dtype_name (bk->dtype));
      d->groups[0] = bk->reg64 ? (L + 31) / 32 : (L + 15) / 16;
      d->spec = &bk->reg_vec;
      d->n_spec = 1;
    }
  else if (bk->fl)
    {
      g_snprintf (name, size, "attention_bwd_coop.%s%d", half, (int) bk->D);
      d->groups[0] = (L + 63) / 64;
      d->spec = bk->fl->spec;
      d->n_spec = 2;
    }
  else
    {
      g_autofree char *base = g_strdup_printf ("attention_bwd_%s", half);
      ss_tensor_shader (base, bk->dtype, name, size);
    }
}

static gboolean
attention_backward (SsAutogradNode *node, SsTensor *g, SsTensor **gi, GError **error)
{
  AttnData *ad = ss_autograd_node_get_data (node);
  SsTensor *q = ss_autograd_node_input (node, 0);
  SsTensor *k = ss_autograd_node_input (node, 1);
  SsTensor *v = ss_autograd_node_input (node, 2);
  SsTensor *mask = ss_autograd_node_input (node, 3);
  SsTensor *out = ss_autograd_node_saved (node, 0);
  SsTensor *lse = ss_autograd_node_saved (node, 1);
  gint64 B = q->shape[0], H = q->shape[1], Lq = q->shape[2], D = q->shape[3];
  gint64 Lk = k->shape[2], Dv = v->shape[3];
  gint64 BH = B * H;
  g_autoptr (SsTensor) qc = ss_tensor_contiguous (q, error);
  g_autoptr (SsTensor) kc = qc ? ss_tensor_contiguous (k, error) : NULL;
  g_autoptr (SsTensor) vc = kc ? ss_tensor_contiguous (v, error) : NULL;
  g_autoptr (SsTensor) mc = (vc && mask) ? ss_tensor_contiguous (mask, error) : NULL;
  g_autoptr (SsTensor) gc = vc ? ss_tensor_contiguous (g, error) : NULL;
  if (!gc || (mask && !mc))
    return FALSE;
  SsTensor *mt = mc ? mc : qc;
  char name[64];
  /* tensor-core kernels (attention_bwd_coop.comp): fp16, head size 64 or 128,
   * on GPUs whose accumulator layout the probe confirmed;
   * SOUNDSTAGE_ATTN_BWD_COOP=0 turns them off */
  const FlashLayout *fl = NULL;
  if (q->dtype == SS_DTYPE_F16 && D == Dv && (D == 64 || D == 128) &&
      ss_gpu_device_use_coopmat (q->device) && ss_gpu_device_has_shader (q->device, "attention_bwd_coop.dq64") &&
      ss_gpu_device_has_shader (q->device, "coopmat_probe.f32") &&
      qc->offset % 8 == 0 && kc->offset % 8 == 0 && vc->offset % 8 == 0 && gc->offset % 8 == 0 &&
      ss_env_flag ("SOUNDSTAGE_ATTN_BWD_COOP", TRUE))
    {
      fl = flash_layout (q->device);
      if (!fl->ok)
        fl = NULL;
    }
  AttnPush p = {
    .Lq = Lq, .Lk = Lk, .D = D, .Dv = Dv, .H = H,
    .flags = (mc ? 1u : 0u) | (ad->causal ? 2u : 0u),
    .q_off = qc->offset, .k_off = kc->offset, .v_off = vc->offset, .o_off = out->offset,
    .m_off = mt->offset, .m_bs = ad->mbs, .m_hs = ad->mhs,
    .l_off = lse->offset, .do_off = gc->offset, .g_off = lse->offset + BH * Lq,
    .scale = ad->scale, .m_rs = Lk,
  };
  /* dsum = rowsum(dO * O) into the second half of the lse tensor */
  {
    AttnPush pp = p;
    pp.H = BH * Lq;
    pp.l_off = p.g_off;
    SsGpuBinding b[3] = { ss_tensor_binding (out, SS_GPU_READ), ss_tensor_binding (gc, SS_GPU_READ),
                          ss_tensor_binding (lse, SS_GPU_WRITE) };
    SsGpuDispatch d = { .shader = ss_tensor_shader ("attention_bwd_pre", q->dtype, name, sizeof name),
                        .bindings = b, .n_bindings = 3, .push = &pp, .push_size = sizeof pp };
    ss_gpu_groups_1d (q->device, (BH * Lq + 7) / 8, d.groups);   /* 8 rows per group */
    if (!ss_gpu_dispatch (q->device, &d, error))
      return FALSE;
  }
  /* head size 64 without causality: dK, dV and dQ on workgroup-scope
   * matrices where the device has them and their layout is the one the
   * kernels assume (SOUNDSTAGE_ATTN_BWD_CM2=0: off); with an additive mask
   * (fp16 or bf16), their masked form (SOUNDSTAGE_ATTN_CM2_MASK=0: off, as
   * the forward's) */
  /* bf16 takes the same kernels rewritten to bf16 (its offsets checked as
   * the fp16 ones are for fl) */
  gboolean bf16_ok = q->dtype == SS_DTYPE_BF16 && Dv == 64 && ss_gpu_has_shader ("attention_bwd_cm2_bf16.dq64") &&
                     qc->offset % 8 == 0 && kc->offset % 8 == 0 && vc->offset % 8 == 0 && gc->offset % 8 == 0;
  gboolean cm2_mask = mc && ss_env_flag ("SOUNDSTAGE_ATTN_CM2_MASK", TRUE) &&
                      ((fl && q->dtype == SS_DTYPE_F16 && ss_gpu_has_shader ("attention_bwd_cm2.dq64m")) ||
                       (bf16_ok && ss_gpu_has_shader ("attention_bwd_cm2_bf16.dq64m")));
  BwdKernel bk = {
    .dtype = q->dtype, .D = D, .fl = fl, .cm2_mask = cm2_mask,
    .cm2 = (fl || bf16_ok) && D == 64 && (!mc || cm2_mask) && !ad->causal &&
           ss_env_flag ("SOUNDSTAGE_ATTN_BWD_CM2", TRUE) &&
           cm2_usable (q->device, q->dtype, "k64w8", 256, 64, 64, 64),
    .reg64 = D <= 64 && Dv <= 64,
    .reg_vec = D % 4 == 0 && Dv % 4 == 0 && qc->offset % 4 == 0 && kc->offset % 4 == 0 &&
               vc->offset % 4 == 0 && gc->offset % 4 == 0,
  };
  g_autoptr (SsTensor) mpad = NULL;
  if (bk.cm2 && cm2_mask)
    {
      mpad = cm2_mask_tensor (mc, Lk, ad->mbs, ad->mhs, &p, error);
      if (!mpad)
        return FALSE;
      mt = mpad;
    }
  /* without tensor cores: the register-blocked kernels (attention_bwd_reg,
   * SOUNDSTAGE_ATTN_BWD_REG=0: the simple ones) */
  bk.reg = !fl && !bk.cm2 && reg_usable (q->device) && ss_env_flag ("SOUNDSTAGE_ATTN_BWD_REG", TRUE);
  if (ss_autograd_node_needs_input_grad (node, 1) || ss_autograd_node_needs_input_grad (node, 2))
    {
      SsTensor *dk = ss_tensor_new (k->dtype, 4, k->shape, error);
      if (!dk)
        return FALSE;
      gi[1] = dk;
      SsTensor *dv = ss_tensor_new (v->dtype, 4, v->shape, error);
      if (!dv)
        return FALSE;
      gi[2] = dv;
      SsGpuBinding b[8] = {
        ss_tensor_binding (qc, SS_GPU_READ), ss_tensor_binding (kc, SS_GPU_READ),
        ss_tensor_binding (vc, SS_GPU_READ), ss_tensor_binding (mt, SS_GPU_READ),
        ss_tensor_binding (gc, SS_GPU_READ), ss_tensor_binding (lse, SS_GPU_READ),
        ss_tensor_binding (dk, SS_GPU_WRITE), ss_tensor_binding (dv, SS_GPU_WRITE),
      };
      SsGpuDispatch d = { .shader = name, .bindings = b, .n_bindings = 8, .push = &p, .push_size = sizeof p };
      bwd_kernel (&bk, "dkv", Lk, &d, name, sizeof name);
      if (!dispatch_bh_slices (q->device, &d, &p, BH, error))
        return FALSE;
    }
  if (ss_autograd_node_needs_input_grad (node, 0))
    {
      SsTensor *dq = ss_tensor_new (q->dtype, 4, q->shape, error);
      if (!dq)
        return FALSE;
      gi[0] = dq;
      SsGpuBinding b[7] = {
        ss_tensor_binding (qc, SS_GPU_READ), ss_tensor_binding (kc, SS_GPU_READ),
        ss_tensor_binding (vc, SS_GPU_READ), ss_tensor_binding (mt, SS_GPU_READ),
        ss_tensor_binding (gc, SS_GPU_READ), ss_tensor_binding (lse, SS_GPU_READ),
        ss_tensor_binding (dq, SS_GPU_WRITE),
      };
      SsGpuDispatch d = { .shader = name, .bindings = b, .n_bindings = 7, .push = &p, .push_size = sizeof p };
      bwd_kernel (&bk, "dq", Lq, &d, name, sizeof name);
      if (!dispatch_bh_slices (q->device, &d, &p, BH, error))
        return FALSE;
    }
  return TRUE;
}

SsTensor *
ss_op_attention (SsTensor *q, SsTensor *k, SsTensor *v, SsTensor *mask,
                 gboolean causal, float scale, GError **error)
{
  g_return_val_if_fail (q && k && v, NULL);
  gint64 mbs, mhs;
  if (!check_inputs (q, k, v, mask, &mbs, &mhs, error))
    return NULL;
  gint64 B = q->shape[0], H = q->shape[1], Lq = q->shape[2], D = q->shape[3];
  gint64 Lk = k->shape[2], Dv = v->shape[3];
  gint64 BH = B * H;
  if (scale <= 0.0f)
    scale = 1.0f / sqrtf ((float) D);
  g_autoptr (SsTensor) qc = NULL, kc = NULL, vc = NULL, mc = NULL;
  {
    SS_NO_GRAD_SCOPE;
    qc = ss_tensor_contiguous (q, error);
    kc = qc ? ss_tensor_contiguous (k, error) : NULL;
    vc = kc ? ss_tensor_contiguous (v, error) : NULL;
    mc = (vc && mask) ? ss_tensor_contiguous (mask, error) : NULL;
  }
  if (!vc || (mask && !mc))
    return NULL;
  SsTensor *out = ss_tensor_new (q->dtype, 4, SS_SHAPE (B, H, Lq, Dv), error);
  if (!out)
    return NULL;
  /* lse [BH*Lq] followed by room for backward's row sums */
  g_autoptr (SsTensor) lse = ss_tensor_new (SS_DTYPE_F32, 1, SS_SHAPE (2 * BH * Lq), error);
  if (!lse)
    {
      ss_tensor_unref (out);
      return NULL;
    }
  SsTensor *mt = mc ? mc : qc;
  AttnPush p = {
    .Lq = Lq, .Lk = Lk, .D = D, .Dv = Dv, .H = H,
    .flags = (mc ? 1u : 0u) | (causal ? 2u : 0u),
    .q_off = qc->offset, .k_off = kc->offset, .v_off = vc->offset, .o_off = out->offset,
    .m_off = mt->offset, .m_bs = mbs, .m_hs = mhs, .l_off = lse->offset,
    .scale = scale, .m_rs = Lk,
  };
  /* the tensor-core kernel: fp16, head size 64 or 128, any lengths (ragged last
   * blocks are handled in the kernel); SOUNDSTAGE_ATTN_COOP=0 turns it off */
  gboolean coop = q->dtype == SS_DTYPE_F16 && ss_gpu_device_use_coopmat (q->device) &&
                  D == Dv && (D == 64 || D == 128) &&
                  qc->offset % 8 == 0 && kc->offset % 8 == 0 && vc->offset % 8 == 0 &&
                  out->offset % 8 == 0 && ss_env_flag ("SOUNDSTAGE_ATTN_COOP", TRUE);
  /* Kernel choice. One thread per query row for short key sequences, where the
   * tiled kernels spend their time on barriers and padding; a few query rows over
   * many keys (a CLS query over a whole clip) with the keys of each row split
   * among a workgroup. SOUNDSTAGE_ATTN_ROWS=0 / SOUNDSTAGE_ATTN_SPLIT=0 turn
   * those off; the tensor-core kernel uses two lanes per row with rotated columns
   * (about 2x faster on the H100) unless SOUNDSTAGE_ATTN_ROT=0. */
  AttnKernel kernel = coop ? ATTN_COOP : ATTN_TILED;
  const SsGpuCaps *caps = ss_gpu_device_get_caps (q->device);
  /* the one-pass kernel where the accumulator layout allows (SOUNDSTAGE_ATTN_FLASH=0: off) */
  const FlashLayout *fl = NULL;
  if (coop && ss_env_flag ("SOUNDSTAGE_ATTN_FLASH", TRUE) &&
      ss_gpu_device_has_shader (q->device, "coopmat_probe.f32"))
    {
      fl = flash_layout (q->device);
      if (fl->ok && ss_gpu_device_has_shader (q->device, "attention_fwd_flash.d64"))
        kernel = ATTN_FLASH;
    }
  /* without tensor cores, and without the one-pass kernel (a GPU with KHR
   * matrices but not the NV accumulator layout or coopmat2's conversions: AMD
   * RDNA3), the register-blocked kernel where 8 neighbouring invocations can
   * shuffle and a workgroup has 32 KiB of shared memory. It beats the
   * two-pass tensor-core kernel too: on the H100 17.0 / 10.6 TFLOP/s at head
   * size 64 / 128 (L1024) against 14.4 / 9.4 for that kernel's KHR module and
   * 3.4 / 8.6 for its NV one (eng161, eng163). SOUNDSTAGE_ATTN_REG=0: the
   * simple tiled or the two-pass kernel. */
  if ((kernel == ATTN_TILED || kernel == ATTN_COOP) && reg_usable (q->device) &&
      ss_env_flag ("SOUNDSTAGE_ATTN_REG", TRUE))
    kernel = ATTN_REG;
  /* head size 64 without mask (causal or not: separate variants) on
   * workgroup-scope matrices, where the device has them and their layout is
   * the one the kernel assumes (SOUNDSTAGE_ATTN_CM2=0: off). Head size 128
   * (not causal) on 64-row blocks of 4 warps only with SOUNDSTAGE_ATTN_CM2_D128=1:
   * Q and the K and V blocks of 128-row blocks do not fit the shared memory,
   * and 64-row blocks (with 32 keys) ran at 108-110 TFLOP/s on the H100
   * against 133 for the subgroup kernel; 118-127 with P through shared
   * memory (ninth session) against 120-132; =2: 128-row blocks of 8 warps
   * with Q staged alone (d128w8): 91-135 against 95-134, equal
   * (docs/PERFORMANCE-engine.md) */
  /* 1: 64-row blocks of 4 warps; 2: 128-row blocks of 8 (d128w8) */
  const char *d128 = ss_env_value ("SOUNDSTAGE_ATTN_CM2_D128");
  int cm2_d128_env = g_strcmp0 (d128, "1") == 0 ? 1 : g_strcmp0 (d128, "2") == 0 ? 2 : 0;
  /* an additive mask: head size 64, not causal (the d64m variants, fp16 and
   * bf16; SOUNDSTAGE_ATTN_CM2_MASK=0: off) */
  gboolean cm2_mask = mc && D == 64 && !causal && ss_env_flag ("SOUNDSTAGE_ATTN_CM2_MASK", TRUE) &&
                      ss_gpu_has_shader (q->dtype == SS_DTYPE_BF16 ? "attention_fwd_cm2_bf16.d64m"
                                                                   : "attention_fwd_cm2.d64m");
  if (kernel == ATTN_FLASH && (!mc || cm2_mask) && (!causal || D == 64) && (D == 64 || cm2_d128_env) &&
      ss_env_flag ("SOUNDSTAGE_ATTN_CM2", TRUE) &&
      (D == 64 ? cm2_usable (q->device, q->dtype, "w8", 256, 128, 64, 128)
               : cm2_d128_env == 2 ? cm2_usable (q->device, q->dtype, "q128w8", 256, 128, 32, 128)
                                   : cm2_usable (q->device, q->dtype, "q64w4", 128, 64, 32, 128)))
    kernel = ATTN_CM2;
  /* bf16, head size 64 (with a mask: not causal): the same kernel on bf16
   * matrices where the device has bf16 workgroup-scope matrices for 256
   * invocations (the probe of the fp32 accumulator's layout is the fp16
   * kernel's) */
  gboolean cm2_bf16 = FALSE;
  if (q->dtype == SS_DTYPE_BF16 && (!mc || cm2_mask) && D == 64 && Dv == 64 && ss_gpu_has_shader ("attention_fwd_cm2_bf16.d64") &&
      qc->offset % 8 == 0 && kc->offset % 8 == 0 && vc->offset % 8 == 0 && out->offset % 8 == 0 &&
      ss_env_flag ("SOUNDSTAGE_ATTN_CM2", TRUE) && cm2_usable (q->device, q->dtype, "w8", 256, 128, 64, 128))
    {
      kernel = ATTN_CM2;
      cm2_bf16 = TRUE;
    }
  gboolean in_registers = D <= 128 && Dv <= 128;
  /* (the rows kernel beats the simple tiled one up to 256 keys, and so it
   * does the register-blocked one on lavapipe: 74 keys 9.4 against 15.4 ms, 197
   * on par; on the H100 only up to 64 keys: fp32, 74 keys 4.7 against 5.2
   * TFLOP/s, 197 keys 8.2 against 10.9, 256 8.1 against 15.5) */
  if (in_registers && (Lk <= 64 || ((kernel == ATTN_TILED || caps->is_cpu) && Lk <= 256)) &&
      ss_env_flag ("SOUNDSTAGE_ATTN_ROWS", TRUE))
    kernel = ATTN_ROWS;
  else if (in_registers && Lq <= 16 && Lk >= 128 && ss_env_flag ("SOUNDSTAGE_ATTN_SPLIT", TRUE))
    kernel = ATTN_SPLIT;
  int rd = MAX (D, Dv) <= 32 ? 32 : MAX (D, Dv) <= 64 ? 64 : 128;
  static const char *const labels[] = {
    [ATTN_TILED] = "attention_fwd", [ATTN_COOP] = "attention_fwd_coopmat", [ATTN_FLASH] = "attention_fwd_flash",
    [ATTN_ROWS] = "attention_fwd_rows", [ATTN_SPLIT] = "attention_fwd_split", [ATTN_CM2] = "attention_fwd_cm2",
    [ATTN_REG] = "attention_fwd_reg",
  };
  char name[64];
  guint32 reg_vec = 0;
  SsGpuDispatch d = { .shader = name, .push = &p, .push_size = sizeof p, .label = labels[kernel],
                      .groups = { 1, 1, 1 } };
  switch (kernel)
    {
    case ATTN_TILED:
      ss_tensor_shader ("attention_fwd", q->dtype, name, sizeof name);
      d.groups[0] = (Lq + 15) / 16;
      break;
    case ATTN_REG:
      {
        /* 64 query rows per workgroup for head sizes up to 64, 32 up to 128;
         * 4-element loads where sizes and offsets allow */
        gboolean d64 = D <= 64 && Dv <= 64;
        g_snprintf (name, sizeof name, "attention_fwd_reg.d%d_%s", d64 ? 64 : 128, ss_dtype_name (q->dtype));
        d.groups[0] = (Lq + (d64 ? 63 : 31)) / (d64 ? 64 : 32);
        reg_vec = D % 4 == 0 && Dv % 4 == 0 && qc->offset % 4 == 0 && kc->offset % 4 == 0 && vc->offset % 4 == 0;
        d.spec = &reg_vec;
        d.n_spec = 1;
      }
      break;
    case ATTN_COOP:
      g_snprintf (name, sizeof name, "attention_fwd_coopmat.d%d%s", (int) D,
                  ss_env_flag ("SOUNDSTAGE_ATTN_ROT", TRUE) ? "r" : "");
      d.groups[0] = (Lq + 63) / 64;   /* the last block may be ragged */
      break;
    case ATTN_FLASH:
      {
        /* 8 warps (128 query rows) per workgroup for head size 128, 4 for 64:
         * the fastest on the H100 (D128 at L 8192: 134 against 89 TFLOP/s; D64
         * on par, 4 faster for short sequences); SOUNDSTAGE_ATTN_W8=0/1 forces */
        int w8_env = ss_env_choice ("SOUNDSTAGE_ATTN_W8");
        gboolean w8 = w8_env >= 0 ? w8_env : D == 128;
        int rows = w8 ? 128 : 64;
        g_snprintf (name, sizeof name, "attention_fwd_flash.d%d%s", (int) D, w8 ? "w8" : "");
        d.groups[0] = (Lq + rows - 1) / rows;
        d.spec = fl->spec;
        d.n_spec = 2;
      }
      break;
    case ATTN_CM2:
      g_snprintf (name, sizeof name, "attention_fwd_cm2%s.d%d%s", cm2_bf16 ? "_bf16" : "", (int) D,
                  causal ? "c" : mc ? "m" : D == 128 && cm2_d128_env == 2 ? "w8" : "");
      /* SOUNDSTAGE_ATTN_CM2_X=<x>: the variant d<D><x> for comparisons (conv: P converted by the driver) */
      if (!cm2_bf16 && !causal && !mc && ss_env_value ("SOUNDSTAGE_ATTN_CM2_X"))
        {
          char alt[64];
          g_snprintf (alt, sizeof alt, "attention_fwd_cm2.d%d%s", (int) D, ss_env_value ("SOUNDSTAGE_ATTN_CM2_X"));
          if (ss_gpu_has_shader (alt))
            g_strlcpy (name, alt, sizeof name);
        }
      d.groups[0] = D == 64 || cm2_d128_env == 2 ? (Lq + 127) / 128 : (Lq + 63) / 64;
      break;
    case ATTN_ROWS:
    case ATTN_SPLIT:
      {
        /* 4 invocations per row (rows) or per key (split, 128 per row) */
        gboolean l4 = rows4_enabled (q->device);
        g_snprintf (name, sizeof name, "%s.%sd%d_%s", labels[kernel], l4 ? "l4_" : "", rd,
                    ss_dtype_name (q->dtype));
        /* a thread (or 4) per row, 64 threads per workgroup, or a workgroup per row */
        guint64 threads = (guint64) BH * Lq * (l4 ? 4 : 1);
        ss_gpu_groups_1d (q->device, kernel == ATTN_ROWS ? (threads + 63) / 64 : (guint64) (BH * Lq), d.groups);
      }
      break;
    }
  g_autoptr (SsTensor) mpad = NULL;
  if (kernel == ATTN_CM2 && mc)
    {
      mpad = cm2_mask_tensor (mc, Lk, mbs, mhs, &p, error);
      if (!mpad)
        {
          ss_tensor_unref (out);
          return NULL;
        }
      mt = mpad;
    }
  p.BH = (guint32) BH;
  SsGpuBinding b[6] = {
    ss_tensor_binding (qc, SS_GPU_READ), ss_tensor_binding (kc, SS_GPU_READ),
    ss_tensor_binding (vc, SS_GPU_READ), ss_tensor_binding (mt, SS_GPU_READ),
    ss_tensor_binding (out, SS_GPU_WRITE), ss_tensor_binding (lse, SS_GPU_WRITE),
  };
  d.bindings = b;
  d.n_bindings = 6;
  /* the tiled kernels take batch*heads from the y grid, in slices */
  if (kernel == ATTN_ROWS || kernel == ATTN_SPLIT ? !ss_gpu_dispatch (q->device, &d, error)
                                                  : !dispatch_bh_slices (q->device, &d, &p, BH, error))
    {
      ss_tensor_unref (out);
      return NULL;
    }
  SsTensor *ins[4] = { q, k, v, mask };
  if (ss_autograd_needs_grad (3, ins))
    {
      SsAutogradNode *node = ss_autograd_node_new ("attention", attention_backward, 4, ins);
      AttnData *ad = g_new (AttnData, 1);
      ad->causal = causal;
      ad->scale = scale;
      ad->mbs = mbs;
      ad->mhs = mhs;
      ss_autograd_node_set_data (node, ad, g_free);
      g_autoptr (SsTensor) od = ss_tensor_detach (out);
      ss_autograd_node_save (node, od);
      ss_autograd_node_save (node, lse);
      ss_autograd_attach (out, node);
    }
  return out;
}

typedef struct {
  guint32 B, N, F, Pn;
  guint32 H, dh, D, time_mode;
  guint32 qkv_off, o_off;
  float scale;
} DividedPush;

/* the kernel for the space half's patch rows: attention_fwd_cm2's div64 form
 * on workgroup-scope matrices (fp16/bf16, head size 64), else on GPUs the
 * register-blocked attention_fwd_reg's (head sizes up to 64; lavapipe keeps
 * the row kernel, faster there, unless SOUNDSTAGE_DIVIDED_REG=1); NULL: the
 * row kernel. *cm2 tells which. SOUNDSTAGE_DIVIDED_CM2=0: not the cm2 form. */
static const char *
divided_space_kernel (SsTensor *qkv, int heads, gboolean *cm2, char *name, gsize size)
{
  int reg_env = ss_env_choice ("SOUNDSTAGE_DIVIDED_REG");
  gint64 D = qkv->ndim == 3 ? qkv->shape[2] / 3 : 0;
  *cm2 = FALSE;
  if (heads <= 0 || D == 0 || D % heads || D / heads > 64)
    return NULL;
  if (D / heads == 64 && D % 8 == 0 && qkv->offset % 8 == 0 && ss_env_flag ("SOUNDSTAGE_ATTN_CM2", TRUE) &&
      ss_env_flag ("SOUNDSTAGE_DIVIDED_CM2", TRUE))
    {
      g_snprintf (name, size, "attention_fwd_cm2%s.div64", qkv->dtype == SS_DTYPE_BF16 ? "_bf16" : "");
      *cm2 = (qkv->dtype == SS_DTYPE_F16 || qkv->dtype == SS_DTYPE_BF16) && ss_gpu_has_shader (name) &&
             cm2_usable (qkv->device, qkv->dtype, "w8", 256, 128, 64, 128);
      if (*cm2)
        return name;
    }
  if (reg_env != 0 && (!ss_gpu_device_get_caps (qkv->device)->is_cpu || reg_env == 1) && reg_usable (qkv->device))
    {
      g_snprintf (name, size, "attention_fwd_reg.div64_%s", ss_dtype_name (qkv->dtype));
      return name;
    }
  return NULL;
}

gboolean
ss_op_divided_attention_space_fast (SsTensor *qkv, int heads)
{
  g_return_val_if_fail (qkv != NULL, FALSE);
  gboolean cm2;
  char name[64];
  return divided_space_kernel (qkv, heads, &cm2, name, sizeof name) != NULL;
}

SsTensor *
ss_op_divided_attention (SsTensor *qkv, int heads, int frames, gboolean time_mode, GError **error)
{
  g_return_val_if_fail (qkv != NULL && heads > 0 && frames > 0, NULL);
  gint64 B = qkv->ndim == 3 ? qkv->shape[0] : 0, N = qkv->ndim == 3 ? qkv->shape[1] : 0;
  gint64 D = qkv->ndim == 3 ? qkv->shape[2] / 3 : 0, dh = D / heads;
  if (qkv->ndim != 3 || qkv->shape[2] != 3 * D || D % heads || dh > 128 || N < 2 || (N - 1) % frames)
    {
      g_autofree char *d = ss_tensor_describe (qkv);
      g_set_error (error, SS_ERROR, SS_ERROR_INVALID_DATA,
                   "divided attention: qkv %s does not hold 1 + %d frames of patches for %d heads of at most 128",
                   d, frames, heads);
      return NULL;
    }
  if (ss_autograd_needs_grad (1, &qkv))
    {
      g_set_error (error, SS_ERROR, SS_ERROR_UNSUPPORTED,
                   "divided attention: the fused kernel is for inference (no gradient)");
      return NULL;
    }
  g_autoptr (SsTensor) xc = ss_tensor_contiguous (qkv, error);
  if (!xc)
    return NULL;
  SsTensor *out = ss_tensor_new (qkv->dtype, 3, SS_SHAPE (B, N, D), error);
  if (!out)
    return NULL;
  DividedPush p = {
    .B = B, .N = N, .F = frames, .Pn = (N - 1) / frames, .H = heads, .dh = dh, .D = D,
    .time_mode = time_mode ? 1u : 0u, .qkv_off = xc->offset, .o_off = out->offset,
    .scale = 1.0f / sqrtf ((float) dh),
  };
  int rd = dh <= 32 ? 32 : dh <= 64 ? 64 : 128;
  gboolean l4 = rows4_enabled (qkv->device);
  SsGpuBinding b[2] = { ss_tensor_binding (xc, SS_GPU_READ), ss_tensor_binding (out, SS_GPU_WRITE) };
  /* the space half's patch rows on a blocked kernel: frame f's patches of one
   * head as the queries, the CLS key and those patches as the keys, read from
   * qkv and written to out in place (the lse binding gets out: the DIV forms
   * write none) */
  gboolean on_cm2;
  char kname[64];
  const char *blocked = time_mode ? NULL : divided_space_kernel (xc, heads, &on_cm2, kname, sizeof kname);
  if (blocked)
    {
      /* head-size fields: the model width for the cm2 form, the head size for the register-blocked one */
      AttnPush ap = {
        .Lq = p.Pn, .Lk = p.Pn + 1, .D = on_cm2 ? D : dh, .Dv = on_cm2 ? D : dh, .H = heads,
        .q_off = xc->offset, .k_off = xc->offset + D, .v_off = xc->offset + 2 * D, .o_off = out->offset,
        .m_bs = N, .m_hs = frames, .scale = p.scale,
      };
      guint32 vec = dh % 4 == 0 && xc->offset % 4 == 0 && out->offset % 4 == 0;
      SsGpuBinding bb[6] = {
        ss_tensor_binding (xc, SS_GPU_READ), ss_tensor_binding (xc, SS_GPU_READ), ss_tensor_binding (xc, SS_GPU_READ),
        ss_tensor_binding (xc, SS_GPU_READ), ss_tensor_binding (out, SS_GPU_WRITE), ss_tensor_binding (out, SS_GPU_WRITE),
      };
      SsGpuDispatch d = { .shader = blocked, .bindings = bb, .n_bindings = 6, .push = &ap, .push_size = sizeof ap,
                          .label = on_cm2 ? "attention_fwd_cm2 (divided)" : "attention_fwd_reg (divided)",
                          .groups = { on_cm2 ? (p.Pn + 127) / 128 : (p.Pn + 63) / 64, 1, 1 },
                          .spec = on_cm2 ? NULL : &vec, .n_spec = on_cm2 ? 0 : 1 };
      if (!dispatch_bh_slices (qkv->device, &d, &ap, B * frames * heads, error))
        {
          ss_tensor_unref (out);
          return NULL;
        }
    }
  for (int cls = blocked ? 1 : 0; cls < 2; cls++)
    {
      char name[64];
      g_snprintf (name, sizeof name, "attention_divided.%s%sd%d_%s", l4 ? "l4_" : "", cls ? "cls_" : "", rd,
                  ss_dtype_name (qkv->dtype));
      SsGpuDispatch d = { .shader = name, .bindings = b, .n_bindings = 2, .push = &p, .push_size = sizeof p,
                          .label = "attention_divided" };
      guint64 rows = (guint64) B * (N - 1) * heads * (l4 ? 4 : 1);
      ss_gpu_groups_1d (qkv->device, cls ? (guint64) (B * heads) : (rows + 63) / 64, d.groups);
      if (!ss_gpu_dispatch (qkv->device, &d, error))
        {
          ss_tensor_unref (out);
          return NULL;
        }
    }
  return out;
}
