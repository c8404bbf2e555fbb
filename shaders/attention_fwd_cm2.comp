#version 450
/* Attention forward on workgroup-scope cooperative matrices
 * (VK_NV_cooperative_matrix2; written against GL_NV_cooperative_matrix and
 * rewritten to the KHR form at build time like matmul_cm2): one pass over the
 * keys with FlashAttention-2's online softmax, fp16 q/k/v/o, fp32 scores,
 * statistics and accumulation, head size HD (64 or 128); non-causal, with an
 * additive mask in the MASK build (head size 64), or causal in the CAUSAL
 * build (its own variant: the extra checks in one kernel slowed the
 * non-causal case 2.4x on the H100).
 *
 * A workgroup of NT invocations takes BQ query rows (HD 64: 256 and 128; HD
 * 128: 64, so that Q and the K and V blocks fit the shared memory). Per block
 * of BK keys: S = Q K^T is one BQ x BK workgroup matrix (Q from shared memory,
 * where it stays, K^T a column-major load of the staged K block), the softmax
 * works on the components each invocation holds, P is the accumulator
 * converted into an A operand (through shared memory, PSMEM below), and
 * O += P V is one more workgroup multiply-add.
 *
 * Which row and column each component holds is the driver's choice. The host
 * probes it (coopmat_probe_wg.comp) and chooses this kernel only when it is
 * the layout assumed here (that of the H100's driver): the NW warps form 2
 * row halves of WN = NW / 2 column groups; in an R x C accumulator warp w
 * holds rows R/2 (w / WN) .. + R/2 - 1 and columns CW (w % WN) .. + CW - 1
 * (CW = C / WN), and lane l's component i is row R/2 (w / WN) + 8 g + l / 4
 * and column CW (w % WN) + 8 j + 2 (l % 4) + i % 2, with g = i / (CW / 4) and
 * j = (i % (CW / 4)) / 2. S and O thus hold the same rows in each invocation,
 * and a row's maximum is spread over the 4 lanes of a quad and WN warps: two
 * shuffles, then an exchange through shared memory.
 *
 * Any Lq, Lk: K/V rows past Lk are zero-filled and their scores -inf, Q rows
 * past Lq are zeros and their outputs are not stored. q/k/v/o offsets
 * multiples of 8.
 *
 * MASK (the d64m variants): an additive 16-bit mask (fp16; bf16 in the bf16
 * form; element (b, h, i, j) at m_off + b m_bs + h m_hs + i m_rs + j,
 * attention_mask.glsl) is added to each scaled score, in log2 units like the
 * scores. Each block's BQ x BK mask tile is loaded a block ahead in 16-byte
 * units, staged in P's shared memory and read back as the components' pairs
 * (each score's element loaded from global memory where the component is
 * read ran 1.4-1.5x slower on the H100 than the tile in 16-byte loads;
 * loaded into registers before the multiply-add, slower still:
 * docs/PERFORMANCE-engine.md, tenth and eleventh sessions).
 *
 * DIV (the div64 variants): the space half of divided space-time attention
 * straight from a packed qkv [B, N, 3 D] (N = 1 + F P tokens, D = H HD) into
 * merged heads [B, N, D], with no copies: the batch*head index is (b, frame
 * f, head h); its queries are frame f's P patch tokens, its keys the CLS token
 * followed by those patches. Push constants: H, D (= H HD), m_bs = N, m_hs =
 * F, Lq = P, Lk = P + 1, q_off / k_off / v_off the offsets of q, k and v in
 * qkv (0, D, 2 D past the tensor's), o_off the output's. No lse. */
#extension GL_NV_cooperative_matrix : require
#extension GL_KHR_memory_scope_semantics : require
#extension GL_EXT_shader_explicit_arithmetic_types_float16 : require
#extension GL_EXT_shader_16bit_storage : require
#extension GL_KHR_shader_subgroup_basic : require
#extension GL_KHR_shader_subgroup_shuffle : require
#extension GL_EXT_control_flow_attributes : require
#include "attention_common.glsl"

#ifndef HD
#define HD 64
#endif
#ifndef NT
#define NT 256
#endif
#ifndef BQ
#define BQ 128
#endif
#ifndef BK
#define BK 64
#endif
/* P into an A operand through shared memory (PSMEM), in Q's space (Q then
 * stays in registers; rows of PS4 uvec4), instead of the driver's
 * accumulator -> A conversion: on the H100 that conversion took 22 % of the
 * kernel, and P through shared memory ran 134 -> 178 TFLOP/s at head size
 * 64, L8192 (docs/PERFORMANCE-engine.md, ninth session). XCONV: the
 * conversion. */
