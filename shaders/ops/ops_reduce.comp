#version 450
/* Reduction along the middle axis of (outer, n, inner) -> (outer, inner).
 * OP: 0 sum, 1 mean, 2 max (also writes the index of the first maximum).
 * MODE 0 (inner == 1, max only: sums and means of rows are
 * ops_reduce_rows.comp): one workgroup per row; MODE 1: one thread per (o, k).
 * Long columns with few of them (sum / mean): MODE 4, one thread per
 * (o, chunk, k) partial sum; MODE 5 adds the chunks per (o, k). */
#include "ss-common.glsl"
#define OPS_WG 128
#include "ops/ops-common.glsl"
layout (local_size_x = OPS_WG) in;
layout (constant_id = 0) const uint OP = 0;
layout (constant_id = 1) const uint MODE = 0;

layout (binding = 0) readonly buffer X { SS_T x[]; };
layout (binding = 1) writeonly buffer Y { SS_T y[]; };
layout (binding = 2) buffer I { uint idx[]; };
layout (push_constant) uniform P { uint outer, n, inner, x_off, y_off, chunks, chunk_len; } p;

shared uint s_idx[OPS_WG];

void main ()
{
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
