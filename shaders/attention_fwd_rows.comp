#version 450
/* Attention forward with a query row kept in registers (attention_row.glsl),
 * keys and values read in order from memory (the threads of a workgroup read
 * the same rows at the same time, so they come from the cache).
 * Default (attention_fwd_rows): one thread per query row, for short key
 * sequences (divided space-time attention: 8 frames in time, 197 patches in
 * space; audio patch sequences); no shared memory and no barriers, so
 * thousands of tiny groups fill the GPU.
 * SPLIT=1 (attention_fwd_split): a few query rows over many keys (a CLS token
 * that attends to every token of a clip): one workgroup of 32 threads per row,
 * the keys dealt out among them (thread t takes t, t+32, ...), the partial rows
 * merged in shared memory.
 * Keys, values and the query are read 4 elements at a time where the head
 * sizes and offsets allow (ROW_VEC). RD (32, 64 or 128) bounds D and Dv. Same inputs, outputs and lse as
 * attention_fwd.comp. */
#include "ss-common.glsl"
#include "attention_common.glsl"
#ifdef SPLIT
#define ROW_NT 32
layout (local_size_x = 32) in;
#else
#define ROW_NT 1
layout (local_size_x = 64) in;
#endif

layout (binding = 0) readonly buffer Qb { SS_T q[]; };
layout (binding = 1) readonly buffer Kb { SS_T k[]; };
layout (binding = 2) readonly buffer Vb { SS_T v[]; };
layout (binding = 3) readonly buffer Mb { SS_T mask[]; };
layout (binding = 4) writeonly buffer Ob { SS_T o[]; };
layout (binding = 5) writeonly buffer Lb { float lse[]; };

/* the same buffers as units of 4 elements */
layout (binding = 0) readonly buffer Q4b { SS_T4 q4[]; };
layout (binding = 1) readonly buffer K4b { SS_T4 k4[]; };
layout (binding = 2) readonly buffer V4b { SS_T4 v4[]; };

#define ROW_Q(i) SS_LOAD (q[i])
#define ROW_K(i) SS_LOAD (k[i])
#define ROW_V(i) SS_LOAD (v[i])
#define ROW_Q4(i) ss_load4 (q4[i])
#define ROW_K4(i) ss_load4 (k4[i])
#define ROW_V4(i) ss_load4 (v4[i])
#define ROW_VEC ((p.D | p.Dv | p.q_off | p.k_off | p.v_off) % 4u == 0u)
#include "attention_row.glsl"

void main ()
{
#ifdef SPLIT
  uint row = ss_linear_group ();
  uint t = gl_LocalInvocationID.x;
#else
  uint row = ss_linear_group () * 64u + gl_LocalInvocationID.x;
  uint t = 0u;
#endif
  uint bh = row / p.Lq, i = row % p.Lq;
  if (bh >= p.BH)
    return;      /* SPLIT: the whole workgroup, so no barrier is skipped by part of it */
  uint b = bh / p.H, h = bh % p.H;
  row_begin (p.q_off + row * p.D, p.D, p.scale);
  uint kbase = p.k_off + bh * p.Lk * p.D;
  uint vbase = p.v_off + bh * p.Lk * p.Dv;
  uint kv_end = (p.flags & 2u) != 0u ? min (p.Lk, i + 1u) : p.Lk;
  for (uint j = t; j < kv_end; j += ROW_NT) {
    float bias = (p.flags & 1u) != 0u ? SS_LOAD (mask[p.m_off + b * p.m_bs + h * p.m_hs + i * p.Lk + j]) : 0.0;
    row_key (kbase + j * p.D, vbase + j * p.Dv, p.D, p.Dv, bias);
  }
  uint obase = p.o_off + row * p.Dv;
#ifdef SPLIT
  row_merge (t);
  float inv = row_inv ();
  for (uint c = t; c < p.Dv; c += ROW_NT)
    o[obase + c] = SS_STORE (row_merged (c) * inv);
  if (t == 0u)
    lse[p.l_off + row] = row_lse ();
#else
  float inv = row_inv ();
  for (uint c = 0u; c < RD; c++)
    if (c < p.Dv)
      o[obase + c] = SS_STORE (row_acc[c] * inv);
  lse[p.l_off + row] = row_lse ();
#endif
}
