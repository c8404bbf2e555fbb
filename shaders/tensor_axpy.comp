#version 450
/* y[i] = beta * y[i] + alpha * x[i] over a contiguous range. */
#include "ss-common.glsl"
layout (local_size_x = 256) in;
layout (binding = 0) readonly buffer X { SS_T x[]; };
layout (binding = 1) buffer Y { SS_T y[]; };
layout (push_constant) uniform P { uint n, x_off, y_off; float alpha, beta; } p;

void main ()
{
  uint i = ss_linear_group () * 256u + gl_LocalInvocationID.x;
  if (i >= p.n)
    return;
  float yv = p.beta == 0.0 ? 0.0 : p.beta * SS_LOAD (y[p.y_off + i]);
  y[p.y_off + i] = SS_STORE (yv + p.alpha * SS_LOAD (x[p.x_off + i]));
}
