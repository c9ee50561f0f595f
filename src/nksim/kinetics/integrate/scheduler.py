"""The lane scheduler: every worker thread runs W patients at once, one per vector lane, each lane with its own time,
step size, step control and events; when a lane's patient is done, the thread's next patient takes the lane. Lanes
never mix, so results do not depend on chunking, thread count or which patients share a vector.

Values on the save grid come from the dense output (post-event values at event times); the algebraic outputs at the
save points are evaluated afterwards, W at a time.
"""

from __future__ import annotations

import math
import os
from concurrent.futures import ThreadPoolExecutor

import numpy as np
from numba import njit

from nksim.kinetics.integrate.calls import call
from nksim.kinetics.integrate.controller import MIN_FACTOR, factor
from nksim.kinetics.integrate.segments import load_patient, next_stop, start_segment
from nksim.kinetics.integrate.tableau import TSIT5, Tableau
from nksim.kinetics.lanes import W, borrowed, ld, st, vfrom

STATUS_OK, STATUS_MAX_STEPS, STATUS_STEP_UNDERFLOW, STATUS_NONFINITE = 0, 1, 2, 3
IDLE, SEGMENT, INIT, STEP = 0, 1, 2, 3  # what a lane does next


@njit(cache=True, error_model="numpy")
def _algebraic(rhs: int, i: int, n_saved: int, pl: np.ndarray, t_save: np.ndarray, ys: np.ndarray, als: np.ndarray,
               sseg: np.ndarray, YA: np.ndarray, PA: np.ndarray, SA: np.ndarray, DA: np.ndarray, ALG: np.ndarray,
               tt: np.ndarray) -> None:
    """Algebraic outputs of patient i at its saved points, W save points per right-hand-side call."""
    for k in range(pl.shape[0]):
        for w in range(W):
            PA[k, w] = pl[k]
    for j0 in range(0, n_saved, W):
        for w in range(W):
            j = min(j0 + w, n_saved - 1)
            tt[w] = t_save[j]
            for k in range(YA.shape[0]):
                YA[k, w] = ys[i, j, k]
            for k in range(SA.shape[0]):
                SA[k, w] = sseg[j, k]
        call(rhs, vfrom(tt), YA, PA, SA, DA, ALG)
        for w in range(min(W, n_saved - j0)):
            for k in range(ALG.shape[0]):
                als[i, j0 + w, k] = ALG[k, w]


@njit(cache=True)
def _keep_alive(*arrays) -> int:
    """A use of the arrays whose borrowed views the caller worked with, so that they are freed only after it."""
    return len(arrays)


