/* ss-gpu.h: the Vulkan compute device of libsoundstage-core.
 *
 * One device per process (ss_gpu_device_get_default()). Buffers are
 * sub-allocated from large device-memory blocks. Dispatches are recorded into
 * one command buffer (the device's stream) with narrow buffer barriers only
 * where a later dispatch touches a range an earlier one wrote (or writes a range
 * an earlier one read); the stream is submitted when a host read needs the
 * results (download), on ss_gpu_device_flush(), or when it grows large.
 *
 * Environment:
 *   SOUNDSTAGE_DEVICE=substr|index   pick a device by (case-insensitive) name
 *                                    substring or by index in enumeration order
 *   SOUNDSTAGE_VALIDATION=1          enable VK_LAYER_KHRONOS_validation
 *   SOUNDSTAGE_PROFILE=1             per-dispatch timestamps (see profile API)
 *   SOUNDSTAGE_NO_COOPMAT=1          never use cooperative-matrix shaders
 *   SOUNDSTAGE_GPU_BLOCK_MB=N        size of the sub-allocated blocks (16..4096;
 *                                    buffers over a quarter of it get their own
 *                                    block): for memory experiments
 *
 * All functions are thread-safe (the device holds one recursive lock).
 * Failures a user can cause (out of memory, device lost, no Vulkan device) are
 * reported as GError in the SS_ERROR domain: SS_ERROR_OUT_OF_MEMORY,
 * SS_ERROR_DEVICE_LOST, SS_ERROR_UNSUPPORTED. After a device loss every call
 * fails with SS_ERROR_DEVICE_LOST.
 */
#pragma once

#include <glib.h>
#include "ss-types.h"

G_BEGIN_DECLS

typedef struct _SsGpuDevice SsGpuDevice;
typedef struct _SsGpuBuffer SsGpuBuffer;

typedef struct {
  char     name[256];
  guint32  vendor_id;
  guint32  device_id;
  gboolean is_cpu;            /* lavapipe / llvmpipe / swiftshader */
  gboolean is_discrete;
  gboolean uma;               /* device memory is host visible (no staging) */

  gboolean fp16_storage;      /* 16-bit storage buffers (also what bf16 storage needs) */
  gboolean fp16_arith;        /* shaderFloat16 */
  gboolean int16;             /* shaderInt16 */
  gboolean bf16_arith;        /* VK_KHR_shader_bfloat16 present (enabled with bf16 workgroup-scope matrices) */

  guint    subgroup_size;
  gboolean subgroup_shuffle;  /* subgroupShuffle* in compute shaders */
  gsize    shared_memory;            /* maxComputeSharedMemorySize */
  guint64  max_storage_buffer_range; /* bytes one binding may cover */
  guint    max_workgroup_invocations;
  guint    max_workgroup_count[3];
  guint64  min_storage_offset_align;
  guint64  heap_size;                /* largest device-local heap */

  gboolean coopmat_khr;       /* VK_KHR_cooperative_matrix present */
  gboolean coopmat_nv;        /* VK_NV_cooperative_matrix present and enabled */
  gboolean coopmat2_nv;       /* VK_NV_cooperative_matrix2 present */
  gboolean coopmat_f16_16x16x16; /* fp16 A/B, fp32 C 16x16x16 subgroup matrices usable (NV or KHR) */
  gboolean coopmat_sg_khr;    /* ... as KHR matrices: the subgroup-scope kernels run as their
                               * <name>_khr.<variant> modules (where coopmat_nv is on too:
                               * all but the GEMM), and without coopmat_nv those that have
                               * no usable twin do not run */
  gboolean coopmat_sg_size32; /* ... whose pipelines ask for 32-invocation subgroups */
  gboolean coopmat_wg;        /* KHR matrices of workgroup scope (coopmat2) enabled, fp16/fp32 */
  guint    coopmat_wg_max_invocations; /* largest workgroup for workgroup-scope matrices */
  guint    coopmat_wg_reserved_shared; /* shared memory the driver reserves for them */
  gboolean coopmat_tensor;    /* ... and their tensor-addressing loads */
  gboolean coopmat_conversions; /* ... and conversions from accumulators into A/B operands */
  guint32  coopmat_wg_sizes;  /* bit n: workgroups of 32 n invocations take them (fp16 -> fp32) */
  guint32  coopmat_wg_bf16_sizes; /* the same for bf16 -> fp32 (VK_KHR_shader_bfloat16 enabled) */

  gboolean timestamps;        /* compute queue supports timestamps */
  double   timestamp_period_ns;
} SsGpuCaps;

/* Device --------------------------------------------------------------- */

/* The process-wide device, created on first use. Returns a borrowed pointer
 * (valid until ss_gpu_device_shutdown()). */
SsGpuDevice     *ss_gpu_device_get_default (GError **error);
/* Destroys the default device (waits for the GPU). Buffers still alive leak. */
void             ss_gpu_device_shutdown (void);
const SsGpuCaps *ss_gpu_device_get_caps (SsGpuDevice *dev);
/* Submits recorded work and waits for it (and for work submitted before). */
gboolean         ss_gpu_device_flush (SsGpuDevice *dev, GError **error);
/* Submits recorded work without waiting: the GPU starts on it while the host
 * goes on (at most one batch runs while the next is recorded; recording more
 * waits for the older one). Work is also handed over on its own when a batch
 * fills up or the GPU runs idle. */
