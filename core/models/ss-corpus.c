/* ss-corpus.c: deterministic synthetic audio-visual clips (see ss-corpus.h). */
#define G_LOG_DOMAIN "ss-corpus"

#include "ss-corpus.h"
#include "ss-types.h"

#include <json-glib/json-glib.h>
#include <math.h>
#include <string.h>


/* ------------------------------------------------------------------------ */
/* names and parameters                                                     */

static const char *kind_names[] = { "impact", "flash", "strike", "step" };
static const char *difficulty_names[] = { "easy", "moderate", "hard" };

const char *
ss_corpus_event_kind_name (SsCorpusEventKind kind)
{
  g_return_val_if_fail (kind < SS_CORPUS_N_EVENT_KINDS, "unknown");
  return kind_names[kind];
}

const char *
ss_corpus_difficulty_name (SsCorpusDifficulty difficulty)
{
  g_return_val_if_fail (difficulty <= SS_CORPUS_HARD, "unknown");
  return difficulty_names[difficulty];
}

gboolean
ss_corpus_difficulty_from_name (const char *name, SsCorpusDifficulty *out)
{
  for (int i = 0; i <= SS_CORPUS_HARD; i++)
    if (g_strcmp0 (name, difficulty_names[i]) == 0)
      {
        *out = (SsCorpusDifficulty) i;
        return TRUE;
      }
  return FALSE;
}

void
ss_corpus_params_init (SsCorpusParams *p, SsCorpusDifficulty difficulty)
{
  g_return_if_fail (p != NULL);
  memset (p, 0, sizeof *p);
  p->seed = 1;
  p->duration = 8.0;
  p->fps = 25;
  p->width = 224;
  p->height = 224;
  p->sample_rate = 16000;
  p->n_events = 6;
  p->kinds = SS_CORPUS_ALL_KINDS;
  p->offset = 0.0;
  switch (difficulty)
    {
    case SS_CORPUS_EASY:
      p->noise = 0.05;
      break;
    case SS_CORPUS_MODERATE:
      p->n_distractors = 2;
      p->n_unseen = 1;
      p->camera_motion = 0.3;
      p->noise = 0.3;
      break;
    case SS_CORPUS_HARD:
    default:
      p->n_distractors = 4;
      p->n_silent = 1;
      p->n_unseen = 3;
      p->camera_motion = 0.8;
      p->noise = 0.6;
      break;
    }
}

/* ------------------------------------------------------------------------ */
/* drawing                                                                  */

typedef struct {
  guint8 *px;
  int w, h;
} Canvas;

static inline void
blend_px (guint8 *p, const double col[3], double a)
{
  if (a <= 0.0)
    return;
  if (a > 1.0)
    a = 1.0;
  for (int c = 0; c < 3; c++)
    {
      double v = p[c] + (col[c] - p[c]) * a;
      p[c] = (guint8) CLAMP ((int) lround (v), 0, 255);
    }
}

static void
fill_circle (Canvas *cv, double cx, double cy, double r, const double col[3], double alpha)
{
  int x0 = MAX (0, (int) floor (cx - r - 1)), x1 = MIN (cv->w - 1, (int) ceil (cx + r + 1));
  int y0 = MAX (0, (int) floor (cy - r - 1)), y1 = MIN (cv->h - 1, (int) ceil (cy + r + 1));
  for (int y = y0; y <= y1; y++)
    for (int x = x0; x <= x1; x++)
      {
        double dx = x + 0.5 - cx, dy = y + 0.5 - cy;
        double d = sqrt (dx * dx + dy * dy) - r;
        double cov = CLAMP (0.5 - d, 0.0, 1.0);
        if (cov > 0)
          blend_px (cv->px + ((gsize) y * cv->w + x) * 4, col, cov * alpha);
      }
}

static void
fill_rect (Canvas *cv, double rx0, double ry0, double rx1, double ry1, const double col[3], double alpha)
{
  int x0 = MAX (0, (int) floor (rx0)), x1 = MIN (cv->w - 1, (int) ceil (rx1));
  int y0 = MAX (0, (int) floor (ry0)), y1 = MIN (cv->h - 1, (int) ceil (ry1));
  for (int y = y0; y <= y1; y++)
    {
      double cy = MIN (y + 1.0, ry1) - MAX ((double) y, ry0);
      if (cy <= 0)
        continue;
      for (int x = x0; x <= x1; x++)
        {
          double cx = MIN (x + 1.0, rx1) - MAX ((double) x, rx0);
          if (cx <= 0)
            continue;
          blend_px (cv->px + ((gsize) y * cv->w + x) * 4, col, MIN (cx, 1.0) * MIN (cy, 1.0) * alpha);
        }
    }
}

/* A segment with round ends (sticks, pendulums). */
static void
fill_capsule (Canvas *cv, double ax, double ay, double bx, double by, double r, const double col[3])
{
  int x0 = MAX (0, (int) floor (MIN (ax, bx) - r - 1)), x1 = MIN (cv->w - 1, (int) ceil (MAX (ax, bx) + r + 1));
  int y0 = MAX (0, (int) floor (MIN (ay, by) - r - 1)), y1 = MIN (cv->h - 1, (int) ceil (MAX (ay, by) + r + 1));
  double vx = bx - ax, vy = by - ay, vv = vx * vx + vy * vy;
  for (int y = y0; y <= y1; y++)
    for (int x = x0; x <= x1; x++)
      {
        double px = x + 0.5 - ax, py = y + 0.5 - ay;
        double u = vv > 0 ? CLAMP ((px * vx + py * vy) / vv, 0.0, 1.0) : 0.0;
        double dx = px - u * vx, dy = py - u * vy;
        double d = sqrt (dx * dx + dy * dy) - r;
        double cov = CLAMP (0.5 - d, 0.0, 1.0);
        if (cov > 0)
          blend_px (cv->px + ((gsize) y * cv->w + x) * 4, col, cov);
      }
}

static void
random_color (SsRng *rng, double col[3], double lo, double hi)
{
  for (int c = 0; c < 3; c++)
    col[c] = ss_rng_range (rng, lo, hi);
}

/* ------------------------------------------------------------------------ */
/* sound synthesis                                                          */

typedef struct {
  double b0, b1, b2, a1, a2;
  double z1, z2;
} Biquad;

typedef enum { BQ_LOWPASS, BQ_HIGHPASS, BQ_BANDPASS } BiquadType;

static void
biquad_init (Biquad *bq, BiquadType type, double f, double q, double fs)
{
  f = CLAMP (f, 10.0, 0.45 * fs);
  double w0 = 2.0 * G_PI * f / fs, cw = cos (w0), alpha = sin (w0) / (2.0 * q);
  double a0 = 1.0 + alpha;
  switch (type)
    {
    case BQ_LOWPASS:
      bq->b0 = (1.0 - cw) / 2.0; bq->b1 = 1.0 - cw; bq->b2 = (1.0 - cw) / 2.0;
      break;
    case BQ_HIGHPASS:
      bq->b0 = (1.0 + cw) / 2.0; bq->b1 = -(1.0 + cw); bq->b2 = (1.0 + cw) / 2.0;
      break;
    case BQ_BANDPASS:
    default:
      bq->b0 = alpha; bq->b1 = 0.0; bq->b2 = -alpha;
      break;
    }
  bq->a1 = -2.0 * cw;
  bq->a2 = 1.0 - alpha;
  bq->b0 /= a0; bq->b1 /= a0; bq->b2 /= a0; bq->a1 /= a0; bq->a2 /= a0;
  bq->z1 = bq->z2 = 0.0;
}

