/* bench-ops.c: time of the ops of core/tensor/ops on model-sized shapes, forward
 * and forward+backward, on the current Vulkan device. Same cases and output
 * format as bench_ops_torch.py (PyTorch eager on CUDA):
 *
 *   <op> <dtype> <shape> fwd <ms> fwdbwd <ms> <GB/s of the forward>
 *
 * Usage: bench-ops [--quick | --tiny] [--profile] [--no-warmup] [--dtypes=bf16,f16,...] [substring...]
 * (only cases whose name contains one of the substrings). --tiny takes 8 rows
 * where the default takes 8192: the time per call is then the host's and the
 * launch's, not the kernel's. --dtypes sets the dtypes and their order. "embedding" takes its ids from a device buffer filled once
 * (ss_op_embedding_device; its backward reads them back, one sync per call),
 * "embedding_hostids" from the host (uploaded on every call, as ss_op_embedding does).
 * Timing: a warm-up call, then reps calls recorded
 * back to back and waited for together (wall time / reps); --no-warmup leaves
 * out the second of work before each dtype's cases and prints the wall-clock
 * time of each result (to set beside the GPU's clocks). --profile adds one
 * timestamped call per case and prints its kernels (lines starting with "#"). */
#define G_LOG_DOMAIN "bench-ops"

#include "config.h"
#include <math.h>
#include <stdio.h>
#include <string.h>
#include "tensor/ss-ops.h"

static gboolean quick, tiny, profile, no_warmup;
static SsGpuDevice *dev;

typedef struct {
  const char *name;
  int n_in;
  SsTensor *in[3];
  SsTensor *(*fn) (SsTensor **in, GError **error);
  double bytes;   /* moved by the forward (for GB/s) */
  char shape[64];
} Case;

static SsTensor *
rnd (SsDType dt, int nd, const gint64 *shape)
{
  g_autoptr (GError) error = NULL;
  gint64 n = 1;
  for (int i = 0; i < nd; i++)
    n *= shape[i];
  g_autofree float *f = g_new (float, n);
  guint32 s = 12345;
  for (gint64 i = 0; i < n; i++)
    {
      s = s * 1664525u + 1013904223u;
      f[i] = (s >> 8) * (1.0f / 16777216.0f) * 2 - 1;
    }
  SsTensor *t = ss_tensor_new_from_floats (dt, nd, shape, f, &error);
  if (!t)
    g_error ("allocation failed: %s", error->message);
  return t;
}

/* one forward (and backward from a constant gradient, input gradients cleared) */
static void
call_once (Case *c, gboolean bwd)
{
  g_autoptr (GError) error = NULL;
  SsTensor *y = c->fn (c->in, &error);
  if (!y)
    g_error ("%s: %s", c->name, error->message);
  if (bwd)
    {
      g_autoptr (SsTensor) g = ss_tensor_full (y->dtype, y->ndim, y->shape, 0.5f, &error);
      if (!g || !ss_tensor_backward (y, g, &error))
        g_error ("%s backward: %s", c->name, error->message);
      for (int i = 0; i < c->n_in; i++)
        ss_tensor_zero_grad (c->in[i]);
    }
  ss_tensor_unref (y);
}

static double
run (Case *c, gboolean bwd, double target_s)
{
  g_autoptr (GError) error = NULL;
  for (int i = 0; i < c->n_in; i++)
    ss_tensor_set_requires_grad (c->in[i], bwd);
  int reps = 1;
  double per = 0;
  for (int pass = 0; pass < 3; pass++)
    {
      gint64 t0 = g_get_monotonic_time ();
      for (int r = 0; r < reps; r++)
        {
          call_once (c, bwd);
        }
      if (!ss_gpu_device_flush (dev, &error))
        g_error ("%s: %s", c->name, error->message);
      per = (g_get_monotonic_time () - t0) * 1e-6 / reps;
      if (pass == 0)   /* warm-up (pipelines, memory) */
        continue;
      if (pass == 1)
        reps = quick ? 2 : CLAMP ((int) (target_s / MAX (per, 1e-6)), 3, 200);
    }
  if (profile)
    {
      /* one more call with GPU timestamps: where the time goes, kernel by kernel */
      ss_gpu_device_set_profiling (dev, TRUE);
      call_once (c, bwd);
      g_autoptr (GArray) pr = ss_gpu_device_take_profile (dev, &error);
      ss_gpu_device_set_profiling (dev, FALSE);
      for (guint i = 0; pr && i < pr->len; i++)
        {
          SsGpuProfileEntry *e = &g_array_index (pr, SsGpuProfileEntry, i);
          printf ("#   %s %-28s x%-3" G_GUINT64_FORMAT " %.4f ms\n", bwd ? "fwdbwd" : "fwd   ",
                  e->label, e->count, e->total_ms);
        }
    }
  return per;
}

