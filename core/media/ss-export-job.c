/* ss-export-job.c: SsJob wrappers for exports (kept apart from ss-export.c so
 * that users of the export functions alone do not need the job machinery). */
#define G_LOG_DOMAIN "ss-export"

#include "ss-export.h"

typedef struct {
  SsProject *snapshot;
  char      *path;
} ExportJob;

static void
export_job_free (gpointer p)
{
  ExportJob *e = p;
  g_clear_object (&e->snapshot);
  g_free (e->path);
  g_free (e);
}

static void
job_progress (double fraction, gpointer data)
{
  ss_job_set_progress (data, fraction, NULL);
}

static gboolean
run_video (SsJob *job, gpointer data, GError **error)
{
  ExportJob *e = data;

  if (!ss_export_video (e->snapshot, e->path, NULL, job_progress, job, ss_job_get_cancellable (job), error))
    return FALSE;
  ss_job_set_result (job, g_strdup (e->path), g_free);
  return TRUE;
}

static gboolean
run_stems (SsJob *job, gpointer data, GError **error)
{
  ExportJob *e = data;

  if (!ss_export_stems (e->snapshot, e->path, job_progress, job, ss_job_get_cancellable (job), error))
    return FALSE;
  ss_job_set_result (job, g_strdup (e->path), g_free);
  return TRUE;
}

static SsJob *
make_job (const char *title_fmt, SsJobFunc func, SsProject *snapshot, const char *path)
{
  ExportJob *e = g_new0 (ExportJob, 1);
  g_autofree char *base = g_path_get_basename (path);
  g_autofree char *name = g_filename_display_name (base);
  g_autofree char *title = g_strdup_printf (title_fmt, name);

  e->snapshot = g_object_ref (snapshot);
  e->path = g_strdup (path);
  return ss_job_new (title, func, e, export_job_free);
}

SsJob *
ss_export_video_job_new (SsProject *snapshot, const char *path)
{
  g_return_val_if_fail (SS_IS_PROJECT (snapshot), NULL);
  g_return_val_if_fail (path != NULL, NULL);
  return make_job ("Exporting “%s”", run_video, snapshot, path);
}

SsJob *
ss_export_stems_job_new (SsProject *snapshot, const char *dir)
{
  g_return_val_if_fail (SS_IS_PROJECT (snapshot), NULL);
  g_return_val_if_fail (dir != NULL, NULL);
  return make_job ("Exporting stems to “%s”", run_stems, snapshot, dir);
}
