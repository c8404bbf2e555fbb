/* test-syncui-gui.c: Check Sync in the real editor window under Xvfb: a
 * project whose audio is shifted, the check as a job, the panel's plot and
 * numbers, Apply as one undoable edit, cancel, and errors as toasts. */
#define G_LOG_DOMAIN "test-syncui"

#include "config.h"

#include <math.h>
#include <string.h>
#include <glib/gstdio.h>
#include <gtk/gtk.h>

#include "jobs/ss-job.h"
#include "media/ss-media.h"
#include "models/sync/ss-sync.h"
#include "project/ss-project.h"
#include "ss-application.h"
#include "ss-sync-panel.h"
#include "ss-window.h"
#include "syncui-clip.h"
#include "ss-gui-test-util.h"

static char *tmp_dir;
static SsApplication *app;

static gboolean
panel_idle (gpointer data)
{
  return ss_sync_panel_get_job (SS_SYNC_PANEL (data)) == NULL;
}

static gboolean
panel_shown (gpointer data)
{
  GtkWidget *parent = gtk_widget_get_parent (GTK_WIDGET (data));

  return gtk_widget_get_mapped (GTK_WIDGET (data)) && GTK_IS_REVEALER (parent) &&
         gtk_revealer_get_child_revealed (GTK_REVEALER (parent));
}

/* Renders @widget as it is on screen into a PNG. */
static void
save_screenshot (GtkWidget *widget, const char *path)
{
  g_autoptr(GdkPaintable) paintable = gtk_widget_paintable_new (widget);
  GskRenderer *renderer = gtk_native_get_renderer (gtk_widget_get_native (widget));
  g_autoptr(GskRenderNode) node = NULL;
  g_autoptr(GdkTexture) texture = NULL;
  int w = 0, h = 0;

  for (int tries = 0; tries < 100 && node == NULL; tries++)
    {
      GtkSnapshot *snapshot = gtk_snapshot_new ();
      w = gtk_widget_get_width (widget);
      h = gtk_widget_get_height (widget);
      if (w > 0 && h > 0)
        {
          /* the window's background, as on screen */
          gtk_snapshot_append_color (snapshot, &(GdkRGBA) { 0.98f, 0.98f, 0.98f, 1 },
                                     &GRAPHENE_RECT_INIT (0, 0, (float) w, (float) h));
          gdk_paintable_snapshot (paintable, snapshot, w, h);
        }
      node = gtk_snapshot_free_to_node (snapshot);
      if (node == NULL)
        spin (0.05);
    }
  g_assert_nonnull (node);
  texture = gsk_renderer_render_texture (renderer, node, &GRAPHENE_RECT_INIT (0, 0, (float) w, (float) h));
  g_assert_true (gdk_texture_save_to_png (texture, path));
}

/* The accent blue of the highlighted bar is in the screenshot. */
static void
check_screenshot_has_plot (const char *path)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GdkTexture) texture = gdk_texture_new_from_filename (path, &error);
  g_autofree guint8 *pixels = NULL;
  int w, h, blue = 0;
  gsize stride;

  g_assert_no_error (error);
  w = gdk_texture_get_width (texture);
  h = gdk_texture_get_height (texture);
  g_assert_cmpint (w, >=, 250);
  g_assert_cmpint (h, >=, 300);
  stride = (gsize) w * 4;
  pixels = g_malloc (stride * h);
  gdk_texture_download (texture, pixels, stride);
  for (int y = 0; y < h; y++)
    for (int x = 0; x < w; x++)
      {
        /* GDK_MEMORY_DEFAULT: B G R A in memory on little-endian */
        const guint8 *p = pixels + y * stride + x * 4;
        if (abs (p[2] - 0x35) < 12 && abs (p[1] - 0x84) < 12 && abs (p[0] - 0xe4) < 12)
          blue++;
      }
  g_test_message ("%s: %dx%d, %d accent pixels", path, w, h, blue);
  g_assert_cmpint (blue, >, 40);
}

