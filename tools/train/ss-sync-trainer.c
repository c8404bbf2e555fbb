/* ss-sync-trainer.c: Synchformer training on the procedural corpus (see the header). */
#define G_LOG_DOMAIN "ss-sync-trainer"

#include "ss-sync-trainer.h"

#include <math.h>
#include <string.h>

#include "ss-types.h"
#include "ss-rng.h"
#include "tensor/ss-ops.h"
#include "tensor/ss-optim.h"
#include "models/sync/ss-sync-sp.h"

void
ss_sync_train_options_init (SsSyncTrainOptions *o)
{
  memset (o, 0, sizeof *o);
  o->batch = 8;
  o->steps = 1000;
  o->warmup = 50;
  o->lr = 3e-4f;
  o->weight_decay = 0.05f;
  o->max_grad_norm = 1.0f;
  o->unrelated_fraction = 0.25;
  o->seed = 1;
  o->difficulty_max = SS_CORPUS_MODERATE;
  o->pretrain_lr = 1e-3f;
  o->temperature = 0.07f;
  o->event_weight = 1.0f;
  o->contrastive_weight = 0.0f;
}

typedef struct {
  SsTensor *video, *spec;
  gint32   *offset_targets, *sync_targets;
  gint32   *video_events, *audio_events;   /* [B*S*tv], [B*S*ta]: 1 where an event is */
} Batch;

static void
batch_clear (Batch *b)
{
  g_clear_pointer (&b->video, ss_tensor_unref);
  g_clear_pointer (&b->spec, ss_tensor_unref);
  g_clear_pointer (&b->offset_targets, g_free);
  g_clear_pointer (&b->sync_targets, g_free);
  g_clear_pointer (&b->video_events, g_free);
  g_clear_pointer (&b->audio_events, g_free);
}

/* Event labels of one segment's feature tokens. Video token j covers frames
 * [j*tubelet, (j+1)*tubelet) of the segment: 1 if a visible event's contact
 * frame is one of them. Audio token j covers spectrogram frames [j*tstride,
 * j*tstride + patch): 1 if a sound starts within half a stride of its centre. */
static void
segment_event_labels (const SsSynchformerConfig *c, const SsCorpusClip *vclip, const SsCorpusClip *aclip,
                      int segment, gint32 *vlab, gint32 *alab)
{
  int tv = ss_synchformer_video_time_tokens (c), ta = ss_synchformer_audio_time_tokens (c);
  memset (vlab, 0, sizeof (gint32) * tv);
  memset (alab, 0, sizeof (gint32) * ta);
  int first = segment * c->segment_hop;
  for (guint k = 0; k < vclip->events->len; k++)
    {
      const SsCorpusEvent *e = &g_array_index (vclip->events, SsCorpusEvent, k);
      long rel = lround (e->time * c->fps) - first;
      if (rel >= 0 && rel < c->segment_frames)
        vlab[rel / c->v_tubelet] = 1;
    }
  double start = (double) first / c->fps;
  double pitch = (double) c->a_tstride * c->hop_length / c->sample_rate;
  double centre0 = 0.5 * c->a_patch * c->hop_length / c->sample_rate;
  for (guint k = 0; k < aclip->events->len; k++)
    {
      const SsCorpusEvent *e = &g_array_index (aclip->events, SsCorpusEvent, k);
      double rel = e->audio_time - start;
      long j = lround ((rel - centre0) / pitch);
      if (j >= 0 && j < ta && fabs (rel - (centre0 + j * pitch)) <= 0.5 * pitch + 1e-9)
        alab[j] = 1;
    }
}

typedef struct {
  const SsSynchformerConfig *c;
  guint64 seed, other_seed;
  int     offset_class;
  gboolean unrelated;
  SsCorpusDifficulty difficulty;
  SsCorpusClip *clip, *other;
  GError *error;
} Example;

typedef struct {
  Example *ex;
  int      n, n_threads;
  gboolean synced;      /* all offsets 0, no unrelated audio (contrastive stage) */
} ExampleSet;

static void
example_set_free (ExampleSet *set)
{
  for (int i = 0; i < set->n; i++)
    {
      g_clear_pointer (&set->ex[i].clip, ss_corpus_clip_free);
      g_clear_pointer (&set->ex[i].other, ss_corpus_clip_free);
      g_clear_error (&set->ex[i].error);
    }
  g_free (set->ex);
  g_free (set);
}

