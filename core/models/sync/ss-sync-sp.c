/* ss-sync-sp.c: signal-processing sync estimate (see ss-sync-sp.h). */
#define G_LOG_DOMAIN "ss-sync-sp"

#include "ss-sync-sp.h"
#include "ss-types.h"

#include <math.h>
#include <string.h>

/* Temperature: lowest NLL of the true class among 0.02, 0.05, 0.1 on generated clips
 * (seeds 1..40, moderate, 128 px), see docs/sync.md. */
#define DEFAULT_TEMPERATURE 0.05
#define CONF_SCALE          2.5     /* (peak - second) / std of the curve */
#define HIGHPASS_SECONDS    0.5
#define MOTION_WIDTH        128

void
ss_sync_sp_options_init (SsSyncSpOptions *opt)
{
  g_return_if_fail (opt != NULL);
  opt->max_offset = SS_SYNC_MAX_OFFSET;
  opt->window = SS_SYNC_WINDOW;
  opt->hop = 1.0;
  opt->temperature = DEFAULT_TEMPERATURE;
}

void
ss_sync_sp_result_free (SsSyncSpResult *r)
{
  if (r == NULL)
    return;
  g_free (r->window_start);
  g_free (r->windows);
  g_free (r->correlation);
  g_free (r);
}

/* ------------------------------------------------------------------------ */
/* FFT                                                                      */

void
ss_sync_sp_fft (float *d, int n)
{
  g_return_if_fail (n > 0 && (n & (n - 1)) == 0);
  for (int i = 1, j = 0; i < n; i++)
    {
      int bit = n >> 1;
      for (; j & bit; bit >>= 1)
        j ^= bit;
      j ^= bit;
      if (i < j)
        {
          float t;
          t = d[2 * i]; d[2 * i] = d[2 * j]; d[2 * j] = t;
          t = d[2 * i + 1]; d[2 * i + 1] = d[2 * j + 1]; d[2 * j + 1] = t;
        }
    }
  for (int len = 2; len <= n; len <<= 1)
    {
      double ang = -2.0 * G_PI / len;
      for (int k = 0; k < len / 2; k++)
        {
          double wr = cos (ang * k), wi = sin (ang * k);
          for (int i = k; i < n; i += len)
            {
              int j = i + len / 2;
              double xr = d[2 * j] * wr - d[2 * j + 1] * wi;
              double xi = d[2 * j] * wi + d[2 * j + 1] * wr;
              double ur = d[2 * i], ui = d[2 * i + 1];
              d[2 * i] = (float) (ur + xr);
              d[2 * i + 1] = (float) (ui + xi);
              d[2 * j] = (float) (ur - xr);
              d[2 * j + 1] = (float) (ui - xi);
            }
        }
    }
}

/* ------------------------------------------------------------------------ */
/* audio onset strength                                                     */

float *
ss_sync_sp_audio_onsets (const float *audio, gsize n_samples, int rate, gsize *n_out)
{
  g_return_val_if_fail (rate > 0 && n_out != NULL, NULL);
  int hop = MAX (1, rate / SS_SYNC_SP_RATE);
  int nfft = 1;
  while (nfft < (int) (0.032 * rate))
    nfft <<= 1;
  int nbins = nfft / 2 + 1;
  gsize n_frames = n_samples / hop + 1;
  *n_out = n_frames;
  float *flux = g_new0 (float, n_frames);
  if (n_samples == 0)
    return flux;

  g_autofree float *win = g_new (float, nfft);
  for (int i = 0; i < nfft; i++)
    win[i] = (float) (0.5 - 0.5 * cos (2 * G_PI * (i + 0.5) / nfft));
  g_autofree float *buf = g_new (float, 2 * nfft);
  g_autofree float *mag = g_new (float, (gsize) n_frames * nbins);
  double total = 0;
  for (gsize f = 0; f < n_frames; f++)
    {
      gint64 start = (gint64) f * hop - nfft / 2;   /* frame f is centred at f*hop */
      for (int i = 0; i < nfft; i++)
        {
          gint64 s = start + i;
          buf[2 * i] = (s >= 0 && (guint64) s < n_samples) ? audio[s] * win[i] : 0.0f;
          buf[2 * i + 1] = 0.0f;
        }
      ss_sync_sp_fft (buf, nfft);
      for (int b = 0; b < nbins; b++)
        {
          float m = sqrtf (buf[2 * b] * buf[2 * b] + buf[2 * b + 1] * buf[2 * b + 1]);
          mag[f * nbins + b] = m;
          total += m;
        }
    }
  /* log compression relative to the clip's mean magnitude: independent of level */
  double mean = total / ((double) n_frames * nbins);
  double scale = mean > 0 ? 1.0 / (0.05 * mean) : 0.0;
  for (gsize i = 0; i < (gsize) n_frames * nbins; i++)
    mag[i] = (float) log1p (mag[i] * scale);
  for (gsize f = 1; f < n_frames; f++)
    {
      double s = 0;
      const float *cur = mag + f * nbins, *prev = mag + (f - 1) * nbins;
      for (int b = 1; b < nbins; b++)
        {
          double d = cur[b] - prev[b];
          if (d > 0)
            s += d;
        }
      flux[f] = (float) (s / nbins);
    }
  return flux;
}

