/* ss-synchformer-config.c: Synchformer configs and checkpoint tensor lists. */
#define G_LOG_DOMAIN "ss-synchformer"

#include "ss-synchformer-config.h"
#include "ss-types.h"

#include <stdarg.h>
#include <string.h>

/* What the offset model and the synchronizability fine-tune share: everything
 * but the number of segments, the position embedding and the head. */
#define REFERENCE_COMMON \
  .fps = 25, .sample_rate = 16000, \
  .resize_side = 256, .image_size = 224, \
  .segment_frames = 16, .segment_hop = 8, \
  .n_fft = 1024, .win_length = 400, .hop_length = 160, .n_mels = 128, .spec_frames = 66, \
  .spec_mean = -4.2677393, .spec_std = 4.5689974, \
  .a_dim = 768, .a_layers = 12, .a_heads = 12, .a_mlp = 3072, .a_patch = 16, .a_fstride = 10, .a_tstride = 10, \
  .a_ln_eps = 1e-12, \
  .v_dim = 768, .v_layers = 12, .v_heads = 12, .v_mlp = 3072, .v_patch = 16, .v_tubelet = 2, .v_channels = 3, \
  .v_ln_eps = 1e-6, .v_keep_patch_embed_2d = TRUE, \
  .agg_mlp_ratio = 4, .agg_ln_eps = 1e-6, \
  .s_dim = 768, .s_layers = 3, .s_heads = 8, .s_mlp_ratio = 4, .s_ln_eps = 1e-5

static const SsSynchformerConfig reference = {
  .name = "reference",
  REFERENCE_COMMON,
  .n_segments = 14,
  .n_classes = 21, .pos_len = 198,
  .head = SS_SYNCHFORMER_OFFSET,
};

/* The synchronizability fine-tune (configs/ft_synchability.yaml): its position
 * embedding has 184 rows (13 segments: 2 + 13 * 14) and it has a 2-class head
 * instead of off_head. */
static const SsSynchformerConfig reference_syncability = {
  .name = "reference-syncability",
  REFERENCE_COMMON,
  .n_segments = 13,
  .n_classes = 2, .pos_len = 184,
  .head = SS_SYNCHFORMER_SYNCABILITY,
};

#undef REFERENCE_COMMON

/* Small enough for lavapipe and unit tests: 3 segments of 4 frames at 32x32. */
static const SsSynchformerConfig tiny = {
  .name = "tiny",
  .fps = 25, .sample_rate = 16000,
  .resize_side = 36, .image_size = 32,
  .n_segments = 3, .segment_frames = 4, .segment_hop = 2,
  .n_fft = 512, .win_length = 400, .hop_length = 160, .n_mels = 32, .spec_frames = 18,
  .spec_mean = -4.2677393, .spec_std = 4.5689974,
  .a_dim = 32, .a_layers = 2, .a_heads = 4, .a_mlp = 64, .a_patch = 8, .a_fstride = 6, .a_tstride = 5,
  .a_ln_eps = 1e-12,
  .v_dim = 32, .v_layers = 2, .v_heads = 4, .v_mlp = 64, .v_patch = 8, .v_tubelet = 2, .v_channels = 3,
  .v_ln_eps = 1e-6, .v_keep_patch_embed_2d = TRUE,
  .agg_mlp_ratio = 2, .agg_ln_eps = 1e-6,
  .s_dim = 32, .s_layers = 2, .s_heads = 4, .s_mlp_ratio = 4, .s_ln_eps = 1e-5,
  .n_classes = 21, .pos_len = 17,
  .head = SS_SYNCHFORMER_OFFSET,
};

const SsSynchformerConfig *
ss_synchformer_config_reference (void)
{
  return &reference;
}

const SsSynchformerConfig *
ss_synchformer_config_reference_syncability (void)
{
  return &reference_syncability;
}

const SsSynchformerConfig *
ss_synchformer_config_tiny (void)
{
  return &tiny;
}

