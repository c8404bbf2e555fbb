/* ss-gpu.c: Vulkan instance/device, memory sub-allocation, pipelines, the
 * command stream with narrow barriers, staging transfers and timestamps. */
#define G_LOG_DOMAIN "ss-gpu"

#include "config.h"
#include "ss-gpu.h"
#include "ss-env.h"

#include <string.h>
#include <vulkan/vulkan.h>

#include "ss-shaders.h"

/* VK_KHR_cooperative_matrix and VK_NV_cooperative_matrix2 postdate Debian 12's
 * Vulkan headers (1.3.239): their structures, as the registry defines them */
#define SS_VK_STYPE_COOPMAT_KHR_FEATURES   ((VkStructureType) 1000506000)
#define SS_VK_STYPE_COOPMAT_KHR_MATRIX     ((VkStructureType) 1000506001)
#define SS_VK_STYPE_COOPMAT_KHR_PROPS      ((VkStructureType) 1000506002)
#define SS_VK_STYPE_COOPMAT2_NV_FEATURES   ((VkStructureType) 1000593000)
#define SS_VK_STYPE_COOPMAT2_NV_FLEX_PROPS ((VkStructureType) 1000593001)
#define SS_VK_STYPE_COOPMAT2_NV_PROPS      ((VkStructureType) 1000593002)
#define SS_VK_STYPE_BF16_FEATURES          ((VkStructureType) 1000141000)
#define SS_VK_COMPONENT_FLOAT16 0
#define SS_VK_COMPONENT_FLOAT32 1
#define SS_VK_COMPONENT_BFLOAT16 1000141000
#define SS_VK_SCOPE_WORKGROUP   2
#define SS_VK_SCOPE_SUBGROUP    3
typedef struct {
  VkStructureType sType;
  void           *pNext;
  VkBool32        cooperativeMatrix;
  VkBool32        cooperativeMatrixRobustBufferAccess;
} SsVkCoopmatKhrFeatures;
typedef struct {
  VkStructureType sType;
  void           *pNext;
  guint32         MSize, NSize, KSize;
  guint32         AType, BType, CType, ResultType;
  VkBool32        saturatingAccumulation;
  guint32         scope;
} SsVkCoopmatKhrMatrix;
typedef struct {
  VkStructureType    sType;
  void              *pNext;
  VkShaderStageFlags cooperativeMatrixSupportedStages;
} SsVkCoopmatKhrProps;
typedef VkResult (VKAPI_PTR *SsVkGetKhrMatrices) (VkPhysicalDevice, guint32 *, SsVkCoopmatKhrMatrix *);
typedef struct {
  VkStructureType sType;
  void           *pNext;
  VkBool32        cooperativeMatrixWorkgroupScope;
  VkBool32        cooperativeMatrixFlexibleDimensions;
  VkBool32        cooperativeMatrixReductions;
  VkBool32        cooperativeMatrixConversions;
  VkBool32        cooperativeMatrixPerElementOperations;
  VkBool32        cooperativeMatrixTensorAddressing;
  VkBool32        cooperativeMatrixBlockLoads;
} SsVkCoopmat2Features;
typedef struct {
  VkStructureType sType;
  void           *pNext;
  VkBool32        shaderBFloat16Type;
  VkBool32        shaderBFloat16DotProduct;
  VkBool32        shaderBFloat16CooperativeMatrix;
} SsVkBf16Features;
typedef struct {
  VkStructureType sType;
  void           *pNext;
  guint32         cooperativeMatrixWorkgroupScopeMaxWorkgroupSize;
  guint32         cooperativeMatrixFlexibleDimensionsMaxDimension;
  guint32         cooperativeMatrixWorkgroupScopeReservedSharedMemory;
} SsVkCoopmat2Props;
typedef struct {
  VkStructureType sType;
  void           *pNext;
  guint32         MGranularity, NGranularity, KGranularity;
  guint32         AType, BType, CType, ResultType;
  VkBool32        saturatingAccumulation;
  guint32         scope;
  guint32         workgroupInvocations;
} SsVkCoopmatFlexProps;
typedef VkResult (VKAPI_PTR *SsVkGetFlexProps) (VkPhysicalDevice, guint32 *, SsVkCoopmatFlexProps *);

/* the workgroup-size bit (bit n: 32 n invocations) of a flexible-dimensions
 * entry for workgroup-scope matrices with A and B of component type ab and an
 * fp32 accumulator, or 0 where the entry is another kind */
static guint32
flex_wg_bit (const SsVkCoopmatFlexProps *f, guint32 ab, guint32 max_invocations)
{
  if (f->scope != SS_VK_SCOPE_WORKGROUP || f->AType != ab || f->BType != ab ||
      f->CType != SS_VK_COMPONENT_FLOAT32 || f->ResultType != SS_VK_COMPONENT_FLOAT32 ||
      f->saturatingAccumulation || f->workgroupInvocations % 32 != 0 ||
      f->workgroupInvocations > 1024 || f->workgroupInvocations > max_invocations)
    return 0;
  return 1u << (f->workgroupInvocations / 32);
}

#define BLOCK_SIZE        ((guint64) 256 << 20)
#define UMA_BLOCK_SIZE    ((guint64) 64 << 20)
#define STAGING_MIN       ((guint64) 64 << 20)
#define MAX_RECORDED      2048
#define KICK_EVERY        64
#define KICK_US           1000
#define MAX_QUERIES       8192
#define MAX_NARROW        32

typedef struct {
  guint64 off, size;
} Range;

typedef struct {
  VkDeviceMemory mem;
  VkBuffer       buffer;
  guint64        size;
  guint8        *mapped;     /* UMA only */
  GArray        *free;       /* Range, sorted by off, coalesced */
  guint64        used;
  gboolean       dedicated;
} Block;

struct _SsGpuBuffer {
  gint         ref_count;
  SsGpuDevice *dev;
  Block       *block;
  guint64      offset;       /* in block */
  guint64      size;         /* requested */
  guint64      alloc_size;   /* reserved in block */
};

typedef struct {
  VkBuffer buf;
  guint64  off, size;
} Touch;

typedef struct {
  VkPipeline pipeline;
  guint      n_bindings;
} Pipe;

typedef struct {
  VkDeviceMemory mem;
  VkBuffer       buffer;
  guint64        size;
  guint8        *mapped;
  guint64        used;
} Staging;

/* What a batch of recorded commands owns until the GPU has run it: the batch
 * being recorded has one such set (SsGpuDevice.cur), and a submitted batch
 * keeps its own (SsGpuDevice.flight) while the next one is recorded with the
 * other. */
typedef struct {
  VkCommandBuffer cmd;
  VkFence         fence;
  Staging         staging;
  VkQueryPool     qpool;
  guint           qcount;
  GPtrArray      *qlabels;       /* char*, one per timestamp pair */
  GPtrArray      *held;          /* only with hold_buffers: refs released after completion */
  GPtrArray      *pending_free;  /* Block* emptied while the batch may use them: freed after it */
  gboolean        busy;      /* submitted, fence not yet waited for */
} Batch;

struct _SsGpuDevice {
  GRecMutex        lock;
  VkInstance       instance;
  VkDebugUtilsMessengerEXT messenger;
  VkPhysicalDevice phys;
  VkDevice         device;
  VkQueue          queue;
  guint32          queue_family;
  SsGpuCaps        caps;
  VkPhysicalDeviceMemoryProperties memprops;
  guint32          dev_memtype;
  guint64          block_size;     /* sub-allocated blocks; larger buffers get their own */
  guint32          host_memtype;
  guint32          api_version;

  GPtrArray       *blocks;      /* Block* */
  guint64          used, reserved;
  guint64          cached;      /* bytes of empty blocks kept for reuse */
  guint64          cache_limit;

  VkDescriptorSetLayout dsl[SS_GPU_MAX_BINDINGS + 1];
  VkPipelineLayout      layout[SS_GPU_MAX_BINDINGS + 1];
  GHashTable           *pipelines;   /* char* key -> Pipe* */
  VkPipelineCache       pcache;
  PFN_vkCmdPushDescriptorSetKHR push_descriptor;

  /* stream */
  VkCommandPool    pool;
  gboolean         recording;
  gint64           recording_since;  /* monotonic µs at the batch's first command */
  guint            n_recorded;
  gboolean         hold_buffers;
  gboolean         sync_submits;  /* SOUNDSTAGE_GPU_SYNC=1: every submit waits (as before batches overlapped) */
  GArray          *written;      /* Touch since last barrier */
  GArray          *read;         /* Touch since last barrier */
  /* the batch being recorded, and the one submitted before it (at most one
   * runs while the host records the next; ss_gpu_device_flush waits for both) */
  Batch            cur;
  Batch            flight;

  /* profiling */
  gboolean         profiling;
  GHashTable      *profile;      /* label -> SsGpuProfileEntry* */

  gboolean         lost;
  gboolean         no_coopmat;
  gboolean         pipeline_stats;  /* SOUNDSTAGE_PIPELINE_STATS=1: log compiler statistics */
  char            *pipeline_ir;     /* SOUNDSTAGE_PIPELINE_IR=<dir>: the driver's internal forms there */
  /* SOUNDSTAGE_HOST_STATS=1: where the host's time goes, logged at shutdown */
  gboolean         host_stats;
  gint64           host_dispatch_us, host_wait_us, host_dispatches, host_submits;
  GData           *data;            /* ss_gpu_device_set_data */
};

static SsGpuDevice *default_device;
static GMutex default_lock;

/* ------------------------------------------------------------------ errors */

static gboolean
vk_check (SsGpuDevice *dev, VkResult r, const char *what, GError **error)
{
  if (r == VK_SUCCESS)
    return TRUE;
  switch (r)
    {
    case VK_ERROR_OUT_OF_DEVICE_MEMORY:
      g_set_error (error, SS_ERROR, SS_ERROR_OUT_OF_MEMORY,
                   "Out of GPU memory (%s)", what);
      break;
    case VK_ERROR_OUT_OF_HOST_MEMORY:
      g_set_error (error, SS_ERROR, SS_ERROR_OUT_OF_MEMORY,
                   "Out of host memory for the GPU (%s)", what);
      break;
    case VK_ERROR_DEVICE_LOST:
      if (dev)
        dev->lost = TRUE;
      g_set_error (error, SS_ERROR, SS_ERROR_DEVICE_LOST,
                   "The GPU device was lost (%s); restart the application", what);
      break;
    default:
      g_set_error (error, SS_ERROR, SS_ERROR_FAILED,
                   "GPU error %d in %s", (int) r, what);
      break;
    }
  return FALSE;
}

static gboolean
check_lost (SsGpuDevice *dev, GError **error)
{
  if (!dev->lost)
    return TRUE;
  g_set_error (error, SS_ERROR, SS_ERROR_DEVICE_LOST,
               "The GPU device was lost earlier; restart the application");
  return FALSE;
}

static VKAPI_ATTR VkBool32 VKAPI_CALL
debug_cb (VkDebugUtilsMessageSeverityFlagBitsEXT severity,
          VkDebugUtilsMessageTypeFlagsEXT types,
          const VkDebugUtilsMessengerCallbackDataEXT *data, void *user)
{
  if (severity & VK_DEBUG_UTILS_MESSAGE_SEVERITY_ERROR_BIT_EXT)
    g_critical ("Vulkan validation: %s", data->pMessage);
  else if (severity & VK_DEBUG_UTILS_MESSAGE_SEVERITY_WARNING_BIT_EXT)
    g_message ("Vulkan validation: %s", data->pMessage);
  return VK_FALSE;
}

/* ---------------------------------------------------------- device setup */

static gboolean
has_extension (VkExtensionProperties *exts, guint32 n, const char *name)
{
  for (guint32 i = 0; i < n; i++)
    if (strcmp (exts[i].extensionName, name) == 0)
      return TRUE;
  return FALSE;
}

static int
type_score (VkPhysicalDeviceType t)
{
  switch (t)
    {
    case VK_PHYSICAL_DEVICE_TYPE_DISCRETE_GPU: return 4;
    case VK_PHYSICAL_DEVICE_TYPE_INTEGRATED_GPU: return 3;
    case VK_PHYSICAL_DEVICE_TYPE_VIRTUAL_GPU: return 2;
    case VK_PHYSICAL_DEVICE_TYPE_CPU: return 1;
    default: return 0;
    }
}

static const char *
type_name (VkPhysicalDeviceType t)
{
  switch (t)
    {
    case VK_PHYSICAL_DEVICE_TYPE_DISCRETE_GPU: return "discrete";
    case VK_PHYSICAL_DEVICE_TYPE_INTEGRATED_GPU: return "integrated";
    case VK_PHYSICAL_DEVICE_TYPE_VIRTUAL_GPU: return "virtual";
    case VK_PHYSICAL_DEVICE_TYPE_CPU: return "cpu";
    default: return "other";
    }
}

