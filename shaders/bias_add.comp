#version 450
/* y[o, c, i] += bias[c] for y viewed as [outer, C, inner] (contiguous). */
#include "ss-common.glsl"
layout (local_size_x = 256) in;
layout (binding = 0) buffer Y { SS_T y[]; };
layout (binding = 1) readonly buffer Bias { SS_T bias[]; };
layout (push_constant) uniform P { uint n, C, inner, y_off, b_off; } p;

void main ()
{
  uint i = ss_linear_group () * 256u + gl_LocalInvocationID.x;
  if (i >= p.n)
    return;
  uint c = (i / p.inner) % p.C;
  y[p.y_off + i] = SS_STORE (SS_LOAD (y[p.y_off + i]) + SS_LOAD (bias[p.b_off + c]));
}
