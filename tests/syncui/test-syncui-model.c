/* test-syncui-model.c: method choice in `soundstage-cli sync`: an installed
 * sync model is used (and named) by --method auto, a model that cannot be
 * loaded makes auto fall back to the signal-processing estimate and say why,
 * and --method model with such a file is a clear error; a model found
 * automatically whose file records that it lost to the signal-processing
 * estimate on held-out clips is skipped by auto (and says so) but runs when
 * asked for (suite 'gpu': the model
 * runs on the Vulkan engine, lavapipe in CI). The weights are random: this
 * checks the plumbing, not the model's accuracy (tools/train and sync-eval
 * measure that). */
#define G_LOG_DOMAIN "test-syncui"

#include "config.h"

#include <math.h>
#include <string.h>
#include <glib/gstdio.h>
#include <json-glib/json-glib.h>

#include "models/synchformer/ss-synchformer.h"
#include "syncui-clip.h"

static char *tmp_dir;
static char *cli;
static char *clip;
static char *data_home;   /* XDG_DATA_HOME for the CLI, or NULL */

static int
run_cli (const char *model_env, char **out, char **err, ...)
{
  g_autoptr(GPtrArray) argv = g_ptr_array_new ();
  g_auto(GStrv) envp = g_get_environ ();
  g_autoptr(GError) error = NULL;
  int status = 0;
  va_list ap;

  envp = g_environ_setenv (envp, "SOUNDSTAGE_SYNC_MODEL", model_env, TRUE);
  if (data_home)
    envp = g_environ_setenv (envp, "XDG_DATA_HOME", data_home, TRUE);
  g_ptr_array_add (argv, cli);
  va_start (ap, err);
  for (const char *a = va_arg (ap, const char *); a != NULL; a = va_arg (ap, const char *))
    g_ptr_array_add (argv, (char *) a);
  va_end (ap);
  g_ptr_array_add (argv, NULL);
  g_assert_true (g_spawn_sync (NULL, (char **) argv->pdata, envp, G_SPAWN_DEFAULT, NULL, NULL,
                               out, err, &status, &error));
  g_assert_no_error (error);
  g_assert_true (WIFEXITED (status));
  return WEXITSTATUS (status);
}

static void
test_model_used (void)
{
  g_autofree char *model = g_build_filename (tmp_dir, "sync-random.safetensors", NULL);
  g_autoptr(GError) error = NULL;
  g_autoptr(SsSynchformer) m = ss_synchformer_new_random (ss_synchformer_config_tiny (), 3, TRUE, &error);
  g_autoptr(JsonParser) parser = json_parser_new ();
  g_autofree char *out = NULL, *err = NULL;
  JsonObject *o;
  JsonArray *probs;
  double sum = 0, best = -1;
  int argmax = -1;

  g_assert_no_error (error);
  g_assert_true (ss_synchformer_save (m, model, FALSE, &error));
  g_assert_no_error (error);

  g_assert_cmpint (run_cli (model, &out, &err, "sync", clip, "--json", NULL), ==, 0);
  g_assert_true (json_parser_load_from_data (parser, out, -1, &error));
  o = json_node_get_object (json_parser_get_root (parser));
  g_assert_cmpstr (json_object_get_string_member (o, "method"), ==, "model");
  g_assert_cmpstr (json_object_get_string_member (o, "model"), ==, model);
  g_assert_true (json_object_get_null_member (o, "note"));
  /* the weights have a synchronizability head: it is the model's, not derived */
  g_assert_cmpstr (json_object_get_string_member (o, "synchronizability_source"), ==, "model");
  probs = json_object_get_array_member (o, "probabilities");
  for (guint i = 0; i < json_array_get_length (probs); i++)
    {
      double p = json_array_get_double_element (probs, i);
      sum += p;
      if (p > best)
        best = p, argmax = (int) i;
    }
  g_assert_cmpfloat (fabs (sum - 1.0), <, 1e-3);
  g_assert_cmpint (json_object_get_int_member (o, "class"), ==, argmax);
}

