/* ss-cli.c: soundstage-cli, the headless front end (no GTK).
 *
 * Subcommands live in one table (commands[] below); model jobs add rows there.
 * Long work runs as an SsJob on a worker thread while the main thread runs a
 * main loop that prints progress and turns SIGINT into a clean cancel. */
#define G_LOG_DOMAIN "soundstage-cli"

#include "config.h"

#include <errno.h>
#include <locale.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <glib-unix.h>
#include <glib/gi18n.h>
#include <json-glib/json-glib.h>
#include <libavutil/log.h>

#include "jobs/ss-job.h"
#include "media/ss-media.h"
#include "project/ss-project.h"
#include "ss-app-export.h"
#include "ss-cli-common.h"
#include "ss-cli-sync.h"
#include "ss-demo.h"

typedef struct {
  const char *name;
  const char *args;        /* shown after the name in usage lines */
  const char *summary;
  int       (*run) (int argc, char **argv);
} SsCliCommand;

static int cmd_info (int argc, char **argv);
static int cmd_export (int argc, char **argv);
static int cmd_export_stems (int argc, char **argv);
static int cmd_make_demo (int argc, char **argv);

static const SsCliCommand commands[] = {
  { "info",         N_("FILE [--json]"),           N_("Show the streams of a media file, or the media, tracks and clips of a project"), cmd_info },
  { "export",       N_("PROJECT -o OUT.mp4"),      N_("Render a project to a video file with the mixed sound"), cmd_export },
  { "export-stems", N_("PROJECT -o DIR"),          N_("Write each audio track of a project as a WAV file into DIR"), cmd_export_stems },
  { "make-demo",    N_("DIR"),                     N_("Generate the demo clip and demo project into DIR"), cmd_make_demo },
  { "sync",         N_("FILE [--json]"),            N_("Measure the audio-visual offset of a video (Check Sync)"), ss_cli_sync },
  { "sync-eval",    N_("DIR [--json]"),            N_("Accuracy of each sync method on clips with known offsets"), ss_cli_sync_eval },
};

static const char *prgname = SS_CLI_PRGNAME;

/* ------------------------------------------------------------------ output */

static void
print_usage (FILE *out)
{
  fprintf (out, _("Usage: %s COMMAND [OPTIONS…]\n\n"), prgname);
  fprintf (out, _("Soundstage on the command line: the editor’s jobs without a window.\n\n"));
  fprintf (out, _("Commands:\n"));
  for (guint i = 0; i < G_N_ELEMENTS (commands); i++)
    {
      g_autofree char *head = g_strdup_printf ("%s %s", commands[i].name, _(commands[i].args));
      fprintf (out, "  %-28s %s\n", head, _(commands[i].summary));
    }
  fprintf (out, _("\nRun “%s COMMAND --help” for the options of a command.\n\n"), prgname);
  fprintf (out, _("Exit status:\n"
                  "  0    success\n"
                  "  1    wrong usage (unknown command or option, missing argument)\n"
                  "  2    bad input (file missing, unreadable, corrupt or unsupported; missing media)\n"
                  "  3    the job failed (writing the output, encoding, out of memory, …)\n"
                  "  130  cancelled (Ctrl+C cancels the running job cleanly)\n"));
}

/* Parses options of a subcommand (its summary from the table); FALSE (and
 * prints why) on bad usage. */
static gboolean
parse_options (const char *command, const char *params, const GOptionEntry *entries,
               int *argc, char ***argv)
{
  const char *summary = NULL;

  for (guint i = 0; i < G_N_ELEMENTS (commands); i++)
    if (g_str_equal (commands[i].name, command))
      summary = _(commands[i].summary);
  return ss_cli_parse_options (command, params, summary, NULL, entries, argc, argv);
}

/* -------------------------------------------------------------- helpers */

