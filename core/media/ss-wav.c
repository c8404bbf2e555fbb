/* ss-wav.c: float32 WAV writing (atomic) and a bounds-checked WAV reader. */
#define G_LOG_DOMAIN "ss-media"

#include <string.h>
#include <errno.h>
#include <stdio.h>
#include <unistd.h>
#include <glib/gstdio.h>
#include "ss-media-private.h"

struct _SsWavWriter {
  char    *path, *tmp_path;
  FILE    *fp;
  int      rate, channels;
  guint64  frames;
};

static void
put_le32 (guint8 *p, guint32 v)
{
  p[0] = v & 0xff; p[1] = (v >> 8) & 0xff; p[2] = (v >> 16) & 0xff; p[3] = (v >> 24) & 0xff;
}

static void
put_le16 (guint8 *p, guint16 v)
{
  p[0] = v & 0xff; p[1] = (v >> 8) & 0xff;
}

#define WAV_HEADER_SIZE 58   /* RIFF(12) + fmt (8+18) + fact (8+4) + data header (8) */

static void
make_header (guint8 *h, int rate, int channels, guint64 frames)
{
  guint32 data_bytes = (guint32) (frames * (guint64) channels * 4);

  memcpy (h, "RIFF", 4);
  put_le32 (h + 4, WAV_HEADER_SIZE - 8 + data_bytes);
  memcpy (h + 8, "WAVE", 4);
  memcpy (h + 12, "fmt ", 4);
  put_le32 (h + 16, 18);
  put_le16 (h + 20, 3);                        /* WAVE_FORMAT_IEEE_FLOAT */
  put_le16 (h + 22, (guint16) channels);
  put_le32 (h + 24, (guint32) rate);
  put_le32 (h + 28, (guint32) rate * (guint32) channels * 4);
  put_le16 (h + 32, (guint16) (channels * 4));
  put_le16 (h + 34, 32);
  put_le16 (h + 36, 0);                        /* cbSize */
  memcpy (h + 38, "fact", 4);
  put_le32 (h + 42, 4);
  put_le32 (h + 46, (guint32) frames);
  memcpy (h + 50, "data", 4);
  put_le32 (h + 54, data_bytes);
}

static void
io_error (GError **error, const char *path, int e)
{
  ss_media_set_error (error, e == ENOSPC ? SS_ERROR_IO : SS_ERROR_IO, path, 0, "could not be written: %s",
                      g_strerror (e));
}

void
ss_wav_writer_free (SsWavWriter *w)
{
  if (!w)
    return;
  if (w->fp)
    {
      fclose (w->fp);
      g_unlink (w->tmp_path);
    }
  g_free (w->path);
  g_free (w->tmp_path);
  g_free (w);
}

SsWavWriter *
ss_wav_writer_new (const char *path, int rate, int channels, GError **error)
{
  SsWavWriter *w;
  guint8 h[WAV_HEADER_SIZE];

  g_return_val_if_fail (path != NULL, NULL);
  g_return_val_if_fail (rate > 0 && channels > 0 && channels <= SS_MEDIA_MAX_CHANNELS, NULL);

  w = g_new0 (SsWavWriter, 1);
  w->path = g_strdup (path);
  w->tmp_path = ss_media_temp_path_for (path);
  w->rate = rate;
  w->channels = channels;
  w->fp = g_fopen (w->tmp_path, "wb");
  if (!w->fp)
    {
      io_error (error, path, errno);
      ss_wav_writer_free (w);
      return NULL;
    }
  make_header (h, rate, channels, 0);
  if (fwrite (h, 1, sizeof h, w->fp) != sizeof h)
    {
      io_error (error, path, errno);
      ss_wav_writer_free (w);
      return NULL;
    }
  return w;
}

gboolean
ss_wav_writer_write (SsWavWriter *w, const float *interleaved, gsize n_frames, GError **error)
{
  gsize n = n_frames * (gsize) w->channels;

  g_return_val_if_fail (w != NULL && w->fp != NULL, FALSE);
  if (((w->frames + n_frames) * (guint64) w->channels * 4) + WAV_HEADER_SIZE > G_MAXUINT32)
    {
      ss_media_set_error (error, SS_ERROR_UNSUPPORTED, w->path, 0,
                          "would be larger than 4 GB, the limit of the WAV format");
      return FALSE;
    }
#if G_BYTE_ORDER == G_LITTLE_ENDIAN
  if (fwrite (interleaved, sizeof (float), n, w->fp) != n)
    {
      io_error (error, w->path, errno);
      return FALSE;
    }
#else
  for (gsize i = 0; i < n; i++)
    {
      guint32 v;
      memcpy (&v, interleaved + i, 4);
      v = GUINT32_TO_LE (v);
      if (fwrite (&v, 4, 1, w->fp) != 1)
        {
          io_error (error, w->path, errno);
          return FALSE;
        }
    }
#endif
  w->frames += n_frames;
  return TRUE;
}

gboolean
ss_wav_writer_finish (SsWavWriter *w, GError **error)
{
  guint8 h[WAV_HEADER_SIZE];
  FILE *fp;

  g_return_val_if_fail (w != NULL && w->fp != NULL, FALSE);
  make_header (h, w->rate, w->channels, w->frames);
  if (fseek (w->fp, 0, SEEK_SET) != 0 || fwrite (h, 1, sizeof h, w->fp) != sizeof h || fflush (w->fp) != 0 ||
      fsync (fileno (w->fp)) != 0)
    {
      io_error (error, w->path, errno);
      return FALSE;
    }
  fp = w->fp;
  w->fp = NULL;
  if (fclose (fp) != 0 || g_rename (w->tmp_path, w->path) != 0)
    {
      io_error (error, w->path, errno);
      g_unlink (w->tmp_path);
      return FALSE;
    }
  return TRUE;
}

