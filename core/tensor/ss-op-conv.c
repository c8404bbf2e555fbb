/* ss-op-conv.c: 1-D/2-D/3-D convolution and transposed convolution, forward
 * and backward, as im2col / col2im plus the strided GEMM, per group, in
 * chunks of samples so the column buffer stays bounded. */
#define G_LOG_DOMAIN "ss-op-conv"

#include "config.h"
#include "tensor/ss-ops.h"
#include "tensor/ss-op-matmul-private.h"
#include "ss-env.h"

#include <string.h>

typedef struct {
  gint64 in[3];     /* image spatial size (padded to 3 dims with leading 1s) */
  gint64 out[3];    /* column positions */
  int k[3], s[3], p[3], d[3];
  int groups;
  int nsp;          /* spatial dims of the tensors (1..3) */
} Geo;

typedef struct {
  guint32 N, C, img_off, col_off;
  guint32 in0, in1, in2, pad_;
  guint32 out0, out1, out2, pad2_;
  guint32 k0, k1, k2, pad3_;
  gint32 s0, s1, s2, pad4_;
  gint32 p0, p1, p2, pad5_;
  gint32 d0, d1, d2, pad6_;
} ColPush;

/* One column scratch buffer shared by all convolutions (reused across calls:
 * the stream's barriers order the reuse); conv_lock keeps one op's
 * im2col/GEMM/col2im sequence from interleaving with another thread's. */
static GRecMutex conv_lock;
static SsGpuBuffer *scratch;

static SsTensor *
scratch_col (SsTensor *like, gint64 n, GError **error)
{
  gsize bytes = MAX (n, 1) * ss_dtype_size (like->dtype);
  if (scratch && ss_gpu_buffer_get_device (scratch) != like->device)
    scratch = NULL;   /* from a device that was shut down: its memory is gone */
  if (!scratch || ss_gpu_buffer_get_size (scratch) < bytes)
    {
      g_clear_pointer (&scratch, ss_gpu_buffer_unref);
      scratch = ss_gpu_buffer_new (like->device, bytes, error);
      if (!scratch)
        return NULL;
    }
  return ss_tensor_new_with_buffer (scratch, 0, like->dtype, 1, SS_SHAPE (n), error);
}

static gint64 geo_kv (const Geo *g) { return (gint64) g->k[0] * g->k[1] * g->k[2]; }
static gint64 geo_l (const Geo *g) { return g->out[0] * g->out[1] * g->out[2]; }
static gint64 geo_s (const Geo *g) { return g->in[0] * g->in[1] * g->in[2]; }

SsConvParams
ss_conv_params_default (void)
{
  SsConvParams p = { { 1, 1, 1 }, { 0, 0, 0 }, { 1, 1, 1 }, { 0, 0, 0 }, 1 };
  return p;
}

static void
fill_push (ColPush *p, const Geo *g, gint64 n, gint64 c, gint64 img_off, gint64 col_off)
{
  memset (p, 0, sizeof *p);
  p->N = n;
  p->C = c;
  p->img_off = img_off;
  p->col_off = col_off;
  p->in0 = g->in[0]; p->in1 = g->in[1]; p->in2 = g->in[2];
  p->out0 = g->out[0]; p->out1 = g->out[1]; p->out2 = g->out[2];
  p->k0 = g->k[0]; p->k1 = g->k[1]; p->k2 = g->k[2];
  p->s0 = g->s[0]; p->s1 = g->s[1]; p->s2 = g->s[2];
  p->p0 = g->p[0]; p->p1 = g->p[1]; p->p2 = g->p[2];
  p->d0 = g->d[0]; p->d1 = g->d[1]; p->d2 = g->d[2];
}

/* col [nc, C*KV, L] <- img samples n0..n0+nc of [N, C, S] */
static gboolean
im2col (SsTensor *img, gint64 n0, gint64 nc, gint64 C, const Geo *g, SsTensor *col, GError **error)
{
  ColPush p;
  fill_push (&p, g, nc, C, img->offset + n0 * C * geo_s (g), col->offset);
  char name[64];
  SsGpuBinding b[2] = { ss_tensor_binding (img, SS_GPU_READ), ss_tensor_binding (col, SS_GPU_WRITE) };
  SsGpuDispatch d = { .shader = ss_tensor_shader ("conv_im2col", img->dtype, name, sizeof name),
                      .bindings = b, .n_bindings = 2, .push = &p, .push_size = sizeof p };
  /* whole runs of 8 at 16-byte aligned column offsets: raw bits, 16-byte stores */
  gint64 total = nc * C * geo_kv (g) * geo_l (g);
  if (total % 8 == 0 && col->offset % 8 == 0)
    d.shader = ss_dtype_size (img->dtype) == 2 ? "conv_im2col.raw16" : "conv_im2col.raw32";
  /* 8 consecutive elements per thread (conv_im2col.comp) */
  ss_gpu_groups_1d (img->device, (nc * C * geo_kv (g) * geo_l (g) + 2047) / 2048, d.groups);
  return ss_gpu_dispatch (img->device, &d, error);
}

