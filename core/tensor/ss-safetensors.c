/* ss-safetensors.c: strict safetensors reader, model checker and atomic writer. */
#define G_LOG_DOMAIN "ss-safetensors"

#include "ss-safetensors.h"

#include <errno.h>
#include <fcntl.h>
#include <glib/gstdio.h>
#include <json-glib/json-glib.h>
#include <string.h>
#include <unistd.h>

#include "ss-half.h"

#if G_BYTE_ORDER != G_LITTLE_ENDIAN
#error "ss-safetensors assumes a little-endian host (safetensors data is little-endian)"
#endif

/* ---------------------------------------------------------------------------
 * dtypes
 */

static const struct {
  const char *name;
  gsize size;
} dtype_table[SS_SAFETENSORS_N_DTYPES] = {
  [SS_SAFETENSORS_F32] = { "F32", 4 },
  [SS_SAFETENSORS_F16] = { "F16", 2 },
  [SS_SAFETENSORS_BF16] = { "BF16", 2 },
  [SS_SAFETENSORS_F64] = { "F64", 8 },
  [SS_SAFETENSORS_I64] = { "I64", 8 },
  [SS_SAFETENSORS_I32] = { "I32", 4 },
  [SS_SAFETENSORS_I16] = { "I16", 2 },
  [SS_SAFETENSORS_I8] = { "I8", 1 },
  [SS_SAFETENSORS_U8] = { "U8", 1 },
  [SS_SAFETENSORS_BOOL] = { "BOOL", 1 },
  [SS_SAFETENSORS_U16] = { "U16", 2 },
  [SS_SAFETENSORS_U32] = { "U32", 4 },
  [SS_SAFETENSORS_U64] = { "U64", 8 },
  [SS_SAFETENSORS_F8_E4M3] = { "F8_E4M3", 1 },
  [SS_SAFETENSORS_F8_E5M2] = { "F8_E5M2", 1 },
};

const char *
ss_safetensors_dtype_name (SsSafetensorsDtype dtype)
{
  if (dtype == SS_SAFETENSORS_ANY_FLOAT)
    return "F32/F16/BF16";
  if ((guint) dtype >= SS_SAFETENSORS_N_DTYPES)
    return "?";
  return dtype_table[dtype].name;
}

gsize
ss_safetensors_dtype_size (SsSafetensorsDtype dtype)
{
  if ((guint) dtype >= SS_SAFETENSORS_N_DTYPES)
    return 0;
  return dtype_table[dtype].size;
}

gboolean
ss_safetensors_dtype_is_engine_float (SsSafetensorsDtype dtype)
{
  return dtype == SS_SAFETENSORS_F32 || dtype == SS_SAFETENSORS_F16 || dtype == SS_SAFETENSORS_BF16;
}

gboolean
ss_safetensors_dtype_from_name (const char *name, SsSafetensorsDtype *out)
{
  for (guint i = 0; i < SS_SAFETENSORS_N_DTYPES; i++)
    if (g_strcmp0 (name, dtype_table[i].name) == 0)
      {
        if (out)
          *out = (SsSafetensorsDtype) i;
        return TRUE;
      }
  return FALSE;
}

/* ---------------------------------------------------------------------------
 * half / bfloat16 conversions
 */

guint16
ss_safetensors_f32_to_f16 (float f)
{
  guint32 x = ss_half_f32_bits (f);
  guint32 sign = (x >> 16) & 0x8000u;
  guint32 exp = (x >> 23) & 0xffu;
  guint32 mant = x & 0x7fffffu;

  if (exp == 0xff) /* Inf or NaN (keep a quiet NaN) */
    return (guint16) (sign | 0x7c00u | (mant ? 0x200u | (mant >> 13) : 0));

  gint32 e = (gint32) exp - 127 + 15;
  if (e >= 0x1f) /* overflow -> Inf */
    return (guint16) (sign | 0x7c00u);
  if (e <= 0)
    {
      /* subnormal half or zero */
      if (e < -10)
        return (guint16) sign;
      mant |= 0x800000u;
      guint32 shift = (guint32) (14 - e);
      guint32 half = mant >> shift;
      guint32 rem = mant & ((1u << shift) - 1u);
      guint32 halfway = 1u << (shift - 1u);
      if (rem > halfway || (rem == halfway && (half & 1u)))
        half++;
      return (guint16) (sign | half);
    }
  guint32 half = ((guint32) e << 10) | (mant >> 13);
  guint32 rem = mant & 0x1fffu;
  if (rem > 0x1000u || (rem == 0x1000u && (half & 1u)))
    half++; /* may carry into the exponent, up to Inf: correct */
  return (guint16) (sign | half);
}

float
ss_safetensors_f16_to_f32 (guint16 h)
{
  return ss_half_f16_to_f32 (h);
}

guint16
ss_safetensors_f32_to_bf16 (float f)
{
  guint32 x = ss_half_f32_bits (f);
  if ((x & 0x7f800000u) == 0x7f800000u && (x & 0x7fffffu))
    return (guint16) ((x >> 16) | 0x40u); /* quiet NaN */
  guint32 lsb = (x >> 16) & 1u;
  x += 0x7fffu + lsb;
  return (guint16) (x >> 16);
}

float
ss_safetensors_bf16_to_f32 (guint16 b)
{
  return ss_half_bf16_to_f32 (b);
}

/* ---------------------------------------------------------------------------
 * reader
 */

typedef struct {
  SsSafetensorsInfo info;
  guint64 begin, end; /* relative to the data area */
} Entry;

struct _SsSafetensors {
  GObject parent_instance;

  char *display_name;
  GBytes *bytes;
  const guint8 *data_area;
  gsize data_len;

  GArray *entries;       /* Entry, sorted by name */
  GHashTable *by_name;   /* name -> index+1 (GUINT_TO_POINTER) */
  const char **names;    /* NULL-terminated, sorted */
  GHashTable *metadata;  /* may be NULL */
};

G_DEFINE_FINAL_TYPE (SsSafetensors, ss_safetensors, G_TYPE_OBJECT)

static void
ss_safetensors_finalize (GObject *object)
{
  SsSafetensors *self = SS_SAFETENSORS (object);

  if (self->entries)
    {
      for (guint i = 0; i < self->entries->len; i++)
        g_free ((char *) g_array_index (self->entries, Entry, i).info.name);
      g_array_unref (self->entries);
    }
  g_clear_pointer (&self->by_name, g_hash_table_unref);
  g_clear_pointer (&self->metadata, g_hash_table_unref);
  g_free (self->names);
  g_clear_pointer (&self->bytes, g_bytes_unref);
  g_free (self->display_name);

  G_OBJECT_CLASS (ss_safetensors_parent_class)->finalize (object);
}

static void
ss_safetensors_class_init (SsSafetensorsClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = ss_safetensors_finalize;
}

static void
ss_safetensors_init (SsSafetensors *self)
{
}

static void G_GNUC_PRINTF (4, 5)
set_error (GError **error, int code, const char *file, const char *fmt, ...)
{
  va_list ap;
  va_start (ap, fmt);
  g_autofree char *msg = g_strdup_vprintf (fmt, ap);
  va_end (ap);
  g_set_error (error, SS_ERROR, code, "“%s”: %s", file, msg);
}

/* Parses @text into @parser; returns its root object, or NULL with an error
 * about “the @what”. */
