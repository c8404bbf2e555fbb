/* ss-demo.h: the generated demo clip and project (no GTK).
 *
 * The clip shows balls bouncing in a box; every impact on the floor or a wall
 * makes a short pitched knock whose loudness follows the impact speed and whose
 * stereo position follows the ball, so picture and sound are in sync by
 * construction. Output is deterministic for given options. */
#pragma once

#include <gio/gio.h>
#include "jobs/ss-job.h"

G_BEGIN_DECLS

typedef struct {
  int    width, height;     /* 320 x 180 */
  int    fps;               /* 25 */
  double seconds;           /* 4 */
  guint  n_balls;           /* 3 */
  guint32 seed;             /* varies start positions, colours and pitches */
} SsDemoOptions;

void     ss_demo_options_init (SsDemoOptions *opts);

/* Writes the clip (H.264/AAC MP4 by extension) with SsEncoder. @job may be NULL;
 * when given, progress is reported and cancellation is honoured. Returns the
 * number of impacts (sound events) through @n_impacts if not NULL. */
gboolean ss_demo_write_clip (const char *path, const SsDemoOptions *opts, SsJob *job,
                             guint *n_impacts, GError **error);

/* Creates @dir (if needed) with demo.mp4 and demo.soundstage referencing it.
 * @opts NULL: the defaults. */
gboolean ss_demo_make       (const char *dir, const SsDemoOptions *opts, SsJob *job, GError **error);

G_END_DECLS
