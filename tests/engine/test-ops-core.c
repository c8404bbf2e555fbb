/* test-ops-core.c: matmul, linear, attention and convolutions on the GPU
 * against the double-precision references (tests/engine/ops/ss-ref.h), forward
 * and backward, in every storage dtype, on random shapes (sizes that are not
 * multiples of the tiles). New tensors are NaN-poisoned (SOUNDSTAGE_POISON=1)
 * so unwritten outputs fail. GPU gradients are also checked against finite
 * differences of the GPU forward (fp32). */
#include "config.h"
#include <math.h>
#include <string.h>
#include "tensor/ss-ops.h"
#include "tensor/ss-op-matmul-private.h"
#include "ss-check.h"
#include "ss-ref.h"

static SsRng rng;

/* ------------------------------------------------------------- helpers */

static double *
rand_array (size_t n, double lo, double hi)
{
  double *x = g_new (double, MAX (n, 1));
  ss_check_fill_uniform (&rng, x, n, lo, hi);
  return x;
}

/* quantizes x to dt in place and uploads it */
static SsTensor *
upload (SsDType dt, int nd, const gint64 *shape, double *x, gboolean requires_grad)
{
  g_autoptr (GError) error = NULL;
  gint64 n = 1;
  for (int i = 0; i < nd; i++)
    n *= shape[i];
  ss_check_quantize ((SsCheckDtype) dt, x, n);
  g_autofree float *f = g_new (float, MAX (n, 1));
  ss_check_f64_to_f32 (x, f, n);
  SsTensor *t = ss_tensor_new_from_floats (dt, nd, shape, f, &error);
  g_assert_no_error (error);
  ss_tensor_set_requires_grad (t, requires_grad);
  return t;
}

static double *
download (SsTensor *t)
{
  g_autoptr (GError) error = NULL;
  gint64 n = ss_tensor_numel (t);
  g_autofree float *f = ss_tensor_to_floats_dup (t, &error);
  g_assert_no_error (error);
  double *d = g_new (double, MAX (n, 1));
  ss_check_f32_to_f64 (f, d, n);
  return d;
}

static double
thr (SsDType dt, double factor)
{
  return ss_check_threshold ((SsCheckDtype) dt) * factor;
}

/* runs backward from y with upstream gradient w (quantized to y's dtype) */
static void
backward_with (SsTensor *y, double *w)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (SsTensor) g = upload (y->dtype, y->ndim, y->shape, w, FALSE);
  g_assert_true (ss_tensor_backward (y, g, &error));
  g_assert_no_error (error);
}

static void
check_grad (const char *what, SsTensor *t, const double *ref, double threshold)
{
  g_assert_nonnull (t->grad);
  g_autofree double *got = download (t->grad);
  ss_assert_close (what, ref, got, ss_tensor_numel (t), threshold);
}

/* -------------------------------------------------------------- matmul */

static void
test_matmul (void)
{
  for (int trial = 0; trial < 16; trial++)
    {
      SsDType dt = trial % 3;
      gboolean ta = (trial / 3) & 1, tb = (trial / 6) & 1;
      int batch = ss_rng_int (&rng, 1, 3);
      int m = ss_rng_int (&rng, 1, 90), n = ss_rng_int (&rng, 1, 90), k = ss_rng_int (&rng, 1, 70);
      if (trial >= 12)
        {
          /* fp16 shapes eligible for the cooperative-matrix kernel (on GPUs
           * that have it): multiples of 8, partial 128-tiles */
          dt = SS_DTYPE_F16;
          ta = trial & 1;
          tb = (trial >> 1) & 1;
          m = 8 * ss_rng_int (&rng, 9, 30);
          n = 8 * ss_rng_int (&rng, 9, 30);
          k = 8 * ss_rng_int (&rng, 4, 20);
        }
      gboolean bcast_b = trial % 4 == 3;   /* one B for every batch */
      g_test_message ("matmul %s batch %d m %d n %d k %d ta %d tb %d bcast %d",
                      ss_dtype_name (dt), batch, m, n, k, ta, tb, bcast_b);
      gint64 ash[3] = { batch, ta ? k : m, ta ? m : k };
      gint64 bsh[3] = { batch, tb ? n : k, tb ? k : n };
      g_autofree double *a = rand_array (batch * m * k, -1, 1);
      g_autofree double *b = rand_array ((bcast_b ? 1 : batch) * k * n, -1, 1);
      g_autoptr (SsTensor) A = upload (dt, 3, ash, a, TRUE);
      g_autoptr (SsTensor) B = bcast_b ? upload (dt, 2, bsh + 1, b, TRUE) : upload (dt, 3, bsh, b, TRUE);
      g_autoptr (GError) error = NULL;
      g_autoptr (SsTensor) C = ss_op_matmul (A, B, ta, tb, &error);
      g_assert_no_error (error);
      g_assert_cmpint (C->ndim, ==, 3);
      g_assert_cmpint (C->shape[1], ==, m);
      g_assert_cmpint (C->shape[2], ==, n);
      g_autofree double *ref = g_new0 (double, batch * m * n);
      ss_ref_matmul (a, b, ref, batch, m, n, k, ta, tb, m * k, bcast_b ? 0 : k * n);
      g_autofree double *got = download (C);
      ss_assert_close ("matmul", ref, got, batch * m * n, thr (dt, 1));

      g_autofree double *w = rand_array (batch * m * n, -1, 1);
      backward_with (C, w);
      g_autofree double *da = g_new0 (double, batch * m * k);
      g_autofree double *db = g_new0 (double, (bcast_b ? 1 : batch) * k * n);
      ss_ref_matmul_backward (a, b, w, da, db, batch, m, n, k, ta, tb, m * k, bcast_b ? 0 : k * n);
      check_grad ("matmul dA", A, da, thr (dt, 4));
      check_grad ("matmul dB", B, db, thr (dt, 4));
    }
}

/* ss_gemm directly, through each portable kernel forced in turn (the
 * register-blocked matmul_reg is chosen only on GPUs, so lavapipe runs it only
 * here and in the ops-core-regtile test): ragged M, N, K around the 128-tiles,
 * A and B row-major, transposed or with no unit stride (element loads), with
 * offsets and strides that allow 4-element loads or not, one A or one B for
 * every batch (stride 0), alpha, beta != 0 over a C with padded rows, both
 * bias modes. The whole C buffer is compared, so writes outside the product
 * (into the row padding) fail too; with beta == 0 the product starts as NaN,
 * and the unused elements of the A and B buffers are NaN. */

