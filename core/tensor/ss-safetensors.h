/* ss-safetensors.h: safetensors reading, checking and writing.
 *
 * Format (https://github.com/huggingface/safetensors): 8 bytes little-endian
 * header size N, N bytes of UTF-8 JSON, then the data area. The JSON maps each
 * tensor name to {"dtype": "F32", "shape": [..], "data_offsets": [begin, end]}
 * (offsets relative to the data area) and may hold "__metadata__", a map of
 * strings to strings.
 *
 * The reader is strict: header size bounded (<= 100 MiB and inside the file),
 * JSON well formed, every entry exactly those three fields, known dtype, shape
 * dimensions non-negative with overflow-checked element count, byte range
 * inside the data area and exactly numel * dtype size long, no two ranges
 * overlapping and no unindexed bytes (as the reference implementation). Any
 * violation is a GError (SS_ERROR_INVALID_DATA) that names the file and the
 * tensor. PyTorch pickle checkpoints (zip or raw pickle) are refused.
 *
 * Pure host code: no GPU needed. The file is memory-mapped; tensor bytes stay
 * valid as long as the SsSafetensors lives.
 */
#pragma once

#include <glib-object.h>
#include "ss-types.h"
#include "tensor/ss-tensor.h"

G_BEGIN_DECLS

#define SS_SAFETENSORS_MAX_RANK 8
/* Largest header accepted (the reference implementation uses the same bound). */
#define SS_SAFETENSORS_MAX_HEADER (100u * 1024u * 1024u)

typedef enum {
  SS_SAFETENSORS_F32,
  SS_SAFETENSORS_F16,
  SS_SAFETENSORS_BF16,
  /* Known, readable as raw bytes and convertible to float, but flagged: the
   * engine computes in F32/F16/BF16 only. */
  SS_SAFETENSORS_F64,
  SS_SAFETENSORS_I64,
  SS_SAFETENSORS_I32,
  SS_SAFETENSORS_I16,
  SS_SAFETENSORS_I8,
  SS_SAFETENSORS_U8,
  SS_SAFETENSORS_BOOL,
  /* Known, raw bytes only (no conversion). */
  SS_SAFETENSORS_U16,
  SS_SAFETENSORS_U32,
  SS_SAFETENSORS_U64,
  SS_SAFETENSORS_F8_E4M3,
  SS_SAFETENSORS_F8_E5M2,
  SS_SAFETENSORS_N_DTYPES,
  /* Only in SsSafetensorsExpect: any of F32, F16, BF16. */
  SS_SAFETENSORS_ANY_FLOAT = 100,
} SsSafetensorsDtype;

/* "F32", "BF16", ... */
const char *ss_safetensors_dtype_name (SsSafetensorsDtype dtype);
/* Bytes per element (1 for BOOL). 0 for an invalid value. */
gsize       ss_safetensors_dtype_size (SsSafetensorsDtype dtype);
/* TRUE for F32, F16, BF16, the types the engine computes with. */
gboolean    ss_safetensors_dtype_is_engine_float (SsSafetensorsDtype dtype);
gboolean    ss_safetensors_dtype_from_name (const char *name, SsSafetensorsDtype *out);

/* Description of one tensor in a file. Pointers are owned by the file. */
typedef struct {
  const char        *name;
  SsSafetensorsDtype dtype;
  guint              rank;
  gint64             shape[SS_SAFETENSORS_MAX_RANK];
  guint64            numel;
  const guint8      *data;     /* not necessarily aligned */
  gsize              n_bytes;
} SsSafetensorsInfo;

#define SS_TYPE_SAFETENSORS (ss_safetensors_get_type ())
G_DECLARE_FINAL_TYPE (SsSafetensors, ss_safetensors, SS, SAFETENSORS, GObject)

/* Opens and validates a file (memory-mapped). Errors: SS_ERROR_NOT_FOUND,
 * SS_ERROR_IO, SS_ERROR_INVALID_DATA, SS_ERROR_UNSUPPORTED (pickle). */
