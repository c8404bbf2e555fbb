/* ss-audio-engine.h: audio output and the playback master clock.
 *
 * An SsAudioEngine plays stereo float32 audio at SS_MIX_RATE through PortAudio's
 * default output device. When no device can be opened (headless machines, CI) or
 * when SOUNDSTAGE_AUDIO=null is set, it runs on a null sink driven by the monotonic
 * clock, so playback and its clock behave the same without sound.
 *
 * Audio is produced by a render function that runs on the engine's feeder thread
 * (never on the real-time thread): it may take locks and decode files. The feeder
 * keeps a small ring buffer filled ahead; the real-time callback only copies from
 * that ring under a briefly held lock and never allocates.
 *
 * Positions are counted in "stream frames": frames of the rendered stream since the
 * engine was created. ss_audio_engine_get_clock() is the stream frame that is at the
 * output (the DAC) right now, so a caller maps it to timeline time with its own
 * (stream frame, timeline time) anchor.
 */
#pragma once

#include "ss-types.h"

G_BEGIN_DECLS

typedef struct _SsAudioEngine SsAudioEngine;

/* Fills @out with @n_frames interleaved stereo frames, the first of which is stream
 * frame @stream_frame. Runs on the feeder thread. */
typedef void (*SsAudioRenderFunc) (gint64 stream_frame, float *out, gsize n_frames, gpointer user_data);

/* Opens the default output device, or a null sink when there is none. Never fails. */
SsAudioEngine *ss_audio_engine_new           (SsAudioRenderFunc func, gpointer user_data);
/* Always a null sink (tests, offline use). */
SsAudioEngine *ss_audio_engine_new_null      (SsAudioRenderFunc func, gpointer user_data);
void           ss_audio_engine_free          (SsAudioEngine *self);

gboolean       ss_audio_engine_is_null_sink  (SsAudioEngine *self);
/* "Null output" or the PortAudio device name. */
const char    *ss_audio_engine_get_device_name (SsAudioEngine *self);

/* Output latency asked of the device, in seconds (default 0.05). Reopens the stream. */
void           ss_audio_engine_set_latency   (SsAudioEngine *self, double seconds);
double         ss_audio_engine_get_latency   (SsAudioEngine *self);

/* Starts output; rendering continues from the current write position. */
void           ss_audio_engine_start         (SsAudioEngine *self);
/* Stops output at once and drops audio rendered but not yet played. */
void           ss_audio_engine_stop          (SsAudioEngine *self);
gboolean       ss_audio_engine_is_running    (SsAudioEngine *self);

/* Drops audio rendered ahead but not yet handed to the device, so the next render
 * reflects new state (seek, take switch). Returns the stream frame the next render
 * call starts at. */
gint64         ss_audio_engine_flush         (SsAudioEngine *self);

/* The stream frame being heard now (corrected with the device's DAC time), with
 * sub-buffer precision; never decreases while running. */
gint64         ss_audio_engine_get_clock     (SsAudioEngine *self);
/* Times the device asked for audio the feeder had not rendered yet. */
guint          ss_audio_engine_get_underruns (SsAudioEngine *self);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (SsAudioEngine, ss_audio_engine_free)

G_END_DECLS
