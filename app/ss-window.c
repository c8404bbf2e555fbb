/* ss-window.c: the main editor window: header bar, viewer, transport bar,
 * timeline, jobs popover, file dialogs, autosave and recovery. */
#define G_LOG_DOMAIN "ss-window"

#include "config.h"

#include <errno.h>
#include <signal.h>
#include <sys/types.h>
#include <unistd.h>

#include <glib/gi18n.h>
#include <glib/gstdio.h>

#include "jobs/ss-job.h"
#include "media/ss-media.h"
#include "ss-app-export.h"
#include "ss-job-row.h"
#include "ss-sync-panel.h"
#include "ss-window.h"

#include "audio/ss-transport.h"
#include "widgets/ss-timeline.h"
#include "widgets/ss-viewer.h"

typedef void (*SsContinuation) (SsWindow *self);

struct _SsWindow
{
  AdwApplicationWindow parent_instance;

  /* template children */
  AdwWindowTitle  *window_title;
  AdwToastOverlay *toast_overlay;
  GtkPaned        *paned;
  GtkStack        *viewer_stack;
  GtkBox          *viewer_bin;
  GtkBox          *timeline_bin;
  GtkButton       *play_button;
  GtkLabel        *time_label;
  GtkLabel        *rate_label;
  GtkMenuButton   *jobs_button;
  GtkStack        *jobs_icon_stack;
  GtkSpinner      *jobs_spinner;
  GtkLabel        *jobs_label;
  GtkListBox      *jobs_list;
  GtkButton       *clear_jobs_button;
  GtkButton       *undo_button;
  GtkButton       *redo_button;
  GtkRevealer     *sync_revealer;

  GSettings       *settings;
  SsProject       *project;
  GObject         *transport;      /* SsTransport, or NULL */
  GtkWidget       *timeline;       /* SsTimeline or placeholder */
  GtkWidget       *viewer;         /* SsViewer or placeholder */
  GtkWidget       *sync_panel;     /* SsSyncPanel, in sync_revealer */

  GtkFileChooserNative *chooser;   /* the one open file dialog */
  SsContinuation  after_save;      /* run after a successful (interactive) save */
  gboolean        close_confirmed;
  guint64         autosaved_revision;
  guint           autosave_id;

  guint           n_imports;
  char           *last_toast;
  GPtrArray      *relink_queue;    /* media ids still to relink */
};

G_DEFINE_FINAL_TYPE (SsWindow, ss_window, ADW_TYPE_APPLICATION_WINDOW)

static void save_as_interactive (SsWindow *self, SsContinuation after);
static void update_state (SsWindow *self);
static void relink_next (SsWindow *self);

/* ------------------------------------------------------------------ helpers */

void
ss_window_toast (SsWindow *self, const char *text)
{
  AdwToast *toast;

  g_return_if_fail (SS_IS_WINDOW (self));

  g_free (self->last_toast);
  self->last_toast = g_strdup (text);
  g_message ("%s", text);
  toast = adw_toast_new (text);
  adw_toast_set_timeout (toast, 6);
  adw_toast_overlay_add_toast (self->toast_overlay, toast);
}

const char *
ss_window_get_last_toast (SsWindow *self)
{
  g_return_val_if_fail (SS_IS_WINDOW (self), NULL);
  return self->last_toast;
}

static void
toast_error (SsWindow *self, const char *what, const GError *error)
{
  g_autofree char *text = NULL;

  if (what != NULL)
    text = g_strdup_printf ("%s: %s", what, error->message);
  else
    text = g_strdup (error->message);
  ss_window_toast (self, text);
}

static char *
project_display_name (SsWindow *self)
{
  if (self->project == NULL)
    return g_strdup (_("Untitled"));
  return ss_project_dup_display_name (self->project);
}

static gboolean
project_needs_saving (SsWindow *self)
{
  if (self->project == NULL)
    return FALSE;
  return ss_project_get_dirty (self->project);
}

static char *
format_time (SsWindow *self, SsTime t)
{
  int num = 25, den = 1;
  gint64 frames, fps_int, total_s;
  gboolean negative = t < 0;

  if (self->project != NULL)
    ss_project_get_fps (self->project, &num, &den);
  if (num <= 0 || den <= 0)
    num = 25, den = 1;
  if (negative)
    t = -t;
  /* frame index at t, rounded down */
  frames = (gint64) ((double) t * num / den / SS_TIME_SECOND + 1e-6);
  fps_int = MAX (1, (gint64) ((double) num / den + 0.5));
  total_s = frames / fps_int;
  return g_strdup_printf ("%s%02" G_GINT64_FORMAT ":%02" G_GINT64_FORMAT ":%02" G_GINT64_FORMAT ":%02" G_GINT64_FORMAT,
                          negative ? "-" : "",
                          total_s / 3600, (total_s / 60) % 60, total_s % 60, frames % fps_int);
}

static GtkFileFilter *
project_filter (void)
{
  GtkFileFilter *filter = gtk_file_filter_new ();

  gtk_file_filter_set_name (filter, _("Soundstage Projects"));
  gtk_file_filter_add_pattern (filter, "*" SS_PROJECT_EXTENSION);
  gtk_file_filter_add_mime_type (filter, "application/x-soundstage-project");
  return filter;
}

static GtkFileFilter *
media_filter (void)
{
  GtkFileFilter *filter = gtk_file_filter_new ();

  gtk_file_filter_set_name (filter, _("Video and Audio Files"));
  gtk_file_filter_add_mime_type (filter, "video/*");
  gtk_file_filter_add_mime_type (filter, "audio/*");
  return filter;
}

static GtkFileFilter *
all_files_filter (void)
{
  GtkFileFilter *filter = gtk_file_filter_new ();

  gtk_file_filter_set_name (filter, _("All Files"));
  gtk_file_filter_add_pattern (filter, "*");
  return filter;
}

static GtkFileChooserNative *
new_chooser (SsWindow *self, const char *title, GtkFileChooserAction action, const char *accept)
{
  if (self->chooser != NULL)
    {
      gtk_native_dialog_destroy (GTK_NATIVE_DIALOG (self->chooser));
      g_clear_object (&self->chooser);
    }
  self->chooser = gtk_file_chooser_native_new (title, GTK_WINDOW (self), action, accept, _("_Cancel"));
  gtk_native_dialog_set_modal (GTK_NATIVE_DIALOG (self->chooser), TRUE);
  return self->chooser;
}

/* Takes the accepted file of the chooser and forgets the chooser. */
static GFile *
finish_chooser (SsWindow *self, GtkNativeDialog *dialog, int response)
{
  GFile *file = NULL;

  if (response == GTK_RESPONSE_ACCEPT)
    file = gtk_file_chooser_get_file (GTK_FILE_CHOOSER (dialog));
  if (self->chooser == GTK_FILE_CHOOSER_NATIVE (dialog))
    g_clear_object (&self->chooser);
  return file;
}

/* ----------------------------------------------------------------- recovery */

static void offer_relink (SsWindow *self);

gboolean
ss_window_autosave_now (SsWindow *self, GError **error)
{
  g_return_val_if_fail (SS_IS_WINDOW (self), FALSE);

  if (self->project == NULL || !ss_project_get_dirty (self->project))
    return TRUE;
  if (!ss_project_autosave (self->project, error))
    return FALSE;
  self->autosaved_revision = ss_project_get_revision (self->project);
  return TRUE;
}

static gboolean
autosave_cb (gpointer user_data)
{
  SsWindow *self = SS_WINDOW (user_data);
  g_autoptr(GError) error = NULL;

  if (!project_needs_saving (self))
    return G_SOURCE_CONTINUE;
  if (ss_project_get_revision (self->project) == self->autosaved_revision)
    return G_SOURCE_CONTINUE;
  if (!ss_window_autosave_now (self, &error))
    g_warning ("Autosave failed: %s", error->message);
  return G_SOURCE_CONTINUE;
}

static void
setup_autosave (SsWindow *self)
{
  guint interval = g_settings_get_uint (self->settings, "autosave-interval");

  g_clear_handle_id (&self->autosave_id, g_source_remove);
  if (interval > 0)
    self->autosave_id = g_timeout_add_seconds (interval, autosave_cb, self);
}

static void
apply_latency (SsWindow *self)
{
  if (self->transport != NULL)
    ss_transport_set_latency (SS_TRANSPORT (self->transport),
                              g_settings_get_uint (self->settings, "audio-latency") / 1000.0);
}

