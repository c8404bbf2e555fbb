/* ss-transport.h: playback of a project: play/pause, shuttle, frame step, seek.
 *
 * Audio is the master clock: while playing forward the position is the audio
 * engine's clock mapped to timeline time, and the video frame shown is the one at
 * that position. A worker thread decodes video ahead with SsVideoDecoder; seeking
 * and stepping are frame-accurate. Reverse shuttle steps frames with the audio muted.
 *
 * The transport follows its project: on every "changed" it takes a snapshot and
 * hands it to the mixer and the video worker, dropping audio rendered ahead, so
 * edits and A/B take switches are heard at once.
 *
 * All functions are for the main thread. Properties: "playing", "rate", "position"
 * (notified at most ~30 times a second while playing). Signal "frame-changed" ()
 * when the frame returned by ss_transport_dup_frame() changed.
 */
#pragma once

#include <glib-object.h>
#include "ss-types.h"
#include "project/ss-project.h"
#include "media/ss-media.h"

G_BEGIN_DECLS

#define SS_TYPE_TRANSPORT (ss_transport_get_type ())
G_DECLARE_FINAL_TYPE (SsTransport, ss_transport, SS, TRANSPORT, GObject)

#define SS_TRANSPORT_MAX_RATE 8.0

SsTransport *ss_transport_new          (void);
void         ss_transport_set_project  (SsTransport *self, SsProject *project);
SsProject   *ss_transport_get_project  (SsTransport *self);
void         ss_transport_play         (SsTransport *self);
void         ss_transport_pause        (SsTransport *self);
void         ss_transport_toggle       (SsTransport *self);
/* J = -1, K = 0 (pause), L = +1; repeating L (or J) doubles the speed up to 8x. */
void         ss_transport_shuttle      (SsTransport *self, int dir);
/* Pauses and moves by @frames video frames; the position is then exactly that
 * frame's start time. */
void         ss_transport_step         (SsTransport *self, int frames);
void         ss_transport_seek         (SsTransport *self, SsTime t);
/* Seeks and, while paused, plays a short burst of audio from @t (scrubbing the
 * ruler); the position stays at @t. */
void         ss_transport_scrub        (SsTransport *self, SsTime t);
gboolean     ss_transport_get_playing  (SsTransport *self);
double       ss_transport_get_rate     (SsTransport *self);
SsTime       ss_transport_get_position (SsTransport *self);
/* The frame shown at the current position (a new reference), or NULL when there is
 * no video there (yet). */
SsFrame     *ss_transport_dup_frame    (SsTransport *self);
/* TRUE when the project has any video clip (the viewer shows a placeholder if not). */
gboolean     ss_transport_has_video    (SsTransport *self);

/* Timeline frame grid (the project's frame rate). */
gint64       ss_transport_time_to_frame (SsTransport *self, SsTime t);
SsTime       ss_transport_frame_to_time (SsTransport *self, gint64 frame);

/* Audio output latency in seconds (applies from the next play). */
void         ss_transport_set_latency  (SsTransport *self, double seconds);
/* Use a null audio sink instead of the sound card (tests, headless). */
void         ss_transport_set_null_audio (SsTransport *self, gboolean null_audio);

G_END_DECLS
