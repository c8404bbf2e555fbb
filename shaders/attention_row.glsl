/* attention_row.glsl: one query row of attention kept in registers, held by
 * LANES (1 or 4) neighbouring invocations of a subgroup, each with RDL =
 * RD / LANES of the query and output elements (in units of 4 interleaved over
 * the lanes when ROW_VEC holds, so that the lanes read a key or value row
 * together; single elements interleaved otherwise), with an online softmax
 * over the keys it is given. With 4 lanes the partial dot products are summed
 * by subgroup shuffles, so the lanes of a row must call row_key together
 * (4 lanes: a quarter of the registers per thread and 4x the threads; one
 * thread per row held 64-128 floats and left the H100 at a tenth of its
 * bandwidth on the Synchformer's time groups). Used by attention_fwd_rows.comp
 * and attention_divided.comp.
 *
 * Before including it, a shader defines RD (32, 64 or 128), LANES, the loads
 * ROW_Q(i), ROW_K(i), ROW_V(i) (element index, to float) and ROW_Q4(i4),
 * ROW_K4(i4), ROW_V4(i4) (four elements, i4 = element index / 4), ROW_VEC (a
 * uniform condition: head sizes and bases are multiples of 4) and the stores
 * ROW_STORE(i, x) and ROW_STORE4(i4, v). With ROW_SLOTS (a workgroup of
 * ROW_SLOT_NT invocations per row, the keys dealt out to ROW_SLOT_NT / LANES slots),
 * row_merge_store() merges the slots' partial rows in shared memory. */
#ifndef ATTENTION_ROW_GLSL
#define ATTENTION_ROW_GLSL
#if LANES > 1
#extension GL_KHR_shader_subgroup_shuffle : require
#endif

#define RDL (RD / LANES)

float row_q[RDL], row_acc[RDL];
float row_m, row_l;
uint row_r;
bool row_vec;

/* element j (0 .. RDL - 1) of lane r */
uint row_elem (uint j, uint r, bool vec)
{
  return vec ? 4u * ((j / 4u) * LANES + r) + j % 4u : j * LANES + r;
}

/* this lane (r) of the row: the query's D elements from qbase, times scale */
void row_begin (uint qbase, uint D, float scale, uint r)
{
  row_r = r;
  row_vec = ROW_VEC;
  if (row_vec) {
    for (uint j = 0u; j < RDL; j += 4u) {
      uint e = row_elem (j, r, true);
      vec4 x = e < D ? ROW_Q4 ((qbase + e) / 4u) * scale : vec4 (0.0);
      row_q[j] = x.x;
      row_q[j + 1u] = x.y;
      row_q[j + 2u] = x.z;
      row_q[j + 3u] = x.w;
    }
  } else {
    for (uint j = 0u; j < RDL; j++) {
      uint e = row_elem (j, r, false);
      row_q[j] = e < D ? ROW_Q (qbase + e) * scale : 0.0;
    }
  }
  for (uint j = 0u; j < RDL; j++)
    row_acc[j] = 0.0;
  row_m = -1.0 / 0.0;
  row_l = 0.0;
}

/* one key (D elements from kbase) and its value (Dv from vbase); bias is
 * added to the score (-inf leaves the key out) */
