/* ss-common.glsl: shared helpers for Soundstage compute shaders.
 *
 * Storage type of a variant (one of SS_DTYPE_F32 / SS_DTYPE_F16 / SS_DTYPE_BF16
 * defined by the build): SS_T is the element type in buffers, SS_LOAD(x)
 * converts a stored element to float, SS_STORE(v) converts a float for
 * storing. Arithmetic is always fp32. bf16 is stored as uint16_t bit patterns
 * (the toolchain has no bfloat16 GLSL type).
 *
 * 1-D dispatch helper: ss_linear_group() for shaders dispatched with
 * ss_gpu_groups_1d() (2-D grid of workgroups for large counts).
 */
#ifndef SS_COMMON_GLSL
#define SS_COMMON_GLSL

#extension GL_EXT_shader_16bit_storage : require
#extension GL_EXT_shader_explicit_arithmetic_types_int16 : require
#extension GL_EXT_shader_explicit_arithmetic_types_float16 : require

float ss_bf16_to_f32 (uint16_t b) { return uintBitsToFloat (uint (b) << 16); }

uint16_t ss_f32_to_bf16 (float v)
{
  uint u = floatBitsToUint (v);
  if ((u & 0x7fffffffu) > 0x7f800000u)
    return uint16_t (0x7fc0u);
  u += 0x7fffu + ((u >> 16) & 1u);
  return uint16_t (u >> 16);
}

float ss_f16_to_f32 (float16_t h) { return float (h); }
float16_t ss_f32_to_f16 (float v) { return float16_t (v); }

#if defined(SS_DTYPE_F32)
#define SS_T float
#define SS_LOAD(x) (x)
#define SS_STORE(v) (v)
#elif defined(SS_DTYPE_F16)
#define SS_T float16_t
#define SS_LOAD(x) float (x)
#define SS_STORE(v) float16_t (v)
#elif defined(SS_DTYPE_BF16)
#define SS_T uint16_t
#define SS_LOAD(x) ss_bf16_to_f32 (x)
#define SS_STORE(v) ss_f32_to_bf16 (v)
#endif

uint ss_linear_group () { return gl_WorkGroupID.x + gl_WorkGroupID.y * gl_NumWorkGroups.x; }

/* n / d by multiplication for a divisor given as (m, sh) by ss_fastdiv_magic()
 * in core/gpu (Granlund & Montgomery 1994, fig. 4.1): exact for every 32-bit
 * n; sh holds two shifts, bits 0-7 and 8-15. */
uint ss_fastdiv (uint n, uint m, uint sh)
{
  uint hi, lo;
  umulExtended (m, n, hi, lo);
  return (hi + ((n - hi) >> (sh & 0xffu))) >> (sh >> 8);
}

#endif
