/* ss-mixer-placeholder.c: built only while core/audio/ss-mixer.c (media work
 * stream) is still the empty placeholder, so that the transport and the app link.
 * It renders silence. core/audio/meson.build drops it as soon as ss-mixer.c
 * implements ss_mixer_render(). */
#define G_LOG_DOMAIN "ss-mixer"

#include "ss-mixer.h"

#include <string.h>

struct _SsMixer {
  SsProject *project;
  GMutex     lock;
};

SsMixer *
ss_mixer_new (void)
{
  SsMixer *m = g_new0 (SsMixer, 1);
  g_mutex_init (&m->lock);
  return m;
}

void
ss_mixer_free (SsMixer *m)
{
  if (m == NULL)
    return;
  g_clear_object (&m->project);
  g_mutex_clear (&m->lock);
  g_free (m);
}

void
ss_mixer_set_project (SsMixer *m, SsProject *snapshot)
{
  g_return_if_fail (m != NULL);
  g_mutex_lock (&m->lock);
  g_set_object (&m->project, snapshot);
  g_mutex_unlock (&m->lock);
}

gboolean
ss_mixer_render (SsMixer *m, SsTime t, float *out, gsize n_frames,
                 const char *track_id, GError **error)
{
  g_return_val_if_fail (m != NULL, FALSE);
  memset (out, 0, n_frames * 2 * sizeof (float));
  return TRUE;
}
