/* ss-bench-engine.c: throughput of the engine's heavy ops (GEMM, attention,
 * convolution, mel front end) on the current Vulkan device. Prints one line
 * per case in the same format as tools/bench-engine/bench_torch.py:
 *
 *   <op> <dtype> <shape> <ms per call> <TFLOP/s or GB/s>
 *
 * Usage: bench-engine [peak] [wglayout] [gemm] [attention] [conv] [mel] [biasgrad] [--quick] [--layouts] [--kernels] [--backward] [--causal] [--mask]
 * Timing: after a warm-up call, `reps` calls are recorded back to back and
 * submitted together; the wall time until the GPU finishes, divided by reps
 * (like CUDA-event timing of a loop); and, where the device has timestamps,
 * the summed kernel time per call ([gpu ...] column). */
#define G_LOG_DOMAIN "bench-engine"

#include "config.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "gpu/ss-gpu.h"
#include "tensor/ss-ops.h"
#include "tensor/ss-op-matmul-private.h"   /* ss_bias_grad */

static gboolean quick;
static gboolean layouts;   /* --layouts: f16 GEMM also with transposed operands */
static gboolean kernels;   /* --kernels: the kernels behind each case (GPU time per call) */
static gboolean backward;  /* --backward: conv and attention also forward+backward */
static gboolean causal;    /* --causal: attention causal (FLOPs counted as half) */
static gboolean masked;    /* --mask: attention with an additive [L, L] mask (the last eighth of the keys at -30000) */
static SsGpuDevice *dev;
static double last_gpu_s;   /* kernel time per call of the last time_op (timestamps) */

typedef SsTensor *(*OpFn) (gpointer ud, GError **error);

static double
time_op (OpFn fn, gpointer ud, double target_s)
{
  g_autoptr (GError) error = NULL;
  /* warm-up: pipelines, allocations */
  SsTensor *t = fn (ud, &error);
  if (!t || !ss_gpu_device_flush (dev, &error))
    {
      g_printerr ("error: %s\n", error ? error->message : "?");
      return -1;
    }
  ss_tensor_unref (t);
  gint64 t0 = g_get_monotonic_time ();
  t = fn (ud, &error);
  ss_gpu_device_flush (dev, &error);
  ss_tensor_unref (t);
  double one = (g_get_monotonic_time () - t0) * 1e-6;
  int reps = CLAMP ((int) (target_s / MAX (one, 1e-6)), 3, 200);
  if (quick)
    reps = 2;
  g_autoptr (GArray) before G_GNUC_UNUSED = ss_gpu_device_take_profile (dev, NULL);  /* resets the totals */
  t0 = g_get_monotonic_time ();
  for (int i = 0; i < reps; i++)
    {
      t = fn (ud, &error);
      if (!t)
        {
          g_printerr ("error: %s\n", error->message);
          return -1;
        }
      ss_tensor_unref (t);
    }
  if (!ss_gpu_device_flush (dev, &error))
    {
      g_printerr ("error: %s\n", error->message);
      return -1;
    }
  double wall = (g_get_monotonic_time () - t0) * 1e-6 / reps;
  g_autoptr (GArray) prof = ss_gpu_device_take_profile (dev, NULL);
  double gpu_ms = 0;
  for (guint i = 0; prof && i < prof->len; i++)
    {
      SsGpuProfileEntry *e = &g_array_index (prof, SsGpuProfileEntry, i);
      gpu_ms += e->total_ms;
      if (kernels)
        printf ("#   %-28s x%-4.1f %.4f ms\n", e->label, (double) e->count / reps, e->total_ms / reps);
    }
  last_gpu_s = gpu_ms * 1e-3 / reps;
  return wall;
}

/* the GPU-time column: kernel time per call and its rate */
static void
print_gpu (double work, const char *unit)
{
  if (last_gpu_s > 0)
    printf ("  [gpu %.4f ms %.1f %s]", last_gpu_s * 1e3, work / last_gpu_s, unit);
  printf ("\n");
  fflush (stdout);
}

static SsTensor *
filled (SsDType dt, int nd, const gint64 *shape, float v)
{
  g_autoptr (GError) error = NULL;
  SsTensor *t = ss_tensor_full (dt, nd, shape, v, &error);
  if (!t)
    g_error ("allocation failed: %s", error->message);
  return t;
}

/* ------------------------------------------------------------------ GEMM */

