/* ss-autograd.c: the tape (graph of nodes owned by tensors) and backward. */
#define G_LOG_DOMAIN "ss-autograd"

#include "config.h"
#include "tensor/ss-autograd.h"

struct _SsAutogradNode {
  char           *name;
  SsBackwardFunc  backward;
  guint           n_inputs;
  SsTensor      **inputs;     /* referenced; entries may be NULL */
  gpointer        data;
  GDestroyNotify  destroy;
  GPtrArray      *saved;      /* SsTensor refs */
};

static _Thread_local int no_grad_depth;

gboolean
ss_autograd_is_enabled (void)
{
  return no_grad_depth == 0;
}

void
ss_autograd_no_grad_begin (void)
{
  no_grad_depth++;
}

void
ss_autograd_no_grad_end (void)
{
  g_return_if_fail (no_grad_depth > 0);
  no_grad_depth--;
}

SsNoGradGuard
ss_autograd_no_grad (void)
{
  ss_autograd_no_grad_begin ();
  return TRUE;
}

void
ss_autograd_no_grad_guard_end (SsNoGradGuard *g)
{
  if (*g)
    ss_autograd_no_grad_end ();
  *g = FALSE;
}

gboolean
ss_autograd_needs_grad (guint n, SsTensor *const *inputs)
{
  if (no_grad_depth > 0)
    return FALSE;
  for (guint i = 0; i < n; i++)
    if (inputs[i] && inputs[i]->requires_grad)
      return TRUE;
  return FALSE;
}

SsAutogradNode *
ss_autograd_node_new (const char *name, SsBackwardFunc backward, guint n_inputs, SsTensor *const *inputs)
{
  SsAutogradNode *n = g_new0 (SsAutogradNode, 1);
  n->name = g_strdup (name);
  n->backward = backward;
  n->n_inputs = n_inputs;
  n->inputs = g_new0 (SsTensor *, MAX (n_inputs, 1));
  for (guint i = 0; i < n_inputs; i++)
    n->inputs[i] = inputs[i] ? ss_tensor_ref (inputs[i]) : NULL;
  return n;
}

void
ss_autograd_node_set_data (SsAutogradNode *node, gpointer data, GDestroyNotify destroy)
{
  if (node->destroy && node->data)
    node->destroy (node->data);
  node->data = data;
  node->destroy = destroy;
}

gpointer
ss_autograd_node_get_data (SsAutogradNode *node)
{
  return node->data;
}

void
ss_autograd_node_save (SsAutogradNode *node, SsTensor *t)
{
  if (!node->saved)
    node->saved = g_ptr_array_new_with_free_func ((GDestroyNotify) ss_tensor_unref);
  g_ptr_array_add (node->saved, t ? ss_tensor_ref (t) : NULL);
}

SsTensor *
ss_autograd_node_saved (SsAutogradNode *node, guint i)
{
  g_return_val_if_fail (node->saved && i < node->saved->len, NULL);
  return node->saved->pdata[i];
}

guint
ss_autograd_node_n_inputs (SsAutogradNode *node)
{
  return node->n_inputs;
}

SsTensor *
ss_autograd_node_input (SsAutogradNode *node, guint i)
{
  g_return_val_if_fail (i < node->n_inputs, NULL);
  return node->inputs[i];
}

gboolean
ss_autograd_node_needs_input_grad (SsAutogradNode *node, guint i)
{
  return i < node->n_inputs && node->inputs[i] && node->inputs[i]->requires_grad;
}

const char *
ss_autograd_node_name (SsAutogradNode *node)
{
  return node->name;
}

void
ss_autograd_attach (SsTensor *out, SsAutogradNode *node)
{
  g_return_if_fail (out != NULL && node != NULL);
  if (out->node)
    ss_autograd_node_free (out->node);
  out->node = node;
  out->requires_grad = TRUE;
}

void
ss_autograd_node_free (SsAutogradNode *node)
{
  if (!node)
    return;
  /* Long chains free iteratively: inputs whose last reference we hold are
   * unreffed after this node is gone. */
  for (guint i = 0; i < node->n_inputs; i++)
    g_clear_pointer (&node->inputs[i], ss_tensor_unref);
  g_free (node->inputs);
  if (node->destroy && node->data)
    node->destroy (node->data);
  if (node->saved)
    g_ptr_array_unref (node->saved);
  g_free (node->name);
  g_free (node);
}

void
ss_tensor_zero_grad (SsTensor *t)
{
  g_clear_pointer (&t->grad, ss_tensor_unref);
}

