#version 450
/* The adjoint of im2col: img[n, c, x] = sum over taps t and outputs l with
 * pos(l, t) == x of col[n, c*KV + t, l] (a gather: no atomics). */
#include "ss-common.glsl"
#include "conv_common.glsl"
/* UNIT_STRIDE: all strides 1 (the common case), so the tap loops need no
 * division or remainder */
#ifdef UNIT_STRIDE
#define OUT_OF(a, s) (a)
#define ON_GRID(a, s) true
#else
#define OUT_OF(a, s) ((a) / (s))
#define ON_GRID(a, s) ((a) % (s) == 0)
#endif
layout (local_size_x = 256) in;
layout (binding = 0) readonly buffer Col { SS_T col[]; };
layout (binding = 1) writeonly buffer Img { SS_T img[]; };

void main ()
{
  uint idx = ss_linear_group () * 256u + gl_LocalInvocationID.x;
  uint S = p.in0 * p.in1 * p.in2;
  if (idx >= p.N * p.C * S)
    return;
  uint KV = p.k0 * p.k1 * p.k2;
  uint L = p.out0 * p.out1 * p.out2;
  uint x = idx % S;
  uint nc = idx / S;
  int x2 = int (x % p.in2), x1 = int ((x / p.in2) % p.in1), x0 = int (x / (p.in2 * p.in1));
  float acc = 0.0;
  for (int t0 = 0; t0 < int (p.k0); t0++) {
    int a0 = x0 + p.p0 - t0 * p.d0;
    if (a0 < 0 || !ON_GRID (a0, p.s0) || OUT_OF (a0, p.s0) >= int (p.out0))
      continue;
    for (int t1 = 0; t1 < int (p.k1); t1++) {
      int a1 = x1 + p.p1 - t1 * p.d1;
      if (a1 < 0 || !ON_GRID (a1, p.s1) || OUT_OF (a1, p.s1) >= int (p.out1))
        continue;
      for (int t2 = 0; t2 < int (p.k2); t2++) {
        int a2 = x2 + p.p2 - t2 * p.d2;
        if (a2 < 0 || !ON_GRID (a2, p.s2) || OUT_OF (a2, p.s2) >= int (p.out2))
          continue;
        uint l = (uint (OUT_OF (a0, p.s0)) * p.out1 + uint (OUT_OF (a1, p.s1))) * p.out2 + uint (OUT_OF (a2, p.s2));
        uint t = (uint (t0) * p.k1 + uint (t1)) * p.k2 + uint (t2);
        acc += SS_LOAD (col[p.col_off + (nc * KV + t) * L + l]);
      }
    }
  }
  img[p.img_off + idx] = SS_STORE (acc);
}
