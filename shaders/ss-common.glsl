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

/* Four consecutive elements as one 8- or 16-byte unit (SS_T4; a buffer block
 * of SS_T4 may alias the SS_T block at the same binding): ss_load4 / ss_store4
 * convert them like SS_LOAD / SS_STORE, element 0 in the low bits. */
#if defined(SS_DTYPE_F32)
#define SS_T4 uvec4
vec4 ss_load4 (uvec4 u) { return uintBitsToFloat (u); }
uvec4 ss_store4 (vec4 v) { return floatBitsToUint (v); }
#elif defined(SS_DTYPE_F16)
#define SS_T4 uvec2
vec4 ss_load4 (uvec2 u) { return vec4 (vec2 (unpackFloat2x16 (u.x)), vec2 (unpackFloat2x16 (u.y))); }
uvec2 ss_store4 (vec4 v) { return uvec2 (packFloat2x16 (f16vec2 (v.xy)), packFloat2x16 (f16vec2 (v.zw))); }
#elif defined(SS_DTYPE_BF16)
#define SS_T4 uvec2
vec4 ss_load4 (uvec2 u)
{
  return vec4 (uintBitsToFloat (u.x << 16), uintBitsToFloat (u.x & 0xffff0000u),
               uintBitsToFloat (u.y << 16), uintBitsToFloat (u.y & 0xffff0000u));
}
uvec2 ss_store4 (vec4 v)
{
  return uvec2 (uint (ss_f32_to_bf16 (v.x)) | (uint (ss_f32_to_bf16 (v.y)) << 16),
                uint (ss_f32_to_bf16 (v.z)) | (uint (ss_f32_to_bf16 (v.w)) << 16));
}
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
