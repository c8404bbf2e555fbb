/* ss-transport.c: play/pause/shuttle/step/seek with audio as the master clock and
 * video decoded ahead on a worker thread. */
#define G_LOG_DOMAIN "ss-transport"

#include "ss-transport.h"
#include "ss-transport-private.h"
#include "ss-audio-engine.h"
#include "ss-mixer.h"

#include <string.h>

#include "ss-audio-lock.h"

#define TICK_MS          15
#define NOTIFY_US        (33 * 1000)     /* "position" at most ~30 Hz */
#define PREFETCH_AHEAD   6
#define CACHE_MAX        24
#define DECODE_MAX_W     1280
#define DECODE_MAX_H     720
#define MAX_DECODERS     4
#define NO_FRAME         G_MININT64

typedef struct {
  gint64   index;
  SsFrame *frame;     /* NULL: no video at that frame */
} CachedFrame;

struct _SsTransport {
  GObject parent_instance;

  SsProject *project;
  gulong     changed_id;
  SsProject *snapshot;       /* main thread's copy */
  guint64    snapshot_revision;
  SsTime     duration;
  int        fps_num, fps_den;
  gboolean   has_video;

  SsMixer       *mixer;
  SsAudioEngine *engine;
  gboolean       null_audio;
  double         latency;
  gboolean       latency_pending;
  gboolean       mixer_ready;   /* atomic: mixer has a project */

  gboolean playing;
  double   rate;              /* 0 when paused */
  SsTime   position;          /* while paused */
  guint    tick_id;
  guint    scrub_id;
  gint64   last_notify;

  /* Segment: maps stream frames (or monotonic time, in reverse) to timeline time.
   * Read by the audio feeder thread under seg_lock. */
  SsLock   seg_lock;
  gint64   seg_frame0;
  SsTime   seg_time0;
  gint64   seg_sample0;       /* seg_time0 in samples at SS_MIX_RATE */
  int      seg_rate;          /* 1, 2, 4, 8; 0 = silence */
  gint64   seg_mono0;         /* reverse shuttle anchor */
  SsTransportTap tap;         /* under seg_lock */
  gpointer       tap_data;
  float   *render_scratch;    /* feeder thread only */
  gsize    render_scratch_len;
  gboolean render_error_logged;

  /* Video worker. */
  GThread      *video_thread;
  SsLock        vlock;
  SsCond        vcond;
  gboolean      vquit;
  SsProject    *vsnap;
  guint         vserial;
  int           vfps_num, vfps_den;
  gboolean      req_pending;
  gint64        req_index;
  gint64        shown_index;
  SsFrame      *cur_frame;
  GArray       *cache;        /* of CachedFrame */
  int           prefetch_dir;
  int           prefetch_stride;
  gboolean      frame_notify_pending;
  GMainContext *main_context;
};

G_DEFINE_FINAL_TYPE (SsTransport, ss_transport, G_TYPE_OBJECT)

enum { PROP_0, PROP_PLAYING, PROP_RATE, PROP_POSITION, N_PROPS };
static GParamSpec *props[N_PROPS];
enum { SIGNAL_FRAME_CHANGED, N_SIGNALS };
static guint signals[N_SIGNALS];

/* ---- frame grid ---- */

static gint64
grid_time_to_frame (int num, int den, SsTime t)
{
  if (num <= 0 || den <= 0)
    { num = 25; den = 1; }
  /* floor(t * num / (den * 1e6)), exact for the values that occur */
  gint64 d = (gint64) den * SS_TIME_SECOND;
  gint64 n = t * num;
  return n >= 0 ? n / d : -((-n + d - 1) / d);
}

static SsTime
grid_frame_to_time (int num, int den, gint64 frame)
{
  if (num <= 0 || den <= 0)
    { num = 25; den = 1; }
  /* ceil(frame * den * 1e6 / num): the first microsecond inside the frame */
  gint64 n = frame * den * SS_TIME_SECOND;
  return n >= 0 ? (n + num - 1) / num : -((-n) / num);
}

gint64
ss_transport_time_to_frame (SsTransport *self, SsTime t)
{
  g_return_val_if_fail (SS_IS_TRANSPORT (self), 0);
  return grid_time_to_frame (self->fps_num, self->fps_den, t);
}

SsTime
ss_transport_frame_to_time (SsTransport *self, gint64 frame)
{
  g_return_val_if_fail (SS_IS_TRANSPORT (self), 0);
  return grid_frame_to_time (self->fps_num, self->fps_den, frame);
}

