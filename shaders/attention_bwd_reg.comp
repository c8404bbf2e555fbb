#version 450
/* Attention backward without tensor cores (any dtype, fp32 arithmetic),
 * register-blocked like attention_fwd_reg.comp; interface of
 * attention_bwd_dkv.comp (DKV) and attention_bwd_dq.comp (otherwise), which it
 * replaces where 8 neighbouring invocations can shuffle. P = exp(S - lse) is
 * recomputed per tile, dS = P * (dO . V^T - dsum).
 *
 * One workgroup owns ROWS "rows", loaded once: keys for DKV (R1 = K, R2 = V),
 * queries otherwise (R1 = Q, R2 = dO). It streams tiles of COLS "columns",
 * the other side (C1 = Q, C2 = dO for DKV; C1 = K, C2 = V). Invocations form
 * groups of 8 (g = tid / 8 owns row g; x = tid % 8 computes the scores of
 * columns x + 8 c and accumulates output columns 4 x + 32 o, 4 each):
 *   DKV: dV_j += P_ij dO_i, dK_j += dS_ij Q_i (dK scaled at the end)
 *   DQ:  dQ_i += dS_ij K_j (scaled at the end)
 * Each column's P and dS come from the invocation that computed them
 * (subgroupShuffle). All tiles are row-major with rows padded by 4 floats, so
 * the 8 invocations of a group read 8 different banks; dot products run over
 * vec4s along the head dimension.
 *
 * RD 64 (D, Dv <= 64): ROWS 32, COLS 16, 256 invocations; RD 128: ROWS 16,
 * COLS 8, 128 invocations (26 and 25 KiB of shared memory). VEC: D, Dv and
 * the offsets are multiples of 4 (4-element loads). */
#include "ss-common.glsl"
#include "attention_common.glsl"
#extension GL_KHR_shader_subgroup_basic : require
#extension GL_KHR_shader_subgroup_shuffle : require
#extension GL_EXT_control_flow_attributes : require

#ifndef RD
#define RD 64
#endif
#if RD == 64
#define ROWS 32
#define COLS 16
#else
#define ROWS 16
#define COLS 8
#endif
#define NT (ROWS * 8)
#define RDP (RD + 4)           /* padded row length */
#define RV (RD / 4)            /* vec4s per row */
#define CPX (COLS / 8)         /* columns per invocation */
#define OPX (RD / 32)          /* output vec4s per invocation */

layout (local_size_x = NT) in;
layout (constant_id = 0) const bool VEC = false;

layout (binding = 0) readonly buffer Qb { SS_T q[]; };
layout (binding = 1) readonly buffer Kb { SS_T k[]; };
layout (binding = 2) readonly buffer Vb { SS_T v[]; };
layout (binding = 3) readonly buffer Mb { SS_T mask[]; };
layout (binding = 4) readonly buffer DOb { SS_T dout[]; };
layout (binding = 5) readonly buffer Lb { float lse[]; };   /* lse at l_off, dsum at g_off */
layout (binding = 0) readonly buffer Q4 { SS_T4 q4[]; };
layout (binding = 1) readonly buffer K4 { SS_T4 k4[]; };
layout (binding = 2) readonly buffer V4 { SS_T4 v4[]; };
layout (binding = 4) readonly buffer DO4 { SS_T4 dout4[]; };
/* outputs are fresh tensors (offset 0) */
#ifdef DKV
layout (binding = 6) writeonly buffer DKb { SS_T dk[]; };
layout (binding = 7) writeonly buffer DVb { SS_T dv[]; };
#else
layout (binding = 6) writeonly buffer DQb { SS_T dq[]; };
#endif

shared vec4 R1[ROWS][RDP / 4], R2[ROWS][RDP / 4];
shared vec4 C1[COLS][RDP / 4], C2[COLS][RDP / 4];

/* element 4 d4 .. + 3 of row `row` (of length len) of tensor t (0 q, 1 k,
 * 2 v, 3 dO) at base; zeros outside */
