"""Four-lane double-precision vectors for the compiled engine (one patient per lane, AVX2 width).

numba does not vectorise the right-hand side across patients by itself (its SLP vectoriser is off, and the model's
branches and calls defeat the loop vectoriser), so the lane kernels are written with these operations on a numba
type, ``Vec4``, whose LLVM representation is ``<4 x double>``: values stay in vector registers through loops and
branches. Each lane is computed with the same IEEE operations as the scalar code (no fused multiply-add, libm's
exp and log lane by lane), so a patient's numbers never depend on which patients share its vector.

Lane arrays are C-contiguous ``(rows, 4)`` float64 arrays: row k holds quantity k of the four lanes.
"""

from __future__ import annotations

from llvmlite import ir
from numba import types
from numba.core import cgutils
from numba.extending import intrinsic, models, register_model

W = 4  # lanes per vector


class Vec4Type(types.Type):
    """Four float64 lanes, held as an LLVM vector."""

    def __init__(self) -> None:
        super().__init__(name="Vec4")


vec4 = Vec4Type()
_VT = ir.VectorType(ir.DoubleType(), W)
_I32 = ir.IntType(32)


@register_model(Vec4Type)
class _Vec4Model(models.PrimitiveModel):
    def __init__(self, dmm, fe_type):
        super().__init__(dmm, fe_type, _VT)


def _declare(builder: ir.IRBuilder, name: str, ret: ir.Type, args: list[ir.Type]) -> ir.Function:
    mod = builder.module
    try:
        return mod.get_global(name)
    except KeyError:
        return ir.Function(mod, ir.FunctionType(ret, args), name=name)


def _binary(op: str):
    @intrinsic
    def fn(typingctx, a, b):  # noqa: ARG001 (numba's intrinsic signature)
        def codegen(context, builder, sig, args):
            return getattr(builder, op)(args[0], args[1])

        return vec4(vec4, vec4), codegen

    return fn


def _llvm_vector_call(name: str, nargs: int):
    def codegen(context, builder, sig, args):
        return builder.call(_declare(builder, name, _VT, [_VT] * nargs), list(args))

    if nargs == 1:
        @intrinsic
        def fn1(typingctx, a):  # noqa: ARG001
            return vec4(vec4), codegen

        return fn1

    @intrinsic
    def fn2(typingctx, a, b):  # noqa: ARG001
        return vec4(vec4, vec4), codegen

    return fn2


def _lane_libm(name: str):
    """A scalar libm function applied lane by lane (the same calls as the scalar model makes)."""

    @intrinsic
    def fn(typingctx, a):  # noqa: ARG001
        def codegen(context, builder, sig, args):
            f = _declare(builder, name, ir.DoubleType(), [ir.DoubleType()])
            out = ir.Constant(_VT, ir.Undefined)
            for i in range(W):
                x = builder.extract_element(args[0], ir.Constant(_I32, i))
                out = builder.insert_element(out, builder.call(f, [x]), ir.Constant(_I32, i))
            return out

        return vec4(vec4), codegen

    return fn


add = _binary("fadd")
sub = _binary("fsub")
mul = _binary("fmul")
div = _binary("fdiv")
sqrt = _llvm_vector_call("llvm.sqrt.v4f64", 1)
vmax = _llvm_vector_call("llvm.maxnum.v4f64", 2)
vmin = _llvm_vector_call("llvm.minnum.v4f64", 2)
vabs = _llvm_vector_call("llvm.fabs.v4f64", 1)
exp = _lane_libm("llvm.exp.f64")
log = _lane_libm("llvm.log.f64")


def _select(pred: str):
    @intrinsic
    def fn(typingctx, a, b, x, y):  # noqa: ARG001
        def codegen(context, builder, sig, args):
            return builder.select(builder.fcmp_ordered(pred, args[0], args[1]), args[2], args[3])

        return vec4(vec4, vec4, vec4, vec4), codegen

    return fn


where_gt = _select(">")  # lane by lane: x where a > b, else y (a NaN compares false)
where_ge = _select(">=")
where_lt = _select("<")


def _any(pred: str):
    @intrinsic
    def fn(typingctx, a, b):  # noqa: ARG001
        def codegen(context, builder, sig, args):
            mask = builder.fcmp_ordered(pred, args[0], args[1])
            bits = builder.bitcast(mask, ir.IntType(W))
            return builder.icmp_unsigned("!=", bits, ir.Constant(ir.IntType(W), 0))

        return types.boolean(vec4, vec4), codegen

    return fn


any_gt = _any(">")  # True when a > b in at least one lane


@intrinsic
def splat(typingctx, x):  # noqa: ARG001
    """The same scalar in every lane."""

    def codegen(context, builder, sig, args):
        val = context.cast(builder, args[0], sig.args[0], types.float64)
        out = ir.Constant(_VT, ir.Undefined)
        for i in range(W):
            out = builder.insert_element(out, val, ir.Constant(_I32, i))
        return out

    return vec4(x), codegen


@intrinsic
def make4(typingctx, a, b, c, d):  # noqa: ARG001
    """A vector from four scalars."""

    def codegen(context, builder, sig, args):
        out = ir.Constant(_VT, ir.Undefined)
        for i in range(W):
            val = context.cast(builder, args[i], sig.args[i], types.float64)
            out = builder.insert_element(out, val, ir.Constant(_I32, i))
        return out

    return vec4(a, b, c, d), codegen


@intrinsic
def lane(typingctx, a, i):  # noqa: ARG001
    """Lane ``i`` of a vector as a float."""

    def codegen(context, builder, sig, args):
        idx = context.cast(builder, args[1], sig.args[1], types.int32)
        return builder.extract_element(args[0], idx)

    return types.float64(vec4, i), codegen


def _row_pointer(context, builder, arrty, ary_val, row):
    ary = context.make_array(arrty)(context, builder, value=ary_val)
    stride0 = cgutils.unpack_tuple(builder, ary.strides)[0]
    base = builder.ptrtoint(ary.data, ir.IntType(64))
    addr = builder.add(base, builder.mul(row, stride0))
    return builder.inttoptr(addr, _VT.as_pointer())


@intrinsic
def ld(typingctx, arr, row):  # noqa: ARG001
    """Row ``row`` of a C-contiguous (rows, 4) float64 array as a vector (one vector load)."""

    def codegen(context, builder, sig, args):
        row_i = context.cast(builder, args[1], sig.args[1], types.intp)
        return builder.load(_row_pointer(context, builder, sig.args[0], args[0], row_i), align=8)

    return vec4(arr, row), codegen


@intrinsic
def st(typingctx, arr, row, val):  # noqa: ARG001
    """Store a vector into row ``row`` of a C-contiguous (rows, 4) float64 array."""

    def codegen(context, builder, sig, args):
        row_i = context.cast(builder, args[1], sig.args[1], types.intp)
        builder.store(args[2], _row_pointer(context, builder, sig.args[0], args[0], row_i), align=8)
        return context.get_dummy_value()

    return types.none(arr, row, vec4), codegen


@intrinsic
def pos(typingctx, a):  # noqa: ARG001
    """max(a, 0) lane by lane, 0 for NaN (the scalar model's ``_pos``)."""

    def codegen(context, builder, sig, args):
        zero = ir.Constant(_VT, [0.0] * W)
        return builder.select(builder.fcmp_ordered(">", args[0], zero), args[0], zero)

    return vec4(vec4), codegen
