/* conv_implicit.glsl: the addressing of an implicit-GEMM convolution's image,
 * packed channels-last with its padding by conv_pack.comp, shared by the
 * GEMM kernels' IMPLICIT / IMPLICIT_W forms (matmul.comp, matmul_reg.comp,
 * matmul_cm2.comp). The push constants carry it as `ConvGeo cv` after the
 * GEMM's own (SsGemmConv in core/tensor/ss-op-matmul-private.h, filled by
 * ss_gemm_conv). In elements:
 *   output position pos = (z, y, x) = (pos / (ox oy), pos / ox % oy, pos % ox)
 *   starts at z mz + y my + x mx;
 *   tap and channel tc = ((tz' ky + ty') kx + tx') C + c lies
 *   tz' tz + ty' ty + tx' tx + c further.
 * S, Ls, L: the weight gradient's slices, S of Ls positions each, over the
 * image's positions 0 .. L - 1. */
#ifndef CONV_IMPLICIT_GLSL
#define CONV_IMPLICIT_GLSL

struct ConvGeo {
  uint C, kx, ky, ox, oy, mx, my, mz, tx, ty, tz, S, Ls, L;
};

uint conv_pos (ConvGeo g, uint pos)
{
  uint r = pos / g.ox;
  return (r / g.oy) * g.mz + (r % g.oy) * g.my + (pos % g.ox) * g.mx;
}

uint conv_tap (ConvGeo g, uint tc)
{
  uint t = tc / g.C, tr = t / g.kx;
  return (tr / g.ky) * g.tz + (tr % g.ky) * g.ty + (t % g.kx) * g.tx + tc % g.C;
}

#endif