char *
ss_window_dup_recovery_path (SsWindow *self)
{
  g_return_val_if_fail (SS_IS_WINDOW (self), NULL);
  return self->project ? ss_project_dup_recovery_path (self->project) : NULL;
}

static void
recovery_response (AdwMessageDialog *dialog, const char *response, gpointer user_data)
{
  SsWindow *self = SS_WINDOW (user_data);
  SsRecoveryInfo *info = g_object_get_data (G_OBJECT (dialog), "recovery-info");

  g_object_set_data (G_OBJECT (self), "recovery-dialog", NULL);
  if (g_strcmp0 (response, "recover") == 0)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(SsProject) project = ss_project_load_recovery (info->recovery_path, &error);

      if (project == NULL)
        {
          toast_error (self, _("Could not recover the project"), error);
          return; /* the file stays: the user may try again later */
        }
      ss_window_set_project (self, project);
      offer_relink (self);
      ss_window_toast (self, _("Recovered unsaved changes. Save the project to keep them."));
    }
  else if (g_strcmp0 (response, "discard") == 0)
    g_unlink (info->recovery_path);
  /* "later": keep the file for the next start */
}

static gboolean
offer_recovery (gpointer user_data)
{
  SsWindow *self = SS_WINDOW (user_data);
  g_autoptr(GPtrArray) list = ss_project_list_recoveries (NULL);
  SsRecoveryInfo *info;
  g_autoptr(GDateTime) when = NULL;
  g_autofree char *when_text = NULL;
  g_autofree char *name = NULL;
  g_autofree char *own = NULL;
  AdwMessageDialog *dialog;

  if (list == NULL || list->len == 0)
    return G_SOURCE_REMOVE;
  /* Never offer the file this window is writing right now. */
  own = ss_window_dup_recovery_path (self);
  if (own != NULL && g_strcmp0 (own, ((SsRecoveryInfo *) g_ptr_array_index (list, 0))->recovery_path) == 0)
    return G_SOURCE_REMOVE;
  info = g_ptr_array_steal_index (list, 0);

  when = g_date_time_new_from_unix_local (info->modified / G_USEC_PER_SEC);
  when_text = when ? g_date_time_format (when, "%c") : g_strdup ("?");
  if (info->original_path != NULL)
    {
      g_autofree char *base = g_path_get_basename (info->original_path);
      g_autofree char *display = g_filename_display_name (base);
      name = g_strdup_printf ("“%s”", display);
    }
  else
    name = g_strdup (_("an unsaved project"));

  dialog = ADW_MESSAGE_DIALOG (adw_message_dialog_new (GTK_WINDOW (self), _("Recover Unsaved Changes?"), NULL));
  adw_message_dialog_format_body (dialog,
                                  _("Soundstage did not close cleanly. Changes to %s autosaved at %s can be recovered."),
                                  name, when_text);
  adw_message_dialog_add_responses (dialog,
                                    "discard", _("_Discard"),
                                    "later", _("_Not Now"),
                                    "recover", _("_Recover"),
                                    NULL);
  adw_message_dialog_set_response_appearance (dialog, "discard", ADW_RESPONSE_DESTRUCTIVE);
  adw_message_dialog_set_response_appearance (dialog, "recover", ADW_RESPONSE_SUGGESTED);
  adw_message_dialog_set_default_response (dialog, "recover");
  adw_message_dialog_set_close_response (dialog, "later");
  g_object_set_data_full (G_OBJECT (dialog), "recovery-info", info, (GDestroyNotify) ss_recovery_info_free);
  g_object_set_data (G_OBJECT (self), "recovery-dialog", dialog);
  g_signal_connect_object (dialog, "response", G_CALLBACK (recovery_response), self, 0);
  gtk_window_present (GTK_WINDOW (dialog));
  return G_SOURCE_REMOVE;
}

AdwMessageDialog *
ss_window_get_recovery_dialog (SsWindow *self)
{
  g_return_val_if_fail (SS_IS_WINDOW (self), NULL);
  return g_object_get_data (G_OBJECT (self), "recovery-dialog");
}

/* ------------------------------------------------------------ project state */

static void
update_jobs_button (SsWindow *self)
{
  SsJobManager *manager = ss_job_manager_get_default ();
  guint running = ss_job_manager_get_n_running (manager);
  guint total = g_list_model_get_n_items (G_LIST_MODEL (manager));

  gtk_stack_set_visible_child_name (self->jobs_icon_stack, running > 0 ? "busy" : "idle");
  gtk_spinner_set_spinning (self->jobs_spinner, running > 0);
  if (running > 0)
    {
      g_autofree char *text = g_strdup_printf ("%u", running);
      gtk_label_set_label (self->jobs_label, text);
    }
  gtk_widget_set_visible (GTK_WIDGET (self->jobs_label), running > 0);
  gtk_widget_set_sensitive (GTK_WIDGET (self->clear_jobs_button), total > running);
}

static void
update_position (SsWindow *self)
{
  SsTime pos = 0;
  g_autofree char *text = NULL;

  if (self->transport != NULL)
    pos = ss_transport_get_position (SS_TRANSPORT (self->transport));
  text = format_time (self, pos);
  gtk_label_set_label (self->time_label, text);
}

static void
update_playing (SsWindow *self)
{
  gboolean playing = FALSE;
  double rate = 1.0;

  if (self->transport != NULL)
    {
      playing = ss_transport_get_playing (SS_TRANSPORT (self->transport));
      rate = ss_transport_get_rate (SS_TRANSPORT (self->transport));
    }
  gtk_button_set_icon_name (self->play_button,
                            playing ? "media-playback-pause-symbolic" : "media-playback-start-symbolic");
  if (playing && rate != 1.0)
    {
      g_autofree char *text = g_strdup_printf ("%+gx", rate);
      gtk_label_set_label (self->rate_label, text);
    }
  else
    gtk_label_set_label (self->rate_label, "");
}

static void
update_state (SsWindow *self)
{
  g_autofree char *name = project_display_name (self);
  g_autofree char *title = NULL;
  const char *path = self->project ? ss_project_get_path (self->project) : NULL;
  gboolean has_media = self->project && ss_project_get_n_media (self->project) > 0;
  gboolean can_undo = self->project && ss_project_can_undo (self->project);
  gboolean can_redo = self->project && ss_project_can_redo (self->project);
  gboolean has_transport = self->transport != NULL;
  GActionMap *map = G_ACTION_MAP (self);
  static const char *transport_actions[] = {
    "play-pause", "shuttle-backward", "shuttle-stop", "shuttle-forward",
    "step-backward", "step-forward", "go-start", "go-end",
  };

  if (project_needs_saving (self))
    title = g_strdup_printf ("• %s", name);
  else
    title = g_strdup (name);
  adw_window_title_set_title (self->window_title, title);
  if (path != NULL)
    {
      g_autofree char *dir = g_path_get_dirname (path);
      g_autofree char *display = g_filename_display_name (dir);
      const char *home = g_get_home_dir ();
      if (home != NULL && g_str_has_prefix (display, home) && strlen (home) > 1)
        {
          g_autofree char *tilde = g_strconcat ("~", display + strlen (home), NULL);
          adw_window_title_set_subtitle (self->window_title, tilde);
        }
      else
        adw_window_title_set_subtitle (self->window_title, display);
    }
  else
    adw_window_title_set_subtitle (self->window_title, _("Not saved"));

  gtk_stack_set_visible_child_name (self->viewer_stack, has_media ? "viewer" : "empty");

  g_simple_action_set_enabled (G_SIMPLE_ACTION (g_action_map_lookup_action (map, "undo")), can_undo);
  g_simple_action_set_enabled (G_SIMPLE_ACTION (g_action_map_lookup_action (map, "redo")), can_redo);
  if (can_undo && ss_project_get_undo_label (self->project) != NULL)
    {
      g_autofree char *tip = g_strdup_printf (_("Undo “%s” (Ctrl+Z)"), ss_project_get_undo_label (self->project));
      gtk_widget_set_tooltip_text (GTK_WIDGET (self->undo_button), tip);
    }
  else
    gtk_widget_set_tooltip_text (GTK_WIDGET (self->undo_button), _("Undo (Ctrl+Z)"));
  if (can_redo && ss_project_get_redo_label (self->project) != NULL)
    {
      g_autofree char *tip = g_strdup_printf (_("Redo “%s” (Ctrl+Shift+Z)"), ss_project_get_redo_label (self->project));
      gtk_widget_set_tooltip_text (GTK_WIDGET (self->redo_button), tip);
    }
  else
    gtk_widget_set_tooltip_text (GTK_WIDGET (self->redo_button), _("Redo (Ctrl+Shift+Z)"));

  g_simple_action_set_enabled (G_SIMPLE_ACTION (g_action_map_lookup_action (map, "export-video")),
                               has_media && ss_app_export_available ());
  g_simple_action_set_enabled (G_SIMPLE_ACTION (g_action_map_lookup_action (map, "export-stems")),
                               has_media && ss_app_export_available ());
  for (guint i = 0; i < G_N_ELEMENTS (transport_actions); i++)
    g_simple_action_set_enabled (G_SIMPLE_ACTION (g_action_map_lookup_action (map, transport_actions[i])),
                                 has_transport && has_media);
  g_simple_action_set_enabled (G_SIMPLE_ACTION (g_action_map_lookup_action (map, "check-sync")), has_media);
  update_position (self);
}

