#version 450
/* test input for test-spv-nv-to-khr.py: one matrix type (fp16 32 x 32) for an
 * A operand and, in another variable, a B operand: the converter gives the
 * two values KHR types of the same shape with Use A and Use B */
#extension GL_KHR_memory_scope_semantics : require
#extension GL_NV_cooperative_matrix : require
#extension GL_EXT_shader_explicit_arithmetic_types_float16 : require
layout (local_size_x = 128) in;
layout (binding = 0) readonly buffer A { float16_t a[]; };
layout (binding = 1) buffer C { float c[]; };
void main ()
{
  fcoopmatNV<32, gl_ScopeWorkgroup, 32, 32> acc = fcoopmatNV<32, gl_ScopeWorkgroup, 32, 32> (0.0);
  fcoopmatNV<16, gl_ScopeWorkgroup, 32, 32> x, y;
  coopMatLoadNV (x, a, 0u, 32u, false);
  coopMatLoadNV (y, a, 1024u, 32u, true);
  for (uint i = 0u; i < c.length (); i++)
    acc = coopMatMulAddNV (x, y, acc);
  coopMatStoreNV (acc, c, 0u, 32u, false);
}
