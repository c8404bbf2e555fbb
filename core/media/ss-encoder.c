/* ss-encoder.c: RGBA frames + float audio -> H.264/AAC MP4 (and other containers). */
#define G_LOG_DOMAIN "ss-media"

#include <string.h>
#include <errno.h>
#include <glib/gstdio.h>
#include <libswscale/swscale.h>
#include <libswresample/swresample.h>
#include <libavutil/audio_fifo.h>
#include <libavutil/opt.h>
#include "ss-media-private.h"

struct _SsEncoder {
  char              *path, *tmp_path;
  AVFormatContext   *oc;
  AVCodecContext    *vctx, *actx;
  AVStream          *vst, *ast;
  AVFrame           *vframe, *aframe;
  AVPacket          *pkt;
  struct SwsContext *sws;
  SwrContext        *swr;
  AVAudioFifo       *fifo;
  uint8_t          **conv;        /* swr output planes */
  int                conv_cap;
  int                audio_frame_size;
  int64_t            vnext, anext, voff, aoff;
  gboolean           file_open, finished;
  int                channels;
};

typedef struct {
  const char *ext;
  const char *video[3];
  const char *audio[3];
} ContainerDefaults;

static const ContainerDefaults defaults[] = {
  { "mp4",  { "libx264", "mpeg4", NULL },   { "aac", NULL } },
  { "m4v",  { "libx264", "mpeg4", NULL },   { "aac", NULL } },
  { "m4a",  { NULL },                        { "aac", NULL } },
  { "mov",  { "libx264", "mpeg4", NULL },   { "aac", NULL } },
  { "mkv",  { "libx264", "mpeg4", NULL },   { "flac", "aac", NULL } },
  { "webm", { "libvpx", "libvpx-vp9", NULL }, { "libvorbis", "libopus", NULL } },
  { "avi",  { "mpeg4", NULL },               { "pcm_s16le", NULL } },   /* MP3 priming shifts AVI video */
  { "wav",  { NULL },                        { "pcm_s16le", NULL } },
  { "flac", { NULL },                        { "flac", NULL } },
  { "ogg",  { NULL },                        { "libvorbis", "flac", NULL } },
  { "mp3",  { NULL },                        { "libmp3lame", "libshine", NULL } },
};

static const AVCodec *
pick_encoder (const char *requested, const char *const *candidates, enum AVMediaType type)
{
  if (requested)
    {
      const AVCodec *c = avcodec_find_encoder_by_name (requested);
      return c && c->type == type ? c : NULL;
    }
  for (int i = 0; i < 3 && candidates[i]; i++)
    {
      const AVCodec *c = avcodec_find_encoder_by_name (candidates[i]);
      if (c && c->type == type)
        return c;
    }
  return NULL;
}

void
ss_encoder_free (SsEncoder *enc)
{
  if (!enc)
    return;
  if (enc->oc)
    {
      if (enc->file_open)
        avio_closep (&enc->oc->pb);
      avformat_free_context (enc->oc);
    }
  if (!enc->finished && enc->tmp_path)
    g_unlink (enc->tmp_path);
  avcodec_free_context (&enc->vctx);
  avcodec_free_context (&enc->actx);
  av_frame_free (&enc->vframe);
  av_frame_free (&enc->aframe);
  av_packet_free (&enc->pkt);
  sws_freeContext (enc->sws);
  swr_free (&enc->swr);
  if (enc->fifo)
    av_audio_fifo_free (enc->fifo);
  if (enc->conv)
    av_freep (&enc->conv[0]);
  av_freep (&enc->conv);
  g_free (enc->path);
  g_free (enc->tmp_path);
  g_free (enc);
}