static gboolean
create_instance (VkInstance *out, VkDebugUtilsMessengerEXT *messenger, GError **error)
{
  gboolean validation = ss_env_flag ("SOUNDSTAGE_VALIDATION", FALSE);
  const char *layers[1];
  const char *exts[2];
  guint32 n_layers = 0, n_exts = 0;

  if (validation)
    {
      guint32 n = 0;
      vkEnumerateInstanceLayerProperties (&n, NULL);
      g_autofree VkLayerProperties *props = g_new0 (VkLayerProperties, MAX (n, 1));
      vkEnumerateInstanceLayerProperties (&n, props);
      for (guint32 i = 0; i < n; i++)
        if (strcmp (props[i].layerName, "VK_LAYER_KHRONOS_validation") == 0)
          layers[n_layers++] = "VK_LAYER_KHRONOS_validation";
      if (n_layers == 0)
        g_message ("SOUNDSTAGE_VALIDATION=1 but VK_LAYER_KHRONOS_validation is not installed");
      else
        exts[n_exts++] = VK_EXT_DEBUG_UTILS_EXTENSION_NAME;
    }

  VkApplicationInfo app = {
    .sType = VK_STRUCTURE_TYPE_APPLICATION_INFO,
    .pApplicationName = "Soundstage",
    .applicationVersion = 1,
    .pEngineName = "soundstage-engine",
    .apiVersion = VK_API_VERSION_1_3,
  };
  VkInstanceCreateInfo ci = {
    .sType = VK_STRUCTURE_TYPE_INSTANCE_CREATE_INFO,
    .pApplicationInfo = &app,
    .enabledLayerCount = n_layers,
    .ppEnabledLayerNames = layers,
    .enabledExtensionCount = n_exts,
    .ppEnabledExtensionNames = exts,
  };
  VkResult r = vkCreateInstance (&ci, NULL, out);
  if (r == VK_ERROR_INCOMPATIBLE_DRIVER || r == VK_ERROR_INITIALIZATION_FAILED)
    {
      g_set_error (error, SS_ERROR, SS_ERROR_UNSUPPORTED,
                   "No Vulkan driver found; install a Vulkan driver (Mesa's lavapipe works on any CPU)");
      return FALSE;
    }
  if (!vk_check (NULL, r, "vkCreateInstance", error))
    return FALSE;

  *messenger = VK_NULL_HANDLE;
  if (n_layers > 0)
    {
      PFN_vkCreateDebugUtilsMessengerEXT create =
        (PFN_vkCreateDebugUtilsMessengerEXT) vkGetInstanceProcAddr (*out, "vkCreateDebugUtilsMessengerEXT");
      VkDebugUtilsMessengerCreateInfoEXT mi = {
        .sType = VK_STRUCTURE_TYPE_DEBUG_UTILS_MESSENGER_CREATE_INFO_EXT,
        .messageSeverity = VK_DEBUG_UTILS_MESSAGE_SEVERITY_WARNING_BIT_EXT |
                           VK_DEBUG_UTILS_MESSAGE_SEVERITY_ERROR_BIT_EXT,
        .messageType = VK_DEBUG_UTILS_MESSAGE_TYPE_GENERAL_BIT_EXT |
                       VK_DEBUG_UTILS_MESSAGE_TYPE_VALIDATION_BIT_EXT,
        .pfnUserCallback = debug_cb,
      };
      if (create)
        create (*out, &mi, NULL, messenger);
    }
  return TRUE;
}

static gboolean
find_compute_queue (VkPhysicalDevice pd, guint32 *family)
{
  guint32 n = 0;
  vkGetPhysicalDeviceQueueFamilyProperties (pd, &n, NULL);
  g_autofree VkQueueFamilyProperties *q = g_new0 (VkQueueFamilyProperties, MAX (n, 1));
  vkGetPhysicalDeviceQueueFamilyProperties (pd, &n, q);
  /* prefer a queue with compute (graphics+compute is fine) */
  for (guint32 i = 0; i < n; i++)
    if (q[i].queueFlags & VK_QUEUE_COMPUTE_BIT)
      {
        *family = i;
        return TRUE;
      }
  return FALSE;
}

char *
ss_gpu_describe_devices (GError **error)
{
  VkInstance inst;
  VkDebugUtilsMessengerEXT m;
  if (!create_instance (&inst, &m, error))
    return NULL;
  guint32 n = 0;
  vkEnumeratePhysicalDevices (inst, &n, NULL);
  g_autofree VkPhysicalDevice *pds = g_new0 (VkPhysicalDevice, MAX (n, 1));
  vkEnumeratePhysicalDevices (inst, &n, pds);
  GString *s = g_string_new (NULL);
  for (guint32 i = 0; i < n; i++)
    {
      VkPhysicalDeviceProperties p;
      vkGetPhysicalDeviceProperties (pds[i], &p);
      g_string_append_printf (s, "%u: %s (%s)\n", i, p.deviceName, type_name (p.deviceType));
    }
  if (m)
    {
      PFN_vkDestroyDebugUtilsMessengerEXT d =
        (PFN_vkDestroyDebugUtilsMessengerEXT) vkGetInstanceProcAddr (inst, "vkDestroyDebugUtilsMessengerEXT");
      if (d)
        d (inst, m, NULL);
    }
  vkDestroyInstance (inst, NULL);
  return g_string_free (s, FALSE);
}

static VkPhysicalDevice
choose_device (VkInstance inst, GError **error)
{
  guint32 n = 0;
  vkEnumeratePhysicalDevices (inst, &n, NULL);
  if (n == 0)
    {
      g_set_error (error, SS_ERROR, SS_ERROR_UNSUPPORTED,
                   "No Vulkan device found; install a Vulkan driver (Mesa's lavapipe works on any CPU)");
      return VK_NULL_HANDLE;
    }
  g_autofree VkPhysicalDevice *pds = g_new0 (VkPhysicalDevice, n);
  vkEnumeratePhysicalDevices (inst, &n, pds);

  const char *want = ss_env_value ("SOUNDSTAGE_DEVICE");
  if (want)
    {
      char *end = NULL;
      guint64 idx = g_ascii_strtoull (want, &end, 10);
      gboolean is_index = end && *end == '\0';
      g_autofree char *want_l = g_utf8_strdown (want, -1);
      for (guint32 i = 0; i < n; i++)
        {
          VkPhysicalDeviceProperties p;
          vkGetPhysicalDeviceProperties (pds[i], &p);
          g_autofree char *name_l = g_utf8_strdown (p.deviceName, -1);
          guint32 fam;
          if (((is_index && idx == i) || (!is_index && strstr (name_l, want_l))) &&
              find_compute_queue (pds[i], &fam))
            return pds[i];
        }
      g_autofree char *list = ss_gpu_describe_devices (NULL);
      g_set_error (error, SS_ERROR, SS_ERROR_NOT_FOUND,
                   "SOUNDSTAGE_DEVICE=%s matches no Vulkan device; available:\n%s",
                   want, list ? list : "");
      return VK_NULL_HANDLE;
    }

  VkPhysicalDevice best = VK_NULL_HANDLE;
  int best_score = -1;
  for (guint32 i = 0; i < n; i++)
    {
      VkPhysicalDeviceProperties p;
      vkGetPhysicalDeviceProperties (pds[i], &p);
      guint32 fam;
      if (p.apiVersion < VK_API_VERSION_1_2 || !find_compute_queue (pds[i], &fam))
        continue;
      int score = type_score (p.deviceType);
      if (score > best_score)
        {
          best_score = score;
          best = pds[i];
        }
    }
  if (!best)
    g_set_error (error, SS_ERROR, SS_ERROR_UNSUPPORTED,
                 "No Vulkan 1.2 device with a compute queue found");
  return best;
}

/* The subgroup-scope kernels as KHR modules (shaders/meson.build, 'khr_sg'
 * and the _khr twins) on devices with VK_KHR_cooperative_matrix's fp16 x fp16
 * -> fp32 16x16x16 subgroup matrices in compute shaders:
 * - without a usable VK_NV_cooperative_matrix (AMD RDNA3, say): the GEMM (the
 *   attention kernels that beat the register-blocked one convert accumulators
 *   into operands, which needs coopmat2, and read the NV layout);
 * - with it and coopmat2's conversions (NVIDIA): every twin but the GEMM's
 *   (device_shader), since the driver compiles the KHR modules better: on
 *   the H100 coopmat_peak runs at 645-656 TFLOP/s against 387-401 and the
 *   one-pass attention at head size 128 at 155 against 117 (eng161);
 * - SOUNDSTAGE_COOPMAT_KHR=1: on any such device, with the NV extension left
 *   off (to test the KHR modules on NVIDIA as an AMD GPU runs them); =0: never.
 * The kernels split their work by 32-lane subgroups: a device whose
 * subgroups have another size must let compute pipelines ask for 32
 * (subgroup size control, Vulkan 1.3). */
static void
probe_khr_subgroup_matrices (SsGpuDevice *dev, const VkPhysicalDeviceVulkan12Features *f12)
{
  SsGpuCaps *c = &dev->caps;
  int choice = ss_env_choice ("SOUNDSTAGE_COOPMAT_KHR");
  if (choice == 1)
    c->coopmat_nv = c->coopmat_f16_16x16x16 = FALSE;
  if (choice == 0 || (c->coopmat_f16_16x16x16 && !c->coopmat_conversions) || !c->coopmat_khr ||
      !f12->vulkanMemoryModel || !c->fp16_arith)
    return;
  SsVkCoopmatKhrFeatures fkhr = { .sType = SS_VK_STYPE_COOPMAT_KHR_FEATURES };
  VkPhysicalDeviceVulkan13Features f13 = { .sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_VULKAN_1_3_FEATURES,
                                           .pNext = &fkhr };
  VkPhysicalDeviceFeatures2 ff = { .sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_FEATURES_2,
                                   .pNext = dev->api_version >= VK_API_VERSION_1_3 ? (void *) &f13 : &fkhr };
  vkGetPhysicalDeviceFeatures2 (dev->phys, &ff);
  SsVkCoopmatKhrProps pkhr = { .sType = SS_VK_STYPE_COOPMAT_KHR_PROPS };
  VkPhysicalDeviceVulkan13Properties p13 = { .sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_VULKAN_1_3_PROPERTIES,
                                             .pNext = &pkhr };
  VkPhysicalDeviceProperties2 pp = { .sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_PROPERTIES_2,
                                     .pNext = dev->api_version >= VK_API_VERSION_1_3 ? (void *) &p13 : &pkhr };
  vkGetPhysicalDeviceProperties2 (dev->phys, &pp);
  SsVkGetKhrMatrices get = (SsVkGetKhrMatrices)
    vkGetInstanceProcAddr (dev->instance, "vkGetPhysicalDeviceCooperativeMatrixPropertiesKHR");
  guint32 n = 0;
  if (!fkhr.cooperativeMatrix || !(pkhr.cooperativeMatrixSupportedStages & VK_SHADER_STAGE_COMPUTE_BIT) ||
      !get || get (dev->phys, &n, NULL) != VK_SUCCESS || n == 0)
    return;
  g_autofree SsVkCoopmatKhrMatrix *m = g_new0 (SsVkCoopmatKhrMatrix, n);
  for (guint32 i = 0; i < n; i++)
    m[i].sType = SS_VK_STYPE_COOPMAT_KHR_MATRIX;
  if (get (dev->phys, &n, m) != VK_SUCCESS)
    return;
  gboolean f16 = FALSE;
  for (guint32 i = 0; i < n; i++)
    {
      g_debug ("KHR cooperative matrix: %ux%ux%u A%u B%u C%u R%u scope %u", m[i].MSize, m[i].NSize,
               m[i].KSize, m[i].AType, m[i].BType, m[i].CType, m[i].ResultType, m[i].scope);
      f16 |= m[i].MSize == 16 && m[i].NSize == 16 && m[i].KSize == 16 &&
             m[i].AType == SS_VK_COMPONENT_FLOAT16 && m[i].BType == SS_VK_COMPONENT_FLOAT16 &&
             m[i].CType == SS_VK_COMPONENT_FLOAT32 && m[i].ResultType == SS_VK_COMPONENT_FLOAT32 &&
             !m[i].saturatingAccumulation && m[i].scope == SS_VK_SCOPE_SUBGROUP;
    }
  gboolean control = dev->api_version >= VK_API_VERSION_1_3 && f13.subgroupSizeControl &&
                     f13.computeFullSubgroups && p13.minSubgroupSize <= 32 && p13.maxSubgroupSize >= 32 &&
                     (p13.requiredSubgroupSizeStages & VK_SHADER_STAGE_COMPUTE_BIT);
  /* (SOUNDSTAGE_COOPMAT_SIZE32=1 asks for 32 where it is the default too, to
   * test that path on NVIDIA) */
  gboolean size32 = c->subgroup_size != 32 || (control && ss_env_flag ("SOUNDSTAGE_COOPMAT_SIZE32", FALSE));
  if (!f16 || (size32 && !control))
    return;
  c->coopmat_f16_16x16x16 = c->coopmat_sg_khr = TRUE;
  c->coopmat_sg_size32 = size32;
}

