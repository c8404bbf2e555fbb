/* test-synchformer.c: the Synchformer network on the engine (tiny config, lavapipe).
 *
 * - shapes of every stage;
 * - pre-processing against values computed here (bilinear resize, centre crop,
 *   normalization of a known frame; log-mel segmenting, padding and normalization);
 * - parity with the PyTorch reference (tests/fixtures/synchformer, written by
 *   tools/train/make_parity_fixture.sh from tools/reference/synchformer.py);
 * - loading errors (truncated file, wrong shape, missing tensor) naming file and tensor;
 * - sliding-window analysis, progress and cancellation.
 */
#define G_LOG_DOMAIN "test-synchformer"

#include <math.h>
#include <string.h>
#include <glib/gstdio.h>

#include "ss-types.h"
#include "ss-rng.h"
#include "dsp/ss-mel.h"
#include "tensor/ss-ops.h"
#include "tensor/ss-safetensors.h"
#include "media/ss-media.h"
#include "models/ss-corpus.h"
#include "models/synchformer/ss-synchformer.h"

static const SsSynchformerConfig *
tiny (void)
{
  return ss_synchformer_config_tiny ();
}

static void
assert_shape (SsTensor *t, int ndim, const gint64 *shape)
{
  g_autofree char *d = ss_tensor_describe (t);
  g_assert_cmpint (t->ndim, ==, ndim);
  for (int i = 0; i < ndim; i++)
    if (t->shape[i] != shape[i])
      g_error ("unexpected shape %s (dim %d should be %" G_GINT64_FORMAT ")", d, i, shape[i]);
}

static guint8 *
make_frames (int n, int w, int h, guint64 seed, const guint8 ***ptrs)
{
  SsRng rng;
  ss_rng_init (&rng, seed);
  guint8 *data = g_new (guint8, (gsize) n * w * h * 4);
  for (gsize i = 0; i < (gsize) n * w * h * 4; i++)
    data[i] = (guint8) ss_rng_int (&rng, 0, 255);
  *ptrs = g_new (const guint8 *, n);
  for (int i = 0; i < n; i++)
    (*ptrs)[i] = data + (gsize) i * w * h * 4;
  return data;
}

static float *
make_audio (gsize n, guint64 seed)
{
  SsRng rng;
  ss_rng_init (&rng, seed);
  float *a = g_new (float, n);
  for (gsize i = 0; i < n; i++)
    a[i] = (float) (0.1 * ss_rng_normal (&rng) + 0.3 * sin (i * 0.05));
  return a;
}

static int
window_frames (const SsSynchformerConfig *c)
{
  return (c->n_segments - 1) * c->segment_hop + c->segment_frames;
}

/* ------------------------------------------------------------------------ */

