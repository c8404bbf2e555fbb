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

G_END_DECLS
