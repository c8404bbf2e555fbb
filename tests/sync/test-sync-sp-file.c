/* "Check sync" on a media file: a generated clip written as H.264 + FLAC comes back
 * with its offset, and files it cannot analyse give messages that name the file
 * and say why (audio only, no audio stream, too short). */
#include "models/ss-corpus.h"
#include "models/sync/ss-sync-sp.h"
#include "media/ss-media.h"
#include "ss-types.h"

#include <glib/gstdio.h>
#include <math.h>
#include <string.h>

static char *tmpdir;

static void
write_clip (const SsCorpusClip *clip, const char *path, gboolean with_video, gboolean with_audio)
{
  const SsCorpusParams *p = &clip->params;
  g_autoptr (GError) error = NULL;
  SsEncoder *enc = ss_encoder_new (path, with_video ? p->width : 0, with_video ? p->height : 0, p->fps, 1,
                                   with_audio ? p->sample_rate : 0, 1, &error);
  g_assert_no_error (error);
  gsize spf = (gsize) p->sample_rate / p->fps;
  for (int f = 0; f < clip->n_frames; f++)
    {
      if (with_video)
        {
          g_autoptr (SsFrame) frame = ss_frame_new (p->width, p->height);
          for (int y = 0; y < p->height; y++)
            memcpy (frame->data + (gsize) y * frame->stride, ss_corpus_clip_frame (clip, f) + (gsize) y * p->width * 4,
                    (gsize) p->width * 4);
          frame->index = f;
          frame->pts = (SsTime) f * SS_TIME_SECOND / p->fps;
          g_assert_true (ss_encoder_write_video (enc, frame, &error));
        }
      if (with_audio)
        g_assert_true (ss_encoder_write_audio (enc, clip->audio + (gsize) f * spf, spf, &error));
    }
  g_assert_true (ss_encoder_finish (enc, &error));
  ss_encoder_free (enc);
}

/* Seed 34: a scene whose in-memory estimate is clear (SP accuracy itself is tested
 * in test-sync-sp.c); here the point is what the file path adds: H.264, FLAC,
 * decoding and scaling. */
static SsCorpusClip *
make (double offset, double duration)
{
  SsCorpusParams p;
  ss_corpus_params_init (&p, SS_CORPUS_EASY);
  p.seed = 34;
  p.width = p.height = 128;
  p.offset = offset;
  p.duration = duration;
  g_autoptr (GError) error = NULL;
  SsCorpusClip *c = ss_corpus_generate (&p, &error);
  g_assert_no_error (error);
  return c;
}

static void
test_file_offset (void)
{
  g_autoptr (SsCorpusClip) clip = make (-1.2, 8.0);
  g_autofree char *path = g_build_filename (tmpdir, "shifted.mkv", NULL);
  write_clip (clip, path, TRUE, TRUE);
  g_autoptr (GError) error = NULL;
  g_autoptr (SsSyncSpResult) r = ss_sync_sp_analyse_file (path, NULL, NULL, &error);
  g_assert_no_error (error);
  g_test_message ("file: %+.2f s, class %d, confidence %.2f", r->overall.offset, r->overall.class_index,
                  r->overall.confidence);
  g_assert_cmpint (abs (r->overall.class_index - ss_sync_offset_class (-1.2)), <=, 1);
  /* and close to what the frames and samples in memory give */
  g_autofree const guint8 **frames = g_new (const guint8 *, clip->n_frames);
  for (int i = 0; i < clip->n_frames; i++)
    frames[i] = ss_corpus_clip_frame (clip, i);
  SsSyncSpVideo v = { clip->params.width, clip->params.height, clip->params.width * 4, clip->n_frames,
                      clip->params.fps, frames };
  g_autoptr (SsSyncSpResult) m = ss_sync_sp_analyse (&v, clip->audio, clip->n_samples, clip->params.sample_rate,
                                                     NULL, NULL, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpfloat (fabs (m->overall.offset - r->overall.offset), <, 0.1);
  g_assert_cmpfloat_with_epsilon (r->duration, 8.0, 0.1);
  g_assert_cmpint (r->n_windows, ==, 4);
  g_unlink (path);
}

static void
test_file_errors (void)
{
  g_autoptr (SsCorpusClip) clip = make (0.0, 6.0);
  g_autoptr (GError) error = NULL;

  g_autofree char *audio_only = g_build_filename (tmpdir, "sound.wav", NULL);
  g_assert_true (ss_wav_write (audio_only, clip->audio, clip->n_samples, clip->params.sample_rate, 1, &error));
  g_assert_null (ss_sync_sp_analyse_file (audio_only, NULL, NULL, &error));
  g_assert_nonnull (error);
  g_assert_nonnull (strstr (error->message, "sound.wav"));
  g_assert_nonnull (strstr (error->message, "audio only"));
  g_clear_error (&error);

  g_autofree char *silent_film = g_build_filename (tmpdir, "picture.mkv", NULL);
  write_clip (clip, silent_film, TRUE, FALSE);
  g_assert_null (ss_sync_sp_analyse_file (silent_film, NULL, NULL, &error));
  g_assert_nonnull (strstr (error->message, "picture.mkv"));
  g_assert_nonnull (strstr (error->message, "no audio stream"));
  g_clear_error (&error);

  g_autoptr (SsCorpusClip) short_clip = make (0.0, 3.0);
  g_autofree char *short_path = g_build_filename (tmpdir, "short.mkv", NULL);
  write_clip (short_clip, short_path, TRUE, TRUE);
  g_assert_null (ss_sync_sp_analyse_file (short_path, NULL, NULL, &error));
  g_assert_nonnull (strstr (error->message, "short.mkv"));
  g_assert_nonnull (strstr (error->message, "4.8 s"));
  g_clear_error (&error);

  g_autofree char *missing = g_build_filename (tmpdir, "missing.mkv", NULL);
  g_assert_null (ss_sync_sp_analyse_file (missing, NULL, NULL, &error));
  g_assert_error (error, SS_ERROR, SS_ERROR_NOT_FOUND);
  g_clear_error (&error);

  g_unlink (audio_only);
  g_unlink (silent_film);
  g_unlink (short_path);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  tmpdir = g_dir_make_tmp ("ss-sync-file-XXXXXX", NULL);
  g_test_add_func ("/sync/sp-file/offset", test_file_offset);
  g_test_add_func ("/sync/sp-file/errors", test_file_errors);
  int rc = g_test_run ();
  g_rmdir (tmpdir);
  g_free (tmpdir);
  return rc;
}
