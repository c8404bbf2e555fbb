/* The additive 16-bit mask of the workgroup-scope attention kernels, staged in
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

/* A block's tile, rows of queries q .. of BK keys k .. k + BK - 1, through n
 * uvec4 registers rm[] of each of the workgroup's NT invocations (tid; mbase
 * as above): ATTN_MASK_TILE_LOAD loads them, each invocation 8 keys of a row,
 * ATTN_MASK_TILE_STORE stores them into shared memory sh from element off on,
 * rows stride uvec4 apart. */
#define ATTN_MASK_TILE_LOAD(rm, n, q, k) \
  [[unroll]] for (uint t = 0u; t < (n); t++) { \
    uint e = tid + t * NT; \
    rm[t] = attn_mask8 (mbase, (q) + e / (BK / 8u), (k) + 8u * (e % (BK / 8u))); \
  }
#define ATTN_MASK_TILE_STORE(sh, off, stride, rm, n) \
  [[unroll]] for (uint t = 0u; t < (n); t++) { \
    uint e = tid + t * NT; \
    sh[(off) + (e / (BK / 8u)) * (stride) + e % (BK / 8u)] = rm[t]; \
  }
