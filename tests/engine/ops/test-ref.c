/* test-ref.c: checks the double-precision reference ops themselves: forward
 * passes against independent identities, backward passes against finite
 * differences. If these were wrong, every GPU op test would test nothing. */
#define G_LOG_DOMAIN "test-ref"

#include "ss-check.h"
#include "ss-ref.h"

#include <math.h>
#include <string.h>

#define FD_EPS 1e-6
#define FD_TOL 1e-12
#define FD_MAX 64

static SsRng rng;

static double *
rnd (size_t n)
{
  double *x = g_new (double, MAX (n, 1));
  ss_check_fill_uniform (&rng, x, n, -1.0, 1.0);
  return x;
}

static double *
zeros (size_t n)
{
  return g_new0 (double, MAX (n, 1));
}

static void
fd (const char *name, SsCheckScalarFn f, void *ud, double *x, size_t n, const double *g)
{
  if (!ss_check_grad_fd (name, f, ud, x, n, g, FD_EPS, FD_MAX, &rng, FD_TOL))
    {
      g_test_message ("%s: analytic gradient differs from finite differences", name);
      g_test_fail ();
    }
}

/* ================================================================ matmul */

typedef struct {
  double *a, *b, *w, *c;
  int batch, m, n, k;
  gboolean ta, tb;
  size_t sa, sb;
} MatCase;

static double
mat_loss (void *ud)
{
  MatCase *c = ud;
  ss_ref_matmul (c->a, c->b, c->c, c->batch, c->m, c->n, c->k, c->ta, c->tb, c->sa, c->sb);
  return ss_check_dot (c->w, c->c, (size_t) c->batch * c->m * c->n);
}

static void
transpose (const double *x, double *y, int rows, int cols)
{
  for (int r = 0; r < rows; r++)
    for (int c = 0; c < cols; c++)
      y[(size_t) c * rows + r] = x[(size_t) r * cols + c];
}

static void
test_matmul (void)
{
  /* hand example: [1 2; 3 4] @ [5 6; 7 8] = [19 22; 43 50] */
  double a[] = { 1, 2, 3, 4 }, b[] = { 5, 6, 7, 8 }, c[4], want[] = { 19, 22, 43, 50 };
  ss_ref_matmul (a, b, c, 1, 2, 2, 2, FALSE, FALSE, 0, 0);
  ss_assert_close ("matmul 2x2", want, c, 4, 0);

  for (int t = 0; t < 4; t++)
    {
      MatCase mc = { .batch = 3, .m = 4, .n = 5, .k = 6, .ta = t & 1, .tb = t >> 1 };
      mc.sa = (size_t) mc.m * mc.k;
      mc.sb = t == 3 ? 0 : (size_t) mc.k * mc.n;   /* broadcast B in one case */
      int nb = mc.sb ? mc.batch : 1;
      g_autofree double *a2 = rnd (mc.sa * mc.batch), *b2 = rnd ((size_t) mc.k * mc.n * nb);
      g_autofree double *w = rnd ((size_t) mc.batch * mc.m * mc.n), *cc = zeros ((size_t) mc.batch * mc.m * mc.n);
      mc.a = a2; mc.b = b2; mc.w = w; mc.c = cc;
      /* forward: against explicit transposes and the plain product */
      g_autofree double *an = zeros (mc.sa * mc.batch), *bn = zeros ((size_t) mc.k * mc.n * nb);
      g_autofree double *c0 = zeros ((size_t) mc.batch * mc.m * mc.n);
      for (int bi = 0; bi < mc.batch; bi++)
        if (mc.ta)
          transpose (a2 + bi * mc.sa, an + bi * mc.sa, mc.k, mc.m);
        else
          memcpy (an + bi * mc.sa, a2 + bi * mc.sa, sizeof (double) * mc.sa);
      for (int bi = 0; bi < nb; bi++)
        if (mc.tb)
          transpose (b2 + (size_t) bi * mc.k * mc.n, bn + (size_t) bi * mc.k * mc.n, mc.n, mc.k);
        else
          memcpy (bn + (size_t) bi * mc.k * mc.n, b2 + (size_t) bi * mc.k * mc.n, sizeof (double) * mc.k * mc.n);
      ss_ref_matmul (an, bn, c0, mc.batch, mc.m, mc.n, mc.k, FALSE, FALSE, mc.sa, mc.sb);
      mat_loss (&mc);
      ss_assert_close ("matmul transposed", c0, cc, (size_t) mc.batch * mc.m * mc.n, 1e-28);

      g_autofree double *da = zeros (mc.sa * mc.batch), *db = zeros ((size_t) mc.k * mc.n * nb);
      ss_ref_matmul_backward (a2, b2, w, da, db, mc.batch, mc.m, mc.n, mc.k, mc.ta, mc.tb, mc.sa, mc.sb);
      fd ("matmul dA", mat_loss, &mc, a2, mc.sa * mc.batch, da);
      fd ("matmul dB", mat_loss, &mc, b2, (size_t) mc.k * mc.n * nb, db);
    }
}

/* ================================================================ linear */

typedef struct {
  double *x, *w, *b, *g, *y;
  int rows, in, out;
} LinCase;

static double
lin_loss (void *ud)
{
  LinCase *c = ud;
  ss_ref_linear (c->x, c->w, c->b, c->y, c->rows, c->in, c->out);
  return ss_check_dot (c->g, c->y, (size_t) c->rows * c->out);
}

static void
test_linear (void)
{
  LinCase c = { .rows = 5, .in = 7, .out = 3 };
  g_autofree double *x = rnd (35), *w = rnd (21), *b = rnd (3), *g = rnd (15), *y = zeros (15);
  g_autofree double *y2 = zeros (15);
  c.x = x; c.w = w; c.b = b; c.g = g; c.y = y;
  lin_loss (&c);
  /* y = x @ W^T + b */
  ss_ref_matmul (x, w, y2, 1, 5, 3, 7, FALSE, TRUE, 0, 0);
  for (int r = 0; r < 5; r++)
    for (int o = 0; o < 3; o++)
      y2[r * 3 + o] += b[o];
  ss_assert_close ("linear vs matmul", y2, y, 15, 1e-28);
  g_autofree double *dx = zeros (35), *dw = zeros (21), *db = zeros (3);
  ss_ref_linear_backward (x, w, g, dx, dw, db, 5, 7, 3);
  fd ("linear dx", lin_loss, &c, x, 35, dx);
  fd ("linear dw", lin_loss, &c, w, 21, dw);
  fd ("linear db", lin_loss, &c, b, 3, db);
}

