"""Dosing events and between-event segments for one lane: events at a time are applied exactly (state jumps), then
the segment description (its start time and the closed-form pools then) is brought to that time; integration
restarts from there, so no step ever straddles a discontinuity."""

from __future__ import annotations

import numpy as np
from numba import njit

from nksim.kinetics.integrate.calls import call

EV_NONE = 0


@njit(cache=True, error_model="numpy")
def load_patient(w: int, i: int, y0: np.ndarray, p: np.ndarray, ev_t: np.ndarray, ev_k: np.ndarray,
                 ev_a: np.ndarray, ev_b: np.ndarray, t0: float, Y: np.ndarray, P: np.ndarray, PL: np.ndarray,
                 EVT: np.ndarray, EVK: np.ndarray, EVA: np.ndarray, EVB: np.ndarray, SEGL: np.ndarray) -> None:
    """Patient i into lane w (thread-local copies: no reference counting on the shared inputs in the hot loop)."""
    for k in range(y0.shape[1]):
        Y[k, w] = y0[i, k]
    for k in range(p.shape[1]):
        P[k, w] = p[i, k]
        PL[w, k] = p[i, k]
    for k in range(ev_t.shape[1]):
        EVT[w, k] = ev_t[i, k]
        EVK[w, k] = ev_k[i, k]
        EVA[w, k] = ev_a[i, k]
        EVB[w, k] = ev_b[i, k]
    for k in range(SEGL.shape[1]):
        SEGL[w, k] = 0.0
    SEGL[w, 0] = t0


@njit(cache=True, error_model="numpy")
def start_segment(event: int, w: int, tw: float, ke: int, Y: np.ndarray, PL: np.ndarray, EVT: np.ndarray,
                  EVK: np.ndarray, EVA: np.ndarray, EVB: np.ndarray, SEGL: np.ndarray, SEG: np.ndarray,
                  ybuf: np.ndarray) -> int:
    """Apply lane w's events due at time tw (from event index ke on), bring its segment description to tw and copy
    it into the lane array SEG. Returns the index of the next event."""
    nev = EVT.shape[1]
    n = Y.shape[0]
    for k in range(n):
        ybuf[k] = Y[k, w]
    while ke < nev and EVK[w, ke] != EV_NONE and EVT[w, ke] <= tw:
        call(event, EVK[w, ke], tw, ybuf, PL[w], SEGL[w], EVA[w, ke], EVB[w, ke])
        ke += 1
    call(event, EV_NONE, tw, ybuf, PL[w], SEGL[w], 0.0, 0.0)
    for k in range(n):
        Y[k, w] = ybuf[k]
    for k in range(SEGL.shape[1]):
        SEG[k, w] = SEGL[w, k]
    return ke


@njit(cache=True)
def next_stop(w: int, ke: int, EVT: np.ndarray, EVK: np.ndarray, t_end: float) -> float:
    """The end of lane w's current segment: its next event, or t_end."""
    if ke < EVT.shape[1] and EVK[w, ke] != EV_NONE and EVT[w, ke] < t_end:
        return EVT[w, ke]
    return t_end
