#version 450
/* Experimental GEMM variant (SOUNDSTAGE_GEMM_DIRECT=1): like matmul_coopmat
 * but every warp loads its fragments straight from global memory (L1/L2
 * cached), no shared-memory staging. Needs M, N multiples of 64 and K of 16. */
#extension GL_NV_cooperative_matrix : require
#extension GL_KHR_memory_scope_semantics : require
#extension GL_EXT_shader_explicit_arithmetic_types_float16 : require
#extension GL_EXT_shader_16bit_storage : require
#extension GL_KHR_shader_subgroup_basic : require
#extension GL_EXT_control_flow_attributes : require

layout (local_size_x = 128) in;
layout (binding = 0) readonly buffer A { float16_t a[]; };
layout (binding = 1) readonly buffer B { float16_t b[]; };
layout (binding = 2) buffer C { float16_t c[]; };
layout (binding = 3) readonly buffer Bias { float16_t bias[]; };

layout (push_constant) uniform P {
  uint M, N, K, flags;
  uint a_off, a_bs, a_ld, b_off;
  uint b_bs, b_ld, c_off, c_bs;
  uint c_ld, bias_off, pad0, pad1;
  float alpha, beta;
} p;

shared float16_t Ep[4][256];

void main ()
{
  uint tid = gl_LocalInvocationID.x;
  uint warp = tid / 32u, lane = tid % 32u;
  uint wm = warp / 2u, wn = warp % 2u;
  uint n0 = gl_WorkGroupID.x * 128u + wn * 64u, m0 = gl_WorkGroupID.y * 128u + wm * 64u;
  uint bz = gl_WorkGroupID.z;
  if (m0 >= p.M || n0 >= p.N)
    return;
  bool a_col = (p.flags & 1u) != 0u;
  bool b_col = (p.flags & 2u) != 0u;
  uint abase = p.a_off + bz * p.a_bs;
  uint bbase = p.b_off + bz * p.b_bs;

  fcoopmatNV<32, gl_ScopeSubgroup, 16, 16> acc[4][4];
  [[unroll]] for (int i = 0; i < 4; i++)
    [[unroll]] for (int j = 0; j < 4; j++)
      acc[i][j] = fcoopmatNV<32, gl_ScopeSubgroup, 16, 16> (0.0);

  for (uint k0 = 0u; k0 < p.K; k0 += 16u) {
    fcoopmatNV<16, gl_ScopeSubgroup, 16, 16> fa[4], fb[4];
    [[unroll]] for (uint i = 0u; i < 4u; i++) {
      uint mm = m0 + i * 16u;
      if (!a_col)
        coopMatLoadNV (fa[i], a, abase + mm * p.a_ld + k0, p.a_ld, false);
      else
        coopMatLoadNV (fa[i], a, abase + k0 * p.a_ld + mm, p.a_ld, true);
    }
    [[unroll]] for (uint j = 0u; j < 4u; j++) {
      uint nn = n0 + j * 16u;
      if (!b_col)
        coopMatLoadNV (fb[j], b, bbase + k0 * p.b_ld + nn, p.b_ld, false);
      else
        coopMatLoadNV (fb[j], b, bbase + nn * p.b_ld + k0, p.b_ld, true);
    }
    [[unroll]] for (uint i = 0u; i < 4u; i++)
      [[unroll]] for (uint j = 0u; j < 4u; j++)
        acc[i][j] = coopMatMulAddNV (fa[i], fb[j], acc[i][j]);
  }

  uint cbase = p.c_off + bz * p.c_bs;
  uint bias_mode = (p.flags >> 2) & 3u;
  [[unroll]] for (uint i = 0u; i < 4u; i++)
    [[unroll]] for (uint j = 0u; j < 4u; j++) {
      uint fm = m0 + i * 16u, fn = n0 + j * 16u;
      fcoopmatNV<32, gl_ScopeSubgroup, 16, 16> r = acc[i][j] * p.alpha;
      fcoopmatNV<16, gl_ScopeSubgroup, 16, 16> h = fcoopmatNV<16, gl_ScopeSubgroup, 16, 16> (r);
      if (p.beta == 0.0 && bias_mode == 0u) {
        coopMatStoreNV (h, c, cbase + fm * p.c_ld + fn, p.c_ld, false);
        continue;
      }
      coopMatStoreNV (h, Ep[warp], 0, 16u, false);
      subgroupMemoryBarrierShared ();
      subgroupBarrier ();
      for (uint e = lane; e < 256u; e += 32u) {
        uint gm = fm + e / 16u, gn = fn + e % 16u;
        float v = float (Ep[warp][e]);
        uint ci = cbase + gm * p.c_ld + gn;
        if (p.beta != 0.0)
          v += p.beta * float (c[ci]);
        if (bias_mode == 1u)
          v += float (bias[p.bias_off + gn]);
        else if (bias_mode == 2u)
          v += float (bias[p.bias_off + gm]);
        c[ci] = float16_t (v);
      }
      subgroupMemoryBarrierShared ();
      subgroupBarrier ();
    }
}