/* ------------------------------------------------------------------------ */
/* visual motion energy                                                     */

typedef struct {
  int w, h;
  float *px;
} Gray;

static void
gray_from_rgba (const SsSyncSpVideo *v, int index, int factor, Gray *g)
{
  const guint8 *src = v->frames[index];
  for (int y = 0; y < g->h; y++)
    for (int x = 0; x < g->w; x++)
      {
        double s = 0;
        for (int yy = 0; yy < factor; yy++)
          {
            const guint8 *row = src + (gsize) (y * factor + yy) * v->stride + (gsize) x * factor * 4;
            for (int xx = 0; xx < factor; xx++)
              s += 0.299 * row[xx * 4] + 0.587 * row[xx * 4 + 1] + 0.114 * row[xx * 4 + 2];
          }
        g->px[y * g->w + x] = (float) (s / (factor * factor));
      }
}

static inline float
gray_sample (const Gray *g, double x, double y)
{
  x = CLAMP (x, 0.0, g->w - 1.001);
  y = CLAMP (y, 0.0, g->h - 1.001);
  int ix = (int) x, iy = (int) y;
  float fx = (float) (x - ix), fy = (float) (y - iy);
  const float *p = g->px + iy * g->w + ix;
  float a = p[0] + (p[1] - p[0]) * fx;
  float b = p[g->w] + (p[g->w + 1] - p[g->w]) * fx;
  return a + (b - a) * fy;
}

/* Mean absolute difference of cur(x,y) and prev(x+dx, y+dy) over the inner area. */
static double
shifted_mad (const Gray *prev, const Gray *cur, double dx, double dy, int border)
{
  double s = 0;
  int n = 0;
  int ix = (int) dx, iy = (int) dy;
  if (ix == dx && iy == dy)
    {
      /* whole pixels: the same values as the bilinear path, without interpolating */
      for (int y = border; y < cur->h - border; y += 2)
        {
          const float *c = cur->px + y * cur->w, *p = prev->px + (y + iy) * prev->w + ix;
          for (int x = border; x < cur->w - border; x += 2)
            s += fabsf (c[x] - p[x]);
          n += (cur->w - 2 * border + 1) / 2;
        }
      return n ? s / n : 0;
    }
  for (int y = border; y < cur->h - border; y += 2)
    for (int x = border; x < cur->w - border; x += 2)
      {
        s += fabsf (cur->px[y * cur->w + x] - gray_sample (prev, x + dx, y + dy));
        n++;
      }
  return n ? s / n : 0;
}

#define BLOCKS 8

