/* ss-project-io.c: project JSON (read, validate, write), atomic save with
 * backup, and crash recovery files.
 *
 * Reading is defensive: the raw bytes are checked first (size, UTF-8, nesting
 * depth, integer literals that json-glib would silently wrap), then every field
 * is checked for type, range and consistency (unique ids, references, no
 * overlapping clips, takes inside their media) before a document is built. Any
 * problem gives SS_ERROR_INVALID_DATA with the location of the bad field.
 */
#define G_LOG_DOMAIN "ss-project"

#include "config.h"
#include "ss-project-private.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <glib/gstdio.h>
#include <json-glib/json-glib.h>

/* ---------------------------------------------------------------------------
 * Raw checks before json-glib sees the data
 */

static gboolean
prescan (const char *data, gsize len, GError **error)
{
  if (len == 0)
    {
      g_set_error (error, SS_ERROR, SS_ERROR_INVALID_DATA, "The project file is empty");
      return FALSE;
    }
  if (len > SS_PROJECT_MAX_FILE_SIZE)
    {
      g_set_error (error, SS_ERROR, SS_ERROR_INVALID_DATA,
                   "The project file is too large (%" G_GSIZE_FORMAT " MB; a project is at most %d MB)",
                   len / (1024 * 1024), SS_PROJECT_MAX_FILE_SIZE / (1024 * 1024));
      return FALSE;
    }
  if (!g_utf8_validate_len (data, len, NULL))
    {
      g_set_error (error, SS_ERROR, SS_ERROR_INVALID_DATA,
                   "The project file is not a text file (it contains bytes that are not UTF-8 text)");
      return FALSE;
    }

  int depth = 0;
  gboolean in_string = FALSE;
  for (gsize i = 0; i < len; i++)
    {
      char ch = data[i];
      if (in_string)
        {
          if (ch == '\\')
            {
              if (i + 5 < len && data[i + 1] == 'u' && memcmp (data + i + 2, "0000", 4) == 0)
                {
                  g_set_error (error, SS_ERROR, SS_ERROR_INVALID_DATA,
                               "The project file contains a text with a NUL character");
                  return FALSE;
                }
              i++;
            }
          else if (ch == '"')
            in_string = FALSE;
          continue;
        }
      switch (ch)
        {
        case '"':
          in_string = TRUE;
          break;
        case '[':
        case '{':
          if (++depth > SS_PROJECT_MAX_DEPTH)
            {
              g_set_error (error, SS_ERROR, SS_ERROR_INVALID_DATA,
                           "The project file is nested too deeply (more than %d levels)", SS_PROJECT_MAX_DEPTH);
              return FALSE;
            }
          break;
        case ']':
        case '}':
          depth--;
          break;
        case '-':
        case '0': case '1': case '2': case '3': case '4':
        case '5': case '6': case '7': case '8': case '9':
          {
            gsize j = i, digits = 0;
            gboolean is_int = TRUE;
            while (j < len && (g_ascii_isdigit (data[j]) || data[j] == '-' || data[j] == '+' ||
                               data[j] == '.' || data[j] == 'e' || data[j] == 'E'))
              {
                if (g_ascii_isdigit (data[j]))
                  digits++;
                else if (data[j] == '.' || data[j] == 'e' || data[j] == 'E')
                  is_int = FALSE;
                j++;
              }
            /* json-glib wraps integers that do not fit 64 bits. */
            if (is_int && digits > 18)
              {
                g_set_error (error, SS_ERROR, SS_ERROR_INVALID_DATA,
                             "The project file contains a number that is too large (%.*s)",
                             (int) MIN (j - i, 40), data + i);
                return FALSE;
              }
            if (j - i > 64)
              {
                g_set_error (error, SS_ERROR, SS_ERROR_INVALID_DATA,
                             "The project file contains a number that is too long");
                return FALSE;
              }
            i = j - 1;
          }
          break;
        default:
          break;
        }
    }
  return TRUE;
}

/* Parses and returns the root object (owned by @parser_out). */
static JsonObject *
parse_root (const char *data, gsize len, JsonParser **parser_out, GError **error)
{
  if (!prescan (data, len, error))
    return NULL;

  g_autoptr(JsonParser) parser = json_parser_new_immutable ();
  g_autoptr(GError) local = NULL;
  if (!json_parser_load_from_data (parser, data, (gssize) len, &local))
    {
      g_set_error (error, SS_ERROR, SS_ERROR_INVALID_DATA,
                   "The project file is not valid JSON (%s)", local->message);
      return NULL;
    }
  JsonNode *root = json_parser_get_root (parser);
  if (root == NULL || !JSON_NODE_HOLDS_OBJECT (root))
    {
      g_set_error (error, SS_ERROR, SS_ERROR_INVALID_DATA,
                   "This is not a Soundstage project (the file does not contain a JSON object)");
      return NULL;
    }
  JsonObject *obj = json_node_get_object (root);
  *parser_out = g_steal_pointer (&parser);
  return obj;
}

/* ---------------------------------------------------------------------------
 * Typed field access with clear errors
 */

static gboolean
field_error (GError **error, const char *where, const char *name, const char *fmt, ...) G_GNUC_PRINTF (4, 5);

static gboolean
field_error (GError **error, const char *where, const char *name, const char *fmt, ...)
{
  va_list args;
  va_start (args, fmt);
  g_autofree char *msg = g_strdup_vprintf (fmt, args);
  va_end (args);
  g_set_error (error, SS_ERROR, SS_ERROR_INVALID_DATA,
               "The project file is damaged: %s%s“%s” %s", where, where[0] ? ": " : "", name, msg);
  return FALSE;
}

static JsonNode *
member (JsonObject *o, const char *name)
{
  JsonNode *n = json_object_get_member (o, name);
  if (n && JSON_NODE_HOLDS_NULL (n))
    return NULL;
  return n;
}

