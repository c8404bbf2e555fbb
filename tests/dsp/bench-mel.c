/* bench-mel.c: throughput of the fused FFT log-mel kernel, and for comparison
 * the main cost of the DFT-as-GEMM alternative (frames [T, 400] times a
 * windowed cos/sin basis [400, 1026], through ss_op_matmul). Not a test.
 * Usage: bench-mel [seconds of audio per batch item] [batch] */
#include <glib.h>
#include <math.h>
#include <stdlib.h>

#include "dsp/ss-mel.h"
#include "tensor/ss-ops.h"

static double
now (void)
{
  return g_get_monotonic_time () / 1e6;
}

int
main (int argc, char **argv)
{
  double secs = argc > 1 ? atof (argv[1]) : 10.0;
  int batch = argc > 2 ? atoi (argv[2]) : 1;
  g_autoptr (GError) error = NULL;
  SsGpuDevice *dev = ss_gpu_device_get_default (&error);
  if (!dev)
    g_error ("%s", error->message);
  SsMelParams p;
  ss_mel_params_init_synchformer (&p);
  g_autoptr (SsMel) mel = ss_mel_new (&p, &error);
  gint64 L = (gint64) (secs * p.sample_rate);
  g_autofree float *x = g_new (float, batch * L);
  for (gint64 i = 0; i < batch * L; i++)
    x[i] = (float) sin (i * 0.01) * 0.5f;
  g_autoptr (SsTensor) wave = ss_tensor_new_from_floats (SS_DTYPE_F32, 2, SS_SHAPE (batch, L), x, &error);
  gint64 T = ss_mel_n_frames (&p, L);
  int reps = 5;
  double best = 1e9;
  for (int r = 0; r < reps + 1; r++)
    {
      double t0 = now ();
      g_autoptr (SsTensor) out = ss_mel_compute (mel, wave, &error);
      if (!out || !ss_gpu_device_flush (dev, &error))
        g_error ("%s", error->message);
      double dt = now () - t0;
      if (r > 0)
        best = MIN (best, dt);
    }
  g_print ("%s\n", ss_gpu_device_get_caps (dev)->name);
  g_print ("fused FFT log-mel: %d x %.1f s (%" G_GINT64_FORMAT " frames each): %.2f ms, %.0f x real time\n",
           batch, secs, T, best * 1e3, batch * secs / best);

  /* DFT-as-GEMM main cost: [B*T, 400] @ [400, 1026] */
  gint64 rows = batch * T;
  g_autoptr (SsTensor) frames = ss_tensor_full (SS_DTYPE_F32, 2, SS_SHAPE (rows, 400), 0.1f, &error);
  g_autoptr (SsTensor) basis = ss_tensor_full (SS_DTYPE_F32, 2, SS_SHAPE (1026, 400), 0.01f, &error);
  g_autoptr (SsTensor) fb = ss_tensor_full (SS_DTYPE_F32, 2, SS_SHAPE (128, 513), 0.01f, &error);
  g_autoptr (SsTensor) pw = ss_tensor_full (SS_DTYPE_F32, 2, SS_SHAPE (rows, 513), 0.01f, &error);
  best = 1e9;
  for (int r = 0; r < reps + 1; r++)
    {
      double t0 = now ();
      g_autoptr (SsTensor) spec = ss_op_linear (frames, basis, NULL, &error);
      g_autoptr (SsTensor) m = ss_op_linear (pw, fb, NULL, &error);
      if (!spec || !m || !ss_gpu_device_flush (dev, &error))
        g_error ("%s", error ? error->message : "?");
      double dt = now () - t0;
      if (r > 0)
        best = MIN (best, dt);
    }
  g_print ("DFT-as-GEMM (two GEMMs only, no framing/power/log): %.2f ms, %.0f x real time\n",
           best * 1e3, batch * secs / best);
  return 0;
}