/* img samples n0.. of [N, C, S] <- col2im (col [nc, C*KV, L]) (overwrites) */
static gboolean
col2im (SsTensor *col, gint64 n0, gint64 nc, gint64 C, const Geo *g, SsTensor *img, GError **error)
{
  ColPush p;
  fill_push (&p, g, nc, C, img->offset + n0 * C * geo_s (g), col->offset);
  char name[64];
  SsGpuBinding b[2] = { ss_tensor_binding (col, SS_GPU_READ), ss_tensor_binding (img, SS_GPU_WRITE) };
  SsGpuDispatch d = { .shader = ss_tensor_shader ("conv_col2im", img->dtype, name, sizeof name),
                      .bindings = b, .n_bindings = 2, .push = &p, .push_size = sizeof p };
  /* unit strides: the variant without divisions in the tap loops */
  if (g->s[0] == 1 && g->s[1] == 1 && g->s[2] == 1)
    g_strlcat (name, "s1", sizeof name);
  ss_gpu_groups_1d (img->device, (nc * C * geo_s (g) + 255) / 256, d.groups);
  return ss_gpu_dispatch (img->device, &d, error);
}

static gint64
chunk_samples (SsTensor *t, gint64 N, gint64 per_sample)
{
  const SsGpuCaps *caps = ss_gpu_device_get_caps (t->device);
  gint64 budget = MIN ((gint64) 64 << 20, (gint64) (caps->max_storage_buffer_range / ss_dtype_size (t->dtype)));
  gint64 c = budget / MAX (per_sample, 1);
  return CLAMP (c, 1, N);
}

static gboolean
bias_add (SsTensor *y, SsTensor *bias, gint64 outer, gint64 C, gint64 inner, GError **error)
{
  struct { guint32 n, C, inner, y_off, b_off; } p = { outer * C * inner, C, inner, y->offset, bias->offset };
  char name[64];
  SsGpuBinding b[2] = { ss_tensor_binding (y, SS_GPU_RW), ss_tensor_binding (bias, SS_GPU_READ) };
  SsGpuDispatch d = { .shader = ss_tensor_shader ("bias_add", y->dtype, name, sizeof name),
                      .bindings = b, .n_bindings = 2, .push = &p, .push_size = sizeof p };
  ss_gpu_groups_1d (y->device, (p.n + 255) / 256, d.groups);
  return ss_gpu_dispatch (y->device, &d, error);
}

/* ------------------------------------------------ implicit GEMM */

/* SOUNDSTAGE_CONV_IMPLICIT: unset or "auto": the implicit GEMM where the
 * workgroup-scope tensor-core kernel or the register-blocked kernel takes it
 * (ss_gemm_conv); 1: also through the portable 64 x 64 kernel (tests);
 * 0: never (im2col and the GEMM). */
static int
implicit_mode (void)
{
  const char *e = ss_env_value ("SOUNDSTAGE_CONV_IMPLICIT");
  return g_strcmp0 (e, "0") == 0 ? 0 : g_strcmp0 (e, "1") == 0 ? 2 : 1;
}

/* An implicit-GEMM convolution's image and geometry (unit groups): x
 * [N, Cx, in] padded by lo / hi, taps k, strides s, dilations d, output
 * positions out. */
typedef struct {
  gint64 N, Cx, in[3], lo[3], P[3], np, L, KV;
  SsGemmConv geo;
} Implicit;

/* Fills im; FALSE where the implicit GEMM is off or the sizes exceed its
 * 32-bit offsets and grids. */
static gboolean
implicit_setup (Implicit *im, SsTensor *x, gint64 N, gint64 Cx, const gint64 in[3], const int lo[3],
                const int hi[3], const int k[3], const int s[3], const int d[3], const gint64 out[3])
{
  gsize es = ss_dtype_size (x->dtype);
  if (implicit_mode () == 0 || (es != 2 && es != 4))
    return FALSE;
  memset (im, 0, sizeof *im);
  im->N = N;
  im->Cx = Cx;
  im->np = 1;
  for (int i = 0; i < 3; i++)
    {
      if (lo[i] < 0 || hi[i] < 0)
        return FALSE;
      im->in[i] = in[i];
      im->lo[i] = lo[i];
      im->P[i] = in[i] + lo[i] + hi[i];
      im->np *= im->P[i];
    }
  im->L = out[0] * out[1] * out[2];
  im->KV = (gint64) k[0] * k[1] * k[2];
  if (N > 65535 || (im->np + 31) / 32 > 65535 || (Cx + 31) / 32 > 65535 || N * im->np * Cx >= G_MAXINT32)
    return FALSE;
  gint64 P1 = im->P[1], P2 = im->P[2];
  im->geo = (SsGemmConv) {
    .C = Cx, .kx = k[2], .ky = k[1], .ox = out[2], .oy = out[1],
    .mx = s[2] * Cx, .my = s[1] * P2 * Cx, .mz = s[0] * P1 * P2 * Cx,
    .tx = d[2] * Cx, .ty = d[1] * P2 * Cx, .tz = d[0] * P1 * P2 * Cx,
    .S = 1, .Ls = 0,
  };
  return TRUE;
}