static gboolean
looks_like_project (const char *path)
{
  char head[64] = { 0 };
  FILE *f;
  size_t n;

  if (g_str_has_suffix (path, SS_PROJECT_EXTENSION))
    return TRUE;
  f = fopen (path, "rb");
  if (f == NULL)
    return FALSE;
  n = fread (head, 1, sizeof head - 1, f);
  fclose (f);
  for (size_t i = 0; i < n; i++)
    {
      if (g_ascii_isspace (head[i]))
        continue;
      return head[i] == '{';
    }
  return FALSE;
}

static SsProject *
load_project_checked (const char *path, gboolean need_media, GError **error)
{
  g_autoptr(SsProject) project = NULL;
  g_autoptr(GString) missing = NULL;

  if (!ss_cli_check_input_file (path, error))
    return NULL;
  project = ss_project_load (path, error);
  if (project == NULL)
    return NULL;
  if (!need_media)
    return g_steal_pointer (&project);
  for (guint i = 0; i < ss_project_get_n_media (project); i++)
    {
      const SsMedia *m = ss_project_get_media (project, i);
      if (!m->missing)
        continue;
      if (missing == NULL)
        missing = g_string_new (NULL);
      g_string_append_printf (missing, "\n  %s", m->path);
    }
  if (missing != NULL)
    {
      g_autofree char *display = g_filename_display_name (path);
      g_set_error (error, SS_ERROR, SS_ERROR_NOT_FOUND,
                   _("The project “%s” uses media files that were not found (relink them in the editor):%s"),
                   display, missing->str);
      return NULL;
    }
  return g_steal_pointer (&project);
}

static const char *
track_kind_name (SsTrackKind kind)
{
  return kind == SS_TRACK_VIDEO ? "video" : "audio";
}

/* ----------------------------------------------------------------- info */

static void
media_to_json (JsonBuilder *b, const SsMedia *m)
{
  json_builder_begin_object (b);
  if (m->id != NULL)
    {
      json_builder_set_member_name (b, "id");
      json_builder_add_string_value (b, m->id);
    }
  json_builder_set_member_name (b, "path");
  json_builder_add_string_value (b, m->path ? m->path : "");
  json_builder_set_member_name (b, "missing");
  json_builder_add_boolean_value (b, m->missing);
  json_builder_set_member_name (b, "duration");
  json_builder_add_double_value (b, ss_time_to_seconds (m->duration));
  json_builder_set_member_name (b, "streams");
  json_builder_begin_array (b);
  if (m->has_video)
    {
      json_builder_begin_object (b);
      json_builder_set_member_name (b, "type");
      json_builder_add_string_value (b, "video");
      json_builder_set_member_name (b, "width");
      json_builder_add_int_value (b, m->width);
      json_builder_set_member_name (b, "height");
      json_builder_add_int_value (b, m->height);
      json_builder_set_member_name (b, "fps");
      json_builder_add_double_value (b, m->fps_den > 0 ? (double) m->fps_num / m->fps_den : 0.0);
      json_builder_set_member_name (b, "fps_num");
      json_builder_add_int_value (b, m->fps_num);
      json_builder_set_member_name (b, "fps_den");
      json_builder_add_int_value (b, m->fps_den);
      json_builder_end_object (b);
    }
  if (m->has_audio)
    {
      json_builder_begin_object (b);
      json_builder_set_member_name (b, "type");
      json_builder_add_string_value (b, "audio");
      json_builder_set_member_name (b, "sample_rate");
      json_builder_add_int_value (b, m->sample_rate);
      json_builder_set_member_name (b, "channels");
      json_builder_add_int_value (b, m->channels);
      json_builder_end_object (b);
    }
  json_builder_end_array (b);
  json_builder_end_object (b);
}

