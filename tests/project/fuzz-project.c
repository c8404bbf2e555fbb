/* fuzz-project.c: ss_project_load_from_data on arbitrary bytes.
 *
 * Besides "never crash", checks a property on every accepted input: the
 * document written back as JSON loads again and gives the same JSON, and a few
 * edits followed by undo leave it unchanged. */
#include "project/ss-project.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void
quiet_log (const char *domain, GLogLevelFlags level, const char *message, gpointer data)
{
}

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  static gboolean init;
  if (!init)
    {
      init = TRUE;
      g_log_set_default_handler (quiet_log, NULL);
    }

  GError *error = NULL;
  SsProject *p = ss_project_load_from_data ((const char *) data, size, NULL, &error);
  if (p == NULL)
    {
      /* every refusal is a clear SS_ERROR */
      if (error == NULL || error->domain != SS_ERROR || error->message == NULL || error->message[0] == '\0')
        abort ();
      g_error_free (error);
      return 0;
    }
  if (error != NULL)
    abort ();

  gsize len = 0;
  char *json1 = ss_project_to_json_for_dir (p, NULL, &len);
  SsProject *p2 = ss_project_load_from_data (json1, len, NULL, &error);
  if (p2 == NULL)
    {
      fprintf (stderr, "re-load failed: %s\n%s\n", error->message, json1);
      abort ();
    }
  char *json2 = ss_project_to_json_for_dir (p2, NULL, NULL);
  if (strcmp (json1, json2) != 0)
    {
      fprintf (stderr, "round trip differs:\n%s\n---\n%s\n", json1, json2);
      abort ();
    }

  /* Some edits on whatever the document holds, then undo them all. */
  ss_project_begin_group (p2, "Fuzz");
  for (guint i = 0; i < ss_project_get_n_tracks (p2); i++)
    {
      const SsTrack *t = ss_project_get_track (p2, i);
      char *tid = g_strdup (t->id);
      if (t->clips->len > 0)
        {
          const SsClip *c = g_ptr_array_index (t->clips, 0);
          char *cid = g_strdup (c->id);
          SsTime mid = c->start + c->duration / 2;
          ss_project_split_clip (p2, cid, mid, NULL);
          ss_project_trim_clip (p2, cid, c->start, 1, NULL);
          ss_project_set_clip_gain (p2, cid, -3.0, NULL);
          g_free (cid);
        }
      ss_project_shift_track (p2, tid, -SS_TIME_SECOND / 3, NULL);
      ss_project_set_track_solo (p2, tid, TRUE);
      g_free (tid);
    }
  ss_project_end_group (p2);
  ss_project_undo (p2);
  char *json3 = ss_project_to_json_for_dir (p2, NULL, NULL);
  if (strcmp (json1, json3) != 0)
    {
      fprintf (stderr, "undo did not restore the document\n");
      abort ();
    }
  (void) ss_project_get_duration (p2);

  g_free (json1);
  g_free (json2);
  g_free (json3);
  g_object_unref (p2);
  g_object_unref (p);
  return 0;
}
