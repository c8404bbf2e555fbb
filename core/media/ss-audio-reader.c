/* ss-audio-reader.c: audio decode + resampling to float interleaved, sample-
 * accurate random access, whole-file decode. */
#define G_LOG_DOMAIN "ss-media"

#include <string.h>
#include <math.h>
#include <libswresample/swresample.h>
#include <libavutil/opt.h>
#include <libavutil/avstring.h>
#include "ss-media-private.h"

/* How far Ogg/WebM-Vorbis files are decoded instead of seeking (a bound on the
 * time one read can take: about 0.1 s of decoding). */
#define INEXACT_EXACT_LIMIT (60 * SS_TIME_SECOND)

struct _SsAudioReader {
  char            *path;
  AVFormatContext *fmt;
  AVCodecContext  *ctx;
  AVStream        *st;
  int              si;
  AVPacket        *pkt;
  AVFrame         *frame;
  SwrContext      *swr;
  int              swr_in_rate, swr_in_fmt;
  AVChannelLayout  swr_in_layout;
  int              rate, channels;   /* output */
  int              swr_channels;     /* what swr produces (before our up/down mix) */
  int              in_channels;
  SsTime           origin, first_pts;
  gboolean         lossy;
  gboolean         inexact_seek;     /* container whose timestamps after a seek are approximate */
  int              snap;             /* coarse timestamps of fixed-size frames: round to this */
  int64_t          first_k;          /* stream start in input samples */
  /* Decoded output not yet consumed: buf[0] is output sample @buf_pos. */
  float           *buf;
  gsize            buf_len, buf_cap;  /* in frames */
  float           *conv;              /* swr output scratch */
  gsize            conv_cap;
  gint64           buf_pos;
  gint64           seek_want;
  gboolean         positioned, need_pos, sent_eof, eof;
  guint            n_seeks;
};

void
ss_audio_reader_free (SsAudioReader *r)
{
  if (!r)
    return;
  swr_free (&r->swr);
  av_channel_layout_uninit (&r->swr_in_layout);
  av_frame_free (&r->frame);
  av_packet_free (&r->pkt);
  avcodec_free_context (&r->ctx);
  avformat_close_input (&r->fmt);
  g_free (r->buf);
  g_free (r->conv);
  g_free (r->path);
  g_free (r);
}

SsAudioReader *
ss_audio_reader_new (const char *path, int rate, int channels, GError **error)
{
  SsAudioReader *r;
  enum AVCodecID id;

  g_return_val_if_fail (path != NULL, NULL);
  g_return_val_if_fail (rate > 0 && rate <= SS_MEDIA_MAX_RATE, NULL);
  g_return_val_if_fail (channels > 0 && channels <= SS_MEDIA_MAX_CHANNELS, NULL);

  r = g_new0 (SsAudioReader, 1);
  r->path = g_strdup (path);
  r->rate = rate;
  r->channels = channels;
  r->ctx = ss_media_open_stream (path, AVMEDIA_TYPE_AUDIO, &r->fmt, &r->si, error);
  if (!r->ctx)
    goto fail;
  r->st = r->fmt->streams[r->si];
  r->pkt = av_packet_alloc ();
  r->frame = av_frame_alloc ();
  if (!r->pkt || !r->frame)
    {
      g_set_error (error, SS_ERROR, SS_ERROR_OUT_OF_MEMORY, "Out of memory");
      goto fail;
    }
  r->origin = ss_media_origin (r->fmt);
  r->first_pts = r->st->start_time != AV_NOPTS_VALUE ?
                 ss_media_ts_to_time (r->st->start_time, r->st->time_base, r->origin) : 0;
  /* FFmpeg 5.1 misplaces Ogg timestamps after a seek by up to tens of
   * milliseconds: such files are positioned by decoding from the start (up to
   * INEXACT_EXACT_LIMIT) and by decoding forward instead of seeking ahead. */
  r->inexact_seek = av_match_list (r->fmt->iformat->name, "ogg", ',') > 0;
  id = r->st->codecpar->codec_id;
  {
    /* Timestamps coarser than a sample (Matroska's milliseconds): frames of a
     * fixed size are put back on their grid; other codecs decode forward. */
    AVRational tb = r->st->time_base;
    int srate = r->st->codecpar->sample_rate;
    if ((int64_t) tb.num * srate > tb.den)
      {
        if (r->st->codecpar->frame_size > 0 && id != AV_CODEC_ID_VORBIS)
          r->snap = r->st->codecpar->frame_size;
        else
          r->inexact_seek = TRUE;
      }
    r->first_k = r->st->start_time != AV_NOPTS_VALUE ?
                 av_rescale_q_rnd (r->st->start_time - av_rescale_q (r->origin, AV_TIME_BASE_Q, tb), tb,
                                   (AVRational) { 1, srate }, AV_ROUND_NEAR_INF) : 0;
    /* a start rounded to the millisecond: the encoder delay gives it exactly */
    if (r->snap > 0 && r->st->codecpar->initial_padding > 0 &&
        llabs (r->first_k + r->st->codecpar->initial_padding) <= srate / 1000 + 1)
      r->first_k = -r->st->codecpar->initial_padding;
  }
  r->lossy = !(id == AV_CODEC_ID_FLAC || (id >= AV_CODEC_ID_FIRST_AUDIO && id < AV_CODEC_ID_ADPCM_IMA_QT) ||
               id == AV_CODEC_ID_WAVPACK || id == AV_CODEC_ID_ALAC || id == AV_CODEC_ID_TTA);
  return r;

fail:
  ss_audio_reader_free (r);
  return NULL;
}

