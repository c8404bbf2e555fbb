/* Decode accuracy: every frame asked for, after seeks in any order, is the
 * frame the user expects; audio samples match the generated tone. */
#include <math.h>
#include <string.h>
#include "ss-test-pattern.h"

static char *tmpdir;

static char *
make_clip (const char *name, SsTestPattern *p)
{
  g_autoptr(GError) error = NULL;
  char *path = g_build_filename (tmpdir, name, NULL);
  if (!g_file_test (path, G_FILE_TEST_EXISTS))
    {
      ss_test_pattern_write (path, p, &error);
      g_assert_no_error (error);
    }
  return path;
}

/* Random access in random order, forward and backward, by time and by index. */
static void
check_random_access (const char *path, int n_frames, int fps_num, int fps_den)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(SsVideoDecoder) dec = ss_video_decoder_new (path, &error);
  GRand *rand = g_rand_new_with_seed (1234);
  int num, den;

  g_assert_no_error (error);
  ss_video_decoder_get_fps (dec, &num, &den);
  g_assert_cmpint ((gint64) num * fps_den, ==, (gint64) fps_num * den);
  for (int i = 0; i < 80; i++)
    {
      gint64 n = g_rand_int_range (rand, 0, n_frames);
      g_autoptr(SsFrame) f = NULL;
      if (i % 2)
        {
          /* any time inside frame n shows frame n */
          SsTime start = ss_video_decoder_get_start (dec) + (SsTime) ceil ((double) n * fps_den * SS_TIME_SECOND / fps_num);
          SsTime end = ss_video_decoder_get_start (dec) + (SsTime) floor ((double) (n + 1) * fps_den * SS_TIME_SECOND / fps_num) - 1;
          SsTime t = start + (SsTime) g_rand_int_range (rand, 0, (gint32) (end - start + 1));
          f = ss_video_decoder_get_frame (dec, t, &error);
        }
      else
        f = ss_video_decoder_get_frame_index (dec, n, &error);
      g_assert_no_error (error);
      g_assert_nonnull (f);
      g_assert_cmpint (ss_test_pattern_read (f), ==, n);
      g_assert_cmpint (f->index, ==, n);
    }
  g_rand_free (rand);
}

static void
check_sequential (const char *path, int n_frames)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(SsVideoDecoder) dec = ss_video_decoder_new (path, &error);
  guint seeks;

  g_assert_no_error (error);
  {
    g_autoptr(SsFrame) f = ss_video_decoder_get_frame_index (dec, 0, &error);
    g_assert_no_error (error);
    g_assert_cmpint (ss_test_pattern_read (f), ==, 0);
  }
  seeks = ss_video_decoder_get_n_seeks (dec);
  for (int n = 1; n < n_frames; n++)
    {
      g_autoptr(SsFrame) f = ss_video_decoder_get_frame_index (dec, n, &error);
      g_assert_no_error (error);
      g_assert_cmpint (ss_test_pattern_read (f), ==, n);
    }
  /* playback decodes forward: no re-seeking */
  g_assert_cmpuint (ss_video_decoder_get_n_seeks (dec), ==, seeks);
  /* past the end: the last frame stays */
  {
    g_autoptr(SsFrame) f = ss_video_decoder_get_frame (dec, 3600 * SS_TIME_SECOND, &error);
    g_assert_no_error (error);
    g_assert_cmpint (ss_test_pattern_read (f), ==, n_frames - 1);
  }
}

static void
test_h264_mp4_bframes (void)
{
  SsTestPattern p;
  g_autofree char *path = NULL;

  ss_test_pattern_init (&p);
  p.n_frames = 75;
  p.gop = 12;
  p.max_b_frames = 3;
  path = make_clip ("bframes.mp4", &p);
  check_random_access (path, p.n_frames, 25, 1);
  check_sequential (path, p.n_frames);
}

