/* ss-project.c: the timeline document, its edits, undo/redo and dirty state.
 *
 * See ss-project.h for the undo design (a deep copy of the document state per
 * step). JSON reading/writing, atomic save and recovery are in
 * ss-project-io.c; the document data structures shared by both are in
 * ss-project-private.h.
 */
#define G_LOG_DOMAIN "ss-project"

#include "ss-project-private.h"

#include <math.h>
#include <string.h>

/* ---------------------------------------------------------------------------
 * Document data
 */

SsMedia *
ss_media_rec_new (void)
{
  SsMediaRec *rec = g_new0 (SsMediaRec, 1);
  rec->ref = 1;
  return &rec->media;
}

static SsMedia *
ss_media_rec_ref (SsMedia *media)
{
  ((SsMediaRec *) media)->ref++;
  return media;
}

void
ss_media_rec_free (SsMedia *media)
{
  if (media == NULL)
    return;
  SsMediaRec *rec = (SsMediaRec *) media;
  if (--rec->ref > 0)
    return;
  g_free (rec->media.id);
  g_free (rec->media.path);
  g_free (rec->rel_target);
  g_free (rec);
}

SsMedia *
ss_media_rec_copy (const SsMedia *media)
{
  const SsMediaRec *src = (const SsMediaRec *) media;
  SsMediaRec *rec = (SsMediaRec *) ss_media_rec_new ();
  rec->media = *media;
  rec->media.id = g_strdup (media->id);
  rec->media.path = g_strdup (media->path);
  rec->rel_target = g_strdup (src->rel_target);
  return &rec->media;
}

/* A pool entry from outside data (SsMedia filled by ss_media_probe). */
static SsMedia *
media_from_info (const SsMedia *info, const char *id)
{
  SsMediaRec *rec = (SsMediaRec *) ss_media_rec_new ();
  rec->media = *info;
  rec->media.id = g_strdup (id);
  rec->media.path = g_canonicalize_filename (info->path, NULL);
  rec->media.missing = !g_file_test (rec->media.path, G_FILE_TEST_EXISTS);
  return &rec->media;
}

void
ss_take_free (SsTake *take)
{
  if (take == NULL)
    return;
  g_free (take->id);
  g_free (take->media_id);
  g_free (take->label);
  g_free (take);
}

SsTake *
ss_take_copy (const SsTake *take)
{
  SsTake *t = g_new0 (SsTake, 1);
  t->id = g_strdup (take->id);
  t->media_id = g_strdup (take->media_id);
  t->source_in = take->source_in;
  t->label = g_strdup (take->label);
  return t;
}

void
ss_clip_free (SsClip *clip)
{
  if (clip == NULL)
    return;
  g_free (clip->id);
  g_clear_pointer (&clip->takes, g_ptr_array_unref);
  g_free (clip);
}

SsClip *
ss_clip_new (void)
{
  SsClip *clip = g_new0 (SsClip, 1);
  clip->takes = g_ptr_array_new_with_free_func ((GDestroyNotify) ss_take_free);
  return clip;
}

SsClip *
ss_clip_copy (const SsClip *clip)
{
  SsClip *c = ss_clip_new ();
  c->id = g_strdup (clip->id);
  c->start = clip->start;
  c->duration = clip->duration;
  c->active_take = clip->active_take;
  c->gain_db = clip->gain_db;
  for (guint i = 0; i < clip->takes->len; i++)
    g_ptr_array_add (c->takes, ss_take_copy (g_ptr_array_index (clip->takes, i)));
  return c;
}

void
ss_track_free (SsTrack *track)
{
  if (track == NULL)
    return;
  if (--((SsTrackRec *) track)->ref > 0)
    return;
  g_free (track->id);
  g_free (track->name);
  g_clear_pointer (&track->clips, g_ptr_array_unref);
  g_free ((SsTrackRec *) track);
}

SsTrack *
ss_track_ref (SsTrack *track)
{
  ((SsTrackRec *) track)->ref++;
  return track;
}

SsTrack *
ss_track_new (void)
{
  SsTrackRec *rec = g_new0 (SsTrackRec, 1);
  rec->ref = 1;
  SsTrack *track = &rec->track;
  track->clips = g_ptr_array_new_with_free_func ((GDestroyNotify) ss_clip_free);
  return track;
}

static SsTrack *
ss_track_copy (const SsTrack *track)
{
  SsTrack *t = ss_track_new ();
  t->id = g_strdup (track->id);
  t->kind = track->kind;
  t->name = g_strdup (track->name);
  t->muted = track->muted;
  t->solo = track->solo;
  t->gain_db = track->gain_db;
  for (guint i = 0; i < track->clips->len; i++)
    g_ptr_array_add (t->clips, ss_clip_copy (g_ptr_array_index (track->clips, i)));
  return t;
}

SsDoc *
ss_doc_new (void)
{
  SsDoc *doc = g_new0 (SsDoc, 1);
  doc->media = g_ptr_array_new_with_free_func ((GDestroyNotify) ss_media_rec_free);
  doc->tracks = g_ptr_array_new_with_free_func ((GDestroyNotify) ss_track_free);
  return doc;
}

void
ss_doc_free (SsDoc *doc)
{
  if (doc == NULL)
    return;
  g_ptr_array_unref (doc->media);
  g_ptr_array_unref (doc->tracks);
  g_free (doc);
}

SsDoc *
ss_doc_copy (const SsDoc *doc)
{
  SsDoc *d = ss_doc_new ();
  for (guint i = 0; i < doc->media->len; i++)
    g_ptr_array_add (d->media, ss_media_rec_copy (g_ptr_array_index (doc->media, i)));
  for (guint i = 0; i < doc->tracks->len; i++)
    g_ptr_array_add (d->tracks, ss_track_copy (g_ptr_array_index (doc->tracks, i)));
  return d;
}

SsDoc *
ss_doc_share (const SsDoc *doc)
{
  SsDoc *d = ss_doc_new ();
  for (guint i = 0; i < doc->media->len; i++)
    g_ptr_array_add (d->media, ss_media_rec_ref (g_ptr_array_index (doc->media, i)));
  for (guint i = 0; i < doc->tracks->len; i++)
    g_ptr_array_add (d->tracks, ss_track_ref (g_ptr_array_index (doc->tracks, i)));
  return d;
}

static gsize
str_bytes (const char *s)
{
  return s ? strlen (s) + 1 + 16 : 0;
}

static gsize
media_bytes (const SsMediaRec *m)
{
  return sizeof (SsMediaRec) + 16 + str_bytes (m->media.id) + str_bytes (m->media.path) + str_bytes (m->rel_target);
}

static gsize
track_bytes (const SsTrack *t)
{
  gsize n = sizeof (SsTrackRec) + 64 + str_bytes (t->id) + str_bytes (t->name);
  for (guint j = 0; j < t->clips->len; j++)
    {
      const SsClip *c = g_ptr_array_index (t->clips, j);
      n += sizeof (SsClip) + 64 + str_bytes (c->id);
      for (guint k = 0; k < c->takes->len; k++)
        {
          const SsTake *tk = g_ptr_array_index (c->takes, k);
          n += sizeof (SsTake) + 16 + str_bytes (tk->id) + str_bytes (tk->media_id) + str_bytes (tk->label);
        }
    }
  return n;
}

/* Approximate heap memory that @doc holds on its own, i.e. not shared with
 * @other (for the undo memory cap). */
static gsize
doc_unique_bytes (const SsDoc *doc, const SsDoc *other)
{
  g_autoptr(GHashTable) shared = g_hash_table_new (NULL, NULL);
  for (guint i = 0; i < other->media->len; i++)
    g_hash_table_add (shared, g_ptr_array_index (other->media, i));
  for (guint i = 0; i < other->tracks->len; i++)
    g_hash_table_add (shared, g_ptr_array_index (other->tracks, i));

  gsize n = sizeof (SsDoc) + 64 + (doc->media->len + doc->tracks->len) * sizeof (gpointer);
  for (guint i = 0; i < doc->media->len; i++)
    {
      SsMediaRec *m = g_ptr_array_index (doc->media, i);
      if (!g_hash_table_contains (shared, m))
        n += media_bytes (m);
    }
  for (guint i = 0; i < doc->tracks->len; i++)
    {
      SsTrack *t = g_ptr_array_index (doc->tracks, i);
      if (!g_hash_table_contains (shared, t))
        n += track_bytes (t);
    }
  return n;
}

SsMedia *
ss_doc_find_media (const SsDoc *doc, const char *id)
{
  if (id == NULL)
    return NULL;
  for (guint i = 0; i < doc->media->len; i++)
    {
      SsMedia *m = g_ptr_array_index (doc->media, i);
      if (g_strcmp0 (m->id, id) == 0)
        return m;
    }
  return NULL;
}

SsTrack *
ss_doc_find_track (const SsDoc *doc, const char *id, guint *index_out)
{
  if (id == NULL)
    return NULL;
  for (guint i = 0; i < doc->tracks->len; i++)
    {
      SsTrack *t = g_ptr_array_index (doc->tracks, i);
      if (g_strcmp0 (t->id, id) == 0)
        {
          if (index_out)
            *index_out = i;
          return t;
        }
    }
  return NULL;
}