static gboolean
get_int (JsonObject *o, const char *where, const char *name, gboolean required, gint64 def,
         gint64 min, gint64 max, gint64 *out, GError **error)
{
  JsonNode *n = member (o, name);
  if (!n)
    {
      if (required)
        return field_error (error, where, name, "is missing");
      *out = def;
      return TRUE;
    }
  if (!JSON_NODE_HOLDS_VALUE (n) || json_node_get_value_type (n) != G_TYPE_INT64)
    return field_error (error, where, name, "must be a whole number");
  gint64 v = json_node_get_int (n);
  if (v < min || v > max)
    return field_error (error, where, name, "must be between %" G_GINT64_FORMAT " and %" G_GINT64_FORMAT
                        " (it is %" G_GINT64_FORMAT ")", min, max, v);
  *out = v;
  return TRUE;
}

static gboolean
get_int32 (JsonObject *o, const char *where, const char *name, gint64 min, gint64 max, int *out, GError **error)
{
  gint64 v;
  if (!get_int (o, where, name, FALSE, 0, min, max, &v, error))
    return FALSE;
  *out = (int) v;
  return TRUE;
}

static gboolean
get_double (JsonObject *o, const char *where, const char *name, double def, double min, double max,
            double *out, GError **error)
{
  JsonNode *n = member (o, name);
  if (!n)
    {
      *out = def;
      return TRUE;
    }
  if (!JSON_NODE_HOLDS_VALUE (n))
    return field_error (error, where, name, "must be a number");
  GType t = json_node_get_value_type (n);
  double v;
  if (t == G_TYPE_INT64)
    v = (double) json_node_get_int (n);
  else if (t == G_TYPE_DOUBLE)
    v = json_node_get_double (n);
  else
    return field_error (error, where, name, "must be a number");
  if (!isfinite (v) || v < min || v > max)
    return field_error (error, where, name, "must be between %g and %g (it is %g)", min, max, v);
  *out = v;
  return TRUE;
}

static gboolean
get_bool (JsonObject *o, const char *where, const char *name, gboolean required, gboolean *out, GError **error)
{
  JsonNode *n = member (o, name);
  if (!n)
    {
      if (required)
        return field_error (error, where, name, "is missing");
      *out = FALSE;
      return TRUE;
    }
  if (!JSON_NODE_HOLDS_VALUE (n) || json_node_get_value_type (n) != G_TYPE_BOOLEAN)
    return field_error (error, where, name, "must be true or false");
  *out = json_node_get_boolean (n);
  return TRUE;
}

static gboolean
get_string (JsonObject *o, const char *where, const char *name, gboolean required, gsize max_len,
            const char **out, GError **error)
{
  JsonNode *n = member (o, name);
  if (!n)
    {
      if (required)
        return field_error (error, where, name, "is missing");
      *out = NULL;
      return TRUE;
    }
  if (!JSON_NODE_HOLDS_VALUE (n) || json_node_get_value_type (n) != G_TYPE_STRING)
    return field_error (error, where, name, "must be a text");
  const char *s = json_node_get_string (n);
  if (s == NULL)
    s = "";
  if (strnlen (s, max_len + 1) > max_len)
    return field_error (error, where, name, "is too long (more than %" G_GSIZE_FORMAT " bytes)", max_len);
  *out = s;
  return TRUE;
}

static gboolean
get_id (JsonObject *o, const char *where, const char **out, GError **error)
{
  if (!get_string (o, where, "id", TRUE, SS_PROJECT_MAX_ID, out, error))
    return FALSE;
  g_autofree char *what = g_strdup_printf ("The project file is damaged: %s", where);
  return ss_check_id (*out, what, error);
}

static gboolean
get_array (JsonObject *o, const char *where, const char *name, gboolean required, guint max,
           JsonArray **out, GError **error)
{
  JsonNode *n = member (o, name);
  if (!n)
    {
      if (required)
        return field_error (error, where, name, "is missing");
      *out = NULL;
      return TRUE;
    }
  if (!JSON_NODE_HOLDS_ARRAY (n))
    return field_error (error, where, name, "must be a list");
  JsonArray *a = json_node_get_array (n);
  if (json_array_get_length (a) > max)
    return field_error (error, where, name, "has too many entries (%u; at most %u)", json_array_get_length (a), max);
  *out = a;
  return TRUE;
}

static JsonObject *
get_element_object (JsonArray *a, guint i, const char *where, GError **error)
{
  JsonNode *n = json_array_get_element (a, i);
  if (!n || !JSON_NODE_HOLDS_OBJECT (n))
    {
      g_set_error (error, SS_ERROR, SS_ERROR_INVALID_DATA,
                   "The project file is damaged: %s must be an object", where);
      return NULL;
    }
  return json_node_get_object (n);
}

static gboolean
damaged (GError **error, const char *where, const char *fmt, ...) G_GNUC_PRINTF (3, 4);

static gboolean
damaged (GError **error, const char *where, const char *fmt, ...)
{
  va_list args;
  va_start (args, fmt);
  g_autofree char *msg = g_strdup_vprintf (fmt, args);
  va_end (args);
  g_set_error (error, SS_ERROR, SS_ERROR_INVALID_DATA, "The project file is damaged: %s: %s", where, msg);
  return FALSE;
}

/* ---------------------------------------------------------------------------
 * Paths
 */

static char *
make_relative (const char *base_dir, const char *path)
{
  if (base_dir == NULL || path == NULL || !g_path_is_absolute (path))
    return NULL;
  g_autofree char *base = g_canonicalize_filename (base_dir, NULL);
  g_auto(GStrv) b = g_strsplit (base, G_DIR_SEPARATOR_S, -1);
  g_auto(GStrv) p = g_strsplit (path, G_DIR_SEPARATOR_S, -1);
  /* drop empty components */
  GPtrArray *bv = g_ptr_array_new (), *pv = g_ptr_array_new ();
  for (char **s = b; *s; s++)
    if (**s)
      g_ptr_array_add (bv, *s);
  for (char **s = p; *s; s++)
    if (**s)
      g_ptr_array_add (pv, *s);
  guint common = 0;
  while (common < bv->len && common < pv->len &&
         strcmp (g_ptr_array_index (bv, common), g_ptr_array_index (pv, common)) == 0)
    common++;
  GString *out = g_string_new (NULL);
  for (guint i = common; i < bv->len; i++)
    g_string_append (out, "../");
  for (guint i = common; i < pv->len; i++)
    {
      g_string_append (out, g_ptr_array_index (pv, i));
      if (i + 1 < pv->len)
        g_string_append_c (out, '/');
    }
  g_ptr_array_unref (bv);
  g_ptr_array_unref (pv);
  if (out->len == 0)
    g_string_append_c (out, '.');
  return g_string_free (out, FALSE);
}

