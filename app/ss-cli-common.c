/* ss-cli-common.c: shared by the soundstage-cli subcommands (see ss-cli-common.h). */
#define G_LOG_DOMAIN "soundstage-cli"

#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <unistd.h>

#include <glib-unix.h>
#include <glib/gi18n.h>

#include "ss-types.h"
#include "ss-cli-common.h"

#define prgname SS_CLI_PRGNAME

int
ss_cli_exit_code_for_error (const GError *error)
{
  if (g_error_matches (error, SS_ERROR, SS_ERROR_CANCELLED) ||
      g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    return EXIT_CANCELLED;
  if (error->domain == SS_ERROR &&
      (error->code == SS_ERROR_NOT_FOUND || error->code == SS_ERROR_INVALID_DATA ||
       error->code == SS_ERROR_UNSUPPORTED))
    return EXIT_BAD_INPUT;
  return EXIT_FAILED;
}

int
ss_cli_report_error (const GError *error)
{
  int code = ss_cli_exit_code_for_error (error);

  if (code == EXIT_CANCELLED)
    fprintf (stderr, _("%s: cancelled\n"), prgname);
  else
    fprintf (stderr, "%s: %s\n", prgname, error->message);
  return code;
}

int
ss_cli_usage_error (const char *command, const char *fmt, ...)
{
  va_list args;
  g_autofree char *msg = NULL;

  va_start (args, fmt);
  msg = g_strdup_vprintf (fmt, args);
  va_end (args);
  fprintf (stderr, "%s: %s\n", prgname, msg);
  if (command != NULL)
    fprintf (stderr, _("Run “%s %s --help” for usage.\n"), prgname, command);
  else
    fprintf (stderr, _("Run “%s --help” for usage.\n"), prgname);
  return EXIT_USAGE;
}

gboolean
ss_cli_parse_options (const char *command, const char *params, const char *summary,
                      const char *description, const GOptionEntry *entries,
                      int *argc, char ***argv)
{
  g_autoptr(GOptionContext) ctx = g_option_context_new (params);
  g_autoptr(GError) error = NULL;

  g_option_context_set_summary (ctx, summary);
  if (description != NULL)
    g_option_context_set_description (ctx, description);
  g_option_context_add_main_entries (ctx, entries, GETTEXT_PACKAGE);
  g_option_context_set_translation_domain (ctx, GETTEXT_PACKAGE);
  if (!g_option_context_parse (ctx, argc, argv, &error))
    {
      ss_cli_usage_error (command, "%s", error->message);
      return FALSE;
    }
  return TRUE;
}

gboolean
ss_cli_check_input_file (const char *path, GError **error)
{
  if (!g_file_test (path, G_FILE_TEST_EXISTS))
    {
      g_autofree char *display = g_filename_display_name (path);
      g_set_error (error, SS_ERROR, SS_ERROR_NOT_FOUND, _("“%s” does not exist"), display);
      return FALSE;
    }
  if (g_file_test (path, G_FILE_TEST_IS_DIR))
    {
      g_autofree char *display = g_filename_display_name (path);
      g_set_error (error, SS_ERROR, SS_ERROR_INVALID_DATA, _("“%s” is a folder, not a file"), display);
      return FALSE;
    }
  return TRUE;
}

char *
ss_cli_builder_to_string (JsonBuilder *b)
{
  g_autoptr(JsonGenerator) gen = json_generator_new ();
  g_autoptr(JsonNode) root = json_builder_get_root (b);

  json_generator_set_pretty (gen, TRUE);
  json_generator_set_root (gen, root);
  return json_generator_to_data (gen, NULL);
}

/* ------------------------------------------------------------ job runner */

typedef struct {
  SsJob     *job;
  GMainLoop *loop;
  gboolean   tty;
  int        last_percent;
  char      *last_status;
  guint      sigint_count;
  gboolean   line_open;
  gboolean   quiet;
} Runner;

static void
runner_print (Runner *r, gboolean force)
{
  double p = ss_job_get_progress (r->job);
  g_autofree char *status = ss_job_dup_status (r->job);
  int percent = p < 0 ? -1 : (int) (p * 100.0 + 1e-9);
  gboolean status_changed = g_strcmp0 (status, r->last_status) != 0;

  if (!force && percent == r->last_percent && !status_changed)
    return;
  r->last_percent = percent;
  g_free (r->last_status);
  r->last_status = g_strdup (status);

  if (r->tty)
    {
      if (percent >= 0)
        fprintf (stderr, "\r\033[K[%3d%%] %s", percent, ss_job_get_title (r->job));
      else
        fprintf (stderr, "\r\033[K[ … ] %s", ss_job_get_title (r->job));
      if (status != NULL && status[0] != '\0')
        fprintf (stderr, " — %s", status);
      r->line_open = TRUE;
    }
  else
    {
      /* Plain lines for logs: one per status change or each 10 %. */
      static int last_logged = -100;
      if (!status_changed && percent >= 0 && percent - last_logged < 10 && percent != 100)
        return;
      last_logged = percent;
      if (percent >= 0)
        fprintf (stderr, "[%3d%%] %s", percent, ss_job_get_title (r->job));
      else
        fprintf (stderr, "[ … ] %s", ss_job_get_title (r->job));
      if (status != NULL && status[0] != '\0')
        fprintf (stderr, " — %s", status);
      fputc ('\n', stderr);
    }
  fflush (stderr);
}

static void
runner_notify (GObject *obj, GParamSpec *pspec, gpointer user_data)
{
  Runner *r = user_data;

  if (!r->quiet)
    runner_print (r, FALSE);
}

static void
runner_finished (SsJob *job, gpointer user_data)
{
  Runner *r = user_data;

  g_main_loop_quit (r->loop);
}

static gboolean
runner_sigint (gpointer user_data)
{
  Runner *r = user_data;

  if (++r->sigint_count > 1)
    {
      fprintf (stderr, _("\n%s: interrupted\n"), prgname);
      _exit (EXIT_CANCELLED);
    }
  if (r->line_open)
    fputc ('\n', stderr);
  fprintf (stderr, _("%s: cancelling… (press Ctrl+C again to quit at once)\n"), prgname);
  r->line_open = FALSE;
  ss_job_cancel (r->job);
  return G_SOURCE_CONTINUE;
}

static void
runner_wait (Runner *r, SsJob *job, gboolean quiet)
{
  guint sig_id;

  r->job = job;
  r->quiet = quiet;
  r->loop = g_main_loop_new (NULL, FALSE);
  r->tty = isatty (STDERR_FILENO) && g_getenv ("SOUNDSTAGE_PLAIN_PROGRESS") == NULL;
  r->last_percent = -2;

  g_signal_connect (job, "notify::progress", G_CALLBACK (runner_notify), r);
  g_signal_connect (job, "notify::status", G_CALLBACK (runner_notify), r);
  g_signal_connect (job, "finished", G_CALLBACK (runner_finished), r);
  sig_id = g_unix_signal_add (SIGINT, runner_sigint, r);

  if (!quiet)
    runner_print (r, TRUE);
  ss_job_run (job);
  g_main_loop_run (r->loop);

  g_source_remove (sig_id);
  g_signal_handlers_disconnect_by_data (job, r);
  g_main_loop_unref (r->loop);
}

SsJobState
ss_cli_wait_job (SsJob *job, gboolean quiet)
{
  Runner r = { 0 };

  runner_wait (&r, job, quiet);
  if (r.line_open && r.tty)
    fputc ('\n', stderr);
  g_free (r.last_status);
  return ss_job_get_state (job);
}

int
ss_cli_run_job (SsJob *job)
{
  Runner r = { 0 };
  int code = EXIT_OK;

  runner_wait (&r, job, FALSE);
  switch (ss_job_get_state (job))
    {
    case SS_JOB_SUCCEEDED:
      if (r.tty)
        fprintf (stderr, "\r\033[K[100%%] %s\n", ss_job_get_title (job));
      else if (r.last_percent != 100)
        fprintf (stderr, "[100%%] %s\n", ss_job_get_title (job));
      code = EXIT_OK;
      break;
    case SS_JOB_CANCELLED:
      if (r.line_open && r.tty)
        fputc ('\n', stderr);
      fprintf (stderr, _("%s: cancelled\n"), prgname);
      code = EXIT_CANCELLED;
      break;
    default:
      if (r.line_open && r.tty)
        fputc ('\n', stderr);
      if (ss_job_get_error (job) != NULL)
        code = ss_cli_report_error (ss_job_get_error (job));
      else
        {
          fprintf (stderr, _("%s: the job failed\n"), prgname);
          code = EXIT_FAILED;
        }
      /* A job that failed without naming bad input failed itself. */
      break;
    }
  g_free (r.last_status);
  return code;
}

