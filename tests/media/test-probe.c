/* Probe of each container; clear errors (naming the file) for missing, empty,
 * non-media, damaged, truncated files and files with nothing to decode. */
#include <string.h>
#include <glib/gstdio.h>
#include "ss-test-pattern.h"

static char *tmpdir;

static char *
make (const char *name, gboolean video, gboolean audio, const char *acodec)
{
  g_autoptr(GError) error = NULL;
  SsTestPattern p;
  char *path = g_build_filename (tmpdir, name, NULL);

  ss_test_pattern_init (&p);
  p.n_frames = 50;            /* 2 s at 25 fps */
  p.duration = 2.0;
  p.gop = 10;
  if (!video)
    p.width = p.height = 0;
  if (!audio)
    p.sample_rate = 0;
  p.audio_codec = acodec;
  if (!g_file_test (path, G_FILE_TEST_EXISTS))
    {
      ss_test_pattern_write (path, &p, &error);
      g_assert_no_error (error);
    }
  return path;
}

static void
test_containers (void)
{
  const struct { const char *name; gboolean video, audio; int rate; } cases[] = {
    { "c.mp4", TRUE, TRUE, 48000 }, { "c.mkv", TRUE, TRUE, 48000 }, { "c.mov", TRUE, TRUE, 48000 },
    { "c.webm", TRUE, TRUE, 48000 }, { "c.avi", TRUE, TRUE, 48000 }, { "c.wav", FALSE, TRUE, 48000 },
    { "c.flac", FALSE, TRUE, 48000 }, { "c.ogg", FALSE, TRUE, 48000 }, { "c.mp3", FALSE, TRUE, 48000 },
    { "v.mp4", TRUE, FALSE, 0 },
  };
  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr(GError) error = NULL;
      g_autofree char *path = make (cases[i].name, cases[i].video, cases[i].audio, NULL);
      SsMedia m;

      g_test_message ("probing %s", cases[i].name);
      g_assert_true (ss_media_probe (path, &m, &error));
      g_assert_no_error (error);
      g_assert_true (g_path_is_absolute (m.path));
      g_assert_null (m.id);
      g_assert_cmpint (m.has_video, ==, cases[i].video);
      g_assert_cmpint (m.has_audio, ==, cases[i].audio);
      /* 2 s, give or take codec padding */
      g_assert_cmpint (m.duration, >=, 1950 * SS_TIME_MS);
      g_assert_cmpint (m.duration, <=, 2100 * SS_TIME_MS);
      if (cases[i].video)
        {
          g_assert_cmpint (m.width, ==, 320);
          g_assert_cmpint (m.height, ==, 240);
          g_assert_cmpint (m.fps_num, ==, 25);
          g_assert_cmpint (m.fps_den, ==, 1);
        }
      else
        g_assert_cmpint (m.fps_num, ==, 0);
      if (cases[i].audio)
        {
          g_assert_cmpint (m.sample_rate, ==, cases[i].rate);
          g_assert_cmpint (m.channels, ==, 2);
        }
      ss_media_clear (&m);
    }
}

static void
assert_error_full (const char *path, int code, const char *words, gboolean decoders_refuse)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *base = g_path_get_basename (path);
  SsMedia m;

  g_assert_false (ss_media_probe (path, &m, &error));
  g_assert_error (error, SS_ERROR, code);
  g_test_message ("%s: %s", base, error->message);
  g_assert_nonnull (strstr (error->message, base));       /* names the file */
  g_assert_nonnull (strstr (error->message, words));
  if (!decoders_refuse)
    return;   /* damaged but partly readable: decoders play what is there */
  /* the decoders refuse it as clearly */
  g_clear_error (&error);
  g_assert_null (ss_video_decoder_new (path, &error));
  g_assert_nonnull (error);
  g_clear_error (&error);
  g_assert_null (ss_audio_reader_new (path, 48000, 2, &error));
  g_assert_nonnull (error);
}

static void
assert_error (const char *path, int code, const char *words)
{
  assert_error_full (path, code, words, TRUE);
}

static char *
write_bytes (const char *name, const void *data, gsize len)
{
  char *path = g_build_filename (tmpdir, name, NULL);
  g_assert_true (g_file_set_contents (path, data, (gssize) len, NULL));
  return path;
}

static char *
truncated_copy (const char *src, const char *name, double fraction)
{
  g_autofree char *data = NULL;
  gsize len;
  g_assert_true (g_file_get_contents (src, &data, &len, NULL));
  return write_bytes (name, data, (gsize) (len * fraction));
}

