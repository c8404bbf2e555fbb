/* ss-test-pattern.c: see ss-test-pattern.h. */
#define G_LOG_DOMAIN "ss-test"

#include <math.h>
#include <string.h>
#include <glib/gstdio.h>
#include "ss-test-pattern.h"

#define GRID_COLS 4
#define GRID_ROWS 4
#define BITS      (GRID_COLS * GRID_ROWS)
#define HI        230
#define LO        25

void
ss_test_pattern_init (SsTestPattern *p)
{
  memset (p, 0, sizeof *p);
  p->width = 320;
  p->height = 240;
  p->fps_num = 25;
  p->fps_den = 1;
  p->n_frames = 50;
  p->sample_rate = 48000;
  p->channels = 2;
  p->max_b_frames = -1;
}

double
ss_test_pattern_tone_hz (int ch)
{
  return 440.0 * (1.0 + 0.5 * ch);
}

double
ss_test_pattern_sample (const SsTestPattern *p, double t, int ch)
{
  double a = p->amplitude > 0 ? p->amplitude : 0.5;
  return a * sin (2.0 * G_PI * ss_test_pattern_tone_hz (ch) * t);
}

/* Grid area: the top 80% of the frame; a moving ramp fills the rest. */
static void
block_rect (const SsFrame *f, int bit, int *x0, int *y0, int *x1, int *y1)
{
  int gh = f->height * 4 / 5;
  int c = bit % GRID_COLS, r = bit / GRID_COLS;
  *x0 = c * f->width / GRID_COLS;
  *x1 = (c + 1) * f->width / GRID_COLS;
  *y0 = r * gh / GRID_ROWS;
  *y1 = (r + 1) * gh / GRID_ROWS;
}

void
ss_test_pattern_draw (SsFrame *f, gint64 n)
{
  int gh = f->height * 4 / 5;

  for (int bit = 0; bit < BITS; bit++)
    {
      int x0, y0, x1, y1;
      guint8 v = ((n >> bit) & 1) ? HI : LO;
      block_rect (f, bit, &x0, &y0, &x1, &y1);
      for (int y = y0; y < y1; y++)
        for (int x = x0; x < x1; x++)
          {
            guint8 *px = f->data + (gsize) y * f->stride + (gsize) x * 4;
            px[0] = v;
            px[1] = v;
            px[2] = v;
            px[3] = 255;
          }
    }
  for (int y = gh; y < f->height; y++)
    for (int x = 0; x < f->width; x++)
      {
        guint8 *px = f->data + (gsize) y * f->stride + (gsize) x * 4;
        px[0] = (guint8) ((x * 255 / MAX (f->width - 1, 1) + n * 8) & 0xff);
        px[1] = (guint8) (y * 255 / MAX (f->height - 1, 1));
        px[2] = (guint8) (255 - px[0]);
        px[3] = 255;
      }
}

gint64
ss_test_pattern_read (const SsFrame *f)
{
  gint64 n = 0;

  for (int bit = 0; bit < BITS; bit++)
    {
      int x0, y0, x1, y1;
      double sum = 0;
      gsize count = 0;
      block_rect (f, bit, &x0, &y0, &x1, &y1);
      /* inner half of the block, away from edges blurred by the codec */
      for (int y = y0 + (y1 - y0) / 4; y < y1 - (y1 - y0) / 4; y++)
        for (int x = x0 + (x1 - x0) / 4; x < x1 - (x1 - x0) / 4; x++)
          {
            const guint8 *px = f->data + (gsize) y * f->stride + (gsize) x * 4;
            sum += (px[0] + px[1] + px[2]) / 3.0;
            count++;
          }
      if (count == 0)
        return -1;
      sum /= count;
      if (fabs (sum - HI) < 30)
        n |= (gint64) 1 << bit;
      else if (fabs (sum - LO) >= 30)
        return -1;
    }
  return n;
}

#define AUDIO_CHUNK 1000   /* frames per ss_encoder_write_audio */

/* Writes the pattern's audio from sample *@written up to @until, in chunks of
 * AUDIO_CHUNK frames staged in @buf. */