/* ================================================================ conv */

typedef struct {
  SsRefConv p;
  gboolean transposed;
  double *x, *w, *b, *g, *y;
  size_t ny;
} ConvCase;

static double
conv_loss (void *ud)
{
  ConvCase *c = ud;
  if (c->transposed)
    ss_ref_conv_transpose (&c->p, c->x, c->w, c->b, c->y);
  else
    ss_ref_conv (&c->p, c->x, c->w, c->b, c->y);
  return ss_check_dot (c->g, c->y, c->ny);
}

static size_t
sp3 (const int *s)
{
  return (size_t) s[0] * s[1] * s[2];
}

static void
conv_case (const char *name, SsRefConv p)
{
  int out[3], tout[3];
  ss_ref_conv_out_size (&p, out);
  size_t nx = (size_t) p.n * p.cin * sp3 (p.in);
  size_t nw = (size_t) p.cout * (p.cin / p.groups) * sp3 (p.k);
  size_t ny = (size_t) p.n * p.cout * sp3 (out);
  g_autofree double *x = rnd (nx), *w = rnd (nw), *b = rnd (p.cout), *g = rnd (ny), *y = zeros (ny);
  ConvCase c = { .p = p, .x = x, .w = w, .b = b, .g = g, .y = y, .ny = ny };
  g_autofree char *n1 = g_strdup_printf ("%s dx", name);
  g_autofree char *n2 = g_strdup_printf ("%s dw", name);
  g_autofree char *n3 = g_strdup_printf ("%s db", name);
  g_autofree double *dx = zeros (nx), *dw = zeros (nw), *db = zeros (p.cout);
  ss_ref_conv_backward (&p, x, w, g, dx, dw, db);
  fd (n1, conv_loss, &c, x, nx, dx);
  fd (n2, conv_loss, &c, w, nw, dw);
  fd (n3, conv_loss, &c, b, p.cout, db);

  /* the transposed conv with the same weights is the adjoint of the conv:
   * <conv(x), y> = <x, convT(y)> (bias off) */
  SsRefConv t = p;
  t.cin = p.cout;
  t.cout = p.cin;
  for (int d = 0; d < 3; d++)
    {
      t.in[d] = out[d];
      t.out_pad[d] = 0;
    }
  ss_ref_conv_transpose_out_size (&t, tout);
  for (int d = 0; d < 3; d++)
    {
      t.out_pad[d] = p.in[d] - tout[d];
      g_assert_cmpint (t.out_pad[d], >=, 0);
      g_assert_cmpint (t.out_pad[d], <, MAX (p.stride[d], p.dil[d]));
    }
  g_autofree double *cx = zeros (ny), *tx = zeros (nx);
  ss_ref_conv (&p, x, w, NULL, cx);
  ss_ref_conv_transpose (&t, g, w, NULL, tx);
  double lhs = ss_check_dot (cx, g, ny), rhs = ss_check_dot (x, tx, nx);
  g_assert_cmpfloat (fabs (lhs - rhs), <=, 1e-10 * (1 + fabs (lhs)));

  /* transposed conv gradients */
  ConvCase ct = { .p = t, .transposed = TRUE, .x = g, .w = w, .b = b, .g = x, .y = zeros (nx), .ny = nx };
  g_autofree double *tdx = zeros (ny), *tdw = zeros (nw), *tdb = zeros (p.cin);
  double *tb = rnd (p.cin);
  ct.b = tb;
  ss_ref_conv_transpose_backward (&t, g, w, x, tdx, tdw, tdb);
  g_autofree char *n4 = g_strdup_printf ("%s transposed dx", name);
  g_autofree char *n5 = g_strdup_printf ("%s transposed dw", name);
  g_autofree char *n6 = g_strdup_printf ("%s transposed db", name);
  fd (n4, conv_loss, &ct, g, ny, tdx);
  fd (n5, conv_loss, &ct, w, nw, tdw);
  fd (n6, conv_loss, &ct, tb, p.cin, tdb);
  g_free (ct.y);
  g_free (tb);
}

static void
test_conv (void)
{
  /* pointwise conv1d == linear over channels */
  {
    SsRefConv p = { .n = 1, .cin = 3, .cout = 2, .groups = 1, .in = { 1, 1, 4 },
                    .k = { 1, 1, 1 }, .stride = { 1, 1, 1 }, .dil = { 1, 1, 1 } };
    g_autofree double *x = rnd (12), *w = rnd (6), *y = zeros (8), *xt = zeros (12), *y2 = zeros (8), *yt = zeros (8);
    ss_ref_conv (&p, x, w, NULL, y);
    transpose (x, xt, 3, 4);                    /* [4, 3] */
    ss_ref_linear (xt, w, NULL, y2, 4, 3, 2);   /* [4, 2] */
    transpose (y2, yt, 4, 2);
    ss_assert_close ("pointwise conv1d vs linear", yt, y, 8, 1e-28);
  }
  conv_case ("conv1d", (SsRefConv) { .n = 2, .cin = 4, .cout = 6, .groups = 2, .in = { 1, 1, 11 },
                                     .k = { 1, 1, 3 }, .stride = { 1, 1, 2 }, .pad = { 0, 0, 1 },
                                     .dil = { 1, 1, 1 } });
  conv_case ("conv1d dilated", (SsRefConv) { .n = 1, .cin = 3, .cout = 2, .groups = 1, .in = { 1, 1, 13 },
                                             .k = { 1, 1, 3 }, .stride = { 1, 1, 1 }, .pad = { 0, 0, 2 },
                                             .dil = { 1, 1, 2 } });
  conv_case ("conv2d", (SsRefConv) { .n = 2, .cin = 3, .cout = 4, .groups = 1, .in = { 1, 7, 6 },
                                     .k = { 1, 3, 3 }, .stride = { 1, 2, 1 }, .pad = { 0, 1, 1 },
                                     .dil = { 1, 1, 1 } });
  conv_case ("conv3d", (SsRefConv) { .n = 1, .cin = 2, .cout = 2, .groups = 1, .in = { 4, 5, 5 },
                                     .k = { 3, 2, 3 }, .stride = { 1, 2, 2 }, .pad = { 1, 0, 1 },
                                     .dil = { 1, 1, 1 } });
}

