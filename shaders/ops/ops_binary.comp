#version 450
/* Binary elementwise op with broadcasting (strides 0 on broadcast dims):
 * y[i] (contiguous, shape p.shape) = a[...] op b[...]. OP: 0 add, 1 sub, 2 mul, 3 div. */
#include "ss-common.glsl"
layout (local_size_x = 256) in;
layout (constant_id = 0) const uint OP = 0;

layout (binding = 0) readonly buffer A { SS_T a[]; };
layout (binding = 1) readonly buffer B { SS_T b[]; };
layout (binding = 2) writeonly buffer Y { SS_T y[]; };
layout (push_constant) uniform P {
  uint n, ndim, a_off, b_off, y_off;
  uint shape[5];
  uint a_stride[5];
  uint b_stride[5];
} p;

void main ()
{
  uint i = ss_linear_group () * 256u + gl_LocalInvocationID.x;
  if (i >= p.n)
    return;
  uint rem = i, ia = p.a_off, ib = p.b_off;
  for (int d = int (p.ndim) - 1; d >= 0; d--) {
    uint c = rem % p.shape[d];
    rem /= p.shape[d];
    ia += c * p.a_stride[d];
    ib += c * p.b_stride[d];
  }
  float va = SS_LOAD (a[ia]), vb = SS_LOAD (b[ib]), r;
  switch (OP) {
  case 0: r = va + vb; break;
  case 1: r = va - vb; break;
  case 2: r = va * vb; break;
  default: r = va / vb; break;
  }
  y[p.y_off + i] = SS_STORE (r);
}
