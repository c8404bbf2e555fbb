/* The Synchformer configs: the reference tensor list must match the public
 * checkpoint's structure (a converted checkpoint would not load otherwise).
 * `test-synchformer-config --dump CONFIG` prints the list as JSON; the committed
 * synchformer-reference-tensors.json was written that way and is what
 * tools/reference/synchformer.py checks its PyTorch modules against. */
#include "models/sync/ss-synchformer-config.h"
#include "models/sync/ss-sync.h"
#include "ss-types.h"

#include <json-glib/json-glib.h>
#include <stdio.h>
#include <string.h>

static gint64
count_params (GPtrArray *l)
{
  gint64 n = 0;
  for (guint i = 0; i < l->len; i++)
    n += ss_tensor_spec_numel (g_ptr_array_index (l, i));
  return n;
}

/* Parameter count from the architecture, independently of the tensor list. */
static gint64
expected_params (const SsSynchformerConfig *c)
{
  gint64 vd = c->v_dim, ad = c->a_dim, sd = c->s_dim;
  gint64 g = c->image_size / c->v_patch, vt = c->segment_frames / c->v_tubelet;
  gint64 ln_v = 2 * vd, ln_a = 2 * ad, ln_s = 2 * sd;
  /* divided block: 2 attentions (qkv + proj), MLP, 3 norms */
  gint64 vblock = 2 * (3 * vd * vd + 3 * vd + vd * vd + vd) + (c->v_mlp * vd + c->v_mlp + vd * c->v_mlp + vd) + 3 * ln_v;
  gint64 agg_v = vd + (3 * vd * vd + 3 * vd) + (vd * vd + vd) + 2 * (c->agg_mlp_ratio * vd * vd) + c->agg_mlp_ratio * vd + vd + 2 * ln_v;
  gint64 video = vd + (g * g + 1) * vd + vt * vd
                 + (c->v_keep_patch_embed_2d ? vd * c->v_channels * c->v_patch * c->v_patch + vd : 0)
                 + vd * c->v_channels * c->v_tubelet * c->v_patch * c->v_patch + vd
                 + c->v_layers * vblock + ln_v + agg_v;
  gint64 f = (c->n_mels - c->a_patch) / c->a_fstride + 1, t = (c->spec_frames - c->a_patch) / c->a_tstride + 1;
  gint64 ablock = 4 * (ad * ad + ad) + (c->a_mlp * ad + c->a_mlp) + (ad * c->a_mlp + ad) + 2 * ln_a;
  gint64 agg_a = ad + (3 * ad * ad + 3 * ad) + (ad * ad + ad) + 2 * (c->agg_mlp_ratio * ad * ad) + c->agg_mlp_ratio * ad + ad + 2 * ln_a;
  gint64 audio = 2 * ad + (f * t + 2) * ad + ad * c->a_patch * c->a_patch + ad + c->a_layers * ablock + ln_a + agg_a;
  gint64 proj = (sd * vd + sd) + (sd * ad + sd);
  gint64 sblock = 2 * ln_s + 4 * (sd * sd + sd) + (c->s_mlp_ratio * sd * sd + c->s_mlp_ratio * sd) + (sd * c->s_mlp_ratio * sd + sd);
  gint64 sync = 2 * sd + 2 * ln_s + c->pos_len * sd + c->s_layers * sblock + ln_s + (c->n_classes * sd + c->n_classes);
  return video + audio + proj + sync;
}

static const SsTensorSpec *
find (GPtrArray *l, const char *name)
{
  for (guint i = 0; i < l->len; i++)
    {
      const SsTensorSpec *t = g_ptr_array_index (l, i);
      if (strcmp (t->name, name) == 0)
        return t;
    }
  return NULL;
}

