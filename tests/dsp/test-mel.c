/* test-mel.c: GPU log-mel spectrogram against a double-precision reference,
 * known peak bins of tones, shapes, batching, views, and the CPU loudness
 * helpers. */
#include <glib.h>
#include <math.h>
#include <string.h>

#include "dsp/ss-loudness.h"
#include "dsp/ss-mel.h"
#include "dsp/ss-onset.h"
#include "mel-ref.h"
#include "config.h"
#include "tensor/ss-safetensors.h"
#include "tensor/ss-tensor.h"
#include "dsp-test.h"

static MelRefParams
ref_params (const SsMelParams *p)
{
  return (MelRefParams) { p->sample_rate, p->n_fft, p->win_length, p->hop_length, p->n_mels,
                          p->center, p->log_offset, p->reflect_pad, p->magnitude, p->mag_eps,
                          p->mel_scale == SS_MEL_SCALE_SLANEY && p->slaney_norm,
                          (int) p->log_mode, p->clamp_input, p->f_max };
}

/* chirp 100 Hz -> 7 kHz plus two tones */
static float *
make_signal (gint64 L, int sr)
{
  float *x = g_new (float, L);
  double dur = (double) L / sr;
  for (gint64 i = 0; i < L; i++)
    {
      double t = (double) i / sr;
      double f0 = 100, f1 = 7000;
      double phase = 2 * G_PI * (f0 * t + 0.5 * (f1 - f0) / dur * t * t);
      x[i] = (float) (0.2 * sin (phase) + 0.3 * sin (2 * G_PI * 440 * t) +
                      0.1 * sin (2 * G_PI * 3000 * t + 0.3));
    }
  return x;
}

/* Compares a GPU log-mel with the reference: every entry within tol of the
 * reference where the reference is within 60 dB of the frame's loudest bin
 * (below that fp32 rounding of the power dominates, for PyTorch too), and
 * normalized MSE over all entries. */
static void
compare_logmel_range (const float *gpu, const double *ref, int n_mels, gint64 T, double tol,
                      double range)
{
  double num = 0, den = 0, mean = 0, worst = 0;
  gsize n = (gsize) n_mels * T;
  for (gsize i = 0; i < n; i++)
    mean += ref[i] / n;
  for (gint64 t = 0; t < T; t++)
    {
      double top = -INFINITY;
      for (int m = 0; m < n_mels; m++)
        top = MAX (top, ref[(gsize) m * T + t]);
      for (int m = 0; m < n_mels; m++)
        {
          gsize i = (gsize) m * T + t;
          g_assert_false (isnan (gpu[i]));
          double d = gpu[i] - ref[i];
          num += d * d;
          den += (ref[i] - mean) * (ref[i] - mean);
          if (ref[i] > top - range)
            worst = MAX (worst, fabs (d));
        }
    }
  double nmse = num / den;
  if (g_test_verbose ())
    g_printerr ("  log-mel: nmse %.3g, worst abs error %.3g (tol %.3g)\n", nmse, worst, tol);
  g_assert_cmpfloat (nmse, <, 1e-8);
  g_assert_cmpfloat (worst, <, tol);
}

/* ln of power: 60 dB is 6 ln(10) */
static void
compare_logmel (const float *gpu, const double *ref, int n_mels, gint64 T, double tol)
{
  compare_logmel_range (gpu, ref, n_mels, T, tol, 6.0 * log (10.0));
}

