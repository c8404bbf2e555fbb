#version 450
/* adamw.comp: one optimizer step over a contiguous parameter (AdamW or SGD,
 * see core/tensor/ss-optim.h for the formulas, which are PyTorch's).
 *
 * Storage type SS_T is the parameter's (and its gradient's); state is fp32.
 * With HAS_MASTER the fp32 master copy is updated and the parameter gets its
 * rounding. With USE_CLIP the gradient is scaled by coef[1] (written by
 * grad_norm.comp's finalize pass). */
#include "ss-common.glsl"

layout (local_size_x = 256) in;

layout (binding = 0) buffer Param { SS_T param[]; };
layout (binding = 1) readonly buffer Grad { SS_T grad[]; };
layout (binding = 2) buffer M { float m[]; };        /* AdamW exp_avg / SGD momentum */
layout (binding = 3) buffer V { float v[]; };        /* AdamW exp_avg_sq */
layout (binding = 4) buffer Master { float master[]; };
layout (binding = 5) readonly buffer Coef { float coef[]; };

const uint MODE_ADAMW = 0u, MODE_SGD = 1u;
const uint HAS_MASTER = 1u, USE_CLIP = 2u, NESTEROV = 4u, FIRST_STEP = 8u, USE_MOMENTUM = 16u;

layout (push_constant) uniform P {
  uint n, p_off, g_off, m_off, v_off, master_off, mode, flags;
  float lr, beta1, beta2, eps, wd;
  float step_size;     /* AdamW: lr / (1 - beta1^t) */
  float inv_sqrt_bc2;  /* AdamW: 1 / sqrt(1 - beta2^t) */
  float momentum, dampening;
} p;

void main ()
{
  uint i = ss_linear_group () * 256u + gl_LocalInvocationID.x;
  if (i >= p.n)
    return;
  float w = (p.flags & HAS_MASTER) != 0u ? master[p.master_off + i] : SS_LOAD (param[p.p_off + i]);
  float g = SS_LOAD (grad[p.g_off + i]);
  if ((p.flags & USE_CLIP) != 0u)
    g *= coef[1];

  if (p.mode == MODE_ADAMW)
    {
      w *= 1.0 - p.lr * p.wd;
      float mi = p.beta1 * m[p.m_off + i] + (1.0 - p.beta1) * g;
      float vi = p.beta2 * v[p.v_off + i] + (1.0 - p.beta2) * g * g;
      m[p.m_off + i] = mi;
      v[p.v_off + i] = vi;
      float denom = sqrt (vi) * p.inv_sqrt_bc2 + p.eps;
      w -= p.step_size * mi / denom;
    }
  else
    {
      g += p.wd * w;
      if ((p.flags & USE_MOMENTUM) != 0u)
        {
          float b = (p.flags & FIRST_STEP) != 0u ? g
                                                 : p.momentum * m[p.m_off + i] + (1.0 - p.dampening) * g;
          m[p.m_off + i] = b;
          g = (p.flags & NESTEROV) != 0u ? g + p.momentum * b : b;
        }
      w -= p.lr * g;
    }

  if ((p.flags & HAS_MASTER) != 0u)
    master[p.master_off + i] = w;
  param[p.p_off + i] = SS_STORE (w);
}