/* ================================================================ attention */

typedef struct {
  SsRefAttn p;
  double *q, *k, *v, *g, *o;
} AttnCase;

static double
attn_loss (void *ud)
{
  AttnCase *c = ud;
  ss_ref_attention (&c->p, c->q, c->k, c->v, c->o, NULL);
  return ss_check_dot (c->g, c->o, (size_t) c->p.b * c->p.h * c->p.lq * c->p.dv);
}

static void
attn_case (const char *name, SsRefAttn p)
{
  size_t nq = (size_t) p.b * p.h * p.lq * p.d, nk = (size_t) p.b * p.h * p.lk * p.d;
  size_t nv = (size_t) p.b * p.h * p.lk * p.dv, no = (size_t) p.b * p.h * p.lq * p.dv;
  g_autofree double *q = rnd (nq), *k = rnd (nk), *v = rnd (nv), *g = rnd (no), *o = zeros (no);
  AttnCase c = { .p = p, .q = q, .k = k, .v = v, .g = g, .o = o };
  attn_loss (&c);

  /* forward: softmax(scale q k^T + mask) v, composed from the other references */
  g_autofree double *o2 = zeros (no);
  g_autofree double *s = zeros ((size_t) p.lq * p.lk), *pr = zeros ((size_t) p.lq * p.lk);
  for (int b = 0; b < p.b; b++)
    for (int h = 0; h < p.h; h++)
      {
        size_t bh = (size_t) b * p.h + h;
        ss_ref_matmul (q + bh * p.lq * p.d, k + bh * p.lk * p.d, s, 1, p.lq, p.lk, p.d, FALSE, TRUE, 0, 0);
        for (int i = 0; i < p.lq; i++)
          for (int j = 0; j < p.lk; j++)
            {
              double *e = &s[(size_t) i * p.lk + j];
              *e *= p.scale;
              if (p.mask)
                *e += p.mask[b * p.mask_bstride + h * p.mask_hstride + (size_t) i * p.lk + j];
              int shift = p.causal_bottom_right ? p.lk - p.lq : 0;
              if (p.causal && j > i + shift)
                *e = -INFINITY;
            }
        ss_ref_softmax (s, pr, p.lq, p.lk, 1);
        for (int e = 0; e < p.lq * p.lk; e++)
          if (isnan (pr[e]))
            pr[e] = 0;     /* fully masked row: the op defines zeros */
        ss_ref_matmul (pr, v + bh * p.lk * p.dv, o2 + bh * p.lq * p.dv, 1, p.lq, p.dv, p.lk, FALSE, FALSE, 0, 0);
      }
  g_autofree char *nf = g_strdup_printf ("%s forward", name);
  ss_assert_close (nf, o2, o, no, 1e-26);

  g_autofree double *dq = zeros (nq), *dk = zeros (nk), *dv = zeros (nv);
  ss_ref_attention_backward (&p, q, k, v, g, dq, dk, dv);
  g_autofree char *n1 = g_strdup_printf ("%s dq", name);
  g_autofree char *n2 = g_strdup_printf ("%s dk", name);
  g_autofree char *n3 = g_strdup_printf ("%s dv", name);
  fd (n1, attn_loss, &c, q, nq, dq);
  fd (n2, attn_loss, &c, k, nk, dk);
  fd (n3, attn_loss, &c, v, nv, dv);
}

static void
test_attention (void)
{
  attn_case ("attention", (SsRefAttn) { .b = 2, .h = 2, .lq = 5, .lk = 5, .d = 4, .dv = 4, .scale = 0.5 });
  attn_case ("attention causal", (SsRefAttn) { .b = 1, .h = 2, .lq = 6, .lk = 6, .d = 4, .dv = 3,
                                               .scale = 0.5, .causal = TRUE });
  attn_case ("attention cross causal br", (SsRefAttn) { .b = 1, .h = 1, .lq = 3, .lk = 7, .d = 4, .dv = 5,
                                                        .scale = 0.7, .causal = TRUE,
                                                        .causal_bottom_right = TRUE });
  g_autofree double *mask = zeros (2 * 4 * 6);
  ss_check_fill_uniform (&rng, mask, 48, -2, 2);
  mask[3] = -INFINITY;     /* a masked-out key */
  for (int j = 0; j < 6; j++)
    mask[24 + 6 + j] = -INFINITY;   /* a fully masked row: zeros */
  attn_case ("attention cross masked", (SsRefAttn) { .b = 2, .h = 2, .lq = 4, .lk = 6, .d = 3, .dv = 2,
                                                     .scale = 0.6, .mask = mask, .mask_bstride = 24,
                                                     .mask_hstride = 0 });
  /* causal == explicit -inf upper triangle */
  SsRefAttn p = { .b = 1, .h = 1, .lq = 4, .lk = 4, .d = 3, .dv = 3, .scale = 1, .causal = TRUE };
  g_autofree double *q = rnd (12), *k = rnd (12), *v = rnd (12), *o1 = zeros (12), *o2 = zeros (12);
  g_autofree double *tri = zeros (16);
  for (int i = 0; i < 4; i++)
    for (int j = i + 1; j < 4; j++)
      tri[i * 4 + j] = -INFINITY;
  ss_ref_attention (&p, q, k, v, o1, NULL);
  p.causal = FALSE;
  p.mask = tri;
  ss_ref_attention (&p, q, k, v, o2, NULL);
  ss_assert_close ("causal vs mask", o2, o1, 12, 1e-28);
  /* first query sees only the first key */
  ss_assert_close ("causal row 0", v, o1, 3, 1e-28);
}

/* ================================================================ norms */

typedef struct {
  int kind;    /* 0 layer, 1 rms, 2 group */
  double *x, *w, *b, *g, *y;
  int n, c, s, groups;
  double eps;
} NormCase;

