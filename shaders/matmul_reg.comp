#version 450
/* Batched GEMM for large products on discrete GPUs, register-blocked:
 *   C[b](m, n) = alpha * sum_k A[b](m, k) * B[b](k, n) + beta * C[b](m, n) + bias
 * with the operand addressing, bias modes and bounds of matmul.comp:
 *   A(b, m, k) = a[a_off + b*a_bs + m*a_rs + k*a_cs], likewise B(b, k, n), C(b, m, n)
 *   (C has unit column stride); bias_mode 0 none, 1 bias[n], 2 bias[m].
 * Grid: (ceil(N/128), ceil(M/128), batch).
 *
 * A 128x128 tile of C per 256 threads, 8x8 outputs per thread: rows
 * 4*ty + {0..3} and 64 + 4*ty + {0..3}, columns 4*tx + {0..3} and
 * 64 + 4*tx + {0..3} (tx = tid % 16, ty = tid / 16). Both operand tiles lie
 * in shared memory k-major (A transposed), so for every k a thread reads its
 * 8 A values and 8 B values as two vec4 each, and the 64 accumulators are 16
 * named vec4 variables (no arrays, no dynamic indices into registers). Shared
 * memory is double-buffered: the next k-slice is loaded from global memory
 * into registers while the current one is multiplied, then stored into the
 * other buffer; one barrier per k-slice.
 *
 * Each thread loads BK/8 groups of 4 elements of each operand per k-slice,
 * the group along the operand's unit-stride dim (A: k when a_cs == 1, else m;
 * B: n when b_cs == 1, else k). Specialization constants (fixed per layout
 * by the host, ss-op-matmul.c) choose one 4-element load (SS_T4: 16 bytes in
 * fp32, 8 in fp16/bf16) where offsets, strides and the extent along the
 * group are multiples of 4, element loads with the strides otherwise. The
 * epilogue reads and writes C 4 columns at a time where c_off, c_bs and c_rs
 * allow it (decided at run time). */
#include "ss-common.glsl"
#include "conv_implicit.glsl"
#extension GL_EXT_control_flow_attributes : require

#define BM 128
#define BN 128
#ifndef BK
#define BK 8
#endif
#define QK (BK / 4)          /* groups of 4 along k per row of a tile */
#define GROUPS (BK / 8)      /* groups of each operand per thread per k-slice */
/* Shared rows hold vec4 column c at c ^ SW(k): the four rows a group along
 * k is stored into start in different banks for the threads of a warp (no
 * padding, so BK 16 fits 32 KiB); the readers' vec4s stay within one row. */
#define SW(k) (((k) >> 2) * (8u / QK))

layout (local_size_x = 256) in;

/* 1: A grouped along k (a_cs == 1), 0: along m */
layout (constant_id = 0) const bool A_KFAST = true;
/* the A group is one 4-element load */
layout (constant_id = 1) const bool A_VEC = false;
/* 1: B grouped along n (b_cs == 1), 0: along k */
layout (constant_id = 2) const bool B_NFAST = true;
layout (constant_id = 3) const bool B_VEC = false;

layout (binding = 0) readonly buffer A { SS_T a[]; };
layout (binding = 1) readonly buffer B { SS_T b[]; };
layout (binding = 2) buffer C { SS_T c[]; };
layout (binding = 3) readonly buffer Bias { SS_T bias[]; };
layout (binding = 0) readonly buffer A4 { SS_T4 a4[]; };
layout (binding = 1) readonly buffer B4 { SS_T4 b4[]; };
layout (binding = 2) buffer C4 { SS_T4 c4[]; };

layout (push_constant) uniform P {
  uint M, N, K, bias_mode;
  uint a_off, a_bs, a_rs, a_cs;
  uint b_off, b_bs, b_rs, b_cs;
  uint c_off, c_bs, c_rs, bias_off;
  float alpha, beta;
#if defined(IMPLICIT) || defined(IMPLICIT_W)
  ConvGeo cv;   /* an implicit-GEMM convolution's geometry (conv_implicit.glsl) */
#endif
} p;

shared vec4 As[2][BK][BM / 4];
shared vec4 Bs[2][BK][BN / 4];

