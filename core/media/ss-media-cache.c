/* ss-media-cache.c: validated binary cache files for waveforms and thumbnails. */
#define G_LOG_DOMAIN "ss-media"

#include <string.h>
#include <glib/gstdio.h>
#include "ss-media-private.h"

#define CACHE_MAGIC     "SSMC"
#define CACHE_FORMAT    1u
#define CACHE_KEY_LEN   64
#define CACHE_HEADER    (4 + 4 + 4 + CACHE_KEY_LEN + 8 + 32)
#define CACHE_MAX_BYTES (G_GUINT64_CONSTANT (1) << 31)

char *
ss_media_cache_key (const char *path, const char *params)
{
  g_autofree char *abs = g_canonicalize_filename (path, NULL);
  g_autoptr(GFile) file = g_file_new_for_path (abs);
  g_autoptr(GFileInfo) info = NULL;
  g_autoptr(GChecksum) sum = NULL;
  g_autofree char *material = NULL;

  info = g_file_query_info (file, G_FILE_ATTRIBUTE_STANDARD_SIZE "," G_FILE_ATTRIBUTE_TIME_MODIFIED ","
                            G_FILE_ATTRIBUTE_TIME_MODIFIED_USEC, G_FILE_QUERY_INFO_NONE, NULL, NULL);
  if (!info)
    return NULL;
  material = g_strdup_printf ("%s\n%" G_GINT64_FORMAT "\n%" G_GUINT64_FORMAT ".%u\n%s\n%s", abs,
                              (gint64) g_file_info_get_size (info),
                              g_file_info_get_attribute_uint64 (info, G_FILE_ATTRIBUTE_TIME_MODIFIED),
                              g_file_info_get_attribute_uint32 (info, G_FILE_ATTRIBUTE_TIME_MODIFIED_USEC),
                              params ? params : "", G_BYTE_ORDER == G_LITTLE_ENDIAN ? "le" : "be");
  sum = g_checksum_new (G_CHECKSUM_SHA256);
  g_checksum_update (sum, (const guchar *) material, -1);
  return g_strdup (g_checksum_get_string (sum));
}

char *
ss_media_cache_path (const char *kind, const char *key)
{
  g_autofree char *name = g_strconcat (key, ".bin", NULL);
  return g_build_filename (g_get_user_cache_dir (), "soundstage", kind, name, NULL);
}

static void
sha256 (const void *data, gsize len, guint8 out[32])
{
  g_autoptr(GChecksum) sum = g_checksum_new (G_CHECKSUM_SHA256);
  gsize n = 32;

  g_checksum_update (sum, data, len);
  g_checksum_get_digest (sum, out, &n);
}

static guint32
rd32 (const guint8 *p)
{
  return (guint32) p[0] | ((guint32) p[1] << 8) | ((guint32) p[2] << 16) | ((guint32) p[3] << 24);
}

static void
wr32 (guint8 *p, guint32 v)
{
  for (int i = 0; i < 4; i++)
    p[i] = (v >> (8 * i)) & 0xff;
}

static gint cache_hits;

guint
ss_media_cache_get_hits (void)
{
  return (guint) g_atomic_int_get (&cache_hits);
}

GBytes *
ss_media_cache_load (const char *kind, const char *key, guint32 version)
{
  g_autofree char *path = NULL;
  g_autofree guint8 *data = NULL;
  gsize len = 0;
  guint64 plen = 0;
  guint8 digest[32];

  if (!key || strlen (key) != CACHE_KEY_LEN)
    return NULL;
  path = ss_media_cache_path (kind, key);
  if (!g_file_get_contents (path, (char **) &data, &len, NULL))
    return NULL;
  if (len < CACHE_HEADER || memcmp (data, CACHE_MAGIC, 4) != 0 || rd32 (data + 4) != CACHE_FORMAT ||
      rd32 (data + 8) != version || memcmp (data + 12, key, CACHE_KEY_LEN) != 0)
    goto invalid;
  plen = (guint64) rd32 (data + 12 + CACHE_KEY_LEN) | ((guint64) rd32 (data + 16 + CACHE_KEY_LEN) << 32);
  if (plen != len - CACHE_HEADER)
    goto invalid;
  sha256 (data + CACHE_HEADER, (gsize) plen, digest);
  if (memcmp (digest, data + 20 + CACHE_KEY_LEN, 32) != 0)
    goto invalid;
  g_atomic_int_inc (&cache_hits);
  {
    guint8 *payload = data + CACHE_HEADER;   /* before the steal: argument order is unspecified */
    return g_bytes_new_with_free_func (payload, (gsize) plen, g_free, g_steal_pointer (&data));
  }

invalid:
  g_debug ("Ignoring damaged cache file %s", path);
  g_unlink (path);
  return NULL;
}

gboolean
ss_media_cache_store (const char *kind, const char *key, guint32 version, const void *payload, gsize len)
{
  g_autofree char *path = NULL;
  g_autofree char *dir = NULL;
  g_autofree guint8 *data = NULL;
  g_autoptr(GError) err = NULL;

  if (!key || strlen (key) != CACHE_KEY_LEN || (guint64) len > CACHE_MAX_BYTES)
    return FALSE;
  path = ss_media_cache_path (kind, key);
  dir = g_path_get_dirname (path);
  if (g_mkdir_with_parents (dir, 0700) != 0)
    return FALSE;
  data = g_try_malloc (CACHE_HEADER + len);
  if (!data)
    return FALSE;
  memcpy (data, CACHE_MAGIC, 4);
  wr32 (data + 4, CACHE_FORMAT);
  wr32 (data + 8, version);
  memcpy (data + 12, key, CACHE_KEY_LEN);
  wr32 (data + 12 + CACHE_KEY_LEN, (guint32) (len & 0xffffffffu));
  wr32 (data + 16 + CACHE_KEY_LEN, (guint32) ((guint64) len >> 32));
  sha256 (payload, len, data + 20 + CACHE_KEY_LEN);
  memcpy (data + CACHE_HEADER, payload, len);
  if (!g_file_set_contents (path, (const char *) data, (gssize) (CACHE_HEADER + len), &err))
    {
      g_debug ("Could not write cache file %s: %s", path, err->message);
      return FALSE;
    }
  return TRUE;
}