static double
norm_loss (void *ud)
{
  NormCase *c = ud;
  if (c->kind == 0)
    ss_ref_layer_norm (c->x, c->w, c->b, c->y, c->n, c->c, c->eps);
  else if (c->kind == 1)
    ss_ref_rms_norm (c->x, c->w, c->y, c->n, c->c, c->eps);
  else
    ss_ref_group_norm (c->x, c->w, c->b, c->y, c->n, c->c, c->s, c->groups, c->eps);
  return ss_check_dot (c->g, c->y, (size_t) c->n * c->c * c->s);
}

static void
test_norms (void)
{
  const char *names[] = { "layer norm", "rms norm", "group norm" };
  for (int kind = 0; kind < 3; kind++)
    {
      NormCase c = { .kind = kind, .n = 3, .c = 8, .s = kind == 2 ? 5 : 1, .groups = 4, .eps = 1e-5 };
      size_t nx = (size_t) c.n * c.c * c.s;
      g_autofree double *x = rnd (nx), *w = rnd (c.c), *b = rnd (c.c), *g = rnd (nx), *y = zeros (nx);
      c.x = x; c.w = w; c.b = b; c.g = g; c.y = y;
      g_autofree double *dx = zeros (nx), *dw = zeros (c.c), *db = zeros (c.c);
      if (kind == 0)
        ss_ref_layer_norm_backward (x, w, g, dx, dw, db, c.n, c.c, c.eps);
      else if (kind == 1)
        ss_ref_rms_norm_backward (x, w, g, dx, dw, c.n, c.c, c.eps);
      else
        ss_ref_group_norm_backward (x, w, g, dx, dw, db, c.n, c.c, c.s, c.groups, c.eps);
      g_autofree char *n1 = g_strdup_printf ("%s dx", names[kind]);
      g_autofree char *n2 = g_strdup_printf ("%s dw", names[kind]);
      g_autofree char *n3 = g_strdup_printf ("%s db", names[kind]);
      fd (n1, norm_loss, &c, x, nx, dx);
      fd (n2, norm_loss, &c, w, c.c, dw);
      if (kind != 1)
        fd (n3, norm_loss, &c, b, c.c, db);
    }

  /* forward identities: layer norm rows have mean 0 / variance 1, rms norm rows
   * mean square 1, group norm with one group = layer norm over (c, s) */
  g_autofree double *x = rnd (40), *y = zeros (40), *y2 = zeros (40);
  ss_ref_layer_norm (x, NULL, NULL, y, 4, 10, 0);
  for (int r = 0; r < 4; r++)
    {
      double m = 0, v = 0;
      for (int i = 0; i < 10; i++)
        m += y[r * 10 + i] / 10;
      for (int i = 0; i < 10; i++)
        v += (y[r * 10 + i] - m) * (y[r * 10 + i] - m) / 10;
      g_assert_cmpfloat (fabs (m), <, 1e-12);
      g_assert_cmpfloat (fabs (v - 1), <, 1e-12);
    }
  ss_ref_rms_norm (x, NULL, y, 4, 10, 0);
  for (int r = 0; r < 4; r++)
    {
      double ms = 0;
      for (int i = 0; i < 10; i++)
        ms += y[r * 10 + i] * y[r * 10 + i] / 10;
      g_assert_cmpfloat (fabs (ms - 1), <, 1e-12);
    }
  ss_ref_group_norm (x, NULL, NULL, y, 2, 4, 5, 1, 1e-5);
  ss_ref_layer_norm (x, NULL, NULL, y2, 2, 20, 1e-5);
  ss_assert_close ("group norm 1 group vs layer norm", y2, y, 40, 1e-28);
}

/* ================================================================ softmax */

typedef struct {
  gboolean log;
  double *x, *g, *y;
  int outer, n, inner;
} SmCase;

static double
sm_loss (void *ud)
{
  SmCase *c = ud;
  if (c->log)
    ss_ref_log_softmax (c->x, c->y, c->outer, c->n, c->inner);
  else
    ss_ref_softmax (c->x, c->y, c->outer, c->n, c->inner);
  return ss_check_dot (c->g, c->y, (size_t) c->outer * c->n * c->inner);
}

static void
test_softmax (void)
{
  for (int lg = 0; lg < 2; lg++)
    {
      SmCase c = { .log = lg, .outer = 3, .n = 7, .inner = 2 };
      g_autofree double *x = rnd (42), *g = rnd (42), *y = zeros (42), *dx = zeros (42);
      ss_check_fill_uniform (&rng, x, 42, -4, 4);
      c.x = x; c.g = g; c.y = y;
      sm_loss (&c);
      if (lg)
        ss_ref_log_softmax_backward (y, g, dx, 3, 7, 2);
      else
        ss_ref_softmax_backward (y, g, dx, 3, 7, 2);
      fd (lg ? "log softmax dx" : "softmax dx", sm_loss, &c, x, 42, dx);
    }
  /* sums to one along the axis; log_softmax = log(softmax); shift invariant */
  g_autofree double *x = rnd (42), *y = zeros (42), *ly = zeros (42), *y2 = zeros (42);
  ss_ref_softmax (x, y, 3, 7, 2);
  ss_ref_log_softmax (x, ly, 3, 7, 2);
  for (int o = 0; o < 3; o++)
    for (int k = 0; k < 2; k++)
      {
        double s = 0;
        for (int i = 0; i < 7; i++)
          s += y[(o * 7 + i) * 2 + k];
        g_assert_cmpfloat (fabs (s - 1), <, 1e-14);
      }
  for (int i = 0; i < 42; i++)
    {
      g_assert_cmpfloat (fabs (log (y[i]) - ly[i]), <, 1e-13);
      x[i] += 1000;
    }
  ss_ref_softmax (x, y2, 3, 7, 2);
  ss_assert_close ("softmax shift", y, y2, 42, 1e-24);
}

/* ================================================================ unary */

typedef struct {
  SsRefUnary op;
  double a, b;
  double *x, *g, *y;
  size_t n;
} UnCase;

static double
un_loss (void *ud)
{
  UnCase *c = ud;
  ss_ref_unary (c->op, c->x, c->y, c->n, c->a, c->b);
  return ss_check_dot (c->g, c->y, c->n);
}

