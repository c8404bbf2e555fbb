/* test-timeline-widget.c: a timeline on a 200-clip project draws its clips at the
 * right places for a known zoom and scroll, and its split/delete/take actions go
 * through the project's undo stack. Runs under Xvfb (suite gui). */
#include <adwaita.h>

#include "ss-timeline.h"
#include "ss-viewer.h"
#include "ss-timeline-private.h"
#include "ss-test-media.h"

#include <glib/gstdio.h>
#include <math.h>

#define N_CLIPS    200
#define CLIP_S     1.0
#define PERIOD_S   1.5     /* clip + 0.5 s gap */
#define WIN_W      1200
#define WIN_H      320

typedef struct {
  GtkWidget  *window;
  SsTimeline *timeline;
  SsProject  *project;
  char       *audio_track;
  char       *dir, *wav;
  GPtrArray  *clip_ids;
  GPtrArray  *errors;
} Fixture;

static void
on_error (SsTimeline *tl, const char *message, Fixture *fx)
{
  g_ptr_array_add (fx->errors, g_strdup (message));
}

static void
spin_until_drawn (Fixture *fx)
{
  gint64 deadline = g_get_monotonic_time () + 10 * G_USEC_PER_SEC;
  while ((gtk_widget_get_width (GTK_WIDGET (fx->timeline)) < WIN_W - 20 ||
          !gtk_widget_get_mapped (GTK_WIDGET (fx->timeline))) &&
         g_get_monotonic_time () < deadline)
    g_main_context_iteration (NULL, TRUE);
  ss_test_spin (50);
}

static void
fixture_setup (Fixture *fx, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  fx->errors = g_ptr_array_new_with_free_func (g_free);
  fx->clip_ids = g_ptr_array_new_with_free_func (g_free);
  fx->dir = g_dir_make_tmp ("ss-timeline-XXXXXX", &error);
  fx->wav = g_build_filename (fx->dir, "tone.wav", NULL);
  g_assert_true (ss_test_make_tone (fx->wav, 2.0, 220, 0.6, &error));

  fx->project = ss_project_new ();
  const char *mid = ss_test_add_media (fx->project, fx->wav);
  for (guint i = 0; i < ss_project_get_n_tracks (fx->project); i++)
    if (ss_project_get_track (fx->project, i)->kind == SS_TRACK_AUDIO)
      {
        fx->audio_track = g_strdup (ss_project_get_track (fx->project, i)->id);
        break;
      }
  g_assert_nonnull (fx->audio_track);
  ss_project_begin_group (fx->project, "Fixture");
  for (int i = 0; i < N_CLIPS; i++)
    {
      const char *id = ss_project_add_clip (fx->project, fx->audio_track, mid,
                                            ss_time_from_seconds (i * PERIOD_S), 0,
                                            ss_time_from_seconds (CLIP_S), &error);
      g_assert_no_error (error);
      g_ptr_array_add (fx->clip_ids, g_strdup (id));
    }
  ss_project_end_group (fx->project);

  fx->window = gtk_window_new ();
  gtk_window_set_default_size (GTK_WINDOW (fx->window), WIN_W, WIN_H);
  fx->timeline = SS_TIMELINE (ss_timeline_new ());
  g_signal_connect (fx->timeline, "error", G_CALLBACK (on_error), fx);
  gtk_window_set_child (GTK_WINDOW (fx->window), GTK_WIDGET (fx->timeline));
  ss_timeline_set_project (fx->timeline, fx->project);
  gtk_window_present (GTK_WINDOW (fx->window));
  spin_until_drawn (fx);
}

static void
fixture_teardown (Fixture *fx, gconstpointer data)
{
  gtk_window_destroy (GTK_WINDOW (fx->window));
  ss_test_spin (20);
  g_clear_object (&fx->project);
  g_unlink (fx->wav);
  g_rmdir (fx->dir);
  g_free (fx->wav);
  g_free (fx->dir);
  g_free (fx->audio_track);
  g_ptr_array_unref (fx->clip_ids);
  g_ptr_array_unref (fx->errors);
}

