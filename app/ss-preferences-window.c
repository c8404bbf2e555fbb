/* ss-preferences-window.c: AdwPreferencesWindow bound to org.soundstage.Soundstage. */
#define G_LOG_DOMAIN "ss-preferences"

#include "config.h"

#include <glib/gi18n.h>

#include "ss-preferences-window.h"

struct _SsPreferencesWindow
{
  AdwPreferencesWindow parent_instance;

  GSettings      *settings;
  GtkSpinButton  *autosave_spin;
  GtkSpinButton  *latency_spin;
  GtkSpinButton  *thumbnail_spin;
  AdwActionRow   *export_folder_row;
  GtkButton      *export_folder_button;
  GtkButton      *export_folder_reset;
  AdwEntryRow    *gpu_row;
  AdwEntryRow    *sync_model_row;
  GtkFileChooserNative *chooser;
};

G_DEFINE_FINAL_TYPE (SsPreferencesWindow, ss_preferences_window, ADW_TYPE_PREFERENCES_WINDOW)

static void
update_export_folder (SsPreferencesWindow *self)
{
  g_autofree char *folder = g_settings_get_string (self->settings, "export-folder");

  if (folder[0] == '\0')
    {
      adw_action_row_set_subtitle (self->export_folder_row, _("Videos folder"));
      gtk_widget_set_sensitive (GTK_WIDGET (self->export_folder_reset), FALSE);
    }
  else
    {
      g_autofree char *display = g_filename_display_name (folder);
      adw_action_row_set_subtitle (self->export_folder_row, display);
      gtk_widget_set_sensitive (GTK_WIDGET (self->export_folder_reset), TRUE);
    }
}

static void
chooser_response (GtkNativeDialog *dialog, int response, gpointer user_data)
{
  SsPreferencesWindow *self = SS_PREFERENCES_WINDOW (user_data);

  if (response == GTK_RESPONSE_ACCEPT)
    {
      g_autoptr(GFile) file = gtk_file_chooser_get_file (GTK_FILE_CHOOSER (dialog));
      g_autofree char *path = file ? g_file_get_path (file) : NULL;
      if (path != NULL)
        g_settings_set_string (self->settings, "export-folder", path);
    }
  g_clear_object (&self->chooser);
}

static void
choose_folder_clicked (SsPreferencesWindow *self)
{
  if (self->chooser != NULL)
    return;
  self->chooser = gtk_file_chooser_native_new (_("Default Export Folder"), GTK_WINDOW (self),
                                               GTK_FILE_CHOOSER_ACTION_SELECT_FOLDER,
                                               _("_Select"), _("_Cancel"));
  gtk_native_dialog_set_modal (GTK_NATIVE_DIALOG (self->chooser), TRUE);
  g_signal_connect (self->chooser, "response", G_CALLBACK (chooser_response), self);
  gtk_native_dialog_show (GTK_NATIVE_DIALOG (self->chooser));
}

static void
reset_folder_clicked (SsPreferencesWindow *self)
{
  g_settings_reset (self->settings, "export-folder");
}

static void
ss_preferences_window_dispose (GObject *object)
{
  SsPreferencesWindow *self = SS_PREFERENCES_WINDOW (object);

  if (self->chooser != NULL)
    gtk_native_dialog_destroy (GTK_NATIVE_DIALOG (self->chooser));
  g_clear_object (&self->chooser);
  if (self->settings != NULL)
    g_signal_handlers_disconnect_by_data (self->settings, self);
  g_clear_object (&self->settings);
  G_OBJECT_CLASS (ss_preferences_window_parent_class)->dispose (object);
}

static void
ss_preferences_window_class_init (SsPreferencesWindowClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  object_class->dispose = ss_preferences_window_dispose;

  gtk_widget_class_set_template_from_resource (widget_class,
                                               "/org/soundstage/Soundstage/ss-preferences-window.ui");
  gtk_widget_class_bind_template_child (widget_class, SsPreferencesWindow, autosave_spin);
  gtk_widget_class_bind_template_child (widget_class, SsPreferencesWindow, latency_spin);
  gtk_widget_class_bind_template_child (widget_class, SsPreferencesWindow, thumbnail_spin);
  gtk_widget_class_bind_template_child (widget_class, SsPreferencesWindow, export_folder_row);
  gtk_widget_class_bind_template_child (widget_class, SsPreferencesWindow, export_folder_button);
  gtk_widget_class_bind_template_child (widget_class, SsPreferencesWindow, export_folder_reset);
  gtk_widget_class_bind_template_child (widget_class, SsPreferencesWindow, gpu_row);
  gtk_widget_class_bind_template_child (widget_class, SsPreferencesWindow, sync_model_row);
}

static void
ss_preferences_window_init (SsPreferencesWindow *self)
{
  gtk_widget_init_template (GTK_WIDGET (self));
}

SsPreferencesWindow *
ss_preferences_window_new (GSettings *settings)
{
  SsPreferencesWindow *self;

  g_return_val_if_fail (G_IS_SETTINGS (settings), NULL);

  self = g_object_new (SS_TYPE_PREFERENCES_WINDOW, NULL);
  self->settings = g_object_ref (settings);

  g_settings_bind (settings, "autosave-interval", self->autosave_spin, "value", G_SETTINGS_BIND_DEFAULT);
  g_settings_bind (settings, "audio-latency", self->latency_spin, "value", G_SETTINGS_BIND_DEFAULT);
  g_settings_bind (settings, "thumbnail-height", self->thumbnail_spin, "value", G_SETTINGS_BIND_DEFAULT);
  g_settings_bind (settings, "gpu-device", self->gpu_row, "text", G_SETTINGS_BIND_DEFAULT);
  g_settings_bind (settings, "sync-model", self->sync_model_row, "text", G_SETTINGS_BIND_DEFAULT);

  g_signal_connect_swapped (settings, "changed::export-folder", G_CALLBACK (update_export_folder), self);
  g_signal_connect_swapped (self->export_folder_button, "clicked", G_CALLBACK (choose_folder_clicked), self);
  g_signal_connect_swapped (self->export_folder_reset, "clicked", G_CALLBACK (reset_folder_clicked), self);
  update_export_folder (self);

  return self;
}
