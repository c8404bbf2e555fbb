/* test-syncui-cli.c: `soundstage-cli sync` and `sync-eval` on generated clips
 * with known offsets, and the errors a person gets for unusable input. */
#define G_LOG_DOMAIN "test-syncui"

#include "config.h"

#include <math.h>
#include <string.h>
#include <glib/gstdio.h>
#include <json-glib/json-glib.h>

#include "models/sync/ss-sync.h"
#include "syncui-clip.h"

static char *tmp_dir;
static char *cli;

typedef struct {
  int   status;
  char *out;
  char *err;
} CliRun;

static void
cli_run_clear (CliRun *r)
{
  g_free (r->out);
  g_free (r->err);
}

/* Runs soundstage-cli with the arguments (NULL-terminated). */
static CliRun
run_cli (const char *first, ...)
{
  g_autoptr(GPtrArray) argv = g_ptr_array_new ();
  g_autoptr(GError) error = NULL;
  CliRun r = { 0 };
  int wait_status = 0;
  va_list ap;

  g_ptr_array_add (argv, cli);
  va_start (ap, first);
  for (const char *a = first; a != NULL; a = va_arg (ap, const char *))
    g_ptr_array_add (argv, (char *) a);
  va_end (ap);
  g_ptr_array_add (argv, NULL);
  g_assert_true (g_spawn_sync (NULL, (char **) argv->pdata, NULL, G_SPAWN_DEFAULT, NULL, NULL,
                               &r.out, &r.err, &wait_status, &error));
  g_assert_no_error (error);
  g_assert_true (WIFEXITED (wait_status));
  r.status = WEXITSTATUS (wait_status);
  return r;
}

/* Clips are deterministic for a seed (core/models/ss-corpus.h). */
static char *
make_clip (const char *name, guint64 seed, double offset, double seconds, gboolean video,
           gboolean audio, gboolean label)
{
  g_autoptr(GError) error = NULL;
  char *path = g_build_filename (tmp_dir, name, NULL);
  g_autofree char *label_path = NULL;
  SyncuiClip c;

  syncui_clip_init (&c);
  c.offset = offset;
  c.seconds = seconds;
  c.video = video;
  c.audio = audio;
  c.seed = seed;
  if (label)
    {
      label_path = g_strconcat (path, ".json", NULL);
      c.label = label_path;
    }
  g_assert_true (syncui_clip_write (&c, path, &error));
  g_assert_no_error (error);
  return path;
}

static JsonObject *
parse_object (JsonParser *parser, const char *text)
{
  g_autoptr(GError) error = NULL;
  JsonNode *root;

  g_assert_true (json_parser_load_from_data (parser, text, -1, &error));
  g_assert_no_error (error);
  root = json_parser_get_root (parser);
  g_assert_true (JSON_NODE_HOLDS_OBJECT (root));
  return json_node_get_object (root);
}

/* A clip whose audio leads (or lags) by a known amount: the JSON output names
 * that offset within one class, the probabilities form a distribution, and an
 * 8 s clip gets an offset-over-time curve. */
static void
check_recovers (const char *name, guint64 seed, double offset)
{
  g_autofree char *clip = make_clip (name, seed, offset, 8.0, TRUE, TRUE, FALSE);
  g_autoptr(JsonParser) parser = json_parser_new ();
  CliRun r = run_cli ("sync", clip, "--json", NULL);
  JsonObject *o;
  JsonArray *probs, *top, *windows;
  double sum = 0;
  int cls, truth = ss_sync_offset_class (offset);

  g_test_message ("stderr: %s", r.err);
  g_assert_cmpint (r.status, ==, 0);
  o = parse_object (parser, r.out);
  /* no model is installed in the test environment: the SP estimate, and it says why */
  g_assert_cmpstr (json_object_get_string_member (o, "method"), ==, "sp");
  g_assert_nonnull (json_object_get_string_member (o, "note"));
  g_assert_cmpstr (json_object_get_string_member (o, "synchronizability_source"), ==, "confidence");
  cls = (int) json_object_get_int_member (o, "class");
  g_test_message ("%s: true %+.2f s (class %d), found %+.3f s (class %d)", name, offset, truth,
                  json_object_get_double_member (o, "offset"), cls);
  g_assert_cmpint (abs (cls - truth), <=, 1);
  g_assert_cmpfloat (fabs (json_object_get_double_member (o, "offset") - offset), <=, SS_SYNC_CLASS_STEP * 1.5);
  g_assert_cmpfloat (fabs (json_object_get_double_member (o, "grid_offset") - ss_sync_class_offset (cls)), <, 1e-6);

  probs = json_object_get_array_member (o, "probabilities");
  g_assert_cmpuint (json_array_get_length (probs), ==, SS_SYNC_N_CLASSES);
  for (guint i = 0; i < SS_SYNC_N_CLASSES; i++)
    sum += json_array_get_double_element (probs, i);
  g_assert_cmpfloat (fabs (sum - 1.0), <, 1e-3);
  top = json_object_get_array_member (o, "top");
  g_assert_cmpuint (json_array_get_length (top), ==, 3);
  g_assert_cmpint (json_object_get_int_member (json_array_get_object_element (top, 0), "class"), ==, cls);
  g_assert_cmpfloat (json_object_get_double_member (o, "confidence"), >, 0.0);
  g_assert_cmpfloat (json_object_get_double_member (o, "confidence"), <=, 1.0);
  windows = json_object_get_array_member (o, "windows");
  g_assert_cmpuint (json_array_get_length (windows), >=, 2);
  cli_run_clear (&r);
}

