/* ss-half.h: bit casts and the exact IEEE half / bfloat16 -> float
 * conversions, header-only so that code built without the engine (the
 * safetensors fuzz target) can use them. Float -> half/bf16 rounding is left to
 * each user: NaN payloads are kept differently (ss-safetensors, ss-tensor). */
#pragma once

#include <glib.h>
#include <string.h>

static inline guint32
ss_half_f32_bits (float f)
{
  guint32 u;
  memcpy (&u, &f, 4);
  return u;
}

static inline float
ss_half_bits_f32 (guint32 u)
{
  float f;
  memcpy (&f, &u, 4);
  return f;
}

/* IEEE binary16 -> float, exact (NaN payloads kept). */
static inline float
ss_half_f16_to_f32 (guint16 h)
{
  guint32 sign = ((guint32) h & 0x8000u) << 16;
  guint32 exp = (h >> 10) & 0x1fu;
  guint32 mant = h & 0x3ffu;

  if (exp == 0)
    {
      if (mant == 0)
        return ss_half_bits_f32 (sign);
      /* subnormal: value = mant * 2^-24 */
      float v = (float) mant * 5.9604644775390625e-8f;
      return sign ? -v : v;
    }
  if (exp == 0x1f)
    return ss_half_bits_f32 (sign | 0x7f800000u | (mant << 13));
  return ss_half_bits_f32 (sign | ((exp + 127 - 15) << 23) | (mant << 13));
}

/* bfloat16 -> float, exact. */
static inline float
ss_half_bf16_to_f32 (guint16 b)
{
  return ss_half_bits_f32 ((guint32) b << 16);
}
