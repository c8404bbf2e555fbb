#!/usr/bin/env python3
"""The NV -> KHR cooperative-matrix rewrite (shaders/gen/spv-nv-to-khr.py) on
shaders compiled by glslc here: no NV instruction or capability is left, each
matrix type gets the Use its multiply-add gives it, loads and stores get the
MemoryLayout their column-major flag asked for, the id bound covers the new
constants, and a type used as both A and B is refused.

Usage: test-spv-nv-to-khr.py CONVERTER GLSLC SHADER_DIR"""
import importlib.util
import os
import subprocess
import sys
import tempfile

conv_path, glslc, shader_dir = sys.argv[1:4]
spec = importlib.util.spec_from_file_location('conv', conv_path)
conv = importlib.util.module_from_spec(spec)
spec.loader.exec_module(conv)
failures = 0


def check(what, ok):
    global failures
    print(('ok - ' if ok else 'not ok - ') + what)
    if not ok:
        failures += 1


def compile_nv(name, tmp):
    out = os.path.join(tmp, name + '.spv')
    subprocess.run([glslc, '--target-env=vulkan1.3', '-fshader-stage=compute', '-O',
                    os.path.join(shader_dir, name + '.comp'), '-o', out], check=True)
    with open(out, 'rb') as f:
        return f.read()


with tempfile.TemporaryDirectory() as tmp:
    data = compile_nv('roles', tmp)
    out = conv.convert(data)
    header, insts = conv.parse(out)
    ops = [i[0] for i in insts]
    check('no NV cooperative-matrix instruction left',
          not any(op in (conv.NV_TYPE, conv.NV_LOAD, conv.NV_STORE, conv.NV_MULADD, conv.NV_LENGTH)
                  for op in ops))
    caps = [i[1] for i in insts if i[0] == conv.OP_CAPABILITY]
    check('CooperativeMatrixKHR replaces CooperativeMatrixNV',
          conv.KHR_CAP in caps and conv.NV_CAP not in caps)
    exts = [conv.decode_string(i[1:]) for i in insts if i[0] == conv.OP_EXTENSION]
    check('the extension is SPV_KHR_cooperative_matrix',
          'SPV_KHR_cooperative_matrix' in exts and 'SPV_NV_cooperative_matrix' not in exts)
    # every id is defined below the bound, once
    defined = {}
    for i in insts:
        if i[0] in (conv.OP_CONSTANT, conv.OP_TYPE_INT, conv.KHR_TYPE):
            rid = i[2] if i[0] == conv.OP_CONSTANT else i[1]
            defined[rid] = defined.get(rid, 0) + 1
    check('new ids lie below the bound and are defined once',
          all(r < header[3] for r in defined) and all(n == 1 for n in defined.values()))
    consts = {i[2]: i[3] for i in insts if i[0] == conv.OP_CONSTANT and len(i) == 4}
    pos = {}
    for k, i in enumerate(insts):
        if i[0] == conv.OP_CONSTANT:
            pos[i[2]] = k
    types = {}
    for k, i in enumerate(insts):
        if i[0] == conv.KHR_TYPE:
            rows, cols = consts[i[4]], consts[i[5]]
            types[i[1]] = (rows, cols, consts[i[6]])
            check('the Use constant of %dx%d is declared before the type' % (rows, cols),
                  pos[i[6]] < k)
    uses = {(r, c): u for r, c, u in types.values()}
    check('64x16 is A, 16x32 is B', uses.get((64, 16)) == conv.USE_A and uses.get((16, 32)) == conv.USE_B)
    check('the 64x32 accumulators are accumulators',
          all(u == conv.USE_ACC for t, (r, c, u) in types.items() if (r, c) == (64, 32))
          and sum(1 for r, c, u in types.values() if (r, c) == (64, 32)) == 2)
    loads = [i for i in insts if i[0] == conv.KHR_LOAD]
    layouts = sorted((types[l[1]][:2], consts[l[4]]) for l in loads)
    check('the column-major load of A and the row-major load of B keep their layouts',
          layouts == [((16, 32), conv.ROW_MAJOR), ((64, 16), conv.COL_MAJOR)])
    strides = sorted(consts[l[5]] for l in loads)
    check('loads keep their strides', strides == [32, 64])
    stores = [i for i in insts if i[0] == conv.KHR_STORE]
    check('the store is row-major with stride 32',
          len(stores) == 1 and consts[stores[0][3]] == conv.ROW_MAJOR and consts[stores[0][4]] == 32)

    try:
        conv.convert(compile_nv('same-type', tmp))
        refused = False
    except conv.SpvError as e:
        refused = 'used as' in str(e)
    check('a type used as both A and B is refused', refused)
    try:
        conv.parse(data[:-2])
        truncated = False
    except conv.SpvError:
        truncated = True
    check('a truncated module is an error', truncated)

sys.exit(1 if failures else 0)
