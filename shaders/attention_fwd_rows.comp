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
 * LANES=4 (attention_fwd_rows 'l4_' variants, on devices with subgroup
 * shuffles): 4 neighbouring invocations per query row, each holding a quarter
 * of the query and of the output row (elements interleaved in units of 4, so
 * that the 4 lanes read a key or value row together); the partial dot
 * products are summed by two shuffles. A quarter of the registers per thread
 * and 4x the threads of the default, whose per-thread rows of 64-128 floats
 * left the H100 at a tenth of its bandwidth on the Synchformer's time groups.
 * With SPLIT (attention_fwd_split 'l4_'), 128 invocations per row: 32 slots
 * of 4 lanes take every 32nd key, then the slots' partial rows are merged in
 * shared memory.
 * Keys, values and the query are read 4 elements at a time where the head
 * sizes and offsets allow (ROW_VEC). RD (32, 64 or 128) bounds D and Dv. Same inputs, outputs and lse as
 * attention_fwd.comp. */
#include "ss-common.glsl"
#include "attention_common.glsl"
#ifndef LANES
#define LANES 1
#endif
#if defined(SPLIT) && LANES > 1
#define ROW_NT 128
layout (local_size_x = 128) in;
#elif defined(SPLIT)
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
#if LANES == 1
#include "attention_row.glsl"
#else
layout (binding = 4) writeonly buffer O4b { SS_T4 o4[]; };
#define ROW_STORE(i, x) o[i] = SS_STORE (x)
#define ROW_STORE4(i4, v) o4[i4] = ss_store4 (v)
#ifdef SPLIT
#define ROW4_SLOTS 1
#define ROW4_NT ROW_NT
#endif
#include "attention_row4.glsl"

void main ()
{
#ifdef SPLIT
  uint row = ss_linear_group ();
  uint slot = gl_LocalInvocationID.x / LANES, r = gl_LocalInvocationID.x % LANES;
  const uint nslot = ROW4_NSLOT;
#else
  uint gt = ss_linear_group () * 64u + gl_LocalInvocationID.x;
  uint row = gt / LANES, r = gt % LANES, slot = 0u;
  const uint nslot = 1u;
#endif
  uint bh = row / p.Lq, i = row % p.Lq;
  if (bh >= p.BH)
    return;        /* all LANES lanes of the row (SPLIT: the whole workgroup): the
                    * shuffles stay among live lanes and no barrier is skipped */
  uint b = bh / p.H, h = bh % p.H;
  row4_begin (p.q_off + row * p.D, p.D, p.scale, r);
  uint kbase = p.k_off + bh * p.Lk * p.D, vbase = p.v_off + bh * p.Lk * p.Dv;
  uint kv_end = (p.flags & 2u) != 0u ? min (p.Lk, i + 1u) : p.Lk;
  for (uint key = slot; key < kv_end; key += nslot) {
    float bias = (p.flags & 1u) != 0u ? SS_LOAD (mask[p.m_off + b * p.m_bs + h * p.m_hs + i * p.Lk + key]) : 0.0;
    row4_key (kbase + key * p.D, vbase + key * p.Dv, p.D, p.Dv, bias);
  }
  uint obase = p.o_off + row * p.Dv;
#ifdef SPLIT
  float lse_row = row4_merge_store (slot, obase, p.Dv);
  if (gl_LocalInvocationID.x == 0u)
    lse[p.l_off + row] = lse_row;
#else
  row4_store (obase, p.Dv);
  if (r == 0u)
    lse[p.l_off + row] = row4_lse ();
#endif
}
#endif

#if LANES == 1
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
#endif