/* A project with one clip (picture + sound of the same file). */
static char *
make_project (const char *name, guint64 seed, double offset, char **media_path)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *clip_name = g_strconcat (name, ".mp4", NULL);
  g_autofree char *clip = g_build_filename (tmp_dir, clip_name, NULL);
  g_autofree char *proj_name = g_strconcat (name, SS_PROJECT_EXTENSION, NULL);
  char *project_path = g_build_filename (tmp_dir, proj_name, NULL);
  g_autoptr(SsProject) project = ss_project_new ();
  SsMedia info = { 0 };
  const char *media_id;
  SyncuiClip c;

  syncui_clip_init (&c);
  c.seed = seed;
  c.offset = offset;
  c.seconds = 8.0;
  g_assert_true (syncui_clip_write (&c, clip, &error));
  g_assert_no_error (error);
  g_assert_true (ss_media_probe (clip, &info, &error));
  media_id = ss_project_add_media (project, &info, &error);
  g_assert_no_error (error);
  g_assert_nonnull (ss_project_insert_media (project, media_id, 0, NULL, &error));
  g_assert_no_error (error);
  g_assert_true (ss_project_save (project, project_path, &error));
  g_assert_no_error (error);
  ss_media_clear (&info);
  if (media_path != NULL)
    *media_path = g_steal_pointer (&clip);
  return project_path;
}

static const SsClip *
first_clip (SsProject *project, SsTrackKind kind)
{
  for (guint i = 0; i < ss_project_get_n_tracks (project); i++)
    {
      const SsTrack *t = ss_project_get_track (project, i);
      if (t->kind == kind && t->clips->len > 0)
        return g_ptr_array_index (t->clips, 0);
    }
  return NULL;
}

static SsJob *
newest_job (void)
{
  GListModel *jobs = G_LIST_MODEL (ss_job_manager_get_default ());
  guint n = g_list_model_get_n_items (jobs);

  return n > 0 ? g_list_model_get_item (jobs, n - 1) : NULL;
}

static void
check_and_wait (SsWindow *window, SsSyncPanel *panel)
{
  g_autoptr(SsJob) job = NULL;

  g_action_group_activate_action (G_ACTION_GROUP (window), "check-sync", NULL);
  g_assert_nonnull (ss_sync_panel_get_job (panel));
  /* the check is in the jobs popover's list */
  job = newest_job ();
  g_assert_true (job == ss_sync_panel_get_job (panel));
  g_assert_true (wait_for (panel_idle, panel, 60));
  g_assert_cmpint (ss_job_get_state (job), ==, SS_JOB_SUCCEEDED);
}

