/* test-gpu-core.c: device init, buffer round trips, OOM as GError, tensor
 * views and conversions, autograd through views. Suite 'gpu' (lavapipe in CI). */
#include "config.h"
#include <math.h>
#include <string.h>
#include "gpu/ss-gpu.h"
#include "ss-env.h"
#include "tensor/ss-tensor.h"
#include "tensor/ss-autograd.h"
#include "tensor/ss-ops.h"
#include "tensor/ops/ss-ops-ext.h"

static void
test_device_init (void)
{
  g_autoptr (GError) error = NULL;
  SsGpuDevice *dev = ss_gpu_device_get_default (&error);
  g_assert_no_error (error);
  g_assert_nonnull (dev);
  const SsGpuCaps *c = ss_gpu_device_get_caps (dev);
  g_test_message ("device %s: subgroup %u (shuffle %d), shared %zu, storage range %" G_GUINT64_FORMAT
                  ", heap %" G_GUINT64_FORMAT ", coopmat nv %d",
                  c->name, c->subgroup_size, c->subgroup_shuffle, c->shared_memory, c->max_storage_buffer_range,
                  c->heap_size, c->coopmat_nv);
  g_assert_cmpuint (c->subgroup_size, >=, 1);
  g_assert_cmpuint (c->shared_memory, >=, 16384);
  g_assert_cmpuint (c->max_storage_buffer_range, >=, 1 << 20);
  g_assert_true (c->fp16_storage);
  /* the same device is returned every time */
  g_assert_true (ss_gpu_device_get_default (NULL) == dev);
}

static void
test_buffer_roundtrip (void)
{
  g_autoptr (GError) error = NULL;
  SsGpuDevice *dev = ss_gpu_device_get_default (&error);
  g_assert_no_error (error);
  /* several sizes, including one bigger than a staging chunk would be split at */
  gsize sizes[] = { 4, 1000, 1 << 20, (gsize) 3 << 20 };
  for (guint s = 0; s < G_N_ELEMENTS (sizes); s++)
    {
      gsize n = sizes[s];
      g_autofree guint8 *in = g_malloc (n);
      g_autofree guint8 *out = g_malloc0 (n);
      for (gsize i = 0; i < n; i++)
        in[i] = (guint8) (i * 131 + s * 7 + (i >> 8));
      g_autoptr (SsGpuBuffer) b = ss_gpu_buffer_new (dev, n, &error);
      g_assert_no_error (error);
      g_assert_true (ss_gpu_buffer_upload (b, 0, in, n, &error));
      g_assert_no_error (error);
      g_assert_true (ss_gpu_buffer_download (b, 0, out, n, &error));
      g_assert_no_error (error);
      g_assert_cmpmem (in, n, out, n);
    }
  /* copy and fill through the command stream, ordered with barriers */
  g_autoptr (SsGpuBuffer) a = ss_gpu_buffer_new (dev, 4096, &error);
  g_autoptr (SsGpuBuffer) b = ss_gpu_buffer_new (dev, 4096, &error);
  g_assert_no_error (error);
  g_assert_true (ss_gpu_buffer_fill (a, 0, 4096, 0x01020304u, &error));
  g_assert_true (ss_gpu_buffer_copy (a, 0, b, 0, 4096, &error));
  g_assert_true (ss_gpu_buffer_fill (a, 0, 4096, 0, &error));
  g_assert_true (ss_gpu_buffer_copy (b, 1024, a, 0, 1024, &error));
  g_assert_no_error (error);
  guint32 words[1024];
  g_assert_true (ss_gpu_buffer_download (a, 0, words, 4096, &error));
  for (int i = 0; i < 1024; i++)
    g_assert_cmphex (words[i], ==, i < 256 ? 0x01020304u : 0u);
}

/* Work handed to the GPU without waiting (ss_gpu_device_submit, and the
 * batches the device submits itself when one fills up or the GPU runs idle)
 * stays ordered: each op reads the one before it across batch boundaries,
 * while the memory of tensors freed meanwhile is handed out again, and
 * uploads that overflow the staging buffer switch to the other batch's. */
