#version 450
/* Attention backward for dQ: one workgroup per (16 queries, batch*head);
 * loops over key tiles of 8: dQ[i] = scale * sum_j P[i,j] (dO[i].V[j] - dsum[i]) K[j]. */
#include "ss-common.glsl"
#include "attention_common.glsl"
#define BQ 16
#define BK 8
layout (local_size_x = 128) in;

layout (binding = 0) readonly buffer Qb { SS_T q[]; };
layout (binding = 1) readonly buffer Kb { SS_T k[]; };
layout (binding = 2) readonly buffer Vb { SS_T v[]; };
layout (binding = 3) readonly buffer Mb { SS_T mask[]; };
layout (binding = 4) readonly buffer DOb { SS_T dout[]; };
layout (binding = 5) readonly buffer Lb { float lse[]; };
/* output is a fresh tensor (offset 0) */
layout (binding = 6) writeonly buffer DQb { SS_T dq[]; };

shared float Qs[BQ][DPAD];
shared float Ds[BQ][DPAD];
shared float Ks[BK][DPAD];
shared float Vs[BK][DPAD];
shared float Gs[BQ][BK];
shared float Ls[BQ], Sm[BQ];

void main ()
{
  uint tid = gl_LocalInvocationID.x;
  uint q0 = gl_WorkGroupID.x * BQ;
  uint bh = gl_WorkGroupID.y + p.bh0;
  uint b = bh / p.H, h = bh % p.H;
  uint qbase = p.q_off + bh * p.Lq * p.D;
  uint kbase = p.k_off + bh * p.Lk * p.D;
  uint vbase = p.v_off + bh * p.Lk * p.Dv;
  uint obase = p.do_off + bh * p.Lq * p.Dv;

  for (uint e = tid; e < BQ * DMAX; e += 128u) {
    uint r = e / DMAX, c = e % DMAX;
    bool in_q = q0 + r < p.Lq;
    Qs[r][c] = (in_q && c < p.D) ? SS_LOAD (q[qbase + (q0 + r) * p.D + c]) : 0.0;
    Ds[r][c] = (in_q && c < p.Dv) ? SS_LOAD (dout[obase + (q0 + r) * p.Dv + c]) : 0.0;
  }
  if (tid < BQ) {
    bool in_q = q0 + tid < p.Lq;
    Ls[tid] = in_q ? lse[p.l_off + bh * p.Lq + q0 + tid] : -1.0 / 0.0;
    Sm[tid] = in_q ? lse[p.g_off + bh * p.Lq + q0 + tid] : 0.0;
  }
  uint ra = tid / 8u, la = tid % 8u;
  float dqa[DMAX / 8];
  for (int i = 0; i < DMAX / 8; i++)
    dqa[i] = 0.0;
  uint is = tid / BK, js = tid % BK;
  uint kv_end = p.Lk;
  if ((p.flags & 2u) != 0u)
    kv_end = min (p.Lk, q0 + BQ);
  for (uint kb = 0; kb < kv_end; kb += BK) {
    barrier ();
    for (uint e = tid; e < BK * DMAX; e += 128u) {
      uint r = e / DMAX, c = e % DMAX;
      if (c >= max (p.D, p.Dv))
        continue;
      bool in_k = kb + r < p.Lk;
      Ks[r][c] = (in_k && c < p.D) ? SS_LOAD (k[kbase + (kb + r) * p.D + c]) : 0.0;
      Vs[r][c] = (in_k && c < p.Dv) ? SS_LOAD (v[vbase + (kb + r) * p.Dv + c]) : 0.0;
    }
    barrier ();
    {
      uint i = q0 + is, j = kb + js;
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
      Gs[is][js] = pr * (dp - Sm[is]);
    }
    barrier ();
    for (uint ii = 0; ii < DMAX / 8; ii++) {
      uint c = la + 8u * ii;
      if (c >= p.D)
        break;
      float sk = 0.0;
      for (uint r = 0; r < BK; r++)
        sk += Gs[ra][r] * Ks[r][c];
      dqa[ii] += sk;
    }
  }
  uint i = q0 + ra;
  if (i < p.Lq)
    for (uint ii = 0; ii < DMAX / 8; ii++) {
      uint c = la + 8u * ii;
      if (c < p.D)
        dq[(bh * p.Lq + i) * p.D + c] = SS_STORE (dqa[ii] * p.scale);
    }
}