/* sets every element of x [len] that no (batch, row, col) of the strided
 * operand at off addresses to NaN */
static void
poison_unused (double *x, gint64 len, gint64 off, int batch, gint64 bs, int rows, gint64 rs, int cols, gint64 cs)
{
  g_autofree gboolean *used = g_new0 (gboolean, len);
  for (int bz = 0; bz < batch; bz++)
    for (int i = 0; i < rows; i++)
      for (int j = 0; j < cols; j++)
        used[off + bz * bs + i * rs + j * cs] = TRUE;
  for (gint64 i = 0; i < len; i++)
    if (!used[i])
      x[i] = NAN;
}

typedef struct {
  const char *label;
  SsDType dt;
  int batch, m, n, k;
  gint64 a_off, a_bs, a_rs, a_cs, b_off, b_bs, b_rs, b_cs, c_off, c_bs, c_rs;
  float alpha, beta;
  SsGemmBias bias_mode;
} GemmCase;

/* one strided product C = alpha A B + beta C (+ bias) against the double
 * reference, each element within its own bound */
static void
check_gemm (const GemmCase *gc)
{
  SsDType dt = gc->dt;
  int batch = gc->batch, m = gc->m, n = gc->n, k = gc->k;
  gint64 a_off = gc->a_off, a_bs = gc->a_bs, a_rs = gc->a_rs, a_cs = gc->a_cs;
  gint64 b_off = gc->b_off, b_bs = gc->b_bs, b_rs = gc->b_rs, b_cs = gc->b_cs;
  gint64 c_off = gc->c_off, c_bs = gc->c_bs, c_rs = gc->c_rs;
  float alpha = gc->alpha, beta = gc->beta;
  SsGemmBias bias_mode = gc->bias_mode;
  gint64 bias_off = 1;
  gint64 a_len = a_off + (batch - 1) * a_bs + (m - 1) * a_rs + (k - 1) * a_cs + 2;
  gint64 b_len = b_off + (batch - 1) * b_bs + (k - 1) * b_rs + (n - 1) * b_cs + 2;
  gint64 c_len = c_off + (batch - 1) * c_bs + (m - 1) * c_rs + n + 3;
  gint64 bias_len = bias_off + MAX (m, n) + 1;
  g_test_message ("gemm %s %s batch %d m %d n %d k %d A %" G_GINT64_FORMAT " %" G_GINT64_FORMAT
                  " %" G_GINT64_FORMAT " B %" G_GINT64_FORMAT " %" G_GINT64_FORMAT " %" G_GINT64_FORMAT
                  " alpha %g beta %g bias %d", gc->label, ss_dtype_name (dt), batch, m, n, k,
                  a_bs, a_rs, a_cs, b_bs, b_rs, b_cs, alpha, beta, bias_mode);
  g_autofree double *a = rand_array (a_len, -1, 1);
  g_autofree double *b = rand_array (b_len, -1, 1);
  g_autofree double *c0 = rand_array (c_len, -1, 1);
  g_autofree double *bias = rand_array (bias_len, -1, 1);
  /* elements of A and B outside the operands are NaN: a read past
   * the k edge makes NaN even where the other operand's zero fill
   * would hide it */
  poison_unused (a, a_len, a_off, batch, a_bs, m, a_rs, k, a_cs);
  poison_unused (b, b_len, b_off, batch, b_bs, k, b_rs, n, b_cs);
  if (beta == 0.0f)
    for (int bz = 0; bz < batch; bz++)
      for (int i = 0; i < m; i++)
        for (int j = 0; j < n; j++)
          c0[c_off + bz * c_bs + i * c_rs + j] = NAN;
  g_autoptr (SsTensor) At = upload (dt, 1, SS_SHAPE (a_len), a, FALSE);
  g_autoptr (SsTensor) Bt = upload (dt, 1, SS_SHAPE (b_len), b, FALSE);
  g_autoptr (SsTensor) Ct = upload (dt, 1, SS_SHAPE (c_len), c0, FALSE);
  g_autoptr (SsTensor) Biast = upload (dt, 1, SS_SHAPE (bias_len), bias, FALSE);

  /* reference and a bound per element: fp32 accumulation over k and
   * the rounding of the stored result */
  double u = dt == SS_DTYPE_F32 ? 6e-8 : dt == SS_DTYPE_F16 ? 4.9e-4 : 3.9e-3;
  g_autofree double *ref = g_memdup2 (c0, c_len * sizeof (double));
  g_autofree double *tol = g_new0 (double, c_len);
  for (int bz = 0; bz < batch; bz++)
    for (int i = 0; i < m; i++)
      for (int j = 0; j < n; j++)
        {
          double sum = 0, mag = 0;
          for (int kk = 0; kk < k; kk++)
            {
              double x = a[a_off + bz * a_bs + i * a_rs + kk * a_cs] *
                         b[b_off + bz * b_bs + kk * b_rs + j * b_cs];
              sum += x;
              mag += fabs (x);
            }
          gint64 ci = c_off + bz * c_bs + i * c_rs + j;
          double v = alpha * sum, vmag = fabs (alpha) * mag;
          if (beta != 0.0f)
            v += beta * c0[ci], vmag += fabs (beta * c0[ci]);
          if (bias_mode != SS_GEMM_BIAS_NONE)
            {
              double bv = bias[bias_off + (bias_mode == SS_GEMM_BIAS_COL ? j : i)];
              v += bv;
              vmag += fabs (bv);
            }
          ref[ci] = v;
          tol[ci] = 2 * (u + k * 6e-8) * (vmag + fabs (v)) + 1e-6;
        }
  SsGemmOperand A = { At, At->offset + a_off, a_bs, a_rs, a_cs };
  SsGemmOperand B = { Bt, Bt->offset + b_off, b_bs, b_rs, b_cs };
  SsGemmOperand C = { Ct, Ct->offset + c_off, c_bs, c_rs, 1 };
  SsTensor bview = *Biast;
  bview.offset += bias_off;
  g_autoptr (GError) error = NULL;
  g_assert_true (ss_gemm (&A, &B, &C, batch, m, n, k, alpha, beta,
                          bias_mode ? &bview : NULL, bias_mode, &error));
  g_assert_no_error (error);
  g_autofree double *got = download (Ct);
  ss_assert_close ("gemm", ref, got, c_len, thr (dt, 1));
  gint64 bad = 0;
  for (gint64 i = 0; i < c_len; i++)
    if (!(fabs (got[i] - ref[i]) <= tol[i]))
      {
        if (bad++ < 3)
          g_test_message ("gemm: C[%" G_GINT64_FORMAT "] = %.9g, want %.9g (+- %.3g)",
                          i, got[i], ref[i], tol[i]);
      }
  if (bad)
    {
      g_test_message ("gemm: %" G_GINT64_FORMAT " of %" G_GINT64_FORMAT " elements differ", bad, c_len);
      g_test_fail ();
    }
}

