/* ss-peaks.c: waveform peaks and thumbnail strips, cached on disk. */
#define G_LOG_DOMAIN "ss-media"

#include <string.h>
#include <math.h>
#include "ss-media-private.h"

#define WAVEFORM_RATE     48000
#define WAVEFORM_VERSION  1u
#define THUMBS_VERSION    1u
#define MAX_BUCKETS       (G_GUINT64_CONSTANT (1) << 28)

void
ss_waveform_free (SsWaveform *w)
{
  if (!w)
    return;
  g_free (w->min);
  g_free (w->max);
  g_free (w);
}

typedef struct {
  double  bps;
  guint64 pos;          /* samples seen */
  gint64  bucket;       /* current bucket */
  float   lo, hi;
  GArray *min, *max;
  GCancellable *cancellable;
} PeakState;

static void
peak_close (PeakState *s)
{
  if (s->bucket < 0)
    return;
  /* Buckets with no sample (bps above the sample rate) repeat the last value. */
  while ((gint64) s->min->len < s->bucket)
    {
      float lo = s->min->len ? g_array_index (s->min, float, s->min->len - 1) : 0.f;
      float hi = s->max->len ? g_array_index (s->max, float, s->max->len - 1) : 0.f;
      g_array_append_val (s->min, lo);
      g_array_append_val (s->max, hi);
    }
  g_array_append_val (s->min, s->lo);
  g_array_append_val (s->max, s->hi);
}

static gboolean
peak_chunk (const float *samples, gsize n, gpointer data, GError **error)
{
  PeakState *s = data;

  if (g_cancellable_set_error_if_cancelled (s->cancellable, error))
    return FALSE;
  for (gsize i = 0; i < n; i++, s->pos++)
    {
      gint64 b = (gint64) floor ((double) s->pos * s->bps / WAVEFORM_RATE);
      float v = samples[i];
      if (b != s->bucket)
        {
          peak_close (s);
          if ((guint64) b >= MAX_BUCKETS)
            {
              g_set_error (error, SS_ERROR, SS_ERROR_OUT_OF_MEMORY, "Too many waveform buckets");
              return FALSE;
            }
          s->bucket = b;
          s->lo = s->hi = v;
        }
      else
        {
          s->lo = MIN (s->lo, v);
          s->hi = MAX (s->hi, v);
        }
    }
  return TRUE;
}

SsWaveform *
ss_waveform_compute (const char *path, double buckets_per_second, GCancellable *cancellable, GError **error)
{
  g_autofree char *params = NULL;
  g_autofree char *key = NULL;
  g_autoptr(GBytes) cached = NULL;
  PeakState s = { 0 };
  SsWaveform *w;

  g_return_val_if_fail (path != NULL, NULL);
  g_return_val_if_fail (buckets_per_second > 0 && buckets_per_second <= WAVEFORM_RATE, NULL);

  params = g_strdup_printf ("waveform %.17g", buckets_per_second);
  key = ss_media_cache_key (path, params);
  if (key && (cached = ss_media_cache_load ("waveforms", key, WAVEFORM_VERSION)))
    {
      gsize len;
      const guint8 *p = g_bytes_get_data (cached, &len);
      guint64 n;
      double bps;
      if (len >= 16)
        {
          memcpy (&bps, p, 8);
          memcpy (&n, p + 8, 8);
          if (bps == buckets_per_second && n <= MAX_BUCKETS && len == 16 + n * 8)
            {
              w = g_new0 (SsWaveform, 1);
              w->buckets_per_second = bps;
              w->n_buckets = (gsize) n;
              w->min = g_new (float, MAX (n, 1));
              w->max = g_new (float, MAX (n, 1));
              memcpy (w->min, p + 16, n * 4);
              memcpy (w->max, p + 16 + n * 4, n * 4);
              return w;
            }
        }
    }

  s.bps = buckets_per_second;
  s.bucket = -1;
  s.min = g_array_new (FALSE, FALSE, sizeof (float));
  s.max = g_array_new (FALSE, FALSE, sizeof (float));
  s.cancellable = cancellable;
  if (!ss_audio_decode_stream (path, WAVEFORM_RATE, 1, peak_chunk, &s, cancellable, error))
    {
      g_array_unref (s.min);
      g_array_unref (s.max);
      return NULL;
    }
  peak_close (&s);

  w = g_new0 (SsWaveform, 1);
  w->buckets_per_second = buckets_per_second;
  w->n_buckets = s.min->len;
  w->min = (float *) g_array_free (s.min, FALSE);
  w->max = (float *) g_array_free (s.max, FALSE);

  if (key)
    {
      gsize len = 16 + w->n_buckets * 8;
      g_autofree guint8 *p = g_try_malloc (len);
      guint64 n = w->n_buckets;
      if (p)
        {
          memcpy (p, &w->buckets_per_second, 8);
          memcpy (p + 8, &n, 8);
          memcpy (p + 16, w->min, n * 4);
          memcpy (p + 16 + n * 4, w->max, n * 4);
          ss_media_cache_store ("waveforms", key, WAVEFORM_VERSION, p, len);
        }
    }
  return w;
}

/* ---- thumbnails ---- */