static void
project_changed (SsWindow *self)
{
  update_state (self);
}

void
ss_window_set_project (SsWindow *self, SsProject *project)
{
  g_return_if_fail (SS_IS_WINDOW (self));
  g_return_if_fail (SS_IS_PROJECT (project));

  if (self->project == project)
    return;
  if (self->project != NULL)
    {
      g_signal_handlers_disconnect_by_data (self->project, self);
      /* The user saved or chose to discard its changes. */
      ss_project_remove_recovery (self->project);
    }
  g_set_object (&self->project, project);
  g_signal_connect_swapped (project, "changed", G_CALLBACK (project_changed), self);
  /* Undo steps of a group appear at its end, after the last "changed". */
  g_signal_connect_swapped (project, "notify::can-undo", G_CALLBACK (project_changed), self);
  g_signal_connect_swapped (project, "notify::can-redo", G_CALLBACK (project_changed), self);
  g_signal_connect_swapped (project, "notify::dirty", G_CALLBACK (project_changed), self);
  g_signal_connect_swapped (project, "notify::path", G_CALLBACK (project_changed), self);
  self->autosaved_revision = 0;
  g_clear_pointer (&self->relink_queue, g_ptr_array_unref);

  if (self->transport != NULL)
    {
      ss_transport_pause (SS_TRANSPORT (self->transport));
      ss_transport_set_project (SS_TRANSPORT (self->transport), project);
      ss_transport_seek (SS_TRANSPORT (self->transport), 0);
    }
  ss_timeline_set_project (SS_TIMELINE (self->timeline), project);
  ss_sync_panel_set_project (SS_SYNC_PANEL (self->sync_panel), project);
  update_state (self);
}

SsProject *
ss_window_get_project (SsWindow *self)
{
  g_return_val_if_fail (SS_IS_WINDOW (self), NULL);
  return self->project;
}

GObject *
ss_window_get_transport (SsWindow *self)
{
  g_return_val_if_fail (SS_IS_WINDOW (self), NULL);
  return self->transport;
}

GtkWidget *
ss_window_get_timeline (SsWindow *self)
{
  g_return_val_if_fail (SS_IS_WINDOW (self), NULL);
  return self->timeline;
}

guint
ss_window_get_n_imports_running (SsWindow *self)
{
  g_return_val_if_fail (SS_IS_WINDOW (self), 0);
  return self->n_imports;
}

/* -------------------------------------------------------------- load / save */

static void
offer_relink (SsWindow *self)
{
  g_autoptr(GPtrArray) missing = g_ptr_array_new_with_free_func (g_free);
  AdwMessageDialog *dialog;
  GString *names = g_string_new (NULL);

  for (guint i = 0; i < ss_project_get_n_media (self->project); i++)
    {
      const SsMedia *m = ss_project_get_media (self->project, i);
      if (m->missing)
        {
          g_autofree char *base = g_path_get_basename (m->path);
          g_autofree char *display = g_filename_display_name (base);
          g_ptr_array_add (missing, g_strdup (m->id));
          if (missing->len <= 5)
            g_string_append_printf (names, "\n• %s", display);
        }
    }
  if (missing->len == 0)
    {
      g_string_free (names, TRUE);
      return;
    }
  if (missing->len > 5)
    g_string_append_printf (names, "\n… (%u more)", missing->len - 5);

  g_clear_pointer (&self->relink_queue, g_ptr_array_unref);
  self->relink_queue = g_steal_pointer (&missing);

  dialog = ADW_MESSAGE_DIALOG (adw_message_dialog_new (GTK_WINDOW (self),
                               g_dngettext (GETTEXT_PACKAGE, "Missing Media File", "Missing Media Files",
                                            self->relink_queue->len), NULL));
  adw_message_dialog_format_body (dialog,
                                  _("These files used by the project were not found. The clips are kept; "
                                    "locate the files to play and export them:%s"),
                                  names->str);
  g_string_free (names, TRUE);
  adw_message_dialog_add_responses (dialog, "later", _("_Later"), "relink", _("_Locate Files…"), NULL);
  adw_message_dialog_set_response_appearance (dialog, "relink", ADW_RESPONSE_SUGGESTED);
  adw_message_dialog_set_default_response (dialog, "relink");
  adw_message_dialog_set_close_response (dialog, "later");
  g_signal_connect_object (dialog, "response::relink", G_CALLBACK (relink_next), self, G_CONNECT_SWAPPED);
  gtk_window_present (GTK_WINDOW (dialog));
}

gboolean
ss_window_load_project (SsWindow *self, const char *path, GError **error)
{
  g_autoptr(SsProject) project = NULL;

  g_return_val_if_fail (SS_IS_WINDOW (self), FALSE);
  g_return_val_if_fail (path != NULL, FALSE);

  project = ss_project_load (path, error);
  if (project == NULL)
    return FALSE;
  ss_window_set_project (self, project);
  offer_relink (self);
  return TRUE;
}

gboolean
ss_window_save_project (SsWindow *self, const char *path, GError **error)
{
  g_return_val_if_fail (SS_IS_WINDOW (self), FALSE);
  g_return_val_if_fail (path != NULL, FALSE);

  if (!ss_project_save (self->project, path, error))
    return FALSE;
  update_state (self);
  return TRUE;
}

static void
run_continuation (SsWindow *self)
{
  SsContinuation after = self->after_save;

  self->after_save = NULL;
  if (after != NULL)
    after (self);
}

static void
save_interactive (SsWindow *self, SsContinuation after)
{
  const char *path = ss_project_get_path (self->project);
  g_autoptr(GError) error = NULL;

  if (path == NULL)
    {
      save_as_interactive (self, after);
      return;
    }
  if (!ss_window_save_project (self, path, &error))
    {
      toast_error (self, _("The project was not saved"), error);
      return;
    }
  self->after_save = after;
  run_continuation (self);
}

static void
save_as_response (GtkNativeDialog *dialog, int response, gpointer user_data)
{
  SsWindow *self = SS_WINDOW (user_data);
  g_autoptr(GFile) file = finish_chooser (self, dialog, response);
  g_autofree char *path = NULL;
  g_autoptr(GError) error = NULL;

  if (file == NULL)
    {
      self->after_save = NULL;
      return;
    }
  path = g_file_get_path (file);
  if (path == NULL)
    {
      ss_window_toast (self, _("Projects can only be saved to local folders."));
      self->after_save = NULL;
      return;
    }
  if (!g_str_has_suffix (path, SS_PROJECT_EXTENSION))
    {
      char *with_ext = g_strconcat (path, SS_PROJECT_EXTENSION, NULL);
      g_free (path);
      path = with_ext;
    }
  if (!ss_window_save_project (self, path, &error))
    {
      toast_error (self, _("The project was not saved"), error);
      self->after_save = NULL;
      return;
    }
  run_continuation (self);
}

static void
save_as_interactive (SsWindow *self, SsContinuation after)
{
  GtkFileChooserNative *chooser = new_chooser (self, _("Save Project"), GTK_FILE_CHOOSER_ACTION_SAVE, _("_Save"));
  const char *path = ss_project_get_path (self->project);
  g_autofree char *name = project_display_name (self);
  g_autofree char *file_name = g_strconcat (name, SS_PROJECT_EXTENSION, NULL);

  self->after_save = after;
  gtk_file_chooser_add_filter (GTK_FILE_CHOOSER (chooser), project_filter ());
  if (path != NULL)
    {
      g_autoptr(GFile) file = g_file_new_for_path (path);
      gtk_file_chooser_set_file (GTK_FILE_CHOOSER (chooser), file, NULL);
    }
  else
    gtk_file_chooser_set_current_name (GTK_FILE_CHOOSER (chooser), file_name);
  g_signal_connect (chooser, "response", G_CALLBACK (save_as_response), self);
  gtk_native_dialog_show (GTK_NATIVE_DIALOG (chooser));
}

