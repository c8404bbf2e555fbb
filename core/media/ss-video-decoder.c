/* ss-video-decoder.c: frames (RGBA) and frame-accurate video decoding. */
#define G_LOG_DOMAIN "ss-media"

#include <string.h>
#include <libswscale/swscale.h>
#include <libavutil/imgutils.h>
#include "ss-media-private.h"

/* ---- SsFrame ---- */

SsFrame *
ss_frame_new (int width, int height)
{
  SsFrame *f;

  g_return_val_if_fail (width > 0 && height > 0, NULL);
  g_return_val_if_fail (width <= SS_MEDIA_MAX_DIMENSION && height <= SS_MEDIA_MAX_DIMENSION, NULL);
  f = g_new0 (SsFrame, 1);
  f->width = width;
  f->height = height;
  f->stride = width * 4;
  f->pts = 0;
  f->index = 0;
  f->data = g_try_malloc0 ((gsize) f->stride * (gsize) height);
  if (!f->data)
    {
      g_free (f);
      return NULL;
    }
  f->ref_count = 1;
  return f;
}

SsFrame *
ss_frame_ref (SsFrame *frame)
{
  g_return_val_if_fail (frame != NULL, NULL);
  g_atomic_int_inc (&frame->ref_count);
  return frame;
}

void
ss_frame_unref (SsFrame *frame)
{
  if (frame && g_atomic_int_dec_and_test (&frame->ref_count))
    {
      g_free (frame->data);
      g_free (frame);
    }
}

/* ---- SsVideoDecoder ---- */

struct _SsVideoDecoder {
  char            *path;
  AVFormatContext *fmt;
  AVCodecContext  *ctx;
  AVStream        *st;
  int              si;
  AVPacket        *pkt;
  AVFrame         *tmp, *cur, *next;
  gboolean         have_cur, have_next;
  SsTime           cur_pts, next_pts;
  SsFrame         *cur_out;         /* cur converted, cached */
  gboolean         sent_eof, eof;
  SsTime           origin, first_pts, duration, frame_dur, last_pts;
  int              fps_num, fps_den;
  int              max_w, max_h;
  int              src_w, src_h;    /* display size (sample aspect applied) */
  struct SwsContext *sws;
  guint            n_seeks;
};

void
ss_video_decoder_free (SsVideoDecoder *dec)
{
  if (!dec)
    return;
  g_clear_pointer (&dec->cur_out, ss_frame_unref);
  av_frame_free (&dec->tmp);
  av_frame_free (&dec->cur);
  av_frame_free (&dec->next);
  av_packet_free (&dec->pkt);
  avcodec_free_context (&dec->ctx);
  avformat_close_input (&dec->fmt);
  sws_freeContext (dec->sws);
  g_free (dec->path);
  g_free (dec);
}

/* 1: a frame in @out; 0: end of stream; -1: error. */
static int
decode_one (SsVideoDecoder *dec, AVFrame *out, GError **error)
{
  int errors = 0;

  for (;;)
    {
      int ret = avcodec_receive_frame (dec->ctx, out);
      if (ret >= 0)
        {
          int64_t ts = out->best_effort_timestamp;
          SsTime pts;
          if (ts == AV_NOPTS_VALUE)
            ts = out->pts;
          pts = ss_media_ts_to_time (ts, dec->st->time_base, dec->origin);
          if (pts == SS_TIME_NONE)
            pts = dec->last_pts == SS_TIME_NONE ? 0 : dec->last_pts + dec->frame_dur;
          out->pts = pts;   /* reused as our media time in µs */
          dec->last_pts = pts;
          if (out->width <= 0 || out->height <= 0 || out->format < 0)
            {
              av_frame_unref (out);
              continue;
            }
          return 1;
        }
      if (ret == AVERROR_EOF)
        return 0;
      if (ret != AVERROR (EAGAIN))
        {
          if (++errors > 64)
            {
              ss_media_set_error (error, SS_ERROR_INVALID_DATA, dec->path, ret, "is damaged: video cannot be decoded");
              return -1;
            }
        }
      if (dec->sent_eof)
        return 0;
      if (!ss_media_send_next_packet (dec->fmt, dec->ctx, dec->pkt, dec->si, &dec->sent_eof, &errors,
                                      dec->path, error))
        return -1;
    }
}

static void
drop_state (SsVideoDecoder *dec)
{
  dec->have_cur = dec->have_next = FALSE;
  av_frame_unref (dec->cur);
  av_frame_unref (dec->next);
  g_clear_pointer (&dec->cur_out, ss_frame_unref);
  dec->sent_eof = dec->eof = FALSE;
  dec->last_pts = SS_TIME_NONE;
}