static gboolean
open_codec (SsEncoder *enc, AVCodecContext *ctx, const AVCodec *codec, AVDictionary **opts, AVStream **st_out,
            GError **error)
{
  AVStream *st;
  int ret;

  if (enc->oc->oformat->flags & AVFMT_GLOBALHEADER)
    ctx->flags |= AV_CODEC_FLAG_GLOBAL_HEADER;
  ret = avcodec_open2 (ctx, codec, opts);
  if (ret < 0)
    {
      ss_media_set_error (error, SS_ERROR_FAILED, enc->path, ret, "could not be written: the %s encoder failed to start",
                          codec->name);
      return FALSE;
    }
  st = avformat_new_stream (enc->oc, NULL);
  if (!st || avcodec_parameters_from_context (st->codecpar, ctx) < 0)
    {
      g_set_error (error, SS_ERROR, SS_ERROR_OUT_OF_MEMORY, "Out of memory");
      return FALSE;
    }
  st->time_base = ctx->time_base;
  *st_out = st;
  return TRUE;
}

SsEncoder *
ss_encoder_new_full (const char *path, int width, int height, int fps_num, int fps_den, int sample_rate,
                     int channels, const SsEncoderOptions *options, GError **error)
{
  static const SsEncoderOptions no_options = { .max_b_frames = -1 };
  const SsEncoderOptions *o = options ? options : &no_options;
  const ContainerDefaults *def = NULL;
  const char *ext;
  SsEncoder *enc;
  int ret;

  g_return_val_if_fail (path != NULL, NULL);
  g_return_val_if_fail (width >= 0 && height >= 0 && width <= SS_MEDIA_MAX_DIMENSION && height <= SS_MEDIA_MAX_DIMENSION, NULL);
  g_return_val_if_fail (width == 0 || (fps_num > 0 && fps_den > 0), NULL);
  g_return_val_if_fail (sample_rate == 0 || (channels > 0 && channels <= SS_MEDIA_MAX_CHANNELS), NULL);
  g_return_val_if_fail (width > 0 || sample_rate > 0, NULL);

  ss_media_ensure_init ();
  ext = strrchr (path, '.');
  for (guint i = 0; ext && i < G_N_ELEMENTS (defaults); i++)
    if (g_ascii_strcasecmp (ext + 1, defaults[i].ext) == 0)
      def = &defaults[i];
  if (!def)
    {
      ss_media_set_error (error, SS_ERROR_UNSUPPORTED, path, 0,
                          "cannot be written: choose a file ending in .mp4, .mov, .mkv, .webm, .avi, .wav, .flac, .ogg or .mp3");
      return NULL;
    }

  enc = g_new0 (SsEncoder, 1);
  enc->path = g_strdup (path);
  enc->tmp_path = ss_media_temp_path_for (path);
  enc->channels = channels;
  enc->pkt = av_packet_alloc ();
  if (!enc->pkt)
    goto oom;
  ret = avformat_alloc_output_context2 (&enc->oc, NULL, NULL, enc->tmp_path);
  if (ret < 0 || !enc->oc)
    {
      ss_media_set_error (error, SS_ERROR_UNSUPPORTED, path, ret, "cannot be written in this format");
      goto fail;
    }

  if (width > 0)
    {
      const AVCodec *codec = pick_encoder (o->video_codec, def->video, AVMEDIA_TYPE_VIDEO);
      AVDictionary *opts = NULL;
      AVCodecContext *c;
      int gop;
      gboolean ok;

      if (!codec)
        {
          ss_media_set_error (error, SS_ERROR_UNSUPPORTED, path, 0, "cannot be written: no video encoder for this format");
          goto fail;
        }
      c = enc->vctx = avcodec_alloc_context3 (codec);
      if (!c)
        goto oom;
      c->width = width & ~1;
      c->height = height & ~1;
      if (c->width < 2 || c->height < 2)
        c->width = c->height = 2;
      c->time_base = (AVRational) { fps_den, fps_num };
      c->framerate = (AVRational) { fps_num, fps_den };
      c->pix_fmt = AV_PIX_FMT_YUV420P;
      c->sample_aspect_ratio = (AVRational) { 1, 1 };
      c->color_range = AVCOL_RANGE_MPEG;
      c->colorspace = AVCOL_SPC_SMPTE170M;
      c->color_primaries = AVCOL_PRI_SMPTE170M;
      c->color_trc = AVCOL_TRC_SMPTE170M;
      gop = o->gop > 0 ? o->gop : MAX (1, (int) (2.0 * fps_num / fps_den + 0.5));
      c->gop_size = gop;
      if (o->max_b_frames >= 0)
        c->max_b_frames = o->max_b_frames;
      if (g_str_has_prefix (codec->name, "libx264"))
        {
          char crf[16];
          g_snprintf (crf, sizeof crf, "%d", o->crf > 0 ? o->crf : 20);
          av_dict_set (&opts, "preset", o->preset ? o->preset : "veryfast", 0);
          av_dict_set (&opts, "crf", crf, 0);
          c->keyint_min = MIN (gop, 25);
        }
      else if (g_str_has_prefix (codec->name, "libvpx"))
        {
          av_dict_set (&opts, "deadline", "realtime", 0);
          av_dict_set (&opts, "cpu-used", "8", 0);
          av_dict_set (&opts, "crf", "10", 0);
          c->bit_rate = (int64_t) width * height * 4;
          c->qmin = 0;
          c->qmax = 30;
        }
      else
        {
          c->bit_rate = MAX ((int64_t) width * height * fps_num / fps_den / 2, 400000);
          c->qmin = 2;
          c->qmax = 8;
        }
      c->thread_count = 0;
      ok = open_codec (enc, c, codec, &opts, &enc->vst, error);
      av_dict_free (&opts);
      if (!ok)
        goto fail;
      enc->vst->avg_frame_rate = c->framerate;
      enc->vst->r_frame_rate = c->framerate;
      enc->vframe = av_frame_alloc ();
      if (!enc->vframe)
        goto oom;
      enc->vframe->format = c->pix_fmt;
      enc->vframe->width = c->width;
      enc->vframe->height = c->height;
      if (av_frame_get_buffer (enc->vframe, 0) < 0)
        goto oom;
      enc->voff = av_rescale_q (o->start_time, AV_TIME_BASE_Q, c->time_base);
    }

  if (sample_rate > 0)
    {
      const AVCodec *codec = pick_encoder (o->audio_codec, def->audio, AVMEDIA_TYPE_AUDIO);
      AVCodecContext *c;
      enum AVSampleFormat sf = AV_SAMPLE_FMT_NONE;
      static const enum AVSampleFormat prefer[] = { AV_SAMPLE_FMT_FLTP, AV_SAMPLE_FMT_FLT, AV_SAMPLE_FMT_S16,
                                                    AV_SAMPLE_FMT_S16P, AV_SAMPLE_FMT_S32, AV_SAMPLE_FMT_S32P };
      int rate = sample_rate;

      if (!codec)
        {
          ss_media_set_error (error, SS_ERROR_UNSUPPORTED, path, 0, "cannot be written: no audio encoder for this format");
          goto fail;
        }
      c = enc->actx = avcodec_alloc_context3 (codec);
      if (!c)
        goto oom;
      if (codec->sample_fmts)
        {
          for (guint p = 0; p < G_N_ELEMENTS (prefer) && sf == AV_SAMPLE_FMT_NONE; p++)
            for (const enum AVSampleFormat *f = codec->sample_fmts; *f != AV_SAMPLE_FMT_NONE; f++)
              if (*f == prefer[p])
                {
                  sf = *f;
                  break;
                }
          if (sf == AV_SAMPLE_FMT_NONE)
            sf = codec->sample_fmts[0];
        }
      else
        sf = AV_SAMPLE_FMT_FLTP;
      if (codec->supported_samplerates)
        {
          int best = codec->supported_samplerates[0];
          for (const int *r = codec->supported_samplerates; *r; r++)
            {
              if (*r == sample_rate)
                {
                  best = *r;
                  break;
                }
              if (abs (*r - sample_rate) < abs (best - sample_rate))
                best = *r;
            }
          rate = best;
        }
      c->sample_fmt = sf;
      c->sample_rate = rate;
      av_channel_layout_default (&c->ch_layout, channels);
      c->time_base = (AVRational) { 1, rate };
      if (codec->id != AV_CODEC_ID_FLAC && !(codec->id >= AV_CODEC_ID_PCM_S16LE && codec->id < AV_CODEC_ID_ADPCM_IMA_QT))
        c->bit_rate = o->audio_bitrate > 0 ? o->audio_bitrate : 96000 * MIN (channels, 2);
      if (codec->id == AV_CODEC_ID_VORBIS)
        {
          /* quality-based VBR works at every rate and channel count */
          c->bit_rate = 0;
          c->flags |= AV_CODEC_FLAG_QSCALE;
          c->global_quality = 5 * FF_QP2LAMBDA;
        }
      if (codec->id == AV_CODEC_ID_VORBIS || codec->id == AV_CODEC_ID_AAC)
        c->strict_std_compliance = FF_COMPLIANCE_EXPERIMENTAL;
      if (!open_codec (enc, c, codec, NULL, &enc->ast, error))
        goto fail;
      enc->audio_frame_size = (codec->capabilities & AV_CODEC_CAP_VARIABLE_FRAME_SIZE) || c->frame_size <= 0 ?
                              1024 : c->frame_size;
      ret = swr_alloc_set_opts2 (&enc->swr, &c->ch_layout, c->sample_fmt, c->sample_rate,
                                 &c->ch_layout, AV_SAMPLE_FMT_FLT, sample_rate, 0, NULL);
      if (ret < 0 || swr_init (enc->swr) < 0)
        {
          ss_media_set_error (error, SS_ERROR_FAILED, path, ret, "could not be written: audio conversion failed");
          goto fail;
        }
      enc->fifo = av_audio_fifo_alloc (c->sample_fmt, channels, enc->audio_frame_size * 4);
      enc->aframe = av_frame_alloc ();
      if (!enc->fifo || !enc->aframe)
        goto oom;
      enc->aoff = av_rescale_q (o->start_time, AV_TIME_BASE_Q, c->time_base);
    }

  ret = avio_open (&enc->oc->pb, enc->tmp_path, AVIO_FLAG_WRITE);
  if (ret < 0)
    {
      ss_media_set_error (error, SS_ERROR_IO, path, ret, "could not be written");
      goto fail;
    }
  enc->file_open = TRUE;
  ret = avformat_write_header (enc->oc, NULL);
  if (ret < 0)
    {
      ss_media_set_error (error, SS_ERROR_IO, path, ret, "could not be written");
      goto fail;
    }
  return enc;

oom:
  g_set_error (error, SS_ERROR, SS_ERROR_OUT_OF_MEMORY, "Out of memory");
fail:
  ss_encoder_free (enc);
  return NULL;
}

