#version 450
/* subgroup-scope matrices as matmul_coopmat.comp has them: one fp16 16x16
 * type for the A and B operands and for the fp32 result converted to be
 * stored (without --acc-stores it takes role A and needs coopmat2's
 * conversions; with it, an accumulator) */
#extension GL_NV_cooperative_matrix : require
#extension GL_KHR_memory_scope_semantics : require
#extension GL_EXT_shader_explicit_arithmetic_types_float16 : require
#extension GL_EXT_shader_16bit_storage : require
layout (local_size_x = 32) in;
layout (binding = 0) buffer B { float16_t h[]; };
void main ()
{
  fcoopmatNV<16, gl_ScopeSubgroup, 16, 16> a, b;
  coopMatLoadNV (a, h, 0u, 16u, false);
  coopMatLoadNV (b, h, 256u, 16u, true);
  fcoopmatNV<32, gl_ScopeSubgroup, 16, 16> acc = fcoopmatNV<32, gl_ScopeSubgroup, 16, 16> (0.0);
  acc = coopMatMulAddNV (a, b, acc);
  fcoopmatNV<16, gl_ScopeSubgroup, 16, 16> r = fcoopmatNV<16, gl_ScopeSubgroup, 16, 16> (acc * 0.5);
  coopMatStoreNV (r, h, 512u, 16u, false);
}
