#version 450
/* GEMM with workgroup-scope cooperative matrices (VK_NV_cooperative_matrix2 on
 * VK_KHR_cooperative_matrix): the whole 128 x BN tile is one accumulator
 * matrix of the workgroup, and each K step one 128 x 32 matrix of A times one
 * 32 x BN of B; the driver splits them over the warps. fp16 A/B, fp32
 * accumulation, fp16 C. The tiles go global -> registers -> shared (16-byte
 * vectors, padded rows, two buffers), as in matmul_coopmat.comp: loading the
 * workgroup matrices straight from global memory ran at 46-88 TFLOP/s on the
 * H100 against 158-196 staged (docs/PERFORMANCE-engine.md, fifth session).
 *
 * Written against GL_NV_cooperative_matrix (which is what Debian 12's glslc
 * knows) and rewritten into the KHR extension at build time by
 * gen/spv-nv-to-khr.py; the matrix types of A, B and the accumulator must
 * therefore differ in shape.
 *
 * Whole tiles only: M % 128 == 0, N % BN == 0 (BN 128 or 64), K % 32 == 0,
 * leading dimensions and offsets multiples of 8 (the host falls back to
 * matmul_coopmat otherwise), beta == 0. LAYOUT: bit 0 A column-major, bit 1 B
 * column-major. A bias (flags bits 2-3: 1 per column, 2 per row) is added to
 * the stored tile (this glslang cannot add two matrices). NT: 128 or 256
 * invocations (the device must list that workgroup size for fp16
 * workgroup-scope matrices).
 * Grid (N / BN, M / 128, batch). */
#extension GL_NV_cooperative_matrix : require
#extension GL_KHR_memory_scope_semantics : require
#extension GL_EXT_shader_explicit_arithmetic_types_float16 : require
#extension GL_EXT_shader_16bit_storage : require
#extension GL_EXT_control_flow_attributes : require

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
/* coherent: the bias pass reads back what other invocations stored */
layout (binding = 2) coherent buffer C { float16_t c[]; };
layout (binding = 3) readonly buffer Bias { float16_t bias[]; };

layout (push_constant) uniform P {
  uint M, N, K, flags;
  uint a_off, a_bs, a_ld, b_off;
  uint b_bs, b_ld, c_off, c_bs;
  uint c_ld, bias_off, pad0, pad1;
  float alpha, beta;
} p;

#ifndef TENSOR
#define NLDA (512 / NT)     /* 16-byte vectors per thread and A tile */
#define NLDB (4 * BN / NT)  /* ... and B tile */
#define RM4 5               /* [128][32] and [BN][32] tiles, rows of 40 halves */
#define CM4 17              /* [32][128] tiles, rows of 136 halves */
#define CMB (BN / 8 + 1)    /* [32][BN] tiles */
shared uvec4 As[2][640];
shared uvec4 Bs[2][640];
#endif

void main ()
{
  const bool a_col = (LAYOUT & 1) != 0;
  const bool b_col = (LAYOUT & 2) != 0;
  uint tid = gl_LocalInvocationID.x;
  uint n0 = gl_WorkGroupID.x * BN, m0 = gl_WorkGroupID.y * BM, bz = gl_WorkGroupID.z;
  uint abase = p.a_off + bz * p.a_bs;
  uint bbase = p.b_off + bz * p.b_bs;

  fcoopmatNV<32, gl_ScopeWorkgroup, BM, BN> acc = fcoopmatNV<32, gl_ScopeWorkgroup, BM, BN> (0.0);
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
    a_idx[i] = a_col ? (abase + (e / 16u) * p.a_ld + m0 + (e % 16u) * 8u) / 8u
                     : (abase + (m0 + e / 4u) * p.a_ld + (e % 4u) * 8u) / 8u;
  }
  [[unroll]] for (uint i = 0u; i < NLDB; i++) {
    uint e = tid + i * NT;
    b_idx[i] = b_col ? (bbase + (n0 + e / 4u) * p.b_ld + (e % 4u) * 8u) / 8u
                     : (bbase + (e / (BN / 8u)) * p.b_ld + n0 + (e % (BN / 8u)) * 8u) / 8u;
  }
  uint a_step = a_col ? BK * p.a_ld / 8u : BK / 8u;
  uint b_step = b_col ? BK / 8u : BK * p.b_ld / 8u;