static void
test_check_apply_undo (void)
{
  const double offset = 0.6;   /* the audio leads: Apply must delay it */
  g_autofree char *project_path = make_project ("leads", 7, offset, NULL);
  g_autofree char *shot = g_build_filename (SS_BUILD_DIR, "syncui-panel.png", NULL);
  g_autofree char *window_shot = g_build_filename (SS_BUILD_DIR, "syncui-window.png", NULL);
  g_autoptr(GError) error = NULL;
  SsWindow *window = ss_window_new (app);
  SsSyncPanel *panel = SS_SYNC_PANEL (ss_window_get_sync_panel (window));
  SsProject *project;
  const SsSyncResult *r;
  const SsClip *audio, *video;
  g_autofree char *audio_id = NULL;
  SsTime video_start, moved;
  guint64 revision;
  int expected = ss_sync_offset_class (offset);

  gtk_window_present (GTK_WINDOW (window));
  g_assert_true (wait_for (window_mapped, window, 10));
  g_assert_true (ss_window_load_project (window, project_path, &error));
  g_assert_no_error (error);
  project = ss_window_get_project (window);
  audio = first_clip (project, SS_TRACK_AUDIO);
  video = first_clip (project, SS_TRACK_VIDEO);
  g_assert_nonnull (audio);
  g_assert_nonnull (video);
  audio_id = g_strdup (audio->id);
  video_start = video->start;
  g_assert_cmpint (audio->start, ==, 0);
  revision = ss_project_get_revision (project);

  /* Ctrl+Shift+Y is bound to it */
  {
    g_auto(GStrv) accels = gtk_application_get_accels_for_action (GTK_APPLICATION (app), "win.check-sync");
    guint key = 0;
    GdkModifierType mods = 0;
    g_assert_nonnull (accels);
    g_assert_nonnull (accels[0]);
    g_assert_true (gtk_accelerator_parse (accels[0], &key, &mods));
    g_assert_cmpuint (gdk_keyval_to_lower (key), ==, GDK_KEY_y);
    g_assert_cmpuint (mods, ==, GDK_CONTROL_MASK | GDK_SHIFT_MASK);
  }

  check_and_wait (window, panel);
  g_assert_true (wait_for (panel_shown, panel, 5));
  r = ss_sync_panel_get_result (panel);
  g_assert_nonnull (r);
  g_test_message ("panel: offset %+.3f s, class %d (expected %d), method %s",
                  r->offset, r->class_index, expected, ss_sync_method_to_string (r->method));
  g_assert_cmpint (r->method, ==, SS_SYNC_METHOD_SP);     /* no model installed here */
  g_assert_cmpint (abs (ss_sync_panel_get_shown_class (panel) - expected), <=, 1);
  g_assert_cmpint (ss_sync_panel_get_shown_class (panel), ==, r->class_index);
  g_assert_cmpint (ss_sync_panel_get_n_time_points (panel), >=, 2);   /* 8 s: offset over time */
  /* checking changes nothing */
  g_assert_cmpuint (ss_project_get_revision (project), ==, revision);
  g_assert_true (ss_sync_panel_can_apply (panel));

  spin (0.3);
  {
    /* the whole content of the panel, also what is scrolled out of view */
    GtkWidget *scrolled = gtk_widget_get_last_child (GTK_WIDGET (panel));
    GtkWidget *viewport = gtk_scrolled_window_get_child (GTK_SCROLLED_WINDOW (scrolled));
    GtkWidget *content = gtk_viewport_get_child (GTK_VIEWPORT (viewport));
    save_screenshot (content, shot);
  }
  check_screenshot_has_plot (shot);
  save_screenshot (GTK_WIDGET (window), window_shot);

  /* Apply: the audio clip moves later by the offset, the picture stays */
  g_assert_true (gtk_widget_activate_action (GTK_WIDGET (panel), "sync.apply", NULL));
  audio = ss_project_find_clip (project, audio_id, NULL);
  moved = audio->start;
  g_test_message ("audio moved to %.3f s", ss_time_to_seconds (moved));
  g_assert_cmpint (llabs (moved - (SsTime) llround (r->offset * 1000.0) * SS_TIME_MS), <=, SS_TIME_MS);
  g_assert_cmpint (moved, >, 0);
  g_assert_cmpint (ss_project_find_clip (project, video->id, NULL)->start, ==, video_start);
  g_assert_cmpstr (ss_project_get_undo_label (project), ==, "Apply Sync Offset");
  g_assert_false (ss_sync_panel_can_apply (panel));   /* applied: not twice */

  /* one Undo puts the audio back */
  g_action_group_activate_action (G_ACTION_GROUP (window), "undo", NULL);
  audio = ss_project_find_clip (project, audio_id, NULL);
  g_assert_cmpint (audio->start, ==, 0);
  g_assert_true (ss_sync_panel_can_apply (panel));

  /* Redo, then the clip is where Apply put it */
  g_action_group_activate_action (G_ACTION_GROUP (window), "redo", NULL);
  g_assert_cmpint (ss_project_find_clip (project, audio_id, NULL)->start, ==, moved);
  g_action_group_activate_action (G_ACTION_GROUP (window), "undo", NULL);

  /* the Method menu: "Sync model" with none installed fails with a message
   * that says why and keeps nothing; "Signal processing" runs the estimate */
  g_assert_cmpint (ss_sync_panel_get_method (panel), ==, SS_SYNC_METHOD_AUTO);
  ss_sync_panel_set_method (panel, SS_SYNC_METHOD_MODEL);
  revision = ss_project_get_revision (project);
  g_action_group_activate_action (G_ACTION_GROUP (window), "check-sync", NULL);
  g_assert_nonnull (ss_sync_panel_get_job (panel));
  g_assert_true (wait_for (panel_idle, panel, 60));
  g_test_message ("toast: %s", ss_window_get_last_toast (window));
  g_assert_nonnull (strstr (ss_window_get_last_toast (window), "sync model"));
  g_assert_null (ss_sync_panel_get_result (panel));
  g_assert_cmpuint (ss_project_get_revision (project), ==, revision);
  ss_sync_panel_set_method (panel, SS_SYNC_METHOD_SP);
  g_action_group_activate_action (G_ACTION_GROUP (window), "check-sync", NULL);
  g_assert_true (wait_for (panel_idle, panel, 60));
  g_assert_nonnull (ss_sync_panel_get_result (panel));
  g_assert_cmpint (ss_sync_panel_get_result (panel)->method, ==, SS_SYNC_METHOD_SP);
  g_assert_null (ss_sync_panel_get_result (panel)->note);   /* asked for: nothing to explain */

  /* the choice is kept in the settings and a new window starts with it */
  GSettings *settings = ss_application_get_settings (app);
  g_autofree char *kept = g_settings_get_string (settings, "sync-method");
  g_assert_cmpstr (kept, ==, "sp");
  SsWindow *second = ss_window_new (app);
  g_assert_cmpint (ss_sync_panel_get_method (SS_SYNC_PANEL (ss_window_get_sync_panel (second))), ==,
                   SS_SYNC_METHOD_SP);
  g_settings_set_string (settings, "sync-method", "model");
  g_assert_cmpint (ss_sync_panel_get_method (panel), ==, SS_SYNC_METHOD_MODEL);
  gtk_window_destroy (GTK_WINDOW (second));
  ss_sync_panel_set_method (panel, SS_SYNC_METHOD_AUTO);
  g_autofree char *back = g_settings_get_string (settings, "sync-method");
  g_assert_cmpstr (back, ==, "auto");

  gtk_window_destroy (GTK_WINDOW (window));
}

