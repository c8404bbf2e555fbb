/* syncui-clip.c: see syncui-clip.h. */
#define G_LOG_DOMAIN "test-syncui"

#include <string.h>

#include "media/ss-media.h"
#include "models/ss-corpus.h"
#include "syncui-clip.h"

#define CLIP_W 192
#define CLIP_H 144
#define CLIP_FPS 25
#define CLIP_RATE 16000

void
syncui_clip_init (SyncuiClip *clip)
{
  memset (clip, 0, sizeof *clip);
  clip->seconds = 8.0;
  clip->seed = 7;
  clip->video = TRUE;
  clip->audio = TRUE;
}

gboolean
syncui_clip_write (const SyncuiClip *c, const char *path, GError **error)
{
  SsCorpusParams params;
  g_autoptr(SsCorpusClip) clip = NULL;
  g_autoptr(SsEncoder) enc = NULL;

  ss_corpus_params_init (&params, SS_CORPUS_EASY);
  params.seed = c->seed;
  params.duration = c->seconds;
  params.fps = CLIP_FPS;
  params.width = CLIP_W;
  params.height = CLIP_H;
  params.sample_rate = CLIP_RATE;
  params.n_events = MAX (3, (int) (c->seconds * 1.2));
  params.offset = c->offset;
  clip = ss_corpus_generate (&params, error);
  if (clip == NULL)
    return FALSE;

  enc = ss_encoder_new (path, c->video ? CLIP_W : 0, c->video ? CLIP_H : 0, CLIP_FPS, 1,
                        c->audio ? CLIP_RATE : 0, 1, error);
  if (enc == NULL)
    return FALSE;
  for (int i = 0; c->video && i < clip->n_frames; i++)
    {
      g_autoptr(SsFrame) f = ss_frame_new (CLIP_W, CLIP_H);
      const guint8 *src = ss_corpus_clip_frame (clip, i);
      for (int y = 0; y < CLIP_H; y++)
        memcpy (f->data + (gsize) y * f->stride, src + (gsize) y * CLIP_W * 4, CLIP_W * 4);
      if (!ss_encoder_write_video (enc, f, error))
        return FALSE;
    }
  if (c->audio && !ss_encoder_write_audio (enc, clip->audio, clip->n_samples, error))
    return FALSE;
  if (!ss_encoder_finish (enc, error))
    return FALSE;
  if (c->label != NULL)
    {
      g_autofree char *base = g_path_get_basename (path);
      g_autofree char *json = ss_corpus_clip_label_json (clip, base);
      if (!g_file_set_contents (c->label, json, -1, error))
        return FALSE;
    }
  return TRUE;
}
