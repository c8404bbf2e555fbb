/* ss-app-export.h: export jobs for the window and the CLI, on top of the
 * export API of core/media (ss-export.h). */
#pragma once

#include "jobs/ss-job.h"
#include "project/ss-project.h"

G_BEGIN_DECLS

/* FALSE when this build has no exporter (core/media/ss-export.h missing). */
gboolean ss_app_export_available   (void);
/* A job (not started) that renders @project (a snapshot is taken now) to the
 * video file @out_path with the mixed audio. */
SsJob   *ss_app_export_video_job   (SsProject *project, const char *out_path, GError **error);
/* The files a stem export into @out_dir writes (g_strfreev). */
char   **ss_app_export_stem_paths  (SsProject *project, const char *out_dir);
/* A job (not started) that writes one WAV per audio track into @out_dir.
 * Outputs are written atomically: cancel or failure leaves no partial file. */
SsJob   *ss_app_export_stems_job   (SsProject *project, const char *out_dir, GError **error);

G_END_DECLS