/* ---- video worker ---- */

static gboolean
frame_changed_idle (gpointer data)
{
  SsTransport *self = data;
  ss_lock (&self->vlock);
  self->frame_notify_pending = FALSE;
  ss_unlock (&self->vlock);
  g_signal_emit (self, signals[SIGNAL_FRAME_CHANGED], 0);
  return G_SOURCE_REMOVE;
}

/* vlock held */
static void
post_frame_changed (SsTransport *self)
{
  if (self->frame_notify_pending || self->vquit)
    return;
  self->frame_notify_pending = TRUE;
  GSource *src = g_idle_source_new ();
  g_source_set_priority (src, G_PRIORITY_HIGH_IDLE);
  g_source_set_callback (src, frame_changed_idle, g_object_ref (self), g_object_unref);
  g_source_attach (src, self->main_context);
  g_source_unref (src);
}

static CachedFrame *
cache_find (SsTransport *self, gint64 index)
{
  for (guint i = 0; i < self->cache->len; i++)
    {
      CachedFrame *c = &g_array_index (self->cache, CachedFrame, i);
      if (c->index == index)
        return c;
    }
  return NULL;
}

static void
cache_clear (SsTransport *self)
{
  for (guint i = 0; i < self->cache->len; i++)
    g_clear_pointer (&g_array_index (self->cache, CachedFrame, i).frame, ss_frame_unref);
  g_array_set_size (self->cache, 0);
}

static void
cache_insert (SsTransport *self, gint64 index, SsFrame *frame)
{
  CachedFrame c = { index, frame };
  g_array_append_val (self->cache, c);
  gint64 ref = self->req_pending ? self->req_index : self->shown_index;
  while (self->cache->len > CACHE_MAX)
    {
      guint worst = 0;
      gint64 worst_d = -1;
      for (guint i = 0; i < self->cache->len; i++)
        {
          CachedFrame *e = &g_array_index (self->cache, CachedFrame, i);
          gint64 d = e->index - ref;
          /* frames behind the play direction are the least useful */
          if (self->prefetch_dir != 0 && d * self->prefetch_dir < 0)
            d = (d < 0 ? -d : d) + 1000000;
          else
            d = d < 0 ? -d : d;
          if (d > worst_d)
            { worst_d = d; worst = i; }
        }
      g_clear_pointer (&g_array_index (self->cache, CachedFrame, worst).frame, ss_frame_unref);
      g_array_remove_index_fast (self->cache, worst);
    }
}

static const SsTrack *
video_track (SsProject *p)
{
  guint n = ss_project_get_n_tracks (p);
  for (guint i = 0; i < n; i++)
    {
      const SsTrack *t = ss_project_get_track (p, i);
      if (t->kind == SS_TRACK_VIDEO)
        return t;
    }
  return NULL;
}

static const SsClip *
clip_at (const SsTrack *track, SsTime t)
{
  if (track == NULL || track->clips == NULL)
    return NULL;
  guint lo = 0, hi = track->clips->len;
  while (lo < hi)   /* first clip whose end is after t */
    {
      guint mid = (lo + hi) / 2;
      const SsClip *c = g_ptr_array_index (track->clips, mid);
      if (c->start + c->duration <= t)
        lo = mid + 1;
      else
        hi = mid;
    }
  if (lo >= track->clips->len)
    return NULL;
  const SsClip *c = g_ptr_array_index (track->clips, lo);
  return c->start <= t ? c : NULL;
}

