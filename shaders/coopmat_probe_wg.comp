#version 450
/* Where the components of workgroup-scope accumulator matrices live
 * (VK_NV_cooperative_matrix2; rewritten from the NV form like matmul_cm2),
 * and whether an accumulator converts into an A operand: the probe that
 * decides whether a kernel may scale accumulator rows through the components
 * each invocation holds (as attention_fwd_flash does at subgroup scope).
 *
 * src[e] = e. S (128 x 64) and O (128 x BO) are loaded row-major from src, so
 * the value of a component names its row and column. dst:
 *   [0] S components per invocation, [1] O components per invocation,
 *   [2 + inv * 64 + i]            S component i of invocation inv,
 *   [2 + NT * 64 + inv * 128 + i] O component i,
 *   then 128 x 64: fp16 (S2) * I, S2 = (element mod 2048) loaded as S, so
 *   that the conversion from accumulator to A operand can be checked. */
#extension GL_NV_cooperative_matrix : require
#extension GL_KHR_memory_scope_semantics : require
#extension GL_EXT_shader_explicit_arithmetic_types_float16 : require
#extension GL_EXT_shader_16bit_storage : require

#ifndef NT
#define NT 256
#endif
#define BO 128
layout (local_size_x = NT) in;

layout (binding = 0) readonly buffer Src { float src[]; };
layout (binding = 1) readonly buffer Src2 { float src2[]; };
layout (binding = 2) readonly buffer Eye { float16_t eye[]; };
layout (binding = 3) writeonly buffer Dst { float dst[]; };

void main ()
{
  uint inv = gl_LocalInvocationID.x;
  fcoopmatNV<32, gl_ScopeWorkgroup, 128, 64> s;
  fcoopmatNV<32, gl_ScopeWorkgroup, 128, BO> o;
  coopMatLoadNV (s, src, 0u, 64u, false);
  coopMatLoadNV (o, src, 0u, BO, false);
  int ns = s.length (), no = o.length ();
  if (inv == 0u) {
    dst[0] = float (ns);
    dst[1] = float (no);
  }
  for (int i = 0; i < ns && i < 64; i++)
    dst[2u + inv * 64u + uint (i)] = s[i];
  for (int i = 0; i < no && i < 128; i++)
    dst[2u + NT * 64u + inv * 128u + uint (i)] = o[i];

  fcoopmatNV<32, gl_ScopeWorkgroup, 128, 64> s2;
  coopMatLoadNV (s2, src2, 0u, 64u, false);
  fcoopmatNV<16, gl_ScopeWorkgroup, 128, 64> pa = fcoopmatNV<16, gl_ScopeWorkgroup, 128, 64> (s2);
  fcoopmatNV<16, gl_ScopeWorkgroup, 64, 64> e;
  coopMatLoadNV (e, eye, 0u, 64u, false);
  fcoopmatNV<32, gl_ScopeWorkgroup, 128, 64> r = fcoopmatNV<32, gl_ScopeWorkgroup, 128, 64> (0.0);
  r = coopMatMulAddNV (pa, e, r);
  coopMatStoreNV (r, dst, 2u + NT * 64u + NT * 128u, 64u, false);
}
