"""One step attempt of an explicit Runge-Kutta tableau (first stage = last stage of the previous step) in W lanes."""

from __future__ import annotations

import numpy as np
from numba import njit

from nksim.kinetics.integrate.calls import call_rhs
from nksim.kinetics.lanes import add, fma, ld, mul, splat, st, vabs, vmax
from nksim.kinetics.lanes import div as vdiv


@njit(cache=True, error_model="numpy")
def attempt(rhs: int, A: np.ndarray, C: np.ndarray, E: np.ndarray, tv, hv, tnv, Y: np.ndarray, YN: np.ndarray,
            YT: np.ndarray, KK: np.ndarray, HA: np.ndarray, ATOL: np.ndarray, P: np.ndarray, SEG: np.ndarray,
            ALG: np.ndarray, rtol: float):
    """Stages 1..S-1 from (tv, Y) with stage 0 in KK rows 0..n-1 and steps hv (0 in idle lanes); the new state in
    YN, stage s in KK rows s n .. s n + n - 1. Returns the sum over states of the squared scaled error (a vector).

    ``KK`` holds the S stages as one (S n, W) lane array; ``HA`` (S, W) is scratch for h a_sj."""
    n = Y.shape[0]
    s_count = C.shape[0]
    for s in range(1, s_count):
        for j in range(s):
            st(HA, j, mul(hv, splat(A[s, j])))
        last = s == s_count - 1
        for k in range(n):
            acc = ld(Y, k)
            for j in range(s):
                acc = fma(ld(HA, j), ld(KK, j * n + k), acc)
            if last:
                st(YN, k, acc)
            else:
                st(YT, k, acc)
        if last:
            call_rhs(rhs, tnv, YN, P, SEG, KK, s * n, ALG)
        else:
            call_rhs(rhs, add(tv, mul(splat(C[s]), hv)), YT, P, SEG, KK, s * n, ALG)
    # embedded error estimate: RMS over states of err / (atol + rtol max(|y|, |y_new|)), lane by lane
    for j in range(s_count):
        st(HA, j, mul(hv, splat(E[j])))
    err2 = splat(0.0)
    for k in range(n):
        e = mul(ld(HA, 0), ld(KK, k))
        for j in range(1, s_count):
            e = fma(ld(HA, j), ld(KK, j * n + k), e)
        e = vdiv(e, fma(vmax(vabs(ld(Y, k)), vabs(ld(YN, k))), splat(rtol), ld(ATOL, k)))
        err2 = fma(e, e, err2)
    return err2