const SsSynchformerConfig *
ss_synchformer_config_by_name (const char *name)
{
  if (g_strcmp0 (name, "reference") == 0)
    return &reference;
  if (g_strcmp0 (name, "reference-syncability") == 0)
    return &reference_syncability;
  if (g_strcmp0 (name, "tiny") == 0)
    return &tiny;
  return NULL;
}

int
ss_synchformer_audio_freq_tokens (const SsSynchformerConfig *c)
{
  return (c->n_mels - c->a_patch) / c->a_fstride + 1;
}

int
ss_synchformer_audio_time_tokens (const SsSynchformerConfig *c)
{
  return (c->spec_frames - c->a_patch) / c->a_tstride + 1;
}

int
ss_synchformer_video_time_tokens (const SsSynchformerConfig *c)
{
  return c->segment_frames / c->v_tubelet;
}

int
ss_synchformer_video_grid (const SsSynchformerConfig *c)
{
  return c->image_size / c->v_patch;
}

int
ss_synchformer_sequence_length (const SsSynchformerConfig *c)
{
  return 2 + c->n_segments * (ss_synchformer_video_time_tokens (c) + ss_synchformer_audio_time_tokens (c));
}

int
ss_synchformer_segment_samples (const SsSynchformerConfig *c)
{
  return (int) ((gint64) c->segment_frames * c->sample_rate / c->fps);
}

gboolean
ss_synchformer_config_validate (const SsSynchformerConfig *c, GError **error)
{
  g_return_val_if_fail (c != NULL, FALSE);
#define FAIL(...) do { g_set_error (error, SS_ERROR, SS_ERROR_INVALID_DATA, __VA_ARGS__); return FALSE; } while (0)
  if (c->a_dim % c->a_heads || c->v_dim % c->v_heads || c->s_dim % c->s_heads)
    FAIL ("Synchformer config “%s”: a width is not divisible by its number of heads", c->name);
  if (c->segment_frames % c->v_tubelet)
    FAIL ("Synchformer config “%s”: %d frames per segment do not split into tubelets of %d",
          c->name, c->segment_frames, c->v_tubelet);
  if (c->image_size % c->v_patch)
    FAIL ("Synchformer config “%s”: image size %d is not a multiple of the patch size %d",
          c->name, c->image_size, c->v_patch);
  if (c->n_mels < c->a_patch || c->spec_frames < c->a_patch)
    FAIL ("Synchformer config “%s”: the spectrogram is smaller than one audio patch", c->name);
  /* the spectrogram of one segment (centred STFT) must fit the padded length */
  int frames = ss_synchformer_segment_samples (c) / c->hop_length + 1;
  if (frames > c->spec_frames)
    FAIL ("Synchformer config “%s”: a segment gives %d spectrogram frames but the model takes %d",
          c->name, frames, c->spec_frames);
  /* the public code adds the position embedding to the sequence as is: lengths must match */
  if (ss_synchformer_sequence_length (c) != c->pos_len)
    FAIL ("Synchformer config “%s”: the sequence has %d tokens but the position embedding %d",
          c->name, ss_synchformer_sequence_length (c), c->pos_len);
  if (c->resize_side < c->image_size)
    FAIL ("Synchformer config “%s”: the crop is larger than the resized frame", c->name);
  return TRUE;
#undef FAIL
}

void
ss_tensor_spec_free (SsTensorSpec *spec)
{
  if (spec == NULL)
    return;
  g_free (spec->name);
  g_free (spec);
}

gint64
ss_tensor_spec_numel (const SsTensorSpec *spec)
{
  gint64 n = 1;
  for (int i = 0; i < spec->n_dims; i++)
    n *= spec->shape[i];
  return n;
}

/* add (list, n_dims, d0, d1, ..., "format", ...) */
static void
add (GPtrArray *list, int n_dims, ...)
{
  SsTensorSpec *t = g_new0 (SsTensorSpec, 1);
  va_list ap;
  va_start (ap, n_dims);
  t->n_dims = n_dims;
  for (int i = 0; i < n_dims; i++)
    t->shape[i] = va_arg (ap, int);
  const char *fmt = va_arg (ap, const char *);
  t->name = g_strdup_vprintf (fmt, ap);
  va_end (ap);
  g_ptr_array_add (list, t);
}

