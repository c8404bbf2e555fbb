/* ss-synchformer.c: Synchformer on the engine (see ss-synchformer.h). */
#define G_LOG_DOMAIN "ss-synchformer"

#include "ss-synchformer.h"

#include <math.h>
#include <string.h>

#include "ss-types.h"
#include "ss-rng.h"
#include "dsp/ss-mel.h"
#ifndef SS_SYNCHFORMER_NO_MEDIA
#include "media/ss-media.h"
#endif
#include "tensor/ss-ops.h"
#include "tensor/ss-safetensors.h"

/* The default model trained by tools/train: the full 4.8 s window and the
 * public sequence layout (198 tokens), small images and widths. */
static const SsSynchformerConfig small = {
  .name = "small",
  .fps = 25, .sample_rate = 16000,
  .resize_side = 72, .image_size = 64,
  .n_segments = 14, .segment_frames = 16, .segment_hop = 8,
  .n_fft = 1024, .win_length = 400, .hop_length = 160, .n_mels = 64, .spec_frames = 66,
  .spec_mean = -4.2677393, .spec_std = 4.5689974,
  .a_dim = 128, .a_layers = 3, .a_heads = 4, .a_mlp = 256, .a_patch = 16, .a_fstride = 16, .a_tstride = 10,
  .a_ln_eps = 1e-12,
  .v_dim = 128, .v_layers = 3, .v_heads = 4, .v_mlp = 256, .v_patch = 16, .v_tubelet = 2, .v_channels = 3,
  .v_ln_eps = 1e-6, .v_keep_patch_embed_2d = FALSE,
  .agg_mlp_ratio = 2, .agg_ln_eps = 1e-6,
  .s_dim = 128, .s_layers = 3, .s_heads = 4, .s_mlp_ratio = 4, .s_ln_eps = 1e-5,
  .n_classes = 21, .pos_len = 198,
  .head = SS_SYNCHFORMER_OFFSET,
};

const SsSynchformerConfig *
ss_synchformer_config_small (void)
{
  return &small;
}

const SsSynchformerConfig *
ss_synchformer_config_lookup (const char *name)
{
  if (g_strcmp0 (name, "small") == 0)
    return &small;
  return ss_synchformer_config_by_name (name);
}

struct _SsSynchformer {
  const SsSynchformerConfig *config;
  GPtrArray  *names;      /* char*, checkpoint order, NULL-terminated */
  GPtrArray  *params;     /* SsTensor*, same order */
  GHashTable *by_name;    /* name -> SsTensor* (borrowed) */
  gboolean    sync_head;
  SsMel      *mel;
  SsDType     dtype;      /* of the parameters and activations */
  char       *source;     /* file name for messages, or "random weights" */
  GHashTable *metadata;   /* extra safetensors metadata (string -> string), kept on save */
};

#define SYNC_HEAD_W "transformer.sync_head.weight"
#define SYNC_HEAD_B "transformer.sync_head.bias"

/* ------------------------------------------------------------------------ */
/* construction */

static SsSynchformer *
model_new (const SsSynchformerConfig *config, GError **error)
{
  if (!ss_synchformer_config_validate (config, error))
    return NULL;
  SsMelParams mp = {
    .sample_rate = config->sample_rate, .n_fft = config->n_fft, .win_length = config->win_length,
    .hop_length = config->hop_length, .n_mels = config->n_mels, .f_min = 0.0, .f_max = 0.0,
    .center = TRUE, .log_offset = 1e-6,
  };
  SsMel *mel = ss_mel_new (&mp, error);
  if (!mel)
    return NULL;
  SsSynchformer *m = g_new0 (SsSynchformer, 1);
  m->config = config;
  m->mel = mel;
  m->names = g_ptr_array_new_with_free_func (g_free);
  m->metadata = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  m->params = g_ptr_array_new_with_free_func ((GDestroyNotify) ss_tensor_unref);
  m->by_name = g_hash_table_new (g_str_hash, g_str_equal);
  return m;
}

static void
model_add (SsSynchformer *m, const char *name, SsTensor *t)
{
  char *n = g_strdup (name);
  ss_tensor_set_name (t, n);
  g_ptr_array_add (m->names, n);
  g_ptr_array_add (m->params, t);
  g_hash_table_insert (m->by_name, n, t);
}

static void
model_finish (SsSynchformer *m)
{
  g_ptr_array_add (m->names, NULL);
}

void
ss_synchformer_free (SsSynchformer *m)
{
  if (!m)
    return;
  g_hash_table_unref (m->by_name);
  g_ptr_array_unref (m->params);
  g_ptr_array_unref (m->names);
  g_clear_pointer (&m->mel, ss_mel_free);
  g_free (m->source);
  g_clear_pointer (&m->metadata, g_hash_table_unref);
  g_free (m);
}

static gboolean
is_norm_weight (const char *name, const SsTensorSpec *s)
{
  return s->n_dims == 1 && g_str_has_suffix (name, ".weight");
}

SsSynchformer *
ss_synchformer_new_random (const SsSynchformerConfig *config, guint64 seed,
                           gboolean with_sync_head, GError **error)
{
  g_return_val_if_fail (config != NULL, NULL);
  g_autoptr (SsSynchformer) m = model_new (config, error);
  if (!m)
    return NULL;
  g_autoptr (GPtrArray) specs = ss_synchformer_config_tensors (config);
  if (with_sync_head && config->head == SS_SYNCHFORMER_OFFSET)
    {
      SsTensorSpec *w = g_new0 (SsTensorSpec, 1), *b = g_new0 (SsTensorSpec, 1);
      w->name = g_strdup (SYNC_HEAD_W);
      w->n_dims = 2, w->shape[0] = 2, w->shape[1] = config->s_dim;
      b->name = g_strdup (SYNC_HEAD_B);
      b->n_dims = 1, b->shape[0] = 2;
      g_ptr_array_add (specs, w);
      g_ptr_array_add (specs, b);
      m->sync_head = TRUE;
    }
  SsRng rng;
  ss_rng_init (&rng, seed);
  for (guint i = 0; i < specs->len; i++)
    {
      const SsTensorSpec *s = specs->pdata[i];
      gint64 n = ss_tensor_spec_numel (s);
      g_autofree float *v = g_new (float, n);
      double std;
      double base = 0.0;
      if (is_norm_weight (s->name, s))
        base = 1.0, std = 0.1;
      else if (g_str_has_suffix (s->name, "bias"))
        std = 0.02;
      else if (s->n_dims == 3)   /* tokens and position embeddings */
        std = 0.02;
      else
        {
          gint64 fan_in = s->n_dims >= 2 ? n / s->shape[0] : s->shape[0];
          std = 1.0 / sqrt ((double) MAX (fan_in, 1));
        }
      for (gint64 k = 0; k < n; k++)
        v[k] = (float) (base + std * ss_rng_normal (&rng));
      SsTensor *t = ss_tensor_new_from_floats (SS_DTYPE_F32, s->n_dims, s->shape, v, error);
      if (!t)
        return NULL;
      model_add (m, s->name, t);
    }
  model_finish (m);
  m->source = g_strdup ("random weights");
  return g_steal_pointer (&m);
}

SsSynchformer *
ss_synchformer_load (const SsSynchformerConfig *config, const char *path, GError **error)
{
  g_return_val_if_fail (path != NULL, NULL);
  g_autoptr (SsSafetensors) st = ss_safetensors_open (path, error);
  if (!st)
    return NULL;
  g_autofree char *base = g_path_get_basename (path);
  if (!config)
    {
      const char *name = ss_safetensors_get_metadata_value (st, "config");
      config = ss_synchformer_config_lookup (name ? name : "reference");
      if (!config)
        {
          g_set_error (error, SS_ERROR, SS_ERROR_UNSUPPORTED,
                       "“%s” is a Synchformer model of an unknown configuration “%s”", base, name);
          return NULL;
        }
    }
  g_autoptr (SsSynchformer) m = model_new (config, error);
  if (!m)
    return NULL;
  GHashTable *meta = ss_safetensors_get_metadata (st);
  if (meta)
    {
      GHashTableIter it;
      gpointer k, v;
      g_hash_table_iter_init (&it, meta);
      while (g_hash_table_iter_next (&it, &k, &v))
        if (strcmp (k, "config") != 0 && strcmp (k, "format") != 0)
          g_hash_table_insert (m->metadata, g_strdup (k), g_strdup (v));
    }
  g_autoptr (GPtrArray) specs = ss_synchformer_config_tensors (config);
  if (config->head == SS_SYNCHFORMER_OFFSET && ss_safetensors_has (st, SYNC_HEAD_W))
    {
      SsTensorSpec *w = g_new0 (SsTensorSpec, 1), *b = g_new0 (SsTensorSpec, 1);
      w->name = g_strdup (SYNC_HEAD_W);
      w->n_dims = 2, w->shape[0] = 2, w->shape[1] = config->s_dim;
      b->name = g_strdup (SYNC_HEAD_B);
      b->n_dims = 1, b->shape[0] = 2;
      g_ptr_array_add (specs, w);
      g_ptr_array_add (specs, b);
      m->sync_head = TRUE;
    }
  g_autofree SsSafetensorsExpect *expect = g_new0 (SsSafetensorsExpect, specs->len);
  for (guint i = 0; i < specs->len; i++)
    {
      const SsTensorSpec *s = specs->pdata[i];
      expect[i].name = s->name;
      expect[i].dtype = SS_SAFETENSORS_ANY_FLOAT;
      expect[i].rank = s->n_dims;
      for (int d = 0; d < s->n_dims; d++)
        expect[i].shape[d] = s->shape[d];
    }
  g_autoptr (GError) local = NULL;
  if (!ss_safetensors_check (st, expect, specs->len, SS_SAFETENSORS_CHECK_ANY_FLOAT_DTYPE, &local))
    {
      g_set_error (error, SS_ERROR, local->code,
                   "The Synchformer weights do not fit the “%s” configuration: %s",
                   config->name, local->message);
      return NULL;
    }
  for (guint i = 0; i < specs->len; i++)
    {
      const SsTensorSpec *s = specs->pdata[i];
      SsTensor *t = ss_safetensors_load_tensor (st, s->name, SS_DTYPE_F32, error);
      if (!t)
        return NULL;
      model_add (m, s->name, t);
    }
  model_finish (m);
  m->source = g_strdup (base);
  return g_steal_pointer (&m);
}

