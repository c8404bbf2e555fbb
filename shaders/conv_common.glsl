/* Geometry shared by conv_im2col / conv_col2im. A 3-D convolution (1-D and
 * 2-D use size-1 leading dims) maps an image [N, C, in0, in1, in2] to columns
 * [N, C*KV, L]: KV = k0*k1*k2 kernel taps, L = out0*out1*out2 output positions;
 * input position of output o and tap t in dim d: o*stride - pad + t*dil. */
layout (push_constant) uniform P {
  uint N, C, img_off, col_off;
  uint in0, in1, in2, pad_;
  uint out0, out1, out2, pad2_;
  uint k0, k1, k2, pad3_;
  int s0, s1, s2, pad4_;
  int p0, p1, p2, pad5_;
  int d0, d1, d2, pad6_;
} p;
