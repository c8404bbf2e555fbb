#version 450
/* Attention backward on NVIDIA tensor cores (GL_NV_cooperative_matrix), fp16
 * q/k/v/dO/dQ/dK/dV, fp32 scores and accumulation; with or without an
 * additive mask (fp16, as the forward), causal or not, any lengths. P is recomputed
 * from the forward's log-sum-exp; dsum = rowsum(dO * O) comes from
 * attention_bwd_pre. Like attention_fwd_flash, the softmax terms are applied to
 * accumulator components in registers, using the component layout the host
 * probed (RMASK / CMAP specialization constants: lane l's component i is row
 * l/4 + 8 * bit i of RMASK, column 2 (l % 4) + nibble i of CMAP).
 *
 * DKV (one workgroup per 64 keys, 16 per warp; loops over blocks of QB queries):
 *   S^T = K Q^T,  P^T = exp(scale S^T - lse[q]),  dV += P^T dO,
 *   dP^T = V dO^T,  dS^T = P^T * (dP^T - dsum[q]),  dK += scale dS^T Q.
 *   Computing the transposed scores keeps P^T and dS^T as A operands in the
 *   warp's registers, so nothing is transposed through shared memory.
 * DQ (one workgroup per 64 queries; loops over blocks of QB keys):
 *   S = Q K^T,  P = exp(scale S - lse),  dP = dO V^T,  dS = P * (dP - dsum),
 *   dQ += scale dS K.
 * The other operand's block is staged in shared memory (zero rows past the
 * end); a warp whose 16 own rows pass the end stages them the same way. */
#extension GL_NV_cooperative_matrix : require
#extension GL_KHR_memory_scope_semantics : require
#extension GL_EXT_shader_explicit_arithmetic_types_float16 : require
#extension GL_EXT_shader_16bit_storage : require
#extension GL_KHR_shader_subgroup_basic : require
#extension GL_EXT_control_flow_attributes : require
#include "attention_common.glsl"

#define NF (HD / 16)
#define ROW4 (HD / 8)
#define S4 (ROW4 + 1)
/* the iterated block: 64 rows at head size 64, 32 at 128 (registers) */
#define QB (HD == 64 ? 64u : 32u)
#define NQ (QB / 16u)
#define NEG_INF (-1.0 / 0.0)
#define POS_INF (1.0 / 0.0)
#define LOG2E 1.4426950408889634

layout (local_size_x = 128) in;
layout (constant_id = 0) const uint RMASK = 0xf0u;
layout (constant_id = 1) const uint CMAP = 0x98109810u;

layout (binding = 0) readonly buffer Qb { uvec4 q4[]; };
layout (binding = 1) readonly buffer Kb { uvec4 k4[]; };
layout (binding = 2) readonly buffer Vb { uvec4 v4[]; };
layout (binding = 3) readonly buffer Mb { float16_t mask[]; };
layout (binding = 4) readonly buffer DOb { uvec4 do4[]; };
layout (binding = 5) readonly buffer Lb { float lse[]; };   /* lse at l_off, dsum at g_off */
#ifdef DKV
layout (binding = 6) writeonly buffer DKb { uvec4 dk4[]; };
layout (binding = 7) writeonly buffer DVb { uvec4 dv4[]; };
#else
layout (binding = 6) writeonly buffer DQb { uvec4 dq4[]; };
#endif

/* two staged blocks of QB rows (Q and dO, or K and V); at the start and the
 * end, rows 16 warp .. 16 warp + 15 of the whole array stage a ragged warp's
 * own rows (2 QB >= 64) */
shared uvec4 SH[2u * QB * S4];
#define AOFF 0u
#define BOFF (QB * S4)
shared float Ls[QB], Gs[QB];   /* DKV: lse (log2 units, +inf = no contribution) and dsum per query */

uint row_hi (uint i) { return (RMASK >> i) & 1u; }
uint col_of (uint lane, uint i) { return 2u * (lane & 3u) + ((CMAP >> (4u * i)) & 15u); }

