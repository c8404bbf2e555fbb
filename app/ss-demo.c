/* ss-demo.c: generates the demo clip (bouncing balls whose impacts make
 * matching sounds) and the demo project that references it. No GTK. */
#define G_LOG_DOMAIN "ss-demo"

#include "config.h"

#include <errno.h>
#include <math.h>
#include <string.h>

#include <glib/gi18n.h>
#include <glib/gstdio.h>

#include "media/ss-media.h"
#include "project/ss-project.h"
#include "ss-demo.h"

#define FLOOR_H 22
#define GRAVITY 900.0
#define SOUND_SECONDS 0.45

typedef struct {
  double x, y, vx, vy, r;
  guint8 rgb[3];
  double pitch;            /* Hz of the floor knock; walls are a fifth higher */
} Ball;

typedef struct {
  double t;                /* seconds */
  double strength;         /* 0..1 */
  double pan;              /* 0 (left) .. 1 (right) */
  double freq;
} Impact;

void
ss_demo_options_init (SsDemoOptions *opts)
{
  g_return_if_fail (opts != NULL);
  opts->width = 320;
  opts->height = 180;
  opts->fps = 25;
  opts->seconds = 4.0;
  opts->n_balls = 3;
  opts->seed = 1;
}

static void
init_balls (Ball *balls, guint n, const SsDemoOptions *o, GRand *rand)
{
  static const guint8 palette[][3] = {
    { 0xf6, 0xd3, 0x2d }, { 0xed, 0x33, 0x3b }, { 0x33, 0xd1, 0x7a },
    { 0x99, 0xc1, 0xf1 }, { 0xff, 0xa3, 0x48 }, { 0xdc, 0x8a, 0xdd },
  };
  static const double pitches[] = { 196.0, 293.7, 440.0, 329.6, 246.9, 523.3 };
  double scale = o->height / 180.0;

  for (guint i = 0; i < n; i++)
    {
      Ball *b = &balls[i];
      guint c = (i + o->seed) % G_N_ELEMENTS (palette);
      b->r = (10.0 + 4.0 * (i % 3)) * scale;
      b->x = b->r + g_rand_double (rand) * (o->width - 2 * b->r);
      b->y = b->r + g_rand_double_range (rand, 0.05, 0.45) * (o->height - FLOOR_H * scale - 2 * b->r);
      b->vx = g_rand_double_range (rand, 60.0, 160.0) * scale * (g_rand_boolean (rand) ? 1 : -1);
      b->vy = g_rand_double_range (rand, -80.0, 40.0) * scale;
      memcpy (b->rgb, palette[c], 3);
      b->pitch = pitches[c];
    }
}

/* Advances the balls by @dt, appending impacts at @t. */
static void
step_balls (Ball *balls, guint n, const SsDemoOptions *o, double t, double dt, GArray *impacts)
{
  double scale = o->height / 180.0;
  double floor_y = o->height - FLOOR_H * scale;
  double max_speed = 700.0 * scale;

  for (guint i = 0; i < n; i++)
    {
      Ball *b = &balls[i];
      Impact im = { 0 };

      b->vy += GRAVITY * scale * dt;
      b->x += b->vx * dt;
      b->y += b->vy * dt;

      if (b->y + b->r >= floor_y && b->vy > 0)
        {
          im.strength = MIN (1.0, b->vy / max_speed);
          im.freq = b->pitch;
          b->y = floor_y - b->r;
          b->vy = -b->vy * 0.92;
          /* keep them bouncing for the whole clip */
          if (-b->vy < 380.0 * scale)
            b->vy = -(380.0 + 60.0 * i) * scale;
        }
      if (b->x - b->r <= 0 && b->vx < 0)
        {
          b->x = b->r;
          b->vx = -b->vx;
          im.strength = MAX (im.strength, MIN (1.0, fabs (b->vx) / max_speed) * 0.8);
          im.freq = b->pitch * 1.5;
        }
      else if (b->x + b->r >= o->width && b->vx > 0)
        {
          b->x = o->width - b->r;
          b->vx = -b->vx;
          im.strength = MAX (im.strength, MIN (1.0, fabs (b->vx) / max_speed) * 0.8);
          im.freq = b->pitch * 1.5;
        }
      if (im.freq > 0 && impacts != NULL)
        {
          im.t = t + dt;
          im.pan = CLAMP (b->x / o->width, 0.0, 1.0);
          im.strength = MAX (im.strength, 0.25);
          g_array_append_val (impacts, im);
        }
    }
}

