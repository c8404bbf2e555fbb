/* test-jobs.c: SsJob and SsJobManager. */
#include "jobs/ss-job.h"

static GThread *main_thread;

static void
wait_finished (SsJob *job)
{
  /* Guard against hangs only (not a timing assertion). */
  gint64 deadline = g_get_monotonic_time () + 30 * G_USEC_PER_SEC;
  while (!ss_job_is_finished (job))
    {
      g_main_context_iteration (NULL, TRUE);
      g_assert_cmpint (g_get_monotonic_time (), <, deadline);
    }
}

/* ---- progress on the main loop ---- */

typedef struct {
  int n_steps;
  gint freed;
} CountData;

static void
free_result (gpointer p)
{
  gint *counter = p;
  g_atomic_int_inc (counter);
}

static gboolean
count_func (SsJob *job, gpointer user_data, GError **error)
{
  CountData *d = user_data;
  for (int i = 0; i <= d->n_steps; i++)
    {
      g_autofree char *status = g_strdup_printf ("Step %d of %d", i, d->n_steps);
      ss_job_set_progress (job, (double) i / d->n_steps, status);
      g_usleep (50);
    }
  ss_job_set_result (job, &d->freed, free_result);
  return TRUE;
}

typedef struct {
  int notifies;
  double last;
  gboolean monotonic;
  gboolean on_main;
  int finished;
  int state_notifies;
} Observed;

static void
on_progress (SsJob *job, GParamSpec *pspec, Observed *o)
{
  double p = ss_job_get_progress (job);
  if (p < o->last)
    o->monotonic = FALSE;
  o->last = p;
  o->notifies++;
  if (g_thread_self () != main_thread)
    o->on_main = FALSE;
}

static void
on_finished (SsJob *job, Observed *o)
{
  o->finished++;
  if (g_thread_self () != main_thread)
    o->on_main = FALSE;
  /* By "finished" the outcome is final. */
  g_assert_true (ss_job_is_finished (job));
  g_assert_cmpint (ss_job_get_state (job), >=, SS_JOB_SUCCEEDED);
}

static void
on_state (SsJob *job, GParamSpec *pspec, Observed *o)
{
  o->state_notifies++;
  if (g_thread_self () != main_thread)
    o->on_main = FALSE;
}

static void
test_progress_main_loop (void)
{
  CountData d = { .n_steps = 2000 };
  Observed o = { .last = -1, .monotonic = TRUE, .on_main = TRUE };
  g_autoptr(SsJob) job = ss_job_new ("Counting", count_func, &d, NULL);
  g_signal_connect (job, "notify::progress", G_CALLBACK (on_progress), &o);
  g_signal_connect (job, "notify::state", G_CALLBACK (on_state), &o);
  g_signal_connect (job, "finished", G_CALLBACK (on_finished), &o);

  g_assert_cmpint (ss_job_get_state (job), ==, SS_JOB_PENDING);
  ss_job_run (job);
  wait_finished (job);

  g_assert_cmpint (o.finished, ==, 1);
  g_assert_true (o.on_main);
  g_assert_true (o.monotonic);
  g_assert_cmpint (o.notifies, >=, 1);
  /* Coalesced: far fewer notifications than updates. */
  g_assert_cmpint (o.notifies, <, d.n_steps);
  g_assert_cmpfloat (ss_job_get_progress (job), ==, 1.0);
  g_autofree char *status = ss_job_dup_status (job);
  g_assert_cmpstr (status, ==, "Step 2000 of 2000");
  g_assert_cmpint (ss_job_get_state (job), ==, SS_JOB_SUCCEEDED);
  g_assert_cmpint (o.state_notifies, >=, 1);
  g_assert_null (ss_job_get_error (job));
  g_assert_true (ss_job_get_result (job) == &d.freed);
  g_assert_cmpint (d.freed, ==, 0);
  g_clear_object (&job);
  g_assert_cmpint (d.freed, ==, 1);   /* result freed with the job */
}

/* ---- cancel mid-run ---- */

typedef struct {
  gint started;
  gint freed;
  gboolean ignore_cancel;
} CancelData;

