/* ss-lora.h: LoRA adapters on frozen linear layers.
 *
 * For a targeted layer with frozen weight W [out, in] (and bias b):
 *   y = x W^T + b + (alpha / rank) * dropout(x) A^T B^T
 * with A [rank, in] initialized like PEFT (kaiming-uniform, a = sqrt(5):
 * U(-1/sqrt(in), 1/sqrt(in))) and B [out, rank] zero, so a new adapter does not
 * change the model. A and B are fp32 leaves that require grad; the base
 * weights are never written, and gradients flow through the frozen layers
 * (ss_op_linear gives dx without dW when W does not require grad) to every
 * adapter before them. For f16/bf16 activations the adapters are converted per
 * call (autograd records it), so their fp32 copies receive the gradients.
 *
 * Layers are selected by name with glob patterns ('*' and '?', GPatternSpec)
 * matched against the model's layer names ("blocks.3.attn.qkv").
 *
 * Files: safetensors with "<layer>.lora_A.weight" [rank, in] and
 * "<layer>.lora_B.weight" [out, rank] (PEFT's names without its
 * "base_model.model." prefix, which the loader strips if present), metadata
 * "format" = "soundstage-lora", "lora_rank", "lora_alpha", "lora_targets"
 * (patterns joined by ',').
 */
#pragma once

#include <glib.h>
#include "tensor/ss-tensor.h"

G_BEGIN_DECLS

typedef struct {
  int                 rank;     /* > 0 */
  float               alpha;    /* scale = alpha / rank */
  float               dropout;  /* on the adapter's input while training; 0: none */
  const char *const  *targets;  /* NULL-terminated patterns; NULL: every layer */
  guint32             seed;     /* for A's initialization and dropout masks */
} SsLoraConfig;

typedef struct _SsLora SsLora;

SsLora   *ss_lora_new (const SsLoraConfig *config);
void      ss_lora_free (SsLora *lora);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (SsLora, ss_lora_free)

int       ss_lora_get_rank (SsLora *lora);
float     ss_lora_get_alpha (SsLora *lora);
float     ss_lora_get_scale (SsLora *lora);
/* TRUE if the name matches one of the target patterns. */
gboolean  ss_lora_is_target (SsLora *lora, const char *layer);

/* Creates the adapter of a layer whose frozen weight is [out, in], if the name
 * is a target. Returns TRUE when the layer has an adapter afterwards (new or
 * existing with the same shape); FALSE without error when it is no target;
 * FALSE with error on device errors or an existing adapter of another shape. */
gboolean  ss_lora_attach (SsLora *lora, const char *layer, gint64 out_features,
                          gint64 in_features, GError **error);
gboolean  ss_lora_has_adapter (SsLora *lora, const char *layer);
guint     ss_lora_get_n_adapters (SsLora *lora);
/* Adapter tensors of a layer (borrowed), or FALSE. */
gboolean  ss_lora_get_adapter (SsLora *lora, const char *layer, SsTensor **a, SsTensor **b);

/* Linear layer with its adapter if it has one (plain ss_op_linear otherwise).
 * x [..., in], w [out, in], bias [out] or NULL. */
SsTensor *ss_lora_linear (SsLora *lora, const char *layer, SsTensor *x, SsTensor *w,
                          SsTensor *bias, GError **error);

/* Inverted dropout on the GPU with autograd: each element is zeroed with
 * probability p and the rest scaled by 1 / (1 - p); the mask is a hash of
 * (seed, element index), so equal seeds give equal masks and the backward pass
 * needs no stored mask. p = 0 returns a new reference to x. */
SsTensor *ss_lora_dropout (SsTensor *x, float p, guint32 seed, GError **error);

/* Dropout is applied only while training (default TRUE). */
void      ss_lora_set_training (SsLora *lora, gboolean training);

/* All A and B tensors (new array of new references, sorted by layer name,
 * A before B): hand them to the optimizer. */
GPtrArray *ss_lora_get_parameters (SsLora *lora);

/* W + scale * B A in w's dtype (inference without the extra matmuls). */
SsTensor *ss_lora_merge (SsLora *lora, const char *layer, SsTensor *w, GError **error);

/* Atomic save (F32). */
gboolean  ss_lora_save (SsLora *lora, const char *path, GError **error);
/* Loads adapters and their configuration (dropout 0). Errors name the file and
 * the tensor (missing A or B, rank mismatch, wrong dtype or rank). */
SsLora   *ss_lora_load (const char *path, GError **error);

G_END_DECLS
