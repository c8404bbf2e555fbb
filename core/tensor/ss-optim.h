/* ss-optim.h: optimizers (AdamW, SGD) on the GPU, with parameter groups and
 * global-norm gradient clipping.
 *
 * Semantics follow PyTorch's torch.optim.AdamW / torch.optim.SGD and
 * torch.nn.utils.clip_grad_norm_:
 *   AdamW  p *= 1 - lr*wd;  m = b1 m + (1-b1) g;  v = b2 v + (1-b2) g^2;
 *          p -= lr/(1-b1^t) * m / (sqrt(v)/sqrt(1-b2^t) + eps)
 *          (t counts the steps in which that parameter had a gradient)
 *   SGD    g += wd p;  with momentum: buf = g (first step) or mu buf + (1-dampening) g,
 *          g = nesterov ? g + mu buf : buf;  p -= lr g
 *   clip   norm = sqrt(sum over all gradients of g^2) (before clipping),
 *          g *= min(1, max_norm / (norm + 1e-6))
 * The norm and the clip factor are computed on the GPU (no host round trip);
 * ss_optim_get_grad_norm() downloads the last norm when asked.
 *
 * Parameters are leaf tensors (contiguous) of any engine dtype; their
 * gradients come from ss_tensor_backward (->grad). Optimizer state (m, v,
 * momentum) is fp32; f16/bf16 parameters also get an fp32 master copy so small
 * updates are not lost to rounding (the parameter holds the rounded master).
 * Parameters without a gradient are skipped. Shaders: shaders/dsp/adamw.comp,
 * shaders/dsp/grad_norm.comp.
 */
#pragma once

#include <glib.h>
#include "tensor/ss-tensor.h"

G_BEGIN_DECLS

typedef enum {
  SS_OPTIM_ADAMW,
  SS_OPTIM_SGD,
} SsOptimKind;

/* Hyper-parameters of one group. */
typedef struct {
  float    lr;
  float    weight_decay;  /* AdamW: decoupled; SGD: L2 added to the gradient */
  float    beta1, beta2;  /* AdamW */
  float    eps;           /* AdamW */
  float    momentum;      /* SGD */
  float    dampening;     /* SGD */
  gboolean nesterov;      /* SGD */
} SsOptimHyper;

/* PyTorch defaults: AdamW lr 1e-3, betas (0.9, 0.999), eps 1e-8, wd 1e-2;
 * SGD lr 1e-3 (PyTorch has none), momentum 0, dampening 0, wd 0. */
SsOptimHyper ss_optim_hyper_adamw_default (void);
SsOptimHyper ss_optim_hyper_sgd_default (void);

typedef struct _SsOptim SsOptim;

SsOptim *ss_optim_new (SsOptimKind kind);
void     ss_optim_free (SsOptim *opt);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (SsOptim, ss_optim_free)

/* Adds a group of parameters (referenced) with its hyper-parameters (NULL:
 * the kind's defaults). Returns the group index. A tensor may be in one group
 * only. */
guint    ss_optim_add_group (SsOptim *opt, guint n_params, SsTensor *const *params,
                             const SsOptimHyper *hyper);
guint    ss_optim_get_n_groups (SsOptim *opt);
SsOptimHyper *ss_optim_get_group_hyper (SsOptim *opt, guint group); /* editable */
/* Sets lr of every group (schedulers). */
void     ss_optim_set_lr (SsOptim *opt, float lr);
/* Global-norm clipping over all parameters' gradients; max_norm <= 0 turns it off. */
void     ss_optim_set_max_grad_norm (SsOptim *opt, float max_norm);

/* One update of every parameter that has a gradient. Errors: device errors,
 * SS_ERROR_INVALID_DATA when a gradient does not match its parameter. */
gboolean ss_optim_step (SsOptim *opt, GError **error);
/* Drops the gradients of all parameters. */
void     ss_optim_zero_grad (SsOptim *opt);
/* Steps taken (calls to ss_optim_step that updated something). */
gint64   ss_optim_get_step (SsOptim *opt);
/* Global gradient norm of the last step (before clipping); computed only
 * while clipping is on, else FALSE with SS_ERROR_FAILED. Waits for the GPU. */
gboolean ss_optim_get_grad_norm (SsOptim *opt, float *norm, GError **error);

/* Optimizer state (for resuming training): per parameter, in the order the
 * parameters were added, "state.<i>.m", "state.<i>.v", "state.<i>.master"
 * (those that exist, F32) and "state.<i>.step" (I64 scalar); metadata
 * "optimizer" ("adamw"/"sgd"), "step", "n_params". Atomic write. Loading
 * checks the kind, the parameter count and every shape, and leaves the
 * optimizer unchanged on error. Hyper-parameters are not stored (set them
 * again). */
gboolean ss_optim_save_state (SsOptim *opt, const char *path, GError **error);
gboolean ss_optim_load_state (SsOptim *opt, const char *path, GError **error);

/* Learning-rate schedule: linear warmup from 0 over warmup steps (step is
 * 0-based: step 0 gives base_lr / warmup), then cosine decay from base_lr to
 * min_lr at step total, min_lr afterwards. */
float    ss_optim_lr_warmup_cosine (gint64 step, gint64 warmup, gint64 total, float base_lr,
                                    float min_lr);

G_END_DECLS
