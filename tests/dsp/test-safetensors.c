/* test-safetensors.c: reading, writing, corruption handling and model checks. */
#include <glib.h>
#include <glib/gstdio.h>
#include <math.h>
#include <string.h>

#include "config.h"
#include "tensor/ss-safetensors.h"

/* A file from a raw JSON header and n data bytes (0, 1, 2, ... mod 251). */
static GBytes *
make_raw (const char *header, gsize n_data)
{
  gsize hl = strlen (header);
  GByteArray *a = g_byte_array_new ();
  guint8 pre[8];
  for (int i = 0; i < 8; i++)
    pre[i] = (guint8) ((guint64) hl >> (8 * i));
  g_byte_array_append (a, pre, 8);
  g_byte_array_append (a, (const guint8 *) header, hl);
  for (gsize i = 0; i < n_data; i++)
    {
      guint8 b = (guint8) (i % 251);
      g_byte_array_append (a, &b, 1);
    }
  return g_byte_array_free_to_bytes (a);
}

/* Parses and expects failure with the given code and message fragments. */
static void
expect_fail (GBytes *bytes, int code, const char *frag1, const char *frag2)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (SsSafetensors) st = ss_safetensors_new_from_bytes (bytes, "model.safetensors", &error);
  g_assert_null (st);
  g_assert_nonnull (error);
  if (g_test_verbose ())
    g_printerr ("  %s\n", error->message);
  g_assert_error (error, SS_ERROR, code);
  g_assert_true (g_str_has_prefix (error->message, "“model.safetensors”: "));
  if (frag1 && !strstr (error->message, frag1))
    g_error ("message “%s” lacks “%s”", error->message, frag1);
  if (frag2 && !strstr (error->message, frag2))
    g_error ("message “%s” lacks “%s”", error->message, frag2);
}

static void
expect_fail_raw (const char *header, gsize n_data, int code, const char *frag1, const char *frag2)
{
  g_autoptr (GBytes) b = make_raw (header, n_data);
  expect_fail (b, code, frag1, frag2);
}

static SsSafetensorsWriter *
sample_writer (float *w_out /* 6 */)
{
  SsSafetensorsWriter *w = ss_safetensors_writer_new ();
  float wv[6] = { 1.0f, -2.5f, 3.25f, 1e-3f, -65504.0f, 0.1f };
  memcpy (w_out, wv, sizeof wv);
  gint64 s23[] = { 2, 3 };
  ss_safetensors_writer_add (w, "blocks.0.attn.qkv.weight", SS_SAFETENSORS_F32, 2, s23, wv);
  ss_safetensors_writer_add_f32 (w, "blocks.0.attn.qkv.weight.f16", SS_SAFETENSORS_F16, 2, s23, wv);
  ss_safetensors_writer_add_f32 (w, "a.bf16", SS_SAFETENSORS_BF16, 2, s23, wv);
  gint64 idx[3] = { -5, 0, 1LL << 40 };
  gint64 s3[] = { 3 };
  ss_safetensors_writer_add (w, "z.index", SS_SAFETENSORS_I64, 1, s3, idx);
  float scale = 0.125f;
  ss_safetensors_writer_add (w, "scale", SS_SAFETENSORS_F32, 0, NULL, &scale);
  gint64 s04[] = { 0, 4 };
  ss_safetensors_writer_add (w, "empty", SS_SAFETENSORS_F32, 2, s04, NULL);
  ss_safetensors_writer_set_metadata (w, "format", "pt");
  ss_safetensors_writer_set_metadata (w, "note", "quote \" backslash \\ newline \n é");
  return w;
}

