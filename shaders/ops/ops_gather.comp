#version 450
/* Gather along the middle axis: x (outer, n, inner), idx [m] -> y (outer, m, inner).
 * BWD 0: y[o, i, k] = x[o, idx[i], k], one thread per output element.
 * BWD 1: dx = scatter-add of dy without atomics: one thread owns a column
 * (o, k) of dx, zeroes it and adds dy[o, i, k] at idx[i] for i = 0..m-1 in
 * order (deterministic; repeated indices accumulate). */
#include "ss-common.glsl"
layout (local_size_x = 256) in;
layout (constant_id = 0) const uint BWD = 0;

layout (binding = 0) readonly buffer X { SS_T x[]; };   /* x or dy */
layout (binding = 1) readonly buffer I { int idx[]; };
layout (binding = 2) buffer Y { SS_T y[]; };            /* y or dx */
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
    if (e >= p.outer * p.inner)
      return;
    uint k = e % p.inner, o = e / p.inner;
    uint base = p.y_off + o * p.n * p.inner + k;
    for (uint j = 0; j < p.n; j++)
      y[base + j * p.inner] = SS_STORE (0.0);
    for (uint i = 0; i < p.m; i++) {
      uint t = base + uint (idx[i]) * p.inner;
      y[t] = SS_STORE (SS_LOAD (y[t]) + SS_LOAD (x[p.x_off + (o * p.m + i) * p.inner + k]));
    }
  }
}