static void
test_shapes (void)
{
  const SsSynchformerConfig *c = tiny ();
  g_autoptr (GError) error = NULL;
  g_autoptr (SsSynchformer) m = ss_synchformer_new_random (c, 7, TRUE, &error);
  g_assert_no_error (error);
  g_assert_true (ss_synchformer_has_sync_head (m));

  int wf = window_frames (c);
  g_autofree const guint8 **fp = NULL;
  g_autofree guint8 *frame_data = make_frames (wf, 48, 40, 1, &fp);
  (void) frame_data;
  g_autoptr (SsTensor) pre = ss_synchformer_preprocess_frames (m, fp, wf, 48, 40, 48 * 4, &error);
  g_assert_no_error (error);
  assert_shape (pre, 4, SS_SHAPE (wf, 3, c->image_size, c->image_size));

  g_autoptr (SsTensor) video = ss_synchformer_video_segments (m, pre, 0, &error);
  g_assert_no_error (error);
  assert_shape (video, 5, SS_SHAPE (c->n_segments, 3, c->segment_frames, c->image_size, c->image_size));

  gsize ns = (gsize) wf * c->sample_rate / c->fps;
  g_autofree float *audio = make_audio (ns, 2);
  g_autoptr (SsTensor) spec = ss_synchformer_audio_segments (m, audio, ns, &error);
  g_assert_no_error (error);
  assert_shape (spec, 3, SS_SHAPE (c->n_segments, c->n_mels, c->spec_frames));

  int tv = ss_synchformer_video_time_tokens (c), ta = ss_synchformer_audio_time_tokens (c);
  g_autoptr (SsTensor) vf = ss_synchformer_video_features (m, video, &error);
  g_assert_no_error (error);
  assert_shape (vf, 3, SS_SHAPE (c->n_segments, tv, c->v_dim));
  g_autoptr (SsTensor) af = ss_synchformer_audio_features (m, spec, &error);
  g_assert_no_error (error);
  assert_shape (af, 3, SS_SHAPE (c->n_segments, ta, c->a_dim));
  g_autoptr (SsTensor) seq = ss_synchformer_sync_sequence (m, vf, af, 1, &error);
  g_assert_no_error (error);
  assert_shape (seq, 3, SS_SHAPE (1, c->pos_len, c->s_dim));

  g_autoptr (SsTensor) sync = NULL;
  g_autoptr (SsTensor) logits = ss_synchformer_forward (m, video, spec, 1, &sync, &error);
  g_assert_no_error (error);
  assert_shape (logits, 2, SS_SHAPE (1, 21));
  assert_shape (sync, 2, SS_SHAPE (1, 2));
  float lg[21];
  g_assert_true (ss_tensor_to_floats (logits, lg, &error));
  for (int i = 0; i < 21; i++)
    g_assert_true (isfinite (lg[i]));

  /* a batch of two clips gives each clip the logits it gets alone */
  SsTensor *vv[2] = { video, video }, *sv[2] = { spec, spec };
  g_autoptr (SsTensor) v2 = ss_op_concat (2, vv, 0, &error);
  g_autoptr (SsTensor) s2 = ss_op_concat (2, sv, 0, &error);
  g_assert_no_error (error);
  g_autoptr (SsTensor) l2 = ss_synchformer_forward (m, v2, s2, 2, NULL, &error);
  g_assert_no_error (error);
  assert_shape (l2, 2, SS_SHAPE (2, 21));
  float lg2[42];
  g_assert_true (ss_tensor_to_floats (l2, lg2, &error));
  for (int i = 0; i < 21; i++)
    {
      g_assert_cmpfloat_with_epsilon (lg2[i], lg[i], 1e-4);
      g_assert_cmpfloat_with_epsilon (lg2[21 + i], lg[i], 1e-4);
    }

  /* inference runs the video network a few segments at a time when activations
   * are large (reference config on lavapipe): same result */
  {
    SS_NO_GRAD_SCOPE;
    g_setenv ("SOUNDSTAGE_SYNCHFORMER_CHUNK_BYTES", "20000", TRUE);   /* 1 segment per chunk */
    g_autoptr (SsTensor) lc = ss_synchformer_forward (m, v2, s2, 2, NULL, &error);
    g_unsetenv ("SOUNDSTAGE_SYNCHFORMER_CHUNK_BYTES");
    g_assert_no_error (error);
    float lgc[42];
    g_assert_true (ss_tensor_to_floats (lc, lgc, &error));
    for (int i = 0; i < 42; i++)
      g_assert_cmpfloat_with_epsilon (lgc[i], lg2[i], 1e-5);
  }

  /* wrong input sizes are an error, not a crash */
  g_autoptr (SsTensor) bad = ss_synchformer_forward (m, video, spec, 2, NULL, &error);
  g_assert_null (bad);
  g_assert_error (error, SS_ERROR, SS_ERROR_INVALID_DATA);
}

/* torch.nn.functional.interpolate(mode='bilinear', align_corners=False), one channel */
static double
bilinear (const guint8 *rgba, int w, int h, int ch, int oh, int ow, int y, int x)
{
  double sy = MAX (0.0, (y + 0.5) * h / oh - 0.5), sx = MAX (0.0, (x + 0.5) * w / ow - 0.5);
  int y0 = (int) sy, x0 = (int) sx;
  int y1 = MIN (y0 + 1, h - 1), x1 = MIN (x0 + 1, w - 1);
  double ly = sy - y0, lx = sx - x0;
#define PX(yy, xx) ((double) rgba[((gsize) (yy) * w + (xx)) * 4 + ch])
  return (1 - ly) * ((1 - lx) * PX (y0, x0) + lx * PX (y0, x1)) + ly * ((1 - lx) * PX (y1, x0) + lx * PX (y1, x1));
#undef PX
}

