/* test-cli.c: soundstage-cli as a user runs it: outputs, files it writes, exit
 * codes for bad input, and Ctrl+C. */
#define G_LOG_DOMAIN "test-cli"

#include "config.h"

#include <math.h>
#include <signal.h>
#include <string.h>

#include <glib/gstdio.h>
#include <json-glib/json-glib.h>

#include "media/ss-media.h"
#include "ss-app-export.h"

static const char *cli;
static char *tmp_dir;

typedef struct {
  int   status;     /* exit code, or 128 + signal */
  char *out;
  char *err;
} Run;

static void
run_clear (Run *r)
{
  g_free (r->out);
  g_free (r->err);
}
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (Run, run_clear)

static void
run_cli (Run *r, ...)
{
  g_autoptr(GPtrArray) argv = g_ptr_array_new ();
  g_autoptr(GError) error = NULL;
  const char *arg;
  int wait_status = 0;
  va_list ap;

  g_ptr_array_add (argv, (char *) cli);
  va_start (ap, r);
  while ((arg = va_arg (ap, const char *)) != NULL)
    g_ptr_array_add (argv, (char *) arg);
  va_end (ap);
  g_ptr_array_add (argv, NULL);

  g_assert_true (g_spawn_sync (NULL, (char **) argv->pdata, NULL, G_SPAWN_DEFAULT, NULL, NULL,
                               &r->out, &r->err, &wait_status, &error));
  g_assert_no_error (error);
  if (WIFEXITED (wait_status))
    r->status = WEXITSTATUS (wait_status);
  else
    r->status = 128 + WTERMSIG (wait_status);
  g_test_message ("exit %d\nstdout: %s\nstderr: %s", r->status, r->out, r->err);
}

static char *
demo_project (void)
{
  return g_build_filename (SS_BUILD_DIR, "data", "demo", "demo.soundstage", NULL);
}

static char *
tmp_file (const char *name)
{
  return g_build_filename (tmp_dir, name, NULL);
}

static void
test_usage (void)
{
  g_auto(Run) help = { 0 }, none = { 0 }, unknown = { 0 }, no_file = { 0 }, bad_opt = { 0 };

  run_cli (&help, "--help", NULL);
  g_assert_cmpint (help.status, ==, 0);
  for (const char *const *c = (const char *[]) { "info", "export", "export-stems", "make-demo", "130", NULL }; *c; c++)
    g_assert_nonnull (strstr (help.out, *c));

  run_cli (&none, NULL);
  g_assert_cmpint (none.status, ==, 1);
  run_cli (&unknown, "frobnicate", NULL);
  g_assert_cmpint (unknown.status, ==, 1);
  g_assert_nonnull (strstr (unknown.err, "frobnicate"));
  run_cli (&no_file, "info", NULL);
  g_assert_cmpint (no_file.status, ==, 1);
  run_cli (&bad_opt, "info", "--no-such-option", "x", NULL);
  g_assert_cmpint (bad_opt.status, ==, 1);
}

static void
test_info_demo (void)
{
  g_autofree char *demo = demo_project ();
  g_auto(Run) r = { 0 }, text = { 0 };
  g_autoptr(JsonParser) parser = json_parser_new ();
  g_autoptr(GError) error = NULL;
  JsonObject *root, *media, *video = NULL, *audio = NULL;
  JsonArray *tracks, *streams;
  guint n_clips = 0;

  run_cli (&r, "info", "--json", demo, NULL);
  g_assert_cmpint (r.status, ==, 0);
  g_assert_true (json_parser_load_from_data (parser, r.out, -1, &error));
  g_assert_no_error (error);
  root = json_node_get_object (json_parser_get_root (parser));
  g_assert_cmpstr (json_object_get_string_member (root, "type"), ==, "project");
  g_assert_cmpfloat_with_epsilon (json_object_get_double_member (root, "duration"), 4.0, 0.05);
  g_assert_cmpuint (json_array_get_length (json_object_get_array_member (root, "media")), ==, 1);
  media = json_array_get_object_element (json_object_get_array_member (root, "media"), 0);
  g_assert_false (json_object_get_boolean_member (media, "missing"));
  streams = json_object_get_array_member (media, "streams");
  for (guint i = 0; i < json_array_get_length (streams); i++)
    {
      JsonObject *s = json_array_get_object_element (streams, i);
      if (g_str_equal (json_object_get_string_member (s, "type"), "video"))
        video = s;
      else
        audio = s;
    }
  g_assert_nonnull (video);
  g_assert_nonnull (audio);
  g_assert_cmpint (json_object_get_int_member (video, "width"), ==, 320);
  g_assert_cmpint (json_object_get_int_member (video, "height"), ==, 180);
  g_assert_cmpfloat_with_epsilon (json_object_get_double_member (video, "fps"), 25.0, 1e-6);
  g_assert_cmpint (json_object_get_int_member (audio, "sample_rate"), ==, 48000);
  tracks = json_object_get_array_member (root, "tracks");
  g_assert_cmpuint (json_array_get_length (tracks), >=, 2);
  for (guint i = 0; i < json_array_get_length (tracks); i++)
    n_clips += json_array_get_length (json_object_get_array_member (json_array_get_object_element (tracks, i), "clips"));
  g_assert_cmpuint (n_clips, ==, 2);   /* the picture and the sound of the clip */

  run_cli (&text, "info", demo, NULL);
  g_assert_cmpint (text.status, ==, 0);
  g_assert_nonnull (strstr (text.out, "320×180"));
  g_assert_nonnull (strstr (text.out, "48000 Hz"));
}