@njit(nogil=True, cache=True, error_model="numpy")
def solve_lanes(rhs: int, event: int, step: int, init: int, dense: int, nseg: int, nalg: int, DENSE: np.ndarray, y0: np.ndarray, p: np.ndarray, ev_t: np.ndarray, ev_k: np.ndarray,
                ev_a: np.ndarray, ev_b: np.ndarray, t0: float, t_end: float, t_save: np.ndarray, rtol: float,
                atol: np.ndarray, max_steps: int, rows: np.ndarray, ys: np.ndarray, als: np.ndarray,
                sg: np.ndarray, stats: np.ndarray) -> None:
    """Integrate patients ``rows`` from t0 to t_end, W at a time, with the model's functions at addresses ``rhs``,
    ``event``, ``step`` (a step attempt of the tableau with S = DENSE.shape[0] stages), ``init`` (initial steps) and
    ``dense`` (its dense output); fill ys, als, sg (segment description at each save time) and stats (status, accepted and
    rejected steps) at those rows."""
    n = y0.shape[1]
    npar = p.shape[1]
    nev = ev_t.shape[1]
    ns = t_save.shape[0]
    S = DENSE.shape[0]
    # lane arrays (rows x lanes). The loop works on borrowed views (no atomic reference counting in its calls); the
    # owners live to the end (_keep_alive).
    st_own = np.zeros((4 * n, W))
    kk_own = np.zeros((S * n, W))
    sv = borrowed(st_own)
    KK = borrowed(kk_own)
    Y, YN, YT, KX = sv[0:n], sv[n:2 * n], sv[2 * n:3 * n], sv[3 * n:4 * n]
    ATOL_own = np.zeros((n, W))
    ATOL = borrowed(ATOL_own)
    for k in range(n):
        for w in range(W):
            ATOL[k, w] = atol[k]
    P_own = np.zeros((npar, W))
    SEG_own = np.zeros((nseg, W))
    ALG_own = np.zeros((nalg, W))
    ERR_own = np.zeros((2, W))
    P, SEG, ALG, ERR = borrowed(P_own), borrowed(SEG_own), borrowed(ALG_own), borrowed(ERR_own)
    # per-lane copies of the patient's parameters, events and segment description, for the scalar event code
    PL = np.zeros((W, npar))
    EVT = np.zeros((W, nev))
    EVK = np.zeros((W, nev), dtype=np.int64)
    EVA = np.zeros((W, nev))
    EVB = np.zeros((W, nev))
    SEGL = np.zeros((W, nseg))
    SSEG = np.zeros((W * ns, nseg))  # the segment description at each save point (lane w: rows w ns ...)
    ybuf = np.zeros(n)
    ts_l = t_save.copy()
    PA_own = np.zeros((npar, W))
    SA_own = np.zeros((nseg, W))
    PA, SA = borrowed(PA_own), borrowed(SA_own)
    ctl = np.zeros((9, W))
    t = ctl[0]
    h = ctl[1]
    hs = ctl[2]  # step of this attempt (0 in lanes that do not step)
    t_next = ctl[3]
    t_new = ctl[4]
    accepted = ctl[5]
    tt = ctl[6]
    span = ctl[7]  # INIT lanes: length of the segment ahead
    is_init = ctl[8]  # 1.0 in the lanes that start a segment
    ictl = np.zeros((9, W), dtype=np.int64)
    mode = ictl[0]
    pat = ictl[1]
    ke = ictl[2]
    js = ictl[3]
    n_acc = ictl[4]
    n_rej = ictl[5]
    rejected = ictl[6]
    last = ictl[7]
    status = ictl[8]
    for w in range(W):
        pat[w] = -1
    nxt = 0
    while True:
        # ---- segment boundaries: events, saves, the end of a patient and the start of the next one
        for w in range(W):
            while mode[w] == SEGMENT or (mode[w] == IDLE and nxt < rows.shape[0]):
                if mode[w] == IDLE:  # the thread's next patient takes the lane
                    pat[w] = rows[nxt]
                    nxt += 1
                    load_patient(w, pat[w], y0, p, ev_t, ev_k, ev_a, ev_b, t0, Y, P, PL, EVT, EVK, EVA, EVB, SEGL)
                    mode[w] = SEGMENT
                    t[w] = t0
                    ke[w] = 0
                    js[w] = 0
                    n_acc[w] = 0
                    n_rej[w] = 0
                    status[w] = STATUS_OK
                i = pat[w]
                tw = t[w]
                if status[w] == STATUS_OK:
                    ke[w] = start_segment(event, w, tw, ke[w], Y, PL, EVT, EVK, EVA, EVB, SEGL, SEG, ybuf)
                    while js[w] < ns and ts_l[js[w]] <= tw:
                        for k in range(n):
                            ys[i, js[w], k] = Y[k, w] if Y[k, w] > 0.0 else 0.0
                        for k in range(nseg):
                            SSEG[w * ns + js[w], k] = SEG[k, w]
                        js[w] += 1
                if status[w] != STATUS_OK or tw >= t_end:
                    sseg = SSEG[w * ns:(w + 1) * ns]
                    _algebraic(rhs, i, js[w], PL[w], ts_l, ys, als, sseg, YT, PA, SA, KX, ALG, tt)
                    for j in range(js[w]):
                        for k in range(nseg):
                            sg[i, j, k] = sseg[j, k]
                    stats[i, 0] = status[w]
                    stats[i, 1] = n_acc[w]
                    stats[i, 2] = n_rej[w]
                    mode[w] = IDLE
                    continue
                t_next[w] = next_stop(w, ke[w], EVT, EVK, t_end)
                mode[w] = INIT
        n_active = 0
        n_init = 0
        for w in range(W):
            if mode[w] != IDLE:
                n_active += 1
            if mode[w] == INIT:
                n_init += 1
        if n_active == 0:
            break
        tv = vfrom(t)
        if n_init > 0:  # the first stage and the initial step in the lanes that start a segment
            for w in range(W):
                is_init[w] = 1.0 if mode[w] == INIT else 0.0
                span[w] = t_next[w] - t[w]
            call(init, tv, span, is_init, Y, YT, KK, KX, ATOL, P, SEG, ALG, rtol, hs)
            for w in range(W):
                if mode[w] == INIT:
                    h[w] = hs[w]
                    rejected[w] = 0
                    mode[w] = STEP
        # ---- one step attempt in every stepping lane
        n_step = 0
        for w in range(W):
            hs[w] = 0.0
            last[w] = 0
            if mode[w] != STEP:
                continue
            if n_acc[w] + n_rej[w] >= max_steps:
                status[w] = STATUS_MAX_STEPS
            elif h[w] < 1e-12 * max(1.0, abs(t[w])):
                status[w] = STATUS_STEP_UNDERFLOW
            if status[w] != STATUS_OK:
                mode[w] = SEGMENT  # ends the patient at the next pass
                continue
            if t[w] + h[w] >= t_next[w] or t_next[w] - (t[w] + h[w]) < 1e-9 * h[w]:
                h[w] = t_next[w] - t[w]
                last[w] = 1
            hs[w] = h[w]
            t_new[w] = t_next[w] if last[w] else t[w] + h[w]
            n_step += 1
        if n_step == 0:
            continue
        call(step, tv, vfrom(hs), vfrom(t_new), Y, YN, YT, KK, ATOL, P, SEG, ALG, rtol, ERR)
        # ---- accept or reject, lane by lane (ERR: the error norm, then the factor SAFETY norm^(-1/order))
        for w in range(W):
            accepted[w] = 0.0
            if hs[w] == 0.0:
                continue
            hw = hs[w]
            en = ERR[0, w]
            if not math.isfinite(en):
                if hw < 1e-9:
                    status[w] = STATUS_NONFINITE
                    mode[w] = SEGMENT
                    continue
                h[w] = hw * MIN_FACTOR
                rejected[w] = 1
                n_rej[w] += 1
                continue
            if en > 1.0:
                h[w] = hw * max(MIN_FACTOR, ERR[1, w])
                rejected[w] = 1
                n_rej[w] += 1
                continue
            accepted[w] = 1.0
            n_acc[w] += 1
            i = pat[w]
            tw = t[w]
            # dense output for save points in (t, t_new] before the segment end (the end is saved post-event)
            while js[w] < ns and ts_l[js[w]] <= t_new[w] and ts_l[js[w]] < t_next[w]:
                call(dense, (ts_l[js[w]] - tw) / hw, hw, Y, KK, w, ys[i, js[w]])
                for k in range(nseg):
                    SSEG[w * ns + js[w], k] = SEG[k, w]
                js[w] += 1
            h[w] = hw * factor(en, ERR[1, w], rejected[w] != 0)
            rejected[w] = 0
            t[w] = t_new[w]
        # accepted lanes move on: y <- y_new, first stage <- last stage. Whole rows when every lane moves (most
        # steps), else lane by lane: a vector select stored back in place compiles to masked stores, which are slow.
        n_moved = 0
        for w in range(W):
            if accepted[w] > 0.0:
                n_moved += 1
        lastrow = (S - 1) * n
        if n_moved == W:
            for k in range(n):
                st(Y, k, ld(YN, k))
                st(KK, k, ld(KK, lastrow + k))
        elif n_moved > 0:
            for w in range(W):
                if accepted[w] > 0.0:
                    for k in range(n):
                        Y[k, w] = YN[k, w]
                        KK[k, w] = KK[lastrow + k, w]
        for w in range(W):
            if accepted[w] > 0.0 and last[w]:
                mode[w] = SEGMENT
    _keep_alive(st_own, kk_own, ATOL_own, P_own, SEG_own, ALG_own, ERR_own, PA_own, SA_own)


