/* ss-export.h: exporting the timeline: a video file (H.264/AAC MP4) with the
 * mixed audio, or each audio track as a float32 WAV stem.
 *
 * Exports work on a project snapshot (ss_project_snapshot()) and run on a worker
 * thread (see the SsJob factories). Output is written under a temporary name
 * beside the destination and renamed over it only when complete: cancelling or
 * failing leaves no partial file and the previous file (if any) untouched. The
 * caller decides whether an existing file may be replaced (ask the user first;
 * ss_export_stem_paths() lists the files a stem export will write).
 */
#pragma once

#include <gio/gio.h>
#include "ss-types.h"
#include "project/ss-project.h"
#include "jobs/ss-job.h"

G_BEGIN_DECLS

/* Progress 0..1 (called on the exporting thread). */
typedef void (*SsExportProgressFunc) (double fraction, gpointer data);

typedef struct {
  int width, height;   /* 0: size of the first video on the timeline (else 1280×720) */
  int crf;             /* 0: default H.264 quality */
} SsExportOptions;

/* Video (black where no clip; frames at the project's fps) and the full mix.
 * The file type follows @path's extension (.mp4 recommended). */
gboolean ss_export_video (SsProject *snapshot, const char *path, const SsExportOptions *options,
                          SsExportProgressFunc progress, gpointer data,
                          GCancellable *cancellable, GError **error);

/* File names a stem export into @dir will write, one per audio track, in track
 * order ("01 Audio 1.wav", ...). Free with g_strfreev. */
char   **ss_export_stem_paths (SsProject *snapshot, const char *dir);

/* One stereo float32 WAV at SS_MIX_RATE per audio track, each the track alone
 * with its clip and track gain (mute/solo ignored), as long as the project. */
gboolean ss_export_stems (SsProject *snapshot, const char *dir,
                          SsExportProgressFunc progress, gpointer data,
                          GCancellable *cancellable, GError **error);

/* Jobs for the jobs popover and the CLI. They keep a reference to @snapshot.
 * The result (ss_job_get_result) is the output path (char*). */
SsJob   *ss_export_video_job_new (SsProject *snapshot, const char *path);
SsJob   *ss_export_stems_job_new (SsProject *snapshot, const char *dir);

G_END_DECLS