guint
ss_audio_reader_get_n_seeks (SsAudioReader *r)
{
  return r->n_seeks;
}

static gboolean
ensure_swr (SsAudioReader *r, AVFrame *f, GError **error)
{
  AVChannelLayout in_layout = { 0 }, out_layout = { 0 };
  int ret;

  if (f->ch_layout.nb_channels <= 0 || f->ch_layout.nb_channels > SS_MEDIA_MAX_CHANNELS ||
      f->sample_rate <= 0 || f->sample_rate > SS_MEDIA_MAX_RATE)
    {
      ss_media_set_error (error, SS_ERROR_INVALID_DATA, r->path, 0, "is damaged: invalid audio parameters");
      return FALSE;
    }
  if (r->swr && r->swr_in_rate == f->sample_rate && r->swr_in_fmt == f->format &&
      av_channel_layout_compare (&r->swr_in_layout, &f->ch_layout) == 0)
    return TRUE;

  swr_free (&r->swr);
  av_channel_layout_uninit (&r->swr_in_layout);
  if (f->ch_layout.order == AV_CHANNEL_ORDER_UNSPEC)
    av_channel_layout_default (&in_layout, f->ch_layout.nb_channels);
  else if (av_channel_layout_copy (&in_layout, &f->ch_layout) < 0)
    goto oom;
  r->in_channels = in_layout.nb_channels;
  /* Mono is played at full level on every output channel, and stereo folds to
   * mono as (L+R)/2; other conversions use swresample's matrix. */
  if (r->in_channels == 1 || (r->in_channels == 2 && r->channels == 1))
    r->swr_channels = r->in_channels;
  else
    r->swr_channels = r->channels;
  av_channel_layout_default (&out_layout, r->swr_channels);
  if (r->swr_channels == r->in_channels)
    {
      av_channel_layout_uninit (&out_layout);
      av_channel_layout_copy (&out_layout, &in_layout);
    }
  ret = swr_alloc_set_opts2 (&r->swr, &out_layout, AV_SAMPLE_FMT_FLT, r->rate,
                             &in_layout, f->format, f->sample_rate, 0, NULL);
  av_channel_layout_uninit (&out_layout);
  if (ret >= 0)
    ret = swr_init (r->swr);
  if (ret < 0)
    {
      av_channel_layout_uninit (&in_layout);
      swr_free (&r->swr);
      ss_media_set_error (error, SS_ERROR_UNSUPPORTED, r->path, ret, "has audio that cannot be converted");
      return FALSE;
    }
  av_channel_layout_uninit (&in_layout);
  if (av_channel_layout_copy (&r->swr_in_layout, &f->ch_layout) < 0)
    goto oom;
  r->swr_in_rate = f->sample_rate;
  r->swr_in_fmt = f->format;
  return TRUE;

oom:
  g_set_error (error, SS_ERROR, SS_ERROR_OUT_OF_MEMORY, "Out of memory");
  return FALSE;
}

static gboolean
buf_reserve (SsAudioReader *r, gsize frames)
{
  if (r->buf_len + frames <= r->buf_cap)
    return TRUE;
  gsize cap = MAX (r->buf_cap * 2, r->buf_len + frames);
  cap = MAX (cap, 4096);
  float *nb = g_try_realloc_n (r->buf, cap, sizeof (float) * (gsize) r->channels);
  if (!nb)
    return FALSE;
  r->buf = nb;
  r->buf_cap = cap;
  return TRUE;
}