static JsonObject *
parse_object (JsonParser *parser, const char *text, gsize len, const char *file, const char *what,
              GError **error)
{
  g_autoptr (GError) jerr = NULL;
  if (!json_parser_load_from_data (parser, text, (gssize) len, &jerr))
    {
      set_error (error, SS_ERROR_INVALID_DATA, file, "the %s is not valid JSON (%s)", what,
                 jerr->message);
      return NULL;
    }
  JsonNode *root = json_parser_get_root (parser);
  if (!root || !JSON_NODE_HOLDS_OBJECT (root))
    {
      set_error (error, SS_ERROR_INVALID_DATA, file, "the %s is not a JSON object", what);
      return NULL;
    }
  return json_node_get_object (root);
}

/* Recognizes formats that are not safetensors, to say what they are. */
static gboolean
refuse_other_formats (const guint8 *buf, gsize len, const char *file, GError **error)
{
  if (len >= 4 && buf[0] == 'P' && buf[1] == 'K' &&
      ((buf[2] == 3 && buf[3] == 4) || (buf[2] == 5 && buf[3] == 6)))
    {
      set_error (error, SS_ERROR_UNSUPPORTED, file,
                 "this is a zip archive, as PyTorch writes its pickle checkpoints (.pt, .pth, .bin). "
                 "PyTorch pickle checkpoints are not loaded for safety; convert it with tools/convert/ "
                 "into a .safetensors file");
      return TRUE;
    }
  if (len >= 2 && buf[0] == 0x80 && buf[1] >= 2 && buf[1] <= 5)
    {
      set_error (error, SS_ERROR_UNSUPPORTED, file,
                 "this is a Python pickle (a legacy PyTorch checkpoint). "
                 "PyTorch pickle checkpoints are not loaded for safety; convert it with tools/convert/ "
                 "into a .safetensors file");
      return TRUE;
    }
  if (len >= 4 && memcmp (buf, "GGUF", 4) == 0)
    {
      set_error (error, SS_ERROR_UNSUPPORTED, file,
                 "this is a GGUF file; only .safetensors weights are supported");
      return TRUE;
    }
  if (len >= 6 && memcmp (buf, "\x93NUMPY", 6) == 0)
    {
      set_error (error, SS_ERROR_UNSUPPORTED, file,
                 "this is a NumPy .npy file; only .safetensors weights are supported");
      return TRUE;
    }
  return FALSE;
}

static gboolean
get_int (JsonNode *node, gint64 *out)
{
  if (!node || !JSON_NODE_HOLDS_VALUE (node) || json_node_get_value_type (node) != G_TYPE_INT64)
    return FALSE;
  *out = json_node_get_int (node);
  return TRUE;
}

static char *
format_shape (guint rank, const gint64 *shape)
{
  GString *s = g_string_new ("[");
  for (guint i = 0; i < rank; i++)
    g_string_append_printf (s, "%s%" G_GINT64_FORMAT, i ? ", " : "", shape[i]);
  g_string_append_c (s, ']');
  return g_string_free (s, FALSE);
}

static gboolean
parse_entry (SsSafetensors *self, const char *name, JsonNode *node, Entry *e, GError **error)
{
  const char *file = self->display_name;

  if (!JSON_NODE_HOLDS_OBJECT (node))
    {
      set_error (error, SS_ERROR_INVALID_DATA, file,
                 "tensor “%s” is not described by a JSON object", name);
      return FALSE;
    }
  JsonObject *obj = json_node_get_object (node);
  g_autoptr (GList) members = json_object_get_members (obj);
  for (GList *l = members; l; l = l->next)
    if (strcmp (l->data, "dtype") != 0 && strcmp (l->data, "shape") != 0 &&
        strcmp (l->data, "data_offsets") != 0)
      {
        set_error (error, SS_ERROR_INVALID_DATA, file,
                   "tensor “%s” has an unknown field “%s”", name, (const char *) l->data);
        return FALSE;
      }

  JsonNode *dn = json_object_get_member (obj, "dtype");
  JsonNode *sn = json_object_get_member (obj, "shape");
  JsonNode *on = json_object_get_member (obj, "data_offsets");
  if (!dn || !sn || !on)
    {
      set_error (error, SS_ERROR_INVALID_DATA, file, "tensor “%s” lacks “%s”", name,
                 !dn ? "dtype" : !sn ? "shape" : "data_offsets");
      return FALSE;
    }

  if (!JSON_NODE_HOLDS_VALUE (dn) || json_node_get_value_type (dn) != G_TYPE_STRING)
    {
      set_error (error, SS_ERROR_INVALID_DATA, file, "tensor “%s” has a dtype that is not a string",
                 name);
      return FALSE;
    }
  const char *dtype_name = json_node_get_string (dn);
  if (!ss_safetensors_dtype_from_name (dtype_name, &e->info.dtype))
    {
      g_autofree char *shown = g_strndup (dtype_name, 32);
      set_error (error, SS_ERROR_UNSUPPORTED, file, "tensor “%s” has an unknown dtype “%s”", name,
                 shown);
      return FALSE;
    }

  if (!JSON_NODE_HOLDS_ARRAY (sn))
    {
      set_error (error, SS_ERROR_INVALID_DATA, file, "tensor “%s” has a shape that is not a list",
                 name);
      return FALSE;
    }
  JsonArray *sa = json_node_get_array (sn);
  guint rank = json_array_get_length (sa);
  if (rank > SS_SAFETENSORS_MAX_RANK)
    {
      set_error (error, SS_ERROR_UNSUPPORTED, file,
                 "tensor “%s” has %u dimensions (at most %d are supported)", name, rank,
                 SS_SAFETENSORS_MAX_RANK);
      return FALSE;
    }
  e->info.rank = rank;
  guint64 numel = 1;
  gboolean overflow = FALSE;
  for (guint i = 0; i < rank; i++)
    {
      gint64 d;
      if (!get_int (json_array_get_element (sa, i), &d) || d < 0)
        {
          set_error (error, SS_ERROR_INVALID_DATA, file,
                     "tensor “%s” has a shape entry that is not a non-negative integer", name);
          return FALSE;
        }
      e->info.shape[i] = d;
      if (d != 0 && numel > G_MAXUINT64 / (guint64) d)
        overflow = TRUE;
      else
        numel *= (guint64) d;
    }
  gsize esize = ss_safetensors_dtype_size (e->info.dtype);
  if (numel == 0)
    overflow = FALSE; /* a zero dimension makes the product 0 whatever the others */
  if (overflow || numel > G_MAXUINT64 / esize || numel * esize > G_MAXSIZE)
    {
      g_autofree char *s = format_shape (rank, e->info.shape);
      set_error (error, SS_ERROR_INVALID_DATA, file, "tensor “%s” has an impossibly large shape %s",
                 name, s);
      return FALSE;
    }
  e->info.numel = numel;
  e->info.n_bytes = (gsize) (numel * esize);

  gint64 begin, end;
  if (!JSON_NODE_HOLDS_ARRAY (on) || json_array_get_length (json_node_get_array (on)) != 2 ||
      !get_int (json_array_get_element (json_node_get_array (on), 0), &begin) ||
      !get_int (json_array_get_element (json_node_get_array (on), 1), &end) || begin < 0 ||
      end < begin)
    {
      set_error (error, SS_ERROR_INVALID_DATA, file,
                 "tensor “%s” has data_offsets that are not two increasing non-negative integers",
                 name);
      return FALSE;
    }
  e->begin = (guint64) begin;
  e->end = (guint64) end;

  if (e->end - e->begin != (guint64) e->info.n_bytes)
    {
      g_autofree char *s = format_shape (rank, e->info.shape);
      set_error (error, SS_ERROR_INVALID_DATA, file,
                 "tensor “%s” has %" G_GUINT64_FORMAT " bytes in the file, but its shape %s "
                 "and dtype %s need %" G_GSIZE_FORMAT,
                 name, e->end - e->begin, s, ss_safetensors_dtype_name (e->info.dtype),
                 e->info.n_bytes);
      return FALSE;
    }
  if (e->end > self->data_len)
    {
      set_error (error, SS_ERROR_INVALID_DATA, file,
                 "tensor “%s” ends past the end of the file (truncated download?)", name);
      return FALSE;
    }
  e->info.data = self->data_area + e->begin;
  return TRUE;
}

