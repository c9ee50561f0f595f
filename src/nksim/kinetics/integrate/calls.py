"""Calls from compiled (numba) code to a compiled right-hand side and event function, through their addresses.

The integrator is compiled once and cached; a model configuration's functions are compiled separately (LLVM IR
from the process modules) and handed over as integer addresses, so adding or changing a process never recompiles
the integrator."""

from __future__ import annotations

from llvmlite import ir
from numba import types
from numba.core import cgutils
from numba.extending import intrinsic

from nksim.kinetics.lanes import _VT, W, _float_array, lanes_t

_DPTR = ir.DoubleType().as_pointer()


def _data(context, builder, arrty, val):
    return context.make_array(arrty)(context, builder, value=val).data


@intrinsic
def call_rhs(typingctx, addr, t, Y, P, SEG, DY, row, ALG):
    """rhs(t, Y, P, SEG, DY[row:], ALG) at address ``addr``: t a lane vector, the rest (rows, W) lane arrays; the
    derivatives go to DY from row ``row`` on (a stage of a stacked stage array, without a copy)."""
    if not (isinstance(addr, types.Integer) and t == lanes_t and isinstance(row, types.Integer)
            and all(_float_array(a, 2) for a in (Y, P, SEG, DY, ALG))):
        return None

    def codegen(context, builder, sig, args):
        fnty = ir.FunctionType(ir.VoidType(), [_DPTR] * 6)
        fp = builder.inttoptr(args[0], fnty.as_pointer())
        tmp = cgutils.alloca_once(builder, _VT)
        builder.store(args[1], tmp)
        off = builder.mul(context.cast(builder, args[6], sig.args[6], types.intp),
                          ir.Constant(ir.IntType(64), W))
        dy = builder.gep(_data(context, builder, sig.args[5], args[5]), [off], inbounds=True)
        ptrs = [builder.bitcast(tmp, _DPTR)] + [_data(context, builder, sig.args[i], args[i]) for i in (2, 3, 4)]
        builder.call(fp, ptrs + [dy, _data(context, builder, sig.args[7], args[7])])
        return context.get_dummy_value()

    return types.none(addr, t, Y, P, SEG, DY, row, ALG), codegen


@intrinsic
def call_event(typingctx, addr, kind, t, y, p, seg, a, b):
    """event(kind, t, y, p, seg, a, b) at address ``addr``: one patient's arrays (1-D, contiguous), in place."""
    if not (isinstance(addr, types.Integer) and isinstance(kind, types.Integer)
            and all(_float_array(x, 1) for x in (y, p, seg))):
        return None

    def codegen(context, builder, sig, args):
        fnty = ir.FunctionType(ir.VoidType(), [ir.IntType(64), ir.DoubleType(), _DPTR, _DPTR, _DPTR,
                                               ir.DoubleType(), ir.DoubleType()])
        fp = builder.inttoptr(args[0], fnty.as_pointer())
        k = context.cast(builder, args[1], sig.args[1], types.int64)
        tt = context.cast(builder, args[2], sig.args[2], types.float64)
        aa = context.cast(builder, args[6], sig.args[6], types.float64)
        bb = context.cast(builder, args[7], sig.args[7], types.float64)
        builder.call(fp, [k, tt] + [_data(context, builder, sig.args[i], args[i]) for i in (3, 4, 5)] + [aa, bb])
        return context.get_dummy_value()

    return types.none(addr, kind, t, y, p, seg, a, b), codegen