typedef struct {
  SsWindow       *self;
  SsContinuation  proceed;
} ConfirmData;

typedef struct {
  SsWindow       *self;     /* a reference */
  SsContinuation  proceed;
  gboolean        save;
} ConfirmIdle;

/* Runs after the dialog has closed: proceeding may close the window itself. */
static gboolean
confirm_idle (gpointer user_data)
{
  ConfirmIdle *c = user_data;

  if (c->save)
    save_interactive (c->self, c->proceed);
  else
    c->proceed (c->self);
  return G_SOURCE_REMOVE;
}

static void
confirm_idle_free (gpointer user_data)
{
  ConfirmIdle *c = user_data;

  g_object_unref (c->self);
  g_free (c);
}

static void
confirm_response (AdwMessageDialog *dialog, const char *response, gpointer user_data)
{
  ConfirmData *data = user_data;
  ConfirmIdle *c;

  if (g_strcmp0 (response, "discard") != 0 && g_strcmp0 (response, "save") != 0)
    return;
  c = g_new0 (ConfirmIdle, 1);
  c->self = g_object_ref (data->self);
  c->proceed = data->proceed;
  c->save = g_strcmp0 (response, "save") == 0;
  g_idle_add_full (G_PRIORITY_DEFAULT, confirm_idle, c, confirm_idle_free);
}

/* Runs @proceed now when nothing would be lost, or after the user chose to
 * save or discard the changes. */
static void
confirm_discard (SsWindow *self, SsContinuation proceed)
{
  AdwMessageDialog *dialog;
  g_autofree char *name = NULL;
  ConfirmData *data;

  if (!project_needs_saving (self))
    {
      proceed (self);
      return;
    }
  name = project_display_name (self);
  dialog = ADW_MESSAGE_DIALOG (adw_message_dialog_new (GTK_WINDOW (self), _("Save Changes?"), NULL));
  adw_message_dialog_format_body (dialog, _("“%s” has unsaved changes. Changes which are not saved will be permanently lost."), name);
  adw_message_dialog_add_responses (dialog,
                                    "cancel", _("_Cancel"),
                                    "discard", _("_Discard"),
                                    "save", _("_Save"),
                                    NULL);
  adw_message_dialog_set_response_appearance (dialog, "discard", ADW_RESPONSE_DESTRUCTIVE);
  adw_message_dialog_set_response_appearance (dialog, "save", ADW_RESPONSE_SUGGESTED);
  adw_message_dialog_set_default_response (dialog, "save");
  adw_message_dialog_set_close_response (dialog, "cancel");
  data = g_new0 (ConfirmData, 1);
  data->self = self;
  data->proceed = proceed;
  g_object_set_data_full (G_OBJECT (dialog), "confirm-data", data, g_free);
  g_object_set_data (G_OBJECT (self), "confirm-dialog", dialog);
  g_signal_connect (dialog, "response", G_CALLBACK (confirm_response), data);
  gtk_window_present (GTK_WINDOW (dialog));
}

/* ------------------------------------------------------------------ import */

typedef struct {
  GWeakRef  window;
  SsProject *project;    /* the project the import was started for */
  char      *path;
  char      *display;
} ImportData;

/* Shared by the worker (job data) and the "finished" handler: the job drops
 * its data when the worker returns, before "finished" is emitted. */
static void
import_data_clear (gpointer p)
{
  ImportData *d = p;

  g_weak_ref_clear (&d->window);
  g_clear_object (&d->project);
  g_free (d->path);
  g_free (d->display);
}

static void
import_data_unref (gpointer p)
{
  g_atomic_rc_box_release_full (p, import_data_clear);
}

static void
import_data_unref_closure (gpointer p, GClosure *closure)
{
  import_data_unref (p);
}

static void
media_free (SsMedia *m)
{
  ss_media_clear (m);
  g_free (m);
}

static gboolean
import_job_func (SsJob *job, gpointer user_data, GError **error)
{
  ImportData *d = user_data;
  SsMedia *info = g_new0 (SsMedia, 1);

  ss_job_set_progress (job, -1, _("Reading the file"));
  if (!ss_media_probe (d->path, info, error))
    {
      media_free (info);
      return FALSE;
    }
  if (!info->has_video && !info->has_audio)
    {
      g_set_error (error, SS_ERROR, SS_ERROR_UNSUPPORTED,
                   _("“%s” has neither video nor audio the editor can use."), d->display);
      media_free (info);
      return FALSE;
    }
  ss_job_set_result (job, info, (GDestroyNotify) media_free);
  return TRUE;
}

static void
import_finished (SsJob *job, gpointer user_data)
{
  ImportData *d = user_data;
  g_autoptr(SsWindow) self = g_weak_ref_get (&d->window);
  g_autoptr(GError) error = NULL;
  const SsMedia *info;
  const char *media_id;
  SsTime start;

  if (self == NULL)
    return;
  self->n_imports--;

  if (ss_job_get_state (job) == SS_JOB_CANCELLED)
    return;
  if (ss_job_get_state (job) != SS_JOB_SUCCEEDED)
    {
      const GError *job_error = ss_job_get_error (job);
      g_autofree char *what = g_strdup_printf (_("Could not import “%s”"), d->display);
      if (job_error != NULL)
        {
          /* Messages from the media layer already name the file. */
          if (strstr (job_error->message, d->display) != NULL)
            ss_window_toast (self, job_error->message);
          else
            toast_error (self, what, job_error);
        }
      else
        ss_window_toast (self, what);
      return;
    }
  if (self->project != d->project)
    return; /* the project was replaced while probing */

  info = ss_job_get_result (job);
  start = ss_project_get_duration (self->project);
  ss_project_begin_group (self->project, _("Import Media"));
  media_id = ss_project_add_media (self->project, info, &error);
  if (media_id != NULL)
    ss_project_insert_media (self->project, media_id, start, NULL, &error);
  ss_project_end_group (self->project);
  if (error != NULL)
    {
      g_autofree char *what = g_strdup_printf (_("Could not import “%s”"), d->display);
      toast_error (self, what, error);
    }
}

void
ss_window_import_file (SsWindow *self, GFile *file)
{
  g_autoptr(SsJob) job = NULL;
  g_autofree char *title = NULL;
  ImportData *d;

  g_return_if_fail (SS_IS_WINDOW (self));
  g_return_if_fail (G_IS_FILE (file));

  d = g_atomic_rc_box_new0 (ImportData);
  g_weak_ref_init (&d->window, self);
  d->project = g_object_ref (self->project);
  d->path = g_file_get_path (file);
  {
    g_autofree char *base = g_file_get_basename (file);
    d->display = base ? g_filename_display_name (base) : g_file_get_uri (file);
  }
  if (d->path == NULL)
    {
      g_autofree char *text = g_strdup_printf (_("Could not import “%s”: only local files can be imported."), d->display);
      ss_window_toast (self, text);
      import_data_unref (d);
      return;
    }

  title = g_strdup_printf (_("Importing “%s”"), d->display);
  job = ss_job_new (title, import_job_func, g_atomic_rc_box_acquire (d), import_data_unref);
  g_signal_connect_data (job, "finished", G_CALLBACK (import_finished), d, import_data_unref_closure, 0);
  self->n_imports++;
  ss_job_manager_add (ss_job_manager_get_default (), job);
}

/* ------------------------------------------------------------------ relink */

typedef struct {
  GWeakRef  window;
  SsProject *project;
  char      *media_id;
  char      *path;
} RelinkData;

static void
relink_data_clear (gpointer p)
{
  RelinkData *d = p;

  g_weak_ref_clear (&d->window);
  g_clear_object (&d->project);
  g_free (d->media_id);
  g_free (d->path);
}

static void
relink_data_unref (gpointer p)
{
  g_atomic_rc_box_release_full (p, relink_data_clear);
}

static void
relink_data_unref_closure (gpointer p, GClosure *closure)
{
  relink_data_unref (p);
}

static gboolean
relink_job_func (SsJob *job, gpointer user_data, GError **error)
{
  RelinkData *d = user_data;
  SsMedia *info = g_new0 (SsMedia, 1);

  if (!ss_media_probe (d->path, info, error))
    {
      media_free (info);
      return FALSE;
    }
  ss_job_set_result (job, info, (GDestroyNotify) media_free);
  return TRUE;
}