/* Audio that lags: Apply moves it earlier; the head before 0 is cut off, and
 * Undo restores the clip exactly. */
static void
test_apply_earlier (void)
{
  const double offset = -0.8;
  g_autofree char *project_path = make_project ("lags", 8, offset, NULL);
  g_autoptr(GError) error = NULL;
  SsWindow *window = ss_window_new (app);
  SsSyncPanel *panel = SS_SYNC_PANEL (ss_window_get_sync_panel (window));
  SsProject *project;
  const SsClip *audio;
  const SsTake *take;
  g_autofree char *audio_id = NULL;
  SsTime duration, delta;
  const SsSyncResult *r;

  gtk_window_present (GTK_WINDOW (window));
  g_assert_true (wait_for (window_mapped, window, 10));
  g_assert_true (ss_window_load_project (window, project_path, &error));
  project = ss_window_get_project (window);
  audio = first_clip (project, SS_TRACK_AUDIO);
  audio_id = g_strdup (audio->id);
  duration = audio->duration;

  check_and_wait (window, panel);
  r = ss_sync_panel_get_result (panel);
  g_test_message ("offset %+.3f s, class %d", r->offset, r->class_index);
  g_assert_cmpint (abs (r->class_index - ss_sync_offset_class (offset)), <=, 1);
  delta = (SsTime) llround (r->offset * 1000.0) * SS_TIME_MS;
  g_assert_cmpint (delta, <, 0);

  g_assert_true (gtk_widget_activate_action (GTK_WIDGET (panel), "sync.apply", NULL));
  audio = ss_project_find_clip (project, audio_id, NULL);
  take = ss_clip_get_active_take (audio);
  g_assert_cmpint (audio->start, ==, 0);
  g_assert_cmpint (take->source_in, ==, -delta);
  g_assert_cmpint (audio->duration, ==, duration + delta);

  g_action_group_activate_action (G_ACTION_GROUP (window), "undo", NULL);
  audio = ss_project_find_clip (project, audio_id, NULL);
  g_assert_cmpint (audio->start, ==, 0);
  g_assert_cmpint (ss_clip_get_active_take (audio)->source_in, ==, 0);
  g_assert_cmpint (audio->duration, ==, duration);
  g_assert_false (ss_project_can_undo (project));   /* one step, all undone */
  gtk_window_destroy (GTK_WINDOW (window));
}

