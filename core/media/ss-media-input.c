/* ss-media-input.c: opening media files safely, error messages, probing. */
#define G_LOG_DOMAIN "ss-media"

#include <string.h>
#include <errno.h>
#include <glib/gstdio.h>
#include <libavutil/avstring.h>
#include "ss-media-private.h"

/* Demuxers the editor accepts. Playlist/concat/image demuxers are excluded on
 * purpose: they read other files or turn arbitrary text into "video". */
static const char *const accepted_demuxers =
  "mov,mp4,m4a,3gp,3g2,mj2,matroska,webm,avi,wav,w64,flac,ogg,mp3,aac,aiff,caf,"
  "mpegts,mpeg,flv,asf,ivf,nut,mxf,dv,amr,ape,wv,tta,au,voc,m4v,mpegvideo";

void
ss_media_ensure_init (void)
{
  static gsize done = 0;

  if (g_once_init_enter (&done))
    {
      /* FFmpeg's own messages (encoder statistics, demuxer complaints) are not for
       * users; errors reach them as GErrors. SOUNDSTAGE_FFMPEG_LOG=1 shows it. */
      if (!g_getenv ("SOUNDSTAGE_FFMPEG_LOG"))
        av_log_set_level (AV_LOG_FATAL);
      g_once_init_leave (&done, 1);
    }
}

char *
ss_media_display_name (const char *path)
{
  g_autofree char *base = g_path_get_basename (path ? path : "");
  return g_filename_display_name (base);
}

void
ss_media_set_error (GError **error, SsError code, const char *path, int averr, const char *format, ...)
{
  va_list ap;
  g_autofree char *msg = NULL;
  g_autofree char *name = ss_media_display_name (path);
  char buf[AV_ERROR_MAX_STRING_SIZE] = "";

  if (error == NULL)
    return;
  va_start (ap, format);
  msg = g_strdup_vprintf (format, ap);
  va_end (ap);
  if (averr < 0)
    {
      av_strerror (averr, buf, sizeof buf);
      g_set_error (error, SS_ERROR, code, "“%s” %s (%s)", name, msg, buf);
    }
  else
    g_set_error (error, SS_ERROR, code, "“%s” %s", name, msg);
}

static gboolean
demuxer_accepted (const char *name)
{
  return name && av_match_list (name, accepted_demuxers, ',') > 0;
}

/* Does the start of the file look like a format we read? */
static gboolean
looks_like_media (const char *path)
{
  guint8 buf[8192 + AVPROBE_PADDING_SIZE];
  AVProbeData pd = { 0 };
  const AVInputFormat *f;
  int score = 0;
  FILE *fp = g_fopen (path, "rb");
  size_t n;

  if (!fp)
    return FALSE;
  n = fread (buf, 1, 8192, fp);
  fclose (fp);
  memset (buf + n, 0, AVPROBE_PADDING_SIZE);
  pd.filename = path;
  pd.buf = buf;
  pd.buf_size = (int) n;
  f = av_probe_input_format3 (&pd, 1, &score);
  return f && demuxer_accepted (f->name) && score > AVPROBE_SCORE_EXTENSION;
}