/* Worker thread, no lock held. */
static SsFrame *
decode_frame (GHashTable *decoders, SsProject *snap, int num, int den, gint64 index)
{
  if (snap == NULL || index < 0)
    return NULL;
  SsTime t = grid_frame_to_time (num, den, index);
  const SsClip *clip = clip_at (video_track (snap), t);
  if (clip == NULL)
    return NULL;
  const SsTake *take = ss_clip_get_active_take (clip);
  if (take == NULL)
    return NULL;
  const SsMedia *media = ss_project_find_media (snap, take->media_id);
  if (media == NULL || media->missing || !media->has_video || media->path == NULL)
    return NULL;

  SsVideoDecoder *dec = g_hash_table_lookup (decoders, media->path);
  if (dec == NULL)
    {
      if (g_hash_table_contains (decoders, media->path))
        return NULL;   /* failed before */
      if (g_hash_table_size (decoders) >= MAX_DECODERS)
        g_hash_table_remove_all (decoders);
      g_autoptr(GError) error = NULL;
      dec = ss_video_decoder_new (media->path, &error);
      if (dec == NULL)
        {
          g_warning ("Cannot play video: %s", error->message);
          g_hash_table_insert (decoders, g_strdup (media->path), NULL);
          return NULL;
        }
      ss_video_decoder_set_output_size (dec, DECODE_MAX_W, DECODE_MAX_H);
      g_hash_table_insert (decoders, g_strdup (media->path), dec);
    }

  g_autoptr(GError) error = NULL;
  SsFrame *frame = ss_video_decoder_get_frame (dec, take->source_in + (t - clip->start), &error);
  if (frame == NULL && error != NULL)
    g_debug ("No frame at %.3f s: %s", ss_time_to_seconds (t), error->message);
  return frame;
}

static void
decoder_free0 (gpointer p)
{
  if (p != NULL)
    ss_video_decoder_free (p);
}

static gpointer
video_worker (gpointer data)
{
  SsTransport *self = data;
  g_autoptr(GHashTable) decoders = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, decoder_free0);

  ss_lock (&self->vlock);
  while (!self->vquit)
    {
      gint64 job = NO_FRAME;
      if (self->req_pending)
        {
          CachedFrame *c = cache_find (self, self->req_index);
          if (c != NULL)
            {
              if (c->frame != self->cur_frame || self->shown_index != c->index)
                {
                  g_clear_pointer (&self->cur_frame, ss_frame_unref);
                  self->cur_frame = c->frame ? ss_frame_ref (c->frame) : NULL;
                  self->shown_index = c->index;
                  post_frame_changed (self);
                }
              self->req_pending = FALSE;
              continue;
            }
          job = self->req_index;
        }
      else if (self->prefetch_dir != 0 && self->shown_index != NO_FRAME)
        {
          for (int k = 1; k <= PREFETCH_AHEAD; k++)
            {
              gint64 i = self->shown_index + (gint64) self->prefetch_dir * k * self->prefetch_stride;
              if (i < 0)
                break;
              if (cache_find (self, i) == NULL)
                { job = i; break; }
            }
        }
      if (job == NO_FRAME)
        {
          ss_cond_wait (&self->vcond, &self->vlock);
          continue;
        }

      guint serial = self->vserial;
      SsProject *snap = self->vsnap ? g_object_ref (self->vsnap) : NULL;
      int num = self->vfps_num, den = self->vfps_den;
      ss_unlock (&self->vlock);

      SsFrame *frame = decode_frame (decoders, snap, num, den, job);
      g_clear_object (&snap);

      ss_lock (&self->vlock);
      if (serial != self->vserial || cache_find (self, job) != NULL)
        {
          g_clear_pointer (&frame, ss_frame_unref);
          continue;
        }
      cache_insert (self, job, frame);
    }
  ss_unlock (&self->vlock);
  return NULL;
}

static void
request_frame (SsTransport *self, gint64 index)
{
  ss_lock (&self->vlock);
  if (!(index == self->shown_index && !self->req_pending) &&
      !(self->req_pending && self->req_index == index))
    {
      self->req_index = index;
      self->req_pending = TRUE;
      ss_cond_signal (&self->vcond);
    }
  ss_unlock (&self->vlock);
}

static void
set_prefetch (SsTransport *self, int dir, int stride)
{
  ss_lock (&self->vlock);
  self->prefetch_dir = dir;
  self->prefetch_stride = MAX (1, stride);
  ss_cond_signal (&self->vcond);
  ss_unlock (&self->vlock);
}

/* ---- audio ---- */

static void
mix_into (SsTransport *self, SsTime t, float *out, gsize n)
{
  if (!g_atomic_int_get (&self->mixer_ready))
    {
      memset (out, 0, n * 2 * sizeof (float));
      return;
    }
  g_autoptr(GError) error = NULL;
  /* On error @out still holds the mix of every other source. */
  if (!ss_mixer_render (self->mixer, t, out, n, NULL, &error))
    {
      if (!self->render_error_logged)
        {
          g_warning ("Playback cannot read audio: %s", error ? error->message : "unknown error");
          self->render_error_logged = TRUE;
        }
    }
}

