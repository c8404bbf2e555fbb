/* ss-project.h: the timeline document.
 *
 * A project has a media pool, one video track and any number of audio tracks
 * (stems). Tracks hold clips; a clip holds one or more takes (alternative media
 * for the same slot, e.g. regenerated foley) and plays its active take.
 *
 * The document lives on the main thread. Every edit goes through an ss_project_*
 * function below, is one undo step, bumps the revision and emits "changed".
 * Read access returns const pointers valid until the next edit (copy what you keep).
 * Background jobs get a deep copy with ss_project_snapshot().
 *
 * Files: a versioned JSON document (format "soundstage-project", version N),
 * written atomically (temp file, fsync, rename) with a backup of the previous file
 * (FILE.bak). Loading never modifies the file. Media paths are stored relative to
 * the project file where possible, plus the absolute path; media that is missing on
 * load is kept with missing=TRUE and can be relinked.
 */
#pragma once

#include <gio/gio.h>
#include "ss-types.h"

G_BEGIN_DECLS

#define SS_PROJECT_FORMAT  "soundstage-project"
#define SS_PROJECT_VERSION 1
#define SS_PROJECT_EXTENSION ".soundstage"

typedef enum {
  SS_TRACK_VIDEO,
  SS_TRACK_AUDIO,
} SsTrackKind;

typedef struct {
  char    *id;            /* stable, unique in the project ("m1", ...) */
  char    *path;          /* absolute path */
  gboolean missing;       /* file not found at load time / relink needed */
  gboolean has_video;
  gboolean has_audio;
  SsTime   duration;
  int      width, height;
  int      fps_num, fps_den;   /* 0/0 when no video */
  int      sample_rate, channels;
} SsMedia;

typedef struct {
  char   *id;
  char   *media_id;       /* SsMedia.id */
  SsTime  source_in;      /* where in the media the clip starts */
  char   *label;          /* "Take 2", a prompt, ... (may be NULL) */
} SsTake;

typedef struct {
  char      *id;
  SsTime     start;        /* position on the timeline */
  SsTime     duration;     /* length on the timeline */
  GPtrArray *takes;        /* of SsTake*, at least one */
  guint      active_take;  /* index into takes */
  double     gain_db;      /* clip gain */
} SsClip;

typedef struct {
  char       *id;
  SsTrackKind kind;
  char       *name;
  gboolean    muted;
  gboolean    solo;
  double      gain_db;
  GPtrArray  *clips;      /* of SsClip*, sorted by start, never overlapping */
} SsTrack;

#define SS_TYPE_PROJECT (ss_project_get_type ())
G_DECLARE_FINAL_TYPE (SsProject, ss_project, SS, PROJECT, GObject)

/* A new empty project: one video track ("Video") and one audio track ("Audio 1"). */
SsProject     *ss_project_new             (void);
SsProject     *ss_project_load            (const char *path, GError **error);
SsProject     *ss_project_load_from_data  (const char *data, gsize len, const char *base_dir, GError **error);
/* Atomic save with backup. On success the project's path is @path and it is clean. */
gboolean       ss_project_save            (SsProject *self, const char *path, GError **error);
char          *ss_project_to_json         (SsProject *self, gsize *len);
SsProject     *ss_project_snapshot        (SsProject *self);   /* deep copy, no undo history */

const char    *ss_project_get_path        (SsProject *self);   /* NULL if never saved */
gboolean       ss_project_get_dirty       (SsProject *self);
guint64        ss_project_get_revision    (SsProject *self);
SsTime         ss_project_get_duration    (SsProject *self);   /* end of the last clip */
/* Frame rate of the timeline (from the first video media, default 25/1). */
void           ss_project_get_fps         (SsProject *self, int *num, int *den);

/* Read access. */
guint          ss_project_get_n_media     (SsProject *self);
const SsMedia *ss_project_get_media       (SsProject *self, guint index);
const SsMedia *ss_project_find_media      (SsProject *self, const char *media_id);
guint          ss_project_get_n_tracks    (SsProject *self);
const SsTrack *ss_project_get_track       (SsProject *self, guint index);
const SsTrack *ss_project_find_track      (SsProject *self, const char *track_id);
const SsClip  *ss_project_find_clip       (SsProject *self, const char *clip_id, const SsTrack **track_out);
const SsTake  *ss_clip_get_active_take    (const SsClip *clip);
/* TRUE when the track should be heard, taking mute and solo of all tracks into account. */
gboolean       ss_project_track_is_audible (SsProject *self, const SsTrack *track);

