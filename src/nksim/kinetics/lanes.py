"""Lane vectors of doubles for the compiled engine (one patient per lane; ``W`` lanes per vector).

numba does not vectorise the right-hand side across patients by itself (its SLP vectoriser is off, and the model's
branches and calls defeat the loop vectoriser), so the lane kernels are written with these operations on a numba
type, ``Lanes``, whose LLVM representation is ``<W x double>``: values stay in vector registers through loops and
branches. Every lane is computed with the same operations as every other lane, so a patient's numbers never depend
on which patients share its vector. exp and log are evaluated on all lanes at once (:func:`vexp`, :func:`vlog`;
within 1-2 units in the last place of libm's): one libm call per lane cost a third of the lane right-hand side's
time. :func:`fma` (one rounding) serves the integrator's stage sums; the right-hand side does not use it.

Lane arrays are C-contiguous ``(rows, W)`` float64 arrays with exactly W columns: row k holds quantity k of the W
lanes (the loads and stores address rows as W doubles apart).
"""

from __future__ import annotations

import math

from llvmlite import ir
from numba import njit, types
from numba.core import cgutils
from numba.extending import intrinsic, models, register_model

W = 4  # lanes per vector (AVX2: four doubles)


class LanesType(types.Type):
    """W float64 lanes, held as an LLVM vector."""

    def __init__(self) -> None:
        super().__init__(name=f"Lanes{W}")


lanes_t = LanesType()
_VT = ir.VectorType(ir.DoubleType(), W)
_I32 = ir.IntType(32)


@register_model(LanesType)
class _LanesModel(models.PrimitiveModel):
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
    def fn(typingctx, a, b):
        def codegen(context, builder, sig, args):
            return getattr(builder, op)(args[0], args[1])

        return lanes_t(lanes_t, lanes_t), codegen

    return fn


def _llvm_vector_call(name: str, nargs: int):
    def codegen(context, builder, sig, args):
        return builder.call(_declare(builder, name, _VT, [_VT] * nargs), list(args))

    if nargs == 1:
        @intrinsic
        def fn1(typingctx, a):
            return lanes_t(lanes_t), codegen

        return fn1

    @intrinsic
    def fn2(typingctx, a, b):
        return lanes_t(lanes_t, lanes_t), codegen

    return fn2


add = _binary("fadd")
sub = _binary("fsub")
mul = _binary("fmul")
div = _binary("fdiv")
sqrt = _llvm_vector_call(f"llvm.sqrt.v{W}f64", 1)
vmax = _llvm_vector_call(f"llvm.maxnum.v{W}f64", 2)
vmin = _llvm_vector_call(f"llvm.minnum.v{W}f64", 2)
vabs = _llvm_vector_call(f"llvm.fabs.v{W}f64", 1)
rint = _llvm_vector_call(f"llvm.rint.v{W}f64", 1)


@intrinsic
def fma(typingctx, a, b, c):
    """a * b + c with one rounding (the integrator's stage sums, the exp / log polynomials)."""

    def codegen(context, builder, sig, args):
        return builder.call(_declare(builder, f"llvm.fma.v{W}f64", _VT, [_VT] * 3), list(args))

    return lanes_t(lanes_t, lanes_t, lanes_t), codegen


def _select(pred: str):
    @intrinsic
    def fn(typingctx, a, b, x, y):
        def codegen(context, builder, sig, args):
            return builder.select(builder.fcmp_ordered(pred, args[0], args[1]), args[2], args[3])

        return lanes_t(lanes_t, lanes_t, lanes_t, lanes_t), codegen

    return fn


where_gt = _select(">")  # lane by lane: x where a > b, else y (a NaN compares false)
where_ge = _select(">=")
where_lt = _select("<")


def _any(pred: str):
    @intrinsic
    def fn(typingctx, a, b):
        def codegen(context, builder, sig, args):
            mask = builder.fcmp_ordered(pred, args[0], args[1])
            bits = builder.bitcast(mask, ir.IntType(W))
            return builder.icmp_unsigned("!=", bits, ir.Constant(ir.IntType(W), 0))

        return types.boolean(lanes_t, lanes_t), codegen

    return fn


any_gt = _any(">")  # True when a > b in at least one lane


@intrinsic
def splat(typingctx, x):
    """The same scalar in every lane."""

    def codegen(context, builder, sig, args):
        val = context.cast(builder, args[0], sig.args[0], types.float64)
        out = ir.Constant(_VT, ir.Undefined)
        for i in range(W):
            out = builder.insert_element(out, val, ir.Constant(_I32, i))
        return out

    return lanes_t(x), codegen


@intrinsic
def vfrom(typingctx, arr):
    """The first W elements of a contiguous 1-D float64 array as a vector."""
    if not _float_array(arr, 1):
        return None

    def codegen(context, builder, sig, args):
        ary = context.make_array(sig.args[0])(context, builder, value=args[0])
        return builder.load(builder.bitcast(ary.data, _VT.as_pointer()), align=8)

    return lanes_t(arr), codegen


