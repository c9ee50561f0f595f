"""Four-lane double-precision vectors for the compiled engine (one patient per lane, AVX2-width).

numba does not vectorise the right-hand side across patients by itself (its SLP vectoriser is off and the model's
branches and calls defeat the loop vectoriser), so the lane kernels are written with these operations. A value is
a 4-tuple of floats (numba ``UniTuple(float64, 4)``); the arithmetic intrinsics turn it into an LLVM ``<4 x double>``
and back, and LLVM removes the round trips between consecutive operations. Each lane is computed with the same
IEEE operations as every other lane, so a patient's numbers never depend on which patients share its vector.

Lane arrays are C-contiguous ``(rows, 4)`` float64 arrays: row k holds quantity k of the four lanes.
"""

from __future__ import annotations

import math

from llvmlite import ir
from numba import njit, types
from numba.core import cgutils
from numba.extending import intrinsic

W = 4  # lanes per vector
V4 = types.UniTuple(types.float64, W)
_VT = ir.VectorType(ir.DoubleType(), W)
_I32 = ir.IntType(32)


def _pack(builder: ir.IRBuilder, tup: ir.Value) -> ir.Value:
    vec = ir.Constant(_VT, ir.Undefined)
    for i in range(W):
        vec = builder.insert_element(vec, builder.extract_value(tup, i), ir.Constant(_I32, i))
    return vec


def _unpack(context, builder: ir.IRBuilder, vec: ir.Value) -> ir.Value:
    out = ir.Constant(context.get_value_type(V4), ir.Undefined)
    for i in range(W):
        out = builder.insert_value(out, builder.extract_element(vec, ir.Constant(_I32, i)), i)
    return out


def _llvm_fn(builder: ir.IRBuilder, name: str, nargs: int) -> ir.Function:
    mod = builder.module
    try:
        return mod.get_global(name)
    except KeyError:
        return ir.Function(mod, ir.FunctionType(_VT, [_VT] * nargs), name=name)


def _binary(op: str):
    @intrinsic
    def fn(typingctx, a, b):  # noqa: ARG001 (numba's intrinsic signature)
        def codegen(context, builder, sig, args):
            return _unpack(context, builder, getattr(builder, op)(_pack(builder, args[0]), _pack(builder, args[1])))

        return V4(V4, V4), codegen

    return fn


def _llvm_unary(name: str):
    @intrinsic
    def fn(typingctx, a):  # noqa: ARG001
        def codegen(context, builder, sig, args):
            f = _llvm_fn(builder, name, 1)
            return _unpack(context, builder, builder.call(f, [_pack(builder, args[0])]))

        return V4(V4), codegen

    return fn


def _llvm_binary(name: str):
    @intrinsic
    def fn(typingctx, a, b):  # noqa: ARG001
        def codegen(context, builder, sig, args):
            f = _llvm_fn(builder, name, 2)
            return _unpack(context, builder, builder.call(f, [_pack(builder, args[0]), _pack(builder, args[1])]))

        return V4(V4, V4), codegen

    return fn


add = _binary("fadd")
sub = _binary("fsub")
mul = _binary("fmul")
div = _binary("fdiv")
sqrt = _llvm_unary("llvm.sqrt.v4f64")
_maxnum = _llvm_binary("llvm.maxnum.v4f64")
_minnum = _llvm_binary("llvm.minnum.v4f64")


def _select(pred: str):
    @intrinsic
    def fn(typingctx, a, b, x, y):  # noqa: ARG001
        def codegen(context, builder, sig, args):
            mask = builder.fcmp_ordered(pred, _pack(builder, args[0]), _pack(builder, args[1]))
            return _unpack(context, builder, builder.select(mask, _pack(builder, args[2]), _pack(builder, args[3])))

        return V4(V4, V4, V4, V4), codegen

    return fn


where_gt = _select(">")  # lane-wise: x where a > b, else y (false for NaN)
where_ge = _select(">=")
where_lt = _select("<")


def _row_pointer(context, builder, arrty, ary_val, row):
    ary = context.make_array(arrty)(context, builder, value=ary_val)
    ptr = cgutils.get_item_pointer2(context, builder, data=ary.data, shape=cgutils.unpack_tuple(builder, ary.shape),
                                    strides=cgutils.unpack_tuple(builder, ary.strides), layout="C",
                                    inds=[row, ir.Constant(row.type, 0)])
    return builder.bitcast(ptr, _VT.as_pointer())


@intrinsic
def ld(typingctx, arr, row):  # noqa: ARG001
    """Row ``row`` of a C-contiguous (rows, 4) float64 array as a vector (one vector load)."""

    def codegen(context, builder, sig, args):
        row_i = context.cast(builder, args[1], sig.args[1], types.intp)
        vec = builder.load(_row_pointer(context, builder, sig.args[0], args[0], row_i), align=8)
        return _unpack(context, builder, vec)

    return V4(arr, row), codegen


@intrinsic
def st(typingctx, arr, row, val):  # noqa: ARG001
    """Store a vector into row ``row`` of a C-contiguous (rows, 4) float64 array."""

    def codegen(context, builder, sig, args):
        row_i = context.cast(builder, args[1], sig.args[1], types.intp)
        builder.store(_pack(builder, args[2]), _row_pointer(context, builder, sig.args[0], args[0], row_i), align=8)
        return context.get_dummy_value()

    return types.none(arr, row, val), codegen


@njit(inline="always")
def splat(x: float):
    """The same scalar in every lane."""
    return (x, x, x, x)


@njit(inline="always")
def pos(a):
    """max(a, 0) lane by lane, 0 for NaN (the scalar model's ``_pos``)."""
    return where_gt(a, splat(0.0), a, splat(0.0))


@njit(inline="always")
def vmax(a, b):
    return _maxnum(a, b)


@njit(inline="always")
def vmin(a, b):
    return _minnum(a, b)


@njit(inline="always")
def exp(a):
    """exp lane by lane (four libm calls: the same values as the scalar model)."""
    return (math.exp(a[0]), math.exp(a[1]), math.exp(a[2]), math.exp(a[3]))


@njit(inline="always")
def log(a):
    return (math.log(a[0]), math.log(a[1]), math.log(a[2]), math.log(a[3]))


@njit(inline="always")
def any_gt(a, b) -> bool:
    """True when a > b in at least one lane."""
    return a[0] > b[0] or a[1] > b[1] or a[2] > b[2] or a[3] > b[3]

