/* ss-export.c: timeline -> video file with mixed audio, and WAV stems. */
#define G_LOG_DOMAIN "ss-export"

#include <string.h>
#include "ss-export.h"
#include "ss-media-private.h"
#include "audio/ss-mixer.h"

#define AUDIO_CHUNK     4800
#define MAX_DECODERS    4

typedef struct {
  char           *media_id;
  SsVideoDecoder *dec;
  guint64         last_used;
} ExportDecoder;

static void
export_decoder_free (ExportDecoder *d)
{
  g_free (d->media_id);
  ss_video_decoder_free (d->dec);
  g_free (d);
}

static gboolean
cancelled (GCancellable *cancellable, GError **error)
{
  return g_cancellable_set_error_if_cancelled (cancellable, error);
}

/* Size of the first video media used on the timeline. */
static void
default_size (SsProject *p, int *w, int *h)
{
  *w = 1280;
  *h = 720;
  for (guint i = 0; i < ss_project_get_n_tracks (p); i++)
    {
      const SsTrack *t = ss_project_get_track (p, i);
      if (t->kind != SS_TRACK_VIDEO)
        continue;
      for (guint k = 0; k < t->clips->len; k++)
        {
          const SsTake *take = ss_clip_get_active_take (g_ptr_array_index (t->clips, k));
          const SsMedia *m = take ? ss_project_find_media (p, take->media_id) : NULL;
          if (m && m->has_video && m->width > 0 && m->height > 0)
            {
              *w = m->width;
              *h = m->height;
              return;
            }
        }
    }
}

/* The clip shown at @t: the first video track with a clip there. */
static const SsClip *
video_clip_at (SsProject *p, SsTime t)
{
  for (guint i = 0; i < ss_project_get_n_tracks (p); i++)
    {
      const SsTrack *tr = ss_project_get_track (p, i);
      if (tr->kind != SS_TRACK_VIDEO || tr->muted)
        continue;
      for (guint k = 0; k < tr->clips->len; k++)
        {
          const SsClip *c = g_ptr_array_index (tr->clips, k);
          if (t >= c->start && t < c->start + c->duration)
            return c;
          if (c->start > t)
            break;
        }
    }
  return NULL;
}

static SsVideoDecoder *
get_decoder (GPtrArray *decs, const SsMedia *m, int w, int h, guint64 tick, GError **error)
{
  ExportDecoder *d, *oldest = NULL;

  for (guint i = 0; i < decs->len; i++)
    {
      d = g_ptr_array_index (decs, i);
      if (g_str_equal (d->media_id, m->id))
        {
          d->last_used = tick;
          return d->dec;
        }
      if (!oldest || d->last_used < oldest->last_used)
        oldest = d;
    }
  if (decs->len >= MAX_DECODERS)
    g_ptr_array_remove_fast (decs, oldest);
  d = g_new0 (ExportDecoder, 1);
  d->dec = ss_video_decoder_new (m->path, error);
  if (!d->dec)
    {
      g_free (d);
      return NULL;
    }
  d->media_id = g_strdup (m->id);
  d->last_used = tick;
  ss_video_decoder_set_output_size (d->dec, w, h);
  g_ptr_array_add (decs, d);
  return d->dec;
}

static void
compose (SsFrame *canvas, const SsFrame *src)
{
  int x0 = (canvas->width - src->width) / 2, y0 = (canvas->height - src->height) / 2;

  for (int y = 0; y < canvas->height; y++)
    {
      guint32 *row = (guint32 *) (canvas->data + (gsize) y * canvas->stride);
      for (int x = 0; x < canvas->width; x++)
        row[x] = GUINT32_FROM_BE (0x000000ff);   /* opaque black RGBA */
    }
  for (int y = 0; y < src->height; y++)
    {
      int cy = y + y0;
      if (cy < 0 || cy >= canvas->height)
        continue;
      int sx = MAX (0, -x0), cx = MAX (0, x0);
      int n = MIN (src->width - sx, canvas->width - cx);
      if (n > 0)
        memcpy (canvas->data + (gsize) cy * canvas->stride + (gsize) cx * 4,
                src->data + (gsize) y * src->stride + (gsize) sx * 4, (gsize) n * 4);
    }
}

