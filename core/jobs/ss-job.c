/* ss-job.c: a unit of background work with progress, cancel and a result.
 *
 * Threading model:
 *   - Everything the worker touches (progress, status, result, final outcome) is
 *     guarded by self->lock.
 *   - The worker never emits signals. It posts at most one "progress" GSource
 *     at a time to the caller's GMainContext (coalescing), rate-limited to one
 *     dispatch per SS_JOB_PROGRESS_INTERVAL_US, and one "completion" source at
 *     the end. Those sources copy the locked values into the public view and
 *     emit notify / "finished" on the main context.
 *   - state as seen by ss_job_get_state() is only changed on the main context
 *     (or on the calling thread in ss_job_run_sync()), so a handler never sees a
 *     final state before "finished".
 */
#define G_LOG_DOMAIN "ss-job"

#include "ss-job.h"

#define SS_JOB_PROGRESS_INTERVAL_US (30 * 1000)
#define SS_JOB_MAX_WORKERS 4

struct _SsJob
{
  GObject parent_instance;

  char *title;
  SsJobFunc func;
  gpointer user_data;
  GDestroyNotify user_data_free;
  GCancellable *cancellable;

  GMutex lock;
  /* guarded by lock */
  double progress;            /* latest from the worker */
  char *status;               /* latest from the worker */
  gboolean progress_dirty;    /* worker values newer than the public ones */
  GSource *progress_source;   /* pending dispatch, or NULL */
  gint64 last_dispatch_us;
  gpointer result;
  GDestroyNotify result_free;

  /* main-context side */
  GMainContext *context;
  SsJobState state;
  double pub_progress;
  char *pub_status;
  GError *error;
  gboolean started;
  gboolean finished;

  /* set by the worker when func returned (guarded by lock) */
  SsJobState final_state;
  GError *final_error;

  /* run_sync */
  GThread *sync_thread;
  SsJobProgressFunc sync_cb;
  gpointer sync_data;
};

G_DEFINE_TYPE (SsJob, ss_job, G_TYPE_OBJECT)

enum {
  PROP_0,
  PROP_TITLE,
  PROP_STATE,
  PROP_PROGRESS,
  PROP_STATUS,
  N_PROPS
};
static GParamSpec *properties[N_PROPS];

enum {
  SIGNAL_FINISHED,
  N_SIGNALS
};
static guint signals[N_SIGNALS];

GType
ss_job_state_get_type (void)
{
  static gsize type_id = 0;
  if (g_once_init_enter (&type_id))
    {
      static const GEnumValue values[] = {
        { SS_JOB_PENDING, "SS_JOB_PENDING", "pending" },
        { SS_JOB_RUNNING, "SS_JOB_RUNNING", "running" },
        { SS_JOB_SUCCEEDED, "SS_JOB_SUCCEEDED", "succeeded" },
        { SS_JOB_FAILED, "SS_JOB_FAILED", "failed" },
        { SS_JOB_CANCELLED, "SS_JOB_CANCELLED", "cancelled" },
        { 0, NULL, NULL },
      };
      GType t = g_enum_register_static (g_intern_static_string ("SsJobState"), values);
      g_once_init_leave (&type_id, t);
    }
  return type_id;
}

static void
ss_job_finalize (GObject *object)
{
  SsJob *self = SS_JOB (object);

  if (self->progress_source)
    {
      g_source_destroy (self->progress_source);
      g_source_unref (self->progress_source);
    }
  if (self->user_data_free && self->user_data)
    self->user_data_free (self->user_data);
  if (self->result_free && self->result)
    self->result_free (self->result);
  g_free (self->title);
  g_free (self->status);
  g_free (self->pub_status);
  g_clear_error (&self->error);
  g_clear_error (&self->final_error);
  g_clear_object (&self->cancellable);
  g_clear_pointer (&self->context, g_main_context_unref);
  g_mutex_clear (&self->lock);

  G_OBJECT_CLASS (ss_job_parent_class)->finalize (object);
}

