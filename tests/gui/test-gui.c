/* test-gui.c: drives the real editor window under Xvfb the way a person would:
 * opens the demo project, imports a freshly generated clip, plays for a second,
 * saves, reloads, and takes a screenshot of the window. */
#define G_LOG_DOMAIN "test-gui"

#include "config.h"

#include <glib/gstdio.h>
#include <time.h>
#include <utime.h>
#include <gtk/gtk.h>

#include "audio/ss-transport.h"
#include "jobs/ss-job.h"
#include "media/ss-media.h"
#include "project/ss-project.h"
#include "ss-application.h"
#include "ss-demo.h"
#include "ss-preferences-window.h"
#include "ss-window.h"
#include "ss-gui-test-util.h"

static char *tmp_dir;
static SsApplication *app;

static gboolean
imports_done (gpointer data)
{
  return ss_window_get_n_imports_running (SS_WINDOW (data)) == 0;
}

static gboolean
jobs_done (gpointer data)
{
  return ss_job_manager_get_n_running (ss_job_manager_get_default ()) == 0;
}

static SsWindow *
new_window (void)
{
  SsWindow *window = ss_window_new (app);

  gtk_window_present (GTK_WINDOW (window));
  g_assert_true (wait_for (window_mapped, window, 10));
  return window;
}

static guint
count_clips_of_media (SsProject *project, const char *media_id, SsTrackKind kind)
{
  guint n = 0;

  for (guint i = 0; i < ss_project_get_n_tracks (project); i++)
    {
      const SsTrack *t = ss_project_get_track (project, i);
      if (t->kind != kind)
        continue;
      for (guint j = 0; j < t->clips->len; j++)
        {
          const SsClip *c = g_ptr_array_index (t->clips, j);
          const SsTake *take = ss_clip_get_active_take (c);
          if (take != NULL && g_strcmp0 (take->media_id, media_id) == 0)
            n++;
        }
    }
  return n;
}

static const SsMedia *
media_by_basename (SsProject *project, const char *base)
{
  for (guint i = 0; i < ss_project_get_n_media (project); i++)
    {
      const SsMedia *m = ss_project_get_media (project, i);
      g_autofree char *b = g_path_get_basename (m->path);
      if (g_str_equal (b, base))
        return m;
    }
  return NULL;
}

static char *
demo_project_path (void)
{
  return g_build_filename (SS_BUILD_DIR, "data", "demo", "demo" SS_PROJECT_EXTENSION, NULL);
}

/* Renders the window as it is on screen into a PNG. */
static void
save_screenshot (GtkWidget *window, const char *path)
{
  int w = gtk_widget_get_width (window), h = gtk_widget_get_height (window);
  g_autoptr(GdkPaintable) paintable = gtk_widget_paintable_new (window);
  GtkSnapshot *snapshot = gtk_snapshot_new ();
  g_autoptr(GskRenderNode) node = NULL;
  (void) w; (void) h;
  g_autoptr(GdkTexture) texture = NULL;
  GskRenderer *renderer = gtk_native_get_renderer (GTK_NATIVE (window));

  /* A window that was just mapped may not have drawn its first frame yet. */
  for (int tries = 0; tries < 100; tries++)
    {
      w = gtk_widget_get_width (window);
      h = gtk_widget_get_height (window);
      if (w > 0 && h > 0)
        {
          gdk_paintable_snapshot (paintable, snapshot, w, h);
          node = gtk_snapshot_free_to_node (snapshot);
          if (node != NULL)
            break;
          snapshot = gtk_snapshot_new ();
        }
      spin (0.05);
    }
  g_assert_nonnull (node);
  texture = gsk_renderer_render_texture (renderer, node, &GRAPHENE_RECT_INIT (0, 0, w, h));
  g_assert_true (gdk_texture_save_to_png (texture, path));
}

