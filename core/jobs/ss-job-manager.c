/* ss-job-manager.c: the list of running and recently finished jobs. */
#define G_LOG_DOMAIN "ss-job-manager"

#include "ss-job.h"

#define SS_JOB_MANAGER_MAX_FINISHED 100

struct _SsJobManager
{
  GObject parent_instance;
  GPtrArray *jobs;      /* of SsJob*, owned */
  guint n_running;
};

static void list_model_iface_init (GListModelInterface *iface);

G_DEFINE_TYPE_WITH_CODE (SsJobManager, ss_job_manager, G_TYPE_OBJECT,
                         G_IMPLEMENT_INTERFACE (G_TYPE_LIST_MODEL, list_model_iface_init))

enum {
  PROP_0,
  PROP_N_RUNNING,
  PROP_N_ITEMS,
  N_PROPS
};
static GParamSpec *properties[N_PROPS];

static GType
get_item_type (GListModel *model)
{
  return SS_TYPE_JOB;
}

static guint
get_n_items (GListModel *model)
{
  return SS_JOB_MANAGER (model)->jobs->len;
}

static gpointer
get_item (GListModel *model, guint position)
{
  SsJobManager *self = SS_JOB_MANAGER (model);
  if (position >= self->jobs->len)
    return NULL;
  return g_object_ref (g_ptr_array_index (self->jobs, position));
}

static void
list_model_iface_init (GListModelInterface *iface)
{
  iface->get_item_type = get_item_type;
  iface->get_n_items = get_n_items;
  iface->get_item = get_item;
}

static void
on_job_finished (SsJob *job, SsJobManager *self);

static void
ss_job_manager_dispose (GObject *object)
{
  SsJobManager *self = SS_JOB_MANAGER (object);
  if (self->jobs)
    for (guint i = 0; i < self->jobs->len; i++)
      g_signal_handlers_disconnect_by_func (g_ptr_array_index (self->jobs, i), on_job_finished, self);
  g_clear_pointer (&self->jobs, g_ptr_array_unref);
  G_OBJECT_CLASS (ss_job_manager_parent_class)->dispose (object);
}

static void
ss_job_manager_get_property (GObject *object, guint prop_id, GValue *value, GParamSpec *pspec)
{
  SsJobManager *self = SS_JOB_MANAGER (object);
  switch (prop_id)
    {
    case PROP_N_RUNNING:
      g_value_set_uint (value, self->n_running);
      break;
    case PROP_N_ITEMS:
      g_value_set_uint (value, self->jobs ? self->jobs->len : 0);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
ss_job_manager_class_init (SsJobManagerClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  object_class->dispose = ss_job_manager_dispose;
  object_class->get_property = ss_job_manager_get_property;

  properties[PROP_N_RUNNING] =
    g_param_spec_uint ("n-running", NULL, NULL, 0, G_MAXUINT, 0,
                       G_PARAM_READABLE | G_PARAM_STATIC_STRINGS | G_PARAM_EXPLICIT_NOTIFY);
  properties[PROP_N_ITEMS] =
    g_param_spec_uint ("n-items", NULL, NULL, 0, G_MAXUINT, 0,
                       G_PARAM_READABLE | G_PARAM_STATIC_STRINGS | G_PARAM_EXPLICIT_NOTIFY);
  g_object_class_install_properties (object_class, N_PROPS, properties);
}

static void
ss_job_manager_init (SsJobManager *self)
{
  self->jobs = g_ptr_array_new_with_free_func (g_object_unref);
}

SsJobManager *
ss_job_manager_get_default (void)
{
  static SsJobManager *instance;
  if (instance == NULL)
    {
      instance = g_object_new (SS_TYPE_JOB_MANAGER, NULL);
      g_object_add_weak_pointer (G_OBJECT (instance), (gpointer *) &instance);
    }
  return instance;
}

SsJobManager *
ss_job_manager_new (void)
{
  return g_object_new (SS_TYPE_JOB_MANAGER, NULL);
}

static void
update_n_running (SsJobManager *self)
{
  guint n = 0;
  for (guint i = 0; i < self->jobs->len; i++)
    if (!ss_job_is_finished (g_ptr_array_index (self->jobs, i)))
      n++;
  if (n != self->n_running)
    {
      self->n_running = n;
      g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_N_RUNNING]);
    }
}

