/* ss-sync-job.h: "Check Sync" as a background job, shared by the editor and
 * soundstage-cli.
 *
 * A request names the picture (a media file and the media time of its first
 * analysed frame) and the sound (a media file, possibly the same one, and the
 * media time that plays next to that frame), and how long a stretch to
 * analyse. The job decodes that stretch, runs the chosen method and gives an
 * SsSyncResult. Two methods:
 *  - SS_SYNC_METHOD_MODEL: the learned Synchformer model (core/models/synchformer)
 *    with weights from a safetensors file;
 *  - SS_SYNC_METHOD_SP: the signal-processing estimate (core/models/sync/ss-sync-sp.h),
 *    which needs no weights.
 * SS_SYNC_METHOD_AUTO uses the model when its weights are installed (see
 * ss_sync_find_model) and loadable, else the signal-processing estimate; the
 * result says which one ran and why. A model found automatically (not named by
 * the request, $SOUNDSTAGE_SYNC_MODEL or Preferences) whose file records that it
 * was less accurate than the signal-processing estimate on the same held-out
 * clips (ss_synchformer_get_heldout_accuracy) is not used by AUTO either.
 *
 * Offsets follow ss-sync.h: positive = the audio leads (comes early); delaying
 * the audio by the offset puts it in sync.
 *
 * Errors (SS_ERROR, messages name the file): SS_ERROR_UNSUPPORTED for no audio
 * stream / no video stream, SS_ERROR_INVALID_DATA for a stretch shorter than
 * SS_SYNC_WINDOW (4.8 s) or a file that cannot be decoded, SS_ERROR_NOT_FOUND
 * for a missing file or (method MODEL) no installed model. Cancelling ends
 * the job CANCELLED with no result.
 */
#pragma once

#include <gio/gio.h>
#include "ss-types.h"
#include "jobs/ss-job.h"
#include "models/sync/ss-sync.h"

G_BEGIN_DECLS

typedef enum {
  SS_SYNC_METHOD_AUTO,
  SS_SYNC_METHOD_SP,       /* signal processing: audio onsets x visual motion */
  SS_SYNC_METHOD_MODEL,    /* learned Synchformer */
} SsSyncMethod;

/* "auto", "sp", "model" */
const char *ss_sync_method_to_string   (SsSyncMethod method);
gboolean    ss_sync_method_from_string (const char *name, SsSyncMethod *out);
/* A translated name for people: "Synchformer model", "Signal processing". */
const char *ss_sync_method_display_name (SsSyncMethod method);

typedef struct {
  const char  *video_path;
  SsTime       video_start;   /* media time of the first analysed frame */
  const char  *audio_path;    /* NULL: video_path */
  SsTime       audio_start;   /* media time of the sound heard with that frame */
  SsTime       duration;      /* <= 0: up to the end of the shorter stream */
  SsSyncMethod method;
  const char  *model_path;    /* NULL: ss_sync_find_model () (MODEL / AUTO) */
  const char  *name;          /* names the clip in titles and messages; NULL: the file's name */
} SsSyncRequest;

typedef struct {
  double offset;               /* seconds (refined for SP, class offset for the model) */
  int    class_index;
  double confidence;
} SsSyncWindow;

typedef struct {
  SsSyncMethod method;         /* SS_SYNC_METHOD_SP or SS_SYNC_METHOD_MODEL: the one that ran */
  char    *model_path;         /* the weights used (MODEL), else NULL */
  char    *note;               /* why AUTO used SP (no model installed, model failed to load...), or NULL */
  char    *name;               /* the clip */

  double   offset;             /* seconds, refined (SP: between lags; model: probability-weighted
                                * around the best class) */
  double   grid_offset;        /* the most probable class's offset (ss_sync_class_offset) */
  int      class_index;        /* most probable class */
  double   probs[SS_SYNC_N_CLASSES];
  double   confidence;         /* 0..1 */
  double   syncability;        /* 0..1: can this clip be synchronized at all */
  gboolean syncability_derived;/* TRUE: not predicted by a model, derived from the confidence */

  double   start, duration;    /* analysed stretch, seconds from the request's start */
  int      n_windows;          /* offset over time (clips longer than one window) */
  double  *window_start;       /* seconds from the request's start */
  SsSyncWindow *windows;
} SsSyncResult;

void          ss_sync_result_free (SsSyncResult *result);
SsSyncResult *ss_sync_result_copy (const SsSyncResult *result);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (SsSyncResult, ss_sync_result_free)

/* The three most probable classes, best first. */
void          ss_sync_result_top_classes (const SsSyncResult *result, int top[3]);

/* The installed sync model, or NULL (with a reason in @why if not NULL).
 * Looked up in order: $SOUNDSTAGE_SYNC_MODEL (a path; "none" disables the
 * model), the GSettings key "sync-model" of org.soundstage.Soundstage when the
 * schema has one (a path; "" = default), then the newest
 * sync-*.safetensors in $XDG_DATA_HOME/soundstage/models, PKGDATADIR/models and,
 * for an uninstalled build, <source>/data/models and <build>/data/models. */
char         *ss_sync_find_model (char **why);

/* Analyses synchronously (on the calling thread). @job may be NULL; if given,
 * progress goes to it and its cancellable is used. */
SsSyncResult *ss_sync_analyse (const SsSyncRequest *request, SsJob *job, GError **error);

/* A job that runs ss_sync_analyse; its result (ss_job_get_result) is an
 * SsSyncResult. The request is copied. */
SsJob        *ss_sync_job_new (const SsSyncRequest *request);

G_END_DECLS