static gboolean
cancellable_func (SsJob *job, gpointer user_data, GError **error)
{
  CancelData *d = user_data;
  /* A partial result is set before the work is done. */
  ss_job_set_result (job, &d->freed, free_result);
  g_atomic_int_set (&d->started, 1);
  for (int i = 0; i < 1000000; i++)
    {
      if (!d->ignore_cancel && ss_job_check_cancelled (job, error))
        return FALSE;
      if (d->ignore_cancel && ss_job_is_cancelled (job))
        return TRUE;     /* claims success after a cancel */
      ss_job_set_progress (job, i / 1e6, NULL);
      g_usleep (100);
    }
  return TRUE;
}

static void
run_cancel_test (gboolean ignore_cancel)
{
  CancelData d = { .ignore_cancel = ignore_cancel };
  g_autoptr(SsJob) job = ss_job_new ("Long work", cancellable_func, &d, NULL);
  ss_job_run (job);
  while (!g_atomic_int_get (&d.started))
    g_main_context_iteration (NULL, FALSE);
  ss_job_cancel (job);
  wait_finished (job);

  g_assert_cmpint (ss_job_get_state (job), ==, SS_JOB_CANCELLED);
  g_assert_error (ss_job_get_error (job), SS_ERROR, SS_ERROR_CANCELLED);
  g_assert_null (ss_job_get_result (job));
  g_assert_null (ss_job_steal_result (job));
  /* The partial result was dropped, not leaked or kept. */
  g_assert_cmpint (d.freed, ==, 1);
}

static void
test_cancel_mid_run (void)
{
  run_cancel_test (FALSE);
}

static void
test_cancel_ignored_still_cancelled (void)
{
  run_cancel_test (TRUE);
}

static gboolean
never_called_func (SsJob *job, gpointer user_data, GError **error)
{
  gboolean *called = user_data;
  *called = TRUE;
  return TRUE;
}

static void
test_cancel_before_start (void)
{
  gboolean called = FALSE;
  g_autoptr(SsJob) job = ss_job_new ("Never", never_called_func, &called, NULL);
  ss_job_cancel (job);
  ss_job_run (job);
  wait_finished (job);
  g_assert_false (called);
  g_assert_cmpint (ss_job_get_state (job), ==, SS_JOB_CANCELLED);
}

/* ---- failure ---- */

static gboolean
failing_func (SsJob *job, gpointer user_data, GError **error)
{
  CancelData *d = user_data;
  ss_job_set_result (job, &d->freed, free_result);
  ss_job_set_progress (job, 0.5, "Half way");
  g_set_error (error, SS_ERROR, SS_ERROR_OUT_OF_MEMORY, "Out of GPU memory while decoding");
  return FALSE;
}

static void
test_failure_propagates (void)
{
  CancelData d = { 0 };
  g_autoptr(SsJob) job = ss_job_new ("Failing", failing_func, &d, NULL);
  Observed o = { .last = -1, .monotonic = TRUE, .on_main = TRUE };
  g_signal_connect (job, "finished", G_CALLBACK (on_finished), &o);
  ss_job_run (job);
  wait_finished (job);
  g_assert_cmpint (o.finished, ==, 1);
  g_assert_cmpint (ss_job_get_state (job), ==, SS_JOB_FAILED);
  g_assert_error (ss_job_get_error (job), SS_ERROR, SS_ERROR_OUT_OF_MEMORY);
  g_assert_cmpstr (ss_job_get_error (job)->message, ==, "Out of GPU memory while decoding");
  g_assert_null (ss_job_get_result (job));
  g_assert_cmpint (d.freed, ==, 1);
}

static gboolean
check_not_freed_func (SsJob *job, gpointer user_data, GError **error)
{
  /* user data is alive while the worker runs */
  g_assert_false (*(gboolean *) user_data);
  return TRUE;
}

static void
set_flag (gpointer p)
{
  *(gboolean *) p = TRUE;
}

static void
test_user_data_freed (void)
{
  gboolean freed = FALSE;
  g_autoptr(SsJob) job = ss_job_new ("Data", check_not_freed_func, &freed, set_flag);
  ss_job_run (job);
  wait_finished (job);
  /* freed when the job finished, before the job object goes */
  g_assert_true (freed);
}

