/* ss-cli-sync.c: `soundstage-cli sync` and `soundstage-cli sync-eval`.
 *
 * sync FILE: the audio-visual offset of a media file (docs/sync-ui.md has the
 * JSON schema). sync-eval DIR: accuracy of each available method on clips with
 * known offsets (labels written by the corpus generator, core/models/ss-corpus.h). */
#define G_LOG_DOMAIN "soundstage-cli"

#include "config.h"

#include <math.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <glib-unix.h>
#include <glib/gi18n.h>
#include <json-glib/json-glib.h>

#include "jobs/ss-job.h"
#include "media/ss-media.h"
#include "models/ss-corpus.h"
#include "models/sync-job/ss-sync-job.h"
#include "ss-cli-common.h"
#include "ss-cli-sync.h"

static const char *json_schema_help = N_(
  "Offsets: positive = the audio leads (comes early); delaying the audio by the\n"
  "offset puts it in sync. Classes: -2.0 s to +2.0 s in 0.2 s steps (21).\n"
  "Method auto uses the Synchformer model when its weights are installed\n"
  "($SOUNDSTAGE_SYNC_MODEL, or data/models/sync-*.safetensors), else the\n"
  "signal-processing estimate.\n"
  "\n"
  "JSON (--json), one object:\n"
  "  file               the media file\n"
  "  method             \"model\" or \"sp\": the method that ran\n"
  "  model              weights file used (null for sp)\n"
  "  note               why auto used sp (null otherwise)\n"
  "  offset             seconds, refined\n"
  "  grid_offset        seconds, the most probable class\n"
  "  class              its index, 0..20\n"
  "  confidence         0..1\n"
  "  synchronizability  0..1\n"
  "  synchronizability_source  \"model\", or \"confidence\" when derived from it\n"
  "  top                [{class, offset, probability}] the three most probable\n"
  "  probabilities      [21 numbers], class i is offset -2.0 + 0.2 i\n"
  "  analysed           {start, duration} seconds\n"
  "  windows            [{start, offset, class, confidence}] offset over time\n"
  "                     in 4.8 s windows (empty for clips of one window)\n"
  "\n"
  "Exit status: 0 done, 1 usage, 2 bad input (no audio stream, video only,\n"
  "shorter than 4.8 s, unreadable or corrupt file, model missing), 3 failed,\n"
  "130 cancelled.");

static gboolean
parse_options (const char *command, const char *params, const char *summary,
               const GOptionEntry *entries, int *argc, char ***argv)
{
  return ss_cli_parse_options (command, params, summary, _(json_schema_help), entries, argc, argv);
}

/* ------------------------------------------------------------------ sync */

static void
add_double (JsonBuilder *b, const char *name, double v)
{
  json_builder_set_member_name (b, name);
  /* three decimals are plenty and keep the output stable */
  json_builder_add_double_value (b, round (v * 1e4) / 1e4);
}

static void
add_string_or_null (JsonBuilder *b, const char *name, const char *v)
{
  json_builder_set_member_name (b, name);
  if (v != NULL)
    json_builder_add_string_value (b, v);
  else
    json_builder_add_null_value (b);
}