static void
test_gemm_kernels (void)
{
  const SsGemmPortable kinds[] = { SS_GEMM_PORTABLE_SMALL, SS_GEMM_PORTABLE_BIG,
                                   SS_GEMM_PORTABLE_REG, SS_GEMM_PORTABLE_REG_K16 };
  const char *kind_names[] = { "small", "big", "new", "new16" };
  SsGemmPortable saved = ss_gemm_get_portable ();
  for (guint ki = 0; ki < G_N_ELEMENTS (kinds); ki++)
    for (int trial = 0; trial < 18; trial++)
      {
        ss_gemm_set_portable (kinds[ki]);
        int la = trial % 3, lb = (trial / 3) % 3;   /* 0 row-major, 1 transposed, 2 no unit stride */
        gboolean aligned = trial < 9 || trial == 17;
        SsDType dt = (la + lb + (trial >= 9)) % 3;  /* each layout pair in two dtypes */
        int batch = ss_rng_int (&rng, 1, 3);
        int m, n, k;
        if (aligned)
          {
            /* multiples of 4 (4-element loads), not of the tiles; n ragged
             * in every other trial (4-column stores with an element tail) */
            m = 4 * ss_rng_int (&rng, 1, 67);
            k = 4 * ss_rng_int (&rng, 1, 37);
            n = 4 * ss_rng_int (&rng, 1, 67) + (trial % 2 ? 0 : trial % 4 ? 1 : 3);
          }
        else
          {
            /* element loads: mostly 3 past a multiple of 4, so that the last
             * group along each dim has one element outside */
            gboolean r3 = trial % 4 != 2;
            m = 4 * ss_rng_int (&rng, 0, 67) + (r3 ? 3 : 1);
            n = 4 * ss_rng_int (&rng, 0, 67) + (r3 ? 3 : 2);
            k = 4 * ss_rng_int (&rng, 0, 37) + (r3 ? 3 : 1);
          }
        if (trial == 16)
          m = 1, n = 300, k = 3;   /* one row, one partial k-slice */
        if (trial == 17)
          m = 256, n = 128, k = 64;  /* whole tiles */
        gboolean a_shared = trial % 4 == 1, b_shared = trial % 4 == 2;
        float alpha = trial % 5 == 0 ? 0.75f : 1.0f;
        float beta = trial % 2 ? 0.5f : 0.0f;
        SsGemmBias bias_mode = (trial / 2) % 3;
        int pad = aligned ? 4 : 1;
        /* A(b, i, kk) at a_off + b*a_bs + i*a_rs + kk*a_cs */
        gint64 a_rs, a_cs, a_bs, b_rs, b_cs, b_bs;
        if (la == 0)
          a_cs = 1, a_rs = k + (aligned ? (4 - k % 4) % 4 : 1), a_bs = m * a_rs + pad;
        else if (la == 1)
          a_rs = 1, a_cs = m + (aligned ? (4 - m % 4) % 4 : 1), a_bs = k * a_cs + pad;
        else
          a_cs = 2, a_rs = 2 * k + 1, a_bs = m * a_rs + pad;
        if (lb == 0)
          b_cs = 1, b_rs = n + (aligned ? (4 - n % 4) % 4 + 4 : 1), b_bs = k * b_rs + pad;
        else if (lb == 1)
          b_rs = 1, b_cs = k + (aligned ? (4 - k % 4) % 4 : 3), b_bs = n * b_cs + pad;
        else
          b_rs = 3 * n, b_cs = 3, b_bs = k * b_rs + pad;
        if (a_shared)
          a_bs = 0;
        if (b_shared)
          b_bs = 0;
        gint64 a_off = aligned ? 8 : 3, b_off = aligned ? 4 : 1, c_off = aligned ? 4 : 2;
        gint64 c_rs = aligned ? n + (4 - n % 4) % 4 + 4 : n + 1, c_bs = m * c_rs + (aligned ? 8 : 3);
        GemmCase gc = {
          .label = kind_names[ki], .dt = dt, .batch = batch, .m = m, .n = n, .k = k,
          .a_off = a_off, .a_bs = a_bs, .a_rs = a_rs, .a_cs = a_cs,
          .b_off = b_off, .b_bs = b_bs, .b_rs = b_rs, .b_cs = b_cs,
          .c_off = c_off, .c_bs = c_bs, .c_rs = c_rs,
          .alpha = alpha, .beta = beta, .bias_mode = bias_mode,
        };
        check_gemm (&gc);
      }
  ss_gemm_set_portable (saved);
}

/* fp16 and bf16 products in whole tensor-core tiles (multiples of 256 x 256
 * x 64) and with edge tiles in M and N, the shapes the workgroup-scope kernels
 * (matmul_cm2, matmul_cm2_bf16) take on the H100: every operand layout, bias
 * per column and per row, alpha, shared B, and one with beta (which goes to the subgroup kernel for fp16, the
 * portable one for bf16). With workgroup-scope matrices every fp16 variant
 * (SOUNDSTAGE_CM2) runs each case; on other devices the cases check whatever
 * kernel they take. */