static gboolean
seek_raw (SsVideoDecoder *dec, SsTime t)
{
  int ret;

  drop_state (dec);
  avcodec_flush_buffers (dec->ctx);
  dec->n_seeks++;
  if (t <= dec->first_pts)
    {
      int64_t ts = dec->st->start_time != AV_NOPTS_VALUE ? dec->st->start_time : 0;
      ret = av_seek_frame (dec->fmt, dec->si, ts, AVSEEK_FLAG_BACKWARD);
      if (ret < 0)
        ret = avformat_seek_file (dec->fmt, -1, INT64_MIN, INT64_MIN, INT64_MIN, 0);
      if (ret < 0)
        ret = av_seek_frame (dec->fmt, -1, 0, AVSEEK_FLAG_BYTE | AVSEEK_FLAG_BACKWARD);
    }
  else
    {
      ret = av_seek_frame (dec->fmt, dec->si, ss_media_time_to_ts (t, dec->st->time_base, dec->origin),
                           AVSEEK_FLAG_BACKWARD);
    }
  return ret >= 0;
}

/* Positions the decoder so that cur is the first decoded frame at or before
 * @t (backing off when the seek lands after @t). */
static gboolean
seek_to (SsVideoDecoder *dec, SsTime t, GError **error)
{
  static const SsTime backoff[] = { 0, 1000000, 3000000, 10000000, 30000000 };

  for (guint i = 0; i <= G_N_ELEMENTS (backoff); i++)
    {
      gboolean from_start = i == G_N_ELEMENTS (backoff) || t - backoff[i] <= dec->first_pts;
      int r;

      if (!seek_raw (dec, from_start ? dec->first_pts : t - backoff[i]))
        {
          if (from_start)
            {
              ss_media_set_error (error, SS_ERROR_INVALID_DATA, dec->path, 0, "cannot be positioned (seek failed)");
              return FALSE;
            }
          continue;
        }
      r = decode_one (dec, dec->cur, error);
      if (r < 0)
        return FALSE;
      if (r == 0)
        {
          if (from_start)
            {
              ss_media_set_error (error, SS_ERROR_INVALID_DATA, dec->path, 0, "has no video frames that can be decoded");
              return FALSE;
            }
          continue;   /* seeked past the end: back off */
        }
      if (dec->cur->pts <= t || from_start)
        {
          dec->have_cur = TRUE;
          dec->cur_pts = dec->cur->pts;
          return TRUE;
        }
      av_frame_unref (dec->cur);
    }
  g_assert_not_reached ();
  return FALSE;
}

SsVideoDecoder *
ss_video_decoder_new (const char *path, GError **error)
{
  SsVideoDecoder *dec;
  AVRational sar;

  g_return_val_if_fail (path != NULL, NULL);

  dec = g_new0 (SsVideoDecoder, 1);
  dec->path = g_strdup (path);
  dec->ctx = ss_media_open_stream (path, AVMEDIA_TYPE_VIDEO, &dec->fmt, &dec->si, error);
  if (!dec->ctx)
    goto fail;
  dec->st = dec->fmt->streams[dec->si];
  dec->pkt = av_packet_alloc ();
  dec->tmp = av_frame_alloc ();
  dec->cur = av_frame_alloc ();
  dec->next = av_frame_alloc ();
  if (!dec->pkt || !dec->tmp || !dec->cur || !dec->next)
    {
      g_set_error (error, SS_ERROR, SS_ERROR_OUT_OF_MEMORY, "Out of memory");
      goto fail;
    }
  dec->origin = ss_media_origin (dec->fmt);
  ss_media_stream_fps (dec->st, &dec->fps_num, &dec->fps_den);
  dec->frame_dur = av_rescale (SS_TIME_SECOND, dec->fps_den, dec->fps_num);
  dec->last_pts = SS_TIME_NONE;
  dec->first_pts = G_MININT64 / 4;

  /* Decode the first frame: proves the stream decodes and gives its start. */
  if (!seek_to (dec, dec->first_pts, error))
    goto fail;
  dec->first_pts = dec->cur_pts;

  if (dec->fmt->duration != AV_NOPTS_VALUE && dec->fmt->duration > 0)
    dec->duration = dec->fmt->duration;
  else if (dec->st->duration != AV_NOPTS_VALUE && dec->st->duration > 0)
    dec->duration = av_rescale_q (dec->st->duration, dec->st->time_base, AV_TIME_BASE_Q);
  sar = dec->st->sample_aspect_ratio.num > 0 ? dec->st->sample_aspect_ratio : dec->ctx->sample_aspect_ratio;
  dec->src_w = dec->ctx->width;
  dec->src_h = dec->ctx->height;
  if (sar.num > 0 && sar.den > 0 && av_cmp_q (sar, (AVRational) { 1, 1 }) != 0)
    {
      gint64 w = av_rescale (dec->src_w, sar.num, sar.den);
      dec->src_w = (int) CLAMP (w, 1, SS_MEDIA_MAX_DIMENSION);
    }
  return dec;

fail:
  ss_video_decoder_free (dec);
  return NULL;
}

