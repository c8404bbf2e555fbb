#version 450
/* test input for test-spv-nv-to-khr.py: matrices loaded from shared memory
 * only, which --tensor-loads leaves alone (and refuses, having nothing to do) */
#extension GL_KHR_memory_scope_semantics : require
#extension GL_NV_cooperative_matrix : require
#extension GL_EXT_shader_explicit_arithmetic_types_float16 : require
layout (local_size_x = 128) in;
layout (binding = 0) buffer C { float16_t c[]; };
shared float16_t s[64 * 32];
void main ()
{
  s[gl_LocalInvocationID.x] = float16_t (1.0);
  barrier ();
  fcoopmatNV<32, gl_ScopeWorkgroup, 64, 32> acc = fcoopmatNV<32, gl_ScopeWorkgroup, 64, 32> (0.0);
  fcoopmatNV<16, gl_ScopeWorkgroup, 64, 16> ma;
  fcoopmatNV<16, gl_ScopeWorkgroup, 16, 32> mb;
  coopMatLoadNV (ma, s, 0u, 16u, false);
  coopMatLoadNV (mb, s, 1024u, 32u, false);
  acc = coopMatMulAddNV (ma, mb, acc);
  fcoopmatNV<16, gl_ScopeWorkgroup, 64, 32> h = fcoopmatNV<16, gl_ScopeWorkgroup, 64, 32> (acc);
  coopMatStoreNV (h, c, 0u, 32u, false);
}
