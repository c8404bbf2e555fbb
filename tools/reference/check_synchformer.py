#!/usr/bin/env python3
"""Self-check of tools/reference/synchformer.py against plain formulations:
divided time / space attention written token by token, and the aggregation layer
against torch's own nn.TransformerEncoderLayer. Prints the largest differences and
fails above 1e-5. Needs torch only."""
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import synchformer as s  # noqa: E402


def naive_divided(blk, x, frames, mode):
    B, N, D = x.shape
    h = blk.heads
    dh = D // h
    P = (N - 1) // frames
    q, k, v = blk.qkv(x).chunk(3, -1)
    out = torch.zeros(B, N, D)
    for b in range(B):
        for hh in range(h):
            sl = slice(hh * dh, (hh + 1) * dh)
            for n in range(N):
                if n == 0:
                    idx = list(range(N))
                elif mode == 'time':
                    p = (n - 1) % P
                    idx = [0] + [1 + f * P + p for f in range(frames)]
                else:
                    f = (n - 1) // P
                    idx = [0] + [1 + f * P + p for p in range(P)]
                a = torch.softmax((q[b, n, sl] * dh ** -0.5) @ k[b, idx, sl].T, -1)
                out[b, n, sl] = a @ v[b, idx, sl]
    return blk.proj(out)


def main():
    torch.manual_seed(0)
    c = s.TINY
    m = s.Synchformer(c).eval()
    s.init_random(m, 3)
    worst = 0.0
    with torch.no_grad():
        frames = 2
        x = torch.randn(2, 1 + frames * 16, c.v_dim)
        for mode, blk in (('time', m.vfeat_extractor.blocks[0].timeattn), ('space', m.vfeat_extractor.blocks[0].attn)):
            d = float((naive_divided(blk, x, frames, mode) - blk(x, frames, mode)).abs().max())
            print(f'{mode} attention: max difference {d:.2e}')
            worst = max(worst, d)
        agg = m.vfeat_extractor.spatial_attn_agg
        y = torch.randn(3, 5, c.v_dim)
        full = torch.cat((agg.cls_token.expand(3, -1, -1), y), 1)
        ref = torch.nn.TransformerEncoderLayer.forward(agg, full)[:, 0]
        d = float((ref - agg(y)).abs().max())
        print(f'aggregation layer vs nn.TransformerEncoderLayer: max difference {d:.2e}')
        worst = max(worst, d)
    print('OK' if worst < 1e-5 else 'FAILED')
    return 0 if worst < 1e-5 else 1


if __name__ == '__main__':
    sys.exit(main())
