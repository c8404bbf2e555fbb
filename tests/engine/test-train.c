/* test-train.c: end-to-end training on the GPU engine (autograd + ops +
 * AdamW). An MLP learns to classify points on two interleaved spirals; a tiny
 * transformer block (embeddings, layer norm, multi-head attention, MLP,
 * residuals) learns a task that needs attention across positions. Both must
 * reach a high accuracy that an untrained model cannot. Suite 'gpu'. */
#include "config.h"
#include <math.h>
#include <string.h>
#include "tensor/ss-ops.h"
#include "tensor/ss-optim.h"
#include "ss-check.h"

static SsRng rng;

static SsTensor *
param (int nd, const gint64 *shape, double scale)
{
  gint64 n = 1;
  for (int i = 0; i < nd; i++)
    n *= shape[i];
  g_autofree float *v = g_new (float, n);
  for (gint64 i = 0; i < n; i++)
    v[i] = (float) (ss_rng_normal (&rng) * scale);
  g_autoptr (GError) error = NULL;
  SsTensor *t = ss_tensor_new_from_floats (SS_DTYPE_F32, nd, shape, v, &error);
  g_assert_no_error (error);
  ss_tensor_set_requires_grad (t, TRUE);
  return t;
}

static SsTensor *
constant (int nd, const gint64 *shape, float value, gboolean trainable)
{
  g_autoptr (GError) error = NULL;
  SsTensor *t = ss_tensor_full (SS_DTYPE_F32, nd, shape, value, &error);
  g_assert_no_error (error);
  ss_tensor_set_requires_grad (t, trainable);
  return t;
}

static float
scalar (SsTensor *t)
{
  float v = NAN;
  g_autoptr (GError) error = NULL;
  g_assert_true (ss_tensor_to_floats (t, &v, &error));
  return v;
}

/* accuracy of argmax over the last dim of logits [N, C] */
static double
accuracy (SsTensor *logits, const gint32 *targets)
{
  gint64 n = logits->shape[0], c = logits->shape[1];
  g_autoptr (GError) error = NULL;
  g_autofree float *v = ss_tensor_to_floats_dup (logits, &error);
  g_assert_no_error (error);
  int ok = 0;
  for (gint64 i = 0; i < n; i++)
    {
      int best = 0;
      for (gint64 j = 1; j < c; j++)
        if (v[i * c + j] > v[i * c + best])
          best = j;
      ok += best == targets[i];
    }
  return (double) ok / n;
}

/* --------------------------------------------------------------- MLP */

#define MLP_N 256

static SsTensor *
mlp_forward (SsTensor *x, SsTensor **p, GError **error)
{
  g_autoptr (SsTensor) h1 = ss_op_linear (x, p[0], p[1], error);
  g_autoptr (SsTensor) a1 = h1 ? ss_op_gelu (h1, FALSE, error) : NULL;
  g_autoptr (SsTensor) h2 = a1 ? ss_op_linear (a1, p[2], p[3], error) : NULL;
  g_autoptr (SsTensor) a2 = h2 ? ss_op_silu (h2, error) : NULL;
  return a2 ? ss_op_linear (a2, p[4], p[5], error) : NULL;
}

static void
test_mlp (void)
{
  g_autoptr (GError) error = NULL;
  /* two interleaved spirals */
  float xs[MLP_N * 2];
  gint32 ys[MLP_N];
  for (int i = 0; i < MLP_N; i++)
    {
      int cls = i % 2;
      double t = (i / 2) / (double) (MLP_N / 2) * 3.0 + 0.3;
      double r = t / 3.3;
      double a = t * 2.2 + cls * G_PI;
      xs[2 * i] = (float) (r * cos (a) + ss_rng_normal (&rng) * 0.01);
      xs[2 * i + 1] = (float) (r * sin (a) + ss_rng_normal (&rng) * 0.01);
      ys[i] = cls;
    }
  g_autoptr (SsTensor) x = ss_tensor_new_from_floats (SS_DTYPE_F32, 2, SS_SHAPE (MLP_N, 2), xs, &error);
  g_assert_no_error (error);
  int H = 48;
  SsTensor *p[6] = {
    param (2, SS_SHAPE (H, 2), 1.0), constant (1, SS_SHAPE (H), 0, TRUE),
    param (2, SS_SHAPE (H, H), 1.0 / sqrt (H)), constant (1, SS_SHAPE (H), 0, TRUE),
    param (2, SS_SHAPE (2, H), 1.0 / sqrt (H)), constant (1, SS_SHAPE (2), 0, TRUE),
  };
  g_autoptr (SsOptim) opt = ss_optim_new (SS_OPTIM_ADAMW);
  SsOptimHyper hp = ss_optim_hyper_adamw_default ();
  hp.lr = 1e-2f;
  hp.weight_decay = 1e-4f;
  ss_optim_add_group (opt, 6, p, &hp);
  ss_optim_set_max_grad_norm (opt, 5.0f);

  float first = 0, last = 0;
  for (int step = 0; step < 150; step++)
    {
      g_autoptr (SsTensor) logits = mlp_forward (x, p, &error);
      g_assert_no_error (error);
      g_autoptr (SsTensor) loss = ss_op_cross_entropy (logits, ys, -100, 0.0f, &error);
      g_assert_no_error (error);
      if (step == 0)
        {
          first = scalar (loss);
          g_test_message ("MLP: initial loss %.4f accuracy %.3f", first, accuracy (logits, ys));
        }
      g_assert_true (ss_tensor_backward (loss, NULL, &error));
      g_assert_no_error (error);
      g_assert_true (ss_optim_step (opt, &error));
      g_assert_no_error (error);
      ss_optim_zero_grad (opt);
    }
  g_autoptr (SsTensor) logits = NULL;
  {
    SS_NO_GRAD_SCOPE;
    logits = mlp_forward (x, p, &error);
    g_autoptr (SsTensor) loss = ss_op_cross_entropy (logits, ys, -100, 0.0f, &error);
    g_assert_no_error (error);
    last = scalar (loss);
  }
  double acc = accuracy (logits, ys);
  g_test_message ("MLP: final loss %.4f accuracy %.3f", last, acc);
  g_assert_true (isfinite (last));
  g_assert_cmpfloat (last, <, 0.25 * first);
  g_assert_cmpfloat (acc, >=, 0.95);
  for (int i = 0; i < 6; i++)
    ss_tensor_unref (p[i]);
}

