/* ss-autograd.h: reverse-mode automatic differentiation on a tape.
 *
 * Every op that produces a tensor from inputs of which one requires a gradient
 * (while grad mode is on) attaches an SsAutogradNode to its output: the
 * inputs (referenced), a backward function and its saved data. The graph is
 * owned by the tensors: dropping the last output frees the nodes behind it.
 *
 * ss_tensor_backward (loss) walks the graph in reverse topological order,
 * calls each node's backward with the gradient of its output, and
 * accumulates (adds) gradients into ->grad of leaf tensors that require grad.
 * Afterwards it frees the graph (the nodes of every tensor it visited), so
 * intermediate activations are released.
 *
 * Writing an op (see docs/engine.md):
 *
 *   SsTensor *out = ...forward...;
 *   if (ss_autograd_needs_grad (2, (SsTensor *[]){ a, b })) {
 *     SsAutogradNode *n = ss_autograd_node_new ("matmul", matmul_backward, 2,
 *                                                (SsTensor *[]){ a, b });
 *     ss_autograd_node_set_data (n, saved, saved_free);   // optional
 *     ss_autograd_attach (out, n);                         // takes the node
 *   }
 *
 *   static gboolean matmul_backward (SsAutogradNode *n, SsTensor *grad_out,
 *                                    SsTensor **grad_in, GError **error) {
 *     if (ss_autograd_node_needs_input_grad (n, 0)) grad_in[0] = ...;  // new ref
 *     ...
 *   }
 *
 * Backward functions run with grad mode off. grad_in[i] left NULL means "no
 * gradient" for that input; a returned gradient must have the input's shape
 * and dtype (any strides).
 */
#pragma once

#include "tensor/ss-tensor.h"

G_BEGIN_DECLS

typedef gboolean (*SsBackwardFunc) (SsAutogradNode *node, SsTensor *grad_output,
                                    SsTensor **grad_inputs, GError **error);

/* grad mode: per thread; ss_autograd_no_grad_begin/end nest. */
gboolean ss_autograd_is_enabled (void);
void     ss_autograd_no_grad_begin (void);
void     ss_autograd_no_grad_end (void);
/* scoped: g_auto (SsNoGradGuard) guard = ss_autograd_no_grad (); */
typedef gboolean SsNoGradGuard;
SsNoGradGuard ss_autograd_no_grad (void);
void          ss_autograd_no_grad_guard_end (SsNoGradGuard *g);
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (SsNoGradGuard, ss_autograd_no_grad_guard_end)
/* SS_NO_GRAD_SCOPE; at the start of a block turns grad mode off until the block ends */
#define SS_NO_GRAD_SCOPE \
  g_auto (SsNoGradGuard) G_PASTE (ss_no_grad_guard_, __LINE__) G_GNUC_UNUSED = ss_autograd_no_grad ()

/* TRUE when grad mode is on and any of the n inputs (NULLs skipped) requires grad */
gboolean ss_autograd_needs_grad (guint n, SsTensor *const *inputs);

SsAutogradNode *ss_autograd_node_new (const char *name, SsBackwardFunc backward,
                                      guint n_inputs, SsTensor *const *inputs);
void     ss_autograd_node_set_data (SsAutogradNode *node, gpointer data, GDestroyNotify destroy);
gpointer ss_autograd_node_get_data (SsAutogradNode *node);
/* saved tensors (referenced until the node is freed), in order */
void      ss_autograd_node_save (SsAutogradNode *node, SsTensor *t);
SsTensor *ss_autograd_node_saved (SsAutogradNode *node, guint i);
guint     ss_autograd_node_n_inputs (SsAutogradNode *node);
SsTensor *ss_autograd_node_input (SsAutogradNode *node, guint i);
gboolean  ss_autograd_node_needs_input_grad (SsAutogradNode *node, guint i);
const char *ss_autograd_node_name (SsAutogradNode *node);
/* attaches node to out (out->node, out->requires_grad = TRUE); takes ownership */
void      ss_autograd_attach (SsTensor *out, SsAutogradNode *node);
void      ss_autograd_node_free (SsAutogradNode *node);

/* Activation checkpointing: runs fn (inputs) without recording its inner
 * graph (so its intermediate tensors are freed at once) and records one node;
 * backward runs fn again with grad mode on and backpropagates through that
 * recomputation. Tensors fn uses besides its inputs (weights reached through
 * user_data) get their gradients accumulated as usual. fn must be
 * deterministic and must not keep references to its inputs. */
typedef SsTensor *(*SsCheckpointFunc) (SsTensor *const *inputs, guint n_inputs,
                                       gpointer user_data, GError **error);
SsTensor *ss_autograd_checkpoint (SsCheckpointFunc fn, guint n_inputs, SsTensor *const *inputs,
                                  gpointer user_data, GError **error);

/* grad_output NULL means ones (loss must then have one element). */
gboolean ss_tensor_backward (SsTensor *loss, SsTensor *grad_output, GError **error);
/* drops t->grad */
void     ss_tensor_zero_grad (SsTensor *t);

G_END_DECLS