/* Converts (or flushes, @f NULL) through swr and appends to buf. */
static gboolean
append_converted (SsAudioReader *r, AVFrame *f, int skip, GError **error)
{
  int in_n = f ? f->nb_samples - skip : 0;
  const uint8_t *in[SS_MEDIA_MAX_CHANNELS] = { NULL };
  int out_max = swr_get_out_samples (r->swr, in_n);
  int got;
  uint8_t *out[1];

  if (out_max < 0)
    out_max = 0;
  out_max += 32;
  if ((gsize) out_max > r->conv_cap)
    {
      float *nc = g_try_realloc_n (r->conv, (gsize) out_max, sizeof (float) * (gsize) MAX (r->swr_channels, r->channels));
      if (!nc)
        goto oom;
      r->conv = nc;
      r->conv_cap = (gsize) out_max;
    }
  out[0] = (uint8_t *) r->conv;
  if (f)
    {
      int bps = av_get_bytes_per_sample (f->format);
      gboolean planar = av_sample_fmt_is_planar (f->format);
      int planes = planar ? f->ch_layout.nb_channels : 1;
      for (int i = 0; i < planes; i++)
        in[i] = f->extended_data[i] + (gsize) skip * bps * (planar ? 1 : f->ch_layout.nb_channels);
    }
  got = swr_convert (r->swr, out, out_max, f ? in : NULL, in_n);
  if (got < 0)
    {
      ss_media_set_error (error, SS_ERROR_INVALID_DATA, r->path, got, "has audio that cannot be converted");
      return FALSE;
    }
  if (got == 0)
    return TRUE;
  if (!buf_reserve (r, (gsize) got))
    goto oom;
  {
    float *dst = r->buf + r->buf_len * (gsize) r->channels;
    const float *src = r->conv;
    int oc = r->channels, sc = r->swr_channels;
    if (sc == oc)
      memcpy (dst, src, (gsize) got * (gsize) oc * sizeof (float));
    else if (sc == 1)
      for (int i = 0; i < got; i++)
        for (int c = 0; c < oc; c++)
          dst[(gsize) i * oc + c] = src[i];
    else /* stereo to mono */
      for (int i = 0; i < got; i++)
        dst[i] = 0.5f * (src[2 * i] + src[2 * i + 1]);
  }
  r->buf_len += (gsize) got;
  return TRUE;

oom:
  g_set_error (error, SS_ERROR, SS_ERROR_OUT_OF_MEMORY, "Out of memory while decoding audio");
  return FALSE;
}

/* Decodes one more frame into buf. Returns FALSE on error; sets eof at the end. */
static gboolean
decode_more (SsAudioReader *r, GError **error)
{
  int errors = 0;

  for (;;)
    {
      int ret = avcodec_receive_frame (r->ctx, r->frame);
      if (ret >= 0)
        {
          gboolean ok;
          if (r->frame->nb_samples <= 0)
            {
              av_frame_unref (r->frame);
              continue;
            }
          if (!ensure_swr (r, r->frame, error))
            {
              av_frame_unref (r->frame);
              return FALSE;
            }
          int skip = 0;
          if (r->need_pos)
            {
              /* pts, not best_effort: only pts follows the decoder's skipping
               * of encoder priming samples */
              int64_t ts = r->frame->pts;
              int in_rate = r->frame->sample_rate;
              int64_t k0, step = in_rate / av_gcd (in_rate, r->rate);
              if (ts == AV_NOPTS_VALUE)
                ts = r->frame->best_effort_timestamp;
              if (ts == AV_NOPTS_VALUE)
                ts = av_rescale_q (r->origin, AV_TIME_BASE_Q, r->st->time_base);
              /* Start position in input samples; with resampling, skip input up
               * to a sample that falls exactly on the output grid so that the
               * output is sample-accurate. */
              k0 = av_rescale_q_rnd (ts - av_rescale_q (r->origin, AV_TIME_BASE_Q, r->st->time_base),
                                     r->st->time_base, (AVRational) { 1, in_rate }, AV_ROUND_NEAR_INF);
              if (r->snap > 0 && in_rate == r->st->codecpar->sample_rate && r->frame->nb_samples == r->snap)
                k0 = r->first_k + (int64_t) llround ((double) (k0 - r->first_k) / r->snap) * r->snap;
              if (step > 1 && step <= in_rate / 10)
                skip = (int) (((-k0) % step + step) % step);
              if (skip >= r->frame->nb_samples)
                {
                  av_frame_unref (r->frame);
                  continue;
                }
              r->buf_pos = av_rescale_rnd (k0 + skip, r->rate, in_rate, AV_ROUND_NEAR_INF);
              r->buf_len = 0;
              r->need_pos = FALSE;
            }
          ok = append_converted (r, r->frame, skip, error);
          av_frame_unref (r->frame);
          return ok;
        }
      if (ret == AVERROR_EOF)
        {
          if (r->swr && !r->need_pos && !append_converted (r, NULL, 0, error))
            return FALSE;
          r->eof = TRUE;
          return TRUE;
        }
      if (ret != AVERROR (EAGAIN) && ++errors > 64)
        {
          ss_media_set_error (error, SS_ERROR_INVALID_DATA, r->path, ret, "is damaged: audio cannot be decoded");
          return FALSE;
        }
      if (r->sent_eof)
        {
          r->eof = TRUE;
          return TRUE;
        }
      if (!ss_media_send_next_packet (r->fmt, r->ctx, r->pkt, r->si, &r->sent_eof, &errors,
                                      r->path, error))
        return FALSE;
    }
}

