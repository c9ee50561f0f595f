"""Helpers on a shared, increasing time grid ``t`` (days) with values ``y`` shaped (patient, time, ...)."""

from __future__ import annotations

import numpy as np


def last_axis_sum(v: np.ndarray) -> np.ndarray:
    """``v.sum(axis=-1)``, the same bits (signed zeros included; tested), faster for a short last axis (lesions,
    antigen classes): numpy adds fewer than 8 values in order to 0.0, done here as whole-array additions (numpy's
    own loop over a short last axis costs ~10x more); 8 or more values are summed pairwise by numpy itself."""
    k = v.shape[-1]
    if k == 0 or k >= 8:
        return v.sum(axis=-1)
    out = v[..., 0] + 0.0
    for j in range(1, k):
        out += v[..., j]
    return out


def interp_weights(t: np.ndarray, q: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Left index and weight so that y(q) = y[i] (1 - w) + y[i + 1] w (q clipped into [t0, t_end])."""
    t = np.asarray(t, dtype=float)
    q = np.clip(np.asarray(q, dtype=float), t[0], t[-1])
    if t.size == 1:
        return np.zeros(q.shape, dtype=int), np.zeros(q.shape)
    i = np.clip(np.searchsorted(t, q, side="right") - 1, 0, t.size - 2)
    w = (q - t[i]) / (t[i + 1] - t[i])
    return i, np.clip(w, 0.0, 1.0)


def interp_at(y: np.ndarray, t: np.ndarray, q: np.ndarray) -> np.ndarray:
    """Linear interpolation of ``y`` (patient, time, ...) at times ``q``: shape (patient, len(q), ...)."""
    i, w = interp_weights(t, q)
    if t.size == 1:
        return np.repeat(y[:, :1], len(np.atleast_1d(q)), axis=1)
    w = w.reshape((1, -1) + (1,) * (y.ndim - 2))
    return np.take(y, i, axis=1) * (1.0 - w) + np.take(y, i + 1, axis=1) * w  # take: a faster gather, same values


def first_crossing_time(t: np.ndarray, y: np.ndarray, level: np.ndarray | float) -> np.ndarray:
    """First time y(t) >= level per patient, linear between grid points; +inf if never. y: (patient, time)."""
    level = np.broadcast_to(np.asarray(level, dtype=float), (y.shape[0],))
    above = y >= level[:, None]
    hit = above.any(axis=1)
    k = np.argmax(above, axis=1)
    out = np.full(y.shape[0], np.inf)
    rows = np.nonzero(hit)[0]
    kk = k[rows]
    at0 = kk == 0
    out[rows[at0]] = t[0]
    r, kk = rows[~at0], kk[~at0]
    y0, y1 = y[r, kk - 1], y[r, kk]
    frac = np.clip((level[r] - y0) / np.where(y1 > y0, y1 - y0, 1.0), 0.0, 1.0)
    out[r] = t[kk - 1] + frac * (t[kk] - t[kk - 1])
    return out


def first_true_time(t: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """First grid time where mask (patient, time) is true; NaN if never."""
    hit = mask.any(axis=1)
    return np.where(hit, t[np.argmax(mask, axis=1)], np.nan)


def time_below(
    t: np.ndarray, y: np.ndarray, level: float, t_from: float = -np.inf, t_to: np.ndarray | float = np.inf
) -> np.ndarray:
    """Time (days) with y below ``level`` for y piecewise linear on the grid, counted within [t_from, t_to].
    """
    a, b = y[:, :-1], y[:, 1:]
    lo = np.minimum(a, b)
    hi = np.maximum(a, b)
    # share of each interval below the level: 1 wholly below, 0 wholly above, else linear (then hi > lo)
    frac = np.subtract(level, lo)
    with np.errstate(invalid="ignore", divide="ignore"):
        frac /= hi - lo
    frac[hi < level] = 1.0
    frac[lo >= level] = 0.0
    # restrict each interval to the window (approximately: by the share of the interval inside it)
    t0, t1 = t[:-1], t[1:]
    t_to = np.broadcast_to(np.asarray(t_to, dtype=float), (y.shape[0],))[:, None]
    inside = np.minimum(t1, t_to)
    inside -= np.maximum(t0, t_from)
    np.maximum(inside, 0.0, out=inside)
    frac *= inside
    return np.sum(frac, axis=1)


def run_start_time(t: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """For each true entry of mask (patient, time), the grid time its uninterrupted run began (NaN where
    false)."""
    n = mask.shape[1]
    idx = np.where(~mask, np.arange(n)[None, :], -1)
    last_false = np.maximum.accumulate(idx, axis=1)
    start = np.clip(last_false + 1, 0, n - 1)
    return np.where(mask, t[start], np.nan)
