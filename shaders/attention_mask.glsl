/* The additive fp16 mask of the workgroup-scope attention kernels, staged in
 * tiles: attn_mask8 returns keys key .. key + 7 (key a multiple of 8) of
 * query qry's row (element (b, h, i, j) at mbase + i m_rs + j, mbase = m_off
 * + b m_bs + h m_hs) as 8 packed halves in one 16-byte load, 0 past Lq and
 * Lk. The host pads the rows with zeros to a multiple of 8 elements where
 * the mask's are not (ss-op-attention.c, cm2_mask_tensor), so the keys of a
 * unit past Lk are 0 too. Needs attention_common.glsl's push constants and
 * the mask bound as uvec4 mask4[]. attn_mask_pair unpacks a staged 32-bit
 * word: two fp16 elements, or with MASK_BF16 (the bf16 variants, whose mask
 * is bf16) two bf16 ones. */
vec2 attn_mask_pair (uint w)
{
#ifdef MASK_BF16
  return vec2 (uintBitsToFloat (w << 16), uintBitsToFloat (w & 0xffff0000u));
#else
  return unpackHalf2x16 (w);
#endif
}

uvec4 attn_mask8 (uint mbase, uint qry, uint key)
{
  return qry < p.Lq && key < p.Lk ? mask4[(mbase + qry * p.m_rs + key) / 8u] : uvec4 (0u);
}
