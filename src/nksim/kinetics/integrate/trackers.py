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
"""

from __future__ import annotations

import math

import numpy as np
from llvmlite import ir

from nksim.kinetics.codegen.irflow import DBL, I64, Flow, f64, i64
from nksim.kinetics.integrate.controller import pymax, pymin

PTR = DBL.as_pointer()
SPEC = 6  #: doubles per tracker row
OUT = 2  #: doubles per tracker output
NONE, RUN_GE, RUN_LE, MAX, MIN, BELOW, LAST_GE, LEVELS = 0, 1, 2, 3, 4, 5, 6, 7
KINDS = {"run_ge": RUN_GE, "run_le": RUN_LE, "max": MAX, "min": MIN, "below": BELOW, "last_ge": LAST_GE,
         "levels": LEVELS}
_BISECT = 56  #: bisection steps on [0, 1]: to ~1e-17 of a step


def initial_outputs(kinds: np.ndarray) -> np.ndarray:
    """Initial outputs (..., 2) of trackers of the given kinds (..., )."""
    k = np.asarray(kinds)
    out = np.zeros(k.shape + (OUT,))
    out[..., 0] = np.select([np.isin(k, (NONE, RUN_GE, RUN_LE, MIN)), np.isin(k, (MAX, LAST_GE, LEVELS))],
                            [np.inf, -np.inf], 0.0)
    out[..., 1] = np.where(np.isin(k, (NONE, RUN_GE, RUN_LE, MAX, MIN, LAST_GE)), np.nan, 0.0)
    return out


def _fabs(b: ir.IRBuilder, x: ir.Value) -> ir.Value:
    return b.select(b.fcmp_ordered("<", x, f64(0.0)), b.fneg(x), x)


_ROUNDING = 1e-12  #: relative margin of a bound on p over p's rounding error (~1e-15 of its terms' magnitudes)


def _upper(b: ir.IRBuilder, s, q0, q1, d0, d1) -> ir.Value:
    """An upper bound on s p(x) over [0, 1] that also bounds the rounded values of ``_poly`` (s = +-1): the Hermite
    basis gives s p <= max(s q0, s q1) + 4/27 (|d0| + |d1|); 0.15 instead of 4/27 and the margin of _ROUNDING times
    the magnitudes cover the rounding of p's evaluation. NaN if any input is."""
    mag = b.fadd(b.fadd(_fabs(b, q0), _fabs(b, q1)), b.fadd(_fabs(b, d0), _fabs(b, d1)))
    return b.fadd(b.fadd(pymax(b, b.fmul(s, q0), b.fmul(s, q1)), b.fmul(f64(0.15), b.fadd(_fabs(b, d0), _fabs(b, d1)))),
                  b.fmul(f64(_ROUNDING), mag))


def _poly(b: ir.IRBuilder, x, q0, q1, d0, d1):
    """Cubic Hermite p(x) on [0, 1] (values q0, q1; derivatives d0, d1 per unit x) and its derivative."""
    dq = b.fsub(q1, q0)
    c2 = b.fsub(b.fsub(b.fmul(f64(3.0), dq), b.fmul(f64(2.0), d0)), d1)
    c3 = b.fadd(b.fadd(b.fmul(f64(-2.0), dq), d0), d1)
    p = b.fadd(q0, b.fmul(x, b.fadd(d0, b.fmul(x, b.fadd(c2, b.fmul(x, c3))))))
    dp = b.fadd(d0, b.fmul(x, b.fadd(b.fmul(f64(2.0), c2), b.fmul(f64(3.0), b.fmul(x, c3)))))
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
    lo = f.var(DBL, xa)
    with f.range_(0, _BISECT):
        mid = b.fmul(f64(0.5), b.fadd(lo.get(), hi.get()))
        ok = holds(g(mid))
        hi.set(b.select(ok, mid, hi.get()))
        lo.set(b.select(ok, lo.get(), mid))
    b.ret(hi.get())
    return fn


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
    lo, hi = f.var(DBL, xa), f.var(DBL, xb)
    with f.range_(0, _BISECT):
        mid = b.fmul(f64(0.5), b.fadd(lo.get(), hi.get()))
        pos = b.fcmp_ordered(">", ds(mid), f64(0.0))
        lo.set(b.select(pos, mid, lo.get()))
        hi.set(b.select(pos, hi.get(), mid))
    b.ret(b.fmul(f64(0.5), b.fadd(lo.get(), hi.get())))
    return fn


