#version 450
/* Attention forward on NVIDIA tensor cores (GL_NV_cooperative_matrix), fp16
 * q/k/v/o, fp32 scores and accumulation. One workgroup of 4 warps per 64
 * query rows (16 per warp) and batch*head; keys in blocks of 64. Two passes
 * over the keys: the first finds each row's max and sum (log-sum-exp), the
 * second accumulates O = softmax(S) V exactly (no rescaling of the tensor-core
 * accumulators, which the NV extension cannot scale per row). Scores go
 * through shared memory for the softmax (scale, mask, causal).
 * K and V blocks are staged in shared memory (16-byte loads, padded rows).
 * Any Lq, Lk: K/V rows past Lk are zero-filled and their scores -inf; a warp
 * whose 16 query rows pass Lq loads them through shared memory (zero-filled)
 * and stores its output rows one by one, so nothing outside [0, Lq) of this
 * batch*head is read or written. D == Dv == HD (64 or 128), subgroup 32, q, k,
 * v and o offsets multiples of 8. */
#extension GL_NV_cooperative_matrix : require
#extension GL_KHR_memory_scope_semantics : require
#extension GL_EXT_shader_explicit_arithmetic_types_float16 : require
#extension GL_EXT_shader_16bit_storage : require
#extension GL_KHR_shader_subgroup_basic : require
#extension GL_KHR_shader_subgroup_arithmetic : require
#extension GL_KHR_shader_subgroup_shuffle : require
#extension GL_EXT_control_flow_attributes : require
#include "attention_common.glsl"

layout (local_size_x = 128) in;

layout (binding = 0) readonly buffer Qb { float16_t q[]; };
layout (binding = 1) readonly buffer Kb { uvec4 k4[]; };
layout (binding = 2) readonly buffer Vb { uvec4 v4[]; };
layout (binding = 3) readonly buffer Mb { float16_t mask[]; };
layout (binding = 4) writeonly buffer Ob { float16_t o[]; };
layout (binding = 5) writeonly buffer Lb { float lse[]; };

#define BK 64
#define NF (HD / 16)
#define ROW4 (HD / 8)          /* uvec4 per K/V row */
#define S4 (ROW4 + 1)          /* padded row stride in shared */

shared float Ss[4][16 * BK];
shared float16_t Ps[4][16 * BK];
shared uvec4 KV[BK * S4];     /* the current K or V block, shared by the 4 warps */

/* KV <- rows kb..kb+63 of src (all threads; barriers around) */
#define LOAD_BLOCK(src, base, kb) { \
    barrier (); \
    [[unroll]] for (uint t = 0u; t < BK * ROW4 / 128u; t++) { \
      uint e = tid + t * 128u; \
      uint row = e / ROW4, seg = e % ROW4; \
      KV[row * S4 + seg] = (kb) + row < p.Lk ? src[((base) + ((kb) + row) * HD) / 8u + seg] : uvec4 (0u); \
    } \
    barrier (); \
  }

/* scores of this warp's 16 rows against keys kb..kb+63 into Ss[warp] */
#define SCORES(kb) { \
    LOAD_BLOCK (k4, kbase, kb); \
    fcoopmatNV<32, gl_ScopeSubgroup, 16, 16> s[4]; \
    [[unroll]] for (uint j = 0u; j < 4u; j++) { \
      s[j] = fcoopmatNV<32, gl_ScopeSubgroup, 16, 16> (0.0); \
      [[unroll]] for (uint kd = 0u; kd < NF; kd++) { \
        fcoopmatNV<16, gl_ScopeSubgroup, 16, 16> fk; \
        coopMatLoadNV (fk, KV, (j * 16u) * S4 + kd * 2u, S4, true); \
        s[j] = coopMatMulAddNV (fq[kd], fk, s[j]); \
      } \
      coopMatStoreNV (s[j], Ss[warp], j * 16u, BK, false); \
    } \
    subgroupMemoryBarrierShared (); \
    subgroupBarrier (); \
  }

float score (uint warp, uint r, uint c, uint i, uint j, uint b, uint h)
{
  if (j >= p.Lk)
    return -1.0 / 0.0;
  float x = Ss[warp][r * BK + c] * p.scale;
  if ((p.flags & 1u) != 0u && i < p.Lq)
    x += float (mask[p.m_off + b * p.m_bs + h * p.m_hs + i * p.Lk + j]);
  if ((p.flags & 2u) != 0u && j > i)
    x = -1.0 / 0.0;
  return x;
}

