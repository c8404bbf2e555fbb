#version 450
/* Fused attention forward without tensor cores (any dtype, fp32 arithmetic),
 * register-blocked: one workgroup of 256 invocations per (BQ query rows,
 * batch*head), K/V streamed in tiles of BK keys with an online softmax, the
 * scores and the output held in registers. Interface, mask, causality and
 * outputs (o, lse) as attention_fwd.comp, which it replaces where the device
 * has subgroup shuffles among 8 neighbouring invocations.
 *
 * Invocations form row groups of 8 (g = tid / 8, x = tid % 8, neighbouring
 * invocations of one subgroup). Group g owns the RPT query rows g + 32 r; of
 * each K tile, invocation x computes the scores of keys x * KPT .. + KPT - 1;
 * of the output, the columns 4 x + 32 c (c < RD / 32, 4 each). Row maxima and
 * sums combine over the group by XOR shuffles, and P . V takes each key's
 * probability from the invocation that holds it (subgroupShuffle).
 *
 * RD 64 (D, Dv <= 64): BQ 64, BK 32; RD 128: BQ 32, BK 16. Shared memory:
 * Q^T [RD][BQ] (loaded once), K^T [RD][BK] and V [BK][RD], 32 KiB in either
 * case. The next K/V tile is loaded into registers while the current one is
 * used (unconditionally, the last tile again at the end: branches around the
 * loads let the H100's compiler sink them to their stores). VEC (a
 * specialization constant): D, Dv and the offsets are multiples of 4, so
 * tiles are read 4 elements at a time.
 *
 * DIV (the div64 variants): the space half of divided space-time attention
 * from a packed qkv [B, N, 3 W] into merged heads [B, N, W] (W = H D), as
 * attention_fwd_cm2.comp's DIV: batch*head (b, frame f, head h), queries the
 * frame's P patch tokens, keys the CLS token and those patches. Push
 * constants: D = Dv = the head size, H, m_bs = N, m_hs = F, Lq = P, Lk = P + 1,
 * q_off / k_off / v_off into qkv, o_off. No lse. */
#include "ss-common.glsl"
#include "attention_common.glsl"
#extension GL_KHR_shader_subgroup_basic : require
#extension GL_KHR_shader_subgroup_shuffle : require
#extension GL_EXT_control_flow_attributes : require

#ifndef RD
#define RD 64
#endif
#if RD == 64
#define BQ 64
#define BK 32
#else
#define BQ 32
#define BK 16
#endif
#define RPT (BQ / 32)         /* query rows per invocation */
#define KPT (BK / 8)          /* keys per invocation */
#define CPT (RD / 32)         /* output vec4s per row and invocation */
#define KLD (RD * BK / 4 / 256)   /* vec4s of a K (or V) tile per invocation: 2 */

layout (local_size_x = 256) in;
layout (constant_id = 0) const bool VEC = false;

layout (binding = 0) readonly buffer Qb { SS_T q[]; };
layout (binding = 1) readonly buffer Kb { SS_T k[]; };
layout (binding = 2) readonly buffer Vb { SS_T v[]; };
layout (binding = 3) readonly buffer Mb { SS_T mask[]; };
layout (binding = 4) writeonly buffer Ob { SS_T o[]; };
layout (binding = 5) writeonly buffer Lb { float lse[]; };
layout (binding = 0) readonly buffer Q4 { SS_T4 q4[]; };
layout (binding = 1) readonly buffer K4 { SS_T4 k4[]; };
layout (binding = 2) readonly buffer V4 { SS_T4 v4[]; };

shared float Qt[RD][BQ];
shared float Kt[RD][BK];
shared vec4 Vs[BK][RD / 4];

/* 4 elements (d .. d + 3) of a row of length len at base; zeros past len or
 * for rows outside the tensor */
vec4 load_q (uint base, uint d, bool row)
{
  if (!row || d >= p.D)
    return vec4 (0.0);
  if (VEC)
    return ss_load4 (q4[(base + d) / 4u]);
  vec4 r;
  [[unroll]] for (uint i = 0u; i < 4u; i++)
    r[i] = d + i < p.D ? SS_LOAD (q[base + d + i]) : 0.0;
  return r;
}

vec4 load_k (uint base, uint d, bool row)
{
  if (!row || d >= p.D)
    return vec4 (0.0);
  if (VEC)
    return ss_load4 (k4[(base + d) / 4u]);
  vec4 r;
  [[unroll]] for (uint i = 0u; i < 4u; i++)
    r[i] = d + i < p.D ? SS_LOAD (k[base + d + i]) : 0.0;
  return r;
}

