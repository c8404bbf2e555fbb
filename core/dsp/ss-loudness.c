/* ss-loudness.c: RMS / peak levels in dBFS. */
#define G_LOG_DOMAIN "ss-loudness"

#include "ss-loudness.h"

#include <math.h>

double
ss_loudness_rms (const float *x, gsize n)
{
  g_return_val_if_fail (x != NULL || n == 0, 0.0);
  if (n == 0)
    return 0.0;
  double acc = 0.0;
  for (gsize i = 0; i < n; i++)
    acc += (double) x[i] * (double) x[i];
  return sqrt (acc / (double) n);
}

static double
to_db (double v)
{
  return v > 0.0 ? 20.0 * log10 (v) : -INFINITY;
}

double
ss_loudness_rms_dbfs (const float *x, gsize n)
{
  return to_db (ss_loudness_rms (x, n));
}

double
ss_loudness_peak_dbfs (const float *x, gsize n)
{
  g_return_val_if_fail (x != NULL || n == 0, -INFINITY);
  double peak = 0.0;
  for (gsize i = 0; i < n; i++)
    peak = MAX (peak, fabs ((double) x[i]));
  return to_db (peak);
}

double
ss_loudness_rms_dbfs_interleaved (const float *x, gsize n_frames, guint channels)
{
  g_return_val_if_fail (channels > 0, -INFINITY);
  return ss_loudness_rms_dbfs (x, n_frames * channels);
}

gsize
ss_loudness_envelope_frames (gsize n, gsize hop)
{
  g_return_val_if_fail (hop > 0, 0);
  return n == 0 ? 0 : 1 + (n - 1) / hop;
}

gsize
ss_loudness_envelope_dbfs (const float *x, gsize n, gsize win, gsize hop, float *out,
                           gsize max_out)
{
  g_return_val_if_fail (win > 0 && hop > 0, 0);
  g_return_val_if_fail (x != NULL || n == 0, 0);
  gsize frames = MIN (ss_loudness_envelope_frames (n, hop), max_out);
  for (gsize f = 0; f < frames; f++)
    {
      gsize start = f * hop;
      gsize end = MIN (start + win, n);
      double acc = 0.0;
      for (gsize i = start; i < end; i++)
        acc += (double) x[i] * (double) x[i];
      double db = to_db (sqrt (acc / (double) win));
      out[f] = (float) MAX (db, SS_LOUDNESS_FLOOR_DB);
    }
  return frames;
}

double
ss_loudness_gain_to (const float *x, gsize n, double target_dbfs)
{
  double cur = ss_loudness_rms_dbfs (x, n);
  if (!isfinite (cur))
    return 1.0;
  return pow (10.0, (target_dbfs - cur) / 20.0);
}
