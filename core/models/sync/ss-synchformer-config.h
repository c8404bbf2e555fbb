/* ss-synchformer-config.h: Synchformer (Iashin et al., ICASSP 2024) configurations
 * and the tensors of its checkpoint.
 *
 * Two configs: "reference", whose tensor names and shapes are those of the public
 * checkpoints (github.com/v-iashin/Synchformer, ckpt['model'] of e.g.
 * 24-01-04T16-39-21.pt), and "tiny", the same architecture made small for tests and
 * lavapipe. tools/reference/synchformer.py builds the same modules in PyTorch with
 * the same names; tools/convert/synchformer.py turns a public .pt into safetensors.
 *
 * Architecture (per segment s of S): 16 frames (0.64 s), hop 8 frames.
 *  - Video: Motionformer ViT-B with divided space-time attention: Conv3d tubelets
 *    (2x16x16) -> 8x14x14 tokens + CLS, separate space + time position embeddings,
 *    12 blocks (time attention, space attention, MLP; LayerNorm eps 1e-6), final
 *    LayerNorm; then a spatial aggregation layer (nn.TransformerEncoderLayer,
 *    norm_first, GELU, with its own CLS token) per frame: 8 tokens per segment.
 *  - Audio: AST (ViT-B, 16x16 patches with stride 10 over a 128 x 66 log-mel,
 *    CLS + distillation tokens, LayerNorm eps 1e-12), final LayerNorm; then a
 *    frequency aggregation layer per time step: 6 tokens per segment.
 *  - Sync module: vproj/aproj (Linear), input LayerNorms, the sequence
 *    [OFF, S*8 visual, MOD, S*6 audio] + a learned position embedding (198 = 2 +
 *    14 * 14), 3 minGPT blocks (8 heads), ln_f, off_head on OFF (21 classes);
 *    the synchronizability model has sync_head (2 classes) instead.
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef enum {
  SS_SYNCHFORMER_OFFSET,          /* off_head: 21 offset classes */
  SS_SYNCHFORMER_SYNCABILITY,     /* sync_head: 2 classes (not synchronizable / synchronizable) */
} SsSynchformerHead;

typedef struct {
  const char *name;

  /* input */
  int    fps, sample_rate;
  int    resize_side, image_size;      /* resize so the short side is resize_side, centre-crop image_size */
  int    n_segments, segment_frames, segment_hop;
  int    n_fft, win_length, hop_length, n_mels, spec_frames;
  double spec_mean, spec_std;          /* applied as (x - mean) / (2 std), as in the public code */

  /* audio feature extractor (AST) */
  int    a_dim, a_layers, a_heads, a_mlp, a_patch, a_fstride, a_tstride;
  double a_ln_eps;

  /* video feature extractor (Motionformer, divided space-time) */
  int    v_dim, v_layers, v_heads, v_mlp, v_patch, v_tubelet, v_channels;
  double v_ln_eps;
  gboolean v_keep_patch_embed_2d;      /* the unused 2D patch_embed kept in the checkpoint */

  /* aggregation layers (nn.TransformerEncoderLayer, norm_first, eps 1e-6) */
  int    agg_mlp_ratio;
  double agg_ln_eps;                   /* 1e-6 */

  /* synchronization transformer */
  int    s_dim, s_layers, s_heads, s_mlp_ratio;
  double s_ln_eps;                     /* nn.LayerNorm default, 1e-5 */
  int    n_classes;
  int    pos_len;                      /* learned position embedding length (>= sequence) */
  SsSynchformerHead head;
} SsSynchformerConfig;

const SsSynchformerConfig *ss_synchformer_config_reference (void);
const SsSynchformerConfig *ss_synchformer_config_reference_syncability (void);
const SsSynchformerConfig *ss_synchformer_config_tiny (void);
/* "reference", "reference-syncability" or "tiny"; NULL if unknown. */
const SsSynchformerConfig *ss_synchformer_config_by_name (const char *name);

/* Derived sizes. */
int ss_synchformer_audio_freq_tokens (const SsSynchformerConfig *c);   /* 12 */
int ss_synchformer_audio_time_tokens (const SsSynchformerConfig *c);   /* 6 per segment */
int ss_synchformer_video_time_tokens (const SsSynchformerConfig *c);   /* 8 per segment */
int ss_synchformer_video_grid        (const SsSynchformerConfig *c);   /* 14 */
int ss_synchformer_sequence_length   (const SsSynchformerConfig *c);   /* 198 */
int ss_synchformer_segment_samples   (const SsSynchformerConfig *c);   /* 10240 */
/* Checks that the sizes fit together; the message says what does not. */
gboolean ss_synchformer_config_validate (const SsSynchformerConfig *c, GError **error);

#define SS_SYNCHFORMER_MAX_DIMS 5

typedef struct {
  char  *name;
  int    n_dims;
  gint64 shape[SS_SYNCHFORMER_MAX_DIMS];
} SsTensorSpec;

void ss_tensor_spec_free (SsTensorSpec *spec);
gint64 ss_tensor_spec_numel (const SsTensorSpec *spec);

/* Every tensor of the checkpoint for @c, in state_dict order; GPtrArray of SsTensorSpec*. */
GPtrArray *ss_synchformer_config_tensors (const SsSynchformerConfig *c);

G_END_DECLS
