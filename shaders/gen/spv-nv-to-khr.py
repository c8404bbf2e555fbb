#!/usr/bin/env python3
"""Rewrite SPV_NV_cooperative_matrix SPIR-V into SPV_KHR_cooperative_matrix.

Debian 12's glslc (shaderc 2023.2) knows GL_NV_cooperative_matrix but neither
GL_KHR_cooperative_matrix nor GL_NV_cooperative_matrix2. The NV and KHR
extensions describe the same operations, and the NV GLSL front end already
accepts a workgroup scope (gl_ScopeWorkgroup) and any matrix size, so a shader
written against the NV extension becomes a KHR one (which is what
VK_NV_cooperative_matrix2's workgroup-scope matrices need) by renaming
opcodes, adding each matrix type's Use (A, B or accumulator, inferred from the
OpCooperativeMatrixMulAddNV operand positions) and turning the column-major
booleans of loads and stores into MemoryLayout constants.

Usage: spv-nv-to-khr.py GLSLC [glslc arguments ... -o OUTPUT]
runs glslc into OUTPUT.nv and writes the rewritten module to OUTPUT.
Usage: spv-nv-to-khr.py --convert IN OUT  converts an existing module.
With --tensor-loads as the first argument, loads from buffer memory become
tensor-addressing loads (SPV_NV_tensor_addressing, OpCooperativeMatrixLoadTensorNV):
a row-major R x C load with stride S reads through a 2-D tensor layout of
dimensions (R, C) and strides (S, 1); a column-major one through a layout of
(C, R) and a tensor view that swaps the two dimensions. Loads from shared
memory stay plain.
With --bf16 (also first, or after --tensor-loads), the module's 16-bit float
type becomes bfloat16 (SPV_KHR_bfloat16): a shader written for fp16 matrices
and fp16 buffers then multiplies bf16 ones. The shader may only load, store,
convert and multiply-add 16-bit values: arithmetic or constants of that type
are refused, since bf16 has neither.

A matrix type used in two roles (A and B, say) is split: the values (and the
function-local variables glslang keeps them in) that reach A operands get a
KHR type with Use A, those that reach B operands one with Use B. One value or
variable used in two roles, or a shared constant of such a type, is an
error. A
conversion from one matrix type to another of a different role (an fp32
accumulator into an fp16 A operand, say) declares SPV_NV_cooperative_matrix2's
CooperativeMatrixConversionsNV, which the device must enable.

With --acc-stores (a first argument too), for subgroup-scope kernels on
devices with VK_KHR_cooperative_matrix alone: a matrix converted from an
accumulator (fp32 results into fp16 for a store) that reaches no multiply-add
stays an accumulator, which KHR converts by itself, and a conversion into
another role is an error instead of a coopmat2 capability.
"""
import os
import struct
import subprocess
import sys

OP_EXTENSION = 10
OP_TYPE_INT = 21
OP_CONSTANT_TRUE = 41
OP_CONSTANT_FALSE = 42
OP_CONSTANT = 43
OP_CAPABILITY = 17
OP_TYPE_BOOL = 20
OP_TYPE_FLOAT = 22
OP_TYPE_VECTOR = 23
OP_TYPE_POINTER = 32
OP_VARIABLE, OP_LOAD, OP_STORE = 59, 61, 62
OP_COPY_OBJECT, OP_COMPOSITE_INSERT, OP_SELECT, OP_PHI = 83, 82, 169, 245
OP_CONSTANT_COMPOSITE, OP_CONSTANT_NULL = 44, 46
OP_FUNCTION = 54
OP_UNDEF = 1
OP_ACCESS_CHAIN, OP_IN_BOUNDS_ACCESS_CHAIN = 65, 66
STORAGE_UNIFORM, STORAGE_BUFFER = 2, 12

