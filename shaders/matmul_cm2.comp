#version 450
/* GEMM with workgroup-scope cooperative matrices (VK_NV_cooperative_matrix2 on
 * VK_KHR_cooperative_matrix): the whole 128 x BN tile is one accumulator
 * matrix of the workgroup, and each K step one 128 x BK matrix of A times one
 * BK x BN of B; the driver splits them over the warps. fp16 A/B, fp32
 * accumulation, fp16 C (or all bf16: the matmul_cm2_bf16 build rewrites the
 * 16-bit type, gen/spv-nv-to-khr.py --bf16, so the 16-bit values are only
 * loaded, stored and converted here). The tiles go global -> registers ->
 * shared (16-byte vectors, padded rows, two buffers), as in
 * matmul_coopmat.comp: loading the workgroup matrices straight from global
 * memory ran at 40-88 TFLOP/s on the H100 against 158-198 staged, with plain
 * and with tensor-addressing loads (TENSOR, the matmul_cm2t build;
 * docs/PERFORMANCE-engine.md, fifth and sixth sessions).
 *
 * Written against GL_NV_cooperative_matrix (which is what Debian 12's glslc
 * knows) and rewritten into the KHR extension at build time by
 * gen/spv-nv-to-khr.py; the matrix types of A, B and the accumulator must
 * therefore differ in shape.
 *
 * K % BK == 0, leading dimensions and offsets multiples of 8, the contiguous
 * extent of A and B (M or K, K or N) a multiple of 8, M, N >= 64, beta == 0
 * (the host falls back to matmul_coopmat otherwise). Any M and N: tiles at the
 * M or N edge load clamped rows (every read stays inside the operands; what
 * they compute is dropped). C goes through shared memory and out in 16-byte
 * stores, with bounds checks at the edges; TENSOR takes whole tiles only and
 * stores its workgroup matrix directly. LAYOUT: bit 0 A column-major, bit 1
 * B column-major. A bias (flags bits 2-3: 1 per column, 2 per row), divided
 * by alpha (the host sends alpha 0 elsewhere), is the accumulator's start
 * value, loaded from shared memory with stride 0. NT: 128 or 256 invocations
 * (the device must list that workgroup size for the element type's
 * workgroup-scope matrices).
 * IMPLICIT (LAYOUT 2 only): an implicit-GEMM convolution. B is not stored:
 * column n of B (an output position (z, y, x) of image bz) is read from the
 * channels-last packed image (shaders/conv_pack.comp) at
 * z mz + y my + x mx, and row k of it (tap (tz, ty, tx), channel c, with
 * k = ((tz ky + ty) kx + tx) C + c) at tz tz' + ty ty' + tx tx' + c further
 * (conv_implicit.glsl; cv in the push constants). C % BK == 0, so a K step is
 * one tap's run of BK channels: the loads step a tap cursor instead of a
 * stride, in the order the K steps are loaded.
 * IMPLICIT_W (LAYOUT 0 only): the weight gradient of such a convolution,
 * dW (M output channels x N = taps x channels) = dY (M x positions) times
 * the image's columns (positions x N): B's row k is output position k of
 * the slice, its column n the tap and channel n, read as above. Batch entry
 * bz is slice bz % S (Ls positions, Ls % BK == 0) of image bz / S; each
 * loaded row keeps a position cursor that steps BK positions a K step.
 * Positions from L on (the host pads dy with zeros to whole K steps) read
 * position L - 1, so that every read stays in the image.
 * Grid (ceil (N / BN), ceil (M / 128), batch). */
#extension GL_NV_cooperative_matrix : require
#extension GL_KHR_memory_scope_semantics : require
#extension GL_EXT_shader_explicit_arithmetic_types_float16 : require
#extension GL_EXT_shader_16bit_storage : require
#extension GL_EXT_control_flow_attributes : require
#include "conv_implicit.glsl"

