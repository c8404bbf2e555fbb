/* syncui-clip.h: test clips with a known audio-visual offset (corpus scenes
 * written to a media file with SsEncoder). */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef struct {
  double   offset;       /* seconds, ss-sync.h convention (positive: audio leads) */
  double   seconds;
  guint64  seed;
  gboolean video;        /* FALSE: audio only */
  gboolean audio;        /* FALSE: video only */
  const char *label;     /* if not NULL: also write the corpus label there */
} SyncuiClip;

void     syncui_clip_init  (SyncuiClip *clip);
gboolean syncui_clip_write (const SyncuiClip *clip, const char *path, GError **error);

G_END_DECLS