static void
probe_caps (SsGpuDevice *dev, VkExtensionProperties *exts, guint32 n_exts)
{
  SsGpuCaps *c = &dev->caps;
  VkPhysicalDeviceSubgroupProperties sg = { .sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_SUBGROUP_PROPERTIES };
  VkPhysicalDeviceProperties2 p2 = { .sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_PROPERTIES_2, .pNext = &sg };
  vkGetPhysicalDeviceProperties2 (dev->phys, &p2);
  VkPhysicalDeviceProperties *p = &p2.properties;

  g_strlcpy (c->name, p->deviceName, sizeof c->name);
  c->vendor_id = p->vendorID;
  c->device_id = p->deviceID;
  c->is_cpu = p->deviceType == VK_PHYSICAL_DEVICE_TYPE_CPU;
  c->is_discrete = p->deviceType == VK_PHYSICAL_DEVICE_TYPE_DISCRETE_GPU;
  c->subgroup_size = sg.subgroupSize;
  c->subgroup_shuffle = (sg.supportedOperations & VK_SUBGROUP_FEATURE_SHUFFLE_BIT) &&
                        (sg.supportedStages & VK_SHADER_STAGE_COMPUTE_BIT);
  c->shared_memory = p->limits.maxComputeSharedMemorySize;
  c->max_storage_buffer_range = p->limits.maxStorageBufferRange;
  c->max_workgroup_invocations = p->limits.maxComputeWorkGroupInvocations;
  for (int i = 0; i < 3; i++)
    c->max_workgroup_count[i] = p->limits.maxComputeWorkGroupCount[i];
  c->min_storage_offset_align = MAX (p->limits.minStorageBufferOffsetAlignment, 16);
  c->timestamp_period_ns = p->limits.timestampPeriod;
  dev->api_version = p->apiVersion;

  guint32 nq = 0;
  vkGetPhysicalDeviceQueueFamilyProperties (dev->phys, &nq, NULL);
  g_autofree VkQueueFamilyProperties *q = g_new0 (VkQueueFamilyProperties, MAX (nq, 1));
  vkGetPhysicalDeviceQueueFamilyProperties (dev->phys, &nq, q);
  c->timestamps = q[dev->queue_family].timestampValidBits > 0 &&
                  p->limits.timestampComputeAndGraphics;

  VkPhysicalDeviceVulkan11Features f11 = { .sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_VULKAN_1_1_FEATURES };
  VkPhysicalDeviceVulkan12Features f12 = { .sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_VULKAN_1_2_FEATURES, .pNext = &f11 };
  VkPhysicalDeviceFeatures2 f2 = { .sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_FEATURES_2, .pNext = &f12 };
  vkGetPhysicalDeviceFeatures2 (dev->phys, &f2);
  c->fp16_storage = f11.storageBuffer16BitAccess;
  c->fp16_arith = f12.shaderFloat16;
  c->int16 = f2.features.shaderInt16;
  c->bf16_arith = has_extension (exts, n_exts, "VK_KHR_shader_bfloat16");

  c->coopmat_khr = has_extension (exts, n_exts, "VK_KHR_cooperative_matrix");
  c->coopmat2_nv = has_extension (exts, n_exts, "VK_NV_cooperative_matrix2");
  c->coopmat_nv = has_extension (exts, n_exts, VK_NV_COOPERATIVE_MATRIX_EXTENSION_NAME) &&
                  f12.vulkanMemoryModel && c->fp16_arith;
  if (c->coopmat_nv)
    {
      PFN_vkGetPhysicalDeviceCooperativeMatrixPropertiesNV get =
        (PFN_vkGetPhysicalDeviceCooperativeMatrixPropertiesNV)
          vkGetInstanceProcAddr (dev->instance, "vkGetPhysicalDeviceCooperativeMatrixPropertiesNV");
      guint32 n = 0;
      if (get && get (dev->phys, &n, NULL) == VK_SUCCESS && n > 0)
        {
          g_autofree VkCooperativeMatrixPropertiesNV *props = g_new0 (VkCooperativeMatrixPropertiesNV, n);
          for (guint32 i = 0; i < n; i++)
            props[i].sType = VK_STRUCTURE_TYPE_COOPERATIVE_MATRIX_PROPERTIES_NV;
          get (dev->phys, &n, props);
          for (guint32 i = 0; i < n; i++)
            if (props[i].MSize == 16 && props[i].NSize == 16 && props[i].KSize == 16 &&
                props[i].AType == VK_COMPONENT_TYPE_FLOAT16_NV &&
                props[i].BType == VK_COMPONENT_TYPE_FLOAT16_NV &&
                props[i].CType == VK_COMPONENT_TYPE_FLOAT32_NV &&
                props[i].DType == VK_COMPONENT_TYPE_FLOAT32_NV &&
                props[i].scope == VK_SCOPE_SUBGROUP_NV)
              c->coopmat_f16_16x16x16 = TRUE;
        }
    }

  /* workgroup-scope matrices: KHR cooperative matrices with coopmat2's
   * workgroup scope and flexible dimensions, fp16 x fp16 -> fp32 */
  if (c->coopmat_khr && c->coopmat2_nv && f12.vulkanMemoryModel && c->fp16_arith)
    {
      SsVkBf16Features fbf = { .sType = SS_VK_STYPE_BF16_FEATURES };
      SsVkCoopmat2Features f2nv = { .sType = SS_VK_STYPE_COOPMAT2_NV_FEATURES,
                                    .pNext = c->bf16_arith ? &fbf : NULL };
      SsVkCoopmatKhrFeatures fkhr = { .sType = SS_VK_STYPE_COOPMAT_KHR_FEATURES, .pNext = &f2nv };
      VkPhysicalDeviceFeatures2 ff = { .sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_FEATURES_2, .pNext = &fkhr };
      vkGetPhysicalDeviceFeatures2 (dev->phys, &ff);
      SsVkCoopmat2Props p2nv = { .sType = SS_VK_STYPE_COOPMAT2_NV_PROPS };
      VkPhysicalDeviceProperties2 pp = { .sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_PROPERTIES_2, .pNext = &p2nv };
      vkGetPhysicalDeviceProperties2 (dev->phys, &pp);
      c->coopmat_wg_max_invocations = p2nv.cooperativeMatrixWorkgroupScopeMaxWorkgroupSize;
      c->coopmat_wg_reserved_shared = p2nv.cooperativeMatrixWorkgroupScopeReservedSharedMemory;
      SsVkGetFlexProps get = (SsVkGetFlexProps)
        vkGetInstanceProcAddr (dev->instance, "vkGetPhysicalDeviceCooperativeMatrixFlexibleDimensionsPropertiesNV");
      guint32 n = 0;
      if (fkhr.cooperativeMatrix && f2nv.cooperativeMatrixWorkgroupScope &&
          f2nv.cooperativeMatrixFlexibleDimensions && get && get (dev->phys, &n, NULL) == VK_SUCCESS && n > 0)
        {
          g_autofree SsVkCoopmatFlexProps *props = g_new0 (SsVkCoopmatFlexProps, n);
          for (guint32 i = 0; i < n; i++)
            props[i].sType = SS_VK_STYPE_COOPMAT2_NV_FLEX_PROPS;
          get (dev->phys, &n, props);
          for (guint32 i = 0; i < n; i++)
            {
              SsVkCoopmatFlexProps *f = &props[i];
              g_debug ("coopmat2 flexible: %ux%ux%u A%u B%u C%u R%u scope %u invocations %u",
                       f->MGranularity, f->NGranularity, f->KGranularity, f->AType, f->BType,
                       f->CType, f->ResultType, f->scope, f->workgroupInvocations);
              /* fp16 x fp16 -> fp32: which workgroup sizes take them; bf16
               * likewise (VK_KHR_shader_bfloat16) */
              c->coopmat_wg_sizes |= flex_wg_bit (f, SS_VK_COMPONENT_FLOAT16, c->coopmat_wg_max_invocations);
              if (fbf.shaderBFloat16Type && fbf.shaderBFloat16CooperativeMatrix)
                c->coopmat_wg_bf16_sizes |=
                  flex_wg_bit (f, SS_VK_COMPONENT_BFLOAT16, c->coopmat_wg_max_invocations);
            }
        }
      c->coopmat_wg = c->coopmat_wg_sizes != 0;
      if (!c->coopmat_wg)
        c->coopmat_wg_bf16_sizes = 0;
      c->coopmat_tensor = c->coopmat_wg && f2nv.cooperativeMatrixTensorAddressing;
      c->coopmat_conversions = c->coopmat_wg && f2nv.cooperativeMatrixConversions;
    }
  probe_khr_subgroup_matrices (dev, &f12);

  vkGetPhysicalDeviceMemoryProperties (dev->phys, &dev->memprops);
  for (guint32 h = 0; h < dev->memprops.memoryHeapCount; h++)
    if (dev->memprops.memoryHeaps[h].flags & VK_MEMORY_HEAP_DEVICE_LOCAL_BIT)
      c->heap_size = MAX (c->heap_size, dev->memprops.memoryHeaps[h].size);
}

static guint32
find_memtype (SsGpuDevice *dev, VkMemoryPropertyFlags want, VkMemoryPropertyFlags avoid)
{
  guint64 best_heap = 0;
  guint32 best = G_MAXUINT32;
  for (guint32 i = 0; i < dev->memprops.memoryTypeCount; i++)
    {
      VkMemoryPropertyFlags f = dev->memprops.memoryTypes[i].propertyFlags;
      guint64 heap = dev->memprops.memoryHeaps[dev->memprops.memoryTypes[i].heapIndex].size;
      if ((f & want) == want && !(f & avoid) && (best == G_MAXUINT32 || heap > best_heap))
        {
          best = i;
          best_heap = heap;
        }
    }
  return best;
}

static void device_free (SsGpuDevice *dev);
static void log_host_stats (void);

