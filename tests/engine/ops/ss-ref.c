/* ss-ref.c: double-precision reference ops (forward and backward). */
#define G_LOG_DOMAIN "ss-ref"

#include "ss-ref.h"

#include <math.h>
#include <string.h>

/* ---------------------------------------------------------------- matmul */

static inline double
mat_at (const double *x, int rows, int cols, gboolean trans, int r, int c)
{
  /* element (r, c) of op(X), op(X) being rows x cols */
  return trans ? x[(size_t) c * rows + r] : x[(size_t) r * cols + c];
}

void
ss_ref_matmul (const double *a, const double *b, double *c,
               int batch, int m, int n, int k,
               gboolean trans_a, gboolean trans_b,
               size_t a_bstride, size_t b_bstride)
{
  for (int bi = 0; bi < batch; bi++)
    {
      const double *ab = a + bi * a_bstride;
      const double *bb = b + bi * b_bstride;
      double *cb = c + (size_t) bi * m * n;
      for (int i = 0; i < m; i++)
        for (int j = 0; j < n; j++)
          {
            double s = 0;
            for (int p = 0; p < k; p++)
              s += mat_at (ab, m, k, trans_a, i, p) * mat_at (bb, k, n, trans_b, p, j);
            cb[(size_t) i * n + j] = s;
          }
    }
}

void
ss_ref_matmul_backward (const double *a, const double *b, const double *dc,
                        double *da, double *db,
                        int batch, int m, int n, int k,
                        gboolean trans_a, gboolean trans_b,
                        size_t a_bstride, size_t b_bstride)
{
  for (int bi = 0; bi < batch; bi++)
    {
      const double *ab = a + bi * a_bstride;
      const double *bb = b + bi * b_bstride;
      const double *dcb = dc + (size_t) bi * m * n;
      for (int i = 0; i < m; i++)
        for (int p = 0; p < k; p++)
          {
            /* d op(A)[i,p] = sum_j dC[i,j] op(B)[p,j] */
            if (da)
              {
                double s = 0;
                for (int j = 0; j < n; j++)
                  s += dcb[(size_t) i * n + j] * mat_at (bb, k, n, trans_b, p, j);
                size_t off = trans_a ? (size_t) p * m + i : (size_t) i * k + p;
                da[bi * a_bstride + off] += s;
              }
          }
      if (db)
        for (int p = 0; p < k; p++)
          for (int j = 0; j < n; j++)
            {
              double s = 0;
              for (int i = 0; i < m; i++)
                s += mat_at (ab, m, k, trans_a, i, p) * dcb[(size_t) i * n + j];
              size_t off = trans_b ? (size_t) j * k + p : (size_t) p * n + j;
              db[bi * b_bstride + off] += s;
            }
    }
}

/* ---------------------------------------------------------------- linear */

void
ss_ref_linear (const double *x, const double *w, const double *bias,
               double *y, int rows, int in, int out)
{
  for (int r = 0; r < rows; r++)
    for (int o = 0; o < out; o++)
      {
        double s = bias ? bias[o] : 0.0;
        for (int i = 0; i < in; i++)
          s += x[(size_t) r * in + i] * w[(size_t) o * in + i];
        y[(size_t) r * out + o] = s;
      }
}

void
ss_ref_linear_backward (const double *x, const double *w, const double *dy,
                        double *dx, double *dw, double *dbias,
                        int rows, int in, int out)
{
  for (int r = 0; r < rows; r++)
    for (int o = 0; o < out; o++)
      {
        double g = dy[(size_t) r * out + o];
        if (dbias)
          dbias[o] += g;
        for (int i = 0; i < in; i++)
          {
            if (dx)
              dx[(size_t) r * in + i] += g * w[(size_t) o * in + i];
            if (dw)
              dw[(size_t) o * in + i] += g * x[(size_t) r * in + i];
          }
      }
}

/* ---------------------------------------------------------------- conv */

void
ss_ref_conv_out_size (const SsRefConv *p, int out[3])
{
  for (int d = 0; d < 3; d++)
    out[d] = (p->in[d] + 2 * p->pad[d] - p->dil[d] * (p->k[d] - 1) - 1) / p->stride[d] + 1;
}

void
ss_ref_conv_transpose_out_size (const SsRefConv *p, int out[3])
{
  for (int d = 0; d < 3; d++)
    out[d] = (p->in[d] - 1) * p->stride[d] - 2 * p->pad[d]
             + p->dil[d] * (p->k[d] - 1) + p->out_pad[d] + 1;
}

/* Visits every (output position, kernel tap) pair with a valid input position.
 * mode 0: forward conv, 1: conv backward, 2: transposed forward, 3: transposed backward. */