@intrinsic
def lane(typingctx, a, i):
    """Lane ``i`` of a vector as a float."""

    def codegen(context, builder, sig, args):
        idx = context.cast(builder, args[1], sig.args[1], types.int32)
        return builder.extract_element(args[0], idx)

    return types.float64(lanes_t, i), codegen


def _float_array(arr, ndim: int) -> bool:
    """Whether a numba type is a C-contiguous float64 array of ndim dimensions (what the loads and stores assume;
    anything else fails to type instead of reading the wrong memory)."""
    return isinstance(arr, types.Array) and arr.dtype == types.float64 and arr.ndim == ndim and arr.layout == "C"


def _row_pointer(context, builder, arrty, ary_val, row):
    """Address of row ``row``: rows of a C-contiguous (rows, W) float64 array are W doubles apart, a compile-time
    constant, so loads of fixed rows (the parameters) compile to constant offsets."""
    ary = context.make_array(arrty)(context, builder, value=ary_val)
    return builder.gep(builder.bitcast(ary.data, _VT.as_pointer()), [row], inbounds=True)


@intrinsic
def ld(typingctx, arr, row):
    """Row ``row`` of a C-contiguous (rows, W) float64 array as a vector (one vector load; no bounds check)."""
    if not _float_array(arr, 2):
        return None

    def codegen(context, builder, sig, args):
        row_i = context.cast(builder, args[1], sig.args[1], types.intp)
        return builder.load(_row_pointer(context, builder, sig.args[0], args[0], row_i), align=8)

    return lanes_t(arr, row), codegen


@intrinsic
def st(typingctx, arr, row, val):
    """Store a vector into row ``row`` of a C-contiguous (rows, W) float64 array (no bounds check)."""
    if not _float_array(arr, 2):
        return None

    def codegen(context, builder, sig, args):
        row_i = context.cast(builder, args[1], sig.args[1], types.intp)
        builder.store(args[2], _row_pointer(context, builder, sig.args[0], args[0], row_i), align=8)
        return context.get_dummy_value()

    return types.none(arr, row, lanes_t), codegen


@intrinsic
def borrowed(typingctx, arr):
    """A view of ``arr`` without its memory-info pointer, valid only while ``arr`` is alive (the caller keeps it).

    numba increments and decrements the reference count of every array argument of a compiled function it calls
    (an atomic operation each way); the integrator calls the lane right-hand side six times a step with five arrays.
    On a view without memory info these are a null check."""
    if not isinstance(arr, types.Array):
        return None

    def codegen(context, builder, sig, args):
        src = context.make_array(sig.args[0])(context, builder, value=args[0])
        dst = context.make_array(sig.args[0])(context, builder)
        for name in ("nitems", "itemsize", "data", "shape", "strides"):
            setattr(dst, name, getattr(src, name))
        dst.meminfo = cgutils.get_null_value(dst.meminfo.type)
        dst.parent = cgutils.get_null_value(dst.parent.type)
        return dst._getvalue()

    return arr(arr), codegen


@intrinsic
def pos(typingctx, a):
    """max(a, 0) lane by lane, 0 for NaN (the scalar model's ``_pos``)."""

    def codegen(context, builder, sig, args):
        zero = ir.Constant(_VT, [0.0] * W)
        return builder.select(builder.fcmp_ordered(">", args[0], zero), args[0], zero)

    return lanes_t(lanes_t), codegen


# ---- exp and log on all lanes at once -----------------------------------------------------------------------
# This llvmlite is built without SVML, so LLVM has no vector exp/log to call. These are the textbook reductions
# (Cody & Waite 1980; Tang 1989): x = n ln2 + r for exp, x = m 2**e for log, with series evaluated in Estrin's
# scheme (short dependency chains); tests hold them to numpy's exp and log within a few units in the last place.

@intrinsic
def _pow2(typingctx, n):
    """2**n for whole-valued n in [-1022, 1023], built from the exponent bits."""

    def codegen(context, builder, sig, args):
        i64x4 = ir.VectorType(ir.IntType(64), W)
        biased = builder.add(builder.fptosi(args[0], i64x4), ir.Constant(i64x4, [1023] * W))
        return builder.bitcast(builder.shl(biased, ir.Constant(i64x4, [52] * W)), _VT)

    return lanes_t(lanes_t), codegen