/* The image packed channels-last with its padding (conv_pack) */
static SsTensor *
implicit_pack (const Implicit *im, SsTensor *x, GError **error)
{
  SsTensor *packed = ss_tensor_new (x->dtype, 1, SS_SHAPE (im->N * im->np * im->Cx), error);
  if (!packed)
    return NULL;
  struct {
    guint32 C, src_off, dst_off, pad_;
    guint32 in[3], pad2_;
    guint32 P[3], pad3_;
    guint32 lo[3], pad4_;
  } pp = { im->Cx, x->offset, packed->offset, 0, { im->in[0], im->in[1], im->in[2] }, 0,
           { im->P[0], im->P[1], im->P[2] }, 0, { im->lo[0], im->lo[1], im->lo[2] }, 0 };
  SsGpuBinding pb[2] = { ss_tensor_binding (x, SS_GPU_READ), ss_tensor_binding (packed, SS_GPU_WRITE) };
  /* 32 x 32 tiles (64 x 64 ran 10-30 % slower on the H100) */
  SsGpuDispatch pd = { .shader = ss_dtype_size (x->dtype) == 2 ? "conv_pack.raw16" : "conv_pack.raw32",
                       .bindings = pb, .n_bindings = 2, .push = &pp, .push_size = sizeof pp,
                       .groups = { (im->np + 31) / 32, (im->Cx + 31) / 32, im->N } };
  if (!ss_gpu_dispatch (x->device, &pd, error))
    {
      ss_tensor_unref (packed);
      return NULL;
    }
  return packed;
}

/* dst <- src reordered (conv_wperm.comp's modes: 0 [O, C, KV] -> [O, KV, C],
 * 1 -> [C, KV, O] with the taps reversed, 2 [O, KV, C] -> [O, C, KV]) */
static gboolean
implicit_wperm (SsTensor *src, SsTensor *dst, gint64 O, gint64 C, gint64 KV, guint32 mode, GError **error)
{
  struct { guint32 O, C, KV, mode, src_off, dst_off; } wp = { O, C, KV, mode, src->offset, dst->offset };
  SsGpuBinding wb[2] = { ss_tensor_binding (src, SS_GPU_READ), ss_tensor_binding (dst, SS_GPU_WRITE) };
  SsGpuDispatch wd = { .shader = ss_dtype_size (src->dtype) == 2 ? "conv_wperm.raw16" : "conv_wperm.raw32",
                       .bindings = wb, .n_bindings = 2, .push = &wp, .push_size = sizeof wp };
  ss_gpu_groups_1d (src->device, (O * KV * C + 255) / 256, wd.groups);
  return ss_gpu_dispatch (src->device, &wd, error);
}

/* An implicit-GEMM convolution (unit groups):
 *   y [N, Oc, out] = conv (x [N, Cx, in] padded by lo / hi, taps k, strides s,
 *                          dilations d) (+ bias[Oc])
 * with the kernel w [Oc, Cx, KV], or with flip the adjoint's kernel: w is
 * [Cx, Oc, KV] and taps run backwards (see conv_core_adjoint). The image is
 * packed channels-last with its padding (conv_pack) and the kernel reordered
 * to [Oc, KV, Cx] (conv_wperm), both small next to the column matrix of
 * im2col, which is never written: the GEMM reads each tap's run of channels
 * from the packed image. Sets *handled FALSE where no kernel takes it. */
static gboolean
implicit_conv (SsTensor *x, gint64 N, gint64 Cx, const gint64 in[3], const int lo[3], const int hi[3],
               const int k[3], const int s[3], const int d[3], const gint64 out[3],
               SsTensor *w, gboolean flip, gint64 Oc, SsTensor *bias, SsTensor *y,
               gboolean *handled, GError **error)
{
  Implicit im;
  *handled = FALSE;
  if (!implicit_setup (&im, x, N, Cx, in, lo, hi, k, s, d, out) || Oc * im.KV * Cx >= G_MAXINT32)
    return TRUE;
  gboolean portable = implicit_mode () == 2;
  SsGemmOperand A = { w, 0, 0, im.KV * Cx, 1 };
  SsGemmOperand Cc = { y, y->offset, Oc * im.L, im.L, 1 };
  if (!ss_gemm_conv (&A, NULL, 0, im.np * Cx, &Cc, N, Oc, im.L, im.KV * Cx, &im.geo, bias, FALSE, portable,
                     handled, error) || !*handled)
    return TRUE;
  g_autoptr (SsTensor) packed = implicit_pack (&im, x, error);
  g_autoptr (SsTensor) wg = packed ? ss_tensor_new (x->dtype, 1, SS_SHAPE (Oc * im.KV * Cx), error) : NULL;
  if (!wg || !implicit_wperm (w, wg, flip ? Cx : Oc, flip ? Oc : Cx, im.KV, flip ? 1 : 0, error))
    return FALSE;
  A.t = wg;
  A.off = wg->offset;
  return ss_gemm_conv (&A, packed, packed->offset, im.np * Cx, &Cc, N, Oc, im.L, im.KV * Cx, &im.geo, bias,
                       FALSE, portable, handled, error);
}