static inline double
biquad_run (Biquad *bq, double x)
{
  double y = bq->b0 * x + bq->z1;
  bq->z1 = bq->b1 * x - bq->a1 * y + bq->z2;
  bq->z2 = bq->b2 * x - bq->a2 * y;
  return y;
}

/* The timbre of one actor: the same object sounds alike each time. */
typedef struct {
  SsCorpusEventKind kind;
  double fc, q, decay;          /* noise part: band centre, Q, decay (s) */
  int    n_partials;
  double ratio[6], pdecay[6], pamp[6];
  double f0;                    /* strike / thud fundamental */
  double noise_mix;             /* share of filtered noise */
  double cutoff;                /* thud noise cutoff, click high-pass */
} Timbre;

static void
timbre_random (Timbre *tb, SsCorpusEventKind kind, SsRng *rng)
{
  memset (tb, 0, sizeof *tb);
  tb->kind = kind;
  switch (kind)
    {
    case SS_CORPUS_EVENT_IMPACT:
      {
        /* materials: rubber, wood, plastic, metal, glass */
        int m = ss_rng_int (rng, 0, 4);
        static const double fc_lo[] = { 150, 400, 900, 1800, 3000 };
        static const double fc_hi[] = { 350, 1000, 2000, 4500, 6500 };
        static const double dec_lo[] = { 0.015, 0.025, 0.02, 0.08, 0.05 };
        static const double dec_hi[] = { 0.04, 0.07, 0.05, 0.3, 0.18 };
        tb->fc = ss_rng_range (rng, fc_lo[m], fc_hi[m]);
        tb->q = ss_rng_range (rng, 0.7, m >= 3 ? 12.0 : 3.0);
        tb->decay = ss_rng_range (rng, dec_lo[m], dec_hi[m]);
        tb->n_partials = m >= 3 ? ss_rng_int (rng, 2, 4) : ss_rng_int (rng, 0, 2);
        double base = tb->fc * ss_rng_range (rng, 0.6, 1.3);
        for (int i = 0; i < tb->n_partials; i++)
          {
            tb->ratio[i] = base * (1.0 + i * ss_rng_range (rng, 0.9, 2.2));
            tb->pdecay[i] = tb->decay * ss_rng_range (rng, 0.8, 2.5);
            tb->pamp[i] = ss_rng_range (rng, 0.2, 0.8) / (1 + i);
          }
        tb->noise_mix = 1.0;
        break;
      }
    case SS_CORPUS_EVENT_FLASH:
      tb->cutoff = ss_rng_range (rng, 800, 3000);
      tb->fc = ss_rng_range (rng, 2000, 6000);
      tb->q = ss_rng_range (rng, 2, 10);
      tb->decay = ss_rng_range (rng, 0.001, 0.004);
      tb->noise_mix = ss_rng_range (rng, 0.3, 1.0);
      break;
    case SS_CORPUS_EVENT_STRIKE:
      {
        static const double sets[3][5] = {
          { 1.0, 2.756, 5.404, 8.933, 13.34 },  /* free bar (marimba-like) */
          { 1.0, 2.0, 2.4, 3.0, 4.5 },          /* bell-like */
          { 1.0, 2.0, 3.0, 4.0, 5.0 },          /* string / tube */
        };
        int s = ss_rng_int (rng, 0, 2);
        tb->f0 = ss_rng_range (rng, 180, 1200);
        tb->n_partials = ss_rng_int (rng, 3, 5);
        double d0 = ss_rng_range (rng, 0.2, 1.2);
        for (int i = 0; i < tb->n_partials; i++)
          {
            tb->ratio[i] = sets[s][i] * ss_rng_range (rng, 0.985, 1.015);
            tb->pdecay[i] = d0 / (1.0 + ss_rng_range (rng, 0.3, 1.0) * i);
            tb->pamp[i] = ss_rng_range (rng, 0.3, 1.0) / (1.0 + 0.7 * i);
          }
        tb->noise_mix = ss_rng_range (rng, 0.1, 0.5);   /* mallet click */
        tb->cutoff = ss_rng_range (rng, 1500, 5000);
        break;
      }
    case SS_CORPUS_EVENT_STEP:
    default:
      tb->f0 = ss_rng_range (rng, 55, 130);
      tb->decay = ss_rng_range (rng, 0.03, 0.08);
      tb->cutoff = ss_rng_range (rng, 300, 3000);   /* soft floor .. gravel */
      tb->noise_mix = ss_rng_range (rng, 0.2, 1.2);
      break;
    }
}