AVFormatContext *
ss_media_open_input (const char *path, GError **error)
{
  AVFormatContext *fmt = NULL;
  AVDictionary *opts = NULL;
  GStatBuf st;
  int ret;

  g_return_val_if_fail (path != NULL, NULL);

  ss_media_ensure_init ();
  if (g_stat (path, &st) != 0)
    {
      int e = errno;
      ss_media_set_error (error, e == ENOENT || e == ENOTDIR ? SS_ERROR_NOT_FOUND : SS_ERROR_IO, path, 0,
                          e == ENOENT || e == ENOTDIR ? "does not exist" : "cannot be read: %s",
                          g_strerror (e));
      return NULL;
    }
  if (!S_ISREG (st.st_mode))
    {
      ss_media_set_error (error, SS_ERROR_INVALID_DATA, path, 0, "is not a file");
      return NULL;
    }
  if (st.st_size == 0)
    {
      ss_media_set_error (error, SS_ERROR_INVALID_DATA, path, 0, "is empty");
      return NULL;
    }

  fmt = avformat_alloc_context ();
  if (!fmt)
    {
      g_set_error (error, SS_ERROR, SS_ERROR_OUT_OF_MEMORY, "Out of memory");
      return NULL;
    }
  av_dict_set (&opts, "format_whitelist", accepted_demuxers, 0);
  av_dict_set (&opts, "protocol_whitelist", "file", 0);
  av_dict_set (&opts, "max_streams", "64", 0);
  ret = avformat_open_input (&fmt, path, NULL, &opts);
  av_dict_free (&opts);
  if (ret < 0)
    {
      if (ret == AVERROR (EACCES) || ret == AVERROR (EPERM))
        ss_media_set_error (error, SS_ERROR_IO, path, 0, "cannot be read: permission denied");
      else if (looks_like_media (path))
        ss_media_set_error (error, SS_ERROR_INVALID_DATA, path, ret, "is damaged or incomplete");
      else
        ss_media_set_error (error, SS_ERROR_INVALID_DATA, path, 0,
                            "is not a video or audio file the editor can read");
      return NULL;
    }
  if (!demuxer_accepted (fmt->iformat->name))
    {
      ss_media_set_error (error, SS_ERROR_INVALID_DATA, path, 0,
                          "is not a video or audio file the editor can read");
      avformat_close_input (&fmt);
      return NULL;
    }
  ret = avformat_find_stream_info (fmt, NULL);
  if (ret < 0)
    {
      ss_media_set_error (error, SS_ERROR_INVALID_DATA, path, ret, "is damaged or incomplete");
      avformat_close_input (&fmt);
      return NULL;
    }
  return fmt;
}

static gboolean
stream_usable (AVStream *s)
{
  AVCodecParameters *p = s->codecpar;

  if (s->disposition & AV_DISPOSITION_ATTACHED_PIC)
    return FALSE;
  if (!avcodec_find_decoder (p->codec_id))
    return FALSE;
  if (p->codec_type == AVMEDIA_TYPE_VIDEO)
    return p->width > 0 && p->height > 0 && p->width <= SS_MEDIA_MAX_DIMENSION &&
           p->height <= SS_MEDIA_MAX_DIMENSION &&
           (gint64) p->width * p->height <= SS_MEDIA_MAX_PIXELS;
  if (p->codec_type == AVMEDIA_TYPE_AUDIO)
    return p->sample_rate > 0 && p->sample_rate <= SS_MEDIA_MAX_RATE &&
           p->ch_layout.nb_channels > 0 && p->ch_layout.nb_channels <= SS_MEDIA_MAX_CHANNELS;
  return FALSE;
}

int
ss_media_find_stream (AVFormatContext *fmt, enum AVMediaType type)
{
  int best = av_find_best_stream (fmt, type, -1, -1, NULL, 0);

  if (best >= 0 && stream_usable (fmt->streams[best]))
    return best;
  for (unsigned i = 0; i < fmt->nb_streams; i++)
    if (fmt->streams[i]->codecpar->codec_type == type && stream_usable (fmt->streams[i]))
      return (int) i;
  return -1;
}

AVCodecContext *
ss_media_open_decoder (AVFormatContext *fmt, int index, const char *path, GError **error)
{
  AVStream *s;
  const AVCodec *codec;
  AVCodecContext *ctx;
  int ret;

  g_return_val_if_fail (index >= 0 && (unsigned) index < fmt->nb_streams, NULL);
  s = fmt->streams[index];
  codec = avcodec_find_decoder (s->codecpar->codec_id);
  if (!codec)
    {
      ss_media_set_error (error, SS_ERROR_UNSUPPORTED, path, 0, "uses a codec the editor cannot decode (%s)",
                          avcodec_get_name (s->codecpar->codec_id));
      return NULL;
    }
  ctx = avcodec_alloc_context3 (codec);
  if (!ctx)
    {
      g_set_error (error, SS_ERROR, SS_ERROR_OUT_OF_MEMORY, "Out of memory");
      return NULL;
    }
  ret = avcodec_parameters_to_context (ctx, s->codecpar);
  if (ret >= 0)
    {
      ctx->pkt_timebase = s->time_base;
      ctx->thread_count = 0;
      if (codec->type == AVMEDIA_TYPE_VIDEO)
        ctx->thread_type = FF_THREAD_SLICE | FF_THREAD_FRAME;
      ret = avcodec_open2 (ctx, codec, NULL);
    }
  if (ret < 0)
    {
      ss_media_set_error (error, SS_ERROR_INVALID_DATA, path, ret, "cannot be decoded (%s)",
                          avcodec_get_name (s->codecpar->codec_id));
      avcodec_free_context (&ctx);
      return NULL;
    }
  return ctx;
}

