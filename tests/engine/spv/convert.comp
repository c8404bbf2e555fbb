#version 450
/* an fp32 accumulator converted into an fp16 A operand (coopmat2's
 * conversions), and an fp32 -> fp16 conversion that keeps the role */
#extension GL_NV_cooperative_matrix : require
#extension GL_KHR_memory_scope_semantics : require
#extension GL_EXT_shader_explicit_arithmetic_types_float16 : require
#extension GL_EXT_shader_16bit_storage : require
layout (local_size_x = 256) in;
layout (binding = 0) buffer B { float16_t h[]; };
layout (binding = 1) buffer F { float f[]; };
void main ()
{
  fcoopmatNV<32, gl_ScopeWorkgroup, 64, 32> s;
  coopMatLoadNV (s, f, 0u, 32u, false);
  fcoopmatNV<16, gl_ScopeWorkgroup, 64, 32> p = fcoopmatNV<16, gl_ScopeWorkgroup, 64, 32> (s);
  fcoopmatNV<16, gl_ScopeWorkgroup, 32, 16> v;
  coopMatLoadNV (v, h, 0u, 16u, false);
  fcoopmatNV<32, gl_ScopeWorkgroup, 64, 16> o = fcoopmatNV<32, gl_ScopeWorkgroup, 64, 16> (0.0);
  o = coopMatMulAddNV (p, v, o);
  fcoopmatNV<16, gl_ScopeWorkgroup, 64, 16> oh = fcoopmatNV<16, gl_ScopeWorkgroup, 64, 16> (o);
  coopMatStoreNV (oh, h, 4096u, 16u, false);
}
