#!/usr/bin/env python3
"""Time PyTorch's Synchformer (tools/reference/synchformer.py) analysing a clip the way
bench-synchformer --time does with the engine: in-memory RGBA frames at 25 fps and
16 kHz audio, sliding 4.8 s windows with a 2.4 s hop (the last window ends at the end),
frames resized (short side 256, bilinear, no antialias), centre-cropped to 224 and
normalized on the GPU, log-mel per segment, forward, softmax, result on the host.

  bench_synchformer_torch.py --reference tools/reference/synchformer.py \
      --weights DIR/weights.safetensors --seconds 10 [--device cuda] [--width 480 --height 360]
"""
import argparse
import importlib.util
import math
import time

import torch
import torch.nn.functional as F


def load_reference(path):
    spec = importlib.util.spec_from_file_location('synchformer_ref', path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--reference', required=True)
    ap.add_argument('--weights', required=True)
    ap.add_argument('--config', default=None)
    ap.add_argument('--seconds', type=float, default=10.0)
    ap.add_argument('--width', type=int, default=480)
    ap.add_argument('--height', type=int, default=360)
    ap.add_argument('--device', default='cuda')
    ap.add_argument('--repeat', type=int, default=2)
    ap.add_argument('--bf16', action='store_true', help='also time bf16 autocast')
    ap.add_argument('--profile', action='store_true',
                    help='GPU kernel time of one analysis by kind of kernel, per window (torch.profiler)')
    args = ap.parse_args()
    ref = load_reference(args.reference)
    sd = ref.load_safetensors(args.weights)
    name = args.config
    if name is None:
        import json
        import struct
        with open(args.weights, 'rb') as f:
            n = struct.unpack('<Q', f.read(8))[0]
            name = json.loads(f.read(n)).get('__metadata__', {}).get('config', 'reference')
    c = ref.CONFIGS[name]
    dev = torch.device(args.device)
    model = ref.Synchformer(c).eval()
    model.load_state_dict(sd, strict=True)
    model = model.to(dev)
    print(f'config {c.name}: {sum(p.numel() for p in model.parameters()) / 1e6:.1f} M parameters, torch {torch.__version__}, '
          f'{torch.cuda.get_device_name() if dev.type == "cuda" else "cpu"}')

    T = int(round(args.seconds * c.fps))
    H, W = args.height, args.width
    ns = int(round(args.seconds * c.sample_rate))
    fr = torch.arange(T).view(T, 1, 1)
    ys = torch.arange(H).view(1, H, 1)
    xs = torch.arange(W).view(1, 1, W)
    rgba = torch.stack([(xs + fr * 3) % 256 + 0 * ys, (ys * 2 + fr) % 256 + 0 * xs, ((xs ^ ys) + fr * 5) % 256,
                        torch.full((T, H, W), 255)], dim=-1).to(torch.uint8)   # host, like decoded frames
    audio = 0.1 * torch.randn(ns)

    try:
        import torchaudio
        mel_tf = torchaudio.transforms.MelSpectrogram(sample_rate=c.sample_rate, n_fft=c.n_fft, win_length=c.win_length,
                                                      hop_length=c.hop_length, n_mels=c.n_mels).to(dev)

        def log_mel(seg):
            x = torch.log(mel_tf(seg) + 1e-6)
            t = x.shape[-1]
            x = F.pad(x, (0, c.spec_frames - t)) if t < c.spec_frames else x[..., :c.spec_frames]
            return (x - c.spec_mean) / (2 * c.spec_std)
        mel_name = 'torchaudio'
    except ImportError:
        def log_mel(seg):
            return ref.log_mel(c, seg).to(dev)
        mel_name = 'reference (float64 stft)'
    print(f'mel: {mel_name}')

    wf = (c.n_segments - 1) * c.segment_hop + c.segment_frames
    spf = c.sample_rate // c.fps
    hop = round(2.4 * c.fps)
    short = min(H, W)
    rh, rw = (c.resize_side, int(c.resize_side * W / H)) if H <= W else (int(c.resize_side * H / W), c.resize_side)
    top, left = int(round((rh - c.image_size) / 2)), int(round((rw - c.image_size) / 2))

    def analyse(n_frames, autocast):
        total = min(n_frames, ns // spf)
        starts = list(range(0, total - wf + 1, hop))
        if starts[-1] + wf < total:
            starts.append(total - wf)
        probs = []
        for s0 in starts:
            x = rgba[s0:s0 + wf, :, :, :3].to(dev, non_blocking=True).permute(0, 3, 1, 2).float()
            x = F.interpolate(x, size=(rh, rw), mode='bilinear', align_corners=False)
            x = x[:, :, top:top + c.image_size, left:left + c.image_size] / 127.5 - 1.0
            idx = torch.tensor([s * c.segment_hop + j for s in range(c.n_segments) for j in range(c.segment_frames)],
                               device=dev)
            video = x[idx].view(c.n_segments, c.segment_frames, 3, c.image_size, c.image_size).permute(0, 2, 1, 3, 4)
            a = audio[s0 * spf: s0 * spf + wf * spf].to(dev)
            segs = torch.stack([a[s * c.segment_hop * spf: s * c.segment_hop * spf + c.segment_samples]
                                for s in range(c.n_segments)])
            spec = log_mel(segs).float()
            with torch.no_grad(), torch.autocast(dev.type, dtype=torch.bfloat16, enabled=autocast):
                logits = model(video.unsqueeze(0).contiguous(), spec.unsqueeze(0))
            probs.append(torch.softmax(logits.float(), -1).cpu())
        return len(starts), torch.cat(probs)

    def sync():
        if dev.type == 'cuda':
            torch.cuda.synchronize()

    for autocast in ([False, True] if args.bf16 else [False]):
        label = 'bf16 autocast' if autocast else 'fp32'
        t = time.perf_counter()
        analyse(min(T, 125), autocast)
        sync()
        print(f'[{label}] warm-up: {time.perf_counter() - t:.3f} s')
        best = math.inf
        for _ in range(args.repeat):
            sync()
            t = time.perf_counter()
            nw, _ = analyse(T, autocast)
            sync()
            el = time.perf_counter() - t
            best = min(best, el)
            print(f'[{label}] analyse {args.seconds:.1f} s of {W}x{H} video ({nw} windows): {el:.3f} s')
        print(f'RESULT torch {label} analyse {args.seconds:.1f} s: best {best:.3f} s ({nw} windows, {best / nw:.3f} s per window)')
        if args.profile and dev.type == 'cuda':
            profile_kinds(lambda: analyse(T, autocast), label, sync)


# kinds of CUDA kernels, by name (first match), for --profile
KINDS = [('gemm', r'gemm|cutlass|xmma|nvjet|cublas|sm90_'), ('attention', r'flash|fmha|attention|efficient'),
         ('conv', r'conv|implicit_'), ('norm', r'norm'), ('softmax', r'softmax'),
         ('reduce', r'reduce'), ('copy / cat / index', r'cat|copy|Copy|index|gather|Memcpy|Memset|fill'),
         ('elementwise', r'elementwise|vectorized|unrolled'), ('other', r'.')]


def profile_kinds(run, label, sync):
    import re
    from torch.profiler import ProfilerActivity, profile
    with profile(activities=[ProfilerActivity.CUDA]) as prof:
        nw, _ = run()
        sync()
    tot = {k: [0.0, 0] for k, _ in KINDS}
    rows = []
    for e in prof.key_averages():
        us = getattr(e, 'device_time_total', None)
        if us is None:
            us = getattr(e, 'cuda_time_total', 0)
        if not us or e.key.startswith('ProfilerStep'):
            continue
        if getattr(e, 'device_type', None) is not None and 'CUDA' not in str(e.device_type):
            continue
        rows.append((us, e.count, e.key))
        for k, rx in KINDS:
            if re.search(rx, e.key):
                tot[k][0] += us
                tot[k][1] += e.count
                break
    total = sum(v[0] for v in tot.values())
    print(f'[{label}] GPU kernel time per window: {total / 1e3 / nw:.1f} ms')
    for k, _ in KINDS:
        if tot[k][1]:
            print(f'  {k:22s} {tot[k][1] / nw:7.0f} x {tot[k][0] / 1e3 / nw:9.2f} ms')
    for us, n, key in sorted(rows, reverse=True)[:15]:
        print(f'    {n / nw:6.0f} x {us / 1e3 / nw:8.2f} ms  {key[:110]}')


if __name__ == '__main__':
    main()
