#version 450
/* Sums (OP 0) and means (OP 1) of contiguous rows: x (outer rows of n) ->
 * y[outer]. Each row is split into chunks of chunk_len elements (chunks == 1:
 * the whole row) and each chunk (a "segment") is summed by 2^tpr_log2
 * neighbouring threads of one workgroup (several segments per workgroup when
 * they are short).
 * MODE 0: segment sums; with chunks == 1 the result goes to y, else the fp32
 *   partial sums go to part[] (as bits) and MODE 1 adds them per row (one
 *   workgroup per row).
 * LAST (MODE 0, chunked rows, one segment per workgroup): no MODE 1 pass; each
 *   workgroup counts its row's finished chunks in count[] (zero before the
 *   dispatch), and the workgroup that finishes a row's last chunk adds the
 *   row's partial sums and sets its count back to 0.
 * VEC: rows (and chunks) start at whole 16-byte units (4 elements of f32, 8 of
 * a 16-bit dtype): loads of 16 bytes, UPT per thread and loop iteration all
 * issued before the sums (the tail of fewer than a unit element by element);
 * else element by element, UPT per iteration. fp32 accumulation. */
#include "ss-common.glsl"
#define OPS_WG 256
#include "ops/ops-common.glsl"
#extension GL_KHR_shader_subgroup_shuffle : require
layout (local_size_x = OPS_WG) in;
layout (constant_id = 0) const uint OP = 0;
layout (constant_id = 1) const uint MODE = 0;
layout (constant_id = 2) const uint VEC = 0;
layout (constant_id = 3) const uint LAST = 0;

layout (binding = 0) readonly buffer X { SS_T x[]; };
layout (binding = 0) readonly buffer X16 { uvec4 x16[]; };
layout (binding = 1) writeonly buffer Y { SS_T y[]; };
layout (binding = 2) coherent buffer Part { uint part[]; };
layout (binding = 3) coherent buffer Count { uint count[]; };   /* LAST */
shared uint last_chunk;
layout (push_constant) uniform P { uint outer, n, x_off, y_off, chunks, chunk_len, tpr_log2; } p;

#if defined(SS_DTYPE_F32)
#define UE 4u
float unit_sum (uvec4 u)
{
  vec4 v = ss_load4 (u);
  return (v.x + v.y) + (v.z + v.w);
}
#else
#define UE 8u
float unit_sum (uvec4 u)
{
  vec4 v = ss_load4 (u.xy) + ss_load4 (u.zw);
  return (v.x + v.y) + (v.z + v.w);
}
#endif

#define UPT 8u

void main ()
{
  uint lid = gl_LocalInvocationID.x;
  if (MODE == 1) {
    uint o = ss_linear_group ();
    if (o >= p.outer)
      return;
    float s = 0.0;
    for (uint i = lid; i < p.chunks; i += OPS_WG)
      s += uintBitsToFloat (part[o * p.chunks + i]);
    s = ops_wg_sum (s);
    if (lid == 0)
      y[p.y_off + o] = SS_STORE (OP == 1 ? s / float (p.n) : s);
    return;
  }
  uint tpr = 1u << p.tpr_log2, t = lid & (tpr - 1u);
  /* no early return: every thread takes part in the barriers below */
  uint seg = ss_linear_group () * (OPS_WG >> p.tpr_log2) + (lid >> p.tpr_log2);
  bool valid = seg < p.outer * p.chunks;
  float s = 0.0;
  if (valid) {
    uint o = seg / p.chunks, c = seg - o * p.chunks;
    uint lo = c * p.chunk_len, hi = min (p.n, lo + p.chunk_len);
    uint row = p.x_off + o * p.n;
    if (VEC != 0) {
      uint hiu = lo + (hi - lo) / UE * UE;
      uint u1 = (row + hiu) / UE;
      float acc[UPT];
      for (uint k = 0; k < UPT; k++)
        acc[k] = 0.0;
      for (uint u = (row + lo) / UE + t; u < u1; u += UPT * tpr) {
        uvec4 v[UPT];
        for (uint k = 0; k < UPT; k++)
          v[k] = u + k * tpr < u1 ? x16[u + k * tpr] : uvec4 (0u);   /* zero bits: 0.0 */
        for (uint k = 0; k < UPT; k++)
          acc[k] += unit_sum (v[k]);
      }
      for (uint k = 0; k < UPT; k++)
        s += acc[k];
      for (uint i = hiu + t; i < hi; i += tpr)
        s += SS_LOAD (x[row + i]);
    } else {
      for (uint i = lo + t; i < hi; i += UPT * tpr) {
        float v[UPT];
        for (uint k = 0; k < UPT; k++)
          v[k] = i + k * tpr < hi ? SS_LOAD (x[row + i + k * tpr]) : 0.0;
        for (uint k = 0; k < UPT; k++)
          s += v[k];
      }
    }
  }
  /* sum over the tpr threads of each segment (neighbours in one subgroup, or
   * whole subgroups when tpr is larger: invocation i of a subgroup is thread
   * gl_SubgroupID * gl_SubgroupSize + i of the workgroup) */
  if (tpr <= gl_SubgroupSize) {
    for (uint st = tpr >> 1; st > 0; st >>= 1)
      s += subgroupShuffleXor (s, st);
  } else {
    s = subgroupAdd (s);
    if (subgroupElect ())
      ops_red[gl_SubgroupID] = s;
    barrier ();
    if (t == 0) {
      uint nsub = tpr / gl_SubgroupSize, s0 = lid / gl_SubgroupSize;
      s = 0.0;
      for (uint i = 0; i < nsub; i++)
        s += ops_red[s0 + i];
    }
  }
  if (LAST != 0) {
    /* the partial sum, then the row's count (tpr == OPS_WG: lid 0 holds s) */
    if (lid == 0u) {
      uint last = 0u;
      if (valid) {
        part[seg] = floatBitsToUint (s);
        memoryBarrierBuffer ();
        last = atomicAdd (count[seg / p.chunks], 1u) == p.chunks - 1u ? 1u : 0u;
      }
      last_chunk = last;
    }
    barrier ();
    if (last_chunk == 0u)
      return;
    memoryBarrierBuffer ();
    uint o = seg / p.chunks;
    float r = 0.0;
    for (uint i = lid; i < p.chunks; i += OPS_WG)
      r += uintBitsToFloat (part[o * p.chunks + i]);
    r = ops_wg_sum (r);
    if (lid == 0u) {
      y[p.y_off + o] = SS_STORE (OP == 1 ? r / float (p.n) : r);
      count[o] = 0u;
    }
    return;
  }
  if (!valid || t != 0)
    return;
  if (p.chunks == 1)
    y[p.y_off + seg] = SS_STORE (OP == 1 ? s / float (p.n) : s);
  else
    part[seg] = floatBitsToUint (s);
}
