#version 450
/* Nearest / (bi)linear interpolation, PyTorch F.interpolate semantics:
 * x [nc, ih, iw] -> y [nc, oh, ow] (1-D: ih = oh = 1).
 * BWD 0: one thread per output element.
 * BWD 1: one thread per input element gathers the gradient from the outputs
 * whose taps touch it (no atomics). */
#include "ss-common.glsl"
layout (local_size_x = 256) in;
layout (constant_id = 0) const uint LINEAR = 0;
layout (constant_id = 1) const uint ALIGN = 0;
layout (constant_id = 2) const uint BWD = 0;

layout (binding = 0) readonly buffer X { SS_T x[]; };   /* x or dy */
layout (binding = 1) writeonly buffer Y { SS_T y[]; };  /* y or dx */
layout (push_constant) uniform P {
  uint nc, ih, iw, oh, ow, x_off, y_off;
  uint m_oh, s_oh, m_ow, s_ow;   /* ss_fastdiv of oh and ow */
} p;

/* ss_fastdiv of an output length: oh or ow (the only divisors of the forward's
 * element index and of the nearest taps) */
uint div_out (uint n, uint out_)
{
  return out_ == p.ow ? ss_fastdiv (n, p.m_ow, p.s_ow) : ss_fastdiv (n, p.m_oh, p.s_oh);
}

/* Exact index arithmetic: products like dst * in pass 2^32 for audio-length
 * signals, so they are formed in 64 bits (umulExtended; uvec2 = (hi, lo)). */
uvec2 mul64 (uint a, uint b)
{
  uint hi, lo;
  umulExtended (a, b, hi, lo);
  return uvec2 (hi, lo);
}

bool ge64 (uvec2 a, uvec2 b) { return a.x > b.x || (a.x == b.x && a.y >= b.y); }

uvec2 sub64 (uvec2 a, uvec2 b)
{
  uint borrow;
  uint lo = usubBorrow (a.y, b.y, borrow);
  return uvec2 (a.x - b.x - borrow, lo);
}

/* floor (num / den) for a quotient below 2^31: float estimate, exact correction */
uint div64 (uvec2 num, uint den)
{
  if (num.x == 0u)
    return num.y / den;   /* the common case: the product fits in 32 bits */
  float est = (float (num.x) * 4294967296.0 + float (num.y)) / float (den);
  uint q = uint (clamp (est, 0.0, 2147483647.0));
  while (q > 0u && !ge64 (num, mul64 (q, den)))
    q--;
  while (ge64 (num, mul64 (q + 1u, den)))
    q++;
  return q;
}

/* smallest r with r * a >= b * c */
uint ceil_ratio (uint b, uint c, uint a)
{
  uvec2 target = mul64 (b, c);
  float est = ceil (float (b) * float (c) / float (a));
  uint r = uint (clamp (est, 0.0, 2147483647.0));
  while (r > 0u && ge64 (mul64 (r - 1u, a), target))
    r--;
  while (!ge64 (mul64 (r, a), target))
    r++;
  return r;
}

void tap (uint dst, uint in_, uint out_, out uint i0, out uint i1, out float w0, out float w1)
{
  if (LINEAR == 0) {
    /* floor (dst * in / out) */
    uvec2 prod = mul64 (dst, in_);
    i0 = min (prod.x == 0u ? div_out (prod.y, out_) : div64 (prod, out_), in_ - 1);
    i1 = i0;
    w0 = 1.0;
    w1 = 0.0;
    return;
  }
  uint rem, den;
  if (ALIGN != 0) {
    /* src = dst * (in - 1) / (out - 1) */
    if (out_ <= 1 || in_ <= 1) {
      i0 = 0;
      rem = 0;
      den = 1;
    } else {
      uvec2 num = mul64 (dst, in_ - 1);
      den = out_ - 1;
      i0 = div64 (num, den);
      rem = sub64 (num, mul64 (i0, den)).y;
    }
  } else {
    /* src = ((2 dst + 1) in - out) / (2 out), clamped at 0 */
    uvec2 a = mul64 (2u * dst + 1u, in_);
    den = 2u * out_;
    if (!ge64 (a, uvec2 (0u, out_))) {
      i0 = 0;
      rem = 0;
    } else {
      uvec2 num = sub64 (a, uvec2 (0u, out_));
      i0 = div64 (num, den);
      rem = sub64 (num, mul64 (i0, den)).y;
    }
  }
  if (i0 > in_ - 1) {
    i0 = in_ - 1;
    rem = 0;
  }
  float l = float (rem) / float (den);
  i1 = min (i0 + 1, in_ - 1);
  w0 = 1.0 - l;
  w1 = l;
}

