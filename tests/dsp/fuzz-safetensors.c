/* fuzz-safetensors.c: the safetensors reader on arbitrary bytes. Besides not
 * crashing, every file it accepts must describe tensors inside the buffer, read
 * back through the converters, and survive a write/re-read round trip. */
#include <glib.h>
#include <stdint.h>
#include <string.h>

#include "tensor/ss-safetensors.h"

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  /* The same bytes as a sharded checkpoint's index. */
  {
    g_autoptr (GError) ierr = NULL;
    g_autoptr (GHashTable) map = ss_safetensors_index_parse ((const char *) data, size,
                                                            "fuzz.index.json", &ierr);
    g_assert ((map != NULL) != (ierr != NULL));
    if (map)
      {
        GHashTableIter it;
        gpointer k, v;
        g_hash_table_iter_init (&it, map);
        while (g_hash_table_iter_next (&it, &k, &v))
          g_assert (g_str_has_suffix (v, ".safetensors") && !strchr (v, '/'));
      }
  }

  g_autoptr (GBytes) bytes = g_bytes_new_static (data, size);
  g_autoptr (GError) error = NULL;
  g_autoptr (SsSafetensors) st = ss_safetensors_new_from_bytes (bytes, "fuzz.safetensors", &error);
  if (!st)
    {
      g_assert (error != NULL && error->domain == SS_ERROR);
      g_assert (g_str_has_prefix (error->message, "“fuzz.safetensors”: "));
      return 0;
    }
  g_assert (error == NULL);

  g_autoptr (SsSafetensorsWriter) w = ss_safetensors_writer_new ();
  const char *const *names = ss_safetensors_get_names (st);
  guint n = 0;
  for (; names[n]; n++)
    {
      const SsSafetensorsInfo *info = ss_safetensors_lookup (st, names[n]);
      g_assert (info != NULL);
      g_assert (info->data >= data && info->data + info->n_bytes <= data + size);
      g_assert (info->n_bytes == info->numel * ss_safetensors_dtype_size (info->dtype));
      if (n > 0)
        g_assert (strcmp (names[n - 1], names[n]) < 0);
      if (info->numel <= (1u << 20) && info->dtype <= SS_SAFETENSORS_BOOL)
        {
          float *f = g_new (float, info->numel + 1);
          guint16 *h = g_new (guint16, info->numel + 1);
          g_assert (ss_safetensors_read_f32 (st, names[n], f, info->numel, NULL));
          g_assert (ss_safetensors_read_f16 (st, names[n], h, info->numel, NULL));
          g_assert (ss_safetensors_read_bf16 (st, names[n], h, info->numel, NULL));
          g_free (f);
          g_free (h);
        }
      g_autoptr (GBytes) tb = g_bytes_new_static (info->data, info->n_bytes);
      ss_safetensors_writer_add_bytes (w, names[n], info->dtype, info->rank, info->shape, tb);
    }
  g_assert (n == ss_safetensors_get_n_tensors (st));

  GHashTable *meta = ss_safetensors_get_metadata (st);
  if (meta)
    {
      GHashTableIter it;
      gpointer k, v;
      g_hash_table_iter_init (&it, meta);
      while (g_hash_table_iter_next (&it, &k, &v))
        ss_safetensors_writer_set_metadata (w, k, v);
    }

  /* Checking against a model that expects the first tensor with a changed shape. */
  if (n > 0)
    {
      const SsSafetensorsInfo *info = ss_safetensors_lookup (st, names[0]);
      SsSafetensorsExpect x = { names[0], info->dtype, info->rank, { 0 } };
      memcpy (x.shape, info->shape, sizeof x.shape);
      g_assert (ss_safetensors_check (st, &x, 1, SS_SAFETENSORS_CHECK_ALLOW_UNEXPECTED, NULL));
      x.rank = info->rank == 0 ? 1 : info->rank - 1;
      g_autoptr (GError) cerr = NULL;
      g_assert (!ss_safetensors_check (st, &x, 1, 0, &cerr));
    }

  /* Round trip: what was accepted is written and accepted again, same content. */
  g_autoptr (GBytes) again = ss_safetensors_writer_to_bytes (w);
  g_autoptr (SsSafetensors) st2 = ss_safetensors_new_from_bytes (again, "again", &error);
  g_assert (st2 != NULL);
  g_assert (ss_safetensors_get_n_tensors (st2) == n);
  for (guint i = 0; i < n; i++)
    {
      const SsSafetensorsInfo *a = ss_safetensors_lookup (st, names[i]);
      const SsSafetensorsInfo *b = ss_safetensors_lookup (st2, names[i]);
      g_assert (b != NULL && a->dtype == b->dtype && a->rank == b->rank);
      g_assert (memcmp (a->shape, b->shape, a->rank * sizeof (gint64)) == 0);
      g_assert (a->n_bytes == b->n_bytes && memcmp (a->data, b->data, a->n_bytes) == 0);
    }
  return 0;
}
