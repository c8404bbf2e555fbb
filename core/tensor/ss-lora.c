/* ss-lora.c: LoRA adapters on frozen linear layers (see ss-lora.h). */
#define G_LOG_DOMAIN "ss-lora"

#include "ss-lora.h"

#include <math.h>
#include <string.h>

#include "tensor/ss-ops.h"
#include "tensor/ss-safetensors.h"

typedef struct {
  char     *layer;
  gint64    out, in;
  SsTensor *a;   /* [rank, in] f32 */
  SsTensor *b;   /* [out, rank] f32 */
} Adapter;

struct _SsLora {
  int         rank;
  float       alpha;
  float       dropout;
  GPtrArray  *patterns;  /* GPatternSpec*, NULL array means all */
  GStrv       targets;
  GRand      *rng;
  gboolean    training;
  GHashTable *adapters;  /* layer -> Adapter* */
};

static void
adapter_free (gpointer p)
{
  Adapter *ad = p;
  g_free (ad->layer);
  g_clear_pointer (&ad->a, ss_tensor_unref);
  g_clear_pointer (&ad->b, ss_tensor_unref);
  g_free (ad);
}

SsLora *
ss_lora_new (const SsLoraConfig *config)
{
  g_return_val_if_fail (config != NULL, NULL);
  g_return_val_if_fail (config->rank > 0, NULL);
  g_return_val_if_fail (config->dropout >= 0.0f && config->dropout < 1.0f, NULL);

  SsLora *lora = g_new0 (SsLora, 1);
  lora->rank = config->rank;
  lora->alpha = config->alpha;
  lora->dropout = config->dropout;
  lora->rng = g_rand_new_with_seed (config->seed);
  lora->training = TRUE;
  lora->adapters = g_hash_table_new_full (g_str_hash, g_str_equal, NULL, adapter_free);
  if (config->targets)
    {
      lora->targets = g_strdupv ((char **) config->targets);
      lora->patterns = g_ptr_array_new_with_free_func ((GDestroyNotify) g_pattern_spec_free);
      for (guint i = 0; lora->targets[i]; i++)
        g_ptr_array_add (lora->patterns, g_pattern_spec_new (lora->targets[i]));
    }
  return lora;
}

void
ss_lora_free (SsLora *lora)
{
  if (!lora)
    return;
  g_hash_table_unref (lora->adapters);
  g_clear_pointer (&lora->patterns, g_ptr_array_unref);
  g_strfreev (lora->targets);
  g_rand_free (lora->rng);
  g_free (lora);
}

int
ss_lora_get_rank (SsLora *lora)
{
  g_return_val_if_fail (lora != NULL, 0);
  return lora->rank;
}

float
ss_lora_get_alpha (SsLora *lora)
{
  g_return_val_if_fail (lora != NULL, 0);
  return lora->alpha;
}

float
ss_lora_get_scale (SsLora *lora)
{
  g_return_val_if_fail (lora != NULL, 0);
  return lora->alpha / (float) lora->rank;
}

void
ss_lora_set_training (SsLora *lora, gboolean training)
{
  g_return_if_fail (lora != NULL);
  lora->training = training;
}

gboolean
ss_lora_is_target (SsLora *lora, const char *layer)
{
  g_return_val_if_fail (lora != NULL && layer != NULL, FALSE);
  if (!lora->patterns)
    return TRUE;
  for (guint i = 0; i < lora->patterns->len; i++)
    if (g_pattern_spec_match_string (lora->patterns->pdata[i], layer))
      return TRUE;
  return FALSE;
}

static gboolean
add_adapter (SsLora *lora, const char *layer, SsTensor *a, SsTensor *b)
{
  Adapter *ad = g_new0 (Adapter, 1);
  ad->layer = g_strdup (layer);
  ad->out = b->shape[0];
  ad->in = a->shape[1];
  ad->a = a;
  ad->b = b;
  g_autofree char *na = g_strconcat (layer, ".lora_A.weight", NULL);
  g_autofree char *nb = g_strconcat (layer, ".lora_B.weight", NULL);
  ss_tensor_set_name (a, na);
  ss_tensor_set_name (b, nb);
  ss_tensor_set_requires_grad (a, TRUE);
  ss_tensor_set_requires_grad (b, TRUE);
  g_hash_table_replace (lora->adapters, ad->layer, ad);
  return TRUE;
}