static int
cmp_entry_offset (gconstpointer a, gconstpointer b)
{
  const Entry *x = *(const Entry *const *) a, *y = *(const Entry *const *) b;
  if (x->begin != y->begin)
    return x->begin < y->begin ? -1 : 1;
  if (x->end != y->end)
    return x->end < y->end ? -1 : 1;
  return strcmp (x->info.name, y->info.name);
}

static int
cmp_entry_name (gconstpointer a, gconstpointer b)
{
  return strcmp (((const Entry *) a)->info.name, ((const Entry *) b)->info.name);
}

static gboolean
parse (SsSafetensors *self, GError **error)
{
  gsize len = 0;
  const guint8 *buf = g_bytes_get_data (self->bytes, &len);
  const char *file = self->display_name;

  if (refuse_other_formats (buf, len, file, error))
    return FALSE;
  if (len < 8)
    {
      set_error (error, SS_ERROR_INVALID_DATA, file,
                 "the file is too short (%" G_GSIZE_FORMAT " bytes) to be safetensors%s", len,
                 len == 0 ? " (empty file)" : " (truncated download?)");
      return FALSE;
    }
  guint64 hsize = 0;
  for (int i = 7; i >= 0; i--)
    hsize = (hsize << 8) | buf[i];
  if (hsize > SS_SAFETENSORS_MAX_HEADER)
    {
      set_error (error, SS_ERROR_INVALID_DATA, file,
                 "the header would be %" G_GUINT64_FORMAT " bytes, more than the 100 MiB allowed: "
                 "this is not a safetensors file or it is corrupt",
                 hsize);
      return FALSE;
    }
  if (hsize > len - 8)
    {
      set_error (error, SS_ERROR_INVALID_DATA, file,
                 "the header (%" G_GUINT64_FORMAT " bytes) runs past the end of the file "
                 "(truncated download?)",
                 hsize);
      return FALSE;
    }
  const char *header = (const char *) buf + 8;
  if (hsize < 2 || header[0] != '{')
    {
      set_error (error, SS_ERROR_INVALID_DATA, file,
                 "the header does not start with a JSON object: not a safetensors file");
      return FALSE;
    }
  if (memchr (header, '\0', hsize) || !g_utf8_validate_len (header, hsize, NULL))
    {
      set_error (error, SS_ERROR_INVALID_DATA, file, "the header is not valid UTF-8 text");
      return FALSE;
    }
  self->data_area = buf + 8 + hsize;
  self->data_len = len - 8 - (gsize) hsize;

  g_autoptr (JsonParser) parser = json_parser_new_immutable ();
  JsonObject *robj = parse_object (parser, header, hsize, file, "header", error);
  if (!robj)
    return FALSE;
  g_autoptr (GList) members = json_object_get_members (robj);

  self->entries = g_array_new (FALSE, TRUE, sizeof (Entry));
  for (GList *l = members; l; l = l->next)
    {
      const char *name = l->data;
      JsonNode *node = json_object_get_member (robj, name);
      if (strcmp (name, "__metadata__") == 0)
        {
          if (!JSON_NODE_HOLDS_OBJECT (node))
            {
              set_error (error, SS_ERROR_INVALID_DATA, file, "__metadata__ is not a JSON object");
              return FALSE;
            }
          JsonObject *mobj = json_node_get_object (node);
          g_autoptr (GList) keys = json_object_get_members (mobj);
          self->metadata = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
          for (GList *k = keys; k; k = k->next)
            {
              JsonNode *v = json_object_get_member (mobj, k->data);
              if (!JSON_NODE_HOLDS_VALUE (v) || json_node_get_value_type (v) != G_TYPE_STRING)
                {
                  set_error (error, SS_ERROR_INVALID_DATA, file,
                             "__metadata__ entry “%s” is not a string", (const char *) k->data);
                  return FALSE;
                }
              g_hash_table_insert (self->metadata, g_strdup (k->data),
                                   g_strdup (json_node_get_string (v)));
            }
          continue;
        }
      Entry e = { 0 };
      if (!parse_entry (self, name, node, &e, error))
        return FALSE;
      e.info.name = g_strdup (name);
      g_array_append_val (self->entries, e);
    }

  /* Every byte of the data area belongs to exactly one tensor. */
  guint n = self->entries->len;
  g_autofree Entry **by_off = g_new (Entry *, n ? n : 1);
  for (guint i = 0; i < n; i++)
    by_off[i] = &g_array_index (self->entries, Entry, i);
  qsort (by_off, n, sizeof (Entry *), cmp_entry_offset);
  guint64 pos = 0;
  const char *prev = NULL;
  for (guint i = 0; i < n; i++)
    {
      Entry *e = by_off[i];
      if (e->begin < pos)
        {
          set_error (error, SS_ERROR_INVALID_DATA, file, "tensors “%s” and “%s” overlap in the file",
                     prev, e->info.name);
          return FALSE;
        }
      if (e->begin > pos)
        {
          set_error (error, SS_ERROR_INVALID_DATA, file,
                     "%" G_GUINT64_FORMAT " bytes before tensor “%s” belong to no tensor",
                     e->begin - pos, e->info.name);
          return FALSE;
        }
      pos = e->end;
      prev = e->info.name;
    }
  if (pos != self->data_len)
    {
      set_error (error, SS_ERROR_INVALID_DATA, file,
                 "%" G_GUINT64_FORMAT " bytes at the end of the file belong to no tensor",
                 (guint64) self->data_len - pos);
      return FALSE;
    }

  g_array_sort (self->entries, cmp_entry_name);
  self->by_name = g_hash_table_new (g_str_hash, g_str_equal);
  self->names = g_new0 (const char *, n + 1);
  for (guint i = 0; i < n; i++)
    {
      Entry *e = &g_array_index (self->entries, Entry, i);
      self->names[i] = e->info.name;
      g_hash_table_insert (self->by_name, (gpointer) e->info.name, GUINT_TO_POINTER (i + 1));
    }
  return TRUE;
}

