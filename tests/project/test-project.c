/* test-project.c: the timeline document, undo/redo, JSON, atomic save, recovery. */
#include "project/ss-project.h"

#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>
#include <utime.h>
#include <glib/gstdio.h>

#define SEC SS_TIME_SECOND

static char *state_dir;

/* ---- helpers ---- */

typedef struct {
  char *dir;
} Tmp;

static char *
make_tmp_dir (void)
{
  g_autoptr(GError) error = NULL;
  char *dir = g_dir_make_tmp ("ss-project-XXXXXX", &error);
  g_assert_no_error (error);
  return dir;
}

static void
rm_rf (const char *path)
{
  if (g_file_test (path, G_FILE_TEST_IS_DIR) && !g_file_test (path, G_FILE_TEST_IS_SYMLINK))
    {
      chmod (path, 0755);
      GDir *d = g_dir_open (path, 0, NULL);
      const char *name;
      while (d && (name = g_dir_read_name (d)))
        {
          g_autofree char *child = g_build_filename (path, name, NULL);
          rm_rf (child);
        }
      if (d)
        g_dir_close (d);
      g_rmdir (path);
    }
  else
    g_unlink (path);
}

static void
touch (const char *path)
{
  g_autofree char *dir = g_path_get_dirname (path);
  g_mkdir_with_parents (dir, 0755);
  g_assert_true (g_file_set_contents (path, "media", -1, NULL));
}

/* Media info as ss_media_probe would fill it. */
static SsMedia
media_info (const char *path, gboolean video, gboolean audio, SsTime duration)
{
  SsMedia m = { 0 };
  m.path = (char *) path;
  m.has_video = video;
  m.has_audio = audio;
  m.duration = duration;
  if (video)
    {
      m.width = 320;
      m.height = 240;
      m.fps_num = 30;
      m.fps_den = 1;
    }
  if (audio)
    {
      m.sample_rate = 48000;
      m.channels = 2;
    }
  return m;
}

static char *
add_media (SsProject *p, const char *path, gboolean video, gboolean audio, SsTime duration)
{
  SsMedia info = media_info (path, video, audio, duration);
  g_autoptr(GError) error = NULL;
  const char *id = ss_project_add_media (p, &info, &error);
  g_assert_no_error (error);
  g_assert_nonnull (id);
  return g_strdup (id);
}

static const char *
audio_track_id (SsProject *p, guint n)
{
  guint seen = 0;
  for (guint i = 0; i < ss_project_get_n_tracks (p); i++)
    {
      const SsTrack *t = ss_project_get_track (p, i);
      if (t->kind == SS_TRACK_AUDIO && seen++ == n)
        return g_intern_string (t->id);   /* stays valid across edits */
    }
  return NULL;
}

static char *
json (SsProject *p)
{
  return ss_project_to_json_for_dir (p, "/base", NULL);
}

/* A small project with a bit of everything. */
typedef struct {
  SsProject *p;
  char *dir;
  char *video_media, *audio_media, *fx_media;
  char *video_clip, *audio_clip, *fx_clip;
} Fixture;

static void
fixture_setup (Fixture *f, gconstpointer data)
{
  f->dir = make_tmp_dir ();
  g_autofree char *v = g_build_filename (f->dir, "media", "shot.mp4", NULL);
  g_autofree char *a = g_build_filename (f->dir, "media", "dialog.wav", NULL);
  g_autofree char *x = g_build_filename (f->dir, "fx", "steps.wav", NULL);
  touch (v);
  touch (a);
  touch (x);
  f->p = ss_project_new ();
  f->video_media = add_media (f->p, v, TRUE, TRUE, 10 * SEC);
  f->audio_media = add_media (f->p, a, FALSE, TRUE, 20 * SEC);
  f->fx_media = add_media (f->p, x, FALSE, TRUE, 3 * SEC);
  g_autoptr(GError) error = NULL;
  f->video_clip = g_strdup (ss_project_insert_media (f->p, f->video_media, 0, NULL, &error));
  g_assert_no_error (error);
  const SsTrack *t = NULL;
  g_assert_nonnull (ss_project_find_clip (f->p, f->video_clip, &t));
  g_assert_cmpint (t->kind, ==, SS_TRACK_VIDEO);
  const char *fx_track = g_intern_string (ss_project_add_track (f->p, SS_TRACK_AUDIO, "Foley", &error));
  g_assert_no_error (error);
  f->fx_clip = g_strdup (ss_project_add_clip (f->p, fx_track, f->fx_media, 2 * SEC, 0, 3 * SEC, &error));
  g_assert_no_error (error);
  f->audio_clip = g_strdup (ss_project_add_clip (f->p, audio_track_id (f->p, 0), f->audio_media, 12 * SEC, SEC, 5 * SEC, &error));
  g_assert_no_error (error);
}

static void
fixture_teardown (Fixture *f, gconstpointer data)
{
  g_clear_object (&f->p);
  rm_rf (f->dir);
  g_free (f->dir);
  g_free (f->video_media);
  g_free (f->audio_media);
  g_free (f->fx_media);
  g_free (f->video_clip);
  g_free (f->audio_clip);
  g_free (f->fx_clip);
}

/* ---- model ---- */

static void
test_new_project (void)
{
  g_autoptr(SsProject) p = ss_project_new ();
  g_assert_cmpuint (ss_project_get_n_tracks (p), ==, 2);
  g_assert_cmpint (ss_project_get_track (p, 0)->kind, ==, SS_TRACK_VIDEO);
  g_assert_cmpstr (ss_project_get_track (p, 0)->name, ==, "Video");
  g_assert_cmpint (ss_project_get_track (p, 1)->kind, ==, SS_TRACK_AUDIO);
  g_assert_cmpstr (ss_project_get_track (p, 1)->name, ==, "Audio 1");
  g_assert_false (ss_project_get_dirty (p));
  g_assert_false (ss_project_can_undo (p));
  g_assert_false (ss_project_can_redo (p));
  g_assert_null (ss_project_get_path (p));
  g_assert_cmpint (ss_project_get_duration (p), ==, 0);
  g_autofree char *name = ss_project_dup_display_name (p);
  g_assert_cmpstr (name, ==, "Untitled");
  int num, den;
  ss_project_get_fps (p, &num, &den);
  g_assert_cmpint (num, ==, 25);
  g_assert_cmpint (den, ==, 1);
}

static void
assert_unchanged_after_error (SsProject *p, const char *before, guint64 rev, GError *error, int code)
{
  g_assert_error (error, SS_ERROR, code);
  g_assert_nonnull (error->message);
  g_assert_cmpuint (strlen (error->message), >, 10);
  g_autofree char *after = json (p);
  g_assert_cmpstr (before, ==, after);
  g_assert_cmpuint (ss_project_get_revision (p), ==, rev);
}

static void
assert_contains (const char *message, const char *substr)
{
  if (substr != NULL && strstr (message, substr) == NULL)
    g_error ("“%s” does not contain “%s”", message, substr);
}

#define EXPECT_FAIL(code, expr, substr) do { \
    g_autofree char *_before = json (f->p); \
    guint64 _rev = ss_project_get_revision (f->p); \
    guint _depth = ss_project_get_undo_depth (f->p); \
    g_autoptr(GError) error = NULL; \
    g_assert_false ((expr) != 0); \
    assert_unchanged_after_error (f->p, _before, _rev, error, code); \
    assert_contains (error->message, substr); \
    g_assert_cmpuint (ss_project_get_undo_depth (f->p), ==, _depth); \
  } while (0)