static void
ss_job_get_property (GObject *object, guint prop_id, GValue *value, GParamSpec *pspec)
{
  SsJob *self = SS_JOB (object);

  switch (prop_id)
    {
    case PROP_TITLE:
      g_value_set_string (value, self->title);
      break;
    case PROP_STATE:
      g_value_set_enum (value, self->state);
      break;
    case PROP_PROGRESS:
      g_value_set_double (value, self->pub_progress);
      break;
    case PROP_STATUS:
      g_value_set_string (value, self->pub_status);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
ss_job_class_init (SsJobClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->finalize = ss_job_finalize;
  object_class->get_property = ss_job_get_property;

  properties[PROP_TITLE] =
    g_param_spec_string ("title", NULL, NULL, NULL,
                         G_PARAM_READABLE | G_PARAM_STATIC_STRINGS);
  properties[PROP_STATE] =
    g_param_spec_enum ("state", NULL, NULL, SS_TYPE_JOB_STATE, SS_JOB_PENDING,
                       G_PARAM_READABLE | G_PARAM_STATIC_STRINGS | G_PARAM_EXPLICIT_NOTIFY);
  properties[PROP_PROGRESS] =
    g_param_spec_double ("progress", NULL, NULL, -1.0, 1.0, 0.0,
                         G_PARAM_READABLE | G_PARAM_STATIC_STRINGS | G_PARAM_EXPLICIT_NOTIFY);
  properties[PROP_STATUS] =
    g_param_spec_string ("status", NULL, NULL, NULL,
                         G_PARAM_READABLE | G_PARAM_STATIC_STRINGS | G_PARAM_EXPLICIT_NOTIFY);
  g_object_class_install_properties (object_class, N_PROPS, properties);

  signals[SIGNAL_FINISHED] =
    g_signal_new ("finished", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                  0, NULL, NULL, NULL, G_TYPE_NONE, 0);
}

static void
ss_job_init (SsJob *self)
{
  g_mutex_init (&self->lock);
  self->cancellable = g_cancellable_new ();
  self->state = SS_JOB_PENDING;
}

SsJob *
ss_job_new (const char *title, SsJobFunc func, gpointer user_data, GDestroyNotify user_data_free)
{
  g_return_val_if_fail (func != NULL, NULL);

  SsJob *self = g_object_new (SS_TYPE_JOB, NULL);
  self->title = g_strdup (title ? title : "");
  self->func = func;
  self->user_data = user_data;
  self->user_data_free = user_data_free;
  return self;
}

const char *
ss_job_get_title (SsJob *job)
{
  g_return_val_if_fail (SS_IS_JOB (job), NULL);
  return job->title;
}

SsJobState
ss_job_get_state (SsJob *job)
{
  g_return_val_if_fail (SS_IS_JOB (job), SS_JOB_FAILED);
  return job->state;
}

double
ss_job_get_progress (SsJob *job)
{
  g_return_val_if_fail (SS_IS_JOB (job), 0.0);
  return job->pub_progress;
}

char *
ss_job_dup_status (SsJob *job)
{
  g_return_val_if_fail (SS_IS_JOB (job), NULL);
  return g_strdup (job->pub_status);
}

GCancellable *
ss_job_get_cancellable (SsJob *job)
{
  g_return_val_if_fail (SS_IS_JOB (job), NULL);
  return job->cancellable;
}

const GError *
ss_job_get_error (SsJob *job)
{
  g_return_val_if_fail (SS_IS_JOB (job), NULL);
  return job->error;
}

gboolean
ss_job_is_cancelled (SsJob *job)
{
  g_return_val_if_fail (SS_IS_JOB (job), FALSE);
  return g_cancellable_is_cancelled (job->cancellable);
}

gboolean
ss_job_check_cancelled (SsJob *job, GError **error)
{
  g_return_val_if_fail (SS_IS_JOB (job), FALSE);
  if (!g_cancellable_is_cancelled (job->cancellable))
    return FALSE;
  g_set_error (error, SS_ERROR, SS_ERROR_CANCELLED, "“%s” was cancelled", job->title);
  return TRUE;
}

void
ss_job_cancel (SsJob *job)
{
  g_return_if_fail (SS_IS_JOB (job));
  g_cancellable_cancel (job->cancellable);
}

gboolean
ss_job_is_finished (SsJob *job)
{
  g_return_val_if_fail (SS_IS_JOB (job), FALSE);
  return job->finished;
}

static void
set_state (SsJob *self, SsJobState state)
{
  if (self->state == state)
    return;
  self->state = state;
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_STATE]);
}

