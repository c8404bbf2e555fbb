/* dsp-test.h: shared by the GPU tests of tests/dsp. */
#pragma once

#include "gpu/ss-gpu.h"

/* TRUE when a Vulkan device is there; otherwise the test is marked skipped. */
static inline gboolean
have_gpu (void)
{
  g_autoptr (GError) error = NULL;
  if (ss_gpu_device_get_default (&error))
    return TRUE;
  g_test_skip_printf ("no Vulkan device: %s", error->message);
  return FALSE;
}
