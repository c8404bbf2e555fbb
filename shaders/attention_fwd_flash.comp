#version 450
/* Attention forward on NVIDIA tensor cores (GL_NV_cooperative_matrix) in one
 * pass over the keys (FlashAttention-2's online softmax): fp16 q/k/v/o, fp32
 * scores, statistics and accumulation. NW warps per workgroup, 16 query rows
 * each; keys in blocks of 64 staged in shared memory (K and V in their own
 * buffers, the next block's global loads in flight during the math).
 *
 * The scores stay in the accumulator registers: the softmax reads and scales
 * their components directly, which needs to know the row and column of each
 * component. The extension does not define that mapping, so the host probes it
 * (coopmat_probe.comp) and passes it as specialization constants; this kernel
 * is only chosen when the probe finds the layout assumed here: lane l's
 * component i is row (l >> 2) + (RMASK bit i ? 8 : 0) and column
 * 2 * (l & 3) + CMAP nibble i, so the four lanes of a quad share each row and
 * a row's max needs two shuffles.
 *
 * Any Lq, Lk: K/V rows past Lk are zero-filled and their scores -inf; a warp
 * whose 16 rows pass Lq stages its Q and O rows through shared memory, so
 * nothing outside [0, Lq) of this batch*head is read or written. D == Dv ==
 * HD (64 or 128), subgroup 32, q/k/v/o offsets multiples of 8. */
#extension GL_NV_cooperative_matrix : require
#extension GL_KHR_memory_scope_semantics : require
#extension GL_EXT_shader_explicit_arithmetic_types_float16 : require
#extension GL_EXT_shader_16bit_storage : require
#extension GL_KHR_shader_subgroup_basic : require
#extension GL_KHR_shader_subgroup_shuffle : require
#extension GL_EXT_control_flow_attributes : require
#include "attention_common.glsl"

#ifndef NW
#define NW 4
#endif
#define NT (NW * 32)
#define BQ (NW * 16)
#define BK 64
#define NF (HD / 16)
#define ROW4 (HD / 8)          /* uvec4 per K/V row */
#define S4 (ROW4 + 1)          /* padded row stride in shared memory */
#define NL (BK * ROW4 / NT)    /* uvec4 per thread per block */

layout (local_size_x = NT) in;
layout (constant_id = 0) const uint RMASK = 0xccu;
layout (constant_id = 1) const uint CMAP = 0x98981010u;

layout (binding = 0) readonly buffer Qb { uvec4 q4[]; };
layout (binding = 1) readonly buffer Kb { uvec4 k4[]; };
layout (binding = 2) readonly buffer Vb { uvec4 v4[]; };
layout (binding = 3) readonly buffer Mb { float16_t mask[]; };
layout (binding = 4) writeonly buffer Ob { uvec4 o4[]; };
layout (binding = 5) writeonly buffer Lb { float lse[]; };

/* K block, then V block; a warp whose rows pass Lq stages its Q and O rows
 * in rows 16 warp .. 16 warp + 15 of the whole array (before the first and
 * after the last block) */
shared uvec4 KV[2 * BK * S4];
#define KOFF 0u
#define VOFF (BK * S4)

#define NEG_INF (-1.0 / 0.0)
#define LOG2E 1.4426950408889634

uint row_hi (uint i) { return (RMASK >> i) & 1u; }
uint col_of (uint lane, uint i) { return 2u * (lane & 3u) + ((CMAP >> (4u * i)) & 15u); }