static void
test_errors (void)
{
  g_autofree char *missing = g_build_filename (tmpdir, "nowhere.mp4", NULL);
  g_autofree char *empty = write_bytes ("empty.mp4", "", 0);
  const char text[] = "Soundstage notes\nThis is a text file, not a video.\n";
  g_autofree char *txt = write_bytes ("notes.txt", text, sizeof text - 1);
  g_autofree char *txt_mp4 = write_bytes ("notes.mp4", text, sizeof text - 1);
  g_autofree char *mp4 = make ("good.mp4", TRUE, TRUE, NULL);
  g_autofree char *wav = make ("good.wav", FALSE, TRUE, NULL);
  g_autofree char *trunc_mp4 = truncated_copy (mp4, "cut.mp4", 0.5);
  g_autofree char *trunc_wav = truncated_copy (wav, "cut.wav", 0.4);
  g_autofree char *random = NULL;
  g_autofree char *header = NULL;
  guint8 noise[4096];
  GRand *rand = g_rand_new_with_seed (7);

  for (guint i = 0; i < sizeof noise; i++)
    noise[i] = (guint8) g_rand_int (rand);
  g_rand_free (rand);
  random = write_bytes ("noise.mkv", noise, sizeof noise);
  {
    g_autofree char *data = NULL;
    gsize len;
    g_assert_true (g_file_get_contents (mp4, &data, &len, NULL));
    memcpy (data, noise, 64);   /* damaged header */
    header = write_bytes ("badhead.mp4", data, len);
  }

  assert_error (missing, SS_ERROR_NOT_FOUND, "does not exist");
  assert_error (empty, SS_ERROR_INVALID_DATA, "is empty");
  assert_error (txt, SS_ERROR_INVALID_DATA, "not a video or audio file");
  assert_error (txt_mp4, SS_ERROR_INVALID_DATA, "not a video or audio file");
  assert_error (random, SS_ERROR_INVALID_DATA, "not a video or audio file");
  assert_error (header, SS_ERROR_INVALID_DATA, "");
  assert_error (trunc_mp4, SS_ERROR_INVALID_DATA, "incomplete");
  {
    /* a truncated WAV plays what is there: probe gives the real, shorter length */
    g_autoptr(GError) error = NULL;
    SsMedia m;
    g_assert_true (ss_media_probe (trunc_wav, &m, &error));
    g_assert_no_error (error);
    g_assert_cmpint (m.duration, >=, 750 * SS_TIME_MS);
    g_assert_cmpint (m.duration, <=, 850 * SS_TIME_MS);
    ss_media_clear (&m);
  }
  {
    /* a Matroska file cut in the middle */
    g_autofree char *mkv = make ("good.mkv", TRUE, TRUE, NULL);
    g_autofree char *trunc_mkv = truncated_copy (mkv, "cut.mkv", 0.5);
    assert_error_full (trunc_mkv, SS_ERROR_INVALID_DATA, "incomplete", FALSE);
  }
  assert_error (tmpdir, SS_ERROR_INVALID_DATA, "not a file");
}

static void
test_no_decodable_stream (void)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *fixture = g_build_filename (g_getenv ("SOUNDSTAGE_SOURCE_DIR"), "tests", "fixtures", "media",
                                               "subtitles-only.mkv", NULL);
  g_autofree char *audio_only = make ("audio.flac", FALSE, TRUE, NULL);
  SsMedia m;

  g_assert_false (ss_media_probe (fixture, &m, &error));
  g_assert_error (error, SS_ERROR, SS_ERROR_UNSUPPORTED);
  g_assert_nonnull (strstr (error->message, "subtitles-only.mkv"));
  g_assert_nonnull (strstr (error->message, "no video or audio"));
  g_clear_error (&error);
  /* asking for video from an audio file */
  g_assert_null (ss_video_decoder_new (audio_only, &error));
  g_assert_error (error, SS_ERROR, SS_ERROR_UNSUPPORTED);
  g_assert_nonnull (strstr (error->message, "has no video"));
}

int
main (int argc, char **argv)
{
  int ret;

  g_test_init (&argc, &argv, NULL);
  tmpdir = ss_test_tmpdir ();
  g_test_add_func ("/media/probe/containers", test_containers);
  g_test_add_func ("/media/probe/errors", test_errors);
  g_test_add_func ("/media/probe/no-decodable-stream", test_no_decodable_stream);
  ret = g_test_run ();
  ss_test_rmdir (tmpdir);
  return ret;
}