const char *
ss_synchformer_get_metadata (SsSynchformer *m, const char *key)
{
  return g_hash_table_lookup (m->metadata, key);
}

void
ss_synchformer_set_metadata (SsSynchformer *m, const char *key, const char *value)
{
  g_return_if_fail (key != NULL && strcmp (key, "config") != 0 && strcmp (key, "format") != 0);
  if (value)
    g_hash_table_insert (m->metadata, g_strdup (key), g_strdup (value));
  else
    g_hash_table_remove (m->metadata, key);
}

gboolean
ss_synchformer_get_heldout_accuracy (SsSynchformer *m, double *model_acc, double *sp_acc)
{
  const char *a = ss_synchformer_get_metadata (m, SS_SYNCHFORMER_META_HELDOUT_ACC);
  const char *b = ss_synchformer_get_metadata (m, SS_SYNCHFORMER_META_HELDOUT_SP_ACC);
  if (!a || !b)
    return FALSE;
  char *end1 = NULL, *end2 = NULL;
  double x = g_ascii_strtod (a, &end1), y = g_ascii_strtod (b, &end2);
  if (end1 == a || *end1 || end2 == b || *end2 || !(x >= 0 && x <= 1) || !(y >= 0 && y <= 1))
    return FALSE;
  *model_acc = x;
  *sp_acc = y;
  return TRUE;
}

const SsSynchformerConfig *
ss_synchformer_get_config (SsSynchformer *m)
{
  return m->config;
}

gboolean
ss_synchformer_has_sync_head (SsSynchformer *m)
{
  return m->sync_head;
}

SsTensor *
ss_synchformer_get_param (SsSynchformer *m, const char *name)
{
  return g_hash_table_lookup (m->by_name, name);
}

const char *const *
ss_synchformer_get_param_names (SsSynchformer *m)
{
  return (const char *const *) m->names->pdata;
}

guint
ss_synchformer_get_n_params (SsSynchformer *m)
{
  return m->params->len;
}

SsTensor *
ss_synchformer_get_param_index (SsSynchformer *m, guint i)
{
  g_return_val_if_fail (i < m->params->len, NULL);
  return m->params->pdata[i];
}

gint64
ss_synchformer_count_parameters (SsSynchformer *m)
{
  gint64 n = 0;
  for (guint i = 0; i < m->params->len; i++)
    n += ss_tensor_numel (m->params->pdata[i]);
  return n;
}

SsDType
ss_synchformer_get_dtype (SsSynchformer *m)
{
  return m->dtype;
}

gboolean
ss_synchformer_set_dtype (SsSynchformer *m, SsDType dtype, GError **error)
{
  if (dtype == m->dtype)
    return TRUE;
  SS_NO_GRAD_SCOPE;
  g_autoptr (GPtrArray) conv = g_ptr_array_new_with_free_func ((GDestroyNotify) ss_tensor_unref);
  for (guint i = 0; i < m->params->len; i++)
    {
      SsTensor *t = ss_tensor_to_dtype (m->params->pdata[i], dtype, error);
      if (!t)
        return FALSE;
      g_ptr_array_add (conv, t);
    }
  for (guint i = 0; i < m->params->len; i++)
    {
      SsTensor *t = g_steal_pointer (&conv->pdata[i]);
      ss_tensor_set_name (t, m->names->pdata[i]);
      ss_tensor_unref (m->params->pdata[i]);
      m->params->pdata[i] = t;
      g_hash_table_insert (m->by_name, m->names->pdata[i], t);
    }
  m->dtype = dtype;
  return TRUE;
}

/* inputs in the model's dtype (a new reference) */
static SsTensor *
as_model_dtype (SsSynchformer *m, SsTensor *x, GError **error)
{
  if (x->dtype == m->dtype)
    return ss_tensor_ref (x);
  return ss_tensor_to_dtype (x, m->dtype, error);
}

void
ss_synchformer_set_trainable (SsSynchformer *m, gboolean trainable)
{
  for (guint i = 0; i < m->params->len; i++)
    ss_tensor_set_requires_grad (m->params->pdata[i], trainable);
}

gboolean
ss_synchformer_save (SsSynchformer *m, const char *path, gboolean fp16, GError **error)
{
  SsSafetensorsWriter *w = ss_safetensors_writer_new ();
  ss_safetensors_writer_set_metadata (w, "config", m->config->name);
  ss_safetensors_writer_set_metadata (w, "format", "synchformer");
  GHashTableIter it;
  gpointer k, v;
  g_hash_table_iter_init (&it, m->metadata);
  while (g_hash_table_iter_next (&it, &k, &v))
    ss_safetensors_writer_set_metadata (w, k, v);
  gboolean ok = TRUE;
  for (guint i = 0; ok && i < m->params->len; i++)
    {
      SsTensor *t = m->params->pdata[i];
      g_autofree float *v = ss_tensor_to_floats_dup (t, error);
      if (!v)
        {
          ok = FALSE;
          break;
        }
      ss_safetensors_writer_add_f32 (w, m->names->pdata[i],
                                     fp16 ? SS_SAFETENSORS_F16 : SS_SAFETENSORS_F32,
                                     t->ndim, t->shape, v);
    }
  if (ok)
    ok = ss_safetensors_writer_write (w, path, error);
  ss_safetensors_writer_free (w);
  return ok;
}

/* ------------------------------------------------------------------------ */
/* building blocks */

#define P(name) ss_synchformer_get_param (m, name)
#define TRY(x) do { if (!(x)) return NULL; } while (0)

static SsTensor *
param (SsSynchformer *m, const char *fmt, ...) G_GNUC_PRINTF (2, 3);

static SsTensor *
param (SsSynchformer *m, const char *fmt, ...)
{
  char buf[300];
  va_list ap;
  va_start (ap, fmt);
  g_vsnprintf (buf, sizeof buf, fmt, ap);
  va_end (ap);
  SsTensor *t = P (buf);
  if (!t)
    g_error ("Synchformer: no parameter %s", buf);   /* programmer error: the config lists them */
  return t;
}

static SsTensor *
linear (SsSynchformer *m, SsTensor *x, const char *prefix, GError **error)
{
  return ss_op_linear (x, param (m, "%s.weight", prefix), param (m, "%s.bias", prefix), error);
}

static SsTensor *
norm (SsSynchformer *m, SsTensor *x, const char *prefix, double eps, GError **error)
{
  return ss_op_layer_norm (x, param (m, "%s.weight", prefix), param (m, "%s.bias", prefix),
                           (float) eps, error);
}

static SsTensor *
gelu_linear (SsSynchformer *m, SsTensor *x, const char *p1, const char *p2, GError **error)
{
  g_autoptr (SsTensor) h = linear (m, x, p1, error);
  TRY (h);
  g_autoptr (SsTensor) g = ss_op_gelu (h, FALSE, error);
  TRY (g);
  return linear (m, g, p2, error);
}

/* [1, 1, D] (or [1, L, D]) -> [n, L, D] with gradients back to the parameter */
static SsTensor *
repeat0 (SsTensor *t, gint64 n, GError **error)
{
  g_autofree gint32 *idx = g_new0 (gint32, n);
  return ss_op_index_select (t, 0, idx, n, error);
}

static SsTensor *
view (SsTensor *t, int ndim, const gint64 *shape, GError **error)
{
  return ss_tensor_reshape (t, ndim, shape, error);
}

/* x [B, L, D] -> [B, h, L, D/h] */
static SsTensor *
split_heads (SsTensor *x, int heads, GError **error)
{
  gint64 B = x->shape[0], L = x->shape[1], D = x->shape[2];
  g_autoptr (SsTensor) r = view (x, 4, SS_SHAPE (B, L, heads, D / heads), error);
  TRY (r);
  return ss_tensor_transpose (r, 1, 2, error);
}

