/* ss-optim.c: AdamW and SGD with parameter groups and global-norm clipping. */
#define G_LOG_DOMAIN "ss-optim"

#include "ss-optim.h"

#include <math.h>
#include <string.h>

#include "tensor/ss-autograd.h"
#include "tensor/ss-safetensors.h"

typedef struct {
  SsTensor *param;
  guint     group;
  SsTensor *m;       /* fp32, lazily */
  SsTensor *v;       /* fp32, AdamW */
  SsTensor *master;  /* fp32 copy for f16/bf16 params */
  gint64    step;    /* steps this parameter was updated */
} Slot;

struct _SsOptim {
  SsOptimKind kind;
  GArray     *groups;   /* SsOptimHyper */
  GArray     *slots;    /* Slot */
  float       max_grad_norm;
  gint64      step;
  SsGpuBuffer *coef;    /* [norm, clip factor] */
  SsGpuBuffer *partial; /* partial sums of squares */
  gboolean    norm_valid;
};

enum { FLAG_HAS_MASTER = 1, FLAG_USE_CLIP = 2, FLAG_NESTEROV = 4, FLAG_FIRST_STEP = 8,
       FLAG_USE_MOMENTUM = 16 };

SsOptimHyper
ss_optim_hyper_adamw_default (void)
{
  return (SsOptimHyper) { .lr = 1e-3f, .weight_decay = 1e-2f, .beta1 = 0.9f, .beta2 = 0.999f,
                          .eps = 1e-8f };
}

SsOptimHyper
ss_optim_hyper_sgd_default (void)
{
  return (SsOptimHyper) { .lr = 1e-3f };
}

SsOptim *
ss_optim_new (SsOptimKind kind)
{
  g_return_val_if_fail (kind == SS_OPTIM_ADAMW || kind == SS_OPTIM_SGD, NULL);
  SsOptim *opt = g_new0 (SsOptim, 1);
  opt->kind = kind;
  opt->groups = g_array_new (FALSE, TRUE, sizeof (SsOptimHyper));
  opt->slots = g_array_new (FALSE, TRUE, sizeof (Slot));
  return opt;
}

void
ss_optim_free (SsOptim *opt)
{
  if (!opt)
    return;
  for (guint i = 0; i < opt->slots->len; i++)
    {
      Slot *s = &g_array_index (opt->slots, Slot, i);
      g_clear_pointer (&s->param, ss_tensor_unref);
      g_clear_pointer (&s->m, ss_tensor_unref);
      g_clear_pointer (&s->v, ss_tensor_unref);
      g_clear_pointer (&s->master, ss_tensor_unref);
    }
  g_array_unref (opt->slots);
  g_array_unref (opt->groups);
  g_clear_pointer (&opt->coef, ss_gpu_buffer_unref);
  g_clear_pointer (&opt->partial, ss_gpu_buffer_unref);
  g_free (opt);
}

guint
ss_optim_add_group (SsOptim *opt, guint n_params, SsTensor *const *params,
                    const SsOptimHyper *hyper)
{
  g_return_val_if_fail (opt != NULL, 0);
  g_return_val_if_fail (params != NULL || n_params == 0, 0);
  SsOptimHyper h = hyper ? *hyper
                         : (opt->kind == SS_OPTIM_ADAMW ? ss_optim_hyper_adamw_default ()
                                                        : ss_optim_hyper_sgd_default ());
  guint g = opt->groups->len;
  g_array_append_val (opt->groups, h);
  for (guint i = 0; i < n_params; i++)
    {
      g_return_val_if_fail (params[i] != NULL, g);
      for (guint j = 0; j < opt->slots->len; j++)
        g_return_val_if_fail (g_array_index (opt->slots, Slot, j).param != params[i], g);
      Slot s = { .param = ss_tensor_ref (params[i]), .group = g };
      g_array_append_val (opt->slots, s);
    }
  return g;
}

guint
ss_optim_get_n_groups (SsOptim *opt)
{
  g_return_val_if_fail (opt != NULL, 0);
  return opt->groups->len;
}

SsOptimHyper *
ss_optim_get_group_hyper (SsOptim *opt, guint group)
{
  g_return_val_if_fail (opt != NULL && group < opt->groups->len, NULL);
  return &g_array_index (opt->groups, SsOptimHyper, group);
}

