/* ss-mel.c: log-mel spectrogram on the GPU (see ss-mel.h, docs/dsp.md). */
#define G_LOG_DOMAIN "ss-mel"

#include "ss-mel.h"

#include <math.h>
#include <string.h>

#include "tensor/ss-autograd.h"

struct _SsMel {
  SsMelParams  params;
  SsGpuDevice *dev;
  SsGpuBuffer *twiddle;  /* N/2 vec2 */
  SsGpuBuffer *window;   /* N floats */
  SsGpuBuffer *fb_info;  /* 3 uint per mel */
  SsGpuBuffer *fb_w;     /* weights */
  guint        log2n;
  guint        win_begin, win_end;
};

void
ss_mel_params_init_synchformer (SsMelParams *p)
{
  g_return_if_fail (p != NULL);
  *p = (SsMelParams) {
    .sample_rate = 16000,
    .n_fft = 1024,
    .win_length = 400,
    .hop_length = 160,
    .n_mels = 128,
    .f_min = 0.0,
    .f_max = 0.0,
    .center = TRUE,
    .log_offset = 1e-6,
  };
}

void
ss_mel_params_init_mmaudio (SsMelParams *p, int sample_rate)
{
  g_return_if_fail (p != NULL);
  g_return_if_fail (sample_rate == 16000 || sample_rate == 44100);
  gboolean k16 = sample_rate == 16000;
  *p = (SsMelParams) {
    .sample_rate = sample_rate,
    .n_fft = k16 ? 1024 : 2048,
    .win_length = k16 ? 1024 : 2048,
    .hop_length = k16 ? 256 : 512,
    .n_mels = k16 ? 80 : 128,
    .f_min = 0.0,
    .f_max = k16 ? 8000.0 : 22050.0,
    .center = FALSE,
    .reflect_pad = k16 ? (1024 - 256) / 2 : (2048 - 512) / 2,
    .magnitude = TRUE,
    .mag_eps = 1e-9,
    .mel_scale = SS_MEL_SCALE_SLANEY,
    .slaney_norm = TRUE,
    .log_mode = k16 ? SS_MEL_LOG10_CLAMP : SS_MEL_LOG_CLAMP,
    .log_offset = 1e-5,
    .clamp_input = TRUE,
  };
}

static gint64
pad_of (const SsMelParams *p)
{
  return p->center ? p->n_fft / 2 : MAX (p->reflect_pad, 0);
}

gint64
ss_mel_n_frames (const SsMelParams *p, gint64 n_samples)
{
  g_return_val_if_fail (p != NULL && p->hop_length > 0, 0);
  gint64 pad = pad_of (p);
  if (n_samples <= pad || n_samples + 2 * pad < p->n_fft)
    return 0;
  return 1 + (n_samples + 2 * pad - p->n_fft) / p->hop_length;
}

static double
hz_to_mel (double f, SsMelScale scale)
{
  if (scale == SS_MEL_SCALE_HTK)
    return 2595.0 * log10 (1.0 + f / 700.0);
  const double f_sp = 200.0 / 3.0, min_log_hz = 1000.0, logstep = log (6.4) / 27.0;
  if (f < min_log_hz)
    return f / f_sp;
  return min_log_hz / f_sp + log (f / min_log_hz) / logstep;
}

static double
mel_to_hz (double m, SsMelScale scale)
{
  if (scale == SS_MEL_SCALE_HTK)
    return 700.0 * (pow (10.0, m / 2595.0) - 1.0);
  const double f_sp = 200.0 / 3.0, min_log_hz = 1000.0, logstep = log (6.4) / 27.0;
  double min_log_mel = min_log_hz / f_sp;
  if (m < min_log_mel)
    return f_sp * m;
  return min_log_hz * exp (logstep * (m - min_log_mel));
}

double *
ss_mel_filterbank (const SsMelParams *p)
{
  g_return_val_if_fail (p != NULL && p->n_fft > 0 && p->n_mels > 0, NULL);
  int n_freqs = p->n_fft / 2 + 1;
  int n_mels = p->n_mels;
  double nyq = (double) (p->sample_rate / 2); /* integer division, as torchaudio */
  double f_max = p->f_max > 0 ? p->f_max : nyq;
  double m_min = hz_to_mel (p->f_min, p->mel_scale), m_max = hz_to_mel (f_max, p->mel_scale);
  double *f_pts = g_new (double, n_mels + 2);
  for (int i = 0; i < n_mels + 2; i++)
    f_pts[i] = mel_to_hz (m_min + (m_max - m_min) * i / (double) (n_mels + 1), p->mel_scale);
  double *fb = g_new0 (double, (gsize) n_freqs * n_mels);
  for (int k = 0; k < n_freqs; k++)
    {
      double f = n_freqs > 1 ? nyq * k / (double) (n_freqs - 1) : 0.0;
      for (int m = 0; m < n_mels; m++)
        {
          double down = (f - f_pts[m]) / (f_pts[m + 1] - f_pts[m]);
          double up = (f_pts[m + 2] - f) / (f_pts[m + 2] - f_pts[m + 1]);
          double v = MIN (down, up);
          if (p->slaney_norm)
            v *= 2.0 / (f_pts[m + 2] - f_pts[m]);
          fb[(gsize) k * n_mels + m] = v > 0 ? v : 0.0;
        }
    }
  g_free (f_pts);
  return fb;
}