static void
test_async_batches (void)
{
  g_autoptr (GError) error = NULL;
  SsGpuDevice *dev = ss_gpu_device_get_default (&error);
  g_assert_no_error (error);
  const gint64 n = 4096;
  SsTensor *x = ss_tensor_full (SS_DTYPE_F32, 1, SS_SHAPE (n), 0.5f, &error);
  g_assert_no_error (error);
  for (int i = 0; i < 1000; i++)
    {
      SsTensor *y = ss_op_scale (x, 1.0f, 1.0f, &error);   /* y = x + 1 */
      g_assert_no_error (error);
      ss_tensor_unref (x);
      x = y;
      if (i % 37 == 0)
        g_assert_true (ss_gpu_device_submit (dev, &error));
    }
  g_autofree float *out = ss_tensor_to_floats_dup (x, &error);
  g_assert_no_error (error);
  for (gint64 i = 0; i < n; i++)
    g_assert_cmpfloat (out[i], ==, 1000.5f);
  ss_tensor_unref (x);

  /* 5 x 24 MiB of uploads: more than one staging buffer holds */
  const gint64 m = 6 << 20;
  g_autofree float *host = g_new (float, m);
  SsTensor *t[5];
  for (int k = 0; k < 5; k++)
    {
      for (gint64 i = 0; i < m; i++)
        host[i] = (float) (k * 1000 + i % 997);
      t[k] = ss_tensor_new_from_floats (SS_DTYPE_F32, 1, SS_SHAPE (m), host, &error);
      g_assert_no_error (error);
      SsTensor *u = ss_op_scale (t[k], 2.0f, 0.0f, &error);
      g_assert_no_error (error);
      ss_tensor_unref (t[k]);
      t[k] = u;
      g_assert_true (ss_gpu_device_submit (dev, &error));
    }
  for (int k = 0; k < 5; k++)
    {
      g_autofree float *o = ss_tensor_to_floats_dup (t[k], &error);
      g_assert_no_error (error);
      for (gint64 i = 0; i < m; i += 4099)
        g_assert_cmpfloat (o[i], ==, 2.0f * (k * 1000 + i % 997));
      g_assert_cmpfloat (o[m - 1], ==, 2.0f * (k * 1000 + (m - 1) % 997));
      ss_tensor_unref (t[k]);
    }
  /* nothing recorded: submitting is a no-op, flushing returns at once */
  g_assert_true (ss_gpu_device_submit (dev, &error));
  g_assert_true (ss_gpu_device_flush (dev, &error));
  g_assert_no_error (error);
}

static void
test_oom (void)
{
  g_autoptr (GError) error = NULL;
  SsGpuDevice *dev = ss_gpu_device_get_default (&error);
  g_assert_no_error (error);
  const SsGpuCaps *c = ss_gpu_device_get_caps (dev);
  guint64 used0 = 0;
  ss_gpu_device_get_memory (dev, &used0, NULL);
  /* more than the whole heap: a clear error, no crash, and the device still works */
  SsGpuBuffer *b = ss_gpu_buffer_new (dev, c->heap_size + ((gsize) 1 << 30), &error);
  g_assert_null (b);
  g_assert_error (error, SS_ERROR, SS_ERROR_OUT_OF_MEMORY);
  g_assert_nonnull (strstr (error->message, "GPU memory"));
  g_clear_error (&error);
  /* tensors too (where a tensor of at most 2^32 elements can exceed the heap) */
  if (c->heap_size < ((guint64) 15 << 30))
    {
      SsTensor *t = ss_tensor_new (SS_DTYPE_F32, 3, SS_SHAPE (1024, 1024, (gint64) (c->heap_size >> 22) + 512), &error);
      g_assert_null (t);
      g_assert_error (error, SS_ERROR, SS_ERROR_OUT_OF_MEMORY);
      g_clear_error (&error);
    }
  guint64 used1 = 0;
  ss_gpu_device_get_memory (dev, &used1, NULL);
  g_assert_cmpuint (used0, ==, used1);
  g_autoptr (SsTensor) ok = ss_tensor_full (SS_DTYPE_F32, 1, SS_SHAPE (10), 2.5f, &error);
  g_assert_no_error (error);
  float v[10];
  g_assert_true (ss_tensor_to_floats (ok, v, &error));
  g_assert_cmpfloat (v[9], ==, 2.5f);
}

static void
test_dtype_roundtrip (void)
{
  g_autoptr (GError) error = NULL;
  float in[7] = { 0.0f, 1.0f, -2.5f, 3.14159f, 1000.0f, 1e-3f, -1e-7f };
  for (int dt = 0; dt < 3; dt++)
    {
      g_autoptr (SsTensor) t = ss_tensor_new_from_floats (dt, 1, SS_SHAPE (7), in, &error);
      g_assert_no_error (error);
      /* convert on the GPU to every dtype and back to f32 */
      for (int dt2 = 0; dt2 < 3; dt2++)
        {
          g_autoptr (SsTensor) u = ss_tensor_to_dtype (t, dt2, &error);
          g_assert_no_error (error);
          g_autoptr (SsTensor) f = ss_tensor_to_dtype (u, SS_DTYPE_F32, &error);
          g_assert_no_error (error);
          float out[7];
          g_assert_true (ss_tensor_to_floats (f, out, &error));
          double tol = (dt == SS_DTYPE_BF16 || dt2 == SS_DTYPE_BF16) ? 1.0 / 128 : dt + dt2 ? 1.0 / 1024 : 0;
          for (int i = 0; i < 7; i++)
            {
              g_assert_cmpfloat (fabs (out[i] - in[i]), <=, tol * fabs (in[i]) + 1e-7);
            }
        }
    }
}