static void
test_preprocess_frames (void)
{
  const SsSynchformerConfig *c = tiny ();   /* resize 36, crop 32 */
  g_autoptr (GError) error = NULL;
  g_autoptr (SsSynchformer) m = ss_synchformer_new_random (c, 1, FALSE, &error);
  g_assert_no_error (error);
  /* 48 x 40 -> short side 36: 43 x 36; crop top round(2) = 2, left round(5.5) = 6 (half to even) */
  int w = 48, h = 40, oh = 36, ow = 43, top = 2, left = 6, S = c->image_size;
  guint8 *rgba = g_new (guint8, w * h * 4);
  for (int y = 0; y < h; y++)
    for (int x = 0; x < w; x++)
      {
        guint8 *p = rgba + (y * w + x) * 4;
        p[0] = (guint8) (x * 5);                     /* horizontal ramp */
        p[1] = (guint8) (y * 6);                     /* vertical ramp */
        p[2] = (guint8) (((x / 3 + y / 2) & 1) * 255);   /* checker */
        p[3] = 17;                                   /* alpha is ignored */
      }
  const guint8 *ptr[1] = { rgba };
  g_autoptr (SsTensor) t = ss_synchformer_preprocess_frames (m, ptr, 1, w, h, w * 4, &error);
  g_assert_no_error (error);
  assert_shape (t, 4, SS_SHAPE (1, 3, S, S));
  g_autofree float *v = ss_tensor_to_floats_dup (t, &error);
  g_assert_no_error (error);
  double max_err = 0;
  for (int ch = 0; ch < 3; ch++)
    for (int y = 0; y < S; y++)
      for (int x = 0; x < S; x++)
        {
          double want = bilinear (rgba, w, h, ch, oh, ow, y + top, x + left) / 255.0 * 2.0 - 1.0;
          max_err = MAX (max_err, fabs (want - v[(ch * S + y) * S + x]));
        }
  g_assert_cmpfloat (max_err, <, 1e-4);

  /* rows with padding (a whole number of pixels, or not): the same result */
  for (int pad = 12; pad <= 14; pad += 2)
    {
      int st = w * 4 + pad;
      g_autofree guint8 *padded = g_new (guint8, (gsize) st * h);
      memset (padded, 0xee, (gsize) st * h);
      for (int y = 0; y < h; y++)
        memcpy (padded + (gsize) y * st, rgba + (gsize) y * w * 4, (gsize) w * 4);
      const guint8 *pp[1] = { padded };
      g_autoptr (SsTensor) tp = ss_synchformer_preprocess_frames (m, pp, 1, w, h, st, &error);
      g_assert_no_error (error);
      g_autofree float *vp = ss_tensor_to_floats_dup (tp, &error);
      g_assert_cmpmem (vp, sizeof (float) * 3 * S * S, v, sizeof (float) * 3 * S * S);
    }
  g_free (rgba);

  /* a frame already at the resize size is only cropped and normalized */
  int r = c->resize_side;
  rgba = g_new (guint8, r * r * 4);
  for (int i = 0; i < r * r * 4; i++)
    rgba[i] = (guint8) (i * 7);
  ptr[0] = rgba;
  g_autoptr (SsTensor) t2 = ss_synchformer_preprocess_frames (m, ptr, 1, r, r, r * 4, &error);
  g_assert_no_error (error);
  g_autofree float *v2 = ss_tensor_to_floats_dup (t2, &error);
  int off = (r - S) / 2;
  for (int ch = 0; ch < 3; ch++)
    for (int y = 0; y < S; y++)
      for (int x = 0; x < S; x++)
        {
          double want = rgba[((y + off) * r + x + off) * 4 + ch] / 127.5 - 1.0;
          g_assert_cmpfloat_with_epsilon (v2[(ch * S + y) * S + x], want, 1e-5);
        }
  g_free (rgba);
}

/* the frames are split into planes on the host or on the GPU (GPUs with
 * their own memory): both give the same result */
static void
test_preprocess_frames_both (void)
{
  for (int gpu = 0; gpu < 2; gpu++)
    {
      g_test_message ("frames split on the %s", gpu ? "GPU" : "host");
      g_setenv ("SOUNDSTAGE_FRAMES_ON_GPU", gpu ? "1" : "0", TRUE);
      test_preprocess_frames ();
    }
  g_unsetenv ("SOUNDSTAGE_FRAMES_ON_GPU");
}

static void
test_preprocess_audio (void)
{
  const SsSynchformerConfig *c = tiny ();
  g_autoptr (GError) error = NULL;
  g_autoptr (SsSynchformer) m = ss_synchformer_new_random (c, 1, FALSE, &error);
  g_assert_no_error (error);
  int wf = window_frames (c), spf = c->sample_rate / c->fps, L = ss_synchformer_segment_samples (c);
  gsize ns = (gsize) wf * spf;
  g_autofree float *audio = make_audio (ns, 3);
  g_autoptr (SsTensor) spec = ss_synchformer_audio_segments (m, audio, ns, &error);
  g_assert_no_error (error);
  g_autofree float *got = ss_tensor_to_floats_dup (spec, &error);

  SsMelParams mp = { .sample_rate = c->sample_rate, .n_fft = c->n_fft, .win_length = c->win_length,
                     .hop_length = c->hop_length, .n_mels = c->n_mels, .center = TRUE, .log_offset = 1e-6 };
  g_autoptr (SsMel) mel = ss_mel_new (&mp, &error);
  g_assert_no_error (error);
  int T = (int) ss_mel_n_frames (&mp, L);
  g_assert_cmpint (T, <, c->spec_frames);   /* the tiny config pads */
  double pad_value = (0.0 - c->spec_mean) / (2.0 * c->spec_std);
  for (int s = 0; s < c->n_segments; s++)
    {
      /* segment s starts at s * hop frames */
      g_autoptr (SsTensor) w = ss_tensor_new_from_floats (SS_DTYPE_F32, 1, SS_SHAPE (L),
                                                          audio + (gsize) s * c->segment_hop * spf, &error);
      g_autoptr (SsTensor) lm = ss_mel_compute (mel, w, &error);
      g_assert_no_error (error);
      g_autofree float *ref = ss_tensor_to_floats_dup (lm, &error);
      for (int f = 0; f < c->n_mels; f++)
        for (int t = 0; t < c->spec_frames; t++)
          {
            double want = t < T ? (ref[f * T + t] - c->spec_mean) / (2.0 * c->spec_std) : pad_value;
            g_assert_cmpfloat_with_epsilon (got[((gsize) s * c->n_mels + f) * c->spec_frames + t], want, 1e-4);
          }
    }
}

