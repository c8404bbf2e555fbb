#version 450
/* grad_norm.comp: global gradient norm for clipping, on the GPU.
 * Default: partial sums of squares, one per workgroup of 256 x 4 elements,
 *   written to partial[part_off + group].
 * FINALIZE (one workgroup): sums n partials, writes coef[0] = norm and
 *   coef[1] = min(1, max_norm / (norm + 1e-6)) (torch.nn.utils.clip_grad_norm_). */
#include "ss-common.glsl"

layout (local_size_x = 256) in;

#ifndef FINALIZE
layout (binding = 0) readonly buffer Grad { SS_T grad[]; };
layout (binding = 1) writeonly buffer Partial { float partial[]; };
layout (push_constant) uniform P { uint n, g_off, part_off; } p;
#else
layout (binding = 0) readonly buffer Partial { float partial[]; };
layout (binding = 1) writeonly buffer Coef { float coef[]; };
layout (push_constant) uniform P { uint n; float max_norm; } p;
#endif

shared float red[256];

void main ()
{
  uint lid = gl_LocalInvocationID.x;
  float acc = 0.0;
#ifndef FINALIZE
  uint base = ss_linear_group () * 1024u;
  for (uint k = 0u; k < 4u; k++)
    {
      uint i = base + k * 256u + lid;
      if (i < p.n)
        {
          float g = SS_LOAD (grad[p.g_off + i]);
          acc += g * g;
        }
    }
#else
  for (uint i = lid; i < p.n; i += 256u)
    acc += partial[i];
#endif
  red[lid] = acc;
  barrier ();
  for (uint s = 128u; s > 0u; s >>= 1u)
    {
      if (lid < s)
        red[lid] += red[lid + s];
      barrier ();
    }
  if (lid == 0u)
    {
#ifndef FINALIZE
      partial[p.part_off + ss_linear_group ()] = red[0];
#else
      float norm = sqrt (red[0]);
      coef[0] = norm;
      coef[1] = min (1.0, p.max_norm / (norm + 1e-6));
#endif
    }
}
