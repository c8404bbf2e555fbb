/* ss-job.h: a unit of background work with progress, cancel and a result.
 *
 * Every long operation (thumbnails, waveforms, export, every model job) runs as an
 * SsJob on a worker thread. The UI lists jobs from SsJobManager (a GListModel) in
 * the jobs popover; the CLI drives the same SsJob and prints a progress line.
 *
 * Threading: the SsJobFunc runs on a worker thread. It reports progress with
 * ss_job_set_progress() (thread-safe) and checks ss_job_is_cancelled() /
 * the GCancellable often. Property notifications and "finished" are emitted on the
 * GMainContext that was the thread-default when ss_job_run() was called.
 *
 * Properties (read-only, notified on that main context): "title" (string),
 * "state" (SsJobState), "progress" (double, 0..1 or -1), "status" (string).
 * Progress notifications are coalesced: however often the worker calls
 * ss_job_set_progress(), the main context sees at most one update per
 * ~30 ms and always the latest value.
 *
 * Cancelling or failing never leaves a partial result: a job that ends
 * FAILED or CANCELLED has no result (anything set with ss_job_set_result() is
 * freed with its free func). A job whose cancellable was cancelled before the
 * worker returned ends CANCELLED even if the worker returned TRUE.
 *
 * Jobs run on a shared pool of worker threads (at most 4 at once); a job added
 * while all workers are busy stays PENDING until one is free.
 */
#pragma once

#include <gio/gio.h>
#include "ss-types.h"

G_BEGIN_DECLS

typedef enum {
  SS_JOB_PENDING,
  SS_JOB_RUNNING,
  SS_JOB_SUCCEEDED,
  SS_JOB_FAILED,
  SS_JOB_CANCELLED,
} SsJobState;

#define SS_TYPE_JOB_STATE (ss_job_state_get_type ())
GType        ss_job_state_get_type   (void) G_GNUC_CONST;
/* TRUE for SUCCEEDED, FAILED and CANCELLED. */
#define SS_JOB_STATE_IS_FINISHED(s) ((s) >= SS_JOB_SUCCEEDED)

#define SS_TYPE_JOB (ss_job_get_type ())
G_DECLARE_FINAL_TYPE (SsJob, ss_job, SS, JOB, GObject)

/* Runs on the worker thread. Return TRUE on success (optionally after
 * ss_job_set_result()), FALSE with @error set on failure. When cancelled, return
 * FALSE with SS_ERROR_CANCELLED or G_IO_ERROR_CANCELLED. */
typedef gboolean (*SsJobFunc) (SsJob *job, gpointer user_data, GError **error);

SsJob       *ss_job_new              (const char     *title,
                                      SsJobFunc       func,
                                      gpointer        user_data,
                                      GDestroyNotify  user_data_free);
const char  *ss_job_get_title        (SsJob *job);
SsJobState   ss_job_get_state        (SsJob *job);
/* 0..1, or < 0 for indeterminate */
double       ss_job_get_progress     (SsJob *job);
/* Short status text ("Decoding frame 120 of 600"), may be NULL. */
char        *ss_job_dup_status       (SsJob *job);
GCancellable *ss_job_get_cancellable (SsJob *job);
const GError *ss_job_get_error       (SsJob *job);
gboolean     ss_job_is_cancelled     (SsJob *job);
/* Requests cancellation (thread-safe, any time, idempotent). */
void         ss_job_cancel           (SsJob *job);
gboolean     ss_job_is_finished      (SsJob *job);

/* Worker side (thread-safe). */
void         ss_job_set_progress     (SsJob *job, double fraction, const char *status);
/* Replaces (and frees) any earlier result. */
void         ss_job_set_result       (SsJob *job, gpointer result, GDestroyNotify free_func);
/* The result, owned by the job; NULL unless the job SUCCEEDED. */
gpointer     ss_job_get_result       (SsJob *job);
/* Takes ownership of the result away from the job (caller frees it with the
 * free func it was set with). NULL unless the job SUCCEEDED. */
gpointer     ss_job_steal_result     (SsJob *job);
/* Convenience for workers: if the job was cancelled, sets SS_ERROR_CANCELLED
 * and returns TRUE. Use as: if (ss_job_check_cancelled (job, error)) return FALSE; */
gboolean     ss_job_check_cancelled  (SsJob *job, GError **error);

/* Starts the job on a worker thread. Emits "finished" (no args) on the calling
 * thread's main context when done; state/error/result are then final. */
void         ss_job_run              (SsJob *job);
/* Runs the job synchronously on the calling thread (CLI, tests). Returns TRUE on
 * success. Progress notifications are delivered through @progress_cb if given
 * (on the calling thread, throttled to about one call per 30 ms plus every
 * status change and the final 1.0). "finished" is emitted before returning. */
typedef void (*SsJobProgressFunc) (SsJob *job, double fraction, const char *status, gpointer data);
gboolean     ss_job_run_sync         (SsJob *job, SsJobProgressFunc progress_cb, gpointer data, GError **error);

#define SS_TYPE_JOB_MANAGER (ss_job_manager_get_type ())
G_DECLARE_FINAL_TYPE (SsJobManager, ss_job_manager, SS, JOB_MANAGER, GObject)
/* A GListModel of SsJob: running and recently finished jobs (in the order
 * added). Use from the main thread only. Property "n-running" (uint) counts
 * jobs that are pending or running. At most 100 finished jobs are kept; older
 * finished ones are dropped automatically. */
SsJobManager *ss_job_manager_get_default (void);
/* A separate manager (tests, or a scoped list of jobs). */
SsJobManager *ss_job_manager_new         (void);
void          ss_job_manager_add         (SsJobManager *self, SsJob *job); /* also runs it */
void          ss_job_manager_clear_finished (SsJobManager *self);
void          ss_job_manager_cancel_all  (SsJobManager *self);
guint         ss_job_manager_get_n_running (SsJobManager *self);

G_END_DECLS