static void
print_media_text (const SsMedia *m, const char *indent)
{
  g_autofree char *display = g_filename_display_name (m->path ? m->path : "");

  if (m->id != NULL)
    printf ("%s%s: %s%s\n", indent, m->id, display, m->missing ? _(" (missing)") : "");
  else
    printf ("%s%s\n", indent, display);
  printf (_("%s  duration: %.3f s\n"), indent, ss_time_to_seconds (m->duration));
  if (m->has_video)
    printf (_("%s  video: %d×%d, %.3f fps (%d/%d)\n"), indent, m->width, m->height,
            m->fps_den > 0 ? (double) m->fps_num / m->fps_den : 0.0, m->fps_num, m->fps_den);
  if (m->has_audio)
    printf (_("%s  audio: %d Hz, %d channel(s)\n"), indent, m->sample_rate, m->channels);
}

static int
info_media (const char *path, gboolean as_json)
{
  g_autoptr(GError) error = NULL;
  SsMedia m = { 0 };

  if (!ss_media_probe (path, &m, &error))
    return ss_cli_report_error (error);
  if (as_json)
    {
      g_autoptr(JsonBuilder) b = json_builder_new ();
      g_autofree char *text = NULL;
      json_builder_begin_object (b);
      json_builder_set_member_name (b, "type");
      json_builder_add_string_value (b, "media");
      json_builder_set_member_name (b, "media");
      media_to_json (b, &m);
      json_builder_end_object (b);
      text = ss_cli_builder_to_string (b);
      printf ("%s\n", text);
    }
  else
    print_media_text (&m, "");
  ss_media_clear (&m);
  return EXIT_OK;
}