static void
conv_walk (const SsRefConv *p, int transposed, int mode,
           const double *x, const double *w, const double *dy,
           double *y, double *dx, double *dw)
{
  int out[3];
  if (transposed)
    ss_ref_conv_transpose_out_size (p, out);
  else
    ss_ref_conv_out_size (p, out);

  /* "small" side = the side with stride-divided positions: for a conv it is
   * the output, for the transposed conv it is the input. */
  const int *big = transposed ? out : p->in;
  const int *small = transposed ? p->in : out;
  int cbig = transposed ? p->cout : p->cin;
  int csmall = transposed ? p->cin : p->cout;
  int cbig_g = cbig / p->groups, csmall_g = csmall / p->groups;
  size_t big_sp = (size_t) big[0] * big[1] * big[2];
  size_t small_sp = (size_t) small[0] * small[1] * small[2];
  size_t ksp = (size_t) p->k[0] * p->k[1] * p->k[2];

  for (int n = 0; n < p->n; n++)
    for (int cs = 0; cs < csmall; cs++)
      {
        int g = cs / csmall_g;
        for (int s0 = 0; s0 < small[0]; s0++)
          for (int s1 = 0; s1 < small[1]; s1++)
            for (int s2 = 0; s2 < small[2]; s2++)
              {
                size_t sidx = ((size_t) n * csmall + cs) * small_sp
                              + ((size_t) s0 * small[1] + s1) * small[2] + s2;
                double acc = 0;
                for (int cbg = 0; cbg < cbig_g; cbg++)
                  {
                    int cb = g * cbig_g + cbg;
                    for (int k0 = 0; k0 < p->k[0]; k0++)
                      {
                        int b0 = s0 * p->stride[0] - p->pad[0] + k0 * p->dil[0];
                        if (b0 < 0 || b0 >= big[0])
                          continue;
                        for (int k1 = 0; k1 < p->k[1]; k1++)
                          {
                            int b1 = s1 * p->stride[1] - p->pad[1] + k1 * p->dil[1];
                            if (b1 < 0 || b1 >= big[1])
                              continue;
                            for (int k2 = 0; k2 < p->k[2]; k2++)
                              {
                                int b2 = s2 * p->stride[2] - p->pad[2] + k2 * p->dil[2];
                                if (b2 < 0 || b2 >= big[2])
                                  continue;
                                size_t bidx = ((size_t) n * cbig + cb) * big_sp
                                              + ((size_t) b0 * big[1] + b1) * big[2] + b2;
                                size_t kk = ((size_t) k0 * p->k[1] + k1) * p->k[2] + k2;
                                /* conv weight [cs][cbg][k]; transposed [cs][cbg][k]
                                 * too (transposed: w [Cin=small][Cout/g=big][k]). */
                                size_t widx = ((size_t) cs * cbig_g + cbg) * ksp + kk;
                                switch (mode)
                                  {
                                  case 0: /* y[small] += x[big] w */
                                    acc += x[bidx] * w[widx];
                                    break;
                                  case 1: /* dx[big] += dy[small] w; dw += dy x */
                                    if (dx)
                                      dx[bidx] += dy[sidx] * w[widx];
                                    if (dw)
                                      dw[widx] += dy[sidx] * x[bidx];
                                    break;
                                  case 2: /* y[big] += x[small] w */
                                    y[bidx] += x[sidx] * w[widx];
                                    break;
                                  case 3: /* dx[small] += dy[big] w; dw += x dy */
                                    if (dx)
                                      dx[sidx] += dy[bidx] * w[widx];
                                    if (dw)
                                      dw[widx] += x[sidx] * dy[bidx];
                                    break;
                                  }
                              }
                          }
                      }
                  }
                if (mode == 0)
                  y[sidx] += acc;
              }
      }
}

void
ss_ref_conv (const SsRefConv *p, const double *x, const double *w,
             const double *bias, double *y)
{
  int out[3];
  ss_ref_conv_out_size (p, out);
  size_t sp = (size_t) out[0] * out[1] * out[2];
  for (int n = 0; n < p->n; n++)
    for (int c = 0; c < p->cout; c++)
      for (size_t i = 0; i < sp; i++)
        y[((size_t) n * p->cout + c) * sp + i] = bias ? bias[c] : 0.0;
  conv_walk (p, FALSE, 0, x, w, NULL, y, NULL, NULL);
}

static void
bias_backward (const double *dy, double *dbias, int n, int c, size_t sp)
{
  for (int b = 0; b < n; b++)
    for (int ch = 0; ch < c; ch++)
      for (size_t i = 0; i < sp; i++)
        dbias[ch] += dy[((size_t) b * c + ch) * sp + i];
}

void
ss_ref_conv_backward (const SsRefConv *p, const double *x, const double *w,
                      const double *dy, double *dx, double *dw, double *dbias)
{
  int out[3];
  ss_ref_conv_out_size (p, out);
  conv_walk (p, FALSE, 1, x, w, dy, NULL, dx, dw);
  if (dbias)
    bias_backward (dy, dbias, p->n, p->cout, (size_t) out[0] * out[1] * out[2]);
}

void
ss_ref_conv_transpose (const SsRefConv *p, const double *x, const double *w,
                       const double *bias, double *y)
{
  int out[3];
  ss_ref_conv_transpose_out_size (p, out);
  size_t sp = (size_t) out[0] * out[1] * out[2];
  for (int n = 0; n < p->n; n++)
    for (int c = 0; c < p->cout; c++)
      for (size_t i = 0; i < sp; i++)
        y[((size_t) n * p->cout + c) * sp + i] = bias ? bias[c] : 0.0;
  conv_walk (p, TRUE, 2, x, w, NULL, y, NULL, NULL);
}

void
ss_ref_conv_transpose_backward (const SsRefConv *p, const double *x, const double *w,
                                const double *dy, double *dx, double *dw, double *dbias)
{
  int out[3];
  ss_ref_conv_transpose_out_size (p, out);
  conv_walk (p, TRUE, 3, x, w, dy, NULL, dx, dw);
  if (dbias)
    bias_backward (dy, dbias, p->n, p->cout, (size_t) out[0] * out[1] * out[2]);
}

/* ---------------------------------------------------------------- attention */

static gboolean
attn_visible (const SsRefAttn *p, int i, int j)
{
  if (!p->causal)
    return TRUE;
  int shift = p->causal_bottom_right ? p->lk - p->lq : 0;
  return j <= i + shift;
}

/* Fills row probabilities P[j] for (b, h, i); returns the log-sum-exp
 * (-inf when nothing is visible, P all zero then). */
static double
attn_row (const SsRefAttn *p, const double *q, const double *k, int b, int h, int i,
          double *prob)
{
  size_t bh = (size_t) b * p->h + h;
  const double *qi = q + (bh * p->lq + i) * p->d;
  double mx = -INFINITY;
  for (int j = 0; j < p->lk; j++)
    {
      double s = -INFINITY;
      if (attn_visible (p, i, j))
        {
          const double *kj = k + (bh * p->lk + j) * p->d;
          s = 0;
          for (int t = 0; t < p->d; t++)
            s += qi[t] * kj[t];
          s *= p->scale;
          if (p->mask)
            s += p->mask[b * p->mask_bstride + h * p->mask_hstride + (size_t) i * p->lk + j];
        }
      prob[j] = s;
      if (s > mx)
        mx = s;
    }
  if (mx == -INFINITY)
    {
      for (int j = 0; j < p->lk; j++)
        prob[j] = 0;
      return -INFINITY;
    }
  double sum = 0;
  for (int j = 0; j < p->lk; j++)
    {
      prob[j] = prob[j] == -INFINITY ? 0.0 : exp (prob[j] - mx);
      sum += prob[j];
    }
  for (int j = 0; j < p->lk; j++)
    prob[j] /= sum;
  return mx + log (sum);
}