static gboolean
file_exists (const char *path)
{
  return path != NULL && g_file_test (path, G_FILE_TEST_EXISTS);
}

/* ---------------------------------------------------------------------------
 * JSON -> document
 */

static SsMedia *
media_from_json (JsonObject *o, const char *where, const char *base_dir, GError **error)
{
  const char *id, *rel = NULL, *abs = NULL;
  gint64 duration;
  gboolean has_video, has_audio;
  SsMedia info = { 0 };

  if (!get_id (o, where, &id, error) ||
      !get_string (o, where, "path", FALSE, SS_PROJECT_MAX_PATH, &rel, error) ||
      !get_string (o, where, "absolute_path", FALSE, SS_PROJECT_MAX_PATH, &abs, error) ||
      !get_bool (o, where, "has_video", TRUE, &has_video, error) ||
      !get_bool (o, where, "has_audio", TRUE, &has_audio, error) ||
      !get_int (o, where, "duration_us", TRUE, 0, 1, SS_PROJECT_MAX_TIME, &duration, error) ||
      !get_int32 (o, where, "width", 0, SS_PROJECT_MAX_DIM, &info.width, error) ||
      !get_int32 (o, where, "height", 0, SS_PROJECT_MAX_DIM, &info.height, error) ||
      !get_int32 (o, where, "fps_num", 0, SS_PROJECT_MAX_FPS_PART, &info.fps_num, error) ||
      !get_int32 (o, where, "fps_den", 0, SS_PROJECT_MAX_FPS_PART, &info.fps_den, error) ||
      !get_int32 (o, where, "sample_rate", 0, SS_PROJECT_MAX_RATE, &info.sample_rate, error) ||
      !get_int32 (o, where, "channels", 0, SS_PROJECT_MAX_CHANNELS, &info.channels, error))
    return NULL;

  if ((rel == NULL || rel[0] == '\0') && (abs == NULL || abs[0] == '\0'))
    return damaged (error, where, "the media has no file name"), NULL;
  if (abs && abs[0] && !g_path_is_absolute (abs))
    return field_error (error, where, "absolute_path", "must be an absolute path"), NULL;
  if (rel && rel[0] == '\0')
    rel = NULL;
  if (abs && abs[0] == '\0')
    abs = NULL;

  info.has_video = has_video;
  info.has_audio = has_audio;
  info.duration = duration;
  g_autofree char *what = g_strdup_printf ("The project file is damaged: %s", where);
  if (!ss_check_media_info (&info, what, error))
    return NULL;

  /* Resolve: relative to the project first, then the absolute path. */
  g_autofree char *from_rel = NULL;
  if (rel)
    {
      if (g_path_is_absolute (rel))
        from_rel = g_canonicalize_filename (rel, NULL);
      else if (base_dir)
        from_rel = g_canonicalize_filename (rel, base_dir);
    }
  g_autofree char *from_abs = abs ? g_canonicalize_filename (abs, NULL) : NULL;

  SsMediaRec *rec = (SsMediaRec *) ss_media_rec_new ();
  rec->media = info;
  rec->media.id = g_strdup (id);
  if (file_exists (from_rel))
    rec->media.path = g_steal_pointer (&from_rel);
  else if (file_exists (from_abs))
    rec->media.path = g_steal_pointer (&from_abs);
  else
    {
      rec->media.missing = TRUE;
      if (from_abs)
        {
          rec->media.path = g_steal_pointer (&from_abs);
          /* remember where the relative path pointed, to write it back */
          rec->rel_target = g_steal_pointer (&from_rel);
        }
      else if (from_rel)
        rec->media.path = g_steal_pointer (&from_rel);
      else
        rec->media.path = g_canonicalize_filename (rel, NULL);
    }
  return &rec->media;
}

static gboolean
check_unique (GHashTable *ids, const char *id, const char *where, const char *kind, GError **error)
{
  if (g_hash_table_contains (ids, id))
    return damaged (error, where, "the %s id “%s” is used twice", kind, id);
  g_hash_table_add (ids, g_strdup (id));
  return TRUE;
}

static SsClip *
clip_from_json (JsonObject *o, const char *where, GHashTable *media_by_id, SsTrackKind kind,
                GHashTable *clip_ids, GHashTable *take_ids, GError **error)
{
  const char *id;
  gint64 start, duration, active;
  double gain;
  JsonArray *takes;

  if (!get_id (o, where, &id, error) ||
      !check_unique (clip_ids, id, where, "clip", error) ||
      !get_int (o, where, "start_us", TRUE, 0, 0, SS_PROJECT_MAX_TIME, &start, error) ||
      !get_int (o, where, "duration_us", TRUE, 0, 1, SS_PROJECT_MAX_TIME, &duration, error) ||
      !get_double (o, where, "gain_db", 0.0, SS_GAIN_MIN_DB, SS_GAIN_MAX_DB, &gain, error) ||
      !get_array (o, where, "takes", TRUE, SS_PROJECT_MAX_TAKES, &takes, error) ||
      !get_int (o, where, "active_take", FALSE, 0, 0, SS_PROJECT_MAX_TAKES, &active, error))
    return NULL;
  if (start + duration > SS_PROJECT_MAX_TIME)
    return damaged (error, where, "the clip ends more than one week into the timeline"), NULL;
  guint n_takes = json_array_get_length (takes);
  if (n_takes == 0)
    return damaged (error, where, "the clip has no takes"), NULL;
  if (active >= n_takes)
    return field_error (error, where, "active_take", "must be less than the number of takes (%u)", n_takes), NULL;

  g_autoptr(GPtrArray) list = g_ptr_array_new_with_free_func ((GDestroyNotify) ss_take_free);
  for (guint k = 0; k < n_takes; k++)
    {
      g_autofree char *twhere = g_strdup_printf ("%s.takes[%u]", where, k);
      JsonObject *to = get_element_object (takes, k, twhere, error);
      const char *tid, *media_id, *label;
      gint64 source_in;
      if (!to ||
          !get_id (to, twhere, &tid, error) ||
          !check_unique (take_ids, tid, twhere, "take", error) ||
          !get_string (to, twhere, "media_id", TRUE, SS_PROJECT_MAX_ID, &media_id, error) ||
          !get_int (to, twhere, "source_in_us", FALSE, 0, 0, SS_PROJECT_MAX_TIME, &source_in, error) ||
          !get_string (to, twhere, "label", FALSE, SS_PROJECT_MAX_LABEL, &label, error))
        return NULL;
      SsMedia *m = g_hash_table_lookup (media_by_id, media_id);
      if (!m)
        return damaged (error, twhere, "refers to media “%s”, which is not in the project", media_id), NULL;
      g_autofree char *what = g_strdup_printf ("The project file is damaged: %s", twhere);
      if (!ss_check_take (m, kind, source_in, duration, what, error))
        return NULL;
      SsTake *take = g_new0 (SsTake, 1);
      take->id = g_strdup (tid);
      take->media_id = g_strdup (media_id);
      take->source_in = source_in;
      take->label = g_strdup (label);
      g_ptr_array_add (list, take);
    }

  SsClip *clip = ss_clip_new ();
  clip->id = g_strdup (id);
  clip->start = start;
  clip->duration = duration;
  clip->gain_db = gain;
  clip->active_take = (guint) active;
  while (list->len > 0)
    g_ptr_array_add (clip->takes, g_ptr_array_steal_index (list, 0));
  return clip;
}

