#version 450
/* dsum[row] = sum_c do[row, c] * o[row, c] (fp32), rows = BH * Lq. Eight rows
 * per workgroup, 32 threads per row reading consecutive columns (coalesced:
 * the rows are contiguous), summed in shared memory. (One thread per row,
 * reading its row alone, ran at 350 GB/s on the H100.) */
#extension GL_EXT_control_flow_attributes : require
#include "ss-common.glsl"
#include "attention_common.glsl"
layout (local_size_x = 256) in;
layout (binding = 0) readonly buffer Ob { SS_T o[]; };
layout (binding = 1) readonly buffer DOb { SS_T dout[]; };
layout (binding = 2) writeonly buffer Db { float dsum[]; };

shared float part[256];

void main ()
{
  uint t = gl_LocalInvocationID.x;
  uint row = ss_linear_group () * 8u + t / 32u, lane = t % 32u;
  float s = 0.0;
  if (row < p.H) {   /* H holds the row count here */
    for (uint c = lane; c < p.Dv; c += 32u)
      s += SS_LOAD (dout[p.do_off + row * p.Dv + c]) * SS_LOAD (o[p.o_off + row * p.Dv + c]);
  }
  part[t] = s;
  barrier ();
  [[unroll]] for (uint w = 16u; w > 0u; w /= 2u) {
    if (lane < w)
      part[t] += part[t + w];
    barrier ();
  }
  if (lane == 0u && row < p.H)
    dsum[p.l_off + row] = part[t];
}