/* Renders one sound of @tb into a new buffer; returns its length. Peak = 1. */
static float *
synth (const Timbre *tb, double fs, SsRng *rng, gsize *len_out)
{
  double dur;
  switch (tb->kind)
    {
    case SS_CORPUS_EVENT_IMPACT:
      dur = 6.0 * tb->decay;
      for (int i = 0; i < tb->n_partials; i++)
        dur = MAX (dur, 5.0 * tb->pdecay[i]);
      break;
    case SS_CORPUS_EVENT_FLASH:
      dur = 0.03;
      break;
    case SS_CORPUS_EVENT_STRIKE:
      dur = 0.05;
      for (int i = 0; i < tb->n_partials; i++)
        dur = MAX (dur, 5.0 * tb->pdecay[i]);
      break;
    case SS_CORPUS_EVENT_STEP:
    default:
      dur = 0.25;
      break;
    }
  gsize n = (gsize) (dur * fs) + 1;
  float *buf = g_new0 (float, n);
  Biquad bq, bq2;
  double jit = ss_rng_range (rng, 0.95, 1.05);   /* small variation per hit */
  double phase[6];
  for (int i = 0; i < 6; i++)
    phase[i] = ss_rng_range (rng, 0, 2 * G_PI);

  switch (tb->kind)
    {
    case SS_CORPUS_EVENT_IMPACT:
      biquad_init (&bq, BQ_BANDPASS, tb->fc * jit, tb->q, fs);
      for (gsize i = 0; i < n; i++)
        {
          double t = i / fs;
          double att = MIN (1.0, t / 0.0008);
          double env = att * exp (-t / tb->decay);
          double v = biquad_run (&bq, ss_rng_normal (rng) * env) * 3.0;
          for (int k = 0; k < tb->n_partials; k++)
            {
              double f = tb->ratio[k] * jit;
              if (f < 0.45 * fs)
                v += tb->pamp[k] * att * exp (-t / tb->pdecay[k]) * sin (2 * G_PI * f * t + phase[k]);
            }
          buf[i] = (float) v;
        }
      break;
    case SS_CORPUS_EVENT_FLASH:
      biquad_init (&bq, BQ_HIGHPASS, tb->cutoff, 0.7, fs);
      biquad_init (&bq2, BQ_BANDPASS, tb->fc * jit, tb->q, fs);
      for (gsize i = 0; i < n; i++)
        {
          double t = i / fs;
          double x = ss_rng_normal (rng) * exp (-t / tb->decay);
          if (i == 0)
            x += 3.0;
          double h = biquad_run (&bq, x);
          buf[i] = (float) (h * tb->noise_mix + biquad_run (&bq2, h) * 2.0);
        }
      break;
    case SS_CORPUS_EVENT_STRIKE:
      biquad_init (&bq, BQ_LOWPASS, tb->cutoff, 0.7, fs);
      for (gsize i = 0; i < n; i++)
        {
          double t = i / fs;
          double att = MIN (1.0, t / 0.002);
          double v = 0;
          for (int k = 0; k < tb->n_partials; k++)
            {
              double f = tb->f0 * tb->ratio[k] * jit;
              if (f < 0.45 * fs)
                v += tb->pamp[k] * att * exp (-t / tb->pdecay[k]) * sin (2 * G_PI * f * t + phase[k]);
            }
          v += tb->noise_mix * biquad_run (&bq, ss_rng_normal (rng) * exp (-t / 0.004));
          buf[i] = (float) v;
        }
      break;
    case SS_CORPUS_EVENT_STEP:
    default:
      {
        biquad_init (&bq, BQ_LOWPASS, tb->cutoff * jit, 0.8, fs);
        double ph = 0;
        for (gsize i = 0; i < n; i++)
          {
            double t = i / fs;
            double att = MIN (1.0, t / 0.003);
            double f = tb->f0 * jit * (1.0 + 1.5 * exp (-t / 0.012));
            ph += 2 * G_PI * f / fs;
            double v = att * exp (-t / tb->decay) * sin (ph);
            /* crunch: noise with a rough envelope */
            double grain = 0.6 + 0.4 * sin (2 * G_PI * 90 * t + phase[0]);
            v += tb->noise_mix * biquad_run (&bq, ss_rng_normal (rng)) * att * exp (-t / (tb->decay * 0.6)) * grain;
            buf[i] = (float) v;
          }
        break;
      }
    }
  float peak = 0;
  for (gsize i = 0; i < n; i++)
    peak = MAX (peak, fabsf (buf[i]));
  if (peak > 0)
    for (gsize i = 0; i < n; i++)
      buf[i] /= peak;
  *len_out = n;
  return buf;
}

static void
mix_sound (float *out, gsize n_out, double fs, double start_s, const float *snd, gsize len, double gain)
{
  gint64 s0 = (gint64) llround (start_s * fs);
  for (gsize i = 0; i < len; i++)
    {
      gint64 j = s0 + (gint64) i;
      if (j < 0)
        continue;
      if ((guint64) j >= n_out)
        break;
      out[j] += (float) (gain * snd[i]);
    }
}

/* ------------------------------------------------------------------------ */
/* actors                                                                   */

typedef enum {
  ACTOR_BOUNCER,    /* IMPACT */
  ACTOR_FLASHER,    /* FLASH */
  ACTOR_STRIKER,    /* STRIKE */
  ACTOR_WALKER,     /* STEP */
  ACTOR_DRIFTER,    /* distractors */
  ACTOR_PENDULUM,
  ACTOR_PULSER,
} ActorKind;

#define MAX_ACTOR_EVENTS 8

typedef struct {
  ActorKind kind;
  gboolean  silent;
  Timbre    timbre;
  double    x, y, size;      /* world anchor (pixels) and scale */
  double    col[3], col2[3];
  int       n_ev;
  double    t[MAX_ACTOR_EVENTS];     /* contact times */
  double    amp[MAX_ACTOR_EVENTS];   /* relative loudness */
  double    ex[MAX_ACTOR_EVENTS];    /* world x of the contact */
  /* bouncer */
  double    drop_h, g, t_release, v[MAX_ACTOR_EVENTS];
  /* walker */
  double    step_dur, lift;
  /* distractors */
  double    vx, vy, period, phase, amp_motion;
} Actor;

static double
smoothstep (double u)
{
  u = CLAMP (u, 0.0, 1.0);
  return u * u * (3 - 2 * u);
}

/* Height of a bouncing ball above its floor at time t. */
static double
bouncer_height (const Actor *a, double t)
{
  if (t <= a->t_release)
    return a->drop_h;
  if (t < a->t[0])
    {
      double d = t - a->t_release;
      return MAX (0.0, a->drop_h - 0.5 * a->g * d * d);
    }
  for (int k = 0; k < a->n_ev; k++)
    {
      double end = k + 1 < a->n_ev ? a->t[k + 1] : a->t[k] + 2 * a->v[k] / a->g;
      if (t < end)
        {
          double d = t - a->t[k];
          return MAX (0.0, a->v[k] * d - 0.5 * a->g * d * d);
        }
    }
  return 0.0;
}

/* Mallet head height above the bar. */
static double
striker_height (const Actor *a, double t)
{
  double H = 2.0 * a->size;
  for (int k = 0; k < a->n_ev; k++)
    {
      double d = t - a->t[k];
      if (d >= -0.45 && d < -0.2)
        return H * smoothstep ((d + 0.45) / 0.25);
      if (d >= -0.2 && d < 0)
        {
          double u = (d + 0.2) / 0.2;
          return H * (1.0 - u * u);
        }
      if (d >= 0 && d < 0.15)
        return 0.25 * H * sin (G_PI * d / 0.15);
    }
  return 0.0;
}

static double
bar_shake (const Actor *a, double t)
{
  double s = 0;
  for (int k = 0; k < a->n_ev; k++)
    {
      double d = t - a->t[k];
      if (d >= 0 && d < 0.6)
        s += 0.08 * a->size * a->amp[k] * exp (-d / 0.12) * sin (2 * G_PI * 11 * d);
    }
  return s;
}