SsSafetensors *ss_safetensors_open (const char *path, GError **error);
/* Validates a buffer already in memory; display_name is used in messages. */
SsSafetensors *ss_safetensors_new_from_bytes (GBytes *bytes, const char *display_name,
                                              GError **error);

const char   *ss_safetensors_get_display_name (SsSafetensors *self);
guint         ss_safetensors_get_n_tensors (SsSafetensors *self);
/* Names sorted by strcmp. NULL-terminated; owned by self. */
const char *const *ss_safetensors_get_names (SsSafetensors *self);
gboolean      ss_safetensors_has (SsSafetensors *self, const char *name);
/* Returns NULL if there is no such tensor. */
const SsSafetensorsInfo *ss_safetensors_lookup (SsSafetensors *self, const char *name);
/* Like lookup but sets SS_ERROR_NOT_FOUND naming the file and the tensor. */
const SsSafetensorsInfo *ss_safetensors_get (SsSafetensors *self, const char *name,
                                             GError **error);
/* __metadata__ (string -> string); NULL when absent. Owned by self. */
GHashTable   *ss_safetensors_get_metadata (SsSafetensors *self);
const char   *ss_safetensors_get_metadata_value (SsSafetensors *self, const char *key);

/* Converts a tensor to a host buffer of n elements (n must equal its numel;
 * use lookup first). F32/F16/BF16/F64 and the integer/bool types convert;
 * others fail with SS_ERROR_UNSUPPORTED. Rounding to f16/bf16 is to nearest even. */
gboolean ss_safetensors_read_f32  (SsSafetensors *self, const char *name, float *out,
                                   gsize n, GError **error);
gboolean ss_safetensors_read_f16  (SsSafetensors *self, const char *name, guint16 *out,
                                   gsize n, GError **error);
gboolean ss_safetensors_read_bf16 (SsSafetensors *self, const char *name, guint16 *out,
                                   gsize n, GError **error);
/* Newly allocated (g_free) f32 copy; *n_out gets numel if not NULL. */
float   *ss_safetensors_dup_f32   (SsSafetensors *self, const char *name, gsize *n_out,
                                   GError **error);

/* Uploads a tensor to the GPU as dtype (converted from any float or integer
 * dtype of the file; same-dtype tensors are copied byte for byte). Shape as in
 * the file; a scalar becomes [1]. Errors name the file and the tensor
 * (SS_ERROR_NOT_FOUND, SS_ERROR_UNSUPPORTED for more than 5 dimensions, empty
 * tensors or unconvertible dtypes, and device errors). */
SsTensor *ss_safetensors_load_tensor (SsSafetensors *self, const char *name, SsDType dtype,
                                      GError **error);

/* Expected tensors for ss_safetensors_check. rank 0 is a scalar. */
typedef struct {
  const char        *name;
  SsSafetensorsDtype dtype;  /* or SS_SAFETENSORS_ANY_FLOAT */
  guint              rank;
  gint64             shape[SS_SAFETENSORS_MAX_RANK];
} SsSafetensorsExpect;

typedef enum {
  SS_SAFETENSORS_CHECK_DEFAULT            = 0,
  /* Tensors in the file that are not expected are fine (partial loads). */
  SS_SAFETENSORS_CHECK_ALLOW_UNEXPECTED   = 1 << 0,
  /* Expected tensors absent from the file are fine (optional parts). */
  SS_SAFETENSORS_CHECK_ALLOW_MISSING      = 1 << 1,
  /* F32/F16/BF16 in the file may stand for each other (converted on load). */
  SS_SAFETENSORS_CHECK_ANY_FLOAT_DTYPE    = 1 << 2,
} SsSafetensorsCheckFlags;

/* Compares the file with what a model expects. On mismatch returns FALSE with
 * one SS_ERROR_INVALID_DATA error listing missing, unexpected and mismatched
 * tensors (at most a few of each, with counts). */
gboolean ss_safetensors_check (SsSafetensors *self, const SsSafetensorsExpect *expect,
                               gsize n_expect, SsSafetensorsCheckFlags flags,
                               GError **error);

