#version 450
/* Where the components of workgroup-scope accumulator matrices live
 * (VK_NV_cooperative_matrix2; rewritten from the NV form like matmul_cm2),
 * and whether an accumulator converts into an A operand: the probe that
 * decides whether a kernel may scale accumulator rows through the components
 * each invocation holds (as attention_fwd_flash does at subgroup scope).
 *
 * src[e] = e. S (SM x SN) and O (SM x ON) are loaded row-major from src
 * (row strides SN and ON), so the value of a component names its row and
 * column. dst:
 *   [0] S components per invocation, [1] O components per invocation,
 *   [2 + inv * 64 + i]            S component i of invocation inv,
 *   [2 + NT * 64 + inv * 128 + i] O component i,
 *   then SM x SN (row stride 64): fp16 (S2) * I, S2 = (element mod 2048)
 *   loaded like S with row stride 64, so that the conversion from
 *   accumulator to A operand can be checked. */
#extension GL_NV_cooperative_matrix : require
#extension GL_KHR_memory_scope_semantics : require
#extension GL_EXT_shader_explicit_arithmetic_types_float16 : require
#extension GL_EXT_shader_16bit_storage : require

#ifndef NT
#define NT 256
#endif
#ifndef SM
#define SM 128
#endif
#ifndef SN
#define SN 64
#endif
#ifndef ON
#define ON 128
#endif
layout (local_size_x = NT) in;

layout (binding = 0) readonly buffer Src { float src[]; };
layout (binding = 1) readonly buffer Src2 { float src2[]; };
layout (binding = 2) readonly buffer Eye { float16_t eye[]; };
layout (binding = 3) writeonly buffer Dst { float dst[]; };

void main ()
{
  uint inv = gl_LocalInvocationID.x;
  fcoopmatNV<32, gl_ScopeWorkgroup, SM, SN> s;
  fcoopmatNV<32, gl_ScopeWorkgroup, SM, ON> o;
  coopMatLoadNV (s, src, 0u, SN, false);
  coopMatLoadNV (o, src, 0u, ON, false);
  int ns = s.length (), no = o.length ();
  if (inv == 0u) {
    dst[0] = float (ns);
    dst[1] = float (no);
  }
  for (int i = 0; i < ns && i < 64; i++)
    dst[2u + inv * 64u + uint (i)] = s[i];
  for (int i = 0; i < no && i < 128; i++)
    dst[2u + NT * 64u + inv * 128u + uint (i)] = o[i];

  fcoopmatNV<32, gl_ScopeWorkgroup, SM, SN> s2;
  coopMatLoadNV (s2, src2, 0u, 64u, false);
  fcoopmatNV<16, gl_ScopeWorkgroup, SM, SN> pa = fcoopmatNV<16, gl_ScopeWorkgroup, SM, SN> (s2);
  fcoopmatNV<16, gl_ScopeWorkgroup, SN, SN> e;
  coopMatLoadNV (e, eye, 0u, 64u, false);
  fcoopmatNV<32, gl_ScopeWorkgroup, SM, SN> r = fcoopmatNV<32, gl_ScopeWorkgroup, SM, SN> (0.0);
  r = coopMatMulAddNV (pa, e, r);
  coopMatStoreNV (r, dst, 2u + NT * 64u + NT * 128u, 64u, false);
}
