/* ss-gui-test-util.h: set-up and main-loop helpers shared by the tests that
 * drive the editor window under Xvfb (tests/gui, tests/syncui). Header-only. */
#pragma once

#include <gtk/gtk.h>

#include "ss-application.h"

typedef gboolean (*Cond) (gpointer data);

static inline gboolean
timeout_cb (gpointer data)
{
  *(gboolean *) data = TRUE;
  return G_SOURCE_REMOVE;
}

/* Runs the main loop until @cond holds or @seconds passed; returns @cond. */
static inline gboolean
wait_for (Cond cond, gpointer data, double seconds)
{
  gboolean expired = FALSE;
  guint id = g_timeout_add ((guint) (seconds * 1000), timeout_cb, &expired);

  while (!cond (data) && !expired)
    g_main_context_iteration (NULL, TRUE);
  if (!expired)
    g_source_remove (id);
  return cond (data);
}

/* Runs the main loop for @seconds. */
static inline void
spin (double seconds)
{
  gboolean expired = FALSE;

  g_timeout_add ((guint) (seconds * 1000), timeout_cb, &expired);
  while (!expired)
    g_main_context_iteration (NULL, TRUE);
}

static inline gboolean
window_mapped (gpointer data)
{
  return gtk_widget_get_mapped (GTK_WIDGET (data));
}

/* Makes a fresh temporary directory from @tmpl, points the XDG state, cache
 * and config homes into it, turns off audio output and accessibility, then
 * initialises GTest and GTK and registers a non-unique application.
 * Criticals stay fatal (G_DEBUG=fatal-criticals); warnings are logged.
 * Returns the application; *tmp_dir_out gets the directory. */
static inline SsApplication *
gui_test_start (int *argc, char ***argv, const char *tmpl, char **tmp_dir_out)
{
  SsApplication *application;
  char *dir = g_dir_make_tmp (tmpl, NULL);

  g_assert_nonnull (dir);
  {
    g_autofree char *state = g_build_filename (dir, "state", NULL);
    g_autofree char *cache = g_build_filename (dir, "cache", NULL);
    g_autofree char *config = g_build_filename (dir, "config", NULL);
    g_setenv ("XDG_STATE_HOME", state, TRUE);
    g_setenv ("XDG_CACHE_HOME", cache, TRUE);
    g_setenv ("XDG_CONFIG_HOME", config, TRUE);
  }
  g_setenv ("SOUNDSTAGE_AUDIO", "null", TRUE);
  g_setenv ("GTK_A11Y", "none", TRUE);
  *tmp_dir_out = dir;

  g_test_init (argc, argv, NULL);
  g_log_set_always_fatal (G_LOG_FATAL_MASK | G_LOG_LEVEL_CRITICAL);
  gtk_init ();
  application = ss_application_new (G_APPLICATION_NON_UNIQUE);
  g_assert_true (g_application_register (G_APPLICATION (application), NULL, NULL));
  return application;
}
