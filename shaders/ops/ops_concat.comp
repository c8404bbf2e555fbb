#version 450
/* Concatenation of up to 7 inputs in one pass. Every input is seen as rows
 * (the dims before the concat dim, merged: row r starts at off[i] + r * stride[i])
 * of contiguous columns (the concat dim and the dims after it). The output
 * (rows, y_cols) takes a window of win columns starting at y_off in each row:
 * input i fills window columns [start[i], start[i + 1]) (start[n] = win).
 * Same-dtype move: whole RAW-byte units (16, 8, 4 or 2), bit-exact; offsets,
 * strides and column counts are in units. One thread per output unit (EPT per
 * thread, loads issued before the stores); a thread picks its input by column. */
#include "ss-common.glsl"
layout (local_size_x = 256) in;

#if RAW == 16
#define U_T uvec4
#elif RAW == 8
#define U_T uvec2
#elif RAW == 4
#define U_T uint
#else
#define U_T uint16_t
#endif

layout (binding = 0) readonly buffer X0 { U_T x0[]; };
layout (binding = 1) readonly buffer X1 { U_T x1[]; };
layout (binding = 2) readonly buffer X2 { U_T x2[]; };
layout (binding = 3) readonly buffer X3 { U_T x3[]; };
layout (binding = 4) readonly buffer X4 { U_T x4[]; };
layout (binding = 5) readonly buffer X5 { U_T x5[]; };
layout (binding = 6) readonly buffer X6 { U_T x6[]; };
layout (binding = 7) writeonly buffer Y { U_T y[]; };

layout (push_constant) uniform P {
  uint rows, win, m_win, s_win;   /* ss_fastdiv of win */
  uint y_off, y_cols, n;
  uint start[7], off[7], stride[7];
} p;

U_T load (uint s, uint i)
{
  switch (s) {
  case 0u: return x0[i];
  case 1u: return x1[i];
  case 2u: return x2[i];
  case 3u: return x3[i];
  case 4u: return x4[i];
  case 5u: return x5[i];
  default: return x6[i];
  }
}

#define EPT 4u

void main ()
{
  uint base = ss_linear_group () * (256u * EPT) + gl_LocalInvocationID.x;
  uint total = p.rows * p.win;
  U_T v[EPT];
  uint dst[EPT];
  for (uint k = 0; k < EPT; k++) {
    uint e = base + k * 256u;
    dst[k] = ~0u;
    v[k] = U_T (0u);
    if (e < total) {
      uint r = ss_fastdiv (e, p.m_win, p.s_win), c = e - r * p.win;
      uint s = 0u;
      for (uint j = 1u; j < p.n; j++)
        s += c >= p.start[j] ? 1u : 0u;
      v[k] = load (s, p.off[s] + r * p.stride[s] + (c - p.start[s]));
      dst[k] = p.y_off + r * p.y_cols + c;
    }
  }
  for (uint k = 0; k < EPT; k++)
    if (dst[k] != ~0u)
      y[dst[k]] = v[k];
}
