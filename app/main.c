/* main.c: entry point of the Soundstage editor. */
#define G_LOG_DOMAIN "soundstage"

#include "config.h"

#include <glib/gi18n.h>
#include <libavutil/log.h>
#include <locale.h>

#include "ss-application.h"

/* When run from the build folder without an installed schema, use the one
 * compiled into build/data (as tools/run.sh does). */
static gboolean
ensure_schema (void)
{
  GSettingsSchemaSource *source = g_settings_schema_source_get_default ();
  g_autoptr(GSettingsSchema) schema = NULL;

  if (source != NULL)
    schema = g_settings_schema_source_lookup (source, APP_ID, TRUE);
  if (schema != NULL)
    return TRUE;

  g_autofree char *built = g_build_filename (SS_BUILD_DIR, "data", "gschemas.compiled", NULL);
  if (g_file_test (built, G_FILE_TEST_EXISTS))
    {
      g_autofree char *dir = g_path_get_dirname (built);
      g_setenv ("GSETTINGS_SCHEMA_DIR", dir, TRUE);
      return TRUE;
    }
  g_printerr (_("The settings schema %s is not installed. Install Soundstage, or run it with "
                "GSETTINGS_SCHEMA_DIR set to the build folder’s data directory.\n"), APP_ID);
  return FALSE;
}

int
main (int argc, char *argv[])
{
  g_autoptr(SsApplication) app = NULL;

  setlocale (LC_ALL, "");
  bindtextdomain (GETTEXT_PACKAGE, LOCALEDIR);
  bind_textdomain_codeset (GETTEXT_PACKAGE, "UTF-8");
  textdomain (GETTEXT_PACKAGE);

  if (g_getenv ("SOUNDSTAGE_FFMPEG_LOG") == NULL)
    av_log_set_level (AV_LOG_QUIET);

  if (!ensure_schema ())
    return 1;

  g_set_application_name (_("Soundstage"));
  app = ss_application_new (G_APPLICATION_DEFAULT_FLAGS);
  return g_application_run (G_APPLICATION (app), argc, argv);
}