static void
test_start_offset_mkv (void)
{
  SsTestPattern p;
  g_autofree char *path = NULL;

  ss_test_pattern_init (&p);
  p.n_frames = 40;
  p.gop = 10;
  p.start_time = 700 * SS_TIME_MS;   /* first pts is not 0 */
  path = make_clip ("offset.mkv", &p);
  check_random_access (path, p.n_frames, 25, 1);
  check_sequential (path, p.n_frames);
}

static void
test_ntsc_rate (void)
{
  SsTestPattern p;
  g_autofree char *path = NULL;

  ss_test_pattern_init (&p);
  p.fps_num = 30000;
  p.fps_den = 1001;
  p.n_frames = 45;
  p.gop = 15;
  p.sample_rate = 0;
  path = make_clip ("ntsc.mov", &p);
  check_random_access (path, p.n_frames, 30000, 1001);
}

static void
test_long_gop_sparse_keyframes (void)
{
  SsTestPattern p;
  g_autofree char *path = NULL;

  ss_test_pattern_init (&p);
  p.width = 160;
  p.height = 120;
  p.n_frames = 200;
  p.gop = 100;
  p.sample_rate = 0;
  path = make_clip ("longgop.mp4", &p);
  check_random_access (path, p.n_frames, 25, 1);
}

static void
test_other_codecs (void)
{
  const struct { const char *name, *vcodec; } cases[] = {
    { "vp8.webm", NULL }, { "mpeg4.avi", NULL }, { "mpeg4.mkv", "mpeg4" },
  };
  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      SsTestPattern p;
      g_autofree char *path = NULL;
      ss_test_pattern_init (&p);
      p.n_frames = 30;
      p.gop = 10;
      p.video_codec = cases[i].vcodec;
      path = make_clip (cases[i].name, &p);
      check_random_access (path, p.n_frames, 25, 1);
    }
}

static void
test_vfr (void)
{
  SsTestPattern p;
  g_autofree char *path = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(SsVideoDecoder) dec = NULL;
  SsTime pts[30];
  SsTime t = 0;

  for (int i = 0; i < 30; i++)
    {
      pts[i] = t;
      t += (i % 3 == 0) ? 80 * SS_TIME_MS : 20 * SS_TIME_MS;   /* irregular frame durations */
    }
  ss_test_pattern_init (&p);
  p.fps_num = 1000;
  p.fps_den = 1;
  p.n_frames = 30;
  p.vfr_pts = pts;
  p.gop = 8;
  p.sample_rate = 0;
  path = make_clip ("vfr.mkv", &p);
  dec = ss_video_decoder_new (path, &error);
  g_assert_no_error (error);
  /* backwards, then forwards, probing the start, middle and end of each frame */
  for (int pass = 0; pass < 2; pass++)
    for (int k = 0; k < 30; k++)
      {
        int i = pass == 0 ? 29 - k : k;
        SsTime end = i + 1 < 30 ? pts[i + 1] : pts[i] + 20 * SS_TIME_MS;
        SsTime probes[3] = { pts[i], (pts[i] + end) / 2, end - 1 };
        for (int j = 0; j < 3; j++)
          {
            g_autoptr(SsFrame) f = ss_video_decoder_get_frame (dec, probes[j], &error);
            g_assert_no_error (error);
            g_assert_cmpint (ss_test_pattern_read (f), ==, i);
            g_assert_cmpint (f->pts, ==, pts[i]);
          }
      }
}

static void
test_scaled_output (void)
{
  SsTestPattern p;
  g_autofree char *path = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(SsVideoDecoder) dec = NULL;
  g_autoptr(SsFrame) f = NULL;

  ss_test_pattern_init (&p);
  p.n_frames = 10;
  path = make_clip ("scale.mp4", &p);
  dec = ss_video_decoder_new (path, &error);
  g_assert_no_error (error);
  ss_video_decoder_set_output_size (dec, 160, 160);
  f = ss_video_decoder_get_frame_index (dec, 7, &error);
  g_assert_no_error (error);
  g_assert_cmpint (f->width, ==, 160);
  g_assert_cmpint (f->height, ==, 120);   /* 4:3 kept */
  g_assert_cmpint (f->stride, >=, 160 * 4);
  g_assert_cmpint (ss_test_pattern_read (f), ==, 7);
}

