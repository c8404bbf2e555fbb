#version 450
/* Attention forward for short key sequences (divided space-time attention:
 * 8 frames in time, 197 patches in space; audio patch sequences): one thread
 * per query row, the row of q and its output accumulator in registers, keys and
 * values read in order from memory (the threads of a workgroup read the same
 * rows at the same time, so they come from the cache), online softmax over the
 * keys. No shared memory and no barriers: every thread works on its own, so
 * thousands of tiny groups fill the GPU. RD (32, 64 or 128) bounds D and Dv.
 * Same inputs, outputs and lse as attention_fwd.comp. */
#include "ss-common.glsl"
#include "attention_common.glsl"
layout (local_size_x = 64) in;

layout (binding = 0) readonly buffer Qb { SS_T q[]; };
layout (binding = 1) readonly buffer Kb { SS_T k[]; };
layout (binding = 2) readonly buffer Vb { SS_T v[]; };
layout (binding = 3) readonly buffer Mb { SS_T mask[]; };
layout (binding = 4) writeonly buffer Ob { SS_T o[]; };
layout (binding = 5) writeonly buffer Lb { float lse[]; };

void main ()
{
  uint row = ss_linear_group () * 64u + gl_LocalInvocationID.x;
  uint bh = row / p.Lq, i = row % p.Lq;
  if (bh >= p.BH)
    return;
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
  for (uint j = 0u; j < kv_end; j++) {
    float s = 0.0;
    for (uint c = 0u; c < RD; c++)
      if (c < p.D)
        s += qr[c] * SS_LOAD (k[kbase + j * p.D + c]);
    if ((p.flags & 1u) != 0u)
      s += SS_LOAD (mask[p.m_off + b * p.m_bs + h * p.m_hs + i * p.Lk + j]);
    if (s == -1.0 / 0.0)
      continue;
    float mn = max (m, s);
    float alpha = exp (m - mn);   /* m = -inf at first: exp(-inf) = 0 */
    float w = exp (s - mn);
    l = l * alpha + w;
    for (uint c = 0u; c < RD; c++)
      if (c < p.Dv)
        acc[c] = acc[c] * alpha + w * SS_LOAD (v[vbase + j * p.Dv + c]);
    m = mn;
  }
  float inv = l > 0.0 ? 1.0 / l : 0.0;
  uint obase = p.o_off + row * p.Dv;
  for (uint c = 0u; c < RD; c++)
    if (c < p.Dv)
      o[obase + c] = SS_STORE (acc[c] * inv);
  lse[p.l_off + row] = l > 0.0 ? m + log (l) : -1.0 / 0.0;
}