static void
reset_state (SsAudioReader *r)
{
  avcodec_flush_buffers (r->ctx);
  swr_free (&r->swr);    /* drops the resampler's history */
  av_channel_layout_uninit (&r->swr_in_layout);
  r->buf_len = 0;
  r->sent_eof = r->eof = FALSE;
  r->need_pos = TRUE;
  r->positioned = TRUE;
  r->n_seeks++;
}

/* Positions so that buf starts at or before output sample @want. */
static gboolean
seek_to (SsAudioReader *r, gint64 want, GError **error)
{
  static const SsTime backoff[] = { 0, 500000, 2000000, 10000000 };
  SsTime t = av_rescale_rnd (want, SS_TIME_SECOND, r->rate, AV_ROUND_DOWN);
  /* Lossy decoders and the resampler need some input before their output is
   * exact: start early and trim. */
  SsTime preroll = (r->lossy || r->st->codecpar->sample_rate != r->rate) ? 200000 : 0;

  r->seek_want = want;

  for (guint i = 0; i <= G_N_ELEMENTS (backoff); i++)
    {
      SsTime target = t - preroll - (i < G_N_ELEMENTS (backoff) ? backoff[i] : 0);
      gboolean from_start = i == G_N_ELEMENTS (backoff) || target <= r->first_pts ||
                            (r->inexact_seek && t <= INEXACT_EXACT_LIMIT);
      int ret;

      reset_state (r);
      if (from_start)
        {
          /* a little before the start, so that priming packets (negative
           * timestamps, decoded then skipped) are read too */
          int64_t ts = (r->st->start_time != AV_NOPTS_VALUE ? r->st->start_time : 0) -
                       av_rescale_q (SS_TIME_SECOND, AV_TIME_BASE_Q, r->st->time_base);
          ret = av_seek_frame (r->fmt, r->si, ts, AVSEEK_FLAG_BACKWARD);
          if (ret < 0)
            ret = av_seek_frame (r->fmt, r->si, ts, 0);
          if (ret < 0)
            ret = avformat_seek_file (r->fmt, -1, INT64_MIN, INT64_MIN, INT64_MIN, 0);
          if (ret < 0)
            ret = av_seek_frame (r->fmt, -1, 0, AVSEEK_FLAG_BYTE | AVSEEK_FLAG_BACKWARD);
          if (ret < 0)
            {
              ss_media_set_error (error, SS_ERROR_INVALID_DATA, r->path, ret, "cannot be positioned (seek failed)");
              return FALSE;
            }
        }
      else if (av_seek_frame (r->fmt, r->si, ss_media_time_to_ts (target, r->st->time_base, r->origin),
                              AVSEEK_FLAG_BACKWARD) < 0)
        continue;
      while (!r->eof && r->need_pos)
        if (!decode_more (r, error))
          return FALSE;
      if (from_start || (!r->need_pos && r->buf_pos <= want))
        return TRUE;
    }
  return TRUE;
}

static void
drop_before (SsAudioReader *r, gint64 pos)
{
  if (pos <= r->buf_pos)
    return;
  gint64 d = pos - r->buf_pos;
  if ((guint64) d >= r->buf_len)
    {
      r->buf_pos += (gint64) r->buf_len;
      r->buf_len = 0;
      return;
    }
  memmove (r->buf, r->buf + (gsize) d * r->channels, (r->buf_len - (gsize) d) * r->channels * sizeof (float));
  r->buf_len -= (gsize) d;
  r->buf_pos = pos;
}