static void
result_to_json (JsonBuilder *b, const char *file, const SsSyncResult *r)
{
  int top[3];

  ss_sync_result_top_classes (r, top);
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "file");
  json_builder_add_string_value (b, file);
  json_builder_set_member_name (b, "method");
  json_builder_add_string_value (b, ss_sync_method_to_string (r->method));
  add_string_or_null (b, "model", r->model_path);
  add_string_or_null (b, "note", r->note);
  add_double (b, "offset", r->offset);
  add_double (b, "grid_offset", r->grid_offset);
  json_builder_set_member_name (b, "class");
  json_builder_add_int_value (b, r->class_index);
  add_double (b, "confidence", r->confidence);
  add_double (b, "synchronizability", r->syncability);
  json_builder_set_member_name (b, "synchronizability_source");
  json_builder_add_string_value (b, r->syncability_derived ? "confidence" : "model");
  json_builder_set_member_name (b, "top");
  json_builder_begin_array (b);
  for (int k = 0; k < 3; k++)
    {
      json_builder_begin_object (b);
      json_builder_set_member_name (b, "class");
      json_builder_add_int_value (b, top[k]);
      add_double (b, "offset", ss_sync_class_offset (top[k]));
      add_double (b, "probability", r->probs[top[k]]);
      json_builder_end_object (b);
    }
  json_builder_end_array (b);
  json_builder_set_member_name (b, "probabilities");
  json_builder_begin_array (b);
  for (int i = 0; i < SS_SYNC_N_CLASSES; i++)
    json_builder_add_double_value (b, round (r->probs[i] * 1e6) / 1e6);
  json_builder_end_array (b);
  json_builder_set_member_name (b, "analysed");
  json_builder_begin_object (b);
  add_double (b, "start", r->start);
  add_double (b, "duration", r->duration);
  json_builder_end_object (b);
  json_builder_set_member_name (b, "windows");
  json_builder_begin_array (b);
  for (int i = 0; r->n_windows > 1 && i < r->n_windows; i++)
    {
      json_builder_begin_object (b);
      add_double (b, "start", r->window_start[i]);
      add_double (b, "offset", r->windows[i].offset);
      json_builder_set_member_name (b, "class");
      json_builder_add_int_value (b, r->windows[i].class_index);
      add_double (b, "confidence", r->windows[i].confidence);
      json_builder_end_object (b);
    }
  json_builder_end_array (b);
  json_builder_end_object (b);
}

static void
print_result_text (const char *file, const SsSyncResult *r)
{
  g_autofree char *display = g_filename_display_name (file);
  int top[3];

  ss_sync_result_top_classes (r, top);
  if (fabs (r->offset) < SS_SYNC_CLASS_STEP / 2)
    printf (_("%s: in sync (offset %+.3f s)\n"), display, r->offset);
  else if (r->offset > 0)
    printf (_("%s: the audio leads by %.2f s (delay the audio by %.2f s to sync)\n"),
            display, r->offset, r->offset);
  else
    printf (_("%s: the audio lags by %.2f s (advance the audio by %.2f s to sync)\n"),
            display, -r->offset, -r->offset);
  printf (_("  method:            %s\n"), ss_sync_method_display_name (r->method));
  if (r->model_path != NULL)
    printf (_("  model:             %s\n"), r->model_path);
  if (r->note != NULL)
    printf (_("  note:              %s\n"), r->note);
  printf (_("  offset:            %+.3f s refined, %+.1f s on the grid (class %d of %d)\n"),
          r->offset, r->grid_offset, r->class_index, SS_SYNC_N_CLASSES);
  printf (_("  confidence:        %.2f\n"), r->confidence);
  if (r->syncability_derived)
    printf (_("  synchronizability: %.2f (derived from the confidence: this method does not predict it)\n"),
            r->syncability);
  else
    printf (_("  synchronizability: %.2f\n"), r->syncability);
  printf (_("  most probable:     "));
  for (int k = 0; k < 3; k++)
    printf ("%s%+.1f s %.1f %%", k ? ", " : "", ss_sync_class_offset (top[k]), 100.0 * r->probs[top[k]]);
  printf ("\n");
  printf (_("  analysed:          %.1f s from %.1f s\n"), r->duration, r->start);
  if (r->n_windows > 1)
    {
      printf (_("  offset over time (%.1f s windows):\n"), SS_SYNC_WINDOW);
      for (int i = 0; i < r->n_windows; i++)
        printf (_("    %7.1f s  %+.2f s  (confidence %.2f)\n"), r->window_start[i],
                r->windows[i].offset, r->windows[i].confidence);
    }
}