gboolean
ss_lora_attach (SsLora *lora, const char *layer, gint64 out_features, gint64 in_features,
                GError **error)
{
  g_return_val_if_fail (lora != NULL && layer != NULL, FALSE);
  g_return_val_if_fail (out_features > 0 && in_features > 0, FALSE);

  Adapter *ad = g_hash_table_lookup (lora->adapters, layer);
  if (ad)
    {
      if (ad->out == out_features && ad->in == in_features)
        return TRUE;
      g_set_error (error, SS_ERROR, SS_ERROR_INVALID_DATA,
                   "The LoRA adapter of layer “%s” is for a %" G_GINT64_FORMAT " × %" G_GINT64_FORMAT
                   " weight, but the layer is %" G_GINT64_FORMAT " × %" G_GINT64_FORMAT,
                   layer, ad->out, ad->in, out_features, in_features);
      return FALSE;
    }
  if (!ss_lora_is_target (lora, layer))
    return FALSE;

  gint64 na = (gint64) lora->rank * in_features;
  g_autofree float *init = g_new (float, na);
  double bound = 1.0 / sqrt ((double) in_features);
  for (gint64 i = 0; i < na; i++)
    init[i] = (float) g_rand_double_range (lora->rng, -bound, bound);
  SsTensor *a = ss_tensor_new_from_floats (SS_DTYPE_F32, 2, SS_SHAPE (lora->rank, in_features),
                                           init, error);
  if (!a)
    return FALSE;
  SsTensor *b = ss_tensor_zeros (SS_DTYPE_F32, 2, SS_SHAPE (out_features, lora->rank), error);
  if (!b)
    {
      ss_tensor_unref (a);
      return FALSE;
    }
  return add_adapter (lora, layer, a, b);
}

gboolean
ss_lora_has_adapter (SsLora *lora, const char *layer)
{
  g_return_val_if_fail (lora != NULL && layer != NULL, FALSE);
  return g_hash_table_contains (lora->adapters, layer);
}

guint
ss_lora_get_n_adapters (SsLora *lora)
{
  g_return_val_if_fail (lora != NULL, 0);
  return g_hash_table_size (lora->adapters);
}

gboolean
ss_lora_get_adapter (SsLora *lora, const char *layer, SsTensor **a, SsTensor **b)
{
  g_return_val_if_fail (lora != NULL && layer != NULL, FALSE);
  Adapter *ad = g_hash_table_lookup (lora->adapters, layer);
  if (!ad)
    return FALSE;
  if (a)
    *a = ad->a;
  if (b)
    *b = ad->b;
  return TRUE;
}

static gboolean
check_shape (Adapter *ad, SsTensor *w, GError **error)
{
  if (w->ndim == 2 && w->shape[0] == ad->out && w->shape[1] == ad->in)
    return TRUE;
  g_autofree char *ws = ss_tensor_describe (w);
  g_set_error (error, SS_ERROR, SS_ERROR_INVALID_DATA,
               "The LoRA adapter of layer “%s” is for a %" G_GINT64_FORMAT " × %" G_GINT64_FORMAT
               " weight, but the layer's weight is %s",
               ad->layer, ad->out, ad->in, ws);
  return FALSE;
}

SsTensor *
ss_lora_linear (SsLora *lora, const char *layer, SsTensor *x, SsTensor *w, SsTensor *bias,
                GError **error)
{
  g_return_val_if_fail (lora != NULL && layer != NULL && x != NULL && w != NULL, NULL);
  Adapter *ad = g_hash_table_lookup (lora->adapters, layer);
  if (ad && !check_shape (ad, w, error))
    return NULL;
  g_autoptr (SsTensor) base = ss_op_linear (x, w, bias, error);
  if (!base || !ad)
    return g_steal_pointer (&base);

  g_autoptr (SsTensor) a = NULL, b = NULL, xin = NULL;
  if (x->dtype != SS_DTYPE_F32)
    {
      if (!(a = ss_tensor_to_dtype (ad->a, x->dtype, error)) ||
          !(b = ss_tensor_to_dtype (ad->b, x->dtype, error)))
        return NULL;
    }
  else
    {
      a = ss_tensor_ref (ad->a);
      b = ss_tensor_ref (ad->b);
    }

  if (lora->training && lora->dropout > 0.0f)
    {
      if (!(xin = ss_lora_dropout (x, lora->dropout, g_rand_int (lora->rng), error)))
        return NULL;
    }
  else
    xin = ss_tensor_ref (x);

  g_autoptr (SsTensor) h = ss_op_linear (xin, a, NULL, error);
  if (!h)
    return NULL;
  g_autoptr (SsTensor) d = ss_op_linear (h, b, NULL, error);
  if (!d)
    return NULL;
  g_autoptr (SsTensor) ds = ss_op_scale (d, ss_lora_get_scale (lora), 0.0f, error);
  if (!ds)
    return NULL;
  return ss_op_add (base, ds, error);
}