gssize
ss_audio_reader_read (SsAudioReader *r, SsTime t, float *out, gsize n_frames, GError **error)
{
  gint64 want, end;
  gsize real = 0;

  g_return_val_if_fail (r != NULL, -1);
  g_return_val_if_fail (out != NULL || n_frames == 0, -1);

  want = av_rescale_rnd (t, r->rate, SS_TIME_SECOND, AV_ROUND_NEAR_INF);
  end = want + (gint64) n_frames;

  if (!r->positioned)
    {
      if (!seek_to (r, want, error))
        return -1;
    }
  else if (r->eof && r->need_pos && want >= r->seek_want)
    ;   /* the stream has no audio after the last seek point: silence */
  else if (r->need_pos || want < r->buf_pos ||
           (!(r->eof && want >= r->buf_pos + (gint64) r->buf_len) &&
            want > r->buf_pos + (gint64) r->buf_len +
                   (r->inexact_seek ? r->rate * (INEXACT_EXACT_LIMIT / SS_TIME_SECOND) : r->rate / 2)))
    {
      if (!seek_to (r, want, error))
        return -1;
    }

  drop_before (r, want);
  while (!r->eof && r->buf_pos + (gint64) r->buf_len < end)
    {
      if (!decode_more (r, error))
        return -1;
      drop_before (r, want);
      if (r->buf_len > (gsize) r->rate * 4 + n_frames)   /* cannot happen with sane data; bound memory */
        break;
    }

  for (gsize i = 0; i < n_frames; i++)
    {
      gint64 s = want + (gint64) i;
      float *o = out + i * (gsize) r->channels;
      if (!r->need_pos && s >= r->buf_pos && s < r->buf_pos + (gint64) r->buf_len)
        {
          memcpy (o, r->buf + (gsize) (s - r->buf_pos) * r->channels, (gsize) r->channels * sizeof (float));
          real = i + 1;
        }
      else
        {
          memset (o, 0, (gsize) r->channels * sizeof (float));
          if (!r->eof)
            real = i + 1;
        }
    }
  return (gssize) real;
}

gboolean
ss_audio_decode_stream (const char *path, int rate, int channels, SsAudioChunkFunc func, gpointer data,
                        GCancellable *cancellable, GError **error)
{
  g_autoptr(SsAudioReader) r = NULL;
  gsize chunk = 16384;
  g_autofree float *buf = NULL;
  SsTime t = 0;

  r = ss_audio_reader_new (path, rate, channels, error);
  if (!r)
    return FALSE;
  buf = g_new (float, chunk * (gsize) channels);
  for (gint64 pos = 0;; pos += (gint64) chunk)
    {
      gssize n;
      if (g_cancellable_set_error_if_cancelled (cancellable, error))
        return FALSE;
      t = av_rescale (pos, SS_TIME_SECOND, rate);
      /* Sequential reads: ask for exactly the next sample position. */
      n = ss_audio_reader_read (r, t, buf, chunk, error);
      if (n < 0)
        return FALSE;
      if (n > 0 && !func (buf, (gsize) n, data, error))
        return FALSE;
      if ((gsize) n < chunk)
        break;
    }
  return TRUE;
}

typedef struct {
  float *samples;
  gsize  n, cap;
  int    channels;
} Collect;

static gboolean
collect_chunk (const float *samples, gsize n_frames, gpointer data, GError **error)
{
  Collect *c = data;

  if (c->n + n_frames > c->cap)
    {
      gsize cap = MAX (c->cap * 2, c->n + n_frames);
      float *nb = g_try_realloc_n (c->samples, cap, sizeof (float) * (gsize) c->channels);
      if (!nb)
        {
          g_set_error (error, SS_ERROR, SS_ERROR_OUT_OF_MEMORY, "Out of memory: the audio is too long to load at once");
          return FALSE;
        }
      c->samples = nb;
      c->cap = cap;
    }
  memcpy (c->samples + c->n * (gsize) c->channels, samples, n_frames * (gsize) c->channels * sizeof (float));
  c->n += n_frames;
  return TRUE;
}

gboolean
ss_audio_decode_all (const char *path, int rate, int channels, float **samples, gsize *n_frames,
                     GCancellable *cancellable, GError **error)
{
  Collect c = { NULL, 0, 0, channels };

  g_return_val_if_fail (samples != NULL && n_frames != NULL, FALSE);
  *samples = NULL;
  *n_frames = 0;
  if (!ss_audio_decode_stream (path, rate, channels, collect_chunk, &c, cancellable, error))
    {
      g_free (c.samples);
      return FALSE;
    }
  if (!c.samples)
    c.samples = g_new0 (float, (gsize) channels);
  *samples = c.samples;
  *n_frames = c.n;
  return TRUE;
}
