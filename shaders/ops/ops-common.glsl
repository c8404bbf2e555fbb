/* ops-common.glsl: helpers shared by the shaders/ops kernels.
 * Workgroup reductions (ops_wg_sum / ops_wg_max) reduce each subgroup with
 * subgroup arithmetic, then the gl_NumSubgroups partial results through
 * shared memory: one barrier pair instead of log2(OPS_WG) shared-memory steps
 * (any subgroup size: lavapipe 8, NVIDIA 32; every thread of the workgroup
 * must call them, as before). Include after declaring
 * layout(local_size_x = OPS_WG). ops_red[] is also free for the kernels' own
 * exchanges between the calls. */
#ifndef OPS_COMMON_GLSL
#define OPS_COMMON_GLSL

#extension GL_KHR_shader_subgroup_basic : require
#extension GL_KHR_shader_subgroup_arithmetic : require

#ifndef OPS_WG
#define OPS_WG 128
#endif

shared float ops_red[OPS_WG];

float ops_wg_sum (float v)
{
  float s = subgroupAdd (v);
  if (subgroupElect ())
    ops_red[gl_SubgroupID] = s;
  barrier ();
  float r = 0.0;
  for (uint i = 0; i < gl_NumSubgroups; i++)
    r += ops_red[i];
  barrier ();
  return r;
}

float ops_wg_max (float v)
{
  float s = subgroupMax (v);
  if (subgroupElect ())
    ops_red[gl_SubgroupID] = s;
  barrier ();
  float r = ops_red[0];
  for (uint i = 1; i < gl_NumSubgroups; i++)
    r = max (r, ops_red[i]);
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

/* tanh without overflow for large |x|: one exp, one division */
float ops_tanh (float x)
{
  float e = exp (-2.0 * min (abs (x), 15.0));
  float r = (1.0 - e) / (1.0 + e);
  return x < 0.0 ? -r : r;
}

/* exp of a non-positive number only: one exp, one division */
float ops_sigmoid (float x)
{
  float e = exp (-abs (x));
  float r = 1.0 / (1.0 + e);
  return x >= 0.0 ? r : e * r;
}

#endif