#ifndef NT
#define NT 128
#endif
#ifndef LAYOUT
#define LAYOUT 0
#endif
#ifndef BN
#define BN 128
#endif
#ifndef BM
#define BM 128
#endif
#ifndef BK
#define BK 32
#endif
layout (local_size_x = NT) in;

#ifdef TENSOR
layout (binding = 0) readonly buffer A16 { float16_t a16[]; };
layout (binding = 1) readonly buffer B16 { float16_t b16[]; };
#else
layout (binding = 0) readonly buffer A4 { uvec4 a4[]; };
layout (binding = 1) readonly buffer B4 { uvec4 b4[]; };
#endif
layout (binding = 2) writeonly buffer C { float16_t c[]; };
layout (binding = 2) writeonly buffer C4 { uvec4 c4[]; };   /* the same, 8 elements a unit */
layout (binding = 3) readonly buffer Bias { float16_t bias[]; };

layout (push_constant) uniform P {
  uint M, N, K, flags;
  uint a_off, a_bs, a_ld, b_off;
  uint b_bs, b_ld, c_off, c_bs;
  uint c_ld, bias_off, pad0, pad1;
  float alpha, beta;
#if defined(IMPLICIT) || defined(IMPLICIT_W)
  ConvGeo cv;   /* the convolution's geometry (conv_implicit.glsl) */
#endif
} p;

#ifndef TENSOR
#define KV (BK / 8)               /* 16-byte vectors per BK-long row */
#define NLDA (BM * KV / NT)       /* 16-byte vectors per thread and A tile */
#define NLDB (BN * KV / NT)       /* ... and B tile */
#define RM4 (KV + 1)              /* [BM][BK] and [BN][BK] tiles: padded rows */
#define CM4 (BM / 8 + 1)          /* [BK][BM] tiles */
#define CMB (BN / 8 + 1)          /* [BK][BN] tiles */
#define ASZ max (BM * RM4, BK * CM4)
#define BSZ max (BN * RM4, BK * CMB)
/* A tiles at 0 and ASZ, B tiles at 2 ASZ and 2 ASZ + BSZ (uvec4 units); at
 * the end the tile of C (BM rows of CST vectors) unless CDIRECT (BN 256:
 * C is stored from the matrix, it would not fit) */
#ifdef CDIRECT
shared uvec4 S[2 * (ASZ + BSZ)];
#else
shared uvec4 S[max (2 * (ASZ + BSZ), BM * (BN / 8 + 1))];
#endif
#define AS(buf) ((buf) * ASZ)
#define BS(buf) (2u * ASZ + (buf) * BSZ)
#else
shared uvec4 S[64];     /* the bias */
#endif
#define CST (BN / 8 + 1)

