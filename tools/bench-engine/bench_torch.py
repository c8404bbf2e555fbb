#!/usr/bin/env python3
"""PyTorch reference figures for the shapes of bench-engine (same output format):

    <op> <dtype> <shape> <ms per call> <TFLOP/s or x-realtime>

Timing: warm-up, then `reps` calls between two CUDA events (as bench-engine
times `reps` calls submitted together). fp32 GEMM is measured with TF32 off
(true fp32, what the engine computes) and on (PyTorch's fast default on
Hopper with allow_tf32)."""
import math
import os
import sys

import torch
import torch.nn.functional as F

quick = '--quick' in sys.argv
want = [a for a in sys.argv[1:] if not a.startswith('--')] or ['gemm', 'linear', 'attention', 'conv', 'mel', 'biasgrad']
dev = 'cuda'


def time_op(fn, target_s=0.3):
    fn()
    torch.cuda.synchronize()
    s, e = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    s.record()
    fn()
    e.record()
    torch.cuda.synchronize()
    one = s.elapsed_time(e) / 1e3
    reps = 2 if quick else max(3, min(200, int(target_s / max(one, 1e-6))))
    s.record()
    for _ in range(reps):
        fn()
    e.record()
    torch.cuda.synchronize()
    return s.elapsed_time(e) / 1e3 / reps


def bench_gemm():
    for name, dt in (('f16', torch.float16), ('bf16', torch.bfloat16), ('f32', torch.float32)):
        for n in (1024, 2048, 4096, 8192):
            if quick and n > 2048:
                continue
            a = torch.full((n, n), 0.01, device=dev, dtype=dt)
            b = torch.full((n, n), 0.02, device=dev, dtype=dt)
            modes = [('', False)] if dt != torch.float32 else [('', False), ('-tf32', True)]
            for suffix, tf32 in modes:
                torch.backends.cuda.matmul.allow_tf32 = tf32
                t = time_op(lambda: a @ b)
                print('gemm %s%s %dx%dx%d %.4f ms %.1f TFLOP/s' % (name, suffix, n, n, n, t * 1e3, 2 * n ** 3 / t * 1e-12), flush=True)
            torch.backends.cuda.matmul.allow_tf32 = False


# the Synchformer reference config's linear layers (bench-engine linear)
LINEAR_SHAPES = ((21966, 768, 768), (21966, 2304, 768), (21966, 3072, 768), (21966, 768, 3072),
                 (1036, 768, 768), (1036, 3072, 768), (1036, 768, 3072), (198, 768, 768))


def bench_linear():
    for m, n, k in LINEAR_SHAPES:
        x = torch.full((m, k), 0.01, device=dev, dtype=torch.float16)
        w = torch.full((n, k), 0.02, device=dev, dtype=torch.float16)
        b = torch.full((n,), 0.5, device=dev, dtype=torch.float16)
        t = time_op(lambda: F.linear(x, w, b))
        print('linear f16 %dx%dx%d %.4f ms %.1f TFLOP/s' % (m, n, k, t * 1e3, 2 * m * n * k / t * 1e-12),
              flush=True)


