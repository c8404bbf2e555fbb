#!/usr/bin/env python3
"""PyTorch reference of Synchformer (Iashin et al., ICASSP 2024) for parity tests.

Written for Soundstage from the paper and the structure of the public checkpoints
(github.com/v-iashin/Synchformer); module and parameter names match ckpt['model'] of
those checkpoints, so `load_state_dict` takes converted public weights as they are.
The configs mirror core/models/sync/ss-synchformer-config.c.

Usage:
  synchformer.py list    --config reference            # names and shapes as JSON
  synchformer.py check   --config reference --names tests/sync/synchformer-reference-tensors.json
  synchformer.py fixture --config tiny --seed 0 --out DIR [--weights W.safetensors] [--device cuda]
      writes DIR/weights.safetensors (random init with the seed unless --weights),
      DIR/inputs.safetensors (frames, waveform, video segments, spectrograms) and
      DIR/outputs.safetensors (every intermediate the engine should reproduce).

Needs torch only (no numpy, no safetensors package): the safetensors files are
written by the small writer below.
"""
import argparse
import json
import math
import struct
import sys
from dataclasses import dataclass, replace

import torch
import torch.nn as nn
import torch.nn.functional as F


# --------------------------------------------------------------------------
# configs (keep in step with ss-synchformer-config.c)

@dataclass(frozen=True)
class Config:
    name: str
    fps: int = 25
    sample_rate: int = 16000
    resize_side: int = 256
    image_size: int = 224
    n_segments: int = 14
    segment_frames: int = 16
    segment_hop: int = 8
    n_fft: int = 1024
    win_length: int = 400
    hop_length: int = 160
    n_mels: int = 128
    spec_frames: int = 66
    spec_mean: float = -4.2677393
    spec_std: float = 4.5689974
    a_dim: int = 768
    a_layers: int = 12
    a_heads: int = 12
    a_mlp: int = 3072
    a_patch: int = 16
    a_fstride: int = 10
    a_tstride: int = 10
    a_ln_eps: float = 1e-12
    v_dim: int = 768
    v_layers: int = 12
    v_heads: int = 12
    v_mlp: int = 3072
    v_patch: int = 16
    v_tubelet: int = 2
    v_channels: int = 3
    v_ln_eps: float = 1e-6
    v_keep_patch_embed_2d: bool = True
    agg_mlp_ratio: int = 4
    agg_ln_eps: float = 1e-6
    s_dim: int = 768
    s_layers: int = 3
    s_heads: int = 8
    s_mlp_ratio: int = 4
    s_ln_eps: float = 1e-5
    n_classes: int = 21
    pos_len: int = 198
    head: str = 'offset'   # or 'syncability'

    @property
    def a_freq_tokens(self):
        return (self.n_mels - self.a_patch) // self.a_fstride + 1

    @property
    def a_time_tokens(self):
        return (self.spec_frames - self.a_patch) // self.a_tstride + 1

    @property
    def v_time_tokens(self):
        return self.segment_frames // self.v_tubelet

    @property
    def v_grid(self):
        return self.image_size // self.v_patch

    @property
    def seq_len(self):
        return 2 + self.n_segments * (self.v_time_tokens + self.a_time_tokens)

    @property
    def segment_samples(self):
        return self.segment_frames * self.sample_rate // self.fps

    @property
    def window_frames(self):
        return (self.n_segments - 1) * self.segment_hop + self.segment_frames


REFERENCE = Config('reference')
REFERENCE_SYNCABILITY = replace(REFERENCE, name='reference-syncability', n_segments=13, n_classes=2,
                                pos_len=184, head='syncability')
TINY = Config('tiny', resize_side=36, image_size=32, n_segments=3, segment_frames=4, segment_hop=2,
              n_fft=512, n_mels=32, spec_frames=18,
              a_dim=32, a_layers=2, a_heads=4, a_mlp=64, a_patch=8, a_fstride=6, a_tstride=5,
              v_dim=32, v_layers=2, v_heads=4, v_mlp=64, v_patch=8,
              agg_mlp_ratio=2, s_dim=32, s_layers=2, s_heads=4, pos_len=17)