static void
test_synchformer_chirp (void)
{
  if (!have_gpu ())
    return;
  g_autoptr (GError) error = NULL;
  SsMelParams p;
  ss_mel_params_init_synchformer (&p);
  g_assert_cmpint (p.n_fft, ==, 1024);
  g_assert_cmpint (p.win_length, ==, 400);
  g_assert_cmpint (p.hop_length, ==, 160);
  g_assert_cmpint (p.n_mels, ==, 128);
  g_assert_cmpint (p.sample_rate, ==, 16000);
  g_assert_true (p.center);

  /* Synchformer's segment: 16 frames at 25 fps = 0.64 s = 10240 samples -> 65 frames */
  g_assert_cmpint (ss_mel_n_frames (&p, 10240), ==, 65);
  g_assert_cmpint (ss_mel_n_frames (&p, 16000), ==, 101);
  g_assert_cmpint (ss_mel_n_frames (&p, 512), ==, 0);

  g_autoptr (SsMel) mel = ss_mel_new (&p, &error);
  g_assert_no_error (error);

  gint64 L = 24000 + 77; /* odd length: last frames use the reflected tail */
  g_autofree float *x = make_signal (L, p.sample_rate);
  g_autoptr (SsTensor) wave = ss_tensor_new_from_floats (SS_DTYPE_F32, 1, SS_SHAPE (L), x, &error);
  g_assert_no_error (error);
  g_autoptr (SsTensor) out = ss_mel_compute (mel, wave, &error);
  g_assert_no_error (error);
  gint64 T = ss_mel_n_frames (&p, L);
  g_assert_cmpint (out->ndim, ==, 2);
  g_assert_cmpint (out->shape[0], ==, 128);
  g_assert_cmpint (out->shape[1], ==, T);
  g_autofree float *got = ss_tensor_to_floats_dup (out, &error);
  g_assert_no_error (error);

  MelRefParams rp = ref_params (&p);
  gint64 T_ref;
  g_autofree double *ref = mel_ref_compute (&rp, x, L, &T_ref);
  g_assert_cmpint (T_ref, ==, T);
  compare_logmel (got, ref, p.n_mels, T, 5e-4);
}

/* Each batch item is one tone on an exact FFT bin; the loudest mel bin of the
 * middle frame is the filter that weighs that FFT bin most. */
static void
test_tone_peaks_batched (void)
{
  if (!have_gpu ())
    return;
  g_autoptr (GError) error = NULL;
  SsMelParams p;
  ss_mel_params_init_synchformer (&p);
  g_autoptr (SsMel) mel = ss_mel_new (&p, &error);
  g_assert_no_error (error);

  const int bins[] = { 16, 64, 150, 256, 480 }; /* 250 Hz, 1 kHz, 2.34 kHz, 4 kHz, 7.5 kHz */
  const int B = G_N_ELEMENTS (bins);
  gint64 L = 8000;
  /* Put the batch inside a bigger buffer so the view has an offset. */
  g_autofree float *x = g_new0 (float, (B + 1) * L);
  for (int b = 0; b < B; b++)
    {
      double f = bins[b] * (double) p.sample_rate / p.n_fft;
      for (gint64 i = 0; i < L; i++)
        x[(b + 1) * L + i] = (float) (0.5 * sin (2 * G_PI * f * i / p.sample_rate));
    }
  g_autoptr (SsTensor) all = ss_tensor_new_from_floats (SS_DTYPE_F32, 2, SS_SHAPE (B + 1, L), x,
                                                        &error);
  g_assert_no_error (error);
  g_autoptr (SsTensor) view = ss_tensor_slice (all, 0, 1, B + 1, &error);
  g_assert_no_error (error);
  g_autoptr (SsTensor) out = ss_mel_compute (mel, view, &error);
  g_assert_no_error (error);
  gint64 T = ss_mel_n_frames (&p, L);
  g_assert_cmpint (out->ndim, ==, 3);
  g_assert_cmpint (out->shape[0], ==, B);
  g_assert_cmpint (out->shape[1], ==, 128);
  g_assert_cmpint (out->shape[2], ==, T);
  g_autofree float *got = ss_tensor_to_floats_dup (out, &error);
  g_assert_no_error (error);

  MelRefParams rp = ref_params (&p);
  g_autofree double *fb = mel_ref_filterbank (&rp);
  for (int b = 0; b < B; b++)
    {
      int want = 0;
      for (int m = 1; m < 128; m++)
        if (fb[bins[b] * 128 + m] > fb[bins[b] * 128 + want])
          want = m;
      gint64 t = T / 2;
      int best = 0;
      for (int m = 1; m < 128; m++)
        if (got[((gsize) b * 128 + m) * T + t] > got[((gsize) b * 128 + best) * T + t])
          best = m;
      if (g_test_verbose ())
        g_printerr ("  tone at bin %d: loudest mel %d (expected %d)\n", bins[b], best, want);
      g_assert_cmpint (best, ==, want);

      gint64 T_ref;
      g_autofree double *ref = mel_ref_compute (&rp, x + (gsize) (b + 1) * L, L, &T_ref);
      compare_logmel (got + (gsize) b * 128 * T, ref, 128, T, 5e-4);
    }
}