void main ()
{
  const bool a_col = (LAYOUT & 1) != 0;
  const bool b_col = (LAYOUT & 2) != 0;
  uint tid = gl_LocalInvocationID.x;
  uint n0 = gl_WorkGroupID.x * BN, m0 = gl_WorkGroupID.y * BM, bz = gl_WorkGroupID.z;
#ifdef IMPLICIT_W
  uint abase = p.a_off + (bz / p.cv.S) * p.a_bs + (bz % p.cv.S) * p.cv.Ls;
  uint bbase = p.b_off + (bz / p.cv.S) * p.b_bs;
#else
  uint abase = p.a_off + bz * p.a_bs;
  uint bbase = p.b_off + bz * p.b_bs;
#endif

  /* the accumulator starts at the bias / alpha (fp32 in S, a row or a
   * column repeated by a stride-0 load; clamped reads at the edges) or 0 */
  fcoopmatNV<32, gl_ScopeWorkgroup, BM, BN> acc;
  uint bias_mode = (p.flags >> 2) & 3u;
  if (bias_mode != 0u) {
    float inv_alpha = 1.0 / p.alpha;
    for (uint i = tid; i < (bias_mode == 1u ? BN : BM); i += NT) {
      uint at = bias_mode == 1u ? min (n0 + i, p.N - 1u) : min (m0 + i, p.M - 1u);
      S[i / 4u][i % 4u] = floatBitsToUint (float (bias[p.bias_off + at]) * inv_alpha);
    }
    barrier ();
    if (bias_mode == 1u)
      coopMatLoadNV (acc, S, 0u, 0u, false);
    else
      coopMatLoadNV (acc, S, 0u, 0u, true);
    barrier ();                 /* before the tiles overwrite S */
  } else {
    acc = fcoopmatNV<32, gl_ScopeWorkgroup, BM, BN> (0.0);
  }
  uint nk = p.K / BK;
#ifdef TENSOR
  /* the workgroup matrices straight from global memory; gen/spv-nv-to-khr.py
   * --tensor-loads turns these loads into tensor-addressing ones */
  uint aoff = a_col ? abase + m0 : abase + m0 * p.a_ld;
  uint boff = b_col ? bbase + n0 * p.b_ld : bbase + n0;
  uint a_step = a_col ? BK * p.a_ld : BK;
  uint b_step = b_col ? BK : BK * p.b_ld;
  for (uint kt = 0u; kt < nk; kt++) {
    fcoopmatNV<16, gl_ScopeWorkgroup, BM, BK> ma;
    fcoopmatNV<16, gl_ScopeWorkgroup, BK, BN> mb;
    if (a_col)
      coopMatLoadNV (ma, a16, aoff + kt * a_step, p.a_ld, true);
    else
      coopMatLoadNV (ma, a16, aoff + kt * a_step, p.a_ld, false);
    if (b_col)
      coopMatLoadNV (mb, b16, boff + kt * b_step, p.b_ld, true);
    else
      coopMatLoadNV (mb, b16, boff + kt * b_step, p.b_ld, false);
    acc = coopMatMulAddNV (ma, mb, acc);
  }
#else
  uvec4 ra[NLDA], rb[NLDB];
  uint a_idx[NLDA], b_idx[NLDB];
  [[unroll]] for (uint i = 0u; i < NLDA; i++) {
    uint e = tid + i * NT;
    /* rows (or 8-row vectors) past M read the last one instead */
    a_idx[i] = a_col ? (abase + (e / (BM / 8u)) * p.a_ld + min (m0 + (e % (BM / 8u)) * 8u, p.M - 8u)) / 8u
                     : (abase + min (m0 + e / KV, p.M - 1u) * p.a_ld + (e % KV) * 8u) / 8u;
  }
#ifdef IMPLICIT_W
  /* this thread's 8 columns: one tap, 8 channels (N % 8 == 0, C % 8 == 0);
   * its rows: positions with a cursor each (x, y and the element offset) */
  uint w_koff, w_pos[NLDB], w_px[NLDB], w_py[NLDB], w_pb[NLDB], w_last;
  w_koff = bbase + conv_tap (p.cv, min (n0 + (tid % (BN / 8u)) * 8u, p.N - 8u));
  /* positions past the image's L (dy is zero-padded there) read its last one */
  w_last = conv_pos (p.cv, p.cv.L - 1u);
  [[unroll]] for (uint i = 0u; i < NLDB; i++) {
    uint pos = (bz % p.cv.S) * p.cv.Ls + (tid + i * NT) / (BN / 8u);
    w_pos[i] = pos;
    w_px[i] = pos % p.cv.ox;
    w_py[i] = (pos / p.cv.ox) % p.cv.oy;
    w_pb[i] = conv_pos (p.cv, pos);
  }
#endif
#ifndef IMPLICIT_W   /* (the weight gradient's rows are the position cursors above) */
  [[unroll]] for (uint i = 0u; i < NLDB; i++) {
    uint e = tid + i * NT;
#ifdef IMPLICIT
    b_idx[i] = (bbase + conv_pos (p.cv, min (n0 + e / KV, p.N - 1u)) + (e % KV) * 8u) / 8u;
#else
    b_idx[i] = b_col ? (bbase + min (n0 + e / KV, p.N - 1u) * p.b_ld + (e % KV) * 8u) / 8u
                     : (bbase + (e / (BN / 8u)) * p.b_ld + min (n0 + (e % (BN / 8u)) * 8u, p.N - 8u)) / 8u;
#endif
  }
#endif
  uint a_step = a_col ? BK * p.a_ld / 8u : BK / 8u;
#ifdef IMPLICIT
  /* the tap cursor of the next K step to load: channel run, taps along x and
   * y, and its element offset (unsigned wrap-around keeps the sums exact) */
  uint cur_c = 0u, cur_x = 0u, cur_y = 0u, cur_off = 0u;
#define B_NEXT() { \
    cur_c += BK; cur_off += BK; \
    if (cur_c == p.cv.C) { \
      cur_c = 0u; cur_off += p.cv.tx - p.cv.C; cur_x++; \
      if (cur_x == p.cv.kx) { \
        cur_x = 0u; cur_off += p.cv.ty - p.cv.kx * p.cv.tx; cur_y++; \
        if (cur_y == p.cv.ky) { cur_y = 0u; cur_off += p.cv.tz - p.cv.ky * p.cv.ty; } \
      } \
    } \
  }
