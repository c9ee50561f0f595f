"""Step-size control (Hairer, Norsett & Wanner I, II.4): the accept / reject rule as IR for one lane (the initial
step and the factor SAFETY err^(-1/order) are computed in the step attempt, :mod:`nksim.kinetics.integrate.stepir`).
"""

from __future__ import annotations

from llvmlite import ir

from nksim.kinetics.codegen.irflow import f64

SAFETY, MIN_FACTOR, MAX_FACTOR = 0.9, 0.2, 10.0


def pymin(b: ir.IRBuilder, x: ir.Value, y: ir.Value) -> ir.Value:
    """Python's ``min(x, y)`` on doubles (y where y < x, else x)."""
    return b.select(b.fcmp_ordered("<", y, x), y, x)


def pymax(b: ir.IRBuilder, x: ir.Value, y: ir.Value) -> ir.Value:
    """Python's ``max(x, y)`` on doubles (y where y > x, else x)."""
    return b.select(b.fcmp_ordered(">", y, x), y, x)


def reject_factor(b: ir.IRBuilder, grow: ir.Value) -> ir.Value:
    """Step-size factor after a rejected step (``grow`` = SAFETY en^(-1/order), en > 1)."""
    return pymax(b, f64(MIN_FACTOR), grow)


def accept_factor(b: ir.IRBuilder, en: ir.Value, grow: ir.Value, rejected_before: ir.Value) -> ir.Value:
    """Step-size factor after an accepted step with error norm ``en``; ``rejected_before`` (i1): the previous
    attempt was rejected, so the step may not grow."""
    f = b.select(b.fcmp_ordered("==", en, f64(0.0)), f64(MAX_FACTOR), pymin(b, f64(MAX_FACTOR), grow))
    return b.select(rejected_before, pymin(b, f64(1.0), f), f)