/* ------------------------------------------------------- transformer */

#define TB 16     /* batch */
#define TL 8      /* sequence */
#define TV 8      /* vocabulary */
#define TD 32     /* model width */
#define TH 2      /* heads */

typedef struct {
  SsTensor *emb, *pos;
  SsTensor *ln1_w, *ln1_b, *wq, *wk, *wv, *wo, *bo;
  SsTensor *ln2_w, *ln2_b, *w1, *b1, *w2, *b2;
  SsTensor *lnf_w, *lnf_b, *head;
} Tiny;

#define TINY_N_PARAMS (sizeof (Tiny) / sizeof (SsTensor *))

/* [B, L, D] -> [B, H, L, D/H] */
static SsTensor *
split_heads (SsTensor *x, GError **error)
{
  g_autoptr (SsTensor) r = ss_tensor_reshape (x, 4, SS_SHAPE (TB, TL, TH, TD / TH), error);
  return r ? ss_tensor_permute (r, (int[]) { 0, 2, 1, 3 }, error) : NULL;
}

static SsTensor *
tiny_forward (Tiny *m, const gint32 *ids, GError **error)
{
  g_autoptr (SsTensor) e = ss_op_embedding (m->emb, ids, 2, SS_SHAPE (TB, TL), error);
  if (!e)
    return NULL;
  g_autoptr (SsTensor) x = ss_op_add (e, m->pos, error);                       /* [B, L, D] */
  g_autoptr (SsTensor) h = x ? ss_op_layer_norm (x, m->ln1_w, m->ln1_b, 1e-5f, error) : NULL;
  g_autoptr (SsTensor) q = h ? ss_op_linear (h, m->wq, NULL, error) : NULL;
  g_autoptr (SsTensor) k = q ? ss_op_linear (h, m->wk, NULL, error) : NULL;
  g_autoptr (SsTensor) v = k ? ss_op_linear (h, m->wv, NULL, error) : NULL;
  g_autoptr (SsTensor) qh = v ? split_heads (q, error) : NULL;
  g_autoptr (SsTensor) kh = qh ? split_heads (k, error) : NULL;
  g_autoptr (SsTensor) vh = kh ? split_heads (v, error) : NULL;
  g_autoptr (SsTensor) att = vh ? ss_op_attention (qh, kh, vh, NULL, FALSE, 0, error) : NULL;  /* [B, H, L, dh] */
  g_autoptr (SsTensor) attp = att ? ss_tensor_permute (att, (int[]) { 0, 2, 1, 3 }, error) : NULL;
  g_autoptr (SsTensor) attm = attp ? ss_tensor_reshape (attp, 3, SS_SHAPE (TB, TL, TD), error) : NULL;
  g_autoptr (SsTensor) o = attm ? ss_op_linear (attm, m->wo, m->bo, error) : NULL;
  g_autoptr (SsTensor) x2 = o ? ss_op_add (x, o, error) : NULL;
  g_autoptr (SsTensor) h2 = x2 ? ss_op_layer_norm (x2, m->ln2_w, m->ln2_b, 1e-5f, error) : NULL;
  g_autoptr (SsTensor) f1 = h2 ? ss_op_linear (h2, m->w1, m->b1, error) : NULL;
  g_autoptr (SsTensor) f1a = f1 ? ss_op_gelu (f1, TRUE, error) : NULL;
  g_autoptr (SsTensor) f2 = f1a ? ss_op_linear (f1a, m->w2, m->b2, error) : NULL;
  g_autoptr (SsTensor) x3 = f2 ? ss_op_add (x2, f2, error) : NULL;
  g_autoptr (SsTensor) hf = x3 ? ss_op_layer_norm (x3, m->lnf_w, m->lnf_b, 1e-5f, error) : NULL;
  g_autoptr (SsTensor) logits = hf ? ss_op_linear (hf, m->head, NULL, error) : NULL;   /* [B, L, V] */
  return logits ? ss_tensor_reshape (logits, 2, SS_SHAPE (TB * TL, TV), error) : NULL;
}