/* ---- audio ---- */

static int max_lag;   /* 0: the tone must be in phase (every case) */

static void
check_tone (SsAudioReader *r, const SsTestPattern *p, int rate, int channels, double t0, gsize n,
            double tol, double total)
{
  g_autoptr(GError) error = NULL;
  g_autofree float *buf = g_new (float, n * channels);
  SsTime t_us = ss_time_from_seconds (t0);
  gssize got = ss_audio_reader_read (r, t_us, buf, n, &error);
  double maxerr = 0, sumsq = 0;
  gsize count = 0;
  gboolean lossy = tol > 0.001;   /* lossy codecs: RMS error; lossless: every sample */

  /* the reader starts at the sample nearest to t */
  t0 = (double) ((t_us * rate + SS_TIME_SECOND / 2) / SS_TIME_SECOND) / rate;

  g_assert_no_error (error);
  g_assert_cmpint (got, >=, 0);
  for (int lag = lossy ? -max_lag : 0; lag <= (lossy ? max_lag : 0); lag++)
    {
      double lag_max = 0, lag_sq = 0;
      gsize lag_count = 0;
      for (gsize i = 0; i < n; i++)
        for (int c = 0; c < channels; c++)
          {
            double t = t0 + (double) (i + lag) / rate;
            double want = t < total ? ss_test_pattern_sample (p, t, channels == 1 ? 0 : c) : 0.0;
            if (channels == 1 && p->channels == 2)
              want = t < total ? 0.5 * (ss_test_pattern_sample (p, t, 0) + ss_test_pattern_sample (p, t, 1)) : 0.0;
            if (fabs (t - total) < 0.01)
              continue;   /* resampler edge */
            lag_max = MAX (lag_max, fabs (buf[i * channels + c] - want));
            lag_sq += (buf[i * channels + c] - want) * (buf[i * channels + c] - want);
            lag_count++;
          }
      if (lag == (lossy ? -max_lag : 0) || lag_sq < sumsq)
        {
          maxerr = lag_max;
          sumsq = lag_sq;
          count = lag_count;
        }
    }
  if (lossy)
    maxerr = count ? sqrt (sumsq / count) : 0;
  if (maxerr > tol)
    g_error ("audio at %.4f s: max error %.5f > %.5f", t0, maxerr, tol);
}

static void
run_audio_checks (const char *path, const SsTestPattern *p, int rate, int channels, double tol)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(SsAudioReader) r = ss_audio_reader_new (path, rate, channels, &error);
  GRand *rand = g_rand_new_with_seed (99);
  double total = p->duration;

  g_assert_no_error (error);
  /* random access in random order */
  for (int i = 0; i < 30; i++)
    {
      double t = g_rand_double_range (rand, 0.0, total - 0.05);
      check_tone (r, p, rate, channels, t, 1000 + g_rand_int_range (rand, 0, 2000), tol, total);
    }
  /* sequential small reads (the playback pattern) */
  {
    guint seeks = ss_audio_reader_get_n_seeks (r);
    for (int i = 0; i < 50; i++)
      check_tone (r, p, rate, channels, 0.3 + i * 256.0 / rate, 256, tol, total);
    g_assert_cmpuint (ss_audio_reader_get_n_seeks (r), <=, seeks + 1);
  }
  /* across and after the end: zeros */
  check_tone (r, p, rate, channels, total - 0.1, 4800 * 2, tol, total);
  check_tone (r, p, rate, channels, total + 5.0, 512, 0.0, total);
  g_rand_free (rand);
}