/* [B, h, L, dh] -> [B, L, h*dh] */
static SsTensor *
merge_heads (SsTensor *x, GError **error)
{
  gint64 B = x->shape[0], h = x->shape[1], L = x->shape[2], dh = x->shape[3];
  g_autoptr (SsTensor) t = ss_tensor_transpose (x, 1, 2, error);
  TRY (t);
  return view (t, 3, SS_SHAPE (B, L, h * dh), error);
}

/* multi-head self-attention of projected q, k, v [B, L, D] */
static SsTensor *
mha (SsTensor *q, SsTensor *k, SsTensor *v, int heads, GError **error)
{
  g_autoptr (SsTensor) qh = split_heads (q, heads, error);
  TRY (qh);
  g_autoptr (SsTensor) kh = split_heads (k, heads, error);
  TRY (kh);
  g_autoptr (SsTensor) vh = split_heads (v, heads, error);
  TRY (vh);
  g_autoptr (SsTensor) o = ss_op_attention (qh, kh, vh, NULL, FALSE, 0.0f, error);
  TRY (o);
  return merge_heads (o, error);
}

/* x + <p>.<fc2> (gelu (<p>.<fc1> (<p>.<ln> (x)))): the pre-norm MLP half of a
 * transformer layer */
static SsTensor *
norm_mlp_residual (SsSynchformer *m, SsTensor *x, const char *p, const char *ln,
                   const char *fc1, const char *fc2, double eps, GError **error)
{
  char q[300];
  g_snprintf (q, sizeof q, "%s.%s", p, ln);
  g_autoptr (SsTensor) n = norm (m, x, q, eps, error);
  TRY (n);
  char f1[300], f2[300];
  g_snprintf (f1, sizeof f1, "%s.%s", p, fc1);
  g_snprintf (f2, sizeof f2, "%s.%s", p, fc2);
  g_autoptr (SsTensor) mlp = gelu_linear (m, n, f1, f2, error);
  TRY (mlp);
  return ss_op_add (x, mlp, error);
}

/* The parameter names (after the layer's prefix) of a pre-norm ViT layer with
 * separate query, key and value projections. */
typedef struct
{
  const char *ln1, *query, *key, *value, *proj, *ln2, *fc1, *fc2;
} BlockNames;

/* x [B, L, D] -> x + attn (ln1 (x)), then + mlp (ln2 (.)) */
static SsTensor *
encoder_block (SsSynchformer *m, SsTensor *x, const char *p, const BlockNames *n, int heads,
               double eps, GError **error)
{
  char q[300];
  g_snprintf (q, sizeof q, "%s.%s", p, n->ln1);
  g_autoptr (SsTensor) y = norm (m, x, q, eps, error);
  TRY (y);
  g_snprintf (q, sizeof q, "%s.%s", p, n->query);
  g_autoptr (SsTensor) qq = linear (m, y, q, error);
  TRY (qq);
  g_snprintf (q, sizeof q, "%s.%s", p, n->key);
  g_autoptr (SsTensor) kk = linear (m, y, q, error);
  TRY (kk);
  g_snprintf (q, sizeof q, "%s.%s", p, n->value);
  g_autoptr (SsTensor) vv = linear (m, y, q, error);
  TRY (vv);
  g_autoptr (SsTensor) a = mha (qq, kk, vv, heads, error);
  TRY (a);
  g_snprintf (q, sizeof q, "%s.%s", p, n->proj);
  g_autoptr (SsTensor) ao = linear (m, a, q, error);
  TRY (ao);
  g_autoptr (SsTensor) x1 = ss_op_add (x, ao, error);
  TRY (x1);
  return norm_mlp_residual (m, x1, p, n->ln2, n->fc1, n->fc2, eps, error);
}

/* nn.TransformerEncoderLayer (norm_first, GELU) with its own CLS token:
 * x [N, L, D] -> CLS output [N, D] */
static SsTensor *
agg_layer (SsSynchformer *m, SsTensor *x, const char *p, int heads, GError **error)
{
  const SsSynchformerConfig *c = m->config;
  gint64 N = x->shape[0], D = x->shape[2];
  char q[300];
  g_autoptr (SsTensor) cls = repeat0 (param (m, "%s.cls_token", p), N, error);
  TRY (cls);
  SsTensor *parts[2] = { cls, x };
  g_autoptr (SsTensor) h0 = ss_op_concat (2, parts, 1, error);
  TRY (h0);
  g_snprintf (q, sizeof q, "%s.norm1", p);
  g_autoptr (SsTensor) n1 = norm (m, h0, q, c->agg_ln_eps, error);
  TRY (n1);
  g_autoptr (SsTensor) qkv = ss_op_linear (n1, param (m, "%s.self_attn.in_proj_weight", p),
                                           param (m, "%s.self_attn.in_proj_bias", p), error);
  TRY (qkv);
  g_autoptr (SsTensor) qq = ss_tensor_slice (qkv, 2, 0, D, error);
  TRY (qq);
  g_autoptr (SsTensor) kk = ss_tensor_slice (qkv, 2, D, 2 * D, error);
  TRY (kk);
  g_autoptr (SsTensor) vv = ss_tensor_slice (qkv, 2, 2 * D, 3 * D, error);
  TRY (vv);
  g_autoptr (SsTensor) a = mha (qq, kk, vv, heads, error);
  TRY (a);
  g_snprintf (q, sizeof q, "%s.self_attn.out_proj", p);
  g_autoptr (SsTensor) ao = linear (m, a, q, error);
  TRY (ao);
  g_autoptr (SsTensor) h1 = ss_op_add (h0, ao, error);
  TRY (h1);
  g_autoptr (SsTensor) h2 = norm_mlp_residual (m, h1, p, "norm2", "linear1", "linear2",
                                                c->agg_ln_eps, error);
  TRY (h2);
  g_autoptr (SsTensor) c0 = ss_tensor_slice (h2, 1, 0, 1, error);
  TRY (c0);
  return view (c0, 2, SS_SHAPE (N, D), error);
}

/* ------------------------------------------------------------------------ */
/* video: divided space-time attention */

/* Attention over many short groups as two batched GEMMs and a softmax
 * (SOUNDSTAGE_SYNCHFORMER_ATTN=matmul), to compare with the fused kernel. */
static gboolean
small_group_matmul (void)
{
  static int mode = -1;
  if (mode < 0)
    mode = g_strcmp0 (g_getenv ("SOUNDSTAGE_SYNCHFORMER_ATTN"), "matmul") == 0;
  return mode == 1;
}

/* Inference on a CPU device (lavapipe) runs divided attention as one fused
 * kernel (ss_op_divided_attention: 9.25 -> 8.5 s for 10 s of video, small
 * config). On GPUs the time attention (9 keys per row) is fused too; the
 * space attention (197 keys) is fused where ss_op_divided_attention runs it
 * on a blocked kernel (workgroup-scope matrices for fp16/bf16 at head size
 * 64, else the register-blocked one: H100, reference, 10 s, f16 0.216-0.222 s
 * against 0.223-0.228 grouped, fp32 0.728 against 0.765, eighth session), else it
 * goes through the grouped path to the tensor-core kernel (0.228-0.232 s
 * against 0.250 all grouped and 0.340-0.348 all fused on the row kernels,
 * seventh session).
 * SOUNDSTAGE_SYNCHFORMER_ATTN=fused|grouped|matmul|time|space overrides
 * (time / space: fuse only that mode); training always takes the autograd
 * (grouped) path. */
static gboolean
fused_divided_attention (SsTensor *x, int heads, gboolean mode_time)
{
  static int mode = -2;   /* -1 default, 0 grouped, 1 fused, 2 time, 3 space */
  if (mode == -2)
    {
      const char *e = g_getenv ("SOUNDSTAGE_SYNCHFORMER_ATTN");
      mode = g_strcmp0 (e, "fused") == 0 ? 1 : g_strcmp0 (e, "time") == 0 ? 2 : g_strcmp0 (e, "space") == 0 ? 3
           : (g_strcmp0 (e, "grouped") == 0 || g_strcmp0 (e, "matmul") == 0) ? 0 : -1;
    }
  if (mode >= 0)
    return mode == 1 || (mode == 2 && mode_time) || (mode == 3 && !mode_time);
  return mode_time || ss_gpu_device_get_caps (x->device)->is_cpu ||
         ss_op_divided_attention_space_fast (x, heads);
}

static SsTensor *
attention_matmul (SsTensor *q, SsTensor *k, SsTensor *v, GError **error)
{
  g_autoptr (SsTensor) qs = ss_op_scale (q, (float) (1.0 / sqrt ((double) q->shape[3])), 0.0f, error);
  TRY (qs);
  g_autoptr (SsTensor) sc = ss_op_matmul (qs, k, FALSE, TRUE, error);
  TRY (sc);
  g_autoptr (SsTensor) p = ss_op_softmax (sc, -1, error);
  TRY (p);
  return ss_op_matmul (p, v, FALSE, FALSE, error);
}

/* q, k, v: [B, h, N, dh] with N = 1 + F * Pn. mode_time: patches attend over
 * frames at their position; else over the patches of their frame. Both with
 * the CLS key/value; the CLS query attends to everything.
 * Returns [B, h, N, dh]. */
