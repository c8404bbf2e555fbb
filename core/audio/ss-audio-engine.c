/* ss-audio-engine.c: PortAudio output, a null sink, and the playback clock. */
#define G_LOG_DOMAIN "ss-audio-engine"

#include "ss-audio-engine.h"

#include <fcntl.h>
#include <portaudio.h>
#include <stdio.h>
#include <string.h>

#include "ss-audio-lock.h"
#include <unistd.h>

#define RING_FRAMES   32768            /* power of two, ~0.68 s */
#define RING_MASK     (RING_FRAMES - 1)
#define CHUNK_FRAMES  512
#define TICK_US       (4 * 1000)       /* feeder / null sink wake-up period */

struct _SsAudioEngine {
  SsAudioRenderFunc func;
  gpointer          user_data;

  gboolean  null_sink;
  char     *device_name;
  double    latency;          /* asked for */
  double    device_latency;   /* reported by the stream */
  PaStream *stream;

  /* Everything below is protected by @lock (held only for copies). */
  SsLock  lock;
  SsCond  cond;
  float  *ring;               /* RING_FRAMES stereo frames */
  gint64  read_pos;           /* stream frames handed to the device */
  gint64  write_pos;          /* stream frames rendered */
  guint   generation;         /* bumped by flush: renders in flight are dropped */
  gboolean running;
  gboolean prerolling;        /* start() waits for the first audio */
  gboolean quit;
  guint   underruns;

  /* Clock anchor from the last device callback. */
  gboolean cb_valid;
  gint64   cb_frame;          /* stream frame of the first sample of that buffer */
  double   cb_dac_time;       /* its DAC time (PortAudio stream time) */
  gint64   cb_mono;           /* monotonic time of the callback */
  gint64   run_start_frame;
  gint64   last_clock;

  /* Null sink anchor. */
  gint64   null_start_mono;
  gint64   null_start_frame;

  GThread *feeder;
  float   *scratch;           /* feeder-only */
};

/* ---- PortAudio setup (process-wide, reference counted) ---- */

static GMutex pa_lock;
static int    pa_users;
static gboolean pa_ok;

/* PortAudio and ALSA print probing noise on stderr ("ALSA lib pcm.c: unknown
 * PCM ..."); silence it while they probe unless SOUNDSTAGE_AUDIO_DEBUG is set. */
static int
quiet_stderr_begin (void)
{
  if (g_getenv ("SOUNDSTAGE_AUDIO_DEBUG") != NULL)
    return -1;
  fflush (stderr);
  int saved = dup (STDERR_FILENO);
  if (saved < 0)
    return -1;
  int devnull = open ("/dev/null", O_WRONLY | O_CLOEXEC);
  if (devnull >= 0)
    {
      dup2 (devnull, STDERR_FILENO);
      close (devnull);
    }
  return saved;
}

static void
quiet_stderr_end (int saved)
{
  if (saved < 0)
    return;
  fflush (stderr);
  dup2 (saved, STDERR_FILENO);
  close (saved);
}

static gboolean
pa_acquire (void)
{
  g_mutex_lock (&pa_lock);
  if (pa_users++ == 0)
    {
      int q = quiet_stderr_begin ();
      PaError err = Pa_Initialize ();
      quiet_stderr_end (q);
      pa_ok = (err == paNoError);
      if (!pa_ok)
        g_info ("PortAudio could not start (%s); using the null output", Pa_GetErrorText (err));
    }
  gboolean ok = pa_ok;
  g_mutex_unlock (&pa_lock);
  return ok;
}

static void
pa_release (void)
{
  g_mutex_lock (&pa_lock);
  if (--pa_users == 0 && pa_ok)
    {
      int q = quiet_stderr_begin ();
      Pa_Terminate ();
      quiet_stderr_end (q);
      pa_ok = FALSE;
    }
  g_mutex_unlock (&pa_lock);
}

/* ---- ring helpers (lock held) ---- */

static void
ring_read (SsAudioEngine *self, gint64 pos, float *out, gsize n)
{
  gsize idx = (gsize) (pos & RING_MASK);
  gsize first = MIN (n, (gsize) RING_FRAMES - idx);
  memcpy (out, self->ring + idx * 2, first * 2 * sizeof (float));
  if (first < n)
    memcpy (out + first * 2, self->ring, (n - first) * 2 * sizeof (float));
}

static void
ring_write (SsAudioEngine *self, gint64 pos, const float *in, gsize n)
{
  gsize idx = (gsize) (pos & RING_MASK);
  gsize first = MIN (n, (gsize) RING_FRAMES - idx);
  memcpy (self->ring + idx * 2, in, first * 2 * sizeof (float));
  if (first < n)
    memcpy (self->ring, in + first * 2, (n - first) * 2 * sizeof (float));
}