def emit_tracker(mod: ir.Module, name: str) -> ir.Function:
    """Add ``name(nt, ndeath, ta, h, tcut, Q0*, Q1*, D0*, D1*, spec*, out*)`` to ``mod``: one patient's trackers
    over its accepted step from ta to ta + h (Q0/Q1: the quantities at both ends, D0/D1: their derivatives times h;
    spec: nt rows of SPEC, out: nt rows of OUT)."""
    fn = ir.Function(mod, ir.FunctionType(ir.VoidType(), [I64, I64, DBL, DBL, DBL] + [PTR] * 6), name=name)
    fn.linkage = "internal"
    fn.attributes.add("noinline")  # compiled for speed, not inlined into the (size-optimised) scheduler
    nt, ndeath, ta, h, tcut, Q0, Q1, D0, D1, spec, out = fn.args
    extremum = _emit_extremum(mod, name + "_extremum")
    reach = _emit_reach(mod, name + "_reach", extremum)
    f = Flow(fn)
    b = f.b
    tb = b.fadd(ta, h)
    stop = f.var(DBL, tcut)
    nxt = f.var(I64, i64(0))  # the next tracker row (a LEVELS row skips its level rows)

    def t_of(x):
        return b.fadd(ta, b.fmul(x, h))

    inv_h = b.fdiv(f64(1.0), h)

    def x_of(t):  # time -> step fraction, unclipped
        return b.fmul(b.fsub(t, ta), inv_h)

    def one(k: ir.Value) -> None:
        row = b.mul(k, i64(SPEC))
        kind = b.fptosi(f.load(spec, row), I64)
        o0 = f.at(out, b.mul(k, i64(OUT)))
        o1 = f.at(out, b.add(b.mul(k, i64(OUT)), i64(1)))
        is_run = b.or_(b.icmp_signed("==", kind, i64(RUN_GE)), b.icmp_signed("==", kind, i64(RUN_LE)))
        with b.if_then(b.or_(b.icmp_signed("==", kind, i64(NONE)),
                             b.and_(is_run, b.fcmp_ordered("<", b.load(o0), f64(math.inf))))):
            f.continue_()  # a level row, or a run tracker that has fired
        qi = b.fptosi(f.load(spec, b.add(row, i64(1))), I64)
        lev = f.load(spec, b.add(row, i64(2)))
        dur = f.load(spec, b.add(row, i64(3)))
        t_from = f.load(spec, b.add(row, i64(4)))
        t_fire = f.load(spec, b.add(row, i64(5)))
        q0, q1, d0, d1 = (f.load(a, qi) for a in (Q0, Q1, D0, D1))
        poly = (q0, q1, d0, d1)
        xa = pymax(b, f64(0.0), x_of(t_from))
        with b.if_then(b.icmp_signed("==", kind, i64(LEVELS))):
            nlev = b.fptosi(dur, I64)
            nxt.set(b.add(k, b.add(nlev, i64(1))))
            idx = f.var(I64, b.fptosi(b.load(o1), I64))

            def level_of(j):
                return f.load(spec, b.add(b.mul(b.add(k, b.add(j, i64(1))), i64(SPEC)), i64(2)))

            with b.if_then(b.or_(b.icmp_signed(">=", idx.get(), nlev), b.fcmp_ordered(">=", xa, f64(1.0)))):
                f.continue_()
            bound = b.fadd(pymax(b, q0, q1), b.fmul(f64(0.15), b.fadd(_fabs(b, d0), _fabs(b, d1))))
            with b.if_then(b.fcmp_ordered("<", bound, level_of(idx.get()))):
                f.continue_()
            with f.while_(lambda: b.icmp_signed("<", idx.get(), nlev)):
                xs = b.call(reach, [xa, f64(1.0), f64(1.0), level_of(idx.get()), i64(0), *poly])
                with b.if_then(b.fcmp_unordered("!=", xs, xs)):
                    f.break_()
                f.store(t_of(xs), out, b.mul(b.add(k, b.add(idx.get(), i64(1))), i64(OUT)))
                idx.set(b.add(idx.get(), i64(1)))
            b.store(b.sitofp(idx.get(), DBL), o1)
            f.continue_()
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
        xb = pymin(b, f64(1.0), x_of(stop.get()))
        window = b.and_(b.not_(is_run), b.fcmp_ordered("<", xa, xb))
        with b.if_then(window):
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

    with f.range_(0, ndeath) as k:
        one(k)
    with f.range_(0, ndeath) as k:
        stop.set(pymin(b, stop.get(), f.load(out, b.mul(k, i64(OUT)))))
    nxt.set(ndeath)
    with f.while_(lambda: b.icmp_signed("<", nxt.get(), nt)):
        k = nxt.get()
        nxt.set(b.add(k, i64(1)))
        one(k)
    b.ret_void()
    return fn