typedef struct {
  int     width, height;
  gsize   stride;
  guint8 *data;   /* B8G8R8A8 premultiplied (GDK_MEMORY_DEFAULT) */
} Pixels;

static void
render (Fixture *fx, Pixels *px)
{
  GtkWidget *w = GTK_WIDGET (fx->timeline);
  px->width = gtk_widget_get_width (w);
  px->height = gtk_widget_get_height (w);
  g_autoptr(GdkPaintable) paintable = gtk_widget_paintable_new (w);
  GtkSnapshot *snapshot = gtk_snapshot_new ();
  gdk_paintable_snapshot (paintable, snapshot, px->width, px->height);
  g_autoptr(GskRenderNode) node = gtk_snapshot_free_to_node (snapshot);
  g_assert_nonnull (node);
  GskRenderer *renderer = gtk_native_get_renderer (gtk_widget_get_native (w));
  g_autoptr(GdkTexture) tex = gsk_renderer_render_texture (renderer, node,
                                                           &GRAPHENE_RECT_INIT (0, 0, px->width, px->height));
  px->stride = (gsize) px->width * 4;
  px->data = g_malloc (px->stride * px->height);
  gdk_texture_download (tex, px->data, px->stride);
}

static guint32
pixel (const Pixels *px, int x, int y)
{
  g_assert_cmpint (x, >=, 0);
  g_assert_cmpint (x, <, px->width);
  g_assert_cmpint (y, >=, 0);
  g_assert_cmpint (y, <, px->height);
  const guint8 *p = px->data + y * px->stride + x * 4;
  return ((guint32) p[2] << 16) | ((guint32) p[1] << 8) | p[0];
}

static gboolean
color_near (guint32 a, guint32 b)
{
  for (int s = 0; s <= 16; s += 8)
    if (abs ((int) ((a >> s) & 0xff) - (int) ((b >> s) & 0xff)) > 3)
      return FALSE;
  return TRUE;
}

/* Checks that the clips starting in view are drawn where zoom and scroll put them:
 * clip colour just right of each clip start, lane colour in the gap before it. */
static void
check_clips_at (Fixture *fx, double pps, double left_s)
{
  ss_timeline_set_zoom (fx->timeline, pps);
  ss_timeline_scroll_to (fx->timeline, ss_time_from_seconds (left_s));
  ss_test_spin (60);   /* let the scrollbars take the new range */
  Pixels px;
  render (fx, &px);

  /* Video track first, then the audio track; the title strip is at the top. */
  int y = SS_TIMELINE_RULER_H + SS_TIMELINE_VIDEO_TRACK_H + 2 + SS_TIMELINE_CLIP_TITLE_H / 2 + 2;
  g_assert_cmpfloat (ss_timeline_get_track_y (fx->timeline, 1), ==,
                     SS_TIMELINE_RULER_H + SS_TIMELINE_VIDEO_TRACK_H);
  int right = px.width - 20;
  int checked = 0;
  for (int i = 0; i < N_CLIPS; i++)
    {
      double x = SS_TIMELINE_HEADER_W + (i * PERIOD_S - left_s) * pps;
      double xe = x + CLIP_S * pps;
      if (x < SS_TIMELINE_HEADER_W + 10 || x + 6 >= right)
        continue;
      guint32 in = pixel (&px, (int) floor (x) + 3, y);
      guint32 before = pixel (&px, (int) floor (x) - 3, y);
      guint32 mid_gap = pixel (&px, (int) floor ((xe + x + PERIOD_S * pps) / 2), y);
      if (!color_near (in, SS_TIMELINE_COLOR_AUDIO_TITLE))
        g_error ("clip %d at x=%.1f: pixel %06x is not the clip colour %06x", i, x, in, SS_TIMELINE_COLOR_AUDIO_TITLE);
      if (!color_near (before, SS_TIMELINE_COLOR_LANE))
        g_error ("before clip %d at x=%.1f: pixel %06x is not the lane colour", i, x - 3, before);
      if ((xe + x + PERIOD_S * pps) / 2 < right && !color_near (mid_gap, SS_TIMELINE_COLOR_LANE))
        g_error ("gap after clip %d: pixel %06x is not the lane colour", i, mid_gap);
      checked++;
    }
  g_test_message ("zoom %.1f px/s from %.1f s: %d clip starts checked, %u clips drawn",
                  pps, left_s, checked, ss_timeline_get_last_drawn_clips (fx->timeline));
  g_assert_cmpint (checked, >=, 3);
  /* Only what is visible is drawn. */
  g_assert_cmpuint (ss_timeline_get_last_drawn_clips (fx->timeline), <=, (guint) checked + 3);
  g_free (px.data);
}