SsClip *
ss_doc_find_clip (const SsDoc *doc, const char *id, SsTrack **track_out, guint *index_out)
{
  if (id == NULL)
    return NULL;
  for (guint i = 0; i < doc->tracks->len; i++)
    {
      SsTrack *t = g_ptr_array_index (doc->tracks, i);
      for (guint j = 0; j < t->clips->len; j++)
        {
          SsClip *c = g_ptr_array_index (t->clips, j);
          if (g_strcmp0 (c->id, id) == 0)
            {
              if (track_out)
                *track_out = t;
              if (index_out)
                *index_out = j;
              return c;
            }
        }
    }
  return NULL;
}

static SsTake *
doc_find_take (const SsDoc *doc, const char *id, SsClip **clip_out)
{
  for (guint i = 0; i < doc->tracks->len; i++)
    {
      SsTrack *t = g_ptr_array_index (doc->tracks, i);
      for (guint j = 0; j < t->clips->len; j++)
        {
          SsClip *c = g_ptr_array_index (t->clips, j);
          for (guint k = 0; k < c->takes->len; k++)
            {
              SsTake *tk = g_ptr_array_index (c->takes, k);
              if (g_strcmp0 (tk->id, id) == 0)
                {
                  if (clip_out)
                    *clip_out = c;
                  return tk;
                }
            }
        }
    }
  return NULL;
}

guint
ss_doc_count_clips (const SsDoc *doc)
{
  guint n = 0;
  for (guint i = 0; i < doc->tracks->len; i++)
    n += ((SsTrack *) g_ptr_array_index (doc->tracks, i))->clips->len;
  return n;
}

/* The first clip of @track overlapping [start, start+duration), ignoring
 * @ignore; NULL if the range is free. */
SsClip *
ss_track_find_overlap (const SsTrack *track, SsTime start, SsTime duration, const SsClip *ignore)
{
  SsTime end = start + duration;
  for (guint i = 0; i < track->clips->len; i++)
    {
      SsClip *c = g_ptr_array_index (track->clips, i);
      if (c == ignore)
        continue;
      if (c->start < end && start < c->start + c->duration)
        return c;
    }
  return NULL;
}

static gint
clip_cmp (gconstpointer a, gconstpointer b)
{
  const SsClip *ca = *(const SsClip * const *) a;
  const SsClip *cb = *(const SsClip * const *) b;
  if (ca->start != cb->start)
    return ca->start < cb->start ? -1 : 1;
  return g_strcmp0 (ca->id, cb->id);
}

void
ss_track_sort (SsTrack *track)
{
  g_ptr_array_sort (track->clips, clip_cmp);
}

const char *
ss_track_kind_to_string (SsTrackKind kind)
{
  return kind == SS_TRACK_VIDEO ? "video" : "audio";
}

static char *
format_time (SsTime t)
{
  gboolean neg = t < 0;
  guint64 u = neg ? (guint64) 0 - (guint64) t : (guint64) t;
  guint64 ms = (u + 500) / 1000;
  guint64 h = ms / 3600000, m = (ms / 60000) % 60, s = (ms / 1000) % 60, r = ms % 1000;
  if (h > 0)
    return g_strdup_printf ("%s%" G_GUINT64_FORMAT ":%02" G_GUINT64_FORMAT ":%02" G_GUINT64_FORMAT ".%03" G_GUINT64_FORMAT,
                            neg ? "-" : "", h, m, s, r);
  return g_strdup_printf ("%s%" G_GUINT64_FORMAT ":%02" G_GUINT64_FORMAT ".%03" G_GUINT64_FORMAT,
                          neg ? "-" : "", m, s, r);
}

/* Shared validation used by edits and by the loader. Messages say what is
 * wrong in words; @what prefixes them ("Clip “c3”", "tracks[1].clips[0]"). */
gboolean
ss_check_time (SsTime t, gboolean positive, const char *what, GError **error)
{
  if ((positive ? t <= 0 : t < 0) || t > SS_PROJECT_MAX_TIME)
    {
      g_autofree char *ts = format_time (t);
      g_set_error (error, SS_ERROR, SS_ERROR_INVALID_DATA,
                   positive ? "%s must be longer than zero and at most one week (got %s)"
                            : "%s must be between zero and one week (got %s)",
                   what, ts);
      return FALSE;
    }
  return TRUE;
}

gboolean
ss_check_gain (double gain_db, const char *what, GError **error)
{
  if (!isfinite (gain_db) || gain_db < SS_GAIN_MIN_DB || gain_db > SS_GAIN_MAX_DB)
    {
      g_set_error (error, SS_ERROR, SS_ERROR_INVALID_DATA,
                   "%s must be between %.0f dB and +%.0f dB (got %g)",
                   what, SS_GAIN_MIN_DB, SS_GAIN_MAX_DB, gain_db);
      return FALSE;
    }
  return TRUE;
}

gboolean
ss_check_string (const char *s, gsize max_len, gboolean allow_null, const char *what, GError **error)
{
  if (s == NULL)
    {
      if (allow_null)
        return TRUE;
      g_set_error (error, SS_ERROR, SS_ERROR_INVALID_DATA, "%s is missing", what);
      return FALSE;
    }
  gsize len = strnlen (s, max_len + 1);
  if (len > max_len)
    {
      g_set_error (error, SS_ERROR, SS_ERROR_INVALID_DATA, "%s is too long (more than %" G_GSIZE_FORMAT " bytes)", what, max_len);
      return FALSE;
    }
  if (!g_utf8_validate (s, len, NULL))
    {
      g_set_error (error, SS_ERROR, SS_ERROR_INVALID_DATA, "%s is not valid UTF-8 text", what);
      return FALSE;
    }
  return TRUE;
}

gboolean
ss_check_id (const char *id, const char *what, GError **error)
{
  if (id == NULL || id[0] == '\0')
    {
      g_set_error (error, SS_ERROR, SS_ERROR_INVALID_DATA, "%s has an empty id", what);
      return FALSE;
    }
  gsize len = strnlen (id, SS_PROJECT_MAX_ID + 1);
  if (len > SS_PROJECT_MAX_ID)
    {
      g_set_error (error, SS_ERROR, SS_ERROR_INVALID_DATA, "%s has an id longer than %d characters", what, SS_PROJECT_MAX_ID);
      return FALSE;
    }
  for (gsize i = 0; i < len; i++)
    if (id[i] <= ' ' || id[i] > '~')
      {
        g_set_error (error, SS_ERROR, SS_ERROR_INVALID_DATA,
                     "%s has an id with characters other than letters, digits and punctuation", what);
        return FALSE;
      }
  return TRUE;
}

gboolean
ss_check_media_info (const SsMedia *m, const char *what, GError **error)
{
  if (!m->has_video && !m->has_audio)
    {
      g_set_error (error, SS_ERROR, SS_ERROR_INVALID_DATA, "%s has neither video nor audio", what);
      return FALSE;
    }
  g_autofree char *dwhat = g_strdup_printf ("The duration of %s", what);
  if (!ss_check_time (m->duration, TRUE, dwhat, error))
    return FALSE;
  if (m->width < 0 || m->width > SS_PROJECT_MAX_DIM || m->height < 0 || m->height > SS_PROJECT_MAX_DIM)
    {
      g_set_error (error, SS_ERROR, SS_ERROR_INVALID_DATA,
                   "%s has an impossible picture size (%d×%d)", what, m->width, m->height);
      return FALSE;
    }
  if (m->fps_num < 0 || m->fps_den < 0 || m->fps_num > SS_PROJECT_MAX_FPS_PART || m->fps_den > SS_PROJECT_MAX_FPS_PART ||
      (m->fps_num == 0) != (m->fps_den == 0))
    {
      g_set_error (error, SS_ERROR, SS_ERROR_INVALID_DATA,
                   "%s has an impossible frame rate (%d/%d)", what, m->fps_num, m->fps_den);
      return FALSE;
    }
  if (m->sample_rate < 0 || m->sample_rate > SS_PROJECT_MAX_RATE || m->channels < 0 || m->channels > SS_PROJECT_MAX_CHANNELS)
    {
      g_set_error (error, SS_ERROR, SS_ERROR_INVALID_DATA,
                   "%s has an impossible audio format (%d Hz, %d channels)", what, m->sample_rate, m->channels);
      return FALSE;
    }
  return TRUE;
}

/* Checks that a take of @media fits a clip of @duration on a @kind track. */
gboolean
ss_check_take (const SsMedia *media, SsTrackKind kind, SsTime source_in, SsTime duration,
               const char *what, GError **error)
{
  if (kind == SS_TRACK_VIDEO && !media->has_video)
    {
      g_set_error (error, SS_ERROR, SS_ERROR_INVALID_DATA,
                   "%s: “%s” has no video, so it cannot go on the video track", what, media->path ? media->path : media->id);
      return FALSE;
    }
  if (kind == SS_TRACK_AUDIO && !media->has_audio)
    {
      g_set_error (error, SS_ERROR, SS_ERROR_INVALID_DATA,
                   "%s: “%s” has no audio, so it cannot go on an audio track", what, media->path ? media->path : media->id);
      return FALSE;
    }
  if (source_in < 0 || source_in > SS_PROJECT_MAX_TIME)
    {
      g_autofree char *ts = format_time (source_in);
      g_set_error (error, SS_ERROR, SS_ERROR_INVALID_DATA,
                   "%s would start outside its media (at %s)", what, ts);
      return FALSE;
    }
  if (source_in + duration > media->duration)
    {
      g_autofree char *end = format_time (source_in + duration);
      g_autofree char *md = format_time (media->duration);
      g_set_error (error, SS_ERROR, SS_ERROR_INVALID_DATA,
                   "%s would run past the end of its media (%s is past %s)", what, end, md);
      return FALSE;
    }
  return TRUE;
}

