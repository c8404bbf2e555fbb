#version 450
/* Attention backward for dK and dV: one workgroup per (16 keys, batch*head);
 * loops over query tiles of 8, recomputing P = exp(S - lse) per tile.
 *   dV[j] = sum_i P[i,j] dO[i];  dS = P * (dO V^T - dsum);  dK[j] = scale * sum_i dS[i,j] Q[i] */
#include "ss-common.glsl"
#include "attention_common.glsl"
#define BK 16
#define BQ 8
layout (local_size_x = 128) in;

layout (binding = 0) readonly buffer Qb { SS_T q[]; };
layout (binding = 1) readonly buffer Kb { SS_T k[]; };
layout (binding = 2) readonly buffer Vb { SS_T v[]; };
layout (binding = 3) readonly buffer Mb { SS_T mask[]; };
layout (binding = 4) readonly buffer DOb { SS_T dout[]; };
layout (binding = 5) readonly buffer Lb { float lse[]; };   /* lse at l_off, dsum at g_off */
/* outputs are fresh tensors (offset 0) */
layout (binding = 6) writeonly buffer DKb { SS_T dk[]; };
layout (binding = 7) writeonly buffer DVb { SS_T dv[]; };

shared float Ks[BK][DPAD];
shared float Vs[BK][DPAD];
shared float Qs[BQ][DPAD];
shared float Ds[BQ][DPAD];
shared float Ps[BQ][BK];
shared float Gs[BQ][BK];
shared float Ls[BQ], Sm[BQ];

void main ()
{
  uint tid = gl_LocalInvocationID.x;
  uint k0 = gl_WorkGroupID.x * BK;
  uint bh = gl_WorkGroupID.y + p.bh0;
  uint b = bh / p.H, h = bh % p.H;
  uint qbase = p.q_off + bh * p.Lq * p.D;
  uint kbase = p.k_off + bh * p.Lk * p.D;
  uint vbase = p.v_off + bh * p.Lk * p.Dv;
  uint obase = p.do_off + bh * p.Lq * p.Dv;

  for (uint e = tid; e < BK * DMAX; e += 128u) {
    uint r = e / DMAX, c = e % DMAX;
    bool in_k = k0 + r < p.Lk;
    Ks[r][c] = (in_k && c < p.D) ? SS_LOAD (k[kbase + (k0 + r) * p.D + c]) : 0.0;
    Vs[r][c] = (in_k && c < p.Dv) ? SS_LOAD (v[vbase + (k0 + r) * p.Dv + c]) : 0.0;
  }
  uint ra = tid / 8u, la = tid % 8u;     /* accumulator row (key) and lane */
  float dka[DMAX / 8], dva[DMAX / 8];
  for (int i = 0; i < DMAX / 8; i++) {
    dka[i] = 0.0;
    dva[i] = 0.0;
  }
  uint is = tid / BK, js = tid % BK;     /* score element */
  uint q_start = 0u;
  if ((p.flags & 2u) != 0u)
    q_start = (k0 / BQ) * BQ;
  for (uint qb = q_start; qb < p.Lq; qb += BQ) {
    barrier ();
    for (uint e = tid; e < BQ * DMAX; e += 128u) {
      uint r = e / DMAX, c = e % DMAX;
      if (c >= max (p.D, p.Dv))
        continue;
      bool in_q = qb + r < p.Lq;
      Qs[r][c] = (in_q && c < p.D) ? SS_LOAD (q[qbase + (qb + r) * p.D + c]) : 0.0;
      Ds[r][c] = (in_q && c < p.Dv) ? SS_LOAD (dout[obase + (qb + r) * p.Dv + c]) : 0.0;
    }
    if (tid < BQ) {
      bool in_q = qb + tid < p.Lq;
      Ls[tid] = in_q ? lse[p.l_off + bh * p.Lq + qb + tid] : -1.0 / 0.0;
      Sm[tid] = in_q ? lse[p.g_off + bh * p.Lq + qb + tid] : 0.0;
    }
    barrier ();
    {
      uint i = qb + is, j = k0 + js;
      float s = 0.0, dp = 0.0;
      for (uint c = 0; c < p.D; c++)
        s += Qs[is][c] * Ks[js][c];
      for (uint c = 0; c < p.Dv; c++)
        dp += Ds[is][c] * Vs[js][c];
      s *= p.scale;
      if ((p.flags & 1u) != 0u && i < p.Lq && j < p.Lk)
        s += SS_LOAD (mask[p.m_off + b * p.m_bs + h * p.m_hs + i * p.Lk + j]);
      s += att_score_bias (bh, i, j);
      float l = Ls[is];
      float pr = (l == -1.0 / 0.0 || s == -1.0 / 0.0) ? 0.0 : exp (s - l);
      Ps[is][js] = pr;
      Gs[is][js] = pr * (dp - Sm[is]);
    }
    barrier ();
    for (uint ii = 0; ii < DMAX / 8; ii++) {
      uint c = la + 8u * ii;
      if (c >= max (p.D, p.Dv))
        break;
      float sv = 0.0, sk = 0.0;
      for (uint r = 0; r < BQ; r++) {
        sv += Ps[r][ra] * Ds[r][c];
        sk += Gs[r][ra] * Qs[r][c];
      }
      dva[ii] += sv;
      dka[ii] += sk;
    }
  }
  uint j = k0 + ra;
  if (j < p.Lk) {
    for (uint ii = 0; ii < DMAX / 8; ii++) {
      uint c = la + 8u * ii;
      if (c < p.D)
        dk[(bh * p.Lk + j) * p.D + c] = SS_STORE (dka[ii] * p.scale);
      if (c < p.Dv)
        dv[(bh * p.Lk + j) * p.Dv + c] = SS_STORE (dva[ii]);
    }
  }
}