static void
test_draws_clips (Fixture *fx, gconstpointer data)
{
  check_clips_at (fx, 100, 0);      /* clips 0..6 */
  check_clips_at (fx, 100, 150);    /* clip 100 onwards */
  check_clips_at (fx, 37.5, 240);   /* near the end, another zoom */
}

static guint
n_clips (Fixture *fx)
{
  return ss_project_find_track (fx->project, fx->audio_track)->clips->len;
}

static void
test_actions_undo (Fixture *fx, gconstpointer data)
{
  GtkWidget *w = GTK_WIDGET (fx->timeline);
  g_autoptr(SsTransport) transport = ss_transport_new ();
  ss_transport_set_null_audio (transport, TRUE);
  ss_transport_set_project (transport, fx->project);
  ss_timeline_set_transport (fx->timeline, transport);

  /* Split the selected clip 3 (4.5 s .. 5.5 s) at the playhead. */
  const char *c3 = g_ptr_array_index (fx->clip_ids, 3);
  ss_timeline_set_selected_clip (fx->timeline, c3);
  ss_transport_seek (transport, ss_time_from_seconds (5.0));
  g_assert_cmpint (ss_timeline_get_playhead (fx->timeline), ==, ss_time_from_seconds (5.0));
  guint64 rev = ss_project_get_revision (fx->project);
  g_assert_true (gtk_widget_activate_action (w, "timeline.split", NULL));
  g_assert_cmpuint (n_clips (fx), ==, N_CLIPS + 1);
  g_assert_cmpint (ss_project_find_clip (fx->project, c3, NULL)->duration, ==, ss_time_from_seconds (0.5));
  g_assert_cmpuint (ss_project_get_revision (fx->project), >, rev);
  g_assert_true (ss_project_can_undo (fx->project));
  g_assert_true (ss_project_undo (fx->project));
  g_assert_cmpuint (n_clips (fx), ==, N_CLIPS);
  g_assert_cmpint (ss_project_find_clip (fx->project, c3, NULL)->duration, ==, ss_time_from_seconds (CLIP_S));

  /* With nothing selected, split cuts whatever is under the playhead. */
  ss_timeline_set_selected_clip (fx->timeline, NULL);
  ss_transport_seek (transport, ss_time_from_seconds (7.7));   /* inside clip 5 */
  gtk_widget_activate_action (w, "timeline.split", NULL);
  g_assert_cmpuint (n_clips (fx), ==, N_CLIPS + 1);
  g_assert_true (ss_project_undo (fx->project));
  /* In a gap there is nothing to split: an error for the user, no edit. */
  ss_transport_seek (transport, ss_time_from_seconds (1.25));
  rev = ss_project_get_revision (fx->project);
  gtk_widget_activate_action (w, "timeline.split", NULL);
  g_assert_cmpuint (ss_project_get_revision (fx->project), ==, rev);
  g_assert_cmpuint (fx->errors->len, ==, 1);

  /* Delete the selected clip; undo brings it back. */
  const char *c7 = g_ptr_array_index (fx->clip_ids, 7);
  ss_timeline_set_selected_clip (fx->timeline, c7);
  g_assert_true (gtk_widget_activate_action (w, "timeline.delete", NULL));
  g_assert_cmpuint (n_clips (fx), ==, N_CLIPS - 1);
  g_assert_null (ss_project_find_clip (fx->project, c7, NULL));
  g_assert_null (ss_timeline_get_selected_clip (fx->timeline));
  g_assert_cmpstr (ss_project_get_undo_label (fx->project), !=, NULL);
  g_assert_true (ss_project_undo (fx->project));
  g_assert_nonnull (ss_project_find_clip (fx->project, c7, NULL));
  g_assert_cmpuint (n_clips (fx), ==, N_CLIPS);

  /* Takes: T cycles the active take, one undo step each. */
  g_autoptr(GError) error = NULL;
  const SsClip *clip = ss_project_find_clip (fx->project, c7, NULL);
  const char *mid = ss_clip_get_active_take (clip)->media_id;
  g_assert_nonnull (ss_project_add_take (fx->project, c7, mid, ss_time_from_seconds (0.5), "Take 2", &error));
  g_assert_cmpuint (ss_project_find_clip (fx->project, c7, NULL)->active_take, ==, 1);
  ss_timeline_set_selected_clip (fx->timeline, c7);
  gtk_widget_activate_action (w, "timeline.next-take", NULL);
  g_assert_cmpuint (ss_project_find_clip (fx->project, c7, NULL)->active_take, ==, 0);
  gtk_widget_activate_action (w, "timeline.previous-take", NULL);
  g_assert_cmpuint (ss_project_find_clip (fx->project, c7, NULL)->active_take, ==, 1);
  g_assert_true (ss_project_undo (fx->project));
  g_assert_cmpuint (ss_project_find_clip (fx->project, c7, NULL)->active_take, ==, 0);

  /* A clip with one take: an error message, nothing changes. */
  ss_timeline_set_selected_clip (fx->timeline, g_ptr_array_index (fx->clip_ids, 9));
  rev = ss_project_get_revision (fx->project);
  gtk_widget_activate_action (w, "timeline.next-take", NULL);
  g_assert_cmpuint (ss_project_get_revision (fx->project), ==, rev);
  g_assert_cmpuint (fx->errors->len, ==, 2);

  /* Add an audio track. */
  guint nt = ss_project_get_n_tracks (fx->project);
  gtk_widget_activate_action (w, "timeline.add-audio-track", NULL);
  g_assert_cmpuint (ss_project_get_n_tracks (fx->project), ==, nt + 1);
  const char *added = ss_project_get_track (fx->project, nt)->id;
  g_assert_true (gtk_widget_activate_action (w, "timeline.remove-track", "s", added));
  g_assert_cmpuint (ss_project_get_n_tracks (fx->project), ==, nt);
  g_assert_true (ss_project_undo (fx->project));
  g_assert_cmpuint (ss_project_get_n_tracks (fx->project), ==, nt + 1);
  g_assert_true (ss_project_undo (fx->project));
  g_assert_cmpuint (ss_project_get_n_tracks (fx->project), ==, nt);
  /* Rename through the popover the action opens. */
  g_assert_true (gtk_widget_activate_action (w, "timeline.rename-track", "s", fx->audio_track));
  ss_test_spin (50);
  GtkWidget *popover = gtk_widget_get_last_child (w);
  g_assert_true (GTK_IS_POPOVER (popover));
  g_assert_true (gtk_widget_get_visible (popover));
  GtkWidget *entry = gtk_popover_get_child (GTK_POPOVER (popover));
  g_assert_cmpstr (gtk_editable_get_text (GTK_EDITABLE (entry)), ==,
                   ss_project_find_track (fx->project, fx->audio_track)->name);
  gtk_editable_set_text (GTK_EDITABLE (entry), "Footsteps");
  g_signal_emit_by_name (entry, "activate");
  g_assert_cmpstr (ss_project_find_track (fx->project, fx->audio_track)->name, ==, "Footsteps");
  g_assert_true (ss_project_undo (fx->project));
  ss_test_spin (50);

  /* The video track cannot go: the user is told, nothing changes. */
  guint n_err = fx->errors->len;
  gtk_widget_activate_action (w, "timeline.remove-track", "s", ss_project_get_track (fx->project, 0)->id);
  g_assert_cmpuint (fx->errors->len, ==, n_err + 1);
  g_assert_cmpuint (ss_project_get_n_tracks (fx->project), ==, nt);

  /* Zoom actions change the zoom around the playhead. */
  ss_timeline_set_zoom (fx->timeline, 100);
  gtk_widget_activate_action (w, "timeline.zoom-in", NULL);
  g_assert_cmpfloat (ss_timeline_get_zoom (fx->timeline), >, 100);
  gtk_widget_activate_action (w, "timeline.zoom-fit", NULL);
  double fit = ss_timeline_get_zoom (fx->timeline);
  double dur = ss_time_to_seconds (ss_project_get_duration (fx->project));
  g_assert_cmpfloat (dur * fit, <=, WIN_W - SS_TIMELINE_HEADER_W);
  g_assert_cmpfloat (dur * fit, >, (WIN_W - SS_TIMELINE_HEADER_W) * 0.8);

  ss_timeline_set_transport (fx->timeline, NULL);
}