/* Counts knocks: 5 ms windows whose level jumps well above the previous
 * window's (with 40 ms of refractory time). */
static guint
count_onsets (const float *s, gsize n_frames, int rate)
{
  gsize win = rate / 200;
  double prev = 0;
  gsize last = 0;
  guint n = 0;

  for (gsize i = 0; i + win <= n_frames; i += win)
    {
      double e = 0;
      for (gsize j = 0; j < win; j++)
        e += (double) s[2 * (i + j)] * s[2 * (i + j)] + (double) s[2 * (i + j) + 1] * s[2 * (i + j) + 1];
      e = sqrt (e / (2 * win));
      if (e > 0.03 && e > 2.0 * prev + 0.01 && (n == 0 || i - last > (gsize) rate / 25))
        {
          n++;
          last = i;
        }
      prev = e;
    }
  return n;
}

static void
test_make_demo (void)
{
  g_autofree char *dir = tmp_file ("made");
  g_autofree char *clip = g_build_filename (dir, "demo.mp4", NULL);
  g_autofree char *project = g_build_filename (dir, "demo.soundstage", NULL);
  g_auto(Run) r = { 0 }, info = { 0 };
  g_autoptr(GError) error = NULL;
  g_autofree float *samples = NULL;
  SsMedia m = { 0 };
  gsize n_frames = 0;
  guint onsets;

  run_cli (&r, "make-demo", "--seconds", "3", dir, NULL);
  g_assert_cmpint (r.status, ==, 0);
  g_assert_nonnull (strstr (r.out, "demo.soundstage"));
  g_assert_true (g_file_test (project, G_FILE_TEST_IS_REGULAR));

  g_assert_true (ss_media_probe (clip, &m, &error));
  g_assert_no_error (error);
  g_assert_true (m.has_video);
  g_assert_true (m.has_audio);
  g_assert_cmpint (m.width, ==, 320);
  g_assert_cmpint (m.height, ==, 180);
  g_assert_cmpint (m.duration, >=, ss_time_from_seconds (2.9));
  g_assert_cmpint (m.duration, <=, ss_time_from_seconds (3.2));
  ss_media_clear (&m);

  /* The bouncing balls are heard: several separate knocks, not silence or noise. */
  g_assert_true (ss_audio_decode_all (clip, 48000, 2, &samples, &n_frames, NULL, &error));
  g_assert_no_error (error);
  onsets = count_onsets (samples, n_frames, 48000);
  g_test_message ("%u knocks in the demo sound", onsets);
  g_assert_cmpuint (onsets, >=, 6);

  /* The project refers to the clip (and stays valid when read back). */
  run_cli (&info, "info", project, NULL);
  g_assert_cmpint (info.status, ==, 0);
  g_assert_nonnull (strstr (info.out, "demo.mp4"));
  g_assert_null (strstr (info.out, "missing"));
}

