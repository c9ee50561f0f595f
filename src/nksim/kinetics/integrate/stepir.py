"""One step attempt of an explicit Runge-Kutta tableau over W lanes, and the initial step, emitted as LLVM IR from
the tableau's data.

``step(t*, h*, t_new*, Y, YN, YT, KK, ATOL, P, SEG, ALG, rtol, ERR)``: from (t, Y) with the first stage in KK
rows 0..n-1 and steps h (0 in idle lanes), the stages 1..S-1 into KK (stage s in rows s n ... s n + n - 1), the new
state (the last stage's input, first-same-as-last) into YN, and into ERR row 0 the error norm (RMS over states of the
error estimate scaled by atol + rtol max(|y|, |y_new|)), row 1 the step-size factor SAFETY norm^(-1/order) it
suggests. ``init(t*, span*, mask*, Y, YT, KK, KX, ATOL, P, SEG, ALG, rtol, H)``: in the lanes where mask > 0.5, the
first stage into KK and the initial step (Hairer, Norsett & Wanner I, II.4) into H. Stage sums are chains of fused multiply-adds with the tableau's coefficients as constants (zero
coefficients skipped), the same operations for every tableau. It calls the model's right-hand side directly (same
LLVM module), so a configuration's step, right-hand side and events compile together in a fraction of a second.
"""

from __future__ import annotations

from llvmlite import ir

from nksim.kinetics.codegen.irmath import VecMath
from nksim.kinetics.integrate.chains import DENSE_KH, Chain, ChainStep, hermite
from nksim.kinetics.integrate.controller import SAFETY
from nksim.kinetics.integrate.tableau import Tableau
from nksim.kinetics.lanes import W

_DBL = ir.DoubleType()
_I64 = ir.IntType(64)
_PTR = _DBL.as_pointer()
_VT = ir.VectorType(_DBL, W)


def _splat(x: float) -> ir.Constant:
    return ir.Constant(_VT, [float(x)] * W)


def _fma(b: ir.IRBuilder, x: ir.Value, y: ir.Value, z: ir.Value) -> ir.Value:
    mod = b.module
    name = f"llvm.fma.v{W}f64"
    try:
        fn = mod.get_global(name)
    except KeyError:
        fn = ir.Function(mod, ir.FunctionType(_VT, [_VT] * 3), name=name)
    return b.call(fn, [x, y, z])


def _vcall(b: ir.IRBuilder, name: str, *args: ir.Value) -> ir.Value:
    mod = b.module
    full = f"llvm.{name}.v{W}f64"
    try:
        fn = mod.get_global(full)
    except KeyError:
        fn = ir.Function(mod, ir.FunctionType(_VT, [_VT] * len(args)), name=full)
    return b.call(fn, list(args))


def _row(b: ir.IRBuilder, base: ir.Value, row: ir.Value) -> ir.Value:
    return b.gep(b.bitcast(base, _VT.as_pointer()), [row], inbounds=True)


def _loop(b: ir.IRBuilder, n: int, body, carried: ir.Value | None = None, lo: int = 0) -> ir.Value | None:
    """for k in range(lo, n): carried = body(k, carried); returns the final carried value."""
    if n <= lo:
        return carried
    fn = b.function
    pre = b.block
    head = fn.append_basic_block("loop")
    after = fn.append_basic_block("after")
    b.branch(head)
    b.position_at_end(head)
    k = b.phi(_I64)
    k.add_incoming(ir.Constant(_I64, lo), pre)
    acc = None
    if carried is not None:
        acc = b.phi(_VT)
        acc.add_incoming(carried, pre)
    out = body(k, acc)
    k1 = b.add(k, ir.Constant(_I64, 1))
    k.add_incoming(k1, b.block)
    if acc is not None:
        acc.add_incoming(out, b.block)
    b.cbranch(b.icmp_signed("<", k1, ir.Constant(_I64, n)), head, after)
    b.position_at_end(after)
    return out


def _runs(n: int, skip: set[int]) -> list[tuple[int, int]]:
    """The maximal ranges [lo, hi) of 0..n-1 outside ``skip``."""
    out, lo = [], 0
    for k in sorted(skip) + [n]:
        if k > lo:
            out.append((lo, k))
        lo = k + 1
    return out