static int
info_project (const char *path, gboolean as_json)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(SsProject) project = load_project_checked (path, FALSE, &error);
  int fps_num = 0, fps_den = 1;

  if (project == NULL)
    return ss_cli_report_error (error);
  ss_project_get_fps (project, &fps_num, &fps_den);

  if (as_json)
    {
      g_autoptr(JsonBuilder) b = json_builder_new ();
      g_autofree char *text = NULL;

      json_builder_begin_object (b);
      json_builder_set_member_name (b, "type");
      json_builder_add_string_value (b, "project");
      json_builder_set_member_name (b, "path");
      json_builder_add_string_value (b, path);
      json_builder_set_member_name (b, "duration");
      json_builder_add_double_value (b, ss_time_to_seconds (ss_project_get_duration (project)));
      json_builder_set_member_name (b, "fps_num");
      json_builder_add_int_value (b, fps_num);
      json_builder_set_member_name (b, "fps_den");
      json_builder_add_int_value (b, fps_den);
      json_builder_set_member_name (b, "media");
      json_builder_begin_array (b);
      for (guint i = 0; i < ss_project_get_n_media (project); i++)
        media_to_json (b, ss_project_get_media (project, i));
      json_builder_end_array (b);
      json_builder_set_member_name (b, "tracks");
      json_builder_begin_array (b);
      for (guint i = 0; i < ss_project_get_n_tracks (project); i++)
        {
          const SsTrack *t = ss_project_get_track (project, i);
          json_builder_begin_object (b);
          json_builder_set_member_name (b, "id");
          json_builder_add_string_value (b, t->id);
          json_builder_set_member_name (b, "kind");
          json_builder_add_string_value (b, track_kind_name (t->kind));
          json_builder_set_member_name (b, "name");
          json_builder_add_string_value (b, t->name ? t->name : "");
          json_builder_set_member_name (b, "muted");
          json_builder_add_boolean_value (b, t->muted);
          json_builder_set_member_name (b, "solo");
          json_builder_add_boolean_value (b, t->solo);
          json_builder_set_member_name (b, "gain_db");
          json_builder_add_double_value (b, t->gain_db);
          json_builder_set_member_name (b, "clips");
          json_builder_begin_array (b);
          for (guint j = 0; j < t->clips->len; j++)
            {
              const SsClip *c = g_ptr_array_index (t->clips, j);
              const SsTake *take = ss_clip_get_active_take (c);
              json_builder_begin_object (b);
              json_builder_set_member_name (b, "id");
              json_builder_add_string_value (b, c->id);
              json_builder_set_member_name (b, "start");
              json_builder_add_double_value (b, ss_time_to_seconds (c->start));
              json_builder_set_member_name (b, "duration");
              json_builder_add_double_value (b, ss_time_to_seconds (c->duration));
              json_builder_set_member_name (b, "gain_db");
              json_builder_add_double_value (b, c->gain_db);
              json_builder_set_member_name (b, "takes");
              json_builder_add_int_value (b, c->takes->len);
              json_builder_set_member_name (b, "active_take");
              json_builder_add_int_value (b, c->active_take);
              if (take != NULL)
                {
                  json_builder_set_member_name (b, "media_id");
                  json_builder_add_string_value (b, take->media_id);
                  json_builder_set_member_name (b, "source_in");
                  json_builder_add_double_value (b, ss_time_to_seconds (take->source_in));
                }
              json_builder_end_object (b);
            }
          json_builder_end_array (b);
          json_builder_end_object (b);
        }
      json_builder_end_array (b);
      json_builder_end_object (b);
      text = ss_cli_builder_to_string (b);
      printf ("%s\n", text);
      return EXIT_OK;
    }

  {
    g_autofree char *display = g_filename_display_name (path);
    printf (_("Project: %s\n"), display);
  }
  printf (_("Duration: %.3f s at %.3f fps\n"), ss_time_to_seconds (ss_project_get_duration (project)),
          fps_den > 0 ? (double) fps_num / fps_den : 0.0);
  printf (_("Media (%u):\n"), ss_project_get_n_media (project));
  for (guint i = 0; i < ss_project_get_n_media (project); i++)
    print_media_text (ss_project_get_media (project, i), "  ");
  printf (_("Tracks (%u):\n"), ss_project_get_n_tracks (project));
  for (guint i = 0; i < ss_project_get_n_tracks (project); i++)
    {
      const SsTrack *t = ss_project_get_track (project, i);
      printf ("  %s [%s] “%s”%s%s, %+.1f dB, %u clip(s)\n", t->id, track_kind_name (t->kind),
              t->name ? t->name : "", t->muted ? _(", muted") : "", t->solo ? _(", solo") : "",
              t->gain_db, t->clips->len);
      for (guint j = 0; j < t->clips->len; j++)
        {
          const SsClip *c = g_ptr_array_index (t->clips, j);
          const SsTake *take = ss_clip_get_active_take (c);
          printf (_("    %s: %.3f–%.3f s, media %s from %.3f s, take %u of %u\n"), c->id,
                  ss_time_to_seconds (c->start), ss_time_to_seconds (c->start + c->duration),
                  take ? take->media_id : "?", take ? ss_time_to_seconds (take->source_in) : 0.0,
                  c->active_take + 1, c->takes->len);
        }
    }
  return EXIT_OK;
}

static int
cmd_info (int argc, char **argv)
{
  gboolean as_json = FALSE;
  const GOptionEntry entries[] = {
    { "json", 'j', 0, G_OPTION_ARG_NONE, &as_json, N_("Print JSON"), NULL },
    { NULL }
  };
  g_autoptr(GError) error = NULL;

  if (!parse_options ("info", _("FILE"), entries, &argc, &argv))
    return EXIT_USAGE;
  if (argc != 2)
    return ss_cli_usage_error ("info", argc < 2 ? _("FILE is missing") : _("Too many arguments"));
  if (!ss_cli_check_input_file (argv[1], &error))
    return ss_cli_report_error (error);
  if (looks_like_project (argv[1]))
    return info_project (argv[1], as_json);
  return info_media (argv[1], as_json);
}

/* ---------------------------------------------------------------- export */

