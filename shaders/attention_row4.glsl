/* attention_row4.glsl: one query row of attention held by LANES (4)
 * neighbouring invocations of a subgroup, each with RDL = RD / LANES of the
 * query and output elements (in units of 4 interleaved over the lanes when
 * ROW_VEC holds, so that the lanes read a key or value row together; single
 * elements interleaved otherwise), with an online softmax over the keys it is
 * given; the partial dot products are summed by subgroup shuffles, so the
 * lanes of a row must call row4_key together. Used by attention_fwd_rows.comp
 * and attention_divided.comp ('l4_' variants).
 *
 * Before including it, a shader defines RD, LANES, the loads ROW_Q(i),
 * ROW_K(i), ROW_V(i) (element index, to float) and ROW_Q4(i4), ROW_K4(i4),
 * ROW_V4(i4) (four elements, i4 = element index / 4), ROW_VEC (a uniform
 * condition: head sizes and bases are multiples of 4) and the stores
 * ROW_STORE(i, x) and ROW_STORE4(i4, v). With ROW4_SLOTS (a workgroup of
 * ROW4_NT invocations per row, the keys dealt out to ROW4_NT / LANES slots),
 * row4_merge_store() merges the slots' partial rows in shared memory. */
#ifndef ATTENTION_ROW4_GLSL
#define ATTENTION_ROW4_GLSL
#extension GL_KHR_shader_subgroup_shuffle : require

#define RDL (RD / LANES)

float r4_q[RDL], r4_acc[RDL];
float r4_m, r4_l;
uint r4_r;
bool r4_vec;

/* element j (0 .. RDL - 1) of lane r */
uint row4_elem (uint j, uint r, bool vec)
{
  return vec ? 4u * ((j / 4u) * LANES + r) + j % 4u : j * LANES + r;
}

/* this lane (r) of the row: the query's D elements from qbase, times scale */
void row4_begin (uint qbase, uint D, float scale, uint r)
{
  r4_r = r;
  r4_vec = ROW_VEC;
  if (r4_vec) {
    for (uint j = 0u; j < RDL; j += 4u) {
      uint e = row4_elem (j, r, true);
      vec4 x = e < D ? ROW_Q4 ((qbase + e) / 4u) * scale : vec4 (0.0);
      r4_q[j] = x.x;
      r4_q[j + 1u] = x.y;
      r4_q[j + 2u] = x.z;
      r4_q[j + 3u] = x.w;
    }
  } else {
    for (uint j = 0u; j < RDL; j++) {
      uint e = row4_elem (j, r, false);
      r4_q[j] = e < D ? ROW_Q (qbase + e) * scale : 0.0;
    }
  }
  for (uint j = 0u; j < RDL; j++)
    r4_acc[j] = 0.0;
  r4_m = -1.0 / 0.0;
  r4_l = 0.0;
}

/* one key (D elements from kbase) and its value (Dv from vbase); bias is
 * added to the score (-inf leaves the key out) */