static void
test_sync_recovers_offset (void)
{
  check_recovers ("audio-leads.mp4", 7, 0.6);
  check_recovers ("audio-lags.mp4", 8, -0.8);
}

/* The text output says in words which way to move the audio. */
static void
test_sync_text (void)
{
  g_autofree char *clip = make_clip ("text.mp4", 7, 0.6, 8.0, TRUE, TRUE, FALSE);
  CliRun r = run_cli ("sync", clip, "--method", "sp", NULL);

  g_assert_cmpint (r.status, ==, 0);
  g_assert_nonnull (strstr (r.out, "the audio leads"));
  g_assert_nonnull (strstr (r.out, "synchronizability"));
  g_assert_nonnull (strstr (r.out, "derived from the confidence"));
  cli_run_clear (&r);

  /* --help documents the JSON */
  r = run_cli ("sync", "--help", NULL);
  g_assert_cmpint (r.status, ==, 0);
  g_assert_nonnull (strstr (r.out, "synchronizability_source"));
  g_assert_nonnull (strstr (r.out, "probabilities"));
  cli_run_clear (&r);
}

static void
expect_bad_input (const char *path, const char *what, const char *const *args)
{
  g_autofree char *base = g_path_get_basename (path);
  CliRun r = args == NULL ? run_cli ("sync", path, NULL) : run_cli ("sync", path, args[0], args[1], NULL);

  g_test_message ("%s: status %d, stderr: %s", base, r.status, r.err);
  g_assert_cmpint (r.status, ==, 2);
  g_assert_nonnull (strstr (r.err, what));
  g_assert_nonnull (strstr (r.err, base));
  g_assert_cmpstr (r.out, ==, "");
  cli_run_clear (&r);
}

static void
test_sync_bad_inputs (void)
{
  g_autofree char *video_only = make_clip ("video-only.mp4", 1, 0, 6.0, TRUE, FALSE, FALSE);
  g_autofree char *audio_only = make_clip ("audio-only.wav", 1, 0, 6.0, FALSE, TRUE, FALSE);
  g_autofree char *short_clip = make_clip ("short.mp4", 1, 0, 3.0, TRUE, TRUE, FALSE);
  g_autofree char *corrupt = g_build_filename (tmp_dir, "corrupt.mp4", NULL);
  g_autofree char *missing = g_build_filename (tmp_dir, "missing.mp4", NULL);
  g_autofree char *good = make_clip ("good.mp4", 1, 0.4, 6.0, TRUE, TRUE, FALSE);
  const char *model_args[] = { "--method", "model" };
  guint8 junk[4096];

  for (guint i = 0; i < sizeof junk; i++)
    junk[i] = (guint8) (i * 2654435761u >> 13);
  memcpy (junk + 4, "ftypisom", 8);   /* looks like an MP4, is not one */
  g_assert_true (g_file_set_contents (corrupt, (const char *) junk, sizeof junk, NULL));

  expect_bad_input (video_only, "no audio stream", NULL);
  expect_bad_input (audio_only, "audio only", NULL);
  expect_bad_input (short_clip, "at least 4.8 s", NULL);
  expect_bad_input (missing, "does not exist", NULL);
  {
    g_autofree char *base = g_path_get_basename (corrupt);
    CliRun r = run_cli ("sync", corrupt, NULL);
    g_test_message ("corrupt: status %d, stderr: %s", r.status, r.err);
    g_assert_cmpint (r.status, ==, 2);
    g_assert_nonnull (strstr (r.err, base));
    cli_run_clear (&r);
  }
  /* asking for the model when none is installed */
  expect_bad_input (good, "sync model", model_args);
  {
    CliRun r = run_cli ("sync", good, "--method", "magic", NULL);
    g_assert_cmpint (r.status, ==, 1);
    g_assert_nonnull (strstr (r.err, "magic"));
    cli_run_clear (&r);
  }
}

