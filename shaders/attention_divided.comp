#version 450
/* Divided space-time attention (TimeSformer / Motionformer) for inference,
 * straight from the packed qkv projection [B, N, 3*D] (N = 1 + F*Pn tokens: a
 * CLS token, then F frames of Pn patches; D = H*dh) into the merged-heads
 * output [B, N, D], so no permutes or concatenations are needed around it.
 * Patch token (f, p) attends to the CLS key and, in time mode, to the tokens
 * of patch p in every frame, in space mode to the patches of frame f.
 * Default: one thread per (b, patch token, head), the row in registers
 * (attention_row.glsl). CLS=1: the CLS rows, which attend to all N tokens:
 * one workgroup of 32 per (b, head), keys dealt out among the threads, partial
 * rows merged in shared memory. RD (32, 64, 128) bounds dh.
 * LANES=4 ('l4_' variants, devices with subgroup shuffles): 4 invocations per
 * row (attention_row4.glsl); the CLS rows then take 128 invocations, 32 slots
 * of 4 lanes. */
#include "ss-common.glsl"
#ifndef LANES
#define LANES 1
#endif
#if defined(CLS) && LANES > 1
#define ROW_NT 128
layout (local_size_x = 128) in;
#elif defined(CLS)
#define ROW_NT 32
layout (local_size_x = 32) in;
#else
#define ROW_NT 1
layout (local_size_x = 64) in;
#endif

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
#if LANES == 1
#include "attention_row.glsl"
#else
layout (binding = 0) readonly buffer X4b { SS_T4 qkv4[]; };
layout (binding = 1) writeonly buffer O4b { SS_T4 o4[]; };
#define ROW_Q4(i4) ss_load4 (qkv4[i4])
#define ROW_K4(i4) ss_load4 (qkv4[i4])
#define ROW_V4(i4) ss_load4 (qkv4[i4])
#define ROW_VEC ((p.dh | p.D | p.qkv_off) % 4u == 0u)
#define ROW_STORE(i, x) o[i] = SS_STORE (x)
#define ROW_STORE4(i4, v) o4[i4] = ss_store4 (v)
#ifdef CLS
#define ROW4_SLOTS 1
#define ROW4_NT ROW_NT
#endif
#include "attention_row4.glsl"

void main ()
{
#ifdef CLS
  uint idx = ss_linear_group ();
  uint slot = gl_LocalInvocationID.x / LANES, r = gl_LocalInvocationID.x % LANES;
  if (idx >= p.B * p.H)
    return;          /* whole workgroup */
  uint b = idx / p.H, h = idx % p.H, n = 0u;
#else
  uint gt = ss_linear_group () * 64u + gl_LocalInvocationID.x;
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
  row4_begin (base + n * row3, p.dh, p.scale, r);
#ifdef CLS
  for (uint kn = slot; kn < p.N; kn += ROW4_NSLOT)
    row4_key (base + kn * row3 + p.D, base + kn * row3 + 2u * p.D, p.dh, p.dh, 0.0);
#else
  uint nk = 1u + (p.time_mode != 0u ? p.F : p.Pn);
  for (uint j = 0u; j < nk; j++) {
    uint kn = j == 0u ? 0u : (p.time_mode != 0u ? 1u + (j - 1u) * p.Pn + pp : 1u + f * p.Pn + (j - 1u));
    row4_key (base + kn * row3 + p.D, base + kn * row3 + 2u * p.D, p.dh, p.dh, 0.0);
  }
#endif
  uint obase = p.o_off + (b * p.N + n) * p.D + h * p.dh;
#ifdef CLS
  row4_merge_store (slot, obase, p.dh);
#else
  row4_store (obase, p.dh);
#endif
}
#endif

#if LANES == 1
void main ()
{
#ifdef CLS
  uint idx = ss_linear_group ();
  uint t = gl_LocalInvocationID.x;
  if (idx >= p.B * p.H)
    return;          /* whole workgroup */
  uint b = idx / p.H, h = idx % p.H, n = 0u;
#else
  uint idx = ss_linear_group () * 64u + gl_LocalInvocationID.x;
  if (idx >= p.B * (p.N - 1u) * p.H)
    return;
  uint h = idx % p.H;
  uint bn = idx / p.H;
  uint b = bn / (p.N - 1u), n = 1u + bn % (p.N - 1u);
  uint f = (n - 1u) / p.Pn, pp = (n - 1u) % p.Pn;
#endif
  uint row3 = 3u * p.D;
  uint base = p.qkv_off + b * p.N * row3 + h * p.dh;
  row_begin (base + n * row3, p.dh, p.scale);
#ifdef CLS
  for (uint kn = t; kn < p.N; kn += ROW_NT)
    row_key (base + kn * row3 + p.D, base + kn * row3 + 2u * p.D, p.dh, p.dh, 0.0);
#else
  uint nk = 1u + (p.time_mode != 0u ? p.F : p.Pn);
  for (uint j = 0u; j < nk; j++) {
    uint kn = j == 0u ? 0u : (p.time_mode != 0u ? 1u + (j - 1u) * p.Pn + pp : 1u + f * p.Pn + (j - 1u));
    row_key (base + kn * row3 + p.D, base + kn * row3 + 2u * p.D, p.dh, p.dh, 0.0);
  }
#endif
  uint obase = p.o_off + (b * p.N + n) * p.D + h * p.dh;
  float inv;
#ifdef CLS
  row_merge (t);
  inv = row_inv ();
  for (uint c = t; c < p.dh; c += ROW_NT)
    o[obase + c] = SS_STORE (row_merged (c) * inv);
#else
  inv = row_inv ();
  for (uint c = 0u; c < RD; c++)
    if (c < p.dh)
      o[obase + c] = SS_STORE (row_acc[c] * inv);
#endif
}
#endif