float *
ss_sync_sp_motion_energy (const SsSyncSpVideo *v, GCancellable *cancellable, gsize *n_out)
{
  g_return_val_if_fail (v != NULL && n_out != NULL, NULL);
  *n_out = v->n_frames > 0 ? (gsize) v->n_frames : 0;
  float *energy = g_new0 (float, MAX (1, v->n_frames));
  if (v->n_frames < 2)
    return energy;
  int factor = MAX (1, v->width / MOTION_WIDTH);
  Gray a = { v->width / factor, v->height / factor, NULL }, b = a;
  a.px = g_new (float, (gsize) a.w * a.h);
  b.px = g_new (float, (gsize) b.w * b.h);
  g_autofree float *diff = g_new (float, (gsize) a.w * a.h);
  g_autofree float *blocks_e = g_new0 (float, (gsize) v->n_frames * BLOCKS * BLOCKS);
  Gray *prev = &a, *cur = &b;
  gray_from_rgba (v, 0, factor, prev);
  const int S = 4, border = S + 1;
  for (int k = 1; k < v->n_frames; k++)
    {
      if (cancellable && g_cancellable_is_cancelled (cancellable))
        break;
      gray_from_rgba (v, k, factor, cur);
      /* global shift: integer search, then half and quarter pixel steps */
      double best = shifted_mad (prev, cur, 0, 0, border), bx = 0, by = 0;
      for (int dy = -S; dy <= S; dy++)
        for (int dx = -S; dx <= S; dx++)
          {
            double m = shifted_mad (prev, cur, dx, dy, border);
            if (m < best - 1e-9)
              {
                best = m;
                bx = dx;
                by = dy;
              }
          }
      for (double step = 0.5; step >= 0.25; step *= 0.5)
        {
          double cx = bx, cy = by;
          for (int dy = -1; dy <= 1; dy++)
            for (int dx = -1; dx <= 1; dx++)
              {
                double m = shifted_mad (prev, cur, cx + dx * step, cy + dy * step, border);
                if (m < best - 1e-9)
                  {
                    best = m;
                    bx = cx + dx * step;
                    by = cy + dy * step;
                  }
              }
        }
      for (int y = 0; y < cur->h; y++)
        for (int x = 0; x < cur->w; x++)
          diff[y * cur->w + x] = fabsf (cur->px[y * cur->w + x] - gray_sample (prev, x + bx, y + by));
      /* per block: mean difference; minus the median block (residual global change) */
      double blk[BLOCKS * BLOCKS], sorted[BLOCKS * BLOCKS];
      int bw = MAX (1, (cur->w - 2 * border) / BLOCKS), bh = MAX (1, (cur->h - 2 * border) / BLOCKS);
      for (int j = 0; j < BLOCKS; j++)
        for (int i = 0; i < BLOCKS; i++)
          {
            double s = 0;
            int n = 0;
            for (int y = border + j * bh; y < border + (j + 1) * bh && y < cur->h; y++)
              for (int x = border + i * bw; x < border + (i + 1) * bw && x < cur->w; x++)
                {
                  s += diff[y * cur->w + x];
                  n++;
                }
            blk[j * BLOCKS + i] = n ? s / n : 0;
          }
      memcpy (sorted, blk, sizeof blk);
      for (int i = 1; i < BLOCKS * BLOCKS; i++)
        for (int j = i; j > 0 && sorted[j - 1] > sorted[j]; j--)
          {
            double t = sorted[j];
            sorted[j] = sorted[j - 1];
            sorted[j - 1] = t;
          }
      double med = 0.5 * (sorted[BLOCKS * BLOCKS / 2 - 1] + sorted[BLOCKS * BLOCKS / 2]);
      for (int i = 0; i < BLOCKS * BLOCKS; i++)
        blocks_e[(gsize) k * BLOCKS * BLOCKS + i] = (float) MAX (0.0, blk[i] - med);
      Gray *t = prev;
      prev = cur;
      cur = t;
    }
  g_free (a.px);
  g_free (b.px);
  /* the sum over blocks of what moved more than the typical block */
  for (int k = 1; k < v->n_frames; k++)
    {
      double e = 0;
      for (int i = 0; i < BLOCKS * BLOCKS; i++)
        e += blocks_e[(gsize) k * BLOCKS * BLOCKS + i];
      energy[k] = (float) e;
    }
  return energy;
}

/* ------------------------------------------------------------------------ */
/* correlation                                                              */

/* x - moving average over @win samples, half-wave rectified. */
static void
highpass_rectify (float *x, gsize n, int win)
{
  g_autofree double *cum = g_new (double, n + 1);
  cum[0] = 0;
  for (gsize i = 0; i < n; i++)
    cum[i + 1] = cum[i] + x[i];
  g_autofree float *out = g_new (float, n);
  for (gsize i = 0; i < n; i++)
    {
      gsize lo = i >= (gsize) win / 2 ? i - win / 2 : 0;
      gsize hi = MIN (n, i + win / 2 + 1);
      double m = (cum[hi] - cum[lo]) / (double) (hi - lo);
      out[i] = (float) MAX (0.0, x[i] - m);
    }
  memcpy (x, out, n * sizeof (float));
}

/* Pearson correlation of v[t] and a[t - lag] for t in [t0, t1), for each lag in
 * [-L, L] (samples). */
