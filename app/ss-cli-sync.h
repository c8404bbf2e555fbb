/* ss-cli-sync.h: the `sync` and `sync-eval` subcommands of soundstage-cli. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* argv[0] is the subcommand's name; return the process exit status. */
int ss_cli_sync      (int argc, char **argv);
int ss_cli_sync_eval (int argc, char **argv);

G_END_DECLS
