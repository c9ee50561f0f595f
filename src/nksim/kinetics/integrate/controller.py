"""Step-size control (Hairer, Norsett & Wanner I, II.4): the initial step and the accept / reject rule."""

from __future__ import annotations

import math

import numpy as np
from numba import njit

SAFETY, MIN_FACTOR, MAX_FACTOR = 0.9, 0.2, 10.0


@njit(cache=True, error_model="numpy")
def rms_col(A: np.ndarray, w: int, scale: np.ndarray) -> float:
    s = 0.0
    for k in range(scale.shape[0]):
        v = A[k, w] / scale[k]
        s += v * v
    return math.sqrt(s / scale.shape[0])


@njit(cache=True, error_model="numpy")
def first_guess(Y: np.ndarray, K0: np.ndarray, w: int, scale: np.ndarray, span: float) -> float:
    """h0 from the sizes of y and f (HNW II.4 a-b), at most the segment's length."""
    d0 = rms_col(Y, w, scale)
    d1 = rms_col(K0, w, scale)
    h0 = 1e-6 if (d0 < 1e-5 or d1 < 1e-5) else 0.01 * d0 / d1
    return min(h0, span)


@njit(cache=True, error_model="numpy")
def second_guess(K0: np.ndarray, DIFF: np.ndarray, w: int, scale: np.ndarray, h0: float, order: int) -> float:
    """The initial step from the second derivative estimate (f(y + h0 f) - f(y))/h0 (HNW II.4 c-f)."""
    d1 = rms_col(K0, w, scale)
    d2 = rms_col(DIFF, w, scale) / h0
    if max(d1, d2) <= 1e-15:
        h1 = max(1e-6, h0 * 1e-3)
    else:
        h1 = (0.01 / max(d1, d2)) ** (1.0 / order)
    return min(100 * h0, h1)


@njit(cache=True)
def factor(en: float, grow: float, rejected_before: bool) -> float:
    """Step-size factor after an accepted step with error norm ``en`` (``grow`` = SAFETY en^(-1/order))."""
    f = MAX_FACTOR if en == 0.0 else min(MAX_FACTOR, grow)
    if rejected_before:
        f = min(1.0, f)
    return f
