/* mel-ref.c: see mel-ref.h. Direct DFT (no FFT) in double. */
#include "mel-ref.h"

#include <math.h>

/* Slaney (Auditory Toolbox) mel: 3 mels per 200 Hz up to 1 kHz, then
 * logarithmic with 27 mels per factor 6.4. */
static double
slaney_mel (double f)
{
  return f <= 1000.0 ? 3.0 * f / 200.0 : 15.0 + 27.0 * log (f / 1000.0) / log (6.4);
}

static double
slaney_hz (double m)
{
  return m <= 15.0 ? 200.0 * m / 3.0 : 1000.0 * pow (6.4, (m - 15.0) / 27.0);
}

double *
mel_ref_filterbank (const MelRefParams *p)
{
  int nf = p->n_fft / 2 + 1, nm = p->n_mels;
  double nyq = p->sample_rate / 2;
  double fmax = p->f_max > 0 ? p->f_max : nyq;
  double mmax = p->slaney ? slaney_mel (fmax) : 2595.0 * log10 (1.0 + fmax / 700.0);
  double *pts = g_new (double, nm + 2);
  for (int i = 0; i < nm + 2; i++)
    {
      double m = mmax * i / (nm + 1);
      pts[i] = p->slaney ? slaney_hz (m) : 700.0 * (pow (10.0, m / 2595.0) - 1.0);
    }
  double *fb = g_new0 (double, (gsize) nf * nm);
  for (int k = 0; k < nf; k++)
    {
      double f = (double) k * p->sample_rate / p->n_fft;
      for (int m = 0; m < nm; m++)
        {
          double lo = pts[m], c = pts[m + 1], hi = pts[m + 2];
          double v = 0.0;
          if (f > lo && f <= c)
            v = (f - lo) / (c - lo);
          else if (f > c && f < hi)
            v = (hi - f) / (hi - c);
          if (p->slaney)
            v *= 2.0 / (hi - lo);
          fb[(gsize) k * nm + m] = v;
        }
    }
  g_free (pts);
  return fb;
}

double *
mel_ref_compute (const MelRefParams *p, const float *x, gint64 L, gint64 *T_out)
{
  int N = p->n_fft, nf = N / 2 + 1, nm = p->n_mels;
  gint64 pad = p->center ? N / 2 : p->pad;
  gint64 T = 1 + (L + 2 * pad - N) / p->hop_length;
  *T_out = T;
  double *win = g_new0 (double, N);
  int left = (N - p->win_length) / 2;
  for (int i = 0; i < p->win_length; i++)
    win[left + i] = 0.5 - 0.5 * cos (2.0 * G_PI * i / p->win_length);
  double *cs = g_new (double, N), *sn = g_new (double, N);
  for (int i = 0; i < N; i++)
    {
      cs[i] = cos (2.0 * G_PI * i / N);
      sn[i] = sin (2.0 * G_PI * i / N);
    }
  double *fb = mel_ref_filterbank (p);
  double *frame = g_new (double, N), *pw = g_new (double, nf);
  double *out = g_new0 (double, (gsize) nm * T);
  for (gint64 t = 0; t < T; t++)
    {
      for (int n = 0; n < N; n++)
        {
          gint64 src = t * p->hop_length + n - pad;
          if (src < 0)
            src = -src; /* reflect without repeating the edge */
          if (src >= L)
            src = 2 * (L - 1) - src;
          double v = x[src];
          if (p->clamp_input)
            v = CLAMP (v, -1.0, 1.0);
          frame[n] = win[n] != 0.0 ? v * win[n] : 0.0;
        }
      for (int k = 0; k < nf; k++)
        {
          double re = 0, im = 0;
          for (int n = left; n < left + p->win_length; n++)
            {
              int idx = (int) (((gint64) k * n) % N);
              re += frame[n] * cs[idx];
              im -= frame[n] * sn[idx];
            }
          pw[k] = re * re + im * im;
          if (p->magnitude)
            pw[k] = sqrt (pw[k] + p->mag_eps);
        }
      for (int m = 0; m < nm; m++)
        {
          double acc = 0;
          for (int k = 0; k < nf; k++)
            acc += fb[(gsize) k * nm + m] * pw[k];
          double v = acc;
          if (p->log_kind == 0 && p->log_offset > 0)
            v = log (acc + p->log_offset);
          else if (p->log_kind == 1)
            v = log (MAX (acc, p->log_offset));
          else if (p->log_kind == 2)
            v = log10 (MAX (acc, p->log_offset));
          out[(gsize) m * T + t] = v;
        }
    }
  g_free (win);
  g_free (cs);
  g_free (sn);
  g_free (fb);
  g_free (frame);
  g_free (pw);
  return out;
}
