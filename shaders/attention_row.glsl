/* attention_row.glsl: one query row of attention kept in registers, with an
 * online softmax over the keys it is given (attention_fwd_rows.comp,
 * attention_divided.comp). Before including it, a shader defines RD (the
 * bound on the head sizes: 32, 64 or 128), ROW_NT (threads per row, a plain
 * integer for the preprocessor) and the element loads ROW_Q(i), ROW_K(i),
 * ROW_V(i) (to float; i is an element index into the shader's buffers). With ROW_NT > 1 every thread of a workgroup
 * takes part of the row's keys and row_merge() combines the partial rows
 * through shared memory. A shader that also defines ROW_Q4(i4), ROW_K4(i4) and
 * ROW_V4(i4) (four elements at once, as a vec4; i4 = element index / 4) and
 * ROW_VEC (a uniform condition: head sizes and bases are multiples of 4)
 * gets 4-element loads where ROW_VEC holds. */
#ifndef ATTENTION_ROW_GLSL
#define ATTENTION_ROW_GLSL

float row_q[RD], row_acc[RD];
float row_m, row_l;

/* q = the D elements from qbase, times scale; nothing accumulated yet */
void row_begin (uint qbase, uint D, float scale)
{
#ifdef ROW_K4
  if (ROW_VEC) {
    for (uint c = 0u; c < RD; c += 4u) {
      vec4 x = c < D ? ROW_Q4 ((qbase + c) / 4u) * scale : vec4 (0.0);
      row_q[c] = x.x;
      row_q[c + 1u] = x.y;
      row_q[c + 2u] = x.z;
      row_q[c + 3u] = x.w;
    }
  } else
#endif
  for (uint c = 0u; c < RD; c++)
    row_q[c] = c < D ? ROW_Q (qbase + c) * scale : 0.0;
  for (uint c = 0u; c < RD; c++)
    row_acc[c] = 0.0;
  row_m = -1.0 / 0.0;
  row_l = 0.0;
}

/* one key (D elements from kbase) and its value (Dv elements from vbase);
 * bias is added to the score (a mask: -inf leaves the key out) */
void row_key (uint kbase, uint vbase, uint D, uint Dv, float bias)
{
  float s = 0.0;
#ifdef ROW_K4
  if (ROW_VEC) {
    for (uint c = 0u; c < RD; c += 4u)
      if (c < D)
        s += dot (vec4 (row_q[c], row_q[c + 1u], row_q[c + 2u], row_q[c + 3u]), ROW_K4 ((kbase + c) / 4u));
  } else
#endif
  for (uint c = 0u; c < RD; c++)
    if (c < D)
      s += row_q[c] * ROW_K (kbase + c);
  s += bias;
  if (s == -1.0 / 0.0)
    return;
  float mn = max (row_m, s);
  float alpha = exp (row_m - mn);   /* row_m = -inf at first: exp(-inf) = 0 */
  float w = exp (s - mn);
  row_l = row_l * alpha + w;
#ifdef ROW_K4
  if (ROW_VEC) {
    for (uint c = 0u; c < RD; c += 4u)
      if (c < Dv) {
        vec4 x = ROW_V4 ((vbase + c) / 4u);
        row_acc[c] = row_acc[c] * alpha + w * x.x;
        row_acc[c + 1u] = row_acc[c + 1u] * alpha + w * x.y;
        row_acc[c + 2u] = row_acc[c + 2u] * alpha + w * x.z;
        row_acc[c + 3u] = row_acc[c + 3u] * alpha + w * x.w;
      }
  } else
#endif
  for (uint c = 0u; c < RD; c++)
    if (c < Dv)
      row_acc[c] = row_acc[c] * alpha + w * ROW_V (vbase + c);
  row_m = mn;
}

/* 1 / the softmax sum, 0 when every key was left out */
float row_inv () { return row_l > 0.0 ? 1.0 / row_l : 0.0; }
/* log-sum-exp of the scores (-inf when every key was left out) */
float row_lse () { return row_l > 0.0 ? row_m + log (row_l) : -1.0 / 0.0; }

#if ROW_NT > 1
shared float row_sm[ROW_NT], row_sl[ROW_NT];
shared float row_sacc[ROW_NT][RD];

/* Thread t's partial row into shared memory; afterwards (a barrier) row_m and
 * row_l hold the whole row's maximum and sum, for row_inv() and row_lse(). */
void row_merge (uint t)
{
  row_sm[t] = row_m;
  row_sl[t] = row_l;
  for (uint c = 0u; c < RD; c++)
    row_sacc[t][c] = row_acc[c];
  barrier ();
  float M = -1.0 / 0.0;
  for (uint u = 0u; u < ROW_NT; u++)
    M = max (M, row_sm[u]);
  float L = 0.0;
  for (uint u = 0u; u < ROW_NT; u++)
    L += row_sm[u] == -1.0 / 0.0 ? 0.0 : row_sl[u] * exp (row_sm[u] - M);
  row_m = M;
  row_l = L;
}

/* output column c of the merged row, before the division by the sum */
float row_merged (uint c)
{
  float s = 0.0;
  for (uint u = 0u; u < ROW_NT; u++)
    if (row_sm[u] != -1.0 / 0.0)
      s += row_sacc[u][c] * exp (row_sm[u] - row_m);
  return s;
}
#endif

#endif