SsTime
ss_media_origin (AVFormatContext *fmt)
{
  if (fmt->start_time != AV_NOPTS_VALUE && fmt->start_time > -100 * SS_TIME_SECOND &&
      fmt->start_time < 1000000 * SS_TIME_SECOND)
    return fmt->start_time;
  return 0;
}

SsTime
ss_media_ts_to_time (int64_t ts, AVRational tb, SsTime origin)
{
  if (ts == AV_NOPTS_VALUE)
    return SS_TIME_NONE;
  return av_rescale_q_rnd (ts, tb, AV_TIME_BASE_Q, AV_ROUND_NEAR_INF | AV_ROUND_PASS_MINMAX) - origin;
}

int64_t
ss_media_time_to_ts (SsTime t, AVRational tb, SsTime origin)
{
  return av_rescale_q_rnd (t + origin, AV_TIME_BASE_Q, tb, AV_ROUND_NEAR_INF | AV_ROUND_PASS_MINMAX);
}

AVCodecContext *
ss_media_open_stream (const char *path, enum AVMediaType type, AVFormatContext **fmt, int *index,
                      GError **error)
{
  g_return_val_if_fail (type == AVMEDIA_TYPE_AUDIO || type == AVMEDIA_TYPE_VIDEO, NULL);

  *fmt = ss_media_open_input (path, error);
  if (!*fmt)
    return NULL;
  *index = ss_media_find_stream (*fmt, type);
  if (*index < 0)
    {
      ss_media_set_error (error, SS_ERROR_UNSUPPORTED, path, 0, "has no %s the editor can decode",
                          av_get_media_type_string (type));
      return NULL;
    }
  for (unsigned i = 0; i < (*fmt)->nb_streams; i++)
    if ((int) i != *index)
      (*fmt)->streams[i]->discard = AVDISCARD_ALL;
  return ss_media_open_decoder (*fmt, *index, path, error);
}

gboolean
ss_media_send_next_packet (AVFormatContext *fmt, AVCodecContext *ctx, AVPacket *pkt, int index,
                           gboolean *sent_eof, int *errors, const char *path, GError **error)
{
  int ret = av_read_frame (fmt, pkt);
  if (ret < 0)
    {
      if (ret != AVERROR_EOF && !avio_feof (fmt->pb) && ret != AVERROR_INVALIDDATA)
        {
          ss_media_set_error (error, SS_ERROR_IO, path, ret, "could not be read");
          return FALSE;
        }
      avcodec_send_packet (ctx, NULL);
      *sent_eof = TRUE;
      return TRUE;
    }
  if (pkt->stream_index == index)
    {
      ret = avcodec_send_packet (ctx, pkt);
      if (ret < 0 && ret != AVERROR (EAGAIN) && ++*errors > 64)
        {
          av_packet_unref (pkt);
          ss_media_set_error (error, SS_ERROR_INVALID_DATA, path, ret, "is damaged: %s cannot be decoded",
                              av_get_media_type_string (fmt->streams[index]->codecpar->codec_type));
          return FALSE;
        }
    }
  av_packet_unref (pkt);
  return TRUE;
}

void
ss_media_stream_fps (AVStream *s, int *num, int *den)
{
  AVRational r = s->avg_frame_rate;

  if (r.num <= 0 || r.den <= 0 || av_q2d (r) > 1000 || av_q2d (r) < 0.5)
    r = s->r_frame_rate;
  if (r.num <= 0 || r.den <= 0 || av_q2d (r) > 1000 || av_q2d (r) < 0.5)
    r = (AVRational) { 25, 1 };
  av_reduce (&r.num, &r.den, r.num, r.den, 1000000);
  *num = r.num;
  *den = r.den;
}

char *
ss_media_temp_path_for (const char *path)
{
  g_autofree char *dir = g_path_get_dirname (path);
  g_autofree char *base = g_path_get_basename (path);
  const char *ext = strrchr (base, '.');
  g_autofree char *stem = ext ? g_strndup (base, (gsize) (ext - base)) : g_strdup (base);
  g_autofree char *name = g_strdup_printf (".%s.partial-%08x%s", stem, g_random_int (), ext ? ext : "");
  return g_build_filename (dir, name, NULL);
}

/* ---- probing ---- */