static void
test_unary (void)
{
  /* published values: GELU(1) = Phi(1) = 0.8413447460685429; tanh approximation
   * 0.8411919906082768; SiLU(1) = sigmoid(1) = 0.7310585786300049 */
  g_assert_cmpfloat (fabs (ss_ref_unary_f (SS_REF_GELU_ERF, 1, 0, 0) - 0.8413447460685429), <, 1e-15);
  g_assert_cmpfloat (fabs (ss_ref_unary_f (SS_REF_GELU_TANH, 1, 0, 0) - 0.8411919906082768), <, 1e-15);
  g_assert_cmpfloat (fabs (ss_ref_unary_f (SS_REF_SILU, 1, 0, 0) - 0.7310585786300049), <, 1e-15);
  g_assert_cmpfloat (fabs (ss_ref_unary_f (SS_REF_GELU_ERF, -3, 0, 0) - -3 * 0.0013498980316301), <, 1e-15);

  for (int op = 0; op < SS_REF_UNARY_COUNT; op++)
    {
      UnCase c = { .op = op, .a = 1.7, .b = -0.3, .n = 50 };
      g_autofree double *x = zeros (50), *g = rnd (50), *y = zeros (50), *dx = zeros (50);
      gboolean positive = op == SS_REF_LOG || op == SS_REF_SQRT || op == SS_REF_RSQRT || op == SS_REF_POW;
      if (positive)
        ss_check_fill_uniform (&rng, x, 50, 0.2, 3);
      else
        ss_check_fill_away (&rng, x, 50, 0.05, 3);
      c.x = x; c.g = g; c.y = y;
      ss_ref_unary_backward (op, x, g, dx, 50, c.a, c.b);
      fd (ss_ref_unary_name (op), un_loss, &c, x, 50, dx);
    }
}

/* ================================================================ binary */

typedef struct {
  SsRefBinary op;
  int ndim;
  int sa[5], sb[5], so[5];
  double *a, *b, *g, *y;
  size_t ny;
} BinCase;

static double
bin_loss (void *ud)
{
  BinCase *c = ud;
  ss_ref_binary (c->op, c->ndim, c->a, c->sa, c->b, c->sb, c->y);
  return ss_check_dot (c->g, c->y, c->ny);
}

static size_t
prod (const int *s, int n)
{
  size_t p = 1;
  for (int i = 0; i < n; i++)
    p *= s[i];
  return p;
}

static void
test_binary (void)
{
  static const int shapes[][2][4] = {
    { { 2, 3, 4, 5 }, { 2, 3, 4, 5 } },
    { { 2, 3, 4, 5 }, { 1, 1, 1, 5 } },
    { { 2, 1, 4, 1 }, { 1, 3, 1, 5 } },
    { { 1, 1, 1, 1 }, { 2, 3, 1, 5 } },
  };
  for (int op = 0; op < SS_REF_BINARY_COUNT; op++)
    for (guint s = 0; s < G_N_ELEMENTS (shapes); s++)
      {
        BinCase c = { .op = op, .ndim = 4 };
        memcpy (c.sa, shapes[s][0], sizeof (int) * 4);
        memcpy (c.sb, shapes[s][1], sizeof (int) * 4);
        g_assert_true (ss_ref_broadcast_shape (4, c.sa, c.sb, c.so));
        size_t na = prod (c.sa, 4), nb = prod (c.sb, 4);
        c.ny = prod (c.so, 4);
        g_autofree double *a = rnd (na), *b = zeros (nb), *g = rnd (c.ny), *y = zeros (c.ny);
        ss_check_fill_away (&rng, b, nb, 0.5, 2);
        c.a = a; c.b = b; c.g = g; c.y = y;
        bin_loss (&c);
        /* forward: against explicitly expanded operands */
        for (int d0 = 0; d0 < c.so[0]; d0++)
          for (int d1 = 0; d1 < c.so[1]; d1++)
            for (int d2 = 0; d2 < c.so[2]; d2++)
              for (int d3 = 0; d3 < c.so[3]; d3++)
                {
                  int ia[4] = { d0 % c.sa[0], d1 % c.sa[1], d2 % c.sa[2], d3 % c.sa[3] };
                  int ib[4] = { d0 % c.sb[0], d1 % c.sb[1], d2 % c.sb[2], d3 % c.sb[3] };
                  double va = a[((ia[0] * c.sa[1] + ia[1]) * c.sa[2] + ia[2]) * c.sa[3] + ia[3]];
                  double vb = b[((ib[0] * c.sb[1] + ib[1]) * c.sb[2] + ib[2]) * c.sb[3] + ib[3]];
                  double want = op == SS_REF_ADD ? va + vb : op == SS_REF_SUB ? va - vb
                              : op == SS_REF_MUL ? va * vb : va / vb;
                  g_assert_cmpfloat (y[((d0 * c.so[1] + d1) * c.so[2] + d2) * c.so[3] + d3], ==, want);
                }
        g_autofree double *da = zeros (na), *db = zeros (nb);
        ss_ref_binary_backward (op, 4, a, c.sa, b, c.sb, g, da, db);
        g_autofree char *n1 = g_strdup_printf ("%s shape %u da", ss_ref_binary_name (op), s);
        g_autofree char *n2 = g_strdup_printf ("%s shape %u db", ss_ref_binary_name (op), s);
        fd (n1, bin_loss, &c, a, na, da);
        fd (n2, bin_loss, &c, b, nb, db);
      }
  int s1[] = { 2, 3 }, s2[] = { 3, 2 }, so[2];
  g_assert_false (ss_ref_broadcast_shape (2, s1, s2, so));
}

/* ================================================================ reduce */

typedef struct {
  SsRefReduce op;
  double *x, *g, *y;
  int outer, n, inner;
} RedCase;

static double
red_loss (void *ud)
{
  RedCase *c = ud;
  ss_ref_reduce (c->op, c->x, c->y, c->outer, c->n, c->inner);
  return ss_check_dot (c->g, c->y, (size_t) c->outer * c->inner);
}