void
ss_ref_attention (const SsRefAttn *p, const double *q, const double *k,
                  const double *v, double *o, double *lse)
{
  g_autofree double *prob = g_new (double, p->lk);
  for (int b = 0; b < p->b; b++)
    for (int h = 0; h < p->h; h++)
      for (int i = 0; i < p->lq; i++)
        {
          size_t bh = (size_t) b * p->h + h;
          double l = attn_row (p, q, k, b, h, i, prob);
          if (lse)
            lse[bh * p->lq + i] = l;
          double *oi = o + (bh * p->lq + i) * p->dv;
          for (int t = 0; t < p->dv; t++)
            {
              double s = 0;
              for (int j = 0; j < p->lk; j++)
                s += prob[j] * v[(bh * p->lk + j) * p->dv + t];
              oi[t] = s;
            }
        }
}

void
ss_ref_attention_backward (const SsRefAttn *p, const double *q, const double *k,
                           const double *v, const double *dout,
                           double *dq, double *dk, double *dv)
{
  g_autofree double *prob = g_new (double, p->lk);
  g_autofree double *dp = g_new (double, p->lk);
  for (int b = 0; b < p->b; b++)
    for (int h = 0; h < p->h; h++)
      for (int i = 0; i < p->lq; i++)
        {
          size_t bh = (size_t) b * p->h + h;
          attn_row (p, q, k, b, h, i, prob);
          const double *doi = dout + (bh * p->lq + i) * p->dv;
          double dot = 0;
          for (int j = 0; j < p->lk; j++)
            {
              double s = 0;
              for (int t = 0; t < p->dv; t++)
                s += doi[t] * v[(bh * p->lk + j) * p->dv + t];
              dp[j] = s;
              dot += s * prob[j];
            }
          const double *qi = q + (bh * p->lq + i) * p->d;
          for (int j = 0; j < p->lk; j++)
            {
              if (prob[j] == 0)
                continue;
              double ds = prob[j] * (dp[j] - dot) * p->scale;
              const double *kj = k + (bh * p->lk + j) * p->d;
              for (int t = 0; t < p->d; t++)
                {
                  if (dq)
                    dq[(bh * p->lq + i) * p->d + t] += ds * kj[t];
                  if (dk)
                    dk[(bh * p->lk + j) * p->d + t] += ds * qi[t];
                }
              if (dv)
                for (int t = 0; t < p->dv; t++)
                  dv[(bh * p->lk + j) * p->dv + t] += prob[j] * doi[t];
            }
        }
}

/* ---------------------------------------------------------------- norms */

void
ss_ref_layer_norm (const double *x, const double *w, const double *b,
                   double *y, int rows, int c, double eps)
{
  for (int r = 0; r < rows; r++)
    {
      const double *xr = x + (size_t) r * c;
      double mu = 0, var = 0;
      for (int i = 0; i < c; i++)
        mu += xr[i];
      mu /= c;
      for (int i = 0; i < c; i++)
        var += (xr[i] - mu) * (xr[i] - mu);
      var /= c;
      double rstd = 1.0 / sqrt (var + eps);
      for (int i = 0; i < c; i++)
        y[(size_t) r * c + i] = (xr[i] - mu) * rstd * (w ? w[i] : 1.0) + (b ? b[i] : 0.0);
    }
}

/* Shared by layer and group norm: normalization over `cnt` elements laid out
 * as `nch` channels of `s` elements starting at x; channel c0 for affine. */
static void
norm_block_backward (const double *x, const double *w, const double *dy,
                     double *dx, double *dw, double *db,
                     int nch, int s, int c0, double eps)
{
  size_t cnt = (size_t) nch * s;
  double mu = 0, var = 0;
  for (size_t i = 0; i < cnt; i++)
    mu += x[i];
  mu /= cnt;
  for (size_t i = 0; i < cnt; i++)
    var += (x[i] - mu) * (x[i] - mu);
  var /= cnt;
  double rstd = 1.0 / sqrt (var + eps);
  double mg = 0, mgx = 0;
  for (size_t i = 0; i < cnt; i++)
    {
      int ch = c0 + (int) (i / s);
      double xh = (x[i] - mu) * rstd;
      double g = dy[i] * (w ? w[ch] : 1.0);
      mg += g;
      mgx += g * xh;
      if (dw)
        dw[ch] += dy[i] * xh;
      if (db)
        db[ch] += dy[i];
    }
  mg /= cnt;
  mgx /= cnt;
  if (dx)
    for (size_t i = 0; i < cnt; i++)
      {
        int ch = c0 + (int) (i / s);
        double xh = (x[i] - mu) * rstd;
        double g = dy[i] * (w ? w[ch] : 1.0);
        dx[i] += rstd * (g - mg - xh * mgx);
      }
}

void
ss_ref_layer_norm_backward (const double *x, const double *w, const double *dy,
                            double *dx, double *dw, double *db,
                            int rows, int c, double eps)
{
  /* per row: c "channels" of one element each */
  for (int r = 0; r < rows; r++)
    norm_block_backward (x + (size_t) r * c, w, dy + (size_t) r * c,
                         dx ? dx + (size_t) r * c : NULL, dw, db, c, 1, 0, eps);
}

void
ss_ref_rms_norm (const double *x, const double *w, double *y,
                 int rows, int c, double eps)
{
  for (int r = 0; r < rows; r++)
    {
      const double *xr = x + (size_t) r * c;
      double ms = 0;
      for (int i = 0; i < c; i++)
        ms += xr[i] * xr[i];
      double rr = 1.0 / sqrt (ms / c + eps);
      for (int i = 0; i < c; i++)
        y[(size_t) r * c + i] = xr[i] * rr * (w ? w[i] : 1.0);
    }
}

