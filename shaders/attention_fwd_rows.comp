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
#extension GL_KHR_shader_subgroup_shuffle : require
layout (binding = 4) writeonly buffer O4b { SS_T4 o4[]; };
#define RDL (RD / LANES)

/* element j (0 .. RDL - 1) of lane r: units of 4 interleaved over the lanes
 * (vec) or single elements interleaved (not vec) */
uint lane_elem (uint j, uint r, bool vec)
{
  return vec ? 4u * ((j / 4u) * LANES + r) + j % 4u : j * LANES + r;
}

#ifdef SPLIT
#define NSLOT (ROW_NT / LANES)
shared float slot_m[NSLOT], slot_l[NSLOT];
shared float slot_acc[NSLOT][RD];
#else
#define NSLOT 1u
#endif

void main ()
{
#ifdef SPLIT
  uint row = ss_linear_group ();
  uint slot = gl_LocalInvocationID.x / LANES, r = gl_LocalInvocationID.x % LANES;
#else
  uint gt = ss_linear_group () * 64u + gl_LocalInvocationID.x;
  uint row = gt / LANES, r = gt % LANES, slot = 0u;
#endif
  uint bh = row / p.Lq, i = row % p.Lq;
  if (bh >= p.BH)
    return;        /* all LANES lanes of the row (SPLIT: the whole workgroup): the
                    * shuffles stay among live lanes and no barrier is skipped */
  uint b = bh / p.H, h = bh % p.H;
  bool vec = ROW_VEC;
  uint qbase = p.q_off + row * p.D, kbase = p.k_off + bh * p.Lk * p.D, vbase = p.v_off + bh * p.Lk * p.Dv;
  float lq[RDL], acc[RDL];
  if (vec) {
    for (uint j = 0u; j < RDL; j += 4u) {
      uint e = lane_elem (j, r, true);
      vec4 x = e < p.D ? ROW_Q4 ((qbase + e) / 4u) * p.scale : vec4 (0.0);
      lq[j] = x.x;
      lq[j + 1u] = x.y;
      lq[j + 2u] = x.z;
      lq[j + 3u] = x.w;
    }
  } else {
    for (uint j = 0u; j < RDL; j++) {
      uint e = lane_elem (j, r, false);
      lq[j] = e < p.D ? ROW_Q (qbase + e) * p.scale : 0.0;
    }
  }
  for (uint j = 0u; j < RDL; j++)
    acc[j] = 0.0;
  float m = -1.0 / 0.0, l = 0.0;
  uint kv_end = (p.flags & 2u) != 0u ? min (p.Lk, i + 1u) : p.Lk;
  for (uint key = slot; key < kv_end; key += NSLOT) {
    uint kb = kbase + key * p.D, vb = vbase + key * p.Dv;
    float s = 0.0;
    if (vec) {
      for (uint j = 0u; j < RDL; j += 4u) {
        uint e = lane_elem (j, r, true);
        if (e < p.D)
          s += dot (vec4 (lq[j], lq[j + 1u], lq[j + 2u], lq[j + 3u]), ROW_K4 ((kb + e) / 4u));
      }
    } else {
      for (uint j = 0u; j < RDL; j++) {
        uint e = lane_elem (j, r, false);
        if (e < p.D)
          s += lq[j] * ROW_K (kb + e);
      }
    }
    s += subgroupShuffleXor (s, 1u);
    s += subgroupShuffleXor (s, 2u);
    if ((p.flags & 1u) != 0u)
      s += SS_LOAD (mask[p.m_off + b * p.m_bs + h * p.m_hs + i * p.Lk + key]);
    if (s == -1.0 / 0.0)
      continue;
    float mn = max (m, s);
    float alpha = exp (m - mn);   /* m = -inf at first: exp(-inf) = 0 */
    float w = exp (s - mn);
    l = l * alpha + w;
    m = mn;
    if (vec) {
      for (uint j = 0u; j < RDL; j += 4u) {
        uint e = lane_elem (j, r, true);
        if (e < p.Dv) {
          vec4 x = ROW_V4 ((vb + e) / 4u);
          acc[j] = acc[j] * alpha + w * x.x;
          acc[j + 1u] = acc[j + 1u] * alpha + w * x.y;
          acc[j + 2u] = acc[j + 2u] * alpha + w * x.z;
          acc[j + 3u] = acc[j + 3u] * alpha + w * x.w;
        }
      }
    } else {
      for (uint j = 0u; j < RDL; j++) {
        uint e = lane_elem (j, r, false);
        if (e < p.Dv)
          acc[j] = acc[j] * alpha + w * ROW_V (vb + e);
      }
    }
  }
  uint obase = p.o_off + row * p.Dv;
#ifdef SPLIT
  /* the slots' partial rows through shared memory */
  if (r == 0u) {
    slot_m[slot] = m;
    slot_l[slot] = l;
  }
  for (uint j = 0u; j < RDL; j++)
    slot_acc[slot][lane_elem (j, r, vec)] = acc[j];
  barrier ();
  float M = -1.0 / 0.0;
  for (uint u = 0u; u < NSLOT; u++)
    M = max (M, slot_m[u]);
  float L = 0.0;
  for (uint u = 0u; u < NSLOT; u++)
    L += slot_m[u] == -1.0 / 0.0 ? 0.0 : slot_l[u] * exp (slot_m[u] - M);
  float linv = L > 0.0 ? 1.0 / L : 0.0;
  for (uint c = gl_LocalInvocationID.x; c < p.Dv; c += ROW_NT) {
    float sum = 0.0;
    for (uint u = 0u; u < NSLOT; u++)
      if (slot_m[u] != -1.0 / 0.0)
        sum += slot_acc[u][c] * exp (slot_m[u] - M);
    o[obase + c] = SS_STORE (sum * linv);
  }
  if (gl_LocalInvocationID.x == 0u)
    lse[p.l_off + row] = L > 0.0 ? M + log (L) : -1.0 / 0.0;
#else
  float inv = l > 0.0 ? 1.0 / l : 0.0;
  if (vec && obase % 4u == 0u) {
    for (uint j = 0u; j < RDL; j += 4u) {
      uint e = lane_elem (j, r, true);
      if (e < p.Dv)
        o4[(obase + e) / 4u] = ss_store4 (vec4 (acc[j], acc[j + 1u], acc[j + 2u], acc[j + 3u]) * inv);
    }
  } else {
    for (uint j = 0u; j < RDL; j++) {
      uint e = lane_elem (j, r, vec);
      if (e < p.Dv)
        o[obase + e] = SS_STORE (acc[j] * inv);
    }
  }
  if (r == 0u)
    lse[p.l_off + row] = l > 0.0 ? m + log (l) : -1.0 / 0.0;
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