/* Group g (0 .. GROUPS-1) of this thread: its position in the tile. */
void a_pos (uint q, out uint mm, out uint kk)
{
  if (A_KFAST) { mm = q / QK; kk = (q % QK) * 4u; }
  else { mm = (q % (BM / 4)) * 4u; kk = q / (BM / 4); }
}

void b_pos (uint q, out uint kk, out uint nn)
{
  if (B_NFAST) { nn = (q % (BN / 4)) * 4u; kk = q / (BN / 4); }
  else { nn = q / QK; kk = (q % QK) * 4u; }
}

vec4 a_load (uint abase, uint m0, uint k0, uint q)
{
  uint mm, kk;
  a_pos (q, mm, kk);
  uint gm = m0 + mm, gk = k0 + kk;
  uint i = abase + gm * p.a_rs + gk * p.a_cs;
  if (A_VEC) {
    /* the group is entirely inside or entirely outside (extent % 4 == 0) */
    if (gm < p.M && gk < p.K)
      return ss_load4 (a4[i >> 2]);
    return vec4 (0.0);
  }
  vec4 v;
  if (A_KFAST) {
    bool row = gm < p.M;
    v.x = row && gk < p.K ? SS_LOAD (a[i]) : 0.0;
    v.y = row && gk + 1u < p.K ? SS_LOAD (a[i + p.a_cs]) : 0.0;
    v.z = row && gk + 2u < p.K ? SS_LOAD (a[i + 2u * p.a_cs]) : 0.0;
    v.w = row && gk + 3u < p.K ? SS_LOAD (a[i + 3u * p.a_cs]) : 0.0;
  } else {
    bool col = gk < p.K;
    v.x = col && gm < p.M ? SS_LOAD (a[i]) : 0.0;
    v.y = col && gm + 1u < p.M ? SS_LOAD (a[i + p.a_rs]) : 0.0;
    v.z = col && gm + 2u < p.M ? SS_LOAD (a[i + 2u * p.a_rs]) : 0.0;
    v.w = col && gm + 3u < p.M ? SS_LOAD (a[i + 3u * p.a_rs]) : 0.0;
  }
  return v;
}

vec4 b_load (uint bbase, uint n0, uint k0, uint q)
{
  uint kk, nn;
  b_pos (q, kk, nn);
  uint gn = n0 + nn, gk = k0 + kk;
#if defined(IMPLICIT) || defined(IMPLICIT_W)
  /* groups of 4 channels of one tap (C % 4 == 0): along k for the
   * convolution (B_NFAST false), along n for its weight gradient (true);
   * the host sets B_VEC. Clamped reads at the edges, zeros beyond them. */
#ifdef IMPLICIT
  uint i = bbase + conv_pos (p.cv, min (gn, p.N - 1u)) + conv_tap (p.cv, min (gk, p.K - 4u));
#else
  uint i = bbase + conv_pos (p.cv, min ((gl_WorkGroupID.z % p.cv.S) * p.cv.Ls + gk, p.cv.L - 1u)) +
           conv_tap (p.cv, min (gn, p.N - 4u));
#endif
  if (gn < p.N && gk < p.K)
    return ss_load4 (b4[i >> 2]);
  return vec4 (0.0);
#else
  uint i = bbase + gk * p.b_rs + gn * p.b_cs;
  if (B_VEC) {
    if (gn < p.N && gk < p.K)
      return ss_load4 (b4[i >> 2]);
    return vec4 (0.0);
  }
  vec4 v;
  if (B_NFAST) {
    bool row = gk < p.K;
    v.x = row && gn < p.N ? SS_LOAD (b[i]) : 0.0;
    v.y = row && gn + 1u < p.N ? SS_LOAD (b[i + p.b_cs]) : 0.0;
    v.z = row && gn + 2u < p.N ? SS_LOAD (b[i + 2u * p.b_cs]) : 0.0;
    v.w = row && gn + 3u < p.N ? SS_LOAD (b[i + 3u * p.b_cs]) : 0.0;
  } else {
    bool col = gn < p.N;
    v.x = col && gk < p.K ? SS_LOAD (b[i]) : 0.0;
    v.y = col && gk + 1u < p.K ? SS_LOAD (b[i + p.b_rs]) : 0.0;
    v.z = col && gk + 2u < p.K ? SS_LOAD (b[i + 2u * p.b_rs]) : 0.0;
    v.w = col && gk + 3u < p.K ? SS_LOAD (b[i + 3u * p.b_rs]) : 0.0;
  }
  return v;
#endif
}

