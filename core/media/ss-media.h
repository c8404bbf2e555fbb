/* ss-media.h: everything FFmpeg: probing, frame-accurate video decode, audio decode
 * and resampling, thumbnails, waveforms, encoding.
 *
 * All functions are safe to call from worker threads; one decoder object must be
 * used by one thread at a time. Errors are GErrors in SS_ERROR with messages a
 * person understands ("“clip.mp4” is not a video or audio file the editor can read").
 */
#pragma once

#include <gio/gio.h>
#include "ss-types.h"
#include "project/ss-project.h"

G_BEGIN_DECLS

/* Fills @info (id left NULL, path set to the absolute path) from the file. */
gboolean  ss_media_probe (const char *path, SsMedia *info, GError **error);
void      ss_media_clear (SsMedia *info);   /* frees the strings of an SsMedia */

/* A decoded video frame, RGBA 8-bit, rows of @stride bytes. */
typedef struct {
  int     width, height, stride;
  SsTime  pts;            /* presentation time of this frame in the media */
  gint64  index;          /* frame number (pts * fps, rounded) */
  guint8 *data;
  gint    ref_count;
} SsFrame;

SsFrame  *ss_frame_new   (int width, int height);
SsFrame  *ss_frame_ref   (SsFrame *frame);
void      ss_frame_unref (SsFrame *frame);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (SsFrame, ss_frame_unref)

typedef struct _SsVideoDecoder SsVideoDecoder;
SsVideoDecoder *ss_video_decoder_new   (const char *path, GError **error);
void            ss_video_decoder_free  (SsVideoDecoder *dec);
/* 0 keeps the source size; otherwise frames are scaled to fit (aspect kept). */
void            ss_video_decoder_set_output_size (SsVideoDecoder *dec, int max_width, int max_height);
void            ss_video_decoder_get_fps (SsVideoDecoder *dec, int *num, int *den);
/* The frame displayed at media time @t: seeks to the previous keyframe and
 * decodes forward (frame-accurate, not keyframe-snapped). Sequential calls with
 * increasing @t decode forward without seeking. */
SsFrame        *ss_video_decoder_get_frame (SsVideoDecoder *dec, SsTime t, GError **error);
/* Frame number @n (0-based; frame 0 is the first frame of the video stream,
 * SsFrame.index = round((pts - start) * fps)). */
SsFrame        *ss_video_decoder_get_frame_index (SsVideoDecoder *dec, gint64 n, GError **error);
/* Media time of the first video frame (usually 0; media time 0 is the
 * container's start, shared with the audio so that they stay in sync). */
SsTime          ss_video_decoder_get_start (SsVideoDecoder *dec);
/* Duration of the file (0 when unknown) and display size (sample aspect applied). */
SsTime          ss_video_decoder_get_duration (SsVideoDecoder *dec);
void            ss_video_decoder_get_size (SsVideoDecoder *dec, int *width, int *height);
/* Number of container seeks done so far (for tests and benchmarks). */
guint           ss_video_decoder_get_n_seeks (SsVideoDecoder *dec);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (SsVideoDecoder, ss_video_decoder_free)

/* Audio, resampled to float32 interleaved at @rate Hz with @channels channels. */
typedef struct _SsAudioReader SsAudioReader;
SsAudioReader  *ss_audio_reader_new    (const char *path, int rate, int channels, GError **error);
void            ss_audio_reader_free   (SsAudioReader *r);
/* Reads @n_frames starting at media time @t into @out (n_frames*channels floats);
 * frames past the end are zero. Returns frames of real audio written, -1 on error. */
gssize          ss_audio_reader_read   (SsAudioReader *r, SsTime t, float *out, gsize n_frames, GError **error);
guint           ss_audio_reader_get_n_seeks (SsAudioReader *r);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (SsAudioReader, ss_audio_reader_free)

/* Decodes the whole audio stream (for analysis/models). */
gboolean  ss_audio_decode_all (const char *path, int rate, int channels, float **samples,
                               gsize *n_frames, GCancellable *cancellable, GError **error);

/* Waveform peaks: min/max per bucket of the channel mix (mono), bucket i covering
 * media time [i, i+1) / buckets_per_second. Cached on disk by (path, size, mtime)
 * in g_get_user_cache_dir()/soundstage/waveforms; a damaged cache file is ignored. */
