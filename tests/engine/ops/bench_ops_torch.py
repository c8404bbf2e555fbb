#!/usr/bin/env python3
"""PyTorch eager counterpart of bench-ops.c: same cases, same output format.

  python3 bench_ops_torch.py [--quick | --tiny] [--dtypes=bf16,f16,...] [substring...]
"""
import sys
import torch
import torch.nn.functional as F

quick = '--quick' in sys.argv
tiny = '--tiny' in sys.argv
dtypes = 'f16,bf16,f32'
for a in sys.argv[1:]:
    if a.startswith('--dtypes='):
        dtypes = a[len('--dtypes='):]
filters = [a for a in sys.argv[1:] if not a.startswith('--')]
dev = 'cuda'
q = 1024 if tiny else 4 if quick else 1


def rnd(dt, *shape):
    return (torch.rand(*shape, device=dev) * 2 - 1).to(dt)


def run(fn, ins, bwd, target=0.2):
    for t in ins:
        t.requires_grad_(bwd)

    def once():
        y = fn(*ins)
        if bwd:
            y.backward(torch.full_like(y, 0.5))
            for t in ins:
                t.grad = None
    once()
    torch.cuda.synchronize()
    s, e = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    s.record(); once(); e.record(); torch.cuda.synchronize()
    one = s.elapsed_time(e) / 1e3
    reps = 2 if quick else max(3, min(200, int(target / max(one, 1e-6))))
    s.record()
    for _ in range(reps):
        once()
    e.record(); torch.cuda.synchronize()
    return s.elapsed_time(e) / 1e3 / reps


def infonce(a, b):
    a = F.normalize(a, dim=-1); b = F.normalize(b, dim=-1)
    logits = a @ b.t() / 0.07
    t = torch.arange(a.shape[0], device=dev)
    return (F.cross_entropy(logits, t) + F.cross_entropy(logits.t(), t)) / 2


emb_ids_host = torch.tensor([(i * 7919) % 32000 for i in range(8192)], dtype=torch.int32)
emb_ids = emb_ids_host.to(dev)
ce_t = torch.tensor([(i * 104729) % 8192 for i in range(max(4, 4096 // q))], device=dev)
TYPES = {'f16': torch.float16, 'bf16': torch.bfloat16, 'f32': torch.float32}
for name in dtypes.split(','):
    dt = TYPES[name]
    es = torch.tensor([], dtype=dt).element_size()
    T = 8192 // q
    g = 2 if quick else 1
    cases = [
        ('layer_norm', [rnd(dt, T, 1024), rnd(dt, 1024), rnd(dt, 1024)],
         lambda x, w, b: F.layer_norm(x, (1024,), w, b, 1e-5), 2 * T * 1024 * es),
        ('rms_norm', [rnd(dt, T, 1024), rnd(dt, 1024)],
         lambda x, w: x * torch.rsqrt(x.float().pow(2).mean(-1, keepdim=True) + 1e-6).to(dt) * w, 2 * T * 1024 * es),
        ('group_norm', [rnd(dt, 4 // g, 256, 64, 64), rnd(dt, 256), rnd(dt, 256)],
         lambda x, w, b: F.group_norm(x, 32, w, b, 1e-5), 2 * 4 // g * 256 * 4096 * es),
        ('softmax', [rnd(dt, 2 * T, 1024)], lambda x: torch.softmax(x, -1), 2 * 2 * T * 1024 * es),
        ('gelu_tanh', [rnd(dt, T, 4096)], lambda x: F.gelu(x, approximate='tanh'), 2 * T * 4096 * es),
        ('silu', [rnd(dt, T, 4096)], F.silu, 2 * T * 4096 * es),
        ('scale', [rnd(dt, T, 4096)], lambda x: x * 1.7, 2 * T * 4096 * es),
        ('add_bias', [rnd(dt, T, 1024), rnd(dt, 1024)], torch.add, 2 * T * 1024 * es),
        ('mul_modulate', [rnd(dt, 4, T // 4, 1536), rnd(dt, 4, 1, 1536)], torch.mul, 2 * T * 1536 * es),
        ('sum_last', [rnd(dt, T, 1024)], lambda x: x.sum(-1), T * 1024 * es),
        ('mean_all', [rnd(dt, T * 2048)], lambda x: x.mean(), T * 2048 * es),
        ('concat_last', [rnd(dt, T, 512), rnd(dt, T, 512)], lambda a, b: torch.cat([a, b], -1), 2 * T * 1024 * es),
        ('embedding', [rnd(dt, 32000, 1024)], lambda w: F.embedding(emb_ids, w), 2 * 8192 * 1024 * es),
        ('embedding_hostids', [rnd(dt, 32000, 1024)], lambda w: F.embedding(emb_ids_host.to(dev), w),
         2 * 8192 * 1024 * es),
        ('rope', [rnd(dt, 4, 16, 2 * T // 4, 64)], None, 2 * 4 * 16 * 2 * T // 4 * 64 * es),
        ('interp_nearest2d', [rnd(dt, max(1, 8 // q), 256, 64, 64)],
         lambda x: F.interpolate(x, size=(128, 128), mode='nearest'), 5 * max(1, 8 // q) * 256 * 4096 * es),
        ('interp_linear1d', [rnd(dt, max(1, 8 // q), 512, 1024)],
         lambda x: F.interpolate(x, size=2048, mode='linear', align_corners=False), 3 * max(1, 8 // q) * 512 * 1024 * es),
        ('cross_entropy', [rnd(dt, max(4, 4096 // q), 8192)], lambda x: F.cross_entropy(x, ce_t), max(4, 4096 // q) * 8192 * es),
        ('mse', [rnd(dt, T * 2048), rnd(dt, T * 2048)], F.mse_loss, 2 * T * 2048 * es),
        ('infonce', [rnd(dt, 1024, 512), rnd(dt, 1024, 512)], infonce, 2 * 1024 * 512 * es),
    ]
    L = 2 * T // 4
    inv = 1.0 / (10000 ** (torch.arange(0, 64, 2, device=dev).float() / 64))
    ang = torch.outer(torch.arange(L, device=dev).float(), inv)
    cos, sin = torch.cat([ang.cos()] * 2, -1).to(dt), torch.cat([ang.sin()] * 2, -1).to(dt)

    def rope(x):
        x1, x2 = x[..., :32], x[..., 32:]
        return x * cos + torch.cat([-x2, x1], -1) * sin
    for cname, ins, fn, nbytes in cases:
        if filters and not any(f in cname for f in filters):
            continue
        fn = fn or rope
        tf, tb = run(fn, ins, False), run(fn, ins, True)
        shape = 'x'.join(str(s) for s in ins[0].shape)
        print('%s %s %s fwd %.4f ms fwdbwd %.4f ms %.1f GB/s' % (cname, name, shape, tf * 1e3, tb * 1e3, nbytes / tf * 1e-9), flush=True)
