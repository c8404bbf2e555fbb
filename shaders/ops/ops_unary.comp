#version 450
/* Elementwise unary ops over a contiguous range.
 * forward (BWD = 0): y = f(x); backward (BWD = 1): dx = dy * f'(x).
 * OP numbering matches SsUnaryOp in core/tensor/ops/ss-ops-ext.h. */
#include "ss-common.glsl"
#include "ops/ops-common.glsl"
layout (local_size_x = 256) in;
layout (constant_id = 0) const uint OP = 0;
layout (constant_id = 1) const uint BWD = 0;

/* VEC 1: every offset a multiple of 4 and n too: groups of 4 elements are
 * loaded and stored as one unit (SS_T4). (Units of 8 elements, 16 bytes, for
 * 16-bit dtypes were no faster on the H100: docs/PERFORMANCE-engine.md, tenth
 * session.) */
layout (constant_id = 2) const uint VEC = 0;

layout (binding = 0) readonly buffer X { SS_T x[]; };
layout (binding = 1) readonly buffer DY { SS_T dy[]; };
layout (binding = 2) writeonly buffer Y { SS_T y[]; };
layout (binding = 0) readonly buffer X4 { SS_T4 x4[]; };
layout (binding = 1) readonly buffer DY4 { SS_T4 dy4[]; };
layout (binding = 2) writeonly buffer Y4 { SS_T4 y4[]; };
layout (push_constant) uniform P { uint n, x_off, dy_off, y_off; float a, b; } p;

#define GELU_K 0.7978845608028654
#define GELU_C 0.044715

float f (float v)
{
  switch (OP) {
  case 0: return 0.5 * v * (1.0 + ops_erf (v * 0.7071067811865476));
  /* 0.5 v (1 + tanh u) = v sigmoid (2 u) = v / (1 + exp (-2 u)) (-0 where exp overflows) */
  case 1: return v / (1.0 + exp (-2.0 * GELU_K * (v + GELU_C * v * v * v)));
  case 2: return v * ops_sigmoid (v);
  case 3: return p.a * v + p.b;
  case 4: return exp (v);
  case 5: return log (v);
  case 6: return sqrt (v);
  case 7: return inversesqrt (v);
  case 8: return v * v;
  case 9: return -v;
  case 10: return ops_tanh (v);
  case 11: return ops_sigmoid (v);
  case 12: return max (v, 0.0);
  case 13: return pow (v, p.a);
  case 14: return 1.0 / v;
  }
  return 0.0;
}

float df (float v)
{
  switch (OP) {
  case 0: return 0.5 * (1.0 + ops_erf (v * 0.7071067811865476))
                 + v * exp (-0.5 * v * v) * 0.3989422804014327;
  case 1: {
    float t = ops_tanh (GELU_K * (v + GELU_C * v * v * v));
    return 0.5 * (1.0 + t) + 0.5 * v * (1.0 - t * t) * GELU_K * (1.0 + 3.0 * GELU_C * v * v);
  }
  case 2: { float s = ops_sigmoid (v); return s * (1.0 + v * (1.0 - s)); }
  case 3: return p.a;
  case 4: return exp (v);
  case 5: return 1.0 / v;
  case 6: return 0.5 * inversesqrt (v);
  case 7: return -0.5 * inversesqrt (v) / v;
  case 8: return 2.0 * v;
  case 9: return -1.0;
  case 10: { float t = ops_tanh (v); return 1.0 - t * t; }
  case 11: { float s = ops_sigmoid (v); return s * (1.0 - s); }
  case 12: return v > 0.0 ? 1.0 : 0.0;
  case 13: return p.a * pow (v, p.a - 1.0);
  case 14: return -1.0 / (v * v);
  }
  return 0.0;
}

/* EPT elements per thread, loaded before use: independent loads in flight
 * (bandwidth on large GPUs); each load instruction is still coalesced. */
#define EPT 8u

#define EPT4 4u

vec4 apply4 (vec4 v, vec4 g)
{
  vec4 r;
  for (uint c = 0; c < 4u; c++)
    r[c] = BWD == 0 ? f (v[c]) : g[c] * df (v[c]);
  return r;
}

void main ()
{
  if (VEC != 0) {
    uint g0 = ss_linear_group () * (256u * EPT4) + gl_LocalInvocationID.x;
    uint n4 = p.n / 4u;
    vec4 v[EPT4], g[EPT4];
    for (uint k = 0; k < EPT4; k++) {
      uint i = g0 + k * 256u;
      v[k] = i < n4 ? ss_load4 (x4[p.x_off / 4u + i]) : vec4 (1.0);
      g[k] = BWD != 0 && i < n4 ? ss_load4 (dy4[p.dy_off / 4u + i]) : vec4 (0.0);
    }
    for (uint k = 0; k < EPT4; k++) {
      uint i = g0 + k * 256u;
      if (i >= n4)
        break;
      y4[p.y_off / 4u + i] = ss_store4 (apply4 (v[k], g[k]));
    }
    return;
  }
  uint base = ss_linear_group () * (256u * EPT) + gl_LocalInvocationID.x;
  float v[EPT], g[EPT];
  for (uint k = 0; k < EPT; k++) {
    uint i = base + k * 256u;
    v[k] = i < p.n ? SS_LOAD (x[p.x_off + i]) : 1.0;
    g[k] = BWD != 0 && i < p.n ? SS_LOAD (dy[p.dy_off + i]) : 0.0;
  }
  for (uint k = 0; k < EPT; k++) {
    uint i = base + k * 256u;
    if (i < p.n)
      y[p.y_off + i] = SS_STORE (BWD == 0 ? f (v[k]) : g[k] * df (v[k]));
  }
}