/* dw [O, C, KV] of a convolution with unit groups as implicit GEMMs: the
 * products dy (O x positions) times the image's positions-by-taps matrix,
 * per image and slice of the positions (enough workgroups to fill the GPU),
 * into partial sums, which one sum adds up and conv_wperm reorders from
 * [O, KV, C]. Sets *handled FALSE where no kernel takes it. */
static gboolean
implicit_weight_grad (SsTensor *img, gint64 N, gint64 C, SsTensor *dy, gint64 O, const Geo *g,
                      SsTensor *dw, gboolean *handled, GError **error)
{
  Implicit im;
  *handled = FALSE;
  if (g->groups != 1 || !implicit_setup (&im, img, N, C, g->in, g->p, g->p, g->k, g->s, g->d, g->out))
    return TRUE;
  gint64 L = im.L, KVC = im.KV * C;
  /* whole K steps of 32 positions: where L is not a multiple of 32, dy is
   * zero-padded to Lp positions (the kernels read position L - 1 past L) */
  gint64 Lp = (L + 31) / 32 * 32;
  gint64 tiles = ((O + 127) / 128) * ((KVC + 127) / 128);
  /* slices: about two rounds of 132 workgroups, each a whole number of K
   * steps dividing Lp, partial sums within 32 M elements */
  gint64 S, want = 264;
  const char *env = ss_env_value ("SOUNDSTAGE_CONV_WGROUPS");   /* experiments */
  if (env)
    want = MAX (1, g_ascii_strtoll (env, NULL, 10));
  for (S = CLAMP ((want + tiles * N - 1) / (tiles * N), 1, Lp / 32); S > 1; S--)
    if (Lp % S == 0 && (Lp / S) % 32 == 0 && N * S * O * KVC <= ((gint64) 32 << 20))
      break;
  im.geo.S = S;
  im.geo.Ls = Lp / S;
  im.geo.L = L;
  if (N * S > 65535 || N * S * O * KVC >= G_MAXINT32 || N * O * Lp >= G_MAXINT32)
    return TRUE;
  gboolean portable = implicit_mode () == 2;
  SsGemmOperand A = { dy, Lp == L ? dy->offset : 0, O * Lp, Lp, 1 };
  SsGemmOperand Cc = { dw, 0, O * KVC, KVC, 1 };   /* the partial sums' layout */
  if (!ss_gemm_conv (&A, NULL, 0, im.np * C, &Cc, N * S, O, KVC, Lp / S, &im.geo, NULL, TRUE, portable,
                     handled, error) || !*handled)
    return TRUE;
  g_autoptr (SsTensor) dyp = NULL;
  if (Lp != L)
    {
      SS_NO_GRAD_SCOPE;
      dyp = ss_tensor_zeros (dy->dtype, 3, SS_SHAPE (N, O, Lp), error);
      g_autoptr (SsTensor) head = dyp ? ss_tensor_slice (dyp, 2, 0, L, error) : NULL;
      g_autoptr (SsTensor) src = head ? ss_tensor_reshape (dy, 3, SS_SHAPE (N, O, L), error) : NULL;
      if (!src || !ss_tensor_copy_into (head, src, error))
        return FALSE;
      A.t = dyp;
      A.off = dyp->offset;
    }
  g_autoptr (SsTensor) packed = implicit_pack (&im, img, error);
  g_autoptr (SsTensor) part = packed ? ss_tensor_new (dw->dtype, 2, SS_SHAPE (N * S, O * KVC), error) : NULL;
  if (!part)
    return FALSE;
  Cc.t = part;
  Cc.off = part->offset;
  if (!ss_gemm_conv (&A, packed, packed->offset, im.np * C, &Cc, N * S, O, KVC, Lp / S, &im.geo, NULL, TRUE,
                     portable, handled, error))
    return FALSE;
  SS_NO_GRAD_SCOPE;
  g_autoptr (SsTensor) sum = ss_op_sum (part, 0, FALSE, error);
  return sum && implicit_wperm (sum, dw, O, C, im.KV, 2, error);
}