/* Feeder thread of the engine. */
static void
transport_render (gint64 stream_frame, float *out, gsize n, gpointer data)
{
  SsTransport *self = data;

  ss_lock (&self->seg_lock);
  gint64 f0 = self->seg_frame0;
  gint64 s0 = self->seg_sample0;
  int r = self->seg_rate;
  ss_unlock (&self->seg_lock);

  if (r <= 0)
    {
      memset (out, 0, n * 2 * sizeof (float));
      return;
    }
  /* Sample-exact times (the mixer rounds to the nearest sample, so consecutive
   * chunks read each source sequentially). */
  gint64 sample = s0 + (stream_frame - f0) * r;
  SsTime t = (sample * SS_TIME_SECOND + SS_MIX_RATE / 2) / SS_MIX_RATE;
  if (r == 1)
    {
      mix_into (self, t, out, n);
      ss_lock (&self->seg_lock);
      if (self->tap != NULL)
        self->tap (t, out, n, self->tap_data);
      ss_unlock (&self->seg_lock);
      return;
    }
  /* Fast forward: render r times as much and average each group of r frames. */
  gsize need = n * (gsize) r * 2;
  if (self->render_scratch_len < need)
    {
      g_free (self->render_scratch);
      self->render_scratch = g_new (float, need);
      self->render_scratch_len = need;
    }
  mix_into (self, t, self->render_scratch, n * (gsize) r);
  for (gsize i = 0; i < n; i++)
    {
      float l = 0, rr = 0;
      for (int k = 0; k < r; k++)
        {
          l += self->render_scratch[(i * r + k) * 2];
          rr += self->render_scratch[(i * r + k) * 2 + 1];
        }
      out[i * 2] = l / r;
      out[i * 2 + 1] = rr / r;
    }
}

static void
ensure_engine (SsTransport *self)
{
  if (self->engine != NULL)
    return;
  self->engine = self->null_audio ? ss_audio_engine_new_null (transport_render, self)
                                  : ss_audio_engine_new (transport_render, self);
  if (self->latency > 0)
    ss_audio_engine_set_latency (self->engine, self->latency);
}

/* ---- position ---- */

static SsTime
live_position (SsTransport *self)
{
  if (!self->playing)
    return self->position;
  SsTime pos;
  if (self->rate > 0)
    {
      gint64 clock = ss_audio_engine_get_clock (self->engine);
      ss_lock (&self->seg_lock);
      pos = self->seg_time0 + (clock - self->seg_frame0) * self->seg_rate * SS_TIME_SECOND / SS_MIX_RATE;
      pos = MAX (pos, self->seg_time0);
      ss_unlock (&self->seg_lock);
    }
  else
    {
      gint64 el = g_get_monotonic_time () - self->seg_mono0;
      pos = self->seg_time0 + (SsTime) (el * self->rate);
      pos = MAX (pos, 0);
    }
  return pos;
}

static void
start_segment (SsTransport *self, SsTime t)
{
  if (self->rate > 0)
    {
      ensure_engine (self);
      /* Hold seg_lock across the flush: a render that started before it is
       * dropped by the engine, one that starts after sees the new segment. */
      ss_lock (&self->seg_lock);
      self->seg_frame0 = ss_audio_engine_flush (self->engine);
      self->seg_time0 = t;
      self->seg_sample0 = (t * SS_MIX_RATE + SS_TIME_SECOND / 2) / SS_TIME_SECOND;
      self->seg_rate = (int) self->rate;
      ss_unlock (&self->seg_lock);
      if (!ss_audio_engine_is_running (self->engine))
        {
          if (self->latency_pending)
            {
              ss_audio_engine_set_latency (self->engine, self->latency);
              self->latency_pending = FALSE;
            }
          ss_audio_engine_start (self->engine);
        }
      set_prefetch (self, 1, (int) self->rate);
    }
  else
    {
      if (self->engine != NULL && ss_audio_engine_is_running (self->engine))
        ss_audio_engine_stop (self->engine);
      ss_lock (&self->seg_lock);
      self->seg_rate = 0;
      self->seg_time0 = t;
      self->seg_mono0 = g_get_monotonic_time ();
      ss_unlock (&self->seg_lock);
      set_prefetch (self, -1, (int) -self->rate);
    }
}

static void stop_playing (SsTransport *self, SsTime at);