#define B_IDX(i, kt) (b_idx[i] + cur_off / 8u)
#elif defined(IMPLICIT_W)
#define B_IDX(i, kt) ((w_koff + (w_pos[i] < p.cv.L ? w_pb[i] : w_last)) / 8u)
#define B_NEXT() \
  [[unroll]] for (uint i = 0u; i < NLDB; i++) { \
    w_pos[i] += BK; w_px[i] += BK; w_pb[i] += BK * p.cv.mx; \
    while (w_px[i] >= p.cv.ox) { \
      w_px[i] -= p.cv.ox; w_pb[i] += p.cv.my - p.cv.ox * p.cv.mx; w_py[i]++; \
      if (w_py[i] == p.cv.oy) { w_py[i] = 0u; w_pb[i] += p.cv.mz - p.cv.oy * p.cv.my; } \
    } \
  }
#else
  uint b_step = b_col ? BK / 8u : BK * p.b_ld / 8u;
#define B_IDX(i, kt) (b_idx[i] + (kt) * b_step)
#define B_NEXT()
#endif
#define LOAD_TILE(kt) \
  [[unroll]] for (uint i = 0u; i < NLDA; i++) \
    ra[i] = a4[a_idx[i] + (kt) * a_step]; \
  [[unroll]] for (uint i = 0u; i < NLDB; i++) \
    rb[i] = b4[B_IDX (i, kt)]; \
  B_NEXT ()
#define STORE_TILE(buf) \
  [[unroll]] for (uint i = 0u; i < NLDA; i++) { \
    uint e = tid + i * NT; \
    S[AS (buf) + (a_col ? (e / (BM / 8u)) * CM4 + e % (BM / 8u) : (e / KV) * RM4 + e % KV)] = ra[i]; \
  } \
  [[unroll]] for (uint i = 0u; i < NLDB; i++) { \
    uint e = tid + i * NT; \
    S[BS (buf) + (b_col ? (e / KV) * RM4 + e % KV : (e / (BN / 8u)) * CMB + e % (BN / 8u))] = rb[i]; \
  }
#define MMA_STEP(buf) { \
    fcoopmatNV<16, gl_ScopeWorkgroup, BM, BK> ma; \
    fcoopmatNV<16, gl_ScopeWorkgroup, BK, BN> mb; \
    if (a_col) \
      coopMatLoadNV (ma, S, AS (buf), CM4, true); \
    else \
      coopMatLoadNV (ma, S, AS (buf), RM4, false); \
    if (b_col) \
      coopMatLoadNV (mb, S, BS (buf), RM4, true); \
    else \
      coopMatLoadNV (mb, S, BS (buf), CMB, false); \
    acc = coopMatMulAddNV (ma, mb, acc); \
  }