void
ss_ref_rms_norm_backward (const double *x, const double *w, const double *dy,
                          double *dx, double *dw, int rows, int c, double eps)
{
  for (int r = 0; r < rows; r++)
    {
      const double *xr = x + (size_t) r * c;
      const double *dyr = dy + (size_t) r * c;
      double ms = 0;
      for (int i = 0; i < c; i++)
        ms += xr[i] * xr[i];
      double rr = 1.0 / sqrt (ms / c + eps);
      double mgx = 0;
      for (int i = 0; i < c; i++)
        {
          double g = dyr[i] * (w ? w[i] : 1.0);
          mgx += g * xr[i];
          if (dw)
            dw[i] += dyr[i] * xr[i] * rr;
        }
      mgx /= c;
      if (dx)
        for (int i = 0; i < c; i++)
          {
            double g = dyr[i] * (w ? w[i] : 1.0);
            dx[(size_t) r * c + i] += rr * (g - xr[i] * rr * rr * mgx);
          }
    }
}

void
ss_ref_group_norm (const double *x, const double *w, const double *b,
                   double *y, int n, int c, int s, int groups, double eps)
{
  int cg = c / groups;
  size_t cnt = (size_t) cg * s;
  for (int bi = 0; bi < n; bi++)
    for (int g = 0; g < groups; g++)
      {
        size_t base = ((size_t) bi * c + (size_t) g * cg) * s;
        double mu = 0, var = 0;
        for (size_t i = 0; i < cnt; i++)
          mu += x[base + i];
        mu /= cnt;
        for (size_t i = 0; i < cnt; i++)
          var += (x[base + i] - mu) * (x[base + i] - mu);
        var /= cnt;
        double rstd = 1.0 / sqrt (var + eps);
        for (size_t i = 0; i < cnt; i++)
          {
            int ch = g * cg + (int) (i / s);
            y[base + i] = (x[base + i] - mu) * rstd * (w ? w[ch] : 1.0) + (b ? b[ch] : 0.0);
          }
      }
}

void
ss_ref_group_norm_backward (const double *x, const double *w, const double *dy,
                            double *dx, double *dw, double *db,
                            int n, int c, int s, int groups, double eps)
{
  int cg = c / groups;
  for (int bi = 0; bi < n; bi++)
    for (int g = 0; g < groups; g++)
      {
        size_t base = ((size_t) bi * c + (size_t) g * cg) * s;
        norm_block_backward (x + base, w, dy + base, dx ? dx + base : NULL, dw, db,
                             cg, s, g * cg, eps);
      }
}

/* ---------------------------------------------------------------- softmax */

#define AX(o, i, k) (((size_t) (o) * n + (i)) * inner + (k))

void
ss_ref_softmax (const double *x, double *y, int outer, int n, int inner)
{
  for (int o = 0; o < outer; o++)
    for (int k = 0; k < inner; k++)
      {
        double mx = -INFINITY, sum = 0;
        for (int i = 0; i < n; i++)
          mx = fmax (mx, x[AX (o, i, k)]);
        for (int i = 0; i < n; i++)
          sum += exp (x[AX (o, i, k)] - mx);
        for (int i = 0; i < n; i++)
          y[AX (o, i, k)] = exp (x[AX (o, i, k)] - mx) / sum;
      }
}

void
ss_ref_softmax_backward (const double *y, const double *dy, double *dx,
                         int outer, int n, int inner)
{
  for (int o = 0; o < outer; o++)
    for (int k = 0; k < inner; k++)
      {
        double dot = 0;
        for (int i = 0; i < n; i++)
          dot += y[AX (o, i, k)] * dy[AX (o, i, k)];
        for (int i = 0; i < n; i++)
          dx[AX (o, i, k)] += y[AX (o, i, k)] * (dy[AX (o, i, k)] - dot);
      }
}

void
ss_ref_log_softmax (const double *x, double *y, int outer, int n, int inner)
{
  for (int o = 0; o < outer; o++)
    for (int k = 0; k < inner; k++)
      {
        double mx = -INFINITY, sum = 0;
        for (int i = 0; i < n; i++)
          mx = fmax (mx, x[AX (o, i, k)]);
        for (int i = 0; i < n; i++)
          sum += exp (x[AX (o, i, k)] - mx);
        double l = mx + log (sum);
        for (int i = 0; i < n; i++)
          y[AX (o, i, k)] = x[AX (o, i, k)] - l;
      }
}

void
ss_ref_log_softmax_backward (const double *y, const double *dy, double *dx,
                             int outer, int n, int inner)
{
  for (int o = 0; o < outer; o++)
    for (int k = 0; k < inner; k++)
      {
        double sum = 0;
        for (int i = 0; i < n; i++)
          sum += dy[AX (o, i, k)];
        for (int i = 0; i < n; i++)
          dx[AX (o, i, k)] += dy[AX (o, i, k)] - exp (y[AX (o, i, k)]) * sum;
      }
}

/* ---------------------------------------------------------------- unary */

static const char *unary_names[SS_REF_UNARY_COUNT] = {
  "gelu_erf", "gelu_tanh", "silu", "affine", "exp", "log", "sqrt", "rsqrt",
  "square", "neg", "tanh", "sigmoid", "relu", "pow", "recip",
};

const char *
ss_ref_unary_name (SsRefUnary op)
{
  g_return_val_if_fail (op < SS_REF_UNARY_COUNT, "?");
  return unary_names[op];
}

#define GELU_K 0.7978845608028654   /* sqrt(2/pi) */
#define GELU_C 0.044715

static double
sigmoid (double x)
{
  return 1.0 / (1.0 + exp (-x));
}