static void
test_views (void)
{
  g_autoptr (GError) error = NULL;
  float data[2 * 3 * 4];
  for (int i = 0; i < 24; i++)
    data[i] = i;
  g_autoptr (SsTensor) t = ss_tensor_new_from_floats (SS_DTYPE_F32, 3, SS_SHAPE (2, 3, 4), data, &error);
  g_assert_no_error (error);
  /* permute (2,0,1): y[k][i][j] = x[i][j][k] */
  g_autoptr (SsTensor) p = ss_tensor_permute (t, (int[]) { 2, 0, 1 }, &error);
  g_assert_no_error (error);
  g_assert_false (ss_tensor_is_contiguous (p));
  float out[24];
  g_assert_true (ss_tensor_to_floats (p, out, &error));
  for (int k = 0; k < 4; k++)
    for (int i = 0; i < 2; i++)
      for (int j = 0; j < 3; j++)
        g_assert_cmpfloat (out[(k * 2 + i) * 3 + j], ==, data[(i * 3 + j) * 4 + k]);
  /* slice of a permuted view */
  g_autoptr (SsTensor) s = ss_tensor_slice (p, 0, 1, 3, &error);
  g_assert_no_error (error);
  g_assert_cmpint (s->shape[0], ==, 2);
  g_assert_true (ss_tensor_to_floats (s, out, &error));
  for (int k = 0; k < 2; k++)
    for (int i = 0; i < 2; i++)
      for (int j = 0; j < 3; j++)
        g_assert_cmpfloat (out[(k * 2 + i) * 3 + j], ==, data[(i * 3 + j) * 4 + k + 1]);
  /* reshape of a non-contiguous view copies */
  g_autoptr (SsTensor) r = ss_tensor_reshape (p, 2, SS_SHAPE (4, -1), &error);
  g_assert_no_error (error);
  g_assert_cmpint (r->shape[1], ==, 6);
  g_assert_true (ss_tensor_to_floats (r, out, &error));
  for (int k = 0; k < 4; k++)
    g_assert_cmpfloat (out[k * 6 + 5], ==, data[(1 * 3 + 2) * 4 + k]);
  /* bad reshape is an error, not a crash */
  g_autoptr (SsTensor) bad = ss_tensor_reshape (t, 2, SS_SHAPE (5, 5), &error);
  g_assert_null (bad);
  g_assert_error (error, SS_ERROR, SS_ERROR_INVALID_DATA);
}

static void
test_autograd_views (void)
{
  g_autoptr (GError) error = NULL;
  /* loss = sum(w * slice(permute(x))) via linear with ones: gradient lands in
   * the sliced positions of x, zero elsewhere */
  float data[12];
  for (int i = 0; i < 12; i++)
    data[i] = i * 0.5f;
  g_autoptr (SsTensor) x = ss_tensor_new_from_floats (SS_DTYPE_F32, 2, SS_SHAPE (3, 4), data, &error);
  g_assert_no_error (error);
  ss_tensor_set_requires_grad (x, TRUE);
  float wv[3] = { 1, 2, 3 };
  g_autoptr (SsTensor) w = ss_tensor_new_from_floats (SS_DTYPE_F32, 2, SS_SHAPE (1, 3), wv, &error);
  g_autoptr (SsTensor) xt = ss_tensor_transpose (x, 0, 1, &error);       /* [4, 3] */
  g_autoptr (SsTensor) xs = ss_tensor_slice (xt, 0, 1, 3, &error);        /* rows 1..2 of [4,3] */
  g_autoptr (SsTensor) y = ss_op_linear (xs, w, NULL, &error);            /* [2, 1] */
  g_assert_no_error (error);
  g_autoptr (SsTensor) yr = ss_tensor_reshape (y, 1, SS_SHAPE (2), &error);
  g_autoptr (SsTensor) one = ss_tensor_full (SS_DTYPE_F32, 2, SS_SHAPE (1, 2), 1.0f, &error);
  g_autoptr (SsTensor) loss = ss_op_linear (yr, one, NULL, &error);       /* [1] */
  g_assert_no_error (error);
  g_assert_true (ss_tensor_backward (loss, NULL, &error));
  g_assert_no_error (error);
  g_assert_nonnull (x->grad);
  float g[12];
  g_assert_true (ss_tensor_to_floats (x->grad, g, &error));
  for (int i = 0; i < 3; i++)
    for (int j = 0; j < 4; j++)
      g_assert_cmpfloat (g[i * 4 + j], ==, (j == 1 || j == 2) ? wv[i] : 0.0f);
  /* the graph was freed; a second backward through x accumulates */
  g_assert_null (loss->node);
  g_autoptr (SsTensor) y2 = ss_op_linear (x, ss_tensor_full (SS_DTYPE_F32, 2, SS_SHAPE (1, 4), 1.0f, NULL), NULL, &error);
  g_autoptr (SsTensor) y2r = ss_tensor_reshape (y2, 2, SS_SHAPE (1, 3), &error);
  g_autoptr (SsTensor) l2 = ss_op_linear (y2r, ss_tensor_full (SS_DTYPE_F32, 2, SS_SHAPE (1, 3), 1.0f, NULL), NULL, &error);
  g_assert_no_error (error);
  g_assert_true (ss_tensor_backward (l2, NULL, &error));
  g_assert_true (ss_tensor_to_floats (x->grad, g, &error));
  for (int i = 0; i < 3; i++)
    for (int j = 0; j < 4; j++)
      g_assert_cmpfloat (g[i * 4 + j], ==, ((j == 1 || j == 2) ? wv[i] : 0.0f) + 1.0f);
  /* no_grad: nothing is recorded */
  {
    SS_NO_GRAD_SCOPE;
    g_autoptr (SsTensor) z = ss_op_linear (x, w, NULL, NULL);
    g_assert_null (z);   /* shape mismatch: [3,4] x [1,3] */
    g_autoptr (SsTensor) z2 = ss_tensor_transpose (x, 0, 1, &error);
    g_assert_null (z2->node);
    g_assert_false (z2->requires_grad);
  }
}

