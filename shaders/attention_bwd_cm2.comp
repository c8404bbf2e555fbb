#version 450
/* Attention backward, dK and dV (or with DQ, dQ), on workgroup-scope cooperative matrices
 * (VK_NV_cooperative_matrix2; written against GL_NV_cooperative_matrix and
 * rewritten to the KHR form at build time like matmul_cm2): fp16 q/k/v/dO/dK/dV
 * (bf16 in the bf16 forms), fp32 scores and accumulation, head size 64,
 * non-causal, with an additive mask in the MASK build (the host sends the
 * other cases to attention_bwd_coop.comp or attention_bwd_reg.comp).
 * DQ (attention_bwd_cm2.dq64): a workgroup owns 64 queries (Q and dO staged
 * once) and walks the keys in blocks of 64 (K and V staged):
 *   S = Q K^T,  P = exp(scale S - lse),  dP = dO V^T,  dS = P * (dP - dsum),
 *   dQ += scale dS K; lse and dsum are per row here.
 *
 * A workgroup of 256 invocations owns BK = 64 keys (K and V staged once in
 * shared memory) and walks the queries in blocks of BQ = 64 (Q and dO staged
 * with register prefetch), each step four 64 x 64 x 64 workgroup
 * multiply-adds:
 *   S^T = K Q^T,  P^T = exp(scale S^T - lse[q]),  dV += P^T dO,
 *   dP^T = V dO^T,  dS^T = P^T * (dP^T - dsum[q]),  dK += scale dS^T Q.
 * Every operand is a 64 x 64 fp16 matrix: the rewriter gives the A and B
 * variables their own types (gen/spv-nv-to-khr.py), so the A operands (fa,
 * pa, sa) and the B operands (fb) must stay in separate variables.
 * P^T and dS^T are computed on the accumulator components through the layout
 * the host probed (coopmat_probe_wg.k64w8, checked like attention_fwd_cm2's:
 * 2 row halves of 4 column groups; lane l's component i is row
 * 32 (w / 4) + 8 (i / 4) + l / 4, column 16 (w % 4) + 8 ((i % 4) / 2) +
 * 2 (l % 4) + i % 2), then made A operands (PSMEM above).
 * Any Lq, Lk: rows past the ends are zero-filled and contribute nothing;
 * offsets multiples of 8.
 * MASK (the dkv64m / dq64m variants): P is recomputed with the forward's
 * additive 16-bit mask (element (b, h, i, j) at m_off + b m_bs + h m_hs +
 * i m_rs + j) added to each scaled score. Each block's 64 x 64 mask tile
 * (rows: queries) is loaded a block ahead with the block's operands into
 * registers (attention_mask.glsl) and staged in shared memory that is free
 * at that point (MOFF): the driver keeps 8 of the workgroup's 48 KiB, and a
 * tile of its own (46 KiB in all) lost the device. */
#extension GL_NV_cooperative_matrix : require
#extension GL_KHR_memory_scope_semantics : require
#extension GL_EXT_shader_explicit_arithmetic_types_float16 : require
#extension GL_EXT_shader_16bit_storage : require
#extension GL_EXT_control_flow_attributes : require
#include "attention_common.glsl"

/* P^T and dS^T (dQ: dS) into A operands through shared memory (PSMEM), in
 * the space of the operands staged once, which then stay in registers,
 * instead of the driver's accumulator -> A conversion (as in
 * attention_fwd_cm2.comp; docs/PERFORMANCE-engine.md, ninth session).
 * XCONV: the conversion. */
#ifndef XCONV
#define PSMEM 1
#endif
#define HD 64
#define NT 256
#define BK 64
#define BQ 64
#define R4 (HD / 8)            /* uvec4 per row */
#define S4 (R4 + 1)            /* padded row stride in shared memory */
#define NL (BQ * R4 / NT)      /* uvec4 per thread: a Q or dO block */
#define NC (BK * BQ / NT)      /* components per invocation */
#define POS_INF (1.0 / 0.0)
#define NEG_INF (-1.0 / 0.0)
#define LOG2E 1.4426950408889634