void row_key (uint kbase, uint vbase, uint D, uint Dv, float bias)
{
  float s = 0.0;
  if (row_vec) {
    for (uint j = 0u; j < RDL; j += 4u) {
      uint e = row_elem (j, row_r, true);
      if (e < D)
        s += dot (vec4 (row_q[j], row_q[j + 1u], row_q[j + 2u], row_q[j + 3u]), ROW_K4 ((kbase + e) / 4u));
    }
  } else {
    for (uint j = 0u; j < RDL; j++) {
      uint e = row_elem (j, row_r, false);
      if (e < D)
        s += row_q[j] * ROW_K (kbase + e);
    }
  }
#if LANES > 1
  s += subgroupShuffleXor (s, 1u);
  s += subgroupShuffleXor (s, 2u);
#endif
  s += bias;
  if (s == -1.0 / 0.0)
    return;
  float mn = max (row_m, s);
  float alpha = exp (row_m - mn);   /* row_m = -inf at first: exp(-inf) = 0 */
  float w = exp (s - mn);
  row_l = row_l * alpha + w;
  row_m = mn;
  if (row_vec) {
    for (uint j = 0u; j < RDL; j += 4u) {
      uint e = row_elem (j, row_r, true);
      if (e < Dv) {
        vec4 x = ROW_V4 ((vbase + e) / 4u);
        row_acc[j] = row_acc[j] * alpha + w * x.x;
        row_acc[j + 1u] = row_acc[j + 1u] * alpha + w * x.y;
        row_acc[j + 2u] = row_acc[j + 2u] * alpha + w * x.z;
        row_acc[j + 3u] = row_acc[j + 3u] * alpha + w * x.w;
      }
    }
  } else {
    for (uint j = 0u; j < RDL; j++) {
      uint e = row_elem (j, row_r, false);
      if (e < Dv)
        row_acc[j] = row_acc[j] * alpha + w * ROW_V (vbase + e);
    }
  }
}

/* log-sum-exp of the scores (-inf when every key was left out) */
float row_lse () { return row_l > 0.0 ? row_m + log (row_l) : -1.0 / 0.0; }

/* this lane's part of the output row (Dv elements from obase) */
void row_store (uint obase, uint Dv)
{
  float inv = row_l > 0.0 ? 1.0 / row_l : 0.0;
  if (row_vec && obase % 4u == 0u) {
    for (uint j = 0u; j < RDL; j += 4u) {
      uint e = row_elem (j, row_r, true);
      if (e < Dv)
        ROW_STORE4 ((obase + e) / 4u, vec4 (row_acc[j], row_acc[j + 1u], row_acc[j + 2u], row_acc[j + 3u]) * inv);
    }
  } else {
    for (uint j = 0u; j < RDL; j++) {
      uint e = row_elem (j, row_r, row_vec);
      if (e < Dv)
        ROW_STORE (obase + e, row_acc[j] * inv);
    }
  }
}

#ifdef ROW_SLOTS
#define ROW_NSLOT (ROW_SLOT_NT / LANES)
shared float row_slot_m[ROW_NSLOT], row_slot_l[ROW_NSLOT];
shared float row_slot_acc[ROW_NSLOT][RD];

/* Merges the slots' partial rows (slot = invocation / LANES; every
 * invocation of the workgroup calls it: a barrier) and stores the output row
 * (Dv elements from obase); returns the row's log-sum-exp. */
float row_merge_store (uint slot, uint obase, uint Dv)
{
  uint t = gl_LocalInvocationID.x;
  if (row_r == 0u) {
    row_slot_m[slot] = row_m;
    row_slot_l[slot] = row_l;
  }
  for (uint j = 0u; j < RDL; j++)
    row_slot_acc[slot][row_elem (j, row_r, row_vec)] = row_acc[j];
  barrier ();
  float M = -1.0 / 0.0;
  for (uint u = 0u; u < ROW_NSLOT; u++)
    M = max (M, row_slot_m[u]);
  float L = 0.0;
  for (uint u = 0u; u < ROW_NSLOT; u++)
    L += row_slot_m[u] == -1.0 / 0.0 ? 0.0 : row_slot_l[u] * exp (row_slot_m[u] - M);
  float inv = L > 0.0 ? 1.0 / L : 0.0;
  for (uint c = t; c < Dv; c += ROW_SLOT_NT) {
    float sum = 0.0;
    for (uint u = 0u; u < ROW_NSLOT; u++)
      if (row_slot_m[u] != -1.0 / 0.0)
        sum += row_slot_acc[u][c] * exp (row_slot_m[u] - M);
    ROW_STORE (obase + c, sum * inv);
  }
  return L > 0.0 ? M + log (L) : -1.0 / 0.0;
}
#endif

#endif