static void
draw_actor (Canvas *cv, const Actor *a, double t, double cx, double cy)
{
  double ax = a->x - cx, ay = a->y - cy, s = a->size;
  switch (a->kind)
    {
    case ACTOR_BOUNCER:
      {
        fill_rect (cv, ax - 3 * s, ay, ax + 3 * s, ay + 0.4 * s, a->col2, 1.0);
        double z = bouncer_height (a, t);
        fill_circle (cv, ax, ay - s - z, s, a->col, 1.0);
        /* a highlight so that the ball reads as a ball */
        double hl[3] = { 255, 255, 255 };
        fill_circle (cv, ax - 0.35 * s, ay - s - z - 0.35 * s, 0.25 * s, hl, 0.5);
        break;
      }
    case ACTOR_FLASHER:
      {
        double I = 0;
        for (int k = 0; k < a->n_ev; k++)
          if (t >= a->t[k] - 1e-9)
            I = MAX (I, exp (-(t - a->t[k]) / 0.06));
        double body[3], glow[3];
        for (int c = 0; c < 3; c++)
          {
            body[c] = a->col[c] * 0.35 + (255 - a->col[c] * 0.35) * I;
            glow[c] = MIN (255.0, a->col[c] + 120);
          }
        fill_rect (cv, ax - 0.3 * s, ay + 0.8 * s, ax + 0.3 * s, ay + 2.2 * s, a->col2, 1.0);
        if (I > 0.02)
          fill_circle (cv, ax, ay, 1.8 * s, glow, 0.55 * I);
        fill_circle (cv, ax, ay, s, body, 1.0);
        break;
      }
    case ACTOR_STRIKER:
      {
        double sh = bar_shake (a, t);
        fill_rect (cv, ax - 2 * s + sh, ay, ax + 2 * s + sh, ay + 0.4 * s, a->col2, 1.0);
        double z = striker_height (a, t);
        double hy = ay - 0.45 * s - z;
        fill_capsule (cv, ax + 0.2 * s, hy, ax + 1.8 * s, hy - 2.2 * s, 0.18 * s, a->col);
        fill_circle (cv, ax, hy, 0.45 * s, a->col, 1.0);
        break;
      }
    case ACTOR_WALKER:
      {
        /* two feet; foot k%2 moves for step k from its previous landing to ex[k] */
        fill_rect (cv, ax - 4 * s, ay, ax + 9 * s, ay + 0.25 * s, a->col2, 0.6);
        for (int f = 0; f < 2; f++)
          {
            double fx = a->x - (f == 0 ? 0.0 : 0.9 * s), fz = 0;
            double prev = fx;
            for (int k = f; k < a->n_ev; k += 2)
              {
                double d = t - a->t[k];
                if (d >= 0)
                  {
                    fx = a->ex[k];
                    prev = fx;
                    continue;
                  }
                if (d > -a->step_dur)
                  {
                    double u = (d + a->step_dur) / a->step_dur;
                    fx = prev + (a->ex[k] - prev) * smoothstep (u);
                    fz = a->lift * sin (G_PI * u);
                  }
                break;
              }
            double fy = ay - 0.6 * s - fz - (f == 0 ? 0.0 : 0.15 * s);
            fill_rect (cv, fx - cx - 0.7 * s, fy, fx - cx + 0.7 * s, fy + 0.6 * s, a->col, 1.0);
          }
        break;
      }
    case ACTOR_DRIFTER:
      {
        double x = ax + a->vx * t + a->amp_motion * sin (2 * G_PI * t / a->period + a->phase);
        double y = ay + a->vy * t + a->amp_motion * cos (2 * G_PI * t / a->period + a->phase);
        double span = cv->w + 4 * s;
        x = fmod (x + 2 * s, span);
        if (x < 0)
          x += span;
        x -= 2 * s;
        y = CLAMP (y, -s, cv->h + s);
        if (a->phase > G_PI)
          fill_circle (cv, x, y, s, a->col, 1.0);
        else
          fill_rect (cv, x - s, y - 0.7 * s, x + s, y + 0.7 * s, a->col, 1.0);
        break;
      }
    case ACTOR_PENDULUM:
      {
        double th = a->amp_motion * sin (2 * G_PI * t / a->period + a->phase);
        double len = 3.0 * s;
        double bx = ax + len * sin (th), by = ay + len * cos (th);
        fill_capsule (cv, ax, ay, bx, by, 0.12 * s, a->col2);
        fill_circle (cv, bx, by, 0.6 * s, a->col, 1.0);
        break;
      }
    case ACTOR_PULSER:
    default:
      {
        double I = 0.5 + 0.5 * sin (2 * G_PI * t / a->period + a->phase);
        double col[3];
        for (int c = 0; c < 3; c++)
          col[c] = a->col[c] * (0.4 + 0.6 * I);
        fill_rect (cv, ax - s, ay - s, ax + s, ay + s, col, 1.0);
        break;
      }
    }
}

/* ------------------------------------------------------------------------ */
/* background and camera                                                    */

typedef struct {
  int     w, h, margin;
  guint8 *px;   /* RGBA (w + 2 margin) x (h + 2 margin) */
  int     stride_px;
} Background;

static void
value_noise_layer (SsRng *rng, float *acc, int W, int H, int cell, double amp)
{
  int gw = W / cell + 2, gh = H / cell + 2;
  g_autofree float *grid = g_new (float, (gsize) gw * gh);
  for (int i = 0; i < gw * gh; i++)
    grid[i] = (float) ss_rng_range (rng, -1, 1);
  for (int y = 0; y < H; y++)
    {
      double gy = (double) y / cell;
      int iy = (int) gy;
      double fy = smoothstep (gy - iy);
      for (int x = 0; x < W; x++)
        {
          double gx = (double) x / cell;
          int ix = (int) gx;
          double fx = smoothstep (gx - ix);
          double a = grid[iy * gw + ix], b = grid[iy * gw + ix + 1];
          double c = grid[(iy + 1) * gw + ix], d = grid[(iy + 1) * gw + ix + 1];
          double v = (a + (b - a) * fx) * (1 - fy) + (c + (d - c) * fx) * fy;
          acc[(gsize) y * W + x] += (float) (v * amp);
        }
    }
}

static void
background_make (Background *bg, SsRng *rng, int w, int h, int margin)
{
  bg->w = w;
  bg->h = h;
  bg->margin = margin;
  int W = w + 2 * margin, H = h + 2 * margin;
  bg->stride_px = W;
  bg->px = g_new (guint8, (gsize) W * H * 4);
  int type = ss_rng_int (rng, 0, 3);
  double ca[3], cb[3];
  random_color (rng, ca, 20, 200);
  random_color (rng, cb, 20, 200);
  double ang = ss_rng_range (rng, 0, 2 * G_PI);
  double dx = cos (ang), dy = sin (ang);
  double horizon = ss_rng_range (rng, 0.45, 0.7) * H;
  g_autofree float *tex = g_new0 (float, (gsize) W * H);
  if (type >= 1)
    {
      double amp = ss_rng_range (rng, 8, 35);
      value_noise_layer (rng, tex, W, H, ss_rng_int (rng, 24, 64), amp);
      value_noise_layer (rng, tex, W, H, ss_rng_int (rng, 6, 14), amp * 0.5);
      value_noise_layer (rng, tex, W, H, 3, amp * 0.25);
    }
  int tile = ss_rng_int (rng, 8, 32);
  double tile_c = ss_rng_range (rng, 5, 20);
  for (int y = 0; y < H; y++)
    for (int x = 0; x < W; x++)
      {
        double u = ((x - W / 2.0) * dx + (y - H / 2.0) * dy) / (double) MAX (W, H) + 0.5;
        u = CLAMP (u, 0.0, 1.0);
        double col[3];
        for (int c = 0; c < 3; c++)
          col[c] = ca[c] + (cb[c] - ca[c]) * u;
        if (type == 2 && ((x / tile + y / tile) & 1))
          for (int c = 0; c < 3; c++)
            col[c] += tile_c;
        if (type == 3 && y > horizon)
          for (int c = 0; c < 3; c++)
            col[c] = cb[c] * 0.7 + 0.3 * ca[c] * (y - horizon) / (H - horizon);
        double tv = tex[(gsize) y * W + x];
        guint8 *p = bg->px + ((gsize) y * W + x) * 4;
        for (int c = 0; c < 3; c++)
          p[c] = (guint8) CLAMP ((int) lround (col[c] + tv), 0, 255);
        p[3] = 255;
      }
}