static void
test_edit_validation (Fixture *f, gconstpointer data)
{
  const char *a1 = audio_track_id (f->p, 0);
  const char *vt = g_intern_string (ss_project_get_video_track (f->p)->id);

  /* overlapping: video clip covers 0..10 s */
  EXPECT_FAIL (SS_ERROR_INVALID_DATA, ss_project_add_clip (f->p, vt, f->video_media, 5 * SEC, 0, SEC, &error), "overlap");
  /* touching is fine */
  g_autoptr(GError) error = NULL;
  const char *touching = ss_project_add_clip (f->p, vt, f->video_media, 10 * SEC, 0, SEC, &error);
  g_assert_no_error (error);
  g_assert_nonnull (touching);
  /* zero and negative durations */
  EXPECT_FAIL (SS_ERROR_INVALID_DATA, ss_project_add_clip (f->p, a1, f->audio_media, 30 * SEC, 0, 0, &error), "longer than zero");
  EXPECT_FAIL (SS_ERROR_INVALID_DATA, ss_project_add_clip (f->p, a1, f->audio_media, 30 * SEC, 0, -SEC, &error), NULL);
  /* outside the media */
  EXPECT_FAIL (SS_ERROR_INVALID_DATA, ss_project_add_clip (f->p, a1, f->audio_media, 30 * SEC, 19 * SEC, 2 * SEC, &error), "past the end");
  EXPECT_FAIL (SS_ERROR_INVALID_DATA, ss_project_add_clip (f->p, a1, f->audio_media, 30 * SEC, -1, SEC, &error), NULL);
  /* negative start */
  EXPECT_FAIL (SS_ERROR_INVALID_DATA, ss_project_add_clip (f->p, a1, f->audio_media, -SEC, 0, SEC, &error), NULL);
  /* audio-only media on the video track */
  EXPECT_FAIL (SS_ERROR_INVALID_DATA, ss_project_add_clip (f->p, vt, f->audio_media, 30 * SEC, 0, SEC, &error), "no video");
  /* unknown ids */
  EXPECT_FAIL (SS_ERROR_NOT_FOUND, ss_project_add_clip (f->p, "nope", f->audio_media, 0, 0, SEC, &error), "nope");
  EXPECT_FAIL (SS_ERROR_NOT_FOUND, ss_project_add_clip (f->p, a1, "nope", 30 * SEC, 0, SEC, &error), NULL);
  EXPECT_FAIL (SS_ERROR_NOT_FOUND, ss_project_move_clip (f->p, "nope", 0, NULL, &error), NULL);
  /* move onto another clip, to a track of another kind */
  EXPECT_FAIL (SS_ERROR_INVALID_DATA, ss_project_move_clip (f->p, f->audio_clip, 0, audio_track_id (f->p, 1), &error), "overlap");
  EXPECT_FAIL (SS_ERROR_INVALID_DATA, ss_project_move_clip (f->p, f->audio_clip, 30 * SEC, vt, &error), "same kind");
  /* trims beyond the media */
  EXPECT_FAIL (SS_ERROR_INVALID_DATA, ss_project_trim_clip (f->p, f->audio_clip, 10 * SEC, 7 * SEC, &error), "outside");
  EXPECT_FAIL (SS_ERROR_INVALID_DATA, ss_project_trim_clip (f->p, f->audio_clip, 12 * SEC, 20 * SEC, &error), "past the end");
  EXPECT_FAIL (SS_ERROR_INVALID_DATA, ss_project_trim_clip (f->p, f->audio_clip, 12 * SEC, 0, &error), NULL);
  /* splits at or outside the edges */
  EXPECT_FAIL (SS_ERROR_INVALID_DATA, ss_project_split_clip (f->p, f->audio_clip, 12 * SEC, &error) != NULL, "Cannot split");
  EXPECT_FAIL (SS_ERROR_INVALID_DATA, ss_project_split_clip (f->p, f->audio_clip, 17 * SEC, &error) != NULL, NULL);
  EXPECT_FAIL (SS_ERROR_INVALID_DATA, ss_project_split_clip (f->p, f->audio_clip, 30 * SEC, &error) != NULL, NULL);
  /* gains */
  EXPECT_FAIL (SS_ERROR_INVALID_DATA, ss_project_set_clip_gain (f->p, f->audio_clip, 1.0 / 0.0, &error), NULL);
  EXPECT_FAIL (SS_ERROR_INVALID_DATA, ss_project_set_clip_gain (f->p, f->audio_clip, 100, &error), "dB");
  g_assert_false (ss_project_set_track_gain (f->p, a1, -1000));
  /* takes */
  EXPECT_FAIL (SS_ERROR_INVALID_DATA, ss_project_add_take (f->p, f->audio_clip, f->fx_media, 0, "x", &error) != NULL, "past the end");
  EXPECT_FAIL (SS_ERROR_NOT_FOUND, ss_project_set_active_take (f->p, f->audio_clip, 1, &error), NULL);
  EXPECT_FAIL (SS_ERROR_INVALID_DATA, ss_project_delete_take (f->p, f->audio_clip, 0, &error), "last take");
  /* tracks */
  EXPECT_FAIL (SS_ERROR_UNSUPPORTED, ss_project_add_track (f->p, SS_TRACK_VIDEO, "V2", &error) != NULL, NULL);
  EXPECT_FAIL (SS_ERROR_UNSUPPORTED, ss_project_remove_track (f->p, vt, &error), NULL);
  EXPECT_FAIL (SS_ERROR_INVALID_DATA, ss_project_move_track (f->p, a1, 0, &error), NULL);
  /* media */
  EXPECT_FAIL (SS_ERROR_INVALID_DATA, ss_project_remove_media (f->p, f->audio_media, &error), "still used");
  SsMedia bad = media_info ("/x.wav", FALSE, FALSE, SEC);
  EXPECT_FAIL (SS_ERROR_INVALID_DATA, ss_project_add_media (f->p, &bad, &error) != NULL, "neither");
  bad = media_info ("/x.wav", FALSE, TRUE, 0);
  EXPECT_FAIL (SS_ERROR_INVALID_DATA, ss_project_add_media (f->p, &bad, &error) != NULL, NULL);
  /* relink to a file too short for the clips using it */
  SsMedia shorter = media_info ("/elsewhere/dialog.wav", FALSE, TRUE, 4 * SEC);
  EXPECT_FAIL (SS_ERROR_INVALID_DATA, ss_project_relink_media (f->p, f->audio_media, &shorter, &error), "Cannot relink");
  /* shift that would push a clip entirely before 0 */
  EXPECT_FAIL (SS_ERROR_INVALID_DATA, ss_project_shift_track (f->p, a1, -20 * SEC, &error), "before the start");
}

static void
test_split_and_trim (Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  /* audio clip: 12..17 s, source_in 1 s */
  const char *right_id = ss_project_split_clip (f->p, f->audio_clip, 14 * SEC, &error);
  g_assert_no_error (error);
  g_autofree char *right = g_strdup (right_id);
  g_assert_cmpstr (ss_project_get_undo_label (f->p), ==, "Split Clip");
  const SsClip *l = ss_project_find_clip (f->p, f->audio_clip, NULL);
  const SsClip *r = ss_project_find_clip (f->p, right, NULL);
  g_assert_cmpint (l->start, ==, 12 * SEC);
  g_assert_cmpint (l->duration, ==, 2 * SEC);
  g_assert_cmpint (ss_clip_get_active_take (l)->source_in, ==, SEC);
  g_assert_cmpint (r->start, ==, 14 * SEC);
  g_assert_cmpint (r->duration, ==, 3 * SEC);
  g_assert_cmpint (ss_clip_get_active_take (r)->source_in, ==, 3 * SEC);
  g_assert_cmpstr (ss_clip_get_active_take (r)->media_id, ==, f->audio_media);
  g_assert_cmpstr (ss_clip_get_active_take (r)->id, !=, ss_clip_get_active_take (l)->id);

  /* trim the right part's left edge later: source follows */
  g_assert_true (ss_project_trim_clip (f->p, right, 15 * SEC, 2 * SEC, &error));
  g_assert_no_error (error);
  r = ss_project_find_clip (f->p, right, NULL);
  g_assert_cmpint (r->start, ==, 15 * SEC);
  g_assert_cmpint (ss_clip_get_active_take (r)->source_in, ==, 4 * SEC);
  g_assert_cmpstr (ss_project_get_undo_label (f->p), ==, "Trim Clip");
  /* extend the left part back to the right to touch */
  g_assert_true (ss_project_trim_clip (f->p, f->audio_clip, 12 * SEC, 3 * SEC, &error));
  g_assert_no_error (error);
  /* and one microsecond more overlaps */
  g_assert_false (ss_project_trim_clip (f->p, f->audio_clip, 12 * SEC, 3 * SEC + 1, &error));
  g_assert_error (error, SS_ERROR, SS_ERROR_INVALID_DATA);
}

static void
test_shift_track (Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  /* The foley track: clip 2..5 s. Shift -2.4 s: head cut by 0.4 s. */
  const SsTrack *ft = NULL;
  ss_project_find_clip (f->p, f->fx_clip, &ft);
  g_autofree char *before = json (f->p);
  g_assert_true (ss_project_shift_track (f->p, ft->id, -2400 * SS_TIME_MS, &error));
  g_assert_no_error (error);
  g_assert_cmpstr (ss_project_get_undo_label (f->p), ==, "Shift Track");
  const SsClip *c = ss_project_find_clip (f->p, f->fx_clip, NULL);
  g_assert_cmpint (c->start, ==, 0);
  g_assert_cmpint (c->duration, ==, 2600 * SS_TIME_MS);
  g_assert_cmpint (ss_clip_get_active_take (c)->source_in, ==, 400 * SS_TIME_MS);
  g_assert_true (ss_project_undo (f->p));
  g_autofree char *undone = json (f->p);
  g_assert_cmpstr (before, ==, undone);
  /* positive shift of a track with two clips (inserted 0..10 s, dialog 12..17 s) */
  const char *a1 = audio_track_id (f->p, 0);
  g_assert_true (ss_project_shift_track (f->p, a1, 200 * SS_TIME_MS, &error));
  const SsTrack *t = ss_project_find_track (f->p, a1);
  g_assert_cmpuint (t->clips->len, ==, 2);
  g_assert_cmpint (((SsClip *) t->clips->pdata[0])->start, ==, 200 * SS_TIME_MS);
  g_assert_cmpint (((SsClip *) t->clips->pdata[1])->start, ==, 12200 * SS_TIME_MS);
  /* one undo step for the whole track */
  g_assert_true (ss_project_undo (f->p));
  t = ss_project_find_track (f->p, a1);
  g_assert_cmpint (((SsClip *) t->clips->pdata[0])->start, ==, 0);
  g_assert_cmpint (((SsClip *) t->clips->pdata[1])->start, ==, 12 * SEC);
}

