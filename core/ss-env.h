/* ss-env.h: the SOUNDSTAGE_* settings of the engine's switches (kernel
 * choices for comparisons, diagnostics; each is documented where it is
 * used). A setting is read from the environment the first time it is asked
 * for and kept for the process. (SOUNDSTAGE_CM2, which the tests change
 * between products, is read where it is used, every time.) */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* the value; NULL where unset or empty */
const char *ss_env_value (const char *name);
/* "0": FALSE, any other value: TRUE; unset or empty: dflt */
gboolean    ss_env_flag (const char *name, gboolean dflt);
/* "0": 0, any other value: 1; unset or empty: -1 (the automatic choice) */
int         ss_env_choice (const char *name);

G_END_DECLS
