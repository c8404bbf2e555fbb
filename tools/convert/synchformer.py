#!/usr/bin/env python3
"""Converts a public Synchformer checkpoint (.pt, github.com/v-iashin/Synchformer) to
safetensors, the only weight format Soundstage loads.

  synchformer.py IN.pt OUT.safetensors [--config auto|reference|reference-syncability]
                 [--dtype f32|f16|bf16] [--trust-pickle]

The state dict (ckpt['model']) is checked tensor by tensor against the names and
shapes of the chosen config (tools/reference/synchformer.py, which mirrors
core/models/sync/ss-synchformer-config.c). Any missing tensor, unexpected tensor or
shape difference stops the conversion with a report; nothing is guessed or renamed
except a leading 'module.' (DistributedDataParallel). Runs wherever PyTorch runs.

A .pt file is a pickle, which can run code when loaded. The converter first loads it
with torch.load(weights_only=True), which refuses anything but tensors and plain
containers; the public checkpoints also store their training config (OmegaConf
objects), so that may fail: then --trust-pickle loads it with an unpickler that
resolves only torch, collections and plain builtin types and turns every other
class into an inert stub (so OmegaConf need not be installed and no foreign code
runs). Still, use it only on a file you downloaded from the authors.
"""
import argparse
import hashlib
import importlib.util
import os
import pickle
import sys
import types

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
_spec = importlib.util.spec_from_file_location('synchformer_reference',
                                               os.path.join(HERE, '..', 'reference', 'synchformer.py'))
ref = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(ref)


class _Stub:
    """Stands in for any non-tensor object of the checkpoint (its training config, an
    OmegaConf DictConfig): keeps its state, runs nothing, needs no extra package."""

    def __init__(self, *args, **kwargs):
        self.args = args

    def __setstate__(self, state):
        self.state = state


_SAFE_BUILTINS = {'set', 'frozenset', 'dict', 'list', 'tuple', 'int', 'float', 'complex', 'bool',
                  'bytes', 'bytearray', 'str', 'slice', 'range', 'object'}


class _StubUnpickler(pickle.Unpickler):
    def find_class(self, module, name):
        if module.split('.')[0] in ('torch', 'collections', 'numpy', '_codecs', 'copyreg'):
            return super().find_class(module, name)
        if module == 'builtins' and name in _SAFE_BUILTINS:
            return super().find_class(module, name)
        return type(name, (_Stub,), {'__module__': 'stub.' + module})


_stub_pickle = types.SimpleNamespace(__name__='stub_pickle', Unpickler=_StubUnpickler,
                                     load=lambda f, **kw: _StubUnpickler(f, **kw).load())


def load_checkpoint(path, trust):
    try:
        return torch.load(path, map_location='cpu', weights_only=True)
    except Exception as e:   # noqa: BLE001 - torch raises several kinds here
        if not trust:
            sys.exit(f'error: {path} holds more than tensors (torch.load with weights_only=True said: '
                     f'{str(e).splitlines()[0]}).\nIf this is a checkpoint you downloaded from the '
                     f'Synchformer authors, run again with --trust-pickle.')
        # tensors and containers load normally; any other object becomes an inert stub
        return torch.load(path, map_location='cpu', weights_only=False, pickle_module=_stub_pickle)


def state_dict_of(ckpt):
    if isinstance(ckpt, dict):
        for key in ('model', 'state_dict'):
            if key in ckpt and isinstance(ckpt[key], dict):
                return ckpt[key]
        if ckpt and all(torch.is_tensor(v) for v in ckpt.values()):
            return ckpt
    sys.exit('error: no state dict found in the checkpoint (expected ckpt["model"])')


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('input')
    ap.add_argument('output')
    ap.add_argument('--config', default='auto', choices=['auto', 'reference', 'reference-syncability'])
    ap.add_argument('--dtype', default='f32', choices=['f32', 'f16', 'bf16'])
    ap.add_argument('--trust-pickle', action='store_true')
    args = ap.parse_args()

    sd = state_dict_of(load_checkpoint(args.input, args.trust_pickle))
    sd = {(k[len('module.'):] if k.startswith('module.') else k): v for k, v in sd.items()}

    name = args.config
    if name == 'auto':
        if 'transformer.sync_head.weight' in sd:
            name = 'reference-syncability'
        elif 'transformer.off_head.weight' in sd:
            name = 'reference'
        else:
            sys.exit('error: neither transformer.off_head nor transformer.sync_head is in the checkpoint; '
                     'this is not a Synchformer synchronization model (pass --config to see the full report)')
    cfg = ref.CONFIGS[name]
    want = dict(ref.tensor_list(cfg))

    missing = [k for k in want if k not in sd]
    unexpected = [k for k in sd if k not in want]
    wrong = [k for k in want if k in sd and list(sd[k].shape) != want[k]]
    not_float = [k for k in want if k in sd and not torch.is_floating_point(sd[k])]
    print(f'{args.input}: {len(sd)} tensors; config {name} expects {len(want)}')
    for k in missing:
        print(f'  missing:    {k} {want[k]}')
    for k in unexpected:
        print(f'  unexpected: {k} {list(sd[k].shape)}')
    for k in wrong:
        print(f'  shape:      {k} is {list(sd[k].shape)}, expected {want[k]}')
    for k in not_float:
        print(f'  dtype:      {k} is {sd[k].dtype}, expected a floating-point tensor')
    if missing or unexpected or wrong or not_float:
        print('error: the checkpoint does not match; nothing was written')
        return 1

    dtype = {'f32': torch.float32, 'f16': torch.float16, 'bf16': torch.bfloat16}[args.dtype]
    out = {k: sd[k].detach().to(dtype).contiguous() for k in want}   # in the config's order
    h = hashlib.sha256()
    with open(args.input, 'rb') as f:
        for chunk in iter(lambda: f.read(1 << 20), b''):
            h.update(chunk)
    tmp = args.output + '.part'
    ref.save_safetensors(tmp, out, {'format': 'soundstage-synchformer', 'config': name,
                                    'source': os.path.basename(args.input), 'source_sha256': h.hexdigest()})
    os.replace(tmp, args.output)
    n = sum(v.numel() for v in out.values())
    print(f'wrote {args.output}: {len(out)} tensors, {n / 1e6:.1f} M parameters, {args.dtype}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
