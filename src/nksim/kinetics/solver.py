"""Batched, compiled Runge-Kutta 5(4) integrator with error control, exact dosing discontinuities and dense output.

Each patient is integrated independently. A worker thread runs W patients at once, one per vector lane
(:mod:`nksim.kinetics.rhs_lanes`), each lane with its own time, step size, step control and events; when a lane's
patient is done, the thread's next patient takes the lane. Lanes never mix, so results do not depend on chunking,
thread count or which patients share a vector. Between events the solver takes adaptive steps (Tsitouras 2011 5(4)
pair with its dense output, standard step-size controller as in Hairer, Norsett & Wanner); at an event time it stops
exactly, applies the jump and restarts. Values on the save grid come from the dense output (post-event values at
event times); the algebraic outputs at the save points are evaluated afterwards, W at a time.
"""

from __future__ import annotations

import math
import os
from concurrent.futures import ThreadPoolExecutor

import numpy as np
from numba import njit, typeof, types

from nksim.kinetics import layout as L
from nksim.kinetics.lanes import (
    W,
    add,
    borrowed,
    fma,
    lane,
    ld,
    mul,
    splat,
    sqrt,
    st,
    vabs,
    vexp,
    vfrom,
    vlog,
    vmax,
)
from nksim.kinetics.lanes import div as vdiv
from nksim.kinetics.rhs import apply_event, lung_pool
from nksim.kinetics.rhs_lanes import rhs4

# Tsitouras 5(4) pair (Ch. Tsitouras, Comput. Math. Appl. 62 (2011) 770-775) with its dense-output polynomials, as
# tabulated to double precision in OrdinaryDiffEq.jl (Tsit5). On the benchmark scenarios it takes 6-16% fewer step
# attempts than Dormand-Prince 5(4) at the same tolerance.
C2, C3, C4, C5 = 0.161, 0.327, 0.9, 0.9800255409045097
A21 = 0.161
A31, A32 = -0.008480655492356989, 0.335480655492357
A41, A42, A43 = 2.8971530571054935, -6.359448489975075, 4.3622954328695815
A51, A52, A53, A54 = 5.325864828439257, -11.748883564062828, 7.4955393428898365, -0.09249506636175525
A61, A62, A63, A64, A65 = (5.86145544294642, -12.92096931784711, 8.159367898576159, -0.071584973281401,
                           -0.028269050394068383)
B1, B2, B3, B4, B5, B6 = (0.09646076681806523, 0.01, 0.4798896504144996, 1.379008574103742, -3.290069515436081,
                          2.324710524099774)
# error weights b - b_hat (stage 7 is the first stage of the next step)
E1, E2, E3, E4, E5, E6, E7 = (-0.00178001105222577714, -0.0008164344596567469, 0.007880878010261995,
                              -0.1447110071732629, 0.5823571654525552, -0.45808210592918697, 0.015151515151515152)
# y(t + x h) = y + h sum_s k_s (DENSE[s, 0] x + DENSE[s, 1] x^2 + DENSE[s, 2] x^3 + DENSE[s, 3] x^4)
DENSE = np.array([
    [1.0, -2.763706197274826, 2.9132554618219126, -1.0530884977290216],
    [0.0, 0.13169999999999998, -0.2234, 0.1017],
    [0.0, 3.9302962368947516, -5.941033872131505, 2.490627285651253],
    [0.0, -12.411077166933676, 30.33818863028232, -16.548102889244902],
    [0.0, 37.50931341651104, -88.1789048947664, 47.37952196281928],
    [0.0, -27.896526289197286, 65.09189467479366, -34.87065786149661],
    [0.0, 1.5, -4.0, 2.5],
])
SAFETY, MIN_FACTOR, MAX_FACTOR = 0.9, 0.2, 10.0

STATUS_OK, STATUS_MAX_STEPS, STATUS_STEP_UNDERFLOW, STATUS_NONFINITE = 0, 1, 2, 3


# what a lane does next
IDLE, SEGMENT, INIT, STEP = 0, 1, 2, 3


@njit(cache=True)
def _load(w: int, i: int, y0: np.ndarray, p: np.ndarray, ev_t: np.ndarray, ev_k: np.ndarray, ev_a: np.ndarray,
          ev_b: np.ndarray, Y: np.ndarray, P: np.ndarray, PL: np.ndarray, EVT: np.ndarray, EVK: np.ndarray,
          EVA: np.ndarray, EVB: np.ndarray) -> None:
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