/* out [N, O, L] = conv (img [N, C, S], w [O, C/g, KV]) (+ bias[O]) */
static gboolean
conv_core (SsTensor *img, gint64 N, gint64 C, SsTensor *w, gint64 O, SsTensor *bias,
           const Geo *g, SsTensor *out, GError **error)
{
  gint64 KV = geo_kv (g), L = geo_l (g);
  gint64 Cg = C / g->groups, Og = O / g->groups;
  if (g->groups == 1)
    {
      gboolean handled;
      if (!implicit_conv (img, N, C, g->in, g->p, g->p, g->k, g->s, g->d, g->out, w, FALSE, O, bias, out,
                          &handled, error))
        return FALSE;
      if (handled)
        return TRUE;
    }
  gint64 chunk = chunk_samples (img, N, C * KV * L);
  g_autoptr (SsTensor) col = scratch_col (img, chunk * C * KV * L, error);
  if (!col)
    return FALSE;
  for (gint64 n0 = 0; n0 < N; n0 += chunk)
    {
      gint64 nc = MIN (chunk, N - n0);
      if (!im2col (img, n0, nc, C, g, col, error))
        return FALSE;
      for (int gi = 0; gi < g->groups; gi++)
        {
          SsGemmOperand A = { w, w->offset + gi * Og * Cg * KV, 0, Cg * KV, 1 };
          SsGemmOperand B = { col, col->offset + gi * Cg * KV * L, C * KV * L, L, 1 };
          SsGemmOperand Cc = { out, out->offset + (n0 * O + gi * Og) * L, O * L, L, 1 };
          SsTensor *bview = NULL;
          SsTensor bv;
          if (bias)
            {
              bv = *bias;
              bv.offset = bias->offset + gi * Og;
              bview = &bv;
            }
          if (!ss_gemm (&A, &B, &Cc, nc, Og, L, Cg * KV, 1.0f, 0.0f, bview, SS_GEMM_BIAS_ROW, error))
            return FALSE;
        }
    }
  return TRUE;
}

/* img_grad [N, C, S] = conv^T (dy [N, O, L], w [O, C/g, KV]) */
static gboolean
conv_core_adjoint (SsTensor *dy, gint64 N, gint64 O, SsTensor *w, gint64 C,
                   const Geo *g, SsTensor *img_grad, GError **error)
{
  gint64 KV = geo_kv (g), L = geo_l (g);
  gint64 Cg = C / g->groups, Og = O / g->groups;
  /* unit strides: a convolution of dy, padded by d (k - 1) - p before (and
   * what makes the image's extent after), with the flipped kernel */
  if (g->groups == 1 && g->s[0] == 1 && g->s[1] == 1 && g->s[2] == 1)
    {
      int lo[3], hi[3], one[3] = { 1, 1, 1 };
      for (int i = 0; i < 3; i++)
        {
          lo[i] = g->d[i] * (g->k[i] - 1) - g->p[i];
          hi[i] = (int) (g->in[i] + g->d[i] * (g->k[i] - 1) - g->out[i] - lo[i]);
        }
      gboolean handled;
      if (!implicit_conv (dy, N, O, g->out, lo, hi, g->k, one, g->d, g->in, w, TRUE, C, NULL, img_grad,
                          &handled, error))
        return FALSE;
      if (handled)
        return TRUE;
    }
  gint64 chunk = chunk_samples (dy, N, C * KV * L);
  g_autoptr (SsTensor) col = scratch_col (dy, chunk * C * KV * L, error);
  if (!col)
    return FALSE;
  for (gint64 n0 = 0; n0 < N; n0 += chunk)
    {
      gint64 nc = MIN (chunk, N - n0);
      for (int gi = 0; gi < g->groups; gi++)
        {
          SsGemmOperand A = { w, w->offset + gi * Og * Cg * KV, 0, 1, Cg * KV };
          SsGemmOperand B = { dy, dy->offset + (n0 * O + gi * Og) * L, O * L, L, 1 };
          SsGemmOperand Cc = { col, col->offset + gi * Cg * KV * L, C * KV * L, L, 1 };
          if (!ss_gemm (&A, &B, &Cc, nc, Cg * KV, L, Og, 1.0f, 0.0f, NULL, 0, error))
            return FALSE;
        }
      if (!col2im (col, n0, nc, C, g, img_grad, error))
        return FALSE;
    }
  return TRUE;
}

/* dw [O, C/g, KV] = sum_n dy[n] (O x L) @ col(img[n])^T.
 * The products of the samples, and of slices of L where that leaves too few
 * tiles to fill the GPU, are computed side by side as one batched GEMM per
 * slice into partial sums (fp32 accumulation within each), which one column
 * sum then adds up. Accumulating sample after sample into dw (beta = 1) ran
 * a handful of workgroups at a time: 9 tiles for a 128 -> 128 3x3 conv. */