static void
add_linear (GPtrArray *l, int out, int in, const char *prefix)
{
  add (l, 2, out, in, "%s.weight", prefix);
  add (l, 1, out, "%s.bias", prefix);
}

static void
add_norm (GPtrArray *l, int dim, const char *prefix)
{
  add (l, 1, dim, "%s.weight", prefix);
  add (l, 1, dim, "%s.bias", prefix);
}

/* model.modules.feat_extractors.visual.motionformer.BaseEncoderLayer (nn.TransformerEncoderLayer
 * with a CLS parameter registered after the layer's modules; own parameters come first). */
static void
add_agg_layer (GPtrArray *l, int dim, int mlp, const char *p)
{
  g_autofree char *s = NULL;
  add (l, 3, 1, 1, dim, "%s.cls_token", p);
  add (l, 2, 3 * dim, dim, "%s.self_attn.in_proj_weight", p);
  add (l, 1, 3 * dim, "%s.self_attn.in_proj_bias", p);
  s = g_strdup_printf ("%s.self_attn.out_proj", p);
  add_linear (l, dim, dim, s);
  g_free (s);
  s = g_strdup_printf ("%s.linear1", p);
  add_linear (l, mlp, dim, s);
  g_free (s);
  s = g_strdup_printf ("%s.linear2", p);
  add_linear (l, dim, mlp, s);
  g_free (s);
  s = g_strdup_printf ("%s.norm1", p);
  add_norm (l, dim, s);
  g_free (s);
  s = g_strdup_printf ("%s.norm2", p);
  add_norm (l, dim, s);
}