void
ss_optim_set_lr (SsOptim *opt, float lr)
{
  g_return_if_fail (opt != NULL);
  for (guint i = 0; i < opt->groups->len; i++)
    g_array_index (opt->groups, SsOptimHyper, i).lr = lr;
}

void
ss_optim_set_max_grad_norm (SsOptim *opt, float max_norm)
{
  g_return_if_fail (opt != NULL);
  opt->max_grad_norm = max_norm;
}

gint64
ss_optim_get_step (SsOptim *opt)
{
  g_return_val_if_fail (opt != NULL, 0);
  return opt->step;
}

void
ss_optim_zero_grad (SsOptim *opt)
{
  g_return_if_fail (opt != NULL);
  for (guint i = 0; i < opt->slots->len; i++)
    ss_tensor_zero_grad (g_array_index (opt->slots, Slot, i).param);
}

/* The gradient of a slot as a contiguous tensor of the parameter's dtype and
 * shape, or NULL (no gradient, or error set). */
static SsTensor *
slot_grad (Slot *s, GError **error)
{
  SsTensor *p = s->param, *g = p->grad;
  if (!g)
    return NULL;
  if (!ss_tensor_same_shape (p, g))
    {
      g_autofree char *ps = ss_tensor_describe (p);
      g_autofree char *gs = ss_tensor_describe (g);
      g_set_error (error, SS_ERROR, SS_ERROR_INVALID_DATA,
                   "Optimizer: the gradient of parameter “%s” (%s) does not match it (%s)",
                   p->name ? p->name : "?", gs, ps);
      return NULL;
    }
  if (g->dtype != p->dtype)
    return ss_tensor_to_dtype (g, p->dtype, error);
  return ss_tensor_contiguous (g, error);
}

static SsTensor *
zeros_f32_like (SsTensor *p, GError **error)
{
  return ss_tensor_zeros (SS_DTYPE_F32, p->ndim, p->shape, error);
}

static gboolean
compute_clip (SsOptim *opt, SsGpuDevice *dev, SsTensor **grads, GError **error)
{
  guint64 total = 0;
  for (guint i = 0; i < opt->slots->len; i++)
    if (grads[i])
      total += (guint64) (ss_tensor_numel (grads[i]) + 1023) / 1024;
  gsize need = MAX (total, 1) * sizeof (float);
  if (!opt->partial || ss_gpu_buffer_get_size (opt->partial) < need)
    {
      g_clear_pointer (&opt->partial, ss_gpu_buffer_unref);
      if (!(opt->partial = ss_gpu_buffer_new (dev, need, error)))
        return FALSE;
    }
  guint32 part_off = 0;
  for (guint i = 0; i < opt->slots->len; i++)
    {
      SsTensor *g = grads[i];
      if (!g)
        continue;
      guint64 n = (guint64) ss_tensor_numel (g);
      guint64 groups = (n + 1023) / 1024;
      struct { guint32 n, g_off, part_off; } push = { (guint32) n, (guint32) g->offset, part_off };
      SsGpuBinding b[2] = { ss_tensor_binding (g, SS_GPU_READ),
                            { opt->partial, 0, 0, SS_GPU_WRITE } };
      char name[64];
      SsGpuDispatch d = { .shader = ss_tensor_shader ("dsp_grad_norm", g->dtype, name, sizeof name),
                          .bindings = b, .n_bindings = 2, .push = &push,
                          .push_size = sizeof push, .label = "grad_norm" };
      ss_gpu_groups_1d (dev, groups, d.groups);
      if (!ss_gpu_dispatch (dev, &d, error))
        return FALSE;
      part_off += (guint32) groups;
    }
  struct { guint32 n; float max_norm; } push = { part_off, opt->max_grad_norm };
  SsGpuBinding b[2] = { { opt->partial, 0, 0, SS_GPU_READ }, { opt->coef, 0, 0, SS_GPU_WRITE } };
  SsGpuDispatch d = { .shader = "dsp_grad_norm.finalize", .bindings = b, .n_bindings = 2,
                      .push = &push, .push_size = sizeof push, .groups = { 1, 1, 1 },
                      .label = "grad_norm" };
  return ss_gpu_dispatch (dev, &d, error);
}