static void
test_gemm_tiles (void)
{
  g_autoptr (GError) error = NULL;
  SsGpuDevice *dev = ss_gpu_device_get_default (&error);
  g_assert_no_error (error);
  const char *variants[] = { "q8", "w4", "w8", "n64", "p8", "ta", "tc", "b256" };
  guint n_variants = ss_gpu_device_use_coopmat_wg (dev) ? G_N_ELEMENTS (variants) : 1;
  g_autofree char *saved = g_strdup (g_getenv ("SOUNDSTAGE_CM2"));
  /* the fp16 variants, then bf16 (one kernel) */
  for (guint v = 0; v <= n_variants; v++)
    for (int trial = 0; trial < 17; trial++)
      {
        gboolean bf16 = v == n_variants;
        g_setenv ("SOUNDSTAGE_CM2", bf16 ? "q8" : variants[v], TRUE);
        int la = trial % 2, lb = (trial / 2) % 2;
        int batch = trial % 3 == 0 ? 2 : 1;
        /* K steps of 32: 1 to 6 (the prologues of the prefetching variants) */
        static const int ks[] = { 128, 32, 96, 192, 64, 160 };
        int m = trial == 5 ? 512 : 256, n = trial == 6 ? 512 : 256, k = ks[trial % 6];
        /* edge tiles in M and N (trials 13-16; the contiguous extent of A
         * and B stays a multiple of 8) */
        static const int edge_m[] = { 264, 201, 72, 129 }, edge_n[] = { 136, 150, 99, 200 };
        if (trial >= 13)
          m = edge_m[trial - 13], n = edge_n[trial - 13];
        /* leading dimensions: exact or padded by a vector */
        gint64 pad = trial % 3 == 1 ? 8 : 0;
        GemmCase gc = {
          .label = bf16 ? "bf16" : variants[v], .dt = bf16 ? SS_DTYPE_BF16 : SS_DTYPE_F16, .batch = batch, .m = m, .n = n, .k = k,
          .a_off = 8, .b_off = 16, .c_off = 8,
          .alpha = trial % 4 == 1 ? 0.75f : 1.0f,
          .beta = trial == 12 ? 0.5f : 0.0f,
          .bias_mode = trial % 3,
        };
        if (la == 0)
          gc.a_cs = 1, gc.a_rs = k + pad, gc.a_bs = m * gc.a_rs + 8;
        else
          gc.a_rs = 1, gc.a_cs = m + pad, gc.a_bs = k * gc.a_cs + 8;
        if (lb == 0)
          gc.b_cs = 1, gc.b_rs = n + pad, gc.b_bs = k * gc.b_rs;
        else
          gc.b_rs = 1, gc.b_cs = k + pad, gc.b_bs = n * gc.b_cs;
        if (trial % 5 == 0)
          gc.b_bs = 0;    /* one weight for the batch */
        gc.c_rs = n + pad + 8;
        gc.c_bs = m * gc.c_rs + 16;
        check_gemm (&gc);
      }
  if (saved)
    g_setenv ("SOUNDSTAGE_CM2", saved, TRUE);
  else
    g_unsetenv ("SOUNDSTAGE_CM2");
}

static void
test_linear (void)
{
  for (int trial = 0; trial < 8; trial++)
    {
      SsDType dt = trial % 3;
      gboolean has_bias = trial < 3 || trial == 6;
      int rows = ss_rng_int (&rng, 1, 100), in = ss_rng_int (&rng, 1, 80), out = ss_rng_int (&rng, 1, 80);
      if (trial >= 6)
        {
          /* fp16 sizes that take the cooperative-matrix GEMM (bias epilogue,
           * transposed operands in backward) on GPUs that have it */
          dt = SS_DTYPE_F16;
          rows = 96;
          in = 64;
          out = 72;
        }
      g_test_message ("linear %s rows %d in %d out %d bias %d", ss_dtype_name (dt), rows, in, out, has_bias);
      g_autofree double *x = rand_array (rows * in, -1, 1);
      g_autofree double *w = rand_array (out * in, -1, 1);
      g_autofree double *bias = rand_array (out, -1, 1);
      /* x as [2, rows/2.., in] exercises leading dims */
      g_autoptr (SsTensor) X = upload (dt, 2, SS_SHAPE (rows, in), x, TRUE);
      g_autoptr (SsTensor) W = upload (dt, 2, SS_SHAPE (out, in), w, TRUE);
      g_autoptr (SsTensor) Bi = upload (dt, 1, SS_SHAPE (out), bias, TRUE);
      g_autoptr (GError) error = NULL;
      g_autoptr (SsTensor) Y = ss_op_linear (X, W, has_bias ? Bi : NULL, &error);
      g_assert_no_error (error);
      g_autofree double *ref = g_new0 (double, rows * out);
      ss_ref_linear (x, w, has_bias ? bias : NULL, ref, rows, in, out);
      g_autofree double *got = download (Y);
      ss_assert_close ("linear", ref, got, rows * out, thr (dt, 1));

      g_autofree double *gy = rand_array (rows * out, -1, 1);
      backward_with (Y, gy);
      g_autofree double *dx = g_new0 (double, rows * in);
      g_autofree double *dw = g_new0 (double, out * in);
      g_autofree double *db = g_new0 (double, out);
      ss_ref_linear_backward (x, w, gy, dx, dw, db, rows, in, out);
      check_grad ("linear dx", X, dx, thr (dt, 4));
      check_grad ("linear dw", W, dw, thr (dt, 4));
      if (has_bias)
        check_grad ("linear db", Bi, db, thr (dt, 4));
      else
        g_assert_null (Bi->grad);
    }
}

/* ----------------------------------------------------------- attention */

typedef struct {
  SsRefAttn p;
  int mask_kind;   /* 0 none, 1 [Lq,Lk], 2 [B,1,Lq,Lk], 3 [Lq,Lk] one element into its buffer */
} AttnCase;

