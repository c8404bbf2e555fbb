#version 450
/* test input for test-spv-nv-to-khr.py: workgroup-scope matrices in the three
 * roles, a column-major load and a row-major store */
#extension GL_KHR_memory_scope_semantics : require
#extension GL_NV_cooperative_matrix : require
#extension GL_EXT_shader_explicit_arithmetic_types_float16 : require
layout (local_size_x = 128) in;
layout (binding = 0) readonly buffer A { float16_t a[]; };
layout (binding = 1) buffer C { float16_t c[]; };
void main ()
{
  fcoopmatNV<32, gl_ScopeWorkgroup, 64, 32> acc = fcoopmatNV<32, gl_ScopeWorkgroup, 64, 32> (0.0);
  fcoopmatNV<16, gl_ScopeWorkgroup, 64, 16> ma;
  fcoopmatNV<16, gl_ScopeWorkgroup, 16, 32> mb;
  coopMatLoadNV (ma, a, 0u, 64u, true);
  coopMatLoadNV (mb, a, 4096u, 32u, false);
  acc = coopMatMulAddNV (ma, mb, acc);
  fcoopmatNV<16, gl_ScopeWorkgroup, 64, 32> h = fcoopmatNV<16, gl_ScopeWorkgroup, 64, 32> (acc);
  coopMatStoreNV (h, c, 0u, 32u, false);
}