struct _SsSyncTrainer {
  SsSynchformer     *model;
  SsSyncTrainOptions opt;
  SsOptim           *optim;
  SsOptim           *pre_optim;      /* contrastive stage: the extractors and the projections */
  SsTensor          *proj_v, *proj_a; /* [P, v_dim], [P, a_dim] */
  SsTensor          *ev_w[2], *ev_b[2];  /* event heads on video / audio tokens: [2, dim], [2] */
  int                pre_step;
  gboolean           frozen;
  float              last_event_rate;   /* balanced accuracy of the event heads, last step */
  SsRng              rng;
  guint64            next_seed;
  int                step;
  double             progress;   /* < 0: from the step count */
  Batch             *fixed;   /* opt.fixed_batches entries, filled lazily */
  ExampleSet        *pending;         /* being generated */
  GThread           *pending_thread;
};

static double
window_seconds (const SsSynchformerConfig *c)
{
  return (double) ((c->n_segments - 1) * c->segment_hop + c->segment_frames) / c->fps;
}

SsCorpusClip *
ss_sync_trainer_make_clip (const SsSynchformerConfig *c, guint64 seed, double offset,
                           SsCorpusDifficulty difficulty, double duration, GError **error)
{
  SsCorpusParams p;
  ss_corpus_params_init (&p, difficulty);
  p.seed = seed;
  p.duration = duration;
  p.fps = c->fps;
  p.width = p.height = c->resize_side + (c->resize_side & 1);
  p.sample_rate = c->sample_rate;
  p.n_events = MAX (3, (int) lround (duration * 1.25));
  p.offset = offset;
  return ss_corpus_generate (&p, error);
}

static SsTensor *random_projection (SsRng *rng, int out, int in, GError **error);

/* a parameter of the video or audio feature extractor (checkpoint name) */
static gboolean
is_extractor_param (const char *name)
{
  return g_str_has_prefix (name, "vfeat_extractor.") || g_str_has_prefix (name, "afeat_extractor.");
}

/* AdamW over the model's parameters (only the feature extractors' with
 * @extractors_only), the event heads and @extra (decayed): no weight decay on
 * norms, biases, tokens and position embeddings; beta2 0.98; clipping. */
static SsOptim *
new_adamw (SsSyncTrainer *t, gboolean extractors_only, float lr, SsTensor *const *extra, int n_extra)
{
  SsOptim *o = ss_optim_new (SS_OPTIM_ADAMW);
  GPtrArray *decay = g_ptr_array_new (), *no_decay = g_ptr_array_new ();
  const char *const *names = ss_synchformer_get_param_names (t->model);
  for (guint i = 0; names[i]; i++)
    {
      if (extractors_only && !is_extractor_param (names[i]))
        continue;
      SsTensor *p = ss_synchformer_get_param_index (t->model, i);
      gboolean nd = p->ndim == 1 || p->ndim == 3 || g_str_has_suffix (names[i], "bias");
      g_ptr_array_add (nd ? no_decay : decay, p);
    }
  for (int k = 0; k < n_extra; k++)
    g_ptr_array_add (decay, extra[k]);
  for (int k = 0; k < 2; k++)
    {
      g_ptr_array_add (decay, t->ev_w[k]);
      g_ptr_array_add (no_decay, t->ev_b[k]);
    }
  SsOptimHyper h = ss_optim_hyper_adamw_default ();
  h.lr = lr;
  h.beta2 = 0.98f;
  h.weight_decay = t->opt.weight_decay;
  ss_optim_add_group (o, decay->len, (SsTensor *const *) decay->pdata, &h);
  h.weight_decay = 0;
  ss_optim_add_group (o, no_decay->len, (SsTensor *const *) no_decay->pdata, &h);
  g_ptr_array_unref (decay);
  g_ptr_array_unref (no_decay);
  ss_optim_set_max_grad_norm (o, t->opt.max_grad_norm);
  return o;
}

