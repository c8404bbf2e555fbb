/* Export: the exported video shows the timeline's frames (black where there is
 * no clip) with the mixed audio; stems hold each track; cancel leaves nothing. */
#include <math.h>
#include <string.h>
#include <glib/gstdio.h>
#include "ss-test-pattern.h"
#include "audio/ss-mixer.h"
#include "media/ss-export.h"
#include "project/ss-project.h"

#define RATE SS_MIX_RATE

static char *tmpdir;

static char *
write_tone (const char *name, double hz, double amp, double seconds)
{
  g_autoptr(GError) error = NULL;
  gsize n = (gsize) (seconds * RATE);
  g_autofree float *buf = g_new (float, n * 2);
  char *path = g_build_filename (tmpdir, name, NULL);

  for (gsize i = 0; i < n; i++)
    buf[2 * i] = buf[2 * i + 1] = (float) (amp * sin (2 * G_PI * hz * i / RATE));
  g_assert_true (ss_wav_write (path, buf, n, RATE, 2, &error));
  return path;
}

static const char *
track_of_kind (SsProject *p, SsTrackKind kind)
{
  for (guint i = 0; i < ss_project_get_n_tracks (p); i++)
    if (ss_project_get_track (p, i)->kind == kind)
      return ss_project_get_track (p, i)->id;
  return NULL;
}

/* Video: pattern clip (frames 0..49) placed at 0.4 s from source 0.2 s for 1.2 s;
 * so timeline frame k (25 fps) shows source frame k - 10 + 5 for k in [10, 40),
 * black before. Audio 1: 330 Hz at 0.3 from 0 to 2 s; Audio 2: 880 Hz at 0.2
 * from 1 s to 2 s. Project length 2 s. */
static SsProject *
make_project (void)
{
  g_autoptr(GError) error = NULL;
  SsProject *p = ss_project_new ();
  SsTestPattern pat;
  g_autofree char *video = g_build_filename (tmpdir, "pattern.mp4", NULL);
  g_autofree char *a1 = write_tone ("a1.wav", 330, 0.3, 2.0);
  g_autofree char *a2 = write_tone ("a2.wav", 880, 0.2, 2.0);
  const char *mv, *m1, *m2, *t2;

  ss_test_pattern_init (&pat);
  pat.sample_rate = 0;
  pat.gop = 10;
  if (!g_file_test (video, G_FILE_TEST_EXISTS))
    {
      ss_test_pattern_write (video, &pat, &error);
      g_assert_no_error (error);
    }
  mv = ss_test_add_media (p, video);
  m1 = ss_test_add_media (p, a1);
  m2 = ss_test_add_media (p, a2);
  ss_project_add_clip (p, track_of_kind (p, SS_TRACK_VIDEO), mv, 400 * SS_TIME_MS, 200 * SS_TIME_MS,
                       1200 * SS_TIME_MS, &error);
  g_assert_no_error (error);
  ss_project_add_clip (p, track_of_kind (p, SS_TRACK_AUDIO), m1, 0, 0, 2 * SS_TIME_SECOND, &error);
  g_assert_no_error (error);
  t2 = ss_project_add_track (p, SS_TRACK_AUDIO, "Foley: steps", &error);
  g_assert_no_error (error);
  ss_project_add_clip (p, t2, m2, SS_TIME_SECOND, 0, SS_TIME_SECOND, &error);
  g_assert_no_error (error);
  g_assert_cmpint (ss_project_get_duration (p), ==, 2 * SS_TIME_SECOND);
  return p;
}

static double
frame_mean (const SsFrame *f)
{
  double s = 0;
  for (int y = 0; y < f->height; y++)
    for (int x = 0; x < f->width; x++)
      {
        const guint8 *px = f->data + (gsize) y * f->stride + (gsize) x * 4;
        s += px[0] + px[1] + px[2];
      }
  return s / (3.0 * f->width * f->height);
}

static void
progress_count (double fraction, gpointer data)
{
  double *last = data;
  g_assert_cmpfloat (fraction, >=, *last);
  g_assert_cmpfloat (fraction, <=, 1.0);
  *last = fraction;
}