static void
test_other_params (void)
{
  if (!have_gpu ())
    return;
  g_autoptr (GError) error = NULL;
  /* No centering, window = n_fft, mel power without log, 64 mels at 22.05 kHz. */
  SsMelParams p = { .sample_rate = 22050, .n_fft = 512, .win_length = 512, .hop_length = 128,
                    .n_mels = 64, .center = FALSE, .log_offset = 0 };
  g_autoptr (SsMel) mel = ss_mel_new (&p, &error);
  g_assert_no_error (error);
  gint64 L = 5000;
  g_autofree float *x = make_signal (L, p.sample_rate);
  g_autoptr (SsTensor) wave = ss_tensor_new_from_floats (SS_DTYPE_F32, 1, SS_SHAPE (L), x, &error);
  g_autoptr (SsTensor) out = ss_mel_compute (mel, wave, &error);
  g_assert_no_error (error);
  gint64 T = 1 + (L - 512) / 128;
  g_assert_cmpint (out->shape[1], ==, T);
  g_autofree float *got = ss_tensor_to_floats_dup (out, &error);
  MelRefParams rp = ref_params (&p);
  gint64 T_ref;
  g_autofree double *ref = mel_ref_compute (&rp, x, L, &T_ref);
  g_assert_cmpint (T_ref, ==, T);
  /* power: relative error against the frame's total */
  for (gint64 t = 0; t < T; t++)
    {
      double tot = 0;
      for (int m = 0; m < 64; m++)
        tot += ref[m * T + t];
      for (int m = 0; m < 64; m++)
        g_assert_cmpfloat (fabs (got[m * T + t] - ref[m * T + t]), <=, 1e-5 * tot);
    }

  /* Unsupported parameters and too-short audio are errors, not crashes. */
  SsMelParams bad = p;
  bad.n_fft = 1000;
  g_assert_null (ss_mel_new (&bad, &error));
  g_assert_error (error, SS_ERROR, SS_ERROR_UNSUPPORTED);
  g_clear_error (&error);
  SsMelParams sp;
  ss_mel_params_init_synchformer (&sp);
  g_autoptr (SsMel) smel = ss_mel_new (&sp, &error);
  g_autoptr (SsTensor) tiny = ss_tensor_zeros (SS_DTYPE_F32, 1, SS_SHAPE (300), &error);
  g_assert_null (ss_mel_compute (smel, tiny, &error));
  g_assert_error (error, SS_ERROR, SS_ERROR_INVALID_DATA);
}

/* Synchformer's whole audio input: 14 overlapping segments, padded to 66
 * frames and normalized, from one dispatch over a 4.8 s view. */