GPtrArray *
ss_synchformer_config_tensors (const SsSynchformerConfig *c)
{
  g_return_val_if_fail (c != NULL, NULL);
  GPtrArray *l = g_ptr_array_new_with_free_func ((GDestroyNotify) ss_tensor_spec_free);
  char p[256];

  /* ---- vfeat_extractor: MotionFormer(VisionTransformer) ---- */
  int vd = c->v_dim, vt = ss_synchformer_video_time_tokens (c), vg = ss_synchformer_video_grid (c);
  add (l, 3, 1, 1, vd, "vfeat_extractor.cls_token");
  add (l, 3, 1, vg * vg + 1, vd, "vfeat_extractor.pos_embed");
  add (l, 3, 1, vt, vd, "vfeat_extractor.temp_embed");
  if (c->v_keep_patch_embed_2d)
    {
      add (l, 4, vd, c->v_channels, c->v_patch, c->v_patch, "vfeat_extractor.patch_embed.proj.weight");
      add (l, 1, vd, "vfeat_extractor.patch_embed.proj.bias");
    }
  add (l, 5, vd, c->v_channels, c->v_tubelet, c->v_patch, c->v_patch, "vfeat_extractor.patch_embed_3d.proj.weight");
  add (l, 1, vd, "vfeat_extractor.patch_embed_3d.proj.bias");
  for (int i = 0; i < c->v_layers; i++)
    {
      const char *sub[] = { "norm1", "attn", "timeattn", "norm2", "mlp", "norm3" };
      for (guint k = 0; k < G_N_ELEMENTS (sub); k++)
        {
          g_snprintf (p, sizeof p, "vfeat_extractor.blocks.%d.%s", i, sub[k]);
          if (g_str_has_prefix (sub[k], "norm"))
            add_norm (l, vd, p);
          else if (strcmp (sub[k], "mlp") == 0)
            {
              char q[300];
              g_snprintf (q, sizeof q, "%s.fc1", p);
              add_linear (l, c->v_mlp, vd, q);
              g_snprintf (q, sizeof q, "%s.fc2", p);
              add_linear (l, vd, c->v_mlp, q);
            }
          else
            {
              char q[300];
              g_snprintf (q, sizeof q, "%s.qkv", p);
              add_linear (l, 3 * vd, vd, q);
              g_snprintf (q, sizeof q, "%s.proj", p);
              add_linear (l, vd, vd, q);
            }
        }
    }
  add_norm (l, vd, "vfeat_extractor.norm");
  add_agg_layer (l, vd, c->agg_mlp_ratio * vd, "vfeat_extractor.spatial_attn_agg");

  /* ---- afeat_extractor: AST ---- */
  int ad = c->a_dim;
  int n_patches = ss_synchformer_audio_freq_tokens (c) * ss_synchformer_audio_time_tokens (c);
  add (l, 3, 1, 1, ad, "afeat_extractor.ast.embeddings.cls_token");
  add (l, 3, 1, 1, ad, "afeat_extractor.ast.embeddings.distillation_token");
  add (l, 3, 1, n_patches + 2, ad, "afeat_extractor.ast.embeddings.position_embeddings");
  add (l, 4, ad, 1, c->a_patch, c->a_patch, "afeat_extractor.ast.embeddings.patch_embeddings.projection.weight");
  add (l, 1, ad, "afeat_extractor.ast.embeddings.patch_embeddings.projection.bias");
  for (int i = 0; i < c->a_layers; i++)
    {
      char q[300];
      g_snprintf (p, sizeof p, "afeat_extractor.ast.encoder.layer.%d", i);
      g_snprintf (q, sizeof q, "%s.attention.attention.query", p);
      add_linear (l, ad, ad, q);
      g_snprintf (q, sizeof q, "%s.attention.attention.key", p);
      add_linear (l, ad, ad, q);
      g_snprintf (q, sizeof q, "%s.attention.attention.value", p);
      add_linear (l, ad, ad, q);
      g_snprintf (q, sizeof q, "%s.attention.output.dense", p);
      add_linear (l, ad, ad, q);
      g_snprintf (q, sizeof q, "%s.intermediate.dense", p);
      add_linear (l, c->a_mlp, ad, q);
      g_snprintf (q, sizeof q, "%s.output.dense", p);
      add_linear (l, ad, c->a_mlp, q);
      g_snprintf (q, sizeof q, "%s.layernorm_before", p);
      add_norm (l, ad, q);
      g_snprintf (q, sizeof q, "%s.layernorm_after", p);
      add_norm (l, ad, q);
    }
  add_norm (l, ad, "afeat_extractor.ast.layernorm");
  add_agg_layer (l, ad, c->agg_mlp_ratio * ad, "afeat_extractor.freq_attn_agg");

  /* ---- projections ---- */
  add_linear (l, c->s_dim, vd, "vproj");
  add_linear (l, c->s_dim, ad, "aproj");

  /* ---- transformer: GlobalTransformer ---- */
  int sd = c->s_dim;
  add (l, 3, 1, 1, sd, "transformer.OFF_tok");
  add (l, 3, 1, 1, sd, "transformer.MOD_tok");
  add_norm (l, sd, "transformer.vis_in_lnorm");
  add_norm (l, sd, "transformer.aud_in_lnorm");
  add (l, 3, 1, c->pos_len, sd, "transformer.pos_emb_cfg.pos_emb");
  for (int i = 0; i < c->s_layers; i++)
    {
      char q[300];
      g_snprintf (p, sizeof p, "transformer.blocks.%d", i);
      g_snprintf (q, sizeof q, "%s.ln1", p);
      add_norm (l, sd, q);
      g_snprintf (q, sizeof q, "%s.ln2", p);
      add_norm (l, sd, q);
      const char *proj[] = { "key", "query", "value", "proj" };
      for (guint k = 0; k < G_N_ELEMENTS (proj); k++)
        {
          g_snprintf (q, sizeof q, "%s.attn.%s", p, proj[k]);
          add_linear (l, sd, sd, q);
        }
      g_snprintf (q, sizeof q, "%s.mlp.0", p);
      add_linear (l, c->s_mlp_ratio * sd, sd, q);
      g_snprintf (q, sizeof q, "%s.mlp.2", p);
      add_linear (l, sd, c->s_mlp_ratio * sd, q);
    }
  add_norm (l, sd, "transformer.ln_f");
  if (c->head == SS_SYNCHFORMER_OFFSET)
    add_linear (l, c->n_classes, sd, "transformer.off_head");
  else
    add_linear (l, c->n_classes, sd, "transformer.sync_head");
  return l;
}