typedef struct {
  float   p;
  guint32 seed;
} DropoutData;

static SsTensor *
dropout_forward (SsTensor *x, float p, guint32 seed, GError **error)
{
  g_autoptr (SsTensor) xc = NULL;
  {
    SS_NO_GRAD_SCOPE;
    xc = ss_tensor_contiguous (x, error);
  }
  if (!xc)
    return NULL;
  SsTensor *out = ss_tensor_new (xc->dtype, xc->ndim, xc->shape, error);
  if (!out)
    return NULL;
  guint64 n = (guint64) ss_tensor_numel (xc);
  if (n > G_MAXUINT32)
    {
      ss_tensor_unref (out);
      g_set_error (error, SS_ERROR, SS_ERROR_UNSUPPORTED, "Dropout over more than 2^32 elements");
      return NULL;
    }
  struct { guint32 n, x_off, y_off, seed; float p, scale; } push = {
    (guint32) n, (guint32) xc->offset, (guint32) out->offset, seed, p, 1.0f / (1.0f - p)
  };
  SsGpuBinding b[2] = { ss_tensor_binding (xc, SS_GPU_READ), ss_tensor_binding (out, SS_GPU_WRITE) };
  char name[64];
  SsGpuDispatch d = { .shader = ss_tensor_shader ("dsp_lora_dropout", xc->dtype, name, sizeof name),
                      .bindings = b, .n_bindings = 2, .push = &push, .push_size = sizeof push,
                      .label = "dropout" };
  ss_gpu_groups_1d (xc->device, (n + 255) / 256, d.groups);
  if (!ss_gpu_dispatch (xc->device, &d, error))
    {
      ss_tensor_unref (out);
      return NULL;
    }
  return out;
}

static gboolean
dropout_backward (SsAutogradNode *node, SsTensor *grad_out, SsTensor **grad_in, GError **error)
{
  DropoutData *dd = ss_autograd_node_get_data (node);
  if (!ss_autograd_node_needs_input_grad (node, 0))
    return TRUE;
  grad_in[0] = dropout_forward (grad_out, dd->p, dd->seed, error);
  return grad_in[0] != NULL;
}

SsTensor *
ss_lora_dropout (SsTensor *x, float p, guint32 seed, GError **error)
{
  g_return_val_if_fail (x != NULL, NULL);
  g_return_val_if_fail (p >= 0.0f && p < 1.0f, NULL);
  if (p == 0.0f)
    return ss_tensor_ref (x);
  SsTensor *out = dropout_forward (x, p, seed, error);
  if (out && ss_autograd_needs_grad (1, &x))
    {
      SsAutogradNode *n = ss_autograd_node_new ("dropout", dropout_backward, 1, &x);
      DropoutData *dd = g_new (DropoutData, 1);
      dd->p = p;
      dd->seed = seed;
      ss_autograd_node_set_data (n, dd, g_free);
      ss_autograd_attach (out, n);
    }
  return out;
}

static int
cmp_adapter (gconstpointer a, gconstpointer b)
{
  return strcmp ((*(Adapter *const *) a)->layer, (*(Adapter *const *) b)->layer);
}

static GPtrArray *
sorted_adapters (SsLora *lora)
{
  GPtrArray *arr = g_ptr_array_new ();
  GHashTableIter it;
  gpointer v;
  g_hash_table_iter_init (&it, lora->adapters);
  while (g_hash_table_iter_next (&it, NULL, &v))
    g_ptr_array_add (arr, v);
  g_ptr_array_sort (arr, cmp_adapter);
  return arr;
}

GPtrArray *
ss_lora_get_parameters (SsLora *lora)
{
  g_return_val_if_fail (lora != NULL, NULL);
  g_autoptr (GPtrArray) ads = sorted_adapters (lora);
  GPtrArray *out = g_ptr_array_new_with_free_func ((GDestroyNotify) ss_tensor_unref);
  for (guint i = 0; i < ads->len; i++)
    {
      Adapter *ad = ads->pdata[i];
      g_ptr_array_add (out, ss_tensor_ref (ad->a));
      g_ptr_array_add (out, ss_tensor_ref (ad->b));
    }
  return out;
}