void main ()
{
  uint tid = gl_LocalInvocationID.x;
  uint warp = tid / 32u, lane = tid % 32u;
  uint bh = gl_WorkGroupID.y + p.bh0;
  bool causal = (p.flags & 2u) != 0u;
  bool masked = (p.flags & 1u) != 0u;
  uint b = bh / p.H, h = bh % p.H;
  float sl2 = p.scale * LOG2E;
  uint qbase = (p.q_off + bh * p.Lq * HD) / 8u;
  uint kbase = (p.k_off + bh * p.Lk * HD) / 8u;
  uint vbase = (p.v_off + bh * p.Lk * HD) / 8u;
  uint dobase = (p.do_off + bh * p.Lq * HD) / 8u;

#ifdef DKV
  uint own0 = gl_WorkGroupID.x * 64u;        /* first key of the workgroup */
  uint ownL = p.Lk;
  uint xbase = qbase, ybase = dobase, xL = p.Lq;   /* the iterated rows: Q and dO */
  uint abase = kbase, bbase = vbase;               /* own rows: K and V */
#else
  uint own0 = gl_WorkGroupID.x * 64u;        /* first query of the workgroup */
  uint ownL = p.Lq;
  uint xbase = kbase, ybase = vbase, xL = p.Lk;    /* the iterated rows: K and V */
  uint abase = qbase, bbase = dobase;              /* own rows: Q and dO */
#endif
  uint r0 = own0 + warp * 16u;               /* this warp's first own row */
  bool ragged = r0 + 16u > ownL;

  /* the warp's own rows as A fragments (K, V for DKV; Q, dO for DQ) */
  fcoopmatNV<16, gl_ScopeSubgroup, 16, 16> fa[NF], fb[NF];
  if (!ragged) {
    [[unroll]] for (uint kd = 0u; kd < NF; kd++) {
#ifdef DKV
      coopMatLoadNV (fa[kd], k4, abase + r0 * ROW4 + kd * 2u, ROW4, false);
      coopMatLoadNV (fb[kd], v4, bbase + r0 * ROW4 + kd * 2u, ROW4, false);
#else
      coopMatLoadNV (fa[kd], q4, abase + r0 * ROW4 + kd * 2u, ROW4, false);
      coopMatLoadNV (fb[kd], do4, bbase + r0 * ROW4 + kd * 2u, ROW4, false);
#endif
    }
  } else {
    for (uint e = lane; e < 16u * ROW4; e += 32u) {
      uint r = e / ROW4, s = e % ROW4;
      bool inb = r0 + r < ownL;
#ifdef DKV
      SH[(warp * 16u + r) * S4 + s] = inb ? k4[abase + (r0 + r) * ROW4 + s] : uvec4 (0u);
#else
      SH[(warp * 16u + r) * S4 + s] = inb ? q4[abase + (r0 + r) * ROW4 + s] : uvec4 (0u);
#endif
    }
    subgroupMemoryBarrierShared ();
    subgroupBarrier ();
    [[unroll]] for (uint kd = 0u; kd < NF; kd++)
      coopMatLoadNV (fa[kd], SH, warp * 16u * S4 + kd * 2u, S4, false);
    subgroupMemoryBarrierShared ();
    subgroupBarrier ();
    for (uint e = lane; e < 16u * ROW4; e += 32u) {
      uint r = e / ROW4, s = e % ROW4;
      bool inb = r0 + r < ownL;
#ifdef DKV
      SH[(warp * 16u + r) * S4 + s] = inb ? v4[bbase + (r0 + r) * ROW4 + s] : uvec4 (0u);
#else
      SH[(warp * 16u + r) * S4 + s] = inb ? do4[bbase + (r0 + r) * ROW4 + s] : uvec4 (0u);
#endif
    }
    subgroupMemoryBarrierShared ();
    subgroupBarrier ();
    [[unroll]] for (uint kd = 0u; kd < NF; kd++)
      coopMatLoadNV (fb[kd], SH, warp * 16u * S4 + kd * 2u, S4, false);
  }

  fcoopmatNV<32, gl_ScopeSubgroup, 16, 16> acc0[NF];
#ifdef DKV
  fcoopmatNV<32, gl_ScopeSubgroup, 16, 16> acc1[NF];   /* dK in acc0, dV in acc1 */
#endif
  [[unroll]] for (uint j = 0u; j < NF; j++) {
    acc0[j] = fcoopmatNV<32, gl_ScopeSubgroup, 16, 16> (0.0);
#ifdef DKV
    acc1[j] = fcoopmatNV<32, gl_ScopeSubgroup, 16, 16> (0.0);
#endif
  }

#ifndef DKV
  /* this lane's two query rows: lse (log2 units) and dsum */
  uint ra = r0 + (lane >> 2), rb = ra + 8u;
  float la = POS_INF, lb = POS_INF, ga = 0.0, gb = 0.0;
  if (ra < p.Lq) {
    float x = lse[p.l_off + bh * p.Lq + ra];
    la = x == NEG_INF ? POS_INF : x * LOG2E;
    ga = lse[p.g_off + bh * p.Lq + ra];
  }
  if (rb < p.Lq) {
    float x = lse[p.l_off + bh * p.Lq + rb];
    lb = x == NEG_INF ? POS_INF : x * LOG2E;
    gb = lse[p.g_off + bh * p.Lq + rb];
  }
#endif

  /* the blocks of iterated rows that can matter: causal DKV starts at the
   * block holding the workgroup's first key (earlier queries see none of its
   * keys); causal DQ ends after its last query */
#ifdef DKV
  uint x_begin = causal ? (own0 / QB) * QB : 0u;
  uint x_end = xL;
#else
  uint x_begin = 0u;
  uint x_end = causal ? min (xL, own0 + 64u) : xL;
#endif
  for (uint xb = x_begin; xb < x_end; xb += QB) {
    barrier ();   /* the previous block (or the ragged staging) is consumed */
    for (uint e = tid; e < QB * ROW4; e += 128u) {
      uint r = e / ROW4, s = e % ROW4;
      bool inb = xb + r < xL;
#ifdef DKV
      SH[AOFF + r * S4 + s] = inb ? q4[xbase + (xb + r) * ROW4 + s] : uvec4 (0u);
      SH[BOFF + r * S4 + s] = inb ? do4[ybase + (xb + r) * ROW4 + s] : uvec4 (0u);
#else
      SH[AOFF + r * S4 + s] = inb ? k4[xbase + (xb + r) * ROW4 + s] : uvec4 (0u);
      SH[BOFF + r * S4 + s] = inb ? v4[ybase + (xb + r) * ROW4 + s] : uvec4 (0u);
#endif
    }
#ifdef DKV
    for (uint r = tid; r < QB; r += 128u) {
      float l = POS_INF, g = 0.0;
      if (xb + r < p.Lq) {
        float x = lse[p.l_off + bh * p.Lq + xb + r];
        l = x == NEG_INF ? POS_INF : x * LOG2E;
        g = lse[p.g_off + bh * p.Lq + xb + r];
      }
      Ls[r] = l;
      Gs[r] = g;
    }
#endif
    barrier ();
    /* the warp's rows cannot see any column of this block (causal) */
#ifdef DKV
    if (causal && r0 > xb + QB - 1u)
      continue;
#else
    if (causal && xb > r0 + 15u)
      continue;
#endif
    /* scores: own rows x block columns (S^T for DKV, S for DQ) */
    fcoopmatNV<32, gl_ScopeSubgroup, 16, 16> s[NQ], dp[NQ];
    [[unroll]] for (uint t = 0u; t < NQ; t++) {
      s[t] = fcoopmatNV<32, gl_ScopeSubgroup, 16, 16> (0.0);
      dp[t] = fcoopmatNV<32, gl_ScopeSubgroup, 16, 16> (0.0);
      [[unroll]] for (uint kd = 0u; kd < NF; kd++) {
        fcoopmatNV<16, gl_ScopeSubgroup, 16, 16> f;
        coopMatLoadNV (f, SH, AOFF + (t * 16u) * S4 + kd * 2u, S4, true);
        s[t] = coopMatMulAddNV (fa[kd], f, s[t]);
        coopMatLoadNV (f, SH, BOFF + (t * 16u) * S4 + kd * 2u, S4, true);
        dp[t] = coopMatMulAddNV (fb[kd], f, dp[t]);
      }
    }
    /* P and dS element by element */
    [[unroll]] for (uint t = 0u; t < NQ; t++)
      [[unroll]] for (uint i = 0u; i < 8u; i++) {
        uint own = r0 + (lane >> 2) + 8u * row_hi (i);
        uint xc = t * 16u + col_of (lane, i);     /* column within the block */
#ifdef DKV
        uint key = own, query = xb + xc;
        float l = Ls[xc], g = Gs[xc];
#else
        uint query = own, key = xb + xc;
        float l = row_hi (i) == 0u ? la : lb, g = row_hi (i) == 0u ? ga : gb;
#endif
        float x = s[t][i] * sl2 - l;
        if (masked && key < p.Lk && query < p.Lq)
          x += float (mask[p.m_off + b * p.m_bs + h * p.m_hs + query * p.Lk + key]) * LOG2E;
        float pr = exp2 (x);
        if (key >= p.Lk || query >= p.Lq || (causal && key > query))
          pr = 0.0;
        s[t][i] = pr;
        dp[t][i] = pr * (dp[t][i] - g);
      }
    /* products with the staged block as B operand (row-major) */
    [[unroll]] for (uint t = 0u; t < NQ; t++) {
      fcoopmatNV<16, gl_ScopeSubgroup, 16, 16> hp = fcoopmatNV<16, gl_ScopeSubgroup, 16, 16> (s[t]);
      fcoopmatNV<16, gl_ScopeSubgroup, 16, 16> hs = fcoopmatNV<16, gl_ScopeSubgroup, 16, 16> (dp[t]);
      [[unroll]] for (uint j = 0u; j < NF; j++) {
        fcoopmatNV<16, gl_ScopeSubgroup, 16, 16> f;
#ifdef DKV
        coopMatLoadNV (f, SH, AOFF + (t * 16u) * S4 + j * 2u, S4, false);   /* Q rows */
        acc0[j] = coopMatMulAddNV (hs, f, acc0[j]);                      /* dK += dS^T Q */
        coopMatLoadNV (f, SH, BOFF + (t * 16u) * S4 + j * 2u, S4, false);   /* dO rows */
        acc1[j] = coopMatMulAddNV (hp, f, acc1[j]);                      /* dV += P^T dO */
#else
        coopMatLoadNV (f, SH, AOFF + (t * 16u) * S4 + j * 2u, S4, false);   /* K rows */
        acc0[j] = coopMatMulAddNV (hs, f, acc0[j]);                      /* dQ += dS K */
#endif
      }
    }
  }

  /* results: scale on dK / dQ, rows before the end */
  barrier ();   /* SH is free for the ragged warps' staging */
#ifdef DKV
  uint obase = (bh * p.Lk + r0) * ROW4;
#else
  uint obase = (bh * p.Lq + r0) * ROW4;
#endif
/* stores fragment array ACC (times SC) to OUT at the warp's rows */
#define STORE_ROWS(ACC, SC, OUT) { \
    [[unroll]] for (uint j = 0u; j < NF; j++) { \
      fcoopmatNV<32, gl_ScopeSubgroup, 16, 16> r = ACC[j] * (SC); \
      fcoopmatNV<16, gl_ScopeSubgroup, 16, 16> h = fcoopmatNV<16, gl_ScopeSubgroup, 16, 16> (r); \
      if (!ragged) \
        coopMatStoreNV (h, OUT, obase + j * 2u, ROW4, false); \
      else \
        coopMatStoreNV (h, SH, warp * 16u * S4 + j * 2u, S4, false); \
    } \
    if (ragged) { \
      subgroupMemoryBarrierShared (); \
      subgroupBarrier (); \
      for (uint e = lane; e < 16u * ROW4; e += 32u) { \
        uint r = e / ROW4, s = e % ROW4; \
        if (r0 + r < ownL) \
          OUT[obase + r * ROW4 + s] = SH[(warp * 16u + r) * S4 + s]; \
      } \
      subgroupMemoryBarrierShared (); \
      subgroupBarrier (); \
    } \
  }
#ifdef DKV
  STORE_ROWS (acc0, p.scale, dk4);
  STORE_ROWS (acc1, 1.0, dv4);
#else
  STORE_ROWS (acc0, p.scale, dq4);
#endif
}