#define IN(i) in[i]
static SsTensor *f_layer_norm (SsTensor **in, GError **e) { return ss_op_layer_norm (in[0], in[1], in[2], 1e-5f, e); }
static SsTensor *f_rms_norm (SsTensor **in, GError **e) { return ss_op_rms_norm (in[0], in[1], 1e-6f, e); }
static SsTensor *f_group_norm (SsTensor **in, GError **e) { return ss_op_group_norm (in[0], 32, in[1], in[2], 1e-5f, e); }
static SsTensor *f_softmax (SsTensor **in, GError **e) { return ss_op_softmax (in[0], -1, e); }
static SsTensor *f_gelu (SsTensor **in, GError **e) { return ss_op_gelu (in[0], TRUE, e); }
static SsTensor *f_silu (SsTensor **in, GError **e) { return ss_op_silu (in[0], e); }
static SsTensor *f_scale (SsTensor **in, GError **e) { return ss_op_scale (in[0], 1.7f, 0.0f, e); }
static SsTensor *f_add (SsTensor **in, GError **e) { return ss_op_add (in[0], in[1], e); }
static SsTensor *f_mul (SsTensor **in, GError **e) { return ss_op_mul (in[0], in[1], e); }
static SsTensor *f_sum (SsTensor **in, GError **e) { return ss_op_sum (in[0], -1, FALSE, e); }
static SsTensor *f_mean_all (SsTensor **in, GError **e) { return ss_op_mean_all (in[0], e); }
static SsTensor *f_concat (SsTensor **in, GError **e) { return ss_op_concat (2, in, -1, e); }
static gint32 *emb_ids;
static SsGpuBuffer *emb_ids_dev;   /* the same ids, uploaded once */
static SsTensor *f_embedding (SsTensor **in, GError **e) { return ss_op_embedding_device (in[0], emb_ids_dev, 0, 1, (gint64[]) { 8192 }, e); }
static SsTensor *f_embedding_host (SsTensor **in, GError **e) { return ss_op_embedding (in[0], emb_ids, 1, (gint64[]) { 8192 }, e); }
static SsTensor *f_rope (SsTensor **in, GError **e) { return ss_op_rope (in[0], 2, 64, 10000, FALSE, NULL, e); }
static SsTensor *f_up2d (SsTensor **in, GError **e) { return ss_op_interpolate (in[0], 2, (gint64[]) { 128, 128 }, SS_INTERP_NEAREST, FALSE, e); }
static SsTensor *f_lin1d (SsTensor **in, GError **e) { return ss_op_interpolate (in[0], 1, (gint64[]) { 2048 }, SS_INTERP_LINEAR, FALSE, e); }
static gint32 *ce_targets;
static SsTensor *f_ce (SsTensor **in, GError **e) { return ss_op_cross_entropy (in[0], ce_targets, -100, 0, e); }
static SsTensor *f_mse (SsTensor **in, GError **e) { return ss_op_mse_loss (in[0], in[1], e); }
static SsTensor *f_infonce (SsTensor **in, GError **e) { return ss_op_infonce (in[0], in[1], 0.07f, NULL, TRUE, e); }

