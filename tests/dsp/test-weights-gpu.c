/* test-weights-gpu.c: safetensors tensors uploaded to the GPU in each engine
 * dtype: same-dtype bytes exact, conversions rounded to nearest even. */
#include <glib.h>
#include <string.h>

#include "tensor/ss-safetensors.h"

static void
test_load_tensor (void)
{
  g_autoptr (GError) error = NULL;
  if (!ss_gpu_device_get_default (&error))
    {
      g_test_skip_printf ("no Vulkan device: %s", error->message);
      return;
    }
  float w[12];
  for (int i = 0; i < 12; i++)
    w[i] = (i - 5.5f) * 0.3f + 1e-3f * i;
  gint idx[3] = { 4, -2, 9 };
  g_autoptr (SsSafetensorsWriter) wr = ss_safetensors_writer_new ();
  ss_safetensors_writer_add (wr, "w", SS_SAFETENSORS_F32, 3, (gint64[]){ 2, 3, 2 }, w);
  ss_safetensors_writer_add_f32 (wr, "wb", SS_SAFETENSORS_BF16, 2, (gint64[]){ 3, 4 }, w);
  ss_safetensors_writer_add (wr, "idx", SS_SAFETENSORS_I32, 1, (gint64[]){ 3 }, idx);
  ss_safetensors_writer_add (wr, "s", SS_SAFETENSORS_F32, 0, NULL, w);
  ss_safetensors_writer_add (wr, "six", SS_SAFETENSORS_F32, 6, (gint64[]){ 1, 1, 1, 1, 2, 6 }, w);
  g_autoptr (GBytes) bytes = ss_safetensors_writer_to_bytes (wr);
  g_autoptr (SsSafetensors) st = ss_safetensors_new_from_bytes (bytes, "m.safetensors", &error);
  g_assert_no_error (error);

  /* same dtype: byte-identical */
  g_autoptr (SsTensor) t = ss_safetensors_load_tensor (st, "w", SS_DTYPE_F32, &error);
  g_assert_no_error (error);
  g_assert_cmpint (t->ndim, ==, 3);
  g_assert_cmpint (t->shape[2], ==, 2);
  float back[12];
  g_assert_true (ss_tensor_to_floats (t, back, &error));
  g_assert_cmpmem (back, sizeof back, w, sizeof w);
  g_autoptr (SsTensor) tb = ss_safetensors_load_tensor (st, "wb", SS_DTYPE_BF16, &error);
  guint16 raw[12];
  g_assert_true (ss_tensor_to_raw (tb, raw, &error));
  for (int i = 0; i < 12; i++)
    g_assert_cmphex (raw[i], ==, ss_safetensors_f32_to_bf16 (w[i]));
  /* conversions: F32 -> F16 on load, BF16 -> F32, I32 -> F32, scalar -> [1] */
  g_autoptr (SsTensor) th = ss_safetensors_load_tensor (st, "w", SS_DTYPE_F16, &error);
  g_assert_true (ss_tensor_to_raw (th, raw, &error));
  for (int i = 0; i < 12; i++)
    g_assert_cmphex (raw[i], ==, ss_safetensors_f32_to_f16 (w[i]));
  g_autoptr (SsTensor) tbf = ss_safetensors_load_tensor (st, "wb", SS_DTYPE_F32, &error);
  g_assert_true (ss_tensor_to_floats (tbf, back, &error));
  for (int i = 0; i < 12; i++)
    g_assert_cmpfloat (back[i], ==, ss_safetensors_bf16_to_f32 (ss_safetensors_f32_to_bf16 (w[i])));
  g_autoptr (SsTensor) ti = ss_safetensors_load_tensor (st, "idx", SS_DTYPE_F32, &error);
  g_assert_true (ss_tensor_to_floats (ti, back, &error));
  g_assert_cmpfloat (back[1], ==, -2.0f);
  g_autoptr (SsTensor) ts = ss_safetensors_load_tensor (st, "s", SS_DTYPE_F32, &error);
  g_assert_cmpint (ts->ndim, ==, 1);
  g_assert_cmpint (ts->shape[0], ==, 1);
  g_assert_no_error (error);

  /* too many dimensions, missing: errors naming file and tensor */
  g_assert_null (ss_safetensors_load_tensor (st, "six", SS_DTYPE_F32, &error));
  g_assert_error (error, SS_ERROR, SS_ERROR_UNSUPPORTED);
  g_assert_nonnull (strstr (error->message, "“m.safetensors”: tensor “six”"));
  g_clear_error (&error);
  g_assert_null (ss_safetensors_load_tensor (st, "nope", SS_DTYPE_F32, &error));
  g_assert_error (error, SS_ERROR, SS_ERROR_NOT_FOUND);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/safetensors/load-tensor", test_load_tensor);
  return g_test_run ();
}
