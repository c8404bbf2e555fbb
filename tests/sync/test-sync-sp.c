/* The signal-processing sync estimate: what a person gets from "Check sync" when
 * no model is installed. It must find known shifts on generated clips, say when it
 * has no idea, and refuse clips it cannot analyse with a clear message. */
#include "models/ss-corpus.h"
#include "models/sync/ss-sync-sp.h"
#include "ss-types.h"

#include <math.h>
#include <string.h>

typedef struct {
  SsCorpusClip  *clip;
  const guint8 **frames;
  SsSyncSpVideo  video;
} Clip;

static void
clip_make (Clip *c, SsCorpusDifficulty d, guint64 seed, double offset, double duration)
{
  SsCorpusParams p;
  ss_corpus_params_init (&p, d);
  p.seed = seed;
  p.offset = offset;
  p.duration = duration;
  p.width = p.height = 128;
  g_autoptr (GError) error = NULL;
  c->clip = ss_corpus_generate (&p, &error);
  g_assert_no_error (error);
  c->frames = g_new (const guint8 *, c->clip->n_frames);
  for (int i = 0; i < c->clip->n_frames; i++)
    c->frames[i] = ss_corpus_clip_frame (c->clip, i);
  c->video = (SsSyncSpVideo) { p.width, p.height, p.width * 4, c->clip->n_frames, p.fps, c->frames };
}

static void
clip_clear (Clip *c)
{
  g_free (c->frames);
  ss_corpus_clip_free (c->clip);
}

static void
test_fft (void)
{
  /* against a direct DFT */
  const int n = 64;
  float x[2 * 64], y[2 * 64];
  for (int i = 0; i < n; i++)
    {
      x[2 * i] = (float) sin (0.3 * i * i) + 0.1f * i;
      x[2 * i + 1] = (float) cos (0.7 * i);
    }
  memcpy (y, x, sizeof x);
  ss_sync_sp_fft (y, n);
  for (int k = 0; k < n; k++)
    {
      double re = 0, im = 0;
      for (int i = 0; i < n; i++)
        {
          double a = -2 * G_PI * k * i / n;
          re += x[2 * i] * cos (a) - x[2 * i + 1] * sin (a);
          im += x[2 * i] * sin (a) + x[2 * i + 1] * cos (a);
        }
      g_assert_cmpfloat_with_epsilon (y[2 * k], re, 1e-3);
      g_assert_cmpfloat_with_epsilon (y[2 * k + 1], im, 1e-3);
    }
}

/* Known shifts on moderate clips (camera shake, distractors, an unseen sound, noise):
 * the class must be within one of the truth (0.2 s). Three scenes per shift. */
static void
test_recovers_shifts (void)
{
  const double shifts[] = { -1.6, -0.4, 0.0, 0.6, 1.8 };
  const guint64 seeds[] = { 11, 12, 13 };
  int within = 0, exact = 0, total = 0;
  for (guint i = 0; i < G_N_ELEMENTS (shifts); i++)
    {
      int ok_here = 0;
      for (guint j = 0; j < G_N_ELEMENTS (seeds); j++)
        {
          Clip c;
          clip_make (&c, SS_CORPUS_MODERATE, seeds[j] * 100 + i, shifts[i], 8.0);
          g_autoptr (GError) error = NULL;
          g_autoptr (SsSyncSpResult) r = ss_sync_sp_analyse (&c.video, c.clip->audio, c.clip->n_samples,
                                                             c.clip->params.sample_rate, NULL, "clip", NULL, &error);
          g_assert_no_error (error);
          int truth = ss_sync_offset_class (shifts[i]);
          int got = r->overall.class_index;
          g_test_message ("shift %+.1f seed %d: %+.2f s (class %d, truth %d), confidence %.2f", shifts[i],
                          (int) c.clip->params.seed, r->overall.offset, got, truth, r->overall.confidence);
          double psum = 0;
          for (int k = 0; k < SS_SYNC_N_CLASSES; k++)
            psum += r->overall.probs[k];
          g_assert_cmpfloat_with_epsilon (psum, 1.0, 1e-9);
          ok_here += abs (got - truth) <= 1;
          within += abs (got - truth) <= 1;
          exact += got == truth;
          total++;
          clip_clear (&c);
        }
      g_assert_cmpint (ok_here, >=, 2);   /* each shift found in most scenes */
    }
  g_test_message ("%d of %d within one class, %d exact", within, total, exact);
  g_assert_cmpint (within, >=, total - 2);
}