void
ss_mel_synchformer_normalize (float *x, gsize n)
{
  for (gsize i = 0; i < n; i++)
    x[i] = (float) ((x[i] - SS_MEL_SYNCHFORMER_MEAN) / (2.0 * SS_MEL_SYNCHFORMER_STD));
}

void
ss_mel_free (SsMel *mel)
{
  if (!mel)
    return;
  g_clear_pointer (&mel->twiddle, ss_gpu_buffer_unref);
  g_clear_pointer (&mel->window, ss_gpu_buffer_unref);
  g_clear_pointer (&mel->fb_info, ss_gpu_buffer_unref);
  g_clear_pointer (&mel->fb_w, ss_gpu_buffer_unref);
  g_free (mel);
}

const SsMelParams *
ss_mel_get_params (SsMel *mel)
{
  g_return_val_if_fail (mel != NULL, NULL);
  return &mel->params;
}

static SsGpuBuffer *
upload_new (SsGpuDevice *dev, const void *data, gsize size, GError **error)
{
  SsGpuBuffer *b = ss_gpu_buffer_new (dev, size, error);
  if (!b)
    return NULL;
  if (!ss_gpu_buffer_upload (b, 0, data, size, error))
    {
      ss_gpu_buffer_unref (b);
      return NULL;
    }
  return b;
}

SsMel *
ss_mel_new (const SsMelParams *params, GError **error)
{
  g_return_val_if_fail (params != NULL, NULL);
  const SsMelParams *p = params;
  int n = p->n_fft;
  if (n < 16 || n > 2048 || (n & (n - 1)) != 0 || p->win_length < 1 || p->win_length > n ||
      p->hop_length < 1 || p->n_mels < 1 || p->n_mels > 512 || p->sample_rate < 1000 ||
      p->f_min < 0 || (p->f_max > 0 && p->f_max <= p->f_min) || p->reflect_pad < 0 ||
      p->reflect_pad >= n || p->mag_eps < 0 || (guint) p->mel_scale > SS_MEL_SCALE_SLANEY ||
      (guint) p->log_mode > SS_MEL_LOG10_CLAMP ||
      (p->log_mode != SS_MEL_LOG_ADD && !(p->log_offset > 0)))
    {
      g_set_error (error, SS_ERROR, SS_ERROR_UNSUPPORTED,
                   "Unsupported mel spectrogram parameters (n_fft %d, window %d, hop %d, "
                   "%d mels): n_fft must be a power of two from 16 to 2048, the padding less "
                   "than n_fft, and a clamped log needs a positive floor",
                   p->n_fft, p->win_length, p->hop_length, p->n_mels);
      return NULL;
    }
  SsGpuDevice *dev = ss_gpu_device_get_default (error);
  if (!dev)
    return NULL;

  g_autoptr (SsMel) mel = g_new0 (SsMel, 1);
  mel->params = *p;
  mel->dev = dev;
  mel->log2n = (guint) g_bit_nth_lsf ((gulong) n, -1);

  /* Twiddles e^{-2 pi i k / N}, k < N/2, in double then rounded. */
  g_autofree float *tw = g_new (float, n);
  for (int k = 0; k < n / 2; k++)
    {
      double a = -2.0 * G_PI * k / n;
      tw[2 * k] = (float) cos (a);
      tw[2 * k + 1] = (float) sin (a);
    }
  /* Periodic Hann of win_length, zero-padded to N and centered, as torch.stft. */
  g_autofree float *win = g_new0 (float, n);
  int left = (n - p->win_length) / 2;
  for (int i = 0; i < p->win_length; i++)
    win[left + i] = (float) (0.5 - 0.5 * cos (2.0 * G_PI * i / p->win_length));
  mel->win_begin = (guint) left;
  mel->win_end = (guint) (left + p->win_length);

  /* Sparse filterbank: per mel the run of non-zero bins. */
  g_autofree double *fb = ss_mel_filterbank (p);
  int n_freqs = n / 2 + 1;
  g_autofree guint32 *info = g_new0 (guint32, 3 * p->n_mels);
  g_autoptr (GArray) w = g_array_new (FALSE, FALSE, sizeof (float));
  for (int m = 0; m < p->n_mels; m++)
    {
      int first = -1, last = -1;
      for (int k = 0; k < n_freqs; k++)
        if (fb[(gsize) k * p->n_mels + m] > 0)
          {
            if (first < 0)
              first = k;
            last = k;
          }
      info[3 * m + 2] = w->len;
      if (first < 0)
        continue; /* an empty filter (too many mels for n_fft): outputs log(offset) */
      info[3 * m] = (guint32) first;
      info[3 * m + 1] = (guint32) (last - first + 1);
      for (int k = first; k <= last; k++)
        {
          float v = (float) fb[(gsize) k * p->n_mels + m];
          g_array_append_val (w, v);
        }
    }
  if (w->len == 0)
    {
      float zero = 0;
      g_array_append_val (w, zero);
    }

  if (!(mel->twiddle = upload_new (dev, tw, sizeof (float) * n, error)) ||
      !(mel->window = upload_new (dev, win, sizeof (float) * n, error)) ||
      !(mel->fb_info = upload_new (dev, info, sizeof (guint32) * 3 * p->n_mels, error)) ||
      !(mel->fb_w = upload_new (dev, w->data, sizeof (float) * w->len, error)))
    return NULL;
  return g_steal_pointer (&mel);
}