SsSafetensors *
ss_safetensors_new_from_bytes (GBytes *bytes, const char *display_name, GError **error)
{
  g_return_val_if_fail (bytes != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  g_autoptr (SsSafetensors) self = g_object_new (SS_TYPE_SAFETENSORS, NULL);
  self->display_name = g_strdup (display_name ? display_name : "weights");
  self->bytes = g_bytes_ref (bytes);
  if (!parse (self, error))
    return NULL;
  return g_steal_pointer (&self);
}

SsSafetensors *
ss_safetensors_open (const char *path, GError **error)
{
  g_return_val_if_fail (path != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  g_autofree char *display = g_filename_display_basename (path);
  if (g_file_test (path, G_FILE_TEST_IS_DIR))
    {
      set_error (error, SS_ERROR_INVALID_DATA, display, "this is a folder, not a weights file");
      return NULL;
    }
  g_autoptr (GError) ferr = NULL;
  g_autoptr (GMappedFile) mf = g_mapped_file_new (path, FALSE, &ferr);
  if (!mf)
    {
      int code = g_error_matches (ferr, G_FILE_ERROR, G_FILE_ERROR_NOENT) ? SS_ERROR_NOT_FOUND
                                                                          : SS_ERROR_IO;
      set_error (error, code, display, "%s",
                 code == SS_ERROR_NOT_FOUND ? "no such file" : ferr->message);
      return NULL;
    }
  g_autoptr (GBytes) bytes = g_mapped_file_get_bytes (mf);
  return ss_safetensors_new_from_bytes (bytes, display, error);
}

const char *
ss_safetensors_get_display_name (SsSafetensors *self)
{
  g_return_val_if_fail (SS_IS_SAFETENSORS (self), NULL);
  return self->display_name;
}

guint
ss_safetensors_get_n_tensors (SsSafetensors *self)
{
  g_return_val_if_fail (SS_IS_SAFETENSORS (self), 0);
  return self->entries->len;
}

const char *const *
ss_safetensors_get_names (SsSafetensors *self)
{
  g_return_val_if_fail (SS_IS_SAFETENSORS (self), NULL);
  return self->names;
}

const SsSafetensorsInfo *
ss_safetensors_lookup (SsSafetensors *self, const char *name)
{
  g_return_val_if_fail (SS_IS_SAFETENSORS (self), NULL);
  g_return_val_if_fail (name != NULL, NULL);
  guint idx = GPOINTER_TO_UINT (g_hash_table_lookup (self->by_name, name));
  if (idx == 0)
    return NULL;
  return &g_array_index (self->entries, Entry, idx - 1).info;
}

gboolean
ss_safetensors_has (SsSafetensors *self, const char *name)
{
  return ss_safetensors_lookup (self, name) != NULL;
}

const SsSafetensorsInfo *
ss_safetensors_get (SsSafetensors *self, const char *name, GError **error)
{
  const SsSafetensorsInfo *info = ss_safetensors_lookup (self, name);
  if (!info)
    set_error (error, SS_ERROR_NOT_FOUND, self->display_name, "there is no tensor “%s”", name);
  return info;
}

GHashTable *
ss_safetensors_get_metadata (SsSafetensors *self)
{
  g_return_val_if_fail (SS_IS_SAFETENSORS (self), NULL);
  return self->metadata;
}

const char *
ss_safetensors_get_metadata_value (SsSafetensors *self, const char *key)
{
  g_return_val_if_fail (SS_IS_SAFETENSORS (self), NULL);
  return self->metadata ? g_hash_table_lookup (self->metadata, key) : NULL;
}

/* Element i of a tensor as a double (all convertible dtypes are exact in double
 * except I64/U64 beyond 2^53, which no weight file holds). */
static inline double
elem_f64 (SsSafetensorsDtype dt, const guint8 *p)
{
  switch (dt)
    {
    case SS_SAFETENSORS_F64: { double v; memcpy (&v, p, 8); return v; }
    case SS_SAFETENSORS_I64: { gint64 v; memcpy (&v, p, 8); return (double) v; }
    case SS_SAFETENSORS_I32: { gint32 v; memcpy (&v, p, 4); return v; }
    case SS_SAFETENSORS_I16: { gint16 v; memcpy (&v, p, 2); return v; }
    case SS_SAFETENSORS_I8: return (gint8) p[0];
    case SS_SAFETENSORS_U8: return p[0];
    case SS_SAFETENSORS_BOOL: return p[0] ? 1.0 : 0.0;
    default: g_assert_not_reached ();
    }
}

static gboolean
convertible (SsSafetensorsDtype dt)
{
  return dt <= SS_SAFETENSORS_BOOL;
}

static const SsSafetensorsInfo *
get_for_read (SsSafetensors *self, const char *name, gsize n, GError **error)
{
  const SsSafetensorsInfo *info = ss_safetensors_get (self, name, error);
  if (!info)
    return NULL;
  if (!convertible (info->dtype))
    {
      set_error (error, SS_ERROR_UNSUPPORTED, self->display_name,
                 "tensor “%s” has dtype %s, which cannot be converted to floating point", name,
                 ss_safetensors_dtype_name (info->dtype));
      return NULL;
    }
  if (info->numel != n)
    {
      set_error (error, SS_ERROR_INVALID_DATA, self->display_name,
                 "tensor “%s” has %" G_GUINT64_FORMAT " elements where %" G_GSIZE_FORMAT
                 " are expected",
                 name, info->numel, n);
      return NULL;
    }
  return info;
}

gboolean
ss_safetensors_read_f32 (SsSafetensors *self, const char *name, float *out, gsize n,
                         GError **error)
{
  g_return_val_if_fail (SS_IS_SAFETENSORS (self), FALSE);
  g_return_val_if_fail (out != NULL || n == 0, FALSE);
  const SsSafetensorsInfo *info = get_for_read (self, name, n, error);
  if (!info)
    return FALSE;
  const guint8 *p = info->data;
  switch (info->dtype)
    {
    case SS_SAFETENSORS_F32:
      if (n)
        memcpy (out, p, n * 4);
      break;
    case SS_SAFETENSORS_F16:
      for (gsize i = 0; i < n; i++)
        out[i] = ss_safetensors_f16_to_f32 ((guint16) (p[2 * i] | (p[2 * i + 1] << 8)));
      break;
    case SS_SAFETENSORS_BF16:
      for (gsize i = 0; i < n; i++)
        out[i] = ss_safetensors_bf16_to_f32 ((guint16) (p[2 * i] | (p[2 * i + 1] << 8)));
      break;
    default:
      {
        gsize es = ss_safetensors_dtype_size (info->dtype);
        for (gsize i = 0; i < n; i++)
          out[i] = (float) elem_f64 (info->dtype, p + i * es);
      }
    }
  return TRUE;
}

static gboolean
read_half (SsSafetensors *self, const char *name, guint16 *out, gsize n, gboolean bf,
           GError **error)
{
  g_return_val_if_fail (SS_IS_SAFETENSORS (self), FALSE);
  g_return_val_if_fail (out != NULL || n == 0, FALSE);
  const SsSafetensorsInfo *info = get_for_read (self, name, n, error);
  if (!info)
    return FALSE;
  const guint8 *p = info->data;
  SsSafetensorsDtype want = bf ? SS_SAFETENSORS_BF16 : SS_SAFETENSORS_F16;
  if (info->dtype == want)
    {
      if (n)
        memcpy (out, p, n * 2);
      return TRUE;
    }
  for (gsize i = 0; i < n; i++)
    {
      float f;
      switch (info->dtype)
        {
        case SS_SAFETENSORS_F32: memcpy (&f, p + 4 * i, 4); break;
        case SS_SAFETENSORS_F16:
          f = ss_safetensors_f16_to_f32 ((guint16) (p[2 * i] | (p[2 * i + 1] << 8)));
          break;
        case SS_SAFETENSORS_BF16:
          f = ss_safetensors_bf16_to_f32 ((guint16) (p[2 * i] | (p[2 * i + 1] << 8)));
          break;
        default:
          f = (float) elem_f64 (info->dtype, p + i * ss_safetensors_dtype_size (info->dtype));
        }
      out[i] = bf ? ss_safetensors_f32_to_bf16 (f) : ss_safetensors_f32_to_f16 (f);
    }
  return TRUE;
}

gboolean
ss_safetensors_read_f16 (SsSafetensors *self, const char *name, guint16 *out, gsize n,
                         GError **error)
{
  return read_half (self, name, out, n, FALSE, error);
}

gboolean
ss_safetensors_read_bf16 (SsSafetensors *self, const char *name, guint16 *out, gsize n,
                          GError **error)
{
  return read_half (self, name, out, n, TRUE, error);
}

float *
ss_safetensors_dup_f32 (SsSafetensors *self, const char *name, gsize *n_out, GError **error)
{
  g_return_val_if_fail (SS_IS_SAFETENSORS (self), NULL);
  const SsSafetensorsInfo *info = ss_safetensors_get (self, name, error);
  if (!info)
    return NULL;
  float *out = g_try_new (float, info->numel ? info->numel : 1);
  if (!out)
    {
      set_error (error, SS_ERROR_OUT_OF_MEMORY, self->display_name,
                 "not enough memory to load tensor “%s”", name);
      return NULL;
    }
  if (!ss_safetensors_read_f32 (self, name, out, info->numel, error))
    {
      g_free (out);
      return NULL;
    }
  if (n_out)
    *n_out = info->numel;
  return out;
}

#ifndef SS_SAFETENSORS_NO_GPU
SsTensor *
ss_safetensors_load_tensor (SsSafetensors *self, const char *name, SsDType dtype, GError **error)
{
  g_return_val_if_fail (SS_IS_SAFETENSORS (self), NULL);
  g_return_val_if_fail (dtype == SS_DTYPE_F32 || dtype == SS_DTYPE_F16 || dtype == SS_DTYPE_BF16,
                        NULL);
  const SsSafetensorsInfo *info = ss_safetensors_get (self, name, error);
  if (!info)
    return NULL;
  if (info->rank > SS_TENSOR_MAX_DIMS || info->numel == 0)
    {
      g_autofree char *s = format_shape (info->rank, info->shape);
      set_error (error, SS_ERROR_UNSUPPORTED, self->display_name,
                 "tensor “%s” has shape %s; the engine takes 1 to %d dimensions and at least "
                 "one element",
                 name, s, SS_TENSOR_MAX_DIMS);
      return NULL;
    }
  int ndim = info->rank ? (int) info->rank : 1;
  gint64 one = 1;
  const gint64 *shape = info->rank ? info->shape : &one;
  static const SsSafetensorsDtype same[] = { [SS_DTYPE_F32] = SS_SAFETENSORS_F32,
                                             [SS_DTYPE_F16] = SS_SAFETENSORS_F16,
                                             [SS_DTYPE_BF16] = SS_SAFETENSORS_BF16 };
  if (info->dtype == same[dtype])
    return ss_tensor_new_from_raw (dtype, ndim, shape, info->data, error);
  if (dtype == SS_DTYPE_F32)
    {
      g_autofree float *f = ss_safetensors_dup_f32 (self, name, NULL, error);
      return f ? ss_tensor_new_from_floats (dtype, ndim, shape, f, error) : NULL;
    }
  g_autofree guint16 *h = g_try_new (guint16, info->numel);
  if (!h)
    {
      set_error (error, SS_ERROR_OUT_OF_MEMORY, self->display_name,
                 "not enough memory to load tensor “%s”", name);
      return NULL;
    }
  gboolean ok = dtype == SS_DTYPE_F16 ? ss_safetensors_read_f16 (self, name, h, info->numel, error)
                                      : ss_safetensors_read_bf16 (self, name, h, info->numel, error);
  return ok ? ss_tensor_new_from_raw (dtype, ndim, shape, h, error) : NULL;
}

SsTensor *
ss_safetensors_set_load_tensor (SsSafetensorsSet *set, const char *name, SsDType dtype,
                                GError **error)
{
  g_return_val_if_fail (set != NULL && name != NULL, NULL);
  SsSafetensors *st = ss_safetensors_set_get_file (set, name);
  if (!st)
    {
      set_error (error, SS_ERROR_NOT_FOUND, ss_safetensors_set_get_display_name (set),
                 "there is no tensor “%s”", name);
      return NULL;
    }
  return ss_safetensors_load_tensor (st, name, dtype, error);
}
#endif

/* ---------------------------------------------------------------------------
 * checking against a model
 */

#define LIST_MAX 5

static void
list_add (GString *s, guint *count, const char *fmt, ...) G_GNUC_PRINTF (3, 4);

static void
list_add (GString *s, guint *count, const char *fmt, ...)
{
  if (*count < LIST_MAX)
    {
      va_list ap;
      va_start (ap, fmt);
      if (*count)
        g_string_append (s, "; ");
      g_string_append_vprintf (s, fmt, ap);
      va_end (ap);
    }
  (*count)++;
}

static void
list_finish (GString *s, guint count)
{
  if (count > LIST_MAX)
    g_string_append_printf (s, "; and %u more", count - LIST_MAX);
}

static gboolean
dtype_ok (SsSafetensorsDtype want, SsSafetensorsDtype have, SsSafetensorsCheckFlags flags)
{
  if (want == have)
    return TRUE;
  if (want == SS_SAFETENSORS_ANY_FLOAT ||
      (flags & SS_SAFETENSORS_CHECK_ANY_FLOAT_DTYPE && ss_safetensors_dtype_is_engine_float (want)))
    return ss_safetensors_dtype_is_engine_float (have);
  return FALSE;
}

typedef const SsSafetensorsInfo *(*LookupFunc) (gpointer data, const char *name);

static gboolean
check_common (const char *display, const char *const *names, LookupFunc lookup, gpointer data,
              const SsSafetensorsExpect *expect, gsize n_expect, SsSafetensorsCheckFlags flags,
              GError **error)
{

  g_autoptr (GString) missing = g_string_new (NULL);
  g_autoptr (GString) mismatched = g_string_new (NULL);
  g_autoptr (GString) unexpected = g_string_new (NULL);
  guint n_missing = 0, n_mismatched = 0, n_unexpected = 0;
  g_autoptr (GHashTable) wanted = g_hash_table_new (g_str_hash, g_str_equal);

  for (gsize i = 0; i < n_expect; i++)
    {
      const SsSafetensorsExpect *x = &expect[i];
      g_return_val_if_fail (x->name != NULL && x->rank <= SS_SAFETENSORS_MAX_RANK, FALSE);
      g_hash_table_add (wanted, (gpointer) x->name);
      const SsSafetensorsInfo *info = lookup (data, x->name);
      if (!info)
        {
          if (!(flags & SS_SAFETENSORS_CHECK_ALLOW_MISSING))
            list_add (missing, &n_missing, "“%s”", x->name);
          continue;
        }
      gboolean same_shape = info->rank == x->rank;
      for (guint d = 0; same_shape && d < x->rank; d++)
        same_shape = info->shape[d] == x->shape[d];
      if (!same_shape || !dtype_ok (x->dtype, info->dtype, flags))
        {
          g_autofree char *fs = format_shape (info->rank, info->shape);
          g_autofree char *ws = format_shape (x->rank, x->shape);
          list_add (mismatched, &n_mismatched, "“%s” is %s %s in the file, the model needs %s %s",
                    x->name, ss_safetensors_dtype_name (info->dtype), fs,
                    ss_safetensors_dtype_name (x->dtype), ws);
        }
    }
  if (!(flags & SS_SAFETENSORS_CHECK_ALLOW_UNEXPECTED))
    for (guint i = 0; names[i]; i++)
      if (!g_hash_table_contains (wanted, names[i]))
        list_add (unexpected, &n_unexpected, "“%s”", names[i]);

  if (n_missing + n_mismatched + n_unexpected == 0)
    return TRUE;

  list_finish (missing, n_missing);
  list_finish (mismatched, n_mismatched);
  list_finish (unexpected, n_unexpected);
  g_autoptr (GString) msg = g_string_new ("the weights do not match this model.");
  if (n_missing)
    g_string_append_printf (msg, " %u tensor%s missing: %s.", n_missing,
                            n_missing == 1 ? " is" : "s are", missing->str);
  if (n_mismatched)
    g_string_append_printf (msg, " %u tensor%s the wrong shape or type: %s.", n_mismatched,
                            n_mismatched == 1 ? " has" : "s have", mismatched->str);
  if (n_unexpected)
    g_string_append_printf (msg, " %u tensor%s not part of the model: %s.", n_unexpected,
                            n_unexpected == 1 ? " is" : "s are", unexpected->str);
  set_error (error, SS_ERROR_INVALID_DATA, display, "%s", msg->str);
  return FALSE;
}

static const SsSafetensorsInfo *
lookup_file (gpointer data, const char *name)
{
  return ss_safetensors_lookup (data, name);
}

gboolean
ss_safetensors_check (SsSafetensors *self, const SsSafetensorsExpect *expect, gsize n_expect,
                      SsSafetensorsCheckFlags flags, GError **error)
{
  g_return_val_if_fail (SS_IS_SAFETENSORS (self), FALSE);
  g_return_val_if_fail (expect != NULL || n_expect == 0, FALSE);
  return check_common (self->display_name, self->names, lookup_file, self, expect, n_expect, flags,
                       error);
}

/* ---------------------------------------------------------------------------
 * sharded checkpoints
 */

static gboolean
valid_shard_name (const char *s)
{
  return *s && !strchr (s, '/') && !strchr (s, '\\') && strcmp (s, ".") != 0 &&
         strcmp (s, "..") != 0 && g_str_has_suffix (s, ".safetensors");
}

GHashTable *
ss_safetensors_index_parse (const char *data, gsize len, const char *display, GError **error)
{
  g_return_val_if_fail (data != NULL || len == 0, NULL);
  const char *file = display ? display : "index";
  if (len > SS_SAFETENSORS_MAX_HEADER)
    {
      set_error (error, SS_ERROR_INVALID_DATA, file, "the index is larger than 100 MiB");
      return NULL;
    }
  if (memchr (data, '\0', len) || !g_utf8_validate_len (data, len, NULL))
    {
      set_error (error, SS_ERROR_INVALID_DATA, file, "the index is not UTF-8 text");
      return NULL;
    }
  g_autoptr (JsonParser) parser = json_parser_new_immutable ();
  JsonObject *robj = parse_object (parser, data, len, file, "index", error);
  if (!robj)
    return NULL;
  JsonNode *meta = json_object_get_member (robj, "metadata");
  if (meta && !JSON_NODE_HOLDS_OBJECT (meta) && !JSON_NODE_HOLDS_NULL (meta))
    {
      set_error (error, SS_ERROR_INVALID_DATA, file, "the index's “metadata” is not an object");
      return NULL;
    }
  JsonNode *wm = json_object_get_member (robj, "weight_map");
  if (!wm || !JSON_NODE_HOLDS_OBJECT (wm))
    {
      set_error (error, SS_ERROR_INVALID_DATA, file,
                 "the index has no “weight_map” object (not a sharded safetensors index)");
      return NULL;
    }
  JsonObject *wobj = json_node_get_object (wm);
  g_autoptr (GList) members = json_object_get_members (wobj);
  g_autoptr (GHashTable) map = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  for (GList *l = members; l; l = l->next)
    {
      JsonNode *v = json_object_get_member (wobj, l->data);
      const char *shard = NULL;
      if (JSON_NODE_HOLDS_VALUE (v) && json_node_get_value_type (v) == G_TYPE_STRING)
        shard = json_node_get_string (v);
      if (!shard || !valid_shard_name (shard))
        {
          set_error (error, SS_ERROR_INVALID_DATA, file,
                     "tensor “%s” is mapped to something that is not a .safetensors file in the "
                     "same folder",
                     (const char *) l->data);
          return NULL;
        }
      g_hash_table_insert (map, g_strdup (l->data), g_strdup (shard));
    }
  if (g_hash_table_size (map) == 0)
    {
      set_error (error, SS_ERROR_INVALID_DATA, file, "the index lists no tensors");
      return NULL;
    }
  return g_steal_pointer (&map);
}

struct _SsSafetensorsSet {
  char       *display_name;
  GPtrArray  *files;    /* SsSafetensors* */
  GHashTable *where;    /* name -> file index + 1 */
  const char **names;   /* sorted, NULL-terminated (borrowed from the files) */
  guint       n;
};

void
ss_safetensors_set_free (SsSafetensorsSet *set)
{
  if (!set)
    return;
  g_clear_pointer (&set->where, g_hash_table_unref);
  g_clear_pointer (&set->files, g_ptr_array_unref);
  g_free (set->names);
  g_free (set->display_name);
  g_free (set);
}

static int
cmp_strp (gconstpointer a, gconstpointer b)
{
  return strcmp (*(const char *const *) a, *(const char *const *) b);
}

SsSafetensorsSet *
ss_safetensors_set_open (const char *path, GError **error)
{
  g_return_val_if_fail (path != NULL, NULL);
  g_autoptr (SsSafetensorsSet) set = g_new0 (SsSafetensorsSet, 1);
  set->display_name = g_filename_display_basename (path);
  set->files = g_ptr_array_new_with_free_func (g_object_unref);
  set->where = g_hash_table_new (g_str_hash, g_str_equal);

  if (!g_str_has_suffix (path, ".json"))
    {
      SsSafetensors *st = ss_safetensors_open (path, error);
      if (!st)
        return NULL;
      g_ptr_array_add (set->files, st);
      for (guint i = 0; st->names[i]; i++)
        g_hash_table_insert (set->where, (gpointer) st->names[i], GUINT_TO_POINTER (1));
    }
  else
    {
      g_autofree char *text = NULL;
      gsize len = 0;
      g_autoptr (GError) ferr = NULL;
      if (!g_file_get_contents (path, &text, &len, &ferr))
        {
          int code = g_error_matches (ferr, G_FILE_ERROR, G_FILE_ERROR_NOENT) ? SS_ERROR_NOT_FOUND
                                                                              : SS_ERROR_IO;
          set_error (error, code, set->display_name, "%s",
                     code == SS_ERROR_NOT_FOUND ? "no such file" : ferr->message);
          return NULL;
        }
      g_autoptr (GHashTable) map = ss_safetensors_index_parse (text, len, set->display_name, error);
      if (!map)
        return NULL;
      /* open the shards in name order */
      g_autoptr (GPtrArray) shards = g_ptr_array_new ();
      g_autoptr (GHashTable) shard_idx = g_hash_table_new (g_str_hash, g_str_equal);
      GHashTableIter it;
      gpointer k, v;
      g_hash_table_iter_init (&it, map);
      while (g_hash_table_iter_next (&it, &k, &v))
        if (!g_hash_table_contains (shard_idx, v))
          {
            g_hash_table_insert (shard_idx, v, NULL);
            g_ptr_array_add (shards, v);
          }
      g_ptr_array_sort (shards, cmp_strp);
      g_autofree char *dir = g_path_get_dirname (path);
      for (guint i = 0; i < shards->len; i++)
        {
          g_hash_table_insert (shard_idx, shards->pdata[i], GUINT_TO_POINTER (i + 1));
          g_autofree char *sp = g_build_filename (dir, shards->pdata[i], NULL);
          SsSafetensors *st = ss_safetensors_open (sp, error);
          if (!st)
            {
              if (error && *error)
                g_prefix_error (error, "“%s” names a shard that cannot be used: ", set->display_name);
              return NULL;
            }
          g_ptr_array_add (set->files, st);
        }
      /* every listed tensor is in its shard ... */
      g_hash_table_iter_init (&it, map);
      while (g_hash_table_iter_next (&it, &k, &v))
        {
          guint fi = GPOINTER_TO_UINT (g_hash_table_lookup (shard_idx, v));
          SsSafetensors *st = set->files->pdata[fi - 1];
          const SsSafetensorsInfo *info = ss_safetensors_lookup (st, k);
          if (!info)
            {
              set_error (error, SS_ERROR_INVALID_DATA, set->display_name,
                         "tensor “%s” should be in “%s”, but it is not there (mixed-up download?)",
                         (const char *) k, (const char *) v);
              return NULL;
            }
          g_hash_table_insert (set->where, (gpointer) info->name, GUINT_TO_POINTER (fi));
        }
      /* ... and every tensor of a shard is listed for that shard */
      for (guint i = 0; i < set->files->len; i++)
        {
          SsSafetensors *st = set->files->pdata[i];
          for (guint j = 0; st->names[j]; j++)
            if (GPOINTER_TO_UINT (g_hash_table_lookup (set->where, st->names[j])) != i + 1)
              {
                set_error (error, SS_ERROR_INVALID_DATA, set->display_name,
                           "tensor “%s” in “%s” is not listed for that file in the index", st->names[j],
                           st->display_name);
                return NULL;
              }
        }
    }

  set->n = g_hash_table_size (set->where);
  set->names = g_new0 (const char *, set->n + 1);
  GHashTableIter it;
  gpointer k;
  guint i = 0;
  g_hash_table_iter_init (&it, set->where);
  while (g_hash_table_iter_next (&it, &k, NULL))
    set->names[i++] = k;
  qsort (set->names, set->n, sizeof (char *), cmp_strp);
  return g_steal_pointer (&set);
}

const char *
ss_safetensors_set_get_display_name (SsSafetensorsSet *set)
{
  g_return_val_if_fail (set != NULL, NULL);
  return set->display_name;
}

guint
ss_safetensors_set_get_n_tensors (SsSafetensorsSet *set)
{
  g_return_val_if_fail (set != NULL, 0);
  return set->n;
}

const char *const *
ss_safetensors_set_get_names (SsSafetensorsSet *set)
{
  g_return_val_if_fail (set != NULL, NULL);
  return set->names;
}

guint
ss_safetensors_set_get_n_files (SsSafetensorsSet *set)
{
  g_return_val_if_fail (set != NULL, 0);
  return set->files->len;
}

SsSafetensors *
ss_safetensors_set_get_file (SsSafetensorsSet *set, const char *name)
{
  g_return_val_if_fail (set != NULL && name != NULL, NULL);
  guint fi = GPOINTER_TO_UINT (g_hash_table_lookup (set->where, name));
  return fi ? set->files->pdata[fi - 1] : NULL;
}

const SsSafetensorsInfo *
ss_safetensors_set_lookup (SsSafetensorsSet *set, const char *name)
{
  SsSafetensors *st = ss_safetensors_set_get_file (set, name);
  return st ? ss_safetensors_lookup (st, name) : NULL;
}

static const SsSafetensorsInfo *
lookup_set (gpointer data, const char *name)
{
  return ss_safetensors_set_lookup (data, name);
}

gboolean
ss_safetensors_set_check (SsSafetensorsSet *set, const SsSafetensorsExpect *expect,
                          gsize n_expect, SsSafetensorsCheckFlags flags, GError **error)
{
  g_return_val_if_fail (set != NULL, FALSE);
  g_return_val_if_fail (expect != NULL || n_expect == 0, FALSE);
  return check_common (set->display_name, set->names, lookup_set, set, expect, n_expect, flags,
                       error);
}

/* ---------------------------------------------------------------------------
 * writer
 */

typedef struct {
  char *name;
  SsSafetensorsDtype dtype;
  guint rank;
  gint64 shape[SS_SAFETENSORS_MAX_RANK];
  GBytes *data;
} WEntry;

struct _SsSafetensorsWriter {
  GHashTable *tensors;  /* name -> WEntry* */
  GHashTable *metadata; /* key -> value */
};

static void
wentry_free (gpointer p)
{
  WEntry *e = p;
  g_free (e->name);
  g_bytes_unref (e->data);
  g_free (e);
}

SsSafetensorsWriter *
ss_safetensors_writer_new (void)
{
  SsSafetensorsWriter *w = g_new0 (SsSafetensorsWriter, 1);
  w->tensors = g_hash_table_new_full (g_str_hash, g_str_equal, NULL, wentry_free);
  w->metadata = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  return w;
}

void
ss_safetensors_writer_free (SsSafetensorsWriter *w)
{
  if (!w)
    return;
  g_hash_table_unref (w->tensors);
  g_hash_table_unref (w->metadata);
  g_free (w);
}

void
ss_safetensors_writer_set_metadata (SsSafetensorsWriter *w, const char *key, const char *value)
{
  g_return_if_fail (w != NULL && key != NULL && value != NULL);
  g_return_if_fail (g_utf8_validate (key, -1, NULL) && g_utf8_validate (value, -1, NULL));
  g_hash_table_replace (w->metadata, g_strdup (key), g_strdup (value));
}

static gsize
shape_bytes (SsSafetensorsDtype dtype, guint rank, const gint64 *shape)
{
  guint64 n = 1;
  for (guint i = 0; i < rank; i++)
    {
      g_return_val_if_fail (shape[i] >= 0, 0);
      n *= (guint64) shape[i];
    }
  return (gsize) n * ss_safetensors_dtype_size (dtype);
}

void
ss_safetensors_writer_add_bytes (SsSafetensorsWriter *w, const char *name,
                                 SsSafetensorsDtype dtype, guint rank, const gint64 *shape,
                                 GBytes *data)
{
  g_return_if_fail (w != NULL && name != NULL && data != NULL);
  g_return_if_fail (g_utf8_validate (name, -1, NULL) && strcmp (name, "__metadata__") != 0);
  g_return_if_fail ((guint) dtype < SS_SAFETENSORS_N_DTYPES);
  g_return_if_fail (rank <= SS_SAFETENSORS_MAX_RANK && (rank == 0 || shape != NULL));
  g_return_if_fail (g_bytes_get_size (data) == shape_bytes (dtype, rank, shape));

  WEntry *e = g_new0 (WEntry, 1);
  e->name = g_strdup (name);
  e->dtype = dtype;
  e->rank = rank;
  if (rank)
    memcpy (e->shape, shape, rank * sizeof (gint64));
  e->data = g_bytes_ref (data);
  g_hash_table_replace (w->tensors, e->name, e);
}

void
ss_safetensors_writer_add (SsSafetensorsWriter *w, const char *name, SsSafetensorsDtype dtype,
                           guint rank, const gint64 *shape, const void *data)
{
  g_return_if_fail (rank <= SS_SAFETENSORS_MAX_RANK && (rank == 0 || shape != NULL));
  gsize nb = shape_bytes (dtype, rank, shape);
  g_return_if_fail (data != NULL || nb == 0);
  g_autoptr (GBytes) b = g_bytes_new (data, nb);
  ss_safetensors_writer_add_bytes (w, name, dtype, rank, shape, b);
}

void
ss_safetensors_writer_add_f32 (SsSafetensorsWriter *w, const char *name,
                               SsSafetensorsDtype dtype, guint rank, const gint64 *shape,
                               const float *data)
{
  g_return_if_fail (ss_safetensors_dtype_is_engine_float (dtype));
  g_return_if_fail (rank <= SS_SAFETENSORS_MAX_RANK && (rank == 0 || shape != NULL));
  gsize nb = shape_bytes (dtype, rank, shape);
  gsize n = nb / ss_safetensors_dtype_size (dtype);
  g_return_if_fail (data != NULL || n == 0);
  if (dtype == SS_SAFETENSORS_F32)
    {
      ss_safetensors_writer_add (w, name, dtype, rank, shape, data);
      return;
    }
  guint16 *h = g_new (guint16, n ? n : 1);
  for (gsize i = 0; i < n; i++)
    h[i] = dtype == SS_SAFETENSORS_F16 ? ss_safetensors_f32_to_f16 (data[i])
                                       : ss_safetensors_f32_to_bf16 (data[i]);
  g_autoptr (GBytes) b = g_bytes_new_take (h, nb);
  ss_safetensors_writer_add_bytes (w, name, dtype, rank, shape, b);
}

static void
json_string (GString *s, const char *str)
{
  g_string_append_c (s, '"');
  for (const unsigned char *p = (const unsigned char *) str; *p; p++)
    {
      if (*p == '"' || *p == '\\')
        {
          g_string_append_c (s, '\\');
          g_string_append_c (s, (char) *p);
        }
      else if (*p < 0x20)
        g_string_append_printf (s, "\\u%04x", *p);
      else
        g_string_append_c (s, (char) *p);
    }
  g_string_append_c (s, '"');
}

static int
cmp_str (gconstpointer a, gconstpointer b)
{
  return strcmp (*(const char *const *) a, *(const char *const *) b);
}

static int
cmp_wentry (gconstpointer a, gconstpointer b)
{
  return strcmp ((*(WEntry *const *) a)->name, (*(WEntry *const *) b)->name);
}

/* Builds the header (padded) and the list of entries in file order. */
static GString *
build_header (SsSafetensorsWriter *w, GPtrArray **order_out)
{
  GPtrArray *order = g_ptr_array_new ();
  GHashTableIter it;
  gpointer k, v;
  g_hash_table_iter_init (&it, w->tensors);
  while (g_hash_table_iter_next (&it, &k, &v))
    g_ptr_array_add (order, v);
  g_ptr_array_sort (order, cmp_wentry);

  GString *h = g_string_new ("{");
  gboolean first = TRUE;
  if (g_hash_table_size (w->metadata))
    {
      g_autoptr (GPtrArray) keys = g_ptr_array_new ();
      GHashTableIter mit;
      gpointer mk;
      g_hash_table_iter_init (&mit, w->metadata);
      while (g_hash_table_iter_next (&mit, &mk, NULL))
        g_ptr_array_add (keys, mk);
      g_ptr_array_sort (keys, cmp_str);
      g_string_append (h, "\"__metadata__\":{");
      for (guint i = 0; i < keys->len; i++)
        {
          if (i)
            g_string_append_c (h, ',');
          json_string (h, keys->pdata[i]);
          g_string_append_c (h, ':');
          json_string (h, g_hash_table_lookup (w->metadata, keys->pdata[i]));
        }
      g_string_append_c (h, '}');
      first = FALSE;
    }
  guint64 off = 0;
  for (guint i = 0; i < order->len; i++)
    {
      WEntry *e = order->pdata[i];
      if (!first)
        g_string_append_c (h, ',');
      first = FALSE;
      json_string (h, e->name);
      g_string_append_printf (h, ":{\"dtype\":\"%s\",\"shape\":[",
                              ss_safetensors_dtype_name (e->dtype));
      for (guint d = 0; d < e->rank; d++)
        g_string_append_printf (h, "%s%" G_GINT64_FORMAT, d ? "," : "", e->shape[d]);
      guint64 end = off + g_bytes_get_size (e->data);
      g_string_append_printf (h, "],\"data_offsets\":[%" G_GUINT64_FORMAT ",%" G_GUINT64_FORMAT
                                 "]}",
                              off, end);
      off = end;
    }
  g_string_append_c (h, '}');
  while (h->len % 8)
    g_string_append_c (h, ' ');
  *order_out = order;
  return h;
}

static void
le64 (guint8 out[8], guint64 v)
{
  for (int i = 0; i < 8; i++)
    out[i] = (guint8) (v >> (8 * i));
}

GBytes *
ss_safetensors_writer_to_bytes (SsSafetensorsWriter *w)
{
  g_return_val_if_fail (w != NULL, NULL);
  GPtrArray *order = NULL;
  g_autoptr (GString) h = build_header (w, &order);
  GByteArray *out = g_byte_array_new ();
  guint8 pre[8];
  le64 (pre, h->len);
  g_byte_array_append (out, pre, 8);
  g_byte_array_append (out, (const guint8 *) h->str, h->len);
  for (guint i = 0; i < order->len; i++)
    {
      gsize n;
      const guint8 *d = g_bytes_get_data (((WEntry *) order->pdata[i])->data, &n);
      if (n)
        g_byte_array_append (out, d, n);
    }
  g_ptr_array_unref (order);
  return g_byte_array_free_to_bytes (out);
}

static gboolean
write_all (int fd, const void *data, gsize len)
{
  const guint8 *p = data;
  while (len > 0)
    {
      gssize r = write (fd, p, MIN (len, (gsize) 1 << 30));
      if (r < 0)
        {
          if (errno == EINTR)
            continue;
          return FALSE;
        }
      p += r;
      len -= (gsize) r;
    }
  return TRUE;
}

gboolean
ss_safetensors_writer_write (SsSafetensorsWriter *w, const char *path, GError **error)
{
  g_return_val_if_fail (w != NULL && path != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  g_autofree char *display = g_filename_display_basename (path);
  g_autofree char *dir = g_path_get_dirname (path);
  g_autofree char *base = g_path_get_basename (path);
  g_autofree char *tmp = g_strdup_printf ("%s/.%s.XXXXXX", dir, base);

  int fd = g_mkstemp_full (tmp, O_WRONLY | O_CLOEXEC, 0666);
  if (fd < 0)
    {
      int errsv = errno;
      set_error (error, SS_ERROR_IO, display, "could not save: %s", g_strerror (errsv));
      return FALSE;
    }

  GPtrArray *order = NULL;
  g_autoptr (GString) h = build_header (w, &order);
  guint8 pre[8];
  le64 (pre, h->len);
  gboolean ok = write_all (fd, pre, 8) && write_all (fd, h->str, h->len);
  for (guint i = 0; ok && i < order->len; i++)
    {
      gsize n;
      const guint8 *d = g_bytes_get_data (((WEntry *) order->pdata[i])->data, &n);
      ok = write_all (fd, d, n);
    }
  g_ptr_array_unref (order);
  int errsv = errno;
  if (ok && fsync (fd) != 0)
    {
      ok = FALSE;
      errsv = errno;
    }
  if (close (fd) != 0 && ok)
    {
      ok = FALSE;
      errsv = errno;
    }
  if (ok && g_rename (tmp, path) != 0)
    {
      ok = FALSE;
      errsv = errno;
    }
  if (!ok)
    {
      g_unlink (tmp);
      set_error (error, SS_ERROR_IO, display, "could not save: %s", g_strerror (errsv));
      return FALSE;
    }
  /* Make the rename durable. */
  int dfd = open (dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd >= 0)
    {
      fsync (dfd);
      close (dfd);
    }
  return TRUE;
}