/* Audio that has nothing to do with the picture: confidence must be low, and lower
 * than with the real sound. */
static void
test_unrelated_audio_low_confidence (void)
{
  double conf_noise = 0, conf_real = 0;
  const int n = 4;
  for (int s = 0; s < n; s++)
    {
      Clip c;
      clip_make (&c, SS_CORPUS_EASY, 500 + s, 0.4, 8.0);
      SsRng rng;
      ss_rng_init (&rng, 77 + s);
      g_autofree float *noise = g_new (float, c.clip->n_samples);
      for (gsize i = 0; i < c.clip->n_samples; i++)
        noise[i] = (float) (0.1 * ss_rng_normal (&rng));
      g_autoptr (GError) error = NULL;
      g_autoptr (SsSyncSpResult) rn = ss_sync_sp_analyse (&c.video, noise, c.clip->n_samples, 16000, NULL, NULL, NULL, &error);
      g_assert_no_error (error);
      g_autoptr (SsSyncSpResult) rr = ss_sync_sp_analyse (&c.video, c.clip->audio, c.clip->n_samples, 16000, NULL, NULL, NULL, &error);
      g_assert_no_error (error);
      g_test_message ("scene %d: confidence %.2f with noise, %.2f with its sound", s, rn->overall.confidence,
                      rr->overall.confidence);
      g_assert_cmpfloat (rn->overall.confidence, <, 0.5);
      conf_noise += rn->overall.confidence / n;
      conf_real += rr->overall.confidence / n;
      /* no class stands out */
      double pmax = 0;
      for (int k = 0; k < SS_SYNC_N_CLASSES; k++)
        pmax = MAX (pmax, rn->overall.probs[k]);
      g_assert_cmpfloat (pmax, <, 0.5);
      clip_clear (&c);
    }
  g_assert_cmpfloat (conf_noise, <, 0.3);
  g_assert_cmpfloat (conf_real, >, conf_noise + 0.3);
}