typedef struct {
  SsTensor *w1, *w2;
} Block2;

static SsTensor *
block_fn (SsTensor *const *in, guint n, gpointer user_data, GError **error)
{
  Block2 *b = user_data;
  g_autoptr (SsTensor) h = ss_op_linear (in[0], b->w1, NULL, error);
  g_autoptr (SsTensor) ht = h ? ss_tensor_transpose (h, 0, 1, error) : NULL;   /* a view inside */
  g_autoptr (SsTensor) hc = ht ? ss_tensor_contiguous (ht, error) : NULL;
  g_autoptr (SsTensor) hb = hc ? ss_tensor_transpose (hc, 0, 1, error) : NULL;
  return hb ? ss_op_linear (hb, b->w2, NULL, error) : NULL;
}

static void
run_block (gboolean checkpoint, float *gx, float *gw1, float *gw2, float *y)
{
  g_autoptr (GError) error = NULL;
  float xv[4 * 6], w1v[5 * 6], w2v[3 * 5], wv[4 * 3];
  for (int i = 0; i < 24; i++)
    xv[i] = sinf (i * 0.7f);
  for (int i = 0; i < 30; i++)
    w1v[i] = cosf (i * 0.3f) * 0.5f;
  for (int i = 0; i < 15; i++)
    w2v[i] = sinf (i * 1.1f + 0.2f) * 0.5f;
  for (int i = 0; i < 12; i++)
    wv[i] = (i % 5) - 2.0f;
  g_autoptr (SsTensor) x = ss_tensor_new_from_floats (SS_DTYPE_F32, 2, SS_SHAPE (4, 6), xv, &error);
  Block2 b = {
    ss_tensor_new_from_floats (SS_DTYPE_F32, 2, SS_SHAPE (5, 6), w1v, &error),
    ss_tensor_new_from_floats (SS_DTYPE_F32, 2, SS_SHAPE (3, 5), w2v, &error),
  };
  g_assert_no_error (error);
  ss_tensor_set_requires_grad (x, TRUE);
  ss_tensor_set_requires_grad (b.w1, TRUE);
  ss_tensor_set_requires_grad (b.w2, TRUE);
  g_autoptr (SsTensor) out = checkpoint ? ss_autograd_checkpoint (block_fn, 1, &x, &b, &error)
                                        : block_fn (&x, 1, &b, &error);
  g_assert_no_error (error);
  if (checkpoint)
    {
      /* one node, no inner graph kept */
      g_assert_nonnull (out->node);
      g_assert_cmpstr (ss_autograd_node_name (out->node), ==, "checkpoint");
      g_assert_null (ss_autograd_node_input (out->node, 0)->node);
    }
  g_autoptr (SsTensor) gw = ss_tensor_new_from_floats (SS_DTYPE_F32, 2, SS_SHAPE (4, 3), wv, &error);
  g_assert_true (ss_tensor_to_floats (out, y, &error));
  g_assert_true (ss_tensor_backward (out, gw, &error));
  g_assert_no_error (error);
  g_assert_true (ss_tensor_to_floats (x->grad, gx, &error));
  g_assert_true (ss_tensor_to_floats (b.w1->grad, gw1, &error));
  g_assert_true (ss_tensor_to_floats (b.w2->grad, gw2, &error));
  ss_tensor_unref (b.w1);
  ss_tensor_unref (b.w2);
}

