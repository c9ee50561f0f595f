"""Batched, compiled Dormand-Prince 5(4) integrator with error control, exact dosing discontinuities and dense output.

Each patient is integrated independently (worker threads over patients; results do not depend on chunking or
thread count). Between events the solver takes adaptive steps (Dormand & Prince 1980 tableau, Shampine 1986 dense
output, standard step-size controller as in Hairer, Norsett & Wanner); at an event time it stops exactly, applies the
jump and restarts. Values on the save grid come from the dense output (post-event values at event times).
"""

from __future__ import annotations

import math
import os
from concurrent.futures import ThreadPoolExecutor

import numpy as np
from numba import njit

from nksim.kinetics import layout as L
from nksim.kinetics.rhs import apply_event, lung_pool, rhs

# Dormand-Prince 5(4) tableau and Shampine's dense-output polynomial (public formulas)
C2, C3, C4, C5 = 1 / 5, 3 / 10, 4 / 5, 8 / 9
A21 = 1 / 5
A31, A32 = 3 / 40, 9 / 40
A41, A42, A43 = 44 / 45, -56 / 15, 32 / 9
A51, A52, A53, A54 = 19372 / 6561, -25360 / 2187, 64448 / 6561, -212 / 729
A61, A62, A63, A64, A65 = 9017 / 3168, -355 / 33, 46732 / 5247, 49 / 176, -5103 / 18656
B1, B3, B4, B5, B6 = 35 / 384, 500 / 1113, 125 / 192, -2187 / 6784, 11 / 84
E1, E3, E4, E5, E6, E7 = -71 / 57600, 71 / 16695, -71 / 1920, 17253 / 339200, -22 / 525, 1 / 40
DENSE = np.array([
    [1.0, -8048581381 / 2820520608, 8663915743 / 2820520608, -12715105075 / 11282082432],
    [0.0, 0.0, 0.0, 0.0],
    [0.0, 131558114200 / 32700410799, -68118460800 / 10900136933, 87487479700 / 32700410799],
    [0.0, -1754552775 / 470086768, 14199869525 / 1410260304, -10690763975 / 1880347072],
    [0.0, 127303824393 / 49829197408, -318862633887 / 49829197408, 701980252875 / 199316789632],
    [0.0, -282668133 / 205662961, 2019193451 / 616988883, -1453857185 / 822651844],
    [0.0, 40617522 / 29380423, -110615467 / 29380423, 69997945 / 29380423],
])
SAFETY, MIN_FACTOR, MAX_FACTOR = 0.9, 0.2, 10.0
# LLVM may reassociate and contract sums (vectorised stage and error loops); NaN/inf semantics are kept ('nnan' and
# 'ninf' are not set) because the step control tests for non-finite errors.
FAST = {"reassoc", "contract", "arcp", "nsz"}

STATUS_OK, STATUS_MAX_STEPS, STATUS_STEP_UNDERFLOW, STATUS_NONFINITE = 0, 1, 2, 3


@njit(cache=True, error_model="numpy", fastmath=FAST)
def _rms(err: np.ndarray, scale: np.ndarray) -> float:
    s = 0.0
    for i in range(err.shape[0]):
        v = err[i] / scale[i]
        s += v * v
    return math.sqrt(s / err.shape[0])


@njit(cache=True)
def _save(ys: np.ndarray, als: np.ndarray, j: int, t: float, y: np.ndarray, p: np.ndarray, nl: int, nc: int,
          seg: np.ndarray, scratch: np.ndarray, alg: np.ndarray) -> None:
    for i in range(y.shape[0]):
        ys[j, i] = y[i] if y[i] > 0.0 else 0.0
    rhs(t, ys[j], p, nl, nc, seg, scratch, alg)
    for i in range(alg.shape[0]):
        als[j, i] = alg[i]


@njit(cache=True, error_model="numpy", fastmath=FAST)
def _error_norm(k0: np.ndarray, k2: np.ndarray, k3: np.ndarray, k4: np.ndarray, k5: np.ndarray, k6: np.ndarray,
                y: np.ndarray, y_new: np.ndarray, h: float, rtol: float, atol: np.ndarray) -> float:
    """RMS of the embedded error estimate, each component scaled by atol + rtol max(|y|, |y_new|)."""
    acc2 = 0.0
    for i in range(y.shape[0]):
        e = h * (E1 * k0[i] + E3 * k2[i] + E4 * k3[i] + E5 * k4[i] + E6 * k5[i] + E7 * k6[i])
        e /= atol[i] + max(abs(y[i]), abs(y_new[i])) * rtol
        acc2 += e * e
    return math.sqrt(acc2 / y.shape[0])


