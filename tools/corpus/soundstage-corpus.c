/* soundstage-corpus: writes synthetic audio-visual clips with their labels.
 *
 *   soundstage-corpus --out DIR [--count N] [--seed S] [--difficulty easy|moderate|hard]
 *                     [--duration SEC] [--size PX] [--rate HZ] [--offsets grid|zero]
 *                     [--format mkv|mp4]
 *
 * Clip i uses seed S + i; with --offsets grid its audio is shifted by one of the 21
 * sync classes (-2.0 .. +2.0 s, chosen from the seed). Each clip is DIR/clip-SEED.EXT
 * and DIR/clip-SEED.json (ss_corpus_clip_label_json). MKV is written with FLAC audio
 * (exact samples), MP4 with AAC; both with H.264 video, through SsEncoder.
 */
#define G_LOG_DOMAIN "soundstage-corpus"

#include "models/ss-corpus.h"
#include "models/sync/ss-sync.h"
#include "media/ss-media.h"
#include "ss-types.h"

#include <glib/gstdio.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static gboolean
write_clip (const SsCorpusClip *clip, const char *path, GError **error)
{
  const SsCorpusParams *p = &clip->params;
  SsEncoder *enc = ss_encoder_new (path, p->width, p->height, p->fps, 1, p->sample_rate, 1, error);
  if (enc == NULL)
    return FALSE;
  SsFrame *frame = ss_frame_new (p->width, p->height);
  gsize spf = (gsize) p->sample_rate / p->fps;
  gboolean ok = TRUE;
  for (int f = 0; f < clip->n_frames && ok; f++)
    {
      const guint8 *src = ss_corpus_clip_frame (clip, f);
      for (int y = 0; y < p->height; y++)
        memcpy (frame->data + (gsize) y * frame->stride, src + (gsize) y * p->width * 4, (gsize) p->width * 4);
      frame->index = f;
      frame->pts = (SsTime) f * SS_TIME_SECOND / p->fps;
      ok = ss_encoder_write_video (enc, frame, error);
      gsize a0 = (gsize) f * spf;
      if (ok && a0 < clip->n_samples)
        ok = ss_encoder_write_audio (enc, clip->audio + a0, MIN (spf, clip->n_samples - a0), error);
    }
  gsize done = (gsize) clip->n_frames * spf;
  if (ok && done < clip->n_samples)
    ok = ss_encoder_write_audio (enc, clip->audio + done, clip->n_samples - done, error);
  ss_frame_unref (frame);
  if (ok)
    ok = ss_encoder_finish (enc, error);
  ss_encoder_free (enc);
  return ok;
}

int
main (int argc, char **argv)
{
  g_autofree char *out = NULL, *difficulty = NULL, *offsets = NULL, *format = NULL;
  int count = 10, size = 224, rate = 16000;
  gint64 seed = 1;
  double duration = 8.0;
  GOptionEntry entries[] = {
    { "out", 'o', 0, G_OPTION_ARG_FILENAME, &out, "Folder to write the clips into", "DIR" },
    { "count", 'n', 0, G_OPTION_ARG_INT, &count, "Number of clips (10)", "N" },
    { "seed", 's', 0, G_OPTION_ARG_INT64, &seed, "Seed of the first clip (1)", "S" },
    { "difficulty", 'd', 0, G_OPTION_ARG_STRING, &difficulty, "easy, moderate (default) or hard", "D" },
    { "duration", 0, 0, G_OPTION_ARG_DOUBLE, &duration, "Seconds per clip (8)", "SEC" },
    { "size", 0, 0, G_OPTION_ARG_INT, &size, "Frame width and height (224)", "PX" },
    { "rate", 0, 0, G_OPTION_ARG_INT, &rate, "Audio sample rate (16000)", "HZ" },
    { "offsets", 0, 0, G_OPTION_ARG_STRING, &offsets, "grid (default): a sync class per clip; zero", "grid|zero" },
    { "format", 0, 0, G_OPTION_ARG_STRING, &format, "mkv (default, FLAC audio) or mp4 (AAC)", "mkv|mp4" },
    { NULL }
  };
  g_autoptr (GOptionContext) ctx = g_option_context_new ("- write synthetic audio-visual clips with labels");
  g_option_context_add_main_entries (ctx, entries, NULL);
  g_autoptr (GError) error = NULL;
  if (!g_option_context_parse (ctx, &argc, &argv, &error))
    {
      fprintf (stderr, "soundstage-corpus: %s\n", error->message);
      return 2;
    }
  if (out == NULL)
    {
      fprintf (stderr, "soundstage-corpus: --out DIR is required\n");
      return 2;
    }
  SsCorpusDifficulty d = SS_CORPUS_MODERATE;
  if (difficulty && !ss_corpus_difficulty_from_name (difficulty, &d))
    {
      fprintf (stderr, "soundstage-corpus: unknown difficulty “%s” (easy, moderate, hard)\n", difficulty);
      return 2;
    }
  gboolean grid = offsets == NULL || g_strcmp0 (offsets, "grid") == 0;
  if (!grid && g_strcmp0 (offsets, "zero") != 0)
    {
      fprintf (stderr, "soundstage-corpus: --offsets must be grid or zero\n");
      return 2;
    }
  const char *ext = format ? format : "mkv";
  if (g_strcmp0 (ext, "mkv") != 0 && g_strcmp0 (ext, "mp4") != 0)
    {
      fprintf (stderr, "soundstage-corpus: --format must be mkv or mp4\n");
      return 2;
    }
  if (g_mkdir_with_parents (out, 0755) != 0)
    {
      fprintf (stderr, "soundstage-corpus: cannot create “%s”\n", out);
      return 1;
    }
  for (int i = 0; i < count; i++)
    {
      SsCorpusParams p;
      ss_corpus_params_init (&p, d);
      p.seed = (guint64) (seed + i);
      p.duration = duration;
      p.width = p.height = size;
      p.sample_rate = rate;
      if (grid)
        {
          SsRng rng;
          ss_rng_init (&rng, p.seed ^ G_GUINT64_CONSTANT (0x5eed0ff5e7));
          p.offset = ss_sync_class_offset (ss_rng_int (&rng, 0, SS_SYNC_N_CLASSES - 1));
        }
      g_autoptr (SsCorpusClip) clip = ss_corpus_generate (&p, &error);
      if (clip == NULL)
        {
          fprintf (stderr, "soundstage-corpus: %s\n", error->message);
          return 1;
        }
      g_autofree char *name = g_strdup_printf ("clip-%" G_GUINT64_FORMAT ".%s", p.seed, ext);
      g_autofree char *media = g_build_filename (out, name, NULL);
      g_autofree char *label_name = g_strdup_printf ("clip-%" G_GUINT64_FORMAT ".json", p.seed);
      g_autofree char *label = g_build_filename (out, label_name, NULL);
      if (!write_clip (clip, media, &error))
        {
          fprintf (stderr, "soundstage-corpus: %s\n", error->message);
          return 1;
        }
      g_autofree char *json = ss_corpus_clip_label_json (clip, name);
      if (!g_file_set_contents (label, json, -1, &error))
        {
          fprintf (stderr, "soundstage-corpus: %s\n", error->message);
          return 1;
        }
      printf ("%s offset %+.1f s, %u events\n", media, p.offset, clip->events->len);
    }
  return 0;
}