static void
test_synchformer_segments (void)
{
  if (!have_gpu ())
    return;
  g_autoptr (GError) error = NULL;
  SsMelParams p;
  ss_mel_params_init_synchformer (&p);
  g_autoptr (SsMel) mel = ss_mel_new (&p, &error);
  gint64 L = 80000;
  g_autofree float *x = make_signal (L, 16000);
  g_autoptr (SsTensor) all = ss_tensor_new_from_floats (SS_DTYPE_F32, 1, SS_SHAPE (L), x, &error);
  /* start 1000 samples in: a view with an offset */
  g_autoptr (SsTensor) wave = ss_tensor_slice (all, 0, 1000, L, &error);
  g_autoptr (SsTensor) out = ss_mel_compute_synchformer (mel, wave, &error);
  g_assert_no_error (error);
  g_assert_cmpint (out->ndim, ==, 3);
  g_assert_cmpint (out->shape[0], ==, 14);
  g_assert_cmpint (out->shape[1], ==, 128);
  g_assert_cmpint (out->shape[2], ==, 66);
  g_autofree float *got = ss_tensor_to_floats_dup (out, &error);
  MelRefParams rp = ref_params (&p);
  double two_std = 2 * SS_MEL_SYNCHFORMER_STD;
  float pad_norm = (float) ((0.0 - SS_MEL_SYNCHFORMER_MEAN) / two_std);
  for (int s = 0; s < 14; s++)
    {
      gint64 T;
      g_autofree double *ref = mel_ref_compute (&rp, x + 1000 + s * 5120, 10240, &T);
      g_assert_cmpint (T, ==, 65);
      g_autofree float *den = g_new (float, 128 * 65);
      for (int m = 0; m < 128; m++)
        {
          const float *row = got + ((gsize) s * 128 + m) * 66;
          for (int t = 0; t < 65; t++)
            den[m * 65 + t] = (float) (row[t] * two_std + SS_MEL_SYNCHFORMER_MEAN);
          g_assert_cmpfloat (fabsf (row[65] - pad_norm), <, 1e-6f);
        }
      compare_logmel (den, ref, 128, 65, 1e-3);
    }

  /* Truncation: 40 of the 65 frames, no normalization. */
  g_autoptr (SsTensor) tr = ss_mel_compute_segments (mel, wave, 10240, 5120, 3, 40, 0.0f, 1.0f,
                                                     0.0f, &error);
  g_assert_no_error (error);
  g_autofree float *gt = ss_tensor_to_floats_dup (tr, &error);
  for (int s = 0; s < 3; s++)
    {
      gint64 T;
      g_autofree double *ref = mel_ref_compute (&rp, x + 1000 + s * 5120, 10240, &T);
      for (int m = 0; m < 128; m += 9)
        for (int t = 0; t < 40; t++)
          g_assert_cmpfloat (fabs (gt[((gsize) s * 128 + m) * 40 + t] - ref[m * 65 + t]), <,
                             1e-3 * (1 + fabs (ref[m * 65 + t])));
    }

  /* Too short for 14 segments. */
  g_autoptr (SsTensor) short_ = ss_tensor_slice (all, 0, 0, 70000, &error);
  g_assert_null (ss_mel_compute_synchformer (mel, short_, &error));
  g_assert_error (error, SS_ERROR, SS_ERROR_INVALID_DATA);
}

/* MMAudio's VAE mel at 16 and 44.1 kHz (magnitude, Slaney, clamped logs,
 * (n_fft - hop)/2 reflect padding, input clamping) against the reference. */