@njit(cache=True, error_model="numpy")
def _rms_col(A: np.ndarray, w: int, scale: np.ndarray) -> float:
    s = 0.0
    for k in range(scale.shape[0]):
        v = A[k, w] / scale[k]
        s += v * v
    return math.sqrt(s / scale.shape[0])


@njit(cache=True, error_model="numpy")
def _algebraic(i: int, n_saved: int, pl: np.ndarray, nl: int, nc: int, t_save: np.ndarray, ys: np.ndarray,
               als: np.ndarray, sseg: np.ndarray, YA: np.ndarray, PA: np.ndarray, SA: np.ndarray, DA: np.ndarray,
               ALG: np.ndarray, tt: np.ndarray) -> None:
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
            for k in range(3):
                SA[k, w] = sseg[j, k]
        rhs4(vfrom(tt), YA, PA, nl, nc, SA, DA, ALG)
        for w in range(min(W, n_saved - j0)):
            for k in range(ALG.shape[0]):
                als[i, j0 + w, k] = ALG[k, w]


@njit(cache=True, error_model="numpy")
def _segment_starts(tv, t: np.ndarray, t_next: np.ndarray, h: np.ndarray, hs: np.ndarray, mode: np.ndarray,
                    rejected: np.ndarray, Y: np.ndarray, YT: np.ndarray, K0: np.ndarray, KX: np.ndarray, P: np.ndarray,
                    nl: int, nc: int, SEG: np.ndarray, ALG: np.ndarray, atol: np.ndarray, rtol: float,
                    scale: np.ndarray) -> None:
    """For the lanes in INIT: the first stage K0 and the initial step size h (Hairer-Norsett-Wanner II.4), then STEP.

    The two right-hand-side evaluations (at y, then at y + h0 f) share one call site in a two-pass loop: LLVM inlines
    the right-hand side at each call site of the kernel, and every copy costs compile time."""
    n = Y.shape[0]
    for r in range(2):
        tt = tv
        src = Y
        if r == 1:
            tt = add(tv, vfrom(hs))
            src = YT
        rhs4(tt, src, P, nl, nc, SEG, KX, ALG)
        for w in range(W):
            if mode[w] != INIT:
                if r == 0:
                    hs[w] = 0.0
                    for k in range(n):
                        YT[k, w] = Y[k, w]
                continue
            for k in range(n):
                scale[k] = atol[k] + abs(Y[k, w]) * rtol
            if r == 0:
                for k in range(n):
                    K0[k, w] = KX[k, w]
                d0 = _rms_col(Y, w, scale)
                d1 = _rms_col(K0, w, scale)
                h0 = 1e-6 if (d0 < 1e-5 or d1 < 1e-5) else 0.01 * d0 / d1
                h0 = min(h0, t_next[w] - t[w])
                hs[w] = h0
                for k in range(n):
                    YT[k, w] = Y[k, w] + h0 * K0[k, w]
            else:
                d1 = _rms_col(K0, w, scale)
                for k in range(n):
                    YT[k, w] = KX[k, w] - K0[k, w]
                d2 = _rms_col(YT, w, scale) / hs[w]
                if max(d1, d2) <= 1e-15:
                    h1 = max(1e-6, hs[w] * 1e-3)
                else:
                    h1 = (0.01 / max(d1, d2)) ** 0.2
                h[w] = min(100 * hs[w], h1)
                rejected[w] = 0
                mode[w] = STEP