int
main (int argc, char **argv)
{
  g_autoptr (GError) error = NULL;
  dev = ss_gpu_device_get_default (&error);
  if (!dev)
    {
      g_printerr ("no device: %s\n", error->message);
      return 1;
    }
  GPtrArray *filters = g_ptr_array_new ();
  const char *dtype_list = "f16,bf16,f32";
  for (int i = 1; i < argc; i++)
    if (g_str_equal (argv[i], "--quick"))
      quick = TRUE;
    else if (g_str_equal (argv[i], "--tiny"))
      tiny = TRUE;
    else if (g_str_equal (argv[i], "--profile"))
      profile = TRUE;
    else if (g_str_equal (argv[i], "--no-warmup"))
      no_warmup = TRUE;
    else if (g_str_has_prefix (argv[i], "--dtypes="))
      dtype_list = argv[i] + 9;
    else
      g_ptr_array_add (filters, argv[i]);
  printf ("# device: %s\n", ss_gpu_device_get_caps (dev)->name);

  int q = tiny ? 1024 : quick ? 4 : 1;   /* --quick and --tiny divide the token counts */
  emb_ids = g_new (gint32, 8192);
  ce_targets = g_new (gint32, 4096);
  for (int i = 0; i < 8192; i++)
    emb_ids[i] = (i * 7919) % 32000;
  emb_ids_dev = ss_gpu_buffer_new (dev, 8192 * sizeof (gint32), &error);
  if (!emb_ids_dev || !ss_gpu_buffer_upload (emb_ids_dev, 0, emb_ids, 8192 * sizeof (gint32), &error))
    g_error ("ids: %s", error->message);
  for (int i = 0; i < 4096; i++)
    ce_targets[i] = (i * 104729) % 8192;

  g_auto (GStrv) dtype_names = g_strsplit (dtype_list, ",", 0);
  for (guint d = 0; dtype_names[d]; d++)
    {
      SsDType dt = SS_DTYPE_F32;
      if (g_str_equal (dtype_names[d], "f16"))
        dt = SS_DTYPE_F16;
      else if (g_str_equal (dtype_names[d], "bf16"))
        dt = SS_DTYPE_BF16;
      else if (!g_str_equal (dtype_names[d], "f32"))
        g_error ("unknown dtype %s", dtype_names[d]);
      double es = ss_dtype_size (dt);
      gint64 T = 8192 / q;
      Case cases[] = {
        { "layer_norm", 3, { rnd (dt, 2, SS_SHAPE (T, 1024)), rnd (dt, 1, SS_SHAPE (1024)), rnd (dt, 1, SS_SHAPE (1024)) },
          f_layer_norm, 2.0 * T * 1024 * es, "" },
        { "rms_norm", 2, { rnd (dt, 2, SS_SHAPE (T, 1024)), rnd (dt, 1, SS_SHAPE (1024)) },
          f_rms_norm, 2.0 * T * 1024 * es, "" },
        { "group_norm", 3, { rnd (dt, 4, SS_SHAPE (4 / (quick ? 2 : 1), 256, 64, 64)), rnd (dt, 1, SS_SHAPE (256)), rnd (dt, 1, SS_SHAPE (256)) },
          f_group_norm, 2.0 * 4 / (quick ? 2 : 1) * 256 * 4096 * es, "" },
        { "softmax", 1, { rnd (dt, 2, SS_SHAPE (2 * T, 1024)) }, f_softmax, 2.0 * 2 * T * 1024 * es, "" },
        { "gelu_tanh", 1, { rnd (dt, 2, SS_SHAPE (T, 4096)) }, f_gelu, 2.0 * T * 4096 * es, "" },
        { "silu", 1, { rnd (dt, 2, SS_SHAPE (T, 4096)) }, f_silu, 2.0 * T * 4096 * es, "" },
        { "scale", 1, { rnd (dt, 2, SS_SHAPE (T, 4096)) }, f_scale, 2.0 * T * 4096 * es, "" },
        { "add_bias", 2, { rnd (dt, 2, SS_SHAPE (T, 1024)), rnd (dt, 1, SS_SHAPE (1024)) }, f_add, 2.0 * T * 1024 * es, "" },
        { "mul_modulate", 2, { rnd (dt, 3, SS_SHAPE (4, T / 4, 1536)), rnd (dt, 3, SS_SHAPE (4, 1, 1536)) }, f_mul, 2.0 * T * 1536 * es, "" },
        { "sum_last", 1, { rnd (dt, 2, SS_SHAPE (T, 1024)) }, f_sum, 1.0 * T * 1024 * es, "" },
        { "mean_all", 1, { rnd (dt, 1, SS_SHAPE (T * 2048)) }, f_mean_all, 1.0 * T * 2048 * es, "" },
        { "concat_last", 2, { rnd (dt, 2, SS_SHAPE (T, 512)), rnd (dt, 2, SS_SHAPE (T, 512)) }, f_concat, 2.0 * T * 1024 * es, "" },
        { "embedding", 1, { rnd (dt, 2, SS_SHAPE (32000, 1024)) }, f_embedding, 2.0 * 8192 * 1024 * es, "" },
        { "embedding_hostids", 1, { rnd (dt, 2, SS_SHAPE (32000, 1024)) }, f_embedding_host, 2.0 * 8192 * 1024 * es, "" },
        { "rope", 1, { rnd (dt, 4, SS_SHAPE (4, 16, 2 * T / 4, 64)) }, f_rope, 2.0 * 4 * 16 * 2 * T / 4 * 64 * es, "" },
        { "interp_nearest2d", 1, { rnd (dt, 4, SS_SHAPE (MAX (1, 8 / q), 256, 64, 64)) }, f_up2d, 5.0 * MAX (1, 8 / q) * 256 * 4096 * es, "" },
        { "interp_linear1d", 1, { rnd (dt, 3, SS_SHAPE (MAX (1, 8 / q), 512, 1024)) }, f_lin1d, 3.0 * MAX (1, 8 / q) * 512 * 1024 * es, "" },
        { "cross_entropy", 1, { rnd (dt, 2, SS_SHAPE (MAX (4, 4096 / q), 8192)) }, f_ce, 1.0 * MAX (4, 4096 / q) * 8192 * es, "" },
        { "mse", 2, { rnd (dt, 1, SS_SHAPE (T * 2048)), rnd (dt, 1, SS_SHAPE (T * 2048)) }, f_mse, 2.0 * T * 2048 * es, "" },
        { "infonce", 2, { rnd (dt, 2, SS_SHAPE (1024, 512)), rnd (dt, 2, SS_SHAPE (1024, 512)) }, f_infonce, 2.0 * 1024 * 512 * es, "" },
      };
      /* The first second or so after a dtype's inputs are created runs
       * bandwidth-bound kernels 2-4x slower, whichever dtype comes second or
       * third (call eng130: bf16 layer norm 0.028 ms first, 0.079 ms after the
       * f16 cases): the GPU lowers its SM clock while the host creates them
       * (1980 to 345 MHz on the H100, call eng152) and raises it again only
       * under sustained work. A second of work before timing keeps that out
       * of the table. */
      if (!quick && !tiny && !no_warmup)
        {
          gint64 t0 = g_get_monotonic_time ();
          while (g_get_monotonic_time () - t0 < G_USEC_PER_SEC)
            {
              for (int r = 0; r < 20; r++)
                call_once (&cases[0], FALSE);
              if (!ss_gpu_device_flush (dev, &error))
                g_error ("warm-up: %s", error->message);
            }
        }
      for (guint c = 0; c < G_N_ELEMENTS (cases); c++)
        {
          Case *k = &cases[c];
          gboolean want = filters->len == 0;
          for (guint f = 0; f < filters->len; f++)
            want |= strstr (k->name, filters->pdata[f]) != NULL;
          if (want)
            {
              GString *s = g_string_new ("");
              for (int d2 = 0; d2 < k->in[0]->ndim; d2++)
                g_string_append_printf (s, "%s%" G_GINT64_FORMAT, d2 ? "x" : "", k->in[0]->shape[d2]);
              double tf = run (k, FALSE, 0.2), tb = run (k, TRUE, 0.2);
              if (no_warmup)
                {
                  g_autoptr (GDateTime) now = g_date_time_new_now_utc ();
                  g_autofree char *ts = g_date_time_format (now, "%H:%M:%S.%f");
                  printf ("# at %s\n", ts);
                }
              printf ("%s %s %s fwd %.4f ms fwdbwd %.4f ms %.1f GB/s\n", k->name, ss_dtype_name (dt),
                      s->str, tf * 1e3, tb * 1e3, k->bytes / tf * 1e-9);
              fflush (stdout);
              g_string_free (s, TRUE);
            }
          for (int i = 0; i < k->n_in; i++)
            ss_tensor_unref (k->in[i]);
        }
    }
  g_ptr_array_unref (filters);
  ss_gpu_buffer_unref (emb_ids_dev);
  ss_gpu_device_shutdown ();
  return 0;
}
