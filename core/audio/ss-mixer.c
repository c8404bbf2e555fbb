/* ss-mixer.c: mixes the project's audio tracks (active takes, clip and track
 * gain, mute/solo) at SS_MIX_RATE stereo, for playback and export. */
#define G_LOG_DOMAIN "ss-mixer"

#include <math.h>
#include <string.h>
#include "ss-mixer.h"
#include "media/ss-media.h"

#define MIX_CHANNELS      2
#define READER_IDLE_TICKS 4000   /* renders without use before a reader is closed */
#define MAX_READERS       48

typedef struct {
  char          *media_id;
  char          *track_id;
  char          *path;
  SsAudioReader *reader;   /* NULL when opening failed */
  guint64        last_used;
} MixReader;

/* GRecMutex rather than GMutex: it is a pthread mutex, which thread sanitizers
 * understand (GMutex is a bare futex on Linux). Never taken recursively. */
struct _SsMixer {
  GRecMutex  project_lock;   /* guards project, in_use, retired (short holds only) */
  SsProject *project;
  SsProject *in_use;         /* the snapshot a render is reading (not referenced) */
  GPtrArray *retired;        /* replaced snapshots, released by set_project/free */
  GRecMutex  render_lock;     /* guards everything below */
  GPtrArray *readers;        /* of MixReader* */
  float     *scratch;
  gsize      scratch_cap;    /* in frames */
  guint64    tick;
};

static void
mix_reader_free (MixReader *r)
{
  g_free (r->media_id);
  g_free (r->track_id);
  g_free (r->path);
  ss_audio_reader_free (r->reader);
  g_free (r);
}

SsMixer *
ss_mixer_new (void)
{
  SsMixer *m = g_new0 (SsMixer, 1);

  g_rec_mutex_init (&m->project_lock);
  g_rec_mutex_init (&m->render_lock);
  m->readers = g_ptr_array_new_with_free_func ((GDestroyNotify) mix_reader_free);
  m->retired = g_ptr_array_new ();
  return m;
}

void
ss_mixer_free (SsMixer *m)
{
  if (!m)
    return;
  g_clear_object (&m->project);
  g_ptr_array_foreach (m->retired, (GFunc) g_object_unref, NULL);
  g_ptr_array_unref (m->retired);
  g_ptr_array_unref (m->readers);
  g_free (m->scratch);
  g_rec_mutex_clear (&m->project_lock);
  g_rec_mutex_clear (&m->render_lock);
  g_free (m);
}

void
ss_mixer_set_project (SsMixer *m, SsProject *snapshot)
{
  g_autoptr(GPtrArray) release = g_ptr_array_new_with_free_func (g_object_unref);

  g_return_if_fail (m != NULL);
  g_return_if_fail (snapshot == NULL || SS_IS_PROJECT (snapshot));
  if (snapshot)
    g_object_ref (snapshot);
  g_rec_mutex_lock (&m->project_lock);
  if (m->project)
    g_ptr_array_add (m->retired, m->project);
  m->project = snapshot;
  /* Snapshots are released here, on the caller's thread, once no render reads
   * them: the audio thread never runs a finalizer (no frees in real time, and
   * documents are only ever destroyed on one thread). */
  for (guint i = 0; i < m->retired->len;)
    {
      SsProject *old = g_ptr_array_index (m->retired, i);
      if (old != m->in_use)
        {
          g_ptr_array_add (release, old);
          g_ptr_array_remove_index_fast (m->retired, i);
        }
      else
        i++;
    }
  g_rec_mutex_unlock (&m->project_lock);
}

guint
ss_mixer_get_n_readers (SsMixer *m)
{
  guint n;

  g_return_val_if_fail (m != NULL, 0);
  g_rec_mutex_lock (&m->render_lock);
  n = m->readers->len;
  g_rec_mutex_unlock (&m->render_lock);
  return n;
}

static double
db_to_gain (double db)
{
  if (!isfinite (db) || db <= -144.0)
    return 0.0;
  return pow (10.0, db / 20.0);
}

static MixReader *
get_reader (SsMixer *m, const SsMedia *media, const char *track_id, GError **error)
{
  MixReader *r, *oldest = NULL;

  for (guint i = 0; i < m->readers->len; i++)
    {
      r = g_ptr_array_index (m->readers, i);
      if (g_str_equal (r->media_id, media->id) && g_str_equal (r->track_id, track_id) &&
          g_str_equal (r->path, media->path))
        {
          r->last_used = m->tick;
          if (!r->reader)
            {
              /* opening failed before: report it again, retry now and then */
              if (m->tick % 512 != 0)
                {
                  g_set_error (error, SS_ERROR, SS_ERROR_NOT_FOUND, "The audio of “%s” cannot be read", media->path);
                  return NULL;
                }
              r->reader = ss_audio_reader_new (media->path, SS_MIX_RATE, MIX_CHANNELS, error);
              if (!r->reader)
                return NULL;
            }
          return r;
        }
    }
  if (m->readers->len >= MAX_READERS)
    {
      for (guint i = 0; i < m->readers->len; i++)
        {
          r = g_ptr_array_index (m->readers, i);
          if (!oldest || r->last_used < oldest->last_used)
            oldest = r;
        }
      g_ptr_array_remove_fast (m->readers, oldest);
    }
  r = g_new0 (MixReader, 1);
  r->media_id = g_strdup (media->id);
  r->track_id = g_strdup (track_id);
  r->path = g_strdup (media->path);
  r->last_used = m->tick;
  r->reader = ss_audio_reader_new (media->path, SS_MIX_RATE, MIX_CHANNELS, error);
  g_ptr_array_add (m->readers, r);
  return r->reader ? r : NULL;
}

