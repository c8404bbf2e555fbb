/* Fuzz target: corpus labels (JSON read back by soundstage-sync-eval). Any input must
 * give either a label or a GError, never a crash. */
#include "models/ss-corpus.h"

#include <glib/gstdio.h>
#include <stdint.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  static char *path;
  if (path == NULL)
    path = g_strdup_printf ("%s/ss-fuzz-label-%d.json", g_get_tmp_dir (), (int) getpid ());
  if (!g_file_set_contents (path, (const char *) data, (gssize) size, NULL))
    return 0;
  double offset = 0;
  GArray *events = NULL;
  char *media = NULL;
  GError *error = NULL;
  if (ss_corpus_label_load (path, &offset, &events, &media, &error))
    {
      g_assert_nonnull (events);
      g_array_unref (events);
      g_free (media);
    }
  else
    {
      g_assert_nonnull (error);
      g_error_free (error);
    }
  g_unlink (path);
  return 0;
}