double
ss_ref_unary_f (SsRefUnary op, double x, double a, double b)
{
  switch (op)
    {
    case SS_REF_GELU_ERF: return 0.5 * x * (1.0 + erf (x * M_SQRT1_2));
    case SS_REF_GELU_TANH: return 0.5 * x * (1.0 + tanh (GELU_K * (x + GELU_C * x * x * x)));
    case SS_REF_SILU: return x * sigmoid (x);
    case SS_REF_AFFINE: return a * x + b;
    case SS_REF_EXP: return exp (x);
    case SS_REF_LOG: return log (x);
    case SS_REF_SQRT: return sqrt (x);
    case SS_REF_RSQRT: return 1.0 / sqrt (x);
    case SS_REF_SQUARE: return x * x;
    case SS_REF_NEG: return -x;
    case SS_REF_TANH: return tanh (x);
    case SS_REF_SIGMOID: return sigmoid (x);
    case SS_REF_RELU: return x > 0 ? x : 0.0;
    case SS_REF_POW: return pow (x, a);
    case SS_REF_RECIP: return 1.0 / x;
    default: g_return_val_if_reached (NAN);
    }
}

double
ss_ref_unary_df (SsRefUnary op, double x, double a, double b)
{
  switch (op)
    {
    case SS_REF_GELU_ERF:
      return 0.5 * (1.0 + erf (x * M_SQRT1_2)) + x * exp (-0.5 * x * x) / sqrt (2 * M_PI);
    case SS_REF_GELU_TANH:
      {
        double t = tanh (GELU_K * (x + GELU_C * x * x * x));
        return 0.5 * (1.0 + t) + 0.5 * x * (1.0 - t * t) * GELU_K * (1.0 + 3.0 * GELU_C * x * x);
      }
    case SS_REF_SILU:
      {
        double s = sigmoid (x);
        return s * (1.0 + x * (1.0 - s));
      }
    case SS_REF_AFFINE: return a;
    case SS_REF_EXP: return exp (x);
    case SS_REF_LOG: return 1.0 / x;
    case SS_REF_SQRT: return 0.5 / sqrt (x);
    case SS_REF_RSQRT: return -0.5 / (x * sqrt (x));
    case SS_REF_SQUARE: return 2.0 * x;
    case SS_REF_NEG: return -1.0;
    case SS_REF_TANH: { double t = tanh (x); return 1.0 - t * t; }
    case SS_REF_SIGMOID: { double s = sigmoid (x); return s * (1.0 - s); }
    case SS_REF_RELU: return x > 0 ? 1.0 : 0.0;
    case SS_REF_POW: return a * pow (x, a - 1.0);
    case SS_REF_RECIP: return -1.0 / (x * x);
    default: g_return_val_if_reached (NAN);
    }
}

void
ss_ref_unary (SsRefUnary op, const double *x, double *y, size_t n, double a, double b)
{
  for (size_t i = 0; i < n; i++)
    y[i] = ss_ref_unary_f (op, x[i], a, b);
}

void
ss_ref_unary_backward (SsRefUnary op, const double *x, const double *dy,
                       double *dx, size_t n, double a, double b)
{
  for (size_t i = 0; i < n; i++)
    dx[i] += dy[i] * ss_ref_unary_df (op, x[i], a, b);
}

/* ---------------------------------------------------------------- binary */

static const char *binary_names[SS_REF_BINARY_COUNT] = { "add", "sub", "mul", "div" };

const char *
ss_ref_binary_name (SsRefBinary op)
{
  g_return_val_if_fail (op < SS_REF_BINARY_COUNT, "?");
  return binary_names[op];
}

gboolean
ss_ref_broadcast_shape (int ndim, const int *sa, const int *sb, int *sout)
{
  for (int d = 0; d < ndim; d++)
    {
      if (sa[d] != sb[d] && sa[d] != 1 && sb[d] != 1)
        return FALSE;
      sout[d] = MAX (sa[d], sb[d]);
    }
  return TRUE;
}

/* Calls fn for each output element with the flat offsets into a and b. */
static void
broadcast_walk (int ndim, const int *sa, const int *sb,
                void (*fn) (size_t io, size_t ia, size_t ib, void *ud), void *ud)
{
  int so[SS_REF_MAX_DIMS], idx[SS_REF_MAX_DIMS] = { 0 };
  ss_ref_broadcast_shape (ndim, sa, sb, so);
  size_t total = 1;
  for (int d = 0; d < ndim; d++)
    total *= so[d];
  for (size_t io = 0; io < total; io++)
    {
      size_t ia = 0, ib = 0;
      for (int d = 0; d < ndim; d++)
        {
          ia = ia * sa[d] + (sa[d] == 1 ? 0 : idx[d]);
          ib = ib * sb[d] + (sb[d] == 1 ? 0 : idx[d]);
        }
      fn (io, ia, ib, ud);
      for (int d = ndim - 1; d >= 0; d--)
        {
          if (++idx[d] < so[d])
            break;
          idx[d] = 0;
        }
    }
}

typedef struct {
  SsRefBinary op;
  const double *a, *b, *dy;
  double *y, *da, *db;
} BinCtx;

static void
binary_fwd_fn (size_t io, size_t ia, size_t ib, void *ud)
{
  BinCtx *c = ud;
  double a = c->a[ia], b = c->b[ib], r = 0;
  switch (c->op)
    {
    case SS_REF_ADD: r = a + b; break;
    case SS_REF_SUB: r = a - b; break;
    case SS_REF_MUL: r = a * b; break;
    case SS_REF_DIV: r = a / b; break;
    default: break;
    }
  c->y[io] = r;
}

static void
binary_bwd_fn (size_t io, size_t ia, size_t ib, void *ud)
{
  BinCtx *c = ud;
  double a = c->a[ia], b = c->b[ib], g = c->dy[io], ga = 0, gb = 0;
  switch (c->op)
    {
    case SS_REF_ADD: ga = g; gb = g; break;
    case SS_REF_SUB: ga = g; gb = -g; break;
    case SS_REF_MUL: ga = g * b; gb = g * a; break;
    case SS_REF_DIV: ga = g / b; gb = -g * a / (b * b); break;
    default: break;
    }
  if (c->da)
    c->da[ia] += ga;
  if (c->db)
    c->db[ib] += gb;
}

