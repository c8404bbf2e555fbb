#version 450
/* Gradient of a binary broadcast op for one operand (WHICH 0: a, 1: b):
 * d[j] = sum over the broadcast (reduced) positions r of dy[o] * d(a op b)/d(operand),
 * o being the output element for target index j and reduced index r.
 * The target has shape tshape (1 on reduced dims), written contiguous.
 * WG_MODE 0: one thread per target element; 1: one workgroup per target element. */
#include "ss-common.glsl"
#define OPS_WG 128
#include "ops/ops-common.glsl"
layout (local_size_x = OPS_WG) in;
layout (constant_id = 0) const uint OP = 0;
layout (constant_id = 1) const uint WHICH = 0;
layout (constant_id = 2) const uint WG_MODE = 0;

layout (binding = 0) readonly buffer A { SS_T a[]; };
layout (binding = 1) readonly buffer B { SS_T b[]; };
layout (binding = 2) readonly buffer DY { SS_T dy[]; };
layout (binding = 3) writeonly buffer D { SS_T d[]; };
layout (push_constant) uniform P {
  uint n, reduce_n, ndim, a_off, b_off, dy_off;
  uint shape[5];     /* output shape */
  uint tshape[5];    /* target shape: shape[d] or 1 */
  uint a_stride[5];
  uint b_stride[5];
} p;

float term (uint j, uint r)
{
  /* output coordinates: kept dims from j, reduced dims from r */
  uint rj = j, rr = r, io = 0, mul = 1, ia = p.a_off, ib = p.b_off;
  for (int dd = int (p.ndim) - 1; dd >= 0; dd--) {
    uint c;
    if (p.tshape[dd] == p.shape[dd]) {
      c = rj % p.tshape[dd];
      rj /= p.tshape[dd];
    } else {
      c = rr % p.shape[dd];
      rr /= p.shape[dd];
    }
    io += c * mul;
    mul *= p.shape[dd];
    ia += c * p.a_stride[dd];
    ib += c * p.b_stride[dd];
  }
  float g = SS_LOAD (dy[p.dy_off + io]);
  float va = SS_LOAD (a[ia]), vb = SS_LOAD (b[ib]);
  switch (OP) {
  case 0: return g;
  case 1: return WHICH == 0 ? g : -g;
  case 2: return WHICH == 0 ? g * vb : g * va;
  default: return WHICH == 0 ? g / vb : -g * va / (vb * vb);
  }
}

void main ()
{
  if (WG_MODE == 0) {
    uint j = ss_linear_group () * OPS_WG + gl_LocalInvocationID.x;
    if (j >= p.n)
      return;
    float s = 0.0;
    for (uint r = 0; r < p.reduce_n; r++)
      s += term (j, r);
    d[j] = SS_STORE (s);
  } else {
    uint j = ss_linear_group ();
    if (j >= p.n)
      return;
    float s = 0.0;
    for (uint r = gl_LocalInvocationID.x; r < p.reduce_n; r += OPS_WG)
      s += term (j, r);
    s = ops_wg_sum (s);
    if (gl_LocalInvocationID.x == 0)
      d[j] = SS_STORE (s);
  }
}
