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
layout (push_constant) uniform P { uint nc, ih, iw, oh, ow, x_off, y_off; } p;

void tap (uint dst, uint in_, uint out_, out uint i0, out uint i1, out float w0, out float w1)
{
  if (LINEAR == 0) {
    i0 = min ((dst * in_) / out_, in_ - 1);
    i1 = i0;
    w0 = 1.0;
    w1 = 0.0;
    return;
  }
  float src;
  if (ALIGN != 0)
    src = out_ > 1 ? float (dst) * float (in_ - 1) / float (out_ - 1) : 0.0;
  else
    src = max ((float (dst) + 0.5) * (float (in_) / float (out_)) - 0.5, 0.0);
  i0 = min (uint (floor (src)), in_ - 1);
  float l = src - float (i0);
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

void range_of (uint i, uint in_, uint out_, out uint lo, out uint hi)
{
  if (LINEAR == 0) {
    /* floor(r * in / out) == i  <=>  r in [ceil(i out / in), ceil((i+1) out / in)) */
    lo = (i * out_ + in_ - 1) / in_;
    hi = ((i + 1) * out_ + in_ - 1) / in_;
    hi = min (hi, out_);
    if (i == in_ - 1)
      hi = out_;
    return;
  }
  int l = int ((int (i) - 1) * int (out_)) / int (in_) - 2;
  int h = int ((int (i) + 2) * int (out_) + int (in_) - 1) / int (in_) + 3;
  lo = uint (max (l, 0));
  hi = uint (min (h, int (out_)));
}

void main ()
{
  uint e = ss_linear_group () * 256u + gl_LocalInvocationID.x;
  if (BWD == 0) {
    if (e >= p.nc * p.oh * p.ow)
      return;
    uint q = e % p.ow, r = (e / p.ow) % p.oh, c = e / (p.ow * p.oh);
    uint h0, h1, w0i, w1i;
    float a0, a1, b0, b1;
    tap (r, p.ih, p.oh, h0, h1, a0, a1);
    tap (q, p.iw, p.ow, w0i, w1i, b0, b1);
    uint base = p.x_off + c * p.ih * p.iw;
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
