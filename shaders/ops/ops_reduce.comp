#version 450
/* Reduction along the middle axis of (outer, n, inner) -> (outer, inner).
 * OP: 0 sum, 1 mean, 2 max (also writes the index of the first maximum).
 * MODE 0 (inner == 1): one workgroup per row; MODE 1: one thread per (o, k).
 * Long rows (sum / mean) in two passes: MODE 2 writes fp32 partial sums of
 * chunk_len elements (as bits into the idx buffer), MODE 3 adds them per row;
 * with VEC (rows start at multiples of 4 elements, chunk_len a multiple of 4)
 * MODE 2 loads units of 4 (SS_T4) into four running sums.
 * Long columns with few of them (sum / mean): MODE 4, one thread per
 * (o, chunk, k) partial sum; MODE 5 adds the chunks per (o, k). */
#include "ss-common.glsl"
#define OPS_WG 128
#include "ops/ops-common.glsl"
layout (local_size_x = OPS_WG) in;
layout (constant_id = 0) const uint OP = 0;
layout (constant_id = 1) const uint MODE = 0;
layout (constant_id = 2) const uint VEC = 0;

layout (binding = 0) readonly buffer X { SS_T x[]; };
layout (binding = 0) readonly buffer X4 { SS_T4 x4[]; };
layout (binding = 1) writeonly buffer Y { SS_T y[]; };
layout (binding = 2) buffer I { uint idx[]; };
layout (push_constant) uniform P { uint outer, n, inner, x_off, y_off, chunks, chunk_len; } p;

shared uint s_idx[OPS_WG];

void main ()
{
  if (MODE == 2) {
    uint g = ss_linear_group ();
    if (g >= p.outer * p.chunks)
      return;
    uint o = g / p.chunks, c = g % p.chunks;
    uint lo = c * p.chunk_len, hi = min (p.n, lo + p.chunk_len);
    float s = 0.0;
    if (VEC != 0) {
      uint row = p.x_off + o * p.n, hi4 = lo + (hi - lo) / 4u * 4u;
      vec4 s4 = vec4 (0.0);
      for (uint u = (row + lo) / 4u + gl_LocalInvocationID.x; u < (row + hi4) / 4u; u += OPS_WG)
        s4 += ss_load4 (x4[u]);
      s = (s4.x + s4.y) + (s4.z + s4.w);
      if (hi4 + gl_LocalInvocationID.x < hi)
        s += SS_LOAD (x[row + hi4 + gl_LocalInvocationID.x]);
    } else {
      for (uint i = lo + gl_LocalInvocationID.x; i < hi; i += OPS_WG)
        s += SS_LOAD (x[p.x_off + o * p.n + i]);
    }
    s = ops_wg_sum (s);
    if (gl_LocalInvocationID.x == 0)
      idx[g] = floatBitsToUint (s);
    return;
  }
  if (MODE == 3) {
    uint o = ss_linear_group ();
    if (o >= p.outer)
      return;
    float s = 0.0;
    for (uint i = gl_LocalInvocationID.x; i < p.chunks; i += OPS_WG)
      s += uintBitsToFloat (idx[o * p.chunks + i]);
    s = ops_wg_sum (s);
    if (gl_LocalInvocationID.x == 0)
      y[p.y_off + o] = SS_STORE (OP == 1 ? s / float (p.n) : s);
    return;
  }
  if (MODE == 4) {
    uint t = ss_linear_group () * OPS_WG + gl_LocalInvocationID.x;
    if (t >= p.outer * p.chunks * p.inner)
      return;
    uint k = t % p.inner, c = (t / p.inner) % p.chunks, o = t / (p.inner * p.chunks);
    uint lo = c * p.chunk_len, hi = min (p.n, lo + p.chunk_len);
    float s = 0.0;
    for (uint i = lo; i < hi; i++)
      s += SS_LOAD (x[p.x_off + (o * p.n + i) * p.inner + k]);
    idx[t] = floatBitsToUint (s);
    return;
  }
  if (MODE == 5) {
    uint t = ss_linear_group () * OPS_WG + gl_LocalInvocationID.x;
    if (t >= p.outer * p.inner)
      return;
    uint k = t % p.inner, o = t / p.inner;
    float s = 0.0;
    for (uint c = 0; c < p.chunks; c++)
      s += uintBitsToFloat (idx[(o * p.chunks + c) * p.inner + k]);
    y[p.y_off + t] = SS_STORE (OP == 1 ? s / float (p.n) : s);
    return;
  }
  if (MODE == 0) {
    uint o = ss_linear_group ();
    if (o >= p.outer)
      return;
    uint lid = gl_LocalInvocationID.x;
    uint base = p.x_off + o * p.n;
    if (OP != 2) {
      float s = 0.0;
      for (uint i = lid; i < p.n; i += OPS_WG)
        s += SS_LOAD (x[base + i]);
      s = ops_wg_sum (s);
      if (lid == 0)
        y[p.y_off + o] = SS_STORE (OP == 1 ? s / float (p.n) : s);
    } else {
      float best = -1.0 / 0.0;
      uint bi = 0xffffffffu;
      for (uint i = lid; i < p.n; i += OPS_WG) {
        float v = SS_LOAD (x[base + i]);
        if (bi == 0xffffffffu || v > best) {
          best = v;
          bi = i;
        }
      }
      ops_red[lid] = best;
      s_idx[lid] = bi;
      barrier ();
      for (uint s = OPS_WG / 2; s > 0; s >>= 1) {
        if (lid < s) {
          float v2 = ops_red[lid + s];
          uint i2 = s_idx[lid + s];
          if (i2 != 0xffffffffu &&
              (s_idx[lid] == 0xffffffffu || v2 > ops_red[lid] ||
               (v2 == ops_red[lid] && i2 < s_idx[lid]))) {
            ops_red[lid] = v2;
            s_idx[lid] = i2;
          }
        }
        barrier ();
      }
      if (lid == 0) {
        y[p.y_off + o] = SS_STORE (ops_red[0]);
        idx[o] = s_idx[0];
      }
    }
  } else {
    uint t = ss_linear_group () * OPS_WG + gl_LocalInvocationID.x;
    if (t >= p.outer * p.inner)
      return;
    uint o = t / p.inner, k = t % p.inner;
    uint base = p.x_off + o * p.n * p.inner + k;
    if (OP != 2) {
      float s = 0.0;
      for (uint i = 0; i < p.n; i++)
        s += SS_LOAD (x[base + i * p.inner]);
      y[p.y_off + t] = SS_STORE (OP == 1 ? s / float (p.n) : s);
    } else {
      float best = SS_LOAD (x[base]);
      uint bi = 0;
      for (uint i = 1; i < p.n; i++) {
        float v = SS_LOAD (x[base + i * p.inner]);
        if (v > best) {
          best = v;
          bi = i;
        }
      }
      y[p.y_off + t] = SS_STORE (best);
      idx[t] = bi;
    }
  }
}