SsSyncTrainer *
ss_sync_trainer_new (SsSynchformer *model, const SsSyncTrainOptions *opt, GError **error)
{
  g_return_val_if_fail (model != NULL, NULL);
  if (!ss_synchformer_has_sync_head (model))
    {
      g_set_error (error, SS_ERROR, SS_ERROR_UNSUPPORTED,
                   "The model to train needs a synchronizability head");
      return NULL;
    }
  SsSyncTrainer *t = g_new0 (SsSyncTrainer, 1);
  t->model = model;
  if (opt)
    t->opt = *opt;
  else
    ss_sync_train_options_init (&t->opt);
  ss_rng_init (&t->rng, t->opt.seed * 7919 + 17);
  t->next_seed = t->opt.seed * 1000003ull;
  t->progress = -1;
  ss_synchformer_set_trainable (model, TRUE);
  const SsSynchformerConfig *c = ss_synchformer_get_config (model);
  for (int k = 0; k < 2; k++)
    {
      t->ev_w[k] = random_projection (&t->rng, 2, k == 0 ? c->v_dim : c->a_dim, error);
      t->ev_b[k] = t->ev_w[k] ? ss_tensor_zeros (SS_DTYPE_F32, 1, SS_SHAPE (2), error) : NULL;
      if (!t->ev_b[k])
        {
          ss_sync_trainer_free (t);
          return NULL;
        }
      ss_tensor_set_requires_grad (t->ev_b[k], TRUE);
    }
  t->optim = new_adamw (t, FALSE, t->opt.lr, NULL, 0);
  if (t->opt.fixed_batches > 0)
    t->fixed = g_new0 (Batch, t->opt.fixed_batches);
  return t;
}

void
ss_sync_trainer_free (SsSyncTrainer *t)
{
  if (!t)
    return;
  if (t->pending_thread)
    {
      g_thread_join (t->pending_thread);
      example_set_free (t->pending);
    }
  if (t->fixed)
    for (int i = 0; i < t->opt.fixed_batches; i++)
      batch_clear (&t->fixed[i]);
  g_free (t->fixed);
  g_clear_pointer (&t->optim, ss_optim_free);
  g_clear_pointer (&t->pre_optim, ss_optim_free);
  g_clear_pointer (&t->proj_v, ss_tensor_unref);
  g_clear_pointer (&t->proj_a, ss_tensor_unref);
  for (int k = 0; k < 2; k++)
    {
      g_clear_pointer (&t->ev_w[k], ss_tensor_unref);
      g_clear_pointer (&t->ev_b[k], ss_tensor_unref);
    }
  g_free (t);
}

/* ---- examples, generated on worker threads ---- */


static gpointer
example_thread (gpointer data)
{
  Example *e = data;
  double dur = window_seconds (e->c) + 0.2;
  double off = ss_sync_class_offset (e->offset_class);
  /* the generator wants |offset| <= duration / 2 */
  double gdur = MAX (MAX (dur, 1.0), 2 * fabs (off) + 0.1);
  e->clip = ss_sync_trainer_make_clip (e->c, e->seed, off, e->difficulty, gdur, &e->error);
  if (e->clip && e->unrelated)
    e->other = ss_sync_trainer_make_clip (e->c, e->other_seed, 0.0, e->difficulty, gdur, &e->error);
  return NULL;
}

/* generates a set of examples with n_threads threads; runs on its own thread */
static gpointer
example_set_thread (gpointer data)
{
  ExampleSet *set = data;
  g_autofree GThread **th = g_new0 (GThread *, set->n);
  for (int i0 = 0; i0 < set->n; i0 += set->n_threads)
    {
      int i1 = MIN (set->n, i0 + set->n_threads);
      for (int i = i0; i < i1; i++)
        th[i] = g_thread_new ("clip", example_thread, &set->ex[i]);
      for (int i = i0; i < i1; i++)
        g_thread_join (th[i]);
    }
  return NULL;
}