/* Edits: each is one undo step; FALSE + error (nothing changed) when invalid. */
/* Adds media described by @info (path, streams, duration...) to the pool;
 * returns the new media id (owned by the project). */
const char    *ss_project_add_media       (SsProject *self, const SsMedia *info, GError **error);
/* Adds the media's video to the video track and its audio to @audio_track_id
 * (NULL: first audio track, created if needed) at @start. One undo step.
 * Returns the id of the first clip created. */
const char    *ss_project_insert_media    (SsProject *self, const char *media_id, SsTime start,
                                           const char *audio_track_id, GError **error);
const char    *ss_project_add_track       (SsProject *self, SsTrackKind kind, const char *name, GError **error);
gboolean       ss_project_remove_track    (SsProject *self, const char *track_id, GError **error);
gboolean       ss_project_set_track_muted (SsProject *self, const char *track_id, gboolean muted);
gboolean       ss_project_set_track_solo  (SsProject *self, const char *track_id, gboolean solo);
gboolean       ss_project_set_track_gain  (SsProject *self, const char *track_id, double gain_db);
gboolean       ss_project_rename_track    (SsProject *self, const char *track_id, const char *name);
const char    *ss_project_add_clip        (SsProject *self, const char *track_id, const char *media_id,
                                           SsTime start, SsTime source_in, SsTime duration, GError **error);
/* Moves a clip (optionally to another track of the same kind, NULL = same track). */
gboolean       ss_project_move_clip       (SsProject *self, const char *clip_id, SsTime new_start,
                                           const char *to_track_id, GError **error);
/* Trims: new start/duration on the timeline; source_in follows the left edge. */
gboolean       ss_project_trim_clip       (SsProject *self, const char *clip_id, SsTime new_start,
                                           SsTime new_duration, GError **error);
/* Splits at timeline time @at; returns the id of the right part. */
const char    *ss_project_split_clip      (SsProject *self, const char *clip_id, SsTime at, GError **error);
gboolean       ss_project_delete_clip     (SsProject *self, const char *clip_id, GError **error);
gboolean       ss_project_set_clip_gain   (SsProject *self, const char *clip_id, double gain_db, GError **error);
/* Adds a take to a clip and makes it active; returns the take id. */
const char    *ss_project_add_take        (SsProject *self, const char *clip_id, const char *media_id,
                                           SsTime source_in, const char *label, GError **error);
gboolean       ss_project_set_active_take (SsProject *self, const char *clip_id, guint take_index, GError **error);
/* Shifts every clip of an audio track by @delta (sync fix). */
gboolean       ss_project_shift_track     (SsProject *self, const char *track_id, SsTime delta, GError **error);
/* Points media at a new file (after probing it); clears missing. */
gboolean       ss_project_relink_media    (SsProject *self, const char *media_id, const SsMedia *info, GError **error);

/* Groups several edits into one undo step (nestable). */
void           ss_project_begin_group     (SsProject *self, const char *label);
void           ss_project_end_group       (SsProject *self);

gboolean       ss_project_can_undo        (SsProject *self);
gboolean       ss_project_can_redo        (SsProject *self);
const char    *ss_project_get_undo_label  (SsProject *self);
const char    *ss_project_get_redo_label  (SsProject *self);
gboolean       ss_project_undo            (SsProject *self);
gboolean       ss_project_redo            (SsProject *self);

/* Recovery: autosave writes the document to @recovery_path atomically (does not
 * change path or dirty state). */
gboolean       ss_project_write_recovery  (SsProject *self, const char *recovery_path, GError **error);
/* Where recovery files live ($XDG_STATE_HOME/soundstage/recovery or similar). */
char          *ss_project_recovery_dir    (void);

/* Signals: "changed" () after every edit, undo, redo or load. */

G_END_DECLS