/* One dispatch: batch items of n_samples each, item b starting at element
 * in->offset + b * stride; output [batch, n_mels, out_frames] at out. Frames
 * past the signal's own (T) are pad_value; everything goes through
 * scale * v + shift. */
static gboolean
dispatch_mel (SsMel *mel, SsTensor *in, gint64 batch, gint64 n_samples, gint64 stride,
              gint64 out_frames, float scale, float shift, float pad_value, SsTensor *out,
              GError **error)
{
  const SsMelParams *p = &mel->params;
  gint64 T = MIN (ss_mel_n_frames (p, n_samples), out_frames);
  guint32 flags = (p->magnitude ? 1u : 0u) | (p->clamp_input ? 2u : 0u) |
                  ((guint32) p->log_mode << 2) | (p->log_offset > 0 ? 16u : 0u);
  struct {
    guint32 n_samples, n_frames, batch, hop, pad, wave_off, wave_stride, out_off;
    guint32 win_begin, win_end, flags, out_frames;
    float log_offset, mag_eps, scale, shift, pad_value;
  } push = {
    (guint32) n_samples, (guint32) T, (guint32) batch, (guint32) p->hop_length,
    (guint32) pad_of (p), (guint32) in->offset, (guint32) stride, (guint32) out->offset,
    mel->win_begin, mel->win_end, flags, (guint32) out_frames,
    (float) p->log_offset, (float) p->mag_eps, scale, shift, pad_value,
  };
  guint32 spec[3] = { (guint32) p->n_fft, mel->log2n, (guint32) p->n_mels };
  SsGpuBinding bind[6] = {
    ss_tensor_binding (in, SS_GPU_READ),
    ss_tensor_binding (out, SS_GPU_WRITE),
    { mel->twiddle, 0, 0, SS_GPU_READ },
    { mel->window, 0, 0, SS_GPU_READ },
    { mel->fb_info, 0, 0, SS_GPU_READ },
    { mel->fb_w, 0, 0, SS_GPU_READ },
  };
  SsGpuDispatch d = {
    .shader = "dsp_mel_fft.f32",
    .spec = spec,
    .n_spec = 3,
    .bindings = bind,
    .n_bindings = 6,
    .push = &push,
    .push_size = sizeof push,
    .label = "mel",
  };
  ss_gpu_groups_1d (mel->dev, (guint64) batch * (guint64) ((out_frames + 1) / 2), d.groups);
  return ss_gpu_dispatch (mel->dev, &d, error);
}

static gboolean
check_sizes (const SsMelParams *p, gint64 batch, gint64 L, gint64 span, gint64 frames,
             GError **error)
{
  gint64 T = ss_mel_n_frames (p, L);
  if (T <= 0)
    {
      gint64 pad = pad_of (p);
      g_set_error (error, SS_ERROR, SS_ERROR_INVALID_DATA,
                   "The audio is too short for a spectrogram (%" G_GINT64_FORMAT
                   " samples; at least %" G_GINT64_FORMAT " are needed)",
                   L, MAX (pad + 1, p->n_fft - 2 * pad));
      return FALSE;
    }
  if (batch < 1 || L > G_MAXUINT32 / 2 || span > G_MAXUINT32 ||
      batch * frames * p->n_mels > G_MAXUINT32)
    {
      g_set_error (error, SS_ERROR, SS_ERROR_UNSUPPORTED,
                   "The audio is too long for one spectrogram (%" G_GINT64_FORMAT
                   " samples): split it",
                   span);
      return FALSE;
    }
  return TRUE;
}

