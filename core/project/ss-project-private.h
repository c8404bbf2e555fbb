/* ss-project-private.h: document data shared by ss-project.c and ss-project-io.c. */
#pragma once

#include "ss-project.h"

G_BEGIN_DECLS

#define SS_PROJECT_MAX_MEDIA    10000
#define SS_PROJECT_MAX_TRACKS   1000
#define SS_PROJECT_MAX_CLIPS    100000
#define SS_PROJECT_MAX_TAKES    100
#define SS_PROJECT_MAX_ID       64
#define SS_PROJECT_MAX_NAME     256
#define SS_PROJECT_MAX_LABEL    4096
#define SS_PROJECT_MAX_PATH     4096
#define SS_PROJECT_MAX_DIM      65536
#define SS_PROJECT_MAX_FPS_PART 1000000
#define SS_PROJECT_MAX_RATE     1536000
#define SS_PROJECT_MAX_CHANNELS 256
#define SS_PROJECT_MAX_DEPTH    32

/* Every SsMedia in a document is allocated as an SsMediaRec, every SsTrack as
 * an SsTrackRec. Both are reference counted (main thread only, not atomic) so
 * that undo states share what an edit did not touch (copy on write). */
typedef struct {
  SsMedia media;
  char *rel_target;   /* missing media only: where the file's relative path
                         pointed (absolute), written back as a relative path
                         so the media is found if the folder comes back */
  guint ref;
} SsMediaRec;

typedef struct {
  SsTrack track;
  guint ref;
} SsTrackRec;

/* One document state: what an undo step stores. */
typedef struct {
  GPtrArray *media;   /* of SsMedia* (SsMediaRec) */
  GPtrArray *tracks;  /* of SsTrack*, the video track first */
} SsDoc;

/* _free functions drop one reference. */
void     ss_media_rec_free (SsMedia *media);
SsMedia *ss_media_rec_copy (const SsMedia *media);
SsMedia *ss_media_rec_new  (void);
void     ss_take_free      (SsTake *take);
SsTake  *ss_take_copy      (const SsTake *take);
SsClip  *ss_clip_new       (void);
void     ss_clip_free      (SsClip *clip);
SsClip  *ss_clip_copy      (const SsClip *clip);
SsTrack *ss_track_new      (void);
void     ss_track_free     (SsTrack *track);
SsTrack *ss_track_ref      (SsTrack *track);
void     ss_track_sort     (SsTrack *track);
SsClip  *ss_track_find_overlap (const SsTrack *track, SsTime start, SsTime duration, const SsClip *ignore);
const char *ss_track_kind_to_string (SsTrackKind kind);

SsDoc   *ss_doc_new        (void);
void     ss_doc_free       (SsDoc *doc);
SsDoc   *ss_doc_copy       (const SsDoc *doc);   /* deep: shares nothing */
SsDoc   *ss_doc_share      (const SsDoc *doc);   /* new arrays, shared elements */
SsMedia *ss_doc_find_media (const SsDoc *doc, const char *id);
SsTrack *ss_doc_find_track (const SsDoc *doc, const char *id, guint *index_out);
SsClip  *ss_doc_find_clip  (const SsDoc *doc, const char *id, SsTrack **track_out, guint *index_out);
guint    ss_doc_count_clips (const SsDoc *doc);

gboolean ss_check_time       (SsTime t, gboolean positive, const char *what, GError **error);
gboolean ss_check_gain       (double gain_db, const char *what, GError **error);
gboolean ss_check_string     (const char *s, gsize max_len, gboolean allow_null, const char *what, GError **error);
gboolean ss_check_id         (const char *id, const char *what, GError **error);
gboolean ss_check_media_info (const SsMedia *m, const char *what, GError **error);
gboolean ss_check_take       (const SsMedia *media, SsTrackKind kind, SsTime source_in, SsTime duration,
                              const char *what, GError **error);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (SsTrack, ss_track_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (SsDoc, ss_doc_free)

/* Project internals for the loader/saver. */
SsProject  *ss_project_new_from_doc       (SsDoc *doc);   /* takes ownership; clean */
SsDoc      *ss_project_get_doc            (SsProject *self);
void        ss_project_set_path_internal  (SsProject *self, const char *path);
void        ss_project_mark_saved         (SsProject *self);
void        ss_project_mark_unsaved       (SsProject *self);
const char *ss_project_get_recovery_file  (SsProject *self);
void        ss_project_set_recovery_file  (SsProject *self, const char *path);

G_END_DECLS
