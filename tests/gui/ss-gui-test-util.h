/* ss-gui-test-util.h: main-loop helpers shared by the tests that drive the
 * editor window under Xvfb (tests/gui, tests/syncui). Header-only. */
#pragma once

#include <gtk/gtk.h>

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