static void
run_attention_case (SsDType dt, AttnCase *c)
{
  SsRefAttn *p = &c->p;
  g_test_message ("attention %s B %d H %d Lq %d Lk %d D %d Dv %d causal %d mask %d",
                  ss_dtype_name (dt), p->b, p->h, p->lq, p->lk, p->d, p->dv, p->causal, c->mask_kind);
  size_t nq = (size_t) p->b * p->h * p->lq * p->d, nk = (size_t) p->b * p->h * p->lk * p->d;
  size_t nv = (size_t) p->b * p->h * p->lk * p->dv, no = (size_t) p->b * p->h * p->lq * p->dv;
  g_autofree double *q = rand_array (nq, -1, 1);
  g_autofree double *k = rand_array (nk, -1, 1);
  g_autofree double *v = rand_array (nv, -1, 1);
  size_t nm = c->mask_kind == 2 ? (size_t) p->b * p->lq * p->lk : (size_t) p->lq * p->lk;
  g_autofree double *mask = c->mask_kind ? rand_array (nm, -2, 2) : NULL;
  if (mask)
    for (size_t i = 0; i < nm; i += 7)
      mask[i] = -INFINITY;   /* some hard-masked positions */
  g_autoptr (SsTensor) Q = upload (dt, 4, SS_SHAPE (p->b, p->h, p->lq, p->d), q, TRUE);
  g_autoptr (SsTensor) K = upload (dt, 4, SS_SHAPE (p->b, p->h, p->lk, p->d), k, TRUE);
  g_autoptr (SsTensor) V = upload (dt, 4, SS_SHAPE (p->b, p->h, p->lk, p->dv), v, TRUE);
  g_autoptr (SsTensor) M = NULL;
  if (c->mask_kind == 1)
    M = upload (dt, 2, SS_SHAPE (p->lq, p->lk), mask, FALSE);
  else if (c->mask_kind == 2)
    M = upload (dt, 4, SS_SHAPE (p->b, 1, p->lq, p->lk), mask, FALSE);
  else if (c->mask_kind == 3)
    {
      /* a contiguous view at element offset 1 */
      g_autofree double *m1 = g_new0 (double, nm + 1);
      memcpy (m1 + 1, mask, nm * sizeof *mask);
      g_autoptr (SsTensor) all = upload (dt, 1, SS_SHAPE ((gint64) nm + 1), m1, FALSE);
      g_autoptr (GError) error = NULL;
      g_autoptr (SsTensor) tail = ss_tensor_slice (all, 0, 1, (gint64) nm + 1, &error);
      g_assert_no_error (error);
      M = ss_tensor_reshape (tail, 2, SS_SHAPE (p->lq, p->lk), &error);
      g_assert_no_error (error);
      g_assert_cmpint (M->offset, ==, 1);
      memcpy (mask, m1 + 1, nm * sizeof *mask);   /* as quantized */
    }
  p->mask = mask;
  p->mask_hstride = 0;
  p->mask_bstride = c->mask_kind == 2 ? (size_t) p->lq * p->lk : 0;
  g_autoptr (GError) error = NULL;
  g_autoptr (SsTensor) O = ss_op_attention (Q, K, V, M, p->causal, (float) p->scale, &error);
  g_assert_no_error (error);
  g_autofree double *ref = g_new0 (double, no);
  ss_ref_attention (p, q, k, v, ref, NULL);
  g_autofree double *got = download (O);
  ss_assert_close ("attention", ref, got, no, thr (dt, 2));

  g_autofree double *w = rand_array (no, -1, 1);
  backward_with (O, w);
  g_autofree double *dq = g_new0 (double, nq);
  g_autofree double *dk = g_new0 (double, nk);
  g_autofree double *dv = g_new0 (double, nv);
  ss_ref_attention_backward (p, q, k, v, w, dq, dk, dv);
  check_grad ("attention dq", Q, dq, thr (dt, 10));
  check_grad ("attention dk", K, dk, thr (dt, 10));
  check_grad ("attention dv", V, dv, thr (dt, 10));
}

/* The probe of the accumulator layout that decides whether the one-pass
 * tensor-core attention may run: the layout NVIDIA's driver reported on the
 * H100 is accepted with the offsets the kernel needs; layouts the kernel's
 * row arithmetic would get wrong are refused. Pure host logic (lavapipe has
 * no cooperative matrices; the kernel itself is checked on NVIDIA by
 * test_attention's fp16 cases). */
static void
fill_probe (float *out, const guint rowoff[8], const guint coloff[8])
{
  out[0] = 8;
  for (guint lane = 0; lane < 32; lane++)
    for (guint i = 0; i < 16; i++)
      out[1 + lane * 16 + i] = i < 8 ? (float) ((lane / 4 + rowoff[i]) * 16 + 2 * (lane % 4) + coloff[i]) : -1.0f;
}

static void
test_attention_layout_probe (void)
{
  float out[1 + 32 * 16];
  guint32 spec[2];
  char why[96];
  /* H100: components 0-3 row l/4, 4-7 row l/4 + 8; columns 2(l%4) + 0,1,8,9 */
  const guint h100_rows[8] = { 0, 0, 0, 0, 8, 8, 8, 8 }, h100_cols[8] = { 0, 1, 8, 9, 0, 1, 8, 9 };
  fill_probe (out, h100_rows, h100_cols);
  g_assert_true (ss_attention_flash_layout_parse (out, spec, why, sizeof why));
  g_assert_cmphex (spec[0], ==, 0xf0);
  g_assert_cmphex (spec[1], ==, 0x98109810);
  /* the PTX mma fragment order (rows alternate in pairs) */
  const guint mma_rows[8] = { 0, 0, 8, 8, 0, 0, 8, 8 }, mma_cols[8] = { 0, 1, 0, 1, 8, 9, 8, 9 };
  fill_probe (out, mma_rows, mma_cols);
  g_assert_true (ss_attention_flash_layout_parse (out, spec, why, sizeof why));
  g_assert_cmphex (spec[0], ==, 0xcc);
  g_assert_cmphex (spec[1], ==, 0x98981010);
  /* a transposed layout (a lane's components along a column) */
  fill_probe (out, h100_rows, h100_cols);
  for (guint lane = 0; lane < 32; lane++)
    for (guint i = 0; i < 8; i++)
      {
        guint e = (guint) out[1 + lane * 16 + i];
        out[1 + lane * 16 + i] = (float) ((e % 16) * 16 + e / 16);
      }
  g_assert_false (ss_attention_flash_layout_parse (out, spec, why, sizeof why));
  g_test_message ("transposed: %s", why);
  /* still a permutation, but two lanes of different quads trade rows / columns */
  fill_probe (out, h100_rows, h100_cols);
  float t = out[1 + 17 * 16 + 3];
  out[1 + 17 * 16 + 3] = out[1 + 21 * 16 + 3];
  out[1 + 21 * 16 + 3] = t;
  g_assert_false (ss_attention_flash_layout_parse (out, spec, why, sizeof why));
  fill_probe (out, h100_rows, h100_cols);
  t = out[1 + 9 * 16 + 2];
  out[1 + 9 * 16 + 2] = out[1 + 10 * 16 + 2];
  out[1 + 10 * 16 + 2] = t;
  g_assert_false (ss_attention_flash_layout_parse (out, spec, why, sizeof why));
  /* an element held twice, a different count */
  fill_probe (out, h100_rows, h100_cols);
  out[1 + 5 * 16 + 1] = out[1 + 5 * 16 + 0];
  g_assert_false (ss_attention_flash_layout_parse (out, spec, why, sizeof why));
  fill_probe (out, h100_rows, h100_cols);
  out[0] = 16;
  g_assert_false (ss_attention_flash_layout_parse (out, spec, why, sizeof why));

  /* workgroup scope (coopmat_probe_wg): the H100's layouts (8 warps, S 128 x 64
   * and O 128 x 128; 4 warps, S 64 x 32 and O 64 x 128), then with two
   * components traded between warps of different row halves, with rows and
   * columns swapped within a quad, and with another count */
  g_autofree float *wg = g_new (float, 2 + 256 * 64 + 256 * 128);
  for (guint shape = 0; shape < 2; shape++)
    for (guint round = 0; round < 4; round++)
      {
        guint nt = shape ? 128 : 256, rows = shape ? 64 : 128, cols[2] = { shape ? 32 : 64, 128 };
        guint wn = nt / 64;
        for (guint m = 0; m < 2; m++)
          {
            guint cw = cols[m] / wn, n = rows * cols[m] / nt, stride = m ? 128 : 64;
            float *comps = wg + 2 + (m ? nt * 64 : 0);
            wg[m] = (float) (round == 3 && m == 1 ? 2 * n : n);
            for (guint inv = 0; inv < nt; inv++)
              for (guint i = 0; i < stride; i++)
                {
                  guint w = inv / 32, lane = inv % 32;
                  guint quad = round == 2 ? lane % 4 : lane / 4, in_quad = round == 2 ? lane / 4 % 4 : lane % 4;
                  guint row = rows / 2 * (w / wn) + 8 * (i / (cw / 4)) + quad;
                  guint col = cw * (w % wn) + 8 * ((i % (cw / 4)) / 2) + 2 * in_quad + i % 2;
                  comps[inv * stride + i] = i < n ? (float) (row * cols[m] + col) : -1.0f;
                }
          }
        if (round == 1)
          {
            float *c0 = wg + 2 + 40 * 64 + 5, *c1 = wg + 2 + (nt - 30) * 64 + 5, t = *c0;
            *c0 = *c1;
            *c1 = t;
          }
        gboolean ok = ss_attention_cm2_layout_check (wg, nt, rows, cols[0], cols[1], why, sizeof why);
        g_assert_true (ok == (round == 0));
        if (!ok)
          g_test_message ("workgroup layout %u/%u: %s", shape, round, why);
      }
}