typedef struct {
  SsTensor *a, *b;
  gboolean ta, tb;   /* operands stored transposed ([k][m] / [n][k]) */
} GemmCase;

static SsTensor *
gemm_fn (gpointer ud, GError **error)
{
  GemmCase *c = ud;
  return ss_op_matmul (c->a, c->b, c->ta, c->tb, error);
}

static void
bench_gemm (void)
{
  SsDType dts[] = { SS_DTYPE_F16, SS_DTYPE_BF16, SS_DTYPE_F32 };
  int sizes[] = { 1024, 2048, 4096, 8192 };
  /* SOUNDSTAGE_BENCH_DTYPE=f16|bf16|f32: that dtype only */
  const char *only = g_getenv ("SOUNDSTAGE_BENCH_DTYPE");
  for (guint d = 0; d < G_N_ELEMENTS (dts); d++)
    for (guint s = 0; s < G_N_ELEMENTS (sizes); s++)
      {
        int n = sizes[s];
        if ((quick && n > 2048) || (only && g_strcmp0 (only, ss_dtype_name (dts[d])) != 0))
          continue;
        GemmCase c = {
          filled (dts[d], 2, SS_SHAPE (n, n), 0.01f),
          filled (dts[d], 2, SS_SHAPE (n, n), 0.02f),
        };
        double t = time_op (gemm_fn, &c, 0.3);
        printf ("gemm %s %dx%dx%d %.4f ms %.1f TFLOP/s", ss_dtype_name (dts[d]), n, n, n,
                t * 1e3, 2.0 * n * n * (double) n / t * 1e-12);
        print_gpu (2.0 * n * n * (double) n * 1e-12, "TFLOP/s");
        {
          /* sanity: every element of (0.01) @ (0.02) is 0.0002 * n (as stored) */
          g_autoptr (SsTensor) r = gemm_fn (&c, NULL);
          g_autofree float *v = r ? ss_tensor_to_floats_dup (r, NULL) : NULL;
          double want = (double) ss_bf16_to_float (0) + 0.0;
          float a0 = dts[d] == SS_DTYPE_BF16 ? ss_bf16_to_float (ss_float_to_bf16 (0.01f)) :
                     dts[d] == SS_DTYPE_F16 ? ss_half_to_float (ss_float_to_half (0.01f)) : 0.01f;
          float b0 = dts[d] == SS_DTYPE_BF16 ? ss_bf16_to_float (ss_float_to_bf16 (0.02f)) :
                     dts[d] == SS_DTYPE_F16 ? ss_half_to_float (ss_float_to_half (0.02f)) : 0.02f;
          want = (double) a0 * b0 * n;
          gboolean ok = v != NULL;
          for (gint64 i = 0; ok && i < (gint64) n * n; i += 7919)
            ok = fabs (v[i] - want) <= 0.01 * want;
          if (!ok)
            printf ("# CHECK FAILED for gemm %s %d\n", ss_dtype_name (dts[d]), n);
        }
        /* the same product with A or B stored transposed (the kernels load
         * fragments differently for each layout) */
        for (int l = 1; layouts && dts[d] != SS_DTYPE_BF16 && l <= 2; l++)
          {
            c.ta = l == 1;
            c.tb = l == 2;
            t = time_op (gemm_fn, &c, 0.3);
            printf ("gemm %s %dx%dx%d %s %.4f ms %.1f TFLOP/s", ss_dtype_name (dts[d]), n, n, n,
                    c.ta ? "TN" : "NT", t * 1e3, 2.0 * n * n * (double) n / t * 1e-12);
            print_gpu (2.0 * n * n * (double) n * 1e-12, "TFLOP/s");
          }
        ss_tensor_unref (c.a);
        ss_tensor_unref (c.b);
      }
}

/* ------------------------------------------------ linear (model shapes) */

/* the Synchformer reference config's linear layers on 10 s of video (x [M, K]
 * times w [N, K] transposed, plus a bias; SOUNDSTAGE_GEMM_LOG=1 lists a model's
 * products): the video transformer's 14 segments of 1569 tokens, its
 * time-pooled tokens, and the audio transformer */
static const int linear_shapes[][3] = {
  { 21966, 768, 768 }, { 21966, 2304, 768 }, { 21966, 3072, 768 }, { 21966, 768, 3072 },
  { 1036, 768, 768 }, { 1036, 3072, 768 }, { 1036, 768, 3072 }, { 198, 768, 768 },
};

