/* bench-synchformer: parity of the engine's Synchformer with a PyTorch fixture
 * (tools/reference/synchformer.py fixture ...) and the time to analyse a clip.
 *
 *   bench-synchformer --parity DIR            DIR/{weights,inputs,outputs}.safetensors
 *   bench-synchformer --weights W --time 10   analyse 10 s of in-memory video (random
 *                     [--width 480 --height 360]   frames at 25 fps) and 16 kHz audio
 *
 * Built without FFmpeg (SS_SYNCHFORMER_NO_MEDIA) so that it runs on machines with
 * only GLib and a Vulkan loader.
 */
#define G_LOG_DOMAIN "bench-synchformer"

#include <math.h>
#include <stdio.h>

#include "ss-types.h"
#include "ss-rng.h"
#include "tensor/ss-ops.h"
#include "tensor/ss-safetensors.h"
#include "models/synchformer/ss-synchformer.h"

static double
nerr (SsTensor *t, SsSafetensors *st, const char *name)
{
  g_autoptr (GError) error = NULL;
  gsize n = 0;
  g_autofree float *want = ss_safetensors_dup_f32 (st, name, &n, &error);
  if (!want)
    return NAN;
  g_autofree float *got = ss_tensor_to_floats_dup (t, &error);
  if (!got || n != (gsize) ss_tensor_numel (t))
    return NAN;
  double num = 0, den = 0;
  for (gsize i = 0; i < n; i++)
    {
      num += ((double) got[i] - want[i]) * ((double) got[i] - want[i]);
      den += (double) want[i] * want[i];
    }
  return sqrt (num / MAX (den, 1e-30));
}

#define CHECK(x) do { if (!(x)) { fprintf (stderr, "error: %s\n", error ? error->message : #x); return 1; } } while (0)

static double
now (void)
{
  return g_get_monotonic_time () / 1e6;
}