/* Copies the worker's latest progress into the public view and notifies.
 * Called on the main context (or the sync thread). */
static void
publish_progress (SsJob *self)
{
  g_mutex_lock (&self->lock);
  gboolean dirty = self->progress_dirty;
  double progress = self->progress;
  char *status = dirty ? g_strdup (self->status) : NULL;
  self->progress_dirty = FALSE;
  self->last_dispatch_us = g_get_monotonic_time ();
  g_mutex_unlock (&self->lock);

  if (!dirty)
    return;

  gboolean progress_changed = progress != self->pub_progress;
  gboolean status_changed = g_strcmp0 (status, self->pub_status) != 0;
  self->pub_progress = progress;
  g_free (self->pub_status);
  self->pub_status = status;

  g_object_freeze_notify (G_OBJECT (self));
  if (progress_changed)
    g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_PROGRESS]);
  if (status_changed)
    g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_STATUS]);
  g_object_thaw_notify (G_OBJECT (self));

  if (self->sync_cb && (progress_changed || status_changed))
    self->sync_cb (self, self->pub_progress, self->pub_status, self->sync_data);
}

static gboolean
progress_dispatch (gpointer data)
{
  SsJob *self = data;

  g_mutex_lock (&self->lock);
  g_clear_pointer (&self->progress_source, g_source_unref);
  g_mutex_unlock (&self->lock);

  if (!self->finished)
    publish_progress (self);
  return G_SOURCE_REMOVE;
}

void
ss_job_set_progress (SsJob *job, double fraction, const char *status)
{
  g_return_if_fail (SS_IS_JOB (job));

  if (fraction != fraction)     /* NaN: treat as indeterminate */
    fraction = -1.0;
  else if (fraction < 0.0)
    fraction = -1.0;
  else if (fraction > 1.0)
    fraction = 1.0;

  g_mutex_lock (&job->lock);
  gboolean status_changed = g_strcmp0 (status, job->status) != 0;
  if (job->progress == fraction && !status_changed)
    {
      g_mutex_unlock (&job->lock);
      return;
    }
  job->progress = fraction;
  if (status_changed)
    {
      g_free (job->status);
      job->status = g_strdup (status);
    }
  job->progress_dirty = TRUE;

  if (job->sync_thread)
    {
      /* run_sync: deliver on the calling thread, throttled. Values set from
       * other threads are picked up on the next call from the sync thread or
       * at the end. */
      gboolean now = job->sync_thread == g_thread_self () &&
                     (status_changed || fraction >= 1.0 ||
                      g_get_monotonic_time () - job->last_dispatch_us >= SS_JOB_PROGRESS_INTERVAL_US);
      g_mutex_unlock (&job->lock);
      if (now)
        publish_progress (job);
      return;
    }

  if (job->progress_source == NULL && job->context != NULL && !job->finished)
    {
      gint64 since = g_get_monotonic_time () - job->last_dispatch_us;
      GSource *source;
      if (since >= SS_JOB_PROGRESS_INTERVAL_US)
        source = g_idle_source_new ();
      else
        source = g_timeout_source_new ((guint) ((SS_JOB_PROGRESS_INTERVAL_US - since) / 1000 + 1));
      g_source_set_priority (source, G_PRIORITY_DEFAULT_IDLE);
      g_source_set_callback (source, progress_dispatch, g_object_ref (job), g_object_unref);
      g_source_set_static_name (source, "[soundstage] job progress");
      job->progress_source = source;      /* the reference from _new is ours */
      g_source_attach (source, job->context);
    }
  g_mutex_unlock (&job->lock);
}

