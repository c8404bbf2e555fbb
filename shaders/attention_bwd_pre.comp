#version 450
/* dsum[row] = sum_c do[row, c] * o[row, c] (fp32), rows = BH * Lq. */
#include "ss-common.glsl"
#include "attention_common.glsl"
layout (local_size_x = 256) in;
layout (binding = 0) readonly buffer Ob { SS_T o[]; };
layout (binding = 1) readonly buffer DOb { SS_T dout[]; };
layout (binding = 2) writeonly buffer Db { float dsum[]; };

void main ()
{
  uint row = ss_linear_group () * 256u + gl_LocalInvocationID.x;
  if (row >= p.H)   /* H holds the row count here */
    return;
  float s = 0.0;
  for (uint c = 0; c < p.Dv; c++)
    s += SS_LOAD (dout[p.do_off + row * p.Dv + c]) * SS_LOAD (o[p.o_off + row * p.Dv + c]);
  dsum[p.l_off + row] = s;
}