void
ss_thumbnails_free (SsThumbnails *t)
{
  if (!t)
    return;
  g_clear_pointer (&t->frames, g_ptr_array_unref);
  g_free (t);
}

static SsThumbnails *
thumbs_from_cache (GBytes *bytes, SsTime interval, int height)
{
  gsize len, off = 24;
  const guint8 *p = g_bytes_get_data (bytes, &len);
  gint64 iv;
  guint32 h, n;
  SsThumbnails *t;

  if (len < 24)
    return NULL;
  memcpy (&iv, p, 8);
  memcpy (&h, p + 8, 4);
  memcpy (&n, p + 12, 4);
  if (iv != interval || (int) h != height || n > 1000000)
    return NULL;
  t = g_new0 (SsThumbnails, 1);
  t->interval = interval;
  t->frames = g_ptr_array_new_with_free_func ((GDestroyNotify) ss_frame_unref);
  for (guint32 i = 0; i < n; i++)
    {
      guint32 fw, fh;
      SsFrame *f;
      if (off + 24 > len)
        goto bad;
      memcpy (&fw, p + off, 4);
      memcpy (&fh, p + off + 4, 4);
      if (fw == 0 || fh == 0 || fw > SS_MEDIA_MAX_DIMENSION || fh > SS_MEDIA_MAX_DIMENSION ||
          (guint64) fw * fh * 4 > len - off - 24)
        goto bad;
      f = ss_frame_new ((int) fw, (int) fh);
      if (!f)
        goto bad;
      memcpy (&f->pts, p + off + 8, 8);
      memcpy (&f->index, p + off + 16, 8);
      memcpy (f->data, p + off + 24, (gsize) fw * fh * 4);
      off += 24 + (gsize) fw * fh * 4;
      g_ptr_array_add (t->frames, f);
    }
  if (off != len)
    goto bad;
  return t;
bad:
  ss_thumbnails_free (t);
  return NULL;
}

SsThumbnails *
ss_thumbnails_compute (const char *path, SsTime interval, int height, GCancellable *cancellable, GError **error)
{
  g_autofree char *params = NULL;
  g_autofree char *key = NULL;
  g_autoptr(GBytes) cached = NULL;
  g_autoptr(SsVideoDecoder) dec = NULL;
  SsThumbnails *t;
  SsTime duration;
  gint64 n;

  g_return_val_if_fail (path != NULL, NULL);
  g_return_val_if_fail (interval > 0, NULL);
  g_return_val_if_fail (height > 0 && height <= 2048, NULL);

  params = g_strdup_printf ("thumbnails %" G_GINT64_FORMAT " %d", interval, height);
  key = ss_media_cache_key (path, params);
  if (key && (cached = ss_media_cache_load ("thumbnails", key, THUMBS_VERSION)) &&
      (t = thumbs_from_cache (cached, interval, height)))
    return t;

  dec = ss_video_decoder_new (path, error);
  if (!dec)
    return NULL;
  ss_video_decoder_set_output_size (dec, 0, height);
  duration = ss_video_decoder_get_duration (dec);
  n = duration > 0 ? (duration + interval - 1) / interval : 1;
  if (n > 100000)
    {
      ss_media_set_error (error, SS_ERROR_UNSUPPORTED, path, 0, "is too long for thumbnails at this interval");
      return NULL;
    }
  t = g_new0 (SsThumbnails, 1);
  t->interval = interval;
  t->frames = g_ptr_array_new_with_free_func ((GDestroyNotify) ss_frame_unref);
  for (gint64 i = 0; i < n; i++)
    {
      SsFrame *f;
      if (g_cancellable_set_error_if_cancelled (cancellable, error))
        {
          ss_thumbnails_free (t);
          return NULL;
        }
      f = ss_video_decoder_get_frame (dec, i * interval, error);
      if (!f)
        {
          ss_thumbnails_free (t);
          return NULL;
        }
      g_ptr_array_add (t->frames, f);
    }

  if (key)
    {
      g_autoptr(GByteArray) out = g_byte_array_new ();
      gint64 iv = interval;
      guint32 h = (guint32) height, nn = t->frames->len, pad = 0;
      g_byte_array_append (out, (guint8 *) &iv, 8);
      g_byte_array_append (out, (guint8 *) &h, 4);
      g_byte_array_append (out, (guint8 *) &nn, 4);
      g_byte_array_append (out, (guint8 *) &pad, 4);
      g_byte_array_append (out, (guint8 *) &pad, 4);
      for (guint i = 0; i < t->frames->len; i++)
        {
          SsFrame *f = g_ptr_array_index (t->frames, i);
          guint32 fw = (guint32) f->width, fh = (guint32) f->height;
          g_byte_array_append (out, (guint8 *) &fw, 4);
          g_byte_array_append (out, (guint8 *) &fh, 4);
          g_byte_array_append (out, (guint8 *) &f->pts, 8);
          g_byte_array_append (out, (guint8 *) &f->index, 8);
          for (int y = 0; y < f->height; y++)
            g_byte_array_append (out, f->data + (gsize) y * f->stride, (guint) f->width * 4);
        }
      ss_media_cache_store ("thumbnails", key, THUMBS_VERSION, out->data, out->len);
    }
  return t;
}
