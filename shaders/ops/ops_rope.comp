#version 450
/* Rotary position embedding on x (rows = outer * len * heads, dim features).
 * The first rot_dim features of each row are rotated pairwise by the angle
 * in the (cos, sin) table [len, rot_dim / 2, 2]; the rest are copied.
 * INTERLEAVED 1: pairs (2i, 2i+1); 0: (i, i + rot_dim/2).
 * BWD 1 rotates by the negative angle (the transpose). */
#include "ss-common.glsl"
layout (local_size_x = 256) in;
layout (constant_id = 0) const uint INTERLEAVED = 0;
layout (constant_id = 1) const uint BWD = 0;

layout (binding = 0) readonly buffer X { SS_T x[]; };
layout (binding = 1) readonly buffer T { float cs[]; };
layout (binding = 2) writeonly buffer Y { SS_T y[]; };
layout (push_constant) uniform P { uint rows, len, heads, dim, rot_dim, x_off, y_off; } p;

void main ()
{
  uint half_ = p.rot_dim / 2;
  uint per_row = half_ + (p.dim - p.rot_dim);
  uint e = ss_linear_group () * 256u + gl_LocalInvocationID.x;
  if (e >= p.rows * per_row)
    return;
  uint r = e / per_row, j = e % per_row;
  uint base = r * p.dim;
  if (j >= half_) {
    uint f = p.rot_dim + (j - half_);
    y[p.y_off + base + f] = x[p.x_off + base + f];
    return;
  }
  uint l = (r / p.heads) % p.len;
  float c = cs[(l * half_ + j) * 2], s = cs[(l * half_ + j) * 2 + 1];
  if (BWD != 0)
    s = -s;
  uint i0 = INTERLEAVED != 0 ? 2 * j : j;
  uint i1 = INTERLEAVED != 0 ? 2 * j + 1 : j + half_;
  float x0 = SS_LOAD (x[p.x_off + base + i0]), x1 = SS_LOAD (x[p.x_off + base + i1]);
  y[p.y_off + base + i0] = SS_STORE (x0 * c - x1 * s);
  y[p.y_off + base + i1] = SS_STORE (x0 * s + x1 * c);
}