@njit(cache=True, error_model="numpy", fastmath=FAST)
def solve_one(y0: np.ndarray, p: np.ndarray, nl: int, nc: int, ev_t: np.ndarray, ev_k: np.ndarray,
              ev_a: np.ndarray, ev_b: np.ndarray, t0: float, t_end: float, t_save: np.ndarray, rtol: float,
              atol: np.ndarray, max_steps: int, ys: np.ndarray, als: np.ndarray) -> tuple[int, int, int]:
    """Integrate one patient from t0 to t_end; fill ys (n_save, n_state) and als (n_save, NALG).

    Returns (status, accepted steps, rejected steps). The stages are written out (no tableau loops, no array views)
    because the per-step bookkeeping costs as much as a right-hand-side call otherwise."""
    n = y0.shape[0]
    y = y0.copy()
    y_new = np.empty(n)
    ytmp = np.empty(n)
    k0 = np.zeros(n)
    k1 = np.zeros(n)
    k2 = np.zeros(n)
    k3 = np.zeros(n)
    k4 = np.zeros(n)
    k5 = np.zeros(n)
    k6 = np.zeros(n)
    scale = np.empty(n)
    scratch = np.empty(n)
    alg = np.empty(L.NALG)
    seg = np.empty(3)
    b = np.empty(7)  # dense-output weights
    ns = t_save.shape[0]
    nev = ev_t.shape[0]
    t = t0
    js = 0
    ke = 0
    n_acc = 0
    n_rej = 0
    while True:
        # events at the current time, then saves at the current time (post-event values)
        while ke < nev and ev_k[ke] != L.EV_NONE and ev_t[ke] <= t:
            apply_event(t, y, p, nl, nc, ev_k[ke], ev_a[ke], ev_b[ke], ev_t, ev_k, ev_a, ev_b)
            ke += 1
        seg[0] = t
        seg[1], seg[2] = lung_pool(t, t, p, ev_t, ev_k, ev_a, ev_b)
        while js < ns and t_save[js] <= t:
            _save(ys, als, js, t, y, p, nl, nc, seg, scratch, alg)
            js += 1
        if t >= t_end:
            break
        t_next = t_end
        if ke < nev and ev_k[ke] != L.EV_NONE and ev_t[ke] < t_end:
            t_next = ev_t[ke]
        # initial step for the segment (Hairer-Norsett-Wanner II.4)
        rhs(t, y, p, nl, nc, seg, k0, alg)
        for i in range(n):
            scale[i] = atol[i] + abs(y[i]) * rtol
        d0 = _rms(y, scale)
        d1 = _rms(k0, scale)
        h0 = 1e-6 if (d0 < 1e-5 or d1 < 1e-5) else 0.01 * d0 / d1
        h0 = min(h0, t_next - t)
        for i in range(n):
            ytmp[i] = y[i] + h0 * k0[i]
        rhs(t + h0, ytmp, p, nl, nc, seg, k1, alg)
        for i in range(n):
            ytmp[i] = k1[i] - k0[i]
        d2 = _rms(ytmp, scale) / h0
        if max(d1, d2) <= 1e-15:
            h1 = max(1e-6, h0 * 1e-3)
        else:
            h1 = (0.01 / max(d1, d2)) ** 0.2
        h = min(100 * h0, h1)
        rejected = False
        while t < t_next:
            if n_acc + n_rej >= max_steps:
                return STATUS_MAX_STEPS, n_acc, n_rej
            if h < 1e-12 * max(1.0, abs(t)):
                return STATUS_STEP_UNDERFLOW, n_acc, n_rej
            last = False
            if t + h >= t_next or t_next - (t + h) < 1e-9 * h:
                h = t_next - t
                last = True
            for i in range(n):
                ytmp[i] = y[i] + h * (A21 * k0[i])
            rhs(t + C2 * h, ytmp, p, nl, nc, seg, k1, alg)
            for i in range(n):
                ytmp[i] = y[i] + h * (A31 * k0[i] + A32 * k1[i])
            rhs(t + C3 * h, ytmp, p, nl, nc, seg, k2, alg)
            for i in range(n):
                ytmp[i] = y[i] + h * (A41 * k0[i] + A42 * k1[i] + A43 * k2[i])
            rhs(t + C4 * h, ytmp, p, nl, nc, seg, k3, alg)
            for i in range(n):
                ytmp[i] = y[i] + h * (A51 * k0[i] + A52 * k1[i] + A53 * k2[i] + A54 * k3[i])
            rhs(t + C5 * h, ytmp, p, nl, nc, seg, k4, alg)
            for i in range(n):
                ytmp[i] = y[i] + h * (A61 * k0[i] + A62 * k1[i] + A63 * k2[i] + A64 * k3[i] + A65 * k4[i])
            rhs(t + h, ytmp, p, nl, nc, seg, k5, alg)
            t_new = t_next if last else t + h
            for i in range(n):
                y_new[i] = y[i] + h * (B1 * k0[i] + B3 * k2[i] + B4 * k3[i] + B5 * k4[i] + B6 * k5[i])
            rhs(t_new, y_new, p, nl, nc, seg, k6, alg)
            en = _error_norm(k0, k2, k3, k4, k5, k6, y, y_new, h, rtol, atol)
            if not math.isfinite(en):
                if h < 1e-9:
                    return STATUS_NONFINITE, n_acc, n_rej
                h *= MIN_FACTOR
                rejected = True
                n_rej += 1
                continue
            if en > 1.0:
                h *= max(MIN_FACTOR, SAFETY * math.exp(-0.2 * math.log(en)))
                rejected = True
                n_rej += 1
                continue
            n_acc += 1
            # dense output for save points in (t, t_new] before the segment end (the end is saved post-event)
            while js < ns and t_save[js] <= t_new and t_save[js] < t_next:
                x = (t_save[js] - t) / h
                for s in range(7):
                    b[s] = DENSE[s, 0] * x + DENSE[s, 1] * x * x + DENSE[s, 2] * x ** 3 + DENSE[s, 3] * x ** 4
                for i in range(n):
                    ytmp[i] = y[i] + h * (b[0] * k0[i] + b[2] * k2[i] + b[3] * k3[i] + b[4] * k4[i] + b[5] * k5[i]
                                          + b[6] * k6[i])
                _save(ys, als, js, t_save[js], ytmp, p, nl, nc, seg, scratch, alg)
                js += 1
            factor = MAX_FACTOR if en == 0.0 else min(MAX_FACTOR, SAFETY * math.exp(-0.2 * math.log(en)))
            if rejected:
                factor = min(1.0, factor)
            rejected = False
            clipped = False
            for i in range(n):
                if y_new[i] < 0.0:
                    y_new[i] = 0.0
                    clipped = True
                y[i] = y_new[i]
            t = t_new
            if clipped:
                rhs(t, y, p, nl, nc, seg, k6, alg)
            k0, k6 = k6, k0  # first same as last
            h *= factor
    return STATUS_OK, n_acc, n_rej