static SsTrack *
track_from_json (JsonObject *o, const char *where, GHashTable *media_by_id, GHashTable *clip_ids,
                 GHashTable *take_ids, guint *total_clips, GError **error)
{
  const char *id, *kind_s, *name;
  gboolean muted, solo;
  double gain;
  JsonArray *clips;

  if (!get_id (o, where, &id, error) ||
      !get_string (o, where, "kind", TRUE, 16, &kind_s, error) ||
      !get_string (o, where, "name", FALSE, SS_PROJECT_MAX_NAME, &name, error) ||
      !get_bool (o, where, "muted", FALSE, &muted, error) ||
      !get_bool (o, where, "solo", FALSE, &solo, error) ||
      !get_double (o, where, "gain_db", 0.0, SS_GAIN_MIN_DB, SS_GAIN_MAX_DB, &gain, error) ||
      !get_array (o, where, "clips", FALSE, SS_PROJECT_MAX_CLIPS, &clips, error))
    return NULL;

  SsTrackKind kind;
  if (strcmp (kind_s, "video") == 0)
    kind = SS_TRACK_VIDEO;
  else if (strcmp (kind_s, "audio") == 0)
    kind = SS_TRACK_AUDIO;
  else
    return field_error (error, where, "kind", "must be \"video\" or \"audio\""), NULL;

  g_autoptr(SsTrack) track = ss_track_new ();
  track->id = g_strdup (id);
  track->kind = kind;
  track->name = g_strdup (name && name[0] ? name : (kind == SS_TRACK_VIDEO ? "Video" : "Audio"));
  track->muted = muted;
  track->solo = solo;
  track->gain_db = gain;

  guint n = clips ? json_array_get_length (clips) : 0;
  if (*total_clips + n > SS_PROJECT_MAX_CLIPS)
    return damaged (error, where, "the project has too many clips (at most %d)", SS_PROJECT_MAX_CLIPS), NULL;
  *total_clips += n;
  for (guint j = 0; j < n; j++)
    {
      g_autofree char *cwhere = g_strdup_printf ("%s.clips[%u]", where, j);
      JsonObject *co = get_element_object (clips, j, cwhere, error);
      if (!co)
        return NULL;
      SsClip *clip = clip_from_json (co, cwhere, media_by_id, kind, clip_ids, take_ids, error);
      if (!clip)
        return NULL;
      g_ptr_array_add (track->clips, clip);
    }
  ss_track_sort (track);
  for (guint j = 1; j < track->clips->len; j++)
    {
      SsClip *a = g_ptr_array_index (track->clips, j - 1);
      SsClip *b = g_ptr_array_index (track->clips, j);
      if (a->start + a->duration > b->start)
        return damaged (error, where, "clips “%s” and “%s” overlap", a->id, b->id), NULL;
    }
  return g_steal_pointer (&track);
}


static gboolean
check_format (JsonObject *root, GError **error)
{
  JsonNode *fn = member (root, "format");
  if (!fn || !JSON_NODE_HOLDS_VALUE (fn) || json_node_get_value_type (fn) != G_TYPE_STRING ||
      g_strcmp0 (json_node_get_string (fn), SS_PROJECT_FORMAT) != 0)
    {
      g_set_error (error, SS_ERROR, SS_ERROR_INVALID_DATA,
                   "This is not a Soundstage project (its “format” is not \"%s\")", SS_PROJECT_FORMAT);
      return FALSE;
    }
  JsonNode *vn = member (root, "version");
  if (!vn || !JSON_NODE_HOLDS_VALUE (vn) || json_node_get_value_type (vn) != G_TYPE_INT64 ||
      json_node_get_int (vn) < 1)
    {
      g_set_error (error, SS_ERROR, SS_ERROR_INVALID_DATA,
                   "The project file is damaged: its “version” must be a whole number of at least 1");
      return FALSE;
    }
  gint64 version = json_node_get_int (vn);
  if (version > SS_PROJECT_VERSION)
    {
      g_set_error (error, SS_ERROR, SS_ERROR_UNSUPPORTED,
                   "This project was saved by a newer version of Soundstage (format %" G_GINT64_FORMAT
                   "); this version reads up to format %d.", version, SS_PROJECT_VERSION);
      return FALSE;
    }
  return TRUE;
}

