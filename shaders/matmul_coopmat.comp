#version 450
/* GEMM on NVIDIA tensor cores through GL_NV_cooperative_matrix: fp16 A/B,
 * fp32 accumulation, fp16 C. 128x128 tile per workgroup of 4 warps (2 x 2,
 * 64x64 per warp = 4 x 4 fragments of 16x16), K step 32, global -> registers
 * -> shared (16-byte stores, fragments loaded from uvec4 arrays) double buffering. A and B may be row- or column-major (flags bit
 * 0 / 1) with rows of 8-element multiples; edges are zero-filled; the
 * epilogue adds a bias in registers; beta and partial fragments go through
 * shared memory per fragment.
 * With LAYOUT defined the operand layouts are compile-time constants (one
 * variant per layout; the flags' layout bits are then ignored).
 * Requires subgroup size 32. Grid (ceil(N/128), ceil(M/128), batch). */
#extension GL_NV_cooperative_matrix : require
#extension GL_KHR_memory_scope_semantics : require
#extension GL_EXT_shader_explicit_arithmetic_types_float16 : require
#extension GL_EXT_shader_16bit_storage : require
#extension GL_KHR_shader_subgroup_basic : require
#extension GL_EXT_control_flow_attributes : require

/* NT threads: 128 = 4 warps of 64x64 (default), 256 = 8 warps of 64x32 */
#ifndef NT
#define NT 128
#endif
#if NT == 128
#define WGN 2
#define FN 4
#else
#define WGN 4
#define FN 2
#endif
#define NLOAD (512 / NT)
layout (local_size_x = NT) in;

layout (binding = 0) readonly buffer A4 { uvec4 a4[]; };
layout (binding = 1) readonly buffer B4 { uvec4 b4[]; };
layout (binding = 2) buffer C { float16_t c[]; };
layout (binding = 3) readonly buffer Bias { float16_t bias[]; };

layout (push_constant) uniform P {
  uint M, N, K, flags;
  uint a_off, a_bs, a_ld, b_off;
  uint b_bs, b_ld, c_off, c_bs;
  uint c_ld, bias_off, pad0, pad1;
  float alpha, beta;
} p;

#define BM 128
#define BN 128
#define BK 32
#define LDS_RM 40      /* [128][32] tiles, padded */
#define LDS_CM 136     /* [32][128] tiles, padded */
#define TILE 640       /* uvec4 (8 halves) per tile buffer */
#define RM4 5          /* LDS_RM in uvec4 */
#define CM4 17         /* LDS_CM in uvec4 */

shared uvec4 As[2][TILE];
shared uvec4 Bs[2][TILE];
shared float16_t Ep[NT / 32][256];   /* epilogue staging, one 16x16 fragment per warp */


