#version 450
/* Cross-entropy with logits [rows, classes], int32 targets, ignore_index and
 * label smoothing; mean over the rows that are not ignored.
 * STAGE 0: one workgroup per row: work[3r] = loss, work[3r+1] = valid (0/1),
 *          work[3r+2] = log-sum-exp.
 * STAGE 1: one workgroup: loss = sum / count (0 when count is 0), work[3 rows] = count.
 * STAGE 2: one workgroup per row: dlogits = (softmax - q) * dloss / count. */
#include "ss-common.glsl"
#define OPS_WG 128
#include "ops/ops-common.glsl"
layout (local_size_x = OPS_WG) in;
layout (constant_id = 0) const uint STAGE = 0;

layout (binding = 0) readonly buffer X { SS_T x[]; };
layout (binding = 1) readonly buffer T { int tgt[]; };
layout (binding = 2) buffer Wk { float work[]; };
layout (binding = 3) readonly buffer DY { SS_T dy[]; };
layout (binding = 4) writeonly buffer Y { SS_T y[]; };
layout (push_constant) uniform P {
  uint rows, classes, x_off, dy_off, y_off;
  int ignore_index;
  float smoothing;
} p;

void main ()
{
  uint lid = gl_LocalInvocationID.x;
  if (STAGE == 1) {
    float s = 0.0, c = 0.0;
    for (uint r = lid; r < p.rows; r += OPS_WG) {
      s += work[3 * r];
      c += work[3 * r + 1];
    }
    s = ops_wg_sum (s);
    c = ops_wg_sum (c);
    if (lid == 0) {
      y[p.y_off] = SS_STORE (c > 0.0 ? s / c : 0.0);
      work[3 * p.rows] = c;
    }
    return;
  }
  uint r = ss_linear_group ();
  if (r >= p.rows)
    return;
  int t = tgt[r];
  bool valid = t != p.ignore_index;
  uint base = p.x_off + r * p.classes;
  if (STAGE == 0) {
    if (!valid) {
      if (lid == 0) {
        work[3 * r] = 0.0;
        work[3 * r + 1] = 0.0;
        work[3 * r + 2] = 0.0;
      }
      return;
    }
    float mx = -1.0 / 0.0, sx = 0.0;
    for (uint c = lid; c < p.classes; c += OPS_WG) {
      float v = SS_LOAD (x[base + c]);
      mx = max (mx, v);
      sx += v;
    }
    mx = ops_wg_max (mx);
    sx = ops_wg_sum (sx);
    float se = 0.0;
    for (uint c = lid; c < p.classes; c += OPS_WG)
      se += exp (SS_LOAD (x[base + c]) - mx);
    se = ops_wg_sum (se);
    if (lid == 0) {
      float lse = mx + log (se);
      float xt = SS_LOAD (x[base + uint (t)]);
      work[3 * r] = lse - (1.0 - p.smoothing) * xt - p.smoothing * sx / float (p.classes);
      work[3 * r + 1] = 1.0;
      work[3 * r + 2] = lse;
    }
  } else {
    float count = work[3 * p.rows];
    float k = valid && count > 0.0 ? SS_LOAD (dy[p.dy_off]) / count : 0.0;
    float lse = work[3 * r + 2];
    for (uint c = lid; c < p.classes; c += OPS_WG) {
      float q = p.smoothing / float (p.classes) + (int (c) == t ? 1.0 - p.smoothing : 0.0);
      float g = valid ? (exp (SS_LOAD (x[base + c]) - lse) - q) * k : 0.0;
      y[p.y_off + r * p.classes + c] = SS_STORE (g);
    }
  }
}
