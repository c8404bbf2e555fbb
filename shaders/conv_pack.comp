#version 450
/* The image of an implicit-GEMM convolution: img [N, C, in0, in1, in2]
 * (channels first, as the tensors are) -> packed [N, P0, P1, P2, C]
 * (channels last, P = lo + in + hi along each axis, zeros in the padding),
 * so that a kernel tap of C channels is one contiguous run that the GEMM
 * loads in 16-byte vectors (matmul_cm2.comp IMPLICIT, matmul.comp IMPLICIT).
 * Elements are copied as raw bits (RAW = 16 or 32, any dtype of that size).
 * A workgroup moves TILE channels x TILE packed positions through shared
 * memory, so that both the reads (along positions) and the writes (along
 * channels) are consecutive; the positions' source offsets are worked out
 * once per tile (the divisions per element held the kernel at about 1 TB/s
 * on the H100; 64 x 64 tiles ran slower than 32 x 32).
 * Grid (ceil (P0 P1 P2 / TILE), ceil (C / TILE), N). */
#extension GL_EXT_shader_16bit_storage : require
#extension GL_EXT_shader_explicit_arithmetic_types_int16 : require
#extension GL_EXT_control_flow_attributes : require
#ifndef TILE
#define TILE 32u
#endif
#define PER (TILE * TILE / 256u)
layout (local_size_x = 256) in;
#if RAW == 16
#define T uint16_t
#else
#define T uint
#endif
layout (binding = 0) readonly buffer Img { T img[]; };
layout (binding = 1) writeonly buffer Packed { T packed[]; };

layout (push_constant) uniform P {
  uint C, src_off, dst_off, pad_;
  uint in0, in1, in2, pad2_;
  uint P0, P1, P2, pad3_;
  uint lo0, lo1, lo2, pad4_;
} p;

shared T tile[TILE][TILE + 1u];
shared uint src[TILE];     /* a position's offset in its channel plane, ~0u in the padding */

void main ()
{
  uint tid = gl_LocalInvocationID.x;
  uint q0 = gl_WorkGroupID.x * TILE, c0 = gl_WorkGroupID.y * TILE, n = gl_WorkGroupID.z;
  uint np = p.P0 * p.P1 * p.P2;
  uint sp = p.in0 * p.in1 * p.in2;
  if (tid < TILE) {
    uint q = q0 + tid;
    uint x = q % p.P2, r = q / p.P2;
    uint y = r % p.P1, z = r / p.P1;
    /* unsigned: positions in the low padding wrap past the extent */
    uint ix = x - p.lo2, iy = y - p.lo1, iz = z - p.lo0;
    src[tid] = q < np && ix < p.in2 && iy < p.in1 && iz < p.in0 ? (iz * p.in1 + iy) * p.in2 + ix : ~0u;
  }
  barrier ();
  /* reads: TILE consecutive packed positions per channel */
  [[unroll]] for (uint i = 0u; i < PER; i++) {
    uint e = tid + i * 256u;
    uint s = src[e % TILE], c = c0 + e / TILE;
    tile[e / TILE][e % TILE] = s != ~0u && c < p.C ? img[p.src_off + (n * p.C + c) * sp + s] : T (0);
  }
  barrier ();
  /* writes: TILE consecutive channels per position */
  [[unroll]] for (uint i = 0u; i < PER; i++) {
    uint e = tid + i * 256u;
    uint c = c0 + e % TILE, q = q0 + e / TILE;
    if (q < np && c < p.C)
      packed[p.dst_off + (n * np + q) * p.C + c] = tile[e % TILE][e / TILE];
  }
}
