#!/usr/bin/env python3
"""The NV -> KHR cooperative-matrix rewrite (shaders/gen/spv-nv-to-khr.py) on
shaders compiled by glslc here: no NV instruction or capability is left, each
matrix type gets the Use its multiply-add gives it, loads and stores get the
MemoryLayout their column-major flag asked for, the id bound covers the new
constants, and a type used as both A and B is refused. With --tensor-loads,
loads from buffers become tensor-addressing loads that read the same elements
(checked by the extension's addressing rules) and shared-memory loads stay.
With --bf16 the 16-bit float type becomes bfloat16 and a module that computes
with 16-bit floats is refused. A type used as A by one variable and as B by
another is split into two KHR types; one value in both roles is refused. A conversion from an accumulator into an A
operand declares coopmat2's conversions capability; the modules without one
do not. With --acc-stores, an fp32 result converted to fp16 to be stored stays
an accumulator (no coopmat2 capability), and a conversion into an operand is
refused.

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

    # --tensor-loads: both loads (from a buffer) become tensor-addressing loads
    # whose layout and view address the same elements as the plain load
    out = conv.convert(data, tensor_loads=True)
    header, insts = conv.parse(out)
    caps = [i[1] for i in insts if i[0] == conv.OP_CAPABILITY]
    exts = [conv.decode_string(i[1:]) for i in insts if i[0] == conv.OP_EXTENSION]
    check('tensor loads declare both tensor-addressing capabilities and extensions',
          conv.TENSOR_CAP in caps and conv.CM_TENSOR_CAP in caps
          and 'SPV_NV_tensor_addressing' in exts and 'SPV_NV_cooperative_matrix2' in exts)
    check('no plain load is left', not any(i[0] == conv.KHR_LOAD for i in insts))
    consts = {i[2]: i[3] for i in insts if i[0] == conv.OP_CONSTANT and len(i) == 4}
    first_fn = next(k for k, i in enumerate(insts) if i[0] == conv.OP_FUNCTION)
    layout_t = [i for i in insts[:first_fn] if i[0] == conv.TYPE_TENSOR_LAYOUT]
    view_t = [i for i in insts[:first_fn] if i[0] == conv.TYPE_TENSOR_VIEW]
    check('a 2-D layout type with clamp mode Undefined and a (1, 0) view type, before the code',
          len(layout_t) == 1 and consts[layout_t[0][2]] == 2 and consts[layout_t[0][3]] == 0
          and len(view_t) == 1 and [consts[x] for x in view_t[0][4:]] == [1, 0])
    by_id = {i[2]: i for i in insts if len(i) > 2 and i[0] in (
        conv.CREATE_TENSOR_LAYOUT, conv.TENSOR_LAYOUT_SET_DIM, conv.TENSOR_LAYOUT_SET_STRIDE)}
    shapes = {i[1]: (consts[i[4]], consts[i[5]]) for i in insts if i[0] == conv.KHR_TYPE}

    def element(load, row, col):
        """the element offset the tensor load reads for (row, col), by the
        addressing rules of GLSL_NV_cooperative_matrix2 (no slice, no clamp)"""
        stride_inst = by_id[load[5]]
        dim_inst = by_id[stride_inst[3]]
        dims = [consts[x] for x in dim_inst[4:]]
        strides = [consts[x] for x in stride_inst[4:]]
        rows, cols = shapes[load[1]]
        index = row * cols + col
        if load[7] == conv.TENSOR_OPERAND_VIEW:
            # view without dimensions of its own, permutation (1, 0)
            coord = [0, 0]
            for d in (1, 0):
                i = (1, 0)[d]
                coord[i] = index % dims[i]
                index //= dims[i]
            index = coord[0] * dims[1] + coord[1]
        span = [0, 0]
        for d in (1, 0):
            span[d] = index % dims[d]
            index //= dims[d]
        return span[0] * strides[0] + span[1] * strides[1]

    tloads = [i for i in insts if i[0] == conv.LOAD_TENSOR]
    ok = len(tloads) == 2
    for ld in tloads:
        rows, cols = shapes[ld[1]]
        col_major = ld[7] == conv.TENSOR_OPERAND_VIEW
        stride = 64 if col_major else 32
        ok = ok and all(element(ld, r, c) == (c * stride + r if col_major else r * stride + c)
                        for r in range(rows) for c in range(cols))
    check('each tensor load reads the elements of the plain load it replaces', ok)
    shared = compile_nv('shared-load', tmp)
    check('loads from shared memory stay plain loads',
          sum(1 for i in conv.parse(conv.convert(shared))[1] if i[0] == conv.KHR_LOAD) == 2)
    try:
        conv.convert(shared, tensor_loads=True)
        no_buffer = False
    except conv.SpvError as e:
        no_buffer = 'no load from buffer memory' in str(e)
    check('--tensor-loads on a module without buffer loads is refused', no_buffer)

    # --bf16: the 16-bit float type (and with it the matrices and buffers of
    # it) becomes bfloat16; arithmetic or constants on it are refused
    header, insts = conv.parse(conv.to_bf16(conv.convert(data)))
    floats16 = [i for i in insts if i[0] == conv.OP_TYPE_FLOAT and i[2] == 16]
    check('the 16-bit float type is bfloat16',
          len(floats16) == 1 and floats16[0][3:] == [conv.FP_ENCODING_BF16])
    caps = [i[1] for i in insts if i[0] == conv.OP_CAPABILITY]
    exts = [conv.decode_string(i[1:]) for i in insts if i[0] == conv.OP_EXTENSION]
    check('bf16 declares its capabilities and extension',
          conv.BF16_CAP in caps and conv.BF16_CM_CAP in caps and 'SPV_KHR_bfloat16' in exts)
    check('the A and B matrices are bf16 ones',
          sum(1 for i in insts if i[0] == conv.KHR_TYPE and i[2] == floats16[0][1]) >= 2)
    try:
        conv.to_bf16(conv.convert(shared))    # stores the fp16 constant 1.0
        refused = False
    except conv.SpvError as e:
        refused = '16-bit float' in str(e)
    check('--bf16 refuses a module that computes with 16-bit constants', refused)

    out = conv.convert(compile_nv('convert', tmp))
    header, insts = conv.parse(out)
    caps = [i[1] for i in insts if i[0] == conv.OP_CAPABILITY]
    exts = [conv.decode_string(i[1:]) for i in insts if i[0] == conv.OP_EXTENSION]
    check('an accumulator converted into an A operand declares CooperativeMatrixConversionsNV',
          caps.count(conv.CM_CONVERSIONS_CAP) == 1 and exts.count('SPV_NV_cooperative_matrix2') == 1)
    caps = [i[1] for i in conv.parse(conv.convert(data))[1] if i[0] == conv.OP_CAPABILITY]
    check('a module without such a conversion does not', conv.CM_CONVERSIONS_CAP not in caps)

    # --acc-stores (subgroup-scope kernels for devices with KHR matrices
    # alone): an accumulator converted to be stored stays an accumulator, so
    # no coopmat2 capability is declared; a conversion into an operand is refused
    acc_store = compile_nv('acc-store', tmp)
    caps = [i[1] for i in conv.parse(conv.convert(acc_store))[1] if i[0] == conv.OP_CAPABILITY]
    check('without --acc-stores a stored fp16 result of an A/B type needs the conversions',
          conv.CM_CONVERSIONS_CAP in caps)
    header, insts = conv.parse(conv.convert(acc_store, acc_stores=True))
    caps = [i[1] for i in insts if i[0] == conv.OP_CAPABILITY]
    exts = [conv.decode_string(i[1:]) for i in insts if i[0] == conv.OP_EXTENSION]
    check('--acc-stores declares neither CooperativeMatrixConversionsNV nor SPV_NV_cooperative_matrix2',
          conv.CM_CONVERSIONS_CAP not in caps and 'SPV_NV_cooperative_matrix2' not in exts)
    consts = {i[2]: i[3] for i in insts if i[0] == conv.OP_CONSTANT and len(i) == 4}
    half = {j[1] for j in insts if j[0] == conv.OP_TYPE_FLOAT and j[2] == 16}
    khr = {i[1]: (i[2] in half, consts[i[6]]) for i in insts if i[0] == conv.KHR_TYPE}
    fconv = [i for i in insts if i[0] == 115 and i[1] in khr]
    stores = [i for i in insts if i[0] == conv.KHR_STORE]
    result_type = {i[2]: i[1] for i in insts if len(i) > 2 and i[1] in khr}
    check('the converted result is an fp16 accumulator, and that is what is stored',
          len(fconv) == 1 and khr[fconv[0][1]] == (True, conv.USE_ACC)
          and len(stores) == 1 and result_type.get(stores[0][2]) == fconv[0][1])
    check('the fp16 A and B operands keep their roles',
          sorted(u for is_half, u in khr.values() if is_half) == [conv.USE_A, conv.USE_B, conv.USE_ACC])
    try:
        conv.convert(compile_nv('convert', tmp), acc_stores=True)
        refused = False
    except conv.SpvError as e:
        refused = 'conversions' in str(e)
    check('--acc-stores refuses an accumulator converted into an A operand', refused)

    # one NV type in two variables, one used as A and one as B: split into two
    # KHR types of that shape; each multiply-add operand (and the variable and
    # load behind it) gets the type of its role
    header, insts = conv.parse(conv.convert(compile_nv('split', tmp)))
    consts = {i[2]: i[3] for i in insts if i[0] == conv.OP_CONSTANT and len(i) == 4}
    khr = {i[1]: (consts[i[4]], consts[i[5]], consts[i[6]]) for i in insts if i[0] == conv.KHR_TYPE}
    halves = {t: use for t, (r, c, use) in khr.items() if (r, c) == (32, 32) and t in
              {i[1] for i in insts if i[0] == conv.KHR_TYPE and i[2] in
               {j[1] for j in insts if j[0] == conv.OP_TYPE_FLOAT and j[2] == 16}}}
    check('the fp16 32x32 type becomes an A type and a B type', sorted(halves.values()) == [conv.USE_A, conv.USE_B])
    rtype = {i[2]: i[1] for i in insts if len(i) > 2 and i[0] in (conv.OP_LOAD, conv.KHR_LOAD, conv.OP_COPY_OBJECT)}
    mads = [i for i in insts if i[0] == conv.KHR_MULADD]
    check('the multiply-add takes the A-typed value as A and the B-typed one as B',
          len(mads) == 1 and halves.get(rtype.get(mads[0][3])) == conv.USE_A
          and halves.get(rtype.get(mads[0][4])) == conv.USE_B)
    ptrs = {i[1]: i[3] for i in insts if i[0] == conv.OP_TYPE_POINTER}
    var_types = [ptrs.get(i[1]) for i in insts if i[0] == conv.OP_VARIABLE and ptrs.get(i[1]) in halves]
    check('Function variables of both roles, each with its own pointer type',
          sorted({halves[t] for t in var_types}) == [conv.USE_A, conv.USE_B])
    defined = [i[1] for i in insts if i[0] in (conv.KHR_TYPE, conv.OP_TYPE_POINTER)]
    check('new type ids lie below the bound and are defined once',
          len(defined) == len(set(defined)) and all(t < header[3] for t in defined))

    try:
        conv.convert(compile_nv('same-type', tmp))
        refused = False
    except conv.SpvError as e:
        refused = 'used as' in str(e)
    check('one value used as both A and B is refused', refused)
    try:
        conv.parse(data[:-2])
        truncated = False
    except conv.SpvError:
        truncated = True
    check('a truncated module is an error', truncated)

sys.exit(1 if failures else 0)