static void
test_mmaudio (void)
{
  if (!have_gpu ())
    return;
  const int rates[2] = { 16000, 44100 };
  for (int r = 0; r < 2; r++)
    {
      g_autoptr (GError) error = NULL;
      SsMelParams p;
      ss_mel_params_init_mmaudio (&p, rates[r]);
      g_autoptr (SsMel) mel = ss_mel_new (&p, &error);
      g_assert_no_error (error);
      gint64 L = rates[r] / 2 + 333;
      g_autofree float *x = make_signal (L, rates[r]);
      for (gint64 i = L / 3; i < L / 3 + 800; i++)
        x[i] *= 5.0f; /* clipped by the input clamp */
      g_autoptr (SsTensor) wave = ss_tensor_new_from_floats (SS_DTYPE_F32, 1, SS_SHAPE (L), x,
                                                             &error);
      g_autoptr (SsTensor) out = ss_mel_compute (mel, wave, &error);
      g_assert_no_error (error);
      gint64 pad = (p.n_fft - p.hop_length) / 2;
      gint64 T = 1 + (L + 2 * pad - p.n_fft) / p.hop_length;
      g_assert_cmpint (ss_mel_n_frames (&p, L), ==, T);
      g_assert_cmpint (out->shape[0], ==, p.n_mels);
      g_assert_cmpint (out->shape[1], ==, T);
      g_autofree float *got = ss_tensor_to_floats_dup (out, &error);
      MelRefParams rp = ref_params (&p);
      gint64 T_ref;
      g_autofree double *ref = mel_ref_compute (&rp, x, L, &T_ref);
      g_assert_cmpint (T_ref, ==, T);
      /* magnitudes: 60 dB is 3 decades (log10 at 16 kHz) or 3 ln(10) (ln at 44.1 kHz) */
      compare_logmel_range (got, ref, p.n_mels, T, 5e-4, r == 0 ? 3.0 : 3.0 * log (10.0));
      if (g_test_verbose ())
        g_printerr ("  MMAudio %d Hz: %" G_GINT64_FORMAT " frames ok\n", rates[r], T);
    }
  /* The host filterbank is Slaney-normalized: filters get narrower weights
   * at low frequencies and lower peaks at high ones (area ~ constant). */
  SsMelParams p;
  ss_mel_params_init_mmaudio (&p, 16000);
  g_autofree double *fb = ss_mel_filterbank (&p);
  MelRefParams rp = ref_params (&p);
  g_autofree double *ref = mel_ref_filterbank (&rp);
  for (int i = 0; i < 513 * 80; i++)
    g_assert_cmpfloat (fabs (fb[i] - ref[i]), <, 1e-12);
}

static void
test_filterbank (void)
{
  /* Host filterbank equals the independent reference (torchaudio formula). */
  SsMelParams p;
  ss_mel_params_init_synchformer (&p);
  g_autofree double *fb = ss_mel_filterbank (&p);
  MelRefParams rp = ref_params (&p);
  g_autofree double *ref = mel_ref_filterbank (&rp);
  for (int i = 0; i < 513 * 128; i++)
    g_assert_cmpfloat (fabs (fb[i] - ref[i]), <, 1e-12);
  /* Every filter has weight (128 mels fit 513 bins at 16 kHz). */
  for (int m = 0; m < 128; m++)
    {
      double s = 0;
      for (int k = 0; k < 513; k++)
        s += fb[k * 128 + m];
      g_assert_cmpfloat (s, >, 0.0);
    }
  /* Synchformer normalization */
  float v[2] = { (float) SS_MEL_SYNCHFORMER_MEAN, 0.0f };
  ss_mel_synchformer_normalize (v, 2);
  g_assert_cmpfloat (fabsf (v[0]), <, 1e-7f);
  g_assert_cmpfloat (fabsf (v[1] - 4.2677393f / (2 * 4.5689974f)), <, 1e-6f);
}