CONFIGS = {c.name: c for c in (REFERENCE, REFERENCE_SYNCABILITY, TINY)}


# --------------------------------------------------------------------------
# shared pieces

class AggLayer(nn.TransformerEncoderLayer):
    """Pre-norm encoder layer that prepends its own CLS token and returns the CLS output.
    Names: cls_token, self_attn.*, linear1/2, norm1/2 (those of nn.TransformerEncoderLayer)."""

    def __init__(self, dim, heads, mlp, eps):
        super().__init__(d_model=dim, nhead=heads, dim_feedforward=mlp, dropout=0.0,
                         activation=nn.GELU(), batch_first=True, norm_first=True, layer_norm_eps=eps)
        self.cls_token = nn.Parameter(torch.zeros(1, 1, dim))

    def forward(self, x):   # (N, L, D) -> (N, D)
        x = torch.cat((self.cls_token.expand(x.shape[0], -1, -1), x), dim=1)
        # the fused fast path of nn.TransformerEncoderLayer gives the same result; keep the plain one
        h = self.norm1(x)
        x = x + self.self_attn(h, h, h, need_weights=False)[0]
        x = x + self.linear2(F.gelu(self.linear1(self.norm2(x))))
        return x[:, 0]


def attention(q, k, v):
    """q (..., Lq, d) pre-scaled, k/v (..., Lk, d)."""
    return torch.softmax(q @ k.transpose(-1, -2), dim=-1) @ v


class Mlp(nn.Module):
    def __init__(self, dim, hidden):
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden)
        self.fc2 = nn.Linear(hidden, dim)

    def forward(self, x):
        return self.fc2(F.gelu(self.fc1(x)))


# --------------------------------------------------------------------------
# video: Motionformer-style ViT with divided space-time attention

class DividedAttention(nn.Module):
    def __init__(self, dim, heads):
        super().__init__()
        self.heads = heads
        self.qkv = nn.Linear(dim, 3 * dim)
        self.proj = nn.Linear(dim, dim)

    def forward(self, x, frames, mode):
        """x (B, 1 + frames * P, D). mode 'time': each patch attends to the CLS token and to
        itself over the frames; 'space': to the CLS token and the patches of its frame.
        The CLS token attends to everything."""
        B, N, D = x.shape
        h, dh = self.heads, D // self.heads
        P = (N - 1) // frames
        q, k, v = self.qkv(x).chunk(3, dim=-1)
        q, k, v = (t.reshape(B, N, h, dh).permute(0, 2, 1, 3) for t in (q, k, v))   # (B, h, N, dh)
        q = q * dh ** -0.5
        cls_out = attention(q[:, :, :1], k, v)                                     # (B, h, 1, dh)
        qt, kt, vt = (t[:, :, 1:].reshape(B, h, frames, P, dh) for t in (q, k, v))
        if mode == 'time':
            qt, kt, vt = (t.transpose(2, 3) for t in (qt, kt, vt))                 # (B, h, P, F, dh)
        groups = qt.shape[2]
        ck = k[:, :, :1].unsqueeze(2).expand(B, h, groups, 1, dh)
        cv = v[:, :, :1].unsqueeze(2).expand(B, h, groups, 1, dh)
        out = attention(qt, torch.cat((ck, kt), dim=3), torch.cat((cv, vt), dim=3))
        if mode == 'time':
            out = out.transpose(2, 3)
        out = torch.cat((cls_out, out.reshape(B, h, frames * P, dh)), dim=2)
        return self.proj(out.permute(0, 2, 1, 3).reshape(B, N, D))


class DividedBlock(nn.Module):
    def __init__(self, dim, heads, mlp, eps):
        super().__init__()
        self.norm1 = nn.LayerNorm(dim, eps=eps)
        self.attn = DividedAttention(dim, heads)
        self.timeattn = DividedAttention(dim, heads)
        self.norm2 = nn.LayerNorm(dim, eps=eps)
        self.mlp = Mlp(dim, mlp)
        self.norm3 = nn.LayerNorm(dim, eps=eps)

    def forward(self, x, frames):
        x = x + self.timeattn(self.norm3(x), frames, 'time')
        x = x + self.attn(self.norm1(x), frames, 'space')
        return x + self.mlp(self.norm2(x))


