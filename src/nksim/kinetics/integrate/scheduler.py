"""The lane scheduler: every worker thread runs W patients at once, one per vector lane, each lane with its own time,
step size, step control and events; when a lane's patient is done, the next patient takes the lane. The threads of a
call take patients in order from one shared counter (an atomic add), so a thread that gets less of a core (the
process's Python running beside it) takes fewer patients instead of finishing last. Lanes never mix, so results do
not depend on chunking, thread count or which patients share a vector.

The scheduler is emitted as LLVM IR into each configuration's module (:func:`emit_solve`, next to the step attempt
it calls), so nothing of the engine is compiled by numba: a configuration's module compiles in well under a second
and there is no one-time compile. :func:`solve` calls it on worker threads (ctypes releases the GIL).

Values on the save grid come from the dense output (post-event values at event times); the algebraic outputs at the
save points are evaluated afterwards, W at a time.
"""

from __future__ import annotations

import ctypes
import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Protocol

import numpy as np
from llvmlite import ir

from nksim.kinetics.codegen.irflow import DBL, I64, f64, i64
from nksim.kinetics.integrate.chains import MAX_KH
from nksim.kinetics.integrate.controller import MIN_FACTOR, accept_factor, pymax, pymin, reject_factor
from nksim.kinetics.integrate.frame import ARGS, VT, Frame
from nksim.kinetics.integrate.segments import load_patient, next_stop, start_segment
from nksim.kinetics.integrate.trackers import KINDS, LEVELS, NONE, OUT, SPEC, emit_tracker
from nksim.kinetics.lanes import W

MAX_TRACKERS = 256  #: tracker rows per patient: the lanes' copies of them (256 B a row) live on the thread's stack
STATUS_OK, STATUS_MAX_STEPS, STATUS_STEP_UNDERFLOW, STATUS_NONFINITE = 0, 1, 2, 3
IDLE, SEGMENT, INIT, STEP = 0, 1, 2, 3  # what a lane does next


class Tracked:
    """What the trackers read (:mod:`nksim.kinetics.integrate.trackers`): linear quantities, each a sum over its
    state columns ``terms[j]`` with per-patient coefficients (``ncoef`` in all, in that order), and then the
    algebraic output ``alg``."""

    def __init__(self, terms: tuple[tuple[int, ...], ...], alg: int) -> None:
        self.terms, self.alg = tuple(tuple(int(c) for c in t) for t in terms), int(alg)

    @property
    def nlin(self) -> int:
        return len(self.terms)

    @property
    def ncoef(self) -> int:
        return sum(len(t) for t in self.terms)

    @property
    def nq(self) -> int:
        return self.nlin + 1


def _algebraic(fr: Frame, alg: ir.Function, i: ir.Value, n_saved: ir.Value) -> None:
    """Algebraic outputs of patient i at its saved points, W save points per right-hand-side call."""
    f, b = fr.f, fr.f.b
    ns = fr.a["ns"]
    with f.range_(0, fr.npar) as k:
        v = b.load(fr.matrix("p", i, k, fr.npar))
        for w in range(W):
            b.store(v, fr.el(fr.PA, k, w))
    row = b.mul(i, ns)  # patient i's first save point
    tt = fr.lane["tt"]
    with f.range_(0, n_saved, W) as j0:
        for w in range(W):
            j1 = b.add(j0, i64(w))
            last = b.sub(n_saved, i64(1))
            j = b.select(b.icmp_signed("<", j1, last), j1, last)
            f.store(f.load(fr.a["t_save"], j), tt, w)
            with f.range_(0, fr.n) as k:
                b.store(b.load(fr.matrix("ys", b.add(row, j), k, fr.n)), fr.el(fr.YA, k, w))
            with f.range_(0, fr.nseg) as k:
                b.store(b.load(fr.matrix("sg", b.add(row, j), k, fr.nseg)), fr.el(fr.SA, k, w))
        b.call(alg, [tt, fr.YA, fr.PA, fr.SA, fr.ALGA])
        for w in range(W):
            with b.if_then(b.icmp_signed("<", b.add(j0, i64(w)), n_saved)):
                with f.range_(0, fr.nalg) as k:
                    b.store(b.load(fr.el(fr.ALGA, k, w)), fr.matrix("als", b.add(row, b.add(j0, i64(w))), k, fr.nalg))