typedef struct {
  double pan_amp_x, pan_amp_y, pan_period, pan_phase;
  double shake_amp, shake_f[3], shake_ph[3];
  double jitter;
} Camera;

static void
camera_make (Camera *cam, SsRng *rng, double motion, int w)
{
  cam->pan_amp_x = motion * w * ss_rng_range (rng, 0.0, 0.08);
  cam->pan_amp_y = motion * w * ss_rng_range (rng, 0.0, 0.03);
  cam->pan_period = ss_rng_range (rng, 3.0, 9.0);
  cam->pan_phase = ss_rng_range (rng, 0, 2 * G_PI);
  cam->shake_amp = motion * w * ss_rng_range (rng, 0.005, 0.02);
  for (int i = 0; i < 3; i++)
    {
      cam->shake_f[i] = ss_rng_range (rng, 0.7, 6.0);
      cam->shake_ph[i] = ss_rng_range (rng, 0, 2 * G_PI);
    }
  cam->jitter = motion * ss_rng_range (rng, 0.0, 1.5);
}

static void
camera_at (const Camera *cam, SsRng *rng, double t, double *cx, double *cy)
{
  double x = cam->pan_amp_x * sin (2 * G_PI * t / cam->pan_period + cam->pan_phase);
  double y = cam->pan_amp_y * cos (2 * G_PI * t / cam->pan_period * 0.7 + cam->pan_phase);
  for (int i = 0; i < 3; i++)
    {
      x += cam->shake_amp * sin (2 * G_PI * cam->shake_f[i] * t + cam->shake_ph[i]) / (i + 1);
      y += cam->shake_amp * cos (2 * G_PI * cam->shake_f[i] * 1.13 * t + cam->shake_ph[i]) / (i + 1);
    }
  x += cam->jitter * ss_rng_normal (rng);
  y += cam->jitter * ss_rng_normal (rng);
  *cx = x;
  *cy = y;
}

/* ------------------------------------------------------------------------ */
/* scene layout                                                             */

#define GRID_COLS 4
#define GRID_ROWS 3

typedef struct {
  const SsCorpusParams *p;
  SsRng   *rng;
  gboolean used[GRID_COLS * GRID_ROWS];
  GArray  *actors;       /* of Actor */
  GArray  *times;        /* of double: all audible contact times so far */
} Scene;

/* Picks a free cell; returns FALSE when all are used. Cell box in pixels. */
static gboolean
scene_take_cell (Scene *sc, gboolean wide, double *x0, double *y0, double *cw, double *ch)
{
  int free_cells[GRID_COLS * GRID_ROWS], n = 0;
  for (int i = 0; i < GRID_COLS * GRID_ROWS; i++)
    {
      if (sc->used[i])
        continue;
      if (wide && (i % GRID_COLS == GRID_COLS - 1 || sc->used[i + 1]))
        continue;
      free_cells[n++] = i;
    }
  if (n == 0)
    return FALSE;
  int c = free_cells[ss_rng_int (sc->rng, 0, n - 1)];
  sc->used[c] = TRUE;
  if (wide)
    sc->used[c + 1] = TRUE;
  double W = sc->p->width, H = sc->p->height;
  /* the grid covers the central 84% so that camera motion keeps things in view */
  *cw = W * 0.84 / GRID_COLS;
  *ch = H * 0.84 / GRID_ROWS;
  *x0 = W * 0.08 + (c % GRID_COLS) * *cw;
  *y0 = H * 0.08 + (c / GRID_COLS) * *ch;
  if (wide)
    *cw *= 2;
  return TRUE;
}

static gboolean
times_ok (Scene *sc, const double *t, int n, double min_gap)
{
  double D = sc->p->duration;
  for (int i = 0; i < n; i++)
    {
      /* both the contact and its (shifted) sound must lie inside the clip */
      double at = t[i] - sc->p->offset;
      if (t[i] < 0.25 || t[i] > D - 0.25 || at < 0.25 || at > D - 0.25)
        return FALSE;
      for (guint j = 0; j < sc->times->len; j++)
        if (fabs (g_array_index (sc->times, double, j) - t[i]) < min_gap)
          return FALSE;
    }
  return TRUE;
}