static void
correlate (const float *v, gsize nv, const float *a, gsize na, gsize t0, gsize t1, int L, double *r)
{
  for (int lag = -L; lag <= L; lag++)
    {
      double sv = 0, sa = 0, svv = 0, saa = 0, sva = 0;
      gsize n = 0;
      for (gsize t = t0; t < t1 && t < nv; t++)
        {
          gint64 ta = (gint64) t - lag;
          if (ta < 0 || (guint64) ta >= na)
            continue;
          double x = v[t], y = a[ta];
          sv += x; sa += y; svv += x * x; saa += y * y; sva += x * y;
          n++;
        }
      double res = 0;
      if (n > 10)
        {
          double cov = sva - sv * sa / n;
          double vx = svv - sv * sv / n, vy = saa - sa * sa / n;
          if (vx > 1e-12 && vy > 1e-12)
            res = cov / sqrt (vx * vy);
        }
      r[lag + L] = res;
    }
}

static void
estimate_from_curve (const double *r, int L, double temperature, SsSyncEstimate *est)
{
  int n = 2 * L + 1;
  int best = 0;
  for (int i = 1; i < n; i++)
    if (r[i] > r[best])
      best = i;
  double refine = 0;
  if (best > 0 && best < n - 1)
    {
      double y0 = r[best - 1], y1 = r[best], y2 = r[best + 1];
      double den = y0 - 2 * y1 + y2;
      if (den < 0)
        refine = CLAMP (0.5 * (y0 - y2) / den, -0.5, 0.5);
    }
  est->offset = (best - L + refine) / (double) SS_SYNC_SP_RATE;
  est->peak = r[best];

  /* second peak: the best local maximum at least 0.15 s away */
  int excl = (int) (0.15 * SS_SYNC_SP_RATE);
  double second = -1.0, mean = 0, var = 0;
  for (int i = 0; i < n; i++)
    {
      mean += r[i];
      if (abs (i - best) <= excl)
        continue;
      gboolean is_max = (i == 0 || r[i] >= r[i - 1]) && (i == n - 1 || r[i] >= r[i + 1]);
      if (is_max && r[i] > second)
        second = r[i];
    }
  mean /= n;
  for (int i = 0; i < n; i++)
    var += (r[i] - mean) * (r[i] - mean);
  double sd = sqrt (var / n);
  if (second < -0.5)
    second = mean;
  est->second_peak = second;
  double z = sd > 1e-9 ? (est->peak - second) / sd : 0.0;
  est->confidence = est->peak > 0 ? 1.0 - exp (-z / CONF_SCALE) : 0.0;

  /* class probabilities: correlation pooled over +-0.1 s around each class lag */
  double logit[SS_SYNC_N_CLASSES], mx = -1e30;
  int half = SS_SYNC_SP_RATE / 10;
  for (int c = 0; c < SS_SYNC_N_CLASSES; c++)
    {
      int centre = (int) lround (ss_sync_class_offset (c) * SS_SYNC_SP_RATE) + L;
      double m = -1e30;
      for (int i = centre - half; i <= centre + half; i++)
        if (i >= 0 && i < n)
          m = MAX (m, r[i]);
      logit[c] = m > -1e29 ? m / MAX (temperature, 1e-6) : -1e30;
      mx = MAX (mx, logit[c]);
    }
  double s = 0;
  for (int c = 0; c < SS_SYNC_N_CLASSES; c++)
    s += (est->probs[c] = logit[c] > -1e29 ? exp (logit[c] - mx) : 0.0);
  int bc = 0;
  for (int c = 0; c < SS_SYNC_N_CLASSES; c++)
    {
      est->probs[c] /= s;
      if (est->probs[c] > est->probs[bc])
        bc = c;
    }
  est->class_index = bc;
}