static SsGpuDevice *
device_new (GError **error)
{
  SsGpuDevice *dev = g_new0 (SsGpuDevice, 1);
  g_rec_mutex_init (&dev->lock);
  dev->blocks = g_ptr_array_new ();
  dev->pipelines = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  Batch *sets[2] = { &dev->cur, &dev->flight };
  for (guint k = 0; k < 2; k++)
    {
      sets[k]->held = g_ptr_array_new ();
      sets[k]->pending_free = g_ptr_array_new ();
      sets[k]->qlabels = g_ptr_array_new_with_free_func (g_free);
    }
  dev->hold_buffers = ss_env_flag ("SOUNDSTAGE_HOLD_BUFFERS", FALSE);
  dev->sync_submits = ss_env_flag ("SOUNDSTAGE_GPU_SYNC", FALSE);
  dev->written = g_array_new (FALSE, FALSE, sizeof (Touch));
  dev->read = g_array_new (FALSE, FALSE, sizeof (Touch));
  dev->profile = g_hash_table_new (g_str_hash, g_str_equal);
  dev->no_coopmat = ss_env_flag ("SOUNDSTAGE_NO_COOPMAT", FALSE);
  VkExtensionProperties *exts = NULL;
  guint32 n_exts = 0;

  if (!create_instance (&dev->instance, &dev->messenger, error))
    goto fail;
  dev->phys = choose_device (dev->instance, error);
  if (!dev->phys)
    goto fail;
  find_compute_queue (dev->phys, &dev->queue_family);

  n_exts = 0;
  vkEnumerateDeviceExtensionProperties (dev->phys, NULL, &n_exts, NULL);
  exts = g_new0 (VkExtensionProperties, MAX (n_exts, 1));
  vkEnumerateDeviceExtensionProperties (dev->phys, NULL, &n_exts, exts);
  probe_caps (dev, exts, n_exts);

  if (!has_extension (exts, n_exts, VK_KHR_PUSH_DESCRIPTOR_EXTENSION_NAME))
    {
      g_set_error (error, SS_ERROR, SS_ERROR_UNSUPPORTED,
                   "The Vulkan device %s lacks VK_KHR_push_descriptor", dev->caps.name);
      goto fail;
    }
  if (!dev->caps.fp16_storage || !dev->caps.int16)
    {
      g_set_error (error, SS_ERROR, SS_ERROR_UNSUPPORTED,
                   "The Vulkan device %s lacks 16-bit storage buffers or 16-bit integers",
                   dev->caps.name);
      goto fail;
    }

  const char *dev_exts[8];
  guint32 n_dev_exts = 0;
  dev_exts[n_dev_exts++] = VK_KHR_PUSH_DESCRIPTOR_EXTENSION_NAME;
  if (dev->caps.coopmat_nv)
    dev_exts[n_dev_exts++] = VK_NV_COOPERATIVE_MATRIX_EXTENSION_NAME;
  if (dev->caps.coopmat_wg)
    {
      dev_exts[n_dev_exts++] = "VK_KHR_cooperative_matrix";
      dev_exts[n_dev_exts++] = "VK_NV_cooperative_matrix2";
      if (dev->caps.coopmat_wg_bf16_sizes)
        dev_exts[n_dev_exts++] = "VK_KHR_shader_bfloat16";
    }
  else if (dev->caps.coopmat_sg_khr)
    dev_exts[n_dev_exts++] = "VK_KHR_cooperative_matrix";
  /* the driver's statistics per pipeline (registers, spills, ...) for kernel tuning */
  const char *ir_dir = ss_env_value ("SOUNDSTAGE_PIPELINE_IR");
  dev->pipeline_stats = (ss_env_flag ("SOUNDSTAGE_PIPELINE_STATS", FALSE) || ir_dir) &&
                        has_extension (exts, n_exts, VK_KHR_PIPELINE_EXECUTABLE_PROPERTIES_EXTENSION_NAME);
  if (dev->pipeline_stats && ir_dir)
    dev->pipeline_ir = g_strdup (ir_dir);
  dev->host_stats = ss_env_flag ("SOUNDSTAGE_HOST_STATS", FALSE);
  if (dev->host_stats)
    atexit (log_host_stats);
  if (dev->pipeline_stats)
    dev_exts[n_dev_exts++] = VK_KHR_PIPELINE_EXECUTABLE_PROPERTIES_EXTENSION_NAME;
  VkPhysicalDevicePipelineExecutablePropertiesFeaturesKHR fpe = {
    .sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_PIPELINE_EXECUTABLE_PROPERTIES_FEATURES_KHR,
    .pipelineExecutableInfo = VK_TRUE,
  };

  /* the feature chain: f2 -> f12 -> f11 [-> f13] [-> fcm] [-> fkhr [-> f2nv]] [-> fpe] */
  void *chain = dev->pipeline_stats ? (void *) &fpe : NULL;
  SsVkCoopmat2Features f2nv = {
    .sType = SS_VK_STYPE_COOPMAT2_NV_FEATURES,
    .pNext = chain,
    .cooperativeMatrixWorkgroupScope = VK_TRUE,
    .cooperativeMatrixFlexibleDimensions = VK_TRUE,
    .cooperativeMatrixTensorAddressing = dev->caps.coopmat_tensor,
    .cooperativeMatrixConversions = dev->caps.coopmat_conversions,
  };
  SsVkBf16Features fbf = {
    .sType = SS_VK_STYPE_BF16_FEATURES,
    .shaderBFloat16Type = VK_TRUE,
    .shaderBFloat16CooperativeMatrix = VK_TRUE,
  };
  if (dev->caps.coopmat_wg_bf16_sizes)
    {
      fbf.pNext = f2nv.pNext;
      f2nv.pNext = &fbf;
    }
  SsVkCoopmatKhrFeatures fkhr = {
    .sType = SS_VK_STYPE_COOPMAT_KHR_FEATURES,
    .pNext = &f2nv,
    .cooperativeMatrix = VK_TRUE,
  };
  if (dev->caps.coopmat_wg)
    chain = &fkhr;
  else if (dev->caps.coopmat_sg_khr)
    {
      fkhr.pNext = chain;
      chain = &fkhr;
    }
  VkPhysicalDeviceCooperativeMatrixFeaturesNV fcm = {
    .sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_COOPERATIVE_MATRIX_FEATURES_NV,
    .pNext = chain,
    .cooperativeMatrix = VK_TRUE,
  };
  if (dev->caps.coopmat_nv)
    chain = &fcm;
  /* 32-invocation subgroups for the KHR subgroup-scope kernels */
  VkPhysicalDeviceVulkan13Features f13 = {
    .sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_VULKAN_1_3_FEATURES,
    .pNext = chain,
    .subgroupSizeControl = VK_TRUE,
    .computeFullSubgroups = VK_TRUE,
  };
  if (dev->caps.coopmat_sg_size32)
    chain = &f13;
  VkPhysicalDeviceVulkan11Features f11 = {
    .sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_VULKAN_1_1_FEATURES,
    .pNext = chain,
    .storageBuffer16BitAccess = VK_TRUE,
  };
  VkPhysicalDeviceVulkan12Features f12 = {
    .sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_VULKAN_1_2_FEATURES,
    .pNext = &f11,
    .shaderFloat16 = dev->caps.fp16_arith,
    .vulkanMemoryModel = dev->caps.coopmat_nv || dev->caps.coopmat_wg || dev->caps.coopmat_sg_khr,
  };
  VkPhysicalDeviceFeatures2 f2 = {
    .sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_FEATURES_2,
    .pNext = &f12,
    .features.shaderInt16 = VK_TRUE,
  };
  float prio = 1.0f;
  VkDeviceQueueCreateInfo qci = {
    .sType = VK_STRUCTURE_TYPE_DEVICE_QUEUE_CREATE_INFO,
    .queueFamilyIndex = dev->queue_family,
    .queueCount = 1,
    .pQueuePriorities = &prio,
  };
  VkDeviceCreateInfo dci = {
    .sType = VK_STRUCTURE_TYPE_DEVICE_CREATE_INFO,
    .pNext = &f2,
    .queueCreateInfoCount = 1,
    .pQueueCreateInfos = &qci,
    .enabledExtensionCount = n_dev_exts,
    .ppEnabledExtensionNames = dev_exts,
  };
  if (!vk_check (dev, vkCreateDevice (dev->phys, &dci, NULL, &dev->device), "vkCreateDevice", error))
    goto fail;
  vkGetDeviceQueue (dev->device, dev->queue_family, 0, &dev->queue);
  dev->push_descriptor = (PFN_vkCmdPushDescriptorSetKHR)
    vkGetDeviceProcAddr (dev->device, "vkCmdPushDescriptorSetKHR");

  dev->dev_memtype = find_memtype (dev, VK_MEMORY_PROPERTY_DEVICE_LOCAL_BIT, 0);
  if (dev->dev_memtype == G_MAXUINT32)
    dev->dev_memtype = find_memtype (dev, 0, 0);
  VkMemoryPropertyFlags dflags = dev->memprops.memoryTypes[dev->dev_memtype].propertyFlags;
  dev->caps.uma = !dev->caps.is_discrete &&
    (dflags & (VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT | VK_MEMORY_PROPERTY_HOST_COHERENT_BIT)) ==
    (VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT | VK_MEMORY_PROPERTY_HOST_COHERENT_BIT);
  dev->host_memtype = find_memtype (dev, VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT |
                                         VK_MEMORY_PROPERTY_HOST_COHERENT_BIT |
                                         VK_MEMORY_PROPERTY_HOST_CACHED_BIT, 0);
  if (dev->host_memtype == G_MAXUINT32)
    dev->host_memtype = find_memtype (dev, VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT |
                                           VK_MEMORY_PROPERTY_HOST_COHERENT_BIT, 0);

  VkCommandPoolCreateInfo pci = {
    .sType = VK_STRUCTURE_TYPE_COMMAND_POOL_CREATE_INFO,
    .flags = VK_COMMAND_POOL_CREATE_RESET_COMMAND_BUFFER_BIT,
    .queueFamilyIndex = dev->queue_family,
  };
  if (!vk_check (dev, vkCreateCommandPool (dev->device, &pci, NULL, &dev->pool), "vkCreateCommandPool", error))
    goto fail;
  VkCommandBufferAllocateInfo cai = {
    .sType = VK_STRUCTURE_TYPE_COMMAND_BUFFER_ALLOCATE_INFO,
    .commandPool = dev->pool,
    .level = VK_COMMAND_BUFFER_LEVEL_PRIMARY,
    .commandBufferCount = 1,
  };
  if (!vk_check (dev, vkAllocateCommandBuffers (dev->device, &cai, &dev->cur.cmd), "vkAllocateCommandBuffers", error) ||
      !vk_check (dev, vkAllocateCommandBuffers (dev->device, &cai, &dev->flight.cmd), "vkAllocateCommandBuffers", error))
    goto fail;
  VkFenceCreateInfo fci = { .sType = VK_STRUCTURE_TYPE_FENCE_CREATE_INFO };
  if (!vk_check (dev, vkCreateFence (dev->device, &fci, NULL, &dev->cur.fence), "vkCreateFence", error) ||
      !vk_check (dev, vkCreateFence (dev->device, &fci, NULL, &dev->flight.fence), "vkCreateFence", error))
    goto fail;
  VkPipelineCacheCreateInfo pcci = { .sType = VK_STRUCTURE_TYPE_PIPELINE_CACHE_CREATE_INFO };
  vkCreatePipelineCache (dev->device, &pcci, NULL, &dev->pcache);

  for (guint n = 0; n <= SS_GPU_MAX_BINDINGS; n++)
    {
      VkDescriptorSetLayoutBinding b[SS_GPU_MAX_BINDINGS];
      for (guint i = 0; i < n; i++)
        b[i] = (VkDescriptorSetLayoutBinding) {
          .binding = i,
          .descriptorType = VK_DESCRIPTOR_TYPE_STORAGE_BUFFER,
          .descriptorCount = 1,
          .stageFlags = VK_SHADER_STAGE_COMPUTE_BIT,
        };
      VkDescriptorSetLayoutCreateInfo dl = {
        .sType = VK_STRUCTURE_TYPE_DESCRIPTOR_SET_LAYOUT_CREATE_INFO,
        .flags = VK_DESCRIPTOR_SET_LAYOUT_CREATE_PUSH_DESCRIPTOR_BIT_KHR,
        .bindingCount = n,
        .pBindings = b,
      };
      if (!vk_check (dev, vkCreateDescriptorSetLayout (dev->device, &dl, NULL, &dev->dsl[n]),
                     "vkCreateDescriptorSetLayout", error))
        goto fail;
      VkPushConstantRange pr = { VK_SHADER_STAGE_COMPUTE_BIT, 0, SS_GPU_MAX_PUSH };
      VkPipelineLayoutCreateInfo pl = {
        .sType = VK_STRUCTURE_TYPE_PIPELINE_LAYOUT_CREATE_INFO,
        .setLayoutCount = 1,
        .pSetLayouts = &dev->dsl[n],
        .pushConstantRangeCount = 1,
        .pPushConstantRanges = &pr,
      };
      if (!vk_check (dev, vkCreatePipelineLayout (dev->device, &pl, NULL, &dev->layout[n]),
                     "vkCreatePipelineLayout", error))
        goto fail;
    }

  if (dev->caps.timestamps)
    {
      VkQueryPoolCreateInfo qp = {
        .sType = VK_STRUCTURE_TYPE_QUERY_POOL_CREATE_INFO,
        .queryType = VK_QUERY_TYPE_TIMESTAMP,
        .queryCount = MAX_QUERIES,
      };
      if (vkCreateQueryPool (dev->device, &qp, NULL, &dev->cur.qpool) != VK_SUCCESS ||
          vkCreateQueryPool (dev->device, &qp, NULL, &dev->flight.qpool) != VK_SUCCESS)
        dev->caps.timestamps = FALSE;
    }
  dev->profiling = ss_env_flag ("SOUNDSTAGE_PROFILE", FALSE) && dev->caps.timestamps;
  /* empty blocks are kept (up to this much) so steady-state allocation does
   * not call vkAllocateMemory for every tensor */
  /* SOUNDSTAGE_GPU_BLOCK_MB: block size override (experiments) */
  dev->block_size = dev->caps.uma ? UMA_BLOCK_SIZE : BLOCK_SIZE;
  {
    const char *bs = ss_env_value ("SOUNDSTAGE_GPU_BLOCK_MB");
    guint64 mb = bs ? g_ascii_strtoull (bs, NULL, 10) : 0;
    if (mb >= 16 && mb <= 4096)
      dev->block_size = mb << 20;
  }
  dev->cache_limit = dev->caps.uma ? ((guint64) 256 << 20) : MIN (dev->caps.heap_size / 4, (guint64) 8 << 30);

  g_debug ("GPU: %s (subgroup %u, shared %zu, storage range %" G_GUINT64_FORMAT
           ", coopmat nv %d khr %d (subgroup kernels %d, size 32 asked %d) nv2 %d, workgroup scope %d: sizes 0x%x (bit n: 32 n"
           " invocations, max %u; bf16 0x%x), reserved shared %u, tensor addressing %d, conversions %d, uma %d)",
           dev->caps.name, dev->caps.subgroup_size, dev->caps.shared_memory,
           dev->caps.max_storage_buffer_range, dev->caps.coopmat_nv,
           dev->caps.coopmat_khr, dev->caps.coopmat_sg_khr, dev->caps.coopmat_sg_size32,
           dev->caps.coopmat2_nv, dev->caps.coopmat_wg,
           dev->caps.coopmat_wg_sizes, dev->caps.coopmat_wg_max_invocations,
           dev->caps.coopmat_wg_bf16_sizes, dev->caps.coopmat_wg_reserved_shared, dev->caps.coopmat_tensor,
           dev->caps.coopmat_conversions, dev->caps.uma);
  g_free (exts);
  return dev;

fail:
  g_free (exts);
  device_free (dev);
  return NULL;
}

static void
block_free (SsGpuDevice *dev, Block *b)
{
  if (b->buffer)
    vkDestroyBuffer (dev->device, b->buffer, NULL);
  if (b->mem)
    vkFreeMemory (dev->device, b->mem, NULL);
  if (b->free)
    g_array_unref (b->free);
  g_free (b);
}

static void
staging_free (SsGpuDevice *dev, Staging *st)
{
  if (st->buffer)
    vkDestroyBuffer (dev->device, st->buffer, NULL);
  if (st->mem)
    vkFreeMemory (dev->device, st->mem, NULL);
  memset (st, 0, sizeof *st);
}