/* weight of input index i in output index dst */
float weight (uint dst, uint i, uint in_, uint out_)
{
  uint i0, i1;
  float w0, w1;
  tap (dst, in_, out_, i0, i1, w0, w1);
  return (i0 == i ? w0 : 0.0) + (i1 == i ? w1 : 0.0);
}

/* the outputs [lo, hi) whose taps can touch input i */
void range_of (uint i, uint in_, uint out_, out uint lo, out uint hi)
{
  if (LINEAR == 0) {
    /* floor (r * in / out) == i  <=>  i * out <= r * in < (i + 1) * out */
    lo = ceil_ratio (i, out_, in_);
    hi = i == in_ - 1 ? out_ : min (ceil_ratio (i + 1u, out_, in_), out_);
    return;
  }
  /* linear taps reach one input to each side: conservative float bounds
   * (the exact taps decide inside) */
  float r = float (out_) / float (in_);
  lo = uint (max (floor ((float (i) - 1.5) * r) - 3.0, 0.0));
  hi = uint (min (ceil ((float (i) + 2.5) * r) + 3.0, float (out_)));
  if (ALIGN != 0 && in_ > 1 && out_ > 1) {
    float ra = float (out_ - 1) / float (in_ - 1);
    lo = min (lo, uint (max (floor ((float (i) - 1.0) * ra) - 3.0, 0.0)));
    hi = max (hi, uint (min (ceil ((float (i) + 1.0) * ra) + 3.0, float (out_))));
  }
  if (i == in_ - 1)
    hi = out_;
  if (i == 0)
    lo = 0;
}

void main ()
{
  uint e = ss_linear_group () * 256u + gl_LocalInvocationID.x;
  if (BWD == 0) {
    if (e >= p.nc * p.oh * p.ow)
      return;
    uint t = ss_fastdiv (e, p.m_ow, p.s_ow), c = ss_fastdiv (t, p.m_oh, p.s_oh);
    uint q = e - t * p.ow, r = t - c * p.oh;
    uint h0, h1, w0i, w1i;
    float a0, a1, b0, b1;
    tap (r, p.ih, p.oh, h0, h1, a0, a1);
    tap (q, p.iw, p.ow, w0i, w1i, b0, b1);
    uint base = p.x_off + c * p.ih * p.iw;
    if (LINEAR == 0) {
      y[p.y_off + e] = x[base + h0 * p.iw + w0i];   /* nearest: the element itself */
      return;
    }
    float v = a0 * (b0 * SS_LOAD (x[base + h0 * p.iw + w0i]) + b1 * SS_LOAD (x[base + h0 * p.iw + w1i]))
            + a1 * (b0 * SS_LOAD (x[base + h1 * p.iw + w0i]) + b1 * SS_LOAD (x[base + h1 * p.iw + w1i]));
    y[p.y_off + e] = SS_STORE (v);
  } else {
    if (e >= p.nc * p.ih * p.iw)
      return;
    uint j = e % p.iw, i = (e / p.iw) % p.ih, c = e / (p.iw * p.ih);
    uint rlo, rhi, qlo, qhi;
    range_of (i, p.ih, p.oh, rlo, rhi);
    range_of (j, p.iw, p.ow, qlo, qhi);
    float s = 0.0;
    for (uint r = rlo; r < rhi; r++) {
      float wr = weight (r, i, p.ih, p.oh);
      if (wr == 0.0)
        continue;
      for (uint q = qlo; q < qhi; q++) {
        float wq = weight (q, j, p.iw, p.ow);
        if (wq != 0.0)
          s += wr * wq * SS_LOAD (x[p.x_off + (c * p.oh + r) * p.ow + q]);
      }
    }
    y[p.y_off + e] = SS_STORE (s);
  }
}