/* draws the labels of the next batch and starts generating its clips */
static void
prefetch_start (SsSyncTrainer *t, gboolean synced)
{
  const SsSynchformerConfig *c = ss_synchformer_get_config (t->model);
  int B = t->opt.batch;
  ExampleSet *set = g_new0 (ExampleSet, 1);
  set->n = B;
  set->synced = synced;
  set->n_threads = t->opt.threads > 0 ? t->opt.threads : (int) g_get_num_processors ();
  set->ex = g_new0 (Example, B);
  for (int i = 0; i < B; i++)
    {
      Example *e = &set->ex[i];
      e->c = c;
      e->seed = t->next_seed++;
      e->other_seed = e->seed ^ 0x5bd1e995ull;
      e->offset_class = ss_rng_int (&t->rng, 0, SS_SYNC_N_CLASSES - 1);
      e->unrelated = ss_rng_uniform (&t->rng) < t->opt.unrelated_fraction;
      e->difficulty = (SsCorpusDifficulty) ss_rng_int (&t->rng, 0, t->opt.difficulty_max);
      if (synced)
        {
          e->offset_class = SS_SYNC_N_CLASSES / 2;
          e->unrelated = FALSE;
        }
    }
  t->pending = set;
  t->pending_thread = g_thread_new ("clips", example_set_thread, set);
}

static Example *
prefetch_take (SsSyncTrainer *t, gboolean synced)
{
  if (t->pending && t->pending->synced != synced)
    {
      /* the stage changed: drop the clips made for the other one */
      g_thread_join (t->pending_thread);
      t->pending_thread = NULL;
      example_set_free (t->pending);
      t->pending = NULL;
    }
  if (!t->pending)
    prefetch_start (t, synced);
  g_thread_join (t->pending_thread);
  t->pending_thread = NULL;
  ExampleSet *set = t->pending;
  t->pending = NULL;
  Example *ex = set->ex;
  g_free (set);
  /* the next batch's clips are made on the CPU while the GPU works on this one */
  if (!t->fixed)
    prefetch_start (t, synced);
  return ex;
}

static gboolean
make_batch (SsSyncTrainer *t, Batch *b, gboolean synced, GError **error)
{
  SsSynchformer *m = t->model;
  const SsSynchformerConfig *c = ss_synchformer_get_config (m);
  int B = t->opt.batch;
  g_autofree Example *ex = prefetch_take (t, synced);
  gboolean ok = TRUE;
  for (int i = 0; i < B && ok; i++)
    if (ex[i].error)
      {
        g_propagate_error (error, ex[i].error);
        ex[i].error = NULL;
        ok = FALSE;
      }
  int wf = (c->n_segments - 1) * c->segment_hop + c->segment_frames;
  g_autofree SsTensor **vids = g_new0 (SsTensor *, B);
  g_autofree SsTensor **specs = g_new0 (SsTensor *, B);
  b->offset_targets = g_new (gint32, B);
  b->sync_targets = g_new (gint32, B);
  int S = c->n_segments, tv = ss_synchformer_video_time_tokens (c), ta = ss_synchformer_audio_time_tokens (c);
  b->video_events = g_new0 (gint32, (gsize) B * S * tv);
  b->audio_events = g_new0 (gint32, (gsize) B * S * ta);
  g_autofree const guint8 **fr = g_new (const guint8 *, wf);
  {
    SS_NO_GRAD_SCOPE;
    for (int i = 0; i < B && ok; i++)
      {
        SsCorpusClip *clip = ex[i].clip;
        for (int k = 0; k < wf; k++)
          fr[k] = ss_corpus_clip_frame (clip, MIN (k, clip->n_frames - 1));
        int side = clip->params.width;
        g_autoptr (SsTensor) pre = ss_synchformer_preprocess_frames (m, fr, wf, side, side, side * 4, error);
        vids[i] = pre ? ss_synchformer_video_segments (m, pre, 0, error) : NULL;
        SsCorpusClip *aclip = ex[i].unrelated ? ex[i].other : clip;
        specs[i] = vids[i] ? ss_synchformer_audio_segments (m, aclip->audio, aclip->n_samples, error) : NULL;
        ok = specs[i] != NULL;
        for (int sg = 0; sg < S && ok; sg++)
          segment_event_labels (c, clip, aclip, sg, b->video_events + ((gsize) i * S + sg) * tv,
                                b->audio_events + ((gsize) i * S + sg) * ta);
        b->offset_targets[i] = ex[i].unrelated ? -100 : ex[i].offset_class;
        b->sync_targets[i] = ex[i].unrelated ? 0 : 1;
      }
    if (ok)
      {
        b->video = ss_op_concat (B, vids, 0, error);
        b->spec = b->video ? ss_op_concat (B, specs, 0, error) : NULL;
        ok = b->spec != NULL;
      }
  }
  for (int i = 0; i < B; i++)
    {
      g_clear_pointer (&vids[i], ss_tensor_unref);
      g_clear_pointer (&specs[i], ss_tensor_unref);
      g_clear_pointer (&ex[i].clip, ss_corpus_clip_free);
      g_clear_pointer (&ex[i].other, ss_corpus_clip_free);
      g_clear_error (&ex[i].error);
    }
  /* a batch of unrelated clips only has no offset target: keep one related */
  if (ok)
    {
      gboolean any = FALSE;
      for (int i = 0; i < B; i++)
        any |= b->offset_targets[i] >= 0;
      if (!any)
        g_debug ("batch without related clips");
    }
  if (!ok)
    batch_clear (b);
  return ok;
}