/* Builds a sound-making actor of @kind with its events. FALSE if it does not fit. */
static gboolean
scene_add_sounding (Scene *sc, SsCorpusEventKind kind, gboolean silent)
{
  const SsCorpusParams *p = sc->p;
  SsRng *rng = sc->rng;
  double D = p->duration, W = p->width;
  Actor a;
  memset (&a, 0, sizeof a);
  a.silent = silent;
  random_color (rng, a.col, 30, 255);
  random_color (rng, a.col2, 10, 120);
  timbre_random (&a.timbre, kind, rng);
  double x0, y0, cw, ch;
  gboolean wide = kind == SS_CORPUS_EVENT_STEP;

  switch (kind)
    {
    case SS_CORPUS_EVENT_IMPACT:
      {
        a.kind = ACTOR_BOUNCER;
        a.size = W * ss_rng_range (rng, 0.035, 0.055);
        double fall = ss_rng_range (rng, 0.25, 0.5);
        double e = ss_rng_range (rng, 0.35, 0.7);
        a.t[0] = ss_rng_range (rng, 0.3, D - 0.3);
        a.n_ev = 1;
        a.amp[0] = 1.0;
        /* the drop height comes from the cell; g from the fall time */
        if (!scene_take_cell (sc, FALSE, &x0, &y0, &cw, &ch))
          return FALSE;
        a.drop_h = MAX (ch * 0.8 - 2 * a.size, 4.0);
        a.g = 2 * a.drop_h / (fall * fall);
        a.v[0] = e * a.g * fall;
        a.t_release = a.t[0] - fall;
        while (a.n_ev < 4)
          {
            double v = a.v[a.n_ev - 1];
            double rel = v / a.v[0] * e;
            if (rel < 0.3)
              break;
            a.t[a.n_ev] = a.t[a.n_ev - 1] + 2 * v / a.g;
            a.amp[a.n_ev] = rel;
            a.v[a.n_ev] = v * e;
            a.n_ev++;
          }
        a.x = x0 + cw * 0.5;
        a.y = y0 + ch * 0.9;
        for (int k = 0; k < a.n_ev; k++)
          a.ex[k] = a.x;
        break;
      }
    case SS_CORPUS_EVENT_FLASH:
      {
        a.kind = ACTOR_FLASHER;
        a.size = W * ss_rng_range (rng, 0.035, 0.055);
        a.n_ev = ss_rng_int (rng, 1, 3);
        double t = ss_rng_range (rng, 0.3, D - 0.3);
        for (int k = 0; k < a.n_ev; k++)
          {
            a.t[k] = t;
            a.amp[k] = ss_rng_range (rng, 0.6, 1.0);
            t += ss_rng_range (rng, 0.3, 1.5);
          }
        if (!scene_take_cell (sc, FALSE, &x0, &y0, &cw, &ch))
          return FALSE;
        a.x = x0 + cw * 0.5;
        a.y = y0 + ch * 0.35;
        for (int k = 0; k < a.n_ev; k++)
          a.ex[k] = a.x;
        break;
      }
    case SS_CORPUS_EVENT_STRIKE:
      {
        a.kind = ACTOR_STRIKER;
        a.size = W * ss_rng_range (rng, 0.035, 0.05);
        a.n_ev = ss_rng_int (rng, 1, 3);
        double t = ss_rng_range (rng, 0.5, D - 0.3);
        for (int k = 0; k < a.n_ev; k++)
          {
            a.t[k] = t;
            a.amp[k] = ss_rng_range (rng, 0.6, 1.0);
            t += ss_rng_range (rng, 0.65, 1.6);
          }
        if (!scene_take_cell (sc, FALSE, &x0, &y0, &cw, &ch))
          return FALSE;
        a.x = x0 + cw * 0.4;
        a.y = y0 + ch * 0.75;
        for (int k = 0; k < a.n_ev; k++)
          a.ex[k] = a.x;
        break;
      }
    case SS_CORPUS_EVENT_STEP:
    default:
      {
        a.kind = ACTOR_WALKER;
        a.size = W * ss_rng_range (rng, 0.035, 0.05);
        a.n_ev = ss_rng_int (rng, 2, 5);
        a.step_dur = ss_rng_range (rng, 0.22, 0.32);
        a.lift = a.size * ss_rng_range (rng, 0.8, 1.5);
        double period = ss_rng_range (rng, 0.45, 0.7);
        double t = ss_rng_range (rng, 0.5, D - 0.3);
        if (!scene_take_cell (sc, wide, &x0, &y0, &cw, &ch))
          return FALSE;
        a.x = x0 + cw * 0.1 + 0.9 * a.size;
        a.y = y0 + ch * 0.85;
        double stride = MIN (cw * 0.8 / (a.n_ev + 1), a.size * 2.0);
        for (int k = 0; k < a.n_ev; k++)
          {
            a.t[k] = t;
            a.amp[k] = ss_rng_range (rng, 0.6, 1.0);
            a.ex[k] = a.x + (k + 1) * stride;
            t += period + ss_rng_range (rng, -0.08, 0.08);
          }
        break;
      }
    }

  if (!silent && !times_ok (sc, a.t, a.n_ev, 0.15))
    {
      /* give the cell back */
      double W2 = p->width, H2 = p->height;
      int col = (int) ((x0 - W2 * 0.08) / (W2 * 0.84 / GRID_COLS) + 0.5);
      int row = (int) ((y0 - H2 * 0.08) / (H2 * 0.84 / GRID_ROWS) + 0.5);
      sc->used[row * GRID_COLS + col] = FALSE;
      if (wide)
        sc->used[row * GRID_COLS + col + 1] = FALSE;
      return FALSE;
    }
  if (!silent)
    for (int k = 0; k < a.n_ev; k++)
      g_array_append_val (sc->times, a.t[k]);
  g_array_append_val (sc->actors, a);
  return TRUE;
}

static void
scene_add_distractor (Scene *sc)
{
  SsRng *rng = sc->rng;
  const SsCorpusParams *p = sc->p;
  Actor a;
  memset (&a, 0, sizeof a);
  a.silent = TRUE;
  random_color (rng, a.col, 30, 255);
  random_color (rng, a.col2, 10, 120);
  int k = ss_rng_int (rng, 0, 2);
  a.phase = ss_rng_range (rng, 0, 2 * G_PI);
  a.period = ss_rng_range (rng, 0.8, 3.0);
  if (k == 0)
    {
      a.kind = ACTOR_DRIFTER;
      a.size = p->width * ss_rng_range (rng, 0.02, 0.05);
      a.x = ss_rng_range (rng, 0, p->width);
      a.y = ss_rng_range (rng, 0.1, 0.9) * p->height;
      a.vx = p->width * ss_rng_range (rng, -0.3, 0.3);
      a.vy = p->height * ss_rng_range (rng, -0.03, 0.03);
      a.amp_motion = a.size * ss_rng_range (rng, 0, 2);
    }
  else
    {
      double x0, y0, cw, ch;
      if (!scene_take_cell (sc, FALSE, &x0, &y0, &cw, &ch))
        {
          x0 = ss_rng_range (rng, 0.1, 0.7) * p->width;
          y0 = ss_rng_range (rng, 0.1, 0.7) * p->height;
          cw = p->width * 0.2;
          ch = p->height * 0.2;
        }
      a.kind = k == 1 ? ACTOR_PENDULUM : ACTOR_PULSER;
      a.size = MIN (cw, ch) * (k == 1 ? 0.2 : 0.3);
      a.x = x0 + cw * 0.5;
      a.y = y0 + ch * (k == 1 ? 0.1 : 0.5);
      a.amp_motion = ss_rng_range (rng, 0.3, 0.9);
    }
  g_array_append_val (sc->actors, a);
}

/* ------------------------------------------------------------------------ */

static int
compare_events (gconstpointer a, gconstpointer b)
{
  const SsCorpusEvent *ea = a, *eb = b;
  return ea->time < eb->time ? -1 : ea->time > eb->time ? 1 : 0;
}

void
ss_corpus_clip_free (SsCorpusClip *clip)
{
  if (clip == NULL)
    return;
  g_free (clip->rgba);
  g_free (clip->audio);
  if (clip->events)
    g_array_unref (clip->events);
  g_free (clip);
}

static gboolean
check_params (const SsCorpusParams *p, GError **error)
{
#define BAD(...) do { g_set_error (error, SS_ERROR, SS_ERROR_INVALID_DATA, __VA_ARGS__); return FALSE; } while (0)
  if (!(p->duration >= 1.0 && p->duration <= 600.0))
    BAD ("Clip duration %.3g s is outside 1 to 600 seconds", p->duration);
  if (p->fps < 1 || p->fps > 120)
    BAD ("Frame rate %d is outside 1 to 120 frames per second", p->fps);
  if (p->width < 32 || p->height < 32 || p->width > 1920 || p->height > 1920 || (p->width & 1) || (p->height & 1))
    BAD ("Frame size %dx%d is not an even size between 32 and 1920 pixels", p->width, p->height);
  if (p->sample_rate < 8000 || p->sample_rate > 96000)
    BAD ("Sample rate %d Hz is outside 8000 to 96000 Hz", p->sample_rate);
  if (!(fabs (p->offset) <= p->duration / 2))
    BAD ("Offset %.3g s is larger than half the clip (%.3g s)", p->offset, p->duration);
  if (p->n_events < 0 || p->n_events > 64 || p->n_distractors < 0 || p->n_distractors > 16
      || p->n_silent < 0 || p->n_silent > 8 || p->n_unseen < 0 || p->n_unseen > 64)
    BAD ("Event or distractor counts are out of range");
  if (!(p->camera_motion >= 0 && p->camera_motion <= 1) || !(p->noise >= 0 && p->noise <= 1))
    BAD ("Camera motion and noise must lie between 0 and 1");
  if ((gsize) p->width * p->height * 4 * (gsize) (p->duration * p->fps + 1) > (gsize) 4 << 30)
    BAD ("The clip would need more than 4 GiB of frames");
  return TRUE;
#undef BAD
}