static void
test_reduce (void)
{
  double x[] = { 1, 2, 3, 4, 5, 6 }, y[3];
  /* [2, 3] over axis 0 */
  ss_ref_reduce (SS_REF_SUM, x, y, 1, 2, 3);
  g_assert_cmpfloat (y[0], ==, 5); g_assert_cmpfloat (y[2], ==, 9);
  ss_ref_reduce (SS_REF_MEAN, x, y, 2, 3, 1);
  g_assert_cmpfloat (y[0], ==, 2); g_assert_cmpfloat (y[1], ==, 5);
  ss_ref_reduce (SS_REF_MAX, x, y, 1, 2, 3);
  g_assert_cmpfloat (y[1], ==, 5);
  for (int op = 0; op < SS_REF_REDUCE_COUNT; op++)
    {
      RedCase c = { .op = op, .outer = 3, .n = 6, .inner = 4 };
      g_autofree double *xx = rnd (72), *g = rnd (12), *yy = zeros (12), *dx = zeros (72);
      c.x = xx; c.g = g; c.y = yy;
      ss_ref_reduce_backward (op, xx, g, dx, 3, 6, 4);
      fd (ss_ref_reduce_name (op), red_loss, &c, xx, 72, dx);
    }
}

/* ================================================================ concat / slice / permute / gather */

typedef struct {
  int which;   /* 0 concat, 1 slice, 2 permute, 3 gather */
  double *xs[3], *g, *y;
  int ns[3], outer, inner;
  int n, start, len, step;
  int ndim, sx[5], perm[5];
  gint32 *idx;
  int m;
  size_t ny;
} ShapeCase;

static double
shape_loss (void *ud)
{
  ShapeCase *c = ud;
  switch (c->which)
    {
    case 0: ss_ref_concat (3, (const double *const *) c->xs, c->ns, c->y, c->outer, c->inner); break;
    case 1: ss_ref_slice (c->xs[0], c->y, c->outer, c->n, c->inner, c->start, c->len, c->step); break;
    case 2: ss_ref_permute (c->xs[0], c->y, c->ndim, c->sx, c->perm); break;
    case 3: ss_ref_gather (c->xs[0], c->idx, c->y, c->outer, c->n, c->inner, c->m); break;
    }
  return ss_check_dot (c->g, c->y, c->ny);
}

static void
test_concat_slice (void)
{
  ShapeCase c = { .which = 0, .ns = { 2, 3, 1 }, .outer = 3, .inner = 4 };
  c.ny = 3 * 6 * 4;
  for (int i = 0; i < 3; i++)
    c.xs[i] = rnd ((size_t) 3 * c.ns[i] * 4);
  c.g = rnd (c.ny);
  c.y = zeros (c.ny);
  shape_loss (&c);
  /* slicing the concat gives back each input */
  int off = 0;
  for (int i = 0; i < 3; i++)
    {
      g_autofree double *s = zeros ((size_t) 3 * c.ns[i] * 4);
      ss_ref_slice (c.y, s, 3, 6, 4, off, c.ns[i], 1);
      ss_assert_close ("slice of concat", c.xs[i], s, (size_t) 3 * c.ns[i] * 4, 0);
      off += c.ns[i];
    }
  double *dxs[3];
  for (int i = 0; i < 3; i++)
    dxs[i] = zeros ((size_t) 3 * c.ns[i] * 4);
  ss_ref_concat_backward (3, c.ns, c.g, dxs, 3, 4);
  for (int i = 0; i < 3; i++)
    fd ("concat dx", shape_loss, &c, c.xs[i], (size_t) 3 * c.ns[i] * 4, dxs[i]);
  for (int i = 0; i < 3; i++)
    {
      g_free (dxs[i]);
      g_free (c.xs[i]);
    }
  g_free (c.g);
  g_free (c.y);

  /* strided slice */
  ShapeCase s = { .which = 1, .outer = 2, .n = 10, .inner = 3, .start = 1, .len = 4, .step = 2 };
  s.ny = 2 * 4 * 3;
  g_autofree double *x = rnd (60), *g = rnd (s.ny), *y = zeros (s.ny), *dx = zeros (60);
  s.xs[0] = x; s.g = g; s.y = y;
  shape_loss (&s);
  g_assert_cmpfloat (y[0], ==, x[3]);          /* (0, 1, 0) */
  g_assert_cmpfloat (y[3 + 1], ==, x[3 * 3 + 1]); /* (0, 3, 1) */
  ss_ref_slice_backward (g, dx, 2, 10, 3, 1, 4, 2);
  fd ("slice dx", shape_loss, &s, x, 60, dx);
  g_assert_cmpfloat (dx[0], ==, 0);            /* untouched rows get no gradient */
}

static void
test_permute (void)
{
  /* 2-D transpose */
  double x[] = { 1, 2, 3, 4, 5, 6 }, y[6], want[] = { 1, 4, 2, 5, 3, 6 };
  int sx[] = { 2, 3 }, perm[] = { 1, 0 };
  ss_ref_permute (x, y, 2, sx, perm);
  ss_assert_close ("transpose", want, y, 6, 0);

  ShapeCase c = { .which = 2, .ndim = 5, .sx = { 2, 3, 1, 4, 2 }, .perm = { 3, 0, 4, 2, 1 } };
  c.ny = 48;
  g_autofree double *xx = rnd (48), *g = rnd (48), *yy = zeros (48), *dx = zeros (48), *back = zeros (48);
  c.xs[0] = xx; c.g = g; c.y = yy;
  shape_loss (&c);
  /* permute back with the inverse permutation */
  int inv[5], sy[5];
  for (int d = 0; d < 5; d++)
    {
      inv[c.perm[d]] = d;
      sy[d] = c.sx[c.perm[d]];
    }
  ss_ref_permute (yy, back, 5, sy, inv);
  ss_assert_close ("permute inverse", xx, back, 48, 0);
  ss_ref_permute_backward (g, dx, 5, c.sx, c.perm);
  fd ("permute dx", shape_loss, &c, xx, 48, dx);
}

