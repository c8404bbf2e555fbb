#version 450
/* Softmax / log-softmax along the middle axis of (outer, n, inner), forward
 * (BWD 0: y from x) and backward (BWD 1: dx from y and dy).
 * MODE 0 (inner == 1): one workgroup per row; MODE 1: one thread per (o, k);
 * MODE 2: as MODE 0 for rows of at most 4 x 4 x OPS_WG elements in multiples
 * of 4 at 4-element offsets, read once into registers in units of 4. */
#include "ss-common.glsl"
#define OPS_WG 128
#include "ops/ops-common.glsl"
layout (local_size_x = OPS_WG) in;
layout (constant_id = 0) const uint LOG = 0;
layout (constant_id = 1) const uint BWD = 0;
layout (constant_id = 2) const uint MODE = 0;

layout (binding = 0) readonly buffer X { SS_T x[]; };     /* x (fwd) or y (bwd) */
layout (binding = 1) readonly buffer DY { SS_T dy[]; };   /* bwd only */
layout (binding = 2) writeonly buffer Y { SS_T y[]; };    /* y (fwd) or dx (bwd) */
layout (push_constant) uniform P { uint outer, n, inner, x_off, dy_off, y_off; } p;
layout (binding = 0) readonly buffer X4 { SS_T4 x4[]; };
layout (binding = 1) readonly buffer DY4 { SS_T4 dy4[]; };
layout (binding = 2) writeonly buffer Y4 { SS_T4 y4[]; };

void rows_in_registers ()
{
  uint o = ss_linear_group (), lid = gl_LocalInvocationID.x;
  if (o >= p.outer)
    return;
  uint n4 = p.n / 4u, xb = p.x_off / 4u + o * n4, gb = p.dy_off / 4u + o * n4, yb = p.y_off / 4u + o * n4;
  vec4 v[4], g[4];
  if (BWD == 0) {
    float mx = -1.0 / 0.0;
    for (uint k = 0; k < 4u; k++) {
      uint j = lid + k * OPS_WG;
      v[k] = j < n4 ? ss_load4 (x4[xb + j]) : vec4 (-1.0 / 0.0);
      mx = max (mx, max (max (v[k].x, v[k].y), max (v[k].z, v[k].w)));
    }
    mx = ops_wg_max (mx);
    float s = 0.0;
    for (uint k = 0; k < 4u; k++)
      if (lid + k * OPS_WG < n4) {
        vec4 e = exp (v[k] - mx);
        s += (e.x + e.y) + (e.z + e.w);
      }
    s = ops_wg_sum (s);
    float l = mx + log (s), inv = 1.0 / s;
    for (uint k = 0; k < 4u; k++) {
      uint j = lid + k * OPS_WG;
      if (j < n4)
        y4[yb + j] = ss_store4 (LOG != 0 ? v[k] - l : exp (v[k] - mx) * inv);
    }
  } else {
    float s = 0.0;
    for (uint k = 0; k < 4u; k++) {
      uint j = lid + k * OPS_WG;
      v[k] = j < n4 ? ss_load4 (x4[xb + j]) : vec4 (0.0);
      g[k] = j < n4 ? ss_load4 (dy4[gb + j]) : vec4 (0.0);
      s += LOG != 0 ? (g[k].x + g[k].y) + (g[k].z + g[k].w) : dot (g[k], v[k]);
    }
    s = ops_wg_sum (s);
    for (uint k = 0; k < 4u; k++) {
      uint j = lid + k * OPS_WG;
      if (j < n4)
        y4[yb + j] = ss_store4 (LOG != 0 ? g[k] - exp (v[k]) * s : v[k] * (g[k] - s));
    }
  }
}