static void
relink_finished (SsJob *job, gpointer user_data)
{
  RelinkData *d = user_data;
  g_autoptr(SsWindow) self = g_weak_ref_get (&d->window);
  g_autoptr(GError) error = NULL;

  if (self == NULL || self->project != d->project)
    return;
  if (ss_job_get_state (job) == SS_JOB_SUCCEEDED)
    {
      if (!ss_project_relink_media (self->project, d->media_id, ss_job_get_result (job), &error))
        toast_error (self, _("Could not relink the media"), error);
    }
  else if (ss_job_get_state (job) == SS_JOB_FAILED && ss_job_get_error (job) != NULL)
    toast_error (self, _("Could not relink the media"), ss_job_get_error (job));
  relink_next (self);
}

static void
relink_chooser_response (GtkNativeDialog *dialog, int response, gpointer user_data)
{
  SsWindow *self = SS_WINDOW (user_data);
  g_autoptr(GFile) file = finish_chooser (self, dialog, response);
  g_autoptr(SsJob) job = NULL;
  const char *media_id = g_object_get_data (G_OBJECT (dialog), "media-id");
  RelinkData *d;

  if (file == NULL || g_file_get_path (file) == NULL)
    {
      /* Skipped: the media stays marked missing, the clips stay in place. */
      relink_next (self);
      return;
    }
  d = g_atomic_rc_box_new0 (RelinkData);
  g_weak_ref_init (&d->window, self);
  d->project = g_object_ref (self->project);
  d->media_id = g_strdup (media_id);
  d->path = g_file_get_path (file);
  job = ss_job_new (_("Relinking media"), relink_job_func, g_atomic_rc_box_acquire (d), relink_data_unref);
  g_signal_connect_data (job, "finished", G_CALLBACK (relink_finished), d, relink_data_unref_closure, 0);
  ss_job_manager_add (ss_job_manager_get_default (), job);
}

static void
relink_next (SsWindow *self)
{
  GtkFileChooserNative *chooser;
  const SsMedia *m = NULL;
  g_autofree char *title = NULL;
  g_autofree char *base = NULL;
  g_autofree char *display = NULL;

  while (self->relink_queue != NULL && self->relink_queue->len > 0 && m == NULL)
    {
      g_autofree char *id = g_ptr_array_steal_index (self->relink_queue, 0);
      m = ss_project_find_media (self->project, id);
      if (m != NULL && !m->missing)
        m = NULL;
    }
  if (m == NULL)
    {
      g_clear_pointer (&self->relink_queue, g_ptr_array_unref);
      return;
    }
  base = g_path_get_basename (m->path);
  display = g_filename_display_name (base);
  title = g_strdup_printf (_("Locate “%s”"), display);
  chooser = new_chooser (self, title, GTK_FILE_CHOOSER_ACTION_OPEN, _("_Select"));
  gtk_file_chooser_add_filter (GTK_FILE_CHOOSER (chooser), media_filter ());
  gtk_file_chooser_add_filter (GTK_FILE_CHOOSER (chooser), all_files_filter ());
  g_object_set_data_full (G_OBJECT (chooser), "media-id", g_strdup (m->id), g_free);
  g_signal_connect (chooser, "response", G_CALLBACK (relink_chooser_response), self);
  gtk_native_dialog_show (GTK_NATIVE_DIALOG (chooser));
}

/* ------------------------------------------------------------- open files */

static gboolean
is_project_file (GFile *file)
{
  g_autofree char *base = g_file_get_basename (file);

  return base != NULL && g_str_has_suffix (base, SS_PROJECT_EXTENSION);
}

static void
open_pending_project (SsWindow *self)
{
  GFile *file = g_object_get_data (G_OBJECT (self), "pending-open");
  g_autofree char *path = NULL;
  g_autoptr(GError) error = NULL;

  if (file == NULL)
    return;
  path = g_file_get_path (file);
  if (path == NULL)
    ss_window_toast (self, _("Only local projects can be opened."));
  else if (!ss_window_load_project (self, path, &error))
    toast_error (self, NULL, error);
  g_object_set_data (G_OBJECT (self), "pending-open", NULL);
}

static void
open_project_file (SsWindow *self, GFile *file)
{
  g_object_set_data_full (G_OBJECT (self), "pending-open", g_object_ref (file), g_object_unref);
  confirm_discard (self, open_pending_project);
}

void
ss_window_open_files (SsWindow *self, GFile **files, int n_files)
{
  g_return_if_fail (SS_IS_WINDOW (self));

  for (int i = 0; i < n_files; i++)
    {
      if (is_project_file (files[i]))
        {
          open_project_file (self, files[i]);
          return; /* one project at a time; other files are ignored */
        }
    }
  for (int i = 0; i < n_files; i++)
    ss_window_import_file (self, files[i]);
}

static gboolean
drop_cb (GtkDropTarget *target, const GValue *value, double x, double y, gpointer user_data)
{
  SsWindow *self = SS_WINDOW (user_data);
  g_autoptr(GPtrArray) files = g_ptr_array_new ();

  if (G_VALUE_HOLDS (value, GDK_TYPE_FILE_LIST))
    {
      for (GSList *l = gdk_file_list_get_files (g_value_get_boxed (value)); l != NULL; l = l->next)
        g_ptr_array_add (files, l->data);
    }
  else if (G_VALUE_HOLDS (value, G_TYPE_FILE))
    g_ptr_array_add (files, g_value_get_object (value));

  if (files->len == 0)
    return FALSE;
  ss_window_open_files (self, (GFile **) files->pdata, (int) files->len);
  return TRUE;
}

/* ---------------------------------------------------------------- actions */

static void
do_new (SsWindow *self)
{
  g_autoptr(SsProject) project = ss_project_new ();

  ss_window_set_project (self, project);
}

static void
new_activated (GSimpleAction *a, GVariant *p, gpointer user_data)
{
  confirm_discard (SS_WINDOW (user_data), do_new);
}

static void
open_response (GtkNativeDialog *dialog, int response, gpointer user_data)
{
  SsWindow *self = SS_WINDOW (user_data);
  g_autoptr(GFile) file = finish_chooser (self, dialog, response);

  if (file != NULL)
    {
      g_object_set_data_full (G_OBJECT (self), "pending-open", g_object_ref (file), g_object_unref);
      open_pending_project (self);
    }
}

static void
show_open_dialog (SsWindow *self)
{
  GtkFileChooserNative *chooser = new_chooser (self, _("Open Project"), GTK_FILE_CHOOSER_ACTION_OPEN, _("_Open"));

  gtk_file_chooser_add_filter (GTK_FILE_CHOOSER (chooser), project_filter ());
  gtk_file_chooser_add_filter (GTK_FILE_CHOOSER (chooser), all_files_filter ());
  g_signal_connect (chooser, "response", G_CALLBACK (open_response), self);
  gtk_native_dialog_show (GTK_NATIVE_DIALOG (chooser));
}

static void
open_activated (GSimpleAction *a, GVariant *p, gpointer user_data)
{
  confirm_discard (SS_WINDOW (user_data), show_open_dialog);
}

static void
import_response (GtkNativeDialog *dialog, int response, gpointer user_data)
{
  SsWindow *self = SS_WINDOW (user_data);
  g_autoptr(GListModel) files = NULL;

  if (response == GTK_RESPONSE_ACCEPT)
    files = gtk_file_chooser_get_files (GTK_FILE_CHOOSER (dialog));
  if (self->chooser == GTK_FILE_CHOOSER_NATIVE (dialog))
    g_clear_object (&self->chooser);
  if (files == NULL)
    return;
  for (guint i = 0; i < g_list_model_get_n_items (files); i++)
    {
      g_autoptr(GFile) file = g_list_model_get_item (files, i);
      ss_window_import_file (self, file);
    }
}

static void
import_activated (GSimpleAction *a, GVariant *p, gpointer user_data)
{
  SsWindow *self = SS_WINDOW (user_data);
  GtkFileChooserNative *chooser = new_chooser (self, _("Import Media"), GTK_FILE_CHOOSER_ACTION_OPEN, _("_Import"));

  gtk_file_chooser_set_select_multiple (GTK_FILE_CHOOSER (chooser), TRUE);
  gtk_file_chooser_add_filter (GTK_FILE_CHOOSER (chooser), media_filter ());
  gtk_file_chooser_add_filter (GTK_FILE_CHOOSER (chooser), all_files_filter ());
  g_signal_connect (chooser, "response", G_CALLBACK (import_response), self);
  gtk_native_dialog_show (GTK_NATIVE_DIALOG (chooser));
}