def _save_segment(fr: Frame, w: ir.Value, i: ir.Value, j: ir.Value) -> None:
    """The lane's segment description as patient i's at save point j."""
    f, b = fr.f, fr.f.b
    at = b.add(b.mul(i, fr.a["ns"]), j)
    with f.range_(0, fr.nseg) as k:
        b.store(b.load(fr.el(fr.SEG, k, w)), fr.matrix("sg", at, k, fr.nseg))


def _claim(fr: Frame) -> ir.Value:
    """The next index into ``rows`` for this thread: taken from the counter the call's threads share (atomic), so a
    thread that gets less of a core than the others takes fewer patients instead of finishing last."""
    return fr.f.b.atomic_rmw("add", fr.a["claim"], i64(1), "monotonic")


def _boundaries(fr: Frame, alg: ir.Function, event: ir.Function, nxt) -> None:
    """Segment boundaries in every lane: events, saves, the end of a patient and the start of the next one
    (``nxt``: the index into ``rows`` this thread has claimed and not yet started; >= nrows: none left)."""
    f, b = fr.f, fr.f.b
    a = fr.a
    ns, n = a["ns"], fr.n
    with f.range_(0, W) as w:
        def pending():
            mode = fr.get("mode", w)
            return b.or_(b.icmp_signed("==", mode, i64(SEGMENT)),
                         b.and_(b.icmp_signed("==", mode, i64(IDLE)), b.icmp_signed("<", nxt.get(), a["nrows"])))

        with f.while_(pending):
            with b.if_then(b.icmp_signed("==", fr.get("mode", w), i64(IDLE))):  # the thread's next patient
                pi = f.load(a["rows"], nxt.get())
                fr.put("pat", w, pi)
                nxt.set(_claim(fr))
                load_patient(fr, w, pi)
                fr.put("mode", w, i64(SEGMENT))
                fr.put("t", w, a["t0"])
                for name in ("ke", "js", "n_acc", "n_rej"):
                    fr.put(name, w, i64(0))
                fr.put("status", w, i64(STATUS_OK))
            i = fr.get("pat", w)
            tw = fr.get("t", w)
            with b.if_then(b.icmp_signed("==", fr.get("status", w), i64(STATUS_OK))):
                start_segment(fr, event, w, i, tw)
                with f.while_(lambda: f.all_(lambda: b.icmp_signed("<", fr.get("js", w), ns),
                                             lambda: b.fcmp_ordered("<=", f.load(a["t_save"], fr.get("js", w)), tw))):
                    js = fr.get("js", w)
                    at = b.add(b.mul(i, ns), js)
                    with f.range_(0, n) as k:
                        y = b.load(fr.el(fr.Y, k, w))
                        b.store(b.select(b.fcmp_ordered(">", y, f64(0.0)), y, f64(0.0)), fr.matrix("ys", at, k, n))
                    _save_segment(fr, w, i, js)
                    fr.put("js", w, b.add(js, i64(1)))
            done = b.or_(b.icmp_signed("!=", fr.get("status", w), i64(STATUS_OK)),
                         b.fcmp_ordered(">=", tw, a["t_end"]))
            with b.if_else(done) as (then, otherwise):
                with then:  # the patient is finished
                    _algebraic(fr, alg, i, fr.get("js", w))
                    for col, name in enumerate(("status", "n_acc", "n_rej")):
                        b.store(fr.get(name, w), fr.matrix("stats", i, col, 3))
                    fr.put("mode", w, i64(IDLE))
                with otherwise:
                    fr.put("t_next", w, next_stop(fr, w, i))
                    fr.put("mode", w, i64(INIT))


def _count(fr: Frame, test) -> ir.Value:
    """Number of lanes w for which test(w) (i1) holds."""
    b = fr.f.b
    total = i64(0)
    for w in range(W):
        total = b.add(total, b.zext(test(i64(w)), I64))
    return total


def _mode_is(fr: Frame, mode: int):
    return lambda w: fr.f.b.icmp_signed("==", fr.get("mode", w), i64(mode))


