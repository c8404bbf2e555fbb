#version 450
/* Divided space-time attention (TimeSformer / Motionformer) for inference,
 * straight from the packed qkv projection [B, N, 3*D] (N = 1 + F*Pn tokens: a
 * CLS token, then F frames of Pn patches; D = H*dh) into the merged-heads
 * output [B, N, D], so no permutes or concatenations are needed around it.
 * Patch token (f, p) attends to the CLS key and, in time mode, to the tokens
 * of patch p in every frame, in space mode to the patches of frame f.
 * Default: one thread per (b, patch token, head), online softmax in registers.
 * CLS=1: the CLS rows, which attend to all N tokens: one workgroup of 32 per
 * (b, head), keys dealt out among the threads, partial results merged in
 * shared memory. RD (32, 64, 128) bounds dh. */
#include "ss-common.glsl"
#define NT 32u
#ifdef CLS
layout (local_size_x = 32) in;
#else
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

#ifdef CLS
shared float sm[NT], sl[NT];
shared float sacc[NT][RD];
#endif

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
  uint rows = p.B * (p.N - 1u) * p.H;
  if (idx >= rows)
    return;
  uint h = idx % p.H;
  uint bn = idx / p.H;
  uint b = bn / (p.N - 1u), n = 1u + bn % (p.N - 1u);
  uint f = (n - 1u) / p.Pn, pp = (n - 1u) % p.Pn;
#endif
  uint row3 = 3u * p.D;
  uint base = p.qkv_off + b * p.N * row3 + h * p.dh;
  float qr[RD], acc[RD];
  for (uint c = 0u; c < RD; c++) {
    qr[c] = c < p.dh ? SS_LOAD (qkv[base + n * row3 + c]) * p.scale : 0.0;
    acc[c] = 0.0;
  }
  float m = -1.0 / 0.0, l = 0.0;
#ifdef CLS
  for (uint kn = t; kn < p.N; kn += NT) {
#else
  uint nk = 1u + (p.time_mode != 0u ? p.F : p.Pn);
  for (uint j = 0u; j < nk; j++) {
    uint kn = j == 0u ? 0u : (p.time_mode != 0u ? 1u + (j - 1u) * p.Pn + pp : 1u + f * p.Pn + (j - 1u));
#endif
    uint kb = base + kn * row3 + p.D;
    float s = 0.0;
    for (uint c = 0u; c < RD; c++)
      if (c < p.dh)
        s += qr[c] * SS_LOAD (qkv[kb + c]);
    float mn = max (m, s);
    float alpha = exp (m - mn);
    float w = exp (s - mn);
    l = l * alpha + w;
    for (uint c = 0u; c < RD; c++)
      if (c < p.dh)
        acc[c] = acc[c] * alpha + w * SS_LOAD (qkv[kb + p.D + c]);
    m = mn;
  }
  uint obase = p.o_off + (b * p.N + n) * p.D + h * p.dh;
#ifdef CLS
  sm[t] = m;
  sl[t] = l;
  for (uint c = 0u; c < RD; c++)
    sacc[t][c] = acc[c];
  barrier ();
  float M = -1.0 / 0.0;
  for (uint u = 0u; u < NT; u++)
    M = max (M, sm[u]);
  float L = 0.0;
  for (uint u = 0u; u < NT; u++)
    L += sm[u] == -1.0 / 0.0 ? 0.0 : sl[u] * exp (sm[u] - M);
  float inv = L > 0.0 ? 1.0 / L : 0.0;
  for (uint c = t; c < p.dh; c += NT) {
    float s = 0.0;
    for (uint u = 0u; u < NT; u++)
      if (sm[u] != -1.0 / 0.0)
        s += sacc[u][c] * exp (sm[u] - M);
    o[obase + c] = SS_STORE (s * inv);
  }
#else
  float inv = l > 0.0 ? 1.0 / l : 0.0;
  for (uint c = 0u; c < RD; c++)
    if (c < p.dh)
      o[obase + c] = SS_STORE (acc[c] * inv);
#endif
}