static void
draw_frame (SsFrame *f, const Ball *balls, guint n, const SsDemoOptions *o)
{
  double scale = o->height / 180.0;
  int floor_y = (int) (o->height - FLOOR_H * scale);

  for (int y = 0; y < f->height; y++)
    {
      guint8 *row = f->data + (gsize) y * f->stride;
      guint8 r, g, b;
      if (y < floor_y)
        {
          double k = (double) y / MAX (1, floor_y);
          r = (guint8) (28 + 40 * k);
          g = (guint8) (36 + 60 * k);
          b = (guint8) (70 + 90 * k);
        }
      else
        {
          gboolean stripe = ((y - floor_y) / MAX (1, (int) (4 * scale))) % 2;
          r = stripe ? 0x86 : 0x98;
          g = stripe ? 0x5e : 0x6a;
          b = stripe ? 0x3c : 0x45;
        }
      for (int x = 0; x < f->width; x++)
        {
          row[4 * x + 0] = r;
          row[4 * x + 1] = g;
          row[4 * x + 2] = b;
          row[4 * x + 3] = 255;
        }
    }

  for (guint i = 0; i < n; i++)
    {
      const Ball *bl = &balls[i];
      int x0 = MAX (0, (int) floor (bl->x - bl->r - 1)), x1 = MIN (f->width - 1, (int) ceil (bl->x + bl->r + 1));
      int y0 = MAX (0, (int) floor (bl->y - bl->r - 1)), y1 = MIN (f->height - 1, (int) ceil (bl->y + bl->r + 1));

      /* shadow on the floor, wider when the ball is close */
      {
        double h = (floor_y - (bl->y + bl->r)) / (double) MAX (1, floor_y);
        double sw = bl->r * (1.2 - 0.6 * CLAMP (h, 0.0, 1.0));
        for (int y = floor_y; y < MIN (f->height, floor_y + (int) (4 * scale)); y++)
          for (int x = MAX (0, (int) (bl->x - sw)); x <= MIN (f->width - 1, (int) (bl->x + sw)); x++)
            {
              guint8 *p = f->data + (gsize) y * f->stride + 4 * x;
              p[0] = (guint8) (p[0] * 0.6);
              p[1] = (guint8) (p[1] * 0.6);
              p[2] = (guint8) (p[2] * 0.6);
            }
      }

      for (int y = y0; y <= y1; y++)
        for (int x = x0; x <= x1; x++)
          {
            double dx = x + 0.5 - bl->x, dy = y + 0.5 - bl->y;
            double d = sqrt (dx * dx + dy * dy);
            double a = CLAMP (bl->r - d + 0.5, 0.0, 1.0);
            double shade = 1.0 - 0.35 * CLAMP ((dx + dy) / (2 * bl->r) + 0.3, 0.0, 1.0);
            guint8 *p;
            if (a <= 0)
              continue;
            p = f->data + (gsize) y * f->stride + 4 * x;
            for (int c = 0; c < 3; c++)
              p[c] = (guint8) (p[c] * (1 - a) + bl->rgb[c] * shade * a);
          }
    }
}

static void
mix_impacts (float *audio, gsize n_frames, int rate, const Impact *impacts, guint n_impacts, GRand *rand)
{
  gsize len = (gsize) (SOUND_SECONDS * rate);

  for (guint k = 0; k < n_impacts; k++)
    {
      const Impact *im = &impacts[k];
      gsize s0 = (gsize) (im->t * rate + 0.5);
      double gl = cos (im->pan * G_PI / 2), gr = sin (im->pan * G_PI / 2);
      double amp = 0.45 * im->strength;

      for (gsize j = 0; j < len && s0 + j < n_frames; j++)
        {
          double t = (double) j / rate;
          double body = exp (-t / 0.09) * (sin (2 * G_PI * im->freq * t) + 0.35 * sin (2 * G_PI * 2.76 * im->freq * t));
          double click = exp (-t / 0.004) * (g_rand_double (rand) * 2 - 1);
          double v = amp * (0.8 * body + 0.5 * click);
          audio[2 * (s0 + j) + 0] += (float) (v * gl);
          audio[2 * (s0 + j) + 1] += (float) (v * gr);
        }
    }
  for (gsize i = 0; i < 2 * n_frames; i++)
    audio[i] = (float) tanh (audio[i]);   /* soft limit overlapping knocks */
}