def _start_steps(fr: Frame, init: ir.Function, alg: ir.Function, tr: Tracked | None) -> None:
    """The first stage and the initial step in the lanes that start a segment (and, when tracking, the tracked
    algebraic output there, after the segment's events)."""
    b = fr.f.b
    L = fr.lane
    for w in map(i64, range(W)):
        fr.put("is_init", w, b.select(_mode_is(fr, INIT)(w), f64(1.0), f64(0.0)))
        fr.put("span", w, b.fsub(fr.get("t_next", w), fr.get("t", w)))
    b.call(init, [L["t"], L["span"], L["is_init"], fr.Y, fr.YT, fr.KK, fr.KX, fr.ATOL, fr.P, fr.SEG, fr.ALG,
                  fr.a["rtol"], L["hs"]])
    if tr is not None:
        with b.if_then(b.icmp_signed(">", fr.a["nt"], i64(0))):
            b.call(alg, [L["t"], fr.Y, fr.P, fr.SEG, fr.ALGT])
            for w in map(i64, range(W)):
                with b.if_then(_mode_is(fr, INIT)(w)):
                    fr.put("cprev", w, b.load(fr.el(fr.ALGT, tr.alg, w)))
    for w in map(i64, range(W)):
        with b.if_then(_mode_is(fr, INIT)(w)):
            fr.put("h", w, fr.get("hs", w))
            fr.put("rejected", w, i64(0))
            fr.put("mode", w, i64(STEP))


def _prepare_step(fr: Frame, n_step, rates: tuple[int, ...] = ()) -> None:
    """Each stepping lane's step (at most MAX_KH / rate for the transit chains' ``rates`` (parameter rows), cut at
    its segment end) and new time, or its end on a step-count limit or an underflowing step."""
    f, b = fr.f, fr.f.b
    with f.range_(0, W) as w:
        fr.put("hs", w, f64(0.0))
        fr.put("last", w, i64(0))
        with b.if_then(b.icmp_signed("!=", fr.get("mode", w), i64(STEP))):
            f.continue_()
        t, h = fr.get("t", w), fr.get("h", w)
        steps = b.add(fr.get("n_acc", w), fr.get("n_rej", w))
        with b.if_else(b.icmp_signed(">=", steps, fr.a["max_steps"])) as (then, otherwise):
            with then:
                fr.put("status", w, i64(STATUS_MAX_STEPS))
            with otherwise:
                tiny = b.fmul(f64(1e-12), pymax(b, f64(1.0), fr.f.b.call(_fabs(b), [t])))
                with b.if_then(b.fcmp_ordered("<", h, tiny)):
                    fr.put("status", w, i64(STATUS_STEP_UNDERFLOW))
        with b.if_then(b.icmp_signed("!=", fr.get("status", w), i64(STATUS_OK))):
            fr.put("mode", w, i64(SEGMENT))  # ends the patient at the next pass
            f.continue_()
        for r in rates:
            k = b.load(fr.el(fr.P, r, w))
            hmax = b.select(b.fcmp_ordered(">", k, f64(0.0)), b.fdiv(f64(MAX_KH), k), f64(float("inf")))
            fr.put("h", w, pymin(b, fr.get("h", w), hmax))
        h = fr.get("h", w)
        t_next = fr.get("t_next", w)
        th = b.fadd(t, h)
        cut = b.or_(b.fcmp_ordered(">=", th, t_next), b.fcmp_ordered("<", b.fsub(t_next, th), b.fmul(f64(1e-9), h)))
        with b.if_then(cut):
            fr.put("h", w, b.fsub(t_next, t))
            fr.put("last", w, i64(1))
        h = fr.get("h", w)
        fr.put("hs", w, h)
        is_last = b.icmp_signed("!=", fr.get("last", w), i64(0))
        fr.put("t_new", w, b.select(is_last, t_next, b.fadd(t, h)))
        n_step.set(b.add(n_step.get(), i64(1)))


def _fabs(b: ir.IRBuilder) -> ir.Function:
    mod = b.module
    try:
        return mod.get_global("llvm.fabs.f64")
    except KeyError:
        return ir.Function(mod, ir.FunctionType(DBL, [DBL]), name="llvm.fabs.f64")