gboolean
ss_optim_step (SsOptim *opt, GError **error)
{
  g_return_val_if_fail (opt != NULL, FALSE);
  SS_NO_GRAD_SCOPE;

  guint n = opt->slots->len;
  g_autofree SsTensor **grads = g_new0 (SsTensor *, MAX (n, 1));
  gboolean ok = TRUE, any = FALSE;
  SsGpuDevice *dev = NULL;
  for (guint i = 0; i < n && ok; i++)
    {
      Slot *s = &g_array_index (opt->slots, Slot, i);
      GError *local = NULL;
      grads[i] = slot_grad (s, &local);
      if (local)
        {
          g_propagate_error (error, local);
          ok = FALSE;
        }
      if (grads[i])
        {
          any = TRUE;
          dev = s->param->device;
        }
    }
  if (ok && any)
    {
      if (!opt->coef)
        {
          float init[2] = { 0.0f, 1.0f };
          opt->coef = ss_gpu_buffer_new (dev, sizeof init, error);
          ok = opt->coef && ss_gpu_buffer_upload (opt->coef, 0, init, sizeof init, error);
        }
      gboolean clip = opt->max_grad_norm > 0;
      if (ok && clip)
        ok = compute_clip (opt, dev, grads, error);
      opt->norm_valid = ok && clip;

      for (guint i = 0; i < n && ok; i++)
        {
          Slot *s = &g_array_index (opt->slots, Slot, i);
          SsTensor *g = grads[i];
          if (!g)
            continue;
          SsOptimHyper *h = &g_array_index (opt->groups, SsOptimHyper, s->group);
          SsTensor *p = s->param;
          if (!ss_tensor_is_contiguous (p))
            {
              g_set_error (error, SS_ERROR, SS_ERROR_INVALID_DATA,
                           "Optimizer: parameter “%s” is not contiguous", p->name ? p->name : "?");
              ok = FALSE;
              break;
            }
          gboolean sgd = opt->kind == SS_OPTIM_SGD;
          gboolean need_m = !sgd || h->momentum != 0.0f;
          if (need_m && !s->m && !(s->m = zeros_f32_like (p, error)))
            {
              ok = FALSE;
              break;
            }
          if (!sgd && !s->v && !(s->v = zeros_f32_like (p, error)))
            {
              ok = FALSE;
              break;
            }
          if (p->dtype != SS_DTYPE_F32 && !s->master &&
              !(s->master = ss_tensor_to_dtype (p, SS_DTYPE_F32, error)))
            {
              ok = FALSE;
              break;
            }
          s->step++;
          double bc1 = 1.0 - pow (h->beta1, (double) s->step);
          double bc2 = 1.0 - pow (h->beta2, (double) s->step);
          guint32 flags = (s->master ? FLAG_HAS_MASTER : 0) | (clip ? FLAG_USE_CLIP : 0) |
                          (h->nesterov ? FLAG_NESTEROV : 0) | (s->step == 1 ? FLAG_FIRST_STEP : 0) |
                          (need_m ? FLAG_USE_MOMENTUM : 0);
          struct {
            guint32 n, p_off, g_off, m_off, v_off, master_off, mode, flags;
            float lr, beta1, beta2, eps, wd, step_size, inv_sqrt_bc2, momentum, dampening;
          } push = {
            (guint32) ss_tensor_numel (p), (guint32) p->offset, (guint32) g->offset,
            s->m ? (guint32) s->m->offset : 0, s->v ? (guint32) s->v->offset : 0,
            s->master ? (guint32) s->master->offset : 0, sgd ? 1u : 0u, flags,
            h->lr, h->beta1, h->beta2, h->eps, h->weight_decay,
            sgd ? 0.0f : (float) (h->lr / bc1), sgd ? 0.0f : (float) (1.0 / sqrt (bc2)),
            h->momentum, h->dampening,
          };
          /* the parameter (written anyway) stands in for m, v or master
           * where the slot has none: adamw.comp declares them writable, and
           * a shared stand-in (coef) was a write-after-read hazard between
           * the parameters' dispatches for the synchronization validation */
          SsGpuBinding dummy = ss_tensor_binding (p, SS_GPU_RW);
          SsGpuBinding coef = { opt->coef, 0, 0, SS_GPU_READ };
          SsGpuBinding b[6] = {
            ss_tensor_binding (p, SS_GPU_RW),
            ss_tensor_binding (g, SS_GPU_READ),
            s->m ? ss_tensor_binding (s->m, SS_GPU_RW) : dummy,
            s->v ? ss_tensor_binding (s->v, SS_GPU_RW) : dummy,
            s->master ? ss_tensor_binding (s->master, SS_GPU_RW) : dummy,
            coef,
          };
          char name[64];
          SsGpuDispatch d = { .shader = ss_tensor_shader ("dsp_adamw", p->dtype, name, sizeof name),
                              .bindings = b, .n_bindings = 6, .push = &push,
                              .push_size = sizeof push, .label = sgd ? "sgd" : "adamw" };
          ss_gpu_groups_1d (dev, ((guint64) ss_tensor_numel (p) + 255) / 256, d.groups);
          ok = ss_gpu_dispatch (dev, &d, error);
        }
      if (ok)
        opt->step++;
    }
  for (guint i = 0; i < n; i++)
    g_clear_pointer (&grads[i], ss_tensor_unref);
  return ok;
}