gboolean
ss_demo_write_clip (const char *path, const SsDemoOptions *opts, SsJob *job,
                    guint *n_impacts, GError **error)
{
  SsDemoOptions defaults;
  const SsDemoOptions *o = opts;
  g_autoptr(GRand) rand = NULL;
  g_autoptr(GArray) impacts = g_array_new (FALSE, TRUE, sizeof (Impact));
  g_autofree Ball *balls = NULL;
  g_autofree float *audio = NULL;
  int n_video, substeps = 16;
  gsize n_audio;
  SsEncoder *enc;
  const int rate = SS_MIX_RATE;

  g_return_val_if_fail (path != NULL, FALSE);

  if (o == NULL)
    {
      ss_demo_options_init (&defaults);
      o = &defaults;
    }
  if (o->width < 16 || o->height < 16 || o->width % 2 || o->height % 2 || o->fps < 1 ||
      o->seconds <= 0 || o->seconds > 600 || o->n_balls < 1 || o->n_balls > 64)
    {
      g_set_error (error, SS_ERROR, SS_ERROR_INVALID_DATA, _("Invalid demo clip settings"));
      return FALSE;
    }

  n_video = (int) ceil (o->seconds * o->fps);
  n_audio = (gsize) ((double) n_video / o->fps * rate);
  rand = g_rand_new_with_seed (o->seed);
  balls = g_new0 (Ball, o->n_balls);
  init_balls (balls, o->n_balls, o, rand);

  /* Simulate the whole clip first (the audio needs every impact). */
  {
    Ball *sim = g_memdup2 (balls, sizeof (Ball) * o->n_balls);
    double dt = 1.0 / (o->fps * substeps);
    for (int i = 0; i < n_video * substeps; i++)
      step_balls (sim, o->n_balls, o, i * dt, dt, impacts);
    g_free (sim);
  }
  audio = g_new0 (float, 2 * n_audio);
  mix_impacts (audio, n_audio, rate, (const Impact *) impacts->data, impacts->len, rand);

  enc = ss_encoder_new (path, o->width, o->height, o->fps, 1, rate, 2, error);
  if (enc == NULL)
    return FALSE;

  for (int i = 0; i < n_video; i++)
    {
      g_autoptr(SsFrame) frame = ss_frame_new (o->width, o->height);
      gsize a0 = (gsize) ((double) i / o->fps * rate), a1 = (gsize) ((double) (i + 1) / o->fps * rate);
      double dt = 1.0 / (o->fps * substeps);

      if (job != NULL)
        {
          if (ss_job_is_cancelled (job))
            {
              g_set_error (error, SS_ERROR, SS_ERROR_CANCELLED, _("Cancelled"));
              ss_encoder_free (enc);
              return FALSE;
            }
          ss_job_set_progress (job, (double) i / n_video, _("Rendering the demo clip"));
        }
      frame->pts = (SsTime) i * SS_TIME_SECOND / o->fps;
      frame->index = i;
      draw_frame (frame, balls, o->n_balls, o);
      if (!ss_encoder_write_video (enc, frame, error) ||
          !ss_encoder_write_audio (enc, audio + 2 * a0, MIN (a1, n_audio) - a0, error))
        {
          ss_encoder_free (enc);
          return FALSE;
        }
      for (int s = 0; s < substeps; s++)
        step_balls (balls, o->n_balls, o, 0, dt, NULL);
    }
  if (!ss_encoder_finish (enc, error))
    {
      ss_encoder_free (enc);
      return FALSE;
    }
  ss_encoder_free (enc);
  if (n_impacts != NULL)
    *n_impacts = impacts->len;
  return TRUE;
}

gboolean
ss_demo_make (const char *dir, const SsDemoOptions *opts, SsJob *job, GError **error)
{
  g_autofree char *clip = NULL;
  g_autofree char *project_path = NULL;
  g_autoptr(SsProject) project = NULL;
  SsMedia info = { 0 };
  const char *media_id;
  gboolean ok;

  g_return_val_if_fail (dir != NULL, FALSE);

  if (g_mkdir_with_parents (dir, 0755) != 0)
    {
      int saved = errno;
      g_set_error (error, SS_ERROR, SS_ERROR_IO, _("Could not create the folder “%s”: %s"),
                   dir, g_strerror (saved));
      return FALSE;
    }
  clip = g_build_filename (dir, "demo.mp4", NULL);
  project_path = g_build_filename (dir, "demo" SS_PROJECT_EXTENSION, NULL);

  if (!ss_demo_write_clip (clip, opts, job, NULL, error))
    return FALSE;

  if (!ss_media_probe (clip, &info, error))
    return FALSE;
  project = ss_project_new ();
  media_id = ss_project_add_media (project, &info, error);
  ss_media_clear (&info);
  if (media_id == NULL)
    return FALSE;
  if (ss_project_insert_media (project, media_id, 0, NULL, error) == NULL)
    return FALSE;
  /* A fresh demo, not a backup of an older one. */
  g_unlink (project_path);
  ok = ss_project_save (project, project_path, error);
  if (ok && job != NULL)
    ss_job_set_progress (job, 1.0, NULL);
  return ok;
}