static void
test_round_trip (void)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *dir = g_dir_make_tmp ("ss-st-XXXXXX", &error);
  g_assert_no_error (error);
  g_autofree char *path = g_build_filename (dir, "model.safetensors", NULL);

  float wv[6];
  g_autoptr (SsSafetensorsWriter) w = sample_writer (wv);
  g_assert_true (ss_safetensors_writer_write (w, path, &error));
  g_assert_no_error (error);

  /* Header padded so the data area starts at a multiple of 8. */
  g_autofree char *raw = NULL;
  gsize raw_len;
  g_assert_true (g_file_get_contents (path, &raw, &raw_len, NULL));
  guint64 hl = 0;
  for (int i = 7; i >= 0; i--)
    hl = (hl << 8) | (guint8) raw[i];
  g_assert_cmpuint ((8 + hl) % 8, ==, 0);
  /* Data: 24 + 12 + 12 + 24 + 4 + 0 */
  g_assert_cmpuint (raw_len, ==, 8 + hl + 24 + 12 + 12 + 24 + 4);

  g_autoptr (SsSafetensors) st = ss_safetensors_open (path, &error);
  g_assert_no_error (error);
  g_assert_nonnull (st);
  g_assert_cmpuint (ss_safetensors_get_n_tensors (st), ==, 6);
  const char *const *names = ss_safetensors_get_names (st);
  const char *want[] = { "a.bf16", "blocks.0.attn.qkv.weight", "blocks.0.attn.qkv.weight.f16",
                         "empty", "scale", "z.index", NULL };
  for (int i = 0; want[i]; i++)
    g_assert_cmpstr (names[i], ==, want[i]);
  g_assert_null (names[6]);

  const SsSafetensorsInfo *info = ss_safetensors_lookup (st, "blocks.0.attn.qkv.weight");
  g_assert_nonnull (info);
  g_assert_cmpint (info->dtype, ==, SS_SAFETENSORS_F32);
  g_assert_cmpuint (info->rank, ==, 2);
  g_assert_cmpint (info->shape[0], ==, 2);
  g_assert_cmpint (info->shape[1], ==, 3);
  g_assert_cmpuint (info->numel, ==, 6);
  g_assert_cmpmem (info->data, info->n_bytes, wv, sizeof wv);

  float f[6];
  g_assert_true (ss_safetensors_read_f32 (st, "blocks.0.attn.qkv.weight.f16", f, 6, &error));
  for (int i = 0; i < 6; i++)
    g_assert_cmpfloat_with_epsilon (f[i], wv[i], fabsf (wv[i]) * 1e-3f + 1e-7f);
  g_assert_true (ss_safetensors_read_f32 (st, "a.bf16", f, 6, &error));
  for (int i = 0; i < 6; i++)
    g_assert_cmpfloat_with_epsilon (f[i], wv[i], fabsf (wv[i]) * 8e-3f);
  /* f32 -> f16 conversion on read matches the writer's rounding. */
  guint16 h[6], h2[6];
  g_assert_true (ss_safetensors_read_f16 (st, "blocks.0.attn.qkv.weight", h, 6, &error));
  g_assert_true (ss_safetensors_read_f16 (st, "blocks.0.attn.qkv.weight.f16", h2, 6, &error));
  g_assert_cmpmem (h, sizeof h, h2, sizeof h2);
  g_assert_true (ss_safetensors_read_bf16 (st, "a.bf16", h, 6, &error));
  g_assert_cmphex (h[0], ==, 0x3f80);

  gsize n = 0;
  g_autofree float *idx = ss_safetensors_dup_f32 (st, "z.index", &n, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (n, ==, 3);
  g_assert_cmpfloat (idx[0], ==, -5.0f);
  g_assert_cmpfloat (idx[2], ==, (float) (1LL << 40));

  info = ss_safetensors_lookup (st, "scale");
  g_assert_cmpuint (info->rank, ==, 0);
  g_assert_cmpuint (info->numel, ==, 1);
  info = ss_safetensors_lookup (st, "empty");
  g_assert_cmpuint (info->numel, ==, 0);
  g_assert_cmpuint (info->n_bytes, ==, 0);

  g_assert_cmpstr (ss_safetensors_get_metadata_value (st, "format"), ==, "pt");
  g_assert_cmpstr (ss_safetensors_get_metadata_value (st, "note"), ==,
                   "quote \" backslash \\ newline \n é");
  g_assert_null (ss_safetensors_lookup (st, "nope"));

  /* Wrong element count and missing tensor are errors that name both. */
  g_assert_false (ss_safetensors_read_f32 (st, "scale", f, 6, &error));
  g_assert_error (error, SS_ERROR, SS_ERROR_INVALID_DATA);
  g_assert_nonnull (strstr (error->message, "“scale”"));
  g_clear_error (&error);
  g_assert_null (ss_safetensors_get (st, "blocks.9.mlp", &error));
  g_assert_error (error, SS_ERROR, SS_ERROR_NOT_FOUND);
  g_assert_nonnull (strstr (error->message, "“model.safetensors”"));
  g_assert_nonnull (strstr (error->message, "“blocks.9.mlp”"));
  g_clear_error (&error);

  /* Overwriting is atomic and leaves no temp file behind. */
  ss_safetensors_writer_set_metadata (w, "format", "v2");
  g_assert_true (ss_safetensors_writer_write (w, path, &error));
  g_autoptr (GDir) d = g_dir_open (dir, 0, NULL);
  int count = 0;
  while (g_dir_read_name (d))
    count++;
  g_assert_cmpint (count, ==, 1);
  g_autoptr (SsSafetensors) st2 = ss_safetensors_open (path, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (ss_safetensors_get_metadata_value (st2, "format"), ==, "v2");

  /* The in-memory form is byte-identical to the file. */
  g_autoptr (GBytes) mem = ss_safetensors_writer_to_bytes (w);
  g_autofree char *raw2 = NULL;
  g_assert_true (g_file_get_contents (path, &raw2, &raw_len, NULL));
  g_assert_cmpmem (g_bytes_get_data (mem, NULL), g_bytes_get_size (mem), raw2, raw_len);

  g_unlink (path);
  g_rmdir (dir);
}

static void
test_write_error (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (SsSafetensorsWriter) w = ss_safetensors_writer_new ();
  float v = 1;
  ss_safetensors_writer_add (w, "x", SS_SAFETENSORS_F32, 0, NULL, &v);
  g_assert_false (ss_safetensors_writer_write (w, "/nonexistent-dir-ss/lora.safetensors", &error));
  g_assert_error (error, SS_ERROR, SS_ERROR_IO);
  g_assert_nonnull (strstr (error->message, "lora.safetensors"));
}

static void
test_open_errors (void)
{
  g_autoptr (GError) error = NULL;
  g_assert_null (ss_safetensors_open ("/nonexistent-ss/weights.safetensors", &error));
  g_assert_error (error, SS_ERROR, SS_ERROR_NOT_FOUND);
  g_assert_nonnull (strstr (error->message, "weights.safetensors"));
  g_clear_error (&error);
  g_assert_null (ss_safetensors_open ("/tmp", &error));
  g_assert_error (error, SS_ERROR, SS_ERROR_INVALID_DATA);
}

static void
test_truncated (void)
{
  float wv[6];
  g_autoptr (SsSafetensorsWriter) w = sample_writer (wv);
  g_autoptr (GBytes) full = ss_safetensors_writer_to_bytes (w);
  gsize len = g_bytes_get_size (full);
  /* Cut in the data area: the last tensor in file order is "z.index". */
  g_autoptr (GBytes) cut = g_bytes_new_from_bytes (full, 0, len - 3);
  expect_fail (cut, SS_ERROR_INVALID_DATA, "tensor “z.index” ends past the end of the file",
               "truncated download?");
  /* Cut in the header. */
  g_autoptr (GBytes) cut2 = g_bytes_new_from_bytes (full, 0, 40);
  expect_fail (cut2, SS_ERROR_INVALID_DATA, "runs past the end of the file", "truncated");
  g_autoptr (GBytes) cut3 = g_bytes_new_from_bytes (full, 0, 5);
  expect_fail (cut3, SS_ERROR_INVALID_DATA, "too short", NULL);
  g_autoptr (GBytes) empty = g_bytes_new (NULL, 0);
  expect_fail (empty, SS_ERROR_INVALID_DATA, "empty file", NULL);
}

static void
test_header_too_big (void)
{
  guint8 buf[64] = { 0 };
  guint64 big = 200u * 1024u * 1024u;
  for (int i = 0; i < 8; i++)
    buf[i] = (guint8) (big >> (8 * i));
  buf[8] = '{';
  g_autoptr (GBytes) b = g_bytes_new (buf, sizeof buf);
  expect_fail (b, SS_ERROR_INVALID_DATA, "100 MiB", NULL);
  /* A huge value (e.g. text mistaken for a size). */
  memset (buf, 0xff, 8);
  g_autoptr (GBytes) b2 = g_bytes_new (buf, sizeof buf);
  expect_fail (b2, SS_ERROR_INVALID_DATA, "100 MiB", NULL);
}

static void
test_bad_json (void)
{
  expect_fail_raw ("{\"a\": {\"dtype\": \"F32\", ", 0, SS_ERROR_INVALID_DATA, "not valid JSON", NULL);
  expect_fail_raw ("[1, 2, 3]", 0, SS_ERROR_INVALID_DATA, "JSON object", NULL);
  expect_fail_raw ("hello", 0, SS_ERROR_INVALID_DATA, "JSON object", NULL);
  expect_fail_raw ("{\"a\": 3}", 0, SS_ERROR_INVALID_DATA, "“a”", "not described");
  expect_fail_raw ("{\"a\":{\"dtype\":\"F32\",\"shape\":[1]}}", 4, SS_ERROR_INVALID_DATA, "“a”",
                   "data_offsets");
  expect_fail_raw ("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4],\"x\":1}}", 4,
                   SS_ERROR_INVALID_DATA, "“a”", "unknown field “x”");
  expect_fail_raw ("{\"a\":{\"dtype\":7,\"shape\":[1],\"data_offsets\":[0,4]}}", 4,
                   SS_ERROR_INVALID_DATA, "“a”", "dtype");
  expect_fail_raw ("{\"a\":{\"dtype\":\"F32\",\"shape\":[1.5],\"data_offsets\":[0,4]}}", 4,
                   SS_ERROR_INVALID_DATA, "“a”", "shape");
  expect_fail_raw ("{\"a\":{\"dtype\":\"F32\",\"shape\":[-1],\"data_offsets\":[0,4]}}", 4,
                   SS_ERROR_INVALID_DATA, "“a”", "non-negative");
  expect_fail_raw ("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,0]}}", 4,
                   SS_ERROR_INVALID_DATA, "“a”", "data_offsets");
  expect_fail_raw ("{\"__metadata__\":{\"k\":1}}", 0, SS_ERROR_INVALID_DATA, "__metadata__",
                   "“k”");
  expect_fail_raw ("{\"__metadata__\":[]}", 0, SS_ERROR_INVALID_DATA, "__metadata__", NULL);
  /* Embedded NUL in the header. */
  g_autoptr (GBytes) b = make_raw ("{\"a\":1}", 0);
  guint8 *copy = g_memdup2 (g_bytes_get_data (b, NULL), g_bytes_get_size (b));
  copy[10] = 0;
  g_autoptr (GBytes) b2 = g_bytes_new_take (copy, g_bytes_get_size (b));
  expect_fail (b2, SS_ERROR_INVALID_DATA, "UTF-8", NULL);
}

static void
test_offsets (void)
{
  /* Out of range: data area has 8 bytes, tensor wants [4, 12]. */
  expect_fail_raw ("{\"w\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}", 8,
                   SS_ERROR_INVALID_DATA, "tensor “w” ends past the end of the file", NULL);
  /* Overlapping. */
  expect_fail_raw ("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
                   "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}",
                   12, SS_ERROR_INVALID_DATA, "“a” and “b” overlap", NULL);
  /* A hole between tensors. */
  expect_fail_raw ("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
                   "\"b\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[8,12]}}",
                   12, SS_ERROR_INVALID_DATA, "before tensor “b” belong to no tensor", NULL);
  /* Trailing bytes after the last tensor. */
  expect_fail_raw ("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", 9,
                   SS_ERROR_INVALID_DATA, "5 bytes at the end", NULL);
  /* Huge offsets. */
  expect_fail_raw ("{\"a\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":"
                   "[9223372036854775806,9223372036854775807]}}",
                   1, SS_ERROR_INVALID_DATA, "“a” ends past the end", NULL);
}

static void
test_shape_size (void)
{
  expect_fail_raw ("{\"w\":{\"dtype\":\"F32\",\"shape\":[2,3],\"data_offsets\":[0,20]}}", 20,
                   SS_ERROR_INVALID_DATA, "tensor “w” has 20 bytes", "[2, 3] and dtype F32 need 24");
  expect_fail_raw ("{\"w\":{\"dtype\":\"F16\",\"shape\":[4294967296,4294967296,4294967296],"
                   "\"data_offsets\":[0,0]}}",
                   0, SS_ERROR_INVALID_DATA, "“w”", "impossibly large");
  expect_fail_raw ("{\"w\":{\"dtype\":\"F16\",\"shape\":[1,1,1,1,1,1,1,1,1],"
                   "\"data_offsets\":[0,2]}}",
                   2, SS_ERROR_UNSUPPORTED, "“w”", "9 dimensions");
  /* A zero dimension makes any product empty. */
  g_autoptr (GBytes) b = make_raw ("{\"w\":{\"dtype\":\"F32\",\"shape\":[0,9223372036854775807],"
                                   "\"data_offsets\":[0,0]}}",
                                   0);
  g_autoptr (GError) error = NULL;
  g_autoptr (SsSafetensors) st = ss_safetensors_new_from_bytes (b, "x", &error);
  g_assert_no_error (error);
  g_assert_cmpuint (ss_safetensors_lookup (st, "w")->numel, ==, 0);
}

static void
test_dtypes (void)
{
  expect_fail_raw ("{\"w\":{\"dtype\":\"F48\",\"shape\":[1],\"data_offsets\":[0,6]}}", 6,
                   SS_ERROR_UNSUPPORTED, "tensor “w” has an unknown dtype “F48”", NULL);
  /* Known but not convertible dtype: readable raw, conversion refused. */
  g_autoptr (GBytes) b = make_raw ("{\"q\":{\"dtype\":\"F8_E4M3\",\"shape\":[4],"
                                   "\"data_offsets\":[0,4]}}",
                                   4);
  g_autoptr (GError) error = NULL;
  g_autoptr (SsSafetensors) st = ss_safetensors_new_from_bytes (b, "q.safetensors", &error);
  g_assert_no_error (error);
  const SsSafetensorsInfo *info = ss_safetensors_lookup (st, "q");
  g_assert_cmpint (info->dtype, ==, SS_SAFETENSORS_F8_E4M3);
  g_assert_false (ss_safetensors_dtype_is_engine_float (info->dtype));
  float f[4];
  g_assert_false (ss_safetensors_read_f32 (st, "q", f, 4, &error));
  g_assert_error (error, SS_ERROR, SS_ERROR_UNSUPPORTED);
  g_assert_nonnull (strstr (error->message, "F8_E4M3"));

  /* Every dtype name maps back. */
  for (int i = 0; i < SS_SAFETENSORS_N_DTYPES; i++)
    {
      SsSafetensorsDtype d;
      g_assert_true (ss_safetensors_dtype_from_name (ss_safetensors_dtype_name (i), &d));
      g_assert_cmpint (d, ==, i);
      g_assert_cmpuint (ss_safetensors_dtype_size (i), >, 0);
    }
}

static void
test_half_conversions (void)
{
  /* Every finite half survives f16 -> f32 -> f16; NaN stays NaN. */
  for (guint32 h = 0; h < 65536; h++)
    {
      float f = ss_safetensors_f16_to_f32 ((guint16) h);
      guint16 back = ss_safetensors_f32_to_f16 (f);
      if (isnan (f))
        g_assert_true (isnan (ss_safetensors_f16_to_f32 (back)));
      else
        g_assert_cmphex (back, ==, h);
    }
  /* Known values and rounding (to nearest even). */
  g_assert_cmphex (ss_safetensors_f32_to_f16 (1.0f), ==, 0x3c00);
  g_assert_cmphex (ss_safetensors_f32_to_f16 (-2.0f), ==, 0xc000);
  g_assert_cmphex (ss_safetensors_f32_to_f16 (65504.0f), ==, 0x7bff);
  g_assert_cmphex (ss_safetensors_f32_to_f16 (65520.0f), ==, 0x7c00); /* rounds to inf */
  g_assert_cmphex (ss_safetensors_f32_to_f16 (1.0f + 1.0f / 2048), ==, 0x3c00); /* tie -> even */
  g_assert_cmphex (ss_safetensors_f32_to_f16 (1.0f + 3.0f / 2048), ==, 0x3c02);
  g_assert_cmphex (ss_safetensors_f32_to_f16 (5.9604644775390625e-8f), ==, 0x0001);
  g_assert_cmphex (ss_safetensors_f32_to_f16 (2.9802322387695312e-8f), ==, 0x0000); /* tie -> 0 */
  g_assert_cmphex (ss_safetensors_f32_to_bf16 (1.0f), ==, 0x3f80);
  g_assert_cmphex (ss_safetensors_f32_to_bf16 (1.0f + 1.0f / 256), ==, 0x3f80);
  g_assert_cmphex (ss_safetensors_f32_to_bf16 (1.0f + 3.0f / 256), ==, 0x3f82);
  g_assert_true (isnan (ss_safetensors_bf16_to_f32 (ss_safetensors_f32_to_bf16 (NAN))));
  for (guint32 b = 0; b < 65536; b++)
    {
      float f = ss_safetensors_bf16_to_f32 ((guint16) b);
      if (!isnan (f))
        g_assert_cmphex (ss_safetensors_f32_to_bf16 (f), ==, b);
    }
}

static void
test_pickle_refused (void)
{
  const guint8 zip[] = "PK\x03\x04\x14\x00\x00\x00\x08\x00archive/data.pkl";
  g_autoptr (GBytes) b = g_bytes_new (zip, sizeof zip - 1);
  expect_fail (b, SS_ERROR_UNSUPPORTED, "PyTorch pickle checkpoints are not loaded for safety",
               "tools/convert/");
  const guint8 pkl[] = "\x80\x02\x8a\x0a\x6c\xfc\x9c\x46\xf9\x20\x6a\xa8\x50\x19.";
  g_autoptr (GBytes) b2 = g_bytes_new (pkl, sizeof pkl - 1);
  expect_fail (b2, SS_ERROR_UNSUPPORTED, "PyTorch pickle checkpoints are not loaded for safety",
               "tools/convert/");
  /* A pickle on disk under a .safetensors name is refused the same way. */
  g_autoptr (GError) error = NULL;
  g_autofree char *dir = g_dir_make_tmp ("ss-st-XXXXXX", &error);
  g_autofree char *path = g_build_filename (dir, "model.safetensors", NULL);
  g_assert_true (g_file_set_contents (path, (const char *) pkl, sizeof pkl - 1, &error));
  g_assert_null (ss_safetensors_open (path, &error));
  g_assert_error (error, SS_ERROR, SS_ERROR_UNSUPPORTED);
  g_assert_nonnull (strstr (error->message, "“model.safetensors”"));
  g_unlink (path);
  g_rmdir (dir);
}

static void
test_check (void)
{
  float wv[6];
  g_autoptr (SsSafetensorsWriter) w = sample_writer (wv);
  g_autoptr (GBytes) bytes = ss_safetensors_writer_to_bytes (w);
  g_autoptr (GError) error = NULL;
  g_autoptr (SsSafetensors) st = ss_safetensors_new_from_bytes (bytes, "model.safetensors", &error);
  g_assert_no_error (error);

  SsSafetensorsExpect all[] = {
    { "blocks.0.attn.qkv.weight", SS_SAFETENSORS_F32, 2, { 2, 3 } },
    { "blocks.0.attn.qkv.weight.f16", SS_SAFETENSORS_F16, 2, { 2, 3 } },
    { "a.bf16", SS_SAFETENSORS_ANY_FLOAT, 2, { 2, 3 } },
    { "z.index", SS_SAFETENSORS_I64, 1, { 3 } },
    { "scale", SS_SAFETENSORS_F32, 0, { 0 } },
    { "empty", SS_SAFETENSORS_F32, 2, { 0, 4 } },
  };
  g_assert_true (ss_safetensors_check (st, all, G_N_ELEMENTS (all), 0, &error));
  g_assert_no_error (error);

  /* F16 in the file where F32 is expected: fine only with ANY_FLOAT_DTYPE. */
  SsSafetensorsExpect conv[] = {
    { "blocks.0.attn.qkv.weight.f16", SS_SAFETENSORS_F32, 2, { 2, 3 } },
  };
  g_assert_true (ss_safetensors_check (st, conv, 1,
                                       SS_SAFETENSORS_CHECK_ANY_FLOAT_DTYPE |
                                           SS_SAFETENSORS_CHECK_ALLOW_UNEXPECTED,
                                       &error));
  g_assert_false (ss_safetensors_check (st, conv, 1, SS_SAFETENSORS_CHECK_ALLOW_UNEXPECTED, &error));
  g_assert_error (error, SS_ERROR, SS_ERROR_INVALID_DATA);
  g_assert_nonnull (strstr (error->message, "is F16 [2, 3] in the file, the model needs F32 [2, 3]"));
  g_clear_error (&error);

  SsSafetensorsExpect bad[] = {
    { "blocks.0.attn.qkv.weight", SS_SAFETENSORS_F32, 2, { 3, 2 } },
    { "blocks.0.attn.proj.weight", SS_SAFETENSORS_F32, 2, { 3, 3 } },
    { "scale", SS_SAFETENSORS_F32, 0, { 0 } },
  };
  g_assert_false (ss_safetensors_check (st, bad, G_N_ELEMENTS (bad), 0, &error));
  g_assert_error (error, SS_ERROR, SS_ERROR_INVALID_DATA);
  if (g_test_verbose ())
    g_printerr ("  %s\n", error->message);
  g_assert_true (g_str_has_prefix (error->message, "“model.safetensors”"));
  g_assert_nonnull (strstr (error->message, "1 tensor is missing: “blocks.0.attn.proj.weight”"));
  g_assert_nonnull (strstr (error->message,
                            "“blocks.0.attn.qkv.weight” is F32 [2, 3] in the file, the model "
                            "needs F32 [3, 2]"));
  g_assert_nonnull (strstr (error->message, "4 tensors are not part of the model"));
  g_assert_nonnull (strstr (error->message, "“z.index”"));
  g_clear_error (&error);

  /* Partial loads. */
  g_assert_true (ss_safetensors_check (st, bad + 2, 1, SS_SAFETENSORS_CHECK_ALLOW_UNEXPECTED,
                                       &error));
  g_assert_true (ss_safetensors_check (st, bad + 1, 2,
                                       SS_SAFETENSORS_CHECK_ALLOW_UNEXPECTED |
                                           SS_SAFETENSORS_CHECK_ALLOW_MISSING,
                                       &error));
  g_assert_no_error (error);
}

static void
test_seed_corpus (void)
{
  /* The shipped seed files parse (or are refused) as their names say. */
  const char *src = g_getenv ("SOUNDSTAGE_SOURCE_DIR");
  if (!src)
    src = SS_SOURCE_DIR;
  g_autofree char *dir = g_build_filename (src, "tests", "fixtures", "safetensors", NULL);
  g_autoptr (GError) error = NULL;
  g_autofree char *p = g_build_filename (dir, "seed-small.safetensors", NULL);
  g_autoptr (SsSafetensors) st = ss_safetensors_open (p, &error);
  g_assert_no_error (error);
  float f[6];
  g_assert_true (ss_safetensors_read_f32 (st, "blocks.0.attn.qkv.weight", f, 6, &error));
  g_assert_cmpfloat (f[5], ==, 6.0f);
  g_assert_true (ss_safetensors_read_f32 (st, "emb", f, 2, &error));
  g_assert_cmpfloat (f[0], ==, 1.0f);
  g_assert_cmpfloat (f[1], ==, -2.0f);
  g_assert_cmpstr (ss_safetensors_get_metadata_value (st, "model"), ==, "tiny");
  g_autofree char *p2 = g_build_filename (dir, "seed-dtypes.safetensors", NULL);
  g_autoptr (SsSafetensors) st2 = ss_safetensors_open (p2, &error);
  g_assert_no_error (error);
  g_assert_true (ss_safetensors_read_f32 (st2, "h", f, 1, &error));
  g_assert_cmpfloat (f[0], ==, -300.0f);
  g_autofree char *p3 = g_build_filename (dir, "seed-zip.pt", NULL);
  g_assert_null (ss_safetensors_open (p3, &error));
  g_assert_error (error, SS_ERROR, SS_ERROR_UNSUPPORTED);
}

static void
write_shard (const char *dir, const char *file, const char *const *names)
{
  g_autoptr (SsSafetensorsWriter) w = ss_safetensors_writer_new ();
  for (int i = 0; names[i]; i++)
    {
      float v[2] = { (float) i, (float) strlen (names[i]) };
      ss_safetensors_writer_add (w, names[i], SS_SAFETENSORS_F32, 1, (gint64[]){ 2 }, v);
    }
  g_autofree char *path = g_build_filename (dir, file, NULL);
  g_autoptr (GError) error = NULL;
  g_assert_true (ss_safetensors_writer_write (w, path, &error));
}

static void
write_text (const char *dir, const char *file, const char *text)
{
  g_autofree char *path = g_build_filename (dir, file, NULL);
  g_assert_true (g_file_set_contents (path, text, -1, NULL));
}

static void
expect_set_fail (const char *path, int code, const char *frag1, const char *frag2)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (SsSafetensorsSet) set = ss_safetensors_set_open (path, &error);
  g_assert_null (set);
  if (g_test_verbose ())
    g_printerr ("  %s\n", error->message);
  g_assert_error (error, SS_ERROR, code);
  if (frag1 && !strstr (error->message, frag1))
    g_error ("message “%s” lacks “%s”", error->message, frag1);
  if (frag2 && !strstr (error->message, frag2))
    g_error ("message “%s” lacks “%s”", error->message, frag2);
}