/* iterative DFS post-order over tensors reachable through nodes */
static GPtrArray *
topo_sort (SsTensor *root)
{
  GPtrArray *order = g_ptr_array_new ();
  GHashTable *visited = g_hash_table_new (NULL, NULL);
  GArray *stack = g_array_new (FALSE, FALSE, sizeof (gpointer) * 2);
  typedef struct { SsTensor *t; guintptr next; } Frame;
  Frame f0 = { root, 0 };
  g_array_append_val (stack, f0);
  g_hash_table_add (visited, root);
  while (stack->len)
    {
      Frame *f = &g_array_index (stack, Frame, stack->len - 1);
      SsAutogradNode *n = f->t->node;
      if (n && f->next < n->n_inputs)
        {
          SsTensor *in = n->inputs[f->next++];
          if (in && in->requires_grad && !g_hash_table_contains (visited, in))
            {
              g_hash_table_add (visited, in);
              Frame nf = { in, 0 };
              g_array_append_val (stack, nf);
            }
          continue;
        }
      g_ptr_array_add (order, f->t);
      g_array_set_size (stack, stack->len - 1);
    }
  g_array_unref (stack);
  g_hash_table_unref (visited);
  return order;
}

/* Whether a gradient held only by the backward pass's table (one reference,
 * its own buffer, contiguous, no graph) may be kept or updated in place
 * instead of copied. */
static gboolean
owned_by_table (SsTensor *g)
{
  return g_atomic_int_get (&g->ref_count) == 1 && !ss_gpu_buffer_is_shared (g->buffer) &&
         !g->node && !g->requires_grad && ss_tensor_is_contiguous (g);
}

static gboolean
accumulate (GHashTable *grads, SsTensor *t, SsTensor *g, GError **error)
{
  SsTensor *cur = g_hash_table_lookup (grads, t);
  if (!cur)
    {
      g_hash_table_insert (grads, t, ss_tensor_ref (g));
      return TRUE;
    }
  if (owned_by_table (cur))
    {
      g_autoptr (SsTensor) gc = ss_tensor_contiguous (g, error);
      return gc && ss_tensor_axpy (cur, 1.0f, gc, 1.0f, error);
    }
  /* sum into a fresh contiguous tensor (grads may alias other tensors) */
  SsTensor *sum = ss_tensor_new (t->dtype, t->ndim, t->shape, error);
  if (!sum)
    return FALSE;
  g_autoptr (SsTensor) gc = ss_tensor_contiguous (g, error);
  if (!gc || !ss_tensor_copy_into (sum, cur, error) || !ss_tensor_axpy (sum, 1.0f, gc, 1.0f, error))
    {
      ss_tensor_unref (sum);
      return FALSE;
    }
  g_hash_table_insert (grads, t, sum);
  return TRUE;
}