int
ss_cli_sync (int argc, char **argv)
{
  gboolean as_json = FALSE;
  g_autofree char *method_name = NULL;
  g_autofree char *model = NULL;
  const GOptionEntry entries[] = {
    { "method", 'm', 0, G_OPTION_ARG_STRING, &method_name,
      N_("auto (default: the model when installed), sp (signal processing) or model"), N_("METHOD") },
    { "model", 0, 0, G_OPTION_ARG_FILENAME, &model, N_("Sync model weights (.safetensors) to use"), N_("FILE") },
    { "json", 'j', 0, G_OPTION_ARG_NONE, &as_json, N_("Print JSON (schema below)"), NULL },
    { NULL }
  };
  g_autoptr(GError) error = NULL;
  g_autoptr(SsJob) job = NULL;
  SsSyncMethod method = SS_SYNC_METHOD_AUTO;
  SsSyncRequest req = { 0 };
  const SsSyncResult *r;
  SsJobState state;

  if (!parse_options ("sync", _("FILE"), _("Measure the audio-visual offset of a video"), entries, &argc, &argv))
    return EXIT_USAGE;
  if (argc != 2)
    return ss_cli_usage_error ("sync", "%s", argc < 2 ? _("FILE is missing") : _("Too many arguments"));
  if (method_name != NULL && !ss_sync_method_from_string (method_name, &method))
    {
      g_autofree char *msg = g_strdup_printf (_("Unknown method “%s” (auto, sp or model)"), method_name);
      return ss_cli_usage_error ("sync", "%s", msg);
    }
  if (!ss_cli_check_input_file (argv[1], &error))
    return ss_cli_report_error (error);

  req.video_path = argv[1];
  req.method = method;
  req.model_path = model;
  job = ss_sync_job_new (&req);
  state = ss_cli_wait_job (job, FALSE);
  if (state == SS_JOB_CANCELLED)
    {
      fprintf (stderr, _("%s: cancelled\n"), SS_CLI_PRGNAME);
      return EXIT_CANCELLED;
    }
  if (state != SS_JOB_SUCCEEDED)
    return ss_cli_report_error (ss_job_get_error (job));
  r = ss_job_get_result (job);
  if (as_json)
    {
      g_autoptr(JsonBuilder) b = json_builder_new ();
      g_autofree char *text = NULL;
      result_to_json (b, argv[1], r);
      text = ss_cli_builder_to_string (b);
      printf ("%s\n", text);
    }
  else
    print_result_text (argv[1], r);
  return EXIT_OK;
}

/* ------------------------------------------------------------- sync-eval */

typedef struct {
  char   *label;
  char   *media;
  double  offset;
} Labeled;

static void
labeled_free (gpointer p)
{
  Labeled *l = p;

  g_free (l->label);
  g_free (l->media);
  g_free (l);
}

static const char *media_extensions[] = { ".mp4", ".mkv", ".mov", ".webm", ".avi" };

/* The media file of a label: its "media" member (relative to the label's
 * folder), else a file with the same stem and a video extension. */
static char *
media_for_label (const char *dir, const char *label_name, const char *media_member)
{
  g_autofree char *stem = NULL;

  if (media_member != NULL && media_member[0] != '\0')
    {
      char *path = g_path_is_absolute (media_member) ? g_strdup (media_member)
                                                      : g_build_filename (dir, media_member, NULL);
      if (g_file_test (path, G_FILE_TEST_IS_REGULAR))
        return path;
      g_free (path);
    }
  stem = g_strndup (label_name, strlen (label_name) - strlen (".json"));
  if (g_str_has_suffix (stem, ".label"))
    stem[strlen (stem) - strlen (".label")] = '\0';
  for (guint i = 0; i < G_N_ELEMENTS (media_extensions); i++)
    {
      g_autofree char *name = g_strconcat (stem, media_extensions[i], NULL);
      char *path = g_build_filename (dir, name, NULL);
      if (g_file_test (path, G_FILE_TEST_IS_REGULAR))
        return path;
      g_free (path);
    }
  return NULL;
}

static int
compare_labeled (gconstpointer a, gconstpointer b)
{
  const Labeled *la = *(Labeled **) a, *lb = *(Labeled **) b;

  return g_strcmp0 (la->label, lb->label);
}

static GPtrArray *
scan_labels (const char *dir, GError **error)
{
  g_autoptr(GDir) d = g_dir_open (dir, 0, error);
  g_autoptr(GPtrArray) list = g_ptr_array_new_with_free_func (labeled_free);
  const char *name;

  if (d == NULL)
    return NULL;
  while ((name = g_dir_read_name (d)) != NULL)
    {
      g_autofree char *path = NULL;
      g_autofree char *media_member = NULL;
      g_autoptr(GError) local = NULL;
      double offset = 0;
      Labeled *l;

      if (!g_str_has_suffix (name, ".json"))
        continue;
      path = g_build_filename (dir, name, NULL);
      if (!ss_corpus_label_load (path, &offset, NULL, &media_member, &local))
        continue;   /* other JSON files may live there too */
      l = g_new0 (Labeled, 1);
      l->label = g_steal_pointer (&path);
      l->media = media_for_label (dir, name, media_member);
      l->offset = offset;
      g_ptr_array_add (list, l);
    }
  g_ptr_array_sort (list, compare_labeled);
  return g_steal_pointer (&list);
}

