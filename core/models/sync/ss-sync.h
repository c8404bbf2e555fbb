/* ss-sync.h: the offset classes shared by every sync method (Synchformer's grid).
 *
 * Convention (Synchformer's): the sound of something seen at video time t is
 * heard at audio time t - offset. offset > 0: the audio leads (comes early);
 * delaying the audio by offset puts it in sync. Class i is -2.0 + 0.2 i seconds.
 */
#pragma once

#include <glib.h>
#include <math.h>

G_BEGIN_DECLS

#define SS_SYNC_N_CLASSES   21
#define SS_SYNC_MAX_OFFSET  2.0
#define SS_SYNC_CLASS_STEP  0.2
#define SS_SYNC_WINDOW      4.8     /* seconds of input the models see */

static inline double
ss_sync_class_offset (int index)
{
  return -SS_SYNC_MAX_OFFSET + SS_SYNC_CLASS_STEP * index;
}

/* The nearest class; offsets beyond +-2 s clamp to the end classes. */
static inline int
ss_sync_offset_class (double offset)
{
  int i = (int) lround ((offset + SS_SYNC_MAX_OFFSET) / SS_SYNC_CLASS_STEP);
  return i < 0 ? 0 : i >= SS_SYNC_N_CLASSES ? SS_SYNC_N_CLASSES - 1 : i;
}

G_END_DECLS