/* Decodes up to the first frame of stream @index to prove it is decodable. */
static gboolean
first_frame_decodes (AVFormatContext *fmt, int index, const char *path)
{
  g_autoptr(GError) err = NULL;
  AVCodecContext *ctx = ss_media_open_decoder (fmt, index, path, &err);
  AVPacket *pkt = av_packet_alloc ();
  AVFrame *frame = av_frame_alloc ();
  gboolean ok = FALSE;
  int packets = 0;

  if (!ctx || !pkt || !frame)
    goto out;
  if (av_seek_frame (fmt, index, fmt->streams[index]->start_time != AV_NOPTS_VALUE ?
                     fmt->streams[index]->start_time : 0, AVSEEK_FLAG_BACKWARD) < 0)
    avformat_seek_file (fmt, -1, INT64_MIN, 0, INT64_MAX, 0);
  while (!ok && packets < 2000)
    {
      int ret = av_read_frame (fmt, pkt);
      if (ret < 0)
        {
          avcodec_send_packet (ctx, NULL);
          ok = avcodec_receive_frame (ctx, frame) >= 0;
          break;
        }
      if (pkt->stream_index == index)
        {
          packets++;
          avcodec_send_packet (ctx, pkt);
          ok = avcodec_receive_frame (ctx, frame) >= 0;
        }
      av_packet_unref (pkt);
    }
out:
  av_frame_free (&frame);
  av_packet_free (&pkt);
  avcodec_free_context (&ctx);
  return ok;
}

/* TRUE when the file ends well before its stated duration: a packet of stream
 * @index should exist near the end. */
static gboolean
ends_early (AVFormatContext *fmt, int index, SsTime duration)
{
  AVStream *s = fmt->streams[index];
  SsTime origin = ss_media_origin (fmt);
  SsTime target = duration / 20 * 19 - SS_TIME_SECOND / 4;   /* no overflow for huge durations */
  AVPacket *pkt;
  gboolean found = FALSE;
  int n = 0;

  if (target <= 0 || !fmt->pb || !(fmt->pb->seekable & AVIO_SEEKABLE_NORMAL))
    return FALSE;
  if (av_seek_frame (fmt, index, ss_media_time_to_ts (target, s->time_base, origin), AVSEEK_FLAG_BACKWARD) < 0)
    return FALSE;   /* cannot tell */
  pkt = av_packet_alloc ();
  if (!pkt)
    return FALSE;
  while (!found && n++ < 1000000 && av_read_frame (fmt, pkt) >= 0)
    {
      if (pkt->stream_index == index)
        {
          int64_t ts = pkt->pts != AV_NOPTS_VALUE ? pkt->pts : pkt->dts;
          SsTime t = ss_media_ts_to_time (ts, s->time_base, origin);
          if (t == SS_TIME_NONE || t >= target)
            found = TRUE;
        }
      av_packet_unref (pkt);
    }
  av_packet_free (&pkt);
  return !found;
}

/* TRUE when the container's index points past the end of the file. */
static gboolean
index_past_end (AVFormatContext *fmt, int index)
{
  AVStream *s = fmt->streams[index];
  int n = avformat_index_get_entries_count (s);
  int64_t size = fmt->pb ? avio_size (fmt->pb) : -1;
  const AVIndexEntry *e;

  if (n <= 0 || size <= 0)
    return FALSE;
  e = avformat_index_get_entry (s, n - 1);
  return e && e->pos > 0 && e->size > 0 && e->pos + e->size > size;
}

void
ss_media_clear (SsMedia *info)
{
  if (!info)
    return;
  g_clear_pointer (&info->id, g_free);
  g_clear_pointer (&info->path, g_free);
}

