/* ss-env.c: SOUNDSTAGE_* settings, each read once per process. */
#include "config.h"
#include "ss-env.h"

static GMutex lock;
static GHashTable *values;   /* name -> value ("" where unset or empty), never freed */

const char *
ss_env_value (const char *name)
{
  g_return_val_if_fail (name != NULL, NULL);
  g_autoptr (GMutexLocker) locker G_GNUC_UNUSED = g_mutex_locker_new (&lock);
  if (!values)
    values = g_hash_table_new (g_str_hash, g_str_equal);
  const char *v = g_hash_table_lookup (values, name);
  if (!v)
    {
      const char *e = g_getenv (name);
      v = g_strdup (e ? e : "");
      g_hash_table_insert (values, g_strdup (name), (gpointer) v);
    }
  return *v ? v : NULL;
}

gboolean
ss_env_flag (const char *name, gboolean dflt)
{
  int c = ss_env_choice (name);
  return c < 0 ? dflt : c;
}

int
ss_env_choice (const char *name)
{
  const char *v = ss_env_value (name);
  return !v ? -1 : g_strcmp0 (v, "0") != 0;
}