@dataclass
class _TrackLanes:
    """The lanes' trackers (:func:`nksim.kinetics.integrate.trackers.emit_tracker`): copies of the lane patients'
    tracker rows ``spec`` and outputs ``out`` (nt rows each, lane-major), coefficients ``coef`` (Tracked.ncoef lane
    arrays) and window ends ``tcut``, taken when a patient's first step is accepted and written back (``out``) when
    the lane's next patient takes over or the call ends; ``pat`` the patient each lane holds (-1: none), ``ta`` the
    steps' starts, ``Q`` the tracked quantities (4 x nq lane arrays)."""

    spec: ir.Value
    out: ir.Value
    coef: ir.Value
    tcut: ir.Value
    pat: ir.Value
    ta: ir.Value
    Q: ir.Value

    @classmethod
    def allocate(cls, fr: Frame, tr: Tracked) -> "_TrackLanes":
        f, b = fr.f, fr.f.b
        nt = fr.a["nt"]
        tl = cls(f.array(DBL, nt, per=SPEC * W), f.array(DBL, nt, per=OUT * W), f.array(DBL, tr.ncoef * W),
                 f.array(DBL, W), f.array(I64, W), f.array(DBL, W), f.array(DBL, 4 * tr.nq * W))
        for arr, count in ((tl.spec, b.mul(nt, i64(SPEC * W))), (tl.out, b.mul(nt, i64(OUT * W))),
                           (tl.coef, i64(tr.ncoef * W)), (tl.tcut, i64(W)), (tl.ta, i64(W)),
                           (tl.Q, i64(4 * tr.nq * W))):
            with f.range_(0, count) as k:
                f.store(f64(0.0), arr, k)
        for w in range(W):
            f.store(i64(-1), tl.pat, w)
        return tl

    def write_back(self, fr: Frame, w: ir.Value | int) -> None:
        """Lane w's outputs into its patient's (if any)."""
        f, b = fr.f, fr.f.b
        i = f.load(self.pat, w)
        nto = b.mul(fr.a["nt"], i64(OUT))
        with b.if_then(b.icmp_signed(">=", i, i64(0))):
            with f.range_(0, nto) as j:
                f.store(f.load(self.out, b.mul(j, i64(W)), w), fr.a["to"], b.mul(i, nto), j)

    def take(self, fr: Frame, tr: Tracked, w: int, i: ir.Value) -> None:
        """Patient i's trackers into lane w, after the lane's previous patient's outputs are written back."""
        f, b = fr.f, fr.f.b
        self.write_back(fr, w)
        nt = fr.a["nt"]
        for arr, src, per in ((self.spec, "tk", SPEC), (self.out, "to", OUT)):
            m = b.mul(nt, i64(per))
            with f.range_(0, m) as j:
                f.store(f.load(fr.a[src], b.mul(i, m), j), arr, b.mul(j, i64(W)), w)
        with f.range_(0, tr.ncoef) as c:
            f.store(f.load(fr.a["tq"], b.mul(i, i64(tr.ncoef)), c), self.coef, b.mul(c, i64(W)), w)
        f.store(f.load(fr.a["tcut"], i), self.tcut, w)
        f.store(i, self.pat, w)


def _track_steps(fr: Frame, tr: Tracked, tl: _TrackLanes, track: ir.Function) -> None:
    """The trackers of every lane whose step was accepted (``accepted``; from ``tl.ta``, of size ``hs``), all lanes
    at once: each lane's quantities at both ends and their derivatives (the first and the last stage) times hs."""
    f, b = fr.f, fr.f.b
    w0 = i64(W)  # an accepted lane (W: none)
    accepted = [b.fcmp_ordered(">", fr.get("accepted", i64(w)), f64(0.0)) for w in range(W)]
    for w in reversed(range(W)):
        w0 = b.select(accepted[w], i64(w), w0)
    with b.if_then(b.icmp_signed("<", w0, i64(W))):
        for w in range(W):
            i = fr.get("pat", i64(w))
            with b.if_then(b.and_(accepted[w], b.icmp_signed("!=", f.load(tl.pat, w), i))):
                tl.take(fr, tr, w, i)
        nq = tr.nq
        last = (fr.stages - 1) * fr.n
        hw = b.load(fr.row(fr.lane["hs"], 0), align=32)
        zero = ir.Constant(VT, [0.0] * W)
        c = 0
        for j, cols in enumerate(tr.terms):
            acc = [zero] * 4
            for col in cols:
                coef = b.load(fr.row(tl.coef, c), align=32)
                c += 1
                vals = [b.load(fr.row(arr, i64(r)), align=32)
                        for arr, r in ((fr.Y, col), (fr.YN, col), (fr.KK, col), (fr.KK, last + col))]
                acc = [b.fadd(a, b.fmul(coef, v)) for a, v in zip(acc, vals)]
            for r, v in enumerate(acc):
                b.store(v if r < 2 else b.fmul(v, hw), fr.row(tl.Q, r * nq + j), align=32)
        c0 = b.load(fr.row(fr.lane["cprev"], 0), align=32)
        c1 = b.load(fr.row(fr.ALG, i64(tr.alg)), align=32)
        dc = b.fsub(c1, c0)
        for r, v in enumerate((c0, c1, dc, dc)):  # linear between step ends
            b.store(v, fr.row(tl.Q, r * nq + tr.nlin), align=32)
        acc_v = b.fcmp_ordered(">", b.load(fr.row(fr.lane["accepted"], 0), align=32), zero)
        b.store(b.select(acc_v, c1, c0), fr.row(fr.lane["cprev"], 0), align=32)
        b.call(track, [fr.a["nt"], fr.a["ndeath"], w0, fr.lane["accepted"], tl.ta, fr.lane["hs"], tl.tcut, tl.Q,
                       tl.spec, tl.out])