class PatchProj(nn.Module):
    def __init__(self, conv):
        super().__init__()
        self.proj = conv


class VideoExtractor(nn.Module):
    def __init__(self, c: Config):
        super().__init__()
        d = c.v_dim
        self.c = c
        self.cls_token = nn.Parameter(torch.zeros(1, 1, d))
        self.pos_embed = nn.Parameter(torch.zeros(1, c.v_grid ** 2 + 1, d))
        self.temp_embed = nn.Parameter(torch.zeros(1, c.v_time_tokens, d))
        if c.v_keep_patch_embed_2d:   # present in the checkpoints, unused
            self.patch_embed = PatchProj(nn.Conv2d(c.v_channels, d, c.v_patch, c.v_patch))
        self.patch_embed_3d = PatchProj(nn.Conv3d(c.v_channels, d, (c.v_tubelet, c.v_patch, c.v_patch),
                                                  (c.v_tubelet, c.v_patch, c.v_patch)))
        self.blocks = nn.ModuleList([DividedBlock(d, c.v_heads, c.v_mlp, c.v_ln_eps) for _ in range(c.v_layers)])
        self.norm = nn.LayerNorm(d, eps=c.v_ln_eps)
        self.spatial_attn_agg = AggLayer(d, c.v_heads, c.agg_mlp_ratio * d, c.agg_ln_eps)

    def forward(self, x, trace=None):
        """x (N, C, T, H, W) normalized frames of N segments -> (N, t, D)."""
        c = self.c
        N = x.shape[0]
        x = self.patch_embed_3d.proj(x)                       # (N, D, t, g, g)
        _, D, t, gh, gw = x.shape
        P = gh * gw
        x = x.flatten(2).transpose(1, 2)                      # (N, t*P, D), frame-major
        x = torch.cat((self.cls_token.expand(N, -1, -1), x), dim=1)
        pos = self.pos_embed[:, 1:].repeat(1, t, 1) + self.temp_embed.repeat_interleave(P, dim=1)
        x = x + torch.cat((self.pos_embed[:, :1], pos), dim=1)
        if trace is not None:
            trace['video.embed'] = x
        for i, blk in enumerate(self.blocks):
            x = blk(x, t)
            if trace is not None:
                trace[f'video.block{i}'] = x
        x = self.norm(x[:, 1:])                               # (N, t*P, D)
        x = x.reshape(N * t, P, D)                            # one sequence per frame
        x = self.spatial_attn_agg(x).reshape(N, t, D)
        if trace is not None:
            trace['video.features'] = x
        return x


# --------------------------------------------------------------------------
# audio: AST-style ViT

class Named(nn.Module):
    """An empty container, to reproduce the nesting of the public names."""


class ASTLayer(nn.Module):
    def __init__(self, d, heads, mlp, eps):
        super().__init__()
        self.heads = heads
        self.attention = Named()
        self.attention.attention = Named()
        self.attention.attention.query = nn.Linear(d, d)
        self.attention.attention.key = nn.Linear(d, d)
        self.attention.attention.value = nn.Linear(d, d)
        self.attention.output = Named()
        self.attention.output.dense = nn.Linear(d, d)
        self.intermediate = Named()
        self.intermediate.dense = nn.Linear(d, mlp)
        self.output = Named()
        self.output.dense = nn.Linear(mlp, d)
        self.layernorm_before = nn.LayerNorm(d, eps=eps)
        self.layernorm_after = nn.LayerNorm(d, eps=eps)

    def forward(self, x):
        B, N, D = x.shape
        h, dh = self.heads, D // self.heads
        a = self.attention.attention
        y = self.layernorm_before(x)
        q, k, v = (m(y).reshape(B, N, h, dh).transpose(1, 2) for m in (a.query, a.key, a.value))
        y = attention(q * dh ** -0.5, k, v).transpose(1, 2).reshape(B, N, D)
        x = x + self.attention.output.dense(y)
        y = self.output.dense(F.gelu(self.intermediate.dense(self.layernorm_after(x))))
        return x + y