SsCorpusClip *
ss_corpus_generate (const SsCorpusParams *p, GError **error)
{
  g_return_val_if_fail (p != NULL, NULL);
  if (!check_params (p, error))
    return NULL;

  SsRng rng;
  ss_rng_init (&rng, p->seed);
  guint kinds = p->kinds & SS_CORPUS_ALL_KINDS;
  if (kinds == 0)
    kinds = SS_CORPUS_ALL_KINDS;
  int kind_list[SS_CORPUS_N_EVENT_KINDS], n_kinds = 0;
  for (int k = 0; k < SS_CORPUS_N_EVENT_KINDS; k++)
    if (kinds & SS_CORPUS_KIND_BIT (k))
      kind_list[n_kinds++] = k;

  Scene sc = { .p = p, .rng = &rng };
  sc.actors = g_array_new (FALSE, TRUE, sizeof (Actor));
  sc.times = g_array_new (FALSE, FALSE, sizeof (double));

  /* sound makers first (they need room), then silent look-alikes, then distractors */
  for (int attempt = 0; attempt < 200 && (int) sc.times->len < p->n_events; attempt++)
    scene_add_sounding (&sc, kind_list[ss_rng_int (&rng, 0, n_kinds - 1)], FALSE);
  for (int i = 0; i < p->n_silent; i++)
    scene_add_sounding (&sc, ss_rng_int (&rng, 0, 1) ? SS_CORPUS_EVENT_IMPACT : SS_CORPUS_EVENT_STRIKE, TRUE);
  for (int i = 0; i < p->n_distractors; i++)
    scene_add_distractor (&sc);

  SsCorpusClip *clip = g_new0 (SsCorpusClip, 1);
  clip->params = *p;
  clip->params.kinds = kinds;
  clip->n_frames = (int) floor (p->duration * p->fps + 1e-9);
  clip->frame_size = (gsize) p->width * p->height * 4;
  clip->rgba = g_malloc ((gsize) clip->n_frames * clip->frame_size);
  clip->n_samples = (gsize) floor (p->duration * p->sample_rate + 1e-9);
  clip->audio = g_new0 (float, clip->n_samples);
  clip->events = g_array_new (FALSE, FALSE, sizeof (SsCorpusEvent));

  /* camera and background */
  Camera cam;
  camera_make (&cam, &rng, p->camera_motion, p->width);
  double cam_max = fabs (cam.pan_amp_x) + fabs (cam.pan_amp_y) + 2 * cam.shake_amp + 6 * cam.jitter + 2;
  Background bg;
  background_make (&bg, &rng, p->width, p->height, (int) ceil (cam_max) + 2);

  /* video */
  SsRng noise_rng;
  ss_rng_init (&noise_rng, ss_rng_next (&rng));
  double pix_noise = p->noise * 10.0;
  g_autofree double *cam_x = g_new (double, clip->n_frames);
  g_autofree double *cam_y = g_new (double, clip->n_frames);
  for (int f = 0; f < clip->n_frames; f++)
    {
      double t = (double) f / p->fps;
      camera_at (&cam, &noise_rng, t, &cam_x[f], &cam_y[f]);
      int ox = CLAMP ((int) lround (cam_x[f]), -bg.margin, bg.margin);
      int oy = CLAMP ((int) lround (cam_y[f]), -bg.margin, bg.margin);
      cam_x[f] = ox;
      cam_y[f] = oy;
      guint8 *dst = clip->rgba + (gsize) f * clip->frame_size;
      for (int y = 0; y < p->height; y++)
        memcpy (dst + (gsize) y * p->width * 4,
                bg.px + ((gsize) (y + oy + bg.margin) * bg.stride_px + ox + bg.margin) * 4,
                (gsize) p->width * 4);
      Canvas cv = { dst, p->width, p->height };
      for (guint i = 0; i < sc.actors->len; i++)
        draw_actor (&cv, &g_array_index (sc.actors, Actor, i), t, ox, oy);
      if (pix_noise > 0)
        {
          gsize n = (gsize) p->width * p->height;
          for (gsize i = 0; i < n; i++)
            {
              guint64 r = ss_rng_next (&noise_rng);
              guint8 *px = dst + i * 4;
              for (int c = 0; c < 3; c++)
                {
                  double u = (double) ((r >> (c * 21)) & 0x1fffff) / 2097152.0 - 0.5;
                  px[c] = (guint8) CLAMP ((int) lround (px[c] + u * 2.0 * pix_noise), 0, 255);
                }
            }
        }
    }

  /* audio: each sounding actor's events, then unseen sounds, then the bed */
  double fs = p->sample_rate;
  SsRng audio_rng;
  ss_rng_init (&audio_rng, ss_rng_next (&rng));
  for (guint i = 0; i < sc.actors->len; i++)
    {
      Actor *a = &g_array_index (sc.actors, Actor, i);
      if (a->silent || a->kind > ACTOR_WALKER)
        continue;
      double loud = ss_rng_range (&audio_rng, 0.35, 0.8);
      for (int k = 0; k < a->n_ev; k++)
        {
          gsize len;
          g_autofree float *snd = synth (&a->timbre, fs, &audio_rng, &len);
          SsCorpusEvent ev = {
            .kind = a->timbre.kind,
            .time = a->t[k],
            .audio_time = a->t[k] - p->offset,
            .gain = loud * a->amp[k],
            .actor = (int) i,
          };
          int f = CLAMP ((int) lround (a->t[k] * p->fps), 0, clip->n_frames - 1);
          ev.x = a->ex[k] - cam_x[f];
          ev.y = a->y - cam_y[f];
          mix_sound (clip->audio, clip->n_samples, fs, ev.audio_time, snd, len, ev.gain);
          g_array_append_val (clip->events, ev);
        }
    }
  for (int u = 0; u < p->n_unseen; u++)
    {
      Timbre tb;
      timbre_random (&tb, (SsCorpusEventKind) ss_rng_int (&audio_rng, 0, SS_CORPUS_N_EVENT_KINDS - 1), &audio_rng);
      gsize len;
      g_autofree float *snd = synth (&tb, fs, &audio_rng, &len);
      double t = ss_rng_range (&audio_rng, 0.1, p->duration - 0.1);
      mix_sound (clip->audio, clip->n_samples, fs, t, snd, len, ss_rng_range (&audio_rng, 0.2, 0.6));
    }
  if (p->noise > 0)
    {
      Biquad lp;
      biquad_init (&lp, BQ_LOWPASS, ss_rng_range (&audio_rng, 300, 4000), 0.7, fs);
      double level = p->noise * 0.06;
      double hum_f = ss_rng_int (&audio_rng, 0, 1) ? 50.0 : 60.0;
      double hum = ss_rng_uniform (&audio_rng) < 0.3 ? p->noise * 0.02 : 0.0;
      /* a lowpassed noise bed with slow swells, plus sometimes mains hum */
      for (gsize i = 0; i < clip->n_samples; i++)
        {
          double t = i / fs;
          double swell = 1.0 + 0.3 * sin (2 * G_PI * 0.23 * t);
          double v = biquad_run (&lp, ss_rng_normal (&audio_rng)) * level * 2.5 * swell
                     + 0.3 * level * ss_rng_normal (&audio_rng)
                     + hum * (sin (2 * G_PI * hum_f * t) + 0.4 * sin (2 * G_PI * 3 * hum_f * t));
          clip->audio[i] += (float) v;
        }
    }
  float peak = 0;
  for (gsize i = 0; i < clip->n_samples; i++)
    peak = MAX (peak, fabsf (clip->audio[i]));
  if (peak > 0.95f)
    for (gsize i = 0; i < clip->n_samples; i++)
      clip->audio[i] *= 0.95f / peak;

  g_array_sort (clip->events, compare_events);
  g_free (bg.px);
  g_array_unref (sc.actors);
  g_array_unref (sc.times);
  return clip;
}