/* ---- a thread with its own main context ---- */

typedef struct {
  GThread *thread;
  gboolean wrong_thread;
  int finished;
} OtherCtx;

static void
other_on_finished (SsJob *job, OtherCtx *o)
{
  o->finished++;
  if (g_thread_self () != o->thread)
    o->wrong_thread = TRUE;
}

static void
other_on_progress (SsJob *job, GParamSpec *pspec, OtherCtx *o)
{
  if (g_thread_self () != o->thread)
    o->wrong_thread = TRUE;
}

static gpointer
other_thread (gpointer data)
{
  OtherCtx *o = data;
  o->thread = g_thread_self ();
  GMainContext *ctx = g_main_context_new ();
  g_main_context_push_thread_default (ctx);
  CountData d = { .n_steps = 200 };
  SsJob *job = ss_job_new ("Elsewhere", count_func, &d, NULL);
  g_signal_connect (job, "finished", G_CALLBACK (other_on_finished), o);
  g_signal_connect (job, "notify::progress", G_CALLBACK (other_on_progress), o);
  ss_job_run (job);
  while (!ss_job_is_finished (job))
    g_main_context_iteration (ctx, TRUE);
  g_object_unref (job);
  g_main_context_pop_thread_default (ctx);
  g_main_context_unref (ctx);
  return NULL;
}

static void
test_other_context (void)
{
  OtherCtx o = { 0 };
  GThread *t = g_thread_new ("other", other_thread, &o);
  g_thread_join (t);
  g_assert_cmpint (o.finished, ==, 1);
  g_assert_false (o.wrong_thread);
}

/* ---- run_sync ---- */

typedef struct {
  int calls;
  double last;
  gboolean on_caller;
  GThread *caller;
} SyncObs;

static void
sync_progress (SsJob *job, double fraction, const char *status, gpointer data)
{
  SyncObs *o = data;
  o->calls++;
  g_assert_cmpfloat (fraction, >=, o->last);
  o->last = fraction;
  if (g_thread_self () != o->caller)
    o->on_caller = FALSE;
}

static void
test_run_sync (void)
{
  CountData d = { .n_steps = 500 };
  SyncObs o = { .last = -1, .on_caller = TRUE, .caller = g_thread_self () };
  g_autoptr(SsJob) job = ss_job_new ("Sync", count_func, &d, NULL);
  g_autoptr(GError) error = NULL;
  g_assert_true (ss_job_run_sync (job, sync_progress, &o, &error));
  g_assert_no_error (error);
  g_assert_cmpint (o.calls, >=, 2);
  g_assert_cmpint (o.calls, <=, d.n_steps + 1);
  g_assert_true (o.on_caller);
  g_assert_cmpfloat (o.last, ==, 1.0);
  g_assert_cmpint (ss_job_get_state (job), ==, SS_JOB_SUCCEEDED);
  g_assert_true (ss_job_steal_result (job) == &d.freed);
  g_assert_null (ss_job_get_result (job));
  g_clear_object (&job);
  g_assert_cmpint (d.freed, ==, 0);   /* stolen: the caller owns it */

  CancelData f = { 0 };
  job = ss_job_new ("Sync failing", failing_func, &f, NULL);
  g_assert_false (ss_job_run_sync (job, NULL, NULL, &error));
  g_assert_error (error, SS_ERROR, SS_ERROR_OUT_OF_MEMORY);
  g_assert_cmpint (f.freed, ==, 1);
}

/* ---- manager ---- */

typedef struct {
  guint position, removed, added;
  int calls;
} ItemsChanged;

static void
on_items_changed (GListModel *model, guint position, guint removed, guint added, ItemsChanged *ic)
{
  ic->position = position;
  ic->removed = removed;
  ic->added = added;
  ic->calls++;
}

static gboolean
wait_for_cancel_func (SsJob *job, gpointer user_data, GError **error)
{
  while (!ss_job_check_cancelled (job, error))
    g_usleep (1000);
  return FALSE;
}