/* Removes jobs matching @pred, emitting one items-changed per contiguous run. */
static void
remove_where (SsJobManager *self, gboolean (*pred) (SsJobManager *, guint, gpointer), gpointer data)
{
  guint before = self->jobs->len;
  guint i = self->jobs->len;
  while (i > 0)
    {
      i--;
      if (!pred (self, i, data))
        continue;
      guint end = i + 1;
      while (i > 0 && pred (self, i - 1, data))
        i--;
      for (guint k = i; k < end; k++)
        g_signal_handlers_disconnect_by_func (g_ptr_array_index (self->jobs, k), on_job_finished, self);
      g_ptr_array_remove_range (self->jobs, i, end - i);
      g_list_model_items_changed (G_LIST_MODEL (self), i, end - i, 0);
    }
  if (before != self->jobs->len)
    g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_N_ITEMS]);
}

static gboolean
is_finished_pred (SsJobManager *self, guint i, gpointer data)
{
  return ss_job_is_finished (g_ptr_array_index (self->jobs, i));
}

/* Drops the oldest finished jobs beyond the limit. */
static gboolean
is_old_finished_pred (SsJobManager *self, guint i, gpointer data)
{
  guint *excess = data;
  if (*excess == 0 || !ss_job_is_finished (g_ptr_array_index (self->jobs, i)))
    return FALSE;
  /* Count finished jobs before i: only the first *excess finished ones go. */
  guint before = 0;
  for (guint k = 0; k < i; k++)
    if (ss_job_is_finished (g_ptr_array_index (self->jobs, k)))
      before++;
  return before < *excess;
}

static void
trim_finished (SsJobManager *self)
{
  guint n_finished = 0;
  for (guint i = 0; i < self->jobs->len; i++)
    if (ss_job_is_finished (g_ptr_array_index (self->jobs, i)))
      n_finished++;
  if (n_finished <= SS_JOB_MANAGER_MAX_FINISHED)
    return;
  guint excess = n_finished - SS_JOB_MANAGER_MAX_FINISHED;
  remove_where (self, is_old_finished_pred, &excess);
}

static void
on_job_finished (SsJob *job, SsJobManager *self)
{
  g_object_ref (self);
  update_n_running (self);
  trim_finished (self);
  g_object_unref (self);
}

void
ss_job_manager_add (SsJobManager *self, SsJob *job)
{
  g_return_if_fail (SS_IS_JOB_MANAGER (self));
  g_return_if_fail (SS_IS_JOB (job));
  g_return_if_fail (ss_job_get_state (job) == SS_JOB_PENDING && !ss_job_is_finished (job));

  g_ptr_array_add (self->jobs, g_object_ref (job));
  g_signal_connect (job, "finished", G_CALLBACK (on_job_finished), self);
  g_list_model_items_changed (G_LIST_MODEL (self), self->jobs->len - 1, 0, 1);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_N_ITEMS]);
  update_n_running (self);
  ss_job_run (job);
}

void
ss_job_manager_clear_finished (SsJobManager *self)
{
  g_return_if_fail (SS_IS_JOB_MANAGER (self));
  remove_where (self, is_finished_pred, NULL);
}

void
ss_job_manager_cancel_all (SsJobManager *self)
{
  g_return_if_fail (SS_IS_JOB_MANAGER (self));
  for (guint i = 0; i < self->jobs->len; i++)
    ss_job_cancel (g_ptr_array_index (self->jobs, i));
}

guint
ss_job_manager_get_n_running (SsJobManager *self)
{
  g_return_val_if_fail (SS_IS_JOB_MANAGER (self), 0);
  return self->n_running;
}