static SsTensor *
divided_attention (SsTensor *q, SsTensor *k, SsTensor *v, int F, gboolean mode_time,
                   GError **error)
{
  gint64 B = q->shape[0], h = q->shape[1], N = q->shape[2], dh = q->shape[3];
  gint64 Pn = (N - 1) / F;
  g_autoptr (SsTensor) qc = ss_tensor_slice (q, 2, 0, 1, error);
  TRY (qc);
  g_autoptr (SsTensor) cls_out = ss_op_attention (qc, k, v, NULL, FALSE, 0.0f, error);
  TRY (cls_out);

  /* groups: space -> F groups of Pn; time -> Pn groups of F */
  gint64 G = mode_time ? Pn : F, Lg = mode_time ? F : Pn;
  const int perm_space[5] = { 0, 2, 1, 3, 4 };   /* [B, h, F, P, dh] -> [B, F, h, P, dh] */
  const int perm_time[5] = { 0, 3, 1, 2, 4 };    /* [B, h, F, P, dh] -> [B, P, h, F, dh] */
  const int *perm = mode_time ? perm_time : perm_space;
  SsTensor *in[3] = { q, k, v };
  SsTensor *grouped[3] = { NULL, NULL, NULL };
  gboolean ok = TRUE;
  for (int i = 0; i < 3 && ok; i++)
    {
      g_autoptr (SsTensor) body = ss_tensor_slice (in[i], 2, 1, N, error);
      g_autoptr (SsTensor) b5 = body ? view (body, 5, SS_SHAPE (B, h, F, Pn, dh), error) : NULL;
      g_autoptr (SsTensor) bp = b5 ? ss_tensor_permute (b5, perm, error) : NULL;   /* [B, G, h, Lg, dh] */
      if (!bp)
        {
          ok = FALSE;
          break;
        }
      if (i == 0)
        {
          grouped[i] = view (bp, 4, SS_SHAPE (B * G, h, Lg, dh), error);
        }
      else
        {
          /* prepend the CLS key/value to every group */
          g_autoptr (SsTensor) c1 = ss_tensor_slice (in[i], 2, 0, 1, error);          /* [B, h, 1, dh] */
          g_autoptr (SsTensor) c5 = c1 ? ss_tensor_unsqueeze (c1, 1, error) : NULL;   /* [B, 1, h, 1, dh] */
          g_autofree gint32 *idx = g_new0 (gint32, G);
          g_autoptr (SsTensor) cg = c5 ? ss_op_index_select (c5, 1, idx, G, error) : NULL; /* [B, G, h, 1, dh] */
          SsTensor *parts[2] = { cg, bp };
          g_autoptr (SsTensor) cat = cg ? ss_op_concat (2, parts, 3, error) : NULL;   /* [B, G, h, 1+Lg, dh] */
          grouped[i] = cat ? view (cat, 4, SS_SHAPE (B * G, h, 1 + Lg, dh), error) : NULL;
        }
      ok = grouped[i] != NULL;
    }
  SsTensor *o = NULL;
  if (ok && small_group_matmul ())
    o = attention_matmul (grouped[0], grouped[1], grouped[2], error);
  else if (ok)
    o = ss_op_attention (grouped[0], grouped[1], grouped[2], NULL, FALSE, 0.0f, error);
  for (int i = 0; i < 3; i++)
    g_clear_pointer (&grouped[i], ss_tensor_unref);
  if (!o)
    return NULL;
  g_autoptr (SsTensor) og = o;
  g_autoptr (SsTensor) o5 = view (og, 5, SS_SHAPE (B, G, h, Lg, dh), error);
  TRY (o5);
  const int back_space[5] = { 0, 2, 1, 3, 4 };  /* [B, F, h, P, dh] -> [B, h, F, P, dh] */
  const int back_time[5] = { 0, 2, 3, 1, 4 };   /* [B, P, h, F, dh] -> [B, h, F, P, dh] */
  g_autoptr (SsTensor) ob = ss_tensor_permute (o5, mode_time ? back_time : back_space, error);
  TRY (ob);
  g_autoptr (SsTensor) o4 = view (ob, 4, SS_SHAPE (B, h, F * Pn, dh), error);
  TRY (o4);
  SsTensor *parts[2] = { cls_out, o4 };
  return ss_op_concat (2, parts, 2, error);
}

static SsTensor *
divided_attn_module (SsSynchformer *m, SsTensor *x, const char *p, int F, gboolean mode_time,
                     GError **error)
{
  const SsSynchformerConfig *c = m->config;
  gint64 D = x->shape[2];
  char q[300];
  g_snprintf (q, sizeof q, "%s.qkv", p);
  g_autoptr (SsTensor) qkv = linear (m, x, q, error);
  TRY (qkv);
  if (fused_divided_attention (qkv, c->v_heads, mode_time) && !ss_autograd_needs_grad (1, &qkv))
    {
      /* inference: one kernel from the packed projection to merged heads */
      g_autoptr (SsTensor) fo = ss_op_divided_attention (qkv, c->v_heads, F, mode_time, error);
      TRY (fo);
      g_snprintf (q, sizeof q, "%s.proj", p);
      return linear (m, fo, q, error);
    }
  SsTensor *hs[3] = { NULL, NULL, NULL };
  gboolean ok = TRUE;
  for (int i = 0; i < 3 && ok; i++)
    {
      g_autoptr (SsTensor) s = ss_tensor_slice (qkv, 2, i * D, (i + 1) * D, error);
      hs[i] = s ? split_heads (s, c->v_heads, error) : NULL;
      ok = hs[i] != NULL;
    }
  SsTensor *o = ok ? divided_attention (hs[0], hs[1], hs[2], F, mode_time, error) : NULL;
  for (int i = 0; i < 3; i++)
    g_clear_pointer (&hs[i], ss_tensor_unref);
  if (!o)
    return NULL;
  g_autoptr (SsTensor) oo = o;
  g_autoptr (SsTensor) mo = merge_heads (oo, error);
  TRY (mo);
  g_snprintf (q, sizeof q, "%s.proj", p);
  return linear (m, mo, q, error);
}

SsTensor *
ss_synchformer_video_features (SsSynchformer *m, SsTensor *video, GError **error)
{
  const SsSynchformerConfig *c = m->config;
  g_return_val_if_fail (video != NULL && video->ndim == 5, NULL);
  gint64 N = video->shape[0], D = c->v_dim;
  SsConvParams cp = ss_conv_params_default ();
  cp.stride[0] = c->v_tubelet, cp.stride[1] = cp.stride[2] = c->v_patch;
  g_autoptr (SsTensor) vin = as_model_dtype (m, video, error);
  TRY (vin);
  g_autoptr (SsTensor) e = ss_op_conv3d (vin, P ("vfeat_extractor.patch_embed_3d.proj.weight"),
                                         P ("vfeat_extractor.patch_embed_3d.proj.bias"), &cp, error);
  TRY (e);                                                         /* [N, D, t, g, g] */
  gint64 t = e->shape[2], Pn = e->shape[3] * e->shape[4];
  g_autoptr (SsTensor) e3 = view (e, 3, SS_SHAPE (N, D, t * Pn), error);
  TRY (e3);
  g_autoptr (SsTensor) tok = ss_tensor_transpose (e3, 1, 2, error);  /* [N, t*P, D] */
  TRY (tok);
  g_autoptr (SsTensor) cls = repeat0 (P ("vfeat_extractor.cls_token"), N, error);
  TRY (cls);
  SsTensor *parts[2] = { cls, tok };
  g_autoptr (SsTensor) x0 = ss_op_concat (2, parts, 1, error);
  TRY (x0);
  /* position: pos_embed[1:] per patch + temp_embed per frame; pos_embed[0] for CLS */
  SsTensor *pe = P ("vfeat_extractor.pos_embed");
  g_autoptr (SsTensor) pe_cls = ss_tensor_slice (pe, 1, 0, 1, error);
  TRY (pe_cls);
  g_autoptr (SsTensor) pe_p = ss_tensor_slice (pe, 1, 1, Pn + 1, error);
  TRY (pe_p);
  g_autoptr (SsTensor) pe_p4 = view (pe_p, 4, SS_SHAPE (1, 1, Pn, D), error);
  TRY (pe_p4);
  g_autoptr (SsTensor) te4 = view (P ("vfeat_extractor.temp_embed"), 4, SS_SHAPE (1, t, 1, D), error);
  TRY (te4);
  g_autoptr (SsTensor) pos4 = ss_op_add (pe_p4, te4, error);        /* [1, t, P, D] */
  TRY (pos4);
  g_autoptr (SsTensor) pos3 = view (pos4, 3, SS_SHAPE (1, t * Pn, D), error);
  TRY (pos3);
  SsTensor *pparts[2] = { pe_cls, pos3 };
  g_autoptr (SsTensor) pos = ss_op_concat (2, pparts, 1, error);
  TRY (pos);
  SsTensor *x = ss_op_add (x0, pos, error);
  TRY (x);
  char p[200], q[300];
  for (int i = 0; i < c->v_layers && x; i++)
    {
      g_autoptr (SsTensor) xi = x;
      x = NULL;
      g_snprintf (p, sizeof p, "vfeat_extractor.blocks.%d", i);
      g_snprintf (q, sizeof q, "%s.norm3", p);
      g_autoptr (SsTensor) n3 = norm (m, xi, q, c->v_ln_eps, error);
      if (!n3) break;
      g_snprintf (q, sizeof q, "%s.timeattn", p);
      g_autoptr (SsTensor) ta = divided_attn_module (m, n3, q, (int) t, TRUE, error);
      if (!ta) break;
      g_autoptr (SsTensor) x1 = ss_op_add (xi, ta, error);
      if (!x1) break;
      g_snprintf (q, sizeof q, "%s.norm1", p);
      g_autoptr (SsTensor) n1 = norm (m, x1, q, c->v_ln_eps, error);
      if (!n1) break;
      g_snprintf (q, sizeof q, "%s.attn", p);
      g_autoptr (SsTensor) sa = divided_attn_module (m, n1, q, (int) t, FALSE, error);
      if (!sa) break;
      g_autoptr (SsTensor) x2 = ss_op_add (x1, sa, error);
      if (!x2) break;
      x = norm_mlp_residual (m, x2, p, "norm2", "mlp.fc1", "mlp.fc2", c->v_ln_eps, error);
    }
  TRY (x);
  g_autoptr (SsTensor) xl = x;
  g_autoptr (SsTensor) body = ss_tensor_slice (xl, 1, 1, 1 + t * Pn, error);
  TRY (body);
  g_autoptr (SsTensor) nb = norm (m, body, "vfeat_extractor.norm", c->v_ln_eps, error);
  TRY (nb);
  g_autoptr (SsTensor) frames = view (nb, 3, SS_SHAPE (N * t, Pn, D), error);
  TRY (frames);
  g_autoptr (SsTensor) agg = agg_layer (m, frames, "vfeat_extractor.spatial_attn_agg", c->v_heads, error);
  TRY (agg);
  return view (agg, 3, SS_SHAPE (N, t, D), error);
}