def emit_step(mod: ir.Module, tab: Tableau, n: int, rhs: ir.Function, name: str,
              chains: tuple[Chain, ...] = ()) -> ir.Function:
    """Add the step attempt of ``tab`` for ``n`` states, calling ``rhs``, to ``mod``; the rows of ``chains`` take
    Lawson steps with their transit part exact (:mod:`nksim.kinetics.integrate.chains`)."""
    fnty = ir.FunctionType(ir.VoidType(), [_PTR] * 11 + [_DBL, _PTR])  # ERR: (2, W) lane array
    fn = ir.Function(mod, fnty, name=name)
    tp, hp, tnp, Y, YN, YT, KK, ATOL, P, SEG, ALG, rtol, errp = fn.args
    b = ir.IRBuilder(fn.append_basic_block("entry"))
    tv = b.load(b.bitcast(tp, _VT.as_pointer()), align=8)
    hv = b.load(b.bitcast(hp, _VT.as_pointer()), align=8)
    tnv = b.load(b.bitcast(tnp, _VT.as_pointer()), align=8)
    tstage = b.alloca(_VT)
    S = tab.stages
    vm = VecMath(b, W)

    def rows(arr, s, idx):
        return [b.load(_row(b, arr, ir.Constant(_I64, s * n + k)), align=8) for k in idx]

    cs = []
    for idx, rate in chains:
        cs.append(ChainStep(vm, idx, b.load(_row(b, P, ir.Constant(_I64, rate)), align=8), hv, rows(Y, 0, idx),
                            rows(KK, 0, idx)))
    runs = _runs(n, {k for idx, _ in chains for k in idx})
    for s in range(1, S):
        terms = [(j, b.fmul(hv, _splat(tab.a[s, j]))) for j in range(s) if tab.a[s, j] != 0.0]
        dest = YN if s == S - 1 else YT

        def stage_sum(k, _acc, terms=terms, dest=dest):
            acc = b.load(_row(b, Y, k), align=8)
            for j, hj in terms:
                kj = b.load(_row(b, KK, b.add(k, ir.Constant(_I64, j * n))), align=8)
                acc = _fma(b, hj, kj, acc)
            b.store(acc, _row(b, dest, k), align=8)
            return None

        for lo, hi in runs:
            _loop(b, hi, stage_sum, lo=lo)
        stage_in = []
        for ch in cs:
            vals = ch.stage(tab.c[s], [(hj, j) for j, hj in terms])
            for k, v in zip(ch.rows, vals):
                b.store(v, _row(b, dest, ir.Constant(_I64, k)), align=8)
            stage_in.append(vals)
        t_s = tnv if s == S - 1 else b.fadd(tv, b.fmul(_splat(tab.c[s]), hv))
        b.store(t_s, tstage, align=8)
        dy = b.bitcast(_row(b, KK, ir.Constant(_I64, s * n)), _PTR)
        b.call(rhs, [b.bitcast(tstage, _PTR), dest, P, SEG, dy, ALG])
        for ch, vals in zip(cs, stage_in):
            ch.remainder(s, tab.c[s], vals, rows(KK, s, ch.rows))
            if s < S - 1:  # the inner stages' chain rows hold G_s for the dense output (the last stage stays f)
                for k, g in zip(ch.rows, ch.G[s]):
                    b.store(g, _row(b, KK, ir.Constant(_I64, s * n + k)), align=8)
    eterms = [(j, b.fmul(hv, _splat(tab.e[j]))) for j in range(S) if tab.e[j] != 0.0]
    chain_err = {}
    for ch in cs:
        chain_err.update(zip(ch.rows, ch.error([(hj, j) for j, hj in eterms])))
    rt = b.insert_element(ir.Constant(_VT, ir.Undefined), rtol, ir.Constant(ir.IntType(32), 0))
    rtv = b.shuffle_vector(rt, ir.Constant(_VT, ir.Undefined), ir.Constant(ir.VectorType(ir.IntType(32), W), [0] * W))

    def err_sum(k, acc, chain_e=None):
        if chain_e is not None:
            e = chain_e
        else:
            j0, h0 = eterms[0]
            e = b.fmul(h0, b.load(_row(b, KK, b.add(k, ir.Constant(_I64, j0 * n))), align=8))
            for j, hj in eterms[1:]:
                e = _fma(b, hj, b.load(_row(b, KK, b.add(k, ir.Constant(_I64, j * n))), align=8), e)
        yk = _vcall(b, "fabs", b.load(_row(b, Y, k), align=8))
        ynk = _vcall(b, "fabs", b.load(_row(b, YN, k), align=8))
        sc = _fma(b, _vcall(b, "maxnum", yk, ynk), rtv, b.load(_row(b, ATOL, k), align=8))
        e = b.fdiv(e, sc)
        return _fma(b, e, e, acc)

    err2 = _splat(0.0)
    for lo, hi in sorted(runs + [(k, -1) for k in chain_err]):  # squares summed in state order
        if hi < 0:
            err2 = err_sum(ir.Constant(_I64, lo), err2, chain_err[lo])
        else:
            err2 = _loop(b, hi, err_sum, err2, lo=lo)
    en = vm.intrinsic("sqrt", b.fmul(err2, _splat(1.0 / n)))
    grow = b.fmul(_splat(SAFETY), vm.exp(b.fmul(_splat(-1.0 / tab.order), vm.log(en))))
    b.store(en, _row(b, errp, ir.Constant(_I64, 0)), align=8)
    b.store(grow, _row(b, errp, ir.Constant(_I64, 1)), align=8)
    b.ret_void()
    return fn


