#!/usr/bin/env python3
"""PyTorch reference timings for the mel front end, same shapes as
tests/dsp/bench-mel (which prints the engine's): Synchformer's
torchaudio.transforms.MelSpectrogram(16000, n_fft=1024, win_length=400,
hop_length=160, n_mels=128) + log(x + 1e-6) on the GPU when there is one.
Usage: bench_mel_torch.py [seconds] [batch]  (defaults 10 1)."""
import sys
import time

import torch
import torchaudio

secs = float(sys.argv[1]) if len(sys.argv) > 1 else 10.0
batch = int(sys.argv[2]) if len(sys.argv) > 2 else 1
dev = 'cuda' if torch.cuda.is_available() else 'cpu'
mel = torchaudio.transforms.MelSpectrogram(sample_rate=16000, n_fft=1024, win_length=400,
                                           hop_length=160, n_mels=128).to(dev)
x = torch.sin(torch.arange(int(secs * 16000), device=dev) * 0.01).repeat(batch, 1) * 0.5


def run():
    return torch.log(mel(x) + 1e-6)


for _ in range(3):
    run()
if dev == 'cuda':
    torch.cuda.synchronize()
best = 1e9
for _ in range(10):
    t0 = time.perf_counter()
    run()
    if dev == 'cuda':
        torch.cuda.synchronize()
    best = min(best, time.perf_counter() - t0)
name = torch.cuda.get_device_name() if dev == 'cuda' else 'cpu'
print(f'{name}: torchaudio log-mel {batch} x {secs:.2f} s: {best * 1e3:.3f} ms, '
      f'{batch * secs / best:.0f} x real time')
