/* ss-app-export.c: export jobs for the window and the CLI (adapter over
 * core/media/ss-export.h). */
#define G_LOG_DOMAIN "ss-app-export"

#include "config.h"

#include <glib/gi18n.h>

#include "ss-app-export.h"

#ifdef HAVE_SS_EXPORT
#include "media/ss-export.h"
#endif

gboolean
ss_app_export_available (void)
{
#ifdef HAVE_SS_EXPORT
  return TRUE;
#else
  return FALSE;
#endif
}

SsJob *
ss_app_export_video_job (SsProject *project, const char *out_path, GError **error)
{
  g_return_val_if_fail (SS_IS_PROJECT (project), NULL);
  g_return_val_if_fail (out_path != NULL, NULL);
#ifdef HAVE_SS_EXPORT
  g_autoptr(SsProject) snapshot = ss_project_snapshot (project);
  return ss_export_video_job_new (snapshot, out_path);
#else
  g_set_error (error, SS_ERROR, SS_ERROR_UNSUPPORTED, _("This build of Soundstage cannot export."));
  return NULL;
#endif
}

char **
ss_app_export_stem_paths (SsProject *project, const char *out_dir)
{
  g_return_val_if_fail (SS_IS_PROJECT (project), NULL);
#ifdef HAVE_SS_EXPORT
  return ss_export_stem_paths (project, out_dir);
#else
  return g_new0 (char *, 1);
#endif
}

SsJob *
ss_app_export_stems_job (SsProject *project, const char *out_dir, GError **error)
{
  g_return_val_if_fail (SS_IS_PROJECT (project), NULL);
  g_return_val_if_fail (out_dir != NULL, NULL);
#ifdef HAVE_SS_EXPORT
  g_autoptr(SsProject) snapshot = ss_project_snapshot (project);
  return ss_export_stems_job_new (snapshot, out_dir);
#else
  g_set_error (error, SS_ERROR, SS_ERROR_UNSUPPORTED, _("This build of Soundstage cannot export."));
  return NULL;
#endif
}