SsSyncSpResult *
ss_sync_sp_analyse (const SsSyncSpVideo *video, const float *audio, gsize n_samples, int rate,
                    const SsSyncSpOptions *opt_in, const char *name, GCancellable *cancellable,
                    GError **error)
{
  g_return_val_if_fail (video != NULL, NULL);
  SsSyncSpOptions opt;
  if (opt_in)
    opt = *opt_in;
  else
    ss_sync_sp_options_init (&opt);
  g_autofree char *what = name ? g_strdup_printf ("“%s”", name) : g_strdup ("The clip");

  if (video->n_frames < 2 || video->fps <= 0 || video->frames == NULL)
    {
      g_set_error (error, SS_ERROR, SS_ERROR_INVALID_DATA,
                   "%s has no video frames; sync analysis needs picture and sound", what);
      return NULL;
    }
  if (audio == NULL || n_samples == 0 || rate <= 0)
    {
      g_set_error (error, SS_ERROR, SS_ERROR_INVALID_DATA,
                   "%s has no audio; sync analysis needs picture and sound", what);
      return NULL;
    }
  double vdur = video->n_frames / video->fps, adur = (double) n_samples / rate;
  double dur = MIN (vdur, adur);
  if (dur + 1e-6 < SS_SYNC_WINDOW)
    {
      g_set_error (error, SS_ERROR, SS_ERROR_INVALID_DATA,
                   "%s is %.1f s long (with both picture and sound); sync analysis needs at least %.1f s",
                   what, dur, SS_SYNC_WINDOW);
      return NULL;
    }
  float apeak = 0;
  for (gsize i = 0; i < n_samples; i++)
    apeak = MAX (apeak, fabsf (audio[i]));
  if (!(apeak > 1e-5f))
    {
      g_set_error (error, SS_ERROR, SS_ERROR_INVALID_DATA,
                   "The sound of %s is silent; there is nothing to synchronize", name ? what : "the clip");
      return NULL;
    }

  gsize n_on = 0, n_mo = 0;
  g_autofree float *onset = ss_sync_sp_audio_onsets (audio, n_samples, rate, &n_on);
  g_autofree float *motion = ss_sync_sp_motion_energy (video, cancellable, &n_mo);
  if (cancellable && g_cancellable_set_error_if_cancelled (cancellable, error))
    return NULL;

  /* motion value k sits between frames k-1 and k: time (k - 0.5) / fps; resample to 100 Hz */
  gsize nv = (gsize) floor (vdur * SS_SYNC_SP_RATE);
  g_autofree float *vis = g_new0 (float, MAX (nv, 1));
  for (gsize j = 0; j < nv; j++)
    {
      double pos = (double) j / SS_SYNC_SP_RATE * video->fps + 0.5;   /* index into motion */
      if (pos <= 1.0)
        vis[j] = n_mo > 1 ? motion[1] : 0.0f;
      else if (pos >= (double) (n_mo - 1))
        vis[j] = motion[n_mo - 1];
      else
        {
          gsize k = (gsize) pos;
          double f = pos - k;
          vis[j] = (float) (motion[k] * (1 - f) + motion[k + 1] * f);
        }
    }
  int win = (int) (HIGHPASS_SECONDS * SS_SYNC_SP_RATE) | 1;
  highpass_rectify (vis, nv, win);
  highpass_rectify (onset, n_on, win);

  int L = (int) lround (opt.max_offset * SS_SYNC_SP_RATE);
  g_autofree double *r = g_new (double, 2 * L + 1);
  SsSyncSpResult *res = g_new0 (SsSyncSpResult, 1);
  res->start = 0;
  res->duration = dur;
  correlate (vis, nv, onset, n_on, 0, nv, L, r);
  estimate_from_curve (r, L, opt.temperature, &res->overall);
  res->n_lags = 2 * L + 1;
  res->first_lag = -L / (double) SS_SYNC_SP_RATE;
  res->lag_step = 1.0 / SS_SYNC_SP_RATE;
  res->correlation = g_new (float, res->n_lags);
  for (int i = 0; i < res->n_lags; i++)
    res->correlation[i] = (float) r[i];

  if (opt.window > 0 && opt.hop > 0 && dur > opt.window + 1e-6)
    {
      int nw = (int) floor ((dur - opt.window) / opt.hop + 1e-6) + 1;
      res->n_windows = nw;
      res->window_start = g_new (double, nw);
      res->windows = g_new0 (SsSyncEstimate, nw);
      for (int w = 0; w < nw; w++)
        {
          double s = w * opt.hop;
          gsize t0 = (gsize) lround (s * SS_SYNC_SP_RATE);
          gsize t1 = MIN (nv, (gsize) lround ((s + opt.window) * SS_SYNC_SP_RATE));
          correlate (vis, nv, onset, n_on, t0, t1, L, r);
          estimate_from_curve (r, L, opt.temperature, &res->windows[w]);
          res->window_start[w] = s;
        }
    }
  return res;
}