/* ------------------------------------------------------------------------ */
/* audio: AST */

SsTensor *
ss_synchformer_audio_features (SsSynchformer *m, SsTensor *spec, GError **error)
{
  const SsSynchformerConfig *c = m->config;
  g_return_val_if_fail (spec != NULL && spec->ndim == 3, NULL);
  gint64 N = spec->shape[0], D = c->a_dim;
  g_autoptr (SsTensor) sin = as_model_dtype (m, spec, error);
  TRY (sin);
  g_autoptr (SsTensor) s4 = ss_tensor_unsqueeze (sin, 1, error);
  TRY (s4);
  SsConvParams cp = ss_conv_params_default ();
  cp.stride[0] = c->a_fstride, cp.stride[1] = c->a_tstride;
  g_autoptr (SsTensor) e = ss_op_conv2d (s4, P ("afeat_extractor.ast.embeddings.patch_embeddings.projection.weight"),
                                         P ("afeat_extractor.ast.embeddings.patch_embeddings.projection.bias"),
                                         &cp, error);
  TRY (e);                                                 /* [N, D, f, t] */
  gint64 f = e->shape[2], t = e->shape[3];
  g_autoptr (SsTensor) e3 = view (e, 3, SS_SHAPE (N, D, f * t), error);
  TRY (e3);
  g_autoptr (SsTensor) tok = ss_tensor_transpose (e3, 1, 2, error);
  TRY (tok);
  g_autoptr (SsTensor) cls = repeat0 (P ("afeat_extractor.ast.embeddings.cls_token"), N, error);
  TRY (cls);
  g_autoptr (SsTensor) dist = repeat0 (P ("afeat_extractor.ast.embeddings.distillation_token"), N, error);
  TRY (dist);
  SsTensor *parts[3] = { cls, dist, tok };
  g_autoptr (SsTensor) x0 = ss_op_concat (3, parts, 1, error);
  TRY (x0);
  SsTensor *x = ss_op_add (x0, P ("afeat_extractor.ast.embeddings.position_embeddings"), error);
  TRY (x);
  static const BlockNames ast_block = {
    "layernorm_before", "attention.attention.query", "attention.attention.key",
    "attention.attention.value", "attention.output.dense", "layernorm_after",
    "intermediate.dense", "output.dense",
  };
  char p[200];
  for (int i = 0; i < c->a_layers && x; i++)
    {
      g_autoptr (SsTensor) xi = x;
      g_snprintf (p, sizeof p, "afeat_extractor.ast.encoder.layer.%d", i);
      x = encoder_block (m, xi, p, &ast_block, c->a_heads, c->a_ln_eps, error);
    }
  TRY (x);
  g_autoptr (SsTensor) xl = x;
  g_autoptr (SsTensor) nx = norm (m, xl, "afeat_extractor.ast.layernorm", c->a_ln_eps, error);
  TRY (nx);
  g_autoptr (SsTensor) body = ss_tensor_slice (nx, 1, 2, 2 + f * t, error);
  TRY (body);
  g_autoptr (SsTensor) b4 = view (body, 4, SS_SHAPE (N, f, t, D), error);
  TRY (b4);
  g_autoptr (SsTensor) bt = ss_tensor_transpose (b4, 1, 2, error);   /* [N, t, f, D] */
  TRY (bt);
  g_autoptr (SsTensor) seqs = view (bt, 3, SS_SHAPE (N * t, f, D), error);
  TRY (seqs);
  g_autoptr (SsTensor) agg = agg_layer (m, seqs, "afeat_extractor.freq_attn_agg", c->a_heads, error);
  TRY (agg);
  return view (agg, 3, SS_SHAPE (N, t, D), error);
}

/* ------------------------------------------------------------------------ */
/* sync transformer */

SsTensor *
ss_synchformer_sync_sequence (SsSynchformer *m, SsTensor *vfeat, SsTensor *afeat, int batch,
                              GError **error)
{
  const SsSynchformerConfig *c = m->config;
  gint64 B = batch, sd = c->s_dim;
  g_autoptr (SsTensor) vp = linear (m, vfeat, "vproj", error);
  TRY (vp);
  g_autoptr (SsTensor) ap = linear (m, afeat, "aproj", error);
  TRY (ap);
  g_autoptr (SsTensor) v3 = view (vp, 3, SS_SHAPE (B, -1, sd), error);
  TRY (v3);
  g_autoptr (SsTensor) a3 = view (ap, 3, SS_SHAPE (B, -1, sd), error);
  TRY (a3);
  g_autoptr (SsTensor) vn = norm (m, v3, "transformer.vis_in_lnorm", c->s_ln_eps, error);
  TRY (vn);
  g_autoptr (SsTensor) an = norm (m, a3, "transformer.aud_in_lnorm", c->s_ln_eps, error);
  TRY (an);
  g_autoptr (SsTensor) off = repeat0 (P ("transformer.OFF_tok"), B, error);
  TRY (off);
  g_autoptr (SsTensor) mod = repeat0 (P ("transformer.MOD_tok"), B, error);
  TRY (mod);
  SsTensor *parts[4] = { off, vn, mod, an };
  g_autoptr (SsTensor) x0 = ss_op_concat (4, parts, 1, error);
  TRY (x0);
  if (x0->shape[1] != c->pos_len)
    {
      g_set_error (error, SS_ERROR, SS_ERROR_INVALID_DATA,
                   "Synchformer: the sequence has %" G_GINT64_FORMAT " tokens, the model takes %d",
                   x0->shape[1], c->pos_len);
      return NULL;
    }
  SsTensor *x = ss_op_add (x0, P ("transformer.pos_emb_cfg.pos_emb"), error);
  TRY (x);
  static const BlockNames sync_block = {
    "ln1", "attn.query", "attn.key", "attn.value", "attn.proj", "ln2", "mlp.0", "mlp.2",
  };
  char p[200];
  for (int i = 0; i < c->s_layers && x; i++)
    {
      g_autoptr (SsTensor) xi = x;
      g_snprintf (p, sizeof p, "transformer.blocks.%d", i);
      x = encoder_block (m, xi, p, &sync_block, c->s_heads, c->s_ln_eps, error);
    }
  TRY (x);
  g_autoptr (SsTensor) xl = x;
  return norm (m, xl, "transformer.ln_f", c->s_ln_eps, error);
}

/* Without autograd the video network runs a few segments at a time, so that the
 * largest activation stays under half of what one binding may cover and 1/32 of
 * the heap (lavapipe: 64 MiB; an H100 runs all 14 segments at once); with
 * autograd it runs on everything at once. */