static gboolean
write_audio_until (SsEncoder *enc, const SsTestPattern *p, float *buf, gint64 *written, gint64 until,
                   GError **error)
{
  while (*written < until)
    {
      int n = (int) MIN (AUDIO_CHUNK, until - *written);
      for (int k = 0; k < n; k++)
        for (int c = 0; c < p->channels; c++)
          buf[k * p->channels + c] = (float) ss_test_pattern_sample (p, (double) (*written + k) / p->sample_rate, c);
      if (!ss_encoder_write_audio (enc, buf, (gsize) n, error))
        return FALSE;
      *written += n;
    }
  return TRUE;
}

gboolean
ss_test_pattern_write (const char *path, const SsTestPattern *p, GError **error)
{
  SsEncoderOptions o = { 0 };
  g_autoptr(SsEncoder) enc = NULL;
  g_autoptr(SsFrame) frame = NULL;
  g_autofree float *buf = NULL;
  double duration = p->duration > 0 ? p->duration : (double) p->n_frames * p->fps_den / p->fps_num;
  gint64 n_samples = p->sample_rate > 0 ? (gint64) llround (duration * p->sample_rate) : 0;
  gint64 written = 0;

  o.video_codec = p->video_codec;
  o.audio_codec = p->audio_codec;
  o.gop = p->gop;
  o.max_b_frames = p->max_b_frames;
  o.start_time = p->start_time;
  o.crf = 16;
  enc = ss_encoder_new_full (path, p->width, p->height, p->fps_num, p->fps_den, p->sample_rate, p->channels, &o,
                             error);
  if (!enc)
    return FALSE;
  if (p->width > 0)
    frame = ss_frame_new (p->width, p->height);
  if (p->sample_rate > 0)
    buf = g_new (float, (gsize) AUDIO_CHUNK * p->channels);

  for (int i = 0; p->width > 0 && i < p->n_frames; i++)
    {
      SsTime t = p->vfr_pts ? p->vfr_pts[i] : (SsTime) i * p->fps_den * SS_TIME_SECOND / p->fps_num;
      ss_test_pattern_draw (frame, i);
      if (p->vfr_pts ? !ss_encoder_write_video_at (enc, frame, t, error) : !ss_encoder_write_video (enc, frame, error))
        return FALSE;
      /* interleave: audio up to the end of this frame */
      {
        SsTime frame_end = p->vfr_pts ? (i + 1 < p->n_frames ? p->vfr_pts[i + 1] : (SsTime) (duration * 1e6))
                                      : (SsTime) (i + 1) * p->fps_den * SS_TIME_SECOND / p->fps_num;
        if (!write_audio_until (enc, p, buf, &written, MIN (n_samples, frame_end * p->sample_rate / SS_TIME_SECOND),
                                error))
          return FALSE;
      }
    }
  if (!write_audio_until (enc, p, buf, &written, n_samples, error))
    return FALSE;
  return ss_encoder_finish (enc, error);
}

char *
ss_test_tmpdir (void)
{
  g_autoptr(GError) error = NULL;
  char *dir = g_dir_make_tmp ("ss-media-test-XXXXXX", &error);
  g_assert_no_error (error);
  return dir;
}

void
ss_test_rmdir (const char *dir)
{
  GDir *d = g_dir_open (dir, 0, NULL);
  const char *name;

  if (!d)
    return;
  while ((name = g_dir_read_name (d)))
    {
      g_autofree char *p = g_build_filename (dir, name, NULL);
      if (g_file_test (p, G_FILE_TEST_IS_DIR))
        ss_test_rmdir (p);
      else
        g_unlink (p);
    }
  g_dir_close (d);
  g_rmdir (dir);
}

const char *
ss_test_add_media (SsProject *project, const char *path)
{
  g_autoptr(GError) error = NULL;
  SsMedia info = { 0 };
  if (!ss_media_probe (path, &info, &error))
    g_error ("probe %s: %s", path, error->message);
  const char *id = ss_project_add_media (project, &info, &error);
  ss_media_clear (&info);
  if (id == NULL)
    g_error ("add media %s: %s", path, error->message);
  return id;
}