/* linear warm-up, then cosine decay to 10 % over the remaining steps (or by @progress when >= 0) */
static double
schedule_lr (double base, int step, int warmup, int steps, double progress)
{
  if (step < warmup)
    return base * (step + 1.0) / warmup;
  if (steps <= warmup && progress < 0)
    return base;
  double p = progress >= 0 ? MIN (1.0, progress) : MIN (1.0, (double) (step - warmup) / (steps - warmup));
  return base * (0.1 + 0.9 * 0.5 * (1 + cos (G_PI * p)));
}

static SsTensor *
random_projection (SsRng *rng, int out, int in, GError **error)
{
  g_autofree float *w = g_new (float, (gsize) out * in);
  double sd = 1.0 / sqrt (in);
  for (gsize i = 0; i < (gsize) out * in; i++)
    w[i] = (float) (sd * ss_rng_normal (rng));
  SsTensor *p = ss_tensor_new_from_floats (SS_DTYPE_F32, 2, SS_SHAPE (out, in), w, error);
  if (p)
    ss_tensor_set_requires_grad (p, TRUE);
  return p;
}

static gboolean
pretrain_init (SsSyncTrainer *t, GError **error)
{
  const SsSynchformerConfig *c = ss_synchformer_get_config (t->model);
  int P = 128;
  t->proj_v = random_projection (&t->rng, P, c->v_dim, error);
  t->proj_a = t->proj_v ? random_projection (&t->rng, P, c->a_dim, error) : NULL;
  if (!t->proj_a)
    return FALSE;
  SsTensor *proj[2] = { t->proj_v, t->proj_a };
  t->pre_optim = new_adamw (t, TRUE, t->opt.pretrain_lr, proj, 2);
  return TRUE;
}

/* [N, tokens, dim] -> mean over the tokens, projected: [N, P] */
static SsTensor *
segment_embedding (SsTensor *feat, SsTensor *proj, GError **error)
{
  g_autoptr (SsTensor) mean = ss_op_mean (feat, 1, FALSE, error);
  return mean ? ss_op_linear (mean, proj, NULL, error) : NULL;
}

/* Cross-entropy of the event heads on every feature token (video and audio,
 * summed); *balanced gets the mean of the true-positive and true-negative
 * rates of both (0.5: chance), when not NULL. */
static SsTensor *
event_loss (SsSyncTrainer *t, SsTensor *vf, SsTensor *af, const Batch *b, float *balanced, GError **error)
{
  SsTensor *feat[2] = { vf, af };
  const gint32 *lab[2] = { b->video_events, b->audio_events };
  SsTensor *total = NULL;
  double rate_sum = 0;
  int rates = 0;
  for (int k = 0; k < 2; k++)
    {
      gint64 n = feat[k]->shape[0] * feat[k]->shape[1];
      g_autoptr (SsTensor) flat = ss_tensor_reshape (feat[k], 2, SS_SHAPE (n, feat[k]->shape[2]), error);
      g_autoptr (SsTensor) logits = flat ? ss_op_linear (flat, t->ev_w[k], t->ev_b[k], error) : NULL;
      g_autoptr (SsTensor) l = logits ? ss_op_cross_entropy (logits, lab[k], -100, 0.0f, error) : NULL;
      if (!l)
        {
          g_clear_pointer (&total, ss_tensor_unref);
          return NULL;
        }
      if (balanced)
        {
          g_autofree float *h = ss_tensor_to_floats_dup (logits, error);
          if (!h)
            {
              g_clear_pointer (&total, ss_tensor_unref);
              return NULL;
            }
          gint64 pos = 0, tp = 0, neg = 0, tn = 0;
          for (gint64 i = 0; i < n; i++)
            {
              gboolean said = h[2 * i + 1] > h[2 * i];
              if (lab[k][i])
                pos++, tp += said;
              else
                neg++, tn += !said;
            }
          if (pos)
            rate_sum += (double) tp / pos, rates++;
          if (neg)
            rate_sum += (double) tn / neg, rates++;
        }
      if (!total)
        total = g_steal_pointer (&l);
      else
        {
          SsTensor *sum = ss_op_add (total, l, error);
          ss_tensor_unref (total);
          total = sum;
          if (!total)
            return NULL;
        }
    }
  if (balanced)
    *balanced = rates ? (float) (rate_sum / rates) : 0.5f;
  return total;
}

