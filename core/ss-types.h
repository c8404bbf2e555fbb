/* ss-types.h: basic types shared by all of libsoundstage-core. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* Time on the timeline and in media, in microseconds. */
typedef gint64 SsTime;
#define SS_TIME_SECOND G_GINT64_CONSTANT (1000000)
#define SS_TIME_MS     G_GINT64_CONSTANT (1000)
#define SS_TIME_NONE   G_MININT64

/* Sample rate of the mixer, playback and export. */
#define SS_MIX_RATE 48000

static inline SsTime
ss_time_from_seconds (double s)
{
  return (SsTime) (s * (double) SS_TIME_SECOND + (s >= 0 ? 0.5 : -0.5));
}

static inline double
ss_time_to_seconds (SsTime t)
{
  return (double) t / (double) SS_TIME_SECOND;
}

/* Error domain for everything a user can cause (bad files, etc). */
#define SS_ERROR (ss_error_quark ())
GQuark ss_error_quark (void);

typedef enum {
  SS_ERROR_FAILED,          /* anything else */
  SS_ERROR_NOT_FOUND,       /* missing file */
  SS_ERROR_INVALID_DATA,    /* corrupt / malformed input */
  SS_ERROR_UNSUPPORTED,     /* valid but not supported (codec, newer project version) */
  SS_ERROR_CANCELLED,       /* the user cancelled */
  SS_ERROR_OUT_OF_MEMORY,   /* host or device memory */
  SS_ERROR_DEVICE_LOST,     /* GPU device lost */
  SS_ERROR_IO,              /* read/write failure */
} SsError;

G_END_DECLS