static SsTensor *
video_features_chunked (SsSynchformer *m, SsTensor *video, GError **error)
{
  const SsSynchformerConfig *c = m->config;
  gint64 N = video->shape[0];
  gint64 tokens = 1 + (gint64) ss_synchformer_video_time_tokens (c) * ss_synchformer_video_grid (c)
                        * ss_synchformer_video_grid (c);
  gint64 per_segment = tokens * MAX (c->v_mlp, 3 * c->v_dim) * (gint64) ss_dtype_size (m->dtype);
  const SsGpuCaps *caps = ss_gpu_device_get_caps (video->device);
  gint64 budget = (gint64) MIN (caps->max_storage_buffer_range / 2, caps->heap_size / 32);
  const char *env = g_getenv ("SOUNDSTAGE_SYNCHFORMER_CHUNK_BYTES");   /* tests */
  if (env && g_ascii_strtoll (env, NULL, 10) > 0)
    budget = g_ascii_strtoll (env, NULL, 10);
  gint64 chunk = MAX (1, budget / per_segment);
  if (ss_autograd_is_enabled () || chunk >= N)
    return ss_synchformer_video_features (m, video, error);
  gint64 n_chunks = (N + chunk - 1) / chunk;
  g_autofree SsTensor **parts = g_new0 (SsTensor *, n_chunks);
  gboolean ok = TRUE;
  for (gint64 i = 0; i < n_chunks && ok; i++)
    {
      g_autoptr (SsTensor) v = ss_tensor_slice (video, 0, i * chunk, MIN (N, (i + 1) * chunk), error);
      parts[i] = v ? ss_synchformer_video_features (m, v, error) : NULL;
      ok = parts[i] != NULL;
    }
  SsTensor *out = ok ? ss_op_concat ((guint) n_chunks, parts, 0, error) : NULL;
  for (gint64 i = 0; i < n_chunks; i++)
    g_clear_pointer (&parts[i], ss_tensor_unref);
  return out;
}

SsTensor *
ss_synchformer_forward (SsSynchformer *m, SsTensor *video, SsTensor *spec, int batch,
                        SsTensor **sync_logits, GError **error)
{
  const SsSynchformerConfig *c = m->config;
  g_return_val_if_fail (video != NULL && spec != NULL, NULL);
  if (sync_logits)
    *sync_logits = NULL;
  g_autoptr (SsTensor) v5 = NULL;
  g_autoptr (SsTensor) s3 = NULL;
  if (video->ndim == 6)
    {
      batch = (int) video->shape[0];
      v5 = view (video, 5, SS_SHAPE (video->shape[0] * video->shape[1], video->shape[2],
                                     video->shape[3], video->shape[4], video->shape[5]), error);
    }
  else
    v5 = ss_tensor_ref (video);
  TRY (v5);
  if (spec->ndim == 4)
    s3 = view (spec, 3, SS_SHAPE (spec->shape[0] * spec->shape[1], spec->shape[2], spec->shape[3]), error);
  else
    s3 = ss_tensor_ref (spec);
  TRY (s3);
  gint64 want_n = (gint64) batch * c->n_segments;
  if (v5->shape[0] != want_n || s3->shape[0] != want_n || v5->shape[1] != c->v_channels
      || v5->shape[2] != c->segment_frames || v5->shape[3] != c->image_size
      || v5->shape[4] != c->image_size || s3->shape[1] != c->n_mels || s3->shape[2] != c->spec_frames)
    {
      g_autofree char *dv = ss_tensor_describe (v5), *ds = ss_tensor_describe (s3);
      g_set_error (error, SS_ERROR, SS_ERROR_INVALID_DATA,
                   "Synchformer (%s): inputs %s and %s do not match %d clips of %d segments",
                   c->name, dv, ds, batch, c->n_segments);
      return NULL;
    }
  g_autoptr (SsTensor) vf = video_features_chunked (m, v5, error);
  TRY (vf);
  g_autoptr (SsTensor) af = ss_synchformer_audio_features (m, s3, error);
  TRY (af);
  return ss_synchformer_forward_features (m, vf, af, batch, sync_logits, error);
}

SsTensor *
ss_synchformer_forward_features (SsSynchformer *m, SsTensor *vf, SsTensor *af, int batch,
                                 SsTensor **sync_logits, GError **error)
{
  const SsSynchformerConfig *c = m->config;
  if (sync_logits)
    *sync_logits = NULL;
  g_autoptr (SsTensor) seq = ss_synchformer_sync_sequence (m, vf, af, batch, error);
  TRY (seq);
  g_autoptr (SsTensor) first = ss_tensor_slice (seq, 1, 0, 1, error);
  TRY (first);
  g_autoptr (SsTensor) off = view (first, 2, SS_SHAPE (batch, c->s_dim), error);
  TRY (off);
  if (sync_logits && m->sync_head)
    {
      *sync_logits = linear (m, off, "transformer.sync_head", error);
      TRY (*sync_logits);
    }
  SsTensor *out = linear (m, off, c->head == SS_SYNCHFORMER_OFFSET ? "transformer.off_head"
                                                                     : "transformer.sync_head", error);
  if (!out && sync_logits)
    g_clear_pointer (sync_logits, ss_tensor_unref);
  return out;
}

/* ------------------------------------------------------------------------ */
/* pre-processing */

#define FRAME_CHUNK 16

/* RGBA frames -> planar fp32 [n, 3, height, width] of 0..255 values, split on
 * the host (CPU devices: it is the faster loop there) */
static SsTensor *
planar_on_host (const guint8 *const *rgba, int n, int width, int height, int stride, GError **error)
{
  gsize plane = (gsize) width * height;
  g_autofree float *host = g_try_new (float, (gsize) n * 3 * plane);
  if (!host)
    {
      g_set_error (error, SS_ERROR, SS_ERROR_OUT_OF_MEMORY, "Out of memory for %d video frames", n);
      return NULL;
    }
  for (int f = 0; f < n; f++)
    {
      float *r = host + (gsize) f * 3 * plane, *g = r + plane, *b = g + plane;
      for (int y = 0; y < height; y++)
        {
          const guint8 *row = rgba[f] + (gsize) y * stride;
          gsize o = (gsize) y * width;
          for (int x = 0; x < width; x++)
            {
              r[o + x] = row[4 * x];
              g[o + x] = row[4 * x + 1];
              b[o + x] = row[4 * x + 2];
            }
        }
    }
  return ss_tensor_new_from_floats (SS_DTYPE_F32, 4, SS_SHAPE (n, 3, height, width), host, error);
}

/* the same on the GPU: the RGBA bytes are uploaded as they are (a third of the
 * floats' size over PCIe) and split into planes there; rows are packed when
 * the stride is not a whole number of pixels */
static SsTensor *
planar_on_gpu (SsGpuDevice *dev, const guint8 *const *rgba, int n, int width, int height, int stride,
               GError **error)
{
  gsize row_words = stride % 4 == 0 ? (gsize) stride / 4 : (gsize) width;
  gsize frame_bytes = row_words * 4 * height;
  g_autoptr (SsGpuBuffer) pixels = ss_gpu_buffer_new (dev, (gsize) n * frame_bytes, error);
  TRY (pixels);
  if (row_words * 4 == (gsize) stride)
    {
      /* each frame straight from the caller's memory (one copy less) */
      for (int f = 0; f < n; f++)
        TRY (ss_gpu_buffer_upload (pixels, f * frame_bytes, rgba[f], frame_bytes - (stride - (gsize) width * 4),
                                   error));
    }
  else
    {
      g_autofree guint8 *packed = g_try_malloc ((gsize) n * frame_bytes);
      if (!packed)
        {
          g_set_error (error, SS_ERROR, SS_ERROR_OUT_OF_MEMORY, "Out of memory for %d video frames", n);
          return NULL;
        }
      for (int f = 0; f < n; f++)
        for (int y = 0; y < height; y++)
          memcpy (packed + f * frame_bytes + (gsize) y * row_words * 4, rgba[f] + (gsize) y * stride,
                  (gsize) width * 4);
      TRY (ss_gpu_buffer_upload (pixels, 0, packed, (gsize) n * frame_bytes, error));
    }
  g_autoptr (SsTensor) raw = ss_tensor_new (SS_DTYPE_F32, 4, SS_SHAPE (n, 3, height, width), error);
  TRY (raw);
  struct { guint32 n, width, height, row_words, y_off; } pc = { n, width, height, row_words, raw->offset };
  SsGpuBinding b[2] = { { pixels, 0, 0, SS_GPU_READ }, ss_tensor_binding (raw, SS_GPU_WRITE) };
  SsGpuDispatch d = { .shader = "image_rgba_planar.f32", .bindings = b, .n_bindings = 2,
                      .push = &pc, .push_size = sizeof pc };
  ss_gpu_groups_1d (dev, ((guint64) n * width * height + 255) / 256, d.groups);
  TRY (ss_gpu_dispatch (dev, &d, error));
  return g_steal_pointer (&raw);
}