/* ---------------------------------------------------------------------------
 * SsProject
 */

typedef struct {
  char *label;
  SsDoc *doc;
  guint64 state;
  gsize bytes;
} Step;

static void
step_free (Step *step)
{
  g_free (step->label);
  ss_doc_free (step->doc);
  g_free (step);
}

struct _SsProject
{
  GObject parent_instance;

  SsDoc *doc;
  char *path;
  guint64 revision;
  guint64 state_id;
  guint64 saved_state_id;
  guint64 next_state_id;
  guint64 next_id;

  GQueue undo;        /* of Step*, head = newest */
  GQueue redo;
  gsize undo_bytes;

  int group_depth;
  char *group_label;
  SsDoc *group_doc;
  guint64 group_state;

  char *recovery_file;

  /* last notified values */
  gboolean n_dirty, n_can_undo, n_can_redo;
};

G_DEFINE_TYPE (SsProject, ss_project, G_TYPE_OBJECT)

enum {
  PROP_0,
  PROP_PATH,
  PROP_DIRTY,
  PROP_REVISION,
  PROP_CAN_UNDO,
  PROP_CAN_REDO,
  N_PROPS
};
static GParamSpec *properties[N_PROPS];

enum {
  SIGNAL_CHANGED,
  N_SIGNALS
};
static guint signals[N_SIGNALS];

#define UNDO_MAX_BYTES ((gsize) 64 * 1024 * 1024)

static void
clear_queue (GQueue *q)
{
  Step *s;
  while ((s = g_queue_pop_head (q)))
    step_free (s);
}

static void
ss_project_finalize (GObject *object)
{
  SsProject *self = SS_PROJECT (object);
  clear_queue (&self->undo);
  clear_queue (&self->redo);
  ss_doc_free (self->doc);
  ss_doc_free (self->group_doc);
  g_free (self->group_label);
  g_free (self->path);
  g_free (self->recovery_file);
  G_OBJECT_CLASS (ss_project_parent_class)->finalize (object);
}

static void
ss_project_get_property (GObject *object, guint prop_id, GValue *value, GParamSpec *pspec)
{
  SsProject *self = SS_PROJECT (object);
  switch (prop_id)
    {
    case PROP_PATH:
      g_value_set_string (value, self->path);
      break;
    case PROP_DIRTY:
      g_value_set_boolean (value, ss_project_get_dirty (self));
      break;
    case PROP_REVISION:
      g_value_set_uint64 (value, self->revision);
      break;
    case PROP_CAN_UNDO:
      g_value_set_boolean (value, ss_project_can_undo (self));
      break;
    case PROP_CAN_REDO:
      g_value_set_boolean (value, ss_project_can_redo (self));
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
ss_project_class_init (SsProjectClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  object_class->finalize = ss_project_finalize;
  object_class->get_property = ss_project_get_property;

  properties[PROP_PATH] =
    g_param_spec_string ("path", NULL, NULL, NULL, G_PARAM_READABLE | G_PARAM_STATIC_STRINGS | G_PARAM_EXPLICIT_NOTIFY);
  properties[PROP_DIRTY] =
    g_param_spec_boolean ("dirty", NULL, NULL, FALSE, G_PARAM_READABLE | G_PARAM_STATIC_STRINGS | G_PARAM_EXPLICIT_NOTIFY);
  properties[PROP_REVISION] =
    g_param_spec_uint64 ("revision", NULL, NULL, 0, G_MAXUINT64, 0, G_PARAM_READABLE | G_PARAM_STATIC_STRINGS | G_PARAM_EXPLICIT_NOTIFY);
  properties[PROP_CAN_UNDO] =
    g_param_spec_boolean ("can-undo", NULL, NULL, FALSE, G_PARAM_READABLE | G_PARAM_STATIC_STRINGS | G_PARAM_EXPLICIT_NOTIFY);
  properties[PROP_CAN_REDO] =
    g_param_spec_boolean ("can-redo", NULL, NULL, FALSE, G_PARAM_READABLE | G_PARAM_STATIC_STRINGS | G_PARAM_EXPLICIT_NOTIFY);
  g_object_class_install_properties (object_class, N_PROPS, properties);

  signals[SIGNAL_CHANGED] =
    g_signal_new ("changed", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0,
                  NULL, NULL, NULL, G_TYPE_NONE, 0);
}

static void
ss_project_init (SsProject *self)
{
  g_queue_init (&self->undo);
  g_queue_init (&self->redo);
  self->next_id = 1;
}

/* Notifies the properties whose values changed. */
static void
notify_state (SsProject *self)
{
  g_object_freeze_notify (G_OBJECT (self));
  gboolean dirty = ss_project_get_dirty (self);
  if (dirty != self->n_dirty)
    {
      self->n_dirty = dirty;
      g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_DIRTY]);
    }
  gboolean cu = ss_project_can_undo (self), cr = ss_project_can_redo (self);
  if (cu != self->n_can_undo)
    {
      self->n_can_undo = cu;
      g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_CAN_UNDO]);
    }
  if (cr != self->n_can_redo)
    {
      self->n_can_redo = cr;
      g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_CAN_REDO]);
    }
  g_object_thaw_notify (G_OBJECT (self));
}

static void
emit_changed (SsProject *self)
{
  self->revision++;
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_REVISION]);
  notify_state (self);
  g_signal_emit (self, signals[SIGNAL_CHANGED], 0);
}

static void
trim_undo (SsProject *self)
{
  while (self->undo.length > SS_PROJECT_MAX_UNDO ||
         (self->undo.length > 1 && self->undo_bytes > UNDO_MAX_BYTES))
    {
      Step *old = g_queue_pop_tail (&self->undo);
      self->undo_bytes -= MIN (self->undo_bytes, old->bytes);
      step_free (old);
    }
}

static void
push_undo (SsProject *self, const char *label, SsDoc *doc, guint64 state)
{
  Step *step = g_new0 (Step, 1);
  step->label = g_strdup (label);
  step->doc = doc;
  step->state = state;
  step->bytes = doc_unique_bytes (doc, self->doc);
  self->undo_bytes += step->bytes;
  g_queue_push_head (&self->undo, step);
  trim_undo (self);
}

/* Call after validating, before changing the document: returns the copy to
 * store as the undo state (NULL inside a group, which keeps its own). */
static SsDoc *
edit_begin (SsProject *self)
{
  if (self->group_depth > 0)
    {
      if (self->group_doc == NULL)
        {
          self->group_doc = ss_doc_share (self->doc);
          self->group_state = self->state_id;
        }
      return NULL;
    }
  return ss_doc_share (self->doc);
}

static void
edit_commit (SsProject *self, const char *label, SsDoc *before)
{
  guint64 prev = self->state_id;
  self->state_id = ++self->next_state_id;
  if (before)
    push_undo (self, label, before, prev);
  clear_queue (&self->redo);
  emit_changed (self);
}

/* Copy on write: after edit_begin(), every track or media that an edit
 * changes must first be made private to the current document with these
 * (they return the pointer to use from then on). */
static SsTrack *
writable_track (SsProject *self, SsTrack *t)
{
  if (((SsTrackRec *) t)->ref == 1)
    return t;
  guint i;
  if (!g_ptr_array_find (self->doc->tracks, t, &i))
    g_assert_not_reached ();
  SsTrack *copy = ss_track_copy (t);
  self->doc->tracks->pdata[i] = copy;
  ss_track_free (t);
  return copy;
}

static SsClip *
writable_clip (SsProject *self, SsTrack **track, SsClip *c)
{
  guint ci;
  if (!g_ptr_array_find ((*track)->clips, c, &ci))
    g_assert_not_reached ();
  *track = writable_track (self, *track);
  return g_ptr_array_index ((*track)->clips, ci);
}

static SsMedia *
writable_media (SsProject *self, SsMedia *m)
{
  if (((SsMediaRec *) m)->ref == 1)
    return m;
  guint i;
  if (!g_ptr_array_find (self->doc->media, m, &i))
    g_assert_not_reached ();
  SsMedia *copy = ss_media_rec_copy (m);
  self->doc->media->pdata[i] = copy;
  ss_media_rec_free (m);
  return copy;
}

/* Generates an id not used by anything in the document (nor earlier in the
 * session: the counter never goes back). */
static char *
new_id (SsProject *self, char prefix)
{
  for (;;)
    {
      char *id = g_strdup_printf ("%c%" G_GUINT64_FORMAT, prefix, self->next_id++);
      if (!ss_doc_find_media (self->doc, id) && !ss_doc_find_track (self->doc, id, NULL) &&
          !ss_doc_find_clip (self->doc, id, NULL, NULL) && !doc_find_take (self->doc, id, NULL))
        return id;
      g_free (id);
    }
}

static void
note_id (SsProject *self, const char *id)
{
  /* Keep next_id past any "<letter><digits>" id loaded from a file. */
  if (id && g_ascii_isalpha (id[0]) && g_ascii_isdigit (id[1]))
    {
      char *end = NULL;
      guint64 n = g_ascii_strtoull (id + 1, &end, 10);
      if (end && *end == '\0' && n < G_MAXUINT64 / 2 && n >= self->next_id)
        self->next_id = n + 1;
    }
}