static int
export_common (int argc, char **argv, gboolean stems)
{
  const char *name = stems ? "export-stems" : "export";
  g_autofree char *output = NULL;
  gboolean no_clobber = FALSE;
  const GOptionEntry entries[] = {
    { "output", 'o', 0, G_OPTION_ARG_FILENAME, &output,
      stems ? N_("Folder to write the WAV files into") : N_("Video file to write (.mp4, .mkv, …)"),
      stems ? N_("DIR") : N_("OUT") },
    { "no-clobber", 'n', 0, G_OPTION_ARG_NONE, &no_clobber, N_("Do not replace existing output files (exit 1 instead)"), NULL },
    { NULL }
  };
  g_autoptr(GError) error = NULL;
  g_autoptr(SsProject) project = NULL;
  g_autoptr(SsJob) job = NULL;
  int code;

  if (!parse_options (name, _("PROJECT"), entries, &argc, &argv))
    return EXIT_USAGE;
  if (argc != 2)
    return ss_cli_usage_error (name, argc < 2 ? _("PROJECT is missing") : _("Too many arguments"));
  if (output == NULL)
    return ss_cli_usage_error (name, _("The output is missing (-o)"));
  if (!stems && no_clobber && g_file_test (output, G_FILE_TEST_EXISTS))
    {
      g_autofree char *display = g_filename_display_name (output);
      return ss_cli_usage_error (name, _("“%s” already exists"), display);
    }
  if (!ss_app_export_available ())
    {
      fprintf (stderr, _("%s: this build has no exporter\n"), prgname);
      return EXIT_FAILED;
    }

  project = load_project_checked (argv[1], TRUE, &error);
  if (project == NULL)
    return ss_cli_report_error (error);
  if (ss_project_get_duration (project) <= 0)
    {
      g_autofree char *display = g_filename_display_name (argv[1]);
      fprintf (stderr, _("%s: the project “%s” is empty: nothing to export\n"), prgname, display);
      return EXIT_BAD_INPUT;
    }
  if (stems && no_clobber)
    {
      g_auto(GStrv) paths = ss_app_export_stem_paths (project, output);
      for (guint i = 0; paths != NULL && paths[i] != NULL; i++)
        if (g_file_test (paths[i], G_FILE_TEST_EXISTS))
          {
            g_autofree char *display = g_filename_display_name (paths[i]);
            return ss_cli_usage_error (name, _("“%s” already exists"), display);
          }
    }
  if (stems && g_mkdir_with_parents (output, 0755) != 0)
    {
      g_autofree char *display = g_filename_display_name (output);
      fprintf (stderr, _("%s: could not create the folder “%s”: %s\n"), prgname, display, g_strerror (errno));
      return EXIT_FAILED;
    }

  job = stems ? ss_app_export_stems_job (project, output, &error)
              : ss_app_export_video_job (project, output, &error);
  if (job == NULL)
    return ss_cli_report_error (error);
  code = ss_cli_run_job (job);
  if (code == EXIT_OK)
    printf ("%s\n", output);   /* for scripts: where the result is */
  return code;
}

static int
cmd_export (int argc, char **argv)
{
  return export_common (argc, argv, FALSE);
}

static int
cmd_export_stems (int argc, char **argv)
{
  return export_common (argc, argv, TRUE);
}

/* ------------------------------------------------------------- make-demo */

typedef struct {
  char         *dir;
  SsDemoOptions opts;
} MakeDemo;

static void
make_demo_free (gpointer p)
{
  MakeDemo *d = p;

  g_free (d->dir);
  g_free (d);
}

static gboolean
make_demo_func (SsJob *job, gpointer user_data, GError **error)
{
  MakeDemo *d = user_data;

  return ss_demo_make (d->dir, &d->opts, job, error);
}