SsTensor *
ss_lora_merge (SsLora *lora, const char *layer, SsTensor *w, GError **error)
{
  g_return_val_if_fail (lora != NULL && layer != NULL && w != NULL, NULL);
  SS_NO_GRAD_SCOPE;
  Adapter *ad = g_hash_table_lookup (lora->adapters, layer);
  if (!ad)
    return ss_tensor_clone (w, error);
  if (!check_shape (ad, w, error))
    return NULL;
  g_autoptr (SsTensor) ba = ss_op_matmul (ad->b, ad->a, FALSE, FALSE, error);
  if (!ba)
    return NULL;
  g_autoptr (SsTensor) w32 = ss_tensor_to_dtype (w, SS_DTYPE_F32, error);
  if (!w32)
    return NULL;
  g_autoptr (SsTensor) sba = ss_op_scale (ba, ss_lora_get_scale (lora), 0.0f, error);
  if (!sba)
    return NULL;
  g_autoptr (SsTensor) sum = ss_op_add (w32, sba, error);
  if (!sum)
    return NULL;
  if (w->dtype == SS_DTYPE_F32)
    return g_steal_pointer (&sum);
  return ss_tensor_to_dtype (sum, w->dtype, error);
}

gboolean
ss_lora_save (SsLora *lora, const char *path, GError **error)
{
  g_return_val_if_fail (lora != NULL && path != NULL, FALSE);
  g_autoptr (SsSafetensorsWriter) wr = ss_safetensors_writer_new ();
  g_autoptr (GPtrArray) ads = sorted_adapters (lora);
  for (guint i = 0; i < ads->len; i++)
    {
      Adapter *ad = ads->pdata[i];
      SsTensor *ts[2] = { ad->a, ad->b };
      const char *suffix[2] = { ".lora_A.weight", ".lora_B.weight" };
      for (int k = 0; k < 2; k++)
        {
          g_autofree float *data = ss_tensor_to_floats_dup (ts[k], error);
          if (!data)
            return FALSE;
          g_autofree char *name = g_strconcat (ad->layer, suffix[k], NULL);
          ss_safetensors_writer_add_f32 (wr, name, SS_SAFETENSORS_F32, 2, ts[k]->shape, data);
        }
    }
  char buf[64];
  ss_safetensors_writer_set_metadata (wr, "format", "soundstage-lora");
  g_snprintf (buf, sizeof buf, "%d", lora->rank);
  ss_safetensors_writer_set_metadata (wr, "lora_rank", buf);
  g_ascii_dtostr (buf, sizeof buf, lora->alpha);
  ss_safetensors_writer_set_metadata (wr, "lora_alpha", buf);
  if (lora->targets)
    {
      g_autofree char *t = g_strjoinv (",", lora->targets);
      ss_safetensors_writer_set_metadata (wr, "lora_targets", t);
    }
  return ss_safetensors_writer_write (wr, path, error);
}

static SsTensor *
load_tensor (SsSafetensors *st, const SsSafetensorsInfo *info, GError **error)
{
  g_autofree float *data = ss_safetensors_dup_f32 (st, info->name, NULL, error);
  if (!data)
    return NULL;
  return ss_tensor_new_from_floats (SS_DTYPE_F32, 2, info->shape, data, error);
}

