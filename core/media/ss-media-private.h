/* ss-media-private.h: helpers shared by the FFmpeg code of core/media. */
#pragma once

#include <libavformat/avformat.h>
#include <libavcodec/avcodec.h>
#include <libavutil/avutil.h>
#include "ss-media.h"

G_BEGIN_DECLS

/* Largest frame we agree to decode (bounds allocations on hostile input). */
#define SS_MEDIA_MAX_DIMENSION 16384
#define SS_MEDIA_MAX_PIXELS    (8192 * 8192)
#define SS_MEDIA_MAX_CHANNELS  64
#define SS_MEDIA_MAX_RATE      768000

/* One-time FFmpeg setup (log level). Called by every entry point that opens files. */
void             ss_media_ensure_init   (void);
/* The file's base name for messages, valid UTF-8. */
char            *ss_media_display_name  (const char *path);
/* Sets a GError naming the file, with FFmpeg's reason appended when @averr < 0. */
void             ss_media_set_error     (GError **error, SsError code, const char *path, int averr,
                                         const char *format, ...) G_GNUC_PRINTF (5, 6);
/* Opens and analyses a media file with the demuxers the editor accepts.
 * Errors: NOT_FOUND, INVALID_DATA (not media / damaged), IO. */
AVFormatContext *ss_media_open_input    (const char *path, GError **error);
/* Index of the best decodable stream of @type (attached pictures skipped), or -1. */
int              ss_media_find_stream   (AVFormatContext *fmt, enum AVMediaType type);
/* Opens a decoder for stream @index. */
AVCodecContext  *ss_media_open_decoder  (AVFormatContext *fmt, int index, const char *path, GError **error);
/* Opens @path for decoding its best stream of @type (audio or video): sets
 * *@fmt (also on failure once opened: the caller closes it) and *@index,
 * discards the other streams and returns the opened decoder, or NULL.
 * Errors: those of ss_media_open_input and ss_media_open_decoder, UNSUPPORTED
 * when the file has no such stream. */
AVCodecContext  *ss_media_open_stream   (const char *path, enum AVMediaType type, AVFormatContext **fmt,
                                         int *index, GError **error);
/* Sends @ctx the next packet of stream @index read with @pkt, or the end of
 * the stream once the file ends (setting *@sent_eof). Send errors are counted
 * in *@errors; returns FALSE with @error past 64 of them or when the file
 * cannot be read. */
gboolean         ss_media_send_next_packet (AVFormatContext *fmt, AVCodecContext *ctx, AVPacket *pkt,
                                            int index, gboolean *sent_eof, int *errors, const char *path,
                                            GError **error);
/* Frame rate of a video stream (average, else real base rate, else 25/1). */
void             ss_media_stream_fps    (AVStream *s, int *num, int *den);
/* Media time origin: the container's start time in µs (0 when unknown). */
SsTime           ss_media_origin        (AVFormatContext *fmt);
/* Converts a timestamp in @tb to media time (µs relative to @origin). */
SsTime           ss_media_ts_to_time    (int64_t ts, AVRational tb, SsTime origin);
int64_t          ss_media_time_to_ts    (SsTime t, AVRational tb, SsTime origin);

/* Streaming audio decode: calls @func with chunks of float interleaved samples.
 * @func returns FALSE to stop (then the function returns FALSE with @error unset
 * unless the callback set it). */
typedef gboolean (*SsAudioChunkFunc) (const float *samples, gsize n_frames, gpointer data, GError **error);
gboolean         ss_audio_decode_stream (const char *path, int rate, int channels, SsAudioChunkFunc func,
                                         gpointer data, GCancellable *cancellable, GError **error);

/* Disk cache (user cache dir/soundstage/<kind>/). Keys derive from the file's
 * absolute path, size and mtime plus @params. */
char            *ss_media_cache_key     (const char *path, const char *params);
GBytes          *ss_media_cache_load    (const char *kind, const char *key, guint32 version);
gboolean         ss_media_cache_store   (const char *kind, const char *key, guint32 version,
                                         const void *payload, gsize len);
/* Number of successful cache loads in this process (tests). */
guint            ss_media_cache_get_hits (void);
char            *ss_media_cache_path    (const char *kind, const char *key);

/* Writes to a temporary file beside @path, renamed over @path on success. */
char            *ss_media_temp_path_for (const char *path);

G_END_DECLS
