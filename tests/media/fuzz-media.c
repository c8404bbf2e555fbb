/* Fuzz target: arbitrary bytes as a media file through probe, video decode with
 * seeks, audio read, waveform-style decode and the WAV reader. Must never crash,
 * hang or leak; errors are expected. */
#include <stdint.h>
#include <unistd.h>
#include <glib/gstdio.h>
#include <libavutil/log.h>
#include "media/ss-media.h"

static char *path;

static void
setup (void)
{
  if (path)
    return;
  av_log_set_level (AV_LOG_QUIET);
  path = g_strdup_printf ("%s/ss-fuzz-media-%d.bin", g_get_tmp_dir (), (int) getpid ());
}

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  SsMedia m;
  GError *error = NULL;

  setup ();
  if (size > 4 * 1024 * 1024)
    return 0;
  if (!g_file_set_contents (path, (const char *) data, (gssize) size, NULL))
    return 0;

  if (ss_media_probe (path, &m, &error))
    ss_media_clear (&m);
  g_clear_error (&error);

  {
    SsVideoDecoder *dec = ss_video_decoder_new (path, &error);
    g_clear_error (&error);
    if (dec)
      {
        static const gint64 order[] = { 3, 0, 7, 1, 2 };
        ss_video_decoder_set_output_size (dec, 48, 48);
        for (guint i = 0; i < G_N_ELEMENTS (order); i++)
          {
            SsFrame *f = ss_video_decoder_get_frame_index (dec, order[i], &error);
            g_clear_error (&error);
            if (f)
              {
                g_assert (f->width > 0 && f->width <= 48 && f->height > 0 && f->height <= 48);
                ss_frame_unref (f);
              }
          }
        ss_video_decoder_free (dec);
      }
  }
  {
    SsAudioReader *r = ss_audio_reader_new (path, 8000, 2, &error);
    g_clear_error (&error);
    if (r)
      {
        float buf[2 * 400];
        ss_audio_reader_read (r, 100 * SS_TIME_MS, buf, 400, &error);
        g_clear_error (&error);
        ss_audio_reader_read (r, 0, buf, 400, &error);
        g_clear_error (&error);
        ss_audio_reader_read (r, 50 * SS_TIME_MS, buf, 400, &error);
        g_clear_error (&error);
        ss_audio_reader_free (r);
      }
  }
  {
    float *samples = NULL;
    gsize n = 0;
    int rate, ch;
    if (ss_wav_read (path, &samples, &n, &rate, &ch, &error))
      g_free (samples);
    g_clear_error (&error);
  }
  g_unlink (path);
  return 0;
}