static void
test_bad_input (void)
{
  g_autofree char *missing = tmp_file ("does-not-exist.mp4");
  g_autofree char *corrupt = tmp_file ("corrupt.mp4");
  g_autofree char *hostile = tmp_file ("hostile.soundstage");
  g_autofree char *nested = tmp_file ("nested.soundstage");
  g_autofree char *truncated = tmp_file ("truncated.soundstage");
  g_autofree char *demo = demo_project ();
  g_autofree char *demo_data = NULL;
  g_autofree guint8 *junk = g_malloc (4096);
  GString *deep = g_string_new ("{\"format\":\"soundstage-project\",\"version\":1,\"tracks\":");
  gsize demo_len = 0;

  /* missing file */
  {
    g_auto(Run) r = { 0 };
    run_cli (&r, "info", missing, NULL);
    g_assert_cmpint (r.status, ==, 2);
    g_assert_nonnull (strstr (r.err, "does-not-exist.mp4"));
  }
  /* corrupt media */
  {
    g_auto(Run) r = { 0 };
    GRand *rand = g_rand_new_with_seed (42);
    for (int i = 0; i < 4096; i++)
      junk[i] = (guint8) g_rand_int (rand);
    g_rand_free (rand);
    g_assert_true (g_file_set_contents (corrupt, (const char *) junk, 4096, NULL));
    run_cli (&r, "info", corrupt, NULL);
    g_assert_cmpint (r.status, ==, 2);
    g_assert_nonnull (strstr (r.err, "corrupt.mp4"));
  }
  /* hostile project: absurd numbers, wrong types, paths outside */
  {
    g_auto(Run) r = { 0 }, e = { 0 };
    const char *doc =
      "{\"format\":\"soundstage-project\",\"version\":1,"
      "\"media\":[{\"id\":\"m1\",\"path\":\"../../../../etc/shadow\",\"duration\":-9e300,"
      "\"width\":2147483647,\"height\":-5,\"fps_num\":0,\"fps_den\":0}],"
      "\"tracks\":[{\"id\":\"t1\",\"kind\":\"video\",\"name\":\"V\",\"clips\":[{\"id\":\"c1\","
      "\"start\":1e308,\"duration\":\"forever\",\"takes\":[{\"id\":\"k1\",\"media_id\":\"m1\"}]}]}]}";
    g_assert_true (g_file_set_contents (hostile, doc, -1, NULL));
    run_cli (&r, "info", hostile, NULL);
    g_assert_cmpint (r.status, ==, 2);
    g_assert_nonnull (strstr (r.err, "hostile.soundstage"));
    g_autofree char *out = tmp_file ("hostile.mp4");
    run_cli (&e, "export", hostile, "-o", out, NULL);
    g_assert_cmpint (e.status, ==, ss_app_export_available () ? 2 : 3);
    g_assert_false (g_file_test (out, G_FILE_TEST_EXISTS));
  }
  /* deeply nested JSON */
  {
    g_auto(Run) r = { 0 };
    for (int i = 0; i < 20000; i++)
      g_string_append_c (deep, '[');
    g_assert_true (g_file_set_contents (nested, deep->str, deep->len, NULL));
    run_cli (&r, "info", nested, NULL);
    g_assert_cmpint (r.status, ==, 2);
  }
  /* a real project cut in half */
  {
    g_auto(Run) r = { 0 };
    g_assert_true (g_file_get_contents (demo, &demo_data, &demo_len, NULL));
    g_assert_true (g_file_set_contents (truncated, demo_data, demo_len / 2, NULL));
    run_cli (&r, "info", truncated, NULL);
    g_assert_cmpint (r.status, ==, 2);
    g_assert_nonnull (strstr (r.err, "truncated.soundstage"));
  }
  g_string_free (deep, TRUE);
}

static void
test_export (void)
{
  g_autofree char *demo = demo_project ();
  g_autofree char *out = tmp_file ("export.mp4");
  g_autofree char *stems = tmp_file ("stems");
  g_auto(Run) r = { 0 }, again = { 0 }, s = { 0 }, no_out = { 0 };
  g_autoptr(GError) error = NULL;
  g_autoptr(GDir) d = NULL;
  SsMedia m = { 0 };
  guint n_wav = 0;

  run_cli (&no_out, "export", demo, NULL);
  g_assert_cmpint (no_out.status, ==, 1);

  if (!ss_app_export_available ())
    {
      g_test_skip ("this build has no exporter (core/media/ss-export.h)");
      return;
    }

  run_cli (&r, "export", demo, "-o", out, NULL);
  g_assert_cmpint (r.status, ==, 0);
  g_assert_nonnull (strstr (r.err, "100%"));
  g_assert_true (ss_media_probe (out, &m, &error));
  g_assert_no_error (error);
  g_assert_true (m.has_video);
  g_assert_true (m.has_audio);
  g_assert_cmpint (m.width, ==, 320);
  g_assert_cmpint (ABS (m.duration - ss_time_from_seconds (4.0)), <=, ss_time_from_seconds (0.2));
  ss_media_clear (&m);

  /* An output that cannot be written fails the job (3), not the input (2). */
  {
    g_auto(Run) w = { 0 };
    g_autofree char *nowhere = tmp_file ("no-such-folder/x.mp4");
    run_cli (&w, "export", demo, "-o", nowhere, NULL);
    g_assert_cmpint (w.status, ==, 3);
  }

  /* Exporting again replaces the file (the export is atomic), unless told not to. */
  run_cli (&again, "export", demo, "-o", out, NULL);
  g_assert_cmpint (again.status, ==, 0);
  {
    g_auto(Run) nc = { 0 };
    run_cli (&nc, "export", demo, "-o", out, "--no-clobber", NULL);
    g_assert_cmpint (nc.status, ==, 1);
    g_assert_true (g_file_test (out, G_FILE_TEST_IS_REGULAR));
  }

  run_cli (&s, "export-stems", demo, "-o", stems, NULL);
  g_assert_cmpint (s.status, ==, 0);
  d = g_dir_open (stems, 0, &error);
  g_assert_no_error (error);
  for (const char *name; (name = g_dir_read_name (d)) != NULL;)
    if (g_str_has_suffix (name, ".wav"))
      n_wav++;
  g_assert_cmpuint (n_wav, >=, 1);
}