static void
test_attention (void)
{
  int dims[] = { 8, 16, 64, 128 };
  for (int trial = 0; trial < 9; trial++)
    {
      SsDType dt = trial % 3;
      AttnCase c = { 0 };
      c.p.b = ss_rng_int (&rng, 1, 2);
      c.p.h = ss_rng_int (&rng, 1, 3);
      c.p.lq = ss_rng_int (&rng, 1, 45);
      c.p.lk = trial % 2 ? ss_rng_int (&rng, 1, 50) : c.p.lq;   /* cross-attention */
      c.p.d = dims[trial % 4];
      c.p.dv = trial == 5 ? 24 : c.p.d;
      c.p.scale = 1.0 / sqrt (c.p.d);
      c.p.causal = trial % 3 == 1;
      c.mask_kind = trial % 3 == 2 ? 1 + trial / 5 : 0;
      run_attention_case (dt, &c);
    }
  /* head sizes that are not multiples of 4: the row kernels' element-wise
   * loads (4-element loads elsewhere) */
  for (int trial = 0; trial < 3; trial++)
    {
      AttnCase c = { 0 };
      c.p.b = 2;
      c.p.h = 2;
      c.p.lq = 7 + trial;
      c.p.lk = trial == 2 ? 300 : 9;    /* the last: a few queries over many keys */
      c.p.lq = trial == 2 ? 2 : c.p.lq;
      c.p.d = 6 + trial;
      c.p.dv = 10 - trial;
      c.p.scale = 1.0 / sqrt (c.p.d);
      c.p.causal = trial == 1;
      run_attention_case ((SsDType) trial, &c);
    }
  /* keys beyond the one-thread-per-row kernel's range (Lk > 256): the tiled kernel */
  for (int trial = 0; trial < 3; trial++)
    {
      AttnCase c = { 0 };
      c.p.b = 1;
      c.p.h = 2;
      c.p.lq = 19 + trial;
      c.p.lk = 270 + 7 * trial;
      c.p.d = c.p.dv = trial == 1 ? 128 : 64;
      c.p.scale = 1.0 / sqrt (c.p.d);
      c.p.causal = trial == 2;
      c.mask_kind = trial == 0 ? 1 : 0;
      run_attention_case ((SsDType) trial, &c);
    }
  /* a few queries over many keys (a CLS token over a clip): keys split in a workgroup */
  for (int trial = 0; trial < 3; trial++)
    {
      AttnCase c = { 0 };
      c.p.b = 2;
      c.p.h = 3;
      c.p.lq = 1 + 5 * trial;
      c.p.lk = 300 + 181 * trial;
      c.p.d = trial == 2 ? 128 : 64;
      c.p.dv = trial == 1 ? 40 : c.p.d;
      c.p.scale = 1.0 / sqrt (c.p.d);
      c.p.causal = trial == 1;
      c.mask_kind = trial == 2 ? 1 : 0;
      run_attention_case ((SsDType) ((trial + 1) % 3), &c);
    }
  /* divided attention in time: very many tiny groups (more than 65535 batch*heads) */
  {
    AttnCase c = { 0 };
    c.p.b = 17000;
    c.p.h = 4;
    c.p.lq = c.p.lk = 2;
    c.p.d = c.p.dv = 8;
    c.p.scale = 1.0 / sqrt (c.p.d);
    run_attention_case (SS_DTYPE_F16, &c);
  }
  /* fp16 shapes eligible for the cooperative-matrix kernel on GPUs with it */
  for (int trial = 0; trial < 3; trial++)
    {
      AttnCase c = { 0 };
      c.p.b = 1;
      c.p.h = 2;
      c.p.lq = trial == 2 ? 64 : 128;
      c.p.lk = trial == 1 ? 64 : 128;
      c.p.d = c.p.dv = trial == 2 ? 128 : 64;
      c.p.scale = 1.0 / sqrt (c.p.d);
      c.p.causal = trial == 0;
      c.mask_kind = trial == 1 ? 1 : 0;
      run_attention_case (SS_DTYPE_F16, &c);
    }
  /* fp16 lengths that are not multiples of 64 (ragged last blocks in the
   * tensor-core kernel): a space-attention group (197 tokens), cross-attention
   * with a per-batch mask, causal */
  for (int trial = 0; trial < 3; trial++)
    {
      AttnCase c = { 0 };
      c.p.b = trial == 1 ? 2 : 1;
      c.p.h = trial == 2 ? 3 : 2;
      c.p.lq = trial == 0 ? 197 : trial == 1 ? 100 : 70;
      c.p.lk = trial == 0 ? 197 : trial == 1 ? 150 : 90;
      c.p.d = c.p.dv = trial == 1 ? 128 : 64;
      c.p.scale = 1.0 / sqrt (c.p.d);
      c.p.causal = trial == 2;
      c.mask_kind = trial == 1 ? 2 : 0;
      run_attention_case (SS_DTYPE_F16, &c);
    }
  /* fp16, head size 64 and 128, neither mask nor causality: the workgroup-scope kernel
   * on GPUs with it (several query and key blocks, the last of each ragged;
   * scores spread wider than the random default); bf16 at head size 64, also
   * causal: its bf16 form; fp16 at head size 64 with a mask [Lq, Lk] and a
   * per-batch one [B, 1, Lq, Lk]: its masked form (mask rows of 331 and 260
   * elements: copied to padded rows first; of 264: read in place, or copied
   * where the mask starts one element into its buffer); bf16 with a mask
   * [Lq, Lk] of rows of 331 (copied) and a per-batch one of 264: the bf16
   * masked form */
  for (int trial = 0; trial < 10; trial++)
    {
      AttnCase c = { 0 };
      c.p.b = 2;
      c.p.h = 2;
      c.p.lq = trial == 1 ? 256 : trial == 5 ? 140 : 300;
      c.p.lk = trial == 1 ? 201 : trial == 3 ? 300 : trial == 5 ? 260 : trial == 6 || trial == 7 || trial == 9 ? 264 : 331;
      c.p.d = c.p.dv = trial == 1 ? 128 : 64;
      c.p.scale = 4.0 / sqrt (c.p.d);
      c.p.causal = trial == 3;
      c.mask_kind = trial == 4 || trial == 6 || trial == 8 ? 1 : trial == 5 || trial == 9 ? 2 : trial == 7 ? 3 : 0;
      run_attention_case (trial == 2 || trial == 3 || trial >= 8 ? SS_DTYPE_BF16 : SS_DTYPE_F16, &c);
    }
  /* the tensor-core backward at head size 128 (blocks of 32 queries): causal
   * and ragged without a mask, several key and query blocks */
  {
    AttnCase c = { 0 };
    c.p.b = 1;
    c.p.h = 2;
    c.p.lq = c.p.lk = 150;
    c.p.d = c.p.dv = 128;
    c.p.scale = 1.0 / sqrt (c.p.d);
    c.p.causal = TRUE;
    run_attention_case (SS_DTYPE_F16, &c);
  }
}