static void
test_manager (void)
{
  CountData d = { .n_steps = 10 };   /* outlives the manager */
  g_autoptr(SsJobManager) manager = ss_job_manager_new ();
  GListModel *model = G_LIST_MODEL (manager);
  ItemsChanged ic = { 0 };
  g_signal_connect (manager, "items-changed", G_CALLBACK (on_items_changed), &ic);

  g_assert_true (g_list_model_get_item_type (model) == SS_TYPE_JOB);
  g_assert_cmpuint (g_list_model_get_n_items (model), ==, 0);

  g_autoptr(SsJob) quick = ss_job_new ("Quick", count_func, &d, NULL);
  g_autoptr(SsJob) slow = ss_job_new ("Slow", wait_for_cancel_func, NULL, NULL);
  ss_job_manager_add (manager, quick);
  g_assert_cmpint (ic.calls, ==, 1);
  g_assert_cmpuint (ic.position, ==, 0);
  g_assert_cmpuint (ic.added, ==, 1);
  ss_job_manager_add (manager, slow);
  g_assert_cmpint (ic.calls, ==, 2);
  g_assert_cmpuint (ic.position, ==, 1);
  g_assert_cmpuint (g_list_model_get_n_items (model), ==, 2);
  g_assert_cmpuint (ss_job_manager_get_n_running (manager), ==, 2);
  g_autoptr(SsJob) item = g_list_model_get_item (model, 1);
  g_assert_true (item == slow);
  g_assert_null (g_list_model_get_item (model, 2));

  wait_finished (quick);
  g_assert_cmpuint (ss_job_manager_get_n_running (manager), ==, 1);
  g_assert_cmpint (ss_job_get_state (slow), <=, SS_JOB_RUNNING);

  ss_job_manager_cancel_all (manager);
  wait_finished (slow);
  g_assert_cmpint (ss_job_get_state (slow), ==, SS_JOB_CANCELLED);
  g_assert_cmpint (ss_job_get_state (quick), ==, SS_JOB_SUCCEEDED);
  g_assert_cmpuint (ss_job_manager_get_n_running (manager), ==, 0);

  ic.calls = 0;
  ss_job_manager_clear_finished (manager);
  g_assert_cmpint (ic.calls, ==, 1);
  g_assert_cmpuint (ic.position, ==, 0);
  g_assert_cmpuint (ic.removed, ==, 2);
  g_assert_cmpuint (g_list_model_get_n_items (model), ==, 0);

  g_assert_nonnull (ss_job_manager_get_default ());
  g_assert_true (ss_job_manager_get_default () == ss_job_manager_get_default ());
}

static void
test_manager_many_parallel (void)
{
  CountData d[12];   /* outlives the manager, which holds the results */
  g_autoptr(SsJobManager) manager = ss_job_manager_new ();
  for (int i = 0; i < 12; i++)
    {
      d[i] = (CountData) { .n_steps = 20 };
      g_autoptr(SsJob) job = ss_job_new ("Parallel", count_func, &d[i], NULL);
      ss_job_manager_add (manager, job);
    }
  for (guint i = 0; i < 12; i++)
    {
      g_autoptr(SsJob) job = g_list_model_get_item (G_LIST_MODEL (manager), i);
      wait_finished (job);
      g_assert_cmpint (ss_job_get_state (job), ==, SS_JOB_SUCCEEDED);
    }
  g_assert_cmpuint (ss_job_manager_get_n_running (manager), ==, 0);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  main_thread = g_thread_self ();
  g_test_add_func ("/jobs/progress-main-loop", test_progress_main_loop);
  g_test_add_func ("/jobs/cancel-mid-run", test_cancel_mid_run);
  g_test_add_func ("/jobs/cancel-ignored-still-cancelled", test_cancel_ignored_still_cancelled);
  g_test_add_func ("/jobs/cancel-before-start", test_cancel_before_start);
  g_test_add_func ("/jobs/failure-propagates", test_failure_propagates);
  g_test_add_func ("/jobs/user-data-freed", test_user_data_freed);
  g_test_add_func ("/jobs/other-context", test_other_context);
  g_test_add_func ("/jobs/run-sync", test_run_sync);
  g_test_add_func ("/jobs/manager", test_manager);
  g_test_add_func ("/jobs/manager-many-parallel", test_manager_many_parallel);
  return g_test_run ();
}
