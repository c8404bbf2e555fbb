#version 450
/* col[n, c*KV + t, l] = img[n, c, pos(l, t)] (0 outside the image).
 * Each thread writes RUN consecutive column elements: the index is split into
 * (n, c, t, o0, o1, o2) once and then stepped (o2 first, carrying into o1, o0,
 * and at the end of a row of L into the next tap), so the divisions are paid
 * once per RUN elements instead of once per element. */
#include "ss-common.glsl"
#include "conv_common.glsl"
#define RUN 8u
layout (local_size_x = 256) in;
layout (binding = 0) readonly buffer Img { SS_T img[]; };
layout (binding = 1) writeonly buffer Col { SS_T col[]; };

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
  for (uint idx = base; idx < end; idx++) {
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
    float v = 0.0;
    if (i0 >= 0 && i0 < int (p.in0) && i1 >= 0 && i1 < int (p.in1) && i2 >= 0 && i2 < int (p.in2))
      v = SS_LOAD (img[img_base + (uint (i0) * p.in1 + uint (i1)) * p.in2 + uint (i2)]);
    col[p.col_off + idx] = SS_STORE (v);
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
}
