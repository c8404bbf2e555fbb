#version 450
/* Where the elements of a 16x16 fp32 cooperative matrix (GL_NV_cooperative_matrix)
 * live: the matrix is loaded from src (element (r, c) = r * 16 + c) and every
 * lane writes its components, so the host learns which row and column each
 * lane's component i holds. The extension leaves this mapping to the
 * implementation; kernels that scale accumulator rows (the one-pass attention)
 * are only used when the host finds the mapping it expects (ss-op-attention.c).
 * dst[0] = components per lane, dst[1 + lane * 16 + i] = component i. */
#extension GL_NV_cooperative_matrix : require
#extension GL_KHR_memory_scope_semantics : require
#extension GL_KHR_shader_subgroup_basic : require

layout (local_size_x = 32) in;

layout (binding = 0) readonly buffer Src { float src[]; };
layout (binding = 1) writeonly buffer Dst { float dst[]; };

void main ()
{
  fcoopmatNV<32, gl_ScopeSubgroup, 16, 16> m;
  coopMatLoadNV (m, src, 0u, 16u, false);
  uint lane = gl_SubgroupInvocationID;
  int n = m.length ();
  if (lane == 0u)
    dst[0] = float (n);
  for (int i = 0; i < n && i < 16; i++)
    dst[1u + lane * 16u + uint (i)] = m[i];
}
