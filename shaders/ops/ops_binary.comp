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
  uint magic[5], shift[5];   /* ss_fastdiv of shape[d] */
} p;

/* EPT elements per thread, all loads issued before the arithmetic */
#define EPT 4u

void main ()
{
  uint base = ss_linear_group () * (256u * EPT) + gl_LocalInvocationID.x;
  float va[EPT], vb[EPT];
  for (uint k = 0; k < EPT; k++) {
    uint i = base + k * 256u;
    va[k] = 0.0;
    vb[k] = 1.0;
    if (i < p.n) {
      uint rem = i, ia = p.a_off, ib = p.b_off;
      for (int d = int (p.ndim) - 1; d >= 0; d--) {
        uint q = ss_fastdiv (rem, p.magic[d], p.shift[d]);
        uint c = rem - q * p.shape[d];
        rem = q;
        ia += c * p.a_stride[d];
        ib += c * p.b_stride[d];
      }
      va[k] = SS_LOAD (a[ia]);
      vb[k] = SS_LOAD (b[ib]);
    }
  }
  for (uint k = 0; k < EPT; k++) {
    uint i = base + k * 256u;
    if (i >= p.n)
      break;
    float r;
    switch (OP) {
    case 0: r = va[k] + vb[k]; break;
    case 1: r = va[k] - vb[k]; break;
    case 2: r = va[k] * vb[k]; break;
    default: r = va[k] / vb[k]; break;
    }
    y[p.y_off + i] = SS_STORE (r);
  }
}