int
main (int argc, char **argv)
{
  g_autofree char *parity = NULL, *weights = NULL, *dtype = NULL, *random_config = NULL;
  gboolean no_warmup = FALSE;
  double seconds = 0;
  int width = 480, height = 360, repeat = 2;
  gboolean profile = FALSE;
  GOptionEntry entries[] = {
    { "parity", 'p', 0, G_OPTION_ARG_FILENAME, &parity, "PyTorch fixture folder", "DIR" },
    { "weights", 'w', 0, G_OPTION_ARG_FILENAME, &weights, "Weights for --time (default DIR/weights.safetensors)", "PATH" },
    { "time", 't', 0, G_OPTION_ARG_DOUBLE, &seconds, "Analyse this many seconds of video", "S" },
    { "width", 0, 0, G_OPTION_ARG_INT, &width, "Frame width", "N" },
    { "height", 0, 0, G_OPTION_ARG_INT, &height, "Frame height", "N" },
    { "dtype", 'd', 0, G_OPTION_ARG_STRING, &dtype, "f32 (default), f16 or bf16", "T" },
    { "random", 0, 0, G_OPTION_ARG_STRING, &random_config, "Random weights of this config instead of a file", "NAME" },
    { "no-warmup", 0, 0, G_OPTION_ARG_NONE, &no_warmup, "Time the first run too (no warm-up run)", NULL },
    { "profile", 0, 0, G_OPTION_ARG_NONE, &profile, "Break one window down by stage and by shader", NULL },
    { "repeat", 'r', 0, G_OPTION_ARG_INT, &repeat, "Timed runs (after one warm-up)", "N" },
    { NULL }
  };
  setvbuf (stdout, NULL, _IOLBF, 0);
  g_autoptr (GOptionContext) ctx = g_option_context_new ("- Synchformer parity and timing");
  g_option_context_add_main_entries (ctx, entries, NULL);
  g_autoptr (GError) error = NULL;
  CHECK (g_option_context_parse (ctx, &argc, &argv, &error));
  if (!weights && parity)
    weights = g_build_filename (parity, "weights.safetensors", NULL);
  CHECK (weights != NULL || random_config != NULL);

  double t0 = now ();
  g_autoptr (SsSynchformer) m = NULL;
  if (random_config)
    {
      const SsSynchformerConfig *rc = ss_synchformer_config_lookup (random_config);
      CHECK (rc != NULL);
      m = ss_synchformer_new_random (rc, 0, FALSE, &error);
    }
  else
    m = ss_synchformer_load (NULL, weights, &error);
  CHECK (m);
  const SsSynchformerConfig *c = ss_synchformer_get_config (m);
  printf ("config %s: %.1f M parameters, loaded in %.2f s\n", c->name,
          ss_synchformer_count_parameters (m) / 1e6, now () - t0);
  SS_NO_GRAD_SCOPE;
  if (dtype)
    {
      SsDType dt = g_str_equal (dtype, "f16") ? SS_DTYPE_F16 : g_str_equal (dtype, "bf16") ? SS_DTYPE_BF16 : SS_DTYPE_F32;
      CHECK (ss_synchformer_set_dtype (m, dt, &error));
      printf ("dtype %s\n", ss_dtype_name (dt));
    }

  if (parity)
    {
      g_autofree char *ip = g_build_filename (parity, "inputs.safetensors", NULL);
      g_autofree char *op = g_build_filename (parity, "outputs.safetensors", NULL);
      g_autoptr (SsSafetensors) in = ss_safetensors_open (ip, &error);
      CHECK (in);
      g_autoptr (SsSafetensors) out = ss_safetensors_open (op, &error);
      CHECK (out);
      gsize ns = 0;
      g_autofree float *wave = ss_safetensors_dup_f32 (in, "waveform", &ns, &error);
      CHECK (wave);
      g_autoptr (SsTensor) spec = ss_synchformer_audio_segments (m, wave, ns, &error);
      CHECK (spec);
      printf ("parity spectrogram      %.3g\n", nerr (spec, in, "spectrogram"));
      g_autoptr (SsTensor) video = ss_safetensors_load_tensor (in, "video", SS_DTYPE_F32, &error);
      CHECK (video);
      g_autoptr (SsTensor) rspec = ss_safetensors_load_tensor (in, "spectrogram", SS_DTYPE_F32, &error);
      CHECK (rspec);
      double t1 = now ();
      g_autoptr (SsTensor) vf = ss_synchformer_video_features (m, video, &error);
      CHECK (vf);
      g_autoptr (SsTensor) af = ss_synchformer_audio_features (m, rspec, &error);
      CHECK (af);
      g_autoptr (SsTensor) seq = ss_synchformer_sync_sequence (m, vf, af, 1, &error);
      CHECK (seq);
      g_autoptr (SsTensor) logits = ss_synchformer_forward (m, video, rspec, 1, NULL, &error);
      CHECK (logits);
      float lg[64];
      CHECK (ss_tensor_to_floats (logits, lg, &error));
      printf ("parity video.features   %.3g\n", nerr (vf, out, "video.features"));
      printf ("parity audio.features   %.3g\n", nerr (af, out, "audio.features"));
      printf ("parity sync.output      %.3g\n", nerr (seq, out, "sync.output"));
      printf ("parity logits           %.3g   (first pass incl. pipeline creation %.2f s)\n",
              nerr (logits, out, "logits"), now () - t1);
      g_autofree float *want = ss_safetensors_dup_f32 (out, "logits", NULL, &error);
      int a = 0, b = 0;
      for (int i = 1; i < (int) logits->shape[1]; i++)
        {
          if (lg[i] > lg[a]) a = i;
          if (want[i] > want[b]) b = i;
        }
      printf ("argmax engine %d, PyTorch %d\n", a, b);
    }

  if (seconds > 0)
    {
      int n_frames = (int) lround (seconds * 25);
      gsize ns = (gsize) lround (seconds * c->sample_rate);
      SsRng rng;
      ss_rng_init (&rng, 42);
      /* smooth random frames (cheap to make): a few moving gradients */
      gsize fsz = (gsize) width * height * 4;
      g_autofree guint8 *data = g_new (guint8, fsz * n_frames);
      g_autofree const guint8 **fr = g_new (const guint8 *, n_frames);
      for (int f = 0; f < n_frames; f++)
        {
          guint8 *p = data + fsz * f;
          fr[f] = p;
          for (int y = 0; y < height; y++)
            for (int x = 0; x < width; x++, p += 4)
              {
                p[0] = (guint8) (x + f * 3);
                p[1] = (guint8) (y * 2 + f);
                p[2] = (guint8) ((x ^ y) + f * 5);
                p[3] = 255;
              }
        }
      g_autofree float *audio = g_new (float, ns);
      for (gsize i = 0; i < ns; i++)
        audio[i] = (float) (0.1 * ss_rng_normal (&rng));
      SsSynchformerOptions opt;
      ss_synchformer_options_init (&opt);
      /* warm-up: pipelines, allocations */
      if (!no_warmup)
        {
          double tw = now ();
          g_autoptr (SsSynchformerResult) w0 = ss_synchformer_analyse (m, fr, MIN (n_frames, 125), width, height,
                                                                       width * 4, 25.0, audio, ns, &opt, "bench",
                                                                       NULL, &error);
          CHECK (w0);
          printf ("warm-up (%d windows): %.3f s\n", w0->n_windows, now () - tw);
        }
      double best = INFINITY;
      int nw = 0;
      for (int r = 0; r < repeat; r++)
        {
          double ts = now ();
          g_autoptr (SsSynchformerResult) res = ss_synchformer_analyse (m, fr, n_frames, width, height, width * 4,
                                                                        25.0, audio, ns, &opt, "bench",
                                                                        NULL, &error);
          CHECK (res);
          double el = now () - ts;
          best = MIN (best, el);
          nw = res->n_windows;
          printf ("analyse %.1f s of %dx%d video (%d windows): %.3f s\n", seconds, width, height,
                  res->n_windows, el);
        }
      printf ("RESULT engine analyse %.1f s: best %.3f s (%d windows, %.3f s per window)\n", seconds, best,
              nw, best / nw);
      if (profile)
        {
          SsGpuDevice *dev = ss_gpu_device_get_default (&error);
          CHECK (dev);
          int wf = (c->n_segments - 1) * c->segment_hop + c->segment_frames;
          /* drop what SOUNDSTAGE_PROFILE=1 recorded so far (the warm-up and
           * the timed runs): the table is the profiled window's alone */
          g_autoptr (GArray) before G_GNUC_UNUSED = ss_gpu_device_take_profile (dev, NULL);
          for (int pass = 0; pass < 2; pass++)
            {
              ss_gpu_device_set_profiling (dev, pass == 1);
              double ta = now ();
              g_autoptr (SsTensor) pre = ss_synchformer_preprocess_frames (m, fr, wf, width, height, width * 4, &error);
              CHECK (pre && ss_gpu_device_flush (dev, &error));
              double tb = now ();
              g_autoptr (SsTensor) video = ss_synchformer_video_segments (m, pre, 0, &error);
              g_autoptr (SsTensor) spec = video ? ss_synchformer_audio_segments (m, audio, ns, &error) : NULL;
              CHECK (spec && ss_gpu_device_flush (dev, &error));
              double tc = now ();
              g_autoptr (SsTensor) vf = ss_synchformer_video_features (m, video, &error);
              CHECK (vf && ss_gpu_device_flush (dev, &error));
              double td = now ();
              g_autoptr (SsTensor) af = ss_synchformer_audio_features (m, spec, &error);
              CHECK (af && ss_gpu_device_flush (dev, &error));
              double te = now ();
              g_autoptr (SsTensor) seq = ss_synchformer_sync_sequence (m, vf, af, 1, &error);
              CHECK (seq && ss_gpu_device_flush (dev, &error));
              double tf = now ();
              printf ("%s one window: frames %.3f s, segments+mel %.3f s, video net %.3f s, audio net %.3f s, sync %.3f s\n",
                      pass ? "profiled" : "stages", tb - ta, tc - tb, td - tc, te - td, tf - te);
            }
          g_autoptr (GArray) prof = ss_gpu_device_take_profile (dev, &error);
          CHECK (prof);
          double total = 0;
          for (guint i = 0; i < prof->len; i++)
            total += g_array_index (prof, SsGpuProfileEntry, i).total_ms;
          printf ("GPU time of the profiled window: %.1f ms in %u kinds of dispatch\n", total, prof->len);
          for (guint i = 0; i < MIN (prof->len, 20); i++)
            {
              SsGpuProfileEntry *e = &g_array_index (prof, SsGpuProfileEntry, i);
              printf ("  %-40s %7" G_GUINT64_FORMAT " x  %9.2f ms\n", e->label, e->count, e->total_ms);
            }
        }
    }
  return 0;
}
