/* ss-synchformer.h: the Synchformer audio-visual synchronization network
 * (Iashin et al., ICASSP 2024) on the Soundstage engine.
 *
 * Architecture and tensor names: core/models/sync/ss-synchformer-config.h.
 * The model takes 4.8 s of 25 fps video (14 segments of 16 frames, hop 8) and
 * 16 kHz audio cut into the same segments, and predicts the offset among 21
 * classes (class i = -2.0 + 0.2 i s, ss-sync.h) and, when its weights have a
 * synchronizability head, the probability that the clip can be synchronized.
 *
 * Offset convention (ss-sync.h): positive = the audio leads.
 *
 * Pre-processing (on the GPU): frames are resized bilinearly so that the short
 * side is resize_side (no antialiasing), centre-cropped to image_size and
 * mapped to [-1, 1] ((x/255 - 0.5) / 0.5); audio segments go through
 * core/dsp/ss-mel (torchaudio MelSpectrogram conventions), are padded (0 in
 * the log domain) or cut to spec_frames and normalized as
 * (x - mean) / (2 std) like the public code.
 *
 * Weights: safetensors with the checkpoint's names (tools/convert/synchformer.py
 * converts a public .pt); every tensor is checked (names, shapes) before use and
 * errors name the file and the tensor. An optional "transformer.sync_head"
 * ([2, s_dim] + [2]) next to "transformer.off_head" gives synchronizability from
 * the same OFF token (the models trained by tools/train have it).
 *
 * Threading: a model may be used from one thread at a time.
 */
#pragma once

#include <gio/gio.h>
#include "tensor/ss-tensor.h"
#include "models/sync/ss-synchformer-config.h"
#include "models/sync/ss-sync.h"

G_BEGIN_DECLS

typedef struct _SsSynchformer SsSynchformer;

/* The configs of ss-synchformer-config.h plus "small" (the default model
 * trained by tools/train: 64 x 64 frames, 128-d, the full 4.8 s window). */
const SsSynchformerConfig *ss_synchformer_config_small (void);
const SsSynchformerConfig *ss_synchformer_config_lookup (const char *name);

/* Random weights (deterministic for a seed; LayerNorm scales near 1). With
 * @with_sync_head the model also gets the 2-class synchronizability head. */
SsSynchformer *ss_synchformer_new_random (const SsSynchformerConfig *config, guint64 seed,
                                          gboolean with_sync_head, GError **error);
/* Loads weights. @config NULL: taken from the file's metadata "config"
 * (written by ss_synchformer_save), else "reference". Errors name the file
 * and the tensor (missing, unexpected, wrong shape, unreadable). */
SsSynchformer *ss_synchformer_load (const SsSynchformerConfig *config, const char *path,
                                    GError **error);
void           ss_synchformer_free (SsSynchformer *model);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (SsSynchformer, ss_synchformer_free)

const SsSynchformerConfig *ss_synchformer_get_config (SsSynchformer *model);
/* Extra safetensors metadata (besides "config" and "format"): read by
 * ss_synchformer_load, written by ss_synchformer_save. NULL value removes. */
const char    *ss_synchformer_get_metadata (SsSynchformer *model, const char *key);
void           ss_synchformer_set_metadata (SsSynchformer *model, const char *key, const char *value);
/* The trainer records the accuracy (exact class, 0..1) of the model and of the
 * signal-processing estimate on the same held-out moderate corpus clips under
 * these keys; the "auto" sync method uses the model only if it is not worse. */
#define SS_SYNCHFORMER_META_HELDOUT_ACC    "heldout_moderate_accuracy"
#define SS_SYNCHFORMER_META_HELDOUT_SP_ACC "heldout_moderate_sp_accuracy"
/* Both recorded figures, FALSE when the file has none (e.g. converted public weights). */
gboolean       ss_synchformer_get_heldout_accuracy (SsSynchformer *model, double *model_acc, double *sp_acc);
gboolean       ss_synchformer_has_sync_head (SsSynchformer *model);
/* The parameter of that checkpoint name (borrowed), NULL if none. */
SsTensor      *ss_synchformer_get_param (SsSynchformer *model, const char *name);
/* All parameters in checkpoint order: names (borrowed, NULL-terminated) and tensors. */
const char *const *ss_synchformer_get_param_names (SsSynchformer *model);
guint          ss_synchformer_get_n_params (SsSynchformer *model);
SsTensor      *ss_synchformer_get_param_index (SsSynchformer *model, guint i);
gint64         ss_synchformer_count_parameters (SsSynchformer *model);
/* Converts the parameters to @dtype (f32 after loading; f16 or bf16 store
 * weights and activations in half precision, arithmetic stays fp32). Inputs of
 * any dtype are converted; outputs have @dtype. Inference only. */