NV_CAP = 5357
NV_TYPE, NV_LOAD, NV_STORE, NV_MULADD, NV_LENGTH = 5358, 5359, 5360, 5361, 5362
KHR_CAP = 6022
KHR_TYPE, KHR_LOAD, KHR_STORE, KHR_MULADD, KHR_LENGTH = 4456, 4457, 4458, 4459, 4460
USE_A, USE_B, USE_ACC = 0, 1, 2
# SPV_NV_tensor_addressing / SPV_NV_cooperative_matrix2
TENSOR_CAP, CM_TENSOR_CAP = 5439, 5433
LOAD_TENSOR, TYPE_TENSOR_LAYOUT, TYPE_TENSOR_VIEW = 5367, 5370, 5371
CREATE_TENSOR_LAYOUT, TENSOR_LAYOUT_SET_DIM, TENSOR_LAYOUT_SET_STRIDE = 5372, 5373, 5374
CREATE_TENSOR_VIEW = 5377
TENSOR_OPERAND_VIEW = 1
CM_CONVERSIONS_CAP = 5431
# OpConvertFToU, OpConvertFToS, OpConvertSToF, OpConvertUToF, OpUConvert, OpSConvert, OpFConvert
CONVERT_OPS = {109, 110, 111, 112, 113, 114, 115}
# SPV_KHR_bfloat16: capabilities BFloat16TypeKHR, BFloat16CooperativeMatrixKHR;
# OpTypeFloat's encoding operand BFloat16KHR
BF16_CAP, BF16_CM_CAP, FP_ENCODING_BF16 = 5116, 5118, 0
# what a bf16 value (or vector or matrix of them) may be the result of:
# OpUndef, OpLoad, OpCompositeConstruct/Extract, OpCopyObject, OpFConvert,
# OpBitcast, OpSelect, OpPhi, and cooperative-matrix loads
BF16_RESULT_OPS = {1, 61, 80, 81, 83, 115, 124, 169, 245, KHR_LOAD, 5367}
ROW_MAJOR, COL_MAJOR = 0, 1


class SpvError(Exception):
    pass