def _accept_or_reject(fr: Frame, dense: ir.Function, tr: Tracked | None = None,
                      track: ir.Function | None = None, tl: _TrackLanes | None = None) -> None:
    """Accept or reject every lane's attempt (ERR: the error norm, then the factor SAFETY norm^(-1/order)); accepted
    lanes write their save points inside the step from the dense output, and (with trackers) then update their
    patients' trackers over the step."""
    f, b = fr.f, fr.f.b
    a = fr.a
    tracking = tr is not None and track is not None and tl is not None
    if tracking:
        b.store(b.load(fr.row(fr.lane["t"], 0), align=32), fr.row(tl.ta, 0), align=32)  # the steps' starts
    with f.range_(0, W) as w:
        fr.put("accepted", w, f64(0.0))
        hw = fr.get("hs", w)
        with b.if_then(b.fcmp_ordered("==", hw, f64(0.0))):
            f.continue_()
        en = b.load(fr.el(fr.ERR, 0, w))
        finite = b.fcmp_ordered("<", b.call(_fabs(b), [en]), f64(float("inf")))
        with b.if_then(b.not_(finite)):
            with b.if_else(b.fcmp_ordered("<", hw, f64(1e-9))) as (then, otherwise):
                with then:
                    fr.put("status", w, i64(STATUS_NONFINITE))
                    fr.put("mode", w, i64(SEGMENT))
                with otherwise:
                    fr.put("h", w, b.fmul(hw, f64(MIN_FACTOR)))
                    fr.put("rejected", w, i64(1))
                    fr.put("n_rej", w, b.add(fr.get("n_rej", w), i64(1)))
            f.continue_()
        grow = b.load(fr.el(fr.ERR, 1, w))
        with b.if_then(b.fcmp_ordered(">", en, f64(1.0))):
            fr.put("h", w, b.fmul(hw, reject_factor(b, grow)))
            fr.put("rejected", w, i64(1))
            fr.put("n_rej", w, b.add(fr.get("n_rej", w), i64(1)))
            f.continue_()
        fr.put("accepted", w, f64(1.0))
        fr.put("n_acc", w, b.add(fr.get("n_acc", w), i64(1)))
        i = fr.get("pat", w)
        tw = fr.get("t", w)
        t_new = fr.get("t_new", w)
        t_next = fr.get("t_next", w)
        ns = a["ns"]

        def save_due():  # save points in (t, t_new] before the segment end (the end is saved post-event)
            def ts():
                return f.load(a["t_save"], fr.get("js", w))
            return f.all_(lambda: b.icmp_signed("<", fr.get("js", w), ns),
                          lambda: b.fcmp_ordered("<=", ts(), t_new), lambda: b.fcmp_ordered("<", ts(), t_next))

        with f.while_(save_due):
            js = fr.get("js", w)
            x = b.fdiv(b.fsub(f.load(a["t_save"], js), tw), hw)
            out = fr.matrix("ys", b.add(b.mul(i, ns), js), 0, fr.n)
            b.call(dense, [x, hw, fr.Y, fr.YN, fr.KK, fr.P, w, out])
            _save_segment(fr, w, i, js)
            fr.put("js", w, b.add(js, i64(1)))
        rejected = b.icmp_signed("!=", fr.get("rejected", w), i64(0))
        fr.put("h", w, b.fmul(hw, accept_factor(b, en, grow, rejected)))
        fr.put("rejected", w, i64(0))
        fr.put("t", w, t_new)
    if tracking:
        with b.if_then(b.icmp_signed(">", a["nt"], i64(0))):
            _track_steps(fr, tr, tl, track)