#define LOAD_TILE(kt) \
  [[unroll]] for (uint i = 0u; i < NLDA; i++) \
    ra[i] = a4[a_idx[i] + (kt) * a_step]; \
  [[unroll]] for (uint i = 0u; i < NLDB; i++) \
    rb[i] = b4[b_idx[i] + (kt) * b_step];
#define STORE_TILE(buf) \
  [[unroll]] for (uint i = 0u; i < NLDA; i++) { \
    uint e = tid + i * NT; \
    As[buf][a_col ? (e / 16u) * CM4 + e % 16u : (e / 4u) * RM4 + e % 4u] = ra[i]; \
  } \
  [[unroll]] for (uint i = 0u; i < NLDB; i++) { \
    uint e = tid + i * NT; \
    Bs[buf][b_col ? (e / 4u) * RM4 + e % 4u : (e / (BN / 8u)) * CMB + e % (BN / 8u)] = rb[i]; \
  }
  LOAD_TILE (0u);
  STORE_TILE (0);
  barrier ();
  for (uint kt = 0u; kt < nk; kt++) {
    uint buf = kt & 1u;
    if (kt + 1u < nk) {
      LOAD_TILE (kt + 1u);
    }
    fcoopmatNV<16, gl_ScopeWorkgroup, BM, BK> ma;
    fcoopmatNV<16, gl_ScopeWorkgroup, BK, BN> mb;
    if (a_col)
      coopMatLoadNV (ma, As[buf], 0u, CM4, true);
    else
      coopMatLoadNV (ma, As[buf], 0u, RM4, false);
    if (b_col)
      coopMatLoadNV (mb, Bs[buf], 0u, RM4, true);
    else
      coopMatLoadNV (mb, Bs[buf], 0u, CMB, false);
    acc = coopMatMulAddNV (ma, mb, acc);
    if (kt + 1u < nk) {
      STORE_TILE (buf ^ 1u);
    }
    barrier ();
  }
#endif
  if (p.alpha != 1.0)
    acc = acc * p.alpha;

  fcoopmatNV<16, gl_ScopeWorkgroup, BM, BN> h = fcoopmatNV<16, gl_ScopeWorkgroup, BM, BN> (acc);
  uint cbase = p.c_off + bz * p.c_bs + m0 * p.c_ld + n0;
  coopMatStoreNV (h, c, cbase, p.c_ld, false);

  /* a bias is added to the stored tile: each invocation reads back 8-element
   * runs of it. (The bias as a product E F of a 128 x 16 and a 16 x 128
   * matrix from shared memory, the way matmul_coopmat adds it, gave wrong
   * sums on the H100 in this kernel, cause not found.) */
  uint bias_mode = (p.flags >> 2) & 3u;
  if (bias_mode != 0u) {
    controlBarrier (gl_ScopeWorkgroup, gl_ScopeWorkgroup, gl_StorageSemanticsBuffer,
                    gl_SemanticsAcquireRelease | gl_SemanticsMakeAvailable | gl_SemanticsMakeVisible);
    for (uint u = tid; u < BM * BN / 8u; u += NT) {
      uint row = u / (BN / 8u), col = (u % (BN / 8u)) * 8u;
      uint ci = cbase + row * p.c_ld + col;
      [[unroll]] for (uint q = 0u; q < 8u; q++) {
        float x = bias_mode == 1u ? float (bias[p.bias_off + n0 + col + q]) : float (bias[p.bias_off + m0 + row]);
        c[ci + q] = float16_t (float (c[ci + q]) + x);
      }
    }
  }
}
