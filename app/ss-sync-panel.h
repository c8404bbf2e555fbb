/* ss-sync-panel.h: the editor's sync panel (Check Sync).
 *
 * Checks the audio-visual sync of a clip on the timeline: the picture of the
 * video clip against the sound of the audio clip(s) of the same media that
 * play with it, over the stretch where both play. The check runs as an SsJob
 * in the default job manager (progress and cancel in the jobs popover too);
 * the panel shows the probability of each offset (bar plot), the chosen
 * offset, confidence, synchronizability, the method used and, for clips longer
 * than one 4.8 s window, the offset over time. Apply moves those audio clips
 * by the offset (ss-sync.h: delaying the audio by the offset puts it in sync)
 * as one undoable edit. Errors are reported through the "toast" signal.
 *
 * Actions (prefix "sync."): "apply", "cancel".
 * Signals: "toast" (const char *text).
 */
#pragma once

#include <gtk/gtk.h>

#include "jobs/ss-job.h"
#include "models/sync-job/ss-sync-job.h"
#include "project/ss-project.h"

G_BEGIN_DECLS

#define SS_TYPE_SYNC_PANEL (ss_sync_panel_get_type ())
G_DECLARE_FINAL_TYPE (SsSyncPanel, ss_sync_panel, SS, SYNC_PANEL, GtkBox)

GtkWidget          *ss_sync_panel_new          (void);
void                ss_sync_panel_set_project  (SsSyncPanel *self, SsProject *project);

/* Starts checking @clip_id (a video or an audio clip). FALSE + error (nothing
 * started) when it has no partner clip to compare with or the overlap is
 * shorter than 4.8 s. Cancels a check still running. */
gboolean            ss_sync_panel_check_clip   (SsSyncPanel *self, const char *clip_id, GError **error);
/* The clip a check would use when the timeline has no selection: the video
 * clip under @position, else an audio clip there; NULL if none. */
const char         *ss_sync_panel_find_clip_at (SsProject *project, SsTime position);

SsJob              *ss_sync_panel_get_job      (SsSyncPanel *self);   /* running check or NULL */
void                ss_sync_panel_cancel       (SsSyncPanel *self);
const SsSyncResult *ss_sync_panel_get_result   (SsSyncPanel *self);   /* last result or NULL */
/* TRUE when a result is shown and its clips are where they were when checked. */
gboolean            ss_sync_panel_can_apply    (SsSyncPanel *self);
/* Moves the audio clip(s) by the offset: one undo step "Apply Sync Offset". */
gboolean            ss_sync_panel_apply        (SsSyncPanel *self, GError **error);

/* For tests: the class highlighted in the probability plot (-1: none) and the
 * number of points in the offset-over-time plot. */
int                 ss_sync_panel_get_shown_class (SsSyncPanel *self);
int                 ss_sync_panel_get_n_time_points (SsSyncPanel *self);
/* The method the next check uses (the panel's Method menu; Automatic by default). */
SsSyncMethod        ss_sync_panel_get_method   (SsSyncPanel *self);
void                ss_sync_panel_set_method   (SsSyncPanel *self, SsSyncMethod method);
void                ss_sync_panel_bind_method  (SsSyncPanel *self, GSettings *settings, const char *key);

G_END_DECLS
