"""Dosing events and between-event segments for one lane, as IR: events at a time are applied exactly (state jumps),
then the segment description (its start time and the closed-form pools then) is brought to that time; integration
restarts from there, so no step ever straddles a discontinuity.

The model's event function ``event(kind, t, y*, p*, seg*, a, b)`` works on one patient (kind 0 = no event: only bring
the segment description to t)."""

from __future__ import annotations

from llvmlite import ir

from nksim.kinetics.codegen.irflow import I64, f64, i64
from nksim.kinetics.integrate.frame import Frame

EV_NONE = 0


def load_patient(fr: Frame, w: ir.Value, i: ir.Value) -> None:
    """Patient i into lane w: its initial state and parameters, the segment description reset (start t0)."""
    f, b = fr.f, fr.f.b
    with f.range_(0, fr.n) as k:
        b.store(b.load(fr.matrix("y0", i, k, fr.n)), fr.el(fr.Y, k, w))
    with f.range_(0, fr.npar) as k:
        b.store(b.load(fr.matrix("p", i, k, fr.npar)), fr.el(fr.P, k, w))
    segl = f.at(fr.SEGL, b.mul(w, i64(fr.nseg)))
    with f.range_(0, fr.nseg) as k:
        f.store(f64(0.0), segl, k)
    f.store(fr.a["t0"], segl, 0)


def _event_due(fr: Frame, i: ir.Value, ke: ir.Value, before: ir.Value, strict: bool) -> ir.Value:
    """Lane patient i has an event number ke at a time <= ``before`` (< where ``strict``)."""
    f, b = fr.f, fr.f.b
    return f.all_(lambda: b.icmp_signed("<", ke, fr.a["nev"]),
                  lambda: b.icmp_signed("!=", b.load(fr.matrix("ev_k", i, ke, fr.a["nev"])), i64(EV_NONE)),
                  lambda: b.fcmp_ordered("<" if strict else "<=", b.load(fr.matrix("ev_t", i, ke, fr.a["nev"])),
                                         before))


def start_segment(fr: Frame, event: ir.Function, w: ir.Value, i: ir.Value, tw: ir.Value) -> None:
    """Apply lane w's events due at time tw (from its event index ``ke`` on, which advances), bring its segment
    description to tw and copy it into the lane array SEG."""
    f, b = fr.f, fr.f.b
    with f.range_(0, fr.n) as k:
        f.store(b.load(fr.el(fr.Y, k, w)), fr.ybuf, k)
    p_i = fr.matrix("p", i, 0, fr.npar)
    segl = f.at(fr.SEGL, b.mul(w, i64(fr.nseg)))
    with f.while_(lambda: _event_due(fr, i, fr.get("ke", w), tw, strict=False)):
        ke = fr.get("ke", w)
        nev = fr.a["nev"]
        b.call(event, [b.load(fr.matrix("ev_k", i, ke, nev)), tw, fr.ybuf, p_i, segl,
                       b.load(fr.matrix("ev_a", i, ke, nev)), b.load(fr.matrix("ev_b", i, ke, nev))])
        fr.put("ke", w, b.add(ke, i64(1)))
    b.call(event, [ir.Constant(I64, EV_NONE), tw, fr.ybuf, p_i, segl, f64(0.0), f64(0.0)])
    with f.range_(0, fr.n) as k:
        b.store(f.load(fr.ybuf, k), fr.el(fr.Y, k, w))
    with f.range_(0, fr.nseg) as k:
        b.store(f.load(segl, k), fr.el(fr.SEG, k, w))


def next_stop(fr: Frame, w: ir.Value, i: ir.Value) -> ir.Value:
    """The end of lane w's current segment: its next event, or t_end."""
    f, b = fr.f, fr.f.b
    ke = fr.get("ke", w)
    t_end = fr.a["t_end"]
    out = f.var(ir.DoubleType(), t_end)
    with b.if_then(_event_due(fr, i, ke, t_end, strict=True)):
        out.set(b.load(fr.matrix("ev_t", i, ke, fr.a["nev"])))
    return out.get()