static const SsClip *
clip_n (Fixture *fx, guint i)
{
  return ss_project_find_clip (fx->project, g_ptr_array_index (fx->clip_ids, i), NULL);
}

/* Pointer editing: drags move clips snapped to frames and to neighbours' edges,
 * edges trim, each as one undo step; a refused move is reported; the ruler seeks;
 * M mutes. */
static void
test_pointer_edits (Fixture *fx, gconstpointer data)
{
  const double pps = 100;
  ss_timeline_set_zoom (fx->timeline, pps);
  ss_timeline_scroll_to (fx->timeline, 0);
  ss_test_spin (30);
  double y = SS_TIMELINE_RULER_H + SS_TIMELINE_VIDEO_TRACK_H + SS_TIMELINE_AUDIO_TRACK_H / 2.0;
  /* clip 2: 3.0 .. 4.0 s; clip 3 starts at 4.5 s */
  double x2 = SS_TIMELINE_HEADER_W + 3.0 * pps;
  const SsTime frame = SS_TIME_SECOND / 25;

  /* Move by 0.23 s: lands on the nearest frame (3.24 s), one undo step. */
  guint64 rev = ss_project_get_revision (fx->project);
  ss_timeline_simulate_drag (fx->timeline, x2 + 50, y, 0.23 * pps, 0);
  g_assert_cmpstr (ss_timeline_get_selected_clip (fx->timeline), ==, clip_n (fx, 2)->id);
  g_assert_cmpint (clip_n (fx, 2)->start, ==, 81 * frame);
  g_assert_cmpint (clip_n (fx, 2)->start % frame, ==, 0);
  g_assert_true (ss_project_undo (fx->project));
  g_assert_cmpint (clip_n (fx, 2)->start, ==, ss_time_from_seconds (3.0));
  g_assert_cmpuint (ss_project_get_revision (fx->project), >, rev);

  /* Move by 0.46 s: the end comes within a few pixels of clip 3 and snaps to it. */
  ss_timeline_simulate_drag (fx->timeline, x2 + 50, y, 0.46 * pps, 0);
  g_assert_cmpint (clip_n (fx, 2)->start + clip_n (fx, 2)->duration, ==, clip_n (fx, 3)->start);
  g_assert_true (ss_project_undo (fx->project));

  /* Moving onto clip 3 is refused: an error for the user, nothing changes. */
  guint n_err = fx->errors->len;
  rev = ss_project_get_revision (fx->project);
  ss_timeline_simulate_drag (fx->timeline, x2 + 50, y, 1.0 * pps, 0);
  g_assert_cmpuint (fx->errors->len, ==, n_err + 1);
  g_assert_cmpuint (ss_project_get_revision (fx->project), ==, rev);
  g_assert_cmpint (clip_n (fx, 2)->start, ==, ss_time_from_seconds (3.0));

  /* A click without movement only selects. */
  ss_timeline_simulate_drag (fx->timeline, SS_TIMELINE_HEADER_W + 6.2 * pps, y, 0, 0);
  g_assert_cmpstr (ss_timeline_get_selected_clip (fx->timeline), ==, clip_n (fx, 4)->id);
  g_assert_cmpuint (ss_project_get_revision (fx->project), ==, rev);

  /* Trim the right edge of clip 2 back by 0.31 s: ends on the frame at 3.68 s. */
  ss_timeline_simulate_drag (fx->timeline, x2 + 1.0 * pps - 2, y, -0.31 * pps, 0);
  g_assert_cmpint (clip_n (fx, 2)->start, ==, ss_time_from_seconds (3.0));
  g_assert_cmpint (clip_n (fx, 2)->duration, ==, ss_time_from_seconds (0.68));
  /* Trim the left edge forward by 0.2 s: the source follows. */
  ss_timeline_simulate_drag (fx->timeline, x2 + 1, y, 0.2 * pps, 0);
  g_assert_cmpint (clip_n (fx, 2)->start, ==, ss_time_from_seconds (3.2));
  g_assert_cmpint (clip_n (fx, 2)->duration, ==, ss_time_from_seconds (0.48));
  g_assert_cmpint (ss_clip_get_active_take (clip_n (fx, 2))->source_in, ==, ss_time_from_seconds (0.2));
  g_assert_true (ss_project_undo (fx->project));
  g_assert_true (ss_project_undo (fx->project));
  g_assert_cmpint (clip_n (fx, 2)->duration, ==, ss_time_from_seconds (1.0));

  /* The ruler seeks (snapped to a frame) and scrubs. */
  ss_timeline_simulate_drag (fx->timeline, SS_TIMELINE_HEADER_W + 2.49 * pps, 10, 0, 0);
  g_assert_cmpint (ss_timeline_get_playhead (fx->timeline), ==, 62 * frame);
  ss_timeline_simulate_drag (fx->timeline, SS_TIMELINE_HEADER_W + 2.48 * pps, 10, 1.013 * pps, 0);
  g_assert_cmpint (ss_timeline_get_playhead (fx->timeline), ==, 87 * frame);

  /* A secondary click on a clip selects it and offers its edits. */
  GtkWidget *menu = ss_timeline_simulate_context_click (fx->timeline, SS_TIMELINE_HEADER_W + 9.2 * pps, y);
  ss_test_spin (50);
  g_assert_true (GTK_IS_POPOVER_MENU (menu));
  g_assert_true (gtk_widget_get_visible (menu));
  g_assert_cmpstr (ss_timeline_get_selected_clip (fx->timeline), ==, clip_n (fx, 6)->id);
  GMenuModel *model = gtk_popover_menu_get_menu_model (GTK_POPOVER_MENU (menu));
  g_assert_cmpint (g_menu_model_get_n_items (model), ==, 2);   /* split, delete */
  gtk_popover_popdown (GTK_POPOVER (menu));
  ss_test_spin (30);

  /* M in the audio track header mutes it (undoable). */
  double mx = SS_TIMELINE_HEADER_W - 2 * 22 - 10 + 5;
  double my = SS_TIMELINE_RULER_H + SS_TIMELINE_VIDEO_TRACK_H + 6 + 5;
  g_assert_false (ss_project_find_track (fx->project, fx->audio_track)->muted);
  ss_timeline_simulate_drag (fx->timeline, mx, my, 0, 0);
  g_assert_true (ss_project_find_track (fx->project, fx->audio_track)->muted);
  g_assert_true (ss_project_undo (fx->project));
  g_assert_false (ss_project_find_track (fx->project, fx->audio_track)->muted);
}