@njit(cache=True, error_model="numpy")
def _attempt(tv, hv, tnv, Y: np.ndarray, YN: np.ndarray, YT: np.ndarray, K0: np.ndarray, K1: np.ndarray,
             K2: np.ndarray, K3: np.ndarray, K4: np.ndarray, K5: np.ndarray, K6: np.ndarray, ATOL: np.ndarray,
             P: np.ndarray, nl: int, nc: int, SEG: np.ndarray, ALG: np.ndarray, rtol: float):
    """One Tsitouras 5(4) step in every lane from (tv, Y, K0) with steps hv (0 in idle lanes) to tnv: the stages
    K1..K6, the new state YN, and the sum over states of the squared scaled error estimate (a vector)."""
    n = Y.shape[0]
    # stages: y + sum_j (h a_ij) k_j as chains of fused multiply-adds
    for k in range(n):
        st(YT, k, fma(mul(hv, splat(A21)), ld(K0, k), ld(Y, k)))
    rhs4(add(tv, mul(splat(C2), hv)), YT, P, nl, nc, SEG, K1, ALG)
    h31, h32 = mul(hv, splat(A31)), mul(hv, splat(A32))
    for k in range(n):
        st(YT, k, fma(h32, ld(K1, k), fma(h31, ld(K0, k), ld(Y, k))))
    rhs4(add(tv, mul(splat(C3), hv)), YT, P, nl, nc, SEG, K2, ALG)
    h41, h42, h43 = mul(hv, splat(A41)), mul(hv, splat(A42)), mul(hv, splat(A43))
    for k in range(n):
        st(YT, k, fma(h43, ld(K2, k), fma(h42, ld(K1, k), fma(h41, ld(K0, k), ld(Y, k)))))
    rhs4(add(tv, mul(splat(C4), hv)), YT, P, nl, nc, SEG, K3, ALG)
    h51, h52, h53, h54 = mul(hv, splat(A51)), mul(hv, splat(A52)), mul(hv, splat(A53)), mul(hv, splat(A54))
    for k in range(n):
        acc = fma(h52, ld(K1, k), fma(h51, ld(K0, k), ld(Y, k)))
        st(YT, k, fma(h54, ld(K3, k), fma(h53, ld(K2, k), acc)))
    rhs4(add(tv, mul(splat(C5), hv)), YT, P, nl, nc, SEG, K4, ALG)
    h61, h62, h63 = mul(hv, splat(A61)), mul(hv, splat(A62)), mul(hv, splat(A63))
    h64, h65 = mul(hv, splat(A64)), mul(hv, splat(A65))
    for k in range(n):
        acc = fma(h63, ld(K2, k), fma(h62, ld(K1, k), fma(h61, ld(K0, k), ld(Y, k))))
        st(YT, k, fma(h65, ld(K4, k), fma(h64, ld(K3, k), acc)))
    rhs4(add(tv, hv), YT, P, nl, nc, SEG, K5, ALG)
    b1, b2, b3 = mul(hv, splat(B1)), mul(hv, splat(B2)), mul(hv, splat(B3))
    b4, b5, b6 = mul(hv, splat(B4)), mul(hv, splat(B5)), mul(hv, splat(B6))
    for k in range(n):
        acc = fma(b3, ld(K2, k), fma(b2, ld(K1, k), fma(b1, ld(K0, k), ld(Y, k))))
        st(YN, k, fma(b6, ld(K5, k), fma(b5, ld(K4, k), fma(b4, ld(K3, k), acc))))
    rhs4(tnv, YN, P, nl, nc, SEG, K6, ALG)
    # embedded error estimate: RMS over states of err / (atol + rtol max(|y|, |y_new|)), lane by lane
    e1, e2, e3, e4 = mul(hv, splat(E1)), mul(hv, splat(E2)), mul(hv, splat(E3)), mul(hv, splat(E4))
    e5, e6, e7 = mul(hv, splat(E5)), mul(hv, splat(E6)), mul(hv, splat(E7))
    err2 = splat(0.0)
    for k in range(n):
        e = fma(e4, ld(K3, k), fma(e3, ld(K2, k), fma(e2, ld(K1, k), mul(e1, ld(K0, k)))))
        e = fma(e7, ld(K6, k), fma(e6, ld(K5, k), fma(e5, ld(K4, k), e)))
        e = vdiv(e, fma(vmax(vabs(ld(Y, k)), vabs(ld(YN, k))), splat(rtol), ld(ATOL, k)))
        err2 = fma(e, e, err2)
    return err2


@njit(cache=True)
def _keep_alive(*arrays) -> int:
    """A use of the arrays whose borrowed views the caller worked with, so that they are freed only after it."""
    return len(arrays)