void
ss_ref_binary (SsRefBinary op, int ndim, const double *a, const int *sa,
               const double *b, const int *sb, double *y)
{
  BinCtx c = { .op = op, .a = a, .b = b, .y = y };
  broadcast_walk (ndim, sa, sb, binary_fwd_fn, &c);
}

void
ss_ref_binary_backward (SsRefBinary op, int ndim, const double *a, const int *sa,
                        const double *b, const int *sb,
                        const double *dy, double *da, double *db)
{
  BinCtx c = { .op = op, .a = a, .b = b, .dy = dy, .da = da, .db = db };
  broadcast_walk (ndim, sa, sb, binary_bwd_fn, &c);
}

/* ---------------------------------------------------------------- reduce */

static const char *reduce_names[SS_REF_REDUCE_COUNT] = { "sum", "mean", "max" };

const char *
ss_ref_reduce_name (SsRefReduce op)
{
  g_return_val_if_fail (op < SS_REF_REDUCE_COUNT, "?");
  return reduce_names[op];
}

static int
argmax_axis (const double *x, int o, int n, int inner, int k)
{
  int best = 0;
  for (int i = 1; i < n; i++)
    if (x[AX (o, i, k)] > x[AX (o, best, k)])
      best = i;
  return best;
}

void
ss_ref_reduce (SsRefReduce op, const double *x, double *y, int outer, int n, int inner)
{
  for (int o = 0; o < outer; o++)
    for (int k = 0; k < inner; k++)
      {
        double r = 0;
        if (op == SS_REF_MAX)
          r = x[AX (o, argmax_axis (x, o, n, inner, k), k)];
        else
          {
            for (int i = 0; i < n; i++)
              r += x[AX (o, i, k)];
            if (op == SS_REF_MEAN)
              r /= n;
          }
        y[(size_t) o * inner + k] = r;
      }
}

void
ss_ref_reduce_backward (SsRefReduce op, const double *x, const double *dy,
                        double *dx, int outer, int n, int inner)
{
  for (int o = 0; o < outer; o++)
    for (int k = 0; k < inner; k++)
      {
        double g = dy[(size_t) o * inner + k];
        if (op == SS_REF_MAX)
          dx[AX (o, argmax_axis (x, o, n, inner, k), k)] += g;
        else
          for (int i = 0; i < n; i++)
            dx[AX (o, i, k)] += op == SS_REF_MEAN ? g / n : g;
      }
}

#undef AX

/* ---------------------------------------------------------------- concat, slice */

void
ss_ref_concat (int count, const double *const *xs, const int *ns,
               double *y, int outer, int inner)
{
  int total = 0;
  for (int c = 0; c < count; c++)
    total += ns[c];
  for (int o = 0; o < outer; o++)
    {
      int off = 0;
      for (int c = 0; c < count; c++)
        {
          memcpy (y + ((size_t) o * total + off) * inner,
                  xs[c] + (size_t) o * ns[c] * inner,
                  sizeof (double) * ns[c] * inner);
          off += ns[c];
        }
    }
}

void
ss_ref_concat_backward (int count, const int *ns, const double *dy,
                        double *const *dxs, int outer, int inner)
{
  int total = 0;
  for (int c = 0; c < count; c++)
    total += ns[c];
  for (int o = 0; o < outer; o++)
    {
      int off = 0;
      for (int c = 0; c < count; c++)
        {
          if (dxs[c])
            for (size_t e = 0; e < (size_t) ns[c] * inner; e++)
              dxs[c][(size_t) o * ns[c] * inner + e] += dy[((size_t) o * total + off) * inner + e];
          off += ns[c];
        }
    }
}

void
ss_ref_slice (const double *x, double *y, int outer, int n, int inner,
              int start, int len, int step)
{
  for (int o = 0; o < outer; o++)
    for (int i = 0; i < len; i++)
      for (int k = 0; k < inner; k++)
        y[((size_t) o * len + i) * inner + k] =
          x[((size_t) o * n + start + (size_t) i * step) * inner + k];
}

void
ss_ref_slice_backward (const double *dy, double *dx, int outer, int n, int inner,
                       int start, int len, int step)
{
  for (int o = 0; o < outer; o++)
    for (int i = 0; i < len; i++)
      for (int k = 0; k < inner; k++)
        dx[((size_t) o * n + start + (size_t) i * step) * inner + k] +=
          dy[((size_t) o * len + i) * inner + k];
}

/* ---------------------------------------------------------------- permute */

static void
permute_walk (const double *src, double *dst, int ndim, const int *sx,
              const int *perm, gboolean backward)
{
  int sy[SS_REF_MAX_DIMS], idx[SS_REF_MAX_DIMS] = { 0 };
  size_t xstride[SS_REF_MAX_DIMS];
  size_t total = 1;
  for (int d = ndim - 1; d >= 0; d--)
    {
      xstride[d] = total;
      total *= sx[d];
    }
  for (int d = 0; d < ndim; d++)
    sy[d] = sx[perm[d]];
  for (size_t iy = 0; iy < total; iy++)
    {
      size_t ix = 0;
      for (int d = 0; d < ndim; d++)
        ix += idx[d] * xstride[perm[d]];
      if (backward)
        dst[ix] += src[iy];
      else
        dst[iy] = src[ix];
      for (int d = ndim - 1; d >= 0; d--)
        {
          if (++idx[d] < sy[d])
            break;
          idx[d] = 0;
        }
    }
}

void
ss_ref_permute (const double *x, double *y, int ndim, const int *sx, const int *perm)
{
  permute_walk (x, y, ndim, sx, perm, FALSE);
}

void
ss_ref_permute_backward (const double *dy, double *dx, int ndim, const int *sx,
                         const int *perm)
{
  permute_walk (dy, dx, ndim, sx, perm, TRUE);
}

/* ---------------------------------------------------------------- gather */

