/* ss-timeline.h: the timeline editor widget.
 *
 * Draws a ruler with timecode, track headers (name, mute, solo, gain; "+" adds an
 * audio track), clips with thumbnail strips (video) and waveforms (audio) computed
 * in the background as SsJobs, and the playhead. Ctrl+scroll zooms, scroll scrolls.
 * Click selects a clip, dragging moves it (snapping to frames and to other clips'
 * edges), dragging an edge trims it; clicking or dragging in the ruler seeks and
 * scrubs. Every edit is one ss_project_* call, so it is undoable; an edit the
 * project refuses is reported with the "error" signal (a message for a toast).
 *
 * Actions (prefix "timeline."): split, delete, zoom-in, zoom-out, zoom-fit,
 * next-take, previous-take, add-audio-track.
 */
#pragma once

#include <gtk/gtk.h>
#include "project/ss-project.h"
#include "audio/ss-transport.h"

G_BEGIN_DECLS

#define SS_TYPE_TIMELINE (ss_timeline_get_type ())
G_DECLARE_FINAL_TYPE (SsTimeline, ss_timeline, SS, TIMELINE, GtkWidget)

GtkWidget   *ss_timeline_new                (void);
void         ss_timeline_set_project        (SsTimeline *self, SsProject *project);
SsProject   *ss_timeline_get_project        (SsTimeline *self);
void         ss_timeline_set_transport      (SsTimeline *self, SsTransport *transport);
SsTransport *ss_timeline_get_transport      (SsTimeline *self);

/* Id of the selected clip, or NULL. Property "selected-clip". */
const char  *ss_timeline_get_selected_clip  (SsTimeline *self);
void         ss_timeline_set_selected_clip  (SsTimeline *self, const char *clip_id);

/* Zoom in pixels per second of timeline, and the time at the left edge of the
 * clip area. */
void         ss_timeline_set_zoom           (SsTimeline *self, double pixels_per_second);
double       ss_timeline_get_zoom           (SsTimeline *self);
void         ss_timeline_scroll_to          (SsTimeline *self, SsTime left);
/* The playhead when no transport is set (with a transport it follows it). */
SsTime       ss_timeline_get_playhead       (SsTimeline *self);

/* Height in pixels of the video thumbnail strips (16..256, default 48); property
 * "thumbnail-height". Changing it drops the strips and computes them again at the
 * new height; the video row grows to fit them. */
void         ss_timeline_set_thumbnail_height (SsTimeline *self, guint height);
guint        ss_timeline_get_thumbnail_height (SsTimeline *self);
/* Testing: pixel height of the thumbnails the timeline holds for @media_id, or 0
 * while none are loaded. */
int          ss_timeline_get_cached_thumbnail_height (SsTimeline *self, const char *media_id);

G_END_DECLS