/* Asserts the PNG has the window's size and real content (many colours). */
static void
check_screenshot (const char *path, int min_w, int min_h)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GdkTexture) texture = gdk_texture_new_from_filename (path, &error);
  g_autofree guint8 *pixels = NULL;
  g_autoptr(GHashTable) colours = g_hash_table_new (NULL, NULL);
  int w, h;
  gsize stride;

  g_assert_no_error (error);
  w = gdk_texture_get_width (texture);
  h = gdk_texture_get_height (texture);
  g_assert_cmpint (w, >=, min_w);
  g_assert_cmpint (h, >=, min_h);
  stride = (gsize) w * 4;
  pixels = g_malloc (stride * h);
  gdk_texture_download (texture, pixels, stride);
  for (int y = 0; y < h; y += 2)
    for (int x = 0; x < w; x += 2)
      {
        guint32 px;
        memcpy (&px, pixels + y * stride + x * 4, 4);
        g_hash_table_add (colours, GUINT_TO_POINTER (px));
      }
  g_test_message ("screenshot %dx%d with %u colours", w, h, g_hash_table_size (colours));
  /* A blank or single-colour window would have a handful at most. */
  g_assert_cmpuint (g_hash_table_size (colours), >, 50);
}

static void
test_edit_play_save (void)
{
  g_autofree char *demo = demo_project_path ();
  g_autofree char *clip = g_build_filename (tmp_dir, "bounce.mp4", NULL);
  g_autofree char *saved = g_build_filename (tmp_dir, "saved" SS_PROJECT_EXTENSION, NULL);
  g_autofree char *bad = g_build_filename (tmp_dir, "not-a-video.mp4", NULL);
  g_autofree char *exported = g_build_filename (tmp_dir, "exported.mp4", NULL);
  g_autofree char *shot = g_build_filename (SS_BUILD_DIR, "gui-screenshot.png", NULL);
  g_autofree char *recovery = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(SsProject) reloaded = NULL;
  g_autoptr(GFile) clip_file = NULL;
  g_autoptr(GFile) bad_file = NULL;
  SsDemoOptions opts;
  SsWindow *window;
  SsProject *project;
  SsTransport *transport;
  const SsMedia *imported;
  guint n_tracks_before;
  SsTime before, after;

  g_assert_true (g_file_test (demo, G_FILE_TEST_EXISTS));

  window = new_window ();

  /* Open the demo project. */
  g_assert_true (ss_window_load_project (window, demo, &error));
  g_assert_no_error (error);
  project = ss_window_get_project (window);
  g_assert_cmpuint (ss_project_get_n_media (project), ==, 1);
  g_assert_false (ss_project_get_dirty (project));
  n_tracks_before = ss_project_get_n_tracks (project);

  /* Import a clip generated now (different size, length and sounds). */
  ss_demo_options_init (&opts);
  opts.width = 240;
  opts.height = 136;
  opts.seconds = 2.0;
  opts.seed = 7;
  g_assert_true (ss_demo_write_clip (clip, &opts, NULL, NULL, &error));
  g_assert_no_error (error);
  clip_file = g_file_new_for_path (clip);
  ss_window_import_file (window, clip_file);
  g_assert_true (wait_for (imports_done, window, 20));

  g_assert_cmpuint (ss_project_get_n_media (project), ==, 2);
  imported = media_by_basename (project, "bounce.mp4");
  g_assert_nonnull (imported);
  g_assert_true (imported->has_video);
  g_assert_true (imported->has_audio);
  /* The clip's picture is on the video track and its sound on an audio track,
   * after the demo clip. */
  g_assert_cmpuint (count_clips_of_media (project, imported->id, SS_TRACK_VIDEO), ==, 1);
  g_assert_cmpuint (count_clips_of_media (project, imported->id, SS_TRACK_AUDIO), ==, 1);
  g_assert_cmpuint (ss_project_get_n_tracks (project), >=, n_tracks_before);
  g_assert_cmpint (ss_project_get_duration (project), >=, ss_time_from_seconds (5.9));
  g_assert_true (ss_project_get_dirty (project));
  g_assert_true (ss_project_can_undo (project));
  /* ... and the window offers Undo for it. */
  g_assert_true (g_action_group_get_action_enabled (G_ACTION_GROUP (window), "undo"));
  g_assert_false (g_action_group_get_action_enabled (G_ACTION_GROUP (window), "redo"));

  /* A file that is not media gives a message naming it, and changes nothing. */
  g_assert_true (g_file_set_contents (bad, "this is not a video", -1, NULL));
  bad_file = g_file_new_for_path (bad);
  ss_window_import_file (window, bad_file);
  g_assert_true (wait_for (imports_done, window, 20));
  g_assert_nonnull (ss_window_get_last_toast (window));
  g_assert_nonnull (strstr (ss_window_get_last_toast (window), "not-a-video.mp4"));
  g_assert_cmpuint (ss_project_get_n_media (project), ==, 2);

  /* A refused timeline edit is not silent: splitting with the playhead past the
   * last clip shows the timeline's message as a toast and changes nothing. */
  {
    g_autofree char *before_json = ss_project_to_json (project, NULL);
    ss_transport_seek (SS_TRANSPORT (ss_window_get_transport (window)),
                       ss_project_get_duration (project) + SS_TIME_SECOND);
    g_action_group_activate_action (G_ACTION_GROUP (window), "split", NULL);
    g_assert_nonnull (strstr (ss_window_get_last_toast (window), "no clip under the playhead"));
    g_autofree char *after_json = ss_project_to_json (project, NULL);
    g_assert_cmpstr (before_json, ==, after_json);
    ss_transport_seek (SS_TRANSPORT (ss_window_get_transport (window)), 0);
  }

  /* Autosave writes the recovery file while there are unsaved changes. */
  g_assert_true (ss_window_autosave_now (window, &error));
  g_assert_no_error (error);
  recovery = ss_window_dup_recovery_path (window);
  g_assert_nonnull (recovery);
  g_assert_true (g_file_test (recovery, G_FILE_TEST_IS_REGULAR));

  /* Play for a second: the playhead moves. */
  transport = SS_TRANSPORT (ss_window_get_transport (window));
  g_assert_nonnull (transport);
  before = ss_transport_get_position (transport);
  g_action_group_activate_action (G_ACTION_GROUP (window), "play-pause", NULL);
  g_assert_true (ss_transport_get_playing (transport));
  spin (1.0);
  after = ss_transport_get_position (transport);
  g_test_message ("position %.3f s -> %.3f s", ss_time_to_seconds (before), ss_time_to_seconds (after));
  g_assert_cmpint (after, >, before);
  /* Pause stops it. */
  g_action_group_activate_action (G_ACTION_GROUP (window), "play-pause", NULL);
  g_assert_false (ss_transport_get_playing (transport));
  /* Frame step moves by one frame of the 25 fps timeline. */
  before = ss_transport_get_position (transport);
  g_action_group_activate_action (G_ACTION_GROUP (window), "step-forward", NULL);
  spin (0.1);
  after = ss_transport_get_position (transport);
  g_assert_cmpint (after, >, before);
  g_assert_cmpint (after - before, <=, SS_TIME_SECOND / 25 + SS_TIME_MS);

  /* Let the thumbnails and waveforms arrive, then the screenshot. */
  spin (2.0);
  save_screenshot (GTK_WIDGET (window), shot);
  check_screenshot (shot, 640, 480);

  /* Save, and the saved project reloads with the same content. */
  g_assert_true (ss_window_save_project (window, saved, &error));
  g_assert_no_error (error);
  g_assert_false (ss_project_get_dirty (project));
  g_assert_false (g_file_test (recovery, G_FILE_TEST_EXISTS));
  reloaded = ss_project_load (saved, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (ss_project_get_n_media (reloaded), ==, 2);
  g_assert_cmpuint (ss_project_get_n_tracks (reloaded), ==, ss_project_get_n_tracks (project));
  g_assert_cmpint (ss_project_get_duration (reloaded), ==, ss_project_get_duration (project));
  imported = media_by_basename (reloaded, "bounce.mp4");
  g_assert_nonnull (imported);
  g_assert_false (imported->missing);
  g_assert_cmpuint (count_clips_of_media (reloaded, imported->id, SS_TRACK_AUDIO), ==, 1);

  /* Export the video: a job runs, the file appears, a toast says so. */
  ss_window_export (window, exported, FALSE);
  g_assert_cmpuint (ss_job_manager_get_n_running (ss_job_manager_get_default ()), >=, 1);
  {
    /* The jobs popover opens and lists the export. */
    g_autofree char *jobs_shot = g_build_filename (SS_BUILD_DIR, "gui-jobs.png", NULL);
    GtkPopover *popover = gtk_menu_button_get_popover (
      GTK_MENU_BUTTON (gtk_widget_get_template_child (GTK_WIDGET (window), SS_TYPE_WINDOW, "jobs_button")));
    g_assert_true (wait_for (window_mapped, popover, 10));
    save_screenshot (GTK_WIDGET (popover), jobs_shot);
    gtk_popover_popdown (popover);
  }
  g_assert_true (wait_for (jobs_done, NULL, 60));
  g_assert_true (g_file_test (exported, G_FILE_TEST_IS_REGULAR));
  g_assert_nonnull (strstr (ss_window_get_last_toast (window), "Exported"));

  /* Undo in the window takes the import back. */
  g_action_group_activate_action (G_ACTION_GROUP (window), "undo", NULL);
  g_assert_cmpuint (ss_project_get_n_media (project), ==, 1);
  g_action_group_activate_action (G_ACTION_GROUP (window), "redo", NULL);
  g_assert_cmpuint (ss_project_get_n_media (project), ==, 2);
  g_assert_false (ss_project_get_dirty (project));

  gtk_window_destroy (GTK_WINDOW (window));
}

/* A recovery file left by a session that did not close is offered on start,
 * and recovering brings the unsaved edit back. */
static void
test_recovery_offered (void)
{
  g_autofree char *demo = demo_project_path ();
  g_autofree char *copy = g_build_filename (tmp_dir, "crashed" SS_PROJECT_EXTENSION, NULL);
  g_autofree char *data = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(SsProject) crashed = NULL;
  SsWindow *window;
  AdwMessageDialog *dialog;
  const SsTrack *video;
  const SsClip *clip;
  gsize len;

  /* A "previous session": the demo saved elsewhere, then edited and autosaved
   * but never saved. */
  g_assert_true (g_file_get_contents (demo, &data, &len, &error));
  crashed = ss_project_load (demo, &error);
  g_assert_no_error (error);
  g_assert_true (ss_project_save (crashed, copy, &error));
  {
    /* saved a minute before the crash (file systems with coarse timestamps
     * would otherwise see both files written at the same instant) */
    struct utimbuf times = { .actime = time (NULL) - 60, .modtime = time (NULL) - 60 };
    g_assert_cmpint (g_utime (copy, &times), ==, 0);
  }
  video = ss_project_get_video_track (crashed);
  clip = g_ptr_array_index (video->clips, 0);
  g_assert_nonnull (ss_project_split_clip (crashed, clip->id, ss_time_from_seconds (2.0), &error));
  g_assert_no_error (error);
  g_assert_true (ss_project_autosave (crashed, &error));
  g_assert_no_error (error);
  g_clear_object (&crashed);   /* "crash": no clean close */

  {
    g_autoptr(GPtrArray) list = ss_project_list_recoveries (NULL);
    g_test_message ("%u recovery file(s), %u window(s)", list->len,
                    g_list_length (gtk_application_get_windows (GTK_APPLICATION (app))));
    g_assert_cmpuint (list->len, ==, 1);
  }
  window = new_window ();
  g_assert_true (wait_for ((Cond) ss_window_get_recovery_dialog, window, 10));
  dialog = ss_window_get_recovery_dialog (window);
  adw_message_dialog_response (dialog, "recover");
  gtk_window_close (GTK_WINDOW (dialog));   /* as clicking a button does */
  spin (0.2);

  video = ss_project_get_video_track (ss_window_get_project (window));
  g_assert_cmpuint (video->clips->len, ==, 2);   /* the split is back */
  g_assert_true (ss_project_get_dirty (ss_window_get_project (window)));
  g_assert_cmpstr (ss_project_get_path (ss_window_get_project (window)), ==, copy);

  /* Leave nothing to recover behind: a window opened by a later test would
   * otherwise offer it, at a moment that depends on scheduling. */
  ss_project_remove_recovery (ss_window_get_project (window));
  {
    g_autoptr(GPtrArray) left = ss_project_list_recoveries (NULL);
    g_assert_cmpuint (left->len, ==, 0);
  }
  gtk_window_destroy (GTK_WINDOW (window));
}

static GtkWindow *
find_toplevel (GType type)
{
  GListModel *list = gtk_window_get_toplevels ();

  for (guint i = 0; i < g_list_model_get_n_items (list); i++)
    {
      g_autoptr(GtkWindow) w = g_list_model_get_item (list, i);
      if (G_TYPE_CHECK_INSTANCE_TYPE (w, type) && gtk_widget_get_visible (GTK_WIDGET (w)))
        return w;
    }
  return NULL;
}

static gboolean
has_toplevel (gpointer type)
{
  return find_toplevel ((GType) GPOINTER_TO_SIZE (type)) != NULL;
}

/* The menu's Preferences, Keyboard Shortcuts and About open their windows, and
 * a preference changed in the window is stored in the settings. */
static void
test_menu_windows (void)
{
  SsWindow *window = new_window ();
  GSettings *settings = ss_application_get_settings (app);
  g_autofree char *shot = g_build_filename (SS_BUILD_DIR, "gui-preferences.png", NULL);
  GtkWindow *prefs, *help, *about;
  GtkWidget *autosave = NULL;

  {
    /* A new window invites to drop or import media. */
    g_autofree char *empty_shot = g_build_filename (SS_BUILD_DIR, "gui-empty.png", NULL);
    GtkStack *stack = GTK_STACK (gtk_widget_get_template_child (GTK_WIDGET (window), SS_TYPE_WINDOW, "viewer_stack"));
    g_assert_cmpstr (gtk_stack_get_visible_child_name (stack), ==, "empty");
    g_assert_false (g_action_group_get_action_enabled (G_ACTION_GROUP (window), "export-video"));
    save_screenshot (GTK_WIDGET (window), empty_shot);
    check_screenshot (empty_shot, 640, 480);
  }
  g_action_group_activate_action (G_ACTION_GROUP (app), "preferences", NULL);
  g_assert_true (wait_for (has_toplevel, GSIZE_TO_POINTER (SS_TYPE_PREFERENCES_WINDOW), 10));
  prefs = find_toplevel (SS_TYPE_PREFERENCES_WINDOW);
  g_assert_true (wait_for (window_mapped, prefs, 10));
  autosave = GTK_WIDGET (gtk_widget_get_template_child (GTK_WIDGET (prefs), SS_TYPE_PREFERENCES_WINDOW, "autosave_spin"));
  g_assert_nonnull (autosave);
  g_assert_cmpfloat (gtk_spin_button_get_value (GTK_SPIN_BUTTON (autosave)), ==,
                     g_settings_get_uint (settings, "autosave-interval"));
  gtk_spin_button_set_value (GTK_SPIN_BUTTON (autosave), 30);
  g_assert_cmpuint (g_settings_get_uint (settings, "autosave-interval"), ==, 30);
  spin (0.3);
  save_screenshot (GTK_WIDGET (prefs), shot);
  check_screenshot (shot, 300, 200);
  gtk_window_destroy (prefs);

  g_action_group_activate_action (G_ACTION_GROUP (window), "show-help-overlay", NULL);
  g_assert_true (wait_for (has_toplevel, GSIZE_TO_POINTER (GTK_TYPE_SHORTCUTS_WINDOW), 10));
  help = find_toplevel (GTK_TYPE_SHORTCUTS_WINDOW);
  gtk_widget_set_visible (GTK_WIDGET (help), FALSE);

  g_action_group_activate_action (G_ACTION_GROUP (app), "about", NULL);
  g_assert_true (wait_for (has_toplevel, GSIZE_TO_POINTER (ADW_TYPE_ABOUT_WINDOW), 10));
  about = find_toplevel (ADW_TYPE_ABOUT_WINDOW);
  g_assert_cmpstr (adw_about_window_get_application_name (ADW_ABOUT_WINDOW (about)), ==, "Soundstage");
  gtk_window_destroy (about);

  gtk_window_destroy (GTK_WINDOW (window));
}

static gboolean
no_message_dialog (gpointer data)
{
  return find_toplevel (ADW_TYPE_MESSAGE_DIALOG) == NULL;
}

/* A project whose media was moved away still opens with all its clips, and
 * the window asks to locate the file instead of dropping anything. */
static void
test_missing_media_offers_relink (void)
{
  g_autofree char *dir = g_build_filename (tmp_dir, "moved", NULL);
  g_autofree char *clip = g_build_filename (dir, "short.mp4", NULL);
  g_autofree char *path = g_build_filename (dir, "moved" SS_PROJECT_EXTENSION, NULL);
  g_autoptr(GError) error = NULL;
  g_autoptr(SsProject) project = ss_project_new ();
  SsDemoOptions opts;
  SsMedia info = { 0 };
  const char *media_id;
  SsWindow *window;
  GtkWindow *dialog;
  guint n_clips = 0;

  g_assert_cmpint (g_mkdir_with_parents (dir, 0755), ==, 0);
  ss_demo_options_init (&opts);
  opts.seconds = 1.0;
  g_assert_true (ss_demo_write_clip (clip, &opts, NULL, NULL, &error));
  g_assert_true (ss_media_probe (clip, &info, &error));
  media_id = ss_project_add_media (project, &info, &error);
  ss_media_clear (&info);
  g_assert_nonnull (media_id);
  g_assert_nonnull (ss_project_insert_media (project, media_id, 0, NULL, &error));
  g_assert_true (ss_project_save (project, path, &error));
  g_assert_no_error (error);
  g_assert_cmpint (g_unlink (clip), ==, 0);

  window = new_window ();
  g_assert_true (ss_window_load_project (window, path, &error));
  g_assert_no_error (error);
  for (guint i = 0; i < ss_project_get_n_tracks (ss_window_get_project (window)); i++)
    n_clips += ss_project_get_track (ss_window_get_project (window), i)->clips->len;
  g_assert_cmpuint (n_clips, ==, 2);
  g_assert_true (ss_project_get_media (ss_window_get_project (window), 0)->missing);
  g_assert_true (wait_for (has_toplevel, GSIZE_TO_POINTER (ADW_TYPE_MESSAGE_DIALOG), 10));
  dialog = find_toplevel (ADW_TYPE_MESSAGE_DIALOG);
  g_assert_nonnull (strstr (adw_message_dialog_get_body (ADW_MESSAGE_DIALOG (dialog)), "short.mp4"));
  adw_message_dialog_response (ADW_MESSAGE_DIALOG (dialog), "later");
  gtk_window_close (dialog);   /* as clicking a button does */
  g_assert_true (wait_for (no_message_dialog, NULL, 10));
  spin (0.2);
  gtk_window_destroy (GTK_WINDOW (window));
}

static GtkDropTarget *
find_file_drop_target (GtkWidget *widget)
{
  g_autoptr(GListModel) controllers = gtk_widget_observe_controllers (widget);

  for (guint i = 0; i < g_list_model_get_n_items (controllers); i++)
    {
      g_autoptr(GObject) c = g_list_model_get_item (controllers, i);
      if (GTK_IS_DROP_TARGET (c))
        {
          gsize n = 0;
          const GType *types = gtk_drop_target_get_gtypes (GTK_DROP_TARGET (c), &n);
          for (gsize k = 0; k < n; k++)
            if (types[k] == GDK_TYPE_FILE_LIST)
              return GTK_DROP_TARGET (c);
        }
    }
  for (GtkWidget *child = gtk_widget_get_first_child (widget); child != NULL;
       child = gtk_widget_get_next_sibling (child))
    {
      GtkDropTarget *t = find_file_drop_target (child);
      if (t != NULL)
        return t;
    }
  return NULL;
}

/* Dropping files on the window: media is imported, a project is opened. */
static void
test_drop_files (void)
{
  g_autofree char *clip = g_build_filename (tmp_dir, "dropped.mp4", NULL);
  g_autofree char *demo = demo_project_path ();
  g_autoptr(GError) error = NULL;
  SsDemoOptions opts;
  SsWindow *window = new_window ();
  GtkDropTarget *target = find_file_drop_target (GTK_WIDGET (window));
  gboolean accepted = FALSE;

  g_assert_nonnull (target);
  ss_demo_options_init (&opts);
  opts.seconds = 1.0;
  opts.seed = 3;
  g_assert_true (ss_demo_write_clip (clip, &opts, NULL, NULL, &error));

  {
    g_autoptr(GFile) file = g_file_new_for_path (clip);
    GFile *files[] = { file };
    g_auto(GValue) value = G_VALUE_INIT;
    g_value_init (&value, GDK_TYPE_FILE_LIST);
    g_value_take_boxed (&value, gdk_file_list_new_from_array (files, 1));
    g_signal_emit_by_name (target, "drop", &value, 10.0, 10.0, &accepted);
  }
  g_assert_true (accepted);
  g_assert_true (wait_for (imports_done, window, 20));
  g_assert_cmpuint (ss_project_get_n_media (ss_window_get_project (window)), ==, 1);
  g_assert_nonnull (strstr (ss_project_get_media (ss_window_get_project (window), 0)->path, "dropped.mp4"));

  /* Dropping a project asks about the unsaved import first; discarding opens it. */
  {
    g_autoptr(GFile) file = g_file_new_for_path (demo);
    g_auto(GValue) value = G_VALUE_INIT;
    GtkWindow *dialog;
    g_value_init (&value, G_TYPE_FILE);
    g_value_set_object (&value, file);
    g_signal_emit_by_name (target, "drop", &value, 10.0, 10.0, &accepted);
    g_assert_true (accepted);
    g_assert_true (wait_for (has_toplevel, GSIZE_TO_POINTER (ADW_TYPE_MESSAGE_DIALOG), 10));
    dialog = find_toplevel (ADW_TYPE_MESSAGE_DIALOG);
    /* the project is untouched while the question is open */
    g_assert_cmpuint (ss_project_get_n_media (ss_window_get_project (window)), ==, 1);
    adw_message_dialog_response (ADW_MESSAGE_DIALOG (dialog), "discard");
    gtk_window_close (dialog);   /* as clicking a button does */
    g_assert_true (wait_for (no_message_dialog, NULL, 10));
  spin (0.2);
  }
  g_assert_cmpstr (ss_project_get_path (ss_window_get_project (window)), ==, demo);
  g_assert_false (ss_project_get_dirty (ss_window_get_project (window)));
  gtk_window_destroy (GTK_WINDOW (window));
}

/* Closing with unsaved changes asks first: Cancel keeps the window and the
 * changes, Discard closes it and leaves nothing to recover. */
static void
test_close_confirmation (void)
{
  g_autofree char *demo = demo_project_path ();
  g_autofree char *recovery = NULL;
  g_autoptr(GError) error = NULL;
  SsWindow *window = new_window ();
  GtkWindow *dialog;
  const SsTrack *video;
  gpointer weak = window;

  g_object_add_weak_pointer (G_OBJECT (window), &weak);
  g_assert_true (ss_window_load_project (window, demo, &error));
  video = ss_project_get_video_track (ss_window_get_project (window));
  g_assert_nonnull (ss_project_split_clip (ss_window_get_project (window),
                                           ((SsClip *) g_ptr_array_index (video->clips, 0))->id,
                                           ss_time_from_seconds (1.0), &error));
  g_assert_true (ss_window_autosave_now (window, &error));
  recovery = ss_window_dup_recovery_path (window);
  g_assert_true (g_file_test (recovery, G_FILE_TEST_EXISTS));

  gtk_window_close (GTK_WINDOW (window));
  g_assert_true (wait_for (has_toplevel, GSIZE_TO_POINTER (ADW_TYPE_MESSAGE_DIALOG), 10));
  dialog = find_toplevel (ADW_TYPE_MESSAGE_DIALOG);
  adw_message_dialog_response (ADW_MESSAGE_DIALOG (dialog), "cancel");
  gtk_window_close (dialog);   /* as clicking a button does */
  g_assert_true (wait_for (no_message_dialog, NULL, 10));
  spin (0.2);
  spin (0.1);
  g_assert_nonnull (weak);
  g_assert_true (gtk_widget_get_visible (GTK_WIDGET (window)));
  g_assert_true (ss_project_get_dirty (ss_window_get_project (window)));

  gtk_window_close (GTK_WINDOW (window));
  g_assert_true (wait_for (has_toplevel, GSIZE_TO_POINTER (ADW_TYPE_MESSAGE_DIALOG), 10));
  dialog = find_toplevel (ADW_TYPE_MESSAGE_DIALOG);
  adw_message_dialog_response (ADW_MESSAGE_DIALOG (dialog), "discard");
  gtk_window_close (dialog);   /* as clicking a button does */
  g_assert_true (wait_for (no_message_dialog, NULL, 10));
  spin (0.2);
  spin (0.2);
  g_assert_null (weak);
  g_assert_false (g_file_test (recovery, G_FILE_TEST_EXISTS));
}

int
main (int argc, char *argv[])
{
  int ret;

  app = gui_test_start (&argc, &argv, "soundstage-gui-XXXXXX", &tmp_dir);

  g_test_add_func ("/gui/edit-play-save", test_edit_play_save);
  g_test_add_func ("/gui/recovery-offered", test_recovery_offered);
  g_test_add_func ("/gui/menu-windows", test_menu_windows);
  g_test_add_func ("/gui/missing-media-relink", test_missing_media_offers_relink);
  g_test_add_func ("/gui/drop-files", test_drop_files);
  g_test_add_func ("/gui/close-confirmation", test_close_confirmation);
  ret = g_test_run ();

  g_object_unref (app);
  return ret;
}
