#version 450
/* Divided space-time attention (TimeSformer / Motionformer) for inference,
 * straight from the packed qkv projection [B, N, 3*D] (N = 1 + F*Pn tokens: a
 * CLS token, then F frames of Pn patches; D = H*dh) into the merged-heads
 * output [B, N, D], so no permutes or concatenations are needed around it.
 * Patch token (f, p) attends to the CLS key and, in time mode, to the tokens
 * of patch p in every frame, in space mode to the patches of frame f.
 * Default: LANES invocations (4 on devices with subgroup shuffles, the 'l4_'
 * variants; else 1) per (b, patch token, head), the row in registers
 * (attention_row.glsl). CLS=1: the CLS rows, which attend to all N tokens: one
 * workgroup of 32 LANES per (b, head), 32 slots of LANES taking every 32nd
 * key, partial rows merged in shared memory. RD (32, 64, 128) bounds dh. */
#include "ss-common.glsl"
#ifndef LANES
#define LANES 1
#endif
#ifdef CLS
#define ROW_NT (32 * LANES)
#else
#define ROW_NT 64
#endif
layout (local_size_x = ROW_NT) in;

layout (push_constant) uniform P {
  uint B, N, F, Pn;
  uint H, dh, D, time_mode;
  uint qkv_off, o_off;
  float scale;
} p;

layout (binding = 0) readonly buffer Xb { SS_T qkv[]; };
layout (binding = 1) writeonly buffer Ob { SS_T o[]; };

#define ROW_Q(i) SS_LOAD (qkv[i])
#define ROW_K(i) SS_LOAD (qkv[i])
#define ROW_V(i) SS_LOAD (qkv[i])
layout (binding = 0) readonly buffer X4b { SS_T4 qkv4[]; };
layout (binding = 1) writeonly buffer O4b { SS_T4 o4[]; };
#define ROW_Q4(i4) ss_load4 (qkv4[i4])
#define ROW_K4(i4) ss_load4 (qkv4[i4])
#define ROW_V4(i4) ss_load4 (qkv4[i4])
#define ROW_VEC ((p.dh | p.D | p.qkv_off) % 4u == 0u)
#define ROW_STORE(i, x) o[i] = SS_STORE (x)
#define ROW_STORE4(i4, v) o4[i4] = ss_store4 (v)
#ifdef CLS
#define ROW_SLOTS 1
#define ROW_SLOT_NT ROW_NT
#endif
#include "attention_row.glsl"

void main ()
{
#ifdef CLS
  uint idx = ss_linear_group ();
  uint slot = gl_LocalInvocationID.x / LANES, r = gl_LocalInvocationID.x % LANES;
  if (idx >= p.B * p.H)
    return;          /* whole workgroup */
  uint b = idx / p.H, h = idx % p.H, n = 0u;
#else
  uint gt = ss_linear_group () * ROW_NT + gl_LocalInvocationID.x;
  uint idx = gt / LANES, r = gt % LANES;
  if (idx >= p.B * (p.N - 1u) * p.H)
    return;          /* all LANES lanes of the row */
  uint h = idx % p.H;
  uint bn = idx / p.H;
  uint b = bn / (p.N - 1u), n = 1u + bn % (p.N - 1u);
  uint f = (n - 1u) / p.Pn, pp = (n - 1u) % p.Pn;
#endif
  uint row3 = 3u * p.D;
  uint base = p.qkv_off + b * p.N * row3 + h * p.dh;
  row_begin (base + n * row3, p.dh, p.scale, r);
#ifdef CLS
  for (uint kn = slot; kn < p.N; kn += ROW_NSLOT)
    row_key (base + kn * row3 + p.D, base + kn * row3 + 2u * p.D, p.dh, p.dh, 0.0);
#else
  uint nk = 1u + (p.time_mode != 0u ? p.F : p.Pn);
  for (uint j = 0u; j < nk; j++) {
    uint kn = j == 0u ? 0u : (p.time_mode != 0u ? 1u + (j - 1u) * p.Pn + pp : 1u + f * p.Pn + (j - 1u));
    row_key (base + kn * row3 + p.D, base + kn * row3 + 2u * p.D, p.dh, p.dh, 0.0);
  }
#endif
  uint obase = p.o_off + (b * p.N + n) * p.D + h * p.dh;
#ifdef CLS
  row_merge_store (slot, obase, p.dh);
#else
  row_store (obase, p.dh);
#endif
}