typedef struct {
  double  buckets_per_second;
  gsize   n_buckets;
  float  *min, *max;
} SsWaveform;
SsWaveform *ss_waveform_compute (const char *path, double buckets_per_second,
                                 GCancellable *cancellable, GError **error);
void        ss_waveform_free    (SsWaveform *w);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (SsWaveform, ss_waveform_free)

/* Thumbnail strip: one small frame every @interval of media time, @height pixels
 * high (width follows the aspect), n = ceil(duration / interval). Cached too. */
typedef struct {
  SsTime     interval;
  GPtrArray *frames;   /* of SsFrame* */
} SsThumbnails;
SsThumbnails *ss_thumbnails_compute (const char *path, SsTime interval, int height,
                                     GCancellable *cancellable, GError **error);
void          ss_thumbnails_free    (SsThumbnails *t);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (SsThumbnails, ss_thumbnails_free)

/* WAV (float32 or s16 PCM) writing, used for stems and tests. The file is written
 * beside @path under a temporary name and renamed over @path when complete. */
gboolean ss_wav_write (const char *path, const float *interleaved, gsize n_frames,
                       int rate, int channels, GError **error);
/* Streaming float32 WAV writer (long stems). Free without finish removes the
 * partial file; nothing exists at @path until finish succeeds. */
typedef struct _SsWavWriter SsWavWriter;
SsWavWriter *ss_wav_writer_new    (const char *path, int rate, int channels, GError **error);
gboolean     ss_wav_writer_write  (SsWavWriter *w, const float *interleaved, gsize n_frames, GError **error);
gboolean     ss_wav_writer_finish (SsWavWriter *w, GError **error);
void         ss_wav_writer_free   (SsWavWriter *w);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (SsWavWriter, ss_wav_writer_free)
/* Reads a PCM (8/16/24/32-bit) or float (32/64-bit) WAV into float interleaved. */
gboolean ss_wav_read  (const char *path, float **interleaved, gsize *n_frames,
                       int *rate, int *channels, GError **error);

/* Encoder: H.264/AAC in MP4 (or any container by extension: .mkv H.264/FLAC,
 * .mov H.264/AAC, .webm VP8/Vorbis, .avi MPEG-4/PCM, .wav/.flac/.ogg/.mp3 audio).
 * Frames are RGBA; a frame of another size is scaled. @width 0: no video;
 * @sample_rate 0: no audio. Writes to a temporary file beside @path, renamed to
 * @path by finish; free without finish (failure, cancel) removes it. */
typedef struct _SsEncoder SsEncoder;
SsEncoder *ss_encoder_new (const char *path, int width, int height, int fps_num, int fps_den,
                           int sample_rate, int channels, GError **error);
typedef struct {
  const char *video_codec;   /* encoder name, NULL: container default */
  const char *audio_codec;
  int         gop;           /* keyframe interval in frames, 0: 2 s */
  int         max_b_frames;  /* -1: codec default */
  int         crf;           /* 0: default quality (H.264 CRF 20) */
  const char *preset;        /* x264 preset, NULL: "veryfast" */
  SsTime      start_time;    /* timestamp of the first frame/sample (tests) */
  int         audio_bitrate; /* 0: 192 kb/s for lossy codecs */
} SsEncoderOptions;
SsEncoder *ss_encoder_new_full (const char *path, int width, int height, int fps_num, int fps_den,
                                int sample_rate, int channels, const SsEncoderOptions *options,
                                GError **error);
/* Names of the codecs in use (e.g. "libx264", "aac"); NULL for a missing stream. */
const char *ss_encoder_get_video_codec (SsEncoder *enc);
const char *ss_encoder_get_audio_codec (SsEncoder *enc);
gboolean   ss_encoder_write_video (SsEncoder *enc, const SsFrame *frame, GError **error);
/* Variable frame rate: the frame is shown from @pts (µs, increasing, on the
 * codec's 1/fps grid: pass fps 1000/1 for millisecond timing). */
gboolean   ss_encoder_write_video_at (SsEncoder *enc, const SsFrame *frame, SsTime pts, GError **error);
gboolean   ss_encoder_write_audio (SsEncoder *enc, const float *interleaved, gsize n_frames, GError **error);
gboolean   ss_encoder_finish      (SsEncoder *enc, GError **error);
void       ss_encoder_free        (SsEncoder *enc);  /* without finish: removes the partial file */
G_DEFINE_AUTOPTR_CLEANUP_FUNC (SsEncoder, ss_encoder_free)

G_END_DECLS