/* A long clip: offset over time in 4.8 s windows. */
static void
test_sliding_windows (void)
{
  Clip c;
  clip_make (&c, SS_CORPUS_EASY, 900, -0.8, 12.0);
  SsSyncSpOptions opt;
  ss_sync_sp_options_init (&opt);
  opt.hop = 1.0;
  g_autoptr (GError) error = NULL;
  g_autoptr (SsSyncSpResult) r = ss_sync_sp_analyse (&c.video, c.clip->audio, c.clip->n_samples, 16000, &opt, NULL, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpint (r->n_windows, ==, 8);   /* starts 0..7 s */
  int good = 0;
  for (int w = 0; w < r->n_windows; w++)
    {
      g_assert_cmpfloat_with_epsilon (r->window_start[w], w * 1.0, 1e-9);
      good += abs (r->windows[w].class_index - ss_sync_offset_class (-0.8)) <= 1;
    }
  g_assert_cmpint (good, >=, r->n_windows * 3 / 4);
  g_assert_cmpint (abs (r->overall.class_index - ss_sync_offset_class (-0.8)), <=, 1);
  g_assert_cmpint (r->n_lags, ==, 401);
  clip_clear (&c);
}

static void
test_bad_input (void)
{
  Clip c;
  clip_make (&c, SS_CORPUS_EASY, 3, 0.0, 6.0);
  g_autoptr (GError) error = NULL;

  /* shorter than 4.8 s */
  SsSyncSpVideo v = c.video;
  v.n_frames = 100;   /* 4 s */
  g_assert_null (ss_sync_sp_analyse (&v, c.clip->audio, c.clip->n_samples, 16000, NULL, "short.mp4", NULL, &error));
  g_assert_error (error, SS_ERROR, SS_ERROR_INVALID_DATA);
  g_assert_nonnull (strstr (error->message, "short.mp4"));
  g_assert_nonnull (strstr (error->message, "4.0 s"));
  g_assert_nonnull (strstr (error->message, "4.8 s"));
  g_clear_error (&error);

  /* audio shorter than 4.8 s counts too */
  g_assert_null (ss_sync_sp_analyse (&c.video, c.clip->audio, 16000 * 3, 16000, NULL, NULL, NULL, &error));
  g_assert_error (error, SS_ERROR, SS_ERROR_INVALID_DATA);
  g_clear_error (&error);

  /* no audio */
  g_assert_null (ss_sync_sp_analyse (&c.video, NULL, 0, 16000, NULL, "video-only.mp4", NULL, &error));
  g_assert_error (error, SS_ERROR, SS_ERROR_INVALID_DATA);
  g_assert_nonnull (strstr (error->message, "no audio"));
  g_clear_error (&error);

  /* no video */
  v = c.video;
  v.n_frames = 0;
  g_assert_null (ss_sync_sp_analyse (&v, c.clip->audio, c.clip->n_samples, 16000, NULL, "audio-only.wav", NULL, &error));
  g_assert_error (error, SS_ERROR, SS_ERROR_INVALID_DATA);
  g_assert_nonnull (strstr (error->message, "no video"));
  g_clear_error (&error);

  /* digital silence */
  g_autofree float *silence = g_new0 (float, c.clip->n_samples);
  g_assert_null (ss_sync_sp_analyse (&c.video, silence, c.clip->n_samples, 16000, NULL, NULL, NULL, &error));
  g_assert_error (error, SS_ERROR, SS_ERROR_INVALID_DATA);
  g_assert_nonnull (strstr (error->message, "silent"));
  g_clear_error (&error);

  /* cancelled */
  g_autoptr (GCancellable) cancel = g_cancellable_new ();
  g_cancellable_cancel (cancel);
  g_assert_null (ss_sync_sp_analyse (&c.video, c.clip->audio, c.clip->n_samples, 16000, NULL, NULL, cancel, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  clip_clear (&c);
}

/* Features: an isolated sound gives an onset peak at its time; a flash a motion peak. */
static void
test_features_timing (void)
{
  SsCorpusParams p;
  ss_corpus_params_init (&p, SS_CORPUS_EASY);
  p.seed = 21;
  p.width = p.height = 96;
  p.duration = 5.0;
  p.n_events = 1;
  p.kinds = SS_CORPUS_KIND_BIT (SS_CORPUS_EVENT_FLASH);
  g_autoptr (GError) error = NULL;
  g_autoptr (SsCorpusClip) clip = ss_corpus_generate (&p, &error);
  g_assert_no_error (error);
  /* a lamp flashes one to three times: the strongest onset and the strongest change
   * of the picture must each be at one of the labelled times */
  double d_audio = 1e9, d_video = 1e9;

  gsize n_on = 0;
  g_autofree float *on = ss_sync_sp_audio_onsets (clip->audio, clip->n_samples, 16000, &n_on);
  g_assert_cmpuint (n_on, ==, clip->n_samples / 160 + 1);
  gsize best = 0;
  for (gsize i = 0; i < n_on; i++)
    if (on[i] > on[best])
      best = i;
  for (guint i = 0; i < clip->events->len; i++)
    d_audio = MIN (d_audio, fabs (best / 100.0 - g_array_index (clip->events, SsCorpusEvent, i).audio_time));
  g_assert_cmpfloat (d_audio, <, 0.04);

  g_autofree const guint8 **frames = g_new (const guint8 *, clip->n_frames);
  for (int i = 0; i < clip->n_frames; i++)
    frames[i] = ss_corpus_clip_frame (clip, i);
  SsSyncSpVideo v = { p.width, p.height, p.width * 4, clip->n_frames, p.fps, frames };
  gsize n_mo = 0;
  g_autofree float *mo = ss_sync_sp_motion_energy (&v, NULL, &n_mo);
  g_assert_cmpuint (n_mo, ==, (gsize) clip->n_frames);
  gsize bm = 1;
  for (gsize k = 1; k < n_mo; k++)
    if (mo[k] > mo[bm])
      bm = k;
  /* change from frame k-1 to k: the flash shows in the first frame at or after its time */
  for (guint i = 0; i < clip->events->len; i++)
    d_video = MIN (d_video, fabs ((bm - 0.5) / p.fps - g_array_index (clip->events, SsCorpusEvent, i).time));
  g_assert_cmpfloat (d_video, <, 0.05);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/sync/sp/fft", test_fft);
  g_test_add_func ("/sync/sp/features-timing", test_features_timing);
  g_test_add_func ("/sync/sp/recovers-shifts", test_recovers_shifts);
  g_test_add_func ("/sync/sp/unrelated-audio", test_unrelated_audio_low_confidence);
  g_test_add_func ("/sync/sp/sliding-windows", test_sliding_windows);
  g_test_add_func ("/sync/sp/bad-input", test_bad_input);
  return g_test_run ();
}
