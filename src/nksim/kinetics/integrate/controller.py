"""Step-size control (Hairer, Norsett & Wanner I, II.4): the accept / reject rule (the initial step and the
factor SAFETY err^(-1/order) are computed in the generated code, :mod:`nksim.kinetics.integrate.stepir`)."""

from __future__ import annotations

from numba import njit

SAFETY, MIN_FACTOR, MAX_FACTOR = 0.9, 0.2, 10.0


@njit(cache=True)
def factor(en: float, grow: float, rejected_before: bool) -> float:
    """Step-size factor after an accepted step with error norm ``en`` (``grow`` = SAFETY en^(-1/order))."""
    f = MAX_FACTOR if en == 0.0 else min(MAX_FACTOR, grow)
    if rejected_before:
        f = min(1.0, f)
    return f
