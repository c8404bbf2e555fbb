#version 450
/* Layer / RMS / group norm, forward and backward.
 * Data: nblocks blocks of block_len contiguous elements, each normalized on
 * its own. Element i of block bk has channel (bk % groups) * cg + i / s
 * (layer/RMS norm: groups 1, cg = block_len, s = 1; group norm over
 * [N, C, S]: block = (n, g), cg = C / groups, s = S).
 * STAGE 0: forward (y, stats = (mean, rstd) per block, fp32)
 * STAGE 1: dx, one workgroup per block
 * STAGE 2: dw / db, one workgroup per channel
 * STAGE 3: dw / db for s == 1 and groups == 1 (layer / RMS norm): one
 *          workgroup per 32 channels, 4 row lanes, coalesced reads
 * Long blocks (block_len > 8192, e.g. group norm on images) split the work
 * over chunks of chunk_len elements so that every SM has work:
 * STAGE 4: per (block, chunk) mean and M2 -> part
 * STAGE 5: per block (one thread) Chan's combination -> stats
 * STAGE 6: per element y
 * STAGE 7: per (block, chunk) sums of g and g * xhat -> part
 * STAGE 8: per block (one thread) means -> part[2 nparts + 2 bk]
 * STAGE 9: per element dx
 * Many rows (layer / RMS norm dw / db), rows split in chunks of chunk_len rows:
 * STAGE 10: per (32 channels, row chunk) sums -> part[2 (chunk channels + c)]
 * STAGE 11: per channel (one thread) sums over the chunks -> dw / db
 * STAGE 12: forward of layer / RMS norm for rows of at most 4 x 4 x OPS_WG
 *          elements in multiples of 4 at 4-element offsets: the row is read
 *          once into registers in units of 4 (stage 0 reads it three times)
 * STAGE 13: dx of stage 1 for the rows stage 12 takes, dy and x read once
 * STAGE 14, 15: stages 12 and 13 with a subgroup per row (OPS_WG /
 *          gl_SubgroupSize rows a workgroup, rows of at most 8 units of 4 a
 *          lane), sums by subgroup arithmetic without barriers: for CPU
 *          devices, where a workgroup's barriers are costly (lavapipe)
 * RMS 1: no mean subtraction (RMS norm).
 * VEC 1 (stages 4, 6, 7, 9): block_len, chunk_len, s and the offsets are
 * multiples of 4, so groups of 4 elements share a channel and load / store as
 * one unit; stages 4 and 7 keep their chunk (at most 8 units a thread) in
 * registers and read it once, stages 6 and 9 take 4 units a thread. */
#include "ss-common.glsl"
#define OPS_WG 128
#include "ops/ops-common.glsl"
layout (local_size_x = OPS_WG) in;
layout (constant_id = 0) const uint STAGE = 0;
layout (constant_id = 1) const uint RMS = 0;
layout (constant_id = 2) const uint VEC = 0;

layout (binding = 0) readonly buffer X { SS_T x[]; };
layout (binding = 1) readonly buffer W { SS_T w[]; };
layout (binding = 2) readonly buffer Bi { SS_T bias[]; };
layout (binding = 3) readonly buffer DY { SS_T dy[]; };
layout (binding = 4) buffer ST { float stats[]; };
layout (binding = 5) writeonly buffer Y { SS_T y[]; };     /* y or dx or dw */
layout (binding = 6) writeonly buffer DB { SS_T db[]; };   /* db (stage 2) */
layout (binding = 7) buffer PT { float part[]; };          /* stages 4..9 */
/* groups of 4 elements as one unit (stage 12) */
layout (binding = 0) readonly buffer X4 { SS_T4 x4[]; };
layout (binding = 1) readonly buffer W4 { SS_T4 w4[]; };
layout (binding = 2) readonly buffer Bi4 { SS_T4 bias4[]; };
layout (binding = 3) readonly buffer DY4 { SS_T4 dy4[]; };
layout (binding = 5) writeonly buffer Y4 { SS_T4 y4[]; };
layout (push_constant) uniform P {
  uint nblocks, block_len, s, cg, groups, channels;
  uint x_off, w_off, b_off, dy_off, y_off, db_off;
  uint has_w, has_b;
  float eps;
  uint chunk_len, chunks;
} p;