/* Sharded checkpoints (and single files behind the same API).
 * ss_safetensors_set_open() takes a .safetensors file, or a Hugging Face index
 * "*.safetensors.index.json" ({"metadata": {...}, "weight_map": {tensor: shard}})
 * and opens every shard it names (file names in the same folder only). Every
 * tensor of the weight map must be in its shard and every tensor of a shard
 * listed for it; errors name the index or shard file and the tensor. */
typedef struct _SsSafetensorsSet SsSafetensorsSet;

SsSafetensorsSet *ss_safetensors_set_open (const char *path, GError **error);
void              ss_safetensors_set_free (SsSafetensorsSet *set);
const char       *ss_safetensors_set_get_display_name (SsSafetensorsSet *set);
guint             ss_safetensors_set_get_n_tensors (SsSafetensorsSet *set);
const char *const *ss_safetensors_set_get_names (SsSafetensorsSet *set);  /* sorted */
guint             ss_safetensors_set_get_n_files (SsSafetensorsSet *set);
/* The file holding a tensor (borrowed), or NULL. */
SsSafetensors    *ss_safetensors_set_get_file (SsSafetensorsSet *set, const char *name);
const SsSafetensorsInfo *ss_safetensors_set_lookup (SsSafetensorsSet *set, const char *name);
gboolean          ss_safetensors_set_check (SsSafetensorsSet *set,
                                            const SsSafetensorsExpect *expect, gsize n_expect,
                                            SsSafetensorsCheckFlags flags, GError **error);
SsTensor         *ss_safetensors_set_load_tensor (SsSafetensorsSet *set, const char *name,
                                                  SsDType dtype, GError **error);
/* The index parser alone (tensor name -> shard file name; g_hash_table_unref).
 * Used by ss_safetensors_set_open and the fuzz target. */
GHashTable       *ss_safetensors_index_parse (const char *data, gsize len, const char *display,
                                              GError **error);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (SsSafetensorsSet, ss_safetensors_set_free)

/* Writer: collects tensors, then writes atomically (temp file in the same
 * folder, fsync, rename). Header names sorted; header padded with spaces to a
 * multiple of 8 so data starts aligned. */
typedef struct _SsSafetensorsWriter SsSafetensorsWriter;

SsSafetensorsWriter *ss_safetensors_writer_new (void);
void     ss_safetensors_writer_free (SsSafetensorsWriter *w);
void     ss_safetensors_writer_set_metadata (SsSafetensorsWriter *w, const char *key,
                                             const char *value);
/* Copies data (numel(shape) * dtype size bytes). Replaces a tensor of the same name. */
void     ss_safetensors_writer_add (SsSafetensorsWriter *w, const char *name,
                                    SsSafetensorsDtype dtype, guint rank,
                                    const gint64 *shape, const void *data);
/* Same, referencing bytes (no copy). */
void     ss_safetensors_writer_add_bytes (SsSafetensorsWriter *w, const char *name,
                                          SsSafetensorsDtype dtype, guint rank,
                                          const gint64 *shape, GBytes *data);
/* Convenience for f32 data stored as dtype (F32, F16 or BF16; rounded to nearest even). */
void     ss_safetensors_writer_add_f32 (SsSafetensorsWriter *w, const char *name,
                                        SsSafetensorsDtype dtype, guint rank,
                                        const gint64 *shape, const float *data);
gboolean ss_safetensors_writer_write (SsSafetensorsWriter *w, const char *path,
                                      GError **error);
/* The whole file as bytes (tests, fuzz corpora). */
GBytes  *ss_safetensors_writer_to_bytes (SsSafetensorsWriter *w);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (SsSafetensorsWriter, ss_safetensors_writer_free)

/* Host conversions used by the loader (round to nearest even; NaN stays NaN). */
guint16 ss_safetensors_f32_to_f16 (float f);
float   ss_safetensors_f16_to_f32 (guint16 h);
guint16 ss_safetensors_f32_to_bf16 (float f);
float   ss_safetensors_bf16_to_f32 (guint16 b);

G_END_DECLS