static SsDoc *
doc_from_json (JsonObject *root, const char *base_dir, GError **error)
{
  if (!check_format (root, error))
    return NULL;

  JsonArray *media, *tracks;
  if (!get_array (root, "", "media", FALSE, SS_PROJECT_MAX_MEDIA, &media, error) ||
      !get_array (root, "", "tracks", TRUE, SS_PROJECT_MAX_TRACKS, &tracks, error))
    return NULL;

  g_autoptr(SsDoc) doc = ss_doc_new ();
  /* id -> SsMedia* (keys owned by the media) */
  g_autoptr(GHashTable) media_by_id = g_hash_table_new (g_str_hash, g_str_equal);
  guint n_media = media ? json_array_get_length (media) : 0;
  for (guint i = 0; i < n_media; i++)
    {
      g_autofree char *where = g_strdup_printf ("media[%u]", i);
      JsonObject *mo = get_element_object (media, i, where, error);
      if (!mo)
        return NULL;
      SsMedia *m = media_from_json (mo, where, base_dir, error);
      if (!m)
        return NULL;
      g_ptr_array_add (doc->media, m);
      if (g_hash_table_contains (media_by_id, m->id))
        return damaged (error, where, "the media id “%s” is used twice", m->id), NULL;
      g_hash_table_insert (media_by_id, m->id, m);
    }

  g_autoptr(GHashTable) track_ids = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  g_autoptr(GHashTable) clip_ids = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  g_autoptr(GHashTable) take_ids = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  guint total_clips = 0, n_video = 0;
  guint n_tracks = json_array_get_length (tracks);
  for (guint i = 0; i < n_tracks; i++)
    {
      g_autofree char *where = g_strdup_printf ("tracks[%u]", i);
      JsonObject *to = get_element_object (tracks, i, where, error);
      if (!to)
        return NULL;
      SsTrack *t = track_from_json (to, where, media_by_id, clip_ids, take_ids, &total_clips, error);
      if (!t)
        return NULL;
      if (!check_unique (track_ids, t->id, where, "track", error))
        {
          ss_track_free (t);
          return NULL;
        }
      if (t->kind == SS_TRACK_VIDEO)
        {
          if (++n_video > 1)
            {
              ss_track_free (t);
              return damaged (error, where, "a project has only one video track"), NULL;
            }
          g_ptr_array_insert (doc->tracks, 0, t);
        }
      else
        g_ptr_array_add (doc->tracks, t);
    }
  if (n_video == 0)
    {
      g_set_error (error, SS_ERROR, SS_ERROR_INVALID_DATA, "The project file is damaged: it has no video track");
      return NULL;
    }
  return g_steal_pointer (&doc);
}