/* ------------------------------------------------------------------------ */
/* labels                                                                   */

char *
ss_corpus_clip_label_json (const SsCorpusClip *clip, const char *media_file)
{
  g_return_val_if_fail (clip != NULL, NULL);
  const SsCorpusParams *p = &clip->params;
  g_autoptr (JsonBuilder) b = json_builder_new ();
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "format");
  json_builder_add_string_value (b, "soundstage-corpus-label");
  json_builder_set_member_name (b, "version");
  json_builder_add_int_value (b, 1);
  if (media_file)
    {
      json_builder_set_member_name (b, "media");
      json_builder_add_string_value (b, media_file);
    }
  json_builder_set_member_name (b, "seed");
  json_builder_add_int_value (b, (gint64) p->seed);
  json_builder_set_member_name (b, "offset");
  json_builder_add_double_value (b, p->offset);
  json_builder_set_member_name (b, "offset_convention");
  json_builder_add_string_value (b, "audio_time = video_time - offset (positive: audio leads)");
  json_builder_set_member_name (b, "duration");
  json_builder_add_double_value (b, p->duration);
  json_builder_set_member_name (b, "fps");
  json_builder_add_int_value (b, p->fps);
  json_builder_set_member_name (b, "width");
  json_builder_add_int_value (b, p->width);
  json_builder_set_member_name (b, "height");
  json_builder_add_int_value (b, p->height);
  json_builder_set_member_name (b, "sample_rate");
  json_builder_add_int_value (b, p->sample_rate);
  json_builder_set_member_name (b, "difficulty");
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "distractors");
  json_builder_add_int_value (b, p->n_distractors);
  json_builder_set_member_name (b, "silent");
  json_builder_add_int_value (b, p->n_silent);
  json_builder_set_member_name (b, "unseen");
  json_builder_add_int_value (b, p->n_unseen);
  json_builder_set_member_name (b, "camera_motion");
  json_builder_add_double_value (b, p->camera_motion);
  json_builder_set_member_name (b, "noise");
  json_builder_add_double_value (b, p->noise);
  json_builder_end_object (b);
  json_builder_set_member_name (b, "events");
  json_builder_begin_array (b);
  for (guint i = 0; i < clip->events->len; i++)
    {
      const SsCorpusEvent *e = &g_array_index (clip->events, SsCorpusEvent, i);
      json_builder_begin_object (b);
      json_builder_set_member_name (b, "kind");
      json_builder_add_string_value (b, ss_corpus_event_kind_name (e->kind));
      json_builder_set_member_name (b, "time");
      json_builder_add_double_value (b, e->time);
      json_builder_set_member_name (b, "audio_time");
      json_builder_add_double_value (b, e->audio_time);
      json_builder_set_member_name (b, "x");
      json_builder_add_double_value (b, e->x);
      json_builder_set_member_name (b, "y");
      json_builder_add_double_value (b, e->y);
      json_builder_set_member_name (b, "gain");
      json_builder_add_double_value (b, e->gain);
      json_builder_set_member_name (b, "actor");
      json_builder_add_int_value (b, e->actor);
      json_builder_end_object (b);
    }
  json_builder_end_array (b);
  json_builder_end_object (b);
  g_autoptr (JsonGenerator) gen = json_generator_new ();
  g_autoptr (JsonNode) root = json_builder_get_root (b);
  json_generator_set_root (gen, root);
  json_generator_set_pretty (gen, TRUE);
  return json_generator_to_data (gen, NULL);
}

gboolean
ss_corpus_label_load (const char *path, double *offset, GArray **events, char **media_file, GError **error)
{
  g_autoptr (JsonParser) parser = json_parser_new ();
  g_autoptr (GError) local = NULL;
  g_autofree char *base = g_path_get_basename (path);
  if (!json_parser_load_from_file (parser, path, &local))
    {
      g_set_error (error, SS_ERROR, g_error_matches (local, G_FILE_ERROR, G_FILE_ERROR_NOENT)
                   ? SS_ERROR_NOT_FOUND : SS_ERROR_INVALID_DATA,
                   "“%s” is not a readable clip label: %s", base, local->message);
      return FALSE;
    }
  JsonNode *root = json_parser_get_root (parser);
  JsonObject *o = root && JSON_NODE_HOLDS_OBJECT (root) ? json_node_get_object (root) : NULL;
  if (!o || g_strcmp0 (json_object_get_string_member_with_default (o, "format", ""), "soundstage-corpus-label") != 0
      || !json_object_has_member (o, "offset"))
    {
      g_set_error (error, SS_ERROR, SS_ERROR_INVALID_DATA, "“%s” is not a Soundstage corpus label", base);
      return FALSE;
    }
  if (offset)
    *offset = json_object_get_double_member_with_default (o, "offset", 0.0);
  if (media_file)
    *media_file = g_strdup (json_object_get_string_member_with_default (o, "media", NULL));
  if (events)
    {
      *events = g_array_new (FALSE, FALSE, sizeof (SsCorpusEvent));
      JsonArray *arr = json_object_has_member (o, "events") ? json_object_get_array_member (o, "events") : NULL;
      for (guint i = 0; arr && i < json_array_get_length (arr); i++)
        {
          JsonNode *n = json_array_get_element (arr, i);
          if (!JSON_NODE_HOLDS_OBJECT (n))
            continue;
          JsonObject *eo = json_node_get_object (n);
          SsCorpusEvent e = { 0 };
          const char *k = json_object_get_string_member_with_default (eo, "kind", "");
          for (int j = 0; j < SS_CORPUS_N_EVENT_KINDS; j++)
            if (g_strcmp0 (k, kind_names[j]) == 0)
              e.kind = (SsCorpusEventKind) j;
          e.time = json_object_get_double_member_with_default (eo, "time", 0);
          e.audio_time = json_object_get_double_member_with_default (eo, "audio_time", 0);
          e.x = json_object_get_double_member_with_default (eo, "x", 0);
          e.y = json_object_get_double_member_with_default (eo, "y", 0);
          e.gain = json_object_get_double_member_with_default (eo, "gain", 0);
          e.actor = (int) json_object_get_int_member_with_default (eo, "actor", 0);
          g_array_append_val (*events, e);
        }
    }
  return TRUE;
}
