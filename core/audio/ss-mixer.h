/* ss-mixer.h: renders the project's audio (active takes, clip and track gain,
 * mute/solo) at SS_MIX_RATE, stereo float. Used by playback (real time) and export.
 *
 * A mixer works on a snapshot of the project: call ss_mixer_set_project() with a new
 * snapshot after each edit (cheap; readers are reused by media id). Rendering is
 * thread-safe with respect to set_project (the audio thread may render while the UI
 * thread swaps the project).
 */
#pragma once

#include "ss-types.h"
#include "project/ss-project.h"

G_BEGIN_DECLS

typedef struct _SsMixer SsMixer;
SsMixer *ss_mixer_new         (void);
void     ss_mixer_free        (SsMixer *m);
void     ss_mixer_set_project (SsMixer *m, SsProject *snapshot);
/* Renders @n_frames stereo frames starting at timeline time @t into @out.
 * @track_id NULL: the full mix; otherwise that track alone (for stems), with its
 * gain but ignoring mute/solo. Times map to samples by rounding to the nearest
 * sample at SS_MIX_RATE; consecutive calls with t = round(k * 1e6 / rate) read
 * each source sequentially (no seeking, no allocation once warmed up).
 * Opening a media file happens on first use, in the calling thread.
 * On error (a file that cannot be read) @out still holds the mix of everything
 * else and FALSE is returned with @error set. */
gboolean ss_mixer_render      (SsMixer *m, SsTime t, float *out, gsize n_frames,
                               const char *track_id, GError **error);
/* Open decoders (one per media and track, closed when idle): tests, benchmarks. */
guint    ss_mixer_get_n_readers (SsMixer *m);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (SsMixer, ss_mixer_free)

G_END_DECLS
