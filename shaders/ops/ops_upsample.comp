#version 450
/* Nearest interpolation by integer factors (oh = SH * ih, ow = SW * iw; 1-D:
 * ih = oh = 1, SH = 1), where the source of output (r, q) is simply
 * (r / SH, q / SW). Rows of x [rows = nc * ih, iw] are taken in units of 4
 * elements (iw a multiple of 4; x_off, y_off multiples of 4 elements).
 * BWD 0: a unit of x becomes SH output rows of 4 * SW elements each, built
 * from its raw bits (bit-exact) and stored as 16-byte units (or 8-byte units:
 * 16-bit dtypes with odd SW or y_off not a multiple of 8; WIDE 0).
 * BWD 1: a unit of dx is the fp32 sum of its SH x SW blocks of dy.
 * EPT units per thread, all loads issued before the stores. */
#include "ss-common.glsl"
layout (local_size_x = 256) in;
layout (constant_id = 0) const uint SH = 2;
layout (constant_id = 1) const uint SW = 2;
layout (constant_id = 2) const uint BWD = 0;
layout (constant_id = 3) const uint WIDE = 1;

layout (binding = 0) readonly buffer X { SS_T4 x[]; };     /* x or dy, in units of 4 */
layout (binding = 1) writeonly buffer Y { SS_T4 y[]; };    /* y or dx, in units of 4 */
layout (binding = 1) writeonly buffer YW { uvec4 yw[]; };  /* y in 16-byte units */
layout (push_constant) uniform P {
  uint units;          /* rows * iw / 4 */
  uint iw4, m_iw4, s_iw4;   /* iw / 4 and its ss_fastdiv */
  uint ow, x_off, y_off;    /* ow in elements; x_off, y_off in elements (multiples of 4) */
} p;

#define EPT 4u

#if defined(SS_DTYPE_F32)
/* output word j of a row chunk (one 32-bit element per word) */
uint out_word (uvec4 u, uint j) { return u[j / SW]; }
#else
/* 16-bit element k of a unit of 4 */
uint lane (uvec2 u, uint k) { return (u[k >> 1] >> ((k & 1u) * 16u)) & 0xffffu; }
/* output word j of a row chunk (elements 2j and 2j + 1) */
uint out_word (uvec2 u, uint j) { return lane (u, (2u * j) / SW) | (lane (u, (2u * j + 1u) / SW) << 16); }
#endif

void main ()
{
  uint base = ss_linear_group () * (256u * EPT) + gl_LocalInvocationID.x;
  /* words of a row chunk (4 * SW elements) and the words of a store */
#if defined(SS_DTYPE_F32)
  const uint chunk_words = 4u * SW, store_words = 4u;
#else
  const uint chunk_words = 2u * SW, store_words = WIDE != 0 ? 4u : 2u;
#endif
  if (BWD == 0) {
    SS_T4 v[EPT];
    for (uint k = 0; k < EPT; k++) {
      uint e = min (base + k * 256u, p.units - 1u);
      v[k] = x[p.x_off / 4u + e];
    }
    for (uint k = 0; k < EPT; k++) {
      uint e = base + k * 256u;
      if (e >= p.units)
        break;
      uint t = ss_fastdiv (e, p.m_iw4, p.s_iw4), q = e - t * p.iw4;
      for (uint a = 0; a < SH; a++) {
        /* first element of the chunk: row t * SH + a, column 4 * SW * q */
        uint o = p.y_off + (t * SH + a) * p.ow + 4u * SW * q;
        for (uint s = 0; s < chunk_words / store_words; s++) {
          uint j = s * store_words;
#if defined(SS_DTYPE_F32)
          yw[o / 4u + s] = uvec4 (out_word (v[k], j), out_word (v[k], j + 1u),
                                  out_word (v[k], j + 2u), out_word (v[k], j + 3u));
#else
          if (WIDE != 0)
            yw[o / 8u + s] = uvec4 (out_word (v[k], j), out_word (v[k], j + 1u),
                                    out_word (v[k], j + 2u), out_word (v[k], j + 3u));
          else
            y[o / 4u + s] = uvec2 (out_word (v[k], j), out_word (v[k], j + 1u));
#endif
        }
      }
    }
  } else {
    vec4 acc[EPT];
    for (uint k = 0; k < EPT; k++) {
      uint e = min (base + k * 256u, p.units - 1u);
      uint t = ss_fastdiv (e, p.m_iw4, p.s_iw4), q = e - t * p.iw4;
      acc[k] = vec4 (0.0);
      for (uint a = 0; a < SH; a++) {
        uint o = (p.x_off + (t * SH + a) * p.ow + 4u * SW * q) / 4u;
        for (uint u = 0; u < SW; u++) {
          vec4 f = ss_load4 (x[o + u]);
          for (uint m = 0; m < 4u; m++)
            acc[k][(4u * u + m) / SW] += f[m];
        }
      }
    }
    for (uint k = 0; k < EPT; k++) {
      uint e = base + k * 256u;
      if (e < p.units)
        y[p.y_off / 4u + e] = ss_store4 (acc[k]);
    }
  }
}
