/* ss-application.c: application object, app-wide actions and accelerators. */
#define G_LOG_DOMAIN "ss-application"

#include "config.h"

#include <glib/gi18n.h>

#include "ss-application.h"
#include "ss-preferences-window.h"
#include "ss-window.h"

struct _SsApplication
{
  AdwApplication parent_instance;
  GSettings     *settings;
};

G_DEFINE_FINAL_TYPE (SsApplication, ss_application, ADW_TYPE_APPLICATION)

static const SsAccelEntry accels[] = {
  { "win.new",              { "<Control>n", NULL } },
  { "win.open",             { "<Control>o", NULL } },
  { "win.import",           { "<Control>i", NULL } },
  { "win.save",             { "<Control>s", NULL } },
  { "win.save-as",          { "<Control><Shift>s", NULL } },
  { "win.export-video",     { "<Control>e", NULL } },
  { "win.export-stems",     { "<Control><Shift>e", NULL } },
  { "win.undo",             { "<Control>z", NULL } },
  { "win.redo",             { "<Control><Shift>z", "<Control>y", NULL } },
  { "win.play-pause",       { "space", NULL } },
  { "win.shuttle-backward", { "j", NULL } },
  { "win.shuttle-stop",     { "k", NULL } },
  { "win.shuttle-forward",  { "l", NULL } },
  { "win.step-backward",    { "Left", NULL } },
  { "win.step-forward",     { "Right", NULL } },
  { "win.go-start",         { "Home", NULL } },
  { "win.go-end",           { "End", NULL } },
  { "win.split",            { "s", NULL } },
  { "win.delete",           { "Delete", NULL } },
  { "win.next-take",        { "t", NULL } },
  { "win.previous-take",    { "<Shift>t", NULL } },
  { "win.add-audio-track",  { "<Control><Shift>n", NULL } },
  { "win.check-sync",       { "<Control><Shift>y", NULL } },
  { "win.zoom-in",          { "<Control>equal", "<Control>plus", NULL } },
  { "win.zoom-out",         { "<Control>minus", NULL } },
  { "win.zoom-fit",         { "<Control>0", NULL } },
  { "app.preferences",      { "<Control>comma", NULL } },
  { "app.quit",             { "<Control>q", NULL } },
  { "win.show-help-overlay", { "<Control>question", NULL } },
};

const SsAccelEntry *
ss_application_get_accels (guint *n_entries)
{
  *n_entries = G_N_ELEMENTS (accels);
  return accels;
}

GSettings *
ss_application_get_settings (SsApplication *self)
{
  g_return_val_if_fail (SS_IS_APPLICATION (self), NULL);
  return self->settings;
}

static SsWindow *
get_or_create_window (SsApplication *self)
{
  GtkWindow *window = gtk_application_get_active_window (GTK_APPLICATION (self));

  if (window == NULL)
    window = GTK_WINDOW (ss_window_new (self));
  return SS_WINDOW (window);
}

static void
ss_application_activate (GApplication *app)
{
  SsWindow *window = get_or_create_window (SS_APPLICATION (app));

  gtk_window_present (GTK_WINDOW (window));
}

static void
ss_application_open (GApplication  *app,
                     GFile        **files,
                     int            n_files,
                     const char    *hint)
{
  SsWindow *window = get_or_create_window (SS_APPLICATION (app));

  gtk_window_present (GTK_WINDOW (window));
  ss_window_open_files (window, files, n_files);
}

static void
quit_activated (GSimpleAction *action, GVariant *param, gpointer user_data)
{
  GtkApplication *app = GTK_APPLICATION (user_data);
  GList *windows = g_list_copy (gtk_application_get_windows (app));

  /* Closing goes through each window's unsaved-changes check. */
  for (GList *l = windows; l != NULL; l = l->next)
    gtk_window_close (GTK_WINDOW (l->data));
  g_list_free (windows);
}

static void
preferences_activated (GSimpleAction *action, GVariant *param, gpointer user_data)
{
  SsApplication *self = SS_APPLICATION (user_data);
  GtkWindow *parent = gtk_application_get_active_window (GTK_APPLICATION (self));
  SsPreferencesWindow *prefs = ss_preferences_window_new (self->settings);

  gtk_window_set_transient_for (GTK_WINDOW (prefs), parent);
  gtk_window_present (GTK_WINDOW (prefs));
}

static void
about_activated (GSimpleAction *action, GVariant *param, gpointer user_data)
{
  SsApplication *self = SS_APPLICATION (user_data);
  GtkWindow *parent = gtk_application_get_active_window (GTK_APPLICATION (self));
  static const char *developers[] = { "The Soundstage authors", NULL };

  adw_show_about_window (parent,
                         "application-name", _("Soundstage"),
                         "application-icon", APP_ID,
                         "version", PACKAGE_VERSION,
                         "developer-name", _("The Soundstage authors"),
                         "developers", developers,
                         "comments", _("Edit the sound and picture of videos together, with AI models that run on your own computer."),
                         "website", "https://soundstage.org/",
                         "issue-url", "https://soundstage.org/issues",
                         "license-type", GTK_LICENSE_GPL_3_0,
                         "copyright", "© 2026 The Soundstage authors",
                         "translator-credits", _("translator-credits"),
                         NULL);
}

static const GActionEntry app_actions[] = {
  { "quit", quit_activated },
  { "preferences", preferences_activated },
  { "about", about_activated },
};

static void
ss_application_startup (GApplication *app)
{
  SsApplication *self = SS_APPLICATION (app);

  G_APPLICATION_CLASS (ss_application_parent_class)->startup (app);

  self->settings = g_settings_new (APP_ID);
  /* The compute engine reads its device choice from SOUNDSTAGE_DEVICE; the
   * preference applies unless the environment already chose. */
  {
    g_autofree char *device = g_settings_get_string (self->settings, "gpu-device");
    if (device[0] != '\0' && g_getenv ("SOUNDSTAGE_DEVICE") == NULL)
      g_setenv ("SOUNDSTAGE_DEVICE", device, FALSE);
  }
  gtk_window_set_default_icon_name (APP_ID);

  g_action_map_add_action_entries (G_ACTION_MAP (app), app_actions,
                                   G_N_ELEMENTS (app_actions), app);
  for (guint i = 0; i < G_N_ELEMENTS (accels); i++)
    gtk_application_set_accels_for_action (GTK_APPLICATION (app), accels[i].action,
                                           accels[i].accels);
}

static void
ss_application_finalize (GObject *object)
{
  SsApplication *self = SS_APPLICATION (object);

  g_clear_object (&self->settings);
  G_OBJECT_CLASS (ss_application_parent_class)->finalize (object);
}

static void
ss_application_class_init (SsApplicationClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GApplicationClass *app_class = G_APPLICATION_CLASS (klass);

  object_class->finalize = ss_application_finalize;
  app_class->activate = ss_application_activate;
  app_class->open = ss_application_open;
  app_class->startup = ss_application_startup;
}

static void
ss_application_init (SsApplication *self)
{
  g_application_set_option_context_parameter_string (G_APPLICATION (self), _("[FILE…]"));
  g_application_set_option_context_summary (G_APPLICATION (self),
                                            _("Opens a Soundstage project, or imports video and audio files into a new one."));
}

SsApplication *
ss_application_new (GApplicationFlags extra_flags)
{
  return g_object_new (SS_TYPE_APPLICATION,
                       "application-id", APP_ID,
                       "flags", G_APPLICATION_HANDLES_OPEN | extra_flags,
                       "resource-base-path", "/org/soundstage/Soundstage",
                       NULL);
}