/* loss + weight * extra (weight 0 or extra NULL: loss) */
static SsTensor *
add_weighted (SsTensor *loss, SsTensor *extra, float weight, GError **error)
{
  if (!extra || weight == 0.0f)
    return ss_tensor_ref (loss);
  g_autoptr (SsTensor) w = weight == 1.0f ? ss_tensor_ref (extra) : ss_op_scale (extra, weight, 0.0f, error);
  return w ? ss_op_add (loss, w, error) : NULL;
}

gboolean
ss_sync_trainer_pretrain_step (SsSyncTrainer *t, float *loss_out, float *acc_out, GError **error)
{
  if (!t->pre_optim && !pretrain_init (t, error))
    return FALSE;
  Batch b = { 0 };
  if (!make_batch (t, &b, TRUE, error))
    return FALSE;
  int warmup = MAX (1, MIN (100, t->opt.pretrain_steps / 10));
  ss_optim_set_lr (t->pre_optim, (float) schedule_lr (t->opt.pretrain_lr, t->pre_step, warmup,
                                                     t->opt.pretrain_steps, t->progress));
  gboolean ok = FALSE;
  g_autoptr (SsTensor) vf = ss_synchformer_video_features (t->model, b.video, error);
  g_autoptr (SsTensor) af = vf ? ss_synchformer_audio_features (t->model, b.spec, error) : NULL;
  g_autoptr (SsTensor) ve = af ? segment_embedding (vf, t->proj_v, error) : NULL;
  g_autoptr (SsTensor) ae = ve ? segment_embedding (af, t->proj_a, error) : NULL;
  g_autoptr (SsTensor) nce = ae ? ss_op_infonce (ve, ae, t->opt.temperature, NULL, TRUE, error) : NULL;
  float balanced = 0.5f;
  g_autoptr (SsTensor) ev = nce ? event_loss (t, vf, af, &b, &balanced, error) : NULL;
  g_autoptr (SsTensor) loss = NULL;
  if (ev)
    {
      g_autoptr (SsTensor) scaled = ss_op_scale (ev, t->opt.event_weight, 0.0f, error);
      loss = scaled ? add_weighted (scaled, nce, t->opt.contrastive_weight, error) : NULL;
    }
  if (loss)
    {
      gint64 N = ve->shape[0], P = ve->shape[1];
      g_autofree float *hv = acc_out ? g_new (float, N * P) : NULL;
      g_autofree float *ha = acc_out ? g_new (float, N * P) : NULL;
      float lv = 0;
      ok = ss_tensor_to_floats (loss, &lv, error)
           && (!acc_out || (ss_tensor_to_floats (ve, hv, error) && ss_tensor_to_floats (ae, ha, error)))
           && ss_tensor_backward (loss, NULL, error)
           && ss_optim_step (t->pre_optim, error);
      if (ok && loss_out)
        *loss_out = lv;
      if (ok && acc_out)
        {
          /* retrieval: is each segment's own audio the most similar one? (cosine) */
          for (gint64 i = 0; i < N; i++)
            {
              double na = 0, nv = 0;
              for (gint64 k = 0; k < P; k++)
                na += (double) ha[i * P + k] * ha[i * P + k], nv += (double) hv[i * P + k] * hv[i * P + k];
              for (gint64 k = 0; k < P; k++)
                ha[i * P + k] /= (float) sqrt (na + 1e-12), hv[i * P + k] /= (float) sqrt (nv + 1e-12);
            }
          int hit = 0;
          for (gint64 i = 0; i < N; i++)
            {
              gint64 best = 0;
              double best_s = -INFINITY;
              for (gint64 j = 0; j < N; j++)
                {
                  double sum = 0;
                  for (gint64 k = 0; k < P; k++)
                    sum += (double) hv[i * P + k] * ha[j * P + k];
                  if (sum > best_s)
                    best_s = sum, best = j;
                }
              hit += best == i;
            }
          *acc_out = (float) hit / N;
        }
      t->last_event_rate = balanced;
    }
  ss_optim_zero_grad (t->pre_optim);
  batch_clear (&b);
  t->pre_step++;
  return ok;
}

