/* ss-timeline-private.h: layout and colours of the timeline, shared with its tests
 * and benchmark. */
#pragma once

#include "ss-timeline.h"

G_BEGIN_DECLS

#define SS_TIMELINE_RULER_H        26
#define SS_TIMELINE_HEADER_W       168
#define SS_TIMELINE_VIDEO_TRACK_H  72
#define SS_TIMELINE_AUDIO_TRACK_H  60
#define SS_TIMELINE_ADD_ROW_H      32
#define SS_TIMELINE_CLIP_TITLE_H   16
#define SS_TIMELINE_MIN_ZOOM       0.05
#define SS_TIMELINE_MAX_ZOOM       4000.0

/* Colours as 0xRRGGBB. */
#define SS_TIMELINE_COLOR_LANE        0x1f1f23
#define SS_TIMELINE_COLOR_VIDEO_TITLE 0x2a5a8c
#define SS_TIMELINE_COLOR_VIDEO_BODY  0x3b6ea8
#define SS_TIMELINE_COLOR_AUDIO_TITLE 0x2c6e46
#define SS_TIMELINE_COLOR_AUDIO_BODY  0x2f5a40
#define SS_TIMELINE_COLOR_SELECTED    0xf5c211
#define SS_TIMELINE_COLOR_PLAYHEAD    0xe62d42

/* Top of track @index in widget coordinates (at the current vertical scroll). */
double       ss_timeline_get_track_y        (SsTimeline *self, guint index);
/* Number of clips the last snapshot drew (only visible ones are drawn). */
guint        ss_timeline_get_last_drawn_clips (SsTimeline *self);

/* Runs the pointer logic of a primary-button press at (@x, @y), a drag by
 * (@dx, @dy) and the release, as the drag gesture would (tests). */
void         ss_timeline_simulate_drag      (SsTimeline *self, double x, double y, double dx, double dy);

/* Opens the context menu as a secondary click at (@x, @y) would; returns it. */
GtkWidget   *ss_timeline_simulate_context_click (SsTimeline *self, double x, double y);

G_END_DECLS