typedef struct {
  SsTensor *x, *w, *bias;
} LinearCase;

static SsTensor *
linear_fn (gpointer ud, GError **error)
{
  LinearCase *c = ud;
  return ss_op_linear (c->x, c->w, c->bias, error);
}

/* Shapes from an environment variable: space-separated items of `count`
 * comma-separated integers (at most 4 each, 16 items); returns how many. */
static guint
env_shapes (const char *var, guint count, int out[16][4])
{
  const char *env = g_getenv (var);
  guint n = 0;
  if (!env)
    return 0;
  g_auto (GStrv) items = g_strsplit (env, " ", -1);
  for (guint i = 0; items[i] && n < 16; i++)
    {
      g_auto (GStrv) parts = g_strsplit (items[i], ",", -1);
      if (g_strv_length (parts) != count)
        continue;
      for (guint j = 0; j < count; j++)
        out[n][j] = atoi (parts[j]);
      n++;
    }
  return n;
}

static void
bench_linear (void)
{
  /* SOUNDSTAGE_BENCH_LINEAR="M,N,K M,N,K ...": other shapes;
   * SOUNDSTAGE_BENCH_DTYPE=f32|bf16: that dtype (f16 by default) */
  SsDType dt = g_strcmp0 (g_getenv ("SOUNDSTAGE_BENCH_DTYPE"), "f32") == 0 ? SS_DTYPE_F32
             : g_strcmp0 (g_getenv ("SOUNDSTAGE_BENCH_DTYPE"), "bf16") == 0 ? SS_DTYPE_BF16 : SS_DTYPE_F16;
  int extra[16][4];
  guint n_extra = env_shapes ("SOUNDSTAGE_BENCH_LINEAR", 3, extra);
  guint n_shapes = n_extra ? n_extra : G_N_ELEMENTS (linear_shapes);
  for (guint s = 0; s < n_shapes; s++)
    {
      const int *sh = n_extra ? extra[s] : linear_shapes[s];
      int m = sh[0], n = sh[1], k = sh[2];
      LinearCase c = {
        filled (dt, 2, SS_SHAPE (m, k), 0.01f),
        filled (dt, 2, SS_SHAPE (n, k), 0.02f),
        filled (dt, 1, SS_SHAPE (n), 0.5f),
      };
      double t = time_op (linear_fn, &c, 0.3);
      double tflop = 2.0 * m * n * (double) k * 1e-12;
      printf ("linear %s %dx%dx%d %.4f ms %.4g TFLOP/s", ss_dtype_name (dt), m, n, k, t * 1e3, tflop / t);
      print_gpu (tflop, "TFLOP/s");
      ss_tensor_unref (c.x);
      ss_tensor_unref (c.w);
      ss_tensor_unref (c.bias);
    }
}

/* ----------------------------------------------------------- peak (coopmat) */

typedef struct {
  SsTensor *a;
  const char *shader;
  guint groups, iters;
} PeakCase;

static SsTensor *
peak_fn (gpointer ud, GError **error)
{
  PeakCase *c = ud;
  SsTensor *out = ss_tensor_new (SS_DTYPE_F32, 1, SS_SHAPE ((gint64) c->groups * 8 * 16 * 256), error);
  if (!out)
    return NULL;
  SsGpuBinding b[2] = { ss_tensor_binding (c->a, SS_GPU_READ), ss_tensor_binding (out, SS_GPU_WRITE) };
  guint32 push = c->iters;
  SsGpuDispatch d = { .shader = c->shader, .bindings = b, .n_bindings = 2, .push = &push,
                      .push_size = sizeof push, .groups = { c->groups, 1, 1 } };
  if (!ss_gpu_dispatch (dev, &d, error))
    {
      ss_tensor_unref (out);
      return NULL;
    }
  return out;
}

/* the tensor-core rate of the cooperative-matrix multiply-add with operands in
 * registers (no memory traffic): the ceiling for the GEMM and attention kernels */