def attention_cases():
    # SOUNDSTAGE_BENCH_ATTN="B,H,L,D ..." and SOUNDSTAGE_BENCH_DTYPE=f16|bf16|f32, as bench-engine
    env = os.environ.get('SOUNDSTAGE_BENCH_ATTN')
    if env:
        return [tuple(int(x) for x in item.split(',')) for item in env.split()]
    return [(max(1, 16384 // L), 16, L, d) for d in (64, 128) for L in (256, 1024, 2048, 4096, 8192)]


def bench_attention():
    name = os.environ.get('SOUNDSTAGE_BENCH_DTYPE', 'f16')
    dt = {'f16': torch.float16, 'bf16': torch.bfloat16, 'f32': torch.float32}[name]
    for B, H, L, d in attention_cases():
            if quick and L > 1024:
                continue
            q = torch.full((B, H, L, d), 0.01, device=dev, dtype=dt)
            k = torch.full((B, H, L, d), 0.02, device=dev, dtype=dt)
            v = torch.full((B, H, L, d), 0.03, device=dev, dtype=dt)
            causal = '--causal' in sys.argv
            mask = None
            if '--mask' in sys.argv:   # as bench-engine --mask: the last eighth of the keys at -30000
                mask = torch.zeros((L, L), device=dev, dtype=dt)
                mask[:, L - L // 8:] = -30000.0
            t = time_op(lambda: F.scaled_dot_product_attention(q, k, v, attn_mask=mask, is_causal=causal))
            flops = (2.0 if causal else 4.0) * B * H * L * L * d
            tag = (' causal' if causal else '') + (' mask' if mask is not None else '')
            print('attention %s B%d-H%d-L%d-D%d%s %.4f ms %.1f TFLOP/s' % (name, B, H, L, d, tag, t * 1e3, flops / t * 1e-12), flush=True)
            if '--backward' in sys.argv and L <= 4096:
                for tt in (q, k, v):
                    tt.requires_grad_(True)

                def fb():
                    y = F.scaled_dot_product_attention(q, k, v, attn_mask=mask, is_causal=causal)
                    y.backward(torch.full_like(y, 0.5))
                    q.grad = k.grad = v.grad = None
                t = time_op(fb)
                print('attention %s B%d-H%d-L%d-D%d%s fwd+bwd %.4f ms %.1f TFLOP/s' % (name, B, H, L, d, tag, t * 1e3, 3.5 * flops / t * 1e-12), flush=True)
                for tt in (q, k, v):
                    tt.requires_grad_(False)


def bench_conv():
    cases = [
        ('conv2d N8-C128-64x64-k3', (8, 128, 64, 64), (128, 128, 3, 3), F.conv2d),
        ('conv1d N8-C512-L4096-k3', (8, 512, 4096), (512, 512, 3), F.conv1d),
        ('conv3d N1-C64-8x64x64-k3', (1, 64, 8, 64, 64), (64, 64, 3, 3, 3), F.conv3d),
    ]
    # SOUNDSTAGE_BENCH_CONV="N,C,S,nd ..." (C -> C channels, S along nd axes,
    # kernel 3, padding 1) and SOUNDSTAGE_BENCH_DTYPE, as bench-engine
    env = os.environ.get('SOUNDSTAGE_BENCH_CONV')
    if env:
        cases = []
        for item in env.split():
            n, c, sz, nd = (int(v) for v in item.split(','))
            cases.append(('conv%dd N%d-C%d-%d^%d-k3' % (nd, n, c, sz, nd), (n, c) + (sz,) * nd,
                          (c, c) + (3,) * nd, (F.conv1d, F.conv2d, F.conv3d)[nd - 1]))
    dts = (('f16', torch.float16), ('f32', torch.float32), ('bf16', torch.bfloat16))
    only = os.environ.get('SOUNDSTAGE_BENCH_DTYPE')
    dts = [d for d in dts if d[0] == only] if only else dts[:2]
    torch.backends.cudnn.allow_tf32 = False
    for name, dt in dts:
        for label, xs, ws, fn in cases:
            x = torch.full(xs, 0.01, device=dev, dtype=dt)
            w = torch.full(ws, 0.02, device=dev, dtype=dt)
            b = torch.zeros(ws[0], device=dev, dtype=dt)
            t = time_op(lambda: fn(x, w, b, padding=1))
            flops = 2.0 * xs[0] * ws[0] * ws[1] * math.prod(xs[2:]) * math.prod(ws[2:])
            print('conv %s %s %.4f ms %.1f TFLOP/s' % (name, label, t * 1e3, flops / t * 1e-12), flush=True)
            if '--backward' in sys.argv:
                # forward + backward for x, w and b from a constant gradient
                for tt in (x, w, b):
                    tt.requires_grad_(True)

                def fb():
                    y = fn(x, w, b, padding=1)
                    y.backward(torch.full_like(y, 0.5))
                    x.grad = w.grad = b.grad = None
                t = time_op(fb)
                print('conv %s %s fwd+bwd %.4f ms %.1f TFLOP/s' % (name, label, t * 1e3, 3 * flops / t * 1e-12), flush=True)


def mel_fb(n_freqs, n_mels, sr, fmin, fmax):
    def hz2mel(f):
        return 2595.0 * math.log10(1.0 + f / 700.0)
    m = torch.linspace(hz2mel(fmin), hz2mel(fmax), n_mels + 2, dtype=torch.float64)
    f = 700.0 * (10 ** (m / 2595.0) - 1.0)
    freqs = torch.linspace(0, sr / 2, n_freqs, dtype=torch.float64)
    fb = torch.zeros(n_freqs, n_mels, dtype=torch.float64)
    for i in range(n_mels):
        lo, c, hi = f[i], f[i + 1], f[i + 2]
        up = (freqs - lo) / (c - lo)
        down = (hi - freqs) / (hi - c)
        fb[:, i] = torch.clamp(torch.minimum(up, down), min=0)
    return fb.float()


def bench_biasgrad():
    # the bias gradients bench-engine biasgrad times: column sums and sums over samples and positions
    cases = [('linear 21966x768', (21966, 768), (0,)), ('linear 8192x1024', (8192, 1024), (0,)),
             ('linear 1036x3072', (1036, 3072), (0,)), ('conv N8-C128-L4096', (8, 128, 4096), (0, 2)),
             ('conv N1-C512-L4096', (1, 512, 4096), (0, 2))]
    for label, shape, dims in cases:
        dy = torch.full(shape, 0.01, device=dev, dtype=torch.float16)
        t = time_op(lambda: dy.sum(dims))
        print('biasgrad f16 %s %.4f ms %.1f GB/s' % (label, t * 1e3, 2.0 * math.prod(shape) * 1e-9 / t), flush=True)


def bench_mel():
    fb = mel_fb(513, 128, 16000, 0.0, 8000.0).to(dev)
    win = torch.hann_window(400, periodic=True, device=dev)
    for B in (1, 16):
        L = 160000
        j = torch.arange(B * L, device=dev, dtype=torch.float32)
        w = (0.3 * torch.sin(j * 0.05)).reshape(B, L)

        def fn():
            s = torch.stft(w, 1024, hop_length=160, win_length=400, window=win, center=True,
                           pad_mode='reflect', return_complex=True)
            p = s.real ** 2 + s.imag ** 2
            return torch.log(torch.matmul(fb.t(), p) + 1e-6)
        t = time_op(fn)
        print('mel f32 B%d-10s-16k %.4f ms %.1f x-realtime' % (B, t * 1e3, B * 10.0 / t), flush=True)


print('# torch %s device %s' % (torch.__version__, torch.cuda.get_device_name()))
for w in want:
    {'gemm': bench_gemm, 'linear': bench_linear, 'attention': bench_attention, 'conv': bench_conv, 'mel': bench_mel,
     'biasgrad': bench_biasgrad}[w]()