/* task: every position must output the token at position 0 plus its own
 * position (mod V): needs attention to position 0 and the position signal */
static void
make_batch (gint32 *ids, gint32 *targets)
{
  for (int b = 0; b < TB; b++)
    for (int i = 0; i < TL; i++)
      ids[b * TL + i] = ss_rng_int (&rng, 0, TV - 1);
  for (int b = 0; b < TB; b++)
    for (int i = 0; i < TL; i++)
      targets[b * TL + i] = (ids[b * TL] + i) % TV;
}

static void
test_transformer (void)
{
  g_autoptr (GError) error = NULL;
  double s = 1.0 / sqrt (TD);
  Tiny m = {
    param (2, SS_SHAPE (TV, TD), 1.0), param (2, SS_SHAPE (TL, TD), 1.0),
    constant (1, SS_SHAPE (TD), 1, TRUE), constant (1, SS_SHAPE (TD), 0, TRUE),
    param (2, SS_SHAPE (TD, TD), s), param (2, SS_SHAPE (TD, TD), s), param (2, SS_SHAPE (TD, TD), s),
    param (2, SS_SHAPE (TD, TD), s), constant (1, SS_SHAPE (TD), 0, TRUE),
    constant (1, SS_SHAPE (TD), 1, TRUE), constant (1, SS_SHAPE (TD), 0, TRUE),
    param (2, SS_SHAPE (2 * TD, TD), s), constant (1, SS_SHAPE (2 * TD), 0, TRUE),
    param (2, SS_SHAPE (TD, 2 * TD), 1.0 / sqrt (2 * TD)), constant (1, SS_SHAPE (TD), 0, TRUE),
    constant (1, SS_SHAPE (TD), 1, TRUE), constant (1, SS_SHAPE (TD), 0, TRUE),
    param (2, SS_SHAPE (TV, TD), s),
  };
  SsTensor **params = (SsTensor **) &m;
  g_autoptr (SsOptim) opt = ss_optim_new (SS_OPTIM_ADAMW);
  SsOptimHyper hp = ss_optim_hyper_adamw_default ();
  hp.lr = 3e-3f;
  hp.weight_decay = 1e-4f;
  ss_optim_add_group (opt, TINY_N_PARAMS, params, &hp);
  ss_optim_set_max_grad_norm (opt, 1.0f);

  gint32 ids[TB * TL], targets[TB * TL];
  float first = 0;
  for (int step = 0; step < 220; step++)
    {
      make_batch (ids, targets);
      g_autoptr (SsTensor) logits = tiny_forward (&m, ids, &error);
      g_assert_no_error (error);
      g_autoptr (SsTensor) loss = ss_op_cross_entropy (logits, targets, -100, 0.0f, &error);
      g_assert_no_error (error);
      if (step == 0)
        first = scalar (loss);
      if (step % 50 == 0)
        g_test_message ("transformer step %d loss %.4f", step, scalar (loss));
      g_assert_true (ss_tensor_backward (loss, NULL, &error));
      g_assert_no_error (error);
      g_assert_true (ss_optim_step (opt, &error));
      g_assert_no_error (error);
      ss_optim_zero_grad (opt);
    }
  /* fresh batch, no grad */
  make_batch (ids, targets);
  SS_NO_GRAD_SCOPE;
  g_autoptr (SsTensor) logits = tiny_forward (&m, ids, &error);
  g_assert_no_error (error);
  g_autoptr (SsTensor) loss = ss_op_cross_entropy (logits, targets, -100, 0.0f, &error);
  float last = scalar (loss);
  double acc = accuracy (logits, targets);
  g_test_message ("transformer: loss %.4f -> %.4f, held-out accuracy %.3f", first, last, acc);
  g_assert_true (isfinite (last));
  g_assert_cmpfloat (last, <, 0.2 * first);
  g_assert_cmpfloat (acc, >=, 0.9);
  for (guint i = 0; i < TINY_N_PARAMS; i++)
    ss_tensor_unref (params[i]);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  ss_rng_init (&rng, ss_check_seed (7));
  g_test_add_func ("/train/mlp", test_mlp);
  g_test_add_func ("/train/transformer", test_transformer);
  int r = g_test_run ();
  if (g_strcmp0 (g_getenv ("SOUNDSTAGE_PROFILE"), "1") == 0)
    {
      /* where the GPU time went (kernel name, calls, total ms) */
      g_autoptr (GArray) prof = ss_gpu_device_take_profile (ss_gpu_device_get_default (NULL), NULL);
      for (guint i = 0; prof && i < prof->len && i < 25; i++)
        {
          SsGpuProfileEntry *e = &g_array_index (prof, SsGpuProfileEntry, i);
          g_print ("# %-32s %6" G_GUINT64_FORMAT " %10.1f ms\n", e->label, e->count, e->total_ms);
        }
    }
  ss_gpu_device_shutdown ();
  return r;
}