static gboolean
tick_cb (gpointer data)
{
  SsTransport *self = data;
  SsTime pos = live_position (self);

  if (self->rate > 0 && self->duration > 0 && pos >= self->duration)
    {
      stop_playing (self, self->duration);
      return G_SOURCE_REMOVE;
    }
  if (self->rate < 0 && pos <= 0)
    {
      stop_playing (self, 0);
      return G_SOURCE_REMOVE;
    }
  request_frame (self, ss_transport_time_to_frame (self, pos));

  gint64 now = g_get_monotonic_time ();
  if (now - self->last_notify >= NOTIFY_US)
    {
      self->last_notify = now;
      g_object_notify_by_pspec (G_OBJECT (self), props[PROP_POSITION]);
    }
  return G_SOURCE_CONTINUE;
}

static void
stop_playing (SsTransport *self, SsTime at)
{
  g_clear_handle_id (&self->tick_id, g_source_remove);
  if (self->engine != NULL)
    ss_audio_engine_stop (self->engine);
  ss_lock (&self->seg_lock);
  self->seg_rate = 0;
  ss_unlock (&self->seg_lock);
  set_prefetch (self, 0, 1);

  gboolean was_playing = self->playing;
  self->playing = FALSE;
  self->rate = 0;
  self->position = at;
  request_frame (self, ss_transport_time_to_frame (self, at));

  g_object_freeze_notify (G_OBJECT (self));
  if (was_playing)
    {
      g_object_notify_by_pspec (G_OBJECT (self), props[PROP_PLAYING]);
      g_object_notify_by_pspec (G_OBJECT (self), props[PROP_RATE]);
    }
  g_object_notify_by_pspec (G_OBJECT (self), props[PROP_POSITION]);
  g_object_thaw_notify (G_OBJECT (self));
}

static void
play_at_rate (SsTransport *self, double rate)
{
  SsTime pos = live_position (self);
  gboolean was_playing = self->playing;
  double old_rate = self->rate;

  if (rate > 0 && self->duration > 0 && pos >= self->duration)
    pos = 0;   /* at the end: play from the start */
  if (rate < 0 && pos <= 0)
    return;

  self->rate = rate;
  self->playing = TRUE;
  self->position = pos;
  g_clear_handle_id (&self->scrub_id, g_source_remove);
  start_segment (self, pos);
  if (self->tick_id == 0)
    self->tick_id = g_timeout_add (TICK_MS, tick_cb, self);

  g_object_freeze_notify (G_OBJECT (self));
  if (!was_playing)
    g_object_notify_by_pspec (G_OBJECT (self), props[PROP_PLAYING]);
  if (old_rate != rate)
    g_object_notify_by_pspec (G_OBJECT (self), props[PROP_RATE]);
  g_object_notify_by_pspec (G_OBJECT (self), props[PROP_POSITION]);
  g_object_thaw_notify (G_OBJECT (self));
}

/* ---- project ---- */

static void
take_snapshot (SsTransport *self)
{
  SsProject *snap = self->project ? ss_project_snapshot (self->project) : NULL;

  g_clear_object (&self->snapshot);
  self->snapshot = snap;
  self->snapshot_revision = self->project ? ss_project_get_revision (self->project) : 0;
  self->duration = snap ? ss_project_get_duration (snap) : 0;
  self->fps_num = 25;
  self->fps_den = 1;
  self->has_video = FALSE;
  if (snap != NULL)
    {
      ss_project_get_fps (snap, &self->fps_num, &self->fps_den);
      if (self->fps_num <= 0 || self->fps_den <= 0)
        { self->fps_num = 25; self->fps_den = 1; }
      const SsTrack *vt = video_track (snap);
      for (guint i = 0; vt && vt->clips && i < vt->clips->len && !self->has_video; i++)
        {
          const SsClip *c = g_ptr_array_index (vt->clips, i);
          const SsTake *take = ss_clip_get_active_take (c);
          const SsMedia *m = take ? ss_project_find_media (snap, take->media_id) : NULL;
          self->has_video = m != NULL && m->has_video;
        }
    }

  /* Audio: new snapshot to the mixer, and drop what was rendered ahead with the
   * old one so the change is heard at once (the segment mapping stays). */
  if (snap != NULL)
    {
      ss_mixer_set_project (self->mixer, snap);
      g_atomic_int_set (&self->mixer_ready, TRUE);
    }
  else
    g_atomic_int_set (&self->mixer_ready, FALSE);
  if (self->engine != NULL && self->playing && self->rate > 0)
    {
      ss_lock (&self->seg_lock);
      ss_audio_engine_flush (self->engine);
      ss_unlock (&self->seg_lock);
    }

  /* Video: new snapshot to the worker; redecode the current frame. */
  SsTime pos = live_position (self);
  ss_lock (&self->vlock);
  g_clear_object (&self->vsnap);
  self->vsnap = snap ? g_object_ref (snap) : NULL;
  self->vserial++;
  self->vfps_num = self->fps_num;
  self->vfps_den = self->fps_den;
  cache_clear (self);
  self->req_index = grid_time_to_frame (self->fps_num, self->fps_den, pos);
  self->req_pending = TRUE;
  ss_cond_signal (&self->vcond);
  ss_unlock (&self->vlock);
}