static int
cmd_make_demo (int argc, char **argv)
{
  SsDemoOptions opts;
  double seconds;
  int width, height, fps;
  const GOptionEntry entries[] = {
    { "seconds", 's', 0, G_OPTION_ARG_DOUBLE, &seconds, N_("Length of the clip in seconds (default 4)"), N_("S") },
    { "width", 'W', 0, G_OPTION_ARG_INT, &width, N_("Width in pixels, even (default 320)"), N_("W") },
    { "height", 'H', 0, G_OPTION_ARG_INT, &height, N_("Height in pixels, even (default 180)"), N_("H") },
    { "fps", 'r', 0, G_OPTION_ARG_INT, &fps, N_("Frames per second (default 25)"), N_("FPS") },
    { NULL }
  };
  g_autoptr(SsJob) job = NULL;
  MakeDemo *d;
  int code;

  ss_demo_options_init (&opts);
  seconds = opts.seconds;
  width = opts.width;
  height = opts.height;
  fps = opts.fps;
  if (!parse_options ("make-demo", _("DIR"), entries, &argc, &argv))
    return EXIT_USAGE;
  if (argc != 2)
    return ss_cli_usage_error ("make-demo", argc < 2 ? _("DIR is missing") : _("Too many arguments"));
  if (!(seconds > 0 && seconds <= 600) || width < 16 || height < 16 || width > 7680 || height > 4320 ||
      width % 2 || height % 2 || fps < 1 || fps > 240)
    return ss_cli_usage_error ("make-demo", _("Invalid clip settings (0 < seconds ≤ 600, even sizes from 16, 1 ≤ fps ≤ 240)"));
  opts.seconds = seconds;
  opts.width = width;
  opts.height = height;
  opts.fps = fps;

  d = g_new0 (MakeDemo, 1);
  d->dir = g_strdup (argv[1]);
  d->opts = opts;
  job = ss_job_new (_("Making the demo project"), make_demo_func, d, make_demo_free);
  code = ss_cli_run_job (job);
  if (code == EXIT_OK)
    {
      g_autofree char *project = g_build_filename (argv[1], "demo" SS_PROJECT_EXTENSION, NULL);
      printf ("%s\n", project);
    }
  return code;
}

/* ------------------------------------------------------------------ main */

int
main (int argc, char *argv[])
{
  const char *name;

  setlocale (LC_ALL, "");
  bindtextdomain (GETTEXT_PACKAGE, LOCALEDIR);
  bind_textdomain_codeset (GETTEXT_PACKAGE, "UTF-8");
  textdomain (GETTEXT_PACKAGE);
  g_set_prgname (prgname);
  /* FFmpeg's own chatter is not for users; errors reach them as GErrors. */
  if (g_getenv ("SOUNDSTAGE_FFMPEG_LOG") == NULL)
    av_log_set_level (AV_LOG_QUIET);

  if (argc < 2)
    {
      print_usage (stderr);
      return EXIT_USAGE;
    }
  name = argv[1];
  if (g_str_equal (name, "--help") || g_str_equal (name, "-h") || g_str_equal (name, "help"))
    {
      if (argc >= 3 && !g_str_equal (name, "--help"))
        {
          for (guint i = 0; i < G_N_ELEMENTS (commands); i++)
            if (g_str_equal (commands[i].name, argv[2]))
              {
                char *sub_argv[] = { argv[2], (char *) "--help", NULL };
                return commands[i].run (2, sub_argv);
              }
        }
      print_usage (stdout);
      return EXIT_OK;
    }
  if (g_str_equal (name, "--version"))
    {
      printf ("soundstage-cli %s\n", PACKAGE_VERSION);
      return EXIT_OK;
    }
  for (guint i = 0; i < G_N_ELEMENTS (commands); i++)
    {
      if (g_str_equal (commands[i].name, name))
        {
          g_autofree char *full = g_strdup_printf ("%s %s", prgname, name);
          g_set_prgname (full);
          return commands[i].run (argc - 1, argv + 1);
        }
    }
  return ss_cli_usage_error (NULL, _("Unknown command “%s”"), name);
}