layout (local_size_x = NT) in;

layout (binding = 0) readonly buffer Qb { uvec4 q4[]; };
layout (binding = 1) readonly buffer Kb { uvec4 k4[]; };
layout (binding = 2) readonly buffer Vb { uvec4 v4[]; };
layout (binding = 3) readonly buffer Mb4 { uvec4 mask4[]; };   /* the mask, 8 elements a unit */
layout (binding = 4) readonly buffer DOb { uvec4 do4[]; };
layout (binding = 5) readonly buffer Lb { float lse[]; };   /* lse at l_off, dsum at g_off */
#ifndef DQ
layout (binding = 6) writeonly buffer DKb { uvec4 dk4[]; };
layout (binding = 7) writeonly buffer DVb { uvec4 dv4[]; };
#else
layout (binding = 6) writeonly buffer DQb { uvec4 dq4[]; };
#endif

#ifdef MASK
#include "attention_mask.glsl"
#endif

/* K, V (BK rows each), then Q and dO (BQ rows each) */
#define KOFF 0u
#define VOFF (BK * S4)
#define QOFF (2u * BK * S4)
#define DOFF (QOFF + BQ * S4)
shared uvec4 SH[DOFF + BQ * S4];
#ifdef MASK
#ifndef PSMEM
#error "the mask tile is staged in space that PSMEM frees"
#endif
/* the block's mask tile (BQ rows of BK keys): dK/dV where K was (its P^T
 * is written after a barrier), dQ where dO was */
#ifndef DQ
#define MOFF KOFF
#else
#define MOFF DOFF
#endif
#define NM (BQ * BK / 8u / NT)  /* uvec4 per thread: a mask tile */
/* (the tile's loads, ATTN_MASK_TILE_LOAD, behind a branch as in the forward
 * ran 1.1x slower, eng151) */
#endif
shared float Ls[BQ], Gs[BQ];   /* lse (log2 units, +inf: no contribution) and dsum per query */