static void
test_audio_flac_exact (void)
{
  SsTestPattern p;
  g_autofree char *path = NULL;

  ss_test_pattern_init (&p);
  p.width = 0;
  p.duration = 3.0;
  path = make_clip ("tone.flac", &p);
  /* 16-bit lossless: exact to one quantization step */
  run_audio_checks (path, &p, 48000, 2, 1.5 / 32768.0);
  /* mono fold-down (L+R)/2 */
  run_audio_checks (path, &p, 48000, 1, 1.5 / 32768.0);
}

static void
test_audio_wav_resampled (void)
{
  SsTestPattern p;
  g_autofree char *path = NULL;

  ss_test_pattern_init (&p);
  p.width = 0;
  p.sample_rate = 44100;
  p.duration = 2.0;
  path = make_clip ("tone44.wav", &p);
  run_audio_checks (path, &p, 44100, 2, 1.5 / 32768.0);
  /* resampled to 48 kHz: the tone is still there, in phase */
  run_audio_checks (path, &p, 48000, 2, 0.01);
}

static void
test_audio_in_video_containers (void)
{
  const struct { const char *name; double tol; } cases[] = {
    { "av.mkv", 1.5 / 32768.0 },   /* FLAC in Matroska: exact */
    { "av.mp4", 0.03 },            /* AAC: RMS error (about -24 dB of the tone) */
    { "tone.mp3", 0.03 },          /* MP3 (LAME) */
    { "tone.ogg", 0.03 },          /* Vorbis */
  };
  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      SsTestPattern p;
      g_autofree char *path = NULL;
      ss_test_pattern_init (&p);
      p.n_frames = 50;
      p.duration = 2.0;
      if (!g_str_has_prefix (cases[i].name, "av."))
        p.width = p.height = 0;
      path = make_clip (cases[i].name, &p);
      g_test_message ("%s", cases[i].name);
      run_audio_checks (path, &p, 48000, 2, cases[i].tol);
    }
}

/* Random access gives the same samples as decoding the whole file in one go,
 * including containers with millisecond timestamps (Matroska/WebM). */
static void
test_audio_seek_matches_sequential (void)
{
  const struct { const char *name, *codec; } cases[] = {
    { "aac.mkv", "aac" }, { "vorbis.webm", NULL }, { "vorbis.ogg", NULL }, { "mp3.mp3", NULL },
  };
  for (guint k = 0; k < G_N_ELEMENTS (cases); k++)
    {
      g_autoptr(GError) error = NULL;
      g_autofree char *path = NULL;
      g_autofree float *all = NULL;
      g_autofree float *buf = g_new (float, 3000 * 2);
      g_autoptr(SsAudioReader) r = NULL;
      GRand *rand = g_rand_new_with_seed (5 + k);
      SsTestPattern p;
      gsize n_all = 0;

      ss_test_pattern_init (&p);
      p.width = p.height = 0;
      p.duration = 3.0;
      p.audio_codec = cases[k].codec;
      path = make_clip (cases[k].name, &p);
      g_assert_true (ss_audio_decode_all (path, 48000, 2, &all, &n_all, NULL, &error));
      g_assert_no_error (error);
      r = ss_audio_reader_new (path, 48000, 2, &error);
      g_assert_no_error (error);
      for (int i = 0; i < 25; i++)
        {
          gint64 s0 = g_rand_int_range (rand, 0, (gint32) n_all - 3000);
          double se = 0;
          g_assert_cmpint (ss_audio_reader_read (r, (s0 * SS_TIME_SECOND + 24000) / 48000, buf, 3000, &error), ==, 3000);
          for (int j = 0; j < 3000 * 2; j++)
            se += (buf[j] - all[s0 * 2 + j]) * (buf[j] - all[s0 * 2 + j]);
          if (sqrt (se / 6000) > 2e-3)
            g_error ("%s at sample %" G_GINT64_FORMAT ": RMS difference %.5f from the sequential decode",
                     cases[k].name, s0, sqrt (se / 6000));
        }
      g_rand_free (rand);
    }
}