static void
save_activated (GSimpleAction *a, GVariant *p, gpointer user_data)
{
  save_interactive (SS_WINDOW (user_data), NULL);
}

static void
save_as_activated (GSimpleAction *a, GVariant *p, gpointer user_data)
{
  save_as_interactive (SS_WINDOW (user_data), NULL);
}

static void
undo_activated (GSimpleAction *a, GVariant *p, gpointer user_data)
{
  SsWindow *self = SS_WINDOW (user_data);

  if (ss_project_can_undo (self->project))
    ss_project_undo (self->project);
}

static void
redo_activated (GSimpleAction *a, GVariant *p, gpointer user_data)
{
  SsWindow *self = SS_WINDOW (user_data);

  if (ss_project_can_redo (self->project))
    ss_project_redo (self->project);
}

/* export */

typedef struct {
  GWeakRef window;
  char    *display;
} ExportData;

static void
export_data_free (gpointer p)
{
  ExportData *d = p;

  g_weak_ref_clear (&d->window);
  g_free (d->display);
  g_free (d);
}

static void
export_finished (SsJob *job, gpointer user_data)
{
  ExportData *d = user_data;
  g_autoptr(SsWindow) self = g_weak_ref_get (&d->window);
  g_autofree char *text = NULL;

  if (self == NULL)
    return;
  switch (ss_job_get_state (job))
    {
    case SS_JOB_SUCCEEDED:
      text = g_strdup_printf (_("Exported “%s”"), d->display);
      ss_window_toast (self, text);
      break;
    case SS_JOB_CANCELLED:
      ss_window_toast (self, _("Export cancelled"));
      break;
    default:
      text = g_strdup_printf (_("Export of “%s” failed"), d->display);
      if (ss_job_get_error (job) != NULL)
        toast_error (self, text, ss_job_get_error (job));
      else
        ss_window_toast (self, text);
      break;
    }
}

static void
start_export (SsWindow *self, const char *path, gboolean stems)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(SsJob) job = NULL;
  g_autofree char *base = g_path_get_basename (path);
  ExportData *d;

  job = stems ? ss_app_export_stems_job (self->project, path, &error)
              : ss_app_export_video_job (self->project, path, &error);
  if (job == NULL)
    {
      toast_error (self, _("Could not export"), error);
      return;
    }
  d = g_new0 (ExportData, 1);
  g_weak_ref_init (&d->window, self);
  d->display = g_filename_display_name (base);
  g_object_set_data_full (G_OBJECT (job), "ss-export-data", d, export_data_free);
  g_signal_connect (job, "finished", G_CALLBACK (export_finished), d);
  ss_job_manager_add (ss_job_manager_get_default (), job);
  gtk_menu_button_popup (self->jobs_button);
}

void
ss_window_export (SsWindow *self, const char *path, gboolean stems)
{
  g_return_if_fail (SS_IS_WINDOW (self));
  g_return_if_fail (path != NULL);
  start_export (self, path, stems);
}

static void
stems_overwrite_response (AdwMessageDialog *dialog, const char *response, gpointer user_data)
{
  SsWindow *self = SS_WINDOW (user_data);

  if (g_strcmp0 (response, "replace") == 0)
    start_export (self, g_object_get_data (G_OBJECT (dialog), "dir"), TRUE);
}

/* Stem files are named after the tracks: ask before replacing any. */
static void
export_stems_checked (SsWindow *self, const char *dir)
{
  g_auto(GStrv) paths = ss_app_export_stem_paths (self->project, dir);
  g_autoptr(GString) existing = g_string_new (NULL);
  guint n = 0;
  AdwMessageDialog *dialog;

  for (guint i = 0; paths != NULL && paths[i] != NULL; i++)
    if (g_file_test (paths[i], G_FILE_TEST_EXISTS))
      {
        g_autofree char *base = g_path_get_basename (paths[i]);
        g_autofree char *display = g_filename_display_name (base);
        if (++n <= 5)
          g_string_append_printf (existing, "\n• %s", display);
      }
  if (n == 0)
    {
      start_export (self, dir, TRUE);
      return;
    }
  dialog = ADW_MESSAGE_DIALOG (adw_message_dialog_new (GTK_WINDOW (self), _("Replace Existing Files?"), NULL));
  adw_message_dialog_format_body (dialog, _("The folder already has stems with these names:%s"), existing->str);
  adw_message_dialog_add_responses (dialog, "cancel", _("_Cancel"), "replace", _("_Replace"), NULL);
  adw_message_dialog_set_response_appearance (dialog, "replace", ADW_RESPONSE_DESTRUCTIVE);
  adw_message_dialog_set_default_response (dialog, "cancel");
  adw_message_dialog_set_close_response (dialog, "cancel");
  g_object_set_data_full (G_OBJECT (dialog), "dir", g_strdup (dir), g_free);
  g_signal_connect_object (dialog, "response", G_CALLBACK (stems_overwrite_response), self, 0);
  gtk_window_present (GTK_WINDOW (dialog));
}

static void
export_response (GtkNativeDialog *dialog, int response, gpointer user_data)
{
  SsWindow *self = SS_WINDOW (user_data);
  gboolean stems = GPOINTER_TO_INT (g_object_get_data (G_OBJECT (dialog), "stems"));
  g_autoptr(GFile) file = finish_chooser (self, dialog, response);
  g_autofree char *path = NULL;

  if (file == NULL)
    return;
  path = g_file_get_path (file);
  if (path == NULL)
    {
      ss_window_toast (self, _("Exports can only be written to local folders."));
      return;
    }
  if (!stems && strrchr (path, '.') == NULL)
    {
      char *with_ext = g_strconcat (path, ".mp4", NULL);
      g_free (path);
      path = with_ext;
    }
  if (stems)
    export_stems_checked (self, path);
  else
    start_export (self, path, FALSE);
}

static void
show_export_dialog (SsWindow *self, gboolean stems)
{
  GtkFileChooserNative *chooser;
  g_autofree char *folder = g_settings_get_string (self->settings, "export-folder");
  g_autofree char *name = project_display_name (self);
  g_autoptr(GFile) dir = NULL;

  chooser = new_chooser (self, stems ? _("Export Stems to Folder") : _("Export Video"),
                         stems ? GTK_FILE_CHOOSER_ACTION_SELECT_FOLDER : GTK_FILE_CHOOSER_ACTION_SAVE,
                         _("_Export"));
  if (folder[0] == '\0')
    {
      const char *videos = g_get_user_special_dir (G_USER_DIRECTORY_VIDEOS);
      g_free (folder);
      folder = g_strdup (videos ? videos : g_get_home_dir ());
    }
  dir = g_file_new_for_path (folder);
  gtk_file_chooser_set_current_folder (GTK_FILE_CHOOSER (chooser), dir, NULL);
  if (!stems)
    {
      g_autofree char *file_name = g_strconcat (name, ".mp4", NULL);
      gtk_file_chooser_set_current_name (GTK_FILE_CHOOSER (chooser), file_name);
    }
  g_object_set_data (G_OBJECT (chooser), "stems", GINT_TO_POINTER (stems));
  g_signal_connect (chooser, "response", G_CALLBACK (export_response), self);
  gtk_native_dialog_show (GTK_NATIVE_DIALOG (chooser));
}

static void
export_video_activated (GSimpleAction *a, GVariant *p, gpointer user_data)
{
  show_export_dialog (SS_WINDOW (user_data), FALSE);
}

static void
export_stems_activated (GSimpleAction *a, GVariant *p, gpointer user_data)
{
  show_export_dialog (SS_WINDOW (user_data), TRUE);
}

/* transport */

static void
transport_activated (GSimpleAction *action, GVariant *p, gpointer user_data)
{
  SsWindow *self = SS_WINDOW (user_data);
  SsTransport *t = SS_TRANSPORT (self->transport);
  const char *name = g_action_get_name (G_ACTION (action));

  if (t == NULL)
    return;
  if (g_str_equal (name, "play-pause"))
    ss_transport_toggle (t);
  else if (g_str_equal (name, "shuttle-backward"))
    ss_transport_shuttle (t, -1);
  else if (g_str_equal (name, "shuttle-stop"))
    ss_transport_shuttle (t, 0);
  else if (g_str_equal (name, "shuttle-forward"))
    ss_transport_shuttle (t, 1);
  else if (g_str_equal (name, "step-backward"))
    ss_transport_step (t, -1);
  else if (g_str_equal (name, "step-forward"))
    ss_transport_step (t, 1);
  else if (g_str_equal (name, "go-start"))
    {
      ss_transport_pause (t);
      ss_transport_seek (t, 0);
    }
  else if (g_str_equal (name, "go-end"))
    {
      ss_transport_pause (t);
      ss_transport_seek (t, ss_project_get_duration (self->project));
    }
}