gboolean         ss_gpu_device_submit (SsGpuDevice *dev, GError **error);
/* Whether the cooperative-matrix shaders should be used (caps && not disabled). */
gboolean         ss_gpu_device_use_coopmat (SsGpuDevice *dev);
/* Whether workgroup-scope cooperative matrices (matmul_cm2) should be used:
 * coopmat2 present and enabled, cooperative matrices not disabled and
 * SOUNDSTAGE_NO_COOPMAT2 not 1. */
gboolean         ss_gpu_device_use_coopmat_wg (SsGpuDevice *dev);
/* data that lives as long as the device (probed kernel parameters, ...) */
gpointer         ss_gpu_device_get_data (SsGpuDevice *dev, const char *key);
void             ss_gpu_device_set_data (SsGpuDevice *dev, const char *key, gpointer data,
                                         GDestroyNotify destroy);
/* Lists physical devices as "index: name (type)" lines (for the CLI / logs). */
char            *ss_gpu_describe_devices (GError **error);

/* Buffers -------------------------------------------------------------- */

/* size bytes of device memory, contents undefined. */
SsGpuBuffer *ss_gpu_buffer_new (SsGpuDevice *dev, gsize size, GError **error);
SsGpuBuffer *ss_gpu_buffer_ref (SsGpuBuffer *buf);
void         ss_gpu_buffer_unref (SsGpuBuffer *buf);
gsize        ss_gpu_buffer_get_size (SsGpuBuffer *buf);
SsGpuDevice *ss_gpu_buffer_get_device (SsGpuBuffer *buf);
/* whether more than one reference is held (e.g. by several tensor views) */
gboolean     ss_gpu_buffer_is_shared (SsGpuBuffer *buf);

/* Host -> device; ordered after earlier recorded work. */
gboolean ss_gpu_buffer_upload (SsGpuBuffer *buf, gsize offset, const void *data,
                               gsize size, GError **error);
/* Device -> host; flushes the stream and waits. */
gboolean ss_gpu_buffer_download (SsGpuBuffer *buf, gsize offset, void *data,
                                 gsize size, GError **error);
/* Fills with a repeated 32-bit word (offset and size multiples of 4). */
gboolean ss_gpu_buffer_fill (SsGpuBuffer *buf, gsize offset, gsize size,
                             guint32 word, GError **error);
gboolean ss_gpu_buffer_copy (SsGpuBuffer *src, gsize src_offset,
                             SsGpuBuffer *dst, gsize dst_offset,
                             gsize size, GError **error);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (SsGpuBuffer, ss_gpu_buffer_unref)

/* Dispatch ------------------------------------------------------------- */

typedef enum {
  SS_GPU_READ  = 1,
  SS_GPU_WRITE = 2,
  SS_GPU_RW    = 3,
} SsGpuAccess;

/* One storage buffer binding (binding index = position in the array).
 * offset must be a multiple of caps->min_storage_offset_align (tensor storage
 * always is); size 0 means "to the end of the buffer", clamped to
 * maxStorageBufferRange. */
typedef struct {
  SsGpuBuffer *buffer;
  gsize        offset;
  gsize        size;
  SsGpuAccess  access;
} SsGpuBinding;

#define SS_GPU_MAX_BINDINGS 8
#define SS_GPU_MAX_PUSH     128
#define SS_GPU_MAX_SPEC     16

typedef struct {
  const char         *shader;     /* "matmul.f32": <file stem>.<variant> */
  const guint32      *spec;       /* specialization constants, constant_id 0..n-1 */
  guint               n_spec;
  const SsGpuBinding *bindings;
  guint               n_bindings;
  const void         *push;       /* push constants (offset 0) */
  guint               push_size;
  guint               groups[3];  /* workgroup counts (0 treated as 1) */
  const char         *label;      /* name for profiling (default: shader) */
} SsGpuDispatch;

gboolean ss_gpu_dispatch (SsGpuDevice *dev, const SsGpuDispatch *d, GError **error);
gboolean ss_gpu_has_shader (const char *name);
/* Whether shader `name` is built in and runs on dev: a KHR twin stands in for
 * a subgroup-scope NV cooperative-matrix shader where the device uses KHR
 * matrices, and a shader that needs VK_NV_cooperative_matrix does not run
 * where the device has not enabled that extension. */
gboolean ss_gpu_device_has_shader (SsGpuDevice *dev, const char *name);
/* Splits n workgroups into x,y counts within the device limit; shaders
 * compute the linear id as gl_WorkGroupID.x + gl_WorkGroupID.y * gl_NumWorkGroups.x
 * and return if it is >= the real count. */
void     ss_gpu_groups_1d (SsGpuDevice *dev, guint64 n_groups, guint groups[3]);
/* multiplier and shifts for ss_fastdiv (n, m, sh) in shaders (ss-common.glsl):
 * n / d for any 32-bit n; d >= 1 */
void     ss_fastdiv_magic (guint32 d, guint32 *m, guint32 *sh);
/* the same arithmetic on the CPU (for tests) */
guint32  ss_fastdiv (guint32 n, guint32 m, guint32 sh);

/* Profiling ------------------------------------------------------------ */

typedef struct {
  char   *label;
  guint64 count;
  double  total_ms;
} SsGpuProfileEntry;

void    ss_gpu_device_set_profiling (SsGpuDevice *dev, gboolean on);
/* Returns the per-label totals since the last call (flushes first), sorted by
 * total time, and resets them. Array of SsGpuProfileEntry (free with
 * g_array_unref; labels are freed with it). */
GArray *ss_gpu_device_take_profile (SsGpuDevice *dev, GError **error);

/* Memory statistics: bytes in live sub-allocations / in device blocks. */
void    ss_gpu_device_get_memory (SsGpuDevice *dev, guint64 *used, guint64 *reserved);

G_END_DECLS
