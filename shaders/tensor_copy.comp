#version 450
/* Strided N-D copy with dtype conversion: dst[idx] = src[idx] for every index
 * of the logical shape (row-major enumeration). */
#include "ss-common.glsl"
layout (local_size_x = 256) in;

#if defined(RAW)
/* same-dtype copies moved as whole 4-, 8- or 16-byte units (bit-exact, fewer
 * and wider memory instructions): shape and strides are in units */
#if RAW == 16
#define SRC_T uvec4
#elif RAW == 8
#define SRC_T uvec2
#else
#define SRC_T uint
#endif
#define DST_T SRC_T
#define VAL_T SRC_T
#define SRC_LOAD(x) (x)
#define DST_STORE(v) (v)
#define VAL_ZERO SRC_T (0u)
#else
#define VAL_T float
#define VAL_ZERO 0.0
#if defined(SRC_F32)
#define SRC_T float
#define SRC_LOAD(x) (x)
#elif defined(SRC_F16)
#define SRC_T float16_t
#define SRC_LOAD(x) float (x)
#else
#define SRC_T uint16_t
#define SRC_LOAD(x) ss_bf16_to_f32 (x)
#endif
#if defined(DST_F32)
#define DST_T float
#define DST_STORE(v) (v)
#elif defined(DST_F16)
#define DST_T float16_t
#define DST_STORE(v) float16_t (v)
#else
#define DST_T uint16_t
#define DST_STORE(v) ss_f32_to_bf16 (v)
#endif
#endif

layout (binding = 0) readonly buffer Src { SRC_T src[]; };
layout (binding = 1) writeonly buffer Dst { DST_T dst[]; };

layout (push_constant) uniform P {
  uint n, ndim, src_off, dst_off;
  uint shape[5];
  uint src_stride[5];
  uint dst_stride[5];
  uint magic[5], shift[5];   /* ss_fastdiv of shape[d] */
} p;

/* EPT elements per thread, all loads issued before the stores */
#define EPT 4u

void main ()
{
  uint base = ss_linear_group () * (256u * EPT) + gl_LocalInvocationID.x;
  VAL_T v[EPT];
  uint dsto[EPT];
  for (uint k = 0; k < EPT; k++) {
    uint i = base + k * 256u;
    dsto[k] = ~0u;
    v[k] = VAL_ZERO;
    if (i < p.n) {
      uint rem = i, so = p.src_off, d_o = p.dst_off;
      for (int d = int (p.ndim) - 1; d >= 0; d--) {
        uint q = ss_fastdiv (rem, p.magic[d], p.shift[d]);
        uint c = rem - q * p.shape[d];
        rem = q;
        so += c * p.src_stride[d];
        d_o += c * p.dst_stride[d];
      }
      v[k] = SRC_LOAD (src[so]);
      dsto[k] = d_o;
    }
  }
  for (uint k = 0; k < EPT; k++)
    if (dsto[k] != ~0u)
      dst[dsto[k]] = DST_STORE (v[k]);
}
