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
void         ss_job_cancel           (SsJob *job);

/* Worker side (thread-safe). */
void         ss_job_set_progress     (SsJob *job, double fraction, const char *status);
void         ss_job_set_result       (SsJob *job, gpointer result, GDestroyNotify free_func);
gpointer     ss_job_get_result       (SsJob *job);

/* Starts the job on a worker thread. Emits "finished" (no args) on the calling
 * thread's main context when done; state/error/result are then final. */
void         ss_job_run              (SsJob *job);
/* Runs the job synchronously on the calling thread (CLI, tests). Returns TRUE on
 * success. Progress notifications are delivered through @progress_cb if given. */
typedef void (*SsJobProgressFunc) (SsJob *job, double fraction, const char *status, gpointer data);
gboolean     ss_job_run_sync         (SsJob *job, SsJobProgressFunc progress_cb, gpointer data, GError **error);

#define SS_TYPE_JOB_MANAGER (ss_job_manager_get_type ())
G_DECLARE_FINAL_TYPE (SsJobManager, ss_job_manager, SS, JOB_MANAGER, GObject)
/* A GListModel of SsJob: running and recently finished jobs. */
SsJobManager *ss_job_manager_get_default (void);
void          ss_job_manager_add         (SsJobManager *self, SsJob *job); /* also runs it */
void          ss_job_manager_clear_finished (SsJobManager *self);
void          ss_job_manager_cancel_all  (SsJobManager *self);
guint         ss_job_manager_get_n_running (SsJobManager *self);

G_END_DECLS