gboolean
ss_tensor_backward (SsTensor *loss, SsTensor *grad_output, GError **error)
{
  g_return_val_if_fail (loss != NULL, FALSE);
  if (!loss->requires_grad)
    {
      g_set_error (error, SS_ERROR, SS_ERROR_FAILED,
                   "backward: the loss does not depend on any tensor that requires grad");
      return FALSE;
    }
  SS_NO_GRAD_SCOPE;
  g_autoptr (SsTensor) seed = NULL;
  if (grad_output)
    seed = ss_tensor_ref (grad_output);
  else
    {
      if (ss_tensor_numel (loss) != 1)
        {
          g_set_error (error, SS_ERROR, SS_ERROR_FAILED,
                       "backward: the loss has %" G_GINT64_FORMAT " elements; pass a gradient",
                       ss_tensor_numel (loss));
          return FALSE;
        }
      seed = ss_tensor_full (loss->dtype, loss->ndim, loss->shape, 1.0f, error);
      if (!seed)
        return FALSE;
    }

  GPtrArray *order = topo_sort (loss);
  for (guint i = 0; i < order->len; i++)
    ss_tensor_ref (order->pdata[i]);
  GHashTable *grads = g_hash_table_new_full (NULL, NULL, NULL, (GDestroyNotify) ss_tensor_unref);
  g_hash_table_insert (grads, loss, ss_tensor_ref (seed));

  gboolean ok = TRUE;
  for (guint oi = order->len; ok && oi-- > 0;)
    {
      SsTensor *t = order->pdata[oi];
      SsTensor *g = g_hash_table_lookup (grads, t);
      if (!g)
        continue;
      if (!t->node)
        {
          if (!t->requires_grad)
            continue;
          if (!t->grad)
            {
              /* a gradient nothing else holds becomes .grad as it is */
              t->grad = owned_by_table (g) ? ss_tensor_ref (g) : ss_tensor_clone (g, error);
              ok = t->grad != NULL;
            }
          else
            {
              g_autoptr (SsTensor) gc = ss_tensor_contiguous (g, error);
              ok = gc && ss_tensor_axpy (t->grad, 1.0f, gc, 1.0f, error);
            }
          continue;
        }
      SsAutogradNode *n = t->node;
      SsTensor **gi = g_new0 (SsTensor *, MAX (n->n_inputs, 1));
      ok = n->backward (n, g, gi, error);
      if (!ok && error && !*error)
        g_set_error (error, SS_ERROR, SS_ERROR_FAILED, "backward of %s failed", n->name);
      for (guint i = 0; i < n->n_inputs; i++)
        {
          if (ok && gi[i] && n->inputs[i] && n->inputs[i]->requires_grad)
            {
              if (!ss_tensor_same_shape (gi[i], n->inputs[i]) || gi[i]->dtype != n->inputs[i]->dtype)
                {
                  g_autofree char *a = ss_tensor_describe (gi[i]);
                  g_autofree char *b = ss_tensor_describe (n->inputs[i]);
                  g_critical ("backward of %s returned a gradient %s for input %u of %s",
                              n->name, a, i, b);
                  g_set_error (error, SS_ERROR, SS_ERROR_FAILED, "backward of %s: bad gradient shape", n->name);
                  ok = FALSE;
                }
              else
                ok = accumulate (grads, n->inputs[i], gi[i], error);
            }
          g_clear_pointer (&gi[i], ss_tensor_unref);
        }
      g_free (gi);
      /* this node's output gradient is no longer needed */
      g_hash_table_remove (grads, t);
    }

  g_hash_table_unref (grads);
  /* free the graph */
  for (guint i = 0; i < order->len; i++)
    {
      SsTensor *t = order->pdata[i];
      if (t->node)
        {
          g_clear_pointer (&t->node, ss_autograd_node_free);
          t->requires_grad = FALSE;
        }
    }
  for (guint i = 0; i < order->len; i++)
    ss_tensor_unref (order->pdata[i]);
  g_ptr_array_unref (order);
  return ok;
}

/* ------------------------------------------------------ checkpointing */

typedef struct {
  SsCheckpointFunc fn;
  gpointer user_data;
} CheckpointData;

static gboolean
checkpoint_backward (SsAutogradNode *node, SsTensor *g, SsTensor **gi, GError **error)
{
  CheckpointData *cd = node->data;
  guint n = node->n_inputs;
  g_autofree SsTensor **det = g_new0 (SsTensor *, MAX (n, 1));
  for (guint i = 0; i < n; i++)
    if (node->inputs[i])
      {
        det[i] = ss_tensor_detach (node->inputs[i]);
        det[i]->requires_grad = node->inputs[i]->requires_grad;
      }
  /* recompute with grad mode on (backward runs with it off) */
  int saved_depth = no_grad_depth;
  no_grad_depth = 0;
  SsTensor *out = cd->fn (det, n, cd->user_data, error);
  gboolean ok = out != NULL;
  if (ok && !out->requires_grad)
    ok = TRUE;   /* nothing inside depends on a tensor that requires grad */
  else if (ok)
    ok = ss_tensor_backward (out, g, error);
  no_grad_depth = saved_depth;
  g_clear_pointer (&out, ss_tensor_unref);
  for (guint i = 0; i < n; i++)
    {
      if (ok && det[i] && det[i]->grad)
        gi[i] = g_steal_pointer (&det[i]->grad);
      g_clear_pointer (&det[i], ss_tensor_unref);
    }
  return ok;
}

SsTensor *
ss_autograd_checkpoint (SsCheckpointFunc fn, guint n_inputs, SsTensor *const *inputs,
                        gpointer user_data, GError **error)
{
  g_return_val_if_fail (fn != NULL, NULL);
  gboolean record = ss_autograd_is_enabled ();
  SsTensor *out;
  {
    SS_NO_GRAD_SCOPE;
    out = fn (inputs, n_inputs, user_data, error);
  }
  if (!out || !record)
    return out;
  /* the node records inputs; weights used inside fn are found again on recompute */
  SsAutogradNode *node = ss_autograd_node_new ("checkpoint", checkpoint_backward, n_inputs, inputs);
  CheckpointData *cd = g_new (CheckpointData, 1);
  cd->fn = fn;
  cd->user_data = user_data;
  ss_autograd_node_set_data (node, cd, g_free);
  ss_autograd_attach (out, node);
  return out;
}
