#version 450
/* lora_dropout.comp: y[i] = keep(i) ? x[i] * scale : 0 over a contiguous range.
 * keep(i) comes from a counter-based hash of (seed, i), so the backward pass
 * rebuilds the same mask from the seed instead of storing it. */
#include "ss-common.glsl"

layout (local_size_x = 256) in;
layout (binding = 0) readonly buffer X { SS_T x[]; };
layout (binding = 1) writeonly buffer Y { SS_T y[]; };
layout (push_constant) uniform P { uint n, x_off, y_off, seed; float p, scale; } p;

uint ss_hash (uint v)
{
  /* PCG output permutation (O'Neill), applied twice with the seed mixed in */
  uint s = v * 747796405u + 2891336453u;
  uint w = ((s >> ((s >> 28u) + 4u)) ^ s) * 277803737u;
  return (w >> 22u) ^ w;
}

void main ()
{
  uint i = ss_linear_group () * 256u + gl_LocalInvocationID.x;
  if (i >= p.n)
    return;
  uint h = ss_hash (i ^ ss_hash (p.seed));
  float u = float (h >> 8u) * (1.0 / 16777216.0);
  y[p.y_off + i] = u < p.p ? SS_STORE (0.0) : SS_STORE (SS_LOAD (x[p.x_off + i]) * p.scale);
}