@njit(nogil=True, cache=True)
def _solve_rows(y0: np.ndarray, p: np.ndarray, nl: int, nc: int, ev_t: np.ndarray, ev_k: np.ndarray,
                ev_a: np.ndarray, ev_b: np.ndarray, t0: float, t_end: float, t_save: np.ndarray, rtol: float,
                atol: np.ndarray, max_steps: int, rows: np.ndarray, ys: np.ndarray, als: np.ndarray,
                stats: np.ndarray) -> None:
    # Thread-local copies: numba reference-counts every array it passes or slices, and counts on arrays shared by
    # the worker threads (the inputs' parents) make the threads fight over one cache line.
    t_save_l = t_save.copy()
    atol_l = atol.copy()
    ys_l = np.empty(ys.shape[1:])
    als_l = np.empty(als.shape[1:])
    for r in range(rows.shape[0]):
        i = rows[r]
        st, na, nr = solve_one(y0[i].copy(), p[i].copy(), nl, nc, ev_t[i].copy(), ev_k[i].copy(), ev_a[i].copy(),
                               ev_b[i].copy(), t0, t_end, t_save_l, rtol, atol_l, max_steps, ys_l, als_l)
        for j in range(ys_l.shape[0]):  # explicit loops: array slice assignment costs seconds of compile time
            for k in range(ys_l.shape[1]):
                ys[i, j, k] = ys_l[j, k]
            for k in range(als_l.shape[1]):
                als[i, j, k] = als_l[j, k]
        stats[i, 0] = st
        stats[i, 1] = na
        stats[i, 2] = nr


_WORKERS = [max(1, os.cpu_count() or 1)]


def set_workers(n: int) -> None:
    """Threads used by :func:`solve_batch` (results never depend on it)."""
    _WORKERS[0] = max(1, int(n))


def solve_batch(y0: np.ndarray, p: np.ndarray, nl: int, nc: int, ev_t: np.ndarray, ev_k: np.ndarray,
                ev_a: np.ndarray, ev_b: np.ndarray, t0: float, t_end: float, t_save: np.ndarray, rtol: float,
                atol: np.ndarray, max_steps: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Solve every patient (rows of y0, p and the event arrays) on worker threads (the compiled kernel releases the
    GIL). Returns (ys: patient x save time x state, algebraic outputs, stats: status/accepted/rejected steps)."""
    npat = y0.shape[0]
    ys = np.zeros((npat, t_save.shape[0], y0.shape[1]))
    als = np.zeros((npat, t_save.shape[0], L.NALG))
    stats = np.zeros((npat, 3), dtype=np.int64)
    workers = min(_WORKERS[0], npat)
    # interleaved rows balance slow and fast patients across threads
    parts = [np.arange(w, npat, workers, dtype=np.int64) for w in range(workers)]
    args = (y0, p, nl, nc, ev_t, ev_k, ev_a, ev_b, t0, t_end, t_save, rtol, atol, max_steps)
    if workers == 1:
        _solve_rows(*args, parts[0], ys, als, stats)
    else:
        with ThreadPoolExecutor(workers) as pool:
            list(pool.map(lambda rows: _solve_rows(*args, rows, ys, als, stats), parts))
    return ys, als, stats