@intrinsic
def _split(typingctx, x):
    """(m, e) with x = m 2**e and m in [1, 2), for positive normal x."""

    def codegen(context, builder, sig, args):
        i64x4 = ir.VectorType(ir.IntType(64), W)
        bits = builder.bitcast(args[0], i64x4)
        e = builder.sub(builder.lshr(bits, ir.Constant(i64x4, [52] * W)), ir.Constant(i64x4, [1023] * W))
        mbits = builder.or_(builder.and_(bits, ir.Constant(i64x4, [(1 << 52) - 1] * W)),
                            ir.Constant(i64x4, [1023 << 52] * W))
        return context.make_tuple(builder, sig.return_type, [builder.bitcast(mbits, _VT), builder.sitofp(e, _VT)])

    return types.UniTuple(lanes_t, 2)(lanes_t), codegen


_LN2_HI = 6.93147180369123816490e-01  # ln 2 in two parts: n * _LN2_HI is exact for |n| < 2**20
_LN2_LO = 1.90821492927058770002e-10
_LOG2E = 1.44269504088896338700e+00
_SQRT2 = 1.4142135623730951
_EXP_HI = 709.782712893384  # exp overflows above this
_EXP_LO = -708.3964185322641  # exp is below the smallest normal double under this and is returned as 0
_TINY = 2.2250738585072014e-308  # smallest normal double


@njit(cache=True)
def _pair(a: float, b: float, x):
    return fma(splat(b), x, splat(a))


@njit(cache=True)
def vexp(x):
    """exp lane by lane: exp(r) for |r| <= ln2/2 by its Taylor series to r**13 (truncation < 1e-17; evaluated with
    fused multiply-adds), times 2**n. Below -708.4 the result is 0 (the true value is subnormal); NaN stays NaN."""
    xc = vmin(vmax(x, splat(_EXP_LO)), splat(_EXP_HI))
    n = rint(mul(xc, splat(_LOG2E)))
    nn = sub(splat(-0.0), n)
    r = fma(nn, splat(_LN2_LO), fma(nn, splat(_LN2_HI), xc))
    r2 = mul(r, r)
    r4 = mul(r2, r2)
    q1 = fma(_pair(1.0 / 720, 1.0 / 5040, r), r2, _pair(1.0 / 24, 1.0 / 120, r))
    q2 = fma(_pair(1.0 / 3628800, 1.0 / 39916800, r), r2, _pair(1.0 / 40320, 1.0 / 362880, r))
    q3 = _pair(1.0 / 479001600, 1.0 / 6227020800, r)
    tail = fma(_pair(1.0 / 2, 1.0 / 6, r), r2, mul(fma(fma(q3, r4, q2), r4, q1), r4))
    p = add(splat(1.0), add(r, tail))  # 1 added last: rounding stays within about one unit
    n1 = vmin(n, splat(1023.0))  # n = 1024 just below the overflow threshold: two factors
    out = mul(mul(p, _pow2(n1)), _pow2(sub(n, n1)))
    out = where_lt(x, splat(_EXP_LO), splat(0.0), where_gt(x, splat(_EXP_HI), splat(math.inf), out))
    return where_ge(x, x, out, x)


@njit(cache=True)
def vlog(x):
    """log lane by lane: x = m 2**e with m in [sqrt(1/2), sqrt(2)], log m = 2 atanh(f), f = (m - 1)/(m + 1),
    |f| <= 0.172, by its odd series to f**23 (truncation < 1e-18; fused multiply-adds). 0 -> -inf, negative -> NaN,
    inf -> inf."""
    sub_normal = where_lt(x, splat(_TINY), splat(1.0), splat(0.0))
    m, e = _split(where_gt(sub_normal, splat(0.0), mul(x, splat(18014398509481984.0)), x))  # subnormal: * 2**54
    e = fma(sub_normal, splat(-54.0), e)
    high = where_gt(m, splat(_SQRT2), splat(1.0), splat(0.0))
    m = where_gt(high, splat(0.0), mul(m, splat(0.5)), m)
    e = add(e, high)
    f = div(sub(m, splat(1.0)), add(m, splat(1.0)))
    s = mul(f, f)
    s2 = mul(s, s)
    s4 = mul(s2, s2)
    b0 = fma(_pair(1.0 / 7, 1.0 / 9, s), s2, _pair(1.0 / 3, 1.0 / 5, s))
    b1 = fma(_pair(1.0 / 15, 1.0 / 17, s), s2, _pair(1.0 / 11, 1.0 / 13, s))
    b2 = fma(splat(1.0 / 23), s2, _pair(1.0 / 19, 1.0 / 21, s))
    tail = mul(s, fma(b2, mul(s4, s4), fma(b1, s4, b0)))  # s/3 + s**2/5 + ... + s**11/23
    f2 = add(f, f)
    out = fma(e, splat(_LN2_HI), add(f2, fma(f2, tail, mul(e, splat(_LN2_LO)))))
    out = where_gt(x, splat(0.0), out, where_lt(x, splat(0.0), splat(math.nan), splat(-math.inf)))
    return where_lt(x, splat(math.inf), out, x)  # inf -> inf, NaN -> NaN