static void
test_gather (void)
{
  gint32 idx[] = { 3, 0, 3, 5, 1 };
  ShapeCase c = { .which = 3, .outer = 2, .n = 6, .inner = 4, .m = 5, .idx = idx };
  c.ny = 2 * 5 * 4;
  g_autofree double *x = rnd (48), *g = rnd (c.ny), *y = zeros (c.ny), *dx = zeros (48);
  c.xs[0] = x; c.g = g; c.y = y;
  shape_loss (&c);
  ss_assert_close ("gather row", x + 3 * 4, y, 4, 0);
  ss_assert_close ("gather outer", x + (6 + 5) * 4, y + (5 + 3) * 4, 4, 0);
  ss_ref_gather_backward (idx, g, dx, 2, 6, 4, 5);
  fd ("gather dx (repeated index)", shape_loss, &c, x, 48, dx);
  g_assert_cmpfloat (dx[2 * 4], ==, 0);   /* row 2 never gathered */
}

/* ================================================================ rope */

typedef struct {
  SsRefRope p;
  double *x, *g, *y;
  size_t n;
} RopeCase;

static double
rope_loss (void *ud)
{
  RopeCase *c = ud;
  ss_ref_rope (&c->p, c->x, c->y);
  return ss_check_dot (c->g, c->y, c->n);
}

static void
test_rope (void)
{
  for (int il = 0; il < 2; il++)
    {
      RopeCase c = { .p = { .outer = 2, .len = 5, .heads = 3, .dim = 10, .rot_dim = 8,
                            .base = 10000, .interleaved = il } };
      c.n = 2 * 5 * 3 * 10;
      g_autofree double *x = rnd (c.n), *g = rnd (c.n), *y = zeros (c.n), *dx = zeros (c.n);
      c.x = x; c.g = g; c.y = y;
      rope_loss (&c);
      /* position 0 is the identity; rotation keeps each head's norm; the
       * features past rot_dim pass through */
      ss_assert_close ("rope pos 0", x, y, 30, 0);
      for (size_t h = 0; h < c.n / 10; h++)
        {
          double n0 = ss_check_dot (x + h * 10, x + h * 10, 10);
          double n1 = ss_check_dot (y + h * 10, y + h * 10, 10);
          g_assert_cmpfloat (fabs (n0 - n1), <, 1e-12);
          g_assert_cmpfloat (y[h * 10 + 9], ==, x[h * 10 + 9]);
        }
      ss_ref_rope_backward (&c.p, g, dx);
      fd (il ? "rope interleaved dx" : "rope half dx", rope_loss, &c, x, c.n, dx);

      /* relative positions: <rope(q, m), rope(k, n)> depends only on m - n */
      double pos[2];
      SsRefRope p1 = { .outer = 1, .len = 2, .heads = 1, .dim = 8, .rot_dim = 8, .base = 100,
                       .interleaved = il, .pos = pos };
      g_autofree double *qk = rnd (16), *r1 = zeros (16), *r2 = zeros (16);
      pos[0] = 3; pos[1] = 7;
      ss_ref_rope (&p1, qk, r1);
      pos[0] = 10; pos[1] = 14;
      ss_ref_rope (&p1, qk, r2);
      g_assert_cmpfloat (fabs (ss_check_dot (r1, r1 + 8, 8) - ss_check_dot (r2, r2 + 8, 8)), <, 1e-12);
      g_assert_cmpfloat (fabs (r1[0] - r2[0]), >, 1e-3);   /* but the vectors moved */
    }
  /* interleaved and half-split are the same rotation up to a feature permutation */
  SsRefRope a = { .outer = 1, .len = 4, .heads = 1, .dim = 6, .rot_dim = 6, .base = 10000, .interleaved = TRUE };
  SsRefRope b = a;
  b.interleaved = FALSE;
  g_autofree double *x = rnd (24), *xp = zeros (24), *ya = zeros (24), *yb = zeros (24), *yap = zeros (24);
  for (int l = 0; l < 4; l++)
    for (int i = 0; i < 3; i++)
      {
        xp[l * 6 + i] = x[l * 6 + 2 * i];
        xp[l * 6 + i + 3] = x[l * 6 + 2 * i + 1];
      }
  ss_ref_rope (&a, x, ya);
  ss_ref_rope (&b, xp, yb);
  for (int l = 0; l < 4; l++)
    for (int i = 0; i < 3; i++)
      {
        yap[l * 6 + i] = ya[l * 6 + 2 * i];
        yap[l * 6 + i + 3] = ya[l * 6 + 2 * i + 1];
      }
  ss_assert_close ("rope layouts", yap, yb, 24, 1e-28);
}

/* ================================================================ interp */

typedef struct {
  SsRefInterpMode mode;
  gboolean align;
  double *x, *g, *y;
  int nc, ih, iw, oh, ow;
} InterpCase;

static double
interp_loss (void *ud)
{
  InterpCase *c = ud;
  ss_ref_interp (c->mode, c->align, c->x, c->y, c->nc, c->ih, c->iw, c->oh, c->ow);
  return ss_check_dot (c->g, c->y, (size_t) c->nc * c->oh * c->ow);
}

static void
test_interp (void)
{
  /* nearest x2 repeats; linear align_corners reproduces a ramp; linear without
   * align_corners matches PyTorch's [0, 1] -> 4: 0, .25, .75, 1 */
  double x[] = { 0, 1 }, y[4];
  ss_ref_interp (SS_REF_INTERP_NEAREST, FALSE, x, y, 1, 1, 2, 1, 4);
  g_assert_cmpfloat (y[0], ==, 0); g_assert_cmpfloat (y[1], ==, 0);
  g_assert_cmpfloat (y[2], ==, 1); g_assert_cmpfloat (y[3], ==, 1);
  ss_ref_interp (SS_REF_INTERP_LINEAR, FALSE, x, y, 1, 1, 2, 1, 4);
  double want[] = { 0, 0.25, 0.75, 1 };
  ss_assert_close ("linear [0,1]->4", want, y, 4, 1e-30);
  double ramp[5] = { 0, 1, 2, 3, 4 }, r9[9], want9[9];
  ss_ref_interp (SS_REF_INTERP_LINEAR, TRUE, ramp, r9, 1, 1, 5, 1, 9);
  for (int i = 0; i < 9; i++)
    want9[i] = i * 0.5;
  ss_assert_close ("linear align_corners ramp", want9, r9, 9, 1e-30);

  for (int mode = 0; mode < 2; mode++)
    for (int align = 0; align < 2; align++)
      for (int dims = 1; dims <= 2; dims++)
        for (int up = 0; up < 2; up++)
          {
            if (mode == SS_REF_INTERP_NEAREST && align)
              continue;
            InterpCase c = { .mode = mode, .align = align, .nc = 3,
                             .ih = dims == 2 ? 4 : 1, .iw = 5 };
            c.oh = dims == 2 ? (up ? 7 : 3) : 1;
            c.ow = up ? 9 : 3;
            size_t nx = (size_t) c.nc * c.ih * c.iw, ny = (size_t) c.nc * c.oh * c.ow;
            g_autofree double *xx = rnd (nx), *g = rnd (ny), *yy = zeros (ny), *dx = zeros (nx);
            c.x = xx; c.g = g; c.y = yy;
            ss_ref_interp_backward (mode, align, g, dx, c.nc, c.ih, c.iw, c.oh, c.ow);
            g_autofree char *name = g_strdup_printf ("interp %s%s %dd %s dx",
                                                     mode ? "linear" : "nearest",
                                                     align ? " align" : "", dims, up ? "up" : "down");
            fd (name, interp_loss, &c, xx, nx, dx);
          }
}