SsEncoder *
ss_encoder_new (const char *path, int width, int height, int fps_num, int fps_den, int sample_rate, int channels,
                GError **error)
{
  return ss_encoder_new_full (path, width, height, fps_num, fps_den, sample_rate, channels, NULL, error);
}

const char *
ss_encoder_get_video_codec (SsEncoder *enc)
{
  return enc->vctx ? enc->vctx->codec->name : NULL;
}

const char *
ss_encoder_get_audio_codec (SsEncoder *enc)
{
  return enc->actx ? enc->actx->codec->name : NULL;
}

/* Sends @frame (NULL: flush) and writes every packet that comes out. */
static gboolean
encode (SsEncoder *enc, AVCodecContext *ctx, AVStream *st, AVFrame *frame, GError **error)
{
  int ret = avcodec_send_frame (ctx, frame);

  if (ret < 0 && ret != AVERROR_EOF)
    {
      ss_media_set_error (error, SS_ERROR_FAILED, enc->path, ret, "could not be written: encoding failed");
      return FALSE;
    }
  for (;;)
    {
      ret = avcodec_receive_packet (ctx, enc->pkt);
      if (ret == AVERROR (EAGAIN) || ret == AVERROR_EOF)
        return TRUE;
      if (ret < 0)
        {
          ss_media_set_error (error, SS_ERROR_FAILED, enc->path, ret, "could not be written: encoding failed");
          return FALSE;
        }
      if (enc->pkt->duration <= 0 && ctx == enc->vctx)
        enc->pkt->duration = 1;   /* one frame in the codec's 1/fps time base */
      av_packet_rescale_ts (enc->pkt, ctx->time_base, st->time_base);
      enc->pkt->stream_index = st->index;
      ret = av_interleaved_write_frame (enc->oc, enc->pkt);
      av_packet_unref (enc->pkt);
      if (ret < 0)
        {
          ss_media_set_error (error, SS_ERROR_IO, enc->path, ret, "could not be written");
          return FALSE;
        }
    }
}