static void
project_changed_cb (SsProject *project, SsTransport *self)
{
  take_snapshot (self);
  if (!self->playing && self->duration > 0 && self->position > self->duration)
    ss_transport_seek (self, self->duration);
}

void
ss_transport_set_project (SsTransport *self, SsProject *project)
{
  g_return_if_fail (SS_IS_TRANSPORT (self));
  g_return_if_fail (project == NULL || SS_IS_PROJECT (project));

  if (self->project == project)
    return;
  if (self->playing)
    stop_playing (self, 0);
  if (self->project != NULL)
    {
      g_clear_signal_handler (&self->changed_id, self->project);
      g_clear_object (&self->project);
    }
  if (project != NULL)
    {
      self->project = g_object_ref (project);
      self->changed_id = g_signal_connect (project, "changed", G_CALLBACK (project_changed_cb), self);
    }
  self->position = 0;
  ss_lock (&self->vlock);
  g_clear_pointer (&self->cur_frame, ss_frame_unref);
  self->shown_index = NO_FRAME;
  ss_unlock (&self->vlock);
  take_snapshot (self);
  g_object_notify_by_pspec (G_OBJECT (self), props[PROP_POSITION]);
  g_signal_emit (self, signals[SIGNAL_FRAME_CHANGED], 0);
}

SsProject *
ss_transport_get_project (SsTransport *self)
{
  g_return_val_if_fail (SS_IS_TRANSPORT (self), NULL);
  return self->project;
}

/* ---- public transport ---- */

void
ss_transport_play (SsTransport *self)
{
  g_return_if_fail (SS_IS_TRANSPORT (self));
  if (self->playing && self->rate == 1.0)
    return;
  play_at_rate (self, 1.0);
}

void
ss_transport_pause (SsTransport *self)
{
  g_return_if_fail (SS_IS_TRANSPORT (self));
  if (!self->playing)
    return;
  stop_playing (self, live_position (self));
}

void
ss_transport_toggle (SsTransport *self)
{
  g_return_if_fail (SS_IS_TRANSPORT (self));
  if (self->playing)
    ss_transport_pause (self);
  else
    ss_transport_play (self);
}

void
ss_transport_shuttle (SsTransport *self, int dir)
{
  g_return_if_fail (SS_IS_TRANSPORT (self));
  if (dir == 0)
    {
      ss_transport_pause (self);
      return;
    }
  double rate;
  if (dir > 0)
    rate = (self->playing && self->rate > 0) ? MIN (self->rate * 2, SS_TRANSPORT_MAX_RATE) : 1.0;
  else
    rate = (self->playing && self->rate < 0) ? MAX (self->rate * 2, -SS_TRANSPORT_MAX_RATE) : -1.0;
  if (self->playing && rate == self->rate)
    return;
  play_at_rate (self, rate);
}

void
ss_transport_step (SsTransport *self, int frames)
{
  g_return_if_fail (SS_IS_TRANSPORT (self));
  SsTime pos = live_position (self);
  gint64 idx = ss_transport_time_to_frame (self, pos) + frames;
  idx = MAX (idx, 0);
  if (self->duration > 0)
    idx = MIN (idx, ss_transport_time_to_frame (self, self->duration - 1));
  SsTime t = ss_transport_frame_to_time (self, idx);
  if (self->playing)
    stop_playing (self, t);
  else
    {
      self->position = t;
      request_frame (self, idx);
      g_object_notify_by_pspec (G_OBJECT (self), props[PROP_POSITION]);
    }
}