static void
test_checkpoint (void)
{
  float gx[2][24], gw1[2][30], gw2[2][15], y[2][12];
  run_block (FALSE, gx[0], gw1[0], gw2[0], y[0]);
  run_block (TRUE, gx[1], gw1[1], gw2[1], y[1]);
  /* the same kernels in the same order: identical results */
  g_assert_cmpmem (y[0], sizeof y[0], y[1], sizeof y[1]);
  g_assert_cmpmem (gx[0], sizeof gx[0], gx[1], sizeof gx[1]);
  g_assert_cmpmem (gw1[0], sizeof gw1[0], gw1[1], sizeof gw1[1]);
  g_assert_cmpmem (gw2[0], sizeof gw2[0], gw2[1], sizeof gw2[1]);
  float nz = 0;
  for (int i = 0; i < 30; i++)
    nz += fabsf (gw1[1][i]);
  g_assert_cmpfloat (nz, >, 0.1f);
}

static void
assert_values (SsTensor *t, const float *want, int n)
{
  g_autoptr (GError) error = NULL;
  float got[16];
  g_assert_cmpint (n, <=, 16);
  g_assert_true (ss_tensor_to_floats (t, got, &error));
  g_assert_no_error (error);
  for (int i = 0; i < n; i++)
    g_assert_cmpfloat (got[i], ==, want[i]);
}

/* Gradients are kept without a copy, or summed in place, only where nothing
 * else holds them: a leaf's .grad never aliases another leaf's .grad or the
 * caller's output gradient. */
static void
test_autograd_grad_ownership (void)
{
  g_autoptr (GError) error = NULL;
  float av[4] = { 1, 2, 3, 4 }, bv[4] = { -1, 0, 5, 2 }, gv[4] = { 0.5f, 1, -2, 3 };
  g_autoptr (SsTensor) a = ss_tensor_new_from_floats (SS_DTYPE_F32, 1, SS_SHAPE (4), av, &error);
  g_autoptr (SsTensor) b = ss_tensor_new_from_floats (SS_DTYPE_F32, 1, SS_SHAPE (4), bv, &error);
  g_autoptr (SsTensor) g = ss_tensor_new_from_floats (SS_DTYPE_F32, 1, SS_SHAPE (4), gv, &error);
  g_assert_no_error (error);
  ss_tensor_set_requires_grad (a, TRUE);
  ss_tensor_set_requires_grad (b, TRUE);

  /* z = a + b hands the same output gradient to both inputs */
  g_autoptr (SsTensor) z = ss_op_add (a, b, &error);
  g_assert_true (ss_tensor_backward (z, g, &error));
  g_assert_no_error (error);
  assert_values (a->grad, gv, 4);
  assert_values (b->grad, gv, 4);
  g_assert_true (a->grad->buffer != b->grad->buffer && a->grad->buffer != g->buffer);
  g_assert_true (ss_tensor_fill (a->grad, 7.0f, &error));
  assert_values (b->grad, gv, 4);
  assert_values (g, gv, 4);

  /* y = a + a: two contributions to one leaf; the caller's g is untouched */
  ss_tensor_zero_grad (a);
  g_autoptr (SsTensor) y = ss_op_add (a, a, &error);
  g_assert_true (ss_tensor_backward (y, g, &error));
  float twice[4], thrice[4];
  for (int i = 0; i < 4; i++)
    twice[i] = 2 * gv[i], thrice[i] = 3 * gv[i];
  assert_values (a->grad, twice, 4);
  assert_values (g, gv, 4);

  /* w = (a * 1) + a: a fresh gradient and a pass-through one are summed */
  ss_tensor_zero_grad (a);
  g_autoptr (SsTensor) one = ss_tensor_full (SS_DTYPE_F32, 1, SS_SHAPE (4), 1.0f, &error);
  g_autoptr (SsTensor) a1 = ss_op_mul (a, one, &error);
  g_autoptr (SsTensor) w = ss_op_add (a1, a, &error);
  g_assert_true (ss_tensor_backward (w, g, &error));
  assert_values (a->grad, twice, 4);
  assert_values (g, gv, 4);

  /* a second backward accumulates into the kept gradient */
  g_autoptr (SsTensor) v = ss_op_mul (a, one, &error);
  g_assert_true (ss_tensor_backward (v, g, &error));
  g_assert_no_error (error);
  assert_values (a->grad, thrice, 4);
  assert_values (g, gv, 4);
}

/* copies between views at element offsets, same dtype (byte copy) and
 * converting (strided kernel), including f16 at odd offsets */