gboolean
ss_sync_trainer_step (SsSyncTrainer *t, float *loss_out, float *acc_out, GError **error)
{
  Batch local = { 0 };
  Batch *b = &local;
  if (t->fixed)
    {
      b = &t->fixed[t->step % t->opt.fixed_batches];
      if (!b->video && !make_batch (t, b, FALSE, error))
        return FALSE;
    }
  else if (!make_batch (t, b, FALSE, error))
    return FALSE;
  int B = t->opt.batch;
  if (t->opt.freeze_features && !t->frozen)
    {
      /* the extractors keep what the contrastive stage taught them */
      const char *const *names = ss_synchformer_get_param_names (t->model);
      for (guint i = 0; names[i]; i++)
        if (is_extractor_param (names[i]))
          ss_tensor_set_requires_grad (ss_synchformer_get_param_index (t->model, i), FALSE);
      t->frozen = TRUE;
    }
  ss_optim_set_lr (t->optim, (float) schedule_lr (t->opt.lr, t->step, t->opt.warmup, t->opt.steps, t->progress));

  gboolean ok = FALSE;
  g_autoptr (SsTensor) sync = NULL;
  g_autoptr (SsTensor) vf = ss_synchformer_video_features (t->model, b->video, error);
  g_autoptr (SsTensor) af = vf ? ss_synchformer_audio_features (t->model, b->spec, error) : NULL;
  g_autoptr (SsTensor) logits = af ? ss_synchformer_forward_features (t->model, vf, af, B, &sync, error) : NULL;
  float balanced = 0.5f;
  g_autoptr (SsTensor) ev = NULL;
  if (logits && t->opt.event_weight > 0 && !t->frozen
      && !(ev = event_loss (t, vf, af, b, &balanced, error)))
    g_clear_pointer (&logits, ss_tensor_unref);
  t->last_event_rate = balanced;
  if (logits)
    {
      gboolean any = FALSE;
      for (int i = 0; i < B; i++)
        any |= b->offset_targets[i] >= 0;
      g_autoptr (SsTensor) l2 = ss_op_cross_entropy (sync, b->sync_targets, -100, 0.0f, error);
      g_autoptr (SsTensor) l1 = (l2 && any) ? ss_op_cross_entropy (logits, b->offset_targets, -100, 0.0f, error) : NULL;
      g_autoptr (SsTensor) l12 = (l2 && any) ? (l1 ? ss_op_add (l1, l2, error) : NULL)
                                            : (l2 ? ss_tensor_ref (l2) : NULL);
      g_autoptr (SsTensor) loss = l12 ? add_weighted (l12, ev, t->opt.event_weight, error) : NULL;
      if (loss)
        {
          float lv = 0;
          float lg[64 * SS_SYNC_N_CLASSES];
          ok = ss_tensor_to_floats (loss, &lv, error)
               && (B > 64 || ss_tensor_to_floats (logits, lg, error))
               && ss_tensor_backward (loss, NULL, error)
               && ss_optim_step (t->optim, error);
          ss_optim_zero_grad (t->optim);
          if (ok)
            {
              if (loss_out)
                *loss_out = lv;
              if (acc_out)
                {
                  int n = 0, hit = 0;
                  for (int i = 0; i < B && B <= 64; i++)
                    if (b->offset_targets[i] >= 0)
                      {
                        int best = 0;
                        for (int k = 1; k < SS_SYNC_N_CLASSES; k++)
                          if (lg[i * SS_SYNC_N_CLASSES + k] > lg[i * SS_SYNC_N_CLASSES + best])
                            best = k;
                        n++;
                        hit += best == b->offset_targets[i];
                      }
                  *acc_out = n ? (float) hit / n : 0.0f;
                }
            }
        }
    }
  if (!ok)
    ss_optim_zero_grad (t->optim);
  batch_clear (&local);
  t->step++;
  return ok;
}