static void
test_loudness (void)
{
  const gsize n = 48000;
  g_autofree float *x = g_new (float, n);
  for (gsize i = 0; i < n; i++)
    x[i] = (float) (0.5 * sin (2 * G_PI * 1000 * i / 48000.0));
  /* sine of amplitude 0.5: RMS 0.3536 -> -9.03 dBFS; peak -6.02 dBFS */
  g_assert_cmpfloat (fabs (ss_loudness_rms_dbfs (x, n) - (20 * log10 (0.5 / sqrt (2)))), <, 1e-3);
  g_assert_cmpfloat (fabs (ss_loudness_peak_dbfs (x, n) - 20 * log10 (0.5)), <, 1e-3);
  double g = ss_loudness_gain_to (x, n, -20.0);
  for (gsize i = 0; i < n; i++)
    x[i] *= (float) g;
  g_assert_cmpfloat (fabs (ss_loudness_rms_dbfs (x, n) + 20.0), <, 1e-3);

  float zeros[64] = { 0 };
  g_assert_true (isinf (ss_loudness_rms_dbfs (zeros, 64)) && ss_loudness_rms_dbfs (zeros, 64) < 0);
  g_assert_true (isinf (ss_loudness_rms_dbfs (NULL, 0)));
  g_assert_cmpfloat (ss_loudness_gain_to (zeros, 64, -20), ==, 1.0);

  /* Envelope: silence then full-scale square. */
  float y[1000];
  for (int i = 0; i < 1000; i++)
    y[i] = i < 500 ? 0.0f : (i % 2 ? 1.0f : -1.0f);
  float env[16];
  gsize frames = ss_loudness_envelope_dbfs (y, 1000, 100, 100, env, 16);
  g_assert_cmpuint (frames, ==, 10);
  g_assert_cmpfloat (env[0], ==, SS_LOUDNESS_FLOOR_DB);
  g_assert_cmpfloat (fabsf (env[9]), <, 1e-4f);
}

/* Parity with torchaudio itself: tests/fixtures/dsp/torchaudio-mel.safetensors
 * holds a signal and torchaudio's log-mel of it (made by
 * make-torchaudio-mel.py next to it, where PyTorch runs). */
static void
test_torchaudio_parity (void)
{
  const char *src = g_getenv ("SOUNDSTAGE_SOURCE_DIR");
  g_autofree char *path = g_build_filename (src ? src : SS_SOURCE_DIR, "tests", "fixtures", "dsp",
                                            "torchaudio-mel.safetensors", NULL);
  if (!g_file_test (path, G_FILE_TEST_EXISTS))
    {
      g_test_skip ("tests/fixtures/dsp/torchaudio-mel.safetensors not generated yet");
      return;
    }
  if (!have_gpu ())
    return;
  g_autoptr (GError) error = NULL;
  g_autoptr (SsSafetensors) st = ss_safetensors_open (path, &error);
  g_assert_no_error (error);
  SsSafetensorsExpect expect[] = {
    { "wave", SS_SAFETENSORS_F32, 1, { 10240 } },
    { "logmel", SS_SAFETENSORS_F32, 2, { 128, 65 } },
    { "mma16", SS_SAFETENSORS_F32, 2, { 80, 40 } },
    { "wave44", SS_SAFETENSORS_F32, 1, { 22050 } },
    { "mma44", SS_SAFETENSORS_F32, 2, { 128, 43 } },
  };
  g_assert_true (ss_safetensors_check (st, expect, G_N_ELEMENTS (expect), 0, &error));
  g_assert_no_error (error);
  g_autoptr (SsTensor) wave = ss_safetensors_load_tensor (st, "wave", SS_DTYPE_F32, &error);
  g_assert_no_error (error);
  gsize n = 0;
  g_autofree float *want = ss_safetensors_dup_f32 (st, "logmel", &n, &error);
  g_assert_no_error (error);
  SsMelParams p;
  ss_mel_params_init_synchformer (&p);
  g_autoptr (SsMel) mel = ss_mel_new (&p, &error);
  g_autoptr (SsTensor) out = ss_mel_compute (mel, wave, &error);
  g_assert_no_error (error);
  g_assert_cmpint (out->shape[1], ==, 65);
  g_autofree float *got = ss_tensor_to_floats_dup (out, &error);
  g_autofree double *ref = g_new (double, n);
  for (gsize i = 0; i < n; i++)
    ref[i] = want[i];
  compare_logmel (got, ref, 128, 65, 2e-3);

  /* MMAudio's converter at both rates */
  const char *names[2][2] = { { "wave", "mma16" }, { "wave44", "mma44" } };
  for (int r = 0; r < 2; r++)
    {
      SsMelParams mp;
      ss_mel_params_init_mmaudio (&mp, r == 0 ? 16000 : 44100);
      g_autoptr (SsMel) mm = ss_mel_new (&mp, &error);
      g_autoptr (SsTensor) w = ss_safetensors_load_tensor (st, names[r][0], SS_DTYPE_F32, &error);
      g_autoptr (SsTensor) o = ss_mel_compute (mm, w, &error);
      g_assert_no_error (error);
      gsize nm = 0;
      g_autofree float *wm = ss_safetensors_dup_f32 (st, names[r][1], &nm, &error);
      g_assert_cmpuint (nm, ==, (gsize) ss_tensor_numel (o));
      g_autofree float *go = ss_tensor_to_floats_dup (o, &error);
      g_autofree double *rm = g_new (double, nm);
      for (gsize i = 0; i < nm; i++)
        rm[i] = wm[i];
      compare_logmel_range (go, rm, mp.n_mels, o->shape[1], 2e-3, r == 0 ? 3.0 : 3.0 * log (10.0));
    }
}