class AudioExtractor(nn.Module):
    def __init__(self, c: Config):
        super().__init__()
        d = c.a_dim
        self.c = c
        self.ast = Named()
        emb = self.ast.embeddings = Named()
        emb.cls_token = nn.Parameter(torch.zeros(1, 1, d))
        emb.distillation_token = nn.Parameter(torch.zeros(1, 1, d))
        emb.position_embeddings = nn.Parameter(torch.zeros(1, c.a_freq_tokens * c.a_time_tokens + 2, d))
        emb.patch_embeddings = Named()
        emb.patch_embeddings.projection = nn.Conv2d(1, d, c.a_patch, (c.a_fstride, c.a_tstride))
        self.ast.encoder = Named()
        self.ast.encoder.layer = nn.ModuleList([ASTLayer(d, c.a_heads, c.a_mlp, c.a_ln_eps)
                                                for _ in range(c.a_layers)])
        self.ast.layernorm = nn.LayerNorm(d, eps=c.a_ln_eps)
        self.freq_attn_agg = AggLayer(d, c.a_heads, c.agg_mlp_ratio * d, c.agg_ln_eps)

    def forward(self, spec, trace=None):
        """spec (N, n_mels, spec_frames) normalized log-mel of N segments -> (N, t, D)."""
        emb = self.ast.embeddings
        N = spec.shape[0]
        x = emb.patch_embeddings.projection(spec.unsqueeze(1))    # (N, D, f, t)
        _, D, f, t = x.shape
        x = x.flatten(2).transpose(1, 2)                          # (N, f*t, D), frequency-major
        x = torch.cat((emb.cls_token.expand(N, -1, -1), emb.distillation_token.expand(N, -1, -1), x), dim=1)
        x = x + emb.position_embeddings
        if trace is not None:
            trace['audio.embed'] = x
        for i, layer in enumerate(self.ast.encoder.layer):
            x = layer(x)
            if trace is not None:
                trace[f'audio.layer{i}'] = x
        x = self.ast.layernorm(x)[:, 2:]                          # (N, f*t, D)
        x = x.reshape(N, f, t, D).transpose(1, 2).reshape(N * t, f, D)   # one sequence per time step
        x = self.freq_attn_agg(x).reshape(N, t, D)
        if trace is not None:
            trace['audio.features'] = x
        return x


# --------------------------------------------------------------------------
# synchronization module (minGPT-style blocks)

class SelfAttention(nn.Module):
    def __init__(self, d, heads):
        super().__init__()
        self.heads = heads
        self.key = nn.Linear(d, d)
        self.query = nn.Linear(d, d)
        self.value = nn.Linear(d, d)
        self.proj = nn.Linear(d, d)

    def forward(self, x):
        B, N, D = x.shape
        h, dh = self.heads, D // self.heads
        q, k, v = (m(x).reshape(B, N, h, dh).transpose(1, 2) for m in (self.query, self.key, self.value))
        y = attention(q * (1.0 / math.sqrt(dh)), k, v).transpose(1, 2).reshape(B, N, D)
        return self.proj(y)


class Block(nn.Module):
    def __init__(self, d, heads, mlp_ratio, eps):
        super().__init__()
        self.ln1 = nn.LayerNorm(d, eps=eps)
        self.ln2 = nn.LayerNorm(d, eps=eps)
        self.attn = SelfAttention(d, heads)
        self.mlp = nn.Sequential(nn.Linear(d, mlp_ratio * d), nn.GELU(), nn.Linear(mlp_ratio * d, d))

    def forward(self, x):
        x = x + self.attn(self.ln1(x))
        return x + self.mlp(self.ln2(x))


class PosEmb(nn.Module):
    def __init__(self, n, d):
        super().__init__()
        self.pos_emb = nn.Parameter(torch.zeros(1, n, d))


