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
 * writes log(mel + log_offset) (or the mel power when log_offset <= 0).
 *
 * Frame t covers padded samples [t*hop, t*hop + N); with center the signal is
 * reflect-padded by N/2 on both sides (torch.stft(center=True,
 * pad_mode="reflect")). The window (win_length periodic Hann, zero-padded
 * to N, centered) comes in a buffer, as do the twiddles e^{-2 pi i k/N}
 * computed in double on the host.
 *
 * Output layout [B, n_mels, T] (torchaudio's (..., n_mels, time)).
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
  uint center;      /* 1: reflect-pad N/2 */
  uint wave_off;    /* element offset of item 0 */
  uint wave_stride; /* elements between batch items */
  uint out_off;
  uint win_begin;   /* first non-zero window index */
  uint win_end;     /* one past the last */
  float log_offset; /* > 0: log(x + log_offset) */
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
  int src = int (t * p.hop + n);
  if (p.center != 0u)
    {
      src -= int (N / 2u);
      if (src < 0)
        src = -src;
      if (src >= L)
        src = 2 * (L - 1) - src;
    }
  if (src < 0 || src >= L) /* only for inputs shorter than N/2 (the host refuses those) */
    return 0.0;
  return wave[p.wave_off + b * p.wave_stride + uint (src)] * window[n];
}

void main ()
{
  uint pairs = (p.n_frames + 1u) / 2u;
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
      power[0][k] = dot (xa, xa);
      power[1][k] = dot (xb, xb);
    }
  barrier ();

  for (uint i = lid; i < 2u * MAX_MELS; i += 256u)
    {
      uint f = i / MAX_MELS;
      uint m = i % MAX_MELS;
      uint t = t0 + f;
      if (t >= p.n_frames)
        continue;
      uint first = fb_info[3u * m], count = fb_info[3u * m + 1u], off = fb_info[3u * m + 2u];
      float acc = 0.0;
      for (uint q = 0u; q < count; q++)
        acc += fb_w[off + q] * power[f][first + q];
      float v = p.log_offset > 0.0 ? log (acc + p.log_offset) : acc;
      outp[p.out_off + (b * MAX_MELS + m) * p.n_frames + t] = v;
    }
}