static void
close_idle_readers (SsMixer *m)
{
  for (guint i = 0; i < m->readers->len;)
    {
      MixReader *r = g_ptr_array_index (m->readers, i);
      if (m->tick - r->last_used > READER_IDLE_TICKS)
        g_ptr_array_remove_index_fast (m->readers, i);
      else
        i++;
    }
}

/* x * num / den to the nearest integer, halves away from zero */
static gint64
rescale_round (gint64 x, gint64 num, gint64 den)
{
  return x >= 0 ? (x * num + den / 2) / den : -((-x * num + den / 2) / den);
}

static gint64
to_samples (SsTime t)
{
  /* nearest sample; exact inverse of to_time for every sample index */
  return rescale_round (t, SS_MIX_RATE, SS_TIME_SECOND);
}

static SsTime
to_time (gint64 s)
{
  return rescale_round (s, SS_TIME_SECOND, SS_MIX_RATE);
}

static gboolean
mix_track (SsMixer *m, SsProject *p, const SsTrack *track, gint64 t0, float *out, gsize n_frames, GError **error)
{
  double track_gain = db_to_gain (track->gain_db);
  gboolean ok = TRUE;

  if (track_gain == 0.0)
    return TRUE;
  for (guint i = 0; i < track->clips->len; i++)
    {
      const SsClip *c = g_ptr_array_index (track->clips, i);
      gint64 cs = to_samples (c->start), ce = to_samples (c->start + c->duration);
      gint64 a = MAX (cs, t0), b = MIN (ce, t0 + (gint64) n_frames);
      const SsTake *take;
      const SsMedia *media;
      MixReader *mr;
      float gain;
      gssize got;
      g_autoptr(GError) local = NULL;

      if (cs >= t0 + (gint64) n_frames)
        break;   /* clips are sorted by start */
      if (a >= b)
        continue;
      take = ss_clip_get_active_take (c);
      media = take ? ss_project_find_media (p, take->media_id) : NULL;
      if (!media || media->missing || !media->has_audio || !media->path)
        continue;
      gain = (float) (track_gain * db_to_gain (c->gain_db));
      if (gain == 0.0f)
        continue;
      mr = get_reader (m, media, track->id, &local);
      if (!mr)
        {
          if (ok && error && !*error)
            g_propagate_error (error, g_steal_pointer (&local));
          ok = FALSE;
          continue;
        }
      got = ss_audio_reader_read (mr->reader, to_time (to_samples (take->source_in) + (a - cs)), m->scratch,
                                  (gsize) (b - a), &local);
      if (got < 0)
        {
          if (ok && error && !*error)
            g_propagate_error (error, g_steal_pointer (&local));
          ok = FALSE;
          continue;
        }
      {
        float *dst = out + (gsize) (a - t0) * MIX_CHANNELS;
        gsize n = (gsize) (b - a) * MIX_CHANNELS;
        for (gsize k = 0; k < n; k++)
          dst[k] += gain * m->scratch[k];
      }
    }
  return ok;
}

gboolean
ss_mixer_render (SsMixer *m, SsTime t, float *out, gsize n_frames, const char *track_id, GError **error)
{
  SsProject *p;
  gboolean ok = TRUE;
  gint64 t0;

  g_return_val_if_fail (m != NULL, FALSE);
  g_return_val_if_fail (out != NULL || n_frames == 0, FALSE);

  memset (out, 0, n_frames * MIX_CHANNELS * sizeof (float));
  if (n_frames == 0)
    return TRUE;
  g_rec_mutex_lock (&m->render_lock);   /* one render at a time */
  g_rec_mutex_lock (&m->project_lock);
  p = m->in_use = m->project;           /* kept alive by set_project until released */
  g_rec_mutex_unlock (&m->project_lock);
  if (!p)
    {
      g_rec_mutex_unlock (&m->render_lock);
      return TRUE;
    }

  m->tick++;
  if (n_frames > m->scratch_cap)
    {
      float *ns = g_try_realloc_n (m->scratch, n_frames, MIX_CHANNELS * sizeof (float));
      if (!ns)
        {
          g_rec_mutex_lock (&m->project_lock);
          m->in_use = NULL;
          g_rec_mutex_unlock (&m->project_lock);
          g_rec_mutex_unlock (&m->render_lock);
          g_set_error (error, SS_ERROR, SS_ERROR_OUT_OF_MEMORY, "Out of memory for the audio mix");
          return FALSE;
        }
      m->scratch = ns;
      m->scratch_cap = n_frames;
    }
  t0 = to_samples (t);
  for (guint i = 0; i < ss_project_get_n_tracks (p); i++)
    {
      const SsTrack *track = ss_project_get_track (p, i);
      if (track->kind != SS_TRACK_AUDIO)
        continue;
      if (track_id ? !g_str_equal (track->id, track_id) : !ss_project_track_is_audible (p, track))
        continue;
      if (!mix_track (m, p, track, t0, out, n_frames, ok ? error : NULL))
        ok = FALSE;
    }
  if (m->tick % 64 == 0)
    close_idle_readers (m);
  g_rec_mutex_lock (&m->project_lock);
  m->in_use = NULL;
  g_rec_mutex_unlock (&m->project_lock);
  g_rec_mutex_unlock (&m->render_lock);
  return ok;
}