static void
read_probs (const char *json, double *probs, int *n)
{
  g_autoptr(JsonParser) parser = json_parser_new ();
  g_autoptr(GError) error = NULL;
  g_assert_true (json_parser_load_from_data (parser, json, -1, &error));
  JsonObject *o = json_node_get_object (json_parser_get_root (parser));
  g_assert_cmpstr (json_object_get_string_member (o, "method"), ==, "model");
  JsonArray *a = json_object_get_array_member (o, "probabilities");
  *n = json_array_get_length (a);
  for (int i = 0; i < *n && i < 32; i++)
    probs[i] = json_array_get_double_element (a, i);
}

/* the model in fp16 storage (what GPUs with tensor cores get) gives the same
 * probabilities as in fp32, within fp16 rounding */
static void
test_model_f16 (void)
{
  g_autofree char *model = g_build_filename (tmp_dir, "sync-random-f16.safetensors", NULL);
  g_autoptr(GError) error = NULL;
  g_autoptr(SsSynchformer) m = ss_synchformer_new_random (ss_synchformer_config_tiny (), 5, TRUE, &error);
  g_assert_no_error (error);
  g_assert_true (ss_synchformer_save (m, model, FALSE, &error));
  double p32[32], p16[32];
  int n32 = 0, n16 = 0;
  for (int half = 0; half < 2; half++)
    {
      g_autofree char *out = NULL, *err = NULL;
      g_setenv ("SOUNDSTAGE_SYNC_DTYPE", half ? "f16" : "f32", TRUE);
      g_assert_cmpint (run_cli (model, &out, &err, "sync", clip, "--json", "--method", "model", NULL), ==, 0);
      read_probs (out, half ? p16 : p32, half ? &n16 : &n32);
    }
  g_unsetenv ("SOUNDSTAGE_SYNC_DTYPE");
  g_assert_cmpint (n16, ==, n32);
  g_assert_cmpint (n32, ==, 21);
  double worst = 0;
  for (int i = 0; i < n32; i++)
    worst = MAX (worst, fabs (p16[i] - p32[i]));
  g_test_message ("largest probability difference fp16 - fp32: %.2e", worst);
  g_assert_cmpfloat (worst, <, 0.01);
  g_assert_cmpfloat (worst, >, 0.0);   /* the fp16 run did run in fp16 */
}

static void
test_broken_model (void)
{
  g_autofree char *model = g_build_filename (tmp_dir, "sync-broken.safetensors", NULL);
  g_autoptr(JsonParser) parser = json_parser_new ();
  g_autoptr(GError) error = NULL;
  g_autofree char *out = NULL, *err = NULL;
  g_autofree char *out2 = NULL, *err2 = NULL;
  JsonObject *o;

  g_assert_true (g_file_set_contents (model, "\x10\x00\x00\x00\x00\x00\x00\x00{\"a\":1}  ", 18, NULL));
  /* auto: falls back and says why */
  g_assert_cmpint (run_cli (model, &out, &err, "sync", clip, "--json", NULL), ==, 0);
  g_assert_true (json_parser_load_from_data (parser, out, -1, &error));
  o = json_node_get_object (json_parser_get_root (parser));
  g_assert_cmpstr (json_object_get_string_member (o, "method"), ==, "sp");
  g_assert_nonnull (strstr (json_object_get_string_member (o, "note"), "could not be loaded"));
  /* model: an error naming the file */
  g_assert_cmpint (run_cli (model, &out2, &err2, "sync", clip, "--method", "model", NULL), ==, 2);
  g_test_message ("%s", err2);
  g_assert_nonnull (strstr (err2, "sync-broken.safetensors"));
}

static JsonObject *
parse_object (JsonParser *parser, const char *text)
{
  g_autoptr(GError) error = NULL;
  g_assert_true (json_parser_load_from_data (parser, text, -1, &error));
  g_assert_no_error (error);
  return json_node_get_object (json_parser_get_root (parser));
}