void
ss_transport_seek (SsTransport *self, SsTime t)
{
  g_return_if_fail (SS_IS_TRANSPORT (self));
  t = MAX (t, 0);
  if (self->duration > 0)
    t = MIN (t, self->duration);
  if (self->playing)
    {
      self->position = t;
      start_segment (self, t);
    }
  else
    self->position = t;
  request_frame (self, ss_transport_time_to_frame (self, t));
  g_object_notify_by_pspec (G_OBJECT (self), props[PROP_POSITION]);
}

#define SCRUB_MS 90

static gboolean
scrub_end_cb (gpointer data)
{
  SsTransport *self = data;
  self->scrub_id = 0;
  if (!self->playing && self->engine != NULL)
    {
      ss_audio_engine_stop (self->engine);
      ss_lock (&self->seg_lock);
      self->seg_rate = 0;
      ss_unlock (&self->seg_lock);
    }
  return G_SOURCE_REMOVE;
}

void
ss_transport_scrub (SsTransport *self, SsTime t)
{
  g_return_if_fail (SS_IS_TRANSPORT (self));
  ss_transport_seek (self, t);
  if (self->playing)
    return;
  /* A short burst at the new position, as if playing at 1x, without moving. */
  double rate = self->rate;
  self->rate = 1.0;
  start_segment (self, self->position);
  self->rate = rate;
  set_prefetch (self, 0, 1);
  g_clear_handle_id (&self->scrub_id, g_source_remove);
  self->scrub_id = g_timeout_add (SCRUB_MS, scrub_end_cb, self);
}

gboolean
ss_transport_get_playing (SsTransport *self)
{
  g_return_val_if_fail (SS_IS_TRANSPORT (self), FALSE);
  return self->playing;
}

double
ss_transport_get_rate (SsTransport *self)
{
  g_return_val_if_fail (SS_IS_TRANSPORT (self), 0.0);
  return self->playing ? self->rate : 0.0;
}

SsTime
ss_transport_get_position (SsTransport *self)
{
  g_return_val_if_fail (SS_IS_TRANSPORT (self), 0);
  return live_position (self);
}

SsFrame *
ss_transport_dup_frame (SsTransport *self)
{
  g_return_val_if_fail (SS_IS_TRANSPORT (self), NULL);
  ss_lock (&self->vlock);
  SsFrame *f = self->cur_frame ? ss_frame_ref (self->cur_frame) : NULL;
  ss_unlock (&self->vlock);
  return f;
}

gboolean
ss_transport_has_video (SsTransport *self)
{
  g_return_val_if_fail (SS_IS_TRANSPORT (self), FALSE);
  return self->has_video;
}

void
ss_transport_set_latency (SsTransport *self, double seconds)
{
  g_return_if_fail (SS_IS_TRANSPORT (self));
  g_return_if_fail (seconds > 0.0 && seconds < 2.0);
  self->latency = seconds;
  if (self->engine != NULL && !self->playing)
    ss_audio_engine_set_latency (self->engine, seconds);
  else
    self->latency_pending = self->engine != NULL;   /* applied at the next play */
}

void
ss_transport_set_null_audio (SsTransport *self, gboolean null_audio)
{
  g_return_if_fail (SS_IS_TRANSPORT (self));
  if (self->null_audio == !!null_audio)
    return;
  self->null_audio = !!null_audio;
  if (self->engine != NULL && !self->playing)
    g_clear_pointer (&self->engine, ss_audio_engine_free);
}

/* ---- private ---- */

gboolean
ss_transport_render_at (SsTransport *self, SsTime t, float *out, gsize n_frames)
{
  g_return_val_if_fail (SS_IS_TRANSPORT (self), FALSE);
  if (!g_atomic_int_get (&self->mixer_ready))
    return FALSE;
  g_autoptr(GError) error = NULL;
  if (!ss_mixer_render (self->mixer, t, out, n_frames, NULL, &error))
    {
      g_warning ("%s", error ? error->message : "render failed");
      return FALSE;
    }
  return TRUE;
}

void
ss_transport_set_tap (SsTransport *self, SsTransportTap tap, gpointer user_data)
{
  g_return_if_fail (SS_IS_TRANSPORT (self));
  ss_lock (&self->seg_lock);
  self->tap = tap;
  self->tap_data = user_data;
  ss_unlock (&self->seg_lock);
}

SsAudioEngine *
ss_transport_get_engine (SsTransport *self)
{
  g_return_val_if_fail (SS_IS_TRANSPORT (self), NULL);
  return self->engine;
}