def _rms(b: ir.IRBuilder, n: int, row_value) -> ir.Value:
    """sqrt(sum_k row_value(k)^2 / n), lane by lane (the sum in state order)."""
    def body(k, acc):
        v = row_value(k)
        return b.fadd(acc, b.fmul(v, v))

    vm = VecMath(b, W)
    return vm.intrinsic("sqrt", b.fdiv(_loop(b, n, body, _splat(0.0)), _splat(float(n))))


def emit_init(mod: ir.Module, order: int, n: int, rhs: ir.Function, name: str) -> ir.Function:
    """Add the initial-step function (HNW I, II.4, as scipy's ``select_initial_step``) for ``n`` states to ``mod``."""
    fnty = ir.FunctionType(ir.VoidType(), [_PTR] * 11 + [_DBL, _PTR])
    fn = ir.Function(mod, fnty, name=name)
    tp, spanp, maskp, Y, YT, KK, KX, ATOL, P, SEG, ALG, rtol, hp = fn.args
    b = ir.IRBuilder(fn.append_basic_block("entry"))
    vm = VecMath(b, W)
    tv = b.load(b.bitcast(tp, _VT.as_pointer()), align=8)
    span = b.load(b.bitcast(spanp, _VT.as_pointer()), align=8)
    init = b.fcmp_ordered(">", b.load(b.bitcast(maskp, _VT.as_pointer()), align=8), _splat(0.5))
    rt = b.insert_element(ir.Constant(_VT, ir.Undefined), rtol, ir.Constant(ir.IntType(32), 0))
    rtv = b.shuffle_vector(rt, ir.Constant(_VT, ir.Undefined), ir.Constant(ir.VectorType(ir.IntType(32), W), [0] * W))
    tmp = b.alloca(_VT)
    b.store(tv, tmp, align=8)
    b.call(rhs, [b.bitcast(tmp, _PTR), Y, P, SEG, KX, ALG])

    def ld(arr, k):
        return b.load(_row(b, arr, k), align=8)

    def scale(k):
        return b.fadd(ld(ATOL, k), b.fmul(vm.intrinsic("fabs", ld(Y, k)), rtv))

    def first(k, _acc):  # the first stage where the lane starts a segment
        b.store(vm.sel(init, ld(KX, k), ld(KK, k)), _row(b, KK, k), align=8)

    _loop(b, n, first)
    d0 = _rms(b, n, lambda k: b.fdiv(ld(Y, k), scale(k)))
    d1 = _rms(b, n, lambda k: b.fdiv(ld(KK, k), scale(k)))
    small = b.or_(vm.lt(d0, _splat(1e-5)), vm.lt(d1, _splat(1e-5)))
    h0 = vm.sel(small, _splat(1e-6), b.fdiv(b.fmul(_splat(0.01), d0), d1))
    h0 = vm.sel(vm.lt(span, h0), span, h0)
    h0 = vm.sel(init, h0, _splat(0.0))

    def euler(k, _acc):
        b.store(b.fadd(ld(Y, k), b.fmul(h0, ld(KK, k))), _row(b, YT, k), align=8)

    _loop(b, n, euler)
    b.store(b.fadd(tv, h0), tmp, align=8)
    b.call(rhs, [b.bitcast(tmp, _PTR), YT, P, SEG, KX, ALG])
    d2 = b.fdiv(_rms(b, n, lambda k: b.fdiv(b.fsub(ld(KX, k), ld(KK, k)), scale(k))), h0)
    dmax = vm.sel(vm.gt(d1, d2), d1, d2)
    flat = b.fcmp_ordered("<=", dmax, _splat(1e-15))
    h_flat = b.fmul(h0, _splat(1e-3))
    h_flat = vm.sel(vm.gt(h_flat, _splat(1e-6)), h_flat, _splat(1e-6))
    h_curv = vm.exp(b.fmul(_splat(1.0 / order), vm.log(b.fdiv(_splat(0.01), dmax))))
    h1 = vm.sel(flat, h_flat, h_curv)
    h100 = b.fmul(_splat(100.0), h0)
    b.store(vm.sel(vm.lt(h100, h1), h100, h1), b.bitcast(hp, _VT.as_pointer()), align=8)
    b.ret_void()
    return fn