static void
bench_peak (void)
{
  if (!ss_gpu_device_use_coopmat (dev))
    {
      printf ("# peak: no cooperative matrices on this device\n");
      return;
    }
  const char *shaders[] = { "coopmat_peak.a8", "coopmat_peak.a16" };
  int nacc[] = { 8, 16 };
  for (guint s = 0; s < G_N_ELEMENTS (shaders); s++)
    for (guint g = 132; g <= 132 * 8; g *= 2)
      {
        PeakCase c = { filled (SS_DTYPE_F16, 1, SS_SHAPE (1024), 0.001f), shaders[s], g, 4096 };
        double t = time_op (peak_fn, &c, 0.2);
        double flops = (double) g * 8 * c.iters * nacc[s] * 2.0 * 16 * 16 * 16;
        printf ("peak %s groups %u %.4f ms %.1f TFLOP/s", shaders[s], g, t * 1e3, flops / t * 1e-12);
        print_gpu (flops * 1e-12, "TFLOP/s");
        ss_tensor_unref (c.a);
      }
}

/* ------------------------------------------------- workgroup-scope layout */

/* coopmat_probe_wg: where the components of workgroup-scope accumulators
 * live, and an accumulator converted into an A operand (raw dump for
 * analysis: wglayout-<variant>.f32 in $OUT or the current directory) */
static void
bench_wglayout (void)
{
  const SsGpuCaps *c = ss_gpu_device_get_caps (dev);
  if (!c->coopmat_wg)
    {
      printf ("# wglayout: no workgroup-scope matrices on this device\n");
      return;
    }
  const char *variants[] = { "w4", "w8" };
  guint nts[] = { 128, 256 };
  g_autofree float *out = g_new (float, SS_ATTENTION_CM2_PROBE_FLOATS);
  for (guint v = 0; v < G_N_ELEMENTS (variants); v++)
    {
      guint nt = nts[v];
      g_autoptr (GError) error = NULL;
      if (!ss_attention_cm2_probe (dev, variants[v], out, &error))
        {
          printf ("wglayout %s: error %s\n", variants[v], error->message);
          continue;
        }
      g_autofree char *name = g_strdup_printf ("wglayout-%s.f32", variants[v]);
      g_autofree char *path = g_build_filename (g_getenv ("OUT") ? g_getenv ("OUT") : ".", name, NULL);
      g_file_set_contents (path, (const char *) out, (gssize) (SS_ATTENTION_CM2_PROBE_FLOATS * sizeof (float)), NULL);
      /* the converted 128 x 64 matrix times the identity: its own values */
      guint bad = 0;
      for (int i = 0; i < 128 * 64; i++)
        bad += out[2 + nt * 64 + nt * 128 + i] != (float) (i % 2048);
      printf ("wglayout %s: S %g components per invocation, O %g; accumulator -> A conversion: %u of 8192 wrong; %s\n",
              variants[v], out[0], out[1], bad, path);
    }
}

/* ------------------------------------------------------------- attention */

typedef struct {
  SsTensor *q, *k, *v, *mask;
  gboolean causal;
} AttnCase;

static SsTensor *
attn_fn (gpointer ud, GError **error)
{
  AttnCase *c = ud;
  return ss_op_attention (c->q, c->k, c->v, c->mask, c->causal, 0, error);
}

/* the backward of y (NULL: failed) from a constant gradient, then the three
 * inputs' gradients cleared; returns y, or NULL with y released */
static SsTensor *
backward_and_clear (SsTensor *y, SsTensor *a, SsTensor *b, SsTensor *c, GError **error)
{
  if (!y)
    return NULL;
  g_autoptr (SsTensor) g = ss_tensor_full (y->dtype, y->ndim, y->shape, 0.5f, error);
  if (!g || !ss_tensor_backward (y, g, error))
    {
      ss_tensor_unref (y);
      return NULL;
    }
  ss_tensor_zero_grad (a);
  ss_tensor_zero_grad (b);
  ss_tensor_zero_grad (c);
  return y;
}

/* an additive [L, L] mask: 0, and -30000 for the last eighth of the keys
 * (padding) */
static SsTensor *
padding_mask (SsDType dt, int L)
{
  g_autoptr (GError) error = NULL;
  g_autofree float *m = g_new (float, (gsize) L * L);
  for (gsize i = 0; i < (gsize) L * L; i++)
    m[i] = (int) (i % L) >= L - L / 8 ? -30000.0f : 0.0f;
  SsTensor *t = ss_tensor_new_from_floats (dt, 2, SS_SHAPE (L, L), m, &error);
  if (!t)
    g_error ("mask: %s", error->message);
  return t;
}

