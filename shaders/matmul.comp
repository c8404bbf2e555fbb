#version 450
/* Batched GEMM, fp32 accumulation, shared-memory tiling (works on lavapipe):
 *   C[b](m, n) = alpha * sum_k A[b](m, k) * B[b](k, n) + beta * C[b](m, n) + bias
 * Every operand is addressed through element strides, so transposes and
 * broadcast batches (stride 0) need no copies:
 *   A(b, m, k) = a[a_off + b*a_bs + m*a_rs + k*a_cs], likewise B(b, k, n), C(b, m, n).
 * bias_mode: 0 none, 1 bias[n] (per column), 2 bias[m] (per row).
 * IMPLICIT: B is an implicit-GEMM convolution's image; IMPLICIT_W: the
 * positions-by-taps matrix of its weight gradient (conv_implicit.glsl).
 * Grid: (ceil(N/BN), ceil(M/BM), batch). */
#include "ss-common.glsl"
#include "conv_implicit.glsl"
#extension GL_EXT_control_flow_attributes : require

/* Tile shape: 64x64x16 with 4x4 per thread by default; the *_big variants
 * (discrete GPUs) use 128x128x8 with 8x8 per thread. 256 threads either way. */
#ifndef BM
#define BM 64
#define BN 64
#define BK 16
#define TM 4
#define TN 4
#endif
#define TX (BN / TN)
#define TY (BM / TM)
#define LOADS (BM * BK / 256)
layout (local_size_x = 256) in;

layout (binding = 0) readonly buffer A { SS_T a[]; };
layout (binding = 1) readonly buffer B { SS_T b[]; };
layout (binding = 2) buffer C { SS_T c[]; };
layout (binding = 3) readonly buffer Bias { SS_T bias[]; };

layout (push_constant) uniform P {
  uint M, N, K, bias_mode;
  uint a_off, a_bs, a_rs, a_cs;
  uint b_off, b_bs, b_rs, b_cs;
  uint c_off, c_bs, c_rs, bias_off;
  float alpha, beta;
#if defined(IMPLICIT) || defined(IMPLICIT_W)
  ConvGeo cv;   /* the convolution's geometry (conv_implicit.glsl) */
#endif
} p;

#ifdef IMPLICIT
/* the convolution: B(k, n) is tap and channel k at position n */
#define B_INDEX(k, n) (conv_pos (p.cv, n) + conv_tap (p.cv, k))
#elif defined(IMPLICIT_W)
/* its weight gradient: B(k, n) is position k of the slice, tap and channel n
 * (positions from L on, where dy is zero-padded, read position L - 1) */
#define B_INDEX(k, n) (conv_pos (p.cv, min ((bz % p.cv.S) * p.cv.Ls + (k), p.cv.L - 1u)) + conv_tap (p.cv, n))
#else
#define B_INDEX(k, n) ((k) * p.b_rs + (n) * p.b_cs)
#endif

shared float As[2][BK][BM + 4];
shared float Bs[2][BK][BN + 4];

void main ()
{
  uint tid = gl_LocalInvocationID.x;
  uint tx = tid % TX, ty = tid / TX;
  uint n0 = gl_WorkGroupID.x * BN, m0 = gl_WorkGroupID.y * BM, bz = gl_WorkGroupID.z;
#ifdef IMPLICIT_W
  /* batch entry bz: slice bz % S of image bz / S */
  uint abase = p.a_off + (bz / p.cv.S) * p.a_bs + (bz % p.cv.S) * p.cv.Ls;
  uint bbase = p.b_off + (bz / p.cv.S) * p.b_bs;
#else
  uint abase = p.a_off + bz * p.a_bs;
  uint bbase = p.b_off + bz * p.b_bs;
#endif

  float acc[TM][TN];
  [[unroll]] for (int i = 0; i < TM; i++)
    [[unroll]] for (int j = 0; j < TN; j++)
      acc[i][j] = 0.0;

  bool a_kfast = p.a_cs == 1u;
  bool b_nfast = p.b_cs == 1u;

  /* two shared buffers; slice t + 1 is loaded into registers before slice
   * t's multiply-adds and stored after them (the last slice loads itself
   * again: no branch around the loads, which the H100's compiler would
   * otherwise sink to their stores) */
  float ra[LOADS], rb[LOADS];
#define LOAD_SLICE(k0) \
  [[unroll]] for (uint i = 0; i < LOADS; i++) { \
    uint e = tid + i * 256u; \
    uint mm, kk; \
    if (a_kfast) { kk = e % BK; mm = e / BK; } else { mm = e % BM; kk = e / BM; } \
    uint gm = m0 + mm, gk = (k0) + kk; \
    ra[i] = (gm < p.M && gk < p.K) ? SS_LOAD (a[abase + gm * p.a_rs + gk * p.a_cs]) : 0.0; \
    uint nn; \
    if (b_nfast) { nn = e % BN; kk = e / BN; } else { kk = e % BK; nn = e / BK; } \
    uint gn = n0 + nn; \
    gk = (k0) + kk; \
    rb[i] = (gn < p.N && gk < p.K) ? SS_LOAD (b[bbase + B_INDEX (gk, gn)]) : 0.0; \
  }
#define STORE_SLICE(s) \
  [[unroll]] for (uint i = 0; i < LOADS; i++) { \
    uint e = tid + i * 256u; \
    uint mm, kk; \
    if (a_kfast) { kk = e % BK; mm = e / BK; } else { mm = e % BM; kk = e / BM; } \
    As[s][kk][mm] = ra[i]; \
    uint nn; \
    if (b_nfast) { nn = e % BN; kk = e / BN; } else { kk = e % BK; nn = e / BK; } \
    Bs[s][kk][nn] = rb[i]; \
  }
  uint tiles = (p.K + BK - 1u) / BK;
  LOAD_SLICE (0u)
  STORE_SLICE (0u)
  barrier ();
  for (uint t = 0u; t < tiles; t++) {
    uint s = t & 1u;
    LOAD_SLICE (min (t + 1u, tiles - 1u) * BK)
    [[unroll]] for (uint kk = 0; kk < BK; kk++) {
      float av[TM], bv[TN];
      [[unroll]] for (int i = 0; i < TM; i++)
        av[i] = As[s][kk][ty + TY * i];
      [[unroll]] for (int j = 0; j < TN; j++)
        bv[j] = Bs[s][kk][tx + TX * j];
      [[unroll]] for (int i = 0; i < TM; i++)
        [[unroll]] for (int j = 0; j < TN; j++)
          acc[i][j] += av[i] * bv[j];
    }
    /* the other buffer was last read in slice t - 1, before the last barrier */
    STORE_SLICE (s ^ 1u)
    barrier ();
  }

  uint cbase = p.c_off + bz * p.c_bs;
  [[unroll]] for (int i = 0; i < TM; i++) {
    uint gm = m0 + ty + TY * i;
    if (gm >= p.M)
      continue;
    [[unroll]] for (int j = 0; j < TN; j++) {
      uint gn = n0 + tx + TX * j;
      if (gn >= p.N)
        continue;
      uint ci = cbase + gm * p.c_rs + gn;
      float v = p.alpha * acc[i][j];
      if (p.beta != 0.0)
        v += p.beta * SS_LOAD (c[ci]);
      if (p.bias_mode == 1u)
        v += SS_LOAD (bias[p.bias_off + gn]);
      else if (p.bias_mode == 2u)
        v += SS_LOAD (bias[p.bias_off + gm]);
      c[ci] = SS_STORE (v);
    }
  }
}