/* Takes ownership of @doc as the project's document (loader). */
SsProject *
ss_project_new_from_doc (SsDoc *doc)
{
  SsProject *self = g_object_new (SS_TYPE_PROJECT, NULL);
  self->doc = doc;
  for (guint i = 0; i < doc->media->len; i++)
    note_id (self, ((SsMedia *) g_ptr_array_index (doc->media, i))->id);
  for (guint i = 0; i < doc->tracks->len; i++)
    {
      SsTrack *t = g_ptr_array_index (doc->tracks, i);
      note_id (self, t->id);
      for (guint j = 0; j < t->clips->len; j++)
        {
          SsClip *c = g_ptr_array_index (t->clips, j);
          note_id (self, c->id);
          for (guint k = 0; k < c->takes->len; k++)
            note_id (self, ((SsTake *) g_ptr_array_index (c->takes, k))->id);
        }
    }
  self->revision = 1;
  return self;
}

SsDoc *
ss_project_get_doc (SsProject *self)
{
  return self->doc;
}

void
ss_project_set_path_internal (SsProject *self, const char *path)
{
  if (g_strcmp0 (path, self->path) == 0)
    return;
  g_free (self->path);
  self->path = g_strdup (path);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_PATH]);
}

void
ss_project_mark_saved (SsProject *self)
{
  self->saved_state_id = self->state_id;
  notify_state (self);
}

void
ss_project_mark_unsaved (SsProject *self)
{
  self->saved_state_id = G_MAXUINT64;
  notify_state (self);
}

const char *
ss_project_get_recovery_file (SsProject *self)
{
  return self->recovery_file;
}

void
ss_project_set_recovery_file (SsProject *self, const char *path)
{
  if (self->recovery_file != path)
    {
      g_free (self->recovery_file);
      self->recovery_file = g_strdup (path);
    }
}

SsProject *
ss_project_new (void)
{
  SsProject *self = ss_project_new_from_doc (ss_doc_new ());

  SsTrack *video = ss_track_new ();
  video->id = new_id (self, 't');
  video->kind = SS_TRACK_VIDEO;
  video->name = g_strdup ("Video");
  g_ptr_array_add (self->doc->tracks, video);

  SsTrack *audio = ss_track_new ();
  audio->id = new_id (self, 't');
  audio->kind = SS_TRACK_AUDIO;
  audio->name = g_strdup ("Audio 1");
  g_ptr_array_add (self->doc->tracks, audio);
  return self;
}

SsProject *
ss_project_snapshot (SsProject *self)
{
  g_return_val_if_fail (SS_IS_PROJECT (self), NULL);
  SsProject *copy = ss_project_new_from_doc (ss_doc_copy (self->doc));
  copy->path = g_strdup (self->path);
  copy->revision = self->revision;
  copy->next_id = MAX (copy->next_id, self->next_id);
  if (ss_project_get_dirty (self))
    copy->saved_state_id = G_MAXUINT64;
  copy->n_dirty = ss_project_get_dirty (copy);
  return copy;
}

const char *
ss_project_get_path (SsProject *self)
{
  g_return_val_if_fail (SS_IS_PROJECT (self), NULL);
  return self->path;
}

gboolean
ss_project_get_dirty (SsProject *self)
{
  g_return_val_if_fail (SS_IS_PROJECT (self), FALSE);
  return self->state_id != self->saved_state_id;
}

guint64
ss_project_get_revision (SsProject *self)
{
  g_return_val_if_fail (SS_IS_PROJECT (self), 0);
  return self->revision;
}

SsTime
ss_project_get_duration (SsProject *self)
{
  g_return_val_if_fail (SS_IS_PROJECT (self), 0);
  SsTime end = 0;
  for (guint i = 0; i < self->doc->tracks->len; i++)
    {
      SsTrack *t = g_ptr_array_index (self->doc->tracks, i);
      for (guint j = 0; j < t->clips->len; j++)
        end = MAX (end, ss_clip_get_end (g_ptr_array_index (t->clips, j)));
    }
  return end;
}

void
ss_project_get_fps (SsProject *self, int *num, int *den)
{
  g_return_if_fail (SS_IS_PROJECT (self));
  int n = 25, d = 1;
  for (guint i = 0; i < self->doc->media->len; i++)
    {
      SsMedia *m = g_ptr_array_index (self->doc->media, i);
      if (m->has_video && m->fps_num > 0 && m->fps_den > 0)
        {
          n = m->fps_num;
          d = m->fps_den;
          break;
        }
    }
  if (num)
    *num = n;
  if (den)
    *den = d;
}

SsTime
ss_project_snap_to_frame (SsProject *self, SsTime t)
{
  g_return_val_if_fail (SS_IS_PROJECT (self), t);
  int num, den;
  ss_project_get_fps (self, &num, &den);
  /* frame index = round (t * num / (den * 1e6)) in exact-ish arithmetic */
  long double frames = (long double) t * num / ((long double) den * SS_TIME_SECOND);
  long double rounded = frames >= 0 ? floorl (frames + 0.5L) : ceill (frames - 0.5L);
  return (SsTime) llroundl (rounded * den * SS_TIME_SECOND / num);
}

char *
ss_project_dup_display_name (SsProject *self)
{
  g_return_val_if_fail (SS_IS_PROJECT (self), NULL);
  if (self->path == NULL)
    return g_strdup ("Untitled");
  g_autofree char *base = g_path_get_basename (self->path);
  if (g_str_has_suffix (base, SS_PROJECT_EXTENSION) && strlen (base) > strlen (SS_PROJECT_EXTENSION))
    base[strlen (base) - strlen (SS_PROJECT_EXTENSION)] = '\0';
  return g_steal_pointer (&base);
}

/* ---- read access ---- */

guint
ss_project_get_n_media (SsProject *self)
{
  g_return_val_if_fail (SS_IS_PROJECT (self), 0);
  return self->doc->media->len;
}

const SsMedia *
ss_project_get_media (SsProject *self, guint index)
{
  g_return_val_if_fail (SS_IS_PROJECT (self), NULL);
  if (index >= self->doc->media->len)
    return NULL;
  return g_ptr_array_index (self->doc->media, index);
}

const SsMedia *
ss_project_find_media (SsProject *self, const char *media_id)
{
  g_return_val_if_fail (SS_IS_PROJECT (self), NULL);
  return ss_doc_find_media (self->doc, media_id);
}

const SsMedia *
ss_project_find_media_by_path (SsProject *self, const char *path)
{
  g_return_val_if_fail (SS_IS_PROJECT (self), NULL);
  if (path == NULL)
    return NULL;
  g_autofree char *canon = g_canonicalize_filename (path, NULL);
  for (guint i = 0; i < self->doc->media->len; i++)
    {
      SsMedia *m = g_ptr_array_index (self->doc->media, i);
      if (g_strcmp0 (m->path, canon) == 0)
        return m;
    }
  return NULL;
}

guint
ss_project_count_media_uses (SsProject *self, const char *media_id)
{
  g_return_val_if_fail (SS_IS_PROJECT (self), 0);
  guint n = 0;
  for (guint i = 0; i < self->doc->tracks->len; i++)
    {
      SsTrack *t = g_ptr_array_index (self->doc->tracks, i);
      for (guint j = 0; j < t->clips->len; j++)
        {
          SsClip *c = g_ptr_array_index (t->clips, j);
          for (guint k = 0; k < c->takes->len; k++)
            if (g_strcmp0 (((SsTake *) g_ptr_array_index (c->takes, k))->media_id, media_id) == 0)
              n++;
        }
    }
  return n;
}

guint
ss_project_count_missing_media (SsProject *self)
{
  g_return_val_if_fail (SS_IS_PROJECT (self), 0);
  guint n = 0;
  for (guint i = 0; i < self->doc->media->len; i++)
    if (((SsMedia *) g_ptr_array_index (self->doc->media, i))->missing)
      n++;
  return n;
}

guint
ss_project_get_n_tracks (SsProject *self)
{
  g_return_val_if_fail (SS_IS_PROJECT (self), 0);
  return self->doc->tracks->len;
}

const SsTrack *
ss_project_get_track (SsProject *self, guint index)
{
  g_return_val_if_fail (SS_IS_PROJECT (self), NULL);
  if (index >= self->doc->tracks->len)
    return NULL;
  return g_ptr_array_index (self->doc->tracks, index);
}

const SsTrack *
ss_project_find_track (SsProject *self, const char *track_id)
{
  g_return_val_if_fail (SS_IS_PROJECT (self), NULL);
  return ss_doc_find_track (self->doc, track_id, NULL);
}

const SsTrack *
ss_project_get_video_track (SsProject *self)
{
  g_return_val_if_fail (SS_IS_PROJECT (self), NULL);
  for (guint i = 0; i < self->doc->tracks->len; i++)
    {
      SsTrack *t = g_ptr_array_index (self->doc->tracks, i);
      if (t->kind == SS_TRACK_VIDEO)
        return t;
    }
  return NULL;
}

int
ss_project_get_track_index (SsProject *self, const char *track_id)
{
  g_return_val_if_fail (SS_IS_PROJECT (self), -1);
  guint index;
  if (!ss_doc_find_track (self->doc, track_id, &index))
    return -1;
  return (int) index;
}