/* The viewer shows the transport's frame letterboxed, and a placeholder when the
 * project has no video. */
static void
test_viewer (void)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *dir = g_dir_make_tmp ("ss-viewer-XXXXXX", &error);
  g_autofree char *video = g_build_filename (dir, "v.mp4", NULL);
  g_assert_true (ss_test_make_video (video, 25, 25, &error));

  g_autoptr(SsProject) project = ss_project_new ();
  g_autoptr(SsTransport) transport = ss_transport_new ();
  ss_transport_set_null_audio (transport, TRUE);
  ss_transport_set_project (transport, project);

  GtkWidget *window = gtk_window_new ();
  gtk_window_set_default_size (GTK_WINDOW (window), 400, 200);
  GtkWidget *viewer = ss_viewer_new ();
  gtk_window_set_child (GTK_WINDOW (window), viewer);
  ss_viewer_set_transport (SS_VIEWER (viewer), transport);
  gtk_window_present (GTK_WINDOW (window));
  ss_test_spin (200);
  GtkWidget *placeholder = gtk_widget_get_first_child (viewer);
  g_assert_true (gtk_widget_get_visible (placeholder));

  const char *mid = ss_test_add_media (project, video);
  g_assert_nonnull (ss_project_insert_media (project, mid, 0, NULL, &error));
  ss_transport_seek (transport, ss_time_from_seconds (0.4));   /* frame 10 */
  gint64 deadline = g_get_monotonic_time () + 10 * G_USEC_PER_SEC;
  SsFrame *f = NULL;
  while (g_get_monotonic_time () < deadline)
    {
      ss_test_spin (20);
      f = ss_transport_dup_frame (transport);
      if (f != NULL && f->index == 10)
        break;
      g_clear_pointer (&f, ss_frame_unref);
    }
  g_assert_nonnull (f);
  ss_frame_unref (f);
  ss_test_spin (50);
  g_assert_false (gtk_widget_get_visible (placeholder));

  int w = gtk_widget_get_width (viewer), h = gtk_widget_get_height (viewer);
  g_autoptr(GdkPaintable) paintable = gtk_widget_paintable_new (viewer);
  GtkSnapshot *snapshot = gtk_snapshot_new ();
  gdk_paintable_snapshot (paintable, snapshot, w, h);
  g_autoptr(GskRenderNode) node = gtk_snapshot_free_to_node (snapshot);
  GskRenderer *renderer = gtk_native_get_renderer (GTK_NATIVE (window));
  g_autoptr(GdkTexture) tex = gsk_renderer_render_texture (renderer, node, &GRAPHENE_RECT_INIT (0, 0, w, h));
  Pixels px = { w, h, (gsize) w * 4, g_malloc ((gsize) w * 4 * h) };
  gdk_texture_download (tex, px.data, px.stride);

  /* 64x48 in the widget: full height, bars left and right. */
  double dw = 64.0 * MIN ((double) w / 64, (double) h / 48);
  guint32 centre = pixel (&px, w / 2, h / 2);
  g_assert_cmpint (abs ((int) (centre >> 16) - SS_TEST_FRAME_RED (10)), <=, 3);
  g_assert_cmphex (pixel (&px, (int) ((w - dw) / 2) - 4, h / 2), ==, 0x000000);
  g_assert_cmphex (pixel (&px, (int) ((w + dw) / 2) + 4, h / 2), ==, 0x000000);
  g_assert_cmphex (pixel (&px, (int) ((w - dw) / 2) + 4, h / 2), !=, 0x000000);
  g_free (px.data);

  gtk_window_destroy (GTK_WINDOW (window));
  ss_test_spin (20);
  g_unlink (video);
  g_rmdir (dir);
}