/* forward and backward for q, k and v */
static SsTensor *
attn_fwdbwd_fn (gpointer ud, GError **error)
{
  AttnCase *c = ud;
  return backward_and_clear (ss_op_attention (c->q, c->k, c->v, c->mask, c->causal, 0, error), c->q, c->k, c->v,
                             error);
}

static void
bench_attention (void)
{
  int dims[] = { 64, 128 };
  int seqs[] = { 256, 1024, 2048, 4096, 8192 };
  /* SOUNDSTAGE_BENCH_ATTN="B,H,L,D ...": those shapes instead, in the dtype
   * SOUNDSTAGE_BENCH_DTYPE names (f16 by default) */
  int extra[16][4];
  guint n_extra = env_shapes ("SOUNDSTAGE_BENCH_ATTN", 4, extra);
  SsDType dt = g_strcmp0 (g_getenv ("SOUNDSTAGE_BENCH_DTYPE"), "f32") == 0 ? SS_DTYPE_F32
             : g_strcmp0 (g_getenv ("SOUNDSTAGE_BENCH_DTYPE"), "bf16") == 0 ? SS_DTYPE_BF16 : SS_DTYPE_F16;
  guint n_cases = n_extra ? n_extra : G_N_ELEMENTS (dims) * G_N_ELEMENTS (seqs);
  for (guint ci = 0; ci < n_cases; ci++)
      {
        int d = n_extra ? extra[ci][3] : dims[ci / G_N_ELEMENTS (seqs)];
        int L = n_extra ? extra[ci][2] : seqs[ci % G_N_ELEMENTS (seqs)];
        if (quick && L > 1024)
          continue;
        /* about 16M tokens*heads per call at most */
        int B = n_extra ? extra[ci][0] : MAX (1, 16384 / L), H = n_extra ? extra[ci][1] : 16;
        AttnCase c = {
          filled (dt, 4, SS_SHAPE (B, H, L, d), 0.01f),
          filled (dt, 4, SS_SHAPE (B, H, L, d), 0.02f),
          filled (dt, 4, SS_SHAPE (B, H, L, d), 0.03f),
          masked ? padding_mask (dt, L) : NULL,
          causal,
        };
        double t = time_op (attn_fn, &c, 0.3);
        double flops = (causal ? 2.0 : 4.0) * B * H * (double) L * L * d;
        printf ("attention %s B%d-H%d-L%d-D%d%s%s %.4f ms %.1f TFLOP/s", ss_dtype_name (dt), B, H, L, d,
                causal ? " causal" : "", masked ? " mask" : "", t * 1e3, flops / t * 1e-12);
        print_gpu (flops * 1e-12, "TFLOP/s");
        if (backward && L <= 4096)
          {
            /* backward: 2.5x the forward's FLOPs (recomputed scores, dV, dP, dQ, dK) */
            ss_tensor_set_requires_grad (c.q, TRUE);
            ss_tensor_set_requires_grad (c.k, TRUE);
            ss_tensor_set_requires_grad (c.v, TRUE);
            t = time_op (attn_fwdbwd_fn, &c, 0.3);
            printf ("attention %s B%d-H%d-L%d-D%d%s%s fwd+bwd %.4f ms %.1f TFLOP/s", ss_dtype_name (dt), B, H, L, d,
                    causal ? " causal" : "", masked ? " mask" : "", t * 1e3, 3.5 * flops / t * 1e-12);
            print_gpu (3.5 * flops * 1e-12, "TFLOP/s");
          }
        ss_tensor_unref (c.q);
        ss_tensor_unref (c.k);
        ss_tensor_unref (c.v);
        if (c.mask)
          ss_tensor_unref (c.mask);
      }
}

/* ------------------------------------------------------------------ conv */

typedef struct {
  SsTensor *x, *w, *b;
  SsConvParams p;
} ConvCase;

static SsTensor *
conv_fn (gpointer ud, GError **error)
{
  ConvCase *c = ud;
  return ss_op_conv (c->x, c->w, c->b, &c->p, FALSE, error);
}

/* forward and backward for x, w and b */
static SsTensor *
conv_fwdbwd_fn (gpointer ud, GError **error)
{
  ConvCase *c = ud;
  return backward_and_clear (ss_op_conv (c->x, c->w, c->b, &c->p, FALSE, error), c->x, c->w, c->b, error);
}