static void
test_video_round_trip (void)
{
  g_autoptr(SsProject) p = make_project ();
  g_autoptr(GError) error = NULL;
  g_autofree char *out = g_build_filename (tmpdir, "export.mp4", NULL);
  g_autoptr(SsVideoDecoder) dec = NULL;
  g_autoptr(SsAudioReader) r = NULL;
  g_autoptr(SsMixer) mixer = ss_mixer_new ();
  SsMedia info;
  double last = 0;
  g_autofree float *got = g_new (float, RATE * 2 * 2);
  g_autofree float *want = g_new (float, RATE * 2 * 2);

  g_assert_true (ss_export_video (p, out, NULL, progress_count, &last, NULL, &error));
  g_assert_no_error (error);
  g_assert_cmpfloat (last, ==, 1.0);

  g_assert_true (ss_media_probe (out, &info, &error));
  g_assert_true (info.has_video && info.has_audio);
  g_assert_cmpint (info.width, ==, 320);
  g_assert_cmpint (info.height, ==, 240);
  g_assert_cmpint (info.fps_num, ==, 25);
  g_assert_cmpint (info.fps_den, ==, 1);
  g_assert_cmpint (info.sample_rate, ==, RATE);
  g_assert_cmpint (info.duration, >=, 2 * SS_TIME_SECOND - 30 * SS_TIME_MS);
  g_assert_cmpint (info.duration, <=, 2 * SS_TIME_SECOND + 60 * SS_TIME_MS);
  ss_media_clear (&info);

  dec = ss_video_decoder_new (out, &error);
  g_assert_no_error (error);
  for (int k = 0; k < 50; k++)
    {
      g_autoptr(SsFrame) f = ss_video_decoder_get_frame_index (dec, k, &error);
      g_assert_no_error (error);
      if (k >= 10 && k < 40)
        g_assert_cmpint (ss_test_pattern_read (f), ==, k - 10 + 5);
      else
        g_assert_cmpfloat (frame_mean (f), <, 20.0);   /* black */
    }

  /* the audio is the mix (AAC: compare RMS error) */
  ss_mixer_set_project (mixer, p);
  g_assert_true (ss_mixer_render (mixer, 0, want, RATE * 2, NULL, &error));
  r = ss_audio_reader_new (out, RATE, 2, &error);
  g_assert_no_error (error);
  g_assert_cmpint (ss_audio_reader_read (r, 0, got, RATE * 2, &error), >=, RATE * 2 - 1024);
  {
    double se = 0, sw = 0;
    for (gsize i = 2400 * 2; i < (gsize) (RATE * 2 - 2400) * 2; i++)
      {
        se += (got[i] - want[i]) * (got[i] - want[i]);
        sw += want[i] * want[i];
      }
    g_assert_cmpfloat (sqrt (se / sw), <, 0.1);   /* within -20 dB of the mix */
  }
}

static void
test_stems (void)
{
  g_autoptr(SsProject) p = make_project ();
  g_autoptr(GError) error = NULL;
  g_autofree char *dir = g_build_filename (tmpdir, "stems", NULL);
  g_auto(GStrv) paths = NULL;
  g_autoptr(SsMixer) mixer = ss_mixer_new ();
  guint k = 0;

  g_assert_cmpint (g_mkdir (dir, 0700), ==, 0);
  g_assert_true (ss_export_stems (p, dir, NULL, NULL, NULL, &error));
  g_assert_no_error (error);
  paths = ss_export_stem_paths (p, dir);
  g_assert_cmpuint (g_strv_length (paths), ==, 2);
  g_assert_true (g_str_has_suffix (paths[1], "02 Foley_ steps.wav"));
  ss_mixer_set_project (mixer, p);
  for (guint i = 0; i < ss_project_get_n_tracks (p); i++)
    {
      const SsTrack *t = ss_project_get_track (p, i);
      g_autofree float *data = NULL;
      g_autofree float *want = g_new (float, 2 * RATE * 2);
      gsize n = 0;
      int rate = 0, ch = 0;
      if (t->kind != SS_TRACK_AUDIO)
        continue;
      g_assert_true (ss_wav_read (paths[k++], &data, &n, &rate, &ch, &error));
      g_assert_no_error (error);
      g_assert_cmpint (rate, ==, RATE);
      g_assert_cmpint (ch, ==, 2);
      g_assert_cmpuint (n, ==, 2 * RATE);
      g_assert_true (ss_mixer_render (mixer, 0, want, n, t->id, &error));
      g_assert_cmpmem (data, n * 2 * sizeof (float), want, n * 2 * sizeof (float));
    }
}

