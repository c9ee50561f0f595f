"""Kernel-tracked summaries: per-patient event times, maxima, minima, threshold crossings and durations of the
continuous solution, updated at every accepted step, so that the readouts need no save grid.

A patient's trackers read ``nq`` quantities: linear combinations of a few states (per-patient coefficients on the
configuration's tracked columns) and, last, one algebraic output (the cytokine proxy: a quasi-steady root, exact at
each accepted step's end). Within a step from ``ta`` to ``ta + h`` a linear quantity is the cubic Hermite
interpolant of its values and derivatives at both ends (the derivatives are the first and the last stage:
first-same-as-last), 4th order like the tableau's dense output; the algebraic one is linear between step ends.

Each tracker is a row of 6 doubles ``(kind, quantity, level, duration, t_from, t_fire)`` and writes 2 doubles
(initialised by the caller, ``initial_outputs``):

- ``RUN_GE`` / ``RUN_LE``: the first time at which the quantity has been >= (<=) ``level`` without interruption for
  ``duration`` days, the run starting at or after ``t_from``, and not before ``t_fire`` (out: that time, +inf if
  never; the current run's start or NaN). ``duration`` 0: the first crossing. Not frozen at death.
- ``MAX`` / ``MIN``: the maximum (minimum) over [t_from, stop) and its time (out: value, time; -inf/+inf if the
  window is empty).
- ``BELOW``: the time (days) with the quantity < ``level`` within [t_from, stop).
- ``LAST_GE``: the last and the first time within [t_from, stop) with the quantity >= ``level`` (out: -inf / NaN if
  never).
- ``LEVELS``: the first times at or after ``t_from`` at which the quantity reaches each of ``duration`` (K)
  increasing levels, given in the ``level`` field of the K ``NONE`` rows that follow it (out of those rows: the
  time, +inf if never; of the LEVELS row: -inf, the number of levels reached). One check a step for all of them.

``stop`` is the patient's ``tcut`` or the earliest output of the first ``ndeath`` trackers (event-time trackers:
death), so window trackers freeze at death. A run that ends and starts again within one step, and a dip of a
quantity below a level and back within one step, are not seen (a step is short where a quantity turns).

The W lanes' trackers are updated together (:func:`emit_tracker`: every row's kind and quantity are the same in
every lane, so a row is one set of vector operations for all lanes); a lane that needs a crossing or an extremum
within its step (a few percent of the rows' steps) is finished by the one-lane row (``_emit_row``), so every output
is what the one-lane code computes, to the bit.
"""

from __future__ import annotations

import math

import numpy as np
from llvmlite import ir

from nksim.kinetics.codegen.irflow import DBL, I64, Flow, f64, i64
from nksim.kinetics.integrate.controller import pymax, pymin
from nksim.kinetics.lanes import W

PTR = DBL.as_pointer()
SPEC = 6  #: doubles per tracker row
OUT = 2  #: doubles per tracker output
NONE, RUN_GE, RUN_LE, MAX, MIN, BELOW, LAST_GE, LEVELS = 0, 1, 2, 3, 4, 5, 6, 7
KINDS = {"run_ge": RUN_GE, "run_le": RUN_LE, "max": MAX, "min": MIN, "below": BELOW, "last_ge": LAST_GE,
         "levels": LEVELS}
_BISECT = 56  #: bisection steps on [0, 1]: to ~1e-17 of a step (even: taken two at a time)
_MIDS = ir.VectorType(DBL, 4)  #: points a bisection evaluates together: the mid, the two that can follow, a spare


def initial_outputs(kinds: np.ndarray) -> np.ndarray:
    """Initial outputs (..., 2) of trackers of the given kinds (..., )."""
    k = np.asarray(kinds)
    out = np.zeros(k.shape + (OUT,))
    out[..., 0] = np.select([np.isin(k, (NONE, RUN_GE, RUN_LE, MIN)), np.isin(k, (MAX, LAST_GE, LEVELS))],
                            [np.inf, -np.inf], 0.0)
    out[..., 1] = np.where(np.isin(k, (NONE, RUN_GE, RUN_LE, MAX, MIN, LAST_GE)), np.nan, 0.0)
    return out