void main ()
{
  uint tid = gl_LocalInvocationID.x;
  uint warp = tid / 32u, lane = tid % 32u;
  uint wm = warp / WGN, wn = warp % WGN;
  uint n0 = gl_WorkGroupID.x * BN, m0 = gl_WorkGroupID.y * BM, bz = gl_WorkGroupID.z;
#ifdef LAYOUT
  /* operand layouts fixed at compile time (LAYOUT: bit 0 A column-major, bit 1 B) */
  const bool a_col = (LAYOUT & 1) != 0;
  const bool b_col = (LAYOUT & 2) != 0;
#else
  bool a_col = (p.flags & 1u) != 0u;
  bool b_col = (p.flags & 2u) != 0u;
#endif
  uint abase = p.a_off + bz * p.a_bs;
  uint bbase = p.b_off + bz * p.b_bs;

  fcoopmatNV<32, gl_ScopeSubgroup, 16, 16> acc[4][FN];
  [[unroll]] for (int i = 0; i < 4; i++)
    [[unroll]] for (int j = 0; j < FN; j++)
      acc[i][j] = fcoopmatNV<32, gl_ScopeSubgroup, 16, 16> (0.0);

  uvec4 ra[NLOAD], rb[NLOAD];
  uint nk = (p.K + BK - 1u) / BK;

  /* global -> registers for k tile kt: each thread's element offsets and
   * row/column bounds are worked out once; a tile adds a fixed step, and the K
   * bound is only checked when K is not a multiple of BK */
  uint a_idx[NLOAD], b_idx[NLOAD], a_kof[NLOAD], b_kof[NLOAD];
  bool a_ok[NLOAD], b_ok[NLOAD];
  [[unroll]] for (uint i = 0u; i < NLOAD; i++) {
    uint e = tid + i * NT;
    if (!a_col) { uint r = e / 4u, s = (e % 4u) * 8u;
      a_ok[i] = m0 + r < p.M; a_kof[i] = s; a_idx[i] = (abase + (m0 + r) * p.a_ld + s) / 8u; }
    else { uint r = e / 16u, s = (e % 16u) * 8u;
      a_ok[i] = m0 + s < p.M; a_kof[i] = r; a_idx[i] = (abase + r * p.a_ld + m0 + s) / 8u; }
    if (!b_col) { uint r = e / 16u, s = (e % 16u) * 8u;
      b_ok[i] = n0 + s < p.N; b_kof[i] = r; b_idx[i] = (bbase + r * p.b_ld + n0 + s) / 8u; }
    else { uint r = e / 4u, s = (e % 4u) * 8u;
      b_ok[i] = n0 + r < p.N; b_kof[i] = s; b_idx[i] = (bbase + (n0 + r) * p.b_ld + s) / 8u; }
  }
  uint a_step = a_col ? BK * p.a_ld / 8u : BK / 8u;
  uint b_step = b_col ? BK / 8u : BK * p.b_ld / 8u;
  bool kfull = p.K % BK == 0u;
#define LOAD_TILE(kt) \
  [[unroll]] for (uint i = 0u; i < NLOAD; i++) { \
    uint k0 = (kt) * BK; \
    ra[i] = a_ok[i] && (kfull || k0 + a_kof[i] < p.K) ? a4[a_idx[i] + (kt) * a_step] : uvec4 (0u); \
    rb[i] = b_ok[i] && (kfull || k0 + b_kof[i] < p.K) ? b4[b_idx[i] + (kt) * b_step] : uvec4 (0u); \
  }

  /* registers -> shared buffer buf */
#define STORE_TILE(buf) \
  [[unroll]] for (uint i = 0u; i < NLOAD; i++) { \
    uint e = tid + i * NT; \
    if (!a_col) As[buf][(e / 4u) * RM4 + e % 4u] = ra[i]; \
    else As[buf][(e / 16u) * CM4 + e % 16u] = ra[i]; \
    if (!b_col) Bs[buf][(e / 16u) * CM4 + e % 16u] = rb[i]; \
    else Bs[buf][(e / 4u) * RM4 + e % 4u] = rb[i]; \
  }

  LOAD_TILE (0u);
  STORE_TILE (0);
  barrier ();

  for (uint kt = 0u; kt < nk; kt++) {
    uint buf = kt & 1u;
    if (kt + 1u < nk) {
      LOAD_TILE (kt + 1u);
    }
    [[unroll]] for (uint kk = 0u; kk < BK; kk += 16u) {
      fcoopmatNV<16, gl_ScopeSubgroup, 16, 16> fa[4];
      fcoopmatNV<16, gl_ScopeSubgroup, 16, 16> fb[FN];
      [[unroll]] for (uint i = 0u; i < 4u; i++) {
        uint mm = wm * 64u + i * 16u;
        if (!a_col)
          coopMatLoadNV (fa[i], As[buf], mm * RM4 + kk / 8u, RM4, false);
        else
          coopMatLoadNV (fa[i], As[buf], kk * CM4 + mm / 8u, CM4, true);
      }
      [[unroll]] for (uint j = 0u; j < FN; j++) {
        uint nn = wn * (FN * 16u) + j * 16u;
        if (!b_col)
          coopMatLoadNV (fb[j], Bs[buf], kk * CM4 + nn / 8u, CM4, false);
        else
          coopMatLoadNV (fb[j], Bs[buf], nn * RM4 + kk / 8u, RM4, true);
      }
      [[unroll]] for (uint i = 0u; i < 4u; i++)
        [[unroll]] for (uint j = 0u; j < FN; j++)
          acc[i][j] = coopMatMulAddNV (fa[i], fb[j], acc[i][j]);
    }
    if (kt + 1u < nk) {
      STORE_TILE (buf ^ 1u);
    }
    barrier ();
  }

  /* epilogue. A bias (with beta == 0) is added in registers: the tile's bias
   * is laid out in the now free A buffer as a 16 x 128 block of rows (bias per
   * column) or a 128 x 16 block of columns (bias per row), from which each
   * fragment loads its part as a matrix. Fragments past M or N, and beta != 0,
   * go through shared memory one fragment at a time. */
  uint cbase = p.c_off + bz * p.c_bs;
  uint bias_mode = (p.flags >> 2) & 3u;
  bool reg_bias = bias_mode != 0u && p.beta == 0.0;
  if (reg_bias) {
    /* the loop ended with a barrier: nobody reads As any more */
    [[unroll]] for (uint u = tid; u < 256u; u += NT) {
      uvec4 v;
      if (bias_mode == 1u) {
        /* row u / 16 of the 16 x 128 block, columns 8 (u % 16) .. + 7 */
        uint col = n0 + (u % 16u) * 8u;
        f16vec2 h[4];
        [[unroll]] for (uint q = 0u; q < 4u; q++) {
          float16_t x0 = col + 2u * q < p.N ? bias[p.bias_off + col + 2u * q] : float16_t (0.0);
          float16_t x1 = col + 2u * q + 1u < p.N ? bias[p.bias_off + col + 2u * q + 1u] : float16_t (0.0);
          h[q] = f16vec2 (x0, x1);
        }
        v = uvec4 (packFloat2x16 (h[0]), packFloat2x16 (h[1]), packFloat2x16 (h[2]), packFloat2x16 (h[3]));
      } else {
        /* row u / 2 of the 128 x 16 block: 8 copies of that row's bias */
        uint row = m0 + u / 2u;
        float16_t x = row < p.M ? bias[p.bias_off + row] : float16_t (0.0);
        uint w = packFloat2x16 (f16vec2 (x, x));
        v = uvec4 (w);
      }
      As[0][u] = v;
    }
    /* a 16 x 16 identity in As[1] (2 units per row): the bias joins the
     * accumulator as bias * I + r (this glslang cannot add two matrices) */
    if (tid < 32u) {
      uint row = tid / 2u, half_ = tid % 2u;
      uvec4 v = uvec4 (0u);
      if (row / 8u == half_) {
        uint k = row % 8u;    /* the halves of the unit: word k / 2, high half if odd */
        uint w = k % 2u == 0u ? 0x3c00u : 0x3c000000u;
        v[k / 2u] = w;
      }
      As[1][tid] = v;
    }
    barrier ();
  }
  [[unroll]] for (uint i = 0u; i < 4u; i++)
    [[unroll]] for (uint j = 0u; j < FN; j++) {
      uint fm = m0 + wm * 64u + i * 16u, fn = n0 + wn * (FN * 16u) + j * 16u;
      fcoopmatNV<32, gl_ScopeSubgroup, 16, 16> r = acc[i][j] * p.alpha;
      if (reg_bias) {
        fcoopmatNV<16, gl_ScopeSubgroup, 16, 16> hb;
        if (bias_mode == 1u)
          coopMatLoadNV (hb, As[0], (fn - n0) / 8u, 16u, false);
        else
          coopMatLoadNV (hb, As[0], (fm - m0) * 2u, 2u, false);
        fcoopmatNV<16, gl_ScopeSubgroup, 16, 16> id;
        coopMatLoadNV (id, As[1], 0u, 2u, false);
        r = coopMatMulAddNV (hb, id, r);
      }
      bool full = fm + 16u <= p.M && fn + 16u <= p.N && p.beta == 0.0;
      if (full) {
        fcoopmatNV<16, gl_ScopeSubgroup, 16, 16> h = fcoopmatNV<16, gl_ScopeSubgroup, 16, 16> (r);
        coopMatStoreNV (h, c, cbase + fm * p.c_ld + fn, p.c_ld, false);
        continue;
      }
      fcoopmatNV<16, gl_ScopeSubgroup, 16, 16> h = fcoopmatNV<16, gl_ScopeSubgroup, 16, 16> (r);
      coopMatStoreNV (h, Ep[warp], 0, 16u, false);
      subgroupMemoryBarrierShared ();
      subgroupBarrier ();
      for (uint e = lane; e < 256u; e += 32u) {
        uint gm = fm + e / 16u, gn = fn + e % 16u;
        if (gm < p.M && gn < p.N) {
          float v = float (Ep[warp][e]);
          uint ci = cbase + gm * p.c_ld + gn;
          if (p.beta != 0.0)
            v += p.beta * float (c[ci]);
          if (!reg_bias && bias_mode == 1u)
            v += float (bias[p.bias_off + gn]);
          else if (!reg_bias && bias_mode == 2u)
            v += float (bias[p.bias_off + gm]);
          c[ci] = float16_t (v);
        }
      }
      subgroupMemoryBarrierShared ();
      subgroupBarrier ();
    }
}
