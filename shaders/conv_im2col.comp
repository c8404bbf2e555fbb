#version 450
/* col[n, c*KV + t, l] = img[n, c, pos(l, t)] (0 outside the image).
 * Each thread writes RUN consecutive column elements: the index is split into
 * (n, c, t, o0, o1, o2) once and then stepped (o2 first, carrying into o1, o0,
 * and at the end of a row of L into the next tap), so the divisions are paid
 * once per RUN elements instead of once per element.
 * RAW=16 / RAW=32 (any dtype of that size; the host uses them when the total
 * and the column offset are multiples of 8): elements are copied as raw bits
 * and a thread's 8 stored as one (16-bit) or two (32-bit) 16-byte units. */
#include "ss-common.glsl"
#include "conv_common.glsl"
#extension GL_EXT_control_flow_attributes : require
#define RUN 8u
layout (local_size_x = 256) in;
#if RAW == 16
layout (binding = 0) readonly buffer Img { uint16_t img[]; };
layout (binding = 1) writeonly buffer Col { uvec4 col4[]; };
#elif RAW == 32
layout (binding = 0) readonly buffer Img { uint img[]; };
layout (binding = 1) writeonly buffer Col { uvec4 col4[]; };
#else
layout (binding = 0) readonly buffer Img { SS_T img[]; };
layout (binding = 1) writeonly buffer Col { SS_T col[]; };
#endif

void main ()
{
  uint base = (ss_linear_group () * 256u + gl_LocalInvocationID.x) * RUN;
  uint KV = p.k0 * p.k1 * p.k2;
  uint L = p.out0 * p.out1 * p.out2;
  uint rows = p.C * KV;
  uint total = p.N * rows * L;
  if (base >= total)
    return;
  uint l = base % L;
  uint nr = base / L;            /* n * rows + r */
  uint o2 = l % p.out2, o1 = (l / p.out2) % p.out1, o0 = l / (p.out2 * p.out1);
  uint end = min (base + RUN, total);
  bool fresh = true;
  uint img_base = 0u;
  int b0 = 0, b1 = 0, b2 = 0;
#ifdef RAW
  uint vals[RUN];
  [[unroll]] for (uint j = 0u; j < RUN; j++) {
    uint idx = base + j;
#else
  for (uint idx = base; idx < end; idx++) {
#endif
    if (fresh) {
      /* the image plane and tap offsets of row nr */
      uint r = nr % rows, n = nr / rows;
      uint c = r / KV, t = r % KV;
      int t2 = int (t % p.k2), t1 = int ((t / p.k2) % p.k1), t0 = int (t / (p.k2 * p.k1));
      b0 = t0 * p.d0 - p.p0;
      b1 = t1 * p.d1 - p.p1;
      b2 = t2 * p.d2 - p.p2;
      img_base = p.img_off + (n * p.C + c) * p.in0 * p.in1 * p.in2;
      fresh = false;
    }
    int i0 = int (o0) * p.s0 + b0;
    int i1 = int (o1) * p.s1 + b1;
    int i2 = int (o2) * p.s2 + b2;
    bool inside = i0 >= 0 && i0 < int (p.in0) && i1 >= 0 && i1 < int (p.in1) && i2 >= 0 && i2 < int (p.in2);
    uint src = img_base + (uint (i0) * p.in1 + uint (i1)) * p.in2 + uint (i2);
#ifdef RAW
    vals[j] = inside ? uint (img[src]) : 0u;
#else
    float v = 0.0;
    if (inside)
      v = SS_LOAD (img[src]);
    col[p.col_off + idx] = SS_STORE (v);
#endif
    /* next output position; past the last one, the next row (tap) */
    if (++o2 == p.out2) {
      o2 = 0u;
      if (++o1 == p.out1) {
        o1 = 0u;
        if (++o0 == p.out0) {
          o0 = 0u;
          nr++;
          fresh = true;
        }
      }
    }
  }
#if RAW == 16
  col4[(p.col_off + base) / 8u] = uvec4 (vals[0] | (vals[1] << 16), vals[2] | (vals[3] << 16),
                                         vals[4] | (vals[5] << 16), vals[6] | (vals[7] << 16));
#elif RAW == 32
  col4[(p.col_off + base) / 4u] = uvec4 (vals[0], vals[1], vals[2], vals[3]);
  col4[(p.col_off + base) / 4u + 1u] = uvec4 (vals[4], vals[5], vals[6], vals[7]);
#endif
}