void
ss_ref_gather (const double *x, const gint32 *idx, double *y,
               int outer, int n, int inner, int m)
{
  for (int o = 0; o < outer; o++)
    for (int i = 0; i < m; i++)
      for (int k = 0; k < inner; k++)
        y[((size_t) o * m + i) * inner + k] = x[((size_t) o * n + idx[i]) * inner + k];
}

void
ss_ref_gather_backward (const gint32 *idx, const double *dy, double *dx,
                        int outer, int n, int inner, int m)
{
  for (int o = 0; o < outer; o++)
    for (int i = 0; i < m; i++)
      for (int k = 0; k < inner; k++)
        dx[((size_t) o * n + idx[i]) * inner + k] += dy[((size_t) o * m + i) * inner + k];
}

/* ---------------------------------------------------------------- rope */

static void
rope_walk (const SsRefRope *p, const double *src, double *dst, double sign, gboolean acc)
{
  int half = p->rot_dim / 2;
  for (int o = 0; o < p->outer; o++)
    for (int l = 0; l < p->len; l++)
      {
        double pos = p->pos ? p->pos[l] : (double) l;
        for (int h = 0; h < p->heads; h++)
          {
            size_t base = (((size_t) o * p->len + l) * p->heads + h) * p->dim;
            const double *s = src + base;
            double *d = dst + base;
            for (int i = 0; i < half; i++)
              {
                double theta = pos * pow (p->base, -2.0 * i / p->rot_dim);
                double c = cos (theta), sn = sign * sin (theta);
                int i0 = p->interleaved ? 2 * i : i;
                int i1 = p->interleaved ? 2 * i + 1 : i + half;
                double y0 = s[i0] * c - s[i1] * sn;
                double y1 = s[i0] * sn + s[i1] * c;
                if (acc)
                  {
                    d[i0] += y0;
                    d[i1] += y1;
                  }
                else
                  {
                    d[i0] = y0;
                    d[i1] = y1;
                  }
              }
            for (int i = p->rot_dim; i < p->dim; i++)
              d[i] = acc ? d[i] + s[i] : s[i];
          }
      }
}

void
ss_ref_rope (const SsRefRope *p, const double *x, double *y)
{
  rope_walk (p, x, y, 1.0, FALSE);
}

void
ss_ref_rope_backward (const SsRefRope *p, const double *dy, double *dx)
{
  /* the rotation is orthogonal: its transpose rotates by -theta */
  rope_walk (p, dy, dx, -1.0, TRUE);
}

/* ---------------------------------------------------------------- interp */

typedef struct {
  int i0, i1;
  double w0, w1;
} Tap;

static Tap
interp_tap (SsRefInterpMode mode, gboolean align, int dst, int in, int out)
{
  Tap t = { 0, 0, 1.0, 0.0 };
  if (mode == SS_REF_INTERP_NEAREST)
    {
      int s = (int) floor (dst * ((double) in / out));
      t.i0 = t.i1 = MIN (s, in - 1);
      return t;
    }
  double src;
  if (align)
    src = out > 1 ? dst * (double) (in - 1) / (out - 1) : 0.0;
  else
    {
      src = (dst + 0.5) * ((double) in / out) - 0.5;
      if (src < 0)
        src = 0;
    }
  int i0 = (int) floor (src);
  if (i0 > in - 1)
    i0 = in - 1;
  double l = src - i0;
  t.i0 = i0;
  t.i1 = MIN (i0 + 1, in - 1);
  t.w0 = 1.0 - l;
  t.w1 = l;
  return t;
}

static void
interp_walk (SsRefInterpMode mode, gboolean align, const double *x, double *y,
             const double *dy, double *dx, int nc, int ih, int iw, int oh, int ow)
{
  for (int c = 0; c < nc; c++)
    for (int r = 0; r < oh; r++)
      {
        Tap th = interp_tap (mode, align, r, ih, oh);
        for (int q = 0; q < ow; q++)
          {
            Tap tw = interp_tap (mode, align, q, iw, ow);
            size_t io = ((size_t) c * oh + r) * ow + q;
            size_t b = (size_t) c * ih * iw;
            size_t i00 = b + (size_t) th.i0 * iw + tw.i0, i01 = b + (size_t) th.i0 * iw + tw.i1;
            size_t i10 = b + (size_t) th.i1 * iw + tw.i0, i11 = b + (size_t) th.i1 * iw + tw.i1;
            double w00 = th.w0 * tw.w0, w01 = th.w0 * tw.w1;
            double w10 = th.w1 * tw.w0, w11 = th.w1 * tw.w1;
            if (y)
              y[io] = w00 * x[i00] + w01 * x[i01] + w10 * x[i10] + w11 * x[i11];
            else
              {
                dx[i00] += w00 * dy[io];
                dx[i01] += w01 * dy[io];
                dx[i10] += w10 * dy[io];
                dx[i11] += w11 * dy[io];
              }
          }
      }
}

void
ss_ref_interp (SsRefInterpMode mode, gboolean align_corners, const double *x, double *y,
               int nc, int ih, int iw, int oh, int ow)
{
  interp_walk (mode, align_corners, x, y, NULL, NULL, nc, ih, iw, oh, ow);
}

void
ss_ref_interp_backward (SsRefInterpMode mode, gboolean align_corners,
                        const double *dy, double *dx,
                        int nc, int ih, int iw, int oh, int ow)
{
  interp_walk (mode, align_corners, NULL, NULL, dy, dx, nc, ih, iw, oh, ow);
}

/* ---------------------------------------------------------------- losses */

double
ss_ref_mse_loss (const double *x, const double *t, size_t n)
{
  double s = 0;
  for (size_t i = 0; i < n; i++)
    s += (x[i] - t[i]) * (x[i] - t[i]);
  return s / n;
}

void
ss_ref_mse_loss_backward (const double *x, const double *t, size_t n,
                          double dloss, double *dx, double *dt)
{
  for (size_t i = 0; i < n; i++)
    {
      double g = 2.0 * (x[i] - t[i]) / n * dloss;
      if (dx)
        dx[i] += g;
      if (dt)
        dt[i] -= g;
    }
}