static void
device_free (SsGpuDevice *dev)
{
  Batch *sets[2] = { &dev->cur, &dev->flight };
  g_datalist_clear (&dev->data);
  if (dev->device)
    {
      vkDeviceWaitIdle (dev->device);
      for (guint k = 0; k < 2; k++)
        {
          for (guint i = 0; i < sets[k]->held->len; i++)
            ss_gpu_buffer_unref (sets[k]->held->pdata[i]);
          g_ptr_array_set_size (sets[k]->held, 0);
          for (guint i = 0; i < sets[k]->pending_free->len; i++)
            block_free (dev, sets[k]->pending_free->pdata[i]);
          g_ptr_array_set_size (sets[k]->pending_free, 0);
        }
      GHashTableIter it;
      gpointer k, v;
      g_hash_table_iter_init (&it, dev->pipelines);
      while (g_hash_table_iter_next (&it, &k, &v))
        vkDestroyPipeline (dev->device, ((Pipe *) v)->pipeline, NULL);
      for (guint n = 0; n <= SS_GPU_MAX_BINDINGS; n++)
        {
          if (dev->layout[n])
            vkDestroyPipelineLayout (dev->device, dev->layout[n], NULL);
          if (dev->dsl[n])
            vkDestroyDescriptorSetLayout (dev->device, dev->dsl[n], NULL);
        }
      if (dev->pcache)
        vkDestroyPipelineCache (dev->device, dev->pcache, NULL);
      for (guint k = 0; k < 2; k++)
        {
          if (sets[k]->qpool)
            vkDestroyQueryPool (dev->device, sets[k]->qpool, NULL);
          if (sets[k]->fence)
            vkDestroyFence (dev->device, sets[k]->fence, NULL);
          staging_free (dev, &sets[k]->staging);
        }
      if (dev->pool)
        vkDestroyCommandPool (dev->device, dev->pool, NULL);
      for (guint i = 0; i < dev->blocks->len; i++)
        block_free (dev, dev->blocks->pdata[i]);
      vkDestroyDevice (dev->device, NULL);
    }
  if (dev->messenger)
    {
      PFN_vkDestroyDebugUtilsMessengerEXT d =
        (PFN_vkDestroyDebugUtilsMessengerEXT) vkGetInstanceProcAddr (dev->instance, "vkDestroyDebugUtilsMessengerEXT");
      if (d)
        d (dev->instance, dev->messenger, NULL);
    }
  if (dev->instance)
    vkDestroyInstance (dev->instance, NULL);
  g_hash_table_unref (dev->pipelines);
  g_ptr_array_unref (dev->blocks);
  for (guint k = 0; k < 2; k++)
    {
      g_ptr_array_unref (sets[k]->held);
      g_ptr_array_unref (sets[k]->pending_free);
      g_ptr_array_unref (sets[k]->qlabels);
    }
  g_array_unref (dev->written);
  g_array_unref (dev->read);
  GHashTableIter it;
  gpointer k, v;
  g_hash_table_iter_init (&it, dev->profile);
  while (g_hash_table_iter_next (&it, &k, &v))
    {
      g_free (((SsGpuProfileEntry *) v)->label);
      g_free (v);
    }
  g_hash_table_unref (dev->profile);
  g_rec_mutex_clear (&dev->lock);
  g_free (dev->pipeline_ir);
  g_free (dev);
}

SsGpuDevice *
ss_gpu_device_get_default (GError **error)
{
  g_mutex_lock (&default_lock);
  if (!default_device)
    default_device = device_new (error);
  SsGpuDevice *dev = default_device;
  g_mutex_unlock (&default_lock);
  return dev;
}

/* SOUNDSTAGE_HOST_STATS=1: the host's share, at shutdown or exit */
static void
log_host_stats (void)
{
  SsGpuDevice *dev = default_device;
  if (!dev || !dev->host_stats || dev->host_dispatches == 0)
    return;
  g_message ("host: %" G_GINT64_FORMAT " dispatches recorded in %.1f ms (%.1f us each), "
             "%" G_GINT64_FORMAT " submits, %.1f ms waiting for the GPU",
             dev->host_dispatches, dev->host_dispatch_us * 1e-3,
             (double) dev->host_dispatch_us / dev->host_dispatches,
             dev->host_submits, dev->host_wait_us * 1e-3);
  dev->host_dispatches = 0;
}

void
ss_gpu_device_shutdown (void)
{
  g_mutex_lock (&default_lock);
  if (default_device)
    {
      ss_gpu_device_flush (default_device, NULL);
      log_host_stats ();
      device_free (default_device);
      default_device = NULL;
    }
  g_mutex_unlock (&default_lock);
}

const SsGpuCaps *
ss_gpu_device_get_caps (SsGpuDevice *dev)
{
  g_return_val_if_fail (dev != NULL, NULL);
  return &dev->caps;
}

gpointer
ss_gpu_device_get_data (SsGpuDevice *dev, const char *key)
{
  return g_datalist_get_data (&dev->data, key);
}

void
ss_gpu_device_set_data (SsGpuDevice *dev, const char *key, gpointer data, GDestroyNotify destroy)
{
  g_datalist_set_data_full (&dev->data, key, data, destroy);
}

gboolean
ss_gpu_device_use_coopmat (SsGpuDevice *dev)
{
  return (dev->caps.coopmat_nv || dev->caps.coopmat_sg_khr) && dev->caps.coopmat_f16_16x16x16 &&
         (dev->caps.subgroup_size == 32 || dev->caps.coopmat_sg_size32) &&
         dev->caps.shared_memory >= 40960 && !dev->no_coopmat;
}

gboolean
ss_gpu_device_use_coopmat_wg (SsGpuDevice *dev)
{
  return dev->caps.coopmat_wg && !dev->no_coopmat && !ss_env_flag ("SOUNDSTAGE_NO_COOPMAT2", FALSE);
}

void
ss_gpu_device_get_memory (SsGpuDevice *dev, guint64 *used, guint64 *reserved)
{
  g_rec_mutex_lock (&dev->lock);
  if (used)
    *used = dev->used;
  if (reserved)
    *reserved = dev->reserved;
  g_rec_mutex_unlock (&dev->lock);
}

/* ---------------------------------------------------------------- memory */

static Block *
block_new (SsGpuDevice *dev, guint64 size, gboolean dedicated, GError **error)
{
  if (dev->reserved + size > dev->caps.heap_size)
    {
      g_set_error (error, SS_ERROR, SS_ERROR_OUT_OF_MEMORY,
                   "Out of GPU memory: %.1f MiB requested, %.1f of %.1f MiB already in use on %s",
                   size / 1048576.0, dev->reserved / 1048576.0,
                   dev->caps.heap_size / 1048576.0, dev->caps.name);
      return NULL;
    }
  Block *b = g_new0 (Block, 1);
  b->size = size;
  b->dedicated = dedicated;
  b->free = g_array_new (FALSE, FALSE, sizeof (Range));
  VkBufferCreateInfo bi = {
    .sType = VK_STRUCTURE_TYPE_BUFFER_CREATE_INFO,
    .size = size,
    .usage = VK_BUFFER_USAGE_STORAGE_BUFFER_BIT | VK_BUFFER_USAGE_TRANSFER_SRC_BIT |
             VK_BUFFER_USAGE_TRANSFER_DST_BIT,
    .sharingMode = VK_SHARING_MODE_EXCLUSIVE,
  };
  if (!vk_check (dev, vkCreateBuffer (dev->device, &bi, NULL, &b->buffer), "creating a GPU buffer", error))
    goto fail;
  VkMemoryRequirements req;
  vkGetBufferMemoryRequirements (dev->device, b->buffer, &req);
  guint32 mt = dev->dev_memtype;
  if (!(req.memoryTypeBits & (1u << mt)))
    {
      g_set_error (error, SS_ERROR, SS_ERROR_UNSUPPORTED, "No usable GPU memory type on %s", dev->caps.name);
      goto fail;
    }
  VkMemoryAllocateInfo ai = {
    .sType = VK_STRUCTURE_TYPE_MEMORY_ALLOCATE_INFO,
    .allocationSize = req.size,
    .memoryTypeIndex = mt,
  };
  VkResult r = vkAllocateMemory (dev->device, &ai, NULL, &b->mem);
  if (r != VK_SUCCESS)
    {
      if (r == VK_ERROR_OUT_OF_DEVICE_MEMORY || r == VK_ERROR_OUT_OF_HOST_MEMORY)
        g_set_error (error, SS_ERROR, SS_ERROR_OUT_OF_MEMORY,
                     "Out of GPU memory: %.1f MiB requested, %.1f MiB in use on %s",
                     size / 1048576.0, dev->reserved / 1048576.0, dev->caps.name);
      else
        vk_check (dev, r, "allocating GPU memory", error);
      goto fail;
    }
  if (!vk_check (dev, vkBindBufferMemory (dev->device, b->buffer, b->mem, 0), "binding GPU memory", error))
    goto fail;
  if (dev->caps.uma)
    {
      void *p = NULL;
      if (!vk_check (dev, vkMapMemory (dev->device, b->mem, 0, VK_WHOLE_SIZE, 0, &p), "mapping GPU memory", error))
        goto fail;
      b->mapped = p;
    }
  Range all = { 0, size };
  g_array_append_val (b->free, all);
  dev->reserved += size;
  g_ptr_array_add (dev->blocks, b);
  return b;

fail:
  block_free (dev, b);
  return NULL;
}

static gboolean
block_alloc (Block *b, guint64 size, guint64 align, guint64 *off)
{
  for (guint i = 0; i < b->free->len; i++)
    {
      Range *r = &g_array_index (b->free, Range, i);
      guint64 start = (r->off + align - 1) / align * align;
      if (start + size > r->off + r->size)
        continue;
      guint64 end = start + size;
      Range before = { r->off, start - r->off };
      Range after = { end, r->off + r->size - end };
      g_array_remove_index (b->free, i);
      if (after.size)
        g_array_insert_val (b->free, i, after);
      if (before.size)
        g_array_insert_val (b->free, i, before);
      b->used += size;
      *off = start;
      return TRUE;
    }
  return FALSE;
}

static void
block_release (Block *b, guint64 off, guint64 size)
{
  guint i = 0;
  while (i < b->free->len && g_array_index (b->free, Range, i).off < off)
    i++;
  Range nr = { off, size };
  g_array_insert_val (b->free, i, nr);
  /* merge with next */
  if (i + 1 < b->free->len)
    {
      Range *a = &g_array_index (b->free, Range, i);
      Range *n = &g_array_index (b->free, Range, i + 1);
      if (a->off + a->size == n->off)
        {
          a->size += n->size;
          g_array_remove_index (b->free, i + 1);
        }
    }
  if (i > 0)
    {
      Range *p = &g_array_index (b->free, Range, i - 1);
      Range *a = &g_array_index (b->free, Range, i);
      if (p->off + p->size == a->off)
        {
          p->size += a->size;
          g_array_remove_index (b->free, i);
        }
    }
  b->used -= size;
}

static gboolean
alloc_once (SsGpuDevice *dev, guint64 asize, Block **out_b, guint64 *out_off, GError **error)
{
  guint64 align = dev->caps.min_storage_offset_align;
  guint64 bsize = dev->block_size;
  if (asize <= bsize / 4)
    {
      for (guint i = 0; i < dev->blocks->len; i++)
        {
          Block *c = dev->blocks->pdata[i];
          gboolean was_empty = c->used == 0;
          if (!c->dedicated && block_alloc (c, asize, align, out_off))
            {
              if (was_empty)
                dev->cached -= c->size;
              *out_b = c;
              return TRUE;
            }
        }
      Block *b = block_new (dev, bsize, FALSE, error);
      if (!b)
        return FALSE;
      block_alloc (b, asize, align, out_off);
      *out_b = b;
      return TRUE;
    }
  /* a cached empty dedicated block of about the right size */
  for (guint i = 0; i < dev->blocks->len; i++)
    {
      Block *c = dev->blocks->pdata[i];
      if (c->dedicated && c->used == 0 && c->size >= asize && c->size <= asize + asize / 2)
        {
          block_alloc (c, asize, align, out_off);
          dev->cached -= c->size;
          *out_b = c;
          return TRUE;
        }
    }
  Block *b = block_new (dev, asize, TRUE, error);
  if (!b)
    return FALSE;
  block_alloc (b, asize, align, out_off);
  *out_b = b;
  return TRUE;
}

/* frees every cached empty block */
static void
trim_cache (SsGpuDevice *dev)
{
  for (guint i = dev->blocks->len; i-- > 0;)
    {
      Block *b = dev->blocks->pdata[i];
      if (b->used == 0)
        {
          dev->reserved -= b->size;
          dev->cached -= b->size;
          g_ptr_array_remove_index (dev->blocks, i);
          block_free (dev, b);
        }
    }
}

SsGpuBuffer *
ss_gpu_buffer_new (SsGpuDevice *dev, gsize size, GError **error)
{
  g_return_val_if_fail (dev != NULL, NULL);
  if (!check_lost (dev, error))
    return NULL;
  guint64 align = dev->caps.min_storage_offset_align;
  guint64 asize = (MAX (size, 4) + align - 1) / align * align;

  g_rec_mutex_lock (&dev->lock);
  Block *b = NULL;
  guint64 off = 0;
  GError *local = NULL;
  if (!alloc_once (dev, asize, &b, &off, &local))
    {
      /* memory may be cached or still held by recorded work: release what
       * can be released and retry once */
      if (local->code == SS_ERROR_OUT_OF_MEMORY && (dev->recording || dev->flight.busy || dev->cached))
        {
          g_clear_error (&local);
          if (ss_gpu_device_flush (dev, &local))
            {
              trim_cache (dev);
              alloc_once (dev, asize, &b, &off, &local);
            }
        }
      if (!b)
        {
          g_propagate_error (error, local);
          g_rec_mutex_unlock (&dev->lock);
          return NULL;
        }
    }
  SsGpuBuffer *buf = g_new0 (SsGpuBuffer, 1);
  buf->ref_count = 1;
  buf->dev = dev;
  buf->block = b;
  buf->offset = off;
  buf->size = size;
  buf->alloc_size = asize;
  dev->used += asize;
  g_rec_mutex_unlock (&dev->lock);
  return buf;
}

SsGpuBuffer *
ss_gpu_buffer_ref (SsGpuBuffer *buf)
{
  g_return_val_if_fail (buf != NULL, NULL);
  g_atomic_int_inc (&buf->ref_count);
  return buf;
}