gboolean
ss_wav_write (const char *path, const float *interleaved, gsize n_frames, int rate, int channels, GError **error)
{
  g_autoptr(SsWavWriter) w = ss_wav_writer_new (path, rate, channels, error);

  if (!w)
    return FALSE;
  return ss_wav_writer_write (w, interleaved, n_frames, error) && ss_wav_writer_finish (w, error);
}

/* ---- reader ---- */

static guint32
get_le32 (const guint8 *p)
{
  return (guint32) p[0] | ((guint32) p[1] << 8) | ((guint32) p[2] << 16) | ((guint32) p[3] << 24);
}

static guint16
get_le16 (const guint8 *p)
{
  return (guint16) (p[0] | (p[1] << 8));
}

gboolean
ss_wav_read (const char *path, float **interleaved, gsize *n_frames, int *rate, int *channels, GError **error)
{
  g_autofree guint8 *data = NULL;
  g_autoptr(GError) err = NULL;
  gsize len = 0, pos = 12;
  guint16 format = 0, nch = 0, bits = 0, align = 0;
  guint32 srate = 0;
  const guint8 *pcm = NULL;
  gsize pcm_len = 0;
  gboolean have_fmt = FALSE;

  g_return_val_if_fail (path && interleaved && n_frames, FALSE);
  *interleaved = NULL;
  *n_frames = 0;
  if (!g_file_get_contents (path, (char **) &data, &len, &err))
    {
      ss_media_set_error (error, g_error_matches (err, G_FILE_ERROR, G_FILE_ERROR_NOENT) ? SS_ERROR_NOT_FOUND : SS_ERROR_IO,
                          path, 0, "cannot be read: %s", err->message);
      return FALSE;
    }
  if (len < 12 || memcmp (data, "RIFF", 4) != 0 || memcmp (data + 8, "WAVE", 4) != 0)
    goto bad;
  while (pos + 8 <= len)
    {
      guint32 size = get_le32 (data + pos + 4);
      const guint8 *body = data + pos + 8;
      gsize avail = len - pos - 8;
      if (memcmp (data + pos, "fmt ", 4) == 0)
        {
          if (size < 16 || size > avail)
            goto bad;
          format = get_le16 (body);
          nch = get_le16 (body + 2);
          srate = get_le32 (body + 4);
          align = get_le16 (body + 12);
          bits = get_le16 (body + 14);
          if (format == 0xFFFE && size >= 40)
            format = get_le16 (body + 24);   /* WAVE_FORMAT_EXTENSIBLE sub-format */
          have_fmt = TRUE;
        }
      else if (memcmp (data + pos, "data", 4) == 0)
        {
          pcm = body;
          pcm_len = MIN ((gsize) size, avail);   /* a truncated file keeps what is there */
          break;
        }
      if ((gsize) size > avail)
        goto bad;
      pos += 8 + (gsize) size + (size & 1);
    }
  if (!have_fmt || !pcm || nch == 0 || nch > SS_MEDIA_MAX_CHANNELS || srate == 0 || srate > SS_MEDIA_MAX_RATE)
    goto bad;
  if (!((format == 1 && (bits == 8 || bits == 16 || bits == 24 || bits == 32)) ||
        (format == 3 && (bits == 32 || bits == 64))))
    {
      ss_media_set_error (error, SS_ERROR_UNSUPPORTED, path, 0, "uses a WAV sample format that is not supported");
      return FALSE;
    }
  if (align != nch * (bits / 8))
    goto bad;
  {
    gsize bps = bits / 8, frames = pcm_len / align;
    float *out = g_try_new (float, frames * nch + 1);
    if (!out)
      {
        g_set_error (error, SS_ERROR, SS_ERROR_OUT_OF_MEMORY, "Out of memory");
        return FALSE;
      }
    for (gsize i = 0; i < frames * nch; i++)
      {
        const guint8 *p = pcm + i * bps;
        float v;
        if (format == 3 && bits == 32)
          {
            guint32 u = get_le32 (p);
            memcpy (&v, &u, 4);
          }
        else if (format == 3)
          {
            guint64 u = (guint64) get_le32 (p) | ((guint64) get_le32 (p + 4) << 32);
            double d;
            memcpy (&d, &u, 8);
            v = (float) d;
          }
        else if (bits == 8)
          v = ((int) p[0] - 128) / 128.0f;
        else if (bits == 16)
          v = (gint16) get_le16 (p) / 32768.0f;
        else if (bits == 24)
          v = (float) ((gint32) (((guint32) p[0] << 8) | ((guint32) p[1] << 16) | ((guint32) p[2] << 24)) / 2147483648.0);
        else
          v = (float) ((gint32) get_le32 (p) / 2147483648.0);
        out[i] = v;
      }
    *interleaved = out;
    *n_frames = frames;
  }
  if (rate)
    *rate = (int) srate;
  if (channels)
    *channels = nch;
  return TRUE;

bad:
  ss_media_set_error (error, SS_ERROR_INVALID_DATA, path, 0, "is not a valid WAV file");
  return FALSE;
}