/* sync-eval on a tiny labeled folder: both accuracies for the SP method. */
static void
test_sync_eval (void)
{
  g_autofree char *dir = g_build_filename (tmp_dir, "labeled", NULL);
  g_autofree char *saved = g_strdup (tmp_dir);
  g_autoptr(JsonParser) parser = json_parser_new ();
  const double offsets[] = { 0.4, -0.6, 1.2 };
  JsonObject *o, *m;
  JsonArray *methods, *results;
  CliRun r;

  g_assert_cmpint (g_mkdir_with_parents (dir, 0755), ==, 0);
  g_free (tmp_dir);
  tmp_dir = g_strdup (dir);
  for (guint i = 0; i < G_N_ELEMENTS (offsets); i++)
    {
      g_autofree char *name = g_strdup_printf ("clip-%u.mp4", i);
      g_free (make_clip (name, 100 + i, offsets[i], 8.0, TRUE, TRUE, TRUE));
    }
  g_free (tmp_dir);
  tmp_dir = g_steal_pointer (&saved);

  r = run_cli ("sync-eval", dir, "--json", NULL);
  g_test_message ("stderr: %s", r.err);
  g_assert_cmpint (r.status, ==, 0);
  o = parse_object (parser, r.out);
  g_assert_cmpint (json_object_get_int_member (o, "clips"), ==, G_N_ELEMENTS (offsets));
  methods = json_object_get_array_member (o, "methods");
  g_assert_cmpuint (json_array_get_length (methods), >=, 1);
  m = json_array_get_object_element (methods, 0);
  g_assert_cmpstr (json_object_get_string_member (m, "method"), ==, "sp");
  g_assert_cmpint (json_object_get_int_member (m, "evaluated"), ==, G_N_ELEMENTS (offsets));
  /* each clip's result agrees with the summary */
  results = json_object_get_array_member (o, "results");
  {
    int correct = 0, within = 0;
    for (guint i = 0; i < json_array_get_length (results); i++)
      {
        JsonObject *c = json_array_get_object_element (results, i);
        JsonObject *sp = json_object_get_object_member (c, "sp");
        int t = (int) json_object_get_int_member (c, "true_class");
        int f = (int) json_object_get_int_member (sp, "class");
        correct += t == f;
        within += abs (t - f) <= 1;
      }
    g_assert_cmpfloat (fabs (json_object_get_double_member (m, "accuracy") - (double) correct / json_array_get_length (results)), <, 1e-3);
    g_assert_cmpfloat (fabs (json_object_get_double_member (m, "accuracy_within_1") - (double) within / json_array_get_length (results)), <, 1e-3);
    /* the estimate gets most easy clips within one class (about 90 % on 8 s clips) */
    g_assert_cmpint (within, >=, (int) G_N_ELEMENTS (offsets) - 1);
  }
  cli_run_clear (&r);

  r = run_cli ("sync-eval", dir, NULL);
  g_assert_cmpint (r.status, ==, 0);
  g_assert_nonnull (strstr (r.out, "accuracy"));
  g_assert_nonnull (strstr (r.out, "±1 class"));
  g_assert_nonnull (strstr (r.out, "sp "));
  cli_run_clear (&r);

  /* a folder without labels */
  r = run_cli ("sync-eval", tmp_dir, NULL);
  g_assert_cmpint (r.status, ==, 2);
  g_assert_nonnull (strstr (r.err, "no clip labels"));
  cli_run_clear (&r);
}

int
main (int argc, char *argv[])
{
  int ret;

  g_test_init (&argc, &argv, NULL);
  tmp_dir = g_dir_make_tmp ("soundstage-syncui-XXXXXX", NULL);
  g_assert_nonnull (tmp_dir);
  cli = g_build_filename (SS_BUILD_DIR, "app", "soundstage-cli", NULL);
  g_setenv ("SOUNDSTAGE_SYNC_MODEL", "none", TRUE);
  g_setenv ("SOUNDSTAGE_PLAIN_PROGRESS", "1", TRUE);

  g_test_add_func ("/syncui/cli/recovers-offset", test_sync_recovers_offset);
  g_test_add_func ("/syncui/cli/text", test_sync_text);
  g_test_add_func ("/syncui/cli/bad-inputs", test_sync_bad_inputs);
  g_test_add_func ("/syncui/cli/eval", test_sync_eval);
  ret = g_test_run ();

  {
    g_autofree char *cmd = g_strdup_printf ("rm -rf '%s'", tmp_dir);
    if (ret == 0 && system (cmd) != 0)
      g_warning ("could not remove %s", tmp_dir);
  }
  g_free (tmp_dir);
  g_free (cli);
  return ret;
}