static gboolean write_video (SsEncoder *enc, const SsFrame *frame, int64_t pts, GError **error);

gboolean
ss_encoder_write_video (SsEncoder *enc, const SsFrame *frame, GError **error)
{
  g_return_val_if_fail (enc != NULL && frame != NULL, FALSE);
  return write_video (enc, frame, enc->vnext, error);
}

gboolean
ss_encoder_write_video_at (SsEncoder *enc, const SsFrame *frame, SsTime pts, GError **error)
{
  int64_t p;

  g_return_val_if_fail (enc != NULL && frame != NULL && enc->vctx != NULL, FALSE);
  p = av_rescale_q_rnd (pts, AV_TIME_BASE_Q, enc->vctx->time_base, AV_ROUND_NEAR_INF);
  g_return_val_if_fail (p >= enc->vnext, FALSE);
  return write_video (enc, frame, p, error);
}

static gboolean
write_video (SsEncoder *enc, const SsFrame *frame, int64_t pts, GError **error)
{
  const uint8_t *src[4] = { frame->data, NULL, NULL, NULL };
  int src_stride[4] = { frame->stride, 0, 0, 0 };

  g_return_val_if_fail (enc != NULL && frame != NULL, FALSE);
  g_return_val_if_fail (enc->vctx != NULL && !enc->finished, FALSE);

  enc->sws = sws_getCachedContext (enc->sws, frame->width, frame->height, AV_PIX_FMT_RGBA,
                                   enc->vctx->width, enc->vctx->height, enc->vctx->pix_fmt,
                                   SWS_BICUBIC | SWS_ACCURATE_RND, NULL, NULL, NULL);
  if (!enc->sws || av_frame_make_writable (enc->vframe) < 0)
    {
      g_set_error (error, SS_ERROR, SS_ERROR_OUT_OF_MEMORY, "Out of memory");
      return FALSE;
    }
  sws_scale (enc->sws, src, src_stride, 0, frame->height, enc->vframe->data, enc->vframe->linesize);
  enc->vframe->pts = enc->voff + pts;
  enc->vnext = pts + 1;
  return encode (enc, enc->vctx, enc->vst, enc->vframe, error);
}