static void
check_config (const SsSynchformerConfig *c)
{
  g_autoptr (GError) error = NULL;
  g_assert_true (ss_synchformer_config_validate (c, &error));
  g_assert_no_error (error);

  g_autoptr (GPtrArray) l = ss_synchformer_config_tensors (c);
  g_autoptr (GHashTable) seen = g_hash_table_new (g_str_hash, g_str_equal);
  for (guint i = 0; i < l->len; i++)
    {
      const SsTensorSpec *t = g_ptr_array_index (l, i);
      g_assert_false (g_hash_table_contains (seen, t->name));   /* names are unique */
      g_hash_table_add (seen, t->name);
      g_assert_cmpint (t->n_dims, >=, 1);
      for (int d = 0; d < t->n_dims; d++)
        g_assert_cmpint (t->shape[d], >, 0);
    }
  /* per layer: 18 tensors per divided block, 16 per AST layer, 16 per sync block;
   * the fixed rest: video 7 (+2 for the 2D patch embedding) + norm 2 + aggregation 13,
   * audio 5 + norm 2 + aggregation 13, projections 4, sync 2 + 4 + 1 + 2 + head 2 */
  guint expected = c->v_layers * 18 + c->a_layers * 16 + c->s_layers * 16
                   + (5 + (c->v_keep_patch_embed_2d ? 2 : 0) + 2 + 13) + (5 + 2 + 13) + 4 + (2 + 4 + 1 + 2 + 2);
  g_assert_cmpuint (l->len, ==, expected);
  g_assert_cmpint (count_params (l), ==, expected_params (c));

  /* shapes follow from the dims */
  const SsTensorSpec *pos = find (l, "transformer.pos_emb_cfg.pos_emb");
  g_assert_nonnull (pos);
  g_assert_cmpint (pos->shape[1], ==, ss_synchformer_sequence_length (c));
  const SsTensorSpec *ape = find (l, "afeat_extractor.ast.embeddings.position_embeddings");
  g_assert_cmpint (ape->shape[1], ==,
                   ss_synchformer_audio_freq_tokens (c) * ss_synchformer_audio_time_tokens (c) + 2);
  const SsTensorSpec *vpe = find (l, "vfeat_extractor.pos_embed");
  g_assert_cmpint (vpe->shape[1], ==, ss_synchformer_video_grid (c) * ss_synchformer_video_grid (c) + 1);
  const SsTensorSpec *te = find (l, "vfeat_extractor.temp_embed");
  g_assert_cmpint (te->shape[1], ==, ss_synchformer_video_time_tokens (c));
  const SsTensorSpec *head = find (l, c->head == SS_SYNCHFORMER_OFFSET ? "transformer.off_head.weight"
                                                                        : "transformer.sync_head.weight");
  g_assert_nonnull (head);
  g_assert_cmpint (head->shape[0], ==, c->n_classes);
  g_assert_cmpint (head->shape[1], ==, c->s_dim);
}

static void
test_reference (void)
{
  const SsSynchformerConfig *c = ss_synchformer_config_reference ();
  check_config (c);
  /* the figures of the paper / public config */
  g_assert_cmpint (ss_synchformer_audio_freq_tokens (c), ==, 12);
  g_assert_cmpint (ss_synchformer_audio_time_tokens (c), ==, 6);
  g_assert_cmpint (ss_synchformer_video_time_tokens (c), ==, 8);
  g_assert_cmpint (ss_synchformer_video_grid (c), ==, 14);
  g_assert_cmpint (ss_synchformer_sequence_length (c), ==, 198);
  g_assert_cmpint (ss_synchformer_segment_samples (c), ==, 10240);
  g_assert_cmpint (c->n_classes, ==, SS_SYNC_N_CLASSES);
  /* 14 segments with a hop of 8 frames cover 4.8 s */
  g_assert_cmpfloat_with_epsilon (((c->n_segments - 1) * c->segment_hop + c->segment_frames) / (double) c->fps,
                                  SS_SYNC_WINDOW, 1e-9);
  g_autoptr (GPtrArray) l = ss_synchformer_config_tensors (c);
  /* about 237 M parameters: the divided space-time ViT-B (121 M, TimeSformer-like), the
   * AST ViT-B (86 M), two aggregation layers (7 M each) and the sync transformer (22 M) */
  g_assert_cmpint (count_params (l), >, 230000000);
  g_assert_cmpint (count_params (l), <, 245000000);
}

