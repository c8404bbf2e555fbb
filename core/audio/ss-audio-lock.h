/* ss-audio-lock.h: mutex and condition for the audio and video threads.
 *
 * Plain pthread objects rather than GMutex/GCond: on Linux those are bare futexes
 * that thread sanitizers cannot see, and these locks are exactly what a sanitizer
 * run should check. Waits use CLOCK_MONOTONIC, the clock of g_get_monotonic_time(). */
#pragma once

#include <glib.h>
#include <errno.h>
#include <pthread.h>
#include <time.h>

typedef struct { pthread_mutex_t m; } SsLock;
typedef struct { pthread_cond_t c; } SsCond;

static inline void ss_lock_init   (SsLock *l) { pthread_mutex_init (&l->m, NULL); }
static inline void ss_lock_clear  (SsLock *l) { pthread_mutex_destroy (&l->m); }
static inline void ss_lock        (SsLock *l) { pthread_mutex_lock (&l->m); }
static inline void ss_unlock      (SsLock *l) { pthread_mutex_unlock (&l->m); }

static inline void
ss_cond_init (SsCond *c)
{
  pthread_condattr_t attr;
  pthread_condattr_init (&attr);
  pthread_condattr_setclock (&attr, CLOCK_MONOTONIC);
  pthread_cond_init (&c->c, &attr);
  pthread_condattr_destroy (&attr);
}

static inline void ss_cond_clear     (SsCond *c) { pthread_cond_destroy (&c->c); }
static inline void ss_cond_signal    (SsCond *c) { pthread_cond_signal (&c->c); }
static inline void ss_cond_broadcast (SsCond *c) { pthread_cond_broadcast (&c->c); }
static inline void ss_cond_wait      (SsCond *c, SsLock *l) { pthread_cond_wait (&c->c, &l->m); }

/* Waits until signalled or until @end_time (g_get_monotonic_time() units); FALSE
 * on timeout. */
static inline gboolean
ss_cond_wait_until (SsCond *c, SsLock *l, gint64 end_time)
{
  struct timespec ts = { (time_t) (end_time / G_USEC_PER_SEC),
                         (long) ((end_time % G_USEC_PER_SEC) * 1000) };
  return pthread_cond_timedwait (&c->c, &l->m, &ts) != ETIMEDOUT;
}
