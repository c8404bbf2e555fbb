#version 450
/* Binary elementwise op with broadcasting (strides 0 on broadcast dims):
 * y[i] (contiguous, shape p.shape) = a[...] op b[...]. OP: 0 add, 1 sub, 2 mul, 3 div. */
#include "ss-common.glsl"
layout (local_size_x = 256) in;
layout (constant_id = 0) const uint OP = 0;

/* VEC: groups of 4 consecutive elements along the innermost dim, loaded and
 * stored as one unit (SS_T4): 1 both operands step through the group, 2 only
 * a (b is the same for all 4), 3 only b; 0 element by element. */
layout (constant_id = 1) const uint VEC = 0;

layout (binding = 0) readonly buffer A { SS_T a[]; };
layout (binding = 1) readonly buffer B { SS_T b[]; };
layout (binding = 2) writeonly buffer Y { SS_T y[]; };
layout (binding = 0) readonly buffer A4 { SS_T4 a4[]; };
layout (binding = 1) readonly buffer B4 { SS_T4 b4[]; };
layout (binding = 2) writeonly buffer Y4 { SS_T4 y4[]; };
layout (push_constant) uniform P {
  uint n, ndim, a_off, b_off, y_off;
  uint shape[5];
  uint a_stride[5];
  uint b_stride[5];
  uint magic[5], shift[5];   /* ss_fastdiv of shape[d] */
} p;

/* EPT elements per thread, all loads issued before the arithmetic */
#define EPT 4u

vec4 apply4 (vec4 x, vec4 z)
{
  switch (OP) {
  case 0: return x + z;
  case 1: return x - z;
  case 2: return x * z;
  default: return x / z;
  }
}

/* index of element i in a and b */
void offsets (uint i, out uint ia, out uint ib)
{
  uint rem = i;
  ia = p.a_off;
  ib = p.b_off;
  for (int d = int (p.ndim) - 1; d >= 0; d--) {
    uint q = ss_fastdiv (rem, p.magic[d], p.shift[d]);
    uint c = rem - q * p.shape[d];
    rem = q;
    ia += c * p.a_stride[d];
    ib += c * p.b_stride[d];
  }
}

void main ()
{
  if (VEC != 0) {
    uint g0 = ss_linear_group () * (256u * EPT) + gl_LocalInvocationID.x;
    uint n4 = p.n / 4u;
    vec4 va[EPT], vb[EPT];
    for (uint k = 0; k < EPT; k++) {
      uint g = g0 + k * 256u;
      va[k] = vec4 (0.0);
      vb[k] = vec4 (1.0);
      if (g < n4) {
        uint ia, ib;
        offsets (4u * g, ia, ib);
        va[k] = VEC == 3 ? vec4 (SS_LOAD (a[ia])) : ss_load4 (a4[ia / 4u]);
        vb[k] = VEC == 2 ? vec4 (SS_LOAD (b[ib])) : ss_load4 (b4[ib / 4u]);
      }
    }
    for (uint k = 0; k < EPT; k++) {
      uint g = g0 + k * 256u;
      if (g >= n4)
        break;
      y4[p.y_off / 4u + g] = ss_store4 (apply4 (va[k], vb[k]));
    }
    return;
  }
  uint base = ss_linear_group () * (256u * EPT) + gl_LocalInvocationID.x;
  float va[EPT], vb[EPT];
  for (uint k = 0; k < EPT; k++) {
    uint i = base + k * 256u;
    va[k] = 0.0;
    vb[k] = 1.0;
    if (i < p.n) {
      uint ia, ib;
      offsets (i, ia, ib);
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
