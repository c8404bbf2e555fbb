/* Shared declarations of the attention kernels. Tensors are contiguous:
 * q [BH, Lq, D], k [BH, Lk, D], v [BH, Lk, Dv], o/do [BH, Lq, Dv],
 * lse/dsum [BH, Lq] fp32; mask element (b, h, i, j) at
 * m_off + b*m_bs + h*m_hs + i*Lk + j. flags: 1 = mask, 2 = causal (j <= i). */
#define DMAX 128
#define DPAD (DMAX + 1)

layout (push_constant) uniform P {
  uint Lq, Lk, D, Dv;
  uint H, flags, q_off, k_off;
  uint v_off, o_off, m_off, m_bs;
  uint m_hs, l_off, do_off, g_off;
  float scale;
  uint BH;
  uint bh0;    /* first batch*head of this dispatch (grids over 65535 are split) */
  uint m_rs;   /* the mask's row stride in the workgroup-scope kernels (attention_mask.glsl) */
} p;

float att_score_bias (uint bh, uint i, uint j)
{
  if (j >= p.Lk || i >= p.Lq || ((p.flags & 2u) != 0u && j > i))
    return -1.0 / 0.0;
  return 0.0;
}
