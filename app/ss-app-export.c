/* ss-app-export.c: export jobs for the window and the CLI (adapter over
 * core/media/ss-export.h). */
#define G_LOG_DOMAIN "ss-app-export"

#include "config.h"

#include <glib/gi18n.h>

#include "ss-app-export.h"

#include "media/ss-export.h"

gboolean
ss_app_export_available (void)
{
  return TRUE;
}

SsJob *
ss_app_export_video_job (SsProject *project, const char *out_path, GError **error)
{
  g_return_val_if_fail (SS_IS_PROJECT (project), NULL);
  g_return_val_if_fail (out_path != NULL, NULL);
  g_autoptr(SsProject) snapshot = ss_project_snapshot (project);
  return ss_export_video_job_new (snapshot, out_path);
}

char **
ss_app_export_stem_paths (SsProject *project, const char *out_dir)
{
  g_return_val_if_fail (SS_IS_PROJECT (project), NULL);
  return ss_export_stem_paths (project, out_dir);
}

SsJob *
ss_app_export_stems_job (SsProject *project, const char *out_dir, GError **error)
{
  g_return_val_if_fail (SS_IS_PROJECT (project), NULL);
  g_return_val_if_fail (out_dir != NULL, NULL);
  g_autoptr(SsProject) snapshot = ss_project_snapshot (project);
  return ss_export_stems_job_new (snapshot, out_dir);
}
