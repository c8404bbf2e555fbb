#version 450
/* Gather along the middle axis: x (outer, n, inner), idx [m] -> y (outer, m, inner).
 * BWD 0: y[o, i, k] = x[o, idx[i], k], one thread per output element.
 * BWD 1: dx = scatter-add of dy without atomics: idx holds the inverse map
 * (CSR built on the host): offsets [n + 1], then the positions i of each row
 * j in order. One thread per dx element sums its positions in fp32
 * (deterministic; repeated indices accumulate; rows never gathered get 0). */
#include "ss-common.glsl"
layout (local_size_x = 256) in;
layout (constant_id = 0) const uint BWD = 0;

layout (binding = 0) readonly buffer X { SS_T x[]; };   /* x or dy */
layout (binding = 1) readonly buffer I { int idx[]; };
layout (binding = 2) writeonly buffer Y { SS_T y[]; };  /* y or dx */
layout (push_constant) uniform P { uint outer, n, inner, m, x_off, y_off; } p;

void main ()
{
  uint e = ss_linear_group () * 256u + gl_LocalInvocationID.x;
  if (BWD == 0) {
    if (e >= p.outer * p.m * p.inner)
      return;
    uint k = e % p.inner, i = (e / p.inner) % p.m, o = e / (p.inner * p.m);
    y[p.y_off + e] = x[p.x_off + (o * p.n + uint (idx[i])) * p.inner + k];
  } else {
    if (e >= p.outer * p.n * p.inner)
      return;
    uint k = e % p.inner, j = (e / p.inner) % p.n, o = e / (p.inner * p.n);
    uint lo = uint (idx[j]), hi = uint (idx[j + 1]);
    float s = 0.0;
    for (uint t = lo; t < hi; t++)
      s += SS_LOAD (x[p.x_off + (o * p.m + uint (idx[p.n + 1 + t])) * p.inner + k]);
    y[p.y_off + e] = SS_STORE (s);
  }
}