gboolean
ss_optim_get_grad_norm (SsOptim *opt, float *norm, GError **error)
{
  g_return_val_if_fail (opt != NULL && norm != NULL, FALSE);
  if (!opt->norm_valid)
    {
      g_set_error (error, SS_ERROR, SS_ERROR_FAILED,
                   "The gradient norm is only computed while clipping is on");
      return FALSE;
    }
  float v[2];
  if (!ss_gpu_buffer_download (opt->coef, 0, v, sizeof v, error))
    return FALSE;
  *norm = v[0];
  return TRUE;
}

float
ss_optim_lr_warmup_cosine (gint64 step, gint64 warmup, gint64 total, float base_lr, float min_lr)
{
  g_return_val_if_fail (step >= 0 && warmup >= 0, base_lr);
  if (step < warmup)
    return (float) (base_lr * (double) (step + 1) / (double) warmup);
  if (step >= total || total <= warmup)
    return step >= total ? min_lr : base_lr;
  double progress = (double) (step - warmup) / (double) (total - warmup);
  return (float) (min_lr + 0.5 * (base_lr - min_lr) * (1.0 + cos (G_PI * progress)));
}

static const char *const state_parts[3] = { "m", "v", "master" };

static SsTensor **
slot_part (Slot *s, int k)
{
  return k == 0 ? &s->m : k == 1 ? &s->v : &s->master;
}

gboolean
ss_optim_save_state (SsOptim *opt, const char *path, GError **error)
{
  g_return_val_if_fail (opt != NULL && path != NULL, FALSE);
  g_autoptr (SsSafetensorsWriter) w = ss_safetensors_writer_new ();
  for (guint i = 0; i < opt->slots->len; i++)
    {
      Slot *s = &g_array_index (opt->slots, Slot, i);
      for (int k = 0; k < 3; k++)
        {
          SsTensor *t = *slot_part (s, k);
          if (!t)
            continue;
          g_autofree float *data = ss_tensor_to_floats_dup (t, error);
          if (!data)
            return FALSE;
          g_autofree char *name = g_strdup_printf ("state.%u.%s", i, state_parts[k]);
          ss_safetensors_writer_add (w, name, SS_SAFETENSORS_F32, (guint) t->ndim, t->shape, data);
        }
      g_autofree char *sname = g_strdup_printf ("state.%u.step", i);
      ss_safetensors_writer_add (w, sname, SS_SAFETENSORS_I64, 0, NULL, &s->step);
    }
  char buf[32];
  ss_safetensors_writer_set_metadata (w, "optimizer", opt->kind == SS_OPTIM_ADAMW ? "adamw" : "sgd");
  g_snprintf (buf, sizeof buf, "%" G_GINT64_FORMAT, opt->step);
  ss_safetensors_writer_set_metadata (w, "step", buf);
  g_snprintf (buf, sizeof buf, "%u", opt->slots->len);
  ss_safetensors_writer_set_metadata (w, "n_params", buf);
  return ss_safetensors_writer_write (w, path, error);
}

