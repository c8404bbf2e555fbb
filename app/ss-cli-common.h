/* ss-cli-common.h: what every soundstage-cli subcommand shares: exit codes,
 * error and usage messages, option parsing, and running an SsJob with a
 * progress line and a clean cancel on Ctrl+C. No GTK. */
#pragma once

#include <gio/gio.h>
#include <json-glib/json-glib.h>

#include "jobs/ss-job.h"

G_BEGIN_DECLS

enum {
  EXIT_OK = 0,
  EXIT_USAGE = 1,
  EXIT_BAD_INPUT = 2,
  EXIT_FAILED = 3,
  EXIT_CANCELLED = 130,
};

#define SS_CLI_PRGNAME "soundstage-cli"

int        ss_cli_exit_code_for_error (const GError *error);
/* Prints the error (or "cancelled") and returns its exit code. */
int        ss_cli_report_error        (const GError *error);
/* Prints the message and a pointer to --help; returns EXIT_USAGE. */
int        ss_cli_usage_error         (const char *command, const char *fmt, ...) G_GNUC_PRINTF (2, 3);
/* Parses a subcommand's options; FALSE (and prints why) on bad usage. */
gboolean   ss_cli_parse_options       (const char *command, const char *params, const char *summary,
                                       const char *description, const GOptionEntry *entries,
                                       int *argc, char ***argv);
/* NOT_FOUND / INVALID_DATA for a path that is missing or a folder. */
gboolean   ss_cli_check_input_file    (const char *path, GError **error);
char      *ss_cli_builder_to_string   (JsonBuilder *b);

/* Runs @job on a worker thread while the main loop prints its progress on
 * stderr (unless @quiet) and turns SIGINT into a cancel; returns its state. */
SsJobState ss_cli_wait_job            (SsJob *job, gboolean quiet);
/* ss_cli_wait_job with progress, then the closing line or the error; returns
 * the exit code. */
int        ss_cli_run_job             (SsJob *job);

G_END_DECLS