void main ()
{
  if (MODE == 2) {
    rows_in_registers ();
    return;
  }
  uint base, stride, start, step, o;
  bool row = MODE == 0;
  if (row) {
    o = ss_linear_group ();
    if (o >= p.outer)
      return;
    base = o * p.n;
    stride = 1;
    start = gl_LocalInvocationID.x;
    step = OPS_WG;
  } else {
    uint t = ss_linear_group () * OPS_WG + gl_LocalInvocationID.x;
    if (t >= p.outer * p.inner)
      return;
    uint oo = t / p.inner, k = t % p.inner;
    base = oo * p.n * p.inner + k;
    stride = p.inner;
    start = 0;
    step = 1;
  }
  if (BWD == 0) {
    /* the reduction loops are unrolled by 4 (independent loads in flight) */
    uint xb = p.x_off + base;
    float mx = -1.0 / 0.0;
    uint i = start;
    for (; i + 3u * step < p.n; i += 4u * step) {
      float a0 = SS_LOAD (x[xb + i * stride]), a1 = SS_LOAD (x[xb + (i + step) * stride]);
      float a2 = SS_LOAD (x[xb + (i + 2u * step) * stride]), a3 = SS_LOAD (x[xb + (i + 3u * step) * stride]);
      mx = max (mx, max (max (a0, a1), max (a2, a3)));
    }
    for (; i < p.n; i += step)
      mx = max (mx, SS_LOAD (x[xb + i * stride]));
    if (row)
      mx = ops_wg_max (mx);
    float s = 0.0;
    i = start;
    for (; i + 3u * step < p.n; i += 4u * step) {
      float a0 = SS_LOAD (x[xb + i * stride]), a1 = SS_LOAD (x[xb + (i + step) * stride]);
      float a2 = SS_LOAD (x[xb + (i + 2u * step) * stride]), a3 = SS_LOAD (x[xb + (i + 3u * step) * stride]);
      s += (exp (a0 - mx) + exp (a1 - mx)) + (exp (a2 - mx) + exp (a3 - mx));
    }
    for (; i < p.n; i += step)
      s += exp (SS_LOAD (x[xb + i * stride]) - mx);
    if (row)
      s = ops_wg_sum (s);
    float l = mx + log (s), inv = 1.0 / s;
    for (uint i = start; i < p.n; i += step) {
      float v = SS_LOAD (x[p.x_off + base + i * stride]);
      y[p.y_off + base + i * stride] = SS_STORE (LOG != 0 ? v - l : exp (v - mx) * inv);
    }
  } else {
    uint xb = p.x_off + base, gb = p.dy_off + base;
    float s = 0.0;
    uint i = start;
    for (; i + 3u * step < p.n; i += 4u * step) {
      float g0 = SS_LOAD (dy[gb + i * stride]), g1 = SS_LOAD (dy[gb + (i + step) * stride]);
      float g2 = SS_LOAD (dy[gb + (i + 2u * step) * stride]), g3 = SS_LOAD (dy[gb + (i + 3u * step) * stride]);
      if (LOG != 0) {
        s += (g0 + g1) + (g2 + g3);
      } else {
        float y0 = SS_LOAD (x[xb + i * stride]), y1 = SS_LOAD (x[xb + (i + step) * stride]);
        float y2 = SS_LOAD (x[xb + (i + 2u * step) * stride]), y3 = SS_LOAD (x[xb + (i + 3u * step) * stride]);
        s += (g0 * y0 + g1 * y1) + (g2 * y2 + g3 * y3);
      }
    }
    for (; i < p.n; i += step) {
      float g = SS_LOAD (dy[gb + i * stride]);
      s += LOG != 0 ? g : g * SS_LOAD (x[xb + i * stride]);
    }
    if (row)
      s = ops_wg_sum (s);
    for (uint i = start; i < p.n; i += step) {
      float g = SS_LOAD (dy[p.dy_off + base + i * stride]);
      float yv = SS_LOAD (x[p.x_off + base + i * stride]);
      y[p.y_off + base + i * stride] = SS_STORE (LOG != 0 ? g - exp (yv) * s : yv * (g - s));
    }
  }
}