uint chan (uint bk, uint i) { return (bk % p.groups) * p.cg + i / p.s; }
float wv (uint c) { return p.has_w != 0 ? SS_LOAD (w[p.w_off + c]) : 1.0; }
float bv (uint c) { return p.has_b != 0 ? SS_LOAD (bias[p.b_off + c]) : 0.0; }

void main ()
{
  uint lid = gl_LocalInvocationID.x;
  uint g = ss_linear_group ();
  float inv_len = 1.0 / float (p.block_len);
  if ((STAGE == 4 || STAGE == 7) && VEC != 0) {
    if (g >= p.nblocks * p.chunks)
      return;
    uint bk = g / p.chunks, c = g % p.chunks;
    uint lo = c * p.chunk_len, hi = min (p.block_len, lo + p.chunk_len);
    uint n4 = (hi - lo) / 4u, base = bk * p.block_len + lo;
    vec4 v[8], gv[8];
    float s = 0.0, q = 0.0;
    for (uint k = 0; k < 8u; k++) {
      uint j = lid + k * OPS_WG;
      v[k] = j < n4 ? ss_load4 (x4[(p.x_off + base) / 4u + j]) : vec4 (0.0);
      gv[k] = vec4 (0.0);
      if (STAGE == 7 && j < n4)
        gv[k] = ss_load4 (dy4[(p.dy_off + base) / 4u + j]) * wv (chan (bk, lo + 4u * j));
    }
    if (STAGE == 4) {
      float mean = 0.0;
      if (RMS == 0) {
        for (uint k = 0; k < 8u; k++)
          s += (v[k].x + v[k].y) + (v[k].z + v[k].w);
        mean = ops_wg_sum (s) / float (hi - lo);
      }
      for (uint k = 0; k < 8u; k++)
        if (lid + k * OPS_WG < n4) {
          vec4 d = v[k] - mean;
          q += dot (d, d);
        }
      q = ops_wg_sum (q);
      if (lid == 0) {
        part[2 * g] = mean;
        part[2 * g + 1] = q;
      }
    } else {
      float mu = stats[2 * bk], rstd = stats[2 * bk + 1];
      for (uint k = 0; k < 8u; k++) {
        s += (gv[k].x + gv[k].y) + (gv[k].z + gv[k].w);
        q += dot (gv[k], (v[k] - mu) * rstd);
      }
      s = ops_wg_sum (s);
      q = ops_wg_sum (q);
      if (lid == 0) {
        part[2 * g] = s;
        part[2 * g + 1] = q;
      }
    }
    return;
  }
  if ((STAGE == 6 || STAGE == 9) && VEC != 0) {
    uint total4 = p.nblocks * p.block_len / 4u;
    uint e0 = g * (4u * OPS_WG) + lid;
    vec4 v[4], gv[4];
    for (uint k = 0; k < 4u; k++) {
      uint e4 = e0 + k * OPS_WG;
      v[k] = e4 < total4 ? ss_load4 (x4[p.x_off / 4u + e4]) : vec4 (0.0);
      gv[k] = STAGE == 9 && e4 < total4 ? ss_load4 (dy4[p.dy_off / 4u + e4]) : vec4 (0.0);
    }
    for (uint k = 0; k < 4u; k++) {
      uint e4 = e0 + k * OPS_WG;
      if (e4 >= total4)
        break;
      uint bk = (4u * e4) / p.block_len, c = chan (bk, 4u * e4 - bk * p.block_len);
      float mu = stats[2 * bk], rstd = stats[2 * bk + 1];
      vec4 xh = (v[k] - mu) * rstd;
      if (STAGE == 6) {
        y4[p.y_off / 4u + e4] = ss_store4 (xh * wv (c) + (RMS == 0 ? bv (c) : 0.0));
      } else {
        uint o = 2 * p.nblocks * p.chunks;
        y4[p.y_off / 4u + e4] = ss_store4 (rstd * (gv[k] * wv (c) - part[o + 2 * bk] - xh * part[o + 2 * bk + 1]));
      }
    }
    return;
  }
  if (STAGE == 4 || STAGE == 7) {
    if (g >= p.nblocks * p.chunks)
      return;
    uint bk = g / p.chunks, c = g % p.chunks;
    uint lo = c * p.chunk_len, hi = min (p.block_len, lo + p.chunk_len);
    uint base = bk * p.block_len;
    if (STAGE == 4) {
      float mean = 0.0;
      if (RMS == 0) {
        float s = 0.0;
        for (uint i = lo + lid; i < hi; i += OPS_WG)
          s += SS_LOAD (x[p.x_off + base + i]);
        mean = ops_wg_sum (s) / float (hi - lo);
      }
      float m2 = 0.0;
      for (uint i = lo + lid; i < hi; i += OPS_WG) {
        float d = SS_LOAD (x[p.x_off + base + i]) - mean;
        m2 += d * d;
      }
      m2 = ops_wg_sum (m2);
      if (lid == 0) {
        part[2 * g] = mean;
        part[2 * g + 1] = m2;
      }
    } else {
      float mu = stats[2 * bk], rstd = stats[2 * bk + 1];
      float sg = 0.0, sgx = 0.0;
      for (uint i = lo + lid; i < hi; i += OPS_WG) {
        float gg = SS_LOAD (dy[p.dy_off + base + i]) * wv (chan (bk, i));
        sg += gg;
        sgx += gg * (SS_LOAD (x[p.x_off + base + i]) - mu) * rstd;
      }
      sg = ops_wg_sum (sg);
      sgx = ops_wg_sum (sgx);
      if (lid == 0) {
        part[2 * g] = sg;
        part[2 * g + 1] = sgx;
      }
    }
    return;
  }
  if (STAGE == 5 || STAGE == 8) {
    uint bk = g * OPS_WG + lid;
    if (bk >= p.nblocks)
      return;
    if (STAGE == 5) {
      float n = 0.0, mean = 0.0, m2 = 0.0;
      for (uint c = 0; c < p.chunks; c++) {
        float nb = float (min (p.block_len, (c + 1) * p.chunk_len) - c * p.chunk_len);
        float mb = part[2 * (bk * p.chunks + c)], m2b = part[2 * (bk * p.chunks + c) + 1];
        float tot = n + nb, delta = mb - mean;
        mean += delta * nb / tot;
        m2 += m2b + delta * delta * n * nb / tot;
        n = tot;
      }
      stats[2 * bk] = mean;
      stats[2 * bk + 1] = inversesqrt (m2 * inv_len + p.eps);
    } else {
      float sg = 0.0, sgx = 0.0;
      for (uint c = 0; c < p.chunks; c++) {
        sg += part[2 * (bk * p.chunks + c)];
        sgx += part[2 * (bk * p.chunks + c) + 1];
      }
      uint o = 2 * p.nblocks * p.chunks;
      part[o + 2 * bk] = RMS == 0 ? sg * inv_len : 0.0;
      part[o + 2 * bk + 1] = sgx * inv_len;
    }
    return;
  }
  if (STAGE == 6 || STAGE == 9) {
    uint e = g * OPS_WG + lid;
    if (e >= p.nblocks * p.block_len)
      return;
    uint bk = e / p.block_len, i = e % p.block_len;
    uint c = chan (bk, i);
    float mu = stats[2 * bk], rstd = stats[2 * bk + 1];
    float xh = (SS_LOAD (x[p.x_off + e]) - mu) * rstd;
    if (STAGE == 6) {
      y[p.y_off + e] = SS_STORE (xh * wv (c) + (RMS == 0 ? bv (c) : 0.0));
    } else {
      uint o = 2 * p.nblocks * p.chunks;
      float gg = SS_LOAD (dy[p.dy_off + e]) * wv (c);
      y[p.y_off + e] = SS_STORE (rstd * (gg - part[o + 2 * bk] - xh * part[o + 2 * bk + 1]));
    }
    return;
  }
  if (STAGE >= 12u && STAGE <= 15u) {
    /* a row in registers: a workgroup's (12, 13; rows up to 4 units of 4 a
     * thread, sums over the workgroup) or a subgroup's (14, 15; rows up to 8
     * units a lane, sums over the subgroup, no barriers: a subgroup past the
     * last row may leave) */
    bool sub = STAGE >= 14u;
    const uint K = STAGE >= 14u ? 8u : 4u;
    uint row = sub ? g * gl_NumSubgroups + gl_SubgroupID : g;
    if (row >= p.nblocks)
      return;
    uint i0 = sub ? gl_SubgroupInvocationID : lid, step = sub ? gl_SubgroupSize : OPS_WG;
    uint L4 = p.block_len / 4u, xb4 = (p.x_off + row * p.block_len) / 4u;
    uint yb4 = (p.y_off + row * p.block_len) / 4u;
#define ROW_SUM(v) (sub ? subgroupAdd (v) : ops_wg_sum (v))
    vec4 v[8];
    if (STAGE == 12u || STAGE == 14u) {
      float s = 0.0;
      for (uint k = 0; k < K; k++) {
        uint j = i0 + k * step;
        v[k] = j < L4 ? ss_load4 (x4[xb4 + j]) : vec4 (0.0);
        s += (v[k].x + v[k].y) + (v[k].z + v[k].w);
      }
      float mu = RMS == 0 ? ROW_SUM (s) * inv_len : 0.0;
      float q = 0.0;
      for (uint k = 0; k < K; k++)
        if (i0 + k * step < L4) {
          vec4 d = v[k] - mu;
          q += dot (d, d);
        }
      float rstd = inversesqrt (ROW_SUM (q) * inv_len + p.eps);
      for (uint k = 0; k < K; k++) {
        uint j = i0 + k * step;
        if (j < L4) {
          vec4 wj = p.has_w != 0 ? ss_load4 (w4[p.w_off / 4u + j]) : vec4 (1.0);
          vec4 bj = RMS == 0 && p.has_b != 0 ? ss_load4 (bias4[p.b_off / 4u + j]) : vec4 (0.0);
          y4[yb4 + j] = ss_store4 ((v[k] - mu) * rstd * wj + bj);
        }
      }
      if (i0 == 0u) {
        stats[2 * row] = mu;
        stats[2 * row + 1] = rstd;
      }
    } else {
      uint db4 = (p.dy_off + row * p.block_len) / 4u;
      float mu = stats[2 * row], rstd = stats[2 * row + 1];
      vec4 gg[8];
      float sg = 0.0, sgx = 0.0;
      for (uint k = 0; k < K; k++) {
        uint j = i0 + k * step;
        gg[k] = vec4 (0.0);
        v[k] = vec4 (0.0);
        if (j < L4) {
          vec4 wj = p.has_w != 0 ? ss_load4 (w4[p.w_off / 4u + j]) : vec4 (1.0);
          gg[k] = ss_load4 (dy4[db4 + j]) * wj;
          v[k] = (ss_load4 (x4[xb4 + j]) - mu) * rstd;
        }
        sg += (gg[k].x + gg[k].y) + (gg[k].z + gg[k].w);
        sgx += dot (gg[k], v[k]);
      }
      float mg = RMS == 0 ? ROW_SUM (sg) * inv_len : 0.0;
      float mgx = ROW_SUM (sgx) * inv_len;
      for (uint k = 0; k < K; k++) {
        uint j = i0 + k * step;
        if (j < L4)
          y4[yb4 + j] = ss_store4 (rstd * (gg[k] - mg - v[k] * mgx));
      }
    }
#undef ROW_SUM
    return;
  }
  if (STAGE == 0) {
    if (g >= p.nblocks)
      return;
    uint base = p.x_off + g * p.block_len;
    const uint W = OPS_WG, L = p.block_len;
    float mu = 0.0;
    /* loops unrolled by 4: four independent loads in flight per thread */
    if (RMS == 0) {
      float s = 0.0;
      uint i = lid;
      for (; i + 3u * W < L; i += 4u * W) {
        float a0 = SS_LOAD (x[base + i]), a1 = SS_LOAD (x[base + i + W]);
        float a2 = SS_LOAD (x[base + i + 2u * W]), a3 = SS_LOAD (x[base + i + 3u * W]);
        s += (a0 + a1) + (a2 + a3);
      }
      for (; i < L; i += W)
        s += SS_LOAD (x[base + i]);
      mu = ops_wg_sum (s) * inv_len;
    }
    float v = 0.0;
    {
      uint i = lid;
      for (; i + 3u * W < L; i += 4u * W) {
        float a0 = SS_LOAD (x[base + i]) - mu, a1 = SS_LOAD (x[base + i + W]) - mu;
        float a2 = SS_LOAD (x[base + i + 2u * W]) - mu, a3 = SS_LOAD (x[base + i + 3u * W]) - mu;
        v += (a0 * a0 + a1 * a1) + (a2 * a2 + a3 * a3);
      }
      for (; i < L; i += W) {
        float d = SS_LOAD (x[base + i]) - mu;
        v += d * d;
      }
    }
    float rstd = inversesqrt (ops_wg_sum (v) * inv_len + p.eps);
    uint ybase = p.y_off + g * p.block_len;
    {
      uint i = lid;
      for (; i + 3u * W < L; i += 4u * W) {
        float a[4];
        for (uint k = 0; k < 4u; k++)
          a[k] = SS_LOAD (x[base + i + k * W]);
        for (uint k = 0; k < 4u; k++) {
          uint c = chan (g, i + k * W);
          y[ybase + i + k * W] = SS_STORE ((a[k] - mu) * rstd * wv (c) + (RMS == 0 ? bv (c) : 0.0));
        }
      }
      for (; i < L; i += W) {
        uint c = chan (g, i);
        float xh = (SS_LOAD (x[base + i]) - mu) * rstd;
        y[ybase + i] = SS_STORE (xh * wv (c) + (RMS == 0 ? bv (c) : 0.0));
      }
    }
    if (lid == 0) {
      stats[2 * g] = mu;
      stats[2 * g + 1] = rstd;
    }
  } else if (STAGE == 1) {
    if (g >= p.nblocks)
      return;
    uint base = g * p.block_len;
    float mu = stats[2 * g], rstd = stats[2 * g + 1];
    float sg = 0.0, sgx = 0.0;
    const uint W = OPS_WG, L = p.block_len;
    uint i = lid;
    for (; i + 3u * W < L; i += 4u * W) {
      float gy[4], xv[4];
      for (uint k = 0; k < 4u; k++) {
        gy[k] = SS_LOAD (dy[p.dy_off + base + i + k * W]);
        xv[k] = SS_LOAD (x[p.x_off + base + i + k * W]);
      }
      for (uint k = 0; k < 4u; k++) {
        float gg = gy[k] * wv (chan (g, i + k * W));
        sg += gg;
        sgx += gg * (xv[k] - mu) * rstd;
      }
    }
    for (; i < L; i += W) {
      float gg = SS_LOAD (dy[p.dy_off + base + i]) * wv (chan (g, i));
      float xh = (SS_LOAD (x[p.x_off + base + i]) - mu) * rstd;
      sg += gg;
      sgx += gg * xh;
    }
    float mg = RMS == 0 ? ops_wg_sum (sg) * inv_len : 0.0;
    float mgx = ops_wg_sum (sgx) * inv_len;
    for (uint i = lid; i < p.block_len; i += OPS_WG) {
      float gg = SS_LOAD (dy[p.dy_off + base + i]) * wv (chan (g, i));
      float xh = (SS_LOAD (x[p.x_off + base + i]) - mu) * rstd;
      y[p.y_off + base + i] = SS_STORE (rstd * (gg - mg - xh * mgx));
    }
  } else if (STAGE == 11) {
    uint c = g * OPS_WG + lid;
    if (c >= p.channels)
      return;
    float sw = 0.0, sb = 0.0;
    for (uint k = 0; k < p.chunks; k++) {
      sw += part[2 * (k * p.channels + c)];
      sb += part[2 * (k * p.channels + c) + 1];
    }
    if (p.has_w != 0)
      y[p.y_off + c] = SS_STORE (sw);
    if (p.has_b != 0)
      db[p.db_off + c] = SS_STORE (sb);
  } else if (STAGE == 3 || STAGE == 10) {
    uint col = lid % 32u, lane = lid / 32u;
    uint ncg = (p.channels + 31u) / 32u;
    uint chunk = STAGE == 10 ? g / ncg : 0u;
    uint c = (STAGE == 10 ? g % ncg : g) * 32u + col;
    uint r0 = STAGE == 10 ? chunk * p.chunk_len : 0u;
    uint r1 = STAGE == 10 ? min (p.nblocks, r0 + p.chunk_len) : p.nblocks;
    float sw = 0.0, sb = 0.0;
    if (c < p.channels)
      for (uint r = r0 + lane; r < r1; r += OPS_WG / 32u) {
        uint idx = r * p.block_len + c;
        float gy = SS_LOAD (dy[p.dy_off + idx]);
        sw += gy * (SS_LOAD (x[p.x_off + idx]) - stats[2 * r]) * stats[2 * r + 1];
        sb += gy;
      }
    ops_red[lid] = sw;
    barrier ();
    if (lane == 0)
      for (uint k = 1; k < OPS_WG / 32u; k++)
        sw += ops_red[lid + 32u * k];
    barrier ();
    ops_red[lid] = sb;
    barrier ();
    if (lane == 0) {
      for (uint k = 1; k < OPS_WG / 32u; k++)
        sb += ops_red[lid + 32u * k];
      if (c < p.channels && STAGE == 10) {
        part[2 * (chunk * p.channels + c)] = sw;
        part[2 * (chunk * p.channels + c) + 1] = sb;
      } else if (c < p.channels) {
        if (p.has_w != 0)
          y[p.y_off + c] = SS_STORE (sw);
        if (p.has_b != 0)
          db[p.db_off + c] = SS_STORE (sb);
      }
    }
  } else {
    uint c = g;
    if (c >= p.channels)
      return;
    uint grp = c / p.cg, cc = c % p.cg;
    uint nsamples = p.nblocks / p.groups;
    uint count = nsamples * p.s;
    float sw = 0.0, sb = 0.0;
    for (uint e = lid; e < count; e += OPS_WG) {
      uint n = e / p.s, t = e % p.s;
      uint bk = n * p.groups + grp;
      uint idx = bk * p.block_len + cc * p.s + t;
      float mu = stats[2 * bk], rstd = stats[2 * bk + 1];
      float gy = SS_LOAD (dy[p.dy_off + idx]);
      sw += gy * (SS_LOAD (x[p.x_off + idx]) - mu) * rstd;
      sb += gy;
    }
    sw = ops_wg_sum (sw);
    sb = ops_wg_sum (sb);
    if (lid == 0) {
      if (p.has_w != 0)
        y[p.y_off + c] = SS_STORE (sw);
      if (p.has_b != 0)
        db[p.db_off + c] = SS_STORE (sb);
    }
  }
}