/* ================================================================ losses */

typedef struct {
  int which;
  double *x, *t;
  gint32 *tgt;
  int rows, classes, ignore;
  double smooth, temp;
  gboolean normalize;
  size_t n;
} LossCase;

static double
loss_fn (void *ud)
{
  LossCase *c = ud;
  switch (c->which)
    {
    case 0: return ss_ref_mse_loss (c->x, c->t, c->n);
    case 1: return ss_ref_cross_entropy (c->x, c->tgt, c->rows, c->classes, c->ignore, c->smooth);
    default: return ss_ref_infonce (c->x, c->t, c->rows, c->classes, c->temp, c->normalize);
    }
}

static double
infonce_temp_loss (void *ud)
{
  LossCase *c = ud;
  return ss_ref_infonce (c->x, c->t, c->rows, c->classes, c->temp, c->normalize);
}

static void
test_losses (void)
{
  /* MSE */
  double a[] = { 1, 2, 3 }, b[] = { 1, 0, 6 };
  g_assert_cmpfloat (fabs (ss_ref_mse_loss (a, b, 3) - 13.0 / 3), <, 1e-15);
  LossCase m = { .which = 0, .n = 20 };
  g_autofree double *x = rnd (20), *t = rnd (20), *dx = zeros (20), *dt = zeros (20);
  m.x = x; m.t = t;
  ss_ref_mse_loss_backward (x, t, 20, 1.0, dx, dt);
  fd ("mse dx", loss_fn, &m, x, 20, dx);
  fd ("mse dt", loss_fn, &m, t, 20, dt);

  /* cross-entropy: uniform logits give log(C); ignore_index skips rows */
  g_autofree double *u = zeros (12);
  gint32 tg[] = { 0, 3, -100 };
  g_assert_cmpfloat (fabs (ss_ref_cross_entropy (u, tg, 3, 4, -100, 0) - log (4)), <, 1e-15);
  for (int ls = 0; ls < 2; ls++)
    {
      LossCase c = { .which = 1, .rows = 6, .classes = 5, .ignore = -100, .smooth = ls ? 0.1 : 0 };
      gint32 tgt[] = { 0, 4, -100, 2, 2, 1 };
      g_autofree double *lg = rnd (30), *dl = zeros (30);
      ss_check_fill_uniform (&rng, lg, 30, -3, 3);
      c.x = lg; c.tgt = tgt;
      ss_ref_cross_entropy_backward (lg, tgt, 6, 5, -100, c.smooth, 1.0, dl);
      fd (ls ? "cross-entropy smoothed dlogits" : "cross-entropy dlogits", loss_fn, &c, lg, 30, dl);
      for (int k = 0; k < 5; k++)
        g_assert_cmpfloat (dl[2 * 5 + k], ==, 0);   /* ignored row */
    }

  /* InfoNCE: symmetric in (a, b); perfectly aligned pairs at low temperature ~ 0 */
  for (int norm = 0; norm < 2; norm++)
    {
      LossCase c = { .which = 2, .rows = 5, .classes = 6, .temp = 0.3, .normalize = norm };
      g_autofree double *ea = rnd (30), *eb = rnd (30), *da = zeros (30), *db = zeros (30);
      double dtemp = 0;
      c.x = ea; c.t = eb;
      double l1 = ss_ref_infonce (ea, eb, 5, 6, 0.3, norm), l2 = ss_ref_infonce (eb, ea, 5, 6, 0.3, norm);
      g_assert_cmpfloat (fabs (l1 - l2), <, 1e-12);
      ss_ref_infonce_backward (ea, eb, 5, 6, 0.3, norm, 1.0, da, db, &dtemp);
      fd (norm ? "infonce normalized da" : "infonce da", loss_fn, &c, ea, 30, da);
      fd (norm ? "infonce normalized db" : "infonce db", loss_fn, &c, eb, 30, db);
      fd ("infonce dtemperature", infonce_temp_loss, &c, &c.temp, 1, &dtemp);
    }
  g_autofree double *eye = zeros (16);
  for (int i = 0; i < 4; i++)
    eye[i * 4 + i] = 1;
  g_assert_cmpfloat (ss_ref_infonce (eye, eye, 4, 4, 0.01, TRUE), <, 1e-30 + 1e-40);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  ss_rng_init (&rng, ss_check_seed (1234));
  g_test_add_func ("/ref/matmul", test_matmul);
  g_test_add_func ("/ref/linear", test_linear);
  g_test_add_func ("/ref/conv", test_conv);
  g_test_add_func ("/ref/attention", test_attention);
  g_test_add_func ("/ref/norms", test_norms);
  g_test_add_func ("/ref/softmax", test_softmax);
  g_test_add_func ("/ref/unary", test_unary);
  g_test_add_func ("/ref/binary", test_binary);
  g_test_add_func ("/ref/reduce", test_reduce);
  g_test_add_func ("/ref/concat-slice", test_concat_slice);
  g_test_add_func ("/ref/permute", test_permute);
  g_test_add_func ("/ref/gather", test_gather);
  g_test_add_func ("/ref/rope", test_rope);
  g_test_add_func ("/ref/interp", test_interp);
  g_test_add_func ("/ref/losses", test_losses);
  return g_test_run ();
}