def _move_accepted(fr: Frame) -> None:
    """Accepted lanes move on: y <- y_new, first stage <- last stage. Whole rows when every lane moves (most steps),
    else lane by lane (a vector select stored back in place compiles to masked stores, which are slow)."""
    f, b = fr.f, fr.f.b
    moved = _count(fr, lambda w: b.fcmp_ordered(">", fr.get("accepted", w), f64(0.0)))
    lastrow = (fr.stages - 1) * fr.n
    with b.if_else(b.icmp_signed("==", moved, i64(W))) as (then, otherwise):
        with then:
            with f.range_(0, fr.n) as k:
                b.store(b.load(fr.row(fr.YN, k), align=8), fr.row(fr.Y, k), align=8)
                b.store(b.load(fr.row(fr.KK, b.add(k, i64(lastrow))), align=8), fr.row(fr.KK, k), align=8)
        with otherwise:
            with f.range_(0, W) as w:
                with b.if_then(b.fcmp_ordered(">", fr.get("accepted", w), f64(0.0))):
                    with f.range_(0, fr.n) as k:
                        b.store(b.load(fr.el(fr.YN, k, w)), fr.el(fr.Y, k, w))
                        b.store(b.load(fr.el(fr.KK, b.add(k, i64(lastrow)), w)), fr.el(fr.KK, k, w))
    for w in map(i64, range(W)):
        done = b.and_(b.fcmp_ordered(">", fr.get("accepted", w), f64(0.0)),
                      b.icmp_signed("!=", fr.get("last", w), i64(0)))
        with b.if_then(done):
            fr.put("mode", w, i64(SEGMENT))


def emit_solve(mod: ir.Module, name: str, n: int, npar: int, nseg: int, nalg: int, stages: int, rhs: ir.Function,
               alg: ir.Function, event: ir.Function, step: ir.Function, init: ir.Function, dense: ir.Function,
               tracked: Tracked | None = None, rates: tuple[int, ...] = ()) -> ir.Function:
    """Add the lane scheduler for a configuration (``n`` states, ``npar`` parameters, ``nseg`` segment values,
    ``nalg`` algebraic outputs, a tableau of ``stages`` stages) calling the given model functions (``alg``: the
    algebraic outputs alone, at saved points) and step functions to
    ``mod``: ``name(*ARGS)`` integrates patients ``rows`` from t0 to t_end and fills ys, als, sg (segment description
    at each save time) and stats (status, accepted and rejected steps) at those rows; with ``tracked`` (and nt > 0
    at run time) it also updates each patient's trackers at every accepted step (``to``); ``rates``: the parameter
    rows of the transit chains' rates, which bound the step (:mod:`nksim.kinetics.integrate.chains`)."""
    for callee in (rhs, alg, event, step, init, dense):  # each compiled once, not copied into the scheduler
        callee.attributes.add("noinline")
    fn = ir.Function(mod, ir.FunctionType(ir.VoidType(), [t for _, t in ARGS]), name=name)
    # bookkeeping between step attempts: optimised for size (half the compile time of -O3 for it, no slower a run:
    # the time goes to the right-hand side)
    fn.attributes.add("minsize")
    fr = Frame.allocate(fn, n, npar, nseg, nalg, stages)
    track = emit_tracker(mod, name + "_track", tracked.nq) if tracked is not None else None
    f, b = fr.f, fr.f.b
    with f.range_(0, n) as k:
        v = f.load(fr.a["atol"], k)
        for w in range(W):
            b.store(v, fr.el(fr.ATOL, k, w))
    for name_ in ("t", "h", "hs", "t_next", "t_new", "accepted", "span", "is_init", "tt", "cprev"):
        for w in range(W):
            f.store(f64(0.0), fr.lane[name_], w)
    for name_ in ("mode", "ke", "js", "n_acc", "n_rej", "rejected", "last", "status"):
        for w in range(W):
            f.store(i64(0), fr.lane[name_], w)
    for w in range(W):
        f.store(i64(-1), fr.lane["pat"], w)
    for arr, rows in ((fr.Y, n), (fr.YN, n), (fr.YT, n), (fr.KX, n), (fr.KK, stages * n), (fr.P, npar),
                      (fr.SEG, nseg), (fr.ALG, nalg), (fr.ALGT, nalg), (fr.ERR, 2)):
        with f.range_(0, rows * W) as k:
            f.store(f64(0.0), arr, k)
    tl = _TrackLanes.allocate(fr, tracked) if tracked is not None else None
    nxt = f.var(I64, _claim(fr))
    n_step = f.var(I64)
    with f.while_(lambda: ir.Constant(ir.IntType(1), 1)):
        _boundaries(fr, alg, event, nxt)
        active = _count(fr, lambda w: b.icmp_signed("!=", fr.get("mode", w), i64(IDLE)))
        with b.if_then(b.icmp_signed("==", active, i64(0))):
            f.break_()
        with b.if_then(b.icmp_signed(">", _count(fr, _mode_is(fr, INIT)), i64(0))):
            _start_steps(fr, init, alg, tracked)
        n_step.set(i64(0))
        _prepare_step(fr, n_step, rates)
        with b.if_then(b.icmp_signed("==", n_step.get(), i64(0))):
            f.continue_()
        L = fr.lane
        b.call(step, [L["t"], L["hs"], L["t_new"], fr.Y, fr.YN, fr.YT, fr.KK, fr.ATOL, fr.P, fr.SEG, fr.ALG,
                      fr.a["rtol"], fr.ERR])
        _accept_or_reject(fr, dense, tracked, track, tl)
        _move_accepted(fr)
    if tl is not None:
        for w in range(W):
            tl.write_back(fr, w)
    b.ret_void()
    return fn