static void
test_copy_views (void)
{
  g_autoptr (GError) error = NULL;
  float data[4 * 6];
  for (int i = 0; i < 24; i++)
    data[i] = i - 7;
  for (int dt = 0; dt < 2; dt++)
    {
      SsDType t = dt ? SS_DTYPE_F16 : SS_DTYPE_F32;
      g_autoptr (SsTensor) x = ss_tensor_new_from_floats (t, 2, SS_SHAPE (4, 6), data, &error);
      g_assert_no_error (error);
      /* rows 1..2 of x flattened from element 6; columns 1..4 of every row */
      g_autoptr (SsTensor) rows = ss_tensor_slice (x, 0, 1, 3, &error);
      g_autoptr (SsTensor) flat = ss_tensor_reshape (x, 1, SS_SHAPE (24), &error);
      g_autoptr (SsTensor) odd = ss_tensor_slice (flat, 0, 3, 16, &error);   /* 13 elements from 3 */
      g_autoptr (SsTensor) cols = ss_tensor_slice (x, 1, 1, 5, &error);
      g_assert_no_error (error);
      g_assert_true (ss_tensor_is_contiguous (rows) && ss_tensor_is_contiguous (odd));
      g_assert_false (ss_tensor_is_contiguous (cols));
      g_autoptr (SsTensor) rc = ss_tensor_clone (rows, &error);
      g_autoptr (SsTensor) oc = ss_tensor_clone (odd, &error);
      g_autoptr (SsTensor) cc = ss_tensor_clone (cols, &error);
      g_assert_no_error (error);
      assert_values (rc, data + 6, 12);
      assert_values (oc, data + 3, 13);
      float want[16];
      for (int r = 0; r < 4; r++)
        for (int c = 0; c < 4; c++)
          want[r * 4 + c] = data[r * 6 + 1 + c];
      assert_values (cc, want, 16);
      /* into a view at an offset: the rest of the destination is kept */
      g_autoptr (SsTensor) dst = ss_tensor_full (t, 1, SS_SHAPE (16), 100.0f, &error);
      g_autoptr (SsTensor) dv = ss_tensor_slice (dst, 0, 1, 14, &error);
      g_assert_true (ss_tensor_copy_into (dv, odd, &error));
      g_assert_no_error (error);
      float wd[16];
      for (int i = 0; i < 16; i++)
        wd[i] = i >= 1 && i < 14 ? data[3 + i - 1] : 100.0f;
      assert_values (dst, wd, 16);
      /* fill of a view: words where aligned (f32), the kernel at 16-bit offsets;
       * a 16-bit value that is not the same in both halves of a word */
      g_assert_true (ss_tensor_fill (dv, -3.0f, &error));
      g_autoptr (SsTensor) d2 = ss_tensor_slice (dst, 0, 2, 6, &error);
      g_assert_true (ss_tensor_fill (d2, 0.25f, &error));
      g_assert_no_error (error);
      for (int i = 0; i < 16; i++)
        wd[i] = i >= 2 && i < 6 ? 0.25f : i >= 1 && i < 14 ? -3.0f : 100.0f;
      assert_values (dst, wd, 16);
      /* column blocks whose offsets and strides allow 16-, 8- or 4-byte units */
      {
        float d8[32];
        for (int i = 0; i < 32; i++)
          d8[i] = i * 0.5f - 3;
        g_autoptr (SsTensor) m = ss_tensor_new_from_floats (t, 2, SS_SHAPE (4, 8), d8, &error);
        g_autoptr (SsTensor) out = ss_tensor_full (t, 2, SS_SHAPE (4, 8), 9.0f, &error);
        for (int c0 = 0; c0 <= 4; c0 += 2)
          {
            g_autoptr (SsTensor) blk = ss_tensor_slice (m, 1, c0, c0 + 4, &error);
            g_autoptr (SsTensor) bc = ss_tensor_clone (blk, &error);
            g_assert_no_error (error);
            float wb[16];
            for (int r = 0; r < 4; r++)
              for (int c = 0; c < 4; c++)
                wb[r * 4 + c] = d8[r * 8 + c0 + c];
            assert_values (bc, wb, 16);
          }
        /* concatenation-like: the two halves swapped into a destination's columns */
        g_autoptr (SsTensor) left = ss_tensor_slice (m, 1, 0, 4, &error);
        g_autoptr (SsTensor) right = ss_tensor_slice (m, 1, 4, 8, &error);
        g_autoptr (SsTensor) ol = ss_tensor_slice (out, 1, 0, 4, &error);
        g_autoptr (SsTensor) or_ = ss_tensor_slice (out, 1, 4, 8, &error);
        g_assert_true (ss_tensor_copy_into (ol, right, &error) && ss_tensor_copy_into (or_, left, &error));
        g_assert_no_error (error);
        float want2[32], got2[32];
        for (int r = 0; r < 4; r++)
          for (int c = 0; c < 8; c++)
            want2[r * 8 + c] = d8[r * 8 + (c + 4) % 8];
        g_assert_true (ss_tensor_to_floats (out, got2, &error));
        for (int i = 0; i < 32; i++)
          g_assert_cmpfloat (got2[i], ==, want2[i]);
      }
      /* a converting copy of the same view */
      g_autoptr (SsTensor) o32 = ss_tensor_to_dtype (odd, dt ? SS_DTYPE_F32 : SS_DTYPE_F16, &error);
      g_assert_no_error (error);
      assert_values (o32, data + 3, 13);
    }
}