/* an installed model (found in $XDG_DATA_HOME/soundstage/models) with the trainer's figures */
static void
install_model (const char *model_acc, const char *sp_acc)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *dir = g_build_filename (tmp_dir, "data", "soundstage", "models", NULL);
  g_autofree char *path = g_build_filename (dir, "sync-trained.safetensors", NULL);
  g_autoptr(SsSynchformer) m = ss_synchformer_new_random (ss_synchformer_config_tiny (), 4, TRUE, &error);
  g_assert_no_error (error);
  g_assert_cmpint (g_mkdir_with_parents (dir, 0700), ==, 0);
  ss_synchformer_set_metadata (m, SS_SYNCHFORMER_META_HELDOUT_ACC, model_acc);
  ss_synchformer_set_metadata (m, SS_SYNCHFORMER_META_HELDOUT_SP_ACC, sp_acc);
  g_assert_true (ss_synchformer_save (m, path, TRUE, &error));
  g_assert_no_error (error);
  /* the figures survive a save/load round trip */
  g_autoptr(SsSynchformer) back = ss_synchformer_load (NULL, path, &error);
  g_assert_no_error (error);
  double a = -1, b = -1;
  g_assert_true (ss_synchformer_get_heldout_accuracy (back, &a, &b));
  g_assert_cmpfloat (fabs (a - g_ascii_strtod (model_acc, NULL)), <, 1e-9);
  g_assert_cmpfloat (fabs (b - g_ascii_strtod (sp_acc, NULL)), <, 1e-9);
  data_home = g_build_filename (tmp_dir, "data", NULL);
}

static void
test_worse_model_skipped (void)
{
  g_autoptr(JsonParser) p1 = json_parser_new (), p2 = json_parser_new (), p3 = json_parser_new ();
  g_autofree char *out = NULL, *err = NULL, *out2 = NULL, *err2 = NULL, *out3 = NULL, *err3 = NULL;
  JsonObject *o;

  install_model ("0.2286", "0.7143");
  /* auto: the estimate that measured better, and a note that says why */
  g_assert_cmpint (run_cli ("", &out, &err, "sync", clip, "--json", NULL), ==, 0);
  o = parse_object (p1, out);
  g_assert_cmpstr (json_object_get_string_member (o, "method"), ==, "sp");
  g_test_message ("note: %s", json_object_get_string_member (o, "note"));
  g_assert_nonnull (strstr (json_object_get_string_member (o, "note"), "23 %"));
  g_assert_nonnull (strstr (json_object_get_string_member (o, "note"), "71 %"));
  /* asked for by name: the model runs */
  g_assert_cmpint (run_cli ("", &out2, &err2, "sync", clip, "--json", "--method", "model", NULL), ==, 0);
  o = parse_object (p2, out2);
  g_assert_cmpstr (json_object_get_string_member (o, "method"), ==, "model");
  /* a model that measured at least as well as the estimate is used by auto */
  install_model ("0.9", "0.7143");
  g_assert_cmpint (run_cli ("", &out3, &err3, "sync", clip, "--json", NULL), ==, 0);
  o = parse_object (p3, out3);
  g_assert_cmpstr (json_object_get_string_member (o, "method"), ==, "model");
  g_clear_pointer (&data_home, g_free);
}

int
main (int argc, char *argv[])
{
  g_autoptr(GError) error = NULL;
  SyncuiClip c;
  int ret;

  g_test_init (&argc, &argv, NULL);
  tmp_dir = g_dir_make_tmp ("soundstage-syncui-model-XXXXXX", NULL);
  cli = g_build_filename (SS_BUILD_DIR, "app", "soundstage-cli", NULL);
  clip = g_build_filename (tmp_dir, "clip.mp4", NULL);
  g_setenv ("SOUNDSTAGE_PLAIN_PROGRESS", "1", TRUE);
  syncui_clip_init (&c);
  c.seconds = 5.0;
  c.offset = 0.4;
  g_assert_true (syncui_clip_write (&c, clip, &error));
  g_assert_no_error (error);

  g_test_add_func ("/syncui/model/used", test_model_used);
  g_test_add_func ("/syncui/model/f16", test_model_f16);
  g_test_add_func ("/syncui/model/broken", test_broken_model);
  g_test_add_func ("/syncui/model/worse-than-sp-skipped", test_worse_model_skipped);
  ret = g_test_run ();

  if (ret == 0)
    {
      g_autofree char *cmd = g_strdup_printf ("rm -rf '%s'", tmp_dir);
      if (system (cmd) != 0)
        g_warning ("could not remove %s", tmp_dir);
    }
  g_free (tmp_dir);
  g_free (cli);
  g_free (clip);
  return ret;
}