gboolean
ss_media_probe (const char *path, SsMedia *info, GError **error)
{
  AVFormatContext *fmt;
  int vi, ai;
  SsTime duration = 0;
  gboolean any_stream = FALSE;
  gboolean known_codec = FALSE;   /* an A/V stream whose codec we can decode */

  g_return_val_if_fail (path != NULL, FALSE);
  g_return_val_if_fail (info != NULL, FALSE);
  memset (info, 0, sizeof *info);

  fmt = ss_media_open_input (path, error);
  if (!fmt)
    return FALSE;

  for (unsigned i = 0; i < fmt->nb_streams; i++)
    {
      enum AVMediaType t = fmt->streams[i]->codecpar->codec_type;
      if ((t == AVMEDIA_TYPE_VIDEO && !(fmt->streams[i]->disposition & AV_DISPOSITION_ATTACHED_PIC)) ||
          t == AVMEDIA_TYPE_AUDIO)
        {
          any_stream = TRUE;
          if (avcodec_find_decoder (fmt->streams[i]->codecpar->codec_id))
            known_codec = TRUE;
        }
    }
  vi = ss_media_find_stream (fmt, AVMEDIA_TYPE_VIDEO);
  ai = ss_media_find_stream (fmt, AVMEDIA_TYPE_AUDIO);
  if (vi < 0 && ai < 0)
    {
      /* A codec we can decode whose size or rate could not be read means the
       * data is damaged; an unknown codec means it is unsupported. (Which of the
       * two FFmpeg's stream analysis reports for a damaged header can vary.) */
      if (known_codec)
        ss_media_set_error (error, SS_ERROR_INVALID_DATA, path, 0, "is damaged or incomplete");
      else if (any_stream)
        ss_media_set_error (error, SS_ERROR_UNSUPPORTED, path, 0,
                            "has no video or audio stream the editor can decode");
      else
        ss_media_set_error (error, SS_ERROR_UNSUPPORTED, path, 0, "contains no video or audio");
      avformat_close_input (&fmt);
      return FALSE;
    }
  if ((vi >= 0 && index_past_end (fmt, vi)) || (ai >= 0 && index_past_end (fmt, ai)))
    {
      ss_media_set_error (error, SS_ERROR_INVALID_DATA, path, 0,
                          "is incomplete (the file ends before its last frames)");
      avformat_close_input (&fmt);
      return FALSE;
    }
  if (vi >= 0 && !first_frame_decodes (fmt, vi, path))
    vi = -1;
  if (ai >= 0 && !first_frame_decodes (fmt, ai, path))
    ai = -1;
  if (vi < 0 && ai < 0)
    {
      ss_media_set_error (error, SS_ERROR_INVALID_DATA, path, 0,
                          "is damaged: none of its streams can be decoded");
      avformat_close_input (&fmt);
      return FALSE;
    }

  if (fmt->duration != AV_NOPTS_VALUE && fmt->duration > 0)
    duration = fmt->duration;
  else
    {
      for (int k = 0; k < 2; k++)
        {
          int idx = k == 0 ? vi : ai;
          AVStream *s;
          if (idx < 0)
            continue;
          s = fmt->streams[idx];
          if (s->duration != AV_NOPTS_VALUE && s->duration > 0)
            duration = MAX (duration, av_rescale_q (s->duration, s->time_base, AV_TIME_BASE_Q));
        }
    }
  if (duration <= 0)
    {
      /* No duration in the headers (e.g. streamed WebM): scan packet times. */
      AVPacket *pkt = av_packet_alloc ();
      SsTime origin = ss_media_origin (fmt);
      guint64 n = 0;
      if (pkt)
        {
          avformat_seek_file (fmt, -1, INT64_MIN, 0, INT64_MAX, 0);
          while (n++ < 10000000 && av_read_frame (fmt, pkt) >= 0)
            {
              AVStream *s = fmt->streams[pkt->stream_index];
              if ((pkt->stream_index == vi || pkt->stream_index == ai) && pkt->pts != AV_NOPTS_VALUE)
                {
                  SsTime end = ss_media_ts_to_time (pkt->pts + MAX (pkt->duration, 0), s->time_base, origin);
                  duration = MAX (duration, end);
                }
              av_packet_unref (pkt);
            }
          av_packet_free (&pkt);
        }
    }

  if ((vi >= 0 && ends_early (fmt, vi, duration)) || (ai >= 0 && ends_early (fmt, ai, duration)))
    {
      ss_media_set_error (error, SS_ERROR_INVALID_DATA, path, 0,
                          "is incomplete (the file ends before its stated length)");
      avformat_close_input (&fmt);
      return FALSE;
    }

  info->path = g_canonicalize_filename (path, NULL);
  info->duration = MAX (duration, 0);
  if (vi >= 0)
    {
      AVStream *s = fmt->streams[vi];
      info->has_video = TRUE;
      info->width = s->codecpar->width;
      info->height = s->codecpar->height;
      ss_media_stream_fps (s, &info->fps_num, &info->fps_den);
    }
  if (ai >= 0)
    {
      AVStream *s = fmt->streams[ai];
      info->has_audio = TRUE;
      info->sample_rate = s->codecpar->sample_rate;
      info->channels = s->codecpar->ch_layout.nb_channels;
    }
  avformat_close_input (&fmt);
  return TRUE;
}