static void
bench_conv (void)
{
  struct { char name[64]; int nd; gint64 x[5]; gint64 w[5]; int pad; } cases[3 + 16] = {
    { "conv2d N8-C128-64x64-k3", 4, { 8, 128, 64, 64 }, { 128, 128, 3, 3 }, 1 },
    { "conv1d N8-C512-L4096-k3", 3, { 8, 512, 4096 }, { 512, 512, 3 }, 1 },
    { "conv3d N1-C64-8x64x64-k3", 5, { 1, 64, 8, 64, 64 }, { 64, 64, 3, 3, 3 }, 1 },
  };
  guint n_cases = 3;
  /* SOUNDSTAGE_BENCH_CONV="N,C,S,nd ...": these instead, C -> C channels,
   * S positions along each of nd axes, kernel 3, padding 1 */
  int extra[16][4];
  guint n_extra = env_shapes ("SOUNDSTAGE_BENCH_CONV", 4, extra);
  if (n_extra > 0)
    n_cases = 0;
  for (guint e = 0; e < n_extra; e++)
    {
      int nd = CLAMP (extra[e][3], 1, 3);
      gint64 *x = cases[n_cases].x, *w = cases[n_cases].w;
      x[0] = extra[e][0];
      x[1] = w[0] = w[1] = extra[e][1];
      for (int j = 0; j < nd; j++)
        {
          x[2 + j] = extra[e][2];
          w[2 + j] = 3;
        }
      cases[n_cases].nd = nd + 2;
      cases[n_cases].pad = 1;
      g_snprintf (cases[n_cases].name, sizeof cases[n_cases].name, "conv%dd N%d-C%d-%d^%d-k3",
                  nd, extra[e][0], extra[e][1], extra[e][2], nd);
      n_cases++;
    }
  SsDType dts[] = { SS_DTYPE_F16, SS_DTYPE_F32, SS_DTYPE_BF16 };
  /* SOUNDSTAGE_BENCH_DTYPE=f16|bf16|f32: that dtype only (default f16, f32) */
  const char *only = g_getenv ("SOUNDSTAGE_BENCH_DTYPE");
  for (guint d = 0; d < G_N_ELEMENTS (dts); d++)
    for (guint i = 0; i < n_cases; i++)
      {
        if (only ? g_strcmp0 (only, ss_dtype_name (dts[d])) != 0 : dts[d] == SS_DTYPE_BF16)
          continue;
        ConvCase c = { 0 };
        c.x = filled (dts[d], cases[i].nd, cases[i].x, 0.01f);
        c.w = filled (dts[d], cases[i].nd, cases[i].w, 0.02f);
        c.b = filled (dts[d], 1, SS_SHAPE (cases[i].w[0]), 0.0f);
        c.p = ss_conv_params_default ();
        for (int j = 0; j < 3; j++)
          c.p.padding[j] = cases[i].pad;
        double t = time_op (conv_fn, &c, 0.3);
        double flops = 2.0 * cases[i].x[0] * cases[i].w[0] * cases[i].w[1];
        for (int j = 2; j < cases[i].nd; j++)
          flops *= cases[i].x[j] * cases[i].w[j];
        printf ("conv %s %s %.4f ms %.1f TFLOP/s", ss_dtype_name (dts[d]), cases[i].name, t * 1e3, flops / t * 1e-12);
        print_gpu (flops * 1e-12, "TFLOP/s");
        if (backward)
          {
            ss_tensor_set_requires_grad (c.x, TRUE);
            ss_tensor_set_requires_grad (c.w, TRUE);
            ss_tensor_set_requires_grad (c.b, TRUE);
            t = time_op (conv_fwdbwd_fn, &c, 0.3);
            printf ("conv %s %s fwd+bwd %.4f ms %.1f TFLOP/s", ss_dtype_name (dts[d]), cases[i].name, t * 1e3,
                    3 * flops / t * 1e-12);
            print_gpu (3 * flops * 1e-12, "TFLOP/s");
          }
        ss_tensor_unref (c.x);
        ss_tensor_unref (c.w);
        ss_tensor_unref (c.b);
      }
}

/* ------------------------------------------------------------ bias grad */

typedef struct {
  SsTensor *dy;
  gint64 outer, C, inner;
} BiasGradCase;

static SsTensor *
bias_grad_fn (gpointer ud, GError **error)
{
  BiasGradCase *c = ud;
  SsTensor *out = ss_tensor_new (c->dy->dtype, 1, SS_SHAPE (c->C), error);
  if (out && !ss_bias_grad (c->dy, c->outer, c->C, c->inner, out, 0.0f, error))
    g_clear_pointer (&out, ss_tensor_unref);
  return out;
}