void
ss_gpu_buffer_unref (SsGpuBuffer *buf)
{
  if (!buf || !g_atomic_int_dec_and_test (&buf->ref_count))
    return;
  SsGpuDevice *dev = buf->dev;
  g_rec_mutex_lock (&dev->lock);
  Block *b = buf->block;
  block_release (b, buf->offset, buf->alloc_size);
  dev->used -= buf->alloc_size;
  if (b->used == 0)
    {
      if (dev->cached + b->size <= dev->cache_limit)
        dev->cached += b->size;
      else
        {
          g_ptr_array_remove (dev->blocks, b);
          if (dev->recording)
            g_ptr_array_add (dev->cur.pending_free, b);   /* recorded work may use it */
          else if (dev->flight.busy)
            g_ptr_array_add (dev->flight.pending_free, b);   /* submitted work may */
          else
            {
              dev->reserved -= b->size;
              block_free (dev, b);
            }
        }
    }
  g_rec_mutex_unlock (&dev->lock);
  g_free (buf);
}

gsize
ss_gpu_buffer_get_size (SsGpuBuffer *buf)
{
  return buf->size;
}

SsGpuDevice *
ss_gpu_buffer_get_device (SsGpuBuffer *buf)
{
  return buf->dev;
}

gboolean
ss_gpu_buffer_is_shared (SsGpuBuffer *buf)
{
  return g_atomic_int_get (&buf->ref_count) > 1;
}

/* ---------------------------------------------------------------- stream */

static gboolean
stream_begin (SsGpuDevice *dev, GError **error)
{
  if (dev->recording)
    return TRUE;
  VkCommandBufferBeginInfo bi = {
    .sType = VK_STRUCTURE_TYPE_COMMAND_BUFFER_BEGIN_INFO,
    .flags = VK_COMMAND_BUFFER_USAGE_ONE_TIME_SUBMIT_BIT,
  };
  if (!vk_check (dev, vkBeginCommandBuffer (dev->cur.cmd, &bi), "vkBeginCommandBuffer", error))
    return FALSE;
  if (dev->cur.qpool)
    vkCmdResetQueryPool (dev->cur.cmd, dev->cur.qpool, 0, MAX_QUERIES);
  /* the earlier batch may still run: everything recorded here comes after
   * all of its reads and writes (the hazard lists start empty) */
  const VkPipelineStageFlags stages = VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT | VK_PIPELINE_STAGE_TRANSFER_BIT;
  VkMemoryBarrier mb = {
    .sType = VK_STRUCTURE_TYPE_MEMORY_BARRIER,
    .srcAccessMask = VK_ACCESS_SHADER_WRITE_BIT | VK_ACCESS_TRANSFER_WRITE_BIT,
    .dstAccessMask = VK_ACCESS_SHADER_READ_BIT | VK_ACCESS_SHADER_WRITE_BIT |
                     VK_ACCESS_TRANSFER_READ_BIT | VK_ACCESS_TRANSFER_WRITE_BIT,
  };
  vkCmdPipelineBarrier (dev->cur.cmd, stages, stages, 0, 1, &mb, 0, NULL, 0, NULL);
  g_array_set_size (dev->written, 0);
  g_array_set_size (dev->read, 0);
  dev->cur.qcount = 0;
  dev->recording = TRUE;
  dev->recording_since = g_get_monotonic_time ();
  dev->n_recorded = 0;
  return TRUE;
}

static void
collect_profile (SsGpuDevice *dev, const Batch *b)
{
  if (b->qcount == 0)
    return;
  g_autofree guint64 *ts = g_new0 (guint64, b->qcount);
  if (vkGetQueryPoolResults (dev->device, b->qpool, 0, b->qcount, b->qcount * sizeof (guint64),
                             ts, sizeof (guint64), VK_QUERY_RESULT_64_BIT) == VK_SUCCESS)
    {
      for (guint i = 0; i + 1 < b->qcount; i += 2)
        {
          const char *label = b->qlabels->pdata[i / 2];
          SsGpuProfileEntry *e = g_hash_table_lookup (dev->profile, label);
          if (!e)
            {
              e = g_new0 (SsGpuProfileEntry, 1);
              e->label = g_strdup (label);
              g_hash_table_insert (dev->profile, e->label, e);
            }
          e->count++;
          e->total_ms += (double) (ts[i + 1] - ts[i]) * dev->caps.timestamp_period_ns * 1e-6;
        }
    }
}

/* Waits for a submitted batch, then releases what it held and readies its
 * set for the next batch (also after an error: the set is reset either way). */
static gboolean
batch_finish (SsGpuDevice *dev, Batch *b, GError **error)
{
  gboolean ok = TRUE;
  if (b->busy)
    {
      gint64 t0 = dev->host_stats ? g_get_monotonic_time () : 0;
      ok = vk_check (dev, vkWaitForFences (dev->device, 1, &b->fence, VK_TRUE, UINT64_MAX),
                     "waiting for the GPU", error);
      vkResetFences (dev->device, 1, &b->fence);
      if (dev->host_stats)
        dev->host_wait_us += g_get_monotonic_time () - t0;
      if (ok)
        collect_profile (dev, b);
      b->busy = FALSE;
    }
  g_ptr_array_set_size (b->qlabels, 0);
  b->qcount = 0;
  vkResetCommandBuffer (b->cmd, 0);
  for (guint i = 0; i < b->held->len; i++)
    ss_gpu_buffer_unref (b->held->pdata[i]);
  g_ptr_array_set_size (b->held, 0);
  for (guint i = 0; i < b->pending_free->len; i++)
    {
      Block *blk = b->pending_free->pdata[i];
      dev->reserved -= blk->size;
      block_free (dev, blk);
    }
  g_ptr_array_set_size (b->pending_free, 0);
  b->staging.used = 0;
  return ok;
}

/* Ends and submits the batch being recorded (its set stays current). */
static gboolean
batch_submit (SsGpuDevice *dev, GError **error)
{
  dev->recording = FALSE;
  dev->n_recorded = 0;
  gboolean ok = vk_check (dev, vkEndCommandBuffer (dev->cur.cmd), "vkEndCommandBuffer", error);
  if (ok)
    {
      VkSubmitInfo si = {
        .sType = VK_STRUCTURE_TYPE_SUBMIT_INFO,
        .commandBufferCount = 1,
        .pCommandBuffers = &dev->cur.cmd,
      };
      ok = vk_check (dev, vkQueueSubmit (dev->queue, 1, &si, dev->cur.fence), "submitting GPU work", error);
      if (ok && dev->host_stats)
        dev->host_submits++;
    }
  return ok;
}

/* Submits the recorded batch without waiting for it: it becomes the batch in
 * flight (after the one before it, if any, has finished) and the host goes on
 * recording into the other set while the GPU runs it. */
static gboolean
submit_async (SsGpuDevice *dev, GError **error)
{
  if (dev->sync_submits)
    return ss_gpu_device_flush (dev, error);
  if (!batch_submit (dev, error))
    {
      batch_finish (dev, &dev->cur, NULL);
      return FALSE;
    }
  gboolean ok = batch_finish (dev, &dev->flight, error);
  Batch submitted = dev->cur;
  submitted.busy = TRUE;
  dev->cur = dev->flight;
  dev->flight = submitted;
  return ok;
}

gboolean
ss_gpu_device_submit (SsGpuDevice *dev, GError **error)
{
  g_return_val_if_fail (dev != NULL, FALSE);
  g_rec_mutex_lock (&dev->lock);
  gboolean ok = check_lost (dev, error);
  if (ok && dev->recording)
    ok = submit_async (dev, error);
  g_rec_mutex_unlock (&dev->lock);
  return ok;
}

gboolean
ss_gpu_device_flush (SsGpuDevice *dev, GError **error)
{
  g_return_val_if_fail (dev != NULL, FALSE);
  g_rec_mutex_lock (&dev->lock);
  gboolean ok = check_lost (dev, error);
  if (ok)
    {
      gboolean recorded = dev->recording, sent = FALSE;
      if (recorded)
        ok = sent = batch_submit (dev, error);
      if (dev->flight.busy && !batch_finish (dev, &dev->flight, ok ? error : NULL))
        ok = FALSE;
      if (recorded)
        {
          dev->cur.busy = sent;   /* waited for even when the older batch failed */
          if (!batch_finish (dev, &dev->cur, ok ? error : NULL))
            ok = FALSE;
        }
    }
  g_rec_mutex_unlock (&dev->lock);
  return ok;
}

static gboolean
overlaps (GArray *list, const Touch *t)
{
  for (guint i = 0; i < list->len; i++)
    {
      const Touch *o = &g_array_index (list, Touch, i);
      if (o->buf == t->buf && o->off < t->off + t->size && t->off < o->off + o->size)
        return TRUE;
    }
  return FALSE;
}

static void
emit_barrier (SsGpuDevice *dev)
{
  const VkPipelineStageFlags stages = VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT | VK_PIPELINE_STAGE_TRANSFER_BIT;
  const VkAccessFlags src = VK_ACCESS_SHADER_WRITE_BIT | VK_ACCESS_TRANSFER_WRITE_BIT;
  const VkAccessFlags dst = VK_ACCESS_SHADER_READ_BIT | VK_ACCESS_SHADER_WRITE_BIT |
                            VK_ACCESS_TRANSFER_READ_BIT | VK_ACCESS_TRANSFER_WRITE_BIT;
  if (dev->written->len > MAX_NARROW)
    {
      VkMemoryBarrier mb = { .sType = VK_STRUCTURE_TYPE_MEMORY_BARRIER, .srcAccessMask = src, .dstAccessMask = dst };
      vkCmdPipelineBarrier (dev->cur.cmd, stages, stages, 0, 1, &mb, 0, NULL, 0, NULL);
    }
  else
    {
      VkBufferMemoryBarrier bb[MAX_NARROW];
      guint n = dev->written->len;
      for (guint i = 0; i < n; i++)
        {
          const Touch *t = &g_array_index (dev->written, Touch, i);
          bb[i] = (VkBufferMemoryBarrier) {
            .sType = VK_STRUCTURE_TYPE_BUFFER_MEMORY_BARRIER,
            .srcAccessMask = src,
            .dstAccessMask = dst,
            .srcQueueFamilyIndex = VK_QUEUE_FAMILY_IGNORED,
            .dstQueueFamilyIndex = VK_QUEUE_FAMILY_IGNORED,
            .buffer = t->buf,
            .offset = t->off,
            .size = t->size,
          };
        }
      vkCmdPipelineBarrier (dev->cur.cmd, stages, stages, 0, 0, NULL, n, bb, 0, NULL);
    }
  g_array_set_size (dev->written, 0);
  g_array_set_size (dev->read, 0);
}

/* Records the accesses of the next command, inserting a barrier first where
 * it depends on earlier commands of this stream. */
static void
track (SsGpuDevice *dev, const Touch *t, const SsGpuAccess *acc, guint n)
{
  gboolean need = FALSE;
  for (guint i = 0; i < n && !need; i++)
    {
      if (overlaps (dev->written, &t[i]))
        need = TRUE;
      else if ((acc[i] & SS_GPU_WRITE) && overlaps (dev->read, &t[i]))
        need = TRUE;
    }
  if (need)
    emit_barrier (dev);
  for (guint i = 0; i < n; i++)
    {
      if (acc[i] & SS_GPU_WRITE)
        g_array_append_val (dev->written, t[i]);
      if (acc[i] & SS_GPU_READ)
        g_array_append_val (dev->read, t[i]);
    }
}

/* Recorded commands do not keep their buffers alive: a sub-allocation freed
 * while the batch is still recorded can be handed out again at once, because
 * the barrier tracking works on byte ranges of the block's VkBuffer (a new
 * tensor at a reused range is ordered after the earlier readers and writers).
 * Only whole blocks must outlive the batch: see pending_free. */
static void
hold (SsGpuDevice *dev, SsGpuBuffer *buf)
{
  /* SOUNDSTAGE_HOLD_BUFFERS=1: keep every buffer of the batch alive until it
   * completes (no reuse within a batch; for debugging suspected hazards) */
  if (dev->hold_buffers)
    g_ptr_array_add (dev->cur.held, ss_gpu_buffer_ref (buf));
}

/* Hands recorded work to the GPU without waiting for it: when the batch is
 * full, and (checked every KICK_EVERY commands) when the GPU has run out of
 * work while the host has been recording for KICK_US or longer, so that it
 * runs while the host records the rest. Short batches (a training step of a
 * small model, read back at its end) are not split: each submit costs tens of
 * microseconds, more than such a batch's pieces take on the GPU. */
static gboolean
maybe_flush (SsGpuDevice *dev, GError **error)
{
  if (!dev->recording)
    return TRUE;
  if (dev->n_recorded >= MAX_RECORDED || dev->cur.qcount + 2 > MAX_QUERIES)
    return submit_async (dev, error);
  if (dev->n_recorded % KICK_EVERY == 0 && !dev->sync_submits &&
      g_get_monotonic_time () - dev->recording_since >= KICK_US &&
      (!dev->flight.busy || vkGetFenceStatus (dev->device, dev->flight.fence) == VK_SUCCESS))
    return submit_async (dev, error);
  return TRUE;
}

