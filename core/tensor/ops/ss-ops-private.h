/* ss-ops-private.h: helpers shared by the op implementations in core/tensor/ops. */
#pragma once

#include "tensor/ss-ops.h"

G_BEGIN_DECLS

/* Dispatches "<stem>.<dtype>" with n_groups workgroups (split with ss_gpu_groups_1d). */
gboolean ss_ops_dispatch (SsGpuDevice *dev, const char *stem, SsDType dtype,
                          const guint32 *spec, guint n_spec,
                          const SsGpuBinding *bindings, guint n_bindings,
                          const void *push, guint push_size,
                          guint64 n_groups, GError **error);
/* the same for a shader named in full (variants that are not a dtype) */
gboolean ss_ops_dispatch_shader (SsGpuDevice *dev, const char *shader,
                                 const guint32 *spec, guint n_spec,
                                 const SsGpuBinding *bindings, guint n_bindings,
                                 const void *push, guint push_size,
                                 guint64 n_groups, GError **error);

/* dim normalised into [0, ndim), or -1 with an error naming the op */
int       ss_ops_dim (const char *op, SsTensor *t, int dim, GError **error);

/* contiguous (no autograd recorded: for use on values inside forward/backward) */
SsTensor *ss_ops_contig (SsTensor *t, GError **error);

/* product of shape[from..to) */
gint64    ss_ops_prod (SsTensor *t, int from, int to);

gboolean  ss_ops_check_dtypes (const char *op, guint n, SsTensor *const *ts, GError **error);

/* Column sums over n long rows of cols columns in two passes: the rows split
 * into *chunks chunks of *chunk_len rows (at least 32 each), about 128 K
 * partial sums in all so that a large GPU is busy. */
void      ss_ops_row_chunks (guint64 cols, guint32 n, guint32 *chunks, guint32 *chunk_len);

/* Longest row the kernels that read a row once into registers take: 4 units of
 * 4 elements per thread, 128 threads (ops_norm stages 12/13, ops_softmax MODE 2) */
#define SS_OPS_REGISTER_ROW_MAX (4 * 4 * 128)

/* a raw device buffer holding host data */
SsGpuBuffer *ss_ops_upload (SsGpuDevice *dev, const void *data, gsize size, GError **error);

/* When grad mode is on and an input requires grad: creates a node, attaches
 * it to out and returns it (for saving tensors / data); else NULL. */
SsAutogradNode *ss_ops_record (SsTensor *out, const char *name, SsBackwardFunc fn,
                               guint n, SsTensor *const *inputs);

/* saves a view of t without its autograd history (no reference cycles) */
void ss_ops_save_detached (SsAutogradNode *node, SsTensor *t);

/* helpers for backward functions */
#define SS_OPS_TRY(x) G_STMT_START { if (!(x)) return FALSE; } G_STMT_END

G_END_DECLS