static void
test_syncability (void)
{
  const SsSynchformerConfig *c = ss_synchformer_config_reference_syncability ();
  check_config (c);
  g_assert_cmpint (ss_synchformer_sequence_length (c), ==, 184);
  g_assert_cmpint (c->n_classes, ==, 2);
}

static void
test_tiny (void)
{
  const SsSynchformerConfig *c = ss_synchformer_config_tiny ();
  check_config (c);
  g_autoptr (GPtrArray) l = ss_synchformer_config_tensors (c);
  g_assert_cmpint (count_params (l), <, 500000);
  g_assert_true (ss_synchformer_config_by_name ("tiny") == c);
  g_assert_null (ss_synchformer_config_by_name ("huge"));
}

static void
test_bad_config (void)
{
  SsSynchformerConfig c = *ss_synchformer_config_tiny ();
  c.pos_len = 30;
  g_autoptr (GError) error = NULL;
  g_assert_false (ss_synchformer_config_validate (&c, &error));
  g_assert_error (error, SS_ERROR, SS_ERROR_INVALID_DATA);
  g_assert_nonnull (strstr (error->message, "position embedding"));
  g_clear_error (&error);
  c = *ss_synchformer_config_tiny ();
  c.a_heads = 5;
  g_assert_false (ss_synchformer_config_validate (&c, &error));
  g_assert_nonnull (strstr (error->message, "heads"));
}

static char *
tensors_json (const SsSynchformerConfig *c)
{
  g_autoptr (GPtrArray) l = ss_synchformer_config_tensors (c);
  GString *s = g_string_new (NULL);
  g_string_append_printf (s, "{\n \"config\": \"%s\",\n \"tensors\": [\n", c->name);
  for (guint i = 0; i < l->len; i++)
    {
      const SsTensorSpec *t = g_ptr_array_index (l, i);
      g_string_append_printf (s, "  {\"name\": \"%s\", \"shape\": [", t->name);
      for (int d = 0; d < t->n_dims; d++)
        g_string_append_printf (s, "%s%" G_GINT64_FORMAT, d ? ", " : "", t->shape[d]);
      g_string_append_printf (s, "]}%s\n", i + 1 < l->len ? "," : "");
    }
  g_string_append (s, " ]\n}\n");
  return g_string_free (s, FALSE);
}

/* The committed JSON (what the PyTorch reference is checked against) is this list. */
static void
test_json_fixture (void)
{
  const char *src = g_getenv ("SOUNDSTAGE_SOURCE_DIR");
  if (src == NULL)
    {
      g_test_skip ("SOUNDSTAGE_SOURCE_DIR is not set");
      return;
    }
  const char *names[] = { "reference", "tiny" };
  for (guint i = 0; i < G_N_ELEMENTS (names); i++)
    {
      g_autofree char *file = g_strdup_printf ("synchformer-%s-tensors.json", names[i]);
      g_autofree char *path = g_build_filename (src, "tests", "sync", file, NULL);
      g_autofree char *committed = NULL;
      g_autoptr (GError) error = NULL;
      g_assert_true (g_file_get_contents (path, &committed, NULL, &error));
      g_autofree char *now = tensors_json (ss_synchformer_config_by_name (names[i]));
      g_assert_cmpstr (committed, ==, now);
    }
}

int
main (int argc, char **argv)
{
  if (argc == 3 && strcmp (argv[1], "--dump") == 0)
    {
      const SsSynchformerConfig *c = ss_synchformer_config_by_name (argv[2]);
      if (c == NULL)
        {
          fprintf (stderr, "unknown config %s\n", argv[2]);
          return 2;
        }
      g_autofree char *s = tensors_json (c);
      fputs (s, stdout);
      return 0;
    }
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/sync/synchformer/reference", test_reference);
  g_test_add_func ("/sync/synchformer/syncability", test_syncability);
  g_test_add_func ("/sync/synchformer/tiny", test_tiny);
  g_test_add_func ("/sync/synchformer/bad-config", test_bad_config);
  g_test_add_func ("/sync/synchformer/json-fixture", test_json_fixture);
  return g_test_run ();
}