void
ss_video_decoder_set_output_size (SsVideoDecoder *dec, int max_width, int max_height)
{
  g_return_if_fail (dec != NULL);
  if (dec->max_w == max_width && dec->max_h == max_height)
    return;
  dec->max_w = MAX (max_width, 0);
  dec->max_h = MAX (max_height, 0);
  g_clear_pointer (&dec->cur_out, ss_frame_unref);
}

void
ss_video_decoder_get_fps (SsVideoDecoder *dec, int *num, int *den)
{
  g_return_if_fail (dec != NULL);
  if (num)
    *num = dec->fps_num;
  if (den)
    *den = dec->fps_den;
}

SsTime
ss_video_decoder_get_start (SsVideoDecoder *dec)
{
  g_return_val_if_fail (dec != NULL, 0);
  return dec->first_pts;
}

SsTime
ss_video_decoder_get_duration (SsVideoDecoder *dec)
{
  g_return_val_if_fail (dec != NULL, 0);
  return dec->duration;
}

void
ss_video_decoder_get_size (SsVideoDecoder *dec, int *width, int *height)
{
  g_return_if_fail (dec != NULL);
  if (width)
    *width = dec->src_w;
  if (height)
    *height = dec->src_h;
}

guint
ss_video_decoder_get_n_seeks (SsVideoDecoder *dec)
{
  g_return_val_if_fail (dec != NULL, 0);
  return dec->n_seeks;
}

static void
output_size (SsVideoDecoder *dec, int *w, int *h)
{
  double sw = dec->src_w, sh = dec->src_h, scale;

  if (dec->max_w <= 0 && dec->max_h <= 0)
    {
      *w = dec->src_w;
      *h = dec->src_h;
      return;
    }
  if (dec->max_w <= 0)
    scale = dec->max_h / sh;
  else if (dec->max_h <= 0)
    scale = dec->max_w / sw;
  else
    scale = MIN (dec->max_w / sw, dec->max_h / sh);
  *w = CLAMP ((int) (sw * scale + 0.5), 1, SS_MEDIA_MAX_DIMENSION);
  *h = CLAMP ((int) (sh * scale + 0.5), 1, SS_MEDIA_MAX_DIMENSION);
}

static SsFrame *
convert (SsVideoDecoder *dec, AVFrame *src, GError **error)
{
  int w, h;
  SsFrame *out;
  uint8_t *dst[4] = { NULL };
  int dst_stride[4] = { 0 };
  const int *coefs;
  int src_range, dst_range = 1, brightness, contrast, saturation;
  int *inv_table, *table;

  output_size (dec, &w, &h);
  dec->sws = sws_getCachedContext (dec->sws, src->width, src->height, src->format, w, h, AV_PIX_FMT_RGBA,
                                   (w == src->width && h == src->height) ? SWS_POINT : SWS_BICUBIC | SWS_ACCURATE_RND,
                                   NULL, NULL, NULL);
  if (!dec->sws)
    {
      ss_media_set_error (error, SS_ERROR_UNSUPPORTED, dec->path, 0, "uses a pixel format the editor cannot convert (%s)",
                          av_get_pix_fmt_name (src->format) ? av_get_pix_fmt_name (src->format) : "?");
      return NULL;
    }
  if (sws_getColorspaceDetails (dec->sws, &inv_table, &src_range, &table, &dst_range, &brightness, &contrast,
                                &saturation) >= 0)
    {
      int cs = src->colorspace;
      /* Untagged video: the default (BT.601) that most encoders, ours included, assume. */
      if (cs == AVCOL_SPC_UNSPECIFIED || cs == AVCOL_SPC_RGB || cs >= AVCOL_SPC_NB)
        cs = SWS_CS_DEFAULT;
      coefs = sws_getCoefficients (cs);
      src_range = src->color_range == AVCOL_RANGE_JPEG || src->format == AV_PIX_FMT_YUVJ420P ||
                  src->format == AV_PIX_FMT_YUVJ422P || src->format == AV_PIX_FMT_YUVJ444P;
      sws_setColorspaceDetails (dec->sws, coefs, src_range, table, 1, brightness, contrast, saturation);
    }
  out = ss_frame_new (w, h);
  if (!out)
    {
      g_set_error (error, SS_ERROR, SS_ERROR_OUT_OF_MEMORY, "Out of memory for a %d×%d frame", w, h);
      return NULL;
    }
  dst[0] = out->data;
  dst_stride[0] = out->stride;
  if (sws_scale (dec->sws, (const uint8_t * const *) src->data, src->linesize, 0, src->height, dst, dst_stride) <= 0)
    {
      ss_frame_unref (out);
      ss_media_set_error (error, SS_ERROR_INVALID_DATA, dec->path, 0, "has a frame that cannot be converted");
      return NULL;
    }
  out->pts = src->pts;
  out->index = av_rescale_rnd (MAX (src->pts - dec->first_pts, 0), dec->fps_num, (gint64) dec->fps_den * SS_TIME_SECOND,
                               AV_ROUND_NEAR_INF);
  return out;
}

