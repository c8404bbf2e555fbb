#version 450
/* Gradient of a reduction: dx[o, i, k] = dy[o, k] (sum), dy / n (mean),
 * dy where i is the saved argmax else 0 (max). dx contiguous. */
#include "ss-common.glsl"
layout (local_size_x = 256) in;
layout (constant_id = 0) const uint OP = 0;

layout (binding = 0) readonly buffer DY { SS_T dy[]; };
layout (binding = 1) readonly buffer I { uint idx[]; };
layout (binding = 2) writeonly buffer DX { SS_T dx[]; };
layout (push_constant) uniform P { uint outer, n, inner, dy_off, dx_off; } p;

void main ()
{
  uint e = ss_linear_group () * 256u + gl_LocalInvocationID.x;
  if (e >= p.outer * p.n * p.inner)
    return;
  uint k = e % p.inner, i = (e / p.inner) % p.n, o = e / (p.inner * p.n);
  uint t = o * p.inner + k;
  float g = SS_LOAD (dy[p.dy_off + t]);
  float r = OP == 0 ? g : OP == 1 ? g / float (p.n) : (idx[t] == i ? g : 0.0);
  dx[p.dx_off + e] = SS_STORE (r);
}
