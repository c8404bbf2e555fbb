#version 450
/* Bias gradient: dy viewed as [outer, C, inner] (contiguous);
 * out[c] = beta * out[c] + sum over outer and inner of dy. One workgroup per c. */
#include "ss-common.glsl"
layout (local_size_x = 256) in;
layout (binding = 0) readonly buffer DY { SS_T dy[]; };
layout (binding = 1) buffer Out { SS_T o[]; };
layout (push_constant) uniform P { uint outer, C, inner, dy_off, o_off; float beta; } p;
shared float red[256];

void main ()
{
  uint c = ss_linear_group ();
  if (c >= p.C)
    return;
  uint tid = gl_LocalInvocationID.x;
  uint total = p.outer * p.inner;
  float s = 0.0;
  for (uint e = tid; e < total; e += 256u) {
    uint oo = e / p.inner, ii = e % p.inner;
    s += SS_LOAD (dy[p.dy_off + (oo * p.C + c) * p.inner + ii]);
  }
  red[tid] = s;
  barrier ();
  for (uint w = 128u; w > 0u; w >>= 1) {
    if (tid < w)
      red[tid] += red[tid + w];
    barrier ();
  }
  if (tid == 0u) {
    float v = red[0];
    if (p.beta != 0.0)
      v += p.beta * SS_LOAD (o[p.o_off + c]);
    o[p.o_off + c] = SS_STORE (v);
  }
}