/* Every edit kind: do, undo (document back exactly), redo (exactly again). */
#define CHECK_UNDO(label, expr) do { \
    g_autofree char *_before = json (f->p); \
    gboolean _dirty_before = ss_project_get_dirty (f->p); \
    g_autoptr(GError) error = NULL; \
    g_assert_true ((expr) != 0); \
    g_assert_no_error (error); \
    g_autofree char *_after = json (f->p); \
    g_assert_cmpstr (_before, !=, _after); \
    g_assert_cmpstr (ss_project_get_undo_label (f->p), ==, label); \
    g_assert_false (ss_project_can_redo (f->p)); \
    g_assert_true (ss_project_undo (f->p)); \
    g_autofree char *_undone = json (f->p); \
    g_assert_cmpstr (_before, ==, _undone); \
    g_assert_cmpint (ss_project_get_dirty (f->p), ==, _dirty_before); \
    g_assert_cmpstr (ss_project_get_redo_label (f->p), ==, label); \
    g_assert_true (ss_project_redo (f->p)); \
    g_autofree char *_redone = json (f->p); \
    g_assert_cmpstr (_after, ==, _redone); \
    g_assert_true (ss_project_get_dirty (f->p)); \
  } while (0)

static void
test_undo_every_edit (Fixture *f, gconstpointer data)
{
  const char *a1 = audio_track_id (f->p, 0);
  g_autofree char *other = g_build_filename (f->dir, "media", "other.wav", NULL);
  touch (other);
  SsMedia info = media_info (other, FALSE, TRUE, 30 * SEC);

  CHECK_UNDO ("Add Media", ss_project_add_media (f->p, &info, &error));
  const char *new_media = ss_project_get_media (f->p, ss_project_get_n_media (f->p) - 1)->id;
  g_autofree char *nm = g_strdup (new_media);
  CHECK_UNDO ("Insert Media", ss_project_insert_media (f->p, f->video_media, 20 * SEC, NULL, &error));
  CHECK_UNDO ("Add Track", ss_project_add_track (f->p, SS_TRACK_AUDIO, "Music", &error));
  CHECK_UNDO ("Mute Track", ss_project_set_track_muted (f->p, a1, TRUE));
  CHECK_UNDO ("Solo Track", ss_project_set_track_solo (f->p, a1, TRUE));
  CHECK_UNDO ("Track Gain", ss_project_set_track_gain (f->p, a1, -6.5));
  CHECK_UNDO ("Rename Track", ss_project_rename_track (f->p, a1, "Dialog"));
  CHECK_UNDO ("Move Track", ss_project_move_track (f->p, a1, ss_project_get_n_tracks (f->p) - 1, &error));
  CHECK_UNDO ("Add Clip", ss_project_add_clip (f->p, a1, nm, 40 * SEC, 0, 5 * SEC, &error));
  CHECK_UNDO ("Move Clip", ss_project_move_clip (f->p, f->audio_clip, 32 * SEC, NULL, &error));
  CHECK_UNDO ("Move Clip", ss_project_move_clip (f->p, f->audio_clip, 6 * SEC, audio_track_id (f->p, 1), &error));
  CHECK_UNDO ("Trim Clip", ss_project_trim_clip (f->p, f->audio_clip, 13 * SEC, 2 * SEC, &error));
  CHECK_UNDO ("Split Clip", ss_project_split_clip (f->p, f->video_clip, 4 * SEC, &error));
  CHECK_UNDO ("Clip Gain", ss_project_set_clip_gain (f->p, f->fx_clip, 3.0, &error));
  CHECK_UNDO ("Add Take", ss_project_add_take (f->p, f->fx_clip, nm, SEC, "footsteps on gravel", &error));
  CHECK_UNDO ("Shift Track", ss_project_shift_track (f->p, a1, 500 * SS_TIME_MS, &error));
  g_autoptr(GError) e2 = NULL;
  g_assert_nonnull (ss_project_add_take (f->p, f->fx_clip, nm, SEC, "Take 2", &e2));
  g_assert_no_error (e2);
  CHECK_UNDO ("Switch Take", ss_project_set_active_take (f->p, f->fx_clip, 0, &error));
  CHECK_UNDO ("Rename Take", ss_project_set_take_label (f->p, f->fx_clip, 1, "Take two", &error));
  CHECK_UNDO ("Delete Take", ss_project_delete_take (f->p, f->fx_clip, 1, &error));
  g_autofree char *moved = g_build_filename (f->dir, "moved", "dialog.wav", NULL);
  touch (moved);
  SsMedia relinked = media_info (moved, FALSE, TRUE, 20 * SEC);
  CHECK_UNDO ("Relink Media", ss_project_relink_media (f->p, f->audio_media, &relinked, &error));
  g_assert_cmpstr (ss_project_find_media (f->p, f->audio_media)->path, ==, moved);
  CHECK_UNDO ("Delete Clip", ss_project_delete_clip (f->p, f->fx_clip, &error));
  CHECK_UNDO ("Remove Track", ss_project_remove_track (f->p, a1, &error));
  SsMedia unused = media_info ("/unused.wav", FALSE, TRUE, SEC);
  g_autoptr(GError) e3 = NULL;
  g_autofree char *unused_id = g_strdup (ss_project_add_media (f->p, &unused, &e3));
  g_assert_no_error (e3);
  CHECK_UNDO ("Remove Media", ss_project_remove_media (f->p, unused_id, &error));

  /* setters with the same value add no step */
  guint depth = ss_project_get_undo_depth (f->p);
  guint64 rev = ss_project_get_revision (f->p);
  g_assert_true (ss_project_set_clip_gain (f->p, f->video_clip, 0.0, NULL));
  g_assert_true (ss_project_set_track_muted (f->p, ss_project_get_video_track (f->p)->id, FALSE));
  g_assert_cmpuint (ss_project_get_undo_depth (f->p), ==, depth);
  g_assert_cmpuint (ss_project_get_revision (f->p), ==, rev);

  /* undo all the way back, then redo all the way */
  g_autofree char *end = json (f->p);
  guint steps = ss_project_get_undo_depth (f->p);
  guint n = 0;
  while (ss_project_undo (f->p))
    n++;
  g_assert_cmpuint (n, ==, steps);
  g_assert_false (ss_project_can_undo (f->p));
  g_assert_cmpuint (ss_project_get_n_media (f->p), ==, 0);   /* before the fixture's first edit */
  while (ss_project_redo (f->p))
    ;
  g_autofree char *again = json (f->p);
  g_assert_cmpstr (end, ==, again);
}

static void
test_groups (Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *before = json (f->p);
  guint depth = ss_project_get_undo_depth (f->p);

  ss_project_begin_group (f->p, "Apply Sync");
  g_assert_true (ss_project_shift_track (f->p, audio_track_id (f->p, 0), SEC, &error));
  ss_project_begin_group (f->p, "inner");
  g_assert_true (ss_project_set_clip_gain (f->p, f->audio_clip, -3, &error));
  g_assert_nonnull (ss_project_split_clip (f->p, f->video_clip, 5 * SEC, &error));
  ss_project_end_group (f->p);
  /* inside a group, undo is not available */
  g_assert_false (ss_project_can_undo (f->p));
  g_assert_false (ss_project_undo (f->p));
  ss_project_end_group (f->p);
  g_assert_no_error (error);

  g_assert_cmpuint (ss_project_get_undo_depth (f->p), ==, depth + 1);
  g_assert_cmpstr (ss_project_get_undo_label (f->p), ==, "Apply Sync");
  g_autofree char *after = json (f->p);
  g_assert_true (ss_project_undo (f->p));
  g_autofree char *undone = json (f->p);
  g_assert_cmpstr (before, ==, undone);
  g_assert_true (ss_project_redo (f->p));
  g_autofree char *redone = json (f->p);
  g_assert_cmpstr (after, ==, redone);

  /* an empty group adds nothing; a failing edit inside adds nothing */
  ss_project_begin_group (f->p, "Nothing");
  g_assert_false (ss_project_move_clip (f->p, "nope", 0, NULL, NULL));
  ss_project_end_group (f->p);
  g_assert_cmpuint (ss_project_get_undo_depth (f->p), ==, depth + 1);
  g_assert_cmpstr (ss_project_get_undo_label (f->p), ==, "Apply Sync");
}

static void
test_redo_invalidation (Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_assert_true (ss_project_set_clip_gain (f->p, f->audio_clip, -3, &error));
  g_assert_true (ss_project_undo (f->p));
  g_assert_true (ss_project_can_redo (f->p));
  g_assert_true (ss_project_set_track_muted (f->p, audio_track_id (f->p, 0), TRUE));
  g_assert_false (ss_project_can_redo (f->p));
  g_assert_false (ss_project_redo (f->p));
  g_assert_cmpfloat (ss_project_find_clip (f->p, f->audio_clip, NULL)->gain_db, ==, 0.0);
}