SsLora *
ss_lora_load (const char *path, GError **error)
{
  g_return_val_if_fail (path != NULL, NULL);
  g_autoptr (SsSafetensors) st = ss_safetensors_open (path, error);
  if (!st)
    return NULL;
  const char *file = ss_safetensors_get_display_name (st);

  const char *rank_s = ss_safetensors_get_metadata_value (st, "lora_rank");
  const char *alpha_s = ss_safetensors_get_metadata_value (st, "lora_alpha");
  const char *targets_s = ss_safetensors_get_metadata_value (st, "lora_targets");
  int rank = 0;
  if (rank_s)
    {
      gint64 r;
      if (!g_ascii_string_to_signed (rank_s, 10, 1, 65536, &r, NULL))
        {
          g_set_error (error, SS_ERROR, SS_ERROR_INVALID_DATA,
                       "“%s”: the LoRA rank “%s” is not a positive number", file, rank_s);
          return NULL;
        }
      rank = (int) r;
    }

  /* Collect layers from the A tensors; every tensor must belong to a pair. */
  const char *const *names = ss_safetensors_get_names (st);
  g_autoptr (GPtrArray) layers = g_ptr_array_new_with_free_func (g_free);
  for (guint i = 0; names[i]; i++)
    {
      const char *n = names[i];
      gboolean is_a = g_str_has_suffix (n, ".lora_A.weight");
      gboolean is_b = g_str_has_suffix (n, ".lora_B.weight");
      if (!is_a && !is_b)
        {
          g_set_error (error, SS_ERROR, SS_ERROR_INVALID_DATA,
                       "“%s”: tensor “%s” is not a LoRA adapter weight (…lora_A.weight or "
                       "…lora_B.weight)",
                       file, n);
          return NULL;
        }
      g_autofree char *layer = g_strndup (n, strlen (n) - strlen (".lora_A.weight"));
      g_autofree char *other = g_strconcat (layer, is_a ? ".lora_B.weight" : ".lora_A.weight",
                                            NULL);
      if (!ss_safetensors_has (st, other))
        {
          g_set_error (error, SS_ERROR, SS_ERROR_INVALID_DATA,
                       "“%s”: tensor “%s” has no partner “%s” (incomplete adapter)", file, n,
                       other);
          return NULL;
        }
      if (is_a)
        g_ptr_array_add (layers, g_steal_pointer (&layer));
    }
  if (layers->len == 0)
    {
      g_set_error (error, SS_ERROR, SS_ERROR_INVALID_DATA, "“%s”: there are no LoRA adapters in it",
                   file);
      return NULL;
    }

  for (guint i = 0; i < layers->len; i++)
    {
      const char *layer = layers->pdata[i];
      g_autofree char *na = g_strconcat (layer, ".lora_A.weight", NULL);
      g_autofree char *nb = g_strconcat (layer, ".lora_B.weight", NULL);
      const SsSafetensorsInfo *ia = ss_safetensors_lookup (st, na);
      const SsSafetensorsInfo *ib = ss_safetensors_lookup (st, nb);
      const SsSafetensorsInfo *bad = NULL;
      if (!ss_safetensors_dtype_is_engine_float (ia->dtype) || ia->rank != 2 ||
          ia->shape[0] < 1 || ia->shape[1] < 1)
        bad = ia;
      else if (!ss_safetensors_dtype_is_engine_float (ib->dtype) || ib->rank != 2 ||
               ib->shape[0] < 1 || ib->shape[1] != ia->shape[0])
        bad = ib;
      else if (rank == 0)
        rank = (int) ia->shape[0];
      else if (ia->shape[0] != rank)
        bad = ia;
      if (bad)
        {
          g_set_error (error, SS_ERROR, SS_ERROR_INVALID_DATA,
                       "“%s”: tensor “%s” does not fit a rank-%d adapter (%s, %u dimensions)", file,
                       bad->name, rank ? rank : (int) ia->shape[0],
                       ss_safetensors_dtype_name (bad->dtype), bad->rank);
          return NULL;
        }
    }

  g_auto (GStrv) targets = targets_s && *targets_s ? g_strsplit (targets_s, ",", -1) : NULL;
  SsLoraConfig cfg = {
    .rank = rank,
    .alpha = alpha_s ? (float) g_ascii_strtod (alpha_s, NULL) : (float) rank,
    .targets = (const char *const *) targets,
  };
  if (!isfinite (cfg.alpha))
    {
      g_set_error (error, SS_ERROR, SS_ERROR_INVALID_DATA, "“%s”: the LoRA alpha “%s” is not a number",
                   file, alpha_s);
      return NULL;
    }
  g_autoptr (SsLora) lora = ss_lora_new (&cfg);
  for (guint i = 0; i < layers->len; i++)
    {
      const char *layer = layers->pdata[i];
      g_autofree char *na = g_strconcat (layer, ".lora_A.weight", NULL);
      g_autofree char *nb = g_strconcat (layer, ".lora_B.weight", NULL);
      SsTensor *a = load_tensor (st, ss_safetensors_lookup (st, na), error);
      if (!a)
        return NULL;
      SsTensor *b = load_tensor (st, ss_safetensors_lookup (st, nb), error);
      if (!b)
        {
          ss_tensor_unref (a);
          return NULL;
        }
      const char *plain = g_str_has_prefix (layer, "base_model.model.")
                              ? layer + strlen ("base_model.model.")
                              : layer;
      add_adapter (lora, plain, a, b);
    }
  return g_steal_pointer (&lora);
}