static void
test_missing_media (void)
{
  g_autofree char *dir = tmp_file ("moved");
  g_autofree char *project = g_build_filename (dir, "demo.soundstage", NULL);
  g_autofree char *clip = g_build_filename (dir, "demo.mp4", NULL);
  g_autofree char *out = tmp_file ("missing.mp4");
  g_auto(Run) r = { 0 }, info = { 0 }, e = { 0 };

  run_cli (&r, "make-demo", "--seconds", "1", dir, NULL);
  g_assert_cmpint (r.status, ==, 0);
  g_assert_cmpint (g_unlink (clip), ==, 0);

  /* info still reads the project and says what is missing */
  run_cli (&info, "info", project, NULL);
  g_assert_cmpint (info.status, ==, 0);
  g_assert_nonnull (strstr (info.out, "missing"));

  run_cli (&e, "export", project, "-o", out, NULL);
  if (ss_app_export_available ())
    {
      g_assert_cmpint (e.status, ==, 2);
      g_assert_nonnull (strstr (e.err, "demo.mp4"));
    }
  g_assert_false (g_file_test (out, G_FILE_TEST_EXISTS));
}

/* Ctrl+C cancels the running job: exit 130 and no half-written clip. */
static void
test_sigint (void)
{
  g_autofree char *dir = tmp_file ("interrupted");
  g_autofree char *clip = g_build_filename (dir, "demo.mp4", NULL);
  g_autofree char *project = g_build_filename (dir, "demo.soundstage", NULL);
  g_autoptr(GSubprocess) proc = NULL;
  g_autoptr(GDataInputStream) err = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *line = NULL;

  proc = g_subprocess_new (G_SUBPROCESS_FLAGS_STDERR_PIPE | G_SUBPROCESS_FLAGS_STDOUT_SILENCE, &error,
                           cli, "make-demo", "--seconds", "120", "--width", "1280", "--height", "720", dir, NULL);
  g_assert_no_error (error);
  err = g_data_input_stream_new (g_subprocess_get_stderr_pipe (proc));
  /* The first progress line means the job runs and Ctrl+C is handled. */
  line = g_data_input_stream_read_line_utf8 (err, NULL, NULL, &error);
  g_assert_no_error (error);
  g_assert_nonnull (line);
  g_assert_true (line[0] == '[');
  g_subprocess_send_signal (proc, SIGINT);
  g_assert_true (g_subprocess_wait (proc, NULL, &error));
  g_assert_true (g_subprocess_get_if_exited (proc));
  g_assert_cmpint (g_subprocess_get_exit_status (proc), ==, 130);
  g_assert_false (g_file_test (clip, G_FILE_TEST_EXISTS));
  g_assert_false (g_file_test (project, G_FILE_TEST_EXISTS));
}

int
main (int argc, char *argv[])
{
  g_test_init (&argc, &argv, NULL);
  g_assert_cmpint (argc, ==, 2);
  cli = argv[1];
  tmp_dir = g_dir_make_tmp ("soundstage-cli-XXXXXX", NULL);
  g_setenv ("XDG_CACHE_HOME", tmp_dir, TRUE);

  g_test_add_func ("/cli/usage", test_usage);
  g_test_add_func ("/cli/info-demo", test_info_demo);
  g_test_add_func ("/cli/make-demo", test_make_demo);
  g_test_add_func ("/cli/bad-input", test_bad_input);
  g_test_add_func ("/cli/export", test_export);
  g_test_add_func ("/cli/missing-media", test_missing_media);
  g_test_add_func ("/cli/sigint", test_sigint);
  return g_test_run ();
}