static gboolean
drain_fifo (SsEncoder *enc, gboolean final, GError **error)
{
  while (av_audio_fifo_size (enc->fifo) >= enc->audio_frame_size ||
         (final && av_audio_fifo_size (enc->fifo) > 0))
    {
      int n = MIN (av_audio_fifo_size (enc->fifo), enc->audio_frame_size);
      av_frame_unref (enc->aframe);
      enc->aframe->nb_samples = n;
      enc->aframe->format = enc->actx->sample_fmt;
      enc->aframe->sample_rate = enc->actx->sample_rate;
      if (av_channel_layout_copy (&enc->aframe->ch_layout, &enc->actx->ch_layout) < 0 ||
          av_frame_get_buffer (enc->aframe, 0) < 0)
        {
          g_set_error (error, SS_ERROR, SS_ERROR_OUT_OF_MEMORY, "Out of memory");
          return FALSE;
        }
      if (av_audio_fifo_read (enc->fifo, (void **) enc->aframe->data, n) != n)
        {
          g_set_error (error, SS_ERROR, SS_ERROR_FAILED, "Audio buffering failed");
          return FALSE;
        }
      enc->aframe->pts = enc->aoff + enc->anext;
      enc->anext += n;
      if (!encode (enc, enc->actx, enc->ast, enc->aframe, error))
        return FALSE;
    }
  return TRUE;
}