vec4 load4 (uint t, uint base, uint d4, uint len, bool row)
{
  uint d = 4u * d4;
  if (!row || d >= len)
    return vec4 (0.0);
  if (VEC) {
    uint i = (base + d) / 4u;
    return ss_load4 (t == 0u ? q4[i] : t == 1u ? k4[i] : t == 2u ? v4[i] : dout4[i]);
  }
  vec4 r;
  [[unroll]] for (uint e = 0u; e < 4u; e++) {
    uint i = base + d + e;
    r[e] = d + e >= len ? 0.0 : SS_LOAD (t == 0u ? q[i] : t == 1u ? k[i] : t == 2u ? v[i] : dout[i]);
  }
  return r;
}

void main ()
{
  uint tid = gl_LocalInvocationID.x;
  uint g = tid / 8u, x = tid % 8u;
  uint lane0 = gl_SubgroupInvocationID & ~7u;
  uint bh = gl_WorkGroupID.y + p.bh0;
  uint b = bh / p.H, h = bh % p.H;
  uint qbase = p.q_off + bh * p.Lq * p.D;
  uint kbase = p.k_off + bh * p.Lk * p.D;
  uint vbase = p.v_off + bh * p.Lk * p.Dv;
  uint obase = p.do_off + bh * p.Lq * p.Dv;
  uint r0 = gl_WorkGroupID.x * ROWS;
#ifdef DKV
  /* rows: keys (K, V); columns: queries (Q, dO) */
  const uint t1 = 1u, t2 = 2u, c1t = 0u, c2t = 3u;
  uint rbase1 = kbase, rbase2 = vbase, cbase1 = qbase, cbase2 = obase;
  uint rlen1 = p.D, rlen2 = p.Dv, nrows = p.Lk, ncols = p.Lq;
#else
  /* rows: queries (Q, dO); columns: keys (K, V) */
  const uint t1 = 0u, t2 = 3u, c1t = 1u, c2t = 2u;
  uint rbase1 = qbase, rbase2 = obase, cbase1 = kbase, cbase2 = vbase;
  uint rlen1 = p.D, rlen2 = p.Dv, nrows = p.Lq, ncols = p.Lk;
#endif
  /* both row tensors once */
  for (uint e = tid; e < ROWS * RV; e += NT) {
    uint r = e / RV, d4 = e % RV;
    bool in_r = r0 + r < nrows;
    R1[r][d4] = load4 (t1, rbase1 + (r0 + r) * rlen1, d4, rlen1, in_r);
    R2[r][d4] = load4 (t2, rbase2 + (r0 + r) * rlen2, d4, rlen2, in_r);
  }

  /* the column tiles: invocation e of COLS * RV per tensor */
#define CLD ((COLS * RV + NT - 1) / NT)
  vec4 c1r[CLD], c2r[CLD];
#define LOAD_TILE(cb) \
  [[unroll]] for (uint i = 0u; i < CLD; i++) { \
    uint e = tid + NT * i, c = (cb) + e / RV; \
    bool in_c = c < ncols && e < COLS * RV; \
    c1r[i] = load4 (c1t, cbase1 + c * rlen1, e % RV, rlen1, in_c); \
    c2r[i] = load4 (c2t, cbase2 + c * rlen2, e % RV, rlen2, in_c); \
  }
#define STORE_TILE() \
  [[unroll]] for (uint i = 0u; i < CLD; i++) { \
    uint e = tid + NT * i; \
    if (e < COLS * RV) { \
      C1[e / RV][e % RV] = c1r[i]; \
      C2[e / RV][e % RV] = c2r[i]; \
    } \
  }

  uint row = r0 + g;
#ifdef DKV
  vec4 acc_v[OPX], acc_k[OPX];
  [[unroll]] for (uint o = 0u; o < OPX; o++) {
    acc_v[o] = vec4 (0.0);
    acc_k[o] = vec4 (0.0);
  }
  /* causal: queries before the first key tile's start see none of its keys */
  uint c_start = (p.flags & 2u) != 0u ? (r0 / COLS) * COLS : 0u;
  uint c_end = p.Lq;
#else
  vec4 acc_q[OPX];
  [[unroll]] for (uint o = 0u; o < OPX; o++)
    acc_q[o] = vec4 (0.0);
  bool row_in = row < p.Lq;
  float row_lse = row_in ? lse[p.l_off + bh * p.Lq + row] : -1.0 / 0.0;
  float row_dsum = row_in ? lse[p.g_off + bh * p.Lq + row] : 0.0;
  uint c_start = 0u;
  uint c_end = (p.flags & 2u) != 0u ? min (p.Lk, r0 + ROWS) : p.Lk;
#endif
  uint tiles = c_end > c_start ? (c_end - c_start + COLS - 1u) / COLS : 0u;
  if (tiles > 0u) {
    LOAD_TILE (c_start)
    STORE_TILE ()
  }
  barrier ();
  for (uint t = 0u; t < tiles; t++) {
    uint cb = c_start + t * COLS;
    LOAD_TILE (c_start + min (t + 1u, tiles - 1u) * COLS)

    /* this invocation's columns cb + x + 8 c: S (or S^T) and dP */
    vec4 sv[CPX], dpv[CPX];
    [[unroll]] for (uint c = 0u; c < CPX; c++) {
      sv[c] = vec4 (0.0);
      dpv[c] = vec4 (0.0);
    }
    [[unroll]] for (uint d4 = 0u; d4 < RV; d4++) {
      vec4 a1 = R1[g][d4], a2 = R2[g][d4];
      [[unroll]] for (uint c = 0u; c < CPX; c++) {
        sv[c] = fma (a1, C1[x + 8u * c][d4], sv[c]);
        dpv[c] = fma (a2, C2[x + 8u * c][d4], dpv[c]);
      }
    }
    float pc[CPX], dsc[CPX];
    [[unroll]] for (uint c = 0u; c < CPX; c++) {
      uint col = cb + x + 8u * c;
#ifdef DKV
      uint i = col, j = row;
      bool in_q = i < p.Lq;
      float li = in_q ? lse[p.l_off + bh * p.Lq + i] : -1.0 / 0.0;
      float di = in_q ? lse[p.g_off + bh * p.Lq + i] : 0.0;
#else
      uint i = row, j = col;
      float li = row_lse, di = row_dsum;
#endif
      float s = (sv[c].x + sv[c].y + sv[c].z + sv[c].w) * p.scale + att_score_bias (bh, i, j);
      if ((p.flags & 1u) != 0u && i < p.Lq && j < p.Lk)
        s += SS_LOAD (mask[p.m_off + b * p.m_bs + h * p.m_hs + i * p.Lk + j]);
      float pr = (li == -1.0 / 0.0 || s == -1.0 / 0.0) ? 0.0 : exp (s - li);
      float dp = dpv[c].x + dpv[c].y + dpv[c].z + dpv[c].w;
      pc[c] = pr;
      dsc[c] = pr * (dp - di);
    }

    /* accumulate over the tile's columns, each one's P and dS from the
     * invocation that holds it */
    [[unroll]] for (uint cc = 0u; cc < COLS; cc++) {
      uint src = lane0 + cc % 8u;
      float ds = subgroupShuffle (dsc[cc / 8u], src);
#ifdef DKV
      float pr = subgroupShuffle (pc[cc / 8u], src);
      [[unroll]] for (uint o = 0u; o < OPX; o++) {
        acc_v[o] = fma (vec4 (pr), C2[cc][x + 8u * o], acc_v[o]);
        acc_k[o] = fma (vec4 (ds), C1[cc][x + 8u * o], acc_k[o]);
      }
#else
      [[unroll]] for (uint o = 0u; o < OPX; o++)
        acc_q[o] = fma (vec4 (ds), C1[cc][x + 8u * o], acc_q[o]);
#endif
    }
    barrier ();
    STORE_TILE ()
    barrier ();
  }

  if (row >= nrows)
    return;
  [[unroll]] for (uint o = 0u; o < OPX; o++) {
    uint d = 4u * (x + 8u * o);
    [[unroll]] for (uint e = 0u; e < 4u; e++) {
#ifdef DKV
      if (d + e < p.D)
        dk[(bh * p.Lk + row) * p.D + d + e] = SS_STORE (acc_k[o][e] * p.scale);
      if (d + e < p.Dv)
        dv[(bh * p.Lk + row) * p.Dv + d + e] = SS_STORE (acc_v[o][e]);
#else
      if (d + e < p.D)
        dq[(bh * p.Lq + row) * p.D + d + e] = SS_STORE (acc_q[o][e] * p.scale);
#endif
    }
  }
}
