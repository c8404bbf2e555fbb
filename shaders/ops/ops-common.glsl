/* ops-common.glsl: helpers shared by the shaders/ops kernels.
 * Workgroup reductions use shared memory only (no subgroup ops), so they work
 * with any subgroup size (lavapipe: 8, NVIDIA: 32). Include after declaring
 * layout(local_size_x = OPS_WG). */
#ifndef OPS_COMMON_GLSL
#define OPS_COMMON_GLSL

#ifndef OPS_WG
#define OPS_WG 128
#endif

shared float ops_red[OPS_WG];

float ops_wg_sum (float v)
{
  uint lid = gl_LocalInvocationID.x;
  ops_red[lid] = v;
  barrier ();
  for (uint s = OPS_WG / 2; s > 0; s >>= 1) {
    if (lid < s)
      ops_red[lid] += ops_red[lid + s];
    barrier ();
  }
  float r = ops_red[0];
  barrier ();
  return r;
}

float ops_wg_max (float v)
{
  uint lid = gl_LocalInvocationID.x;
  ops_red[lid] = v;
  barrier ();
  for (uint s = OPS_WG / 2; s > 0; s >>= 1) {
    if (lid < s)
      ops_red[lid] = max (ops_red[lid], ops_red[lid + s]);
    barrier ();
  }
  float r = ops_red[0];
  barrier ();
  return r;
}

/* erf, Abramowitz & Stegun 7.1.26 refined: |error| < 1.5e-7 */
float ops_erf (float x)
{
  float s = sign (x), a = abs (x);
  float t = 1.0 / (1.0 + 0.3275911 * a);
  float y = 1.0 - (((((1.061405429 * t - 1.453152027) * t) + 1.421413741) * t
                   - 0.284496736) * t + 0.254829592) * t * exp (-a * a);
  return s * y;
}

/* tanh without overflow for large |x| */
float ops_tanh (float x)
{
  float a = min (abs (x), 15.0);
  float e = exp (-2.0 * a);
  return sign (x) * (1.0 - e) / (1.0 + e);
}

float ops_sigmoid (float x)
{
  /* exp of a negative number only */
  if (x >= 0.0)
    return 1.0 / (1.0 + exp (-x));
  float e = exp (x);
  return e / (1.0 + e);
}

#endif