const SsClip *
ss_project_find_clip (SsProject *self, const char *clip_id, const SsTrack **track_out)
{
  g_return_val_if_fail (SS_IS_PROJECT (self), NULL);
  SsTrack *track = NULL;
  SsClip *clip = ss_doc_find_clip (self->doc, clip_id, &track, NULL);
  if (track_out)
    *track_out = clip ? track : NULL;
  return clip;
}

const SsTake *
ss_project_find_take (SsProject *self, const char *take_id, const SsClip **clip_out)
{
  g_return_val_if_fail (SS_IS_PROJECT (self), NULL);
  SsClip *clip = NULL;
  SsTake *take = take_id ? doc_find_take (self->doc, take_id, &clip) : NULL;
  if (clip_out)
    *clip_out = take ? clip : NULL;
  return take;
}

const SsClip *
ss_project_get_clip_at (SsProject *self, const char *track_id, SsTime t)
{
  g_return_val_if_fail (SS_IS_PROJECT (self), NULL);
  SsTrack *track = ss_doc_find_track (self->doc, track_id, NULL);
  if (!track)
    return NULL;
  /* clips are sorted and disjoint: binary search on start */
  guint lo = 0, hi = track->clips->len;
  while (lo < hi)
    {
      guint mid = lo + (hi - lo) / 2;
      SsClip *c = g_ptr_array_index (track->clips, mid);
      if (c->start <= t)
        lo = mid + 1;
      else
        hi = mid;
    }
  if (lo == 0)
    return NULL;
  SsClip *c = g_ptr_array_index (track->clips, lo - 1);
  return t < ss_clip_get_end (c) ? c : NULL;
}

gboolean
ss_project_range_is_free (SsProject *self, const char *track_id, SsTime start, SsTime duration,
                          const char *ignore_clip_id)
{
  g_return_val_if_fail (SS_IS_PROJECT (self), FALSE);
  SsTrack *track = ss_doc_find_track (self->doc, track_id, NULL);
  if (!track || duration <= 0 || start < 0 || start > SS_PROJECT_MAX_TIME || duration > SS_PROJECT_MAX_TIME)
    return FALSE;
  SsClip *ignore = ignore_clip_id ? ss_doc_find_clip (self->doc, ignore_clip_id, NULL, NULL) : NULL;
  return ss_track_find_overlap (track, start, duration, ignore) == NULL;
}

const SsTake *
ss_clip_get_active_take (const SsClip *clip)
{
  g_return_val_if_fail (clip != NULL, NULL);
  if (clip->takes == NULL || clip->takes->len == 0)
    return NULL;
  guint i = MIN (clip->active_take, clip->takes->len - 1);
  return g_ptr_array_index (clip->takes, i);
}

gboolean
ss_project_track_is_audible (SsProject *self, const SsTrack *track)
{
  g_return_val_if_fail (SS_IS_PROJECT (self), FALSE);
  g_return_val_if_fail (track != NULL, FALSE);
  if (track->muted)
    return FALSE;
  for (guint i = 0; i < self->doc->tracks->len; i++)
    if (((SsTrack *) g_ptr_array_index (self->doc->tracks, i))->solo)
      return track->solo;
  return TRUE;
}

/* ---- edits ---- */

static SsTrack *
get_track_or_error (SsProject *self, const char *track_id, GError **error)
{
  SsTrack *t = ss_doc_find_track (self->doc, track_id, NULL);
  if (!t)
    g_set_error (error, SS_ERROR, SS_ERROR_NOT_FOUND, "There is no track “%s” in the project", track_id ? track_id : "(none)");
  return t;
}

static SsClip *
get_clip_or_error (SsProject *self, const char *clip_id, SsTrack **track_out, GError **error)
{
  SsClip *c = ss_doc_find_clip (self->doc, clip_id, track_out, NULL);
  if (!c)
    g_set_error (error, SS_ERROR, SS_ERROR_NOT_FOUND, "There is no clip “%s” in the project", clip_id ? clip_id : "(none)");
  return c;
}

static SsMedia *
get_media_or_error (SsProject *self, const char *media_id, GError **error)
{
  SsMedia *m = ss_doc_find_media (self->doc, media_id);
  if (!m)
    g_set_error (error, SS_ERROR, SS_ERROR_NOT_FOUND, "There is no media “%s” in the project", media_id ? media_id : "(none)");
  return m;
}

static gboolean
overlap_error (SsTrack *track, SsClip *other, GError **error)
{
  g_autofree char *s = format_time (other->start);
  g_autofree char *e = format_time (ss_clip_get_end (other));
  g_set_error (error, SS_ERROR, SS_ERROR_INVALID_DATA,
               "The clip would overlap another clip on track “%s” (from %s to %s)",
               track->name ? track->name : track->id, s, e);
  return FALSE;
}

/* Checks that every take of @clip fits [source_in + delta, +duration]. */
static gboolean
check_clip_takes (SsProject *self, const SsTrack *track, const SsClip *clip, SsTime in_delta,
                  SsTime duration, GError **error)
{
  for (guint k = 0; k < clip->takes->len; k++)
    {
      SsTake *take = g_ptr_array_index (clip->takes, k);
      SsMedia *m = ss_doc_find_media (self->doc, take->media_id);
      g_autofree char *what = clip->takes->len > 1 ? g_strdup_printf ("Take %u of the clip", k + 1) : g_strdup ("The clip");
      if (!m)
        {
          g_set_error (error, SS_ERROR, SS_ERROR_INVALID_DATA, "%s refers to media that is not in the project", what);
          return FALSE;
        }
      if (!ss_check_take (m, track->kind, take->source_in + in_delta, duration, what, error))
        return FALSE;
    }
  return TRUE;
}

static void
insert_sorted (SsTrack *track, SsClip *clip)
{
  g_ptr_array_add (track->clips, clip);
  ss_track_sort (track);
}

const char *
ss_project_add_media (SsProject *self, const SsMedia *info, GError **error)
{
  g_return_val_if_fail (SS_IS_PROJECT (self), NULL);
  g_return_val_if_fail (info != NULL, NULL);

  if (info->path == NULL || info->path[0] == '\0')
    {
      g_set_error (error, SS_ERROR, SS_ERROR_INVALID_DATA, "The media has no file name");
      return NULL;
    }
  if (!ss_check_string (info->path, SS_PROJECT_MAX_PATH, FALSE, "The media's file name", error))
    return NULL;
  g_autofree char *what = g_strdup_printf ("“%s”", info->path);
  if (!ss_check_media_info (info, what, error))
    return NULL;
  if (self->doc->media->len >= SS_PROJECT_MAX_MEDIA)
    {
      g_set_error (error, SS_ERROR, SS_ERROR_INVALID_DATA, "The project already has the maximum of %d media files", SS_PROJECT_MAX_MEDIA);
      return NULL;
    }

  SsDoc *before = edit_begin (self);
  g_autofree char *id = new_id (self, 'm');
  SsMedia *m = media_from_info (info, id);
  g_ptr_array_add (self->doc->media, m);
  edit_commit (self, "Add Media", before);
  return m->id;
}

gboolean
ss_project_remove_media (SsProject *self, const char *media_id, GError **error)
{
  g_return_val_if_fail (SS_IS_PROJECT (self), FALSE);
  SsMedia *m = get_media_or_error (self, media_id, error);
  if (!m)
    return FALSE;
  guint uses = ss_project_count_media_uses (self, media_id);
  if (uses > 0)
    {
      g_set_error (error, SS_ERROR, SS_ERROR_INVALID_DATA,
                   "“%s” is still used by %u clip(s) or take(s); remove them first", m->path, uses);
      return FALSE;
    }
  SsDoc *before = edit_begin (self);
  g_ptr_array_remove (self->doc->media, m);
  edit_commit (self, "Remove Media", before);
  return TRUE;
}

gboolean
ss_project_relink_media (SsProject *self, const char *media_id, const SsMedia *info, GError **error)
{
  g_return_val_if_fail (SS_IS_PROJECT (self), FALSE);
  g_return_val_if_fail (info != NULL, FALSE);
  SsMedia *m = get_media_or_error (self, media_id, error);
  if (!m)
    return FALSE;
  if (info->path == NULL || info->path[0] == '\0')
    {
      g_set_error (error, SS_ERROR, SS_ERROR_INVALID_DATA, "The new media has no file name");
      return FALSE;
    }
  if (!ss_check_string (info->path, SS_PROJECT_MAX_PATH, FALSE, "The media's file name", error))
    return FALSE;
  g_autofree char *what = g_strdup_printf ("“%s”", info->path);
  if (!ss_check_media_info (info, what, error))
    return FALSE;

  /* Every clip using it must still fit the new file. */
  for (guint i = 0; i < self->doc->tracks->len; i++)
    {
      SsTrack *t = g_ptr_array_index (self->doc->tracks, i);
      for (guint j = 0; j < t->clips->len; j++)
        {
          SsClip *c = g_ptr_array_index (t->clips, j);
          for (guint k = 0; k < c->takes->len; k++)
            {
              SsTake *take = g_ptr_array_index (c->takes, k);
              if (g_strcmp0 (take->media_id, media_id) != 0)
                continue;
              g_autofree char *cw = g_strdup_printf ("A clip using %s", what);
              if (!ss_check_take (info, t->kind, take->source_in, c->duration, cw, error))
                {
                  g_prefix_error (error, "Cannot relink: ");
                  return FALSE;
                }
            }
        }
    }

  SsDoc *before = edit_begin (self);
  m = writable_media (self, m);
  SsMediaRec *rec = (SsMediaRec *) m;
  char *id = g_steal_pointer (&m->id);
  g_free (m->path);
  *m = *info;
  m->id = id;
  m->path = g_canonicalize_filename (info->path, NULL);
  m->missing = !g_file_test (m->path, G_FILE_TEST_EXISTS);
  g_clear_pointer (&rec->rel_target, g_free);
  edit_commit (self, "Relink Media", before);
  return TRUE;
}