def _c(like: ir.Value, x: float) -> ir.Constant:
    """The constant x of the type of ``like`` (a double or a vector of doubles)."""
    t = like.type
    return ir.Constant(t, [float(x)] * t.count) if isinstance(t, ir.VectorType) else ir.Constant(t, float(x))


def _fabs(b: ir.IRBuilder, x: ir.Value) -> ir.Value:
    return b.select(b.fcmp_ordered("<", x, _c(x, 0.0)), b.fneg(x), x)


_ROUNDING = 1e-12  #: relative margin of a bound on p over p's rounding error (~1e-15 of its terms' magnitudes)


def _upper(b: ir.IRBuilder, s, q0, q1, d0, d1) -> ir.Value:
    """An upper bound on s p(x) over [0, 1] that also bounds the rounded values of ``_poly`` (s = +-1): the Hermite
    basis gives s p <= max(s q0, s q1) + 4/27 (|d0| + |d1|); 0.15 instead of 4/27 and the margin of _ROUNDING times
    the magnitudes cover the rounding of p's evaluation. NaN if any input is. Doubles or vectors of them."""
    mag = b.fadd(b.fadd(_fabs(b, q0), _fabs(b, q1)), b.fadd(_fabs(b, d0), _fabs(b, d1)))
    return b.fadd(b.fadd(pymax(b, b.fmul(s, q0), b.fmul(s, q1)), b.fmul(_c(q0, 0.15), b.fadd(_fabs(b, d0),
                                                                                              _fabs(b, d1)))),
                  b.fmul(_c(q0, _ROUNDING), mag))


def _poly(b: ir.IRBuilder, x, q0, q1, d0, d1):
    """Cubic Hermite p(x) on [0, 1] (values q0, q1; derivatives d0, d1 per unit x) and its derivative (doubles or
    vectors of them)."""
    dq = b.fsub(q1, q0)
    c2 = b.fsub(b.fsub(b.fmul(_c(dq, 3.0), dq), b.fmul(_c(dq, 2.0), d0)), d1)
    c3 = b.fadd(b.fadd(b.fmul(_c(dq, -2.0), dq), d0), d1)
    p = b.fadd(q0, b.fmul(x, b.fadd(d0, b.fmul(x, b.fadd(c2, b.fmul(x, c3))))))
    dp = b.fadd(d0, b.fmul(x, b.fadd(b.fmul(_c(dq, 2.0), c2), b.fmul(_c(dq, 3.0), b.fmul(x, c3)))))
    return p, dp


def _emit_reach(mod: ir.Module, name: str, extremum: ir.Function) -> ir.Function:
    """``reach(xa, xb, s, L, strict, q0, q1, d0, d1)``: the first x in [xa, xb] with s (p(x) - L) >= 0 (> 0 where
    strict != 0), or NaN: at xa; else bisection of [xa, xb] if it holds at xb, else of [xa, xm] where xm is the
    interior maximum of s p (its derivative turning from + to -) and it holds there."""
    fn = ir.Function(mod, ir.FunctionType(DBL, [DBL, DBL, DBL, DBL, I64, DBL, DBL, DBL, DBL]), name=name)
    fn.linkage = "internal"
    xa, xb, s, lev, strict, q0, q1, d0, d1 = fn.args
    f = Flow(fn)
    b = f.b

    def g(x):
        return b.fmul(s, b.fsub(_poly(b, x, q0, q1, d0, d1)[0], lev))

    def holds(v):
        return b.select(b.icmp_signed("!=", strict, i64(0)), b.fcmp_ordered(">", v, f64(0.0)),
                        b.fcmp_ordered(">=", v, f64(0.0)))

    with b.if_then(holds(g(xa))):
        b.ret(xa)
    hi = f.var(DBL, xb)
    with b.if_then(b.not_(holds(g(xb)))):  # then within [xa, xm], xm the interior maximum of s p, if it holds there
        xm = b.call(extremum, [xa, xb, s, q0, q1, d0, d1])
        with b.if_then(b.or_(b.fcmp_unordered("!=", xm, xm), b.not_(holds(g(xm))))):
            b.ret(f64(math.nan))
        hi.set(xm)
    sv, lv, q = _splat(b, s, _MIDS), _splat(b, lev, _MIDS), [_splat(b, v, _MIDS) for v in (q0, q1, d0, d1)]

    def holds_at(xs):  # holds at the points xs (a vector)
        v = b.fmul(sv, b.fsub(_poly(b, xs, *q)[0], lv))
        return b.select(b.icmp_signed("!=", strict, i64(0)), b.fcmp_ordered(">", v, _c(v, 0.0)),
                        b.fcmp_ordered(">=", v, _c(v, 0.0)))

    _, hi = _bisect(f, xa, hi.get(), holds_at)
    b.ret(hi)
    return fn