static void
test_sharded (void)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *dir = g_dir_make_tmp ("ss-st-XXXXXX", &error);
  const char *s1[] = { "blocks.0.attn.qkv.weight", "blocks.0.attn.proj.weight", NULL };
  const char *s2[] = { "blocks.1.attn.qkv.weight", "head.weight", NULL };
  write_shard (dir, "model-00001-of-00002.safetensors", s1);
  write_shard (dir, "model-00002-of-00002.safetensors", s2);
  write_text (dir, "model.safetensors.index.json",
              "{\"metadata\": {\"total_size\": 32}, \"weight_map\": {"
              "\"blocks.0.attn.qkv.weight\": \"model-00001-of-00002.safetensors\","
              "\"blocks.0.attn.proj.weight\": \"model-00001-of-00002.safetensors\","
              "\"blocks.1.attn.qkv.weight\": \"model-00002-of-00002.safetensors\","
              "\"head.weight\": \"model-00002-of-00002.safetensors\"}}");
  g_autofree char *index = g_build_filename (dir, "model.safetensors.index.json", NULL);
  g_autoptr (SsSafetensorsSet) set = ss_safetensors_set_open (index, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (ss_safetensors_set_get_n_files (set), ==, 2);
  g_assert_cmpuint (ss_safetensors_set_get_n_tensors (set), ==, 4);
  const char *const *names = ss_safetensors_set_get_names (set);
  g_assert_cmpstr (names[0], ==, "blocks.0.attn.proj.weight");
  g_assert_cmpstr (names[3], ==, "head.weight");
  g_assert_null (names[4]);
  SsSafetensors *f = ss_safetensors_set_get_file (set, "head.weight");
  g_assert_cmpstr (ss_safetensors_get_display_name (f), ==, "model-00002-of-00002.safetensors");
  const SsSafetensorsInfo *info = ss_safetensors_set_lookup (set, "head.weight");
  float v[2];
  memcpy (v, info->data, 8);
  g_assert_cmpfloat (v[0], ==, 1.0f); /* second tensor written to shard 2 */
  SsSafetensorsExpect all[] = {
    { "blocks.0.attn.qkv.weight", SS_SAFETENSORS_F32, 1, { 2 } },
    { "blocks.0.attn.proj.weight", SS_SAFETENSORS_F32, 1, { 2 } },
    { "blocks.1.attn.qkv.weight", SS_SAFETENSORS_F32, 1, { 2 } },
    { "head.weight", SS_SAFETENSORS_F32, 1, { 3 } },
  };
  g_assert_false (ss_safetensors_set_check (set, all, 4, 0, &error));
  g_assert_nonnull (strstr (error->message, "“model.safetensors.index.json”"));
  g_assert_nonnull (strstr (error->message, "“head.weight” is F32 [2]"));
  g_clear_error (&error);
  all[3].shape[0] = 2;
  g_assert_true (ss_safetensors_set_check (set, all, 4, 0, &error));

  /* A single file works through the same API. */
  g_autofree char *single = g_build_filename (dir, "model-00001-of-00002.safetensors", NULL);
  g_autoptr (SsSafetensorsSet) one = ss_safetensors_set_open (single, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (ss_safetensors_set_get_n_tensors (one), ==, 2);

  /* Broken indexes. */
  g_autofree char *bad = g_build_filename (dir, "bad.safetensors.index.json", NULL);
  write_text (dir, "bad.safetensors.index.json",
              "{\"weight_map\": {\"head.weight\": \"model-00001-of-00002.safetensors\"}}");
  expect_set_fail (bad, SS_ERROR_INVALID_DATA, "tensor “head.weight” should be in "
                   "“model-00001-of-00002.safetensors”", NULL);
  write_text (dir, "bad.safetensors.index.json",
              "{\"weight_map\": {\"blocks.0.attn.qkv.weight\": \"model-00001-of-00002.safetensors\"}}");
  expect_set_fail (bad, SS_ERROR_INVALID_DATA, "“blocks.0.attn.proj.weight”", "not listed");
  write_text (dir, "bad.safetensors.index.json",
              "{\"weight_map\": {\"x\": \"model-00003-of-00003.safetensors\"}}");
  expect_set_fail (bad, SS_ERROR_NOT_FOUND, "model-00003-of-00003.safetensors", "bad.safetensors.index.json");
  write_text (dir, "bad.safetensors.index.json",
              "{\"weight_map\": {\"x\": \"../etc/model.safetensors\"}}");
  expect_set_fail (bad, SS_ERROR_INVALID_DATA, "tensor “x”", "same folder");
  write_text (dir, "bad.safetensors.index.json", "{\"metadata\": {}}");
  expect_set_fail (bad, SS_ERROR_INVALID_DATA, "weight_map", NULL);
  write_text (dir, "bad.safetensors.index.json", "{\"weight_map\": ");
  expect_set_fail (bad, SS_ERROR_INVALID_DATA, "not valid JSON", NULL);
  g_autofree char *missing = g_build_filename (dir, "nope.safetensors.index.json", NULL);
  expect_set_fail (missing, SS_ERROR_NOT_FOUND, "nope.safetensors.index.json", NULL);

  g_autoptr (GDir) d = g_dir_open (dir, 0, NULL);
  const char *e;
  while ((e = g_dir_read_name (d)))
    {
      g_autofree char *p = g_build_filename (dir, e, NULL);
      g_unlink (p);
    }
  g_rmdir (dir);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/safetensors/round-trip", test_round_trip);
  g_test_add_func ("/safetensors/write-error", test_write_error);
  g_test_add_func ("/safetensors/open-errors", test_open_errors);
  g_test_add_func ("/safetensors/truncated", test_truncated);
  g_test_add_func ("/safetensors/header-too-big", test_header_too_big);
  g_test_add_func ("/safetensors/bad-json", test_bad_json);
  g_test_add_func ("/safetensors/offsets", test_offsets);
  g_test_add_func ("/safetensors/shape-size", test_shape_size);
  g_test_add_func ("/safetensors/dtypes", test_dtypes);
  g_test_add_func ("/safetensors/half-conversions", test_half_conversions);
  g_test_add_func ("/safetensors/pickle-refused", test_pickle_refused);
  g_test_add_func ("/safetensors/check", test_check);
  g_test_add_func ("/safetensors/seed-corpus", test_seed_corpus);
  g_test_add_func ("/safetensors/sharded", test_sharded);
  return g_test_run ();
}