static gboolean
conv_core_weight_grad (SsTensor *img, gint64 N, gint64 C, SsTensor *dy, gint64 O,
                       const Geo *g, SsTensor *dw, GError **error)
{
  gint64 KV = geo_kv (g), L = geo_l (g);
  gint64 Cg = C / g->groups, Og = O / g->groups;
  gboolean handled;
  if (!implicit_weight_grad (img, N, C, dy, O, g, dw, &handled, error))
    return FALSE;
  if (handled)
    return TRUE;
  gint64 chunk = chunk_samples (img, N, C * KV * L);
  gint64 tiles = ((Og + 127) / 128) * ((Cg * KV + 127) / 128);
  /* slices of L: enough workgroups for two rounds over ~132 units, slices of
   * at least 256 positions (multiples of 8, so tensor-core rows stay aligned),
   * partial sums within 32 M elements */
  gint64 S = CLAMP ((264 + tiles * chunk - 1) / (tiles * chunk), 1, MAX (1, L / 256));
  while (S > 1 && S * chunk * Og * Cg * KV > ((gint64) 32 << 20))
    S--;
  gint64 Ls = (L + S - 1) / S;
  if (S > 1)
    Ls = (Ls + 7) / 8 * 8;
  S = (L + Ls - 1) / Ls;
  g_autoptr (SsTensor) col = scratch_col (img, chunk * C * KV * L, error);
  if (!col)
    return FALSE;
  g_autoptr (SsTensor) part = ss_tensor_new (dw->dtype, 2, SS_SHAPE (S * chunk, Og * Cg * KV), error);
  if (!part)
    return FALSE;
  g_autoptr (SsTensor) dwf = ss_tensor_reshape (dw, 1, SS_SHAPE (O * Cg * KV), error);
  if (!dwf)
    return FALSE;
  for (gint64 n0 = 0; n0 < N; n0 += chunk)
    {
      gint64 nc = MIN (chunk, N - n0);
      if (!im2col (img, n0, nc, C, g, col, error))
        return FALSE;
      for (int gi = 0; gi < g->groups; gi++)
        {
          /* one sample: the whole slices are the batch of one GEMM (separate
           * dispatches of a few tiles each would run one after another) */
          gint64 batched = nc == 1 ? L / Ls : 0;
          if (batched > 0)
            {
              SsGemmOperand A = { dy, dy->offset + (n0 * O + gi * Og) * L, Ls, L, 1 };
              SsGemmOperand B = { col, col->offset + gi * Cg * KV * L, Ls, 1, L };
              SsGemmOperand Cc = { part, part->offset, Og * Cg * KV, Cg * KV, 1 };
              if (!ss_gemm (&A, &B, &Cc, batched, Og, Cg * KV, Ls, 1.0f, 0.0f, NULL, 0, error))
                return FALSE;
            }
          for (gint64 si = batched; si < S; si++)
            {
              gint64 l0 = si * Ls, K = MIN (Ls, L - l0);
              SsGemmOperand A = { dy, dy->offset + (n0 * O + gi * Og) * L + l0, O * L, L, 1 };
              SsGemmOperand B = { col, col->offset + gi * Cg * KV * L + l0, C * KV * L, 1, L };
              SsGemmOperand Cc = { part, part->offset + si * nc * Og * Cg * KV, Og * Cg * KV, Cg * KV, 1 };
              if (!ss_gemm (&A, &B, &Cc, nc, Og, Cg * KV, K, 1.0f, 0.0f, NULL, 0, error))
                return FALSE;
            }
          g_autoptr (SsTensor) used = ss_tensor_slice (part, 0, 0, S * nc, error);
          g_autoptr (SsTensor) sum = used ? ss_op_sum (used, 0, FALSE, error) : NULL;
          g_autoptr (SsTensor) dst = sum ? ss_tensor_slice (dwf, 0, gi * Og * Cg * KV, (gi + 1) * Og * Cg * KV, error) : NULL;
          if (!dst)
            return FALSE;
          if (n0 == 0 ? !ss_tensor_copy_into (dst, sum, error) : !ss_tensor_axpy (dst, 1.0f, sum, 1.0f, error))
            return FALSE;
        }
    }
  return TRUE;
}

/* ---------------------------------------------------------------- ops */

typedef struct {
  Geo geo;
  gboolean transposed;
} ConvData;

