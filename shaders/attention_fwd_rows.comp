#version 450
/* Attention forward with a query row kept in registers (attention_row.glsl),
 * keys and values read in order from memory.
 * Default (attention_fwd_rows): LANES invocations per query row (4 on devices
 * with subgroup shuffles: the 'l4_' variants; else 1), for short key
 * sequences (divided space-time attention: 8 frames in time, 197 patches in
 * space; audio patch sequences); no shared memory and no barriers, so
 * thousands of tiny groups fill the GPU.
 * SPLIT=1 (attention_fwd_split): a few query rows over many keys (a CLS token
 * that attends to every token of a clip): one workgroup of 32 LANES per row,
 * 32 slots of LANES taking every 32nd key, the partial rows merged in shared
 * memory.
 * Keys, values and the query are read 4 elements at a time where the head
 * sizes and offsets allow (ROW_VEC). RD (32, 64 or 128) bounds D and Dv. Same
 * inputs, outputs and lse as attention_fwd.comp. */
#include "ss-common.glsl"
#include "attention_common.glsl"
#ifndef LANES
#define LANES 1
#endif
#ifdef SPLIT
#define ROW_NT (32 * LANES)
#else
#define ROW_NT 64
#endif
layout (local_size_x = ROW_NT) in;

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
layout (binding = 4) writeonly buffer O4b { SS_T4 o4[]; };
#define ROW_STORE(i, x) o[i] = SS_STORE (x)
#define ROW_STORE4(i4, v) o4[i4] = ss_store4 (v)
#ifdef SPLIT
#define ROW_SLOTS 1
#define ROW_SLOT_NT ROW_NT
#endif
#include "attention_row.glsl"

void main ()
{
#ifdef SPLIT
  uint row = ss_linear_group ();
  uint slot = gl_LocalInvocationID.x / LANES, r = gl_LocalInvocationID.x % LANES;
  const uint nslot = ROW_NSLOT;
#else
  uint gt = ss_linear_group () * ROW_NT + gl_LocalInvocationID.x;
  uint row = gt / LANES, r = gt % LANES, slot = 0u;
  const uint nslot = 1u;
#endif
  uint bh = row / p.Lq, i = row % p.Lq;
  if (bh >= p.BH)
    return;        /* all LANES lanes of the row (SPLIT: the whole workgroup): the
                    * shuffles stay among live lanes and no barrier is skipped */
  uint b = bh / p.H, h = bh % p.H;
  row_begin (p.q_off + row * p.D, p.D, p.scale, r);
  uint kbase = p.k_off + bh * p.Lk * p.D, vbase = p.v_off + bh * p.Lk * p.Dv;
  uint kv_end = (p.flags & 2u) != 0u ? min (p.Lk, i + 1u) : p.Lk;
  for (uint key = slot; key < kv_end; key += nslot) {
    float bias = (p.flags & 1u) != 0u ? SS_LOAD (mask[p.m_off + b * p.m_bs + h * p.m_hs + i * p.Lk + key]) : 0.0;
    row_key (kbase + key * p.D, vbase + key * p.Dv, p.D, p.Dv, bias);
  }
  uint obase = p.o_off + row * p.Dv;
#ifdef SPLIT
  float lse_row = row_merge_store (slot, obase, p.Dv);
  if (gl_LocalInvocationID.x == 0u)
    lse[p.l_off + row] = lse_row;
#else
  row_store (obase, p.Dv);
  if (r == 0u)
    lse[p.l_off + row] = row_lse ();
#endif
}