void
ss_job_set_result (SsJob *job, gpointer result, GDestroyNotify free_func)
{
  g_return_if_fail (SS_IS_JOB (job));

  g_mutex_lock (&job->lock);
  gpointer old = job->result;
  GDestroyNotify old_free = job->result_free;
  job->result = result;
  job->result_free = free_func;
  g_mutex_unlock (&job->lock);

  if (old && old_free && old != result)
    old_free (old);
}

gpointer
ss_job_get_result (SsJob *job)
{
  g_return_val_if_fail (SS_IS_JOB (job), NULL);
  if (job->state != SS_JOB_SUCCEEDED)
    return NULL;
  g_mutex_lock (&job->lock);
  gpointer r = job->result;
  g_mutex_unlock (&job->lock);
  return r;
}

gpointer
ss_job_steal_result (SsJob *job)
{
  g_return_val_if_fail (SS_IS_JOB (job), NULL);
  if (job->state != SS_JOB_SUCCEEDED)
    return NULL;
  g_mutex_lock (&job->lock);
  gpointer r = job->result;
  job->result = NULL;
  job->result_free = NULL;
  g_mutex_unlock (&job->lock);
  return r;
}

static gboolean
error_is_cancel (const GError *error)
{
  return error != NULL &&
         (g_error_matches (error, SS_ERROR, SS_ERROR_CANCELLED) ||
          g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED));
}

/* Runs func on the current thread and records the outcome in final_state /
 * final_error; drops the result unless it succeeded. */
static void
execute (SsJob *self)
{
  GError *error = NULL;
  gboolean ok = FALSE;

  if (!g_cancellable_is_cancelled (self->cancellable))
    {
      ok = self->func (self, self->user_data, &error);
      if (!ok && error == NULL)
        {
          g_warning ("Job “%s” failed without setting an error", self->title);
          g_set_error (&error, SS_ERROR, SS_ERROR_FAILED, "“%s” failed for an unknown reason", self->title);
        }
      if (ok && error != NULL)
        {
          g_warning ("Job “%s” succeeded but set an error: %s", self->title, error->message);
          g_clear_error (&error);
        }
    }

  SsJobState state;
  if (g_cancellable_is_cancelled (self->cancellable) || (!ok && error_is_cancel (error)))
    {
      state = SS_JOB_CANCELLED;
      g_clear_error (&error);
      g_set_error (&error, SS_ERROR, SS_ERROR_CANCELLED, "“%s” was cancelled", self->title);
    }
  else if (ok)
    state = SS_JOB_SUCCEEDED;
  else
    state = SS_JOB_FAILED;

  gpointer drop = NULL;
  GDestroyNotify drop_free = NULL;
  g_mutex_lock (&self->lock);
  self->final_state = state;
  self->final_error = error;
  if (state != SS_JOB_SUCCEEDED)
    {
      drop = self->result;
      drop_free = self->result_free;
      self->result = NULL;
      self->result_free = NULL;
    }
  else
    {
      self->progress = 1.0;
      self->progress_dirty = TRUE;
    }
  g_mutex_unlock (&self->lock);

  if (drop && drop_free)
    drop_free (drop);
}