def _splat(b: ir.IRBuilder, x: ir.Value, vt: ir.VectorType) -> ir.Value:
    v = ir.Constant(vt, None)
    for k in range(vt.count):
        v = b.insert_element(v, x, i64(k))
    return v


def _bisect(f: Flow, lo0: ir.Value, hi0: ir.Value, to_hi) -> tuple[ir.Value, ir.Value]:
    """_BISECT halvings of [lo0, hi0]: mid = 0.5 (lo + hi) becomes hi where ``to_hi`` holds there, else lo; two at a
    time (the mid and both mids that can follow it, evaluated together: ``to_hi`` takes a vector of points and
    gives a vector of i1), with the same mids, so the same (lo, hi) as one at a time."""
    b = f.b
    lo, hi = f.var(DBL, lo0), f.var(DBL, hi0)
    half = f64(0.5)
    with f.range_(0, _BISECT // 2):
        lo_, hi_ = lo.get(), hi.get()
        m1 = b.fmul(half, b.fadd(lo_, hi_))
        ma = b.fmul(half, b.fadd(lo_, m1))  # the next mid where m1 becomes hi
        mb = b.fmul(half, b.fadd(m1, hi_))  # where it becomes lo
        xs = ir.Constant(_MIDS, None)
        for k, x in enumerate((m1, ma, mb, mb)):
            xs = b.insert_element(xs, x, i64(k))
        t = to_hi(xs)
        t1, ta, tb = (b.extract_element(t, i64(k)) for k in range(3))
        lo.set(b.select(t1, b.select(ta, lo_, ma), b.select(tb, m1, mb)))
        hi.set(b.select(t1, b.select(ta, ma, m1), b.select(tb, mb, hi_)))
    return lo.get(), hi.get()


def _emit_extremum(mod: ir.Module, name: str) -> ir.Function:
    """``extremum(xa, xb, s, q0, q1, d0, d1)``: x of the interior maximum of s p in (xa, xb) (s p' from + to -), or
    NaN."""
    fn = ir.Function(mod, ir.FunctionType(DBL, [DBL] * 7), name=name)
    fn.linkage = "internal"
    xa, xb, s, q0, q1, d0, d1 = fn.args
    f = Flow(fn)
    b = f.b

    def ds(x):
        return b.fmul(s, _poly(b, x, q0, q1, d0, d1)[1])

    with b.if_then(b.not_(b.and_(b.fcmp_ordered(">", ds(xa), f64(0.0)), b.fcmp_ordered("<", ds(xb), f64(0.0))))):
        b.ret(f64(math.nan))
    sv, q = _splat(b, s, _MIDS), [_splat(b, v, _MIDS) for v in (q0, q1, d0, d1)]

    def falls_at(xs):  # s p' not > 0 at the points xs: the maximum is not after them
        return b.not_(b.fcmp_ordered(">", b.fmul(sv, _poly(b, xs, *q)[1]), _c(xs, 0.0)))

    lo, hi = _bisect(f, xa, xb, falls_at)
    b.ret(b.fmul(f64(0.5), b.fadd(lo, hi)))
    return fn


def _emit_row(mod: ir.Module, name: str, reach: ir.Function, extremum: ir.Function) -> ir.Function:
    """``row(k, w, ta, h, stop, q0, q1, d0, d1, spec*, out*)``: tracker row k of lane w over its accepted step from ta
    to ta + h (q0 .. d1: the row's quantity at both ends and its derivatives times h; spec and out: the lanes' rows,
    element j of row k of lane w at (k SPEC + j) W + w, and (k OUT + j) W + w). One lane at a time: what the vector
    tracker leaves to it."""
    fn = ir.Function(mod, ir.FunctionType(ir.VoidType(), [I64, I64] + [DBL] * 7 + [PTR, PTR]), name=name)
    fn.linkage = "internal"
    fn.attributes.add("noinline")
    k, w, ta, h, stop, q0, q1, d0, d1, spec, out = fn.args
    f = Flow(fn)
    b = f.b
    tb = b.fadd(ta, h)
    poly = (q0, q1, d0, d1)

    def sp(r, j):  # spec field j of row r
        return f.load(spec, b.add(b.mul(b.add(b.mul(r, i64(SPEC)), i64(j)), i64(W)), w))

    def op(r, j):  # address of output j of row r
        return f.at(out, b.add(b.mul(b.add(b.mul(r, i64(OUT)), i64(j)), i64(W)), w))

    def done() -> None:
        b.ret_void()
        b.position_at_end(fn.append_basic_block("dead"))

    def t_of(x):
        return b.fadd(ta, b.fmul(x, h))

    inv_h = b.fdiv(f64(1.0), h)

    def x_of(t):  # time -> step fraction, unclipped
        return b.fmul(b.fsub(t, ta), inv_h)

    kind = b.fptosi(sp(k, 0), I64)
    o0, o1 = op(k, 0), op(k, 1)
    is_run = b.or_(b.icmp_signed("==", kind, i64(RUN_GE)), b.icmp_signed("==", kind, i64(RUN_LE)))
    with b.if_then(b.or_(b.icmp_signed("==", kind, i64(NONE)),
                         b.and_(is_run, b.fcmp_ordered("<", b.load(o0), f64(math.inf))))):
        done()  # a level row, or a run tracker that has fired
    lev, dur, t_from, t_fire = (sp(k, j) for j in (2, 3, 4, 5))
    xa = pymax(b, f64(0.0), x_of(t_from))
    with b.if_then(b.icmp_signed("==", kind, i64(LEVELS))):
        nlev = b.fptosi(dur, I64)
        idx = f.var(I64, b.fptosi(b.load(o1), I64))

        def level_of(j):
            return sp(b.add(k, b.add(j, i64(1))), 2)

        with b.if_then(b.or_(b.icmp_signed(">=", idx.get(), nlev), b.fcmp_ordered(">=", xa, f64(1.0)))):
            done()
        bound = b.fadd(pymax(b, q0, q1), b.fmul(f64(0.15), b.fadd(_fabs(b, d0), _fabs(b, d1))))
        with b.if_then(b.fcmp_ordered("<", bound, level_of(idx.get()))):
            done()
        with f.while_(lambda: b.icmp_signed("<", idx.get(), nlev)):
            xs = b.call(reach, [xa, f64(1.0), f64(1.0), level_of(idx.get()), i64(0), *poly])
            with b.if_then(b.fcmp_unordered("!=", xs, xs)):
                f.break_()
            b.store(t_of(xs), op(b.add(k, b.add(idx.get(), i64(1))), 0))
            idx.set(b.add(idx.get(), i64(1)))
        b.store(b.sitofp(idx.get(), DBL), o1)
        done()
    with b.if_then(is_run):
        with b.if_then(b.fcmp_ordered("<", xa, f64(1.0))):
            s = b.select(b.icmp_signed("==", kind, i64(RUN_GE)), f64(1.0), f64(-1.0))
            x = f.var(DBL, xa)
            start = b.load(o1)
            # not in a run: its start, if any (skipped where the step's bound on s p stays below s L: the
            # Hermite basis gives |p - (1 - w) q0 - w q1| <= 4/27 (|d0| + |d1|))
            bound = b.fadd(pymax(b, b.fmul(s, q0), b.fmul(s, q1)),
                           b.fmul(f64(0.15), b.fadd(_fabs(b, d0), _fabs(b, d1))))
            maybe = b.fcmp_ordered(">=", bound, b.fmul(s, lev))
            with b.if_then(b.and_(b.fcmp_unordered("!=", start, start), maybe)):
                xs = b.call(reach, [xa, f64(1.0), s, lev, i64(0), *poly])
                with b.if_then(b.fcmp_ordered("==", xs, xs)):
                    b.store(t_of(xs), o1)
                    x.set(xs)
            st = b.load(o1)
            with b.if_then(b.fcmp_ordered("==", st, st)):  # in a run from x: its end within the step, if any
                # (none where the step's bound on -s p stays below -s L: no bisection)
                can_end = b.fcmp_ordered(">=", _upper(b, b.fneg(s), *poly), b.fmul(b.fneg(s), lev))
                xe = f.var(DBL, f64(math.nan))
                with b.if_then(can_end):
                    xe.set(b.call(reach, [x.get(), f64(1.0), b.fneg(s), lev, i64(1), *poly]))
                xe = xe.get()
                ended = b.fcmp_ordered("==", xe, xe)
                t_end = b.select(ended, t_of(xe), tb)
                fire = pymax(b, b.fadd(st, dur), t_fire)
                with b.if_then(b.fcmp_ordered("<=", fire, t_end)):
                    b.store(fire, o0)
                with b.if_then(ended):
                    b.store(f64(math.nan), o1)
        done()
    xb = pymin(b, f64(1.0), x_of(stop))
    with b.if_then(b.fcmp_ordered("<", xa, xb)):  # the window
        pa, _ = _poly(b, xa, *poly)
        pb, _ = _poly(b, xb, *poly)
        is_ext = b.or_(b.icmp_signed("==", kind, i64(MAX)), b.icmp_signed("==", kind, i64(MIN)))
        with b.if_then(is_ext):
            s = b.select(b.icmp_signed("==", kind, i64(MAX)), f64(1.0), f64(-1.0))
            for xv, pv in ((xa, pa), (xb, pb)):
                with b.if_then(b.fcmp_ordered(">", b.fmul(s, pv), b.fmul(s, b.load(o0)))):
                    b.store(pv, o0)
                    b.store(t_of(xv), o1)
            turns = b.or_(b.and_(b.fcmp_ordered(">", b.fmul(s, d0), f64(0.0)),
                                 b.fcmp_ordered("<", b.fmul(s, d1), f64(0.0))),
                          b.or_(b.fcmp_ordered(">", xa, f64(0.0)), b.fcmp_ordered("<", xb, f64(1.0))))
            # and an interior value could beat the best so far: s p <= max(s q0, s q1) + 4/27 (|d0| + |d1|)
            # (the Hermite basis), plus a margin far above p's rounding error, so that skipping the bisection
            # changes no bit of the outputs
            turns = b.and_(turns, b.fcmp_ordered(">=", _upper(b, s, *poly), b.fmul(s, b.load(o0))))
            xm = f.var(DBL, f64(math.nan))
            with b.if_then(turns):  # the derivative turns within the step (then look within the window)
                xm.set(b.call(extremum, [xa, xb, s, *poly]))
            with b.if_then(b.fcmp_ordered("==", xm.get(), xm.get())):
                xm = xm.get()
                pm, _ = _poly(b, xm, *poly)
                with b.if_then(b.fcmp_ordered(">", b.fmul(s, pm), b.fmul(s, b.load(o0)))):
                    b.store(pm, o0)
                    b.store(t_of(xm), o1)
        with b.if_then(b.icmp_signed("==", kind, i64(BELOW))):
            below_a = b.fcmp_ordered("<", pa, lev)
            below_b = b.fcmp_ordered("<", pb, lev)
            part = f.var(DBL, f64(0.0))
            with b.if_then(b.and_(below_a, below_b)):
                part.set(b.fsub(xb, xa))
            with b.if_then(b.and_(below_a, b.not_(below_b))):
                xc = b.call(reach, [xa, xb, f64(1.0), lev, i64(0), *poly])
                part.set(b.fsub(b.select(b.fcmp_ordered("==", xc, xc), xc, xb), xa))
            with b.if_then(b.and_(below_b, b.not_(below_a))):
                xc = b.call(reach, [xa, xb, f64(-1.0), lev, i64(1), *poly])
                part.set(b.fsub(xb, b.select(b.fcmp_ordered("==", xc, xc), xc, xa)))
            b.store(b.fadd(b.load(o0), b.fmul(part.get(), h)), o0)
        with b.if_then(b.icmp_signed("==", kind, i64(LAST_GE))):
            hit_b = b.fcmp_ordered(">=", pb, lev)
            with b.if_then(b.or_(hit_b, b.fcmp_ordered(">=", pa, lev))):
                first = b.load(o1)
                with b.if_then(b.fcmp_unordered("!=", first, first)):  # the first time, once
                    xf = b.call(reach, [xa, xb, f64(1.0), lev, i64(0), *poly])
                    b.store(t_of(b.select(b.fcmp_ordered("==", xf, xf), xf, xa)), o1)
                with b.if_else(hit_b) as (then, otherwise):
                    with then:
                        b.store(t_of(xb), o0)
                    with otherwise:
                        xc = b.call(reach, [xa, xb, f64(-1.0), lev, i64(1), *poly])
                        b.store(t_of(b.select(b.fcmp_ordered("==", xc, xc), xc, xa)), o0)
    b.ret_void()
    return fn


def emit_tracker(mod: ir.Module, name: str, nq: int, one_lane: bool = False) -> ir.Function:
    """Add ``name(nt, ndeath, w0, acc*, ta*, h*, tcut*, Q*, spec*, out*)`` to ``mod``: the trackers of the W lanes'
    patients over their accepted steps, all lanes at once. Lane arrays (W doubles each, 32-byte aligned): ``acc``
    > 0 where the lane's step was accepted (the others are left as they are), ``ta`` the step's start, ``h`` its
    size, ``tcut`` the patient's window end; ``Q``: 4 rows (values at both ends, derivatives times h at both ends) of
    ``nq`` lane arrays, the tracked quantities; ``spec`` and ``out``: the lanes' nt tracker rows (element j of row k of
    lane w at (k SPEC + j) W + w, and (k OUT + j) W + w). ``w0``: an accepted lane; the rows' kinds, quantities and
    numbers of levels are the same in every lane (``nksim.kinetics.solver.TrackArrays.check``).

    Every row is evaluated on the W lanes together with the operations of the one-lane row (``_emit_row``) where a
    lane's outcome needs no root or extremum search: the common case (the run or window goes on, no new level is
    within reach, no extremum within the step can beat the best so far); the lanes that need one are left to the
    one-lane row, from the row's state before the step, so that every output is the same to the bit.
    ``one_lane``: every lane's rows by the one-lane row (the reference the vector code must equal; for tests)."""
    fn = ir.Function(mod, ir.FunctionType(ir.VoidType(), [I64, I64, I64] + [PTR] * 7), name=name)
    fn.linkage = "internal"
    fn.attributes.add("noinline")  # compiled for speed, not inlined into the (size-optimised) scheduler
    nt, ndeath, w0, accp, tap, hp, tcutp, Q, spec, out = fn.args
    extremum = _emit_extremum(mod, name + "_extremum")
    reach = _emit_reach(mod, name + "_reach", extremum)
    row1 = _emit_row(mod, name + "_row", reach, extremum)
    f = Flow(fn)
    b = f.b
    VT = ir.VectorType(DBL, W)

    def vec(ptr, idx):  # the lane array at ptr[idx]
        return b.bitcast(f.at(ptr, idx), VT.as_pointer())

    def vload(ptr, idx):
        return b.load(vec(ptr, idx), align=32)

    def vstore(v, ptr, idx):
        b.store(v, vec(ptr, idx), align=32)

    def vc(x):
        return ir.Constant(VT, [float(x)] * W)

    def fld(k, j):  # index of spec field j of row k
        return b.mul(b.add(b.mul(k, i64(SPEC)), i64(j)), i64(W))

    def oix(k, j):  # index of output j of row k
        return b.mul(b.add(b.mul(k, i64(OUT)), i64(j)), i64(W))

    acc = b.fcmp_ordered(">", vload(accp, 0), vc(0.0))
    ta, h = vload(tap, 0), vload(hp, 0)
    tb = b.fadd(ta, h)
    inv_h = b.fdiv(vc(1.0), h)
    stop = f.var(VT, vload(tcutp, 0))

    def t_of(x):
        return b.fadd(ta, b.fmul(x, h))

    def x_of(t):
        return b.fmul(b.fsub(t, ta), inv_h)

    def any_(mask) -> ir.Value:
        return b.icmp_unsigned("!=", b.bitcast(mask, ir.IntType(W)), ir.Constant(ir.IntType(W), 0))

    nxt = f.var(I64, i64(0))

    def one(k: ir.Value, nqv: ir.Value) -> None:
        kind = b.fptosi(f.load(spec, b.add(fld(k, 0), w0)), I64)
        qi = b.fptosi(f.load(spec, b.add(fld(k, 1), w0)), I64)
        q0, q1, d0, d1 = (vload(Q, b.mul(b.add(b.mul(i64(r), nqv), qi), i64(W))) for r in range(4))
        poly = (q0, q1, d0, d1)
        o0, o1 = vload(out, oix(k, 0)), vload(out, oix(k, 1))
        lev, dur, t_from, t_fire = (vload(spec, fld(k, j)) for j in (2, 3, 4, 5))
        xa = pymax(b, vc(0.0), x_of(t_from))
        stop_v = stop.get()
        xb = pymin(b, vc(1.0), x_of(stop_v))

        def finish(fall, new0=None, new1=None, upd=None) -> None:
            """Store the lanes' new outputs where ``upd`` and leave the lanes ``fall`` to the one-lane row."""
            if one_lane:
                fall, upd = acc, None
            if upd is not None:
                if new0 is not None:
                    vstore(b.select(upd, new0, o0), out, oix(k, 0))
                if new1 is not None:
                    vstore(b.select(upd, new1, o1), out, oix(k, 1))
            with b.if_then(any_(fall)):
                for lane in range(W):
                    with b.if_then(b.extract_element(fall, i64(lane))):
                        b.call(row1, [k, i64(lane), *(b.extract_element(v, i64(lane))
                                                      for v in (ta, h, stop_v, q0, q1, d0, d1)), spec, out])

        sw_end = fn.append_basic_block("kind.end")
        blocks = {kd: fn.append_basic_block(f"kind{kd}") for kd in (RUN_GE, RUN_LE, MAX, MIN, BELOW, LAST_GE, LEVELS)}
        sw = b.switch(kind, sw_end)
        for kd, blk in blocks.items():
            sw.add_case(i64(kd), blk)
        for kd in (RUN_GE, RUN_LE):  # not fired, from t_from: in a run without its end within reach, or neither
            b.position_at_end(blocks[kd])
            s = vc(1.0 if kd == RUN_GE else -1.0)
            live = b.and_(b.and_(acc, b.not_(b.fcmp_ordered("<", o0, vc(math.inf)))),
                          b.fcmp_ordered("<", xa, vc(1.0)))
            out_of_run = b.fcmp_unordered("!=", o1, o1)
            bound = b.fadd(pymax(b, b.fmul(s, q0), b.fmul(s, q1)),
                           b.fmul(vc(0.15), b.fadd(_fabs(b, d0), _fabs(b, d1))))
            maybe = b.fcmp_ordered(">=", bound, b.fmul(s, lev))
            ns = b.fneg(s)
            can_end = b.fcmp_ordered(">=", _upper(b, ns, *poly), b.fmul(ns, lev))
            fire = pymax(b, b.fadd(o1, dur), t_fire)
            fall = b.and_(live, b.select(out_of_run, maybe, can_end))
            upd = b.and_(b.and_(live, b.not_(out_of_run)), b.and_(b.not_(can_end), b.fcmp_ordered("<=", fire, tb)))
            finish(fall, fire, None, upd)
            b.branch(sw_end)
        for kd in (MAX, MIN):  # the window's ends; the interior only where it can beat the best so far
            b.position_at_end(blocks[kd])
            s = vc(1.0 if kd == MAX else -1.0)
            win = b.and_(acc, b.fcmp_ordered("<", xa, xb))
            up = _upper(b, s, *poly)  # no value of the step beats the best so far in any lane: nothing to do
            with b.if_then(b.not_(any_(b.and_(win, b.fcmp_ordered(">=", up, b.fmul(s, o0)))))):
                b.branch(sw_end)
                b.position_at_end(fn.append_basic_block("dead"))
            pa, _ = _poly(b, xa, *poly)
            pb, _ = _poly(b, xb, *poly)
            n0, n1 = o0, o1
            for xv, pv in ((xa, pa), (xb, pb)):
                better = b.fcmp_ordered(">", b.fmul(s, pv), b.fmul(s, n0))
                n0, n1 = b.select(better, pv, n0), b.select(better, t_of(xv), n1)
            turns = b.or_(b.and_(b.fcmp_ordered(">", b.fmul(s, d0), vc(0.0)), b.fcmp_ordered("<", b.fmul(s, d1), vc(0.0))),
                          b.or_(b.fcmp_ordered(">", xa, vc(0.0)), b.fcmp_ordered("<", xb, vc(1.0))))
            turns = b.and_(turns, b.fcmp_ordered(">=", up, b.fmul(s, n0)))
            fall = b.and_(win, turns)
            finish(fall, n0, n1, b.and_(win, b.not_(turns)))
            b.branch(sw_end)
        b.position_at_end(blocks[BELOW])  # wholly below or above the level within the window
        win = b.and_(acc, b.fcmp_ordered("<", xa, xb))
        pa, _ = _poly(b, xa, *poly)
        pb, _ = _poly(b, xb, *poly)
        below_a, below_b = b.fcmp_ordered("<", pa, lev), b.fcmp_ordered("<", pb, lev)
        mixed = b.xor(below_a, below_b)
        part = b.select(b.and_(below_a, below_b), b.fsub(xb, xa), vc(0.0))
        finish(b.and_(win, mixed), b.fadd(o0, b.fmul(part, h)), None, b.and_(win, b.not_(mixed)))
        b.branch(sw_end)
        b.position_at_end(blocks[LAST_GE])  # at or above the level at the window's end, the first time known
        win = b.and_(acc, b.fcmp_ordered("<", xa, xb))
        pa, _ = _poly(b, xa, *poly)
        pb, _ = _poly(b, xb, *poly)
        hit_b = b.fcmp_ordered(">=", pb, lev)
        hit = b.and_(win, b.or_(hit_b, b.fcmp_ordered(">=", pa, lev)))
        fall = b.and_(hit, b.or_(b.fcmp_unordered("!=", o1, o1), b.not_(hit_b)))
        finish(fall, t_of(xb), None, b.and_(hit, b.not_(fall)))
        b.branch(sw_end)
        b.position_at_end(blocks[LEVELS])  # the next level out of reach (the level rows follow: skipped)
        nlev = b.fptosi(f.load(spec, b.add(fld(k, 3), w0)), I64)
        nxt.set(b.add(k, b.add(nlev, i64(1))))
        IV = ir.VectorType(I64, W)
        idx = b.fptosi(o1, IV)
        nlevs = ir.Constant(IV, None)
        for lane in range(W):
            nlevs = b.insert_element(nlevs, nlev, i64(lane))
        live = b.and_(b.and_(acc, b.icmp_signed("<", idx, nlevs)), b.not_(b.fcmp_ordered(">=", xa, vc(1.0))))
        safe = b.select(live, idx, ir.Constant(IV, [0] * W))
        nxt_lev = ir.Constant(VT, [0.0] * W)
        for lane in range(W):
            j = b.extract_element(safe, i64(lane))
            v = f.load(spec, b.add(fld(b.add(k, b.add(j, i64(1))), 2), i64(lane)))
            nxt_lev = b.insert_element(nxt_lev, v, i64(lane))
        bound = b.fadd(pymax(b, q0, q1), b.fmul(vc(0.15), b.fadd(_fabs(b, d0), _fabs(b, d1))))
        finish(b.and_(live, b.not_(b.fcmp_ordered("<", bound, nxt_lev))))
        b.branch(sw_end)
        b.position_at_end(sw_end)

    nqv = i64(nq)
    with f.range_(0, ndeath) as k:
        one(k, nqv)
    with f.range_(0, ndeath) as k:
        stop.set(pymin(b, stop.get(), vload(out, oix(k, 0))))
    nxt.set(ndeath)
    with f.while_(lambda: b.icmp_signed("<", nxt.get(), nt)):
        k = nxt.get()
        nxt.set(b.add(k, i64(1)))
        one(k, nqv)
    b.ret_void()
    return fn