#ifndef DQ
void main ()
{
  uint tid = gl_LocalInvocationID.x;
  uint warp = tid / 32u, lane = tid % 32u;
  uint half_ = warp / 4u, cg = warp % 4u;
  uint k0 = gl_WorkGroupID.x * BK;
  uint bh = gl_WorkGroupID.y + p.bh0;
  float sl2 = p.scale * LOG2E;
#ifdef MASK
  uint mbase = p.m_off + (bh / p.H) * p.m_bs + (bh % p.H) * p.m_hs;
  uvec4 rm[NM];
#endif
  uint qbase = (p.q_off + bh * p.Lq * HD) / 8u;
  uint kbase = (p.k_off + bh * p.Lk * HD) / 8u;
  uint vbase = (p.v_off + bh * p.Lk * HD) / 8u;
  uint dobase = (p.do_off + bh * p.Lq * HD) / 8u;
  /* this invocation's components: query columns col0 + 8 ((i % 4) / 2) + i % 2 */
  uint col0 = 16u * cg + 2u * (lane % 4u);

  for (uint e = tid; e < BK * R4; e += NT) {
    uint r = e / R4, s = e % R4;
    bool in_ = k0 + r < p.Lk;
    SH[KOFF + r * S4 + s] = in_ ? k4[kbase + (k0 + r) * R4 + s] : uvec4 (0u);
    SH[VOFF + r * S4 + s] = in_ ? v4[vbase + (k0 + r) * R4 + s] : uvec4 (0u);
  }
  uvec4 rq[NL], rd[NL];
#define GLOAD(xb) \
  [[unroll]] for (uint t = 0u; t < NL; t++) { \
    uint e = tid + t * NT; \
    uint r = e / R4, s = e % R4; \
    bool in_ = (xb) + r < p.Lq; \
    rq[t] = in_ ? q4[qbase + ((xb) + r) * R4 + s] : uvec4 (0u); \
    rd[t] = in_ ? do4[dobase + ((xb) + r) * R4 + s] : uvec4 (0u); \
  }
  GLOAD (0u);
#ifdef MASK
  ATTN_MASK_TILE_LOAD (rm, NM, 0u, k0)
#endif

  fcoopmatNV<32, gl_ScopeWorkgroup, BK, HD> dk = fcoopmatNV<32, gl_ScopeWorkgroup, BK, HD> (0.0);
  fcoopmatNV<32, gl_ScopeWorkgroup, BK, HD> dv = fcoopmatNV<32, gl_ScopeWorkgroup, BK, HD> (0.0);
#ifdef PSMEM
  /* K and V in registers; their shared memory then holds P^T and dS^T */
  barrier ();
  fcoopmatNV<16, gl_ScopeWorkgroup, BK, HD> ka, va;
  coopMatLoadNV (ka, SH, KOFF, S4, false);
  coopMatLoadNV (va, SH, VOFF, S4, false);
  uint row0 = 32u * half_ + lane / 4u;
#endif
  for (uint xb = 0u; xb < p.Lq; xb += BQ) {
    barrier ();                 /* the previous block is consumed (and K, V staged) */
    [[unroll]] for (uint t = 0u; t < NL; t++) {
      uint e = tid + t * NT;
      SH[QOFF + (e / R4) * S4 + e % R4] = rq[t];
      SH[DOFF + (e / R4) * S4 + e % R4] = rd[t];
    }
#ifdef MASK
    ATTN_MASK_TILE_STORE (SH, MOFF, S4, rm, NM)
#endif
    if (tid < BQ) {
      float l = POS_INF, g = 0.0;
      if (xb + tid < p.Lq) {
        float x = lse[p.l_off + bh * p.Lq + xb + tid];
        l = x == NEG_INF ? POS_INF : x * LOG2E;
        g = lse[p.g_off + bh * p.Lq + xb + tid];
      }
      Ls[tid] = l;
      Gs[tid] = g;
    }
    if (xb + BQ < p.Lq) {
      GLOAD (xb + BQ);          /* in flight during this block */
#ifdef MASK
      ATTN_MASK_TILE_LOAD (rm, NM, xb + BQ, k0)
#endif
    }
    barrier ();
    fcoopmatNV<16, gl_ScopeWorkgroup, HD, BQ> fb;
    fcoopmatNV<32, gl_ScopeWorkgroup, BK, BQ> st = fcoopmatNV<32, gl_ScopeWorkgroup, BK, BQ> (0.0);
    fcoopmatNV<32, gl_ScopeWorkgroup, BK, BQ> dpt = fcoopmatNV<32, gl_ScopeWorkgroup, BK, BQ> (0.0);
#ifdef PSMEM
    coopMatLoadNV (fb, SH, QOFF, S4, true);            /* Q^T */
    st = coopMatMulAddNV (ka, fb, st);
    coopMatLoadNV (fb, SH, DOFF, S4, true);            /* dO^T */
    dpt = coopMatMulAddNV (va, fb, dpt);
#else
    fcoopmatNV<16, gl_ScopeWorkgroup, BK, HD> fa;
    coopMatLoadNV (fa, SH, KOFF, S4, false);
    coopMatLoadNV (fb, SH, QOFF, S4, true);            /* Q^T */
    st = coopMatMulAddNV (fa, fb, st);
    coopMatLoadNV (fa, SH, VOFF, S4, false);
    coopMatLoadNV (fb, SH, DOFF, S4, true);            /* dO^T */
    dpt = coopMatMulAddNV (fa, fb, dpt);
#endif
    /* P^T and dS^T by component (queries past Lq have lse +inf: 0; keys
     * past Lk only reach rows of dK and dV that are not stored) */
    [[unroll]] for (uint i = 0u; i < NC; i++) {
      uint xc = col0 + 8u * ((i % 4u) / 2u) + i % 2u;
#ifdef MASK
      /* the staged tile's element (query xc, key kl) */
      uint kl = 32u * half_ + lane / 4u + 8u * (i / 4u);
      vec2 m2 = attn_mask_pair (SH[MOFF + xc * S4 + kl / 8u][(kl % 8u) / 2u]);
      float mv = (kl % 2u == 0u ? m2.x : m2.y) * LOG2E;
      float pr = exp2 (st[i] * sl2 + mv - Ls[xc]);
#else
      float pr = exp2 (st[i] * sl2 - Ls[xc]);
#endif
      st[i] = pr;
      dpt[i] = pr * (dpt[i] - Gs[xc]);
    }
#ifdef PSMEM
#ifdef MASK
    barrier ();                 /* the mask tile is read */
#endif
    /* component pairs (adjacent queries) as 16-bit pairs: P^T where K was,
     * dS^T where V was */
    [[unroll]] for (uint i = 0u; i < NC; i += 2u) {
      uint at = (row0 + 8u * (i / 4u)) * S4 + (col0 + 8u * ((i % 4u) / 2u)) / 8u;
      uint w = (col0 % 8u) / 2u;
      SH[KOFF + at][w] = packFloat2x16 (f16vec2 (st[i], st[i + 1u]));
      SH[VOFF + at][w] = packFloat2x16 (f16vec2 (dpt[i], dpt[i + 1u]));
    }
    barrier ();
    fcoopmatNV<16, gl_ScopeWorkgroup, BK, HD> pa, sa;
    coopMatLoadNV (pa, SH, KOFF, S4, false);
    coopMatLoadNV (sa, SH, VOFF, S4, false);
#else
    fcoopmatNV<16, gl_ScopeWorkgroup, BK, HD> pa = fcoopmatNV<16, gl_ScopeWorkgroup, BK, HD> (st);
    fcoopmatNV<16, gl_ScopeWorkgroup, BK, HD> sa = fcoopmatNV<16, gl_ScopeWorkgroup, BK, HD> (dpt);
#endif
    coopMatLoadNV (fb, SH, DOFF, S4, false);           /* dO */
    dv = coopMatMulAddNV (pa, fb, dv);
    coopMatLoadNV (fb, SH, QOFF, S4, false);           /* Q */
    dk = coopMatMulAddNV (sa, fb, dk);
  }

  /* dK (times scale) and dV through shared memory, rows before Lk */
  barrier ();
  coopMatStoreNV (fcoopmatNV<16, gl_ScopeWorkgroup, BK, HD> (dk * p.scale), SH, KOFF, S4, false);
  coopMatStoreNV (fcoopmatNV<16, gl_ScopeWorkgroup, BK, HD> (dv), SH, VOFF, S4, false);
  barrier ();
  uint obase = (bh * p.Lk + k0) * R4;
  for (uint e = tid; e < BK * R4; e += NT) {
    uint r = e / R4, s = e % R4;
    if (k0 + r < p.Lk) {
      dk4[obase + r * R4 + s] = SH[KOFF + r * S4 + s];
      dv4[obase + r * R4 + s] = SH[VOFF + r * S4 + s];
    }
  }
}
#else
/* K, V (the walked blocks), then Q and dO (the owned rows) */
void main ()
{
  uint tid = gl_LocalInvocationID.x;
  uint warp = tid / 32u, lane = tid % 32u;
  uint half_ = warp / 4u;
  uint q0 = gl_WorkGroupID.x * BQ;
  uint bh = gl_WorkGroupID.y + p.bh0;
  float sl2 = p.scale * LOG2E;
#ifdef MASK
  uint mbase = p.m_off + (bh / p.H) * p.m_bs + (bh % p.H) * p.m_hs;
  uvec4 rm[NM];
#endif
  uint qbase = (p.q_off + bh * p.Lq * HD) / 8u;
  uint kbase = (p.k_off + bh * p.Lk * HD) / 8u;
  uint vbase = (p.v_off + bh * p.Lk * HD) / 8u;
  uint dobase = (p.do_off + bh * p.Lq * HD) / 8u;
  /* this invocation's rows (queries): row0 + 8 (i / 4) */
  uint row0 = 32u * half_ + lane / 4u;

  for (uint e = tid; e < BQ * R4; e += NT) {
    uint r = e / R4, s = e % R4;
    bool in_ = q0 + r < p.Lq;
    SH[QOFF + r * S4 + s] = in_ ? q4[qbase + (q0 + r) * R4 + s] : uvec4 (0u);
    SH[DOFF + r * S4 + s] = in_ ? do4[dobase + (q0 + r) * R4 + s] : uvec4 (0u);
  }
  if (tid < BQ) {
    float l = POS_INF, g = 0.0;
    if (q0 + tid < p.Lq) {
      float x = lse[p.l_off + bh * p.Lq + q0 + tid];
      l = x == NEG_INF ? POS_INF : x * LOG2E;
      g = lse[p.g_off + bh * p.Lq + q0 + tid];
    }
    Ls[tid] = l;
    Gs[tid] = g;
  }
  uvec4 rk[NL], rv[NL];
#define GLOADKV(kb) \
  [[unroll]] for (uint t = 0u; t < NL; t++) { \
    uint e = tid + t * NT; \
    uint r = e / R4, s = e % R4; \
    bool in_ = (kb) + r < p.Lk; \
    rk[t] = in_ ? k4[kbase + ((kb) + r) * R4 + s] : uvec4 (0u); \
    rv[t] = in_ ? v4[vbase + ((kb) + r) * R4 + s] : uvec4 (0u); \
  }
  GLOADKV (0u);
#ifdef MASK
  ATTN_MASK_TILE_LOAD (rm, NM, q0, 0u)
#endif
  barrier ();
  /* this invocation's rows' lse and dsum */
  float lr[4], gr[4];
  [[unroll]] for (uint g = 0u; g < 4u; g++) {
    lr[g] = Ls[row0 + 8u * g];
    gr[g] = Gs[row0 + 8u * g];
  }

  fcoopmatNV<32, gl_ScopeWorkgroup, BQ, HD> dq = fcoopmatNV<32, gl_ScopeWorkgroup, BQ, HD> (0.0);
#ifdef PSMEM
  /* Q and dO in registers; Q's shared memory then holds dS */
  fcoopmatNV<16, gl_ScopeWorkgroup, BQ, HD> qa, da;
  coopMatLoadNV (qa, SH, QOFF, S4, false);
  coopMatLoadNV (da, SH, DOFF, S4, false);
#endif
  for (uint kb = 0u; kb < p.Lk; kb += BK) {
    barrier ();                 /* the previous block is consumed */
    [[unroll]] for (uint t = 0u; t < NL; t++) {
      uint e = tid + t * NT;
      SH[KOFF + (e / R4) * S4 + e % R4] = rk[t];
      SH[VOFF + (e / R4) * S4 + e % R4] = rv[t];
    }
#ifdef MASK
    ATTN_MASK_TILE_STORE (SH, MOFF, S4, rm, NM)
#endif
    if (kb + BK < p.Lk) {
      GLOADKV (kb + BK);        /* in flight during this block */
#ifdef MASK
      ATTN_MASK_TILE_LOAD (rm, NM, q0, kb + BK)
#endif
    }
    barrier ();
    fcoopmatNV<16, gl_ScopeWorkgroup, HD, BK> fb;
    fcoopmatNV<32, gl_ScopeWorkgroup, BQ, BK> sc = fcoopmatNV<32, gl_ScopeWorkgroup, BQ, BK> (0.0);
    fcoopmatNV<32, gl_ScopeWorkgroup, BQ, BK> dp = fcoopmatNV<32, gl_ScopeWorkgroup, BQ, BK> (0.0);
#ifdef PSMEM
    coopMatLoadNV (fb, SH, KOFF, S4, true);            /* K^T */
    sc = coopMatMulAddNV (qa, fb, sc);
    coopMatLoadNV (fb, SH, VOFF, S4, true);            /* V^T */
    dp = coopMatMulAddNV (da, fb, dp);
#else
    fcoopmatNV<16, gl_ScopeWorkgroup, BQ, HD> fa;
    coopMatLoadNV (fa, SH, QOFF, S4, false);
    coopMatLoadNV (fb, SH, KOFF, S4, true);            /* K^T */
    sc = coopMatMulAddNV (fa, fb, sc);
    coopMatLoadNV (fa, SH, DOFF, S4, false);
    coopMatLoadNV (fb, SH, VOFF, S4, true);            /* V^T */
    dp = coopMatMulAddNV (fa, fb, dp);
#endif
    /* P and dS by component; keys past Lk give 0 */
    bool edge = kb + BK > p.Lk;
    /* component i's key */
#define KEY(i) (kb + 16u * (warp % 4u) + 2u * (lane % 4u) + 8u * (((i) % 4u) / 2u) + (i) % 2u)
#ifdef MASK
    vec2 mv2 = vec2 (0.0);
#endif
    [[unroll]] for (uint i = 0u; i < NC; i++) {
#ifdef MASK
      /* the staged tile's pair (row0 + 8 (i / 4), keys KEY (i) - kb and the next) */
      if (i % 2u == 0u) {
        uint kl = KEY (i) - kb;
        mv2 = attn_mask_pair (SH[MOFF + (row0 + 8u * (i / 4u)) * S4 + kl / 8u][(kl % 8u) / 2u]) * LOG2E;
      }
      float pr = exp2 (sc[i] * sl2 + (i % 2u == 0u ? mv2.x : mv2.y) - lr[i / 4u]);
#else
      float pr = exp2 (sc[i] * sl2 - lr[i / 4u]);
#endif
      if (edge && KEY (i) >= p.Lk)
        pr = 0.0;
      sc[i] = pr;
      dp[i] = pr * (dp[i] - gr[i / 4u]);
    }
#ifdef PSMEM
    /* component pairs (adjacent keys) as 16-bit pairs where Q was */
    [[unroll]] for (uint i = 0u; i < NC; i += 2u) {
      uint col = 16u * (warp % 4u) + 2u * (lane % 4u) + 8u * ((i % 4u) / 2u);
      SH[QOFF + (row0 + 8u * (i / 4u)) * S4 + col / 8u][(col % 8u) / 2u] = packFloat2x16 (f16vec2 (dp[i], dp[i + 1u]));
    }
    barrier ();
    fcoopmatNV<16, gl_ScopeWorkgroup, BQ, HD> sa;
    coopMatLoadNV (sa, SH, QOFF, S4, false);
#else
    fcoopmatNV<16, gl_ScopeWorkgroup, BQ, HD> sa = fcoopmatNV<16, gl_ScopeWorkgroup, BQ, HD> (dp);
#endif
    coopMatLoadNV (fb, SH, KOFF, S4, false);           /* K */
    dq = coopMatMulAddNV (sa, fb, dq);
  }

  barrier ();
  coopMatStoreNV (fcoopmatNV<16, gl_ScopeWorkgroup, BQ, HD> (dq * p.scale), SH, QOFF, S4, false);
  barrier ();
  uint obase = (bh * p.Lq + q0) * R4;
  for (uint e = tid; e < BQ * R4; e += NT) {
    uint r = e / R4, s = e % R4;
    if (q0 + r < p.Lq)
      dq4[obase + r * R4 + s] = SH[QOFF + r * S4 + s];
  }
}
#endif
