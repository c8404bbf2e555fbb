#version 450
/* y[i] = value over a contiguous range. */
#include "ss-common.glsl"
layout (local_size_x = 256) in;
layout (binding = 0) writeonly buffer Y { SS_T y[]; };
layout (push_constant) uniform P { uint n, y_off; float value; } p;

void main ()
{
  uint i = ss_linear_group () * 256u + gl_LocalInvocationID.x;
  if (i >= p.n)
    return;
  y[p.y_off + i] = SS_STORE (p.value);
}