# ---- the driver -------------------------------------------------------------------------------------------------

class Kernel(Protocol):
    """A configuration's compiled functions (:class:`nksim.kinetics.codegen.llvm.Compiled`): the scheduler's address
    and the sizes it was compiled for."""

    solve: int
    n: int
    npar: int
    nseg: int
    nalg: int
    tracked: Tracked


@dataclass
class TrackArrays:
    """A batch's trackers (:mod:`nksim.kinetics.integrate.trackers`): ``coef`` (patient, Tracked.ncoef) the linear
    quantities' coefficients, ``spec`` (patient, tracker, SPEC) the tracker rows, ``tcut`` (patient,)
    the windows' end, ``ndeath`` how many first trackers end the windows (death), ``out`` (patient, tracker, OUT)
    their outputs, initialised with ``trackers.initial_outputs`` and updated in place. Every patient's rows have
    the same kinds, quantities and numbers of levels (the lanes update them together); at most MAX_TRACKERS rows."""

    coef: np.ndarray
    spec: np.ndarray
    tcut: np.ndarray
    ndeath: int
    out: np.ndarray

    def check(self, npat: int, fns: Kernel) -> None:
        tr = fns.tracked
        nt = self.spec.shape[1] if self.spec.ndim == 3 else -1
        want = ((npat, tr.ncoef), (npat, nt, SPEC), (npat,), (npat, nt, OUT))
        arrs = (self.coef, self.spec, self.tcut, self.out)
        if any(a.shape != sh or a.dtype != np.float64 or not a.flags.c_contiguous for a, sh in zip(arrs, want)) \
                or not 0 <= self.ndeath <= nt or nt > MAX_TRACKERS:
            raise ValueError(f"track: C-contiguous float64 arrays of shapes {want}, 0 <= ndeath <= {nt} and at most "
                             f"{MAX_TRACKERS} trackers; got {[a.shape for a in arrs]}, ndeath {self.ndeath}")
        if npat == 0 or nt == 0:
            return
        kinds, qs = self.spec[0, :, 0], self.spec[0, :, 1]
        lev_rows = np.flatnonzero(kinds == LEVELS)
        nlev = self.spec[0, lev_rows, 3]
        if not all((self.spec[:, :, j] == self.spec[0, :, j]).all() for j in (0, 1)) or \
                not (self.spec[:, lev_rows, 3] == nlev).all():
            raise ValueError("track: every patient's tracker rows must have the same kinds, quantities and numbers of "
                             "levels (spec[..., 0], spec[..., 1] and a LEVELS row's spec[..., 3])")
        allowed = sorted(KINDS.values()) + [NONE]
        if not (set(kinds.tolist()) <= set(allowed) and set(qs.tolist()) <= set(range(tr.nq))
                and all(v == int(v) and 0 <= v < nt - k for k, v in zip(lev_rows.tolist(), nlev.tolist()))):
            raise ValueError(f"track: tracker kinds in {allowed}, quantities in 0 .. {tr.nq - 1} and a LEVELS row's "
                             f"levels (spec[..., 3]) within the rows; got kinds {kinds.tolist()}, quantities "
                             f"{qs.tolist()}, levels {nlev.tolist()}")


