#version 450
/* The weights of an implicit-GEMM convolution, reordered (raw bits, RAW = 16
 * or 32); KV kernel taps:
 *   MODE 0: w [O, C, KV] -> [O, KV, C] (the forward: a row of the GEMM's A
 *           runs over the taps, C channels each, like the packed image of
 *           conv_pack.comp);
 *   MODE 1: w [O, C, KV] -> [C, KV, O] with the taps reversed (the adjoint:
 *           the gradient of the image, and the transposed convolution, as a
 *           convolution of the padded output with the flipped kernel);
 *   MODE 2: [O, KV, C] -> [O, C, KV] (the weight gradient, back). */
#extension GL_EXT_shader_16bit_storage : require
#extension GL_EXT_shader_explicit_arithmetic_types_int16 : require
layout (local_size_x = 256) in;
#if RAW == 16
#define T uint16_t
#else
#define T uint
#endif
layout (binding = 0) readonly buffer W { T w[]; };
layout (binding = 1) writeonly buffer R { T r[]; };

layout (push_constant) uniform P {
  uint O, C, KV, mode;
  uint src_off, dst_off;
} p;

void main ()
{
  uint i = (gl_WorkGroupID.x + gl_WorkGroupID.y * gl_NumWorkGroups.x) * 256u + gl_LocalInvocationID.x;
  if (i >= p.O * p.C * p.KV)
    return;
  uint src;
  if (p.mode == 0u) {          /* i = (o KV + t) C + c */
    uint c = i % p.C, t = (i / p.C) % p.KV, o = i / (p.C * p.KV);
    src = (o * p.C + c) * p.KV + t;
  } else if (p.mode == 1u) {   /* i = (c KV + t') O + o, t = KV - 1 - t' */
    uint o = i % p.O, t = p.KV - 1u - (i / p.O) % p.KV, c = i / (p.O * p.KV);
    src = (o * p.C + c) * p.KV + t;
  } else {                     /* i = (o C + c) KV + t */
    uint t = i % p.KV, c = (i / p.KV) % p.C, o = i / (p.KV * p.C);
    src = (o * p.KV + t) * p.C + c;
  }
  r[p.dst_off + i] = w[p.src_off + src];
}