_WORKERS = [max(1, os.cpu_count() or 1)]


def set_workers(n: int) -> None:
    """Threads used by :func:`solve` (results never depend on it)."""
    _WORKERS[0] = max(1, int(n))


def solve(rhs: int, event: int, step: int, init: int, dense: int, nseg: int, nalg: int, y0: np.ndarray, p: np.ndarray, ev_t: np.ndarray,
          ev_k: np.ndarray, ev_a: np.ndarray, ev_b: np.ndarray, t0: float, t_end: float, t_save: np.ndarray,
          rtol: float, atol: np.ndarray, max_steps: int, tableau: Tableau = TSIT5
          ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Solve every patient (rows of y0, p and the event arrays) on worker threads (the kernel releases the GIL), with
    the model's right-hand side, event function, ``tableau``'s step attempt, initial step and dense output at the
    given addresses. Returns (ys:
    patient x save time x state, algebraic outputs, segment descriptions at the save times, stats: status /
    accepted / rejected steps)."""
    npat = y0.shape[0]
    ns = t_save.shape[0]
    ys = np.zeros((npat, ns, y0.shape[1]))
    als = np.zeros((npat, ns, nalg))
    sg = np.zeros((npat, ns, nseg))
    stats = np.zeros((npat, 3), dtype=np.int64)
    workers = min(_WORKERS[0], npat)
    parts = [np.arange(w, npat, workers, dtype=np.int64) for w in range(workers)]  # interleaved: balanced threads
    args = (rhs, event, step, init, dense, nseg, nalg, np.ascontiguousarray(tableau.dense),
            np.ascontiguousarray(y0), np.ascontiguousarray(p), ev_t, np.ascontiguousarray(ev_k, dtype=np.int64), ev_a,
            ev_b, float(t0), float(t_end), t_save, float(rtol), np.ascontiguousarray(atol, dtype=float),
            int(max_steps))
    if workers <= 1:
        for rows in parts:
            solve_lanes(*args, rows, ys, als, sg, stats)
    else:
        with ThreadPoolExecutor(workers) as pool:
            list(pool.map(lambda rows: solve_lanes(*args, rows, ys, als, sg, stats), parts))
    return ys, als, sg, stats
