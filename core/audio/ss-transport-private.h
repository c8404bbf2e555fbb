/* ss-transport-private.h: hooks for tests. */
#pragma once

#include "ss-transport.h"
#include "ss-audio-engine.h"

G_BEGIN_DECLS

/* Renders @n_frames of the transport's current mix at timeline time @t, through the
 * same mixer and snapshot that playback uses. */
gboolean       ss_transport_render_at   (SsTransport *self, SsTime t, float *out, gsize n_frames);
/* The engine, once playback has started at least once (NULL before). */
SsAudioEngine *ss_transport_get_engine  (SsTransport *self);
/* Revision of the project the transport last took a snapshot of. */
guint64        ss_transport_get_snapshot_revision (SsTransport *self);

/* Called on the audio feeder thread with each block playback renders (timeline
 * time of its first frame, the block); tests use it to see what is being played. */
typedef void (*SsTransportTap) (SsTime t, const float *block, gsize n_frames, gpointer user_data);
void           ss_transport_set_tap     (SsTransport *self, SsTransportTap tap, gpointer user_data);

G_END_DECLS