void
ss_sync_trainer_set_progress (SsSyncTrainer *t, double progress)
{
  t->progress = progress;
}

/* ---- evaluation ---- */

gboolean
ss_sync_trainer_evaluate (SsSynchformer *m, int n_clips, guint64 seed, SsCorpusDifficulty difficulty,
                          gboolean with_sp, SsSyncEvalResult *r, GError **error)
{
  const SsSynchformerConfig *c = ss_synchformer_get_config (m);
  memset (r, 0, sizeof *r);
  double dur = MAX (window_seconds (c), SS_SYNC_WINDOW) + 0.2;
  int n_sync = 0, sync_hit = 0;
  for (int i = 0; i < n_clips; i++)
    {
      int k = i % SS_SYNC_N_CLASSES;
      g_autoptr (SsCorpusClip) clip = ss_sync_trainer_make_clip (c, seed + i, ss_sync_class_offset (k),
                                                                 difficulty, dur, error);
      if (!clip)
        return FALSE;
      int side = clip->params.width;
      g_autofree const guint8 **fr = g_new (const guint8 *, clip->n_frames);
      for (int f = 0; f < clip->n_frames; f++)
        fr[f] = ss_corpus_clip_frame (clip, f);
      g_autoptr (SsSynchformerResult) res = ss_synchformer_analyse (m, fr, clip->n_frames, side, side, side * 4,
                                                                    clip->params.fps, clip->audio,
                                                                    clip->n_samples, NULL, "held-out clip",
                                                                    NULL, error);
      if (!res)
        return FALSE;
      r->model_acc += res->overall.class_index == k;
      r->model_acc1 += ABS (res->overall.class_index - k) <= 1;
      if (res->overall.syncability >= 0)
        {
          n_sync++;
          sync_hit += res->overall.syncability >= 0.5;
        }
      if (with_sp)
        {
          SsSyncSpOptions so;
          ss_sync_sp_options_init (&so);
          SsSyncSpVideo v = { side, side, side * 4, clip->n_frames, clip->params.fps, fr };
          g_autoptr (SsSyncSpResult) sp = ss_sync_sp_analyse (&v, clip->audio, clip->n_samples,
                                                              clip->params.sample_rate, &so, "held-out clip",
                                                              NULL, error);
          if (!sp)
            return FALSE;
          r->sp_acc += sp->overall.class_index == k;
          r->sp_acc1 += ABS (sp->overall.class_index - k) <= 1;
        }
      /* every other clip also with unrelated audio: should be judged not synchronizable */
      if (ss_synchformer_has_sync_head (m) && i % 2 == 0)
        {
          g_autoptr (SsCorpusClip) other = ss_sync_trainer_make_clip (c, (seed + i) ^ 0x9e3779b9ull, 0.0,
                                                                      difficulty, dur, error);
          if (!other)
            return FALSE;
          g_autoptr (SsSynchformerResult) ru = ss_synchformer_analyse (m, fr, clip->n_frames, side, side, side * 4,
                                                                       clip->params.fps, other->audio,
                                                                       other->n_samples, NULL, "held-out clip",
                                                                       NULL, error);
          if (!ru)
            return FALSE;
          n_sync++;
          sync_hit += ru->overall.syncability < 0.5;
        }
    }
  r->n = n_clips;
  r->model_acc /= n_clips;
  r->model_acc1 /= n_clips;
  r->sp_acc /= n_clips;
  r->sp_acc1 /= n_clips;
  r->sync_acc = n_sync ? (double) sync_hit / n_sync : -1;
  return TRUE;
}

float
ss_sync_trainer_get_event_accuracy (SsSyncTrainer *t)
{
  return t->last_event_rate;
}
