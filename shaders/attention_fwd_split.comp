#version 450
/* Attention forward for a few query rows over many keys (a CLS token that
 * attends to every token of a clip): one workgroup of 32 threads per query row,
 * the keys dealt out among the threads (thread t takes t, t+32, ...), each with
 * its own online softmax and output accumulator; the 32 partial results are then
 * merged through shared memory (rescaled to the common maximum). RD (32, 64 or
 * 128) bounds D and Dv. Same inputs, outputs and lse as attention_fwd.comp. */
#include "ss-common.glsl"
#include "attention_common.glsl"
#define NT 32u
layout (local_size_x = 32) in;

layout (binding = 0) readonly buffer Qb { SS_T q[]; };
layout (binding = 1) readonly buffer Kb { SS_T k[]; };
layout (binding = 2) readonly buffer Vb { SS_T v[]; };
layout (binding = 3) readonly buffer Mb { SS_T mask[]; };
layout (binding = 4) writeonly buffer Ob { SS_T o[]; };
layout (binding = 5) writeonly buffer Lb { float lse[]; };

shared float sm[NT], sl[NT];
shared float sacc[NT][RD];

void main ()
{
  uint row = ss_linear_group ();
  uint t = gl_LocalInvocationID.x;
  uint bh = row / p.Lq, i = row % p.Lq;
  if (bh >= p.BH)
    return;      /* whole workgroup: no barrier is skipped by part of it */
  uint b = bh / p.H, h = bh % p.H;
  float qr[RD], acc[RD];
  uint qbase = p.q_off + row * p.D;
  for (uint c = 0u; c < RD; c++) {
    qr[c] = c < p.D ? SS_LOAD (q[qbase + c]) * p.scale : 0.0;
    acc[c] = 0.0;
  }
  uint kbase = p.k_off + bh * p.Lk * p.D;
  uint vbase = p.v_off + bh * p.Lk * p.Dv;
  uint kv_end = (p.flags & 2u) != 0u ? min (p.Lk, i + 1u) : p.Lk;
  float m = -1.0 / 0.0, l = 0.0;
  for (uint j = t; j < kv_end; j += NT) {
    float s = 0.0;
    for (uint c = 0u; c < RD; c++)
      if (c < p.D)
        s += qr[c] * SS_LOAD (k[kbase + j * p.D + c]);
    if ((p.flags & 1u) != 0u)
      s += SS_LOAD (mask[p.m_off + b * p.m_bs + h * p.m_hs + i * p.Lk + j]);
    if (s == -1.0 / 0.0)
      continue;
    float mn = max (m, s);
    float alpha = exp (m - mn);
    float w = exp (s - mn);
    l = l * alpha + w;
    for (uint c = 0u; c < RD; c++)
      if (c < p.Dv)
        acc[c] = acc[c] * alpha + w * SS_LOAD (v[vbase + j * p.Dv + c]);
    m = mn;
  }
  sm[t] = m;
  sl[t] = l;
  for (uint c = 0u; c < RD; c++)
    sacc[t][c] = acc[c];
  barrier ();
  float M = -1.0 / 0.0;
  for (uint u = 0u; u < NT; u++)
    M = max (M, sm[u]);
  float L = 0.0;
  for (uint u = 0u; u < NT; u++)
    L += sm[u] == -1.0 / 0.0 ? 0.0 : sl[u] * exp (sm[u] - M);
  float inv = L > 0.0 ? 1.0 / L : 0.0;
  uint obase = p.o_off + row * p.Dv;
  for (uint c = t; c < p.Dv; c += NT) {
    float s = 0.0;
    for (uint u = 0u; u < NT; u++)
      if (sm[u] != -1.0 / 0.0)
        s += sacc[u][c] * exp (sm[u] - M);
    o[obase + c] = SS_STORE (s * inv);
  }
  if (t == 0u)
    lse[p.l_off + row] = L > 0.0 ? M + log (L) : -1.0 / 0.0;
}