static gboolean
staging_reserve (SsGpuDevice *dev, guint64 size, guint64 *off, GError **error)
{
  size = (size + 15) & ~(guint64) 15;
  if (dev->cur.staging.buffer && dev->cur.staging.used + size <= dev->cur.staging.size)
    {
      *off = dev->cur.staging.used;
      dev->cur.staging.used += size;
      return TRUE;
    }
  /* full or too small: submit the work that uses it (the other batch's set,
   * idle then, becomes current), then reuse or grow */
  if (dev->recording && !submit_async (dev, error))
    return FALSE;
  if (!dev->cur.staging.buffer || dev->cur.staging.size < size)
    {
      staging_free (dev, &dev->cur.staging);
      guint64 ssize = MAX (STAGING_MIN, size);
      VkBufferCreateInfo bi = {
        .sType = VK_STRUCTURE_TYPE_BUFFER_CREATE_INFO,
        .size = ssize,
        .usage = VK_BUFFER_USAGE_TRANSFER_SRC_BIT | VK_BUFFER_USAGE_TRANSFER_DST_BIT,
      };
      if (!vk_check (dev, vkCreateBuffer (dev->device, &bi, NULL, &dev->cur.staging.buffer), "creating a staging buffer", error))
        return FALSE;
      VkMemoryRequirements req;
      vkGetBufferMemoryRequirements (dev->device, dev->cur.staging.buffer, &req);
      VkMemoryAllocateInfo ai = {
        .sType = VK_STRUCTURE_TYPE_MEMORY_ALLOCATE_INFO,
        .allocationSize = req.size,
        .memoryTypeIndex = dev->host_memtype,
      };
      void *p = NULL;
      if (!vk_check (dev, vkAllocateMemory (dev->device, &ai, NULL, &dev->cur.staging.mem), "allocating staging memory", error) ||
          !vk_check (dev, vkBindBufferMemory (dev->device, dev->cur.staging.buffer, dev->cur.staging.mem, 0), "binding staging memory", error) ||
          !vk_check (dev, vkMapMemory (dev->device, dev->cur.staging.mem, 0, VK_WHOLE_SIZE, 0, &p), "mapping staging memory", error))
        {
          staging_free (dev, &dev->cur.staging);
          return FALSE;
        }
      dev->cur.staging.mapped = p;
      dev->cur.staging.size = ssize;
    }
  dev->cur.staging.used = size;
  *off = 0;
  return TRUE;
}

gboolean
ss_gpu_buffer_upload (SsGpuBuffer *buf, gsize offset, const void *data, gsize size, GError **error)
{
  g_return_val_if_fail (buf != NULL, FALSE);
  g_return_val_if_fail (offset + size <= buf->size, FALSE);
  SsGpuDevice *dev = buf->dev;
  if (size == 0)
    return TRUE;
  g_rec_mutex_lock (&dev->lock);
  gboolean ok = check_lost (dev, error);
  if (ok && dev->caps.uma)
    {
      ok = ss_gpu_device_flush (dev, error);
      if (ok)
        memcpy (buf->block->mapped + buf->offset + offset, data, size);
    }
  else if (ok)
    {
      /* in pieces so that huge uploads need no huge staging buffer */
      const guint8 *src = data;
      gsize done = 0;
      while (ok && done < size)
        {
          gsize chunk = MIN (size - done, (gsize) STAGING_MIN);
          guint64 soff = 0;
          ok = staging_reserve (dev, chunk, &soff, error) && stream_begin (dev, error);
          if (!ok)
            break;
          memcpy (dev->cur.staging.mapped + soff, src + done, chunk);
          Touch t = { buf->block->buffer, buf->offset + offset + done, chunk };
          SsGpuAccess a = SS_GPU_WRITE;
          track (dev, &t, &a, 1);
          VkBufferCopy c = { soff, t.off, chunk };
          vkCmdCopyBuffer (dev->cur.cmd, dev->cur.staging.buffer, buf->block->buffer, 1, &c);
          hold (dev, buf);
          dev->n_recorded++;
          done += chunk;
        }
      if (ok)
        ok = maybe_flush (dev, error);
    }
  g_rec_mutex_unlock (&dev->lock);
  return ok;
}

gboolean
ss_gpu_buffer_download (SsGpuBuffer *buf, gsize offset, void *data, gsize size, GError **error)
{
  g_return_val_if_fail (buf != NULL, FALSE);
  g_return_val_if_fail (offset + size <= buf->size, FALSE);
  SsGpuDevice *dev = buf->dev;
  if (size == 0)
    return TRUE;
  g_rec_mutex_lock (&dev->lock);
  gboolean ok = check_lost (dev, error);
  if (ok && dev->caps.uma)
    {
      ok = ss_gpu_device_flush (dev, error);
      if (ok)
        memcpy (data, buf->block->mapped + buf->offset + offset, size);
    }
  else if (ok)
    {
      guint8 *dst = data;
      gsize done = 0;
      while (ok && done < size)
        {
          gsize chunk = MIN (size - done, (gsize) STAGING_MIN);
          guint64 soff = 0;
          ok = staging_reserve (dev, chunk, &soff, error) && stream_begin (dev, error);
          if (!ok)
            break;
          Touch t = { buf->block->buffer, buf->offset + offset + done, chunk };
          SsGpuAccess a = SS_GPU_READ;
          track (dev, &t, &a, 1);
          VkBufferCopy c = { t.off, soff, chunk };
          vkCmdCopyBuffer (dev->cur.cmd, buf->block->buffer, dev->cur.staging.buffer, 1, &c);
          hold (dev, buf);
          ok = ss_gpu_device_flush (dev, error);
          if (ok)
            memcpy (dst + done, dev->cur.staging.mapped + soff, chunk);
          done += chunk;
        }
    }
  g_rec_mutex_unlock (&dev->lock);
  return ok;
}

gboolean
ss_gpu_buffer_fill (SsGpuBuffer *buf, gsize offset, gsize size, guint32 word, GError **error)
{
  g_return_val_if_fail (buf != NULL, FALSE);
  g_return_val_if_fail (offset % 4 == 0 && size % 4 == 0, FALSE);
  g_return_val_if_fail (offset + size <= buf->alloc_size, FALSE);
  SsGpuDevice *dev = buf->dev;
  if (size == 0)
    return TRUE;
  g_rec_mutex_lock (&dev->lock);
  gboolean ok = check_lost (dev, error) && stream_begin (dev, error);
  if (ok)
    {
      Touch t = { buf->block->buffer, buf->offset + offset, size };
      SsGpuAccess a = SS_GPU_WRITE;
      track (dev, &t, &a, 1);
      vkCmdFillBuffer (dev->cur.cmd, buf->block->buffer, t.off, size, word);
      hold (dev, buf);
      dev->n_recorded++;
      ok = maybe_flush (dev, error);
    }
  g_rec_mutex_unlock (&dev->lock);
  return ok;
}

gboolean
ss_gpu_buffer_copy (SsGpuBuffer *src, gsize src_offset, SsGpuBuffer *dst, gsize dst_offset,
                    gsize size, GError **error)
{
  g_return_val_if_fail (src != NULL && dst != NULL, FALSE);
  g_return_val_if_fail (src_offset + size <= src->size && dst_offset + size <= dst->size, FALSE);
  SsGpuDevice *dev = src->dev;
  if (size == 0)
    return TRUE;
  g_rec_mutex_lock (&dev->lock);
  gboolean ok = check_lost (dev, error) && stream_begin (dev, error);
  if (ok)
    {
      Touch t[2] = {
        { src->block->buffer, src->offset + src_offset, size },
        { dst->block->buffer, dst->offset + dst_offset, size },
      };
      SsGpuAccess a[2] = { SS_GPU_READ, SS_GPU_WRITE };
      track (dev, t, a, 2);
      VkBufferCopy c = { t[0].off, t[1].off, size };
      vkCmdCopyBuffer (dev->cur.cmd, src->block->buffer, dst->block->buffer, 1, &c);
      hold (dev, src);
      hold (dev, dst);
      dev->n_recorded++;
      ok = maybe_flush (dev, error);
    }
  g_rec_mutex_unlock (&dev->lock);
  return ok;
}

/* -------------------------------------------------------------- pipelines */

gboolean
ss_gpu_has_shader (const char *name)
{
  return ss_shader_lookup (name) != NULL;
}

/* whether a SPIR-V module declares capability cap (in its leading
 * OpCapability instructions) */
static gboolean
spirv_has_capability (const SsShaderBlob *blob, guint32 cap)
{
  const guint32 *w = (const guint32 *) blob->code;
  gsize n = blob->size / 4;
  for (gsize i = 5; i + 1 < n && (w[i] & 0xffff) == 17; i += MAX (w[i] >> 16, 1))
    if (w[i + 1] == cap)
      return TRUE;
  return FALSE;
}

/* The module that runs shader name on dev (its KHR twin <base>_khr.<variant>
 * where the device uses KHR subgroup matrices); *size32: its pipeline asks
 * for 32-invocation subgroups. NULL with error set where it is not built in
 * or needs VK_NV_cooperative_matrix, which dev has not enabled. */
static const SsShaderBlob *
device_shader (SsGpuDevice *dev, const char *name, gboolean *size32, GError **error)
{
  *size32 = FALSE;
  const SsShaderBlob *blob = ss_shader_lookup (name);
  if (!blob)
    {
      g_set_error (error, SS_ERROR, SS_ERROR_FAILED, "Shader %s was not built into this program", name);
      return NULL;
    }
  if (!spirv_has_capability (blob, 5357))   /* CooperativeMatrixNV */
    return blob;
  const char *dot = strchr (name, '.');
  /* (where the device has both kinds, the subgroup GEMM stays NV: the KHR one
   * is faster up to 2048 but slower from 4096 on the H100, 157-160 against
   * 161-170 TFLOP/s, eng161, and only products with beta take it there) */
  gboolean use_twin = dev->caps.coopmat_sg_khr &&
                      !(dev->caps.coopmat_nv && g_str_has_prefix (name, "matmul_coopmat"));
  if (use_twin && dot)
    {
      g_autofree char *twin = g_strdup_printf ("%.*s_khr%s", (int) (dot - name), name, dot);
      const SsShaderBlob *khr = ss_shader_lookup (twin);
      /* (a twin that converts accumulators into operands needs coopmat2's
       * CooperativeMatrixConversionsNV, and only stands in for an NV module:
       * without the NV extension, as with SOUNDSTAGE_COOPMAT_KHR=1, it does
       * not run, as on a GPU with KHR matrices alone) */
      if (khr && ((dev->caps.coopmat_conversions && dev->caps.coopmat_nv) ||
                  !spirv_has_capability (khr, 5431)))
        {
          *size32 = dev->caps.coopmat_sg_size32;
          return khr;
        }
    }
  if (!dev->caps.coopmat_nv)
    {
      g_set_error (error, SS_ERROR, SS_ERROR_UNSUPPORTED,
                   "Shader %s needs VK_NV_cooperative_matrix, which %s does not use", name, dev->caps.name);
      return NULL;
    }
  return blob;
}

gboolean
ss_gpu_device_has_shader (SsGpuDevice *dev, const char *name)
{
  gboolean size32;
  return device_shader (dev, name, &size32, NULL) != NULL;
}

/* SOUNDSTAGE_PIPELINE_IR=<dir>: each internal representation the driver
 * gives for a pipeline executable (its own assembly, say), as a file
 * <dir>/<pipeline>.<executable>.<n>.txt, to see which instructions a kernel
 * compiles to */
static void
dump_pipeline_ir (SsGpuDevice *dev, const VkPipelineExecutableInfoKHR *ei, const char *name)
{
  PFN_vkGetPipelineExecutableInternalRepresentationsKHR get_ir =
    (PFN_vkGetPipelineExecutableInternalRepresentationsKHR)
      vkGetDeviceProcAddr (dev->device, "vkGetPipelineExecutableInternalRepresentationsKHR");
  guint32 n = 0;
  if (!get_ir || get_ir (dev->device, ei, &n, NULL) != VK_SUCCESS || n == 0)
    {
      g_message ("pipeline %s: no internal representations", name);
      return;
    }
  g_autofree VkPipelineExecutableInternalRepresentationKHR *ir =
    g_new0 (VkPipelineExecutableInternalRepresentationKHR, n);
  for (guint32 i = 0; i < n; i++)
    ir[i].sType = VK_STRUCTURE_TYPE_PIPELINE_EXECUTABLE_INTERNAL_REPRESENTATION_KHR;
  if (get_ir (dev->device, ei, &n, ir) != VK_SUCCESS)
    return;
  for (guint32 i = 0; i < n; i++)
    ir[i].pData = g_malloc0 (ir[i].dataSize + 1);
  if (get_ir (dev->device, ei, &n, ir) == VK_SUCCESS)
    for (guint32 i = 0; i < n; i++)
      {
        g_autofree char *base = g_strdup_printf ("%s.%u.%u.txt", name, ei->executableIndex, i);
        g_strdelimit (base, "|/", '_');
        g_autofree char *path = g_build_filename (dev->pipeline_ir, base, NULL);
        g_autoptr (GError) err = NULL;
        if (!g_file_set_contents (path, ir[i].pData, ir[i].isText ? (gssize) strlen (ir[i].pData)
                                                                    : (gssize) ir[i].dataSize, &err))
          g_warning ("%s", err->message);
        else
          g_message ("pipeline %s: %s (%s) -> %s", name, ir[i].name, ir[i].description, path);
      }
  for (guint32 i = 0; i < n; i++)
    g_free (ir[i].pData);
}