static gint64
ahead_frames (SsAudioEngine *self)
{
  double s = CLAMP (self->latency * 2.0 + 0.05, 0.1, 0.5);
  gint64 n = (gint64) (s * SS_MIX_RATE);
  return MIN (n, RING_FRAMES - CHUNK_FRAMES);
}

/* Null sink: the device "plays" exactly at the monotonic clock's rate. */
static gint64
null_clock_locked (SsAudioEngine *self, gint64 now)
{
  return self->null_start_frame
         + (now - self->null_start_mono) * SS_MIX_RATE / G_USEC_PER_SEC;
}

static void
null_advance_locked (SsAudioEngine *self)
{
  if (!self->null_sink || !self->running || self->prerolling)
    return;
  gint64 played = null_clock_locked (self, g_get_monotonic_time ());
  if (played > self->read_pos)
    {
      if (played > self->write_pos && self->write_pos > self->run_start_frame)
        self->underruns++;
      self->read_pos = played;
    }
}

/* ---- threads ---- */

static gpointer
feeder_main (gpointer data)
{
  SsAudioEngine *self = data;

  ss_lock (&self->lock);
  while (!self->quit)
    {
      null_advance_locked (self);
      if (self->write_pos < self->read_pos)
        self->write_pos = self->read_pos;   /* fell behind: skip what was missed */

      gint64 ahead = ahead_frames (self);
      gint64 buffered = self->write_pos - self->read_pos;
      if (!self->running || buffered >= ahead)
        {
          ss_cond_wait_until (&self->cond, &self->lock, g_get_monotonic_time () + TICK_US);
          continue;
        }

      gint64 pos = self->write_pos;
      guint gen = self->generation;
      gsize n = (gsize) MIN ((gint64) CHUNK_FRAMES, ahead - buffered);
      ss_unlock (&self->lock);

      self->func (pos, self->scratch, n, self->user_data);

      ss_lock (&self->lock);
      if (gen == self->generation && pos == self->write_pos)
        {
          gint64 skip = MAX ((gint64) 0, self->read_pos - pos);
          if (skip < (gint64) n)
            ring_write (self, pos + skip, self->scratch + skip * 2, n - (gsize) skip);
          self->write_pos = pos + (gint64) n;
          ss_cond_broadcast (&self->cond);
        }
    }
  ss_unlock (&self->lock);
  return NULL;
}

/* Real-time thread: copies from the ring; never allocates, holds the lock only
 * for the copy. */
static int
pa_callback (const void *input, void *output, unsigned long frames,
             const PaStreamCallbackTimeInfo *time_info, PaStreamCallbackFlags flags,
             void *user_data)
{
  SsAudioEngine *self = user_data;
  float *out = output;
  gsize n = 0;

  ss_lock (&self->lock);
  gint64 avail = self->write_pos - self->read_pos;
  if (avail > 0)
    {
      n = (gsize) MIN ((gint64) frames, avail);
      ring_read (self, self->read_pos, out, n);
    }
  self->cb_frame = self->read_pos;
  self->cb_dac_time = time_info ? time_info->outputBufferDacTime : 0.0;
  self->cb_mono = g_get_monotonic_time ();
  self->cb_valid = TRUE;
  self->read_pos += (gint64) n;
  if (n < frames && self->running)
    self->underruns++;
  ss_unlock (&self->lock);

  if (n < frames)
    memset (out + n * 2, 0, (frames - n) * 2 * sizeof (float));
  return paContinue;
}

/* ---- device ---- */

static gboolean
open_device (SsAudioEngine *self)
{
  if (!pa_ok)
    return FALSE;

  int q = quiet_stderr_begin ();
  PaError err = paNoError;
  PaDeviceIndex dev = Pa_GetDefaultOutputDevice ();
  if (dev == paNoDevice)
    err = paDeviceUnavailable;
  else
    {
      const PaDeviceInfo *info = Pa_GetDeviceInfo (dev);
      PaStreamParameters params = {
        .device = dev,
        .channelCount = 2,
        .sampleFormat = paFloat32,
        .suggestedLatency = self->latency > 0 ? self->latency
                                              : (info ? info->defaultLowOutputLatency : 0.05),
        .hostApiSpecificStreamInfo = NULL,
      };
      err = Pa_OpenStream (&self->stream, NULL, &params, SS_MIX_RATE,
                           paFramesPerBufferUnspecified, paNoFlag, pa_callback, self);
      if (err != paNoError)
        err = Pa_OpenDefaultStream (&self->stream, 0, 2, paFloat32, SS_MIX_RATE,
                                    paFramesPerBufferUnspecified, pa_callback, self);
      if (err == paNoError)
        {
          g_free (self->device_name);
          self->device_name = g_strdup (info && info->name ? info->name : "Default output");
        }
    }
  quiet_stderr_end (q);

  if (err != paNoError)
    {
      self->stream = NULL;
      g_info ("No audio output could be opened (%s); playing to the null output",
              Pa_GetErrorText (err));
      return FALSE;
    }
  const PaStreamInfo *sinfo = Pa_GetStreamInfo (self->stream);
  self->device_latency = sinfo ? sinfo->outputLatency : self->latency;
  return TRUE;
}