typedef struct {
  SsSyncMethod method;
  char   *model_path;
  int     n, correct, within1, failed;
  double  abs_error;
} MethodStats;

int
ss_cli_sync_eval (int argc, char **argv)
{
  gboolean as_json = FALSE;
  g_autofree char *model = NULL;
  const GOptionEntry entries[] = {
    { "model", 0, 0, G_OPTION_ARG_FILENAME, &model, N_("Sync model weights (.safetensors) to evaluate"), N_("FILE") },
    { "json", 'j', 0, G_OPTION_ARG_NONE, &as_json, N_("Print JSON"), NULL },
    { NULL }
  };
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) labels = NULL;
  g_autoptr(JsonBuilder) clips_json = json_builder_new ();
  g_autofree char *model_path = NULL;
  g_autofree char *why = NULL;
  MethodStats stats[2] = { { SS_SYNC_METHOD_SP }, { SS_SYNC_METHOD_MODEL } };
  int n_methods;
  const char *dir;

  if (!parse_options ("sync-eval", _("DIR"),
                      _("Accuracy of each available sync method on labeled clips (corpus labels *.json)"),
                      entries, &argc, &argv))
    return EXIT_USAGE;
  if (argc != 2)
    return ss_cli_usage_error ("sync-eval", "%s", argc < 2 ? _("DIR is missing") : _("Too many arguments"));
  dir = argv[1];
  if (!g_file_test (dir, G_FILE_TEST_IS_DIR))
    {
      g_autofree char *display = g_filename_display_name (dir);
      fprintf (stderr, _("%s: “%s” is not a folder\n"), SS_CLI_PRGNAME, display);
      return EXIT_BAD_INPUT;
    }
  labels = scan_labels (dir, &error);
  if (labels == NULL)
    return ss_cli_report_error (error);
  if (labels->len == 0)
    {
      g_autofree char *display = g_filename_display_name (dir);
      fprintf (stderr, _("%s: no clip labels (corpus *.json files) in “%s”\n"), SS_CLI_PRGNAME, display);
      return EXIT_BAD_INPUT;
    }

  model_path = model != NULL ? g_strdup (model) : ss_sync_find_model (&why);
  n_methods = model_path != NULL ? 2 : 1;
  stats[1].model_path = model_path;
  if (model_path == NULL && !as_json)
    printf (_("Model: not evaluated (%s)\n"), why);

  json_builder_begin_array (clips_json);
  for (guint i = 0; i < labels->len; i++)
    {
      Labeled *l = g_ptr_array_index (labels, i);
      g_autofree char *label_base = g_path_get_basename (l->label);
      int truth = ss_sync_offset_class (l->offset);

      json_builder_begin_object (clips_json);
      json_builder_set_member_name (clips_json, "label");
      json_builder_add_string_value (clips_json, l->label);
      add_string_or_null (clips_json, "media", l->media);
      add_double (clips_json, "true_offset", l->offset);
      json_builder_set_member_name (clips_json, "true_class");
      json_builder_add_int_value (clips_json, truth);
      for (int m = 0; m < n_methods; m++)
        {
          MethodStats *s = &stats[m];
          g_autoptr(SsJob) job = NULL;
          SsSyncRequest req = { 0 };
          const SsSyncResult *r;
          SsJobState state;

          json_builder_set_member_name (clips_json, ss_sync_method_to_string (s->method));
          json_builder_begin_object (clips_json);
          if (l->media == NULL)
            {
              fprintf (stderr, _("%s: %s: its media file was not found\n"), SS_CLI_PRGNAME, label_base);
              s->failed++;
              json_builder_set_member_name (clips_json, "error");
              json_builder_add_string_value (clips_json, _("media file not found"));
              json_builder_end_object (clips_json);
              continue;
            }
          req.video_path = l->media;
          req.method = s->method;
          req.model_path = s->model_path;
          job = ss_sync_job_new (&req);
          state = ss_cli_wait_job (job, TRUE);
          if (state == SS_JOB_CANCELLED)
            {
              fprintf (stderr, _("%s: cancelled\n"), SS_CLI_PRGNAME);
              return EXIT_CANCELLED;
            }
          if (state != SS_JOB_SUCCEEDED)
            {
              fprintf (stderr, "%s: %s\n", SS_CLI_PRGNAME, ss_job_get_error (job)->message);
              s->failed++;
              json_builder_set_member_name (clips_json, "error");
              json_builder_add_string_value (clips_json, ss_job_get_error (job)->message);
              json_builder_end_object (clips_json);
              continue;
            }
          r = ss_job_get_result (job);
          s->n++;
          s->correct += r->class_index == truth;
          s->within1 += abs (r->class_index - truth) <= 1;
          s->abs_error += fabs (r->offset - l->offset);
          add_double (clips_json, "offset", r->offset);
          json_builder_set_member_name (clips_json, "class");
          json_builder_add_int_value (clips_json, r->class_index);
          add_double (clips_json, "confidence", r->confidence);
          json_builder_end_object (clips_json);
          if (!as_json)
            fprintf (stderr, "[%u/%u] %s: %s %+.2f s (class %d), true %+.2f s (class %d)\n",
                     i + 1, labels->len, label_base, ss_sync_method_to_string (s->method),
                     r->offset, r->class_index, l->offset, truth);
        }
      json_builder_end_object (clips_json);
    }
  json_builder_end_array (clips_json);

  if (as_json)
    {
      g_autoptr(JsonBuilder) b = json_builder_new ();
      g_autoptr(JsonNode) clips = json_builder_get_root (clips_json);
      g_autofree char *text = NULL;

      json_builder_begin_object (b);
      json_builder_set_member_name (b, "dir");
      json_builder_add_string_value (b, dir);
      json_builder_set_member_name (b, "clips");
      json_builder_add_int_value (b, labels->len);
      add_string_or_null (b, "model_note", model_path == NULL ? why : NULL);
      json_builder_set_member_name (b, "methods");
      json_builder_begin_array (b);
      for (int m = 0; m < n_methods; m++)
        {
          MethodStats *s = &stats[m];
          json_builder_begin_object (b);
          json_builder_set_member_name (b, "method");
          json_builder_add_string_value (b, ss_sync_method_to_string (s->method));
          add_string_or_null (b, "model", s->model_path);
          json_builder_set_member_name (b, "evaluated");
          json_builder_add_int_value (b, s->n);
          json_builder_set_member_name (b, "failed");
          json_builder_add_int_value (b, s->failed);
          add_double (b, "accuracy", s->n ? (double) s->correct / s->n : 0);
          add_double (b, "accuracy_within_1", s->n ? (double) s->within1 / s->n : 0);
          add_double (b, "mean_abs_error", s->n ? s->abs_error / s->n : 0);
          json_builder_end_object (b);
        }
      json_builder_end_array (b);
      json_builder_set_member_name (b, "results");
      json_builder_add_value (b, json_node_copy (clips));
      json_builder_end_object (b);
      text = ss_cli_builder_to_string (b);
      printf ("%s\n", text);
    }
  else
    {
      printf (_("%u labeled clips in %s\n"), labels->len, dir);
      printf ("%-8s %9s %9s %11s %13s %7s\n", _("method"), _("clips"), _("accuracy"), _("±1 class"),
              _("mean |error|"), _("failed"));
      for (int m = 0; m < n_methods; m++)
        {
          MethodStats *s = &stats[m];
          printf ("%-8s %9d %8.1f%% %10.1f%% %11.3f s %7d\n", ss_sync_method_to_string (s->method), s->n,
                  s->n ? 100.0 * s->correct / s->n : 0.0, s->n ? 100.0 * s->within1 / s->n : 0.0,
                  s->n ? s->abs_error / s->n : 0.0, s->failed);
        }
    }
  /* nothing could be evaluated: the folder's clips are the problem */
  for (int m = 0; m < n_methods; m++)
    if (stats[m].n > 0)
      return EXIT_OK;
  return EXIT_BAD_INPUT;
}