/* divided space-time attention on a packed qkv (inference kernel) against a
 * direct double-precision computation */
static void
test_divided_attention (void)
{
  struct { int b, heads, dh, frames, patches; gboolean time; SsDType dt; } cases[] = {
    { 2, 2, 8, 3, 5, TRUE, SS_DTYPE_F32 },  { 1, 3, 40, 4, 6, FALSE, SS_DTYPE_F16 },
    { 2, 2, 100, 2, 9, TRUE, SS_DTYPE_BF16 }, { 1, 4, 64, 8, 49, FALSE, SS_DTYPE_F32 },
    /* head size 64 in fp16 and bf16: the space half on workgroup-scope
     * matrices where the GPU has them (130 patches: two query blocks) */
    { 2, 2, 64, 3, 130, FALSE, SS_DTYPE_F16 }, { 2, 3, 64, 2, 20, FALSE, SS_DTYPE_BF16 },
  };
  for (guint ci = 0; ci < G_N_ELEMENTS (cases); ci++)
    {
      int B = cases[ci].b, H = cases[ci].heads, dh = cases[ci].dh, F = cases[ci].frames, P = cases[ci].patches;
      int D = H * dh, N = 1 + F * P;
      gboolean tm = cases[ci].time;
      SsDType dt = cases[ci].dt;
      g_test_message ("divided attention %s B %d heads %d dh %d frames %d patches %d %s", ss_dtype_name (dt),
                      B, H, dh, F, P, tm ? "time" : "space");
      size_t n = (size_t) B * N * 3 * D;
      g_autofree double *x = rand_array (n, -1, 1);
      g_autoptr (SsTensor) X = upload (dt, 3, SS_SHAPE (B, N, 3 * D), x, FALSE);
      g_autoptr (GError) error = NULL;
      g_autoptr (SsTensor) O = ss_op_divided_attention (X, H, F, tm, &error);
      g_assert_no_error (error);
      g_autofree double *got = download (O);
      g_autofree double *ref = g_new0 (double, (size_t) B * N * D);
      g_autofree int *keys = g_new (int, N);
      g_autofree double *w = g_new (double, N);
      for (int b = 0; b < B; b++)
        for (int t = 0; t < N; t++)
          for (int h = 0; h < H; h++)
            {
              int nk = 0;
              if (t == 0)
                for (int j = 0; j < N; j++)
                  keys[nk++] = j;
              else
                {
                  int f = (t - 1) / P, pp = (t - 1) % P;
                  keys[nk++] = 0;
                  for (int j = 0; j < (tm ? F : P); j++)
                    keys[nk++] = tm ? 1 + j * P + pp : 1 + f * P + j;
                }
              const double *qr = x + ((size_t) b * N + t) * 3 * D + h * dh;
              double mx = -INFINITY, sum = 0;
              for (int j = 0; j < nk; j++)
                {
                  const double *kr = x + ((size_t) b * N + keys[j]) * 3 * D + D + h * dh;
                  double s = 0;
                  for (int c = 0; c < dh; c++)
                    s += qr[c] * kr[c];
                  w[j] = s / sqrt (dh);
                  mx = MAX (mx, w[j]);
                }
              for (int j = 0; j < nk; j++)
                sum += (w[j] = exp (w[j] - mx));
              double *o = ref + ((size_t) b * N + t) * D + h * dh;
              for (int j = 0; j < nk; j++)
                {
                  const double *vr = x + ((size_t) b * N + keys[j]) * 3 * D + 2 * D + h * dh;
                  for (int c = 0; c < dh; c++)
                    o[c] += w[j] / sum * vr[c];
                }
            }
      ss_assert_close ("divided attention", ref, got, (size_t) B * N * D, thr (dt, 2));
    }
  /* training takes the autograd path: the fused kernel refuses a tensor that needs a gradient */
  g_autofree double *x = rand_array (3 * 3 * 6, -1, 1);
  g_autoptr (SsTensor) X = upload (SS_DTYPE_F32, 3, SS_SHAPE (1, 3, 6), x, TRUE);
  g_autoptr (GError) error = NULL;
  g_assert_null (ss_op_divided_attention (X, 1, 2, TRUE, &error));
  g_assert_error (error, SS_ERROR, SS_ERROR_UNSUPPORTED);
}

