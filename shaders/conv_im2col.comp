#version 450
/* col[n, c*KV + t, l] = img[n, c, pos(l, t)] (0 outside the image). */
#include "ss-common.glsl"
#include "conv_common.glsl"
layout (local_size_x = 256) in;
layout (binding = 0) readonly buffer Img { SS_T img[]; };
layout (binding = 1) writeonly buffer Col { SS_T col[]; };

void main ()
{
  uint idx = ss_linear_group () * 256u + gl_LocalInvocationID.x;
  uint KV = p.k0 * p.k1 * p.k2;
  uint L = p.out0 * p.out1 * p.out2;
  uint rows = p.C * KV;
  if (idx >= p.N * rows * L)
    return;
  uint l = idx % L;
  uint r = (idx / L) % rows;
  uint n = idx / (L * rows);
  uint c = r / KV, t = r % KV;
  int t2 = int (t % p.k2), t1 = int ((t / p.k2) % p.k1), t0 = int (t / (p.k2 * p.k1));
  int o2 = int (l % p.out2), o1 = int ((l / p.out2) % p.out1), o0 = int (l / (p.out2 * p.out1));
  int i0 = o0 * p.s0 - p.p0 + t0 * p.d0;
  int i1 = o1 * p.s1 - p.p1 + t1 * p.d1;
  int i2 = o2 * p.s2 - p.p2 + t2 * p.d2;
  float v = 0.0;
  if (i0 >= 0 && i0 < int (p.in0) && i1 >= 0 && i1 < int (p.in1) && i2 >= 0 && i2 < int (p.in2))
    v = SS_LOAD (img[p.img_off + ((n * p.C + c) * p.in0 + uint (i0)) * p.in1 * p.in2 + uint (i1) * p.in2 + uint (i2)]);
  col[p.col_off + idx] = SS_STORE (v);
}
