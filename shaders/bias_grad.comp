#version 450
/* Bias gradient: dy viewed as [outer, C, inner] (contiguous);
 * out[c] = beta * out[c] + sum over outer and inner of dy, in two passes
 * (phase in the push constants) so that enough workgroups read dy:
 *   phase 0: partial sums of `chunks` chunks into part [chunks, C] (fp32).
 *     inner == 1 (linear layers: column sums): a workgroup takes 64 columns
 *     of one chunk of rows, 4 threads per column reading whole rows'
 *     consecutive columns. Grid (ceil (C / 64), chunks).
 *     inner > 1 (convolutions): a workgroup takes channel c and one chunk of
 *     its outer * inner elements. Grid (C, chunks).
 *   phase 1: out[c] = beta * out[c] + sum over the chunks of part, a thread
 *     per channel. Grid 1-D over ceil (C / 256).
 *   phase 2: phase 0 with one chunk, writing out directly (one dispatch).
 * One workgroup per channel reading a column with stride C (the kernel
 * before) moved a 32-byte sector for every 2-byte element of a linear
 * layer's gradient. */
#include "ss-common.glsl"
layout (local_size_x = 256) in;
layout (binding = 0) readonly buffer DY { SS_T dy[]; };
layout (binding = 1) buffer Out { SS_T o[]; };
layout (binding = 2) buffer Part { float part[]; };
layout (push_constant) uniform P { uint outer, C, inner, dy_off, o_off, chunks, phase; float beta; } p;
shared float red[256];

/* out[c] = beta * out[c] + s */
void store_out (uint c, float s)
{
  if (p.beta != 0.0)
    s += p.beta * SS_LOAD (o[p.o_off + c]);
  o[p.o_off + c] = SS_STORE (s);
}

/* a chunk's sum: into part (phase 0), or with a single chunk (phase 2)
 * straight into out */
void finish (uint j, uint c, float s)
{
  if (p.phase == 2u)
    store_out (c, s);
  else
    part[j * p.C + c] = s;
}

void main ()
{
  uint tid = gl_LocalInvocationID.x;
  if (p.phase == 1u) {
    uint c = ss_linear_group () * 256u + tid;
    if (c >= p.C)
      return;
    float s = 0.0;
    for (uint j = 0u; j < p.chunks; j++)
      s += part[j * p.C + c];
    store_out (c, s);
    return;
  }
  uint j = gl_WorkGroupID.y;
  float s = 0.0;
  if (p.inner == 1u) {
    uint c = gl_WorkGroupID.x * 64u + tid % 64u;
    uint per = (p.outer + p.chunks - 1u) / p.chunks;
    uint r1 = min (j * per + per, p.outer);
    if (c < p.C)
      for (uint r = j * per + tid / 64u; r < r1; r += 4u)
        s += SS_LOAD (dy[p.dy_off + r * p.C + c]);
    red[tid] = s;
    barrier ();
    if (tid < 64u && c < p.C)
      finish (j, c, red[tid] + red[tid + 64u] + red[tid + 128u] + red[tid + 192u]);
    return;
  }
  uint c = gl_WorkGroupID.x;
  uint total = p.outer * p.inner;
  uint per = (total + p.chunks - 1u) / p.chunks;
  uint e1 = min (j * per + per, total);
  /* (independent iterations: stepping oo and ii with a carry instead of the
   * divisions took 2x as long on the H100, the loads no longer overlapping) */
  for (uint e = j * per + tid; e < e1; e += 256u) {
    uint oo = e / p.inner, ii = e % p.inner;
    s += SS_LOAD (dy[p.dy_off + (oo * p.C + c) * p.inner + ii]);
  }
  red[tid] = s;
  barrier ();
  for (uint w = 128u; w > 0u; w >>= 1) {
    if (tid < w)
      red[tid] += red[tid + w];
    barrier ();
  }
  if (tid == 0u)
    finish (j, c, red[0]);
}