class SyncTransformer(nn.Module):
    def __init__(self, c: Config):
        super().__init__()
        d = c.s_dim
        self.c = c
        self.OFF_tok = nn.Parameter(torch.zeros(1, 1, d))
        self.MOD_tok = nn.Parameter(torch.zeros(1, 1, d))
        self.vis_in_lnorm = nn.LayerNorm(d, eps=c.s_ln_eps)
        self.aud_in_lnorm = nn.LayerNorm(d, eps=c.s_ln_eps)
        self.pos_emb_cfg = PosEmb(c.pos_len, d)
        self.blocks = nn.Sequential(*[Block(d, c.s_heads, c.s_mlp_ratio, c.s_ln_eps) for _ in range(c.s_layers)])
        self.ln_f = nn.LayerNorm(d, eps=c.s_ln_eps)
        if c.head == 'offset':
            self.off_head = nn.Linear(d, c.n_classes)
        else:
            self.sync_head = nn.Linear(d, c.n_classes)

    def forward(self, v, a, trace=None):
        B = v.shape[0]
        x = torch.cat((self.OFF_tok.expand(B, -1, -1), self.vis_in_lnorm(v),
                       self.MOD_tok.expand(B, -1, -1), self.aud_in_lnorm(a)), dim=1)
        x = x + self.pos_emb_cfg.pos_emb
        if trace is not None:
            trace['sync.input'] = x
        x = self.ln_f(self.blocks(x))
        if trace is not None:
            trace['sync.output'] = x
        head = self.off_head if self.c.head == 'offset' else self.sync_head
        return head(x[:, 0])


class Synchformer(nn.Module):
    def __init__(self, c: Config):
        super().__init__()
        self.c = c
        self.vfeat_extractor = VideoExtractor(c)
        self.afeat_extractor = AudioExtractor(c)
        self.vproj = nn.Linear(c.v_dim, c.s_dim)
        self.aproj = nn.Linear(c.a_dim, c.s_dim)
        self.transformer = SyncTransformer(c)

    def forward(self, video, spec, trace=None):
        """video (B, S, C, T, H, W) normalized; spec (B, S, n_mels, spec_frames) -> logits (B, classes)."""
        B, S = video.shape[:2]
        v = self.vfeat_extractor(video.flatten(0, 1), trace)           # (B*S, tv, D)
        a = self.afeat_extractor(spec.flatten(0, 1), trace)            # (B*S, ta, D)
        v = self.vproj(v).reshape(B, -1, self.c.s_dim)
        a = self.aproj(a).reshape(B, -1, self.c.s_dim)
        logits = self.transformer(v, a, trace)
        if trace is not None:
            trace['logits'] = logits
        return logits