static double
row_lse (const double *x, int n, size_t stride)
{
  double mx = -INFINITY, s = 0;
  for (int i = 0; i < n; i++)
    mx = fmax (mx, x[i * stride]);
  for (int i = 0; i < n; i++)
    s += exp (x[i * stride] - mx);
  return mx + log (s);
}

double
ss_ref_cross_entropy (const double *logits, const gint32 *targets,
                      int rows, int classes, int ignore_index, double label_smoothing)
{
  double total = 0;
  int count = 0;
  for (int r = 0; r < rows; r++)
    {
      if (targets[r] == ignore_index)
        continue;
      const double *x = logits + (size_t) r * classes;
      double l = row_lse (x, classes, 1), mean_logp = 0;
      for (int c = 0; c < classes; c++)
        mean_logp += (x[c] - l) / classes;
      total += -(1.0 - label_smoothing) * (x[targets[r]] - l) - label_smoothing * mean_logp;
      count++;
    }
  return count ? total / count : 0.0;
}

void
ss_ref_cross_entropy_backward (const double *logits, const gint32 *targets,
                               int rows, int classes, int ignore_index,
                               double label_smoothing, double dloss, double *dlogits)
{
  int count = 0;
  for (int r = 0; r < rows; r++)
    count += targets[r] != ignore_index;
  if (!count)
    return;
  for (int r = 0; r < rows; r++)
    {
      if (targets[r] == ignore_index)
        continue;
      const double *x = logits + (size_t) r * classes;
      double l = row_lse (x, classes, 1);
      for (int c = 0; c < classes; c++)
        {
          double q = label_smoothing / classes + (c == targets[r] ? 1.0 - label_smoothing : 0.0);
          dlogits[(size_t) r * classes + c] += (exp (x[c] - l) - q) * dloss / count;
        }
    }
}

static double *
infonce_prep (const double *x, int n, int d, gboolean normalize, double *norms)
{
  double *y = g_new (double, (size_t) n * d);
  for (int i = 0; i < n; i++)
    {
      double s = 0;
      for (int t = 0; t < d; t++)
        s += x[(size_t) i * d + t] * x[(size_t) i * d + t];
      norms[i] = normalize ? sqrt (s) : 1.0;
      for (int t = 0; t < d; t++)
        y[(size_t) i * d + t] = x[(size_t) i * d + t] / norms[i];
    }
  return y;
}

static double *
infonce_logits (const double *an, const double *bn, int n, int d, double temp)
{
  double *l = g_new (double, (size_t) n * n);
  for (int i = 0; i < n; i++)
    for (int j = 0; j < n; j++)
      {
        double s = 0;
        for (int t = 0; t < d; t++)
          s += an[(size_t) i * d + t] * bn[(size_t) j * d + t];
        l[(size_t) i * n + j] = s / temp;
      }
  return l;
}

double
ss_ref_infonce (const double *a, const double *b, int n, int d,
                double temperature, gboolean normalize)
{
  g_autofree double *na = g_new (double, n);
  g_autofree double *nb = g_new (double, n);
  g_autofree double *an = infonce_prep (a, n, d, normalize, na);
  g_autofree double *bn = infonce_prep (b, n, d, normalize, nb);
  g_autofree double *l = infonce_logits (an, bn, n, d, temperature);
  double loss = 0;
  for (int i = 0; i < n; i++)
    {
      loss += row_lse (l + (size_t) i * n, n, 1) - l[(size_t) i * n + i];
      loss += row_lse (l + i, n, n) - l[(size_t) i * n + i];
    }
  return loss / (2.0 * n);
}

void
ss_ref_infonce_backward (const double *a, const double *b, int n, int d,
                         double temperature, gboolean normalize,
                         double dloss, double *da, double *db, double *dtemp)
{
  g_autofree double *na = g_new (double, n);
  g_autofree double *nb = g_new (double, n);
  g_autofree double *an = infonce_prep (a, n, d, normalize, na);
  g_autofree double *bn = infonce_prep (b, n, d, normalize, nb);
  g_autofree double *l = infonce_logits (an, bn, n, d, temperature);
  g_autofree double *dl = g_new0 (double, (size_t) n * n);
  double k = dloss / (2.0 * n);
  for (int i = 0; i < n; i++)
    {
      double lr = row_lse (l + (size_t) i * n, n, 1);
      double lc = row_lse (l + i, n, n);
      for (int j = 0; j < n; j++)
        {
          dl[(size_t) i * n + j] += k * exp (l[(size_t) i * n + j] - lr);
          dl[(size_t) j * n + i] += k * exp (l[(size_t) j * n + i] - lc);
        }
      dl[(size_t) i * n + i] -= 2.0 * k;
    }
  if (dtemp)
    {
      double s = 0;
      for (size_t e = 0; e < (size_t) n * n; e++)
        s += dl[e] * l[e];
      *dtemp += -s / temperature;
    }
  g_autofree double *dan = g_new0 (double, (size_t) n * d);
  g_autofree double *dbn = g_new0 (double, (size_t) n * d);
  for (int i = 0; i < n; i++)
    for (int j = 0; j < n; j++)
      {
        double g = dl[(size_t) i * n + j] / temperature;
        for (int t = 0; t < d; t++)
          {
            dan[(size_t) i * d + t] += g * bn[(size_t) j * d + t];
            dbn[(size_t) j * d + t] += g * an[(size_t) i * d + t];
          }
      }
  for (int pass = 0; pass < 2; pass++)
    {
      double *out = pass ? db : da;
      const double *gn = pass ? dbn : dan, *xn = pass ? bn : an, *norms = pass ? nb : na;
      if (!out)
        continue;
      for (int i = 0; i < n; i++)
        {
          double dot = 0;
          if (normalize)
            for (int t = 0; t < d; t++)
              dot += gn[(size_t) i * d + t] * xn[(size_t) i * d + t];
          for (int t = 0; t < d; t++)
            out[(size_t) i * d + t] += (gn[(size_t) i * d + t] - xn[(size_t) i * d + t] * dot) / norms[i];
        }
    }
}
