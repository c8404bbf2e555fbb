#version 450
/* Binary elementwise op on whole rows in 16-byte units: y (contiguous, rows of
 * cols units) = a op b, where each operand is either full (contiguous like y)
 * or one row broadcast over all rows (ROW_A / ROW_B: read at the column of the
 * unit, e.g. a bias). A unit is 4 elements (f32) or 8 (f16, bf16); offsets and
 * cols are in units. OP: 0 add, 1 sub, 2 mul, 3 div.
 * Thread t of a workgroup handles units g0 + k * 256 (k < UPT): the column is
 * found once (ss_fastdiv) and then steps by 256 mod cols.
 * GROUPED 1: the rows come in groups of rpg rows and a row operand has one row
 * per group (shape [G, 1, C] against [G, R, C]: a modulation per batch item);
 * its unit is found per unit from the row (two ss_fastdiv). */
#include "ss-common.glsl"
layout (local_size_x = 256) in;
layout (constant_id = 0) const uint OP = 0;
layout (constant_id = 1) const uint ROW_A = 0;
layout (constant_id = 2) const uint ROW_B = 0;
layout (constant_id = 3) const uint GROUPED = 0;

layout (binding = 0) readonly buffer A { uvec4 a[]; };
layout (binding = 1) readonly buffer B { uvec4 b[]; };
layout (binding = 2) writeonly buffer Y { uvec4 y[]; };
layout (push_constant) uniform P {
  uint units, cols, step;   /* step: 256 % cols */
  uint magic, shift;        /* ss_fastdiv of cols */
  uint a_off, b_off, y_off;
  uint rpg_magic, rpg_shift;   /* ss_fastdiv of rows per group (GROUPED) */
} p;

/* units per thread, all loads issued before the arithmetic */
#define UPT 4u

vec4 apply4 (vec4 x, vec4 z)
{
  switch (OP) {
  case 0: return x + z;
  case 1: return x - z;
  case 2: return x * z;
  default: return x / z;
  }
}

uvec4 apply_unit (uvec4 x, uvec4 z)
{
#if defined(SS_DTYPE_F32)
  return ss_store4 (apply4 (ss_load4 (x), ss_load4 (z)));
#else
  return uvec4 (ss_store4 (apply4 (ss_load4 (x.xy), ss_load4 (z.xy))),
                ss_store4 (apply4 (ss_load4 (x.zw), ss_load4 (z.zw))));
#endif
}

void main ()
{
  uint g0 = ss_linear_group () * (256u * UPT) + gl_LocalInvocationID.x;
  if (g0 >= p.units)
    return;
  if (GROUPED != 0) {
    uvec4 va[UPT], vb[UPT];
    for (uint k = 0; k < UPT; k++) {
      uint g = g0 + k * 256u;
      va[k] = uvec4 (0u);
      vb[k] = uvec4 (0u);
      if (g < p.units) {
        uint row = ss_fastdiv (g, p.magic, p.shift);
        uint r = ss_fastdiv (row, p.rpg_magic, p.rpg_shift) * p.cols + (g - row * p.cols);
        va[k] = a[p.a_off + (ROW_A != 0 ? r : g)];
        vb[k] = b[p.b_off + (ROW_B != 0 ? r : g)];
      }
    }
    for (uint k = 0; k < UPT; k++) {
      uint g = g0 + k * 256u;
      if (g >= p.units)
        break;
      y[p.y_off + g] = apply_unit (va[k], vb[k]);
    }
    return;
  }
  uint c = 0;
  if (ROW_A != 0 || ROW_B != 0)
    c = g0 - ss_fastdiv (g0, p.magic, p.shift) * p.cols;
  uvec4 va[UPT], vb[UPT];
  for (uint k = 0; k < UPT; k++) {
    uint g = g0 + k * 256u;
    va[k] = uvec4 (0u);
    vb[k] = uvec4 (0u);
    if (g < p.units) {
      /* the row operand's unit is read once where all units of the thread
       * lie in one column (step 0: rows of a divisor of 256 units) */
      va[k] = ROW_A != 0 && k > 0 && p.step == 0 ? va[0] : a[p.a_off + (ROW_A != 0 ? c : g)];
      vb[k] = ROW_B != 0 && k > 0 && p.step == 0 ? vb[0] : b[p.b_off + (ROW_B != 0 ? c : g)];
    }
    c += p.step;
    if (c >= p.cols)
      c -= p.cols;
  }
  for (uint k = 0; k < UPT; k++) {
    uint g = g0 + k * 256u;
    if (g >= p.units)
      break;
    y[p.y_off + g] = apply_unit (va[k], vb[k]);
  }
}
