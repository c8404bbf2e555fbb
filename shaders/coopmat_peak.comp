#version 450
/* Benchmark only (bench-engine peak): the tensor-core throughput the driver's
 * GL_NV_cooperative_matrix code reaches with operands already in registers,
 * the ceiling for the GEMM and attention kernels. Each warp runs NACC
 * independent 16x16x16 fp16 -> fp32 multiply-adds per iteration. */
#extension GL_NV_cooperative_matrix : require
#extension GL_KHR_memory_scope_semantics : require
#extension GL_EXT_shader_explicit_arithmetic_types_float16 : require
#extension GL_EXT_shader_16bit_storage : require
#extension GL_KHR_shader_subgroup_basic : require
#extension GL_EXT_control_flow_attributes : require

#ifndef NACC
#define NACC 8
#endif
layout (local_size_x = 256) in;
layout (binding = 0) readonly buffer A { float16_t a[]; };
layout (binding = 1) writeonly buffer C { float c[]; };
layout (push_constant) uniform P { uint iters; } p;

void main ()
{
  fcoopmatNV<16, gl_ScopeSubgroup, 16, 16> fa[2], fb[2];
  [[unroll]] for (uint i = 0u; i < 2u; i++) {
    coopMatLoadNV (fa[i], a, i * 256u, 16u, false);
    coopMatLoadNV (fb[i], a, 512u + i * 256u, 16u, false);
  }
  fcoopmatNV<32, gl_ScopeSubgroup, 16, 16> acc[NACC];
  [[unroll]] for (uint i = 0u; i < NACC; i++)
    acc[i] = fcoopmatNV<32, gl_ScopeSubgroup, 16, 16> (0.0);
  for (uint it = 0u; it < p.iters; it++)
    [[unroll]] for (uint i = 0u; i < NACC; i++)
      acc[i] = coopMatMulAddNV (fa[i & 1u], fb[(i >> 1) & 1u], acc[i]);
  uint w = gl_WorkGroupID.x * 8u + gl_LocalInvocationID.x / 32u;
  [[unroll]] for (uint i = 0u; i < NACC; i++)
    coopMatStoreNV (acc[i], c, (w * NACC + i) * 256u, 16u, false);
}