static SsTensor *
preprocess_chunk (SsSynchformer *m, const guint8 *const *rgba, int n, int width, int height,
                  int stride, GError **error)
{
  const SsSynchformerConfig *c = m->config;
  SsGpuDevice *dev = ss_gpu_device_get_default (error);
  TRY (dev);
  /* GPUs with their own memory split the frames themselves (less to upload);
   * SOUNDSTAGE_FRAMES_ON_GPU=0/1 overrides (tests run both) */
  const char *env = g_getenv ("SOUNDSTAGE_FRAMES_ON_GPU");
  gboolean on_gpu = env ? g_strcmp0 (env, "1") == 0 : !ss_gpu_device_get_caps (dev)->uma;
  g_autoptr (SsTensor) raw = on_gpu ? planar_on_gpu (dev, rgba, n, width, height, stride, error)
                                    : planar_on_host (rgba, n, width, height, stride, error);
  TRY (raw);
  /* torchvision Resize(int): short side -> resize_side, long side int(size * long / short) */
  gint64 rh, rw;
  if (height <= width)
    rh = c->resize_side, rw = (gint64) ((double) c->resize_side * width / height);
  else
    rw = c->resize_side, rh = (gint64) ((double) c->resize_side * height / width);
  g_autoptr (SsTensor) resized = NULL;
  if (rh == height && rw == width)
    resized = ss_tensor_ref (raw);
  else
    resized = ss_op_interpolate (raw, 2, SS_SHAPE (rh, rw), SS_INTERP_LINEAR, FALSE, error);
  TRY (resized);
  /* CenterCrop: top = round((h - s) / 2) (Python rounds half to even, as rint) */
  gint64 top = (gint64) rint ((rh - c->image_size) / 2.0), left = (gint64) rint ((rw - c->image_size) / 2.0);
  g_autoptr (SsTensor) c1 = ss_tensor_slice (resized, 2, top, top + c->image_size, error);
  TRY (c1);
  g_autoptr (SsTensor) c2 = ss_tensor_slice (c1, 3, left, left + c->image_size, error);
  TRY (c2);
  /* (x / 255 - 0.5) / 0.5 */
  return ss_op_scale (c2, 2.0f / 255.0f, -1.0f, error);
}

SsTensor *
ss_synchformer_preprocess_frames (SsSynchformer *m, const guint8 *const *rgba, int n_frames,
                                  int width, int height, int stride, GError **error)
{
  g_return_val_if_fail (rgba != NULL && n_frames > 0, NULL);
  if (width <= 0 || height <= 0 || stride < width * 4)
    {
      g_set_error (error, SS_ERROR, SS_ERROR_INVALID_DATA, "Invalid video frame size %d x %d", width, height);
      return NULL;
    }
  SS_NO_GRAD_SCOPE;
  if (n_frames <= FRAME_CHUNK)
    return preprocess_chunk (m, rgba, n_frames, width, height, stride, error);
  int n_chunks = (n_frames + FRAME_CHUNK - 1) / FRAME_CHUNK;
  g_autofree SsTensor **parts = g_new0 (SsTensor *, n_chunks);
  SsTensor *out = NULL;
  gboolean ok = TRUE;
  for (int i = 0; i < n_chunks && ok; i++)
    {
      int n = MIN (FRAME_CHUNK, n_frames - i * FRAME_CHUNK);
      parts[i] = preprocess_chunk (m, rgba + i * FRAME_CHUNK, n, width, height, stride, error);
      ok = parts[i] != NULL;
    }
  if (ok)
    out = ss_op_concat (n_chunks, parts, 0, error);
  for (int i = 0; i < n_chunks; i++)
    g_clear_pointer (&parts[i], ss_tensor_unref);
  return out;
}

static int
samples_per_frame (const SsSynchformerConfig *c)
{
  return c->sample_rate / c->fps;
}

static int
window_frames (const SsSynchformerConfig *c)
{
  return (c->n_segments - 1) * c->segment_hop + c->segment_frames;
}

SsTensor *
ss_synchformer_audio_segments (SsSynchformer *m, const float *audio, gsize n_samples, GError **error)
{
  const SsSynchformerConfig *c = m->config;
  SS_NO_GRAD_SCOPE;
  int S = c->n_segments, L = ss_synchformer_segment_samples (c);
  gsize hop = (gsize) c->segment_hop * samples_per_frame (c);
  g_autofree float *host = g_new0 (float, (gsize) S * L);
  for (int s = 0; s < S; s++)
    {
      gsize start = s * hop;
      if (start < n_samples)
        memcpy (host + (gsize) s * L, audio + start, MIN ((gsize) L, n_samples - start) * sizeof (float));
    }
  g_autoptr (SsTensor) wave = ss_tensor_new_from_floats (SS_DTYPE_F32, 2, SS_SHAPE (S, L), host, error);
  TRY (wave);
  g_autoptr (SsTensor) mel = ss_mel_compute (m->mel, wave, error);   /* [S, n_mels, T] */
  TRY (mel);
  gint64 T = mel->shape[2];
  g_autoptr (SsTensor) fitted = NULL;
  if (T > c->spec_frames)
    fitted = ss_tensor_slice (mel, 2, 0, c->spec_frames, error);
  else if (T < c->spec_frames)
    {
      g_autoptr (SsTensor) pad = ss_tensor_zeros (SS_DTYPE_F32, 3, SS_SHAPE (S, c->n_mels, c->spec_frames - T), error);
      TRY (pad);
      SsTensor *parts[2] = { mel, pad };
      fitted = ss_op_concat (2, parts, 2, error);
    }
  else
    fitted = ss_tensor_ref (mel);
  TRY (fitted);
  double a = 1.0 / (2.0 * c->spec_std);
  return ss_op_scale (fitted, (float) a, (float) (-c->spec_mean * a), error);
}

SsTensor *
ss_synchformer_video_segments (SsSynchformer *m, SsTensor *frames, int first, GError **error)
{
  const SsSynchformerConfig *c = m->config;
  int S = c->n_segments, L = c->segment_frames;
  g_return_val_if_fail (frames != NULL && frames->ndim == 4, NULL);
  if (first < 0 || first + window_frames (c) > frames->shape[0])
    {
      g_set_error (error, SS_ERROR, SS_ERROR_INVALID_DATA,
                   "Synchformer: %d frames from frame %d needed, %" G_GINT64_FORMAT " given",
                   window_frames (c), first, frames->shape[0]);
      return NULL;
    }
  g_autofree gint32 *idx = g_new (gint32, S * L);
  for (int s = 0; s < S; s++)
    for (int j = 0; j < L; j++)
      idx[s * L + j] = first + s * c->segment_hop + j;
  g_autoptr (SsTensor) sel = ss_op_index_select (frames, 0, idx, S * L, error);
  TRY (sel);
  gint64 H = frames->shape[2], W = frames->shape[3];
  g_autoptr (SsTensor) s5 = view (sel, 5, SS_SHAPE (S, L, 3, H, W), error);
  TRY (s5);
  const int perm[5] = { 0, 2, 1, 3, 4 };
  g_autoptr (SsTensor) p = ss_tensor_permute (s5, perm, error);
  TRY (p);
  return ss_tensor_contiguous (p, error);
}

/* ------------------------------------------------------------------------ */
/* analysis */

void
ss_synchformer_options_init (SsSynchformerOptions *opt)
{
  memset (opt, 0, sizeof *opt);
  opt->hop = 2.4;
}

void
ss_synchformer_result_free (SsSynchformerResult *r)
{
  if (!r)
    return;
  g_free (r->window_start);
  g_free (r->windows);
  g_free (r);
}

static void
softmax_host (const float *logits, int n, double *out)
{
  double mx = -INFINITY, sum = 0;
  for (int i = 0; i < n; i++)
    mx = MAX (mx, logits[i]);
  for (int i = 0; i < n; i++)
    sum += (out[i] = exp (logits[i] - mx));
  for (int i = 0; i < n; i++)
    out[i] /= sum;
}

static void
estimate_finish (SsSynchformerEstimate *e)
{
  int best = 0;
  for (int i = 1; i < SS_SYNC_N_CLASSES; i++)
    if (e->probs[i] > e->probs[best])
      best = i;
  e->class_index = best;
  e->offset = ss_sync_class_offset (best);
}

/* a frame source: returns the RGBA frame shown at 25 fps frame index k of the clip */
typedef const guint8 *(*FrameFunc) (gpointer data, int k, GError **error);

typedef struct {
  const guint8 *const *rgba;
  int n_frames;
  double fps;
} MemFrames;

static const guint8 *
mem_frame (gpointer data, int k, GError **error)
{
  MemFrames *mf = data;
  int i = (int) floor (k * mf->fps / 25.0 + 1e-6);
  return mf->rgba[CLAMP (i, 0, mf->n_frames - 1)];
}

/* a window's probabilities from its logits (waits for the GPU) */
static gboolean
read_window (SsSynchformer *m, SsTensor *logits, SsTensor *sync, SsSynchformerEstimate *e, GError **error)
{
  const SsSynchformerConfig *c = m->config;
  float lg[64], sl[2];
  int nc = (int) logits->shape[1];
  if (!ss_tensor_to_floats (logits, lg, error) || (sync && !ss_tensor_to_floats (sync, sl, error)))
    return FALSE;
  if (c->head == SS_SYNCHFORMER_OFFSET)
    {
      softmax_host (lg, MIN (nc, SS_SYNC_N_CLASSES), e->probs);
      estimate_finish (e);
    }
  e->syncability = -1;
  double p2[2];
  if (sync)
    softmax_host (sl, 2, p2), e->syncability = p2[1];
  else if (c->head == SS_SYNCHFORMER_SYNCABILITY)
    softmax_host (lg, 2, p2), e->syncability = p2[1];
  return TRUE;
}