_CTYPES = {DBL: ctypes.c_double, I64: ctypes.c_int64}
_PROTO = ctypes.CFUNCTYPE(None, *[_CTYPES.get(t, ctypes.c_void_p) for _, t in ARGS])
_WORKERS = [max(1, os.cpu_count() or 1)]


def set_workers(n: int) -> None:
    """Threads used by :func:`solve` (results never depend on it)."""
    _WORKERS[0] = max(1, int(n))


def solve(fns: Kernel, y0: np.ndarray, p: np.ndarray, ev_t: np.ndarray, ev_k: np.ndarray,
          ev_a: np.ndarray, ev_b: np.ndarray, t0: float, t_end: float, t_save: np.ndarray, rtol: float,
          atol: np.ndarray, max_steps: int, out: tuple[np.ndarray, ...] | None = None,
          track: TrackArrays | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Solve every patient (rows of y0, p and the event arrays) on worker threads with a configuration's compiled
    scheduler. Returns (ys: patient x save time x state, algebraic outputs, segment descriptions at the save times,
    stats: status / accepted / rejected steps).

    ``out``: arrays (ys, als, sg, stats) of at least as many patients to write into (reused between calls, they
    stay in cache and cost no new pages); the returned arrays are their first rows. The rows of a patient the solver
    could not finish (status != 0) hold unspecified values after its last save point. ``track``: the patients'
    trackers (:class:`TrackArrays`; their outputs are updated in place)."""
    npat, n = y0.shape
    nseg, nalg = fns.nseg, fns.nalg
    if n != fns.n or p.shape != (npat, fns.npar) or ev_t.shape[0] != npat or not (
            ev_t.shape == ev_k.shape == ev_a.shape == ev_b.shape) or atol.shape != (n,):
        raise ValueError(f"inputs do not fit the compiled configuration ({fns.n} states, {fns.npar} parameters): "
                         f"y0 {y0.shape}, p {p.shape}, events {ev_t.shape}, atol {atol.shape}")
    ns = t_save.shape[0]
    if out is None:
        ys, als, sg = np.zeros((npat, ns, n)), np.zeros((npat, ns, nalg)), np.zeros((npat, ns, nseg))
        stats = np.zeros((npat, 3), dtype=np.int64)
    else:
        shapes = ((ns, n), (ns, nalg), (ns, nseg), (3,))
        if len(out) != 4 or any(a.shape[1:] != sh or a.shape[0] < npat or not a.flags.c_contiguous
                                for a, sh in zip(out, shapes)):
            raise ValueError(f"out: (ys, als, sg, stats) C-contiguous with >= {npat} rows of {shapes}")
        ys, als, sg, stats = (a[:npat] for a in out)
        stats.fill(0)
    y0 = np.ascontiguousarray(y0, dtype=float)
    p = np.ascontiguousarray(p, dtype=float)
    nev = ev_t.shape[1]
    ev = [np.ascontiguousarray(ev_t, dtype=float), np.ascontiguousarray(ev_k, dtype=np.int64),
          np.ascontiguousarray(ev_a, dtype=float), np.ascontiguousarray(ev_b, dtype=float)]
    t_save = np.ascontiguousarray(t_save, dtype=float)
    atol = np.ascontiguousarray(atol, dtype=float)
    if track is None:
        tq = tk = tcut = to = np.zeros(1)
        nt = ndeath = 0
    else:
        track.check(npat, fns)
        tq, tk, tcut, to = track.coef, track.spec, track.tcut, track.out
        nt, ndeath = track.spec.shape[1], track.ndeath
    fn = _PROTO(fns.solve)
    workers = min(_WORKERS[0], npat)
    rows = np.arange(npat, dtype=np.int64)
    claim = np.zeros(1, dtype=np.int64)  # the threads take patients in order from this shared counter

    def run(_: int = 0) -> None:
        fn(y0.ctypes.data, p.ctypes.data, *(e.ctypes.data for e in ev), nev, float(t0), float(t_end),
           t_save.ctypes.data, ns, float(rtol), atol.ctypes.data, int(max_steps), rows.ctypes.data, rows.shape[0],
           ys.ctypes.data, als.ctypes.data, sg.ctypes.data, stats.ctypes.data,
           tq.ctypes.data, tk.ctypes.data, nt, ndeath, tcut.ctypes.data, to.ctypes.data, claim.ctypes.data)

    if workers <= 1:
        run()
    else:
        with ThreadPoolExecutor(workers) as pool:
            list(pool.map(run, range(workers)))
    return ys, als, sg, stats