/* the division by multiplication used by the index arithmetic of the
 * elementwise and copy kernels: exact for every divisor and dividend */
static void
test_fastdiv (void)
{
  const guint32 ds[] = { 1, 2, 3, 5, 7, 10, 33, 64, 100, 641, 1000, 1536, 4096, 65535, 65536, 65537,
                         1u << 24, (1u << 31) - 1, 1u << 31, (1u << 31) + 1, 0xfffffffeu, 0xffffffffu };
  const guint32 ns[] = { 0, 1, 2, 63, 64, 65, 1023, 1024, 65535, 65536, 1u << 31, 0xfffffffeu, 0xffffffffu };
  guint32 s = 99;
  for (guint i = 0; i < G_N_ELEMENTS (ds) + 2000; i++)
    {
      s = s * 1664525u + 1013904223u;
      guint32 d = i < G_N_ELEMENTS (ds) ? ds[i] : (i % 2 ? (s >> (s % 31)) | 1 : s % 5000 + 1);
      guint32 m, sh;
      ss_fastdiv_magic (d, &m, &sh);
      for (guint j = 0; j < G_N_ELEMENTS (ns) + 200; j++)
        {
          s = s * 1664525u + 1013904223u;
          guint32 n = j < G_N_ELEMENTS (ns) ? ns[j] : j % 3 == 0 ? d * (s % 1000) - (j & 1) : s;
          if (ss_fastdiv (n, m, sh) != n / d)
            g_error ("%u / %u: %u, want %u", n, d, ss_fastdiv (n, m, sh), n / d);
        }
    }
}

/* The engine's SOUNDSTAGE_* switches (ss-env.h): "0" off, any other value
 * on, unset or empty the default; each read once, so a later change in the
 * environment does not switch a kernel in the middle of a run. */
static void
test_env_settings (void)
{
  g_setenv ("SOUNDSTAGE_TEST_ENV_OFF", "0", TRUE);
  g_setenv ("SOUNDSTAGE_TEST_ENV_ON", "yes", TRUE);
  g_setenv ("SOUNDSTAGE_TEST_ENV_EMPTY", "", TRUE);
  g_unsetenv ("SOUNDSTAGE_TEST_ENV_UNSET");
  g_assert_false (ss_env_flag ("SOUNDSTAGE_TEST_ENV_OFF", TRUE));
  g_assert_true (ss_env_flag ("SOUNDSTAGE_TEST_ENV_ON", FALSE));
  g_assert_true (ss_env_flag ("SOUNDSTAGE_TEST_ENV_EMPTY", TRUE));
  g_assert_false (ss_env_flag ("SOUNDSTAGE_TEST_ENV_EMPTY", FALSE));
  g_assert_true (ss_env_flag ("SOUNDSTAGE_TEST_ENV_UNSET", TRUE));
  g_assert_cmpint (ss_env_choice ("SOUNDSTAGE_TEST_ENV_OFF"), ==, 0);
  g_assert_cmpint (ss_env_choice ("SOUNDSTAGE_TEST_ENV_ON"), ==, 1);
  g_assert_cmpint (ss_env_choice ("SOUNDSTAGE_TEST_ENV_UNSET"), ==, -1);
  g_assert_cmpstr (ss_env_value ("SOUNDSTAGE_TEST_ENV_ON"), ==, "yes");
  g_assert_null (ss_env_value ("SOUNDSTAGE_TEST_ENV_EMPTY"));
  g_assert_null (ss_env_value ("SOUNDSTAGE_TEST_ENV_UNSET"));
  /* read once: later changes are not seen */
  g_setenv ("SOUNDSTAGE_TEST_ENV_OFF", "1", TRUE);
  g_setenv ("SOUNDSTAGE_TEST_ENV_UNSET", "0", TRUE);
  g_assert_false (ss_env_flag ("SOUNDSTAGE_TEST_ENV_OFF", TRUE));
  g_assert_true (ss_env_flag ("SOUNDSTAGE_TEST_ENV_UNSET", TRUE));
  g_assert_cmpstr (ss_env_value ("SOUNDSTAGE_TEST_ENV_ON"), ==, "yes");
}

/* Which cooperative-matrix modules run on this device: the subgroup-scope
 * GEMM wherever the device has fp16 16x16x16 subgroup matrices (as NV's or
 * as its KHR twin, matmul_coopmat_khr), the kernels that need the NV
 * extension only where it is enabled; dispatching one anyway is an error
 * that names the extension, before anything reaches the driver. On H100s
 * the ops tests run with SOUNDSTAGE_COOPMAT_KHR=1 SOUNDSTAGE_NO_COOPMAT2=1
 * to check the KHR modules' results (docs/PERFORMANCE-engine.md). */