def emit_dense(mod: ir.Module, tab: Tableau, n: int, name: str, chains: tuple[Chain, ...] = ()) -> ir.Function:
    """Add the dense output of ``tab`` for ``n`` states to ``mod``: ``dense(x, h, Y, YN, KK, P, w, out)`` writes
    lane w's state at t + x h (0 <= x <= 1 within the last accepted step from Y to YN, stages in KK, parameters P),
    clipped at 0, into ``out``; on the rows of ``chains`` Lawson's continuous extension or, in long steps, the cubic
    Hermite interpolant of the step's ends (:mod:`nksim.kinetics.integrate.chains`; the step leaves the transformed
    remainders G_s in the inner stages' chain rows of KK)."""
    fnty = ir.FunctionType(ir.VoidType(), [_DBL, _DBL, _PTR, _PTR, _PTR, _PTR, _I64, _PTR])
    fn = ir.Function(mod, fnty, name=name)
    x, h, Y, YN, KK, P, w, out = fn.args
    b = ir.IRBuilder(fn.append_basic_block("entry"))
    x2 = b.fmul(x, x)
    powers = [x, x2, b.fmul(x2, x), b.fmul(x2, x2)]
    weights = []
    for s in range(tab.stages):
        terms = [b.fmul(ir.Constant(_DBL, float(c)), powers[m]) for m, c in enumerate(tab.dense[s]) if c != 0.0]
        if terms:
            acc = terms[0]
            for t in terms[1:]:
                acc = b.fadd(acc, t)
            weights.append((s, acc))
    zero = ir.Constant(_DBL, 0.0)
    lanes = ir.Constant(_I64, W)

    def at(arr, row):
        return b.gep(arr, [b.add(b.mul(row, lanes), w)], inbounds=True)

    def ld(arr, row):
        return b.load(at(arr, ir.Constant(_I64, row)), align=8)

    def clipped(k, v):
        b.store(b.select(b.fcmp_ordered(">", v, zero), v, zero), b.gep(out, [k], inbounds=True), align=8)

    def body(k, _acc):
        acc = zero
        for s, bs in weights:
            acc = b.fadd(acc, b.fmul(bs, b.load(at(KK, b.add(k, ir.Constant(_I64, s * n))), align=8)))
        clipped(k, b.fadd(b.load(at(Y, k), align=8), b.fmul(h, acc)))

    for lo, hi in _runs(n, {k for idx, _ in chains for k in idx}):
        _loop(b, hi, body, lo=lo)
    vm = VecMath(b, 1)
    S, last = tab.stages, (tab.stages - 1) * n
    for idx, rate in chains:
        y = [ld(Y, k) for k in idx]
        yn, f0, f1 = [ld(YN, k) for k in idx], [ld(KK, k) for k in idx], [ld(KK, last + k) for k in idx]
        kv = ld(P, rate)
        with b.if_else(b.fcmp_ordered("<=", b.fmul(kv, h), ir.Constant(_DBL, DENSE_KH))) as (lawson, long_step):
            with lawson:
                ch = ChainStep(vm, idx, kv, h, y, f0)
                for s in range(1, S - 1):
                    ch.G[s] = [ld(KK, s * n + k) for k in idx]
                ch.remainder(S - 1, float(tab.c[S - 1]), yn, f1)
                v = list(y)
                for s, bs in weights:
                    hb = b.fmul(h, bs)
                    v = [b.fadd(vi, b.fmul(hb, g)) for vi, g in zip(v, ch.G[s])]
                for k, vk in zip(idx, ch.apply(x, v)):
                    clipped(ir.Constant(_I64, k), vk)
            with long_step:
                for k, a0, a1, d0, d1 in zip(idx, y, yn, f0, f1):
                    clipped(ir.Constant(_I64, k), hermite(vm, x, h, a0, a1, d0, d1))
    b.ret_void()
    return fn