void main ()
{
  uint tid = gl_LocalInvocationID.x;
  uint warp = tid / 32u, lane = tid % 32u;
  uint q0 = gl_WorkGroupID.x * BQ;
  uint bh = gl_WorkGroupID.y + p.bh0;
  uint b = bh / p.H, h = bh % p.H;
  uint qrow0 = q0 + warp * 16u;
  uint qbase = (p.q_off + bh * p.Lq * HD) / 8u;
  uint kbase = (p.k_off + bh * p.Lk * HD) / 8u;
  uint vbase = (p.v_off + bh * p.Lk * HD) / 8u;
  bool ragged = qrow0 + 16u > p.Lq;    /* this warp's rows pass the end */
  bool causal = (p.flags & 2u) != 0u;
  bool masked = (p.flags & 1u) != 0u;
  float sl2 = p.scale * LOG2E;

  /* Q fragments: straight from global memory, or staged with zeros past Lq */
  fcoopmatNV<16, gl_ScopeSubgroup, 16, 16> fq[NF];
  if (!ragged) {
    [[unroll]] for (uint kd = 0u; kd < NF; kd++)
      coopMatLoadNV (fq[kd], q4, qbase + qrow0 * ROW4 + kd * 2u, ROW4, false);
  } else {
    for (uint e = lane; e < 16u * ROW4; e += 32u) {
      uint r = e / ROW4, s = e % ROW4;
      KV[(warp * 16u + r) * S4 + s] = qrow0 + r < p.Lq ? q4[qbase + (qrow0 + r) * ROW4 + s] : uvec4 (0u);
    }
    subgroupMemoryBarrierShared ();
    subgroupBarrier ();
    [[unroll]] for (uint kd = 0u; kd < NF; kd++)
      coopMatLoadNV (fq[kd], KV, warp * 16u * S4 + kd * 2u, S4, false);
  }

  uint kv_end = p.Lk;
  if (causal)
    kv_end = min (p.Lk, q0 + BQ);
  /* the last key this warp's rows can see */
  uint warp_end = causal ? min (kv_end, qrow0 + 16u) : kv_end;

  fcoopmatNV<32, gl_ScopeSubgroup, 16, 16> acc[NF];
  [[unroll]] for (uint j = 0u; j < NF; j++)
    acc[j] = fcoopmatNV<32, gl_ScopeSubgroup, 16, 16> (0.0);
  /* statistics of rows lane/4 (index 0) and lane/4 + 8 (index 1), log2 units;
   * l is this lane's part of the row sum (the quad is summed at the end) */
  float m0 = NEG_INF, m1 = NEG_INF, l0 = 0.0, l1 = 0.0;
  uint r0 = qrow0 + (lane >> 2);

  uvec4 reg[NL];
#define GLOAD(reg, src, base, kb) \
  [[unroll]] for (uint t = 0u; t < NL; t++) { \
    uint e = tid + t * NT; \
    uint row = e / ROW4, seg = e % ROW4; \
    reg[t] = (kb) + row < p.Lk ? src[(base) + ((kb) + row) * ROW4 + seg] : uvec4 (0u); \
  }
#define SSTORE(off, reg) \
  [[unroll]] for (uint t = 0u; t < NL; t++) { \
    uint e = tid + t * NT; \
    KV[(off) + (e / ROW4) * S4 + e % ROW4] = reg[t]; \
  }

  if (kv_end > 0u) {
    GLOAD (reg, k4, kbase, 0u);
  }
  for (uint kb = 0u; kb < kv_end; kb += BK) {
    barrier ();                 /* the previous block's K and V are consumed */
    SSTORE (KOFF, reg);
    GLOAD (reg, v4, vbase, kb);      /* in flight during S = Q K^T */
    barrier ();
    bool live = kb < warp_end;
    fcoopmatNV<32, gl_ScopeSubgroup, 16, 16> s[4];
    if (live) {
      [[unroll]] for (uint j = 0u; j < 4u; j++) {
        s[j] = fcoopmatNV<32, gl_ScopeSubgroup, 16, 16> (0.0);
        [[unroll]] for (uint kd = 0u; kd < NF; kd++) {
          fcoopmatNV<16, gl_ScopeSubgroup, 16, 16> fk;
          coopMatLoadNV (fk, KV, KOFF + (j * 16u) * S4 + kd * 2u, S4, true);
          s[j] = coopMatMulAddNV (fq[kd], fk, s[j]);
        }
      }
    }
    SSTORE (VOFF, reg);
    if (kb + BK < kv_end) {
      GLOAD (reg, k4, kbase, kb + BK);   /* in flight during the softmax and P V */
    }
    if (live) {
      /* scores in log2 units; masks only where the block needs them */
      bool edge = kb + BK > p.Lk || masked || (causal && kb + BK - 1u > qrow0);
      float bm0 = NEG_INF, bm1 = NEG_INF;
      [[unroll]] for (uint j = 0u; j < 4u; j++)
        [[unroll]] for (uint i = 0u; i < 8u; i++) {
          float x = s[j][i] * sl2;
          if (edge) {
            uint key = kb + j * 16u + col_of (lane, i);
            uint row = r0 + 8u * row_hi (i);
            if (key >= p.Lk || (causal && key > row))
              x = NEG_INF;
            else if (masked && row < p.Lq)
              x += float (mask[p.m_off + b * p.m_bs + h * p.m_hs + row * p.Lk + key]) * LOG2E;
          }
          s[j][i] = x;
          if (row_hi (i) == 0u)
            bm0 = max (bm0, x);
          else
            bm1 = max (bm1, x);
        }
      bm0 = max (bm0, subgroupShuffleXor (bm0, 1u));
      bm0 = max (bm0, subgroupShuffleXor (bm0, 2u));
      bm1 = max (bm1, subgroupShuffleXor (bm1, 1u));
      bm1 = max (bm1, subgroupShuffleXor (bm1, 2u));
      float n0 = max (m0, bm0), n1 = max (m1, bm1);
      /* a row with no finite score yet keeps exponent base 0 (all terms 0) */
      float u0 = n0 == NEG_INF ? 0.0 : n0, u1 = n1 == NEG_INF ? 0.0 : n1;
      float a0 = exp2 (m0 - u0), a1 = exp2 (m1 - u1);
      l0 *= a0;
      l1 *= a1;
      m0 = n0;
      m1 = n1;
      [[unroll]] for (uint j = 0u; j < 4u; j++)
        [[unroll]] for (uint i = 0u; i < 8u; i++) {
          float e = exp2 (s[j][i] - (row_hi (i) == 0u ? u0 : u1));
          s[j][i] = e;
          if (row_hi (i) == 0u)
            l0 += e;
          else
            l1 += e;
        }
      [[unroll]] for (uint j = 0u; j < NF; j++)
        [[unroll]] for (uint i = 0u; i < 8u; i++)
          acc[j][i] *= row_hi (i) == 0u ? a0 : a1;
    }
    barrier ();                 /* V visible */
    if (live) {
      [[unroll]] for (uint kk = 0u; kk < 4u; kk++) {
        fcoopmatNV<16, gl_ScopeSubgroup, 16, 16> fp = fcoopmatNV<16, gl_ScopeSubgroup, 16, 16> (s[kk]);
        [[unroll]] for (uint j = 0u; j < NF; j++) {
          fcoopmatNV<16, gl_ScopeSubgroup, 16, 16> fv;
          coopMatLoadNV (fv, KV, VOFF + (kk * 16u) * S4 + j * 2u, S4, false);
          acc[j] = coopMatMulAddNV (fp, fv, acc[j]);
        }
      }
    }
  }

  l0 += subgroupShuffleXor (l0, 1u);
  l0 += subgroupShuffleXor (l0, 2u);
  l1 += subgroupShuffleXor (l1, 1u);
  l1 += subgroupShuffleXor (l1, 2u);
  float i0 = l0 > 0.0 ? 1.0 / l0 : 0.0, i1 = l1 > 0.0 ? 1.0 / l1 : 0.0;
  [[unroll]] for (uint j = 0u; j < NF; j++)
    [[unroll]] for (uint i = 0u; i < 8u; i++)
      acc[j][i] *= row_hi (i) == 0u ? i0 : i1;
  if ((lane & 3u) == 0u) {
    const float LN2 = 0.6931471805599453;
    if (r0 < p.Lq)
      lse[p.l_off + bh * p.Lq + r0] = l0 > 0.0 ? m0 * LN2 + log (l0) : NEG_INF;
    if (r0 + 8u < p.Lq)
      lse[p.l_off + bh * p.Lq + r0 + 8u] = l1 > 0.0 ? m1 * LN2 + log (l1) : NEG_INF;
  }

  uint obase = (p.o_off + (bh * p.Lq + qrow0) * HD) / 8u;
  barrier ();                   /* KV is free for the ragged warps' staging */
  [[unroll]] for (uint j = 0u; j < NF; j++) {
    fcoopmatNV<16, gl_ScopeSubgroup, 16, 16> hres = fcoopmatNV<16, gl_ScopeSubgroup, 16, 16> (acc[j]);
    if (!ragged)
      coopMatStoreNV (hres, o4, obase + j * 2u, ROW4, false);
    else
      coopMatStoreNV (hres, KV, warp * 16u * S4 + j * 2u, S4, false);
  }
  if (ragged) {
    subgroupMemoryBarrierShared ();
    subgroupBarrier ();
    for (uint e = lane; e < 16u * ROW4; e += 32u) {
      uint r = e / ROW4, s = e % ROW4;
      if (qrow0 + r < p.Lq)
        o4[obase + r * ROW4 + s] = KV[(warp * 16u + r) * S4 + s];
    }
  }
}