static SsTensor *
as_f32_contiguous (SsTensor *wave, GError **error)
{
  if (wave->dtype != SS_DTYPE_F32)
    return ss_tensor_to_dtype (wave, SS_DTYPE_F32, error);
  return ss_tensor_contiguous (wave, error);
}

SsTensor *
ss_mel_compute (SsMel *mel, SsTensor *wave, GError **error)
{
  g_return_val_if_fail (mel != NULL && wave != NULL, NULL);
  g_return_val_if_fail (wave->ndim == 1 || wave->ndim == 2, NULL);
  const SsMelParams *p = &mel->params;

  SS_NO_GRAD_SCOPE;
  gint64 batch = wave->ndim == 2 ? wave->shape[0] : 1;
  gint64 L = wave->shape[wave->ndim - 1];
  gint64 T = ss_mel_n_frames (p, L);
  if (!check_sizes (p, batch, L, batch * L, T, error))
    return NULL;
  g_autoptr (SsTensor) in = as_f32_contiguous (wave, error);
  if (!in)
    return NULL;
  gint64 shape3[3] = { batch, p->n_mels, T };
  g_autoptr (SsTensor) out = wave->ndim == 2 ? ss_tensor_new (SS_DTYPE_F32, 3, shape3, error)
                                             : ss_tensor_new (SS_DTYPE_F32, 2, shape3 + 1, error);
  if (!out || !dispatch_mel (mel, in, batch, L, L, T, 1.0f, 0.0f, 0.0f, out, error))
    return NULL;
  return g_steal_pointer (&out);
}

SsTensor *
ss_mel_compute_segments (SsMel *mel, SsTensor *wave, gint64 seg_len, gint64 seg_hop,
                         gint64 n_segments, gint64 out_frames, float pad_value, float scale,
                         float shift, GError **error)
{
  g_return_val_if_fail (mel != NULL && wave != NULL && wave->ndim == 1, NULL);
  g_return_val_if_fail (seg_len > 0 && seg_hop > 0 && n_segments > 0 && out_frames > 0, NULL);
  const SsMelParams *p = &mel->params;

  SS_NO_GRAD_SCOPE;
  gint64 L = wave->shape[0];
  gint64 need = (n_segments - 1) * seg_hop + seg_len;
  if (need > L)
    {
      g_set_error (error, SS_ERROR, SS_ERROR_INVALID_DATA,
                   "The audio is too short for %" G_GINT64_FORMAT " segments (%" G_GINT64_FORMAT
                   " samples; %" G_GINT64_FORMAT " are needed)",
                   n_segments, L, need);
      return NULL;
    }
  if (!check_sizes (p, n_segments, seg_len, need, out_frames, error))
    return NULL;
  g_autoptr (SsTensor) in = as_f32_contiguous (wave, error);
  if (!in)
    return NULL;
  g_autoptr (SsTensor) out = ss_tensor_new (SS_DTYPE_F32, 3,
                                            SS_SHAPE (n_segments, p->n_mels, out_frames), error);
  if (!out || !dispatch_mel (mel, in, n_segments, seg_len, seg_hop, out_frames, scale, shift,
                             pad_value, out, error))
    return NULL;
  return g_steal_pointer (&out);
}

SsTensor *
ss_mel_compute_synchformer (SsMel *mel, SsTensor *wave, GError **error)
{
  g_return_val_if_fail (mel != NULL && wave != NULL && wave->ndim == 1, NULL);
  const SsMelParams *p = &mel->params;
  SsMelParams want;
  ss_mel_params_init_synchformer (&want);
  g_return_val_if_fail (p->n_fft == want.n_fft && p->hop_length == want.hop_length &&
                        p->n_mels == want.n_mels && p->win_length == want.win_length, NULL);
  double a = 1.0 / (2.0 * SS_MEL_SYNCHFORMER_STD);
  double b = -SS_MEL_SYNCHFORMER_MEAN / (2.0 * SS_MEL_SYNCHFORMER_STD);
  return ss_mel_compute_segments (mel, wave, SS_MEL_SYNCHFORMER_SEGMENT, SS_MEL_SYNCHFORMER_SEGMENT / 2,
                                  SS_MEL_SYNCHFORMER_SEGMENTS, SS_MEL_SYNCHFORMER_FRAMES, 0.0f,
                                  (float) a, (float) b, error);
}
