#version 450
/* Mean squared error of two contiguous tensors of n elements, in one pass over
 * them with fp32 sums (instead of difference, square and mean kernels).
 * STAGE 0: one workgroup per chunk of chunk_len elements: sum of (a - b)^2 -> part[chunk]
 * STAGE 1: one workgroup adds the chunks: y[0] = sum / n
 * STAGE 2 (backward): da = 2 (a - b) dy[0] / n and db = -da, EPT elements per thread */
#include "ss-common.glsl"
#define OPS_WG 256
#include "ops/ops-common.glsl"
layout (local_size_x = OPS_WG) in;
layout (constant_id = 0) const uint STAGE = 0;

layout (binding = 0) readonly buffer A { SS_T a[]; };
layout (binding = 1) readonly buffer B { SS_T b[]; };
layout (binding = 2) readonly buffer DY { SS_T dy[]; };
layout (binding = 3) buffer PT { float part[]; };
layout (binding = 4) writeonly buffer Y { SS_T y[]; };     /* loss (stage 1) or da */
layout (binding = 5) writeonly buffer DB { SS_T db[]; };
layout (push_constant) uniform P {
  uint n, a_off, b_off, dy_off, y_off, db_off, chunks, chunk_len, has_da, has_db;
} p;

#define EPT 4u

void main ()
{
  uint lid = gl_LocalInvocationID.x, g = ss_linear_group ();
  if (STAGE == 0) {
    if (g >= p.chunks)
      return;
    uint lo = g * p.chunk_len, hi = min (p.n, lo + p.chunk_len);
    float s0 = 0.0, s1 = 0.0;
    uint i = lo + lid;
    for (; i + OPS_WG < hi; i += 2u * OPS_WG) {
      float d0 = SS_LOAD (a[p.a_off + i]) - SS_LOAD (b[p.b_off + i]);
      float d1 = SS_LOAD (a[p.a_off + i + OPS_WG]) - SS_LOAD (b[p.b_off + i + OPS_WG]);
      s0 += d0 * d0;
      s1 += d1 * d1;
    }
    if (i < hi) {
      float d = SS_LOAD (a[p.a_off + i]) - SS_LOAD (b[p.b_off + i]);
      s0 += d * d;
    }
    float s = ops_wg_sum (s0 + s1);
    if (lid == 0)
      part[g] = s;
  } else if (STAGE == 1) {
    float s = 0.0;
    for (uint c = lid; c < p.chunks; c += OPS_WG)
      s += part[c];
    s = ops_wg_sum (s);
    if (lid == 0)
      y[p.y_off] = SS_STORE (s / float (p.n));
  } else {
    float k = 2.0 * SS_LOAD (dy[p.dy_off]) / float (p.n);
    uint base = g * (OPS_WG * EPT) + lid;
    float d[EPT];
    for (uint q = 0; q < EPT; q++) {
      uint i = base + q * OPS_WG;
      d[q] = i < p.n ? SS_LOAD (a[p.a_off + i]) - SS_LOAD (b[p.b_off + i]) : 0.0;
    }
    for (uint q = 0; q < EPT; q++) {
      uint i = base + q * OPS_WG;
      if (i >= p.n)
        break;
      if (p.has_da != 0)
        y[p.y_off + i] = SS_STORE (k * d[q]);
      if (p.has_db != 0)
        db[p.db_off + i] = SS_STORE (-k * d[q]);
    }
  }
}