static void
test_coopmat_shaders (void)
{
  g_autoptr (GError) error = NULL;
  SsGpuDevice *dev = ss_gpu_device_get_default (&error);
  g_assert_no_error (error);
  const SsGpuCaps *c = ss_gpu_device_get_caps (dev);
  g_test_message ("coopmat: nv %d, khr %d, 16x16x16 subgroup %d (as KHR %d, asking for 32 lanes %d), use %d",
                  c->coopmat_nv, c->coopmat_khr, c->coopmat_f16_16x16x16, c->coopmat_sg_khr,
                  c->coopmat_sg_size32, ss_gpu_device_use_coopmat (dev));
  g_assert_true (ss_gpu_has_shader ("matmul_coopmat_khr.f16w8l0"));
  g_assert_true (ss_gpu_device_has_shader (dev, "tensor_copy.f32_f32"));
  g_assert_false (ss_gpu_device_has_shader (dev, "no_such_shader.f32"));
  g_assert_true (ss_gpu_device_has_shader (dev, "matmul_coopmat.f16w8l0") ==
                 (c->coopmat_f16_16x16x16 && (c->coopmat_nv || c->coopmat_sg_khr)));
  g_assert_true (ss_gpu_device_has_shader (dev, "attention_fwd_coopmat.d64r") ==
                 ss_gpu_device_has_shader (dev, "matmul_coopmat.f16"));
  /* the kernels that convert accumulators into operands: where the NV
   * extension is on (as NV modules, or as KHR twins with coopmat2's conversions) */
  g_assert_true (ss_gpu_device_has_shader (dev, "attention_fwd_flash.d64") == c->coopmat_nv);
  /* the layout probe (coopmat_probe.comp): a 16x16 accumulator whose element
   * e holds e, stored per lane (count, then 16 slots a lane) */
  float src[256], out[1 + 32 * 16];
  for (int i = 0; i < 256; i++)
    src[i] = (float) i;
  g_autoptr (SsTensor) s = ss_tensor_new_from_floats (SS_DTYPE_F32, 1, SS_SHAPE (256), src, &error);
  g_assert_no_error (error);
  g_autoptr (SsTensor) o = ss_tensor_full (SS_DTYPE_F32, 1, SS_SHAPE (G_N_ELEMENTS (out)), -1.0f, &error);
  g_assert_no_error (error);
  SsGpuBinding b[2] = { ss_tensor_binding (s, SS_GPU_READ), ss_tensor_binding (o, SS_GPU_WRITE) };
  SsGpuDispatch d = { .shader = "coopmat_probe.f32", .bindings = b, .n_bindings = 2, .groups = { 1, 1, 1 } };
  if (c->coopmat_nv || c->coopmat_sg_khr)
    {
      g_assert_true (ss_gpu_dispatch (dev, &d, &error));
      g_assert_no_error (error);
      g_assert_true (ss_tensor_to_floats (o, out, &error));
      g_assert_no_error (error);
      /* 32 lanes hold the 256 elements between them, each once */
      guint n = (guint) out[0];
      g_assert_cmpuint (n, ==, 8);
      gboolean seen[256] = { FALSE };
      for (guint lane = 0; lane < 32; lane++)
        for (guint i = 0; i < n; i++)
          {
            float v = out[1 + lane * 16 + i];
            g_assert_true (v >= 0.0f && v < 256.0f && !seen[(guint) v]);
            seen[(guint) v] = TRUE;
          }
      return;
    }
  g_assert_false (ss_gpu_dispatch (dev, &d, &error));
  g_assert_error (error, SS_ERROR, SS_ERROR_UNSUPPORTED);
  g_assert_nonnull (strstr (error->message, "VK_NV_cooperative_matrix"));
  g_clear_error (&error);
  /* the device goes on working */
  g_assert_true (ss_tensor_to_floats (s, src, &error));
  g_assert_no_error (error);
  g_assert_cmpfloat (src[255], ==, 255.0f);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/gpu/env-settings", test_env_settings);
  g_test_add_func ("/gpu/device-init", test_device_init);
  g_test_add_func ("/gpu/buffer-roundtrip", test_buffer_roundtrip);
  g_test_add_func ("/gpu/oom", test_oom);
  g_test_add_func ("/gpu/async-batches", test_async_batches);
  g_test_add_func ("/gpu/dtype-roundtrip", test_dtype_roundtrip);
  g_test_add_func ("/gpu/views", test_views);
  g_test_add_func ("/gpu/autograd-views", test_autograd_views);
  g_test_add_func ("/gpu/autograd-grad-ownership", test_autograd_grad_ownership);
  g_test_add_func ("/gpu/copy-views", test_copy_views);
  g_test_add_func ("/gpu/fastdiv", test_fastdiv);
  g_test_add_func ("/gpu/checkpoint", test_checkpoint);
  g_test_add_func ("/gpu/coopmat-shaders", test_coopmat_shaders);
  int r = g_test_run ();
  ss_gpu_device_shutdown ();
  return r;
}