SsProject *
ss_project_load_from_data (const char *data, gsize len, const char *base_dir, GError **error)
{
  g_return_val_if_fail (data != NULL || len == 0, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  g_autoptr(JsonParser) parser = NULL;
  JsonObject *root = parse_root (data ? data : "", len, &parser, error);
  if (!root)
    return NULL;
  SsDoc *doc = doc_from_json (root, base_dir, error);
  if (!doc)
    return NULL;
  return ss_project_new_from_doc (doc);
}

/* ---------------------------------------------------------------------------
 * Document -> JSON
 */

/* Members of the object being built. */
static void
put_string (JsonBuilder *b, const char *name, const char *value)
{
  json_builder_set_member_name (b, name);
  json_builder_add_string_value (b, value);
}

static void
put_int (JsonBuilder *b, const char *name, gint64 value)
{
  json_builder_set_member_name (b, name);
  json_builder_add_int_value (b, value);
}

static void
put_double (JsonBuilder *b, const char *name, double value)
{
  json_builder_set_member_name (b, name);
  json_builder_add_double_value (b, value);
}

static void
put_bool (JsonBuilder *b, const char *name, gboolean value)
{
  json_builder_set_member_name (b, name);
  json_builder_add_boolean_value (b, value);
}

static JsonNode *
doc_to_json (SsDoc *doc, const char *base_dir, const char *recovery_original, gboolean recovery)
{
  g_autoptr(JsonBuilder) b = json_builder_new_immutable ();
  json_builder_begin_object (b);
  put_string (b, "format", SS_PROJECT_FORMAT);
  put_int (b, "version", SS_PROJECT_VERSION);
  put_string (b, "generator", "Soundstage " PACKAGE_VERSION);
  if (recovery)
    {
      json_builder_set_member_name (b, "recovery");
      json_builder_begin_object (b);
      json_builder_set_member_name (b, "original_path");
      if (recovery_original)
        json_builder_add_string_value (b, recovery_original);
      else
        json_builder_add_null_value (b);
      json_builder_end_object (b);
    }

  json_builder_set_member_name (b, "media");
  json_builder_begin_array (b);
  for (guint i = 0; i < doc->media->len; i++)
    {
      SsMediaRec *rec = g_ptr_array_index (doc->media, i);
      SsMedia *m = &rec->media;
      json_builder_begin_object (b);
      put_string (b, "id", m->id);
      g_autofree char *rel = make_relative (base_dir, rec->rel_target ? rec->rel_target : m->path);
      if (rel)
        put_string (b, "path", rel);
      if (m->path && g_path_is_absolute (m->path))
        put_string (b, "absolute_path", m->path);
      put_bool (b, "has_video", m->has_video);
      put_bool (b, "has_audio", m->has_audio);
      put_int (b, "duration_us", m->duration);
      put_int (b, "width", m->width);
      put_int (b, "height", m->height);
      put_int (b, "fps_num", m->fps_num);
      put_int (b, "fps_den", m->fps_den);
      put_int (b, "sample_rate", m->sample_rate);
      put_int (b, "channels", m->channels);
      json_builder_end_object (b);
    }
  json_builder_end_array (b);

  json_builder_set_member_name (b, "tracks");
  json_builder_begin_array (b);
  for (guint i = 0; i < doc->tracks->len; i++)
    {
      SsTrack *t = g_ptr_array_index (doc->tracks, i);
      json_builder_begin_object (b);
      put_string (b, "id", t->id);
      put_string (b, "kind", ss_track_kind_to_string (t->kind));
      put_string (b, "name", t->name);
      put_bool (b, "muted", t->muted);
      put_bool (b, "solo", t->solo);
      put_double (b, "gain_db", t->gain_db);
      json_builder_set_member_name (b, "clips");
      json_builder_begin_array (b);
      for (guint j = 0; j < t->clips->len; j++)
        {
          SsClip *c = g_ptr_array_index (t->clips, j);
          json_builder_begin_object (b);
          put_string (b, "id", c->id);
          put_int (b, "start_us", c->start);
          put_int (b, "duration_us", c->duration);
          put_double (b, "gain_db", c->gain_db);
          put_int (b, "active_take", c->active_take);
          json_builder_set_member_name (b, "takes");
          json_builder_begin_array (b);
          for (guint k = 0; k < c->takes->len; k++)
            {
              SsTake *take = g_ptr_array_index (c->takes, k);
              json_builder_begin_object (b);
              put_string (b, "id", take->id);
              put_string (b, "media_id", take->media_id);
              put_int (b, "source_in_us", take->source_in);
              if (take->label)
                put_string (b, "label", take->label);
              json_builder_end_object (b);
            }
          json_builder_end_array (b);
          json_builder_end_object (b);
        }
      json_builder_end_array (b);
      json_builder_end_object (b);
    }
  json_builder_end_array (b);
  json_builder_end_object (b);
  return json_builder_get_root (b);
}

static char *
node_to_string (JsonNode *node, gsize *len)
{
  g_autoptr(JsonGenerator) gen = json_generator_new ();
  json_generator_set_pretty (gen, TRUE);
  json_generator_set_indent (gen, 2);
  json_generator_set_root (gen, node);
  gsize n = 0;
  char *data = json_generator_to_data (gen, &n);
  /* end with a newline, like a text file should */
  char *out = g_realloc (data, n + 2);
  out[n] = '\n';
  out[n + 1] = '\0';
  if (len)
    *len = n + 1;
  return out;
}

char *
ss_project_to_json_for_dir (SsProject *self, const char *base_dir, gsize *len)
{
  g_return_val_if_fail (SS_IS_PROJECT (self), NULL);
  g_autoptr(JsonNode) node = doc_to_json (ss_project_get_doc (self), base_dir, NULL, FALSE);
  return node_to_string (node, len);
}

char *
ss_project_to_json (SsProject *self, gsize *len)
{
  g_return_val_if_fail (SS_IS_PROJECT (self), NULL);
  const char *path = ss_project_get_path (self);
  g_autofree char *dir = path ? g_path_get_dirname (path) : NULL;
  return ss_project_to_json_for_dir (self, dir, len);
}

/* ---------------------------------------------------------------------------
 * Atomic write
 */

static gboolean
io_error (GError **error, int errsv, const char *path, const char *what)
{
  g_autofree char *display = g_filename_display_name (path);
  g_set_error (error, SS_ERROR, errsv == ENOENT ? SS_ERROR_NOT_FOUND : SS_ERROR_IO,
               "Could not save “%s”: %s (%s)", display, what, g_strerror (errsv));
  return FALSE;
}

static gboolean
write_all (int fd, const char *data, gsize len)
{
  while (len > 0)
    {
      ssize_t n = write (fd, data, len);
      if (n < 0)
        {
          if (errno == EINTR)
            continue;
          return FALSE;
        }
      data += n;
      len -= (gsize) n;
    }
  return TRUE;
}

static void
fsync_dir (const char *dir)
{
  int fd = open (dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd >= 0)
    {
      fsync (fd);
      close (fd);
    }
}

/* Writes @data into a new temp file next to @target and returns its name. */
static char *
write_temp (const char *target, const char *data, gsize len, mode_t mode, GError **error)
{
  g_autofree char *dir = g_path_get_dirname (target);
  g_autofree char *base = g_path_get_basename (target);
  char *tmp = g_strdup_printf ("%s/.%s.XXXXXX", dir, base);
  int fd = g_mkstemp_full (tmp, O_RDWR | O_CLOEXEC, 0666);
  if (fd < 0)
    {
      int errsv = errno;
      io_error (error, errsv, target, "cannot create a file in its folder");
      g_free (tmp);
      return NULL;
    }
  if (mode)
    fchmod (fd, mode & 07777);
  if (!write_all (fd, data, len) || fsync (fd) != 0)
    {
      int errsv = errno;
      close (fd);
      g_unlink (tmp);
      io_error (error, errsv, target, "writing failed");
      g_free (tmp);
      return NULL;
    }
  if (close (fd) != 0)
    {
      int errsv = errno;
      g_unlink (tmp);
      io_error (error, errsv, target, "writing failed");
      g_free (tmp);
      return NULL;
    }
  return tmp;
}

/* Makes @target.bak a copy of @target (hard link when possible). */
static gboolean
make_backup (const char *target, GError **error)
{
  g_autofree char *bak = g_strconcat (target, ".bak", NULL);
  g_autofree char *dir = g_path_get_dirname (target);
  g_autofree char *base = g_path_get_basename (target);
  g_autofree char *tmp = g_strdup_printf ("%s/.%s.bak.%08x", dir, base, g_random_int ());

  if (link (target, tmp) != 0)
    {
      /* No hard links here: copy. */
      g_autofree char *contents = NULL;
      gsize len = 0;
      g_autoptr(GError) local = NULL;
      if (!g_file_get_contents (target, &contents, &len, &local))
        {
          g_autofree char *display = g_filename_display_name (target);
          g_set_error (error, SS_ERROR, SS_ERROR_IO, "Could not save “%s”: cannot read the previous version to keep a backup (%s)",
                       display, local->message);
          return FALSE;
        }
      g_free (tmp);
      tmp = write_temp (bak, contents, len, 0, error);
      if (!tmp)
        {
          g_prefix_error (error, "Keeping a backup failed. ");
          return FALSE;
        }
    }
  if (g_rename (tmp, bak) != 0)
    {
      int errsv = errno;
      g_unlink (tmp);
      return io_error (error, errsv, target, "cannot keep a backup of the previous version");
    }
  return TRUE;
}

/* Atomically replaces @path by @data (temp file, fsync, rename, fsync dir);
 * with @backup, the previous file is kept as @path.bak. On failure @path is
 * untouched. */
static gboolean
write_atomic (const char *path, const char *data, gsize len, gboolean backup, GError **error)
{
  g_autofree char *target = g_canonicalize_filename (path, NULL);

  /* Write through a symlink to its target rather than replacing the link. */
  struct stat st;
  if (lstat (target, &st) == 0 && S_ISLNK (st.st_mode))
    {
      char *real = realpath (target, NULL);
      if (real == NULL)
        return io_error (error, errno, path, "it is a link to a file that does not exist");
      g_free (target);
      target = g_strdup (real);
      free (real);
    }

  gboolean exists = FALSE;
  mode_t mode = 0;
  if (stat (target, &st) == 0)
    {
      if (!S_ISREG (st.st_mode))
        {
          g_autofree char *display = g_filename_display_name (path);
          g_set_error (error, SS_ERROR, SS_ERROR_IO, "Could not save “%s”: %s", display,
                       S_ISDIR (st.st_mode) ? "a folder of that name is in the way" : "it is not a regular file");
          return FALSE;
        }
      exists = TRUE;
      mode = st.st_mode;
    }

  g_autofree char *tmp = write_temp (target, data, len, mode, error);
  if (!tmp)
    return FALSE;

  if (exists && backup && !make_backup (target, error))
    {
      g_unlink (tmp);
      return FALSE;
    }

  if (g_rename (tmp, target) != 0)
    {
      int errsv = errno;
      g_unlink (tmp);
      return io_error (error, errsv, path, "cannot replace the file");
    }
  g_autofree char *dir = g_path_get_dirname (target);
  fsync_dir (dir);
  return TRUE;
}

gboolean
ss_project_save (SsProject *self, const char *path, GError **error)
{
  g_return_val_if_fail (SS_IS_PROJECT (self), FALSE);
  g_return_val_if_fail (path != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  g_autofree char *abs = g_canonicalize_filename (path, NULL);
  g_autofree char *dir = g_path_get_dirname (abs);
  gsize len = 0;
  g_autoptr(JsonNode) node = doc_to_json (ss_project_get_doc (self), dir, NULL, FALSE);
  g_autofree char *data = node_to_string (node, &len);

  if (!write_atomic (abs, data, len, TRUE, error))
    return FALSE;

  ss_project_remove_recovery (self);
  ss_project_set_path_internal (self, abs);
  ss_project_mark_saved (self);
  return TRUE;
}

static char *
read_file_bounded (const char *path, gsize *len, GError **error)
{
  g_autofree char *display = g_filename_display_name (path);
  struct stat st;
  if (stat (path, &st) != 0)
    {
      int errsv = errno;
      g_set_error (error, SS_ERROR, errsv == ENOENT ? SS_ERROR_NOT_FOUND : SS_ERROR_IO,
                   "Could not open “%s”: %s", display, errsv == ENOENT ? "there is no such file" : g_strerror (errsv));
      return NULL;
    }
  if (S_ISDIR (st.st_mode))
    {
      g_set_error (error, SS_ERROR, SS_ERROR_INVALID_DATA, "Could not open “%s”: it is a folder, not a project file", display);
      return NULL;
    }
  if (!S_ISREG (st.st_mode))
    {
      g_set_error (error, SS_ERROR, SS_ERROR_INVALID_DATA, "Could not open “%s”: it is not a regular file", display);
      return NULL;
    }
  if (st.st_size > SS_PROJECT_MAX_FILE_SIZE)
    {
      g_set_error (error, SS_ERROR, SS_ERROR_INVALID_DATA,
                   "Could not open “%s”: the file is too large to be a project (%lld MB; at most %d MB)",
                   display, (long long) (st.st_size / (1024 * 1024)), SS_PROJECT_MAX_FILE_SIZE / (1024 * 1024));
      return NULL;
    }
  char *contents = NULL;
  g_autoptr(GError) local = NULL;
  if (!g_file_get_contents (path, &contents, len, &local))
    {
      g_set_error (error, SS_ERROR, SS_ERROR_IO, "Could not open “%s”: %s", display, local->message);
      return NULL;
    }
  return contents;
}

SsProject *
ss_project_load (const char *path, GError **error)
{
  g_return_val_if_fail (path != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  g_autofree char *abs = g_canonicalize_filename (path, NULL);
  gsize len = 0;
  g_autofree char *data = read_file_bounded (abs, &len, error);
  if (!data)
    return NULL;
  g_autofree char *dir = g_path_get_dirname (abs);
  SsProject *self = ss_project_load_from_data (data, len, dir, error);
  if (!self)
    {
      g_autofree char *display = g_filename_display_name (path);
      g_prefix_error (error, "Could not open “%s”: ", display);
      return NULL;
    }
  ss_project_set_path_internal (self, abs);
  return self;
}

/* ---------------------------------------------------------------------------
 * Recovery
 */

char *
ss_project_recovery_dir (void)
{
  return g_build_filename (g_get_user_state_dir (), "soundstage", "recovery", NULL);
}

void
ss_recovery_info_free (SsRecoveryInfo *info)
{
  if (info == NULL)
    return;
  g_free (info->recovery_path);
  g_free (info->original_path);
  g_free (info);
}

gboolean
ss_project_write_recovery (SsProject *self, const char *recovery_path, GError **error)
{
  g_return_val_if_fail (SS_IS_PROJECT (self), FALSE);
  g_return_val_if_fail (recovery_path != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  const char *original = ss_project_get_path (self);
  g_autofree char *dir = original ? g_path_get_dirname (original) : NULL;
  g_autoptr(JsonNode) node = doc_to_json (ss_project_get_doc (self), dir, original, TRUE);
  gsize len = 0;
  g_autofree char *data = node_to_string (node, &len);
  g_autofree char *abs = g_canonicalize_filename (recovery_path, NULL);
  if (!write_atomic (abs, data, len, FALSE, error))
    return FALSE;
  ss_project_set_recovery_file (self, abs);
  return TRUE;
}

char *
ss_project_dup_recovery_path (SsProject *self)
{
  g_return_val_if_fail (SS_IS_PROJECT (self), NULL);
  const char *current = ss_project_get_recovery_file (self);
  if (current)
    return g_strdup (current);

  g_autofree char *dir = ss_project_recovery_dir ();
  g_autofree char *name = NULL;
  const char *path = ss_project_get_path (self);
  if (path)
    {
      g_autofree char *display = ss_project_dup_display_name (self);
      g_autofree char *hash = g_compute_checksum_for_string (G_CHECKSUM_SHA256, path, -1);
      /* keep the name short and safe */
      GString *safe = g_string_new (NULL);
      for (const char *p = display; *p && safe->len < 40; p++)
        g_string_append_c (safe, g_ascii_isalnum (*p) || *p == '-' || *p == '_' ? *p : '_');
      hash[16] = '\0';
      name = g_strdup_printf ("%s-%s%s", safe->str, hash, SS_PROJECT_RECOVERY_EXTENSION);
      g_string_free (safe, TRUE);
    }
  else
    {
      g_autofree char *uuid = g_uuid_string_random ();
      name = g_strdup_printf ("untitled-%s%s", uuid, SS_PROJECT_RECOVERY_EXTENSION);
    }
  char *full = g_build_filename (dir, name, NULL);
  ss_project_set_recovery_file (self, full);
  return full;
}

gboolean
ss_project_autosave (SsProject *self, GError **error)
{
  g_return_val_if_fail (SS_IS_PROJECT (self), FALSE);
  if (!ss_project_get_dirty (self))
    return TRUE;
  g_autofree char *path = ss_project_dup_recovery_path (self);
  g_autofree char *dir = g_path_get_dirname (path);
  if (g_mkdir_with_parents (dir, 0700) != 0)
    {
      int errsv = errno;
      g_autofree char *display = g_filename_display_name (dir);
      g_set_error (error, SS_ERROR, SS_ERROR_IO, "Could not create the recovery folder “%s”: %s", display, g_strerror (errsv));
      return FALSE;
    }
  return ss_project_write_recovery (self, path, error);
}

void
ss_project_remove_recovery (SsProject *self)
{
  g_return_if_fail (SS_IS_PROJECT (self));
  const char *file = ss_project_get_recovery_file (self);
  if (file)
    g_unlink (file);
  ss_project_set_recovery_file (self, NULL);
}

/* Reads the "recovery" member of a recovery file. */
static JsonObject *
read_recovery (const char *path, JsonParser **parser, const char **original, GError **error)
{
  gsize len = 0;
  g_autofree char *data = read_file_bounded (path, &len, error);
  if (!data)
    return NULL;
  JsonObject *root = parse_root (data, len, parser, error);
  if (!root)
    return NULL;
  JsonNode *rn = member (root, "recovery");
  if (!rn || !JSON_NODE_HOLDS_OBJECT (rn))
    {
      g_set_error (error, SS_ERROR, SS_ERROR_INVALID_DATA, "This is not a Soundstage recovery file (it has no “recovery” section)");
      return NULL;
    }
  if (!get_string (json_node_get_object (rn), "recovery", "original_path", FALSE, SS_PROJECT_MAX_PATH, original, error))
    return NULL;
  if (*original && !g_path_is_absolute (*original))
    {
      g_set_error (error, SS_ERROR, SS_ERROR_INVALID_DATA, "The recovery file is damaged: its original path is not absolute");
      return NULL;
    }
  if (*original && (*original)[0] == '\0')
    *original = NULL;
  return root;
}

SsProject *
ss_project_load_recovery (const char *recovery_path, GError **error)
{
  g_return_val_if_fail (recovery_path != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  g_autofree char *abs = g_canonicalize_filename (recovery_path, NULL);
  g_autoptr(JsonParser) parser = NULL;
  g_autoptr(GError) local = NULL;
  const char *original = NULL;
  JsonObject *root = read_recovery (abs, &parser, &original, &local);
  SsDoc *doc = NULL;
  if (root)
    {
      g_autofree char *dir = original ? g_path_get_dirname (original) : NULL;
      doc = doc_from_json (root, dir, &local);
    }
  if (!doc)
    {
      g_autofree char *display = g_filename_display_name (recovery_path);
      if (!g_str_has_prefix (local->message, "Could not open"))
        g_prefix_error (&local, "Could not recover “%s”: ", display);
      g_propagate_error (error, g_steal_pointer (&local));
      return NULL;
    }
  SsProject *self = ss_project_new_from_doc (doc);
  if (original)
    ss_project_set_path_internal (self, original);
  ss_project_set_recovery_file (self, abs);
  ss_project_mark_unsaved (self);
  return self;
}

static gint
recovery_cmp (gconstpointer a, gconstpointer b)
{
  const SsRecoveryInfo *ia = *(SsRecoveryInfo * const *) a;
  const SsRecoveryInfo *ib = *(SsRecoveryInfo * const *) b;
  if (ia->modified != ib->modified)
    return ia->modified > ib->modified ? -1 : 1;
  return g_strcmp0 (ia->recovery_path, ib->recovery_path);
}

GPtrArray *
ss_project_list_recoveries (const char *dir)
{
  GPtrArray *out = g_ptr_array_new_with_free_func ((GDestroyNotify) ss_recovery_info_free);
  g_autofree char *d = dir ? g_strdup (dir) : ss_project_recovery_dir ();
  g_autoptr(GDir) gdir = g_dir_open (d, 0, NULL);
  if (!gdir)
    return out;
  const char *name;
  while ((name = g_dir_read_name (gdir)))
    {
      if (!g_str_has_suffix (name, SS_PROJECT_RECOVERY_EXTENSION) || name[0] == '.')
        continue;
      g_autofree char *path = g_build_filename (d, name, NULL);
      struct stat st;
      if (stat (path, &st) != 0 || !S_ISREG (st.st_mode))
        continue;
      g_autoptr(JsonParser) parser = NULL;
      const char *original = NULL;
      g_autoptr(GError) error = NULL;
      if (!read_recovery (path, &parser, &original, &error))
        {
          g_debug ("Skipping recovery file %s: %s", path, error->message);
          continue;
        }
      gint64 mtime = (gint64) st.st_mtim.tv_sec * G_USEC_PER_SEC + st.st_mtim.tv_nsec / 1000;
      struct stat ost;
      if (original && stat (original, &ost) == 0)
        {
          gint64 omtime = (gint64) ost.st_mtim.tv_sec * G_USEC_PER_SEC + ost.st_mtim.tv_nsec / 1000;
          if (omtime >= mtime)
            continue;   /* the project was saved after this was written */
        }
      SsRecoveryInfo *info = g_new0 (SsRecoveryInfo, 1);
      info->recovery_path = g_steal_pointer (&path);
      info->original_path = g_strdup (original);
      info->modified = mtime;
      g_ptr_array_add (out, info);
    }
  g_ptr_array_sort (out, recovery_cmp);
  return out;
}
