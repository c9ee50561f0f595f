"""Reference backend: the model's scalar right-hand side and events (Python source generated from the process
modules, compiled by numba) integrated by scipy.integrate.solve_ivp, patient by patient.

Used to cross-check the compiled engine (tests) and as the baseline of the benchmark. Segments between events are
integrated separately, so dosing discontinuities are exact here too.
"""

from __future__ import annotations

import numpy as np
from scipy.integrate import solve_ivp

from nksim.kinetics import layout as L
from nksim.kinetics.codegen.python import numba_functions, python_functions


def solve_reference(y0: np.ndarray, p: np.ndarray, nl: int, nc: int, ev_t: np.ndarray, ev_k: np.ndarray,
                    ev_a: np.ndarray, ev_b: np.ndarray, t0: float, t_end: float, t_save: np.ndarray, rtol: float,
                    atol: np.ndarray, method: str = "LSODA", python_rhs: bool = False) -> tuple[np.ndarray, np.ndarray, int]:
    """One patient. Returns (ys, als, number of right-hand-side evaluations).

    ``python_rhs``: call the uncompiled Python source of the right-hand side (a plain scipy implementation of the
    same model; used as a benchmark baseline)."""
    rhs_c, event = numba_functions(nl, nc)
    f_rhs = python_functions(nl, nc)[0] if python_rhs else rhs_c
    n = y0.shape[0]
    ys = np.zeros((t_save.shape[0], n))
    als = np.zeros((t_save.shape[0], L.NALG))
    alg = np.zeros(L.NALG)
    scratch = np.zeros(n)
    y = y0.copy()
    t = t0
    js = 0
    ke = 0
    seg = np.zeros(L.NSEG)
    seg[0] = t0
    nfev = 0
    nev = int(np.sum(ev_k != L.EV_NONE))

    def record(j: int, tt: float, yy: np.ndarray, sg: np.ndarray) -> None:
        ys[j] = np.maximum(yy, 0.0)
        rhs_c(tt, ys[j], p, sg, scratch, alg)
        als[j] = alg

    while True:
        while ke < nev and ev_t[ke] <= t:
            event(int(ev_k[ke]), t, y, p, seg, ev_a[ke], ev_b[ke])
            ke += 1
        event(L.EV_NONE, t, y, p, seg, 0.0, 0.0)
        while js < t_save.shape[0] and t_save[js] <= t:
            record(js, t, y, seg)
            js += 1
        if t >= t_end:
            break
        t_next = min(ev_t[ke], t_end) if ke < nev else t_end
        inside = t_save[(t_save > t) & (t_save < t_next)]

        def f(tt: float, yy: np.ndarray, _seg: np.ndarray = seg.copy()) -> np.ndarray:
            dy = np.empty(n)
            f_rhs(tt, yy, p, _seg, dy, alg)
            return dy

        sol = solve_ivp(f, (t, t_next), y, method=method, rtol=rtol, atol=atol, t_eval=np.append(inside, t_next))
        if not sol.success:
            raise RuntimeError(f"reference solver failed at t = {t}: {sol.message}")
        nfev += sol.nfev
        for j in range(inside.shape[0]):
            record(js, inside[j], sol.y[:, j], seg)
            js += 1
        y = sol.y[:, -1].copy()
        t = t_next
    return ys, als, nfev


def solve_reference_batch(y0: np.ndarray, p: np.ndarray, nl: int, nc: int, ev_t: np.ndarray, ev_k: np.ndarray,
                          ev_a: np.ndarray, ev_b: np.ndarray, t0: float, t_end: float, t_save: np.ndarray,
                          rtol: float, atol: np.ndarray, method: str = "LSODA",
                          python_rhs: bool = False) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    npat = y0.shape[0]
    ys = np.zeros((npat, t_save.shape[0], y0.shape[1]))
    als = np.zeros((npat, t_save.shape[0], L.NALG))
    stats = np.zeros((npat, 3), dtype=np.int64)
    for i in range(npat):
        ys[i], als[i], stats[i, 1] = solve_reference(y0[i], p[i], nl, nc, ev_t[i], ev_k[i], ev_a[i], ev_b[i], t0,
                                                     t_end, t_save, rtol, atol, method, python_rhs)
    return ys, als, stats