static gboolean
conv_backward (SsAutogradNode *node, SsTensor *gy, SsTensor **gi, GError **error)
{
  ConvData *cd = ss_autograd_node_get_data (node);
  const Geo *g = &cd->geo;
  SsTensor *x = ss_autograd_node_input (node, 0);
  SsTensor *w = ss_autograd_node_input (node, 1);
  SsTensor *bias = ss_autograd_node_input (node, 2);
  gint64 N = x->shape[0];
  g_autoptr (SsTensor) xc = ss_tensor_contiguous (x, error);
  g_autoptr (SsTensor) wc = xc ? ss_tensor_contiguous (w, error) : NULL;
  g_autoptr (SsTensor) gc = wc ? ss_tensor_contiguous (gy, error) : NULL;
  if (!gc)
    return FALSE;
  g_autoptr (GRecMutexLocker) locker G_GNUC_UNUSED = g_rec_mutex_locker_new (&conv_lock);
  if (!cd->transposed)
    {
      gint64 C = x->shape[1], O = w->shape[0];
      if (ss_autograd_node_needs_input_grad (node, 0))
        {
          gi[0] = ss_tensor_new (x->dtype, x->ndim, x->shape, error);
          if (!gi[0] || !conv_core_adjoint (gc, N, O, wc, C, g, gi[0], error))
            return FALSE;
        }
      if (ss_autograd_node_needs_input_grad (node, 1))
        {
          gi[1] = ss_tensor_new (w->dtype, w->ndim, w->shape, error);
          if (!gi[1] || !conv_core_weight_grad (xc, N, C, gc, O, g, gi[1], error))
            return FALSE;
        }
      if (bias && ss_autograd_node_needs_input_grad (node, 2))
        {
          gi[2] = ss_tensor_new (bias->dtype, bias->ndim, bias->shape, error);
          if (!gi[2] || !ss_bias_grad (gc, N, O, geo_l (g), gi[2], 0.0f, error))
            return FALSE;
        }
    }
  else
    {
      /* y [N, O, S] = conv^T (x [N, Cin, L]) with conv weight w [Cin, O/g, KV] */
      gint64 Cin = x->shape[1], O = w->shape[1] * g->groups;
      if (ss_autograd_node_needs_input_grad (node, 0))
        {
          gi[0] = ss_tensor_new (x->dtype, x->ndim, x->shape, error);
          if (!gi[0] || !conv_core (gc, N, O, wc, Cin, NULL, g, gi[0], error))
            return FALSE;
        }
      if (ss_autograd_node_needs_input_grad (node, 1))
        {
          gi[1] = ss_tensor_new (w->dtype, w->ndim, w->shape, error);
          if (!gi[1] || !conv_core_weight_grad (gc, N, O, xc, Cin, g, gi[1], error))
            return FALSE;
        }
      if (bias && ss_autograd_node_needs_input_grad (node, 2))
        {
          gi[2] = ss_tensor_new (bias->dtype, bias->ndim, bias->shape, error);
          if (!gi[2] || !ss_bias_grad (gc, N, O, geo_s (g), gi[2], 0.0f, error))
            return FALSE;
        }
    }
  return TRUE;
}

SsTensor *
ss_op_conv (SsTensor *x, SsTensor *w, SsTensor *bias, const SsConvParams *cp,
            gboolean transposed, GError **error)
{
  g_return_val_if_fail (x && w && cp, NULL);
  int nsp = x->ndim - 2;
  Geo g = { .groups = cp->groups, .nsp = nsp };
  gboolean ok = nsp >= 1 && nsp <= 3 && w->ndim == x->ndim && x->dtype == w->dtype &&
                cp->groups >= 1 && (!bias || (bias->dtype == x->dtype && bias->ndim == 1));
  gint64 N = ok ? x->shape[0] : 0, C = ok ? x->shape[1] : 0, O = 0;
  if (ok)
    {
      if (!transposed)
        {
          O = w->shape[0];
          ok = C % cp->groups == 0 && O % cp->groups == 0 && w->shape[1] == C / cp->groups;
        }
      else
        {
          O = w->shape[1] * cp->groups;
          ok = w->shape[0] == C && C % cp->groups == 0;
        }
      ok = ok && (!bias || bias->shape[0] == O);
    }
  gint64 osz[3] = { 1, 1, 1 };
  for (int i = 0; ok && i < 3; i++)
    {
      int j = i - (3 - nsp);   /* tensor spatial dim, < 0 for padding dims */
      if (j < 0)
        {
          g.k[i] = g.s[i] = g.d[i] = 1;
          g.p[i] = 0;
          g.in[i] = g.out[i] = 1;
          continue;
        }
      g.k[i] = w->shape[2 + j];
      g.s[i] = cp->stride[j];
      g.p[i] = cp->padding[j];
      g.d[i] = cp->dilation[j];
      if (g.s[i] < 1 || g.d[i] < 1 || g.p[i] < 0 || cp->output_padding[j] < 0)
        ok = FALSE;
      gint64 xin = x->shape[2 + j];
      if (!transposed)
        {
          g.in[i] = xin;
          g.out[i] = (xin + 2 * g.p[i] - (gint64) g.d[i] * (g.k[i] - 1) - 1) / g.s[i] + 1;
          osz[i] = g.out[i];
          if (xin + 2 * g.p[i] - (gint64) g.d[i] * (g.k[i] - 1) - 1 < 0)
            ok = FALSE;
        }
      else
        {
          /* the image is the (larger) output; columns run over x */
          g.out[i] = xin;
          g.in[i] = (xin - 1) * g.s[i] - 2 * g.p[i] + (gint64) g.d[i] * (g.k[i] - 1) + cp->output_padding[j] + 1;
          osz[i] = g.in[i];
          if (cp->output_padding[j] >= MAX (g.s[i], g.d[i]))
            ok = FALSE;
        }
      if (osz[i] < 1)
        ok = FALSE;
    }
  if (!ok)
    {
      g_autofree char *a = ss_tensor_describe (x);
      g_autofree char *b = ss_tensor_describe (w);
      g_set_error (error, SS_ERROR, SS_ERROR_INVALID_DATA,
                   "conv%s%dd: input %s and weight %s (groups %d) do not fit",
                   transposed ? "_transpose" : "", nsp, a, b, cp->groups);
      return NULL;
    }
  gint64 oshape[5] = { N, O, 1, 1, 1 };
  for (int j = 0; j < nsp; j++)
    oshape[2 + j] = osz[3 - nsp + j];

  g_autoptr (SsTensor) xc = NULL, wc = NULL, bc = NULL;
  {
    SS_NO_GRAD_SCOPE;
    xc = ss_tensor_contiguous (x, error);
    wc = xc ? ss_tensor_contiguous (w, error) : NULL;
    bc = (wc && bias) ? ss_tensor_contiguous (bias, error) : NULL;
  }
  if (!wc || (bias && !bc))
    return NULL;
  SsTensor *out = ss_tensor_new (x->dtype, x->ndim, oshape, error);
  if (!out)
    return NULL;
  g_rec_mutex_lock (&conv_lock);
  if (!transposed)
    ok = conv_core (xc, N, C, wc, O, bc, &g, out, error);
  else
    ok = conv_core_adjoint (xc, N, C, wc, O, &g, out, error) &&
         (!bc || bias_add (out, bc, N, O, geo_s (&g), error));
  g_rec_mutex_unlock (&conv_lock);
  if (!ok)
    {
      ss_tensor_unref (out);
      return NULL;
    }
  SsTensor *ins[3] = { x, w, bias };
  if (ss_autograd_needs_grad (3, ins))
    {
      SsAutogradNode *node = ss_autograd_node_new (transposed ? "conv_transpose" : "conv", conv_backward, 3, ins);
      ConvData *cd = g_new (ConvData, 1);
      cd->geo = g;
      cd->transposed = transposed;
      ss_autograd_node_set_data (node, cd, g_free);
      ss_autograd_attach (out, node);
    }
  return out;
}