vec4 load_v (uint base, uint d, bool row)
{
  if (!row || d >= p.Dv)
    return vec4 (0.0);
  if (VEC)
    return ss_load4 (v4[(base + d) / 4u]);
  vec4 r;
  [[unroll]] for (uint i = 0u; i < 4u; i++)
    r[i] = d + i < p.Dv ? SS_LOAD (v[base + d + i]) : 0.0;
  return r;
}

void main ()
{
  uint tid = gl_LocalInvocationID.x;
  uint g = tid / 8u, x = tid % 8u;
  uint lane0 = gl_SubgroupInvocationID & ~7u;
  uint q0 = gl_WorkGroupID.x * BQ;
  uint bh = gl_WorkGroupID.y + p.bh0;
  uint b = bh / p.H, h = bh % p.H;
#ifdef DIV
  uint hd_ = bh % p.H, bf_ = bh / p.H, w_ = p.H * p.D;
  uint cls_tok = (bf_ / p.m_hs) * p.m_bs, tok0 = cls_tok + 1u + (bf_ % p.m_hs) * p.Lq;
#define QROW(r) (p.q_off + hd_ * p.D + (tok0 + (r)) * 3u * w_)
#define KVTOK(j) ((j) == 0u ? cls_tok : tok0 + (j) - 1u)
#define KROW(j) (p.k_off + hd_ * p.D + KVTOK (j) * 3u * w_)
#define VROW(j) (p.v_off + hd_ * p.D + KVTOK (j) * 3u * w_)
#else
  uint qbase = p.q_off + bh * p.Lq * p.D;
  uint kbase = p.k_off + bh * p.Lk * p.D;
  uint vbase = p.v_off + bh * p.Lk * p.Dv;
#define QROW(r) (qbase + (r) * p.D)
#define KROW(j) (kbase + (j) * p.D)
#define VROW(j) (vbase + (j) * p.Dv)
#endif

  /* Q^T: invocation e loads 4 elements (row e % BQ, d 4 (e / BQ)); consecutive
   * invocations store consecutive rows */
  [[unroll]] for (uint i = 0u; i < RD * BQ / 4u / 256u; i++) {
    uint e = tid + 256u * i;
    uint r = e % BQ, d = 4u * (e / BQ);
    vec4 t = load_q (QROW (q0 + r), d, q0 + r < p.Lq);
    Qt[d][r] = t.x; Qt[d + 1u][r] = t.y; Qt[d + 2u][r] = t.z; Qt[d + 3u][r] = t.w;
  }

  /* the K/V tile loads of this invocation: K as (key e % BK, d 4 (e / BK)),
   * V as (key e / (RD / 4), d 4 (e % (RD / 4))) */
  vec4 kr[KLD], vr[KLD];
#define LOAD_TILE(kb) \
  [[unroll]] for (uint i = 0u; i < KLD; i++) { \
    uint e = tid + 256u * i; \
    uint kj = (kb) + e % BK; \
    kr[i] = load_k (KROW (kj), 4u * (e / BK), kj < p.Lk); \
    uint vj = (kb) + e / (RD / 4u); \
    vr[i] = load_v (VROW (vj), 4u * (e % (RD / 4u)), vj < p.Lk); \
  }
#define STORE_TILE() \
  [[unroll]] for (uint i = 0u; i < KLD; i++) { \
    uint e = tid + 256u * i; \
    uint j = e % BK, d = 4u * (e / BK); \
    Kt[d][j] = kr[i].x; Kt[d + 1u][j] = kr[i].y; Kt[d + 2u][j] = kr[i].z; Kt[d + 3u][j] = kr[i].w; \
    Vs[e / (RD / 4u)][e % (RD / 4u)] = vr[i]; \
  }

  float m[RPT], l[RPT];
  vec4 acc[RPT][CPT];
  [[unroll]] for (uint r = 0u; r < RPT; r++) {
    m[r] = -1.0 / 0.0;
    l[r] = 0.0;
    [[unroll]] for (uint c = 0u; c < CPT; c++)
      acc[r][c] = vec4 (0.0);
  }

  uint kv_end = p.Lk;
  if ((p.flags & 2u) != 0u)
    kv_end = min (p.Lk, q0 + BQ);
  uint tiles = (kv_end + BK - 1u) / BK;
  if (tiles > 0u) {
    LOAD_TILE (0u)
    STORE_TILE ()
  }
  barrier ();
  for (uint t = 0u; t < tiles; t++) {
    uint kb = t * BK;
    LOAD_TILE (min (t + 1u, tiles - 1u) * BK)

    /* scores of rows g + 32 r, keys kb + x KPT + j */
    float s[RPT][KPT];
    [[unroll]] for (uint r = 0u; r < RPT; r++)
      [[unroll]] for (uint j = 0u; j < KPT; j++)
        s[r][j] = 0.0;
    [[unroll]] for (uint d = 0u; d < RD; d++) {
#if KPT == 4
      vec4 kv = vec4 (Kt[d][4u * x], Kt[d][4u * x + 1u], Kt[d][4u * x + 2u], Kt[d][4u * x + 3u]);
#else
      vec2 kv = vec2 (Kt[d][2u * x], Kt[d][2u * x + 1u]);
#endif
      [[unroll]] for (uint r = 0u; r < RPT; r++) {
        float qv = Qt[d][g + 32u * r];
        [[unroll]] for (uint j = 0u; j < KPT; j++)
          s[r][j] = fma (qv, kv[j], s[r][j]);
      }
    }

    /* online softmax over the group's 8 invocations */
    float pr[RPT][KPT];
    [[unroll]] for (uint r = 0u; r < RPT; r++) {
      uint i = q0 + g + 32u * r;
      float mx = -1.0 / 0.0;
      [[unroll]] for (uint j = 0u; j < KPT; j++) {
        uint kj = kb + x * KPT + j;
        float sc = s[r][j] * p.scale + att_score_bias (bh, i, kj);
        if ((p.flags & 1u) != 0u && i < p.Lq && kj < p.Lk)
          sc += SS_LOAD (mask[p.m_off + b * p.m_bs + h * p.m_hs + i * p.Lk + kj]);
        s[r][j] = sc;
        mx = max (mx, sc);
      }
      mx = max (mx, subgroupShuffleXor (mx, 1u));
      mx = max (mx, subgroupShuffleXor (mx, 2u));
      mx = max (mx, subgroupShuffleXor (mx, 4u));
      float mnew = max (m[r], mx);
      /* every score so far -inf (masked): nothing to add yet */
      bool none = mnew == -1.0 / 0.0;
      float alpha = none || m[r] == -1.0 / 0.0 ? (none ? 1.0 : 0.0) : exp (m[r] - mnew);
      float sum = 0.0;
      [[unroll]] for (uint j = 0u; j < KPT; j++) {
        pr[r][j] = none ? 0.0 : exp (s[r][j] - mnew);
        sum += pr[r][j];
      }
      sum += subgroupShuffleXor (sum, 1u);
      sum += subgroupShuffleXor (sum, 2u);
      sum += subgroupShuffleXor (sum, 4u);
      l[r] = l[r] * alpha + sum;
      m[r] = mnew;
      [[unroll]] for (uint c = 0u; c < CPT; c++)
        acc[r][c] *= alpha;
    }

    /* O += P . V: key j's probability from invocation j / KPT of the group */
    [[unroll]] for (uint j = 0u; j < BK; j++) {
      [[unroll]] for (uint r = 0u; r < RPT; r++) {
        float pj = subgroupShuffle (pr[r][j % KPT], lane0 + j / KPT);
        [[unroll]] for (uint c = 0u; c < CPT; c++)
          acc[r][c] = fma (vec4 (pj), Vs[j][x + 8u * c], acc[r][c]);
      }
    }
    barrier ();
    STORE_TILE ()
    barrier ();
  }

  [[unroll]] for (uint r = 0u; r < RPT; r++) {
    uint i = q0 + g + 32u * r;
    if (i >= p.Lq)
      continue;
    float inv = l[r] > 0.0 ? 1.0 / l[r] : 0.0;
#ifdef DIV
    uint obase = p.o_off + hd_ * p.D + (tok0 + i) * w_;
#else
    uint obase = p.o_off + (bh * p.Lq + i) * p.Dv;
#endif
    [[unroll]] for (uint c = 0u; c < CPT; c++) {
      uint d = 4u * (x + 8u * c);
      vec4 val = acc[r][c] * inv;
      [[unroll]] for (uint e = 0u; e < 4u; e++)
        if (d + e < p.Dv)
          o[obase + d + e] = SS_STORE (val[e]);
    }
#ifndef DIV
    if (x == 0u)
      lse[p.l_off + bh * p.Lq + i] = l[r] > 0.0 ? m[r] + log (l[r]) : -1.0 / 0.0;
#endif
  }
}