gboolean
ss_export_video (SsProject *snapshot, const char *path, const SsExportOptions *options,
                 SsExportProgressFunc progress, gpointer data, GCancellable *cancellable, GError **error)
{
  g_autoptr(SsEncoder) enc = NULL;
  g_autoptr(SsMixer) mixer = NULL;
  g_autoptr(GPtrArray) decs = NULL;
  g_autoptr(SsFrame) canvas = NULL;
  g_autofree float *abuf = NULL;
  SsEncoderOptions eo = { .max_b_frames = -1 };
  SsTime duration;
  int num, den, w, h;
  gint64 n_frames, audio_done = 0, audio_total;

  g_return_val_if_fail (SS_IS_PROJECT (snapshot), FALSE);
  g_return_val_if_fail (path != NULL, FALSE);

  duration = ss_project_get_duration (snapshot);
  if (duration <= 0)
    {
      g_set_error (error, SS_ERROR, SS_ERROR_INVALID_DATA, "The project is empty: there is nothing to export");
      return FALSE;
    }
  ss_project_get_fps (snapshot, &num, &den);
  if (num <= 0 || den <= 0)
    num = 25, den = 1;
  if (options && options->width > 0 && options->height > 0)
    w = options->width, h = options->height;
  else
    default_size (snapshot, &w, &h);
  w = CLAMP (w & ~1, 2, 8192);
  h = CLAMP (h & ~1, 2, 8192);
  eo.crf = options ? options->crf : 0;
  eo.gop = 0;

  n_frames = av_rescale_rnd (duration, num, (gint64) den * SS_TIME_SECOND, AV_ROUND_UP);
  audio_total = av_rescale_rnd (duration, SS_MIX_RATE, SS_TIME_SECOND, AV_ROUND_NEAR_INF);

  enc = ss_encoder_new_full (path, w, h, num, den, SS_MIX_RATE, 2, &eo, error);
  if (!enc)
    return FALSE;
  mixer = ss_mixer_new ();
  ss_mixer_set_project (mixer, snapshot);
  decs = g_ptr_array_new_with_free_func ((GDestroyNotify) export_decoder_free);
  canvas = ss_frame_new (w, h);
  abuf = g_try_new (float, AUDIO_CHUNK * 2);
  if (!canvas || !abuf)
    {
      g_set_error (error, SS_ERROR, SS_ERROR_OUT_OF_MEMORY, "Out of memory");
      return FALSE;
    }

  for (gint64 k = 0; k < n_frames; k++)
    {
      SsTime t = av_rescale_rnd (k, (gint64) den * SS_TIME_SECOND, num, AV_ROUND_NEAR_INF);
      const SsClip *c = video_clip_at (snapshot, t);
      g_autoptr(SsFrame) src = NULL;
      gint64 audio_until;

      if (cancelled (cancellable, error))
        return FALSE;
      if (c)
        {
          const SsTake *take = ss_clip_get_active_take (c);
          const SsMedia *m = take ? ss_project_find_media (snapshot, take->media_id) : NULL;
          if (m && m->has_video && !m->missing)
            {
              SsVideoDecoder *dec = get_decoder (decs, m, w, h, (guint64) k, error);
              if (!dec)
                return FALSE;
              src = ss_video_decoder_get_frame (dec, take->source_in + (t - c->start),
                                                error);
              if (!src)
                return FALSE;
            }
        }
      if (src && src->width == w && src->height == h)
        {
          if (!ss_encoder_write_video (enc, src, error))
            return FALSE;
        }
      else
        {
          if (src)
            compose (canvas, src);
          else
            compose (canvas, &(SsFrame) { .width = 0, .height = 0 });
          if (!ss_encoder_write_video (enc, canvas, error))
            return FALSE;
        }

      /* audio up to the end of this frame */
      audio_until = MIN (audio_total, av_rescale_rnd (k + 1, (gint64) den * SS_MIX_RATE, num, AV_ROUND_NEAR_INF));
      if (k == n_frames - 1)
        audio_until = audio_total;
      while (audio_done < audio_until)
        {
          gsize n = (gsize) MIN (AUDIO_CHUNK, audio_until - audio_done);
          SsTime at = av_rescale_rnd (audio_done, SS_TIME_SECOND, SS_MIX_RATE, AV_ROUND_NEAR_INF);
          if (!ss_mixer_render (mixer, at, abuf, n, NULL, error) || !ss_encoder_write_audio (enc, abuf, n, error))
            return FALSE;
          audio_done += (gint64) n;
        }
      if (progress)
        progress ((double) (k + 1) / (double) n_frames * 0.99, data);
    }
  if (cancelled (cancellable, error))
    return FALSE;
  if (!ss_encoder_finish (enc, error))
    return FALSE;
  if (progress)
    progress (1.0, data);
  return TRUE;
}