static SsTrack *
first_free_audio_track (SsProject *self, SsTime start, SsTime duration)
{
  for (guint i = 0; i < self->doc->tracks->len; i++)
    {
      SsTrack *t = g_ptr_array_index (self->doc->tracks, i);
      if (t->kind == SS_TRACK_AUDIO && !ss_track_find_overlap (t, start, duration, NULL))
        return t;
    }
  return NULL;
}

static char *
next_audio_track_name (SsProject *self)
{
  for (guint n = 1;; n++)
    {
      g_autofree char *name = g_strdup_printf ("Audio %u", n);
      gboolean used = FALSE;
      for (guint i = 0; i < self->doc->tracks->len && !used; i++)
        used = g_strcmp0 (((SsTrack *) g_ptr_array_index (self->doc->tracks, i))->name, name) == 0;
      if (!used)
        return g_steal_pointer (&name);
    }
}

/* Creates a clip (no validation) and returns it. */
static SsClip *
make_clip (SsProject *self, SsTrack *track, const char *media_id, SsTime start, SsTime source_in,
           SsTime duration, const char *label)
{
  SsClip *clip = ss_clip_new ();
  clip->id = new_id (self, 'c');
  clip->start = start;
  clip->duration = duration;
  SsTake *take = g_new0 (SsTake, 1);
  take->id = new_id (self, 'k');
  take->media_id = g_strdup (media_id);
  take->source_in = source_in;
  take->label = g_strdup (label);
  g_ptr_array_add (clip->takes, take);
  insert_sorted (track, clip);
  return clip;
}

static gboolean
check_capacity_clip (SsProject *self, GError **error)
{
  if (ss_doc_count_clips (self->doc) >= SS_PROJECT_MAX_CLIPS)
    {
      g_set_error (error, SS_ERROR, SS_ERROR_INVALID_DATA, "The project already has the maximum of %d clips", SS_PROJECT_MAX_CLIPS);
      return FALSE;
    }
  return TRUE;
}

const char *
ss_project_insert_media (SsProject *self, const char *media_id, SsTime start,
                         const char *audio_track_id, GError **error)
{
  g_return_val_if_fail (SS_IS_PROJECT (self), NULL);
  SsMedia *m = get_media_or_error (self, media_id, error);
  if (!m)
    return NULL;
  if (!ss_check_time (start, FALSE, "The start of the clip", error))
    return NULL;
  if (start + m->duration > SS_PROJECT_MAX_TIME)
    {
      g_set_error (error, SS_ERROR, SS_ERROR_INVALID_DATA, "The clip would end more than one week into the timeline");
      return NULL;
    }
  if (!check_capacity_clip (self, error))
    return NULL;

  SsTrack *video = NULL, *audio = NULL;
  gboolean new_audio_track = FALSE;
  if (m->has_video)
    {
      video = (SsTrack *) ss_project_get_video_track (self);
      if (!video)
        {
          g_set_error (error, SS_ERROR, SS_ERROR_INVALID_DATA, "The project has no video track");
          return NULL;
        }
      SsClip *other = ss_track_find_overlap (video, start, m->duration, NULL);
      if (other)
        return overlap_error (video, other, error), NULL;
    }
  if (m->has_audio)
    {
      if (audio_track_id)
        {
          audio = get_track_or_error (self, audio_track_id, error);
          if (!audio)
            return NULL;
          if (audio->kind != SS_TRACK_AUDIO)
            {
              g_set_error (error, SS_ERROR, SS_ERROR_INVALID_DATA, "Track “%s” is not an audio track", audio->name);
              return NULL;
            }
          SsClip *other = ss_track_find_overlap (audio, start, m->duration, NULL);
          if (other)
            return overlap_error (audio, other, error), NULL;
        }
      else
        {
          audio = first_free_audio_track (self, start, m->duration);
          if (!audio)
            {
              if (self->doc->tracks->len >= SS_PROJECT_MAX_TRACKS)
                {
                  g_set_error (error, SS_ERROR, SS_ERROR_INVALID_DATA, "The project already has the maximum of %d tracks", SS_PROJECT_MAX_TRACKS);
                  return NULL;
                }
              new_audio_track = TRUE;
            }
        }
    }

  SsDoc *before = edit_begin (self);
  if (new_audio_track)
    {
      audio = ss_track_new ();
      audio->id = new_id (self, 't');
      audio->kind = SS_TRACK_AUDIO;
      audio->name = next_audio_track_name (self);
      g_ptr_array_add (self->doc->tracks, audio);
    }
  SsClip *first = NULL;
  if (video)
    video = writable_track (self, video);
  if (audio)
    audio = writable_track (self, audio);
  if (video)
    first = make_clip (self, video, m->id, start, 0, m->duration, NULL);
  if (audio)
    {
      SsClip *c = make_clip (self, audio, m->id, start, 0, m->duration, NULL);
      if (!first)
        first = c;
    }
  edit_commit (self, "Insert Media", before);
  return first->id;
}

const char *
ss_project_add_track (SsProject *self, SsTrackKind kind, const char *name, GError **error)
{
  g_return_val_if_fail (SS_IS_PROJECT (self), NULL);
  if (kind != SS_TRACK_AUDIO && kind != SS_TRACK_VIDEO)
    {
      g_set_error (error, SS_ERROR, SS_ERROR_INVALID_DATA, "Unknown kind of track");
      return NULL;
    }
  if (kind == SS_TRACK_VIDEO && ss_project_get_video_track (self))
    {
      g_set_error (error, SS_ERROR, SS_ERROR_UNSUPPORTED, "A project has only one video track");
      return NULL;
    }
  if (!ss_check_string (name, SS_PROJECT_MAX_NAME, TRUE, "The track name", error))
    return NULL;
  if (self->doc->tracks->len >= SS_PROJECT_MAX_TRACKS)
    {
      g_set_error (error, SS_ERROR, SS_ERROR_INVALID_DATA, "The project already has the maximum of %d tracks", SS_PROJECT_MAX_TRACKS);
      return NULL;
    }
  SsDoc *before = edit_begin (self);
  SsTrack *t = ss_track_new ();
  t->id = new_id (self, 't');
  t->kind = kind;
  t->name = (name && name[0]) ? g_strdup (name) : (kind == SS_TRACK_VIDEO ? g_strdup ("Video") : next_audio_track_name (self));
  if (kind == SS_TRACK_VIDEO)
    g_ptr_array_insert (self->doc->tracks, 0, t);
  else
    g_ptr_array_add (self->doc->tracks, t);
  edit_commit (self, "Add Track", before);
  return t->id;
}

gboolean
ss_project_remove_track (SsProject *self, const char *track_id, GError **error)
{
  g_return_val_if_fail (SS_IS_PROJECT (self), FALSE);
  SsTrack *t = get_track_or_error (self, track_id, error);
  if (!t)
    return FALSE;
  if (t->kind == SS_TRACK_VIDEO)
    {
      g_set_error (error, SS_ERROR, SS_ERROR_UNSUPPORTED, "The video track cannot be removed");
      return FALSE;
    }
  SsDoc *before = edit_begin (self);
  g_ptr_array_remove (self->doc->tracks, t);
  edit_commit (self, "Remove Track", before);
  return TRUE;
}

gboolean
ss_project_move_track (SsProject *self, const char *track_id, guint new_index, GError **error)
{
  g_return_val_if_fail (SS_IS_PROJECT (self), FALSE);
  guint index;
  SsTrack *t = ss_doc_find_track (self->doc, track_id, &index);
  if (!t)
    return get_track_or_error (self, track_id, error), FALSE;
  if (t->kind == SS_TRACK_VIDEO || new_index == 0 || new_index >= self->doc->tracks->len)
    {
      g_set_error (error, SS_ERROR, SS_ERROR_INVALID_DATA, "The video track stays first; audio tracks can move to positions 1 to %u",
                   self->doc->tracks->len - 1);
      return FALSE;
    }
  if (new_index == index)
    return TRUE;
  SsDoc *before = edit_begin (self);
  SsTrack *taken = g_ptr_array_steal_index (self->doc->tracks, index);
  g_ptr_array_insert (self->doc->tracks, (gint) new_index, taken);
  edit_commit (self, "Move Track", before);
  return TRUE;
}

gboolean
ss_project_set_track_muted (SsProject *self, const char *track_id, gboolean muted)
{
  g_return_val_if_fail (SS_IS_PROJECT (self), FALSE);
  SsTrack *t = ss_doc_find_track (self->doc, track_id, NULL);
  if (!t)
    return FALSE;
  if (!t->muted == !muted)
    return TRUE;
  SsDoc *before = edit_begin (self);
  t = writable_track (self, t);
  t->muted = !!muted;
  edit_commit (self, muted ? "Mute Track" : "Unmute Track", before);
  return TRUE;
}