#ifndef PF
  LOAD_TILE (0u);
  STORE_TILE (0);
  barrier ();
  for (uint kt = 0u; kt < nk; kt++) {
    uint buf = kt & 1u;
    if (kt + 1u < nk) {
      LOAD_TILE (kt + 1u);
    }
    MMA_STEP (buf);
    if (kt + 1u < nk) {
      STORE_TILE (buf ^ 1u);
    }
    barrier ();
  }
#else
  /* PF register sets in a ring: set j holds the tile PF steps ahead of the
   * one it stores next, so each global load has PF K steps to land. The loop
   * is unrolled by PF so that the set is chosen at compile time. */
  uvec4 qa[PF][NLDA], qb[PF][NLDB];
#define LOAD_SET(j, kt) \
  [[unroll]] for (uint i = 0u; i < NLDA; i++) \
    qa[j][i] = a4[a_idx[i] + (kt) * a_step]; \
  [[unroll]] for (uint i = 0u; i < NLDB; i++) \
    qb[j][i] = b4[B_IDX (i, kt)]; \
  B_NEXT ()
#define STORE_SET(j, buf) \
  [[unroll]] for (uint i = 0u; i < NLDA; i++) ra[i] = qa[j][i]; \
  [[unroll]] for (uint i = 0u; i < NLDB; i++) rb[i] = qb[j][i]; \
  STORE_TILE (buf)
  LOAD_TILE (0u);
  STORE_TILE (0);
  barrier ();
  [[unroll]] for (uint j = 0u; j < PF; j++)
    if (j + 1u < nk) {
      LOAD_SET (j, j + 1u);
    }
#define PF_STEP(j) \
  if (kt < nk) { \
    uint buf = kt & 1u; \
    MMA_STEP (buf); \
    if (kt + 1u < nk) { \
      STORE_SET (j, buf ^ 1u); \
    } \
    if (kt + 1u + PF < nk) { \
      LOAD_SET (j, kt + 1u + PF); \
    } \
    barrier (); \
    kt++; \
  }
  for (uint kt = 0u; kt < nk; ) {
    PF_STEP (0u)
    PF_STEP (1u)
#if PF > 2
    PF_STEP (2u)
#endif
  }
#endif
#endif
  if (p.alpha != 1.0)
    acc = acc * p.alpha;

  fcoopmatNV<16, gl_ScopeWorkgroup, BM, BN> h = fcoopmatNV<16, gl_ScopeWorkgroup, BM, BN> (acc);
  uint cbase = p.c_off + bz * p.c_bs + m0 * p.c_ld + n0;
#if !defined(TENSOR) && !defined(CDIRECT)
  /* C through shared memory (the last K step's barrier has released S), then
   * 16-byte stores of 8 columns each, with bounds checks at the edges: the
   * workgroup matrix's own store to global memory wrote C at about
   * 0.5 TB/s on the H100 (21966 x 768 x 768: 114 TFLOP/s against 162 with
   * no store at all; docs/PERFORMANCE-engine.md, sixth session) */
  coopMatStoreNV (h, S, 0u, CST, false);
  barrier ();
  for (uint u = tid; u < BM * (BN / 8u); u += NT) {
    uint row = u / (BN / 8u), col = (u % (BN / 8u)) * 8u;
    if (m0 + row >= p.M)
      continue;
    uvec4 v = S[row * CST + col / 8u];
    uint ci = cbase + row * p.c_ld + col;
#ifdef IMPLICIT
    /* rows of any length (positions): 16-byte stores where they are aligned */
    if (n0 + col + 8u <= p.N && (ci & 7u) == 0u) {
#else
    if (n0 + col + 8u <= p.N) {
#endif
      c4[ci / 8u] = v;
      continue;
    }
    /* each element's bits as the low half (bf16 allows no dynamic vector
     * index, see gen/spv-nv-to-khr.py --bf16) */
    [[unroll]] for (uint q = 0u; q < 8u; q++)
      if (n0 + col + q < p.N)
        c[ci + q] = unpackFloat2x16 (v[q / 2u] >> (16u * (q & 1u))).x;
  }
#else
  coopMatStoreNV (h, c, cbase, p.c_ld, false);
#endif
}