#if BK <= HD && !defined(XCONV)
#define PSMEM 1
#endif
#if defined(MASK) && !defined(PSMEM)
#error "MASK stages the mask tile in P's shared memory (PSMEM)"
#endif
#define PS4 (BK / 8 + 1)
/* component i of S: its row in the block and the first column of its pair
 * (the layout above; row0, col0 this invocation's first) */
#define CROW(i) (row0 + 8u * ((i) / (CWS / 4u)))
#define CCOL(i) (col0 + 8u * (((i) % (CWS / 4u)) / 2u))
#define NW (NT / 32)
#define WN (NW / 2)            /* column groups */
#define NRG (BQ / 16)          /* row groups of 8 per invocation */
#define CWS (BK / WN)          /* columns per warp: S */
#define CWO (HD / WN)          /* ... O */
#define NCS (NRG * CWS / 4)    /* components per invocation: S */
#define NCO (NRG * CWO / 4)    /* ... O */
#define R4 (HD / 8)            /* uvec4 per row */
#define S4 (R4 + 1)            /* padded row stride in shared memory (uvec4) */
#define NQ (BQ * R4 / NT)      /* uvec4 per thread: Q tile */
#define NL (BK * R4 / NT)      /* ... K or V block */

layout (local_size_x = NT) in;

layout (binding = 0) readonly buffer Qb { uvec4 q4[]; };
layout (binding = 1) readonly buffer Kb { uvec4 k4[]; };
layout (binding = 2) readonly buffer Vb { uvec4 v4[]; };
layout (binding = 3) readonly buffer Mb4 { uvec4 mask4[]; };   /* the mask, 8 elements a unit */
layout (binding = 4) writeonly buffer Ob { uvec4 o4[]; };
layout (binding = 5) writeonly buffer Lb { float lse[]; };
#ifdef MASK
#include "attention_mask.glsl"
#endif

/* Q (and at the end O), the K and V blocks, and the row statistics of the 4
 * column groups */
#ifdef QALIAS
/* Q is staged alone (then kept in registers); the K and V blocks and P
 * take its space afterwards (head size 128 on 128-row blocks) */
#define KOFF 0u
#define VOFF (BK * S4)
#define POFF (2u * BK * S4)
shared uvec4 SM[max (BQ * S4, 2u * BK * S4 + BQ * PS4)];
#else
#define KOFF (BQ * S4)
#define VOFF (BQ * S4 + BK * S4)
#define POFF 0u
shared uvec4 SM[BQ * S4 + 2u * BK * S4];
#endif
shared float RED[WN * BQ];

#define NEG_INF (-1.0 / 0.0)
#define LOG2E 1.4426950408889634

