#version 450
/* Video frames as uploaded (RGBA bytes, one 32-bit word per pixel, rows of
 * row_words words, frame after frame) -> planar fp32 [n, 3, height, width],
 * channel values 0..255 (alpha dropped). One thread per pixel. */
#include "ss-common.glsl"
layout (local_size_x = 256) in;

layout (binding = 0) readonly buffer Px { uint px[]; };
layout (binding = 1) writeonly buffer Y { float y[]; };
layout (push_constant) uniform P { uint n, width, height, row_words, y_off; } p;

void main ()
{
  uint i = ss_linear_group () * 256u + gl_LocalInvocationID.x;
  uint plane = p.width * p.height;
  if (i >= p.n * plane)
    return;
  uint f = i / plane, r = i % plane;
  uint yy = r / p.width, xx = r % p.width;
  uint w = px[(f * p.height + yy) * p.row_words + xx];
  uint o = p.y_off + f * 3u * plane + r;
  y[o] = float (w & 0xffu);
  y[o + plane] = float ((w >> 8) & 0xffu);
  y[o + 2u * plane] = float ((w >> 16) & 0xffu);
}