/* window-level wrappers so the shortcuts work wherever the focus is */
static void
timeline_activated (GSimpleAction *action, GVariant *p, gpointer user_data)
{
  SsWindow *self = SS_WINDOW (user_data);
  g_autofree char *name = g_strconcat ("timeline.", g_action_get_name (G_ACTION (action)), NULL);

  if (self->timeline != NULL)
    gtk_widget_activate_action (self->timeline, name, NULL);
}

/* sync */

void
ss_window_check_sync (SsWindow *self)
{
  const char *clip_id = NULL;
  g_autoptr(GError) error = NULL;
  SsTime position = 0;

  g_return_if_fail (SS_IS_WINDOW (self));
  gtk_revealer_set_reveal_child (self->sync_revealer, TRUE);
  clip_id = ss_timeline_get_selected_clip (SS_TIMELINE (self->timeline));
  if (self->transport != NULL)
    position = ss_transport_get_position (SS_TRANSPORT (self->transport));
  if (clip_id == NULL)
    clip_id = ss_sync_panel_find_clip_at (self->project, position);
  if (clip_id == NULL)
    {
      ss_window_toast (self, _("Select a clip, or move the playhead over one, to check its sync"));
      return;
    }
  if (!ss_sync_panel_check_clip (SS_SYNC_PANEL (self->sync_panel), clip_id, &error))
    toast_error (self, _("Cannot check sync"), error);
}

GtkWidget *
ss_window_get_sync_panel (SsWindow *self)
{
  g_return_val_if_fail (SS_IS_WINDOW (self), NULL);
  return self->sync_panel;
}

static void
check_sync_activated (GSimpleAction *action, GVariant *p, gpointer user_data)
{
  ss_window_check_sync (SS_WINDOW (user_data));
}

static void
close_sync_panel_activated (GSimpleAction *action, GVariant *p, gpointer user_data)
{
  SsWindow *self = SS_WINDOW (user_data);

  gtk_revealer_set_reveal_child (self->sync_revealer, FALSE);
}

static void
sync_panel_toast (SsWindow *self, const char *text)
{
  ss_window_toast (self, text);
}

static const GActionEntry win_actions[] = {
  { "new", new_activated },
  { "open", open_activated },
  { "import", import_activated },
  { "save", save_activated },
  { "save-as", save_as_activated },
  { "export-video", export_video_activated },
  { "export-stems", export_stems_activated },
  { "undo", undo_activated },
  { "redo", redo_activated },
  { "play-pause", transport_activated },
  { "shuttle-backward", transport_activated },
  { "shuttle-stop", transport_activated },
  { "shuttle-forward", transport_activated },
  { "step-backward", transport_activated },
  { "step-forward", transport_activated },
  { "go-start", transport_activated },
  { "go-end", transport_activated },
  { "split", timeline_activated },
  { "delete", timeline_activated },
  { "zoom-in", timeline_activated },
  { "zoom-out", timeline_activated },
  { "zoom-fit", timeline_activated },
  { "next-take", timeline_activated },
  { "previous-take", timeline_activated },
  { "add-audio-track", timeline_activated },
  { "check-sync", check_sync_activated },
  { "close-sync-panel", close_sync_panel_activated },
};

/* ------------------------------------------------------------- jobs list */

static GtkWidget *
create_job_row (gpointer item, gpointer user_data)
{
  return ss_job_row_new (SS_JOB (item));
}

/* Newest jobs first: each job gets a serial when it enters the manager. */
static guint64 job_serial;

static void
number_new_jobs (GListModel *model, guint position, guint removed, guint added, gpointer user_data)
{
  for (guint i = position; i < position + added; i++)
    {
      g_autoptr(GObject) job = g_list_model_get_item (model, i);
      if (g_object_get_data (job, "ss-job-serial") == NULL)
        g_object_set_data (job, "ss-job-serial", GSIZE_TO_POINTER ((gsize) ++job_serial));
    }
}

static int
compare_jobs_newest_first (gconstpointer a, gconstpointer b, gpointer user_data)
{
  gsize sa = GPOINTER_TO_SIZE (g_object_get_data (G_OBJECT (a), "ss-job-serial"));
  gsize sb = GPOINTER_TO_SIZE (g_object_get_data (G_OBJECT (b), "ss-job-serial"));

  return sa < sb ? 1 : sa > sb ? -1 : 0;
}

static GListModel *
jobs_newest_first (void)
{
  static GtkSortListModel *sorted;
  GListModel *manager = G_LIST_MODEL (ss_job_manager_get_default ());

  if (sorted == NULL)
    {
      number_new_jobs (manager, 0, 0, g_list_model_get_n_items (manager), NULL);
      /* connected before the sort model, so serials exist when it sorts */
      g_signal_connect (manager, "items-changed", G_CALLBACK (number_new_jobs), NULL);
      sorted = gtk_sort_list_model_new (g_object_ref (manager),
                                        GTK_SORTER (gtk_custom_sorter_new (compare_jobs_newest_first, NULL, NULL)));
    }
  return G_LIST_MODEL (sorted);
}

static void
clear_jobs_clicked (SsWindow *self)
{
  ss_job_manager_clear_finished (ss_job_manager_get_default ());
}

/* ------------------------------------------------------ text entry keys */

/* The editor binds single keys (Space, J/K/L, S, T, arrows...) as application
 * accelerators, which GTK runs in the capture phase, before the focused
 * widget. While a text field has the focus (a prompt, a track name), its keys
 * go to it first: only what it does not handle reaches the shortcuts. */
static gboolean
key_capture (GtkEventControllerKey *controller, guint keyval, guint keycode,
             GdkModifierType state, gpointer user_data)
{
  SsWindow *self = SS_WINDOW (user_data);
  GtkWidget *focus = gtk_root_get_focus (GTK_ROOT (self));

  if (focus == NULL || (state & (GDK_CONTROL_MASK | GDK_ALT_MASK | GDK_SUPER_MASK)) != 0)
    return FALSE;
  if (!GTK_IS_TEXT (focus) && !GTK_IS_TEXT_VIEW (focus))
    return FALSE;
  if (!gtk_widget_is_sensitive (focus))
    return FALSE;
  return gtk_event_controller_key_forward (controller, focus);
}

/* ---------------------------------------------------------------- lifecycle */

static void
do_close (SsWindow *self)
{
  self->close_confirmed = TRUE;
  gtk_window_close (GTK_WINDOW (self));
}

static void
release_when_jobs_done (SsJobManager *manager, GParamSpec *pspec, gpointer user_data)
{
  GApplication *app = G_APPLICATION (user_data);

  if (ss_job_manager_get_n_running (manager) > 0)
    return;
  g_signal_handlers_disconnect_by_func (manager, release_when_jobs_done, user_data);
  g_application_release (app);
  g_object_unref (app);
}

/* Jobs of a closing window are cancelled; the application stays alive until
 * they have cleaned up (exports leave no partial files). */
static void
cancel_jobs_on_close (SsWindow *self)
{
  SsJobManager *manager = ss_job_manager_get_default ();
  GtkApplication *app = gtk_window_get_application (GTK_WINDOW (self));
  GList *windows = app ? gtk_application_get_windows (app) : NULL;

  if (app == NULL || ss_job_manager_get_n_running (manager) == 0)
    return;
  /* Other editor windows may still want their jobs. */
  for (GList *l = windows; l != NULL; l = l->next)
    if (l->data != self && SS_IS_WINDOW (l->data))
      return;
  ss_job_manager_cancel_all (manager);
  g_application_hold (G_APPLICATION (app));
  g_signal_connect (manager, "notify::n-running", G_CALLBACK (release_when_jobs_done), g_object_ref (app));
}

static gboolean
ss_window_close_request (GtkWindow *window)
{
  SsWindow *self = SS_WINDOW (window);

  if (!self->close_confirmed && project_needs_saving (self))
    {
      confirm_discard (self, do_close);
      return TRUE;
    }
  if (self->transport != NULL)
    ss_transport_pause (SS_TRANSPORT (self->transport));
  cancel_jobs_on_close (self);
  /* A clean close: nothing to recover next time. */
  if (self->project != NULL)
    ss_project_remove_recovery (self->project);
  return GTK_WINDOW_CLASS (ss_window_parent_class)->close_request (window);
}

