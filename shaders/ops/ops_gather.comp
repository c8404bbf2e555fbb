#version 450
/* Gather along the middle axis: x (outer, n, inner), idx [m] -> y (outer, m, inner).
 * BWD 0: y[o, i, k] = x[o, idx[p.i_off + i], k]; an index outside [0, n) gives 0
 * (device-side ids are not checked on the host). EPT elements per thread.
 * BWD 1: dx = scatter-add of dy without atomics: idx holds the inverse map
 * (CSR built on the host): offsets [n + 1], then the positions i of each row
 * j in order. One thread per dx element sums its positions in fp32
 * (deterministic; repeated indices accumulate; rows never gathered get 0).
 * VEC 1 (backward): inner and both offsets are whole 16-byte units (4
 * elements of f32, 8 of a 16-bit dtype): one thread per unit (offsets and
 * inner in units). */
#include "ss-common.glsl"
layout (local_size_x = 256) in;
layout (constant_id = 0) const uint BWD = 0;
layout (constant_id = 1) const uint VEC = 0;

layout (binding = 0) readonly buffer X { SS_T x[]; };   /* x or dy */
layout (binding = 1) readonly buffer I { int idx[]; };
layout (binding = 2) writeonly buffer Y { SS_T y[]; };  /* y or dx */
/* the forward moves elements unchanged: the raw16 variant moves 16-byte units
 * (inner, x_off and y_off in units) */
#ifdef RAW16
#define G_T uvec4
#else
#define G_T SS_T
#endif
layout (binding = 0) readonly buffer XG { G_T xg[]; };
layout (binding = 2) writeonly buffer YG { G_T yg[]; };
layout (binding = 0) readonly buffer X16 { uvec4 x16[]; };
layout (binding = 2) writeonly buffer Y16 { uvec4 y16[]; };
layout (push_constant) uniform P {
  uint outer, n, inner, m, x_off, y_off, i_off;
  uint m_inner, s_inner, m_m, s_m;   /* ss_fastdiv of inner and m (forward) */
} p;

/* forward: EPT elements per thread, loads issued before the stores */
#define EPT 4u

void main ()
{
  if (BWD == 0) {
    uint base = ss_linear_group () * (256u * EPT) + gl_LocalInvocationID.x;
    uint total = p.outer * p.m * p.inner;
    if (total == 0u)
      return;
    G_T v[EPT];
    for (uint q = 0; q < EPT; q++) {
      uint e = min (base + q * 256u, total - 1u);
      uint t = ss_fastdiv (e, p.m_inner, p.s_inner), o = ss_fastdiv (t, p.m_m, p.s_m);
      uint k = e - t * p.inner, i = t - o * p.m;
      uint j = uint (idx[p.i_off + i]);
      v[q] = j < p.n ? xg[p.x_off + (o * p.n + j) * p.inner + k] : G_T (0);
    }
    for (uint q = 0; q < EPT; q++)
      if (base + q * 256u < total)
        yg[p.y_off + base + q * 256u] = v[q];
  } else if (VEC != 0) {
    uint e = ss_linear_group () * 256u + gl_LocalInvocationID.x;
    if (e >= p.outer * p.n * p.inner)
      return;
    uint k = e % p.inner, j = (e / p.inner) % p.n, o = e / (p.inner * p.n);
    uint lo = uint (idx[j]), hi = uint (idx[j + 1]);
    vec4 s0 = vec4 (0.0), s1 = vec4 (0.0);
    for (uint t = lo; t < hi; t++) {
      uvec4 u = x16[p.x_off + (o * p.m + uint (idx[p.n + 1 + t])) * p.inner + k];
#if defined(SS_DTYPE_F32)
      s0 += ss_load4 (u);
#else
      s0 += ss_load4 (u.xy);
      s1 += ss_load4 (u.zw);
#endif
    }
#if defined(SS_DTYPE_F32)
    y16[p.y_off + e] = ss_store4 (s0);
#else
    y16[p.y_off + e] = uvec4 (ss_store4 (s0), ss_store4 (s1));
#endif
  } else {
    uint e = ss_linear_group () * 256u + gl_LocalInvocationID.x;
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