static void
close_device (SsAudioEngine *self)
{
  if (self->stream == NULL)
    return;
  int q = quiet_stderr_begin ();
  Pa_AbortStream (self->stream);
  Pa_CloseStream (self->stream);
  quiet_stderr_end (q);
  self->stream = NULL;
}

static void
become_null_sink (SsAudioEngine *self)
{
  self->null_sink = TRUE;
  g_free (self->device_name);
  self->device_name = g_strdup ("Null output");
}

static SsAudioEngine *
engine_new (SsAudioRenderFunc func, gpointer user_data, gboolean force_null)
{
  g_return_val_if_fail (func != NULL, NULL);

  SsAudioEngine *self = g_new0 (SsAudioEngine, 1);
  self->func = func;
  self->user_data = user_data;
  self->latency = 0.05;
  self->ring = g_new0 (float, RING_FRAMES * 2);
  self->scratch = g_new0 (float, CHUNK_FRAMES * 2);
  ss_lock_init (&self->lock);
  ss_cond_init (&self->cond);

  const char *env = g_getenv ("SOUNDSTAGE_AUDIO");
  if (env != NULL && g_ascii_strcasecmp (env, "null") == 0)
    force_null = TRUE;

  if (force_null)
    become_null_sink (self);
  else
    {
      pa_acquire ();
      if (!open_device (self))
        {
          pa_release ();
          become_null_sink (self);
        }
    }

  self->feeder = g_thread_new ("ss-audio-feeder", feeder_main, self);
  return self;
}

SsAudioEngine *
ss_audio_engine_new (SsAudioRenderFunc func, gpointer user_data)
{
  return engine_new (func, user_data, FALSE);
}

SsAudioEngine *
ss_audio_engine_new_null (SsAudioRenderFunc func, gpointer user_data)
{
  return engine_new (func, user_data, TRUE);
}

void
ss_audio_engine_free (SsAudioEngine *self)
{
  if (self == NULL)
    return;
  ss_audio_engine_stop (self);
  ss_lock (&self->lock);
  self->quit = TRUE;
  ss_cond_broadcast (&self->cond);
  ss_unlock (&self->lock);
  g_thread_join (self->feeder);
  if (!self->null_sink)
    {
      close_device (self);
      pa_release ();
    }
  ss_lock_clear (&self->lock);
  ss_cond_clear (&self->cond);
  g_free (self->ring);
  g_free (self->scratch);
  g_free (self->device_name);
  g_free (self);
}

gboolean
ss_audio_engine_is_null_sink (SsAudioEngine *self)
{
  g_return_val_if_fail (self != NULL, TRUE);
  return self->null_sink;
}

const char *
ss_audio_engine_get_device_name (SsAudioEngine *self)
{
  g_return_val_if_fail (self != NULL, NULL);
  return self->device_name;
}

double
ss_audio_engine_get_latency (SsAudioEngine *self)
{
  g_return_val_if_fail (self != NULL, 0.0);
  return self->null_sink ? self->latency : self->device_latency;
}

void
ss_audio_engine_set_latency (SsAudioEngine *self, double seconds)
{
  g_return_if_fail (self != NULL);
  g_return_if_fail (seconds > 0.0 && seconds < 2.0);

  gboolean was_running = ss_audio_engine_is_running (self);
  if (was_running)
    ss_audio_engine_stop (self);
  ss_lock (&self->lock);
  self->latency = seconds;
  ss_unlock (&self->lock);
  if (!self->null_sink)
    {
      close_device (self);
      if (!open_device (self))
        {
          pa_release ();
          become_null_sink (self);
        }
    }
  if (was_running)
    ss_audio_engine_start (self);
}