gboolean
ss_project_set_track_solo (SsProject *self, const char *track_id, gboolean solo)
{
  g_return_val_if_fail (SS_IS_PROJECT (self), FALSE);
  SsTrack *t = ss_doc_find_track (self->doc, track_id, NULL);
  if (!t)
    return FALSE;
  if (!t->solo == !solo)
    return TRUE;
  SsDoc *before = edit_begin (self);
  t = writable_track (self, t);
  t->solo = !!solo;
  edit_commit (self, solo ? "Solo Track" : "Unsolo Track", before);
  return TRUE;
}

gboolean
ss_project_set_track_gain (SsProject *self, const char *track_id, double gain_db)
{
  g_return_val_if_fail (SS_IS_PROJECT (self), FALSE);
  SsTrack *t = ss_doc_find_track (self->doc, track_id, NULL);
  if (!t || !ss_check_gain (gain_db, "Track gain", NULL))
    return FALSE;
  if (t->gain_db == gain_db)
    return TRUE;
  SsDoc *before = edit_begin (self);
  t = writable_track (self, t);
  t->gain_db = gain_db;
  edit_commit (self, "Track Gain", before);
  return TRUE;
}

gboolean
ss_project_rename_track (SsProject *self, const char *track_id, const char *name)
{
  g_return_val_if_fail (SS_IS_PROJECT (self), FALSE);
  SsTrack *t = ss_doc_find_track (self->doc, track_id, NULL);
  if (!t || name == NULL || name[0] == '\0' || !ss_check_string (name, SS_PROJECT_MAX_NAME, FALSE, "The track name", NULL))
    return FALSE;
  if (g_strcmp0 (t->name, name) == 0)
    return TRUE;
  SsDoc *before = edit_begin (self);
  t = writable_track (self, t);
  g_free (t->name);
  t->name = g_strdup (name);
  edit_commit (self, "Rename Track", before);
  return TRUE;
}

const char *
ss_project_add_clip (SsProject *self, const char *track_id, const char *media_id,
                     SsTime start, SsTime source_in, SsTime duration, GError **error)
{
  g_return_val_if_fail (SS_IS_PROJECT (self), NULL);
  SsTrack *t = get_track_or_error (self, track_id, error);
  if (!t)
    return NULL;
  SsMedia *m = get_media_or_error (self, media_id, error);
  if (!m)
    return NULL;
  if (!ss_check_time (start, FALSE, "The start of the clip", error) ||
      !ss_check_time (duration, TRUE, "The length of the clip", error) ||
      !ss_check_take (m, t->kind, source_in, duration, "The clip", error) ||
      !check_capacity_clip (self, error))
    return NULL;
  if (start + duration > SS_PROJECT_MAX_TIME)
    {
      g_set_error (error, SS_ERROR, SS_ERROR_INVALID_DATA, "The clip would end more than one week into the timeline");
      return NULL;
    }
  SsClip *other = ss_track_find_overlap (t, start, duration, NULL);
  if (other)
    return overlap_error (t, other, error), NULL;

  SsDoc *before = edit_begin (self);
  t = writable_track (self, t);
  SsClip *c = make_clip (self, t, m->id, start, source_in, duration, NULL);
  edit_commit (self, "Add Clip", before);
  return c->id;
}

gboolean
ss_project_move_clip (SsProject *self, const char *clip_id, SsTime new_start,
                      const char *to_track_id, GError **error)
{
  g_return_val_if_fail (SS_IS_PROJECT (self), FALSE);
  SsTrack *from = NULL;
  SsClip *c = get_clip_or_error (self, clip_id, &from, error);
  if (!c)
    return FALSE;
  SsTrack *to = from;
  if (to_track_id)
    {
      to = get_track_or_error (self, to_track_id, error);
      if (!to)
        return FALSE;
      if (to->kind != from->kind)
        {
          g_set_error (error, SS_ERROR, SS_ERROR_INVALID_DATA,
                       "A clip can only move to a track of the same kind (%s clip, %s track “%s”)",
                       ss_track_kind_to_string (from->kind), ss_track_kind_to_string (to->kind), to->name);
          return FALSE;
        }
    }
  if (!ss_check_time (new_start, FALSE, "The start of the clip", error))
    return FALSE;
  if (new_start + c->duration > SS_PROJECT_MAX_TIME)
    {
      g_set_error (error, SS_ERROR, SS_ERROR_INVALID_DATA, "The clip would end more than one week into the timeline");
      return FALSE;
    }
  SsClip *other = ss_track_find_overlap (to, new_start, c->duration, c);
  if (other)
    return overlap_error (to, other, error);
  if (to == from && new_start == c->start)
    return TRUE;

  SsDoc *before = edit_begin (self);
  gboolean same = to == from;
  c = writable_clip (self, &from, c);
  to = same ? from : writable_track (self, to);
  c->start = new_start;
  if (to != from)
    {
      guint index;
      if (g_ptr_array_find (from->clips, c, &index))
        g_ptr_array_steal_index (from->clips, index);
      insert_sorted (to, c);
    }
  else
    ss_track_sort (from);
  edit_commit (self, "Move Clip", before);
  return TRUE;
}

gboolean
ss_project_trim_clip (SsProject *self, const char *clip_id, SsTime new_start,
                      SsTime new_duration, GError **error)
{
  g_return_val_if_fail (SS_IS_PROJECT (self), FALSE);
  SsTrack *track = NULL;
  SsClip *c = get_clip_or_error (self, clip_id, &track, error);
  if (!c)
    return FALSE;
  if (!ss_check_time (new_start, FALSE, "The start of the clip", error) ||
      !ss_check_time (new_duration, TRUE, "The length of the clip", error))
    return FALSE;
  if (new_start + new_duration > SS_PROJECT_MAX_TIME)
    {
      g_set_error (error, SS_ERROR, SS_ERROR_INVALID_DATA, "The clip would end more than one week into the timeline");
      return FALSE;
    }
  SsTime delta = new_start - c->start;
  if (!check_clip_takes (self, track, c, delta, new_duration, error))
    return FALSE;
  SsClip *other = ss_track_find_overlap (track, new_start, new_duration, c);
  if (other)
    return overlap_error (track, other, error);
  if (new_start == c->start && new_duration == c->duration)
    return TRUE;

  SsDoc *before = edit_begin (self);
  c = writable_clip (self, &track, c);
  for (guint k = 0; k < c->takes->len; k++)
    ((SsTake *) g_ptr_array_index (c->takes, k))->source_in += delta;
  c->start = new_start;
  c->duration = new_duration;
  ss_track_sort (track);
  edit_commit (self, "Trim Clip", before);
  return TRUE;
}

const char *
ss_project_split_clip (SsProject *self, const char *clip_id, SsTime at, GError **error)
{
  g_return_val_if_fail (SS_IS_PROJECT (self), NULL);
  SsTrack *track = NULL;
  SsClip *c = get_clip_or_error (self, clip_id, &track, error);
  if (!c)
    return NULL;
  if (at <= c->start || at >= ss_clip_get_end (c))
    {
      g_autofree char *ts = format_time (at);
      g_autofree char *s = format_time (c->start);
      g_autofree char *e = format_time (ss_clip_get_end (c));
      g_set_error (error, SS_ERROR, SS_ERROR_INVALID_DATA,
                   "Cannot split at %s: the clip runs from %s to %s", ts, s, e);
      return NULL;
    }
  if (!check_capacity_clip (self, error))
    return NULL;

  SsDoc *before = edit_begin (self);
  c = writable_clip (self, &track, c);
  SsTime left = at - c->start;
  SsClip *right = ss_clip_copy (c);
  g_free (right->id);
  right->id = new_id (self, 'c');
  right->start = at;
  right->duration = c->duration - left;
  for (guint k = 0; k < right->takes->len; k++)
    {
      SsTake *take = g_ptr_array_index (right->takes, k);
      g_free (take->id);
      take->id = new_id (self, 'k');
      take->source_in += left;
    }
  c->duration = left;
  insert_sorted (track, right);
  edit_commit (self, "Split Clip", before);
  return right->id;
}

gboolean
ss_project_delete_clip (SsProject *self, const char *clip_id, GError **error)
{
  g_return_val_if_fail (SS_IS_PROJECT (self), FALSE);
  SsTrack *track = NULL;
  SsClip *c = get_clip_or_error (self, clip_id, &track, error);
  if (!c)
    return FALSE;
  SsDoc *before = edit_begin (self);
  c = writable_clip (self, &track, c);
  g_ptr_array_remove (track->clips, c);
  edit_commit (self, "Delete Clip", before);
  return TRUE;
}

gboolean
ss_project_set_clip_gain (SsProject *self, const char *clip_id, double gain_db, GError **error)
{
  g_return_val_if_fail (SS_IS_PROJECT (self), FALSE);
  SsTrack *track = NULL;
  SsClip *c = get_clip_or_error (self, clip_id, &track, error);
  if (!c || !ss_check_gain (gain_db, "Clip gain", error))
    return FALSE;
  if (c->gain_db == gain_db)
    return TRUE;
  SsDoc *before = edit_begin (self);
  c = writable_clip (self, &track, c);
  c->gain_db = gain_db;
  edit_commit (self, "Clip Gain", before);
  return TRUE;
}