typedef struct {
  GCancellable *c;
  int calls, at;
} CancelAfter;

static void
cancel_after (double fraction, gpointer data)
{
  CancelAfter *ca = data;
  if (++ca->calls == ca->at)
    g_cancellable_cancel (ca->c);
}

static guint
count_files (const char *dir)
{
  GDir *d = g_dir_open (dir, 0, NULL);
  guint n = 0;
  while (g_dir_read_name (d))
    n++;
  g_dir_close (d);
  return n;
}

static void
test_cancel_leaves_nothing (void)
{
  g_autoptr(SsProject) p = make_project ();
  g_autoptr(GError) error = NULL;
  g_autofree char *out = g_build_filename (tmpdir, "cancelled.mp4", NULL);
  g_autofree char *old = g_build_filename (tmpdir, "existing.mp4", NULL);
  g_autofree char *contents = NULL;
  CancelAfter ca = { g_cancellable_new (), 0, 5 };
  guint before = count_files (tmpdir);

  g_assert_false (ss_export_video (p, out, NULL, cancel_after, &ca, ca.c, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_clear_error (&error);
  g_assert_false (g_file_test (out, G_FILE_TEST_EXISTS));
  g_assert_cmpuint (count_files (tmpdir), ==, before);   /* no temporary file left */

  /* an existing file at the destination is untouched by a cancelled export */
  g_assert_true (g_file_set_contents (old, "precious", -1, NULL));
  g_cancellable_reset (ca.c);
  ca.calls = 0;
  g_assert_false (ss_export_video (p, old, NULL, cancel_after, &ca, ca.c, &error));
  g_clear_error (&error);
  g_assert_true (g_file_get_contents (old, &contents, NULL, NULL));
  g_assert_cmpstr (contents, ==, "precious");

  /* stems too */
  {
    g_autofree char *dir = g_build_filename (tmpdir, "stems-cancel", NULL);
    g_assert_cmpint (g_mkdir (dir, 0700), ==, 0);
    g_cancellable_reset (ca.c);
    ca.calls = 0;
    ca.at = 2;
    g_assert_false (ss_export_stems (p, dir, cancel_after, &ca, ca.c, &error));
    g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
    g_assert_cmpuint (count_files (dir), ==, 0);
  }
  g_object_unref (ca.c);
}

static void
job_progress (SsJob *job, double fraction, const char *status, gpointer data)
{
  (*(int *) data)++;
}

static void
test_export_job (void)
{
  g_autoptr(SsProject) p = make_project ();
  g_autoptr(GError) error = NULL;
  g_autofree char *out = g_build_filename (tmpdir, "job.mp4", NULL);
  g_autoptr(SsJob) job = ss_export_video_job_new (p, out);
  int calls = 0;

  g_assert_true (ss_job_run_sync (job, job_progress, &calls, &error));
  g_assert_no_error (error);
  g_assert_cmpint (ss_job_get_state (job), ==, SS_JOB_SUCCEEDED);
  g_assert_cmpstr (ss_job_get_result (job), ==, out);
  g_assert_true (g_file_test (out, G_FILE_TEST_IS_REGULAR));
}

static void
test_empty_project (void)
{
  g_autoptr(SsProject) p = ss_project_new ();
  g_autoptr(GError) error = NULL;
  g_autofree char *out = g_build_filename (tmpdir, "empty.mp4", NULL);

  g_assert_false (ss_export_video (p, out, NULL, NULL, NULL, NULL, &error));
  g_assert_error (error, SS_ERROR, SS_ERROR_INVALID_DATA);
  g_assert_false (g_file_test (out, G_FILE_TEST_EXISTS));
}

int
main (int argc, char **argv)
{
  int ret;

  g_test_init (&argc, &argv, NULL);
  tmpdir = ss_test_tmpdir ();
  g_test_add_func ("/export/video-round-trip", test_video_round_trip);
  g_test_add_func ("/export/stems", test_stems);
  g_test_add_func ("/export/cancel", test_cancel_leaves_nothing);
  g_test_add_func ("/export/job", test_export_job);
  g_test_add_func ("/export/empty", test_empty_project);
  ret = g_test_run ();
  ss_test_rmdir (tmpdir);
  return ret;
}