guint64
ss_transport_get_snapshot_revision (SsTransport *self)
{
  g_return_val_if_fail (SS_IS_TRANSPORT (self), 0);
  return self->snapshot_revision;
}

/* ---- GObject ---- */

static void
ss_transport_dispose (GObject *object)
{
  SsTransport *self = SS_TRANSPORT (object);

  g_clear_handle_id (&self->tick_id, g_source_remove);
  g_clear_handle_id (&self->scrub_id, g_source_remove);
  if (self->video_thread != NULL)
    {
      ss_lock (&self->vlock);
      self->vquit = TRUE;
      ss_cond_signal (&self->vcond);
      ss_unlock (&self->vlock);
      g_thread_join (self->video_thread);
      self->video_thread = NULL;
    }
  g_clear_pointer (&self->engine, ss_audio_engine_free);
  if (self->project != NULL)
    {
      g_clear_signal_handler (&self->changed_id, self->project);
      g_clear_object (&self->project);
    }
  G_OBJECT_CLASS (ss_transport_parent_class)->dispose (object);
}

static void
ss_transport_finalize (GObject *object)
{
  SsTransport *self = SS_TRANSPORT (object);

  g_clear_pointer (&self->mixer, ss_mixer_free);
  g_clear_object (&self->snapshot);
  g_clear_object (&self->vsnap);
  g_clear_pointer (&self->cur_frame, ss_frame_unref);
  cache_clear (self);
  g_array_unref (self->cache);
  g_free (self->render_scratch);
  ss_lock_clear (&self->seg_lock);
  ss_lock_clear (&self->vlock);
  ss_cond_clear (&self->vcond);
  g_main_context_unref (self->main_context);
  G_OBJECT_CLASS (ss_transport_parent_class)->finalize (object);
}

static void
ss_transport_get_property (GObject *object, guint prop_id, GValue *value, GParamSpec *pspec)
{
  SsTransport *self = SS_TRANSPORT (object);
  switch (prop_id)
    {
    case PROP_PLAYING:  g_value_set_boolean (value, ss_transport_get_playing (self)); break;
    case PROP_RATE:     g_value_set_double (value, ss_transport_get_rate (self)); break;
    case PROP_POSITION: g_value_set_int64 (value, ss_transport_get_position (self)); break;
    default: G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
ss_transport_class_init (SsTransportClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  object_class->dispose = ss_transport_dispose;
  object_class->finalize = ss_transport_finalize;
  object_class->get_property = ss_transport_get_property;

  props[PROP_PLAYING] = g_param_spec_boolean ("playing", NULL, NULL, FALSE,
                                              G_PARAM_READABLE | G_PARAM_STATIC_STRINGS | G_PARAM_EXPLICIT_NOTIFY);
  props[PROP_RATE] = g_param_spec_double ("rate", NULL, NULL, -SS_TRANSPORT_MAX_RATE, SS_TRANSPORT_MAX_RATE, 0,
                                          G_PARAM_READABLE | G_PARAM_STATIC_STRINGS | G_PARAM_EXPLICIT_NOTIFY);
  props[PROP_POSITION] = g_param_spec_int64 ("position", NULL, NULL, 0, G_MAXINT64, 0,
                                             G_PARAM_READABLE | G_PARAM_STATIC_STRINGS | G_PARAM_EXPLICIT_NOTIFY);
  g_object_class_install_properties (object_class, N_PROPS, props);

  signals[SIGNAL_FRAME_CHANGED] = g_signal_new ("frame-changed", G_TYPE_FROM_CLASS (klass),
                                                G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL,
                                                G_TYPE_NONE, 0);
}

static void
ss_transport_init (SsTransport *self)
{
  self->fps_num = 25;
  self->fps_den = 1;
  self->vfps_num = 25;
  self->vfps_den = 1;
  self->mixer = ss_mixer_new ();
  self->shown_index = NO_FRAME;
  self->req_index = NO_FRAME;
  self->prefetch_stride = 1;
  self->cache = g_array_new (FALSE, FALSE, sizeof (CachedFrame));
  self->main_context = g_main_context_ref_thread_default ();
  ss_lock_init (&self->seg_lock);
  ss_lock_init (&self->vlock);
  ss_cond_init (&self->vcond);
  self->video_thread = g_thread_new ("ss-video-decode", video_worker, self);
}

SsTransport *
ss_transport_new (void)
{
  return g_object_new (SS_TYPE_TRANSPORT, NULL);
}