/* Cancel leaves the document as it was; errors come as toasts. */
static void
test_cancel_and_errors (void)
{
  g_autofree char *media = NULL;
  g_autofree char *project_path = make_project ("cancel", 7, 0.4, &media);
  g_autoptr(GError) error = NULL;
  SsWindow *window = ss_window_new (app);
  SsSyncPanel *panel = SS_SYNC_PANEL (ss_window_get_sync_panel (window));
  g_autoptr(SsJob) job = NULL;
  SsProject *project;
  const SsClip *audio;
  guint64 revision;

  gtk_window_present (GTK_WINDOW (window));
  g_assert_true (wait_for (window_mapped, window, 10));
  g_assert_true (ss_window_load_project (window, project_path, &error));
  project = ss_window_get_project (window);
  revision = ss_project_get_revision (project);

  g_action_group_activate_action (G_ACTION_GROUP (window), "check-sync", NULL);
  job = g_object_ref (ss_sync_panel_get_job (panel));
  g_assert_true (gtk_widget_activate_action (GTK_WIDGET (panel), "sync.cancel", NULL));
  g_assert_true (wait_for (panel_idle, panel, 30));
  g_assert_cmpint (ss_job_get_state (job), ==, SS_JOB_CANCELLED);
  g_assert_null (ss_sync_panel_get_result (panel));
  g_assert_false (ss_sync_panel_can_apply (panel));
  g_assert_cmpuint (ss_project_get_revision (project), ==, revision);
  g_assert_false (ss_project_can_undo (project));

  /* a video clip with no sound next to it */
  audio = first_clip (project, SS_TRACK_AUDIO);
  g_assert_true (ss_project_delete_clip (project, audio->id, &error));
  revision = ss_project_get_revision (project);
  g_action_group_activate_action (G_ACTION_GROUP (window), "check-sync", NULL);
  g_assert_null (ss_sync_panel_get_job (panel));
  g_assert_nonnull (strstr (ss_window_get_last_toast (window), "no sound"));
  g_assert_nonnull (strstr (ss_window_get_last_toast (window), "cancel.mp4"));
  g_assert_cmpuint (ss_project_get_revision (project), ==, revision);

  /* the media file vanished after the project was opened: the job fails, a
   * toast says why, the document stays as it was */
  g_action_group_activate_action (G_ACTION_GROUP (window), "undo", NULL);
  revision = ss_project_get_revision (project);
  g_assert_cmpint (g_unlink (media), ==, 0);
  g_action_group_activate_action (G_ACTION_GROUP (window), "check-sync", NULL);
  g_assert_nonnull (ss_sync_panel_get_job (panel));
  g_assert_true (wait_for (panel_idle, panel, 30));
  g_test_message ("toast: %s", ss_window_get_last_toast (window));
  g_assert_nonnull (strstr (ss_window_get_last_toast (window), "Could not check sync"));
  g_assert_nonnull (strstr (ss_window_get_last_toast (window), "cancel.mp4"));
  g_assert_null (ss_sync_panel_get_result (panel));
  g_assert_cmpuint (ss_project_get_revision (project), ==, revision);

  /* nothing to check in an empty project */
  {
    g_autoptr(SsProject) empty = ss_project_new ();
    ss_window_set_project (window, empty);
  }
  g_assert_false (g_action_group_get_action_enabled (G_ACTION_GROUP (window), "check-sync"));
  gtk_window_destroy (GTK_WINDOW (window));
}

int
main (int argc, char *argv[])
{
  int ret;

  /* no sync model; set before the application starts, as the others are */
  g_setenv ("SOUNDSTAGE_SYNC_MODEL", "none", TRUE);
  app = gui_test_start (&argc, &argv, "soundstage-syncui-gui-XXXXXX", &tmp_dir);

  g_test_add_func ("/syncui/gui/check-apply-undo", test_check_apply_undo);
  g_test_add_func ("/syncui/gui/apply-earlier", test_apply_earlier);
  g_test_add_func ("/syncui/gui/cancel-and-errors", test_cancel_and_errors);
  ret = g_test_run ();

  g_object_unref (app);
  return ret;
}