static void
test_audio_mono_to_stereo (void)
{
  SsTestPattern p;
  g_autofree char *path = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(SsAudioReader) r = NULL;
  float buf[2 * 480];

  ss_test_pattern_init (&p);
  p.width = 0;
  p.channels = 1;
  p.duration = 1.0;
  path = make_clip ("mono.wav", &p);
  r = ss_audio_reader_new (path, 48000, 2, &error);
  g_assert_no_error (error);
  g_assert_cmpint (ss_audio_reader_read (r, 100 * SS_TIME_MS, buf, 480, &error), ==, 480);
  for (int i = 0; i < 480; i++)
    {
      double want = ss_test_pattern_sample (&p, 0.1 + i / 48000.0, 0);
      g_assert_cmpfloat_with_epsilon (buf[2 * i], want, 1e-4);       /* full level on both sides */
      g_assert_cmpfloat_with_epsilon (buf[2 * i + 1], want, 1e-4);
    }
}

static void
test_decode_all (void)
{
  SsTestPattern p;
  g_autofree char *path = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree float *s = NULL;
  gsize n = 0;

  ss_test_pattern_init (&p);
  p.width = 0;
  p.duration = 1.5;
  path = make_clip ("all.flac", &p);
  g_assert_true (ss_audio_decode_all (path, 16000, 1, &s, &n, NULL, &error));
  g_assert_no_error (error);
  g_assert_cmpint (n, >=, 24000 - 2);
  g_assert_cmpint (n, <=, 24000 + 2);
  /* the mono mix of 440 Hz and 660 Hz at 16 kHz, away from the edges */
  for (gsize i = 1000; i < n - 1000; i += 37)
    {
      double t = (double) i / 16000;
      double want = 0.5 * (ss_test_pattern_sample (&p, t, 0) + ss_test_pattern_sample (&p, t, 1));
      g_assert_cmpfloat_with_epsilon (s[i], want, 0.01);
    }
  {
    g_autoptr(GCancellable) c = g_cancellable_new ();
    g_autofree float *s2 = NULL;
    gsize n2;
    g_cancellable_cancel (c);
    g_assert_false (ss_audio_decode_all (path, 16000, 1, &s2, &n2, c, &error));
    g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  }
}

int
main (int argc, char **argv)
{
  int ret;

  g_test_init (&argc, &argv, NULL);
  tmpdir = ss_test_tmpdir ();
  g_test_add_func ("/media/decode/h264-mp4-bframes", test_h264_mp4_bframes);
  g_test_add_func ("/media/decode/start-offset-mkv", test_start_offset_mkv);
  g_test_add_func ("/media/decode/ntsc-rate-mov", test_ntsc_rate);
  g_test_add_func ("/media/decode/long-gop", test_long_gop_sparse_keyframes);
  g_test_add_func ("/media/decode/other-codecs", test_other_codecs);
  g_test_add_func ("/media/decode/vfr", test_vfr);
  g_test_add_func ("/media/decode/scaled", test_scaled_output);
  g_test_add_func ("/media/audio/flac-exact", test_audio_flac_exact);
  g_test_add_func ("/media/audio/wav-resampled", test_audio_wav_resampled);
  g_test_add_func ("/media/audio/video-containers", test_audio_in_video_containers);
  g_test_add_func ("/media/audio/mono-to-stereo", test_audio_mono_to_stereo);
  g_test_add_func ("/media/audio/seek-matches-sequential", test_audio_seek_matches_sequential);
  g_test_add_func ("/media/audio/decode-all", test_decode_all);
  ret = g_test_run ();
  ss_test_rmdir (tmpdir);
  return ret;
}