/* stores a group into shared buffer s: a group along m / n is one vec4, a
 * group along k four elements of one column */
void a_store (uint s, uint q, vec4 v)
{
  uint mm, kk;
  a_pos (q, mm, kk);
  if (A_KFAST) {
    uint c = (mm >> 2) ^ SW (kk), e = mm & 3u;
    As[s][kk][c][e] = v.x;
    As[s][kk + 1u][c][e] = v.y;
    As[s][kk + 2u][c][e] = v.z;
    As[s][kk + 3u][c][e] = v.w;
  } else {
    As[s][kk][(mm >> 2) ^ SW (kk)] = v;
  }
}

void b_store (uint s, uint q, vec4 v)
{
  uint kk, nn;
  b_pos (q, kk, nn);
  if (B_NFAST) {
    Bs[s][kk][(nn >> 2) ^ SW (kk)] = v;
  } else {
    uint c = (nn >> 2) ^ SW (kk), e = nn & 3u;
    Bs[s][kk][c][e] = v.x;
    Bs[s][kk + 1u][c][e] = v.y;
    Bs[s][kk + 2u][c][e] = v.z;
    Bs[s][kk + 3u][c][e] = v.w;
  }
}

/* the epilogue for the 4 outputs (gm, gn .. gn+3) */
void store4 (uint cbase, uint gm, uint gn, vec4 acc)
{
  if (gm >= p.M)
    return;
  vec4 v = p.alpha * acc;
  uint ci = cbase + gm * p.c_rs + gn;
  /* 4 columns as one unit where c_off, c_bs, c_rs are multiples of 4 */
  bool c_vec = ((p.c_off | p.c_bs | p.c_rs) & 3u) == 0u;
  if (c_vec && gn + 4u <= p.N) {
    if (p.beta != 0.0)
      v += p.beta * ss_load4 (c4[ci >> 2]);
    if (p.bias_mode == 1u) {
      uint bi = p.bias_off + gn;
      v += vec4 (SS_LOAD (bias[bi]), SS_LOAD (bias[bi + 1u]), SS_LOAD (bias[bi + 2u]), SS_LOAD (bias[bi + 3u]));
    } else if (p.bias_mode == 2u) {
      v += SS_LOAD (bias[p.bias_off + gm]);
    }
    c4[ci >> 2] = ss_store4 (v);
    return;
  }
  [[unroll]] for (uint j = 0u; j < 4u; j++) {
    if (gn + j < p.N) {
      float x = v[j];
      if (p.beta != 0.0)
        x += p.beta * SS_LOAD (c[ci + j]);
      if (p.bias_mode == 1u)
        x += SS_LOAD (bias[p.bias_off + gn + j]);
      else if (p.bias_mode == 2u)
        x += SS_LOAD (bias[p.bias_off + gm]);
      c[ci + j] = SS_STORE (x);
    }
  }
}

/* one row r of the thread's 8x8 block: row value av times its 8 B values */
#define FMA_ROW(r, av) \
  c##r##a = fma (vec4 (av), b0, c##r##a); \
  c##r##b = fma (vec4 (av), b1, c##r##b);