/* --------------------------------------------------- finite differences */

typedef struct {
  SsTensor *(*fwd) (double *x, void *ud);
  double *x;
  double *w;
  gint64 ny;
  void *ud;
} FdCtx;

static double
fd_loss (void *user)
{
  FdCtx *c = user;
  g_autoptr (SsTensor) y = c->fwd (c->x, c->ud);
  g_autofree double *yv = download (y);
  return ss_check_dot (c->w, yv, c->ny);
}

typedef struct {
  int b, m, n, k;
  double *other;
} MmFd;

static SsTensor *
mm_fwd (double *x, void *ud)
{
  MmFd *f = ud;
  SS_NO_GRAD_SCOPE;
  g_autoptr (SsTensor) A = upload (SS_DTYPE_F32, 3, SS_SHAPE (f->b, f->m, f->k), x, FALSE);
  g_autoptr (SsTensor) B = upload (SS_DTYPE_F32, 3, SS_SHAPE (f->b, f->n, f->k), f->other, FALSE);
  return ss_op_matmul (A, B, FALSE, TRUE, NULL);
}

typedef struct {
  int b, h, l, d;
  double *k, *v;
} AtFd;

static SsTensor *
at_fwd (double *x, void *ud)
{
  AtFd *f = ud;
  SS_NO_GRAD_SCOPE;
  g_autoptr (SsTensor) Q = upload (SS_DTYPE_F32, 4, SS_SHAPE (f->b, f->h, f->l, f->d), x, FALSE);
  g_autoptr (SsTensor) K = upload (SS_DTYPE_F32, 4, SS_SHAPE (f->b, f->h, f->l, f->d), f->k, FALSE);
  g_autoptr (SsTensor) V = upload (SS_DTYPE_F32, 4, SS_SHAPE (f->b, f->h, f->l, f->d), f->v, FALSE);
  return ss_op_attention (Q, K, V, NULL, TRUE, 0, NULL);
}

static void
test_finite_differences (void)
{
  g_autoptr (GError) error = NULL;
  /* matmul: gradient of sum(w * (A @ B^T)) with respect to A */
  {
    MmFd f = { 2, 5, 6, 7, NULL };
    g_autofree double *a = rand_array (f.b * f.m * f.k, -1, 1);
    g_autofree double *b = rand_array (f.b * f.n * f.k, -1, 1);
    g_autofree double *w = rand_array (f.b * f.m * f.n, -1, 1);
    f.other = b;
    g_autoptr (SsTensor) A = upload (SS_DTYPE_F32, 3, SS_SHAPE (f.b, f.m, f.k), a, TRUE);
    g_autoptr (SsTensor) B = upload (SS_DTYPE_F32, 3, SS_SHAPE (f.b, f.n, f.k), b, FALSE);
    g_autoptr (SsTensor) C = ss_op_matmul (A, B, FALSE, TRUE, &error);
    g_assert_no_error (error);
    backward_with (C, w);
    g_autofree double *ga = download (A->grad);
    FdCtx ctx = { mm_fwd, a, w, f.b * f.m * f.n, &f };
    g_assert_true (ss_check_grad_fd ("matmul fd", fd_loss, &ctx, a, f.b * f.m * f.k, ga, 1e-2, 20, &rng, 1e-5));
  }
  /* causal attention: gradient with respect to q */
  {
    AtFd f = { 1, 2, 9, 8, NULL, NULL };
    size_t n = f.b * f.h * f.l * f.d;
    g_autofree double *q = rand_array (n, -1, 1);
    g_autofree double *k = rand_array (n, -1, 1);
    g_autofree double *v = rand_array (n, -1, 1);
    g_autofree double *w = rand_array (n, -1, 1);
    f.k = k;
    f.v = v;
    g_autoptr (SsTensor) Q = upload (SS_DTYPE_F32, 4, SS_SHAPE (f.b, f.h, f.l, f.d), q, TRUE);
    g_autoptr (SsTensor) K = upload (SS_DTYPE_F32, 4, SS_SHAPE (f.b, f.h, f.l, f.d), k, FALSE);
    g_autoptr (SsTensor) V = upload (SS_DTYPE_F32, 4, SS_SHAPE (f.b, f.h, f.l, f.d), v, FALSE);
    g_autoptr (SsTensor) O = ss_op_attention (Q, K, V, NULL, TRUE, 0, &error);
    g_assert_no_error (error);
    backward_with (O, w);
    g_autofree double *gq = download (Q->grad);
    FdCtx ctx = { at_fwd, q, w, n, &f };
    g_assert_true (ss_check_grad_fd ("attention fd", fd_loss, &ctx, q, n, gq, 1e-2, 24, &rng, 1e-4));
  }
}

#include "test-ops-conv.inc"

int
main (int argc, char **argv)
{
  g_setenv ("SOUNDSTAGE_POISON", "1", TRUE);
  /* --big-tiles (matmul_big) or --gemm=small|big|new|new16: run that
   * portable GEMM kernel for every product (the 128x128 ones are otherwise
   * only chosen on GPUs, not on lavapipe) */
  for (int i = 1; i < argc; i++)
    if (g_strcmp0 (argv[i], "--big-tiles") == 0 || g_str_has_prefix (argv[i], "--gemm="))
      {
        g_setenv ("SOUNDSTAGE_GEMM_PORTABLE", argv[i][2] == 'b' ? "big" : argv[i] + 7, TRUE);
        for (int j = i; j < argc - 1; j++)
          argv[j] = argv[j + 1];
        argc--;
        i--;
      }
  g_test_init (&argc, &argv, NULL);
  ss_rng_init (&rng, ss_check_seed (20261124));
  g_test_add_func ("/ops/matmul", test_matmul);
  g_test_add_func ("/ops/gemm-kernels", test_gemm_kernels);
  g_test_add_func ("/ops/gemm-tiles", test_gemm_tiles);
  g_test_add_func ("/ops/linear", test_linear);
  g_test_add_func ("/ops/attention", test_attention);
  g_test_add_func ("/ops/attention-layout-probe", test_attention_layout_probe);
  g_test_add_func ("/ops/divided-attention", test_divided_attention);
  g_test_add_func ("/ops/finite-differences", test_finite_differences);
  add_conv_tests ();
  int r = g_test_run ();
  ss_gpu_device_shutdown ();
  return r;
}
