#version 450
/* y[o, k] = sum over i of g[o, i, k] * z[o, i, k] for contiguous g and z of
 * shape (outer, n, inner), fp32 products and sums (the gradient of a broadcast
 * product for the broadcast operand, without fp32 copies of g and z).
 * STAGE 0: one thread per (o, chunk, k): the chunk's rows -> part
 * STAGE 1: one thread per (o, k): the chunks -> y */
#include "ss-common.glsl"
layout (local_size_x = 128) in;
layout (constant_id = 0) const uint STAGE = 0;

layout (binding = 0) readonly buffer G { SS_T g[]; };
layout (binding = 1) readonly buffer Z { SS_T z[]; };
layout (binding = 2) buffer PT { float part[]; };
layout (binding = 3) writeonly buffer Y { SS_T y[]; };
layout (push_constant) uniform P { uint outer, n, inner, g_off, z_off, y_off, chunks, chunk_len; } p;

void main ()
{
  uint t = ss_linear_group () * 128u + gl_LocalInvocationID.x;
  if (STAGE == 0) {
    if (t >= p.outer * p.chunks * p.inner)
      return;
    uint k = t % p.inner, c = (t / p.inner) % p.chunks, o = t / (p.inner * p.chunks);
    uint lo = c * p.chunk_len, hi = min (p.n, lo + p.chunk_len);
    float s0 = 0.0, s1 = 0.0;
    uint i = lo;
    for (; i + 1u < hi; i += 2u) {
      uint e0 = (o * p.n + i) * p.inner + k, e1 = e0 + p.inner;
      s0 += SS_LOAD (g[p.g_off + e0]) * SS_LOAD (z[p.z_off + e0]);
      s1 += SS_LOAD (g[p.g_off + e1]) * SS_LOAD (z[p.z_off + e1]);
    }
    if (i < hi) {
      uint e = (o * p.n + i) * p.inner + k;
      s0 += SS_LOAD (g[p.g_off + e]) * SS_LOAD (z[p.z_off + e]);
    }
    part[t] = s0 + s1;
  } else {
    if (t >= p.outer * p.inner)
      return;
    uint k = t % p.inner, o = t / p.inner;
    float s = 0.0;
    for (uint c = 0; c < p.chunks; c++)
      s += part[(o * p.chunks + c) * p.inner + k];
    y[p.y_off + t] = SS_STORE (s);
  }
}
