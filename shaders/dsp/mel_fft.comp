#version 450
/* mel_fft.comp: fused STFT power -> mel filterbank -> log, two frames per
 * workgroup.
 *
 * Each workgroup takes frames t0 = 2*pair and t0+1 of one batch item, puts
 * frame t0 in the real and frame t0+1 in the imaginary part of one complex
 * N-point radix-2 FFT (in shared memory, bit-reversed load, in-place
 * decimation in time), separates the two real spectra
 *   Xa[k] = (Z[k] + conj Z[N-k]) / 2,  Xb[k] = (Z[k] - conj Z[N-k]) / 2i,
 * takes |X|^2 for k = 0..N/2, applies the sparse triangular mel filterbank and
 * writes log(mel + log_offset) (or another log mode, or the raw mel).
 * Optionally |X| instead of |X|^2 and input clamping (MMAudio's VAE mel).
 *
 * Frame t covers padded samples [t*hop, t*hop + N); the signal is
 * reflect-padded by p.pad on both sides (N/2: torch.stft(center=True,
 * pad_mode="reflect")). The window (win_length periodic Hann, zero-padded
 * to N, centered) comes in a buffer, as do the twiddles e^{-2 pi i k/N}
 * computed in double on the host.
 *
 * Output layout [B, n_mels, out_frames] (torchaudio's (..., n_mels, time));
 * frames past the signal's own count get pad_value; all values pass through
 * scale * v + shift (Synchformer's PadOrTruncate and normalization).
 */
#extension GL_EXT_control_flow_attributes : enable

layout (local_size_x = 256) in;

layout (constant_id = 0) const uint N = 1024;       /* n_fft, power of two */
layout (constant_id = 1) const uint LOG2N = 10;
layout (constant_id = 2) const uint MAX_MELS = 128; /* n_mels */

layout (binding = 0) readonly buffer Wave { float wave[]; };
layout (binding = 1) writeonly buffer Out { float outp[]; };
layout (binding = 2) readonly buffer Twiddle { vec2 twiddle[]; };   /* N/2 */
layout (binding = 3) readonly buffer Window { float window[]; };    /* N */
/* per mel: (first bin, count, weight offset); then the weights */
layout (binding = 4) readonly buffer Fb { uint fb_info[]; };
layout (binding = 5) readonly buffer FbW { float fb_w[]; };

layout (push_constant) uniform P {
  uint n_samples;   /* per batch item */
  uint n_frames;    /* T */
  uint batch;
  uint hop;
  uint pad;         /* reflect padding on both sides (N/2 for center) */
  uint wave_off;    /* element offset of item 0 */
  uint wave_stride; /* elements between batch items */
  uint out_off;
  uint win_begin;   /* first non-zero window index */
  uint win_end;     /* one past the last */
  uint flags;       /* 1 magnitude, 2 clamp input, (>>2)&3 log mode, 16 log on */
  uint out_frames;  /* output row length: frames n_frames..out_frames-1 get pad_value */
  float log_offset; /* offset (mode 0) or floor (modes 1, 2) */
  float mag_eps;    /* magnitude: sqrt(|X|^2 + mag_eps) */
  float scale, shift, pad_value; /* output: scale * v + shift */
} p;

shared vec2 z[N];
shared float power[2][N / 2 + 1];

uint bitrev (uint i)
{
  return bitfieldReverse (i) >> (32u - LOG2N);
}

float sample_at (uint b, uint t, uint n)
{
  if (t >= p.n_frames || n < p.win_begin || n >= p.win_end)
    return 0.0;
  int L = int (p.n_samples);
  int src = int (t * p.hop + n) - int (p.pad);
  if (src < 0)
    src = -src; /* reflect without repeating the edge sample */
  if (src >= L)
    src = 2 * (L - 1) - src;
  if (src < 0 || src >= L) /* only for inputs not longer than the padding (the host refuses those) */
    return 0.0;
  float x = wave[p.wave_off + b * p.wave_stride + uint (src)];
  if ((p.flags & 2u) != 0u)
    x = clamp (x, -1.0, 1.0);
  return x * window[n];
}

void main ()
{
  uint pairs = (p.out_frames + 1u) / 2u;
  uint gid = gl_WorkGroupID.x + gl_WorkGroupID.y * gl_NumWorkGroups.x;
  if (gid >= pairs * p.batch)
    return;
  uint b = gid / pairs;
  uint t0 = (gid % pairs) * 2u;
  uint lid = gl_LocalInvocationID.x;

  for (uint i = lid; i < N; i += 256u)
    z[bitrev (i)] = vec2 (sample_at (b, t0, i), sample_at (b, t0 + 1u, i));
  barrier ();

  for (uint s = 0u; s < LOG2N; s++)
    {
      uint half_size = 1u << s;
      uint tw_step = N >> (s + 1u);
      for (uint j = lid; j < N / 2u; j += 256u)
        {
          uint k = j & (half_size - 1u);
          uint i0 = ((j >> s) << (s + 1u)) + k;
          uint i1 = i0 + half_size;
          vec2 w = twiddle[k * tw_step];
          vec2 v = z[i1];
          vec2 t = vec2 (w.x * v.x - w.y * v.y, w.x * v.y + w.y * v.x);
          vec2 u = z[i0];
          z[i0] = u + t;
          z[i1] = u - t;
        }
      barrier ();
    }

  for (uint k = lid; k <= N / 2u; k += 256u)
    {
      vec2 a = z[k];
      vec2 c = z[(N - k) & (N - 1u)];
      /* Xa = (a + conj c)/2, Xb = (a - conj c)/(2i) */
      vec2 xa = 0.5 * vec2 (a.x + c.x, a.y - c.y);
      vec2 xb = 0.5 * vec2 (a.y + c.y, c.x - a.x);
      float pa = dot (xa, xa), pb = dot (xb, xb);
      if ((p.flags & 1u) != 0u)
        {
          pa = sqrt (pa + p.mag_eps);
          pb = sqrt (pb + p.mag_eps);
        }
      power[0][k] = pa;
      power[1][k] = pb;
    }
  barrier ();

  for (uint i = lid; i < 2u * MAX_MELS; i += 256u)
    {
      uint f = i / MAX_MELS;
      uint m = i % MAX_MELS;
      uint t = t0 + f;
      if (t >= p.out_frames)
        continue;
      uint o = p.out_off + (b * MAX_MELS + m) * p.out_frames + t;
      if (t >= p.n_frames)
        {
          outp[o] = p.scale * p.pad_value + p.shift;
          continue;
        }
      uint first = fb_info[3u * m], count = fb_info[3u * m + 1u], off = fb_info[3u * m + 2u];
      float acc = 0.0;
      for (uint q = 0u; q < count; q++)
        acc += fb_w[off + q] * power[f][first + q];
      uint mode = (p.flags >> 2u) & 3u;
      float v = acc;
      if (mode == 0u && (p.flags & 16u) != 0u)
        v = log (acc + p.log_offset);
      else if (mode == 1u)
        v = log (max (acc, p.log_offset));
      else if (mode == 2u)
        v = log (max (acc, p.log_offset)) * 0.43429448190325176; /* log10 */
      outp[o] = p.scale * v + p.shift;
    }
}