static void
test_ids_never_reused (Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *first = g_strdup (ss_project_split_clip (f->p, f->video_clip, 3 * SEC, &error));
  g_assert_true (ss_project_undo (f->p));
  const char *second = ss_project_split_clip (f->p, f->video_clip, 3 * SEC, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (first, !=, second);
}

static void
test_undo_cap (void)
{
  g_autoptr(SsProject) p = ss_project_new ();
  const char *a1 = audio_track_id (p, 0);
  for (int i = 0; i < SS_PROJECT_MAX_UNDO + 100; i++)
    g_assert_true (ss_project_set_track_gain (p, a1, -(i % 50) - 1.0 - (i / 50) * 0.01));
  g_assert_cmpuint (ss_project_get_undo_depth (p), ==, SS_PROJECT_MAX_UNDO);
  guint n = 0;
  while (ss_project_undo (p))
    n++;
  g_assert_cmpuint (n, ==, SS_PROJECT_MAX_UNDO);
  /* the oldest steps were dropped: the gain is not back to 0 */
  g_assert_cmpfloat (ss_project_find_track (p, a1)->gain_db, !=, 0.0);
}

static void
count_changed (SsProject *p, int *n)
{
  (*n)++;
}

static void
test_dirty_and_changed (Fixture *f, gconstpointer data)
{
  int changed = 0;
  g_signal_connect (f->p, "changed", G_CALLBACK (count_changed), &changed);
  g_autofree char *path = g_build_filename (f->dir, "p.soundstage", NULL);
  g_autoptr(GError) error = NULL;
  g_assert_true (ss_project_get_dirty (f->p));
  g_assert_true (ss_project_save (f->p, path, &error));
  g_assert_no_error (error);
  g_assert_false (ss_project_get_dirty (f->p));
  g_assert_cmpint (changed, ==, 0);

  guint64 rev = ss_project_get_revision (f->p);
  g_assert_true (ss_project_set_clip_gain (f->p, f->audio_clip, -3, &error));
  g_assert_cmpint (changed, ==, 1);
  g_assert_cmpuint (ss_project_get_revision (f->p), >, rev);
  g_assert_true (ss_project_get_dirty (f->p));
  g_assert_true (ss_project_undo (f->p));
  g_assert_cmpint (changed, ==, 2);
  g_assert_false (ss_project_get_dirty (f->p));    /* back at the saved state */
  g_assert_true (ss_project_redo (f->p));
  g_assert_cmpint (changed, ==, 3);
  g_assert_true (ss_project_get_dirty (f->p));
  /* failed edits emit nothing */
  g_assert_false (ss_project_set_clip_gain (f->p, f->audio_clip, 1000, NULL));
  g_assert_cmpint (changed, ==, 3);
  /* save, then undo: dirty again */
  g_assert_true (ss_project_save (f->p, path, &error));
  g_assert_false (ss_project_get_dirty (f->p));
  g_assert_true (ss_project_undo (f->p));
  g_assert_true (ss_project_get_dirty (f->p));
  g_autofree char *name = ss_project_dup_display_name (f->p);
  g_assert_cmpstr (name, ==, "p");
}

static void
test_insert_media (void)
{
  g_autoptr(SsProject) p = ss_project_new ();
  g_autofree char *av = add_media (p, "/m/av.mp4", TRUE, TRUE, 4 * SEC);
  g_autofree char *a = add_media (p, "/m/a.wav", FALSE, TRUE, 2 * SEC);
  g_autoptr(GError) error = NULL;

  g_autofree char *first = g_strdup (ss_project_insert_media (p, av, SEC, NULL, &error));
  g_assert_no_error (error);
  const SsTrack *t = NULL;
  const SsClip *c = ss_project_find_clip (p, first, &t);
  g_assert_cmpint (t->kind, ==, SS_TRACK_VIDEO);
  g_assert_cmpint (c->start, ==, SEC);
  g_assert_cmpint (c->duration, ==, 4 * SEC);
  const SsTrack *a1 = ss_project_find_track (p, audio_track_id (p, 0));
  g_assert_cmpuint (a1->clips->len, ==, 1);
  g_assert_cmpint (ss_project_get_duration (p), ==, 5 * SEC);

  /* audio-only at the same time: Audio 1 is busy, a new track is made */
  const char *ac = ss_project_insert_media (p, a, 2 * SEC, NULL, &error);
  g_assert_no_error (error);
  ss_project_find_clip (p, ac, &t);
  g_assert_cmpstr (t->name, ==, "Audio 2");
  g_assert_cmpuint (ss_project_get_n_tracks (p), ==, 3);
  /* one undo step removes clip and track */
  g_assert_cmpstr (ss_project_get_undo_label (p), ==, "Insert Media");
  g_assert_true (ss_project_undo (p));
  g_assert_cmpuint (ss_project_get_n_tracks (p), ==, 2);

  /* video overlap: nothing is inserted at all */
  g_assert_null (ss_project_insert_media (p, av, 2 * SEC, NULL, &error));
  g_assert_error (error, SS_ERROR, SS_ERROR_INVALID_DATA);
  g_assert_cmpuint (ss_project_find_track (p, audio_track_id (p, 0))->clips->len, ==, 1);

  /* lookups (pointers from before the undo are stale: fetch again) */
  c = ss_project_find_clip (p, first, NULL);
  g_assert_true (ss_project_get_clip_at (p, ss_project_get_video_track (p)->id, SEC) == c);
  g_assert_true (ss_project_get_clip_at (p, ss_project_get_video_track (p)->id, 5 * SEC - 1) == c);
  g_assert_null (ss_project_get_clip_at (p, ss_project_get_video_track (p)->id, 5 * SEC));
  g_assert_null (ss_project_get_clip_at (p, ss_project_get_video_track (p)->id, 0));
  g_assert_false (ss_project_range_is_free (p, ss_project_get_video_track (p)->id, 0, SEC + 1, NULL));
  g_assert_true (ss_project_range_is_free (p, ss_project_get_video_track (p)->id, 0, SEC, NULL));
  g_assert_true (ss_project_range_is_free (p, ss_project_get_video_track (p)->id, 2 * SEC, SEC, c->id));
  g_assert_true (ss_project_find_media_by_path (p, "/m/a.wav") == ss_project_find_media (p, a));
  g_assert_cmpuint (ss_project_count_media_uses (p, av), ==, 2);
  g_assert_cmpint (ss_project_get_track_index (p, audio_track_id (p, 0)), ==, 1);
  int num, den;
  ss_project_get_fps (p, &num, &den);
  g_assert_cmpint (num, ==, 30);
  g_assert_cmpint (ss_project_snap_to_frame (p, 1000 * SS_TIME_MS + 10 * SS_TIME_MS), ==, 1000 * SS_TIME_MS);
  g_assert_cmpint (ss_project_snap_to_frame (p, 1020 * SS_TIME_MS), ==, 1033333);
  const SsTake *take = ss_clip_get_active_take (c);
  const SsClip *owner = NULL;
  g_assert_true (ss_project_find_take (p, take->id, &owner) == take);
  g_assert_true (owner == c);
}

static void
test_audible (void)
{
  g_autoptr(SsProject) p = ss_project_new ();
  g_autoptr(GError) error = NULL;
  const char *t2 = g_intern_string (ss_project_add_track (p, SS_TRACK_AUDIO, NULL, &error));
  g_assert_no_error (error);
  const SsTrack *a = ss_project_find_track (p, audio_track_id (p, 0));
  const SsTrack *b = ss_project_find_track (p, t2);
  g_assert_cmpstr (b->name, ==, "Audio 2");
  g_assert_true (ss_project_track_is_audible (p, a));
  g_assert_true (ss_project_set_track_muted (p, a->id, TRUE));
  a = ss_project_find_track (p, audio_track_id (p, 0));
  b = ss_project_find_track (p, t2);
  g_assert_false (ss_project_track_is_audible (p, a));
  g_assert_true (ss_project_track_is_audible (p, b));
  g_assert_true (ss_project_set_track_muted (p, a->id, FALSE));
  g_assert_true (ss_project_set_track_solo (p, t2, TRUE));
  a = ss_project_find_track (p, audio_track_id (p, 0));
  b = ss_project_find_track (p, t2);
  g_assert_false (ss_project_track_is_audible (p, a));
  g_assert_true (ss_project_track_is_audible (p, b));
  /* muted wins over solo */
  g_assert_true (ss_project_set_track_muted (p, t2, TRUE));
  b = ss_project_find_track (p, t2);
  g_assert_false (ss_project_track_is_audible (p, b));
}

static void
test_snapshot (Fixture *f, gconstpointer data)
{
  g_autoptr(SsProject) snap = ss_project_snapshot (f->p);
  g_autofree char *a = json (f->p);
  g_autofree char *b = json (snap);
  g_assert_cmpstr (a, ==, b);
  g_assert_false (ss_project_can_undo (snap));
  /* independent: editing one leaves the other */
  g_assert_true (ss_project_delete_clip (f->p, f->audio_clip, NULL));
  g_assert_nonnull (ss_project_find_clip (snap, f->audio_clip, NULL));
}

/* ---- files ---- */

static void
test_json_round_trip (Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_assert_nonnull (ss_project_add_take (f->p, f->fx_clip, f->audio_media, 2 * SEC, "Take 2 “quoted” \\ ünïcode", &error));
  g_assert_true (ss_project_set_clip_gain (f->p, f->fx_clip, -3.25, &error));
  g_assert_true (ss_project_set_track_gain (f->p, audio_track_id (f->p, 0), 0.1));
  g_assert_true (ss_project_set_track_solo (f->p, audio_track_id (f->p, 1), TRUE));
  g_autofree char *path = g_build_filename (f->dir, "round.soundstage", NULL);
  g_assert_true (ss_project_save (f->p, path, &error));
  g_assert_no_error (error);
  g_assert_cmpstr (ss_project_get_path (f->p), ==, path);

  g_autoptr(SsProject) loaded = ss_project_load (path, &error);
  g_assert_no_error (error);
  g_assert_false (ss_project_get_dirty (loaded));
  g_assert_cmpstr (ss_project_get_path (loaded), ==, path);
  g_autofree char *a = ss_project_to_json (f->p, NULL);
  g_autofree char *b = ss_project_to_json (loaded, NULL);
  g_assert_cmpstr (a, ==, b);
  /* and the file itself is what to_json gives */
  g_autofree char *contents = NULL;
  g_assert_true (g_file_get_contents (path, &contents, NULL, NULL));
  g_assert_cmpstr (contents, ==, a);
  g_assert_nonnull (strstr (contents, "\"format\" : \"soundstage-project\""));
  g_assert_nonnull (strstr (contents, "\"version\" : 1"));
  g_assert_cmpuint (ss_project_count_missing_media (loaded), ==, 0);

  /* from data too */
  g_autoptr(SsProject) again = ss_project_load_from_data (contents, strlen (contents), f->dir, &error);
  g_assert_no_error (error);
  g_autofree char *c = ss_project_to_json_for_dir (again, f->dir, NULL);
  g_assert_cmpstr (a, ==, c);
  /* new ids do not collide with loaded ones */
  const char *split = ss_project_split_clip (loaded, f->video_clip, SEC, &error);
  g_assert_no_error (error);
  g_assert_null (ss_project_find_clip (f->p, split, NULL));
  g_assert_cmpuint (ss_project_get_n_tracks (loaded), ==, ss_project_get_n_tracks (f->p));
}

static void
test_paths_relative_absolute_missing (Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *proj_dir = g_build_filename (f->dir, "projects", NULL);
  g_autofree char *path = g_build_filename (proj_dir, "p.soundstage", NULL);
  g_mkdir_with_parents (proj_dir, 0755);
  g_assert_true (ss_project_save (f->p, path, &error));
  g_autofree char *contents = NULL;
  g_assert_true (g_file_get_contents (path, &contents, NULL, NULL));
  g_assert_nonnull (strstr (contents, "\"path\" : \"../media/shot.mp4\""));
  g_autofree char *abs = g_build_filename (f->dir, "media", "shot.mp4", NULL);
  g_autofree char *abs_json = g_strdup_printf ("\"absolute_path\" : \"%s\"", abs);
  g_assert_nonnull (strstr (contents, abs_json));

  /* Move the whole tree: relative paths win. */
  g_autofree char *moved = g_strconcat (f->dir, "-moved", NULL);
  g_assert_cmpint (g_rename (f->dir, moved), ==, 0);
  g_autofree char *moved_path = g_build_filename (moved, "projects", "p.soundstage", NULL);
  g_autoptr(SsProject) p1 = ss_project_load (moved_path, &error);
  g_assert_no_error (error);
  g_autofree char *expect = g_build_filename (moved, "media", "shot.mp4", NULL);
  g_assert_cmpstr (ss_project_find_media (p1, f->video_media)->path, ==, expect);
  g_assert_false (ss_project_find_media (p1, f->video_media)->missing);
  g_assert_cmpuint (ss_project_count_missing_media (p1), ==, 0);

  /* Project alone elsewhere, media back at its absolute place: absolute works. */
  g_assert_cmpint (g_rename (moved, f->dir), ==, 0);
  g_autofree char *lonely_dir = make_tmp_dir ();
  g_autofree char *lonely = g_build_filename (lonely_dir, "p.soundstage", NULL);
  g_assert_true (g_file_set_contents (lonely, contents, -1, NULL));
  g_autoptr(SsProject) p2 = ss_project_load (lonely, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (ss_project_find_media (p2, f->video_media)->path, ==, abs);
  g_assert_false (ss_project_find_media (p2, f->video_media)->missing);

  /* Media gone: kept, marked missing, clips kept, saved again unchanged. */
  g_assert_cmpint (g_unlink (abs), ==, 0);
  g_autoptr(SsProject) p3 = ss_project_load (lonely, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (ss_project_get_n_media (p3), ==, 3);
  g_assert_true (ss_project_find_media (p3, f->video_media)->missing);
  g_assert_cmpuint (ss_project_count_missing_media (p3), ==, 1);
  g_assert_nonnull (ss_project_find_clip (p3, f->video_clip, NULL));
  g_assert_true (ss_project_save (p3, lonely, &error));
  g_autofree char *resaved = NULL;
  g_assert_true (g_file_get_contents (lonely, &resaved, NULL, NULL));
  g_assert_nonnull (strstr (resaved, "\"path\" : \"../media/shot.mp4\""));
  g_assert_nonnull (strstr (resaved, abs_json));
  /* "Save As" elsewhere: the relative path still points at the same place */
  g_autofree char *sub = g_build_filename (lonely_dir, "sub", "p.soundstage", NULL);
  g_autofree char *subdir = g_path_get_dirname (sub);
  g_mkdir_with_parents (subdir, 0755);
  g_assert_true (ss_project_save (p3, sub, &error));
  g_autofree char *subsaved = NULL;
  g_assert_true (g_file_get_contents (sub, &subsaved, NULL, NULL));
  g_assert_nonnull (strstr (subsaved, "\"path\" : \"../../media/shot.mp4\""));
  g_assert_nonnull (strstr (subsaved, abs_json));

  /* Relink clears missing. */
  touch (abs);
  SsMedia info = media_info (abs, TRUE, TRUE, 10 * SEC);
  g_assert_true (ss_project_relink_media (p3, f->video_media, &info, &error));
  g_assert_no_error (error);
  g_assert_false (ss_project_find_media (p3, f->video_media)->missing);
  rm_rf (lonely_dir);
}

static void
test_newer_version_refused (void)
{
  const char *doc = "{\"format\":\"soundstage-project\",\"version\":3,\"media\":\"whatever\",\"tracks\":{}}";
  g_autoptr(GError) error = NULL;
  g_autoptr(SsProject) p = ss_project_load_from_data (doc, strlen (doc), NULL, &error);
  g_assert_null (p);
  g_assert_error (error, SS_ERROR, SS_ERROR_UNSUPPORTED);
  g_assert_cmpstr (error->message, ==,
                   "This project was saved by a newer version of Soundstage (format 3); this version reads up to format 1.");

  /* through a file: the message names it, the file is untouched */
  g_autofree char *dir = make_tmp_dir ();
  g_autofree char *path = g_build_filename (dir, "future.soundstage", NULL);
  g_assert_true (g_file_set_contents (path, doc, -1, NULL));
  g_clear_error (&error);
  g_assert_null (ss_project_load (path, &error));
  g_assert_error (error, SS_ERROR, SS_ERROR_UNSUPPORTED);
  g_assert_nonnull (strstr (error->message, "future.soundstage"));
  g_autofree char *after = NULL;
  g_assert_true (g_file_get_contents (path, &after, NULL, NULL));
  g_assert_cmpstr (after, ==, doc);
  rm_rf (dir);
}

static void
test_load_errors (void)
{
  g_autoptr(GError) error = NULL;
  g_assert_null (ss_project_load ("/nonexistent/dir/x.soundstage", &error));
  g_assert_error (error, SS_ERROR, SS_ERROR_NOT_FOUND);
  g_assert_nonnull (strstr (error->message, "x.soundstage"));
  g_clear_error (&error);
  g_autofree char *dir = make_tmp_dir ();
  g_assert_null (ss_project_load (dir, &error));
  g_assert_error (error, SS_ERROR, SS_ERROR_INVALID_DATA);
  g_assert_nonnull (strstr (error->message, "folder"));
  rm_rf (dir);
}

static void
test_save_atomic (Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *path = g_build_filename (f->dir, "a.soundstage", NULL);
  g_autofree char *bak = g_strconcat (path, ".bak", NULL);
  g_assert_true (ss_project_save (f->p, path, &error));
  g_assert_no_error (error);
  g_assert_false (g_file_test (bak, G_FILE_TEST_EXISTS));
  g_autofree char *v1 = NULL;
  g_assert_true (g_file_get_contents (path, &v1, NULL, NULL));

  /* second save: the first version becomes the backup */
  g_assert_true (ss_project_delete_clip (f->p, f->fx_clip, &error));
  g_autofree char *json_before = ss_project_to_json (f->p, NULL);
  guint64 rev = ss_project_get_revision (f->p);
  g_assert_true (ss_project_save (f->p, path, &error));
  g_assert_no_error (error);
  g_autofree char *json_after = ss_project_to_json (f->p, NULL);
  g_assert_cmpstr (json_before, ==, json_after);          /* save never edits */
  g_assert_cmpuint (ss_project_get_revision (f->p), ==, rev);
  g_assert_true (ss_project_can_undo (f->p));             /* history kept */
  g_autofree char *b1 = NULL, *v2 = NULL;
  g_assert_true (g_file_get_contents (bak, &b1, NULL, NULL));
  g_assert_cmpstr (b1, ==, v1);
  g_assert_true (g_file_get_contents (path, &v2, NULL, NULL));
  g_assert_cmpstr (v2, ==, json_after);

  /* target is a directory: clear error, directory intact */
  g_autofree char *dirpath = g_build_filename (f->dir, "isdir.soundstage", NULL);
  g_mkdir (dirpath, 0755);
  g_assert_true (ss_project_set_clip_gain (f->p, f->audio_clip, -1, &error));
  g_assert_false (ss_project_save (f->p, dirpath, &error));
  g_assert_error (error, SS_ERROR, SS_ERROR_IO);
  g_assert_nonnull (strstr (error->message, "isdir.soundstage"));
  g_assert_true (g_file_test (dirpath, G_FILE_TEST_IS_DIR));
  g_assert_cmpstr (ss_project_get_path (f->p), ==, path);   /* unchanged */
  g_assert_true (ss_project_get_dirty (f->p));
  g_clear_error (&error);

  /* folder that does not exist */
  g_autofree char *nodir = g_build_filename (f->dir, "no", "such", "x.soundstage", NULL);
  g_assert_false (ss_project_save (f->p, nodir, &error));
  g_assert_nonnull (error);
  g_assert_nonnull (strstr (error->message, "x.soundstage"));
  g_clear_error (&error);

  /* the disk fills up while writing: the original is untouched, no temp left */
  struct rlimit old;
  getrlimit (RLIMIT_FSIZE, &old);
  struct rlimit small = { 64, old.rlim_max };
  signal (SIGXFSZ, SIG_IGN);
  g_assert_cmpint (setrlimit (RLIMIT_FSIZE, &small), ==, 0);
  gboolean ok = ss_project_save (f->p, path, &error);
  setrlimit (RLIMIT_FSIZE, &old);
  g_assert_false (ok);
  g_assert_error (error, SS_ERROR, SS_ERROR_IO);
  g_assert_nonnull (strstr (error->message, "a.soundstage"));
  g_clear_error (&error);
  g_autofree char *v3 = NULL;
  g_assert_true (g_file_get_contents (path, &v3, NULL, NULL));
  g_assert_cmpstr (v3, ==, v2);
  g_assert_true (ss_project_get_dirty (f->p));
  GDir *d = g_dir_open (f->dir, 0, NULL);
  const char *name;
  while ((name = g_dir_read_name (d)))
    g_assert_false (g_str_has_prefix (name, "."));
  g_dir_close (d);

  /* read-only folder (not meaningful as root, who can write anyway) */
  if (geteuid () != 0)
    {
      g_autofree char *ro = g_build_filename (f->dir, "ro", NULL);
      g_autofree char *ropath = g_build_filename (ro, "r.soundstage", NULL);
      g_mkdir (ro, 0755);
      g_assert_true (ss_project_save (f->p, ropath, &error));
      g_autofree char *r1 = NULL;
      g_assert_true (g_file_get_contents (ropath, &r1, NULL, NULL));
      g_assert_true (ss_project_set_clip_gain (f->p, f->audio_clip, -2, &error));
      chmod (ro, 0555);
      g_assert_false (ss_project_save (f->p, ropath, &error));
      g_assert_error (error, SS_ERROR, SS_ERROR_IO);
      g_assert_nonnull (strstr (error->message, "r.soundstage"));
      g_clear_error (&error);
      chmod (ro, 0755);
      g_autofree char *r2 = NULL;
      g_assert_true (g_file_get_contents (ropath, &r2, NULL, NULL));
      g_assert_cmpstr (r1, ==, r2);
    }

  /* saving through a symlink replaces the target, not the link */
  g_autofree char *link = g_build_filename (f->dir, "link.soundstage", NULL);
  g_assert_cmpint (symlink (path, link), ==, 0);
  g_assert_true (ss_project_save (f->p, link, &error));
  g_assert_no_error (error);
  g_assert_true (g_file_test (link, G_FILE_TEST_IS_SYMLINK));
}

static void
test_recovery (Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *rdir = ss_project_recovery_dir ();
  g_autofree char *expect_dir = g_build_filename (state_dir, "soundstage", "recovery", NULL);
  g_assert_cmpstr (rdir, ==, expect_dir);
  rm_rf (rdir);

  /* an unsaved project */
  g_assert_true (ss_project_autosave (f->p, &error));
  g_assert_no_error (error);
  g_autoptr(GPtrArray) list = ss_project_list_recoveries (NULL);
  g_assert_cmpuint (list->len, ==, 1);
  SsRecoveryInfo *info = list->pdata[0];
  g_assert_null (info->original_path);
  g_assert_null (ss_project_get_path (f->p));   /* no path change */
  g_assert_true (ss_project_get_dirty (f->p));  /* still dirty */
  g_autoptr(SsProject) rec = ss_project_load_recovery (info->recovery_path, &error);
  g_assert_no_error (error);
  g_assert_true (ss_project_get_dirty (rec));
  g_assert_null (ss_project_get_path (rec));
  g_autofree char *a = json (f->p);
  g_autofree char *b = json (rec);
  g_assert_cmpstr (a, ==, b);
  ss_project_remove_recovery (f->p);
  g_clear_pointer (&list, g_ptr_array_unref);
  list = ss_project_list_recoveries (NULL);
  g_assert_cmpuint (list->len, ==, 0);

  /* a saved project edited after its save */
  g_autofree char *path = g_build_filename (f->dir, "r.soundstage", NULL);
  g_assert_true (ss_project_save (f->p, path, &error));
  g_assert_true (ss_project_autosave (f->p, &error));     /* clean: nothing written */
  g_clear_pointer (&list, g_ptr_array_unref);
  list = ss_project_list_recoveries (NULL);
  g_assert_cmpuint (list->len, ==, 0);
  g_assert_true (ss_project_delete_clip (f->p, f->fx_clip, &error));
  /* make the project file clearly older than the recovery */
  struct utimbuf old_times = { .actime = 1000000000, .modtime = 1000000000 };
  g_assert_cmpint (utime (path, &old_times), ==, 0);
  g_assert_true (ss_project_autosave (f->p, &error));
  g_assert_no_error (error);
  g_clear_pointer (&list, g_ptr_array_unref);
  list = ss_project_list_recoveries (NULL);
  g_assert_cmpuint (list->len, ==, 1);
  info = list->pdata[0];
  g_assert_cmpstr (info->original_path, ==, path);

  /* recovering: the original path is remembered, media paths resolve */
  g_clear_object (&rec);
  rec = ss_project_load_recovery (info->recovery_path, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (ss_project_get_path (rec), ==, path);
  g_assert_true (ss_project_get_dirty (rec));
  g_assert_null (ss_project_find_clip (rec, f->fx_clip, NULL));
  g_assert_cmpuint (ss_project_count_missing_media (rec), ==, 0);
  g_autofree char *c = ss_project_to_json (f->p, NULL);
  g_autofree char *d = ss_project_to_json (rec, NULL);
  g_assert_cmpstr (c, ==, d);

  /* saving the recovered project deletes the recovery file */
  g_autofree char *rpath = g_strdup (info->recovery_path);
  g_assert_true (g_file_test (rpath, G_FILE_TEST_EXISTS));
  g_assert_true (ss_project_save (rec, path, &error));
  g_assert_false (g_file_test (rpath, G_FILE_TEST_EXISTS));

  /* a recovery older than its project is not offered */
  g_assert_true (ss_project_set_clip_gain (f->p, f->audio_clip, -4, &error));
  g_autofree char *explicit = g_build_filename (rdir, "manual" SS_PROJECT_RECOVERY_EXTENSION, NULL);
  g_assert_true (ss_project_write_recovery (f->p, explicit, &error));
  g_assert_cmpint (utime (explicit, &old_times), ==, 0);
  g_clear_pointer (&list, g_ptr_array_unref);
  list = ss_project_list_recoveries (NULL);
  g_assert_cmpuint (list->len, ==, 0);

  /* junk in the recovery folder is skipped */
  g_autofree char *junk = g_build_filename (rdir, "junk" SS_PROJECT_RECOVERY_EXTENSION, NULL);
  g_assert_true (g_file_set_contents (junk, "{not json", -1, NULL));
  g_clear_pointer (&list, g_ptr_array_unref);
  list = ss_project_list_recoveries (NULL);
  g_assert_cmpuint (list->len, ==, 0);
  g_assert_null (ss_project_load_recovery (junk, &error));
  g_assert_error (error, SS_ERROR, SS_ERROR_INVALID_DATA);
  g_assert_nonnull (strstr (error->message, "junk"));
  rm_rf (rdir);
}

/* ---- hostile documents ---- */

#define HDR "{\"format\":\"soundstage-project\",\"version\":1,"
#define MEDIA_OK "\"media\":[{\"id\":\"m1\",\"absolute_path\":\"/x/a.mp4\",\"has_video\":true,\"has_audio\":true,\"duration_us\":5000000}]"
#define VT(clips) "{\"id\":\"t1\",\"kind\":\"video\",\"clips\":[" clips "]}"
#define CLIP(id, start, dur) "{\"id\":\"" id "\",\"start_us\":" start ",\"duration_us\":" dur ",\"takes\":[{\"id\":\"k" id "\",\"media_id\":\"m1\"}]}"

typedef struct {
  const char *name;
  const char *doc;
  const char *expect;   /* substring of the message */
} Hostile;

static const Hostile hostile[] = {
  { "empty", "", "empty" },
  { "not json", "hello", "not valid JSON" },
  { "array root", "[1,2,3]", "not a Soundstage project" },
  { "string root", "\"soundstage-project\"", "not a Soundstage project" },
  { "wrong format", "{\"format\":\"other\",\"version\":1,\"tracks\":[]}", "not a Soundstage project" },
  { "format not string", "{\"format\":1,\"version\":1}", "not a Soundstage project" },
  { "version string", "{\"format\":\"soundstage-project\",\"version\":\"1\"}", "version" },
  { "version zero", "{\"format\":\"soundstage-project\",\"version\":0}", "version" },
  { "version float", "{\"format\":\"soundstage-project\",\"version\":1.5}", "version" },
  { "no tracks", HDR MEDIA_OK "}", "“tracks” is missing" },
  { "tracks object", HDR MEDIA_OK ",\"tracks\":{}}", "must be a list" },
  { "no video track", HDR MEDIA_OK ",\"tracks\":[]}", "no video track" },
  { "two video tracks", HDR MEDIA_OK ",\"tracks\":[" VT("") ",{\"id\":\"t2\",\"kind\":\"video\"}]}", "only one video track" },
  { "bad kind", HDR MEDIA_OK ",\"tracks\":[{\"id\":\"t1\",\"kind\":\"midi\"}]}", "“kind”" },
  { "media not object", HDR "\"media\":[1],\"tracks\":[" VT("") "]}", "media[0] must be an object" },
  { "media id number", HDR "\"media\":[{\"id\":7,\"absolute_path\":\"/a\",\"has_video\":true,\"has_audio\":false,\"duration_us\":5}],\"tracks\":[" VT("") "]}", "“id” must be a text" },
  { "media empty id", HDR "\"media\":[{\"id\":\"\",\"absolute_path\":\"/a\",\"has_video\":true,\"has_audio\":false,\"duration_us\":5}],\"tracks\":[" VT("") "]}", "empty id" },
  { "media id control char", HDR "\"media\":[{\"id\":\"a\\nb\",\"absolute_path\":\"/a\",\"has_video\":true,\"has_audio\":false,\"duration_us\":5}],\"tracks\":[" VT("") "]}", "characters" },
  { "media no path", HDR "\"media\":[{\"id\":\"m1\",\"has_video\":true,\"has_audio\":false,\"duration_us\":5}],\"tracks\":[" VT("") "]}", "no file name" },
  { "media relative absolute_path", HDR "\"media\":[{\"id\":\"m1\",\"absolute_path\":\"a.mp4\",\"has_video\":true,\"has_audio\":false,\"duration_us\":5}],\"tracks\":[" VT("") "]}", "absolute path" },
  { "media no streams", HDR "\"media\":[{\"id\":\"m1\",\"absolute_path\":\"/a\",\"has_video\":false,\"has_audio\":false,\"duration_us\":5}],\"tracks\":[" VT("") "]}", "neither video nor audio" },
  { "media bool as int", HDR "\"media\":[{\"id\":\"m1\",\"absolute_path\":\"/a\",\"has_video\":1,\"has_audio\":false,\"duration_us\":5}],\"tracks\":[" VT("") "]}", "true or false" },
  { "media negative duration", HDR "\"media\":[{\"id\":\"m1\",\"absolute_path\":\"/a\",\"has_video\":true,\"has_audio\":false,\"duration_us\":-5}],\"tracks\":[" VT("") "]}", "duration_us" },
  { "media huge duration", HDR "\"media\":[{\"id\":\"m1\",\"absolute_path\":\"/a\",\"has_video\":true,\"has_audio\":false,\"duration_us\":999999999999999999}],\"tracks\":[" VT("") "]}", "duration_us" },
  { "media overflowing number", HDR "\"media\":[{\"id\":\"m1\",\"absolute_path\":\"/a\",\"has_video\":true,\"has_audio\":false,\"duration_us\":99999999999999999999999}],\"tracks\":[" VT("") "]}", "too large" },
  { "media float duration", HDR "\"media\":[{\"id\":\"m1\",\"absolute_path\":\"/a\",\"has_video\":true,\"has_audio\":false,\"duration_us\":5.5}],\"tracks\":[" VT("") "]}", "whole number" },
  { "media width negative", HDR "\"media\":[{\"id\":\"m1\",\"absolute_path\":\"/a\",\"has_video\":true,\"has_audio\":false,\"duration_us\":5,\"width\":-1}],\"tracks\":[" VT("") "]}", "width" },
  { "media fps half", HDR "\"media\":[{\"id\":\"m1\",\"absolute_path\":\"/a\",\"has_video\":true,\"has_audio\":false,\"duration_us\":5,\"fps_num\":30}],\"tracks\":[" VT("") "]}", "frame rate" },
  { "duplicate media ids", HDR "\"media\":[{\"id\":\"m1\",\"absolute_path\":\"/a\",\"has_video\":true,\"has_audio\":false,\"duration_us\":5},{\"id\":\"m1\",\"absolute_path\":\"/b\",\"has_video\":true,\"has_audio\":false,\"duration_us\":5}],\"tracks\":[" VT("") "]}", "used twice" },
  { "duplicate track ids", HDR MEDIA_OK ",\"tracks\":[" VT("") ",{\"id\":\"t1\",\"kind\":\"audio\"}]}", "used twice" },
  { "duplicate clip ids", HDR MEDIA_OK ",\"tracks\":[" VT(CLIP("c1", "0", "1000") "," "{\"id\":\"c1\",\"start_us\":2000,\"duration_us\":10,\"takes\":[{\"id\":\"kx\",\"media_id\":\"m1\"}]}") "]}", "used twice" },
  { "duplicate take ids", HDR MEDIA_OK ",\"tracks\":[" VT(CLIP("c1", "0", "1000") "," "{\"id\":\"c2\",\"start_us\":2000,\"duration_us\":10,\"takes\":[{\"id\":\"kc1\",\"media_id\":\"m1\"}]}") "]}", "used twice" },
  { "overlapping clips", HDR MEDIA_OK ",\"tracks\":[" VT(CLIP("c1", "0", "1000") "," CLIP("c2", "999", "10")) "]}", "overlap" },
  { "dangling media ref", HDR MEDIA_OK ",\"tracks\":[" VT("{\"id\":\"c1\",\"start_us\":0,\"duration_us\":10,\"takes\":[{\"id\":\"k1\",\"media_id\":\"m9\"}]}") "]}", "not in the project" },
  { "clip past media end", HDR MEDIA_OK ",\"tracks\":[" VT(CLIP("c1", "0", "5000001")) "]}", "past the end" },
  { "negative clip duration", HDR MEDIA_OK ",\"tracks\":[" VT(CLIP("c1", "0", "-10")) "]}", "duration_us" },
  { "zero clip duration", HDR MEDIA_OK ",\"tracks\":[" VT(CLIP("c1", "0", "0")) "]}", "duration_us" },
  { "negative start", HDR MEDIA_OK ",\"tracks\":[" VT(CLIP("c1", "-1", "10")) "]}", "start_us" },
  { "start as string", HDR MEDIA_OK ",\"tracks\":[" VT(CLIP("c1", "\"0\"", "10")) "]}", "start_us" },
  { "huge exponent gain", HDR MEDIA_OK ",\"tracks\":[{\"id\":\"t1\",\"kind\":\"video\",\"gain_db\":1e999}]}", "gain_db" },
  { "gain out of range", HDR MEDIA_OK ",\"tracks\":[{\"id\":\"t1\",\"kind\":\"video\",\"gain_db\":-1e308}]}", "gain_db" },
  { "NaN literal", HDR MEDIA_OK ",\"tracks\":[{\"id\":\"t1\",\"kind\":\"video\",\"gain_db\":NaN}]}", "not valid JSON" },
  { "Infinity literal", HDR MEDIA_OK ",\"tracks\":[{\"id\":\"t1\",\"kind\":\"video\",\"gain_db\":Infinity}]}", "not valid JSON" },
  { "active take out of range", HDR MEDIA_OK ",\"tracks\":[" VT("{\"id\":\"c1\",\"start_us\":0,\"duration_us\":10,\"active_take\":1,\"takes\":[{\"id\":\"k1\",\"media_id\":\"m1\"}]}") "]}", "active_take" },
  { "no takes", HDR MEDIA_OK ",\"tracks\":[" VT("{\"id\":\"c1\",\"start_us\":0,\"duration_us\":10,\"takes\":[]}") "]}", "no takes" },
  { "takes not array", HDR MEDIA_OK ",\"tracks\":[" VT("{\"id\":\"c1\",\"start_us\":0,\"duration_us\":10,\"takes\":{}}") "]}", "must be a list" },
  { "audio media on video track", HDR "\"media\":[{\"id\":\"m1\",\"absolute_path\":\"/a\",\"has_video\":false,\"has_audio\":true,\"duration_us\":5000000}],\"tracks\":[" VT(CLIP("c1", "0", "10")) "]}", "no video" },
  { "source in past end", HDR MEDIA_OK ",\"tracks\":[" VT("{\"id\":\"c1\",\"start_us\":0,\"duration_us\":10,\"takes\":[{\"id\":\"k1\",\"media_id\":\"m1\",\"source_in_us\":4999995}]}") "]}", "past the end" },
  { "nul in string", HDR MEDIA_OK ",\"tracks\":[{\"id\":\"t1\\u0000x\",\"kind\":\"video\"}]}", "NUL" },
  { "name too long", NULL, "too long" },
  { "deep nesting", NULL, "nested too deeply" },
  { "too many media", NULL, "too many entries" },
  { "not utf8", HDR "\"media\":[],\"tracks\":[{\"id\":\"\xff\xfe\",\"kind\":\"video\"}]}", "UTF-8" },
  { "embedded nul byte", NULL, "UTF-8" },
  { "truncated", HDR MEDIA_OK ",\"tracks\":[" VT(CLIP("c1", "0", "1")), "not valid JSON" },
};

static char *
make_generated (const char *name, gsize *len)
{
  if (strcmp (name, "name too long") == 0)
    {
      g_autofree char *longname = g_strnfill (1000, 'a');
      char *s = g_strdup_printf (HDR "\"media\":[],\"tracks\":[{\"id\":\"t1\",\"kind\":\"video\",\"name\":\"%s\"}]}", longname);
      *len = strlen (s);
      return s;
    }
  if (strcmp (name, "deep nesting") == 0)
    {
      GString *s = g_string_new (HDR "\"media\":[],\"tracks\":[],\"extra\":");
      for (int i = 0; i < 100000; i++)
        g_string_append_c (s, '[');
      for (int i = 0; i < 100000; i++)
        g_string_append_c (s, ']');
      g_string_append_c (s, '}');
      *len = s->len;
      return g_string_free (s, FALSE);
    }
  if (strcmp (name, "too many media") == 0)
    {
      GString *s = g_string_new (HDR "\"media\":[");
      for (int i = 0; i < 10001; i++)
        g_string_append_printf (s, "%s{}", i ? "," : "");
      g_string_append (s, "],\"tracks\":[]}");
      *len = s->len;
      return g_string_free (s, FALSE);
    }
  if (strcmp (name, "embedded nul byte") == 0)
    {
      const char doc[] = HDR "\"media\":[],\"tracks\":[]}";
      char *s = g_memdup2 (doc, sizeof doc);
      s[20] = '\0';
      *len = sizeof doc - 1;
      return s;
    }
  g_assert_not_reached ();
}

static void
test_hostile_documents (void)
{
  for (gsize i = 0; i < G_N_ELEMENTS (hostile); i++)
    {
      const Hostile *h = &hostile[i];
      gsize len;
      g_autofree char *doc = h->doc ? g_strdup (h->doc) : make_generated (h->name, &len);
      if (h->doc)
        len = strlen (h->doc);
      g_autoptr(GError) error = NULL;
      g_autoptr(SsProject) p = ss_project_load_from_data (doc, len, "/tmp", &error);
      if (p != NULL || error == NULL || !g_error_matches (error, SS_ERROR, SS_ERROR_INVALID_DATA) ||
          strstr (error->message, h->expect) == NULL)
        g_error ("hostile document “%s”: expected an invalid-data error containing “%s”, got %s",
                 h->name, h->expect, error ? error->message : "success");
    }
}

static void
test_valid_minimal_document (void)
{
  /* the smallest accepted document, with optional fields left out */
  const char *doc = HDR MEDIA_OK ",\"tracks\":[" VT(CLIP("c1", "0", "1000")) ",{\"id\":\"a\",\"kind\":\"audio\",\"gain_db\":-6}]}";
  g_autoptr(GError) error = NULL;
  g_autoptr(SsProject) p = ss_project_load_from_data (doc, strlen (doc), NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (ss_project_get_n_tracks (p), ==, 2);
  g_assert_true (ss_project_get_media (p, 0)->missing);
  g_assert_cmpfloat (ss_project_get_track (p, 1)->gain_db, ==, -6.0);
  /* new ids do not collide with "c1"/"kc1" */
  const char *id = ss_project_split_clip (p, "c1", 500, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (id, !=, "c1");
  g_assert_cmpuint (ss_project_get_track (p, 0)->clips->len, ==, 2);
}

/* The shipped seed corpus: valid ones load, invalid ones are refused clearly. */
static void
test_fixture_files (void)
{
  const char *src = g_getenv ("SOUNDSTAGE_SOURCE_DIR");
  if (!src)
    {
      g_test_skip ("SOUNDSTAGE_SOURCE_DIR not set");
      return;
    }
  g_autofree char *dir = g_build_filename (src, "tests", "fixtures", "project", NULL);
  g_autoptr(GDir) d = g_dir_open (dir, 0, NULL);
  g_assert_nonnull (d);
  const char *name;
  guint n_valid = 0, n_invalid = 0;
  while ((name = g_dir_read_name (d)))
    {
      g_autofree char *path = g_build_filename (dir, name, NULL);
      g_autoptr(GError) error = NULL;
      g_autoptr(SsProject) p = ss_project_load (path, &error);
      if (g_str_has_prefix (name, "valid-"))
        {
          g_assert_no_error (error);
          g_assert_nonnull (p);
          /* media under /home/user/... does not exist: kept as missing */
          g_assert_cmpuint (ss_project_count_missing_media (p), ==, ss_project_get_n_media (p));
          n_valid++;
        }
      else if (g_str_has_prefix (name, "invalid-"))
        {
          g_assert_null (p);
          g_assert_nonnull (error);
          g_assert_true (g_error_matches (error, SS_ERROR, SS_ERROR_INVALID_DATA) ||
                         g_error_matches (error, SS_ERROR, SS_ERROR_UNSUPPORTED));
          g_assert_nonnull (strstr (error->message, name));
          n_invalid++;
        }
    }
  g_assert_cmpuint (n_valid, >=, 3);
  g_assert_cmpuint (n_invalid, >=, 5);
}

int
main (int argc, char **argv)
{
  /* Recovery files go to a private state dir (read once by GLib). */
  state_dir = make_tmp_dir ();
  g_setenv ("XDG_STATE_HOME", state_dir, TRUE);
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/project/new", test_new_project);
  g_test_add ("/project/edit-validation", Fixture, NULL, fixture_setup, test_edit_validation, fixture_teardown);
  g_test_add ("/project/split-and-trim", Fixture, NULL, fixture_setup, test_split_and_trim, fixture_teardown);
  g_test_add ("/project/shift-track", Fixture, NULL, fixture_setup, test_shift_track, fixture_teardown);
  g_test_add ("/project/undo-every-edit", Fixture, NULL, fixture_setup, test_undo_every_edit, fixture_teardown);
  g_test_add ("/project/groups", Fixture, NULL, fixture_setup, test_groups, fixture_teardown);
  g_test_add ("/project/redo-invalidation", Fixture, NULL, fixture_setup, test_redo_invalidation, fixture_teardown);
  g_test_add ("/project/ids-never-reused", Fixture, NULL, fixture_setup, test_ids_never_reused, fixture_teardown);
  g_test_add_func ("/project/undo-cap", test_undo_cap);
  g_test_add ("/project/dirty-and-changed", Fixture, NULL, fixture_setup, test_dirty_and_changed, fixture_teardown);
  g_test_add_func ("/project/insert-media", test_insert_media);
  g_test_add_func ("/project/audible", test_audible);
  g_test_add ("/project/snapshot", Fixture, NULL, fixture_setup, test_snapshot, fixture_teardown);
  g_test_add ("/project/json-round-trip", Fixture, NULL, fixture_setup, test_json_round_trip, fixture_teardown);
  g_test_add ("/project/paths", Fixture, NULL, fixture_setup, test_paths_relative_absolute_missing, fixture_teardown);
  g_test_add_func ("/project/newer-version-refused", test_newer_version_refused);
  g_test_add_func ("/project/load-errors", test_load_errors);
  g_test_add ("/project/save-atomic", Fixture, NULL, fixture_setup, test_save_atomic, fixture_teardown);
  g_test_add ("/project/recovery", Fixture, NULL, fixture_setup, test_recovery, fixture_teardown);
  g_test_add_func ("/project/hostile-documents", test_hostile_documents);
  g_test_add_func ("/project/valid-minimal-document", test_valid_minimal_document);
  g_test_add_func ("/project/fixture-files", test_fixture_files);

  int ret = g_test_run ();
  rm_rf (state_dir);
  g_free (state_dir);
  return ret;
}