gboolean       ss_synchformer_set_dtype (SsSynchformer *model, SsDType dtype, GError **error);
SsDType        ss_synchformer_get_dtype (SsSynchformer *model);
/* Marks every parameter as requiring gradients (training). */
void           ss_synchformer_set_trainable (SsSynchformer *model, gboolean trainable);
/* Writes the weights (F32, F16 or BF16 storage) with metadata "config". */
gboolean       ss_synchformer_save (SsSynchformer *model, const char *path, gboolean fp16,
                                    GError **error);

/* ---- stages (autograd is recorded when grad mode is on) ---- */

/* RGBA 8-bit frames (any size, same for all) -> [n, 3, image_size, image_size]
 * f32 in [-1, 1]: resize (short side -> resize_side), centre crop, normalize. */
SsTensor *ss_synchformer_preprocess_frames (SsSynchformer *model, const guint8 *const *rgba,
                                            int n_frames, int width, int height, int stride,
                                            GError **error);
/* Mono 16 kHz audio -> normalized log-mel of the n_segments segments of the
 * window that starts at sample 0 of @audio: [n_segments, n_mels, spec_frames].
 * @audio must hold the whole window (missing samples are read as silence). */
SsTensor *ss_synchformer_audio_segments (SsSynchformer *model, const float *audio,
                                         gsize n_samples, GError **error);
/* Preprocessed frames [T, 3, S, S] (T >= window frames, from frame @first)
 * -> video segments [n_segments, 3, segment_frames, S, S]. */
SsTensor *ss_synchformer_video_segments (SsSynchformer *model, SsTensor *frames, int first,
                                         GError **error);
/* [N, 3, Lf, S, S] -> [N, video time tokens, v_dim] */
SsTensor *ss_synchformer_video_features (SsSynchformer *model, SsTensor *video, GError **error);
/* [N, n_mels, spec_frames] -> [N, audio time tokens, a_dim] */
SsTensor *ss_synchformer_audio_features (SsSynchformer *model, SsTensor *spec, GError **error);
/* Features [B*S, tv, v_dim], [B*S, ta, a_dim] -> the sync transformer's output
 * sequence after ln_f, [B, sequence, s_dim]. */
SsTensor *ss_synchformer_sync_sequence (SsSynchformer *model, SsTensor *vfeat, SsTensor *afeat,
                                        int batch, GError **error);
/* Video [B, S, 3, Lf, H, W] (or [B*S, ...] with @batch) and spectrograms
 * [B, S, n_mels, spec_frames] -> offset logits [B, n_classes]; *sync_logits
 * (if not NULL and the model has a sync head) gets [B, 2]. */
SsTensor *ss_synchformer_forward (SsSynchformer *model, SsTensor *video, SsTensor *spec,
                                  int batch, SsTensor **sync_logits, GError **error);
/* The same from features [B*S, tv, v_dim] and [B*S, ta, a_dim] (training with
 * losses on the features too). */
SsTensor *ss_synchformer_forward_features (SsSynchformer *model, SsTensor *vfeat, SsTensor *afeat,
                                           int batch, SsTensor **sync_logits, GError **error);

/* ---- analysis ---- */

typedef struct {
  double offset;                       /* seconds: the most probable class */
  int    class_index;
  double probs[SS_SYNC_N_CLASSES];     /* softmax over the classes */
  double syncability;                  /* P(synchronizable), -1 when the model has no head */
} SsSynchformerEstimate;

typedef struct {
  SsSynchformerEstimate overall;       /* mean of the windows' probabilities */
  double   start, duration;            /* analysed span (s) */
  int      n_windows;
  double  *window_start;               /* seconds (video time) */
  SsSynchformerEstimate *windows;
} SsSynchformerResult;

void ss_synchformer_result_free (SsSynchformerResult *result);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (SsSynchformerResult, ss_synchformer_result_free)

/* fraction 0..1 */
typedef void (*SsSynchformerProgress) (double fraction, gpointer user_data);

typedef struct {
  double hop;            /* seconds between windows for long clips (default 2.4) */
  int    batch;          /* windows per forward pass (default 1) */
  SsSynchformerProgress progress;
  gpointer progress_data;
} SsSynchformerOptions;

void ss_synchformer_options_init (SsSynchformerOptions *opt);

/* RGBA frames at @fps (frame 0 and audio sample 0 at the same time), mono
 * audio at the config's sample rate. The clip must cover one 4.8 s window
 * (shorter: SS_ERROR_INVALID_DATA naming @name). Windows slide by opt->hop;
 * the last one ends at the end of the clip. */
SsSynchformerResult *ss_synchformer_analyse (SsSynchformer *model,
                                             const guint8 *const *rgba, int n_frames,
                                             int width, int height, int stride, double fps,
                                             const float *audio, gsize n_samples,
                                             const SsSynchformerOptions *opt, const char *name,
                                             GCancellable *cancellable, GError **error);
/* Decodes a media file (core/media) and analyses it. */
SsSynchformerResult *ss_synchformer_analyse_file (SsSynchformer *model, const char *path,
                                                  const SsSynchformerOptions *opt,
                                                  GCancellable *cancellable, GError **error);

G_END_DECLS