def encode_string(s):
    b = s.encode() + b'\0'
    b += b'\0' * (-len(b) % 4)
    return list(struct.unpack('<%dI' % (len(b) // 4), b))


def decode_string(words):
    b = struct.pack('<%dI' % len(words), *words)
    return b.split(b'\0', 1)[0].decode()


def parse(data):
    if len(data) % 4 or len(data) < 20:
        raise SpvError('not a SPIR-V module (size %d)' % len(data))
    words = list(struct.unpack('<%dI' % (len(data) // 4), data))
    if words[0] != 0x07230203:
        raise SpvError('bad SPIR-V magic 0x%08x' % words[0])
    insts = []
    i = 5
    while i < len(words):
        count = words[i] >> 16
        if count == 0 or i + count > len(words):
            raise SpvError('truncated instruction at word %d' % i)
        insts.append([words[i] & 0xffff] + words[i + 1:i + count])
        i += count
    return words[:5], insts


def emit(header, insts):
    out = list(header)
    for inst in insts:
        out.append((len(inst) << 16) | inst[0])
        out.extend(inst[1:])
    return struct.pack('<%dI' % len(out), *out)


def declare(out, caps, exts):
    """capabilities after the module's last one, extensions after its last
    capability or extension (the order SPIR-V requires)"""
    last_cap = max(k for k, i in enumerate(out) if i[0] == OP_CAPABILITY)
    out[last_cap + 1:last_cap + 1] = [[OP_CAPABILITY, c] for c in caps]
    last_ext = max(k for k, i in enumerate(out) if i[0] in (OP_CAPABILITY, OP_EXTENSION))
    out[last_ext + 1:last_ext + 1] = [[OP_EXTENSION] + encode_string(e) for e in exts]


# instructions with a result type and id that split_roles may retype
RETYPED_OPS = {OP_VARIABLE, OP_LOAD, OP_COPY_OBJECT, OP_COMPOSITE_INSERT, OP_SELECT, OP_PHI, OP_UNDEF,
               NV_LOAD} | CONVERT_OPS


def split_roles(insts, matrix_types, value_type, roles, new_id, stored_conversions=()):
    """For matrix types with several roles: which values and variables take
    which role (connected through loads, stores, copies, phis, selects and
    inserts), the clone types and Function pointer types, and the new result
    type and role of each retyped id. A conversion result in
    stored_conversions that reaches no multiply-add takes the accumulator
    role."""
    multi = {t for t in matrix_types if len(roles[t]) > 1}
    res = {'types': {}, 'pointers': {}, 'retype': {}, 'use': {}}
    if not multi:
        return res
    ptr_to = {i[1]: i[3] for i in insts if i[0] == OP_TYPE_POINTER}
    var_type = {i[2]: ptr_to.get(i[1]) for i in insts if i[0] == OP_VARIABLE}
    parent = {}

    def find(x):
        while parent.get(x, x) != x:
            parent[x] = parent.get(parent[x], parent[x])
            x = parent[x]
        return x

    def union(a, b):
        ra, rb = find(a), find(b)
        if ra != rb:
            parent[ra] = rb

    def of_multi(vid):
        return value_type.get(vid) in multi or var_type.get(vid) in multi

    for i in insts:
        op = i[0]
        if op == OP_LOAD and of_multi(i[2]):
            union(i[2], i[3])
        elif op == OP_STORE and of_multi(i[1]):
            union(i[1], i[2])
        elif op == OP_COPY_OBJECT and of_multi(i[2]):
            union(i[2], i[3])
        elif op == OP_COMPOSITE_INSERT and of_multi(i[2]):
            union(i[2], i[4])
        elif op == OP_SELECT and of_multi(i[2]):
            union(i[2], i[4])
            union(i[2], i[5])
        elif op == OP_PHI and of_multi(i[2]):
            for v in i[3::2]:
                union(i[2], v)
    role_of = {}
    for i in insts:
        if i[0] == NV_MULADD:
            for vid, use in ((i[3], USE_A), (i[4], USE_B), (i[5], USE_ACC)):
                if value_type.get(vid) in multi:
                    r = find(vid)
                    if role_of.setdefault(r, use) != use:
                        raise SpvError('matrix value %%%d is used as more than one operand role; '
                                       'give the operands distinct variables' % vid)
    for vid in stored_conversions:
        if value_type.get(vid) in multi:
            role_of.setdefault(find(vid), USE_ACC)
    constants = {i[2] for i in insts if i[0] in (OP_CONSTANT_COMPOSITE, OP_CONSTANT_NULL, OP_UNDEF)
                 and i[1] in multi}
    for i in insts:
        if i[0] not in RETYPED_OPS or len(i) < 3 or not of_multi(i[2]):
            continue
        t = value_type.get(i[2]) if value_type.get(i[2]) in multi else var_type.get(i[2])
        use = role_of.get(find(i[2]), min(roles[t]))
        if use == min(roles[t]):
            continue
        if i[2] in constants or any(find(c) == find(i[2]) for c in constants):
            raise SpvError('a constant of matrix type %%%d reaches a second role' % t)
        clone = res['types'].setdefault(t, {}).setdefault(use, None)
        if clone is None:
            clone = res['types'][t][use] = new_id()
        if i[0] == OP_VARIABLE:
            ptrs = res['pointers'].setdefault(i[1], {})
            if use not in ptrs:
                ptrs[use] = new_id()
            res['retype'][i[2]] = ptrs[use]
        else:
            res['retype'][i[2]] = clone
        res['use'][i[2]] = use
    return res


def convert(data, tensor_loads=False, acc_stores=False):
    header, insts = parse(data)
    if not any(i[0] == NV_TYPE for i in insts):
        return data
    bound = header[3]

    def new_id():
        nonlocal bound
        bound += 1
        return bound - 1

    # roles of each matrix type from the multiply-adds
    roles = {}

    def add_role(type_id, use):
        roles.setdefault(type_id, set()).add(use)

    matrix_types = {inst[1] for inst in insts if inst[0] == NV_TYPE}
    # the matrix type of each result id (the first operand, where it is a result type)
    value_type = {inst[2]: inst[1] for inst in insts if len(inst) >= 3 and inst[1] in matrix_types}
    for inst in insts:
        if inst[0] == NV_MULADD:
            rt, a, b, c = inst[1], inst[3], inst[4], inst[5]
            for vid, use in ((a, USE_A), (b, USE_B), (c, USE_ACC)):
                if vid not in value_type:
                    raise SpvError('cannot find the matrix type of operand %%%d' % vid)
                add_role(value_type[vid], use)
            add_role(rt, USE_ACC)
    for tid in matrix_types:
        roles[tid] = roles.get(tid, {USE_ACC})
    # conversions of accumulators (an fp32 result into fp16, say): where the
    # converted value only goes to memory it stays an accumulator, which
    # KHR converts without coopmat2's conversions
    conversions = [inst for inst in insts if inst[0] in CONVERT_OPS and inst[1] in matrix_types
                   and value_type.get(inst[3]) in matrix_types]
    stored = [inst[2] for inst in conversions if acc_stores and roles[value_type[inst[3]]] == {USE_ACC}]
    for vid in stored:
        add_role(value_type[vid], USE_ACC)
    split = split_roles(insts, matrix_types, value_type, roles, new_id, stored)

    def role(vid):
        return split['use'].get(vid, min(roles[value_type[vid]]))

    # conversions between matrices of different roles
    use_conversion = any(role(inst[2]) != role(inst[3]) for inst in conversions)

    # uint constants for Use and MemoryLayout, reusing existing ones
    # (only those declared before the first matrix type, where the new ones go)
    first_type = next(k for k, inst in enumerate(insts) if inst[0] == NV_TYPE)
    uint_type = None
    consts = {}
    for inst in insts[:first_type]:
        if inst[0] == OP_TYPE_INT and inst[2] == 32 and inst[3] == 0:
            uint_type = inst[1]
        elif inst[0] == OP_CONSTANT and inst[1] == uint_type and len(inst) == 4:
            consts.setdefault(inst[3], inst[2])
    if uint_type is None and any(i[0] == OP_TYPE_INT and i[2] == 32 and i[3] == 0 for i in insts):
        raise SpvError('the 32-bit unsigned type is declared after the first matrix type')
    new_insts = []
    if uint_type is None:
        uint_type = new_id()
        new_insts.append([OP_TYPE_INT, uint_type, 32, 0])
    for v in (0, 1, 2):
        if v not in consts:
            consts[v] = new_id()
            new_insts.append([OP_CONSTANT, uint_type, consts[v], v])

    bools = {}
    for inst in insts:
        if inst[0] == OP_CONSTANT_TRUE:
            bools[inst[2]] = True
        elif inst[0] == OP_CONSTANT_FALSE:
            bools[inst[2]] = False

    # tensor-addressing loads: pointers into buffer memory, the types they need
    pointer_class = {i[1]: i[2] for i in insts if i[0] == OP_TYPE_POINTER}
    chain_class = {i[2]: pointer_class.get(i[1]) for i in insts
                   if i[0] in (OP_ACCESS_CHAIN, OP_IN_BOUNDS_ACCESS_CHAIN)}
    tensor_types = []
    layout_type = view_type = None
    if tensor_loads:
        false_id = next((k for k, v in bools.items() if not v), None)
        if false_id is None:
            bool_type = next((i[1] for i in insts if i[0] == OP_TYPE_BOOL), None)
            if bool_type is None:
                bool_type = new_id()
                tensor_types.append([OP_TYPE_BOOL, bool_type])
            false_id = new_id()
            tensor_types.append([OP_CONSTANT_FALSE, bool_type, false_id])
        layout_type, view_type = new_id(), new_id()
        # Dim 2, clamp mode Undefined; the view: no dimensions of its own, (1, 0)
        tensor_types.append([TYPE_TENSOR_LAYOUT, layout_type, consts[2], consts[0]])
        tensor_types.append([TYPE_TENSOR_VIEW, view_type, consts[2], false_id, consts[1], consts[0]])
    matrix_shape = {inst[1]: (inst[4], inst[5]) for inst in insts if inst[0] == NV_TYPE}
    n_tensor = 0

    def tensor_load(inst):
        # ResultType Result Pointer Stride ColumnMajor [MemoryAccess...]
        nonlocal n_tensor
        rt, res, ptr, stride, col = inst[1:6]
        rows, cols = matrix_shape[rt]
        col_major = layout_of(col) == consts[COL_MAJOR]
        l0, l1, l2, obj = new_id(), new_id(), new_id(), new_id()
        seq = [[OP_UNDEF, rt, obj],
               [CREATE_TENSOR_LAYOUT, layout_type, l0],
               [TENSOR_LAYOUT_SET_DIM, layout_type, l1, l0] + ([cols, rows] if col_major else [rows, cols]),
               [TENSOR_LAYOUT_SET_STRIDE, layout_type, l2, l1, stride, consts[1]]]
        operands = [TENSOR_OPERAND_VIEW] if col_major else [0]
        if col_major:
            view = new_id()
            seq.append([CREATE_TENSOR_VIEW, view_type, view])
            operands.append(view)
        memory = inst[6:] or [0]
        seq.append([LOAD_TENSOR, rt, res, ptr, obj, l2] + memory + operands)
        n_tensor += 1
        return seq

    def layout_of(col_id):
        if col_id not in bools:
            raise SpvError('the column-major operand %%%d of a load/store is not a constant' % col_id)
        return consts[COL_MAJOR if bools[col_id] else ROW_MAJOR]

    out = []
    inserted = False
    for inst in insts:
        op = inst[0]
        if op == OP_CAPABILITY and inst[1] == NV_CAP:
            out.append([OP_CAPABILITY, KHR_CAP])
        elif op == OP_EXTENSION and decode_string(inst[1:]) == 'SPV_NV_cooperative_matrix':
            out.append([OP_EXTENSION] + encode_string('SPV_KHR_cooperative_matrix'))
        elif op == NV_TYPE:
            if not inserted:
                out.extend(new_insts)
                inserted = True
            use = min(roles[inst[1]])
            out.append([KHR_TYPE] + inst[1:6] + [consts[use]])
            for u, clone in sorted(split['types'].get(inst[1], {}).items()):
                out.append([KHR_TYPE, clone] + inst[2:6] + [consts[u]])
        elif op == OP_TYPE_POINTER and inst[1] in split['pointers']:
            out.append(inst)
            for u, clone in sorted(split['pointers'][inst[1]].items()):
                out.append([OP_TYPE_POINTER, clone, inst[2], split['types'][inst[3]][u]])

        elif op == NV_LOAD and tensor_loads and chain_class.get(inst[3]) in (STORAGE_BUFFER, STORAGE_UNIFORM):
            out.extend(tensor_load([op, split['retype'].get(inst[2], inst[1])] + inst[2:]))
        elif op == NV_LOAD:
            # ResultType Result Pointer Stride ColumnMajor [MemoryAccess...]
            rt = split['retype'].get(inst[2], inst[1])
            out.append([KHR_LOAD, rt, inst[2], inst[3], layout_of(inst[5]), inst[4]] + inst[6:])
        elif op == NV_STORE:
            # Pointer Object Stride ColumnMajor [MemoryAccess...]
            out.append([KHR_STORE, inst[1], inst[2], layout_of(inst[4]), inst[3]] + inst[5:])
        elif op == NV_MULADD:
            out.append([KHR_MULADD] + inst[1:])
        elif op == NV_LENGTH:
            out.append([KHR_LENGTH] + inst[1:])
        elif op in RETYPED_OPS and len(inst) > 2 and inst[2] in split['retype']:
            out.append([op, split['retype'][inst[2]]] + inst[2:])
        else:
            out.append(inst)
    if not inserted:
        raise SpvError('no matrix type found')
    if n_tensor:
        # capabilities and extensions after the existing ones, the types
        # before the first function (every constant they name is declared)
        declare(out, [TENSOR_CAP, CM_TENSOR_CAP], ['SPV_NV_tensor_addressing', 'SPV_NV_cooperative_matrix2'])
        first_fn = next(k for k, i in enumerate(out) if i[0] == OP_FUNCTION)
        out[first_fn:first_fn] = tensor_types
    elif tensor_loads:
        raise SpvError('--tensor-loads: no load from buffer memory found')
    if use_conversion and acc_stores:
        raise SpvError('a matrix is converted into another role (an accumulator into an A or B '
                       'operand), which needs coopmat2\'s conversions; stage it through shared memory')
    if use_conversion:
        declare(out, [CM_CONVERSIONS_CAP], [] if n_tensor else ['SPV_NV_cooperative_matrix2'])
    header = list(header)
    header[3] = bound
    return emit(header, out)


def to_bf16(data):
    """the module with its 16-bit float type turned into bfloat16"""
    header, insts = parse(data)
    halves = {i[1] for i in insts if i[0] == OP_TYPE_FLOAT and i[2] == 16}
    if not halves:
        raise SpvError('--bf16: no 16-bit float type')
    # vectors and matrices of it
    for i in insts:
        if (i[0] == OP_TYPE_VECTOR and i[2] in halves) or (i[0] == KHR_TYPE and i[2] in halves):
            halves.add(i[1])
    for i in insts:
        if i[0] in (OP_CONSTANT, 44, 50, 51) and i[1] in halves:   # (spec) constants, composites
            raise SpvError('--bf16: a 16-bit float constant (bf16 has a different encoding)')
        declaration = 19 <= i[0] <= 39 or i[0] in (5, 6, 71, 72, KHR_TYPE)  # types, names, decorations
        if len(i) > 2 and i[1] in halves and i[0] not in BF16_RESULT_OPS and not declaration:
            raise SpvError('--bf16: opcode %d computes on 16-bit floats (bf16 only loads, '
                           'stores and converts)' % i[0])
    out = []
    for i in insts:
        if i[0] == OP_TYPE_FLOAT and i[2] == 16:
            out.append([OP_TYPE_FLOAT, i[1], 16, FP_ENCODING_BF16])
        else:
            out.append(i)
    declare(out, [BF16_CAP, BF16_CM_CAP], ['SPV_KHR_bfloat16'])
    return emit(header, out)


def rewrite(data, name, tensor_loads, bf16, acc_stores=False):
    """the converted module, or None after reporting why not"""
    try:
        res = convert(data, tensor_loads, acc_stores)
        return to_bf16(res) if bf16 else res
    except SpvError as e:
        sys.stderr.write('%s: %s\n' % (name, e))
        return None


def main(argv):
    tensor_loads = bf16 = acc_stores = False
    while len(argv) > 1 and argv[1] in ('--tensor-loads', '--bf16', '--acc-stores'):
        tensor_loads = tensor_loads or argv[1] == '--tensor-loads'
        bf16 = bf16 or argv[1] == '--bf16'
        acc_stores = acc_stores or argv[1] == '--acc-stores'
        argv = argv[:1] + argv[2:]
    if len(argv) == 4 and argv[1] == '--convert':
        with open(argv[2], 'rb') as f:
            data = f.read()
        res = rewrite(data, argv[2], tensor_loads, bf16, acc_stores)
        if res is None:
            return 1
        with open(argv[3], 'wb') as f:
            f.write(res)
        return 0
    if len(argv) < 4 or '-o' not in argv:
        sys.stderr.write(__doc__)
        return 2
    args = list(argv[1:])
    k = args.index('-o')
    output = args[k + 1]
    tmp = output + '.nv'
    args[k + 1] = tmp
    r = subprocess.run(args)
    if r.returncode != 0:
        return r.returncode
    with open(tmp, 'rb') as f:
        data = f.read()
    res = rewrite(data, output, tensor_loads, bf16, acc_stores)
    if res is None:
        return 1
    with open(output + '.tmp', 'wb') as f:
        f.write(res)
    os.replace(output + '.tmp', output)
    os.unlink(tmp)
    return 0


if __name__ == '__main__':
    sys.exit(main(sys.argv))