/* Clicks at known times in quiet noise: GPU log-mel -> spectral flux -> peaks
 * within 20 ms of each click, and nothing else. */
static void
test_onsets (void)
{
  if (!have_gpu ())
    return;
  g_autoptr (GError) error = NULL;
  SsMelParams p;
  ss_mel_params_init_synchformer (&p);
  g_autoptr (SsMel) mel = ss_mel_new (&p, &error);
  const double times[] = { 0.50, 1.23, 2.05, 2.60 };
  gint64 L = 3 * 16000;
  g_autofree float *x = g_new (float, L);
  g_autoptr (GRand) rng = g_rand_new_with_seed (17);
  for (gint64 i = 0; i < L; i++)
    x[i] = (float) g_rand_double_range (rng, -0.01, 0.01);
  for (guint k = 0; k < G_N_ELEMENTS (times); k++)
    {
      gint64 s0 = (gint64) (times[k] * 16000);
      for (gint64 i = 0; i < 320; i++)
        x[s0 + i] += (float) (0.8 * exp (-i / 60.0) * g_rand_double_range (rng, -1, 1));
    }
  g_autoptr (SsTensor) wave = ss_tensor_new_from_floats (SS_DTYPE_F32, 1, SS_SHAPE (L), x, &error);
  g_autoptr (SsTensor) out = ss_mel_compute (mel, wave, &error);
  g_assert_no_error (error);
  g_autofree float *lm = ss_tensor_to_floats_dup (out, &error);
  gint64 T = out->shape[1];
  g_autofree float *strength = g_new (float, T);
  ss_onset_strength (lm, 128, T, strength);
  gint64 peaks[16];
  gsize n = ss_onset_peaks (strength, T, 3, 2.0f, 5, peaks, 16);
  if (g_test_verbose ())
    for (gsize i = 0; i < n; i++)
      g_printerr ("  onset at frame %" G_GINT64_FORMAT " (strength %.2f)\n", peaks[i],
                  strength[peaks[i]]);
  g_assert_cmpuint (n, ==, G_N_ELEMENTS (times));
  for (gsize i = 0; i < n; i++)
    g_assert_cmpint (ABS (peaks[i] - (gint64) (times[i] * 100 + 0.5)), <=, 2);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/mel/synchformer-chirp", test_synchformer_chirp);
  g_test_add_func ("/mel/tone-peaks-batched", test_tone_peaks_batched);
  g_test_add_func ("/mel/other-params", test_other_params);
  g_test_add_func ("/mel/filterbank", test_filterbank);
  g_test_add_func ("/mel/mmaudio", test_mmaudio);
  g_test_add_func ("/mel/synchformer-segments", test_synchformer_segments);
  g_test_add_func ("/mel/torchaudio-parity", test_torchaudio_parity);
  g_test_add_func ("/dsp/loudness", test_loudness);
  g_test_add_func ("/dsp/onsets", test_onsets);
  return g_test_run ();
}