static gboolean
keyframe_ahead (SsVideoDecoder *dec, SsTime t)
{
  SsTime pos = dec->have_next ? dec->next_pts : dec->cur_pts;
  int n = avformat_index_get_entries_count (dec->st);

  if (n > 0)
    {
      int64_t ts = ss_media_time_to_ts (t, dec->st->time_base, dec->origin);
      int i = av_index_search_timestamp (dec->st, ts, AVSEEK_FLAG_BACKWARD);
      const AVIndexEntry *e = i >= 0 ? avformat_index_get_entry (dec->st, i) : NULL;
      if (e)
        return ss_media_ts_to_time (e->timestamp, dec->st->time_base, dec->origin) > pos + 2 * dec->frame_dur;
    }
  return t - pos > 5 * SS_TIME_SECOND;
}

SsFrame *
ss_video_decoder_get_frame (SsVideoDecoder *dec, SsTime t, GError **error)
{
  g_return_val_if_fail (dec != NULL, NULL);

  if (!dec->have_cur)
    {
      if (!seek_to (dec, t, error))
        return NULL;
    }
  else if (t < dec->cur_pts)
    {
      if (dec->cur_pts > dec->first_pts && !seek_to (dec, t, error))
        return NULL;
    }
  else if (!dec->eof && (!dec->have_next || t >= dec->next_pts) && keyframe_ahead (dec, t))
    {
      if (!seek_to (dec, t, error))
        return NULL;
    }

  /* Decode forward until the next frame starts after t. */
  while (!dec->eof && (!dec->have_next || dec->next_pts <= t))
    {
      int r;
      if (dec->have_next)
        {
          av_frame_unref (dec->cur);
          av_frame_move_ref (dec->cur, dec->next);
          dec->cur_pts = dec->next_pts;
          dec->have_next = FALSE;
          g_clear_pointer (&dec->cur_out, ss_frame_unref);
          continue;
        }
      r = decode_one (dec, dec->next, error);
      if (r < 0)
        {
          drop_state (dec);
          return NULL;
        }
      if (r == 0)
        {
          dec->eof = TRUE;
          break;
        }
      if (dec->next->pts <= dec->cur_pts)
        {
          /* Out-of-order or duplicate timestamp: keep the later-decoded frame
           * only when it is not before the current one. */
          if (dec->next->pts == dec->cur_pts)
            {
              av_frame_unref (dec->cur);
              av_frame_move_ref (dec->cur, dec->next);
              g_clear_pointer (&dec->cur_out, ss_frame_unref);
            }
          else
            av_frame_unref (dec->next);
          continue;
        }
      dec->next_pts = dec->next->pts;
      dec->have_next = TRUE;
    }

  if (!dec->cur_out)
    {
      dec->cur_out = convert (dec, dec->cur, error);
      if (!dec->cur_out)
        return NULL;
    }
  return ss_frame_ref (dec->cur_out);
}

SsFrame *
ss_video_decoder_get_frame_index (SsVideoDecoder *dec, gint64 n, GError **error)
{
  SsTime t;

  g_return_val_if_fail (dec != NULL, NULL);
  n = MAX (n, 0);
  t = dec->first_pts + av_rescale_rnd (n, (gint64) dec->fps_den * SS_TIME_SECOND, dec->fps_num, AV_ROUND_NEAR_INF);
  return ss_video_decoder_get_frame (dec, t, error);
}