gboolean
ss_audio_engine_is_running (SsAudioEngine *self)
{
  g_return_val_if_fail (self != NULL, FALSE);
  ss_lock (&self->lock);
  gboolean r = self->running;
  ss_unlock (&self->lock);
  return r;
}

void
ss_audio_engine_start (SsAudioEngine *self)
{
  g_return_if_fail (self != NULL);

  ss_lock (&self->lock);
  if (self->running)
    {
      ss_unlock (&self->lock);
      return;
    }
  self->running = TRUE;
  self->cb_valid = FALSE;
  self->run_start_frame = self->read_pos;
  self->last_clock = self->read_pos;
  self->null_start_mono = g_get_monotonic_time ();
  self->null_start_frame = self->read_pos;
  self->prerolling = TRUE;
  ss_cond_broadcast (&self->cond);

  /* Let the feeder render a little before the output asks, so playback does not
   * begin with an underrun (the null sink's clock starts after this too). */
  gint64 want = MIN (ahead_frames (self), (gint64) 4 * CHUNK_FRAMES);
  gint64 deadline = g_get_monotonic_time () + 80 * 1000;   /* never hold the UI long */
  while (self->write_pos - self->read_pos < want)
    if (!ss_cond_wait_until (&self->cond, &self->lock, deadline))
      break;
  self->prerolling = FALSE;
  self->null_start_mono = g_get_monotonic_time ();
  ss_unlock (&self->lock);

  if (!self->null_sink)
    {
      int q = quiet_stderr_begin ();
      PaError err = Pa_StartStream (self->stream);
      quiet_stderr_end (q);
      if (err != paNoError)
        {
          g_warning ("The audio output could not start (%s); playing silently",
                     Pa_GetErrorText (err));
          close_device (self);
          pa_release ();
          ss_lock (&self->lock);
          become_null_sink (self);
          self->null_start_mono = g_get_monotonic_time ();
          self->null_start_frame = self->read_pos;
          ss_unlock (&self->lock);
        }
    }
}

void
ss_audio_engine_stop (SsAudioEngine *self)
{
  g_return_if_fail (self != NULL);

  if (!self->null_sink && self->stream != NULL && Pa_IsStreamActive (self->stream) == 1)
    {
      /* Outside our lock: the callback takes it and Abort waits for the callback. */
      int q = quiet_stderr_begin ();
      Pa_AbortStream (self->stream);
      quiet_stderr_end (q);
    }

  ss_lock (&self->lock);
  null_advance_locked (self);
  self->running = FALSE;
  self->cb_valid = FALSE;
  self->write_pos = self->read_pos;
  self->generation++;
  ss_cond_broadcast (&self->cond);
  ss_unlock (&self->lock);
}

gint64
ss_audio_engine_flush (SsAudioEngine *self)
{
  g_return_val_if_fail (self != NULL, 0);

  ss_lock (&self->lock);
  null_advance_locked (self);
  self->write_pos = self->read_pos;
  self->generation++;
  gint64 pos = self->write_pos;
  ss_cond_broadcast (&self->cond);
  ss_unlock (&self->lock);
  return pos;
}

gint64
ss_audio_engine_get_clock (SsAudioEngine *self)
{
  g_return_val_if_fail (self != NULL, 0);

  ss_lock (&self->lock);
  gint64 clock;
  if (!self->running)
    clock = self->read_pos;
  else if (self->null_sink)
    clock = self->prerolling ? self->null_start_frame
                             : null_clock_locked (self, g_get_monotonic_time ());
  else
    {
      if (!self->cb_valid)
        clock = self->run_start_frame;
      else
        {
          double now = self->stream ? Pa_GetStreamTime (self->stream) : 0.0;
          double frames;
          if (self->cb_dac_time > 0.0 && now > 0.0)
            frames = (now - self->cb_dac_time) * SS_MIX_RATE;
          else   /* host gives no DAC times: estimate from the reported latency */
            frames = ((double) (g_get_monotonic_time () - self->cb_mono) / G_USEC_PER_SEC
                      - self->device_latency) * SS_MIX_RATE;
          clock = self->cb_frame + (gint64) frames;
        }
      /* Never ahead of what the device has taken, never backwards. */
      clock = MIN (clock, self->read_pos);
      clock = MAX (clock, self->last_clock);
      self->last_clock = clock;
    }
  ss_unlock (&self->lock);
  return clock;
}

guint
ss_audio_engine_get_underruns (SsAudioEngine *self)
{
  g_return_val_if_fail (self != NULL, 0);
  ss_lock (&self->lock);
  guint n = self->underruns;
  ss_unlock (&self->lock);
  return n;
}
