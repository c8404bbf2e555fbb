/* ss-onset.c: spectral-flux onset strength and peak picking. */
#define G_LOG_DOMAIN "ss-onset"

#include "ss-onset.h"

void
ss_onset_strength (const float *logmel, int n_mels, gint64 T, float *out)
{
  g_return_if_fail (n_mels > 0 && T >= 0);
  g_return_if_fail ((logmel != NULL && out != NULL) || T == 0);
  if (T == 0)
    return;
  out[0] = 0.0f;
  for (gint64 t = 1; t < T; t++)
    {
      double acc = 0.0;
      for (int m = 0; m < n_mels; m++)
        {
          float d = logmel[(gsize) m * T + t] - logmel[(gsize) m * T + t - 1];
          if (d > 0)
            acc += d;
        }
      out[t] = (float) (acc / n_mels);
    }
}

gsize
ss_onset_peaks (const float *s, gint64 T, int half_window, float delta, int min_gap, gint64 *out,
                gsize max_out)
{
  g_return_val_if_fail (half_window >= 1 && min_gap >= 0, 0);
  g_return_val_if_fail ((s != NULL && out != NULL) || T == 0 || max_out == 0, 0);
  gsize n = 0;
  gint64 last = G_MININT64 / 2;
  for (gint64 t = 0; t < T && n < max_out; t++)
    {
      gint64 lo = MAX (0, t - half_window), hi = MIN (T - 1, t + half_window);
      double mean = 0.0;
      gboolean is_max = TRUE;
      for (gint64 u = lo; u <= hi; u++)
        {
          mean += s[u];
          if (s[u] > s[t] || (s[u] == s[t] && u < t))
            is_max = FALSE;
        }
      mean /= (double) (hi - lo + 1);
      if (is_max && s[t] > mean + delta && t - last >= min_gap)
        {
          out[n++] = t;
          last = t;
        }
    }
  return n;
}
