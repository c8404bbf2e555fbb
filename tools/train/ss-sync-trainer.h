/* ss-sync-trainer.h: trains a Synchformer (ss-synchformer.h) on clips of the
 * procedural corpus (core/models/ss-corpus.h), generated in memory.
 *
 * Each example is one model window (4.8 s for the "small" config) rendered at
 * resize_side x resize_side and cut like at inference. The offset label is drawn
 * uniformly from the 21 classes and given to the generator (audio shifted by it);
 * with probability unrelated_fraction the audio is replaced by the audio of an
 * unrelated clip: the synchronizability label is then 0 and the offset label is
 * ignored. Loss: cross-entropy of the offset head + cross-entropy of the
 * synchronizability head. AdamW with warm-up and cosine decay, gradient clipping.
 */
#pragma once

#include <gio/gio.h>
#include "models/ss-corpus.h"
#include "models/synchformer/ss-synchformer.h"

G_BEGIN_DECLS

typedef struct {
  int      batch;               /* clips per step */
  int      steps;               /* total steps (for the schedule) */
  int      warmup;              /* warm-up steps */
  float    lr, weight_decay, max_grad_norm;
  double   unrelated_fraction;
  guint64  seed;                /* training clips use seeds from here */
  int      fixed_batches;       /* > 0: cycle over this many batches (tests: overfit) */
  int      threads;             /* clip generation threads (0: all cores) */
  SsCorpusDifficulty difficulty_max;   /* difficulties drawn uniformly up to this */
  int      pretrain_steps;      /* contrastive steps (for their schedule; 0: none planned) */
  float    pretrain_lr;         /* peak learning rate of the contrastive stage */
  float    temperature;         /* InfoNCE temperature of the contrastive stage */
  gboolean freeze_features;     /* offset stage: feature extractors frozen (as in the paper) */
  float    event_weight;        /* weight of the event-detection loss on the feature tokens */
  float    contrastive_weight;  /* weight of the InfoNCE loss in the first stage */
} SsSyncTrainOptions;

void ss_sync_train_options_init (SsSyncTrainOptions *opt);

typedef struct _SsSyncTrainer SsSyncTrainer;

/* The model's parameters are made trainable. */
SsSyncTrainer *ss_sync_trainer_new (SsSynchformer *model, const SsSyncTrainOptions *opt,
                                    GError **error);
void           ss_sync_trainer_free (SsSyncTrainer *t);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (SsSyncTrainer, ss_sync_trainer_free)

/* One optimizer step; *loss gets the batch loss (offset CE + sync CE) before the step,
 * *acc the offset accuracy on the batch's related clips. */
gboolean ss_sync_trainer_step (SsSyncTrainer *t, float *loss, float *acc, GError **error);

/* One step of the first stage, which trains the feature extractors alone.
 * Event detection: trainer-owned linear heads (not saved) on every video and
 * audio feature token predict whether an event's contact frame / sound onset
 * falls in that token (labels from the generator's event list); this gives the
 * extractors a dense signal about *when* things happen, which the offset loss
 * alone does not (measured: the offset head stays at chance). With
 * contrastive_weight > 0, plus Synchformer's segment-level InfoNCE: per
 * segment the mean of the video tokens and of the audio tokens, projected by
 * trainer-owned maps and L2-normalized, against every segment of the batch (the
 * other moments of the same clip are negatives too). Clips have synchronized
 * audio. *loss: the batch loss before the step; *acc: fraction of segments whose
 * own audio is the nearest. Call these before the first ss_sync_trainer_step,
 * which keeps the event loss (event_weight) unless the extractors are frozen. */
gboolean ss_sync_trainer_pretrain_step (SsSyncTrainer *t, float *loss, float *acc, GError **error);

/* Balanced accuracy (mean of true-positive and true-negative rates, 0.5 is
 * chance) of the event heads in the last step. */
float    ss_sync_trainer_get_event_accuracy (SsSyncTrainer *t);

/* Overrides the schedule's progress (0..1 after warm-up; < 0: steps / opt.steps),
 * e.g. elapsed time / time budget. */
void     ss_sync_trainer_set_progress (SsSyncTrainer *t, double progress);

/* Generates one example clip (RGBA frames of side resize_side at 25 fps and audio). */
SsCorpusClip *ss_sync_trainer_make_clip (const SsSynchformerConfig *c, guint64 seed, double offset,
                                         SsCorpusDifficulty difficulty, double duration,
                                         GError **error);

typedef struct {
  int    n;                          /* clips */
  double model_acc, model_acc1;      /* exact class, within one class (+-0.2 s) */
  double sp_acc, sp_acc1;            /* signal-processing estimate (ss-sync-sp) */
  double sync_acc;                   /* synchronizability: related vs unrelated audio */
} SsSyncEvalResult;

/* Held-out clips (seeds from @seed, offsets on the class grid, the given difficulty):
 * the model (sliding windows over a 5 s clip) and the SP estimate on the same clips. */
gboolean ss_sync_trainer_evaluate (SsSynchformer *model, int n_clips, guint64 seed,
                                   SsCorpusDifficulty difficulty, gboolean with_sp,
                                   SsSyncEvalResult *result, GError **error);

G_END_DECLS