def init_random(model: nn.Module, seed: int):
    """Deterministic random weights with realistic scales (LayerNorms not at 1/0 so they are tested)."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith('.weight') and p.dim() == 1:       # LayerNorm scale
                p.copy_(1.0 + 0.1 * torch.randn(p.shape, generator=g))
            elif name.endswith('bias'):
                p.copy_(0.02 * torch.randn(p.shape, generator=g))
            else:
                fan_in = p[0].numel() if p.dim() >= 2 else p.shape[-1]
                std = 0.02 if p.dim() == 3 else 1.0 / math.sqrt(max(1, fan_in))
                p.copy_(std * torch.randn(p.shape, generator=g))


# --------------------------------------------------------------------------
# preprocessing (as the public test transforms)

def mel_filterbank(c: Config):
    """HTK mel scale, no normalization, f_min 0, f_max sr/2 (torchaudio.transforms.MelSpectrogram defaults)."""
    n_freqs = c.n_fft // 2 + 1
    all_freqs = torch.linspace(0, c.sample_rate // 2, n_freqs, dtype=torch.float64)
    hz2mel = lambda f: 2595.0 * math.log10(1.0 + f / 700.0)
    m_min, m_max = hz2mel(0.0), hz2mel(c.sample_rate / 2)
    m_pts = torch.linspace(m_min, m_max, c.n_mels + 2, dtype=torch.float64)
    f_pts = 700.0 * (10 ** (m_pts / 2595.0) - 1.0)
    f_diff = f_pts[1:] - f_pts[:-1]
    slopes = f_pts.unsqueeze(0) - all_freqs.unsqueeze(1)
    down = -slopes[:, :-2] / f_diff[:-1]
    up = slopes[:, 2:] / f_diff[1:]
    return torch.clamp(torch.minimum(down, up), min=0.0)      # (n_freqs, n_mels)


def log_mel(c: Config, wave):
    """wave (N, samples) float -> normalized log-mel (N, n_mels, spec_frames)."""
    window = torch.hann_window(c.win_length, periodic=True, dtype=torch.float64)
    st = torch.stft(wave.double(), c.n_fft, hop_length=c.hop_length, win_length=c.win_length, window=window,
                    center=True, pad_mode='reflect', return_complex=True)
    power = st.abs() ** 2                                       # (N, n_freqs, frames)
    mel = torch.einsum('nft,fm->nmt', power, mel_filterbank(c))
    x = torch.log(mel + 1e-6)
    T = x.shape[-1]
    if T < c.spec_frames:
        x = F.pad(x, (0, c.spec_frames - T), value=0.0)
    else:
        x = x[..., :c.spec_frames]
    return ((x - c.spec_mean) / (2 * c.spec_std)).float()


def segment(c: Config, frames, wave):
    """frames (T, H, W, 3) uint8 of size image_size at c.fps, wave (samples,) at c.sample_rate, starting
    together -> video (S, C, segment_frames, H, W) in [-1, 1], spec (S, n_mels, spec_frames)."""
    S, L, hop = c.n_segments, c.segment_frames, c.segment_hop
    spf = c.sample_rate // c.fps
    x = (frames.float() / 255.0 - 0.5) / 0.5
    video = torch.stack([x[s * hop: s * hop + L] for s in range(S)])           # (S, L, H, W, 3)
    video = video.permute(0, 4, 1, 2, 3).contiguous()
    seg = torch.stack([wave[s * hop * spf: s * hop * spf + c.segment_samples] for s in range(S)])
    return video, log_mel(c, seg)


# --------------------------------------------------------------------------
# safetensors without the package

DTYPES = {torch.float32: 'F32', torch.float16: 'F16', torch.bfloat16: 'BF16', torch.int64: 'I64',
          torch.int32: 'I32', torch.uint8: 'U8', torch.float64: 'F64'}
RDTYPES = {v: k for k, v in DTYPES.items()}


def tensor_bytes(t):
    t = t.detach().cpu().contiguous()
    return t.view(torch.uint8).reshape(-1).numpy().tobytes() if _have_numpy() else bytes(t.view(torch.uint8).reshape(-1).tolist())


def _have_numpy():
    try:
        import numpy  # noqa: F401
        return True
    except ImportError:
        return False


def save_safetensors(path, tensors: dict, metadata=None):
    header, blobs, off = {}, [], 0
    for name in tensors:
        t = tensors[name]
        b = tensor_bytes(t)
        header[name] = {'dtype': DTYPES[t.dtype], 'shape': list(t.shape), 'data_offsets': [off, off + len(b)]}
        blobs.append(b)
        off += len(b)
    if metadata:
        header['__metadata__'] = {k: str(v) for k, v in metadata.items()}
    h = json.dumps(header, separators=(',', ':')).encode()
    h += b' ' * ((8 - len(h) % 8) % 8)
    with open(path, 'wb') as f:
        f.write(struct.pack('<Q', len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)


def load_safetensors(path):
    with open(path, 'rb') as f:
        data = f.read()
    n = struct.unpack('<Q', data[:8])[0]
    header = json.loads(data[8:8 + n])
    out = {}
    for name, info in header.items():
        if name == '__metadata__':
            continue
        a, b = info['data_offsets']
        buf = bytearray(data[8 + n + a: 8 + n + b])
        t = torch.frombuffer(buf, dtype=torch.uint8) if len(buf) else torch.empty(0, dtype=torch.uint8)
        out[name] = t.view(RDTYPES[info['dtype']]).reshape(info['shape']).clone()
    return out


# --------------------------------------------------------------------------

def tensor_list(c: Config):
    m = Synchformer(c)
    return [(k, list(v.shape)) for k, v in m.state_dict().items()]


def synthetic_clip(c: Config, seed: int):
    """Deterministic frames and audio covering the model's window: moving squares, clicks."""
    g = torch.Generator().manual_seed(seed)
    T = c.window_frames
    H = W = c.image_size
    frames = torch.randint(0, 256, (T, H, W, 3), generator=g, dtype=torch.uint8)
    n = T * c.sample_rate // c.fps
    wave = 0.05 * torch.randn(n, generator=g)
    for k in range(6):
        p = int(torch.randint(0, n - 800, (1,), generator=g))
        wave[p:p + 800] += torch.exp(-torch.arange(800) / 120.0) * torch.randn(800, generator=g)
    return frames, wave


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('action', choices=['list', 'check', 'fixture'])
    ap.add_argument('--config', default='tiny', choices=sorted(CONFIGS))
    ap.add_argument('--names', help='JSON written by the C side (check)')
    ap.add_argument('--seed', type=int, default=0)
    ap.add_argument('--out', help='output folder (fixture)')
    ap.add_argument('--weights', help='safetensors with the weights to use instead of random ones')
    ap.add_argument('--device', default='cpu')
    args = ap.parse_args()
    c = CONFIGS[args.config]

    if args.action == 'list':
        json.dump([{'name': k, 'shape': s} for k, s in tensor_list(c)], sys.stdout, indent=1)
        print()
        return 0

    if args.action == 'check':
        want = json.load(open(args.names))
        want = [(t['name'], list(t['shape'])) for t in (want['tensors'] if isinstance(want, dict) else want)]
        have = tensor_list(c)
        ok = True
        hs, ws = dict(have), dict(want)
        for k in ws:
            if k not in hs:
                print(f'missing in PyTorch: {k} {ws[k]}')
                ok = False
            elif hs[k] != ws[k]:
                print(f'shape differs: {k} C {ws[k]} PyTorch {hs[k]}')
                ok = False
        for k in hs:
            if k not in ws:
                print(f'missing in C: {k} {hs[k]}')
                ok = False
        if ok and [k for k, _ in have] != [k for k, _ in want]:
            print('same tensors, different order (allowed)')
        print(f'{args.config}: {len(have)} tensors in PyTorch, {len(want)} in C: {"OK" if ok else "MISMATCH"}')
        return 0 if ok else 1

    import os
    os.makedirs(args.out, exist_ok=True)
    torch.manual_seed(args.seed)
    model = Synchformer(c).eval()
    if args.weights:
        sd = load_safetensors(args.weights)
        model.load_state_dict(sd, strict=True)
    else:
        init_random(model, args.seed)
    model = model.to(args.device)
    frames, wave = synthetic_clip(c, args.seed + 1)
    video, spec = segment(c, frames, wave)
    trace = {}
    with torch.no_grad():
        logits = model(video.unsqueeze(0).to(args.device), spec.unsqueeze(0).to(args.device), trace)
    meta = {'config': c.name, 'seed': args.seed, 'torch': torch.__version__, 'device': args.device}
    save_safetensors(os.path.join(args.out, 'weights.safetensors'),
                     {k: v.detach().cpu().float() for k, v in model.state_dict().items()}, meta)
    save_safetensors(os.path.join(args.out, 'inputs.safetensors'),
                     {'frames': frames, 'waveform': wave.float(), 'video': video, 'spectrogram': spec}, meta)
    save_safetensors(os.path.join(args.out, 'outputs.safetensors'),
                     {k: v.detach().cpu().float().contiguous() for k, v in trace.items()}, meta)
    probs = torch.softmax(logits[0].float().cpu(), -1)
    print(f'{c.name}: logits {list(logits.shape)}, argmax {int(probs.argmax())}, '
          f'p={float(probs.max()):.3f}; wrote {args.out}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
