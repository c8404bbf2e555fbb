#version 450
/* Fused attention forward (flash-style): one workgroup per (16 query rows,
 * batch*head); K/V streamed in tiles of 16 with an online softmax. Writes
 * o and the per-row log-sum-exp (for backward). Rows with every key masked
 * give zeros and lse = -inf. */
#include "ss-common.glsl"
#include "attention_common.glsl"
#define BQ 16
#define BK 16
layout (local_size_x = 256) in;

layout (binding = 0) readonly buffer Qb { SS_T q[]; };
layout (binding = 1) readonly buffer Kb { SS_T k[]; };
layout (binding = 2) readonly buffer Vb { SS_T v[]; };
layout (binding = 3) readonly buffer Mb { SS_T mask[]; };
layout (binding = 4) writeonly buffer Ob { SS_T o[]; };
layout (binding = 5) writeonly buffer Lb { float lse[]; };

shared float Qs[BQ][DPAD];
shared float Ks[BK][DPAD];
shared float Vs[BK][DMAX];
shared float Ss[BQ][BK];
shared float row_m[BQ], row_l[BQ], row_a[BQ];

void main ()
{
  uint tid = gl_LocalInvocationID.x;
  uint q0 = gl_WorkGroupID.x * BQ;
  uint bh = gl_WorkGroupID.y + p.bh0;
  uint b = bh / p.H, h = bh % p.H;
  uint qbase = p.q_off + bh * p.Lq * p.D;
  uint kbase = p.k_off + bh * p.Lk * p.D;
  uint vbase = p.v_off + bh * p.Lk * p.Dv;

  for (uint e = tid; e < BQ * DMAX; e += 256u) {
    uint r = e / DMAX, c = e % DMAX;
    Qs[r][c] = (q0 + r < p.Lq && c < p.D) ? SS_LOAD (q[qbase + (q0 + r) * p.D + c]) : 0.0;
  }
  if (tid < BQ) {
    row_m[tid] = -1.0 / 0.0;
    row_l[tid] = 0.0;
  }
  uint rs = tid / BK, js = tid % BK;
  uint ro = tid / 16u, co = tid % 16u;
  float acc[DMAX / 16];
  for (int i = 0; i < DMAX / 16; i++)
    acc[i] = 0.0;

  uint kv_end = p.Lk;
  if ((p.flags & 2u) != 0u)
    kv_end = min (p.Lk, q0 + BQ);
  for (uint kb = 0; kb < kv_end; kb += BK) {
    barrier ();
    for (uint e = tid; e < BK * DMAX; e += 256u) {
      uint r = e / DMAX, c = e % DMAX;
      bool in_k = kb + r < p.Lk;
      Ks[r][c] = (in_k && c < p.D) ? SS_LOAD (k[kbase + (kb + r) * p.D + c]) : 0.0;
      Vs[r][c] = (in_k && c < p.Dv) ? SS_LOAD (v[vbase + (kb + r) * p.Dv + c]) : 0.0;
    }
    barrier ();
    {
      uint i = q0 + rs, j = kb + js;
      float s = 0.0;
      for (uint c = 0; c < p.D; c++)
        s += Qs[rs][c] * Ks[js][c];
      s *= p.scale;
      if ((p.flags & 1u) != 0u && i < p.Lq && j < p.Lk)
        s += SS_LOAD (mask[p.m_off + b * p.m_bs + h * p.m_hs + i * p.Lk + j]);
      s += att_score_bias (bh, i, j);
      Ss[rs][js] = s;
    }
    barrier ();
    if (tid < BQ) {
      float mold = row_m[tid];
      float mx = mold;
      for (uint j = 0; j < BK; j++)
        mx = max (mx, Ss[tid][j]);
      float alpha = 1.0, sum = 0.0;
      if (mx == -1.0 / 0.0) {
        for (uint j = 0; j < BK; j++)
          Ss[tid][j] = 0.0;
      } else {
        alpha = mold == -1.0 / 0.0 ? 0.0 : exp (mold - mx);
        for (uint j = 0; j < BK; j++) {
          float pj = exp (Ss[tid][j] - mx);
          Ss[tid][j] = pj;
          sum += pj;
        }
      }
      row_l[tid] = row_l[tid] * alpha + sum;
      row_m[tid] = mx;
      row_a[tid] = alpha;
    }
    barrier ();
    float a = row_a[ro];
    for (uint i = 0; i < DMAX / 16; i++) {
      uint c = co + 16u * i;
      if (c >= p.Dv)
        break;
      float s = acc[i] * a;
      for (uint j = 0; j < BK; j++)
        s += Ss[ro][j] * Vs[j][c];
      acc[i] = s;
    }
  }
  barrier ();
  uint i = q0 + ro;
  if (i < p.Lq) {
    float l = row_l[ro];
    float inv = l > 0.0 ? 1.0 / l : 0.0;
    uint obase = p.o_off + (bh * p.Lq + i) * p.Dv;
    for (uint ii = 0; ii < DMAX / 16; ii++) {
      uint c = co + 16u * ii;
      if (c >= p.Dv)
        break;
      o[obase + c] = SS_STORE (acc[ii] * inv);
    }
    if (co == 0u)
      lse[p.l_off + bh * p.Lq + i] = l > 0.0 ? row_m[ro] + log (l) : -1.0 / 0.0;
  }
}