/* Checks that @x has the batch, channel and @ndim - 2 spatial axes of the
 * public conv*d / conv_transpose*d entry point being called, then runs it. */
static SsTensor *
conv_nd (SsTensor *x, SsTensor *w, SsTensor *bias, const SsConvParams *p, gboolean transposed,
         int ndim, GError **error)
{
  static const char *const shapes[] = { [3] = "[N, C, L]", [4] = "[N, C, H, W]", [5] = "[N, C, D, H, W]" };

  if (x->ndim != ndim)
    {
      g_set_error (error, SS_ERROR, SS_ERROR_INVALID_DATA, "%s%dd: input must be %s",
                   transposed ? "conv_transpose" : "conv", ndim - 2, shapes[ndim]);
      return NULL;
    }
  return ss_op_conv (x, w, bias, p, transposed, error);
}

/* The 1-D entry points take their parameters as plain ints. */
static SsConvParams
params_1d (int stride, int padding, int output_padding, int dilation, int groups)
{
  SsConvParams p = ss_conv_params_default ();
  p.stride[0] = stride;
  p.padding[0] = padding;
  p.output_padding[0] = output_padding;
  p.dilation[0] = dilation;
  p.groups = groups;
  return p;
}

SsTensor *
ss_op_conv1d (SsTensor *x, SsTensor *w, SsTensor *bias, int stride, int padding, int dilation,
              int groups, GError **error)
{
  SsConvParams p = params_1d (stride, padding, 0, dilation, groups);
  return conv_nd (x, w, bias, &p, FALSE, 3, error);
}

SsTensor *
ss_op_conv2d (SsTensor *x, SsTensor *w, SsTensor *bias, const SsConvParams *p, GError **error)
{
  return conv_nd (x, w, bias, p, FALSE, 4, error);
}

SsTensor *
ss_op_conv3d (SsTensor *x, SsTensor *w, SsTensor *bias, const SsConvParams *p, GError **error)
{
  return conv_nd (x, w, bias, p, FALSE, 5, error);
}

SsTensor *
ss_op_conv_transpose1d (SsTensor *x, SsTensor *w, SsTensor *bias, int stride, int padding,
                        int output_padding, int dilation, int groups, GError **error)
{
  SsConvParams p = params_1d (stride, padding, output_padding, dilation, groups);
  return conv_nd (x, w, bias, &p, TRUE, 3, error);
}

SsTensor *
ss_op_conv_transpose2d (SsTensor *x, SsTensor *w, SsTensor *bias, const SsConvParams *p, GError **error)
{
  return conv_nd (x, w, bias, p, TRUE, 4, error);
}

SsTensor *
ss_op_conv_transpose3d (SsTensor *x, SsTensor *w, SsTensor *bias, const SsConvParams *p, GError **error)
{
  return conv_nd (x, w, bias, p, TRUE, 5, error);
}