void main ()
{
  uint tid = gl_LocalInvocationID.x;
  uint warp = tid / 32u, lane = tid % 32u;
  uint q0 = gl_WorkGroupID.x * 64u;
  uint bh = gl_WorkGroupID.y + p.bh0;
  uint b = bh / p.H, h = bh % p.H;
  uint qrow0 = q0 + warp * 16u;
  uint qbase = p.q_off + bh * p.Lq * HD;
  uint kbase = p.k_off + bh * p.Lk * HD;
  uint vbase = p.v_off + bh * p.Lk * HD;

  fcoopmatNV<16, gl_ScopeSubgroup, 16, 16> fq[NF];
  bool ragged = qrow0 + 16u > p.Lq;   /* this warp's rows pass the end */
  if (!ragged) {
    [[unroll]] for (uint kd = 0u; kd < NF; kd++)
      coopMatLoadNV (fq[kd], q, qbase + qrow0 * HD + kd * 16u, HD, false);
  } else {
    /* through Ps[warp] (16 x 64 halves), 64 columns at a time, rows past Lq zero */
    [[unroll]] for (uint c0 = 0u; c0 < HD; c0 += 64u) {
      for (uint e = lane; e < 16u * 64u; e += 32u) {
        uint r = e / 64u, c = e % 64u;
        Ps[warp][e] = qrow0 + r < p.Lq ? q[qbase + (qrow0 + r) * HD + c0 + c] : float16_t (0.0);
      }
      subgroupMemoryBarrierShared ();
      subgroupBarrier ();
      [[unroll]] for (uint kd = 0u; kd < 4u; kd++)
        coopMatLoadNV (fq[c0 / 16u + kd], Ps[warp], kd * 16u, BK, false);
      subgroupMemoryBarrierShared ();
      subgroupBarrier ();
    }
  }

  uint kv_end = p.Lk;
  if ((p.flags & 2u) != 0u)
    kv_end = min (p.Lk, q0 + 64u);

#ifdef ROT
  /* ROT variant: two lanes per row (r = lane & 15, half = lane >> 4), each
   * walking its 32 columns in an order rotated by the row, so the 32 lanes hit
   * 16 different banks per step; one shuffle per reduction. */
  uint r = lane & 15u, half_ = lane >> 4;
  uint i = qrow0 + r;
  float m = -1.0 / 0.0, l = 0.0;
  for (uint kb = 0u; kb < kv_end; kb += BK) {
    SCORES (kb);
    float x[32];
    float mx = m;
    [[unroll]] for (uint c = 0u; c < 32u; c++) {
      uint cc = half_ * 32u + ((c + r) & 31u);
      x[c] = score (warp, r, cc, i, kb + cc, b, h);
      mx = max (mx, x[c]);
    }
    mx = max (mx, subgroupShuffleXor (mx, 16u));
    if (mx != -1.0 / 0.0) {
      float sum = 0.0;
      [[unroll]] for (uint c = 0u; c < 32u; c++)
        sum += x[c] == -1.0 / 0.0 ? 0.0 : exp (x[c] - mx);
      sum += subgroupShuffleXor (sum, 16u);
      l = (m == -1.0 / 0.0 ? 0.0 : l * exp (m - mx)) + sum;
      m = mx;
    }
    subgroupBarrier ();
  }
  float inv_l = l > 0.0 ? 1.0 / l : 0.0;

  fcoopmatNV<32, gl_ScopeSubgroup, 16, 16> acc[NF];
  [[unroll]] for (uint j = 0u; j < NF; j++)
    acc[j] = fcoopmatNV<32, gl_ScopeSubgroup, 16, 16> (0.0);
  for (uint kb = 0u; kb < kv_end; kb += BK) {
    SCORES (kb);
    [[unroll]] for (uint c = 0u; c < 32u; c++) {
      uint cc = half_ * 32u + ((c + r) & 31u);
      float x = score (warp, r, cc, i, kb + cc, b, h);
      float pr = (x == -1.0 / 0.0 || m == -1.0 / 0.0) ? 0.0 : exp (x - m) * inv_l;
      Ps[warp][r * BK + cc] = float16_t (pr);
    }
    subgroupMemoryBarrierShared ();
    subgroupBarrier ();
    LOAD_BLOCK (v4, vbase, kb);
    [[unroll]] for (uint kk = 0u; kk < 4u; kk++) {
      fcoopmatNV<16, gl_ScopeSubgroup, 16, 16> fp;
      coopMatLoadNV (fp, Ps[warp], kk * 16u, BK, false);
      [[unroll]] for (uint j = 0u; j < NF; j++) {
        fcoopmatNV<16, gl_ScopeSubgroup, 16, 16> fv;
        coopMatLoadNV (fv, KV, (kk * 16u) * S4 + j * 2u, S4, false);
        acc[j] = coopMatMulAddNV (fp, fv, acc[j]);
      }
    }
    subgroupBarrier ();
  }
#else
  /* pass 1: row max and sum. Lane = column (two halves of 32): conflict-free
   * shared reads, coalesced mask reads; every lane keeps all 16 row stats. */
  float m[16], l[16];
  [[unroll]] for (uint r = 0u; r < 16u; r++) {
    m[r] = -1.0 / 0.0;
    l[r] = 0.0;
  }
  for (uint kb = 0u; kb < kv_end; kb += BK) {
    SCORES (kb);
    [[unroll]] for (uint r = 0u; r < 16u; r++) {
      uint i = qrow0 + r;
      float x0 = score (warp, r, lane, i, kb + lane, b, h);
      float x1 = score (warp, r, lane + 32u, i, kb + lane + 32u, b, h);
      float mx = subgroupMax (max (x0, x1));
      if (mx != -1.0 / 0.0) {
        float e = (x0 == -1.0 / 0.0 ? 0.0 : exp (x0 - mx)) + (x1 == -1.0 / 0.0 ? 0.0 : exp (x1 - mx));
        float sum = subgroupAdd (e);
        float mo = max (m[r], mx);
        l[r] = (m[r] == -1.0 / 0.0 ? 0.0 : l[r] * exp (m[r] - mo)) + sum * exp (mx - mo);
        m[r] = mo;
      }
    }
    subgroupBarrier ();
  }

  /* pass 2: O = P V */
  fcoopmatNV<32, gl_ScopeSubgroup, 16, 16> acc[NF];
  [[unroll]] for (uint j = 0u; j < NF; j++)
    acc[j] = fcoopmatNV<32, gl_ScopeSubgroup, 16, 16> (0.0);
  for (uint kb = 0u; kb < kv_end; kb += BK) {
    SCORES (kb);
    [[unroll]] for (uint r = 0u; r < 16u; r++) {
      uint i = qrow0 + r;
      float inv_l = l[r] > 0.0 ? 1.0 / l[r] : 0.0;
      [[unroll]] for (uint t = 0u; t < 2u; t++) {
        uint cc = lane + 32u * t;
        float x = score (warp, r, cc, i, kb + cc, b, h);
        float pr = (x == -1.0 / 0.0 || m[r] == -1.0 / 0.0) ? 0.0 : exp (x - m[r]) * inv_l;
        Ps[warp][r * BK + cc] = float16_t (pr);
      }
    }
    subgroupMemoryBarrierShared ();
    subgroupBarrier ();
    LOAD_BLOCK (v4, vbase, kb);
    [[unroll]] for (uint kk = 0u; kk < 4u; kk++) {
      fcoopmatNV<16, gl_ScopeSubgroup, 16, 16> fp;
      coopMatLoadNV (fp, Ps[warp], kk * 16u, BK, false);
      [[unroll]] for (uint j = 0u; j < NF; j++) {
        fcoopmatNV<16, gl_ScopeSubgroup, 16, 16> fv;
        coopMatLoadNV (fv, KV, (kk * 16u) * S4 + j * 2u, S4, false);
        acc[j] = coopMatMulAddNV (fp, fv, acc[j]);
      }
    }
    subgroupBarrier ();
  }
#endif
  [[unroll]] for (uint j = 0u; j < NF; j++) {
    fcoopmatNV<16, gl_ScopeSubgroup, 16, 16> hres = fcoopmatNV<16, gl_ScopeSubgroup, 16, 16> (acc[j]);
    if (!ragged) {
      coopMatStoreNV (hres, o, p.o_off + (bh * p.Lq + qrow0) * HD + j * 16u, HD, false);
    } else {
      /* staged in Ps[warp], then the rows before Lq */
      subgroupBarrier ();
      coopMatStoreNV (hres, Ps[warp], 0u, 16u, false);
      subgroupMemoryBarrierShared ();
      subgroupBarrier ();
      for (uint e = lane; e < 256u; e += 32u) {
        uint r = e / 16u, c = e % 16u;
        if (qrow0 + r < p.Lq)
          o[p.o_off + (bh * p.Lq + qrow0 + r) * HD + j * 16u + c] = Ps[warp][e];
      }
      subgroupMemoryBarrierShared ();
      subgroupBarrier ();
    }
  }
#ifdef ROT
  if (half_ == 0u && i < p.Lq)
    lse[p.l_off + bh * p.Lq + i] = l > 0.0 ? m + log (l) : -1.0 / 0.0;
#else
  [[unroll]] for (uint rr = 0u; rr < 16u; rr++)
    if (lane == rr && qrow0 + rr < p.Lq)
      lse[p.l_off + bh * p.Lq + qrow0 + rr] = l[rr] > 0.0 ? m[rr] + log (l[rr]) : -1.0 / 0.0;
#endif
}
