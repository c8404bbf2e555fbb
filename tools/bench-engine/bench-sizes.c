/* bench-sizes.c: wall time against GPU time of one elementwise op (GELU) over
 * tensor sizes that cross the allocator's block threshold (buffers over a
 * quarter of a block, 64 MiB by default on discrete GPUs, get their own
 * block). Several ops of the engine's op benchmark were slow exactly when a
 * tensor was over that size; this separates host-side cost (allocation,
 * recording) from kernel time. Run it with SOUNDSTAGE_GPU_BLOCK_MB=1024 too.
 *
 *   bench-sizes        (prints one line per dtype, size and pass)
 */
#include <stdio.h>
#include "tensor/ss-ops.h"

int
main (void)
{
  g_autoptr (GError) e = NULL;
  const gint64 mb[] = { 16, 32, 60, 70, 130, 260 };
  for (int dt = 0; dt < 2; dt++)
    for (guint s = 0; s < G_N_ELEMENTS (mb); s++)
      {
        SsDType t = dt ? SS_DTYPE_F32 : SS_DTYPE_F16;
        gint64 n = (mb[s] << 20) / (dt ? 4 : 2);
        g_autoptr (SsTensor) x = ss_tensor_full (t, 1, (gint64[]) { n }, 0.5f, &e);
        if (!x)
          {
            fprintf (stderr, "%s\n", e->message);
            return 1;
          }
        for (int pass = 0; pass < 3; pass++)
          {
            ss_gpu_device_set_profiling (x->device, pass == 2);
            gint64 t0 = g_get_monotonic_time ();
            int reps = 20;
            for (int r = 0; r < reps; r++)
              {
                SsTensor *y = ss_op_gelu (x, TRUE, &e);
                if (!y)
                  {
                    fprintf (stderr, "%s\n", e->message);
                    return 1;
                  }
                ss_tensor_unref (y);
              }
            if (!ss_gpu_device_flush (x->device, &e))
              {
                fprintf (stderr, "%s\n", e->message);
                return 1;
              }
            double per = (g_get_monotonic_time () - t0) * 1e-3 / reps;
            guint64 used = 0, reserved = 0;
            ss_gpu_device_get_memory (x->device, &used, &reserved);
            g_autoptr (GArray) pr = ss_gpu_device_take_profile (x->device, NULL);
            double gpu = 0;
            for (guint i = 0; pr && i < pr->len; i++)
              gpu += g_array_index (pr, SsGpuProfileEntry, i).total_ms;
            if (pass == 0)
              continue;   /* warm-up */
            if (pass == 1)
              printf ("gelu %s %4ld MB: wall %.3f ms/call", dt ? "f32" : "f16", (long) mb[s], per);
            else
              printf (", profiled: wall %.3f ms/call, GPU %.3f ms/call, reserved %lu MB\n", per, gpu / reps,
                      (unsigned long) (reserved >> 20));
            fflush (stdout);
          }
      }
  return 0;
}