void main ()
{
  uint tid = gl_LocalInvocationID.x;
  uint warp = tid / 32u, lane = tid % 32u;
  uint half_ = warp / WN, cg = warp % WN;
  uint q0 = gl_WorkGroupID.x * BQ;
  uint bh = gl_WorkGroupID.y + p.bh0;
#ifdef DIV
  /* rows of the packed qkv: stride 3 D; the group's patch tokens from tok0,
   * key 0 the sample's CLS token (uvec4 units) */
  uint hd_ = bh % p.H, bf_ = bh / p.H;
  uint cls_tok = (bf_ / p.m_hs) * p.m_bs, tok0 = cls_tok + 1u + (bf_ % p.m_hs) * p.Lq;
  uint rs3 = 3u * p.D / 8u;
#define QROW(r) ((p.q_off + hd_ * HD) / 8u + (tok0 + (r)) * rs3)
#define KVTOK(j) ((j) == 0u ? cls_tok : tok0 + (j) - 1u)
#define KROW(j) ((p.k_off + hd_ * HD) / 8u + KVTOK (j) * rs3)
#define VROW(j) ((p.v_off + hd_ * HD) / 8u + KVTOK (j) * rs3)
#define OROW(r) ((p.o_off + hd_ * HD) / 8u + (tok0 + (r)) * (p.D / 8u))
#else
  uint qbase = (p.q_off + bh * p.Lq * HD) / 8u;
  uint kbase = (p.k_off + bh * p.Lk * HD) / 8u;
  uint vbase = (p.v_off + bh * p.Lk * HD) / 8u;
#define QROW(r) (qbase + (r) * R4)
#define KROW(j) (kbase + (j) * R4)
#define VROW(j) (vbase + (j) * R4)
#define OROW(r) ((p.o_off + bh * p.Lq * HD) / 8u + (r) * R4)
#endif
  float sl2 = p.scale * LOG2E;
#ifdef MASK
  uint mbase = p.m_off + (bh / p.H) * p.m_bs + (bh % p.H) * p.m_hs;
#endif
  /* this invocation's rows (index k: row0 + 8 k) and first column of S */
  uint row0 = (BQ / 2u) * half_ + lane / 4u;
  uint col0 = CWS * cg + 2u * (lane % 4u);

  [[unroll]] for (uint t = 0u; t < NQ; t++) {
    uint e = tid + t * NT;
    uint r = e / R4, s = e % R4;
    SM[r * S4 + s] = q0 + r < p.Lq ? q4[QROW (q0 + r) + s] : uvec4 (0u);
  }
  uvec4 rk[NL], rv[NL];
#define GLOAD(kb) \
  [[unroll]] for (uint t = 0u; t < NL; t++) { \
    uint e = tid + t * NT; \
    uint r = e / R4, s = e % R4; \
    bool in_ = (kb) + r < p.Lk; \
    rk[t] = in_ ? k4[KROW ((kb) + r) + s] : uvec4 (0u); \
    rv[t] = in_ ? v4[VROW ((kb) + r) + s] : uvec4 (0u); \
  }
  GLOAD (0u);
#ifdef MASK
  /* the mask tile of block kb in registers, one block ahead like K and V */
#define NM (BQ * BK / 8u / NT)
  uvec4 rm[NM];
  ATTN_MASK_TILE_LOAD (rm, NM, q0, 0u)
#endif

  fcoopmatNV<32, gl_ScopeWorkgroup, BQ, HD> o = fcoopmatNV<32, gl_ScopeWorkgroup, BQ, HD> (0.0);
  float m[NRG], l[NRG];
  [[unroll]] for (uint k = 0u; k < NRG; k++) {
    m[k] = NEG_INF;
    l[k] = 0.0;
  }
#ifdef CAUSAL
  /* key blocks up to the workgroup's last row */
  uint kv_end = min (p.Lk, q0 + BQ);
#else
  uint kv_end = p.Lk;
#endif
#ifdef PSMEM
  /* Q read from shared memory once, kept in registers */
  barrier ();
  fcoopmatNV<16, gl_ScopeWorkgroup, BQ, HD> qa;
  coopMatLoadNV (qa, SM, 0u, S4, false);
#endif
  for (uint kb = 0u; kb < kv_end; kb += BK) {
    barrier ();                 /* the previous block's K, V and statistics are consumed */
    [[unroll]] for (uint t = 0u; t < NL; t++) {
      uint e = tid + t * NT;
      SM[KOFF + (e / R4) * S4 + e % R4] = rk[t];
      SM[VOFF + (e / R4) * S4 + e % R4] = rv[t];
    }
#ifdef MASK
    /* the block's BQ x BK mask tile (loaded a block ahead, in 16-byte units:
     * attention_mask.glsl) into P's space (P of the previous block is
     * consumed; P is written after the scores have read it and the
     * statistics' barrier), as rows of PS4 uvec4 like P. Loaded here, behind
     * an always-taken branch, it ran 1.2x slower on the H100 (call eng153;
     * without the branch 1.4x, eng150) */
    ATTN_MASK_TILE_STORE (SM, POFF, PS4, rm, NM)
#endif
    if (kb + BK < kv_end) {
      GLOAD (kb + BK);          /* in flight during this block */
#ifdef MASK
      ATTN_MASK_TILE_LOAD (rm, NM, q0, kb + BK)
#endif
    }
    barrier ();
#ifndef PSMEM
    fcoopmatNV<16, gl_ScopeWorkgroup, BQ, HD> qa;
    coopMatLoadNV (qa, SM, 0u, S4, false);
#endif
    fcoopmatNV<16, gl_ScopeWorkgroup, HD, BK> kt;
    coopMatLoadNV (kt, SM, KOFF, S4, true);
    fcoopmatNV<32, gl_ScopeWorkgroup, BQ, BK> s = fcoopmatNV<32, gl_ScopeWorkgroup, BQ, BK> (0.0);
    s = coopMatMulAddNV (qa, kt, s);

    /* scores in log2 units; keys past Lk are -inf */
#ifdef CAUSAL
    bool edge = kb + BK > p.Lk || kb + BK - 1u > q0;
#else
    bool edge = kb + BK > p.Lk;
#endif
    float bm[NRG];
    [[unroll]] for (uint k = 0u; k < NRG; k++)
      bm[k] = NEG_INF;
#ifdef MASK
    vec2 mv = vec2 (0.0);
#endif
    [[unroll]] for (uint i = 0u; i < NCS; i++) {
      float x = s[i] * sl2;
#ifdef CAUSAL
      uint key = kb + col0 + 8u * ((i % (CWS / 4u)) / 2u) + (i % 2u);
      if (edge && (key >= p.Lk || key > q0 + row0 + 8u * (i / (CWS / 4u))))
        x = NEG_INF;
#else
      if (edge && kb + col0 + 8u * ((i % (CWS / 4u)) / 2u) + (i % 2u) >= p.Lk)
        x = NEG_INF;
#endif
#ifdef MASK
      /* the component pair's mask values from the staged tile */
      if (i % 2u == 0u) {
        uint row = CROW (i), col = CCOL (i);
        mv = attn_mask_pair (SM[POFF + row * PS4 + col / 8u][(col % 8u) / 2u]) * LOG2E;
      }
      x += i % 2u == 0u ? mv.x : mv.y;
#endif
      s[i] = x;
      bm[i / (CWS / 4u)] = max (bm[i / (CWS / 4u)], x);
    }
    [[unroll]] for (uint k = 0u; k < NRG; k++) {
      bm[k] = max (bm[k], subgroupShuffleXor (bm[k], 1u));
      bm[k] = max (bm[k], subgroupShuffleXor (bm[k], 2u));
    }
    if (lane % 4u == 0u) {
      [[unroll]] for (uint k = 0u; k < NRG; k++)
        RED[cg * BQ + row0 + 8u * k] = bm[k];
    }
    barrier ();
    float u[NRG], a[NRG];
    [[unroll]] for (uint k = 0u; k < NRG; k++) {
      uint row = row0 + 8u * k;
      float n = m[k];
      [[unroll]] for (uint g = 0u; g < WN; g++)
        n = max (n, RED[g * BQ + row]);
      /* a row with no finite score yet keeps exponent base 0 (all terms 0) */
      u[k] = n == NEG_INF ? 0.0 : n;
      a[k] = exp2 (m[k] - u[k]);
      l[k] *= a[k];
      m[k] = n;
    }
    [[unroll]] for (uint i = 0u; i < NCS; i++) {
      float e = exp2 (s[i] - u[i / (CWS / 4u)]);
      s[i] = e;
      l[i / (CWS / 4u)] += e;
    }
    [[unroll]] for (uint i = 0u; i < NCO; i++)
      o[i] *= a[i / (CWO / 4u)];
#ifdef PSMEM
    /* P through shared memory (Q's space: Q is in registers), each
     * invocation's component pairs as 16-bit pairs, then loaded as A */
    [[unroll]] for (uint i = 0u; i < NCS; i += 2u) {
      uint row = CROW (i), col = CCOL (i);
      SM[POFF + row * PS4 + col / 8u][(col % 8u) / 2u] = packFloat2x16 (f16vec2 (s[i], s[i + 1u]));
    }
    barrier ();
    fcoopmatNV<16, gl_ScopeWorkgroup, BQ, BK> pa;
    coopMatLoadNV (pa, SM, POFF, PS4, false);
#else
    fcoopmatNV<16, gl_ScopeWorkgroup, BQ, BK> pa = fcoopmatNV<16, gl_ScopeWorkgroup, BQ, BK> (s);
#endif
    fcoopmatNV<16, gl_ScopeWorkgroup, BK, HD> vb;
    coopMatLoadNV (vb, SM, VOFF, S4, false);
    o = coopMatMulAddNV (pa, vb, o);
  }

  /* row sums: the quad, then the 4 column groups */
  [[unroll]] for (uint k = 0u; k < NRG; k++) {
    l[k] += subgroupShuffleXor (l[k], 1u);
    l[k] += subgroupShuffleXor (l[k], 2u);
  }
  barrier ();                   /* the last block's statistics are read */
  if (lane % 4u == 0u) {
    [[unroll]] for (uint k = 0u; k < NRG; k++)
      RED[cg * BQ + row0 + 8u * k] = l[k];
  }
  barrier ();
  float inv[NRG];
  [[unroll]] for (uint k = 0u; k < NRG; k++) {
    uint row = row0 + 8u * k;
    float sum = 0.0;
    [[unroll]] for (uint g = 0u; g < WN; g++)
      sum += RED[g * BQ + row];
    inv[k] = sum > 0.0 ? 1.0 / sum : 0.0;
#ifndef DIV
    if (cg == 0u && lane % 4u == 0u && q0 + row < p.Lq) {
      const float LN2 = 0.6931471805599453;
      lse[p.l_off + bh * p.Lq + q0 + row] = sum > 0.0 ? m[k] * LN2 + log (sum) : NEG_INF;
    }
#endif
  }
  [[unroll]] for (uint i = 0u; i < NCO; i++)
    o[i] *= inv[i / (CWO / 4u)];
  fcoopmatNV<16, gl_ScopeWorkgroup, BQ, HD> oh = fcoopmatNV<16, gl_ScopeWorkgroup, BQ, HD> (o);
  coopMatStoreNV (oh, SM, 0u, S4, false);   /* Q is no longer read */
  barrier ();
  [[unroll]] for (uint t = 0u; t < NQ; t++) {
    uint e = tid + t * NT;
    uint r = e / R4, s = e % R4;
    if (q0 + r < p.Lq)
      o4[OROW (q0 + r) + s] = SM[r * S4 + s];
  }
}