static char *
safe_name (const char *name)
{
  GString *s = g_string_new (NULL);

  for (const char *p = name ? name : ""; *p; p = g_utf8_next_char (p))
    {
      gunichar c = g_utf8_get_char (p);
      if (c == '/' || c == '\\' || c == ':' || c < 32 || c == '*' || c == '?' || c == '"' || c == '<' ||
          c == '>' || c == '|')
        g_string_append_c (s, '_');
      else
        g_string_append_unichar (s, c);
    }
  if (s->len == 0 || s->str[0] == '.')
    g_string_prepend (s, "track");
  return g_string_free (s, FALSE);
}

char **
ss_export_stem_paths (SsProject *snapshot, const char *dir)
{
  GPtrArray *out = g_ptr_array_new ();
  guint n = 0;

  g_return_val_if_fail (SS_IS_PROJECT (snapshot), NULL);
  for (guint i = 0; i < ss_project_get_n_tracks (snapshot); i++)
    {
      const SsTrack *t = ss_project_get_track (snapshot, i);
      g_autofree char *name = NULL;
      g_autofree char *file = NULL;
      if (t->kind != SS_TRACK_AUDIO)
        continue;
      name = safe_name (t->name);
      file = g_strdup_printf ("%02u %s.wav", ++n, name);
      g_ptr_array_add (out, g_build_filename (dir, file, NULL));
    }
  g_ptr_array_add (out, NULL);
  return (char **) g_ptr_array_free (out, FALSE);
}

gboolean
ss_export_stems (SsProject *snapshot, const char *dir, SsExportProgressFunc progress, gpointer data,
                 GCancellable *cancellable, GError **error)
{
  g_auto(GStrv) paths = NULL;
  g_autoptr(GPtrArray) writers = g_ptr_array_new_with_free_func ((GDestroyNotify) ss_wav_writer_free);
  g_autoptr(GPtrArray) track_ids = g_ptr_array_new_with_free_func (g_free);
  g_autoptr(SsMixer) mixer = NULL;
  g_autofree float *buf = NULL;
  const gsize chunk = 24000;
  SsTime duration;
  gint64 total;

  g_return_val_if_fail (SS_IS_PROJECT (snapshot), FALSE);
  g_return_val_if_fail (dir != NULL, FALSE);

  duration = ss_project_get_duration (snapshot);
  if (duration <= 0)
    {
      g_set_error (error, SS_ERROR, SS_ERROR_INVALID_DATA, "The project is empty: there is nothing to export");
      return FALSE;
    }
  if (!g_file_test (dir, G_FILE_TEST_IS_DIR))
    {
      g_autofree char *name = g_filename_display_name (dir);
      g_set_error (error, SS_ERROR, SS_ERROR_NOT_FOUND, "The folder “%s” does not exist", name);
      return FALSE;
    }
  paths = ss_export_stem_paths (snapshot, dir);
  for (guint i = 0; i < ss_project_get_n_tracks (snapshot); i++)
    {
      const SsTrack *t = ss_project_get_track (snapshot, i);
      if (t->kind == SS_TRACK_AUDIO)
        g_ptr_array_add (track_ids, g_strdup (t->id));
    }
  if (track_ids->len == 0)
    {
      g_set_error (error, SS_ERROR, SS_ERROR_INVALID_DATA, "The project has no audio tracks to export");
      return FALSE;
    }
  for (guint i = 0; i < track_ids->len; i++)
    {
      SsWavWriter *w = ss_wav_writer_new (paths[i], SS_MIX_RATE, 2, error);
      if (!w)
        return FALSE;
      g_ptr_array_add (writers, w);
    }
  mixer = ss_mixer_new ();
  ss_mixer_set_project (mixer, snapshot);
  buf = g_new (float, chunk * 2);
  total = av_rescale_rnd (duration, SS_MIX_RATE, SS_TIME_SECOND, AV_ROUND_NEAR_INF);
  for (gint64 done = 0; done < total;)
    {
      gsize n = (gsize) MIN ((gint64) chunk, total - done);
      SsTime at = av_rescale_rnd (done, SS_TIME_SECOND, SS_MIX_RATE, AV_ROUND_NEAR_INF);
      if (cancelled (cancellable, error))
        return FALSE;
      for (guint i = 0; i < track_ids->len; i++)
        if (!ss_mixer_render (mixer, at, buf, n, g_ptr_array_index (track_ids, i), error) ||
            !ss_wav_writer_write (g_ptr_array_index (writers, i), buf, n, error))
          return FALSE;
      done += (gint64) n;
      if (progress)
        progress ((double) done / (double) total * 0.99, data);
    }
  for (guint i = 0; i < writers->len; i++)
    if (!ss_wav_writer_finish (g_ptr_array_index (writers, i), error))
      return FALSE;
  if (progress)
    progress (1.0, data);
  return TRUE;
}