/* Waits until the timeline holds thumbnails of @mid @height pixels high, redrawing
 * meanwhile (drawing is what requests them). */
static int
wait_for_thumbnails (SsTimeline *tl, const char *mid, int height)
{
  gint64 deadline = g_get_monotonic_time () + 20 * G_USEC_PER_SEC;
  int h = 0;
  while (g_get_monotonic_time () < deadline)
    {
      gtk_widget_queue_draw (GTK_WIDGET (tl));
      ss_test_spin (20);
      h = ss_timeline_get_cached_thumbnail_height (tl, mid);
      if (h == height)
        break;
    }
  return h;
}

/* The "thumbnail-height" preference: the video clip's thumbnails are computed again
 * at the new height and the video row grows to show them. */
static void
test_thumbnail_height (void)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *dir = g_dir_make_tmp ("ss-thumbs-XXXXXX", &error);
  g_autofree char *video = g_build_filename (dir, "v.mp4", NULL);
  g_assert_true (ss_test_make_video (video, 50, 25, &error));

  g_autoptr(SsProject) project = ss_project_new ();
  const char *mid = ss_test_add_media (project, video);
  g_assert_nonnull (ss_project_insert_media (project, mid, 0, NULL, &error));
  g_assert_no_error (error);
  g_assert_cmpint (ss_project_get_track (project, 0)->kind, ==, SS_TRACK_VIDEO);

  GtkWidget *window = gtk_window_new ();
  gtk_window_set_default_size (GTK_WINDOW (window), WIN_W, 500);
  SsTimeline *tl = SS_TIMELINE (ss_timeline_new ());
  gtk_window_set_child (GTK_WINDOW (window), GTK_WIDGET (tl));
  ss_timeline_set_project (tl, project);
  gtk_window_present (GTK_WINDOW (window));
  ss_test_spin (100);

  guint h0 = 0;
  g_object_get (tl, "thumbnail-height", &h0, NULL);
  g_assert_cmpuint (h0, ==, 48);
  g_assert_cmpint (wait_for_thumbnails (tl, mid, 48), ==, 48);
  double row0 = ss_timeline_get_track_y (tl, 1) - ss_timeline_get_track_y (tl, 0);
  g_assert_cmpfloat (row0, ==, SS_TIMELINE_VIDEO_TRACK_H);

  /* Taller: recomputed at 120 px, the row grows by the same amount. */
  g_object_set (tl, "thumbnail-height", 120u, NULL);
  g_assert_cmpuint (ss_timeline_get_thumbnail_height (tl), ==, 120);
  g_assert_cmpint (ss_timeline_get_cached_thumbnail_height (tl, mid), ==, 0);   /* old strip dropped */
  g_assert_cmpint (wait_for_thumbnails (tl, mid, 120), ==, 120);
  double row1 = ss_timeline_get_track_y (tl, 1) - ss_timeline_get_track_y (tl, 0);
  g_assert_cmpfloat (row1, ==, SS_TIMELINE_VIDEO_TRACK_H + (120 - 48));
  /* The audio row keeps its height. */
  if (ss_project_get_n_tracks (project) > 2)
    g_assert_cmpfloat (ss_timeline_get_track_y (tl, 2) - ss_timeline_get_track_y (tl, 1), ==,
                       SS_TIMELINE_AUDIO_TRACK_H);

  /* Smaller than the default: thumbnails at 24 px, the row back to its minimum. */
  g_object_set (tl, "thumbnail-height", 24u, NULL);
  g_assert_cmpint (wait_for_thumbnails (tl, mid, 24), ==, 24);
  g_assert_cmpfloat (ss_timeline_get_track_y (tl, 1) - ss_timeline_get_track_y (tl, 0), ==,
                     SS_TIMELINE_VIDEO_TRACK_H);

  gtk_window_destroy (GTK_WINDOW (window));
  ss_test_spin (50);
  g_unlink (video);
  g_rmdir (dir);
}

int
main (int argc, char **argv)
{
  g_setenv ("GSK_RENDERER", "cairo", FALSE);
  g_setenv ("SOUNDSTAGE_AUDIO", "null", TRUE);
  g_test_init (&argc, &argv, NULL);
  if (!gtk_init_check ())
    {
      g_test_skip ("no display");
      return 77;
    }
  adw_init ();
  g_test_add ("/timeline/draws-clips", Fixture, NULL, fixture_setup, test_draws_clips, fixture_teardown);
  g_test_add ("/timeline/actions-undo", Fixture, NULL, fixture_setup, test_actions_undo, fixture_teardown);
  g_test_add_func ("/viewer/letterboxed-frame", test_viewer);
  g_test_add ("/timeline/pointer-edits", Fixture, NULL, fixture_setup, test_pointer_edits, fixture_teardown);
  g_test_add_func ("/timeline/thumbnail-height", test_thumbnail_height);
  return g_test_run ();
}