static void
ss_window_dispose (GObject *object)
{
  SsWindow *self = SS_WINDOW (object);

  g_clear_handle_id (&self->autosave_id, g_source_remove);
  if (self->chooser != NULL)
    gtk_native_dialog_destroy (GTK_NATIVE_DIALOG (self->chooser));
  g_clear_object (&self->chooser);
  if (self->project != NULL)
    g_signal_handlers_disconnect_by_data (self->project, self);
  if (self->transport != NULL)
    g_signal_handlers_disconnect_by_data (self->transport, self);
  g_signal_handlers_disconnect_by_data (ss_job_manager_get_default (), self);
  if (self->settings != NULL)
    g_signal_handlers_disconnect_by_data (self->settings, self);
  g_clear_object (&self->transport);
  g_clear_object (&self->project);
  G_OBJECT_CLASS (ss_window_parent_class)->dispose (object);
}

static void
ss_window_finalize (GObject *object)
{
  SsWindow *self = SS_WINDOW (object);

  g_clear_object (&self->settings);
  g_clear_pointer (&self->relink_queue, g_ptr_array_unref);
  g_free (self->last_toast);
  G_OBJECT_CLASS (ss_window_parent_class)->finalize (object);
}

static void
ss_window_class_init (SsWindowClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);
  GtkWindowClass *window_class = GTK_WINDOW_CLASS (klass);

  object_class->dispose = ss_window_dispose;
  object_class->finalize = ss_window_finalize;
  window_class->close_request = ss_window_close_request;

  gtk_widget_class_set_template_from_resource (widget_class, "/org/soundstage/Soundstage/ss-window.ui");
  gtk_widget_class_bind_template_child (widget_class, SsWindow, window_title);
  gtk_widget_class_bind_template_child (widget_class, SsWindow, toast_overlay);
  gtk_widget_class_bind_template_child (widget_class, SsWindow, paned);
  gtk_widget_class_bind_template_child (widget_class, SsWindow, viewer_stack);
  gtk_widget_class_bind_template_child (widget_class, SsWindow, viewer_bin);
  gtk_widget_class_bind_template_child (widget_class, SsWindow, timeline_bin);
  gtk_widget_class_bind_template_child (widget_class, SsWindow, play_button);
  gtk_widget_class_bind_template_child (widget_class, SsWindow, time_label);
  gtk_widget_class_bind_template_child (widget_class, SsWindow, rate_label);
  gtk_widget_class_bind_template_child (widget_class, SsWindow, jobs_button);
  gtk_widget_class_bind_template_child (widget_class, SsWindow, jobs_icon_stack);
  gtk_widget_class_bind_template_child (widget_class, SsWindow, jobs_spinner);
  gtk_widget_class_bind_template_child (widget_class, SsWindow, jobs_label);
  gtk_widget_class_bind_template_child (widget_class, SsWindow, jobs_list);
  gtk_widget_class_bind_template_child (widget_class, SsWindow, clear_jobs_button);
  gtk_widget_class_bind_template_child (widget_class, SsWindow, undo_button);
  gtk_widget_class_bind_template_child (widget_class, SsWindow, redo_button);
  gtk_widget_class_bind_template_child (widget_class, SsWindow, sync_revealer);
}

static void
create_editors (SsWindow *self)
{
  self->transport = G_OBJECT (ss_transport_new ());
  g_signal_connect_swapped (self->transport, "notify::position", G_CALLBACK (update_position), self);
  g_signal_connect_swapped (self->transport, "notify::playing", G_CALLBACK (update_playing), self);
  g_signal_connect_swapped (self->transport, "notify::rate", G_CALLBACK (update_playing), self);

  self->viewer = ss_viewer_new ();
  ss_viewer_set_transport (SS_VIEWER (self->viewer), SS_TRANSPORT (self->transport));
  gtk_widget_set_hexpand (self->viewer, TRUE);
  gtk_widget_set_vexpand (self->viewer, TRUE);
  gtk_box_append (self->viewer_bin, self->viewer);

  self->timeline = ss_timeline_new ();
  ss_timeline_set_transport (SS_TIMELINE (self->timeline), SS_TRANSPORT (self->transport));
  /* Refused edits (overlaps, nothing under the playhead...) become toasts. */
  g_signal_connect_swapped (self->timeline, "error", G_CALLBACK (ss_window_toast), self);
  gtk_widget_set_hexpand (self->timeline, TRUE);
  gtk_widget_set_vexpand (self->timeline, TRUE);
  gtk_box_append (self->timeline_bin, self->timeline);

  self->sync_panel = ss_sync_panel_new ();
  g_signal_connect_swapped (self->sync_panel, "toast", G_CALLBACK (sync_panel_toast), self);
  gtk_revealer_set_child (self->sync_revealer, self->sync_panel);
}

static void
ss_window_init (SsWindow *self)
{
  g_autoptr(SsProject) project = NULL;
  GtkDropTarget *drop;
  GType drop_types[] = { GDK_TYPE_FILE_LIST, G_TYPE_FILE };
  SsJobManager *manager = ss_job_manager_get_default ();

  gtk_widget_init_template (GTK_WIDGET (self));

  g_action_map_add_action_entries (G_ACTION_MAP (self), win_actions, G_N_ELEMENTS (win_actions), self);

  create_editors (self);

  gtk_list_box_bind_model (self->jobs_list, jobs_newest_first (), create_job_row, NULL, NULL);
  {
    GtkWidget *placeholder = gtk_label_new (_("No jobs"));
    gtk_widget_add_css_class (placeholder, "dim-label");
    gtk_widget_set_margin_top (placeholder, 12);
    gtk_widget_set_margin_bottom (placeholder, 12);
    gtk_list_box_set_placeholder (self->jobs_list, placeholder);
  }
  g_signal_connect_swapped (manager, "items-changed", G_CALLBACK (update_jobs_button), self);
  g_signal_connect_swapped (manager, "notify::n-running", G_CALLBACK (update_jobs_button), self);
  g_signal_connect_swapped (self->clear_jobs_button, "clicked", G_CALLBACK (clear_jobs_clicked), self);

  {
    /* Added in init, so it runs before the application's accelerators. */
    GtkEventController *keys = gtk_event_controller_key_new ();
    gtk_event_controller_set_propagation_phase (keys, GTK_PHASE_CAPTURE);
    g_signal_connect (keys, "key-pressed", G_CALLBACK (key_capture), self);
    gtk_widget_add_controller (GTK_WIDGET (self), keys);
  }

  drop = gtk_drop_target_new (G_TYPE_INVALID, GDK_ACTION_COPY);
  gtk_drop_target_set_gtypes (drop, drop_types, G_N_ELEMENTS (drop_types));
  g_signal_connect (drop, "drop", G_CALLBACK (drop_cb), self);
  gtk_widget_add_controller (GTK_WIDGET (self->toast_overlay), GTK_EVENT_CONTROLLER (drop));

  project = ss_project_new ();
  ss_window_set_project (self, project);
  update_jobs_button (self);
  update_playing (self);
}

SsWindow *
ss_window_new (SsApplication *app)
{
  SsWindow *self = g_object_new (SS_TYPE_WINDOW, "application", app, NULL);

  self->settings = g_object_ref (ss_application_get_settings (app));
  g_settings_bind (self->settings, "window-width", self, "default-width", G_SETTINGS_BIND_DEFAULT);
  g_settings_bind (self->settings, "window-height", self, "default-height", G_SETTINGS_BIND_DEFAULT);
  g_settings_bind (self->settings, "window-maximized", self, "maximized", G_SETTINGS_BIND_DEFAULT);
  ss_sync_panel_bind_method (SS_SYNC_PANEL (self->sync_panel), self->settings, "sync-method");
  g_signal_connect_swapped (self->settings, "changed::autosave-interval", G_CALLBACK (setup_autosave), self);
  g_signal_connect_swapped (self->settings, "changed::audio-latency", G_CALLBACK (apply_latency), self);
  /* The timeline draws thumbnails at the preferred height once it offers the property. */
  if (g_object_class_find_property (G_OBJECT_GET_CLASS (self->timeline), "thumbnail-height") != NULL)
    g_settings_bind (self->settings, "thumbnail-height", self->timeline, "thumbnail-height", G_SETTINGS_BIND_GET);
  setup_autosave (self);
  apply_latency (self);
  update_state (self);

  /* Only the first window of a process offers recovery. */
  if (g_list_length (gtk_application_get_windows (GTK_APPLICATION (app))) == 1)
    g_idle_add_full (G_PRIORITY_LOW, offer_recovery, g_object_ref (self), g_object_unref);
  return self;
}