gboolean
ss_optim_load_state (SsOptim *opt, const char *path, GError **error)
{
  g_return_val_if_fail (opt != NULL && path != NULL, FALSE);
  g_autoptr (SsSafetensors) st = ss_safetensors_open (path, error);
  if (!st)
    return FALSE;
  const char *file = ss_safetensors_get_display_name (st);
  const char *kind = ss_safetensors_get_metadata_value (st, "optimizer");
  const char *want = opt->kind == SS_OPTIM_ADAMW ? "adamw" : "sgd";
  if (g_strcmp0 (kind, want) != 0)
    {
      g_set_error (error, SS_ERROR, SS_ERROR_INVALID_DATA,
                   "“%s” is not %s optimizer state (it says “%s”)", file, want,
                   kind ? kind : "nothing");
      return FALSE;
    }
  gint64 n_params = -1, step = -1;
  const char *np = ss_safetensors_get_metadata_value (st, "n_params");
  const char *sp = ss_safetensors_get_metadata_value (st, "step");
  if (!np || !g_ascii_string_to_signed (np, 10, 0, G_MAXINT32, &n_params, NULL) || !sp ||
      !g_ascii_string_to_signed (sp, 10, 0, G_MAXINT64, &step, NULL) ||
      n_params != opt->slots->len)
    {
      g_set_error (error, SS_ERROR, SS_ERROR_INVALID_DATA,
                   "“%s” holds optimizer state for %s parameters, this training has %u", file,
                   np ? np : "?", opt->slots->len);
      return FALSE;
    }

  /* Validate everything before changing anything. */
  guint n = opt->slots->len;
  g_autofree gint64 *steps = g_new0 (gint64, MAX (n, 1));
  for (guint i = 0; i < n; i++)
    {
      Slot *s = &g_array_index (opt->slots, Slot, i);
      g_autofree char *sname = g_strdup_printf ("state.%u.step", i);
      const SsSafetensorsInfo *si = ss_safetensors_get (st, sname, error);
      if (!si)
        return FALSE;
      if (si->dtype != SS_SAFETENSORS_I64 || si->numel != 1)
        {
          g_set_error (error, SS_ERROR, SS_ERROR_INVALID_DATA, "“%s”: tensor “%s” is not one I64",
                       file, sname);
          return FALSE;
        }
      memcpy (&steps[i], si->data, 8);
      for (int k = 0; k < 3; k++)
        {
          g_autofree char *name = g_strdup_printf ("state.%u.%s", i, state_parts[k]);
          const SsSafetensorsInfo *info = ss_safetensors_lookup (st, name);
          if (!info)
            continue;
          gboolean ok = info->dtype == SS_SAFETENSORS_F32 && info->rank == (guint) s->param->ndim;
          for (int d = 0; ok && d < s->param->ndim; d++)
            ok = info->shape[d] == s->param->shape[d];
          if (!ok)
            {
              g_autofree char *ps = ss_tensor_describe (s->param);
              g_set_error (error, SS_ERROR, SS_ERROR_INVALID_DATA,
                           "“%s”: tensor “%s” does not match parameter %u (%s)", file, name, i, ps);
              return FALSE;
            }
        }
    }
  /* Load into new tensors, then swap in. */
  g_autofree SsTensor **fresh = g_new0 (SsTensor *, 3 * MAX (n, 1));
  gboolean ok = TRUE;
  for (guint i = 0; i < n && ok; i++)
    for (int k = 0; k < 3 && ok; k++)
      {
        g_autofree char *name = g_strdup_printf ("state.%u.%s", i, state_parts[k]);
        if (ss_safetensors_has (st, name))
          ok = (fresh[3 * i + k] = ss_safetensors_load_tensor (st, name, SS_DTYPE_F32, error)) != NULL;
      }
  if (!ok)
    {
      for (guint i = 0; i < 3 * n; i++)
        g_clear_pointer (&fresh[i], ss_tensor_unref);
      return FALSE;
    }
  for (guint i = 0; i < n; i++)
    {
      Slot *s = &g_array_index (opt->slots, Slot, i);
      for (int k = 0; k < 3; k++)
        {
          SsTensor **part = slot_part (s, k);
          g_clear_pointer (part, ss_tensor_unref);
          *part = fresh[3 * i + k]; /* shapes were checked above */
        }
      s->step = steps[i];
    }
  opt->step = step;
  return TRUE;
}