const char *
ss_project_add_take (SsProject *self, const char *clip_id, const char *media_id,
                     SsTime source_in, const char *label, GError **error)
{
  g_return_val_if_fail (SS_IS_PROJECT (self), NULL);
  SsTrack *track = NULL;
  SsClip *c = get_clip_or_error (self, clip_id, &track, error);
  if (!c)
    return NULL;
  SsMedia *m = get_media_or_error (self, media_id, error);
  if (!m)
    return NULL;
  if (!ss_check_take (m, track->kind, source_in, c->duration, "The new take", error) ||
      !ss_check_string (label, SS_PROJECT_MAX_LABEL, TRUE, "The take label", error))
    return NULL;
  if (c->takes->len >= SS_PROJECT_MAX_TAKES)
    {
      g_set_error (error, SS_ERROR, SS_ERROR_INVALID_DATA, "The clip already has the maximum of %d takes", SS_PROJECT_MAX_TAKES);
      return NULL;
    }
  SsDoc *before = edit_begin (self);
  c = writable_clip (self, &track, c);
  SsTake *take = g_new0 (SsTake, 1);
  take->id = new_id (self, 'k');
  take->media_id = g_strdup (m->id);
  take->source_in = source_in;
  take->label = g_strdup (label);
  g_ptr_array_add (c->takes, take);
  c->active_take = c->takes->len - 1;
  edit_commit (self, "Add Take", before);
  return take->id;
}

static gboolean
check_take_index (const SsClip *c, guint take_index, GError **error)
{
  if (take_index >= c->takes->len)
    {
      g_set_error (error, SS_ERROR, SS_ERROR_NOT_FOUND, "The clip has no take %u (it has %u)", take_index + 1, c->takes->len);
      return FALSE;
    }
  return TRUE;
}

gboolean
ss_project_set_active_take (SsProject *self, const char *clip_id, guint take_index, GError **error)
{
  g_return_val_if_fail (SS_IS_PROJECT (self), FALSE);
  SsTrack *track = NULL;
  SsClip *c = get_clip_or_error (self, clip_id, &track, error);
  if (!c || !check_take_index (c, take_index, error))
    return FALSE;
  if (c->active_take == take_index)
    return TRUE;
  SsDoc *before = edit_begin (self);
  c = writable_clip (self, &track, c);
  c->active_take = take_index;
  edit_commit (self, "Switch Take", before);
  return TRUE;
}

gboolean
ss_project_delete_take (SsProject *self, const char *clip_id, guint take_index, GError **error)
{
  g_return_val_if_fail (SS_IS_PROJECT (self), FALSE);
  SsTrack *track = NULL;
  SsClip *c = get_clip_or_error (self, clip_id, &track, error);
  if (!c || !check_take_index (c, take_index, error))
    return FALSE;
  if (c->takes->len == 1)
    {
      g_set_error (error, SS_ERROR, SS_ERROR_INVALID_DATA, "The last take of a clip cannot be deleted; delete the clip instead");
      return FALSE;
    }
  SsDoc *before = edit_begin (self);
  c = writable_clip (self, &track, c);
  g_ptr_array_remove_index (c->takes, take_index);
  if (c->active_take > take_index || c->active_take >= c->takes->len)
    c->active_take = c->active_take > 0 ? c->active_take - 1 : 0;
  edit_commit (self, "Delete Take", before);
  return TRUE;
}

gboolean
ss_project_set_take_label (SsProject *self, const char *clip_id, guint take_index,
                           const char *label, GError **error)
{
  g_return_val_if_fail (SS_IS_PROJECT (self), FALSE);
  SsTrack *track = NULL;
  SsClip *c = get_clip_or_error (self, clip_id, &track, error);
  if (!c || !check_take_index (c, take_index, error) ||
      !ss_check_string (label, SS_PROJECT_MAX_LABEL, TRUE, "The take label", error))
    return FALSE;
  SsTake *take = g_ptr_array_index (c->takes, take_index);
  if (g_strcmp0 (take->label, label) == 0)
    return TRUE;
  SsDoc *before = edit_begin (self);
  c = writable_clip (self, &track, c);
  take = g_ptr_array_index (c->takes, take_index);
  g_free (take->label);
  take->label = g_strdup (label);
  edit_commit (self, "Rename Take", before);
  return TRUE;
}

gboolean
ss_project_shift_track (SsProject *self, const char *track_id, SsTime delta, GError **error)
{
  g_return_val_if_fail (SS_IS_PROJECT (self), FALSE);
  SsTrack *t = get_track_or_error (self, track_id, error);
  if (!t)
    return FALSE;
  if (delta < -SS_PROJECT_MAX_TIME || delta > SS_PROJECT_MAX_TIME)
    {
      g_set_error (error, SS_ERROR, SS_ERROR_INVALID_DATA, "Cannot shift a track by more than one week");
      return FALSE;
    }
  if (delta == 0 || t->clips->len == 0)
    return TRUE;
  for (guint j = 0; j < t->clips->len; j++)
    {
      SsClip *c = g_ptr_array_index (t->clips, j);
      SsTime s = c->start + delta, e = ss_clip_get_end (c) + delta;
      if (e <= 0)
        {
          g_autofree char *ds = format_time (delta);
          g_set_error (error, SS_ERROR, SS_ERROR_INVALID_DATA,
                       "Shifting track “%s” by %s would move a clip entirely before the start of the timeline",
                       t->name, ds);
          return FALSE;
        }
      if (e > SS_PROJECT_MAX_TIME)
        {
          g_set_error (error, SS_ERROR, SS_ERROR_INVALID_DATA, "A clip would end more than one week into the timeline");
          return FALSE;
        }
      if (s < 0 && !check_clip_takes (self, t, c, -s, e, error))
        return FALSE;
    }

  SsDoc *before = edit_begin (self);
  t = writable_track (self, t);
  for (guint j = 0; j < t->clips->len; j++)
    {
      SsClip *c = g_ptr_array_index (t->clips, j);
      SsTime s = c->start + delta;
      if (s < 0)
        {
          /* The head falls before 0: cut it off. */
          for (guint k = 0; k < c->takes->len; k++)
            ((SsTake *) g_ptr_array_index (c->takes, k))->source_in += -s;
          c->duration += s;
          s = 0;
        }
      c->start = s;
    }
  edit_commit (self, "Shift Track", before);
  return TRUE;
}

/* ---- groups, undo, redo ---- */

void
ss_project_begin_group (SsProject *self, const char *label)
{
  g_return_if_fail (SS_IS_PROJECT (self));
  if (self->group_depth++ == 0)
    {
      g_free (self->group_label);
      self->group_label = g_strdup (label ? label : "Edit");
      g_clear_pointer (&self->group_doc, ss_doc_free);
    }
}

void
ss_project_end_group (SsProject *self)
{
  g_return_if_fail (SS_IS_PROJECT (self));
  g_return_if_fail (self->group_depth > 0);
  if (--self->group_depth > 0)
    return;
  if (self->group_doc)
    {
      push_undo (self, self->group_label, g_steal_pointer (&self->group_doc), self->group_state);
      notify_state (self);
    }
  g_clear_pointer (&self->group_label, g_free);
}

gboolean
ss_project_can_undo (SsProject *self)
{
  g_return_val_if_fail (SS_IS_PROJECT (self), FALSE);
  return self->group_depth == 0 && self->undo.length > 0;
}

gboolean
ss_project_can_redo (SsProject *self)
{
  g_return_val_if_fail (SS_IS_PROJECT (self), FALSE);
  return self->group_depth == 0 && self->redo.length > 0;
}

const char *
ss_project_get_undo_label (SsProject *self)
{
  g_return_val_if_fail (SS_IS_PROJECT (self), NULL);
  Step *s = g_queue_peek_head (&self->undo);
  return s ? s->label : NULL;
}

const char *
ss_project_get_redo_label (SsProject *self)
{
  g_return_val_if_fail (SS_IS_PROJECT (self), NULL);
  Step *s = g_queue_peek_head (&self->redo);
  return s ? s->label : NULL;
}

guint
ss_project_get_undo_depth (SsProject *self)
{
  g_return_val_if_fail (SS_IS_PROJECT (self), 0);
  return self->undo.length;
}

/* Moves the head of @from to the document and the document to @to. */
static gboolean
swap_step (SsProject *self, GQueue *from, GQueue *to, gboolean to_is_undo)
{
  if (self->group_depth > 0)
    return FALSE;
  Step *step = g_queue_pop_head (from);
  if (!step)
    return FALSE;
  if (!to_is_undo)
    self->undo_bytes -= MIN (self->undo_bytes, step->bytes);

  SsDoc *doc = step->doc;
  guint64 state = step->state;
  step->doc = self->doc;
  step->state = self->state_id;
  self->doc = doc;
  self->state_id = state;
  step->bytes = doc_unique_bytes (step->doc, self->doc);

  if (to_is_undo)
    self->undo_bytes += step->bytes;
  g_queue_push_head (to, step);
  if (to_is_undo)
    trim_undo (self);
  emit_changed (self);
  return TRUE;
}

gboolean
ss_project_undo (SsProject *self)
{
  g_return_val_if_fail (SS_IS_PROJECT (self), FALSE);
  return swap_step (self, &self->undo, &self->redo, FALSE);
}

gboolean
ss_project_redo (SsProject *self)
{
  g_return_val_if_fail (SS_IS_PROJECT (self), FALSE);
  return swap_step (self, &self->redo, &self->undo, TRUE);
}

void
ss_project_clear_history (SsProject *self)
{
  g_return_if_fail (SS_IS_PROJECT (self));
  clear_queue (&self->undo);
  clear_queue (&self->redo);
  self->undo_bytes = 0;
  notify_state (self);
}