void main ()
{
  uint tid = gl_LocalInvocationID.x;
  uint tx = tid % 16u, ty = tid / 16u;
  uint n0 = gl_WorkGroupID.x * BN, m0 = gl_WorkGroupID.y * BM, bz = gl_WorkGroupID.z;
#ifdef IMPLICIT_W
  /* batch entry bz: slice bz % S of image bz / S */
  uint abase = p.a_off + (bz / p.cv.S) * p.a_bs + (bz % p.cv.S) * p.cv.Ls;
  uint bbase = p.b_off + (bz / p.cv.S) * p.b_bs;
#else
  uint abase = p.a_off + bz * p.a_bs;
  uint bbase = p.b_off + bz * p.b_bs;
#endif

  vec4 c0a = vec4 (0.0), c0b = vec4 (0.0), c1a = vec4 (0.0), c1b = vec4 (0.0);
  vec4 c2a = vec4 (0.0), c2b = vec4 (0.0), c3a = vec4 (0.0), c3b = vec4 (0.0);
  vec4 c4a = vec4 (0.0), c4b = vec4 (0.0), c5a = vec4 (0.0), c5b = vec4 (0.0);
  vec4 c6a = vec4 (0.0), c6b = vec4 (0.0), c7a = vec4 (0.0), c7b = vec4 (0.0);

  uint tiles = (p.K + BK - 1u) / BK;
  /* the groups this thread loads: tid and (BK 16) tid + 256 */
  vec4 pa0, pb0;
#if GROUPS > 1
  vec4 pa1, pb1;
#endif
  if (tiles > 0u) {
    pa0 = a_load (abase, m0, 0u, tid);
    pb0 = b_load (bbase, n0, 0u, tid);
    a_store (0u, tid, pa0);
    b_store (0u, tid, pb0);
#if GROUPS > 1
    pa1 = a_load (abase, m0, 0u, tid + 256u);
    pb1 = b_load (bbase, n0, 0u, tid + 256u);
    a_store (0u, tid + 256u, pa1);
    b_store (0u, tid + 256u, pb1);
#endif
  }
  barrier ();

  /* Every slice loads the next one and stores it into the other buffer, the
   * last slice its own again (harmless: nothing reads that buffer after the
   * loop). Without branches around them the loads are issued before the
   * multiply-adds: with `if (next)` around the loads and the stores, the
   * H100's compiler sank the loads to just before the stores, so every
   * slice waited for global memory (docs/PERFORMANCE-engine.md, eighth
   * session). */
  for (uint t = 0u; t < tiles; t++) {
    uint s = t & 1u;
    uint k1 = min (t + 1u, tiles - 1u) * BK;
    pa0 = a_load (abase, m0, k1, tid);
    pb0 = b_load (bbase, n0, k1, tid);
#if GROUPS > 1
    pa1 = a_load (abase, m0, k1, tid + 256u);
    pb1 = b_load (bbase, n0, k1, tid + 256u);
#endif
    [[unroll]] for (uint kk = 0u; kk < BK; kk++) {
      uint ya = ty ^ SW (kk), xb = tx ^ SW (kk);   /* SW < 8: the + 16 halves stay apart */
      vec4 a0 = As[s][kk][ya], a1 = As[s][kk][ya + 16u];
      vec4 b0 = Bs[s][kk][xb], b1 = Bs[s][kk][xb + 16u];
      FMA_ROW (0, a0.x) FMA_ROW (1, a0.y) FMA_ROW (2, a0.z) FMA_ROW (3, a0.w)
      FMA_ROW (4, a1.x) FMA_ROW (5, a1.y) FMA_ROW (6, a1.z) FMA_ROW (7, a1.w)
    }
    /* the other buffer was last read in slice t - 1, before the last barrier */
    a_store (s ^ 1u, tid, pa0);
    b_store (s ^ 1u, tid, pb0);
#if GROUPS > 1
    a_store (s ^ 1u, tid + 256u, pa1);
    b_store (s ^ 1u, tid + 256u, pb1);
#endif
    barrier ();
  }

  /* the epilogue a row at a time, the accumulators moved up a row after each
   * (one copy of store4's code per half row instead of 16: lavapipe compiles
   * the kernel 4 times faster; still no indexing into registers) */
  uint cbase = p.c_off + bz * p.c_bs;
  uint na = n0 + 4u * tx, nb = na + 64u;
  [[dont_unroll]] for (uint r = 0u; r < 8u; r++) {
    uint gm = m0 + 4u * ty + (r & 3u) + (r & 4u) * 16u;
    store4 (cbase, gm, na, c0a);
    store4 (cbase, gm, nb, c0b);
    c0a = c1a; c0b = c1b; c1a = c2a; c1b = c2b; c2a = c3a; c2b = c3b; c3a = c4a; c3b = c4b;
    c4a = c5a; c4b = c5b; c5a = c6a; c5b = c6b; c6a = c7a; c6b = c7b;
  }
}