/* On the main context (or sync thread): makes the outcome public. */
static void
complete (SsJob *self)
{
  g_mutex_lock (&self->lock);
  if (self->progress_source)
    {
      g_source_destroy (self->progress_source);
      g_clear_pointer (&self->progress_source, g_source_unref);
    }
  SsJobState state = self->final_state;
  GError *error = g_steal_pointer (&self->final_error);
  g_mutex_unlock (&self->lock);

  g_object_ref (self);
  publish_progress (self);

  if (self->user_data_free && self->user_data)
    self->user_data_free (self->user_data);
  self->user_data = NULL;
  self->user_data_free = NULL;

  g_clear_error (&self->error);
  self->error = error;
  self->finished = TRUE;
  set_state (self, state);
  g_signal_emit (self, signals[SIGNAL_FINISHED], 0);
  g_object_unref (self);
}

static gboolean
complete_dispatch (gpointer data)
{
  complete (SS_JOB (data));
  return G_SOURCE_REMOVE;
}

static gboolean
running_dispatch (gpointer data)
{
  SsJob *self = data;
  if (!self->finished && self->state == SS_JOB_PENDING)
    set_state (self, SS_JOB_RUNNING);
  return G_SOURCE_REMOVE;
}

/* Posts @func to the job's context; the source takes over @ref (a reference
 * to the job owned by the caller). */
static void
post_with_ref (SsJob *self, GSourceFunc func, SsJob *ref)
{
  GSource *source = g_idle_source_new ();
  g_source_set_priority (source, G_PRIORITY_DEFAULT);
  g_source_set_callback (source, func, ref, g_object_unref);
  g_source_set_static_name (source, "[soundstage] job state");
  g_source_attach (source, self->context);
  g_source_unref (source);
}

static void
worker (gpointer data, gpointer pool_data)
{
  SsJob *self = data;   /* owns a reference */

  if (!g_cancellable_is_cancelled (self->cancellable))
    post_with_ref (self, running_dispatch, g_object_ref (self));
  execute (self);
  /* The worker's reference goes to the completion source, so the job is
   * released on the main context right after "finished", never later from
   * this thread. */
  post_with_ref (self, complete_dispatch, self);
}

static GThreadPool *
get_pool (void)
{
  static gsize pool_once = 0;
  static GThreadPool *pool;
  if (g_once_init_enter (&pool_once))
    {
      GError *error = NULL;
      pool = g_thread_pool_new (worker, NULL, SS_JOB_MAX_WORKERS, FALSE, &error);
      if (pool == NULL)
        g_error ("Could not create the job thread pool: %s", error->message);
      g_once_init_leave (&pool_once, 1);
    }
  return pool;
}

void
ss_job_run (SsJob *job)
{
  g_return_if_fail (SS_IS_JOB (job));
  g_return_if_fail (!job->started);

  job->started = TRUE;
  job->context = g_main_context_ref_thread_default ();

  GError *error = NULL;
  /* On failure to spawn a thread the job stays queued and runs later. */
  if (!g_thread_pool_push (get_pool (), g_object_ref (job), &error))
    {
      g_warning ("Could not start a worker thread for “%s”: %s", job->title, error->message);
      g_error_free (error);
    }
}

gboolean
ss_job_run_sync (SsJob *job, SsJobProgressFunc progress_cb, gpointer data, GError **error)
{
  g_return_val_if_fail (SS_IS_JOB (job), FALSE);
  g_return_val_if_fail (!job->started, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  job->started = TRUE;
  g_mutex_lock (&job->lock);
  job->sync_thread = g_thread_self ();
  g_mutex_unlock (&job->lock);
  job->sync_cb = progress_cb;
  job->sync_data = data;

  g_object_ref (job);
  if (!g_cancellable_is_cancelled (job->cancellable))
    set_state (job, SS_JOB_RUNNING);
  execute (job);
  complete (job);

  g_mutex_lock (&job->lock);
  job->sync_thread = NULL;
  g_mutex_unlock (&job->lock);
  job->sync_cb = NULL;
  job->sync_data = NULL;

  gboolean ok = job->state == SS_JOB_SUCCEEDED;
  if (!ok && error)
    *error = g_error_copy (job->error);
  g_object_unref (job);
  return ok;
}