void row4_key (uint kbase, uint vbase, uint D, uint Dv, float bias)
{
  float s = 0.0;
  if (r4_vec) {
    for (uint j = 0u; j < RDL; j += 4u) {
      uint e = row4_elem (j, r4_r, true);
      if (e < D)
        s += dot (vec4 (r4_q[j], r4_q[j + 1u], r4_q[j + 2u], r4_q[j + 3u]), ROW_K4 ((kbase + e) / 4u));
    }
  } else {
    for (uint j = 0u; j < RDL; j++) {
      uint e = row4_elem (j, r4_r, false);
      if (e < D)
        s += r4_q[j] * ROW_K (kbase + e);
    }
  }
  s += subgroupShuffleXor (s, 1u);
  s += subgroupShuffleXor (s, 2u);
  s += bias;
  if (s == -1.0 / 0.0)
    return;
  float mn = max (r4_m, s);
  float alpha = exp (r4_m - mn);   /* r4_m = -inf at first: exp(-inf) = 0 */
  float w = exp (s - mn);
  r4_l = r4_l * alpha + w;
  r4_m = mn;
  if (r4_vec) {
    for (uint j = 0u; j < RDL; j += 4u) {
      uint e = row4_elem (j, r4_r, true);
      if (e < Dv) {
        vec4 x = ROW_V4 ((vbase + e) / 4u);
        r4_acc[j] = r4_acc[j] * alpha + w * x.x;
        r4_acc[j + 1u] = r4_acc[j + 1u] * alpha + w * x.y;
        r4_acc[j + 2u] = r4_acc[j + 2u] * alpha + w * x.z;
        r4_acc[j + 3u] = r4_acc[j + 3u] * alpha + w * x.w;
      }
    }
  } else {
    for (uint j = 0u; j < RDL; j++) {
      uint e = row4_elem (j, r4_r, false);
      if (e < Dv)
        r4_acc[j] = r4_acc[j] * alpha + w * ROW_V (vbase + e);
    }
  }
}

/* log-sum-exp of the scores (-inf when every key was left out) */
float row4_lse () { return r4_l > 0.0 ? r4_m + log (r4_l) : -1.0 / 0.0; }

/* this lane's part of the output row (Dv elements from obase) */
void row4_store (uint obase, uint Dv)
{
  float inv = r4_l > 0.0 ? 1.0 / r4_l : 0.0;
  if (r4_vec && obase % 4u == 0u) {
    for (uint j = 0u; j < RDL; j += 4u) {
      uint e = row4_elem (j, r4_r, true);
      if (e < Dv)
        ROW_STORE4 ((obase + e) / 4u, vec4 (r4_acc[j], r4_acc[j + 1u], r4_acc[j + 2u], r4_acc[j + 3u]) * inv);
    }
  } else {
    for (uint j = 0u; j < RDL; j++) {
      uint e = row4_elem (j, r4_r, r4_vec);
      if (e < Dv)
        ROW_STORE (obase + e, r4_acc[j] * inv);
    }
  }
}

#ifdef ROW4_SLOTS
#define ROW4_NSLOT (ROW4_NT / LANES)
shared float r4_slot_m[ROW4_NSLOT], r4_slot_l[ROW4_NSLOT];
shared float r4_slot_acc[ROW4_NSLOT][RD];

/* Merges the slots' partial rows (slot = invocation / LANES; every
 * invocation of the workgroup calls it: a barrier) and stores the output row
 * (Dv elements from obase); returns the row's log-sum-exp. */
float row4_merge_store (uint slot, uint obase, uint Dv)
{
  uint t = gl_LocalInvocationID.x;
  if (r4_r == 0u) {
    r4_slot_m[slot] = r4_m;
    r4_slot_l[slot] = r4_l;
  }
  for (uint j = 0u; j < RDL; j++)
    r4_slot_acc[slot][row4_elem (j, r4_r, r4_vec)] = r4_acc[j];
  barrier ();
  float M = -1.0 / 0.0;
  for (uint u = 0u; u < ROW4_NSLOT; u++)
    M = max (M, r4_slot_m[u]);
  float L = 0.0;
  for (uint u = 0u; u < ROW4_NSLOT; u++)
    L += r4_slot_m[u] == -1.0 / 0.0 ? 0.0 : r4_slot_l[u] * exp (r4_slot_m[u] - M);
  float inv = L > 0.0 ? 1.0 / L : 0.0;
  for (uint c = t; c < Dv; c += ROW4_NT) {
    float sum = 0.0;
    for (uint u = 0u; u < ROW4_NSLOT; u++)
      if (r4_slot_m[u] != -1.0 / 0.0)
        sum += r4_slot_acc[u][c] * exp (r4_slot_m[u] - M);
    ROW_STORE (obase + c, sum * inv);
  }
  return L > 0.0 ? M + log (L) : -1.0 / 0.0;
}
#endif

#endif