/* SOUNDSTAGE_PIPELINE_STATS=1: one line per pipeline with the statistics the
 * driver reports (VK_KHR_pipeline_executable_properties), e.g. registers and
 * spills, to see whether a kernel variant fits */
static void
log_pipeline_stats (SsGpuDevice *dev, VkPipeline pipe, const char *name)
{
  PFN_vkGetPipelineExecutablePropertiesKHR get_props = (PFN_vkGetPipelineExecutablePropertiesKHR)
    vkGetDeviceProcAddr (dev->device, "vkGetPipelineExecutablePropertiesKHR");
  PFN_vkGetPipelineExecutableStatisticsKHR get_stats = (PFN_vkGetPipelineExecutableStatisticsKHR)
    vkGetDeviceProcAddr (dev->device, "vkGetPipelineExecutableStatisticsKHR");
  if (!get_props || !get_stats)
    return;
  VkPipelineInfoKHR pi = { .sType = VK_STRUCTURE_TYPE_PIPELINE_INFO_KHR, .pipeline = pipe };
  guint32 n_exec = 0;
  if (get_props (dev->device, &pi, &n_exec, NULL) != VK_SUCCESS)
    return;
  for (guint32 e = 0; e < n_exec; e++)
    {
      VkPipelineExecutableInfoKHR ei = {
        .sType = VK_STRUCTURE_TYPE_PIPELINE_EXECUTABLE_INFO_KHR, .pipeline = pipe, .executableIndex = e,
      };
      guint32 n = 0;
      if (get_stats (dev->device, &ei, &n, NULL) != VK_SUCCESS || n == 0)
        continue;
      g_autofree VkPipelineExecutableStatisticKHR *st = g_new0 (VkPipelineExecutableStatisticKHR, n);
      for (guint32 i = 0; i < n; i++)
        st[i].sType = VK_STRUCTURE_TYPE_PIPELINE_EXECUTABLE_STATISTIC_KHR;
      if (get_stats (dev->device, &ei, &n, st) != VK_SUCCESS)
        continue;
      GString *line = g_string_new (NULL);
      for (guint32 i = 0; i < n; i++)
        {
          g_string_append_printf (line, "%s%s=", i ? ", " : "", st[i].name);
          switch (st[i].format)
            {
            case VK_PIPELINE_EXECUTABLE_STATISTIC_FORMAT_BOOL32_KHR:
              g_string_append (line, st[i].value.b32 ? "yes" : "no");
              break;
            case VK_PIPELINE_EXECUTABLE_STATISTIC_FORMAT_INT64_KHR:
              g_string_append_printf (line, "%" G_GINT64_FORMAT, (gint64) st[i].value.i64);
              break;
            case VK_PIPELINE_EXECUTABLE_STATISTIC_FORMAT_UINT64_KHR:
              g_string_append_printf (line, "%" G_GUINT64_FORMAT, (guint64) st[i].value.u64);
              break;
            default:
              g_string_append_printf (line, "%g", st[i].value.f64);
            }
        }
      g_message ("pipeline %s [%u]: %s", name, e, line->str);
      g_string_free (line, TRUE);
      if (dev->pipeline_ir)
        dump_pipeline_ir (dev, &ei, name);
    }
}

static Pipe *
get_pipeline (SsGpuDevice *dev, const SsGpuDispatch *d, GError **error)
{
  GString *key = g_string_new (d->shader);
  g_string_append_printf (key, "|%u", d->n_bindings);
  for (guint i = 0; i < d->n_spec; i++)
    g_string_append_printf (key, ",%u", d->spec[i]);
  Pipe *p = g_hash_table_lookup (dev->pipelines, key->str);
  if (p)
    {
      g_string_free (key, TRUE);
      return p;
    }
  gboolean size32;
  const SsShaderBlob *blob = device_shader (dev, d->shader, &size32, error);
  if (!blob)
    {
      g_string_free (key, TRUE);
      return NULL;
    }
  VkShaderModuleCreateInfo mi = {
    .sType = VK_STRUCTURE_TYPE_SHADER_MODULE_CREATE_INFO,
    .codeSize = blob->size,
    .pCode = blob->code,
  };
  VkShaderModule mod;
  if (!vk_check (dev, vkCreateShaderModule (dev->device, &mi, NULL, &mod), "creating a shader module", error))
    {
      g_string_free (key, TRUE);
      return NULL;
    }
  VkSpecializationMapEntry me[SS_GPU_MAX_SPEC];
  for (guint i = 0; i < d->n_spec; i++)
    me[i] = (VkSpecializationMapEntry) { i, i * 4, 4 };
  VkSpecializationInfo si = { d->n_spec, me, d->n_spec * 4, d->spec };
  VkPipelineShaderStageRequiredSubgroupSizeCreateInfo rss = {
    .sType = VK_STRUCTURE_TYPE_PIPELINE_SHADER_STAGE_REQUIRED_SUBGROUP_SIZE_CREATE_INFO,
    .requiredSubgroupSize = 32,
  };
  VkComputePipelineCreateInfo ci = {
    .sType = VK_STRUCTURE_TYPE_COMPUTE_PIPELINE_CREATE_INFO,
    .stage = {
      .sType = VK_STRUCTURE_TYPE_PIPELINE_SHADER_STAGE_CREATE_INFO,
      .pNext = size32 ? &rss : NULL,
      .flags = size32 ? VK_PIPELINE_SHADER_STAGE_CREATE_REQUIRE_FULL_SUBGROUPS_BIT : 0,
      .stage = VK_SHADER_STAGE_COMPUTE_BIT,
      .module = mod,
      .pName = "main",
      .pSpecializationInfo = d->n_spec ? &si : NULL,
    },
    .layout = dev->layout[d->n_bindings],
    .flags = (dev->pipeline_stats ? VK_PIPELINE_CREATE_CAPTURE_STATISTICS_BIT_KHR : 0) |
             (dev->pipeline_ir ? VK_PIPELINE_CREATE_CAPTURE_INTERNAL_REPRESENTATIONS_BIT_KHR : 0),
  };
  VkPipeline pipe;
  VkResult r = vkCreateComputePipelines (dev->device, dev->pcache, 1, &ci, NULL, &pipe);
  vkDestroyShaderModule (dev->device, mod, NULL);
  if (!vk_check (dev, r, d->shader, error))
    {
      g_string_free (key, TRUE);
      return NULL;
    }
  if (dev->pipeline_stats)
    log_pipeline_stats (dev, pipe, key->str);
  p = g_new0 (Pipe, 1);
  p->pipeline = pipe;
  p->n_bindings = d->n_bindings;
  g_hash_table_insert (dev->pipelines, g_string_free (key, FALSE), p);
  return p;
}

void
ss_gpu_groups_1d (SsGpuDevice *dev, guint64 n_groups, guint groups[3])
{
  guint64 maxx = MIN (dev->caps.max_workgroup_count[0], 65535u);
  if (n_groups == 0)
    n_groups = 1;
  if (n_groups <= maxx)
    {
      groups[0] = n_groups;
      groups[1] = 1;
    }
  else
    {
      groups[0] = maxx;
      groups[1] = (n_groups + maxx - 1) / maxx;
    }
  groups[2] = 1;
}

void
ss_fastdiv_magic (guint32 d, guint32 *m, guint32 *sh)
{
  g_return_if_fail (d >= 1);
  guint l = 0;
  while (l < 32 && ((guint64) 1 << l) < d)
    l++;
  /* m = floor (2^32 (2^l - d) / d) + 1 < 2^32 because 2^(l-1) < d <= 2^l */
  *m = (guint32) ((((guint64) 1 << 32) * (((guint64) 1 << l) - d)) / d + 1);
  *sh = MIN (l, 1u) | ((l > 0 ? l - 1 : 0) << 8);
}

guint32
ss_fastdiv (guint32 n, guint32 m, guint32 sh)
{
  guint32 hi = (guint32) (((guint64) m * n) >> 32);
  return (hi + ((n - hi) >> (sh & 0xff))) >> (sh >> 8);
}

gboolean
ss_gpu_dispatch (SsGpuDevice *dev, const SsGpuDispatch *d, GError **error)
{
  g_return_val_if_fail (dev != NULL && d != NULL && d->shader != NULL, FALSE);
  g_return_val_if_fail (d->n_bindings <= SS_GPU_MAX_BINDINGS, FALSE);
  g_return_val_if_fail (d->push_size <= SS_GPU_MAX_PUSH, FALSE);
  g_return_val_if_fail (d->n_spec <= SS_GPU_MAX_SPEC, FALSE);

  g_rec_mutex_lock (&dev->lock);
  gint64 t0 = dev->host_stats ? g_get_monotonic_time () : 0;
  gboolean ok = check_lost (dev, error);
  Pipe *p = ok ? get_pipeline (dev, d, error) : NULL;
  ok = p && stream_begin (dev, error);
  if (ok)
    {
      Touch t[SS_GPU_MAX_BINDINGS];
      SsGpuAccess a[SS_GPU_MAX_BINDINGS];
      VkDescriptorBufferInfo bi[SS_GPU_MAX_BINDINGS];
      VkWriteDescriptorSet w[SS_GPU_MAX_BINDINGS];
      for (guint i = 0; i < d->n_bindings; i++)
        {
          const SsGpuBinding *b = &d->bindings[i];
          g_assert (b->buffer != NULL);
          g_assert (b->offset <= b->buffer->alloc_size);
          guint64 size = b->size ? b->size : b->buffer->alloc_size - b->offset;
          size = MIN (size, dev->caps.max_storage_buffer_range);
          t[i] = (Touch) { b->buffer->block->buffer, b->buffer->offset + b->offset, size };
          a[i] = b->access ? b->access : SS_GPU_RW;
          bi[i] = (VkDescriptorBufferInfo) { t[i].buf, t[i].off, size };
          w[i] = (VkWriteDescriptorSet) {
            .sType = VK_STRUCTURE_TYPE_WRITE_DESCRIPTOR_SET,
            .dstBinding = i,
            .descriptorCount = 1,
            .descriptorType = VK_DESCRIPTOR_TYPE_STORAGE_BUFFER,
            .pBufferInfo = &bi[i],
          };
        }
      track (dev, t, a, d->n_bindings);
      vkCmdBindPipeline (dev->cur.cmd, VK_PIPELINE_BIND_POINT_COMPUTE, p->pipeline);
      if (d->n_bindings)
        dev->push_descriptor (dev->cur.cmd, VK_PIPELINE_BIND_POINT_COMPUTE, dev->layout[d->n_bindings],
                              0, d->n_bindings, w);
      if (d->push_size)
        vkCmdPushConstants (dev->cur.cmd, dev->layout[d->n_bindings], VK_SHADER_STAGE_COMPUTE_BIT,
                            0, d->push_size, d->push);
      gboolean prof = dev->profiling && dev->cur.qpool;
      if (prof)
        {
          vkCmdWriteTimestamp (dev->cur.cmd, VK_PIPELINE_STAGE_TOP_OF_PIPE_BIT, dev->cur.qpool, dev->cur.qcount++);
          g_ptr_array_add (dev->cur.qlabels, g_strdup (d->label ? d->label : d->shader));
        }
      vkCmdDispatch (dev->cur.cmd, MAX (d->groups[0], 1), MAX (d->groups[1], 1), MAX (d->groups[2], 1));
      if (prof)
        vkCmdWriteTimestamp (dev->cur.cmd, VK_PIPELINE_STAGE_BOTTOM_OF_PIPE_BIT, dev->cur.qpool, dev->cur.qcount++);
      for (guint i = 0; i < d->n_bindings; i++)
        hold (dev, d->bindings[i].buffer);
      dev->n_recorded++;
      if (dev->host_stats)
        {
          dev->host_dispatch_us += g_get_monotonic_time () - t0;
          dev->host_dispatches++;
        }
      ok = maybe_flush (dev, error);
    }
  g_rec_mutex_unlock (&dev->lock);
  return ok;
}

/* -------------------------------------------------------------- profiling */

void
ss_gpu_device_set_profiling (SsGpuDevice *dev, gboolean on)
{
  g_rec_mutex_lock (&dev->lock);
  ss_gpu_device_flush (dev, NULL);
  dev->profiling = on && dev->caps.timestamps;
  g_rec_mutex_unlock (&dev->lock);
}

static gint
cmp_entry (gconstpointer a, gconstpointer b)
{
  const SsGpuProfileEntry *x = a, *y = b;
  return x->total_ms < y->total_ms ? 1 : x->total_ms > y->total_ms ? -1 : 0;
}

static void
clear_entry (gpointer p)
{
  g_free (((SsGpuProfileEntry *) p)->label);
}

GArray *
ss_gpu_device_take_profile (SsGpuDevice *dev, GError **error)
{
  g_rec_mutex_lock (&dev->lock);
  if (!ss_gpu_device_flush (dev, error))
    {
      g_rec_mutex_unlock (&dev->lock);
      return NULL;
    }
  GArray *out = g_array_new (FALSE, FALSE, sizeof (SsGpuProfileEntry));
  g_array_set_clear_func (out, clear_entry);
  GHashTableIter it;
  gpointer k, v;
  g_hash_table_iter_init (&it, dev->profile);
  while (g_hash_table_iter_next (&it, &k, &v))
    {
      g_array_append_val (out, *(SsGpuProfileEntry *) v);
      g_free (v);
    }
  g_hash_table_remove_all (dev->profile);
  g_array_sort (out, cmp_entry);
  g_rec_mutex_unlock (&dev->lock);
  return out;
}