static SsSynchformerResult *
analyse_windows (SsSynchformer *m, FrameFunc frame_func, gpointer frame_data, int n_frames25,
                 int width, int height, int stride, const float *audio, gsize n_samples,
                 const SsSynchformerOptions *opt_in, const char *name,
                 GCancellable *cancellable, GError **error)
{
  const SsSynchformerConfig *c = m->config;
  SsSynchformerOptions opt;
  if (opt_in)
    opt = *opt_in;
  else
    ss_synchformer_options_init (&opt);
  int wf = window_frames (c), spf = samples_per_frame (c);
  gsize need_samples = (gsize) wf * spf;
  if (n_frames25 < wf || n_samples < need_samples)
    {
      g_set_error (error, SS_ERROR, SS_ERROR_INVALID_DATA,
                   "“%s” is too short for the sync model: it needs %.1f s of video and audio",
                   name ? name : "clip", (double) wf / c->fps);
      return NULL;
    }
  /* the usable length: where both video and audio exist */
  int total = MIN (n_frames25, (int) (n_samples / spf));
  int hop = MAX (1, (int) lround (opt.hop * c->fps));
  GArray *starts = g_array_new (FALSE, FALSE, sizeof (int));
  for (int s = 0; s + wf <= total; s += hop)
    g_array_append_val (starts, s);
  int last = g_array_index (starts, int, starts->len - 1);
  if (last + wf < total)
    {
      int s = total - wf;
      g_array_append_val (starts, s);
    }
  SsSynchformerResult *r = g_new0 (SsSynchformerResult, 1);
  r->n_windows = starts->len;
  r->window_start = g_new (double, r->n_windows);
  r->windows = g_new0 (SsSynchformerEstimate, r->n_windows);
  r->start = 0;
  r->duration = (double) total / c->fps;
  r->overall.syncability = m->sync_head ? 0.0 : -1.0;
  g_autofree const guint8 **fr = g_new (const guint8 *, wf);
  SS_NO_GRAD_SCOPE;
  gboolean ok = TRUE;
  /* Windows are pipelined: window w's frames are uploaded and its network
   * recorded while the GPU still runs window w - 1, whose outputs are read
   * back (which waits for the GPU) only after that upload. */
  g_autoptr (SsTensor) prev_logits = NULL;
  g_autoptr (SsTensor) prev_sync = NULL;
  SsGpuDevice *dev = ss_gpu_device_get_default (error);
  ok = dev != NULL;
  for (int w = 0; w <= r->n_windows && ok; w++)
    {
      g_autoptr (SsTensor) video = NULL;
      g_autoptr (SsTensor) spec = NULL;
      if (w < r->n_windows)
        {
          if (g_cancellable_is_cancelled (cancellable))
            {
              g_set_error (error, SS_ERROR, SS_ERROR_CANCELLED, "Sync analysis of “%s” cancelled",
                           name ? name : "clip");
              ok = FALSE;
              break;
            }
          int s0 = g_array_index (starts, int, w);
          r->window_start[w] = (double) s0 / c->fps;
          for (int k = 0; k < wf && ok; k++)
            ok = (fr[k] = frame_func (frame_data, s0 + k, error)) != NULL;
          if (!ok)
            break;
          g_autoptr (SsTensor) frames = ss_synchformer_preprocess_frames (m, fr, wf, width, height, stride, error);
          video = frames ? ss_synchformer_video_segments (m, frames, 0, error) : NULL;
          spec = video ? ss_synchformer_audio_segments (m, audio + (gsize) s0 * spf,
                                                        n_samples - (gsize) s0 * spf, error) : NULL;
          if (!spec)
            {
              ok = FALSE;
              break;
            }
        }
      if (prev_logits)
        {
          ok = read_window (m, prev_logits, prev_sync, &r->windows[w - 1], error);
          g_clear_pointer (&prev_logits, ss_tensor_unref);
          g_clear_pointer (&prev_sync, ss_tensor_unref);
          if (!ok)
            break;
          for (int i = 0; i < SS_SYNC_N_CLASSES; i++)
            r->overall.probs[i] += r->windows[w - 1].probs[i] / r->n_windows;
          if (r->windows[w - 1].syncability >= 0)
            r->overall.syncability += r->windows[w - 1].syncability / r->n_windows;
          if (opt.progress)
            opt.progress ((double) w / r->n_windows, opt.progress_data);
        }
      if (w < r->n_windows)
        {
          prev_logits = ss_synchformer_forward (m, video, spec, 1, &prev_sync, error);
          ok = prev_logits && ss_gpu_device_submit (dev, error);
        }
    }
  g_array_unref (starts);
  if (!ok)
    {
      ss_synchformer_result_free (r);
      return NULL;
    }
  if (c->head == SS_SYNCHFORMER_OFFSET)
    estimate_finish (&r->overall);
  else
    r->overall.class_index = -1, r->overall.offset = 0;
  return r;
}

SsSynchformerResult *
ss_synchformer_analyse (SsSynchformer *m, const guint8 *const *rgba, int n_frames,
                        int width, int height, int stride, double fps,
                        const float *audio, gsize n_samples,
                        const SsSynchformerOptions *opt, const char *name,
                        GCancellable *cancellable, GError **error)
{
  g_return_val_if_fail (m != NULL && fps > 0, NULL);
  if (n_frames <= 0 || !rgba)
    {
      g_set_error (error, SS_ERROR, SS_ERROR_INVALID_DATA, "“%s” has no video frames", name ? name : "clip");
      return NULL;
    }
  MemFrames mf = { rgba, n_frames, fps };
  int n25 = (int) floor (n_frames * 25.0 / fps + 1e-6);
  return analyse_windows (m, mem_frame, &mf, n25, width, height, stride, audio, n_samples,
                          opt, name, cancellable, error);
}

/* Builds without FFmpeg (the device benchmark) leave the file API out. */
#ifndef SS_SYNCHFORMER_NO_MEDIA
typedef struct {
  SsVideoDecoder *dec;
  SsTime start;
  SsFrame *cache[256];   /* ring of decoded frames by 25 fps index */
  int cache_index[256];
} FileFrames;

static const guint8 *
file_frame (gpointer data, int k, GError **error)
{
  FileFrames *ff = data;
  int slot = k & 255;
  if (ff->cache[slot] && ff->cache_index[slot] == k)
    return ff->cache[slot]->data;
  SsTime t = ff->start + (SsTime) ((double) k * SS_TIME_SECOND / 25.0 + 0.5);
  SsFrame *f = ss_video_decoder_get_frame (ff->dec, t, error);
  if (!f)
    return NULL;
  g_clear_pointer (&ff->cache[slot], ss_frame_unref);
  ff->cache[slot] = f;
  ff->cache_index[slot] = k;
  return f->data;
}

SsSynchformerResult *
ss_synchformer_analyse_file (SsSynchformer *m, const char *path, const SsSynchformerOptions *opt,
                             GCancellable *cancellable, GError **error)
{
  const SsSynchformerConfig *c = m->config;
  g_autofree char *base = g_path_get_basename (path);
  g_autoptr (SsVideoDecoder) dec = ss_video_decoder_new (path, error);
  if (!dec)
    return NULL;
  int w = 0, h = 0;
  ss_video_decoder_get_size (dec, &w, &h);
  if (w <= 0 || h <= 0)
    {
      g_set_error (error, SS_ERROR, SS_ERROR_INVALID_DATA, "“%s” has no video", base);
      return NULL;
    }
  /* let the decoder scale down (with its filtering) to about the model's resize size */
  double scale = (double) c->resize_side / MIN (w, h);
  if (scale < 1.0)
    {
      int ow = (int) ceil (w * scale), oh = (int) ceil (h * scale);
      ss_video_decoder_set_output_size (dec, ow + (ow & 1), oh + (oh & 1));
    }
  g_autofree float *audio = NULL;
  gsize n_samples = 0;
  if (!ss_audio_decode_all (path, c->sample_rate, 1, &audio, &n_samples, cancellable, error))
    return NULL;
  SsTime start = ss_video_decoder_get_start (dec);
  SsTime duration = ss_video_decoder_get_duration (dec);
  /* audio sample 0 is media time 0; align it with the first video frame */
  gsize skip = start > 0 ? (gsize) (ss_time_to_seconds (start) * c->sample_rate + 0.5) : 0;
  if (skip >= n_samples)
    {
      g_set_error (error, SS_ERROR, SS_ERROR_INVALID_DATA, "“%s” has no audio next to its video", base);
      return NULL;
    }
  int n25 = (int) floor (ss_time_to_seconds (duration - MAX (start, 0)) * 25.0 + 1e-6);
  FileFrames ff = { .dec = dec, .start = start };
  /* frame size after the decoder's scaling: decode the first frame */
  g_autoptr (GError) local = NULL;
  SsFrame *f0 = ss_video_decoder_get_frame (dec, start, &local);
  if (!f0)
    {
      g_propagate_error (error, g_steal_pointer (&local));
      return NULL;
    }
  int fw = f0->width, fh = f0->height, fs = f0->stride;
  ss_frame_unref (f0);
  SsSynchformerResult *r = analyse_windows (m, file_frame, &ff, n25, fw, fh, fs, audio + skip,
                                            n_samples - skip, opt, base, cancellable, error);
  for (int i = 0; i < 256; i++)
    g_clear_pointer (&ff.cache[i], ss_frame_unref);
  return r;
}
#endif