/* ------------------------------------------------------------------------ */
/* parity with PyTorch */

static char *
fixture_path (const char *name)
{
  const char *src = g_getenv ("SOUNDSTAGE_SOURCE_DIR");
  return g_build_filename (src ? src : ".", "tests", "fixtures", "synchformer", name, NULL);
}

/* normalized error: ||a - b|| / ||b|| */
static double
nerr (SsTensor *t, SsSafetensors *st, const char *name)
{
  g_autoptr (GError) error = NULL;
  gsize n = 0;
  g_autofree float *want = ss_safetensors_dup_f32 (st, name, &n, &error);
  g_assert_no_error (error);
  g_assert_cmpint (n, ==, ss_tensor_numel (t));
  g_autofree float *got = ss_tensor_to_floats_dup (t, &error);
  g_assert_no_error (error);
  double num = 0, den = 0;
  for (gsize i = 0; i < n; i++)
    {
      if (!isfinite (got[i]))
        return INFINITY;
      num += ((double) got[i] - want[i]) * ((double) got[i] - want[i]);
      den += (double) want[i] * want[i];
    }
  double e = sqrt (num / MAX (den, 1e-30));
  g_test_message ("%s: normalized error %.3g", name, e);
  return e;
}

static void
test_parity (void)
{
  g_autofree char *wpath = fixture_path ("weights.safetensors");
  g_autofree char *ipath = fixture_path ("inputs.safetensors");
  g_autofree char *opath = fixture_path ("outputs.safetensors");
  g_autoptr (GError) error = NULL;
  g_autoptr (SsSynchformer) m = ss_synchformer_load (NULL, wpath, &error);
  g_assert_no_error (error);
  const SsSynchformerConfig *c = ss_synchformer_get_config (m);
  g_assert_cmpstr (c->name, ==, "tiny");
  g_autoptr (SsSafetensors) in = ss_safetensors_open (ipath, &error);
  g_assert_no_error (error);
  g_autoptr (SsSafetensors) out = ss_safetensors_open (opath, &error);
  g_assert_no_error (error);

  /* audio: waveform -> segments -> log-mel -> pad -> normalize */
  gsize ns = 0;
  g_autofree float *wave = ss_safetensors_dup_f32 (in, "waveform", &ns, &error);
  g_assert_no_error (error);
  g_autoptr (SsTensor) spec = ss_synchformer_audio_segments (m, wave, ns, &error);
  g_assert_no_error (error);
  g_assert_cmpfloat (nerr (spec, in, "spectrogram"), <, 1e-4);

  /* video: frames at the crop size, normalized and segmented */
  const SsSafetensorsInfo *fi = ss_safetensors_get (in, "frames", &error);
  g_assert_no_error (error);
  int T = (int) fi->shape[0], H = (int) fi->shape[1], W = (int) fi->shape[2];
  g_assert_cmpint (H, ==, c->image_size);
  g_autofree float *fr = ss_safetensors_dup_f32 (in, "frames", NULL, &error);
  g_assert_no_error (error);
  g_autofree float *planar = g_new (float, (gsize) T * 3 * H * W);
  for (int t = 0; t < T; t++)
    for (int ch = 0; ch < 3; ch++)
      for (int i = 0; i < H * W; i++)
        planar[((gsize) t * 3 + ch) * H * W + i] = fr[((gsize) t * H * W + i) * 3 + ch] / 127.5f - 1.0f;
  g_autoptr (SsTensor) frames = ss_tensor_new_from_floats (SS_DTYPE_F32, 4, SS_SHAPE (T, 3, H, W), planar, &error);
  g_assert_no_error (error);
  g_autoptr (SsTensor) video = ss_synchformer_video_segments (m, frames, 0, &error);
  g_assert_no_error (error);
  g_assert_cmpfloat (nerr (video, in, "video"), <, 1e-6);

  /* the network, from the reference's own inputs (so each stage is measured alone) */
  g_autoptr (SsTensor) rvideo = ss_safetensors_load_tensor (in, "video", SS_DTYPE_F32, &error);
  g_autoptr (SsTensor) rspec = ss_safetensors_load_tensor (in, "spectrogram", SS_DTYPE_F32, &error);
  g_assert_no_error (error);
  g_autoptr (SsTensor) vf = ss_synchformer_video_features (m, rvideo, &error);
  g_assert_no_error (error);
  g_assert_cmpfloat (nerr (vf, out, "video.features"), <, 1e-4);
  g_autoptr (SsTensor) af = ss_synchformer_audio_features (m, rspec, &error);
  g_assert_no_error (error);
  g_assert_cmpfloat (nerr (af, out, "audio.features"), <, 1e-4);
  g_autoptr (SsTensor) seq = ss_synchformer_sync_sequence (m, vf, af, 1, &error);
  g_assert_no_error (error);
  g_assert_cmpfloat (nerr (seq, out, "sync.output"), <, 1e-4);
  g_autoptr (SsTensor) logits = ss_synchformer_forward (m, rvideo, rspec, 1, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpfloat (nerr (logits, out, "logits"), <, 1e-4);

  /* end to end from our own pre-processing: same class probabilities */
  g_autoptr (SsTensor) logits2 = ss_synchformer_forward (m, video, spec, 1, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpfloat (nerr (logits2, out, "logits"), <, 1e-3);

  /* half-precision storage (fp32 arithmetic): close to the fp32 reference */
  g_assert_true (ss_synchformer_set_dtype (m, SS_DTYPE_F16, &error));
  g_assert_no_error (error);
  g_autoptr (SsTensor) lh = ss_synchformer_forward (m, rvideo, rspec, 1, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpint (lh->dtype, ==, SS_DTYPE_F16);
  g_assert_cmpfloat (nerr (lh, out, "logits"), <, 1e-2);
}

/* ------------------------------------------------------------------------ */
/* loading errors */

static void
test_load_errors (void)
{
  const SsSynchformerConfig *c = tiny ();
  g_autoptr (GError) error = NULL;
  g_autoptr (SsSynchformer) m = ss_synchformer_new_random (c, 3, FALSE, &error);
  g_assert_no_error (error);
  g_autofree char *dir = g_dir_make_tmp ("ss-synchformer-XXXXXX", &error);
  g_assert_no_error (error);
  g_autofree char *good = g_build_filename (dir, "good.safetensors", NULL);
  g_assert_true (ss_synchformer_save (m, good, TRUE, &error));
  g_assert_no_error (error);

  /* round trip (fp16 storage): same logits within fp16 rounding */
  g_autoptr (SsSynchformer) m2 = ss_synchformer_load (NULL, good, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (ss_synchformer_get_config (m2)->name, ==, "tiny");
  g_assert_cmpint (ss_synchformer_get_n_params (m2), ==, ss_synchformer_get_n_params (m));
  g_assert_false (ss_synchformer_has_sync_head (m2));

  /* truncated */
  g_autofree char *bytes = NULL;
  gsize len = 0;
  g_assert_true (g_file_get_contents (good, &bytes, &len, NULL));
  g_autofree char *trunc = g_build_filename (dir, "truncated.safetensors", NULL);
  g_assert_true (g_file_set_contents (trunc, bytes, len - 100, NULL));
  g_autoptr (SsSynchformer) bad1 = ss_synchformer_load (c, trunc, &error);
  g_assert_null (bad1);
  g_assert_nonnull (error);
  g_assert_nonnull (strstr (error->message, "truncated.safetensors"));
  g_clear_error (&error);

  /* a tensor with the wrong shape, and one missing */
  const char *victim = "transformer.blocks.1.attn.query.weight";
  const char *missing = "afeat_extractor.ast.layernorm.bias";
  SsSafetensorsWriter *w = ss_safetensors_writer_new ();
  SsSafetensorsWriter *w2 = ss_safetensors_writer_new ();
  const char *const *names = ss_synchformer_get_param_names (m);
  for (guint i = 0; names[i]; i++)
    {
      SsTensor *t = ss_synchformer_get_param_index (m, i);
      g_autofree float *v = ss_tensor_to_floats_dup (t, &error);
      g_assert_no_error (error);
      if (strcmp (names[i], victim) == 0)
        ss_safetensors_writer_add_f32 (w, names[i], SS_SAFETENSORS_F32, 2,
                                       SS_SHAPE (t->shape[0] / 2, t->shape[1] * 2), v);
      else
        ss_safetensors_writer_add_f32 (w, names[i], SS_SAFETENSORS_F32, t->ndim, t->shape, v);
      if (strcmp (names[i], missing) != 0)
        ss_safetensors_writer_add_f32 (w2, names[i], SS_SAFETENSORS_F32, t->ndim, t->shape, v);
    }
  g_autofree char *shape_path = g_build_filename (dir, "shape.safetensors", NULL);
  g_autofree char *missing_path = g_build_filename (dir, "missing.safetensors", NULL);
  g_assert_true (ss_safetensors_writer_write (w, shape_path, &error));
  g_assert_true (ss_safetensors_writer_write (w2, missing_path, &error));
  ss_safetensors_writer_free (w);
  ss_safetensors_writer_free (w2);

  g_autoptr (SsSynchformer) bad2 = ss_synchformer_load (c, shape_path, &error);
  g_assert_null (bad2);
  g_assert_error (error, SS_ERROR, SS_ERROR_INVALID_DATA);
  g_test_message ("%s", error->message);
  g_assert_nonnull (strstr (error->message, victim));
  g_assert_nonnull (strstr (error->message, "shape.safetensors"));
  g_clear_error (&error);

  g_autoptr (SsSynchformer) bad3 = ss_synchformer_load (c, missing_path, &error);
  g_assert_null (bad3);
  g_assert_nonnull (error);
  g_test_message ("%s", error->message);
  g_assert_nonnull (strstr (error->message, missing));
  g_assert_nonnull (strstr (error->message, "missing.safetensors"));
  g_clear_error (&error);

  /* weights of another config */
  g_autoptr (SsSynchformer) bad4 = ss_synchformer_load (ss_synchformer_config_small (), good, &error);
  g_assert_null (bad4);
  g_assert_nonnull (error);
  g_assert_nonnull (strstr (error->message, "good.safetensors"));
  g_clear_error (&error);

  /* not there */
  g_autofree char *none = g_build_filename (dir, "none.safetensors", NULL);
  g_autoptr (SsSynchformer) bad5 = ss_synchformer_load (c, none, &error);
  g_assert_null (bad5);
  g_assert_error (error, SS_ERROR, SS_ERROR_NOT_FOUND);
  g_clear_error (&error);

  g_remove (good);
  g_remove (trunc);
  g_remove (shape_path);
  g_remove (missing_path);
  g_rmdir (dir);
}

/* ------------------------------------------------------------------------ */
/* analysis with sliding windows */

typedef struct {
  int calls;
  double last;
  GCancellable *cancel_after_first;
} Progress;

static void
on_progress (double f, gpointer data)
{
  Progress *p = data;
  g_assert_cmpfloat (f, >=, p->last);
  p->last = f;
  p->calls++;
  if (p->cancel_after_first)
    g_cancellable_cancel (p->cancel_after_first);
}

static void
test_analyse (void)
{
  const SsSynchformerConfig *c = tiny ();   /* window: 8 frames = 0.32 s */
  g_autoptr (GError) error = NULL;
  g_autoptr (SsSynchformer) m = ss_synchformer_new_random (c, 5, TRUE, &error);
  g_assert_no_error (error);
  /* 1 s of 50 fps video (resampled to 25 fps) and audio */
  int n = 50, w = 40, h = 36;
  g_autofree const guint8 **fp = NULL;
  g_autofree guint8 *frame_data = make_frames (n, w, h, 9, &fp);
  (void) frame_data;
  gsize ns = 16000;
  g_autofree float *audio = make_audio (ns, 4);
  SsSynchformerOptions opt;
  ss_synchformer_options_init (&opt);
  opt.hop = 0.2;
  Progress p = { 0 };
  opt.progress = on_progress;
  opt.progress_data = &p;
  g_autoptr (SsSynchformerResult) r = ss_synchformer_analyse (m, fp, n, w, h, w * 4, 50.0, audio, ns,
                                                              &opt, "clip", NULL, &error);
  g_assert_no_error (error);
  /* starts 0, 5, 10, 15 frames, then the last window ends at frame 25: start 17 */
  g_assert_cmpint (r->n_windows, ==, 5);
  g_assert_cmpfloat_with_epsilon (r->window_start[1], 0.2, 1e-9);
  g_assert_cmpfloat_with_epsilon (r->window_start[4], 0.68, 1e-9);
  g_assert_cmpint (p.calls, ==, 5);
  g_assert_cmpfloat (p.last, ==, 1.0);
  double sum = 0;
  for (int i = 0; i < 21; i++)
    sum += r->overall.probs[i];
  g_assert_cmpfloat_with_epsilon (sum, 1.0, 1e-6);
  g_assert_cmpfloat (r->overall.syncability, >=, 0.0);
  g_assert_cmpfloat (r->overall.syncability, <=, 1.0);
  g_assert_cmpfloat_with_epsilon (r->overall.offset, ss_sync_class_offset (r->overall.class_index), 1e-9);

  /* the window at 0 equals a direct forward pass on the first 8 frames at 25 fps */
  int wf = window_frames (c);
  g_autofree const guint8 **sel = g_new (const guint8 *, wf);
  for (int k = 0; k < wf; k++)
    sel[k] = fp[2 * k];
  g_autoptr (SsTensor) pre = ss_synchformer_preprocess_frames (m, sel, wf, w, h, w * 4, &error);
  g_autoptr (SsTensor) video = ss_synchformer_video_segments (m, pre, 0, &error);
  g_autoptr (SsTensor) spec = ss_synchformer_audio_segments (m, audio, ns, &error);
  g_autoptr (SsTensor) logits = ss_synchformer_forward (m, video, spec, 1, NULL, &error);
  g_assert_no_error (error);
  float lg[21];
  g_assert_true (ss_tensor_to_floats (logits, lg, &error));
  double mx = -INFINITY, z = 0;
  for (int i = 0; i < 21; i++)
    mx = MAX (mx, lg[i]);
  for (int i = 0; i < 21; i++)
    z += exp (lg[i] - mx);
  for (int i = 0; i < 21; i++)
    g_assert_cmpfloat_with_epsilon (r->windows[0].probs[i], exp (lg[i] - mx) / z, 1e-5);

  /* too short */
  g_autoptr (SsSynchformerResult) r2 = ss_synchformer_analyse (m, fp, 6, w, h, w * 4, 50.0, audio, ns,
                                                               NULL, "short.mp4", NULL, &error);
  g_assert_null (r2);
  g_assert_error (error, SS_ERROR, SS_ERROR_INVALID_DATA);
  g_assert_nonnull (strstr (error->message, "short.mp4"));
  g_clear_error (&error);

  /* cancelled after the first window */
  g_autoptr (GCancellable) cancel = g_cancellable_new ();
  Progress p2 = { .cancel_after_first = cancel };
  opt.progress_data = &p2;
  g_autoptr (SsSynchformerResult) r3 = ss_synchformer_analyse (m, fp, n, w, h, w * 4, 50.0, audio, ns,
                                                               &opt, "clip", cancel, &error);
  g_assert_null (r3);
  g_assert_error (error, SS_ERROR, SS_ERROR_CANCELLED);
  g_assert_cmpint (p2.calls, ==, 1);
}

/* a media file (H.264 + FLAC in Matroska) gives the windows and probabilities of
 * the same clip analysed in memory */
static void
test_analyse_file (void)
{
  const SsSynchformerConfig *c = tiny ();
  g_autoptr (GError) error = NULL;
  g_autoptr (SsSynchformer) m = ss_synchformer_new_random (c, 5, TRUE, &error);
  g_assert_no_error (error);
  SsCorpusParams p;
  ss_corpus_params_init (&p, SS_CORPUS_EASY);
  p.seed = 3;
  p.duration = 1.2;
  p.width = 48;
  p.height = 40;
  p.n_events = 2;
  g_autoptr (SsCorpusClip) clip = ss_corpus_generate (&p, &error);
  g_assert_no_error (error);
  g_autofree char *dir = g_dir_make_tmp ("ss-synchformer-file-XXXXXX", &error);
  g_autofree char *path = g_build_filename (dir, "clip.mkv", NULL);
  SsEncoderOptions eo = { .crf = 12 };
  g_autoptr (SsEncoder) enc = ss_encoder_new_full (path, p.width, p.height, p.fps, 1, p.sample_rate, 1, &eo, &error);
  g_assert_no_error (error);
  SsFrame *frame = ss_frame_new (p.width, p.height);
  gsize spf = (gsize) p.sample_rate / p.fps;
  for (int f = 0; f < clip->n_frames; f++)
    {
      for (int y = 0; y < p.height; y++)
        memcpy (frame->data + (gsize) y * frame->stride, ss_corpus_clip_frame (clip, f) + (gsize) y * p.width * 4,
                (gsize) p.width * 4);
      frame->index = f;
      frame->pts = (SsTime) f * SS_TIME_SECOND / p.fps;
      g_assert_true (ss_encoder_write_video (enc, frame, &error));
      g_assert_true (ss_encoder_write_audio (enc, clip->audio + f * spf, spf, &error));
    }
  ss_frame_unref (frame);
  g_assert_true (ss_encoder_finish (enc, &error));
  g_assert_no_error (error);

  SsSynchformerOptions opt;
  ss_synchformer_options_init (&opt);
  opt.hop = 0.4;
  g_autoptr (SsSynchformerResult) rf = ss_synchformer_analyse_file (m, path, &opt, NULL, &error);
  g_assert_no_error (error);
  g_autofree const guint8 **fr = g_new (const guint8 *, clip->n_frames);
  for (int f = 0; f < clip->n_frames; f++)
    fr[f] = ss_corpus_clip_frame (clip, f);
  g_autoptr (SsSynchformerResult) rm = ss_synchformer_analyse (m, fr, clip->n_frames, p.width, p.height, p.width * 4,
                                                               p.fps, clip->audio, clip->n_samples, &opt, "clip",
                                                               NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpint (rf->n_windows, ==, rm->n_windows);
  for (int w = 0; w < rm->n_windows; w++)
    {
      g_assert_cmpfloat_with_epsilon (rf->window_start[w], rm->window_start[w], 1e-9);
      for (int i = 0; i < SS_SYNC_N_CLASSES; i++)   /* H.264 at CRF 12 changes pixels a little */
        g_assert_cmpfloat_with_epsilon (rf->windows[w].probs[i], rm->windows[w].probs[i], 0.02);
    }
  g_remove (path);

  /* a missing file is an error naming it */
  g_autoptr (SsSynchformerResult) rx = ss_synchformer_analyse_file (m, path, &opt, NULL, &error);
  g_assert_null (rx);
  g_assert_nonnull (error);
  g_assert_nonnull (strstr (error->message, "clip.mkv"));
  g_rmdir (dir);
}

/* gradients reach every parameter (training) */
static void
test_backward (void)
{
  const SsSynchformerConfig *c = tiny ();
  g_autoptr (GError) error = NULL;
  g_autoptr (SsSynchformer) m = ss_synchformer_new_random (c, 11, TRUE, &error);
  g_assert_no_error (error);
  ss_synchformer_set_trainable (m, TRUE);
  int wf = window_frames (c);
  g_autofree const guint8 **fp = NULL;
  g_autofree guint8 *frame_data = make_frames (wf, 36, 36, 2, &fp);
  (void) frame_data;
  gsize ns = (gsize) wf * 640;
  g_autofree float *audio = make_audio (ns, 5);
  g_autoptr (SsTensor) pre = ss_synchformer_preprocess_frames (m, fp, wf, 36, 36, 36 * 4, &error);
  g_autoptr (SsTensor) video = ss_synchformer_video_segments (m, pre, 0, &error);
  g_autoptr (SsTensor) spec = ss_synchformer_audio_segments (m, audio, ns, &error);
  g_assert_no_error (error);
  g_autoptr (SsTensor) sync = NULL;
  g_autoptr (SsTensor) logits = ss_synchformer_forward (m, video, spec, 1, &sync, &error);
  g_assert_no_error (error);
  gint32 target = 4, st = 1;
  g_autoptr (SsTensor) l1 = ss_op_cross_entropy (logits, &target, -100, 0.0f, &error);
  g_autoptr (SsTensor) l2 = ss_op_cross_entropy (sync, &st, -100, 0.0f, &error);
  g_autoptr (SsTensor) loss = ss_op_add (l1, l2, &error);
  g_assert_no_error (error);
  g_assert_true (ss_tensor_backward (loss, NULL, &error));
  g_assert_no_error (error);
  const char *const *names = ss_synchformer_get_param_names (m);
  for (guint i = 0; names[i]; i++)
    {
      SsTensor *t = ss_synchformer_get_param_index (m, i);
      if (g_str_has_prefix (names[i], "vfeat_extractor.patch_embed.proj"))   /* unused, as in the checkpoint */
        continue;
      if (!t->grad)
        g_error ("no gradient reached %s", names[i]);
      g_autofree float *g = ss_tensor_to_floats_dup (t->grad, &error);
      double s = 0;
      for (gint64 k = 0; k < ss_tensor_numel (t); k++)
        {
          g_assert_true (isfinite (g[k]));
          s += fabs (g[k]);
        }
      if (s == 0)
        g_error ("zero gradient for %s", names[i]);
    }
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/synchformer/shapes", test_shapes);
  g_test_add_func ("/synchformer/preprocess-frames", test_preprocess_frames_both);
  g_test_add_func ("/synchformer/preprocess-audio", test_preprocess_audio);
  g_test_add_func ("/synchformer/parity", test_parity);
  g_test_add_func ("/synchformer/load-errors", test_load_errors);
  g_test_add_func ("/synchformer/analyse", test_analyse);
  g_test_add_func ("/synchformer/analyse-file", test_analyse_file);
  g_test_add_func ("/synchformer/backward", test_backward);
  return g_test_run ();
}