static gboolean
push_audio (SsEncoder *enc, const float *interleaved, gsize n_frames, GError **error)
{
  int out_max = swr_get_out_samples (enc->swr, (int) n_frames);
  const uint8_t *in[1] = { (const uint8_t *) interleaved };
  int got;

  if (out_max < 0)
    out_max = 0;
  out_max += 64;
  if (out_max > enc->conv_cap)
    {
      if (enc->conv)
        av_freep (&enc->conv[0]);
      av_freep (&enc->conv);
      if (av_samples_alloc_array_and_samples (&enc->conv, NULL, enc->channels, out_max, enc->actx->sample_fmt, 0) < 0)
        {
          enc->conv_cap = 0;
          g_set_error (error, SS_ERROR, SS_ERROR_OUT_OF_MEMORY, "Out of memory");
          return FALSE;
        }
      enc->conv_cap = out_max;
    }
  got = swr_convert (enc->swr, enc->conv, out_max, interleaved ? in : NULL, (int) n_frames);
  if (got < 0)
    {
      ss_media_set_error (error, SS_ERROR_FAILED, enc->path, got, "could not be written: audio conversion failed");
      return FALSE;
    }
  if (got > 0 && av_audio_fifo_write (enc->fifo, (void **) enc->conv, got) != got)
    {
      g_set_error (error, SS_ERROR, SS_ERROR_OUT_OF_MEMORY, "Out of memory");
      return FALSE;
    }
  return TRUE;
}

gboolean
ss_encoder_write_audio (SsEncoder *enc, const float *interleaved, gsize n_frames, GError **error)
{
  g_return_val_if_fail (enc != NULL && enc->actx != NULL && !enc->finished, FALSE);
  g_return_val_if_fail (interleaved != NULL || n_frames == 0, FALSE);

  for (gsize done = 0; done < n_frames;)
    {
      gsize n = MIN (n_frames - done, 8192);
      if (!push_audio (enc, interleaved + done * (gsize) enc->channels, n, error) || !drain_fifo (enc, FALSE, error))
        return FALSE;
      done += n;
    }
  return TRUE;
}

gboolean
ss_encoder_finish (SsEncoder *enc, GError **error)
{
  int ret;

  g_return_val_if_fail (enc != NULL && !enc->finished, FALSE);

  if (enc->vctx && !encode (enc, enc->vctx, enc->vst, NULL, error))
    return FALSE;
  if (enc->actx)
    {
      if (swr_get_delay (enc->swr, enc->actx->sample_rate) > 0 && !push_audio (enc, NULL, 0, error))
        return FALSE;
      if (!drain_fifo (enc, TRUE, error) || !encode (enc, enc->actx, enc->ast, NULL, error))
        return FALSE;
    }
  ret = av_write_trailer (enc->oc);
  if (ret < 0)
    {
      ss_media_set_error (error, SS_ERROR_IO, enc->path, ret, "could not be written");
      return FALSE;
    }
  avio_flush (enc->oc->pb);
  ret = avio_closep (&enc->oc->pb);
  enc->file_open = FALSE;
  if (ret < 0)
    {
      ss_media_set_error (error, SS_ERROR_IO, enc->path, ret, "could not be written");
      return FALSE;
    }
  if (g_rename (enc->tmp_path, enc->path) != 0)
    {
      ss_media_set_error (error, SS_ERROR_IO, enc->path, 0, "could not be written: %s", g_strerror (errno));
      return FALSE;
    }
  enc->finished = TRUE;
  return TRUE;
}
