"""Calls from compiled (numba) code to functions compiled from generated LLVM IR, through their addresses.

The integrator's scheduler is compiled once by numba and cached; a model configuration's right-hand side, event
function, step attempt and initial-step function are compiled separately (:mod:`nksim.kinetics.codegen.llvm`) and
handed over as integer addresses, so adding or changing a process never recompiles the scheduler.

:func:`call` passes a lane vector as a pointer to its W doubles, an array as a pointer to its data (C-contiguous
float64 or int64), a float as a double and an integer as a 64-bit integer; the function returns nothing.
"""

from __future__ import annotations

from llvmlite import ir
from numba import types
from numba.core import cgutils
from numba.extending import intrinsic

from nksim.kinetics.lanes import _VT, lanes_t

_DPTR = ir.DoubleType().as_pointer()


def _kind(t) -> str | None:
    if t == lanes_t:
        return "lanes"
    if isinstance(t, types.Array) and t.layout == "C" and t.dtype in (types.float64, types.int64):
        return "array"
    if isinstance(t, types.Float):
        return "float"
    if isinstance(t, (types.Integer, types.Boolean)):
        return "int"
    return None


@intrinsic
def call(typingctx, addr, *args):
    """``fn(*args)`` for the function at address ``addr`` (see the module docstring for the argument passing)."""
    if isinstance(args, tuple) and len(args) == 1 and isinstance(args[0], types.StarArgTuple):
        args = tuple(args[0].types)
    kinds = [_kind(a) for a in args]
    if not isinstance(addr, types.Integer) or None in kinds:
        return None

    def codegen(context, builder, sig, llargs):
        vals = llargs[1:]
        if len(vals) == 1 and isinstance(sig.args[1], types.BaseTuple):  # star args arrive packed
            vals = cgutils.unpack_tuple(builder, vals[0])
        argtys, passed = [], []
        for k, ty, v in zip(kinds, args, vals):
            if k == "lanes":
                tmp = cgutils.alloca_once(builder, _VT)
                builder.store(v, tmp)
                passed.append(builder.bitcast(tmp, _DPTR))
                argtys.append(_DPTR)
            elif k == "array":
                data = context.make_array(ty)(context, builder, value=v).data
                passed.append(builder.bitcast(data, _DPTR))
                argtys.append(_DPTR)
            elif k == "float":
                passed.append(context.cast(builder, v, ty, types.float64))
                argtys.append(ir.DoubleType())
            else:
                passed.append(context.cast(builder, v, ty, types.int64))
                argtys.append(ir.IntType(64))
        fp = builder.inttoptr(llargs[0], ir.FunctionType(ir.VoidType(), argtys).as_pointer())
        builder.call(fp, passed)
        return context.get_dummy_value()

    return types.none(addr, types.StarArgTuple(args)), codegen