/* the bias gradients of linear layers (column sums) and convolutions (sums
 * over samples and positions), f16 */
static void
bench_bias_grad (void)
{
  struct { const char *name; gint64 outer, C, inner; } cases[] = {
    { "linear 21966x768", 21966, 768, 1 },
    { "linear 8192x1024", 8192, 1024, 1 },
    { "linear 1036x3072", 1036, 3072, 1 },
    { "conv N8-C128-L4096", 8, 128, 4096 },
    { "conv N1-C512-L4096", 1, 512, 4096 },
  };
  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      BiasGradCase c = { filled (SS_DTYPE_F16, 1, SS_SHAPE (cases[i].outer * cases[i].C * cases[i].inner), 0.01f),
                         cases[i].outer, cases[i].C, cases[i].inner };
      double t = time_op (bias_grad_fn, &c, 0.3);
      double gb = 2.0 * cases[i].outer * cases[i].C * cases[i].inner * 1e-9;
      printf ("biasgrad f16 %s %.4f ms %.1f GB/s", cases[i].name, t * 1e3, gb / t);
      print_gpu (gb, "GB/s");
      ss_tensor_unref (c.dy);
    }
}

#if defined(__has_include)
#if __has_include("dsp/ss-mel.h")
#include "dsp/ss-mel.h"
#define HAVE_MEL_BENCH 1
#endif
#endif

#include "bench-mel.inc"

int
main (int argc, char **argv)
{
  gboolean all = TRUE, do_peak = FALSE, do_wglayout = FALSE, do_gemm = FALSE, do_linear = FALSE, do_attn = FALSE, do_conv = FALSE, do_mel = FALSE, do_biasgrad = FALSE;
  for (int i = 1; i < argc; i++)
    {
      if (strcmp (argv[i], "--quick") == 0)
        quick = TRUE;
      else if (strcmp (argv[i], "--layouts") == 0)
        layouts = TRUE;
      else if (strcmp (argv[i], "--kernels") == 0)
        kernels = TRUE;
      else if (strcmp (argv[i], "--backward") == 0)
        backward = TRUE;
      else if (strcmp (argv[i], "--causal") == 0)
        causal = TRUE;
      else if (strcmp (argv[i], "--mask") == 0)
        masked = TRUE;
      else if (strcmp (argv[i], "peak") == 0)
        do_peak = TRUE, all = FALSE;
      else if (strcmp (argv[i], "wglayout") == 0)
        do_wglayout = TRUE, all = FALSE;
      else if (strcmp (argv[i], "gemm") == 0)
        do_gemm = TRUE, all = FALSE;
      else if (strcmp (argv[i], "linear") == 0)
        do_linear = TRUE, all = FALSE;
      else if (strcmp (argv[i], "attention") == 0)
        do_attn = TRUE, all = FALSE;
      else if (strcmp (argv[i], "conv") == 0)
        do_conv = TRUE, all = FALSE;
      else if (strcmp (argv[i], "mel") == 0)
        do_mel = TRUE, all = FALSE;
      else if (strcmp (argv[i], "biasgrad") == 0)
        do_biasgrad = TRUE, all = FALSE;
    }
  g_autoptr (GError) error = NULL;
  dev = ss_gpu_device_get_default (&error);
  if (!dev)
    {
      g_printerr ("no device: %s\n", error->message);
      return 1;
    }
  const SsGpuCaps *c = ss_gpu_device_get_caps (dev);
  ss_gpu_device_set_profiling (dev, TRUE);
  printf ("# device %s coopmat_nv %d coopmat_khr %d coopmat2_nv %d used %d subgroup %u shared %zu\n",
          c->name, c->coopmat_nv, c->coopmat_khr, c->coopmat2_nv, ss_gpu_device_use_coopmat (dev),
          c->subgroup_size, c->shared_memory);
  if (do_peak)
    bench_peak ();
  if (do_wglayout)
    bench_wglayout ();
  if (all || do_gemm)
    bench_gemm ();
  if (all || do_linear)
    bench_linear ();
  if (all || do_attn)
    bench_attention ();
  if (all || do_conv)
    bench_conv ();
  if (all || do_mel)
    bench_mel ();
  if (all || do_biasgrad)
    bench_bias_grad ();
  ss_gpu_device_shutdown ();
  return 0;
}