@njit(nogil=True, cache=True, error_model="numpy")
def _solve_lanes(y0: np.ndarray, p: np.ndarray, nl: int, nc: int, ev_t: np.ndarray, ev_k: np.ndarray,
                 ev_a: np.ndarray, ev_b: np.ndarray, t0: float, t_end: float, t_save: np.ndarray, rtol: float,
                 atol: np.ndarray, max_steps: int, rows: np.ndarray, ys: np.ndarray, als: np.ndarray,
                 stats: np.ndarray) -> None:
    """Integrate patients ``rows`` from t0 to t_end, W at a time; fill ys, als and stats (status, accepted and
    rejected steps) at those rows."""
    n = y0.shape[1]
    npar = p.shape[1]
    nev = ev_t.shape[1]
    ns = t_save.shape[0]
    nrows = rows.shape[0]
    # lane arrays (rows x lanes): state, new state, stage input, the seven stages, scratch stage, atol. The loop works
    # on borrowed views (no atomic reference counting in its calls); the owners live to the end (_keep_alive).
    stage_own = np.zeros((12, n, W))
    stage = borrowed(stage_own)
    Y, YN, YT = stage[0], stage[1], stage[2]
    K0, K1, K2, K3, K4, K5, K6 = stage[3], stage[4], stage[5], stage[6], stage[7], stage[8], stage[9]
    KX, ATOL = stage[10], stage[11]
    for k in range(n):
        for w in range(W):
            ATOL[k, w] = atol[k]
    P_own = np.zeros((npar, W))
    SEG_own = np.zeros((3, W))
    ALG_own = np.zeros((L.NALG, W))
    P, SEG, ALG = borrowed(P_own), borrowed(SEG_own), borrowed(ALG_own)
    # per-lane copies of the patient's parameters and events, for the scalar event code
    PL = np.zeros((W, npar))
    EVT = np.zeros((W, nev))
    EVK = np.zeros((W, nev), dtype=np.int64)
    EVA = np.zeros((W, nev))
    EVB = np.zeros((W, nev))
    SSEG = np.zeros((W * ns, 3))  # the segment description at each save point (lane w: rows w ns ...)
    # small buffers as rows of two arrays: every distinct numpy constructor signature costs compile time
    vecs = np.zeros((2, n))
    ybuf = vecs[0]
    scale = vecs[1]
    ts_l = t_save.copy()
    PA_own = np.zeros((npar, W))
    SA_own = np.zeros((3, W))
    PA, SA = borrowed(PA_own), borrowed(SA_own)
    # per-lane control: floats, then integers (flags as 0/1)
    ctl = np.zeros((8, max(W, 7)))
    t = ctl[0]
    h = ctl[1]
    hs = ctl[2]  # step of this attempt (0 in lanes that do not step)
    t_next = ctl[3]
    t_new = ctl[4]
    accepted = ctl[5]  # 1.0 in the lanes whose step is accepted
    tt = ctl[6]  # scratch: save times of the algebraic outputs
    b = ctl[7]  # dense-output weights
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
            while mode[w] == SEGMENT or (mode[w] == IDLE and nxt < nrows):
                if mode[w] == IDLE:  # the thread's next patient takes the lane
                    pat[w] = rows[nxt]
                    nxt += 1
                    _load(w, pat[w], y0, p, ev_t, ev_k, ev_a, ev_b, Y, P, PL, EVT, EVK, EVA, EVB)
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
                    while ke[w] < nev and EVK[w, ke[w]] != L.EV_NONE and EVT[w, ke[w]] <= tw:
                        for k in range(n):
                            ybuf[k] = Y[k, w]
                        apply_event(tw, ybuf, PL[w], nl, nc, EVK[w, ke[w]], EVA[w, ke[w]], EVB[w, ke[w]], EVT[w],
                                    EVK[w], EVA[w], EVB[w])
                        for k in range(n):
                            Y[k, w] = ybuf[k]
                        ke[w] += 1
                    SEG[0, w] = tw
                    lung_t, lung_u = lung_pool(tw, tw, PL[w], EVT[w], EVK[w], EVA[w], EVB[w])
                    SEG[1, w] = lung_t
                    SEG[2, w] = lung_u
                    while js[w] < ns and ts_l[js[w]] <= tw:
                        for k in range(n):
                            ys[i, js[w], k] = Y[k, w] if Y[k, w] > 0.0 else 0.0
                        for k in range(3):
                            SSEG[w * ns + js[w], k] = SEG[k, w]
                        js[w] += 1
                if status[w] != STATUS_OK or tw >= t_end:
                    _algebraic(i, js[w], PL[w], nl, nc, ts_l, ys, als, SSEG[w * ns:(w + 1) * ns], YT, PA, SA, KX, ALG,
                               tt)
                    stats[i, 0] = status[w]
                    stats[i, 1] = n_acc[w]
                    stats[i, 2] = n_rej[w]
                    mode[w] = IDLE
                    continue
                t_next[w] = t_end
                if ke[w] < nev and EVK[w, ke[w]] != L.EV_NONE and EVT[w, ke[w]] < t_end:
                    t_next[w] = EVT[w, ke[w]]
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
        # ---- lanes that start a segment: the first stage, then the initial step
        if n_init > 0:
            _segment_starts(tv, t, t_next, h, hs, mode, rejected, Y, YT, K0, KX, P, nl, nc, SEG, ALG, atol, rtol, scale)
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
        err2 = _attempt(tv, vfrom(hs), vfrom(t_new), Y, YN, YT, K0, K1, K2, K3, K4, K5, K6, ATOL, P, nl, nc, SEG, ALG,
                        rtol)
        # ---- accept or reject, lane by lane (the step-size factor SAFETY en**-0.2 for all lanes at once)
        env = sqrt(mul(err2, splat(1.0 / n)))
        grow = mul(splat(SAFETY), vexp(mul(splat(-0.2), vlog(env))))
        for w in range(W):
            accepted[w] = 0.0
            if hs[w] == 0.0:
                continue
            hw = hs[w]
            en = lane(env, w)
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
                h[w] = hw * max(MIN_FACTOR, lane(grow, w))
                rejected[w] = 1
                n_rej[w] += 1
                continue
            accepted[w] = 1.0
            n_acc[w] += 1
            i = pat[w]
            tw = t[w]
            # dense output for save points in (t, t_new] before the segment end (the end is saved post-event)
            while js[w] < ns and ts_l[js[w]] <= t_new[w] and ts_l[js[w]] < t_next[w]:
                x = (ts_l[js[w]] - tw) / hw
                for s in range(7):
                    b[s] = DENSE[s, 0] * x + DENSE[s, 1] * x * x + DENSE[s, 2] * x ** 3 + DENSE[s, 3] * x ** 4
                for k in range(n):
                    v = Y[k, w] + hw * (b[0] * K0[k, w] + b[1] * K1[k, w] + b[2] * K2[k, w] + b[3] * K3[k, w]
                                        + b[4] * K4[k, w] + b[5] * K5[k, w] + b[6] * K6[k, w])
                    ys[i, js[w], k] = v if v > 0.0 else 0.0
                for k in range(3):
                    SSEG[w * ns + js[w], k] = SEG[k, w]
                js[w] += 1
            factor = MAX_FACTOR if en == 0.0 else min(MAX_FACTOR, lane(grow, w))
            if rejected[w]:
                factor = min(1.0, factor)
            rejected[w] = 0
            t[w] = t_new[w]
            h[w] = hw * factor
        # accepted lanes move on: y <- y_new, k0 <- k6 (first same as last). Whole rows when every lane moves (most
        # steps), else lane by lane: a vector select stored back in place compiles to masked stores, which are slow.
        n_moved = 0
        for w in range(W):
            if accepted[w] > 0.0:
                n_moved += 1
        if n_moved == W:
            for k in range(n):
                st(Y, k, ld(YN, k))
                st(K0, k, ld(K6, k))
        elif n_moved > 0:
            for w in range(W):
                if accepted[w] > 0.0:
                    for k in range(n):
                        Y[k, w] = YN[k, w]
                        K0[k, w] = K6[k, w]
        for w in range(W):
            if accepted[w] > 0.0 and last[w]:
                mode[w] = SEGMENT
    _keep_alive(stage_own, P_own, SEG_own, ALG_own, PA_own, SA_own)


_ONE_LESION: dict = {}


def _kernel(args: tuple):
    """The compiled kernel for these arguments (y0 ... stats of :func:`_solve_lanes`).

    With one lesion, :func:`_solve_lanes` compiled with the lesion and antigen-class counts as constants: the
    right-hand side's loops over them unroll and its values stay in registers (10-17% faster). One compilation per
    class count, cached on disk, resolved once per process. Configurations with more lesions use the general kernel,
    where unrolling would multiply the code and its compile time."""
    if args[2] != 1:
        return _solve_lanes
    sig = tuple(types.literal(int(a)) if i in (2, 3) else typeof(a) for i, a in enumerate(args))
    fn = _ONE_LESION.get(sig)
    if fn is None:
        fn = _ONE_LESION[sig] = _solve_lanes.compile(sig)
    return fn


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
    kernel = _kernel(args + (parts[0], ys, als, stats))
    if workers == 1:
        kernel(*args, parts[0], ys, als, stats)
    else:
        with ThreadPoolExecutor(workers) as pool:
            list(pool.map(lambda rows: kernel(*args, rows, ys, als, stats), parts))
    return ys, als, stats
