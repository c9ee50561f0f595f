"""Straightforward per-trial loop of BOIN's ``get.oc`` (BOIN R package 2.7.2), one patient cohort at a time.

Kept as an independent cross-check of the vectorised simulator (same outcome model, so the same patients and the
same decisions trial by trial) and as the baseline of ``benchmarks/trial_boin_speed.py``.
"""

from __future__ import annotations

import numpy as np

from nksim.trial.boin import BOIN
from nksim.trial.outcomes import PatientOutcomeModel


def boin_trial_loop(design: BOIN, model: PatientOutcomeModel, n_trials: int) -> tuple[np.ndarray, np.ndarray,
                                                                                        np.ndarray, np.ndarray]:
    """Simulate trials one by one with Python scalars. Returns (selected, n, y, early_stop) per trial."""
    K, N, cs = design.n_doses, design.max_n, design.cohort_size
    be, bd, bel = (a.tolist() for a in design.tables(N))
    sel = np.zeros(n_trials, dtype=np.int64)
    n_all = np.zeros((n_trials, K), dtype=np.int64)
    y_all = np.zeros((n_trials, K), dtype=np.int64)
    early = np.zeros(n_trials, dtype=bool)
    stop_tab = design.stop_boundary(N).tolist() if design.extrasafe else None
    for t in range(n_trials):
        y = [0] * K
        n = [0] * K
        elim = [False] * K
        d = design.start_dose - 1
        stop = False
        fill = False
        if design.titration and cs > 1:
            for k in range(K):
                tox = int(model.outcomes(np.array([t]), np.array([k]), np.array([k + 1])).dlt[0])
                n[k], y[k], d = 1, tox, k
                if tox:
                    break
            fill = True
        for _ in range(design.n_cohorts):
            m = cs - 1 if fill else min(cs, N - sum(n))
            fill = False
            if m <= 0:
                break
            pid = np.arange(sum(n), sum(n) + m)
            out = model.outcomes(np.full(m, t), pid, np.full(m, d + 1))
            y[d] += int(out.dlt.sum())
            n[d] += m
            if sum(n) >= N:
                break
            nd, yd = n[d], y[d]
            if nd >= 3 and yd >= bel[nd]:
                for j in range(d, K):
                    elim[j] = True
                if d == 0:
                    stop = True
                    break
            if stop_tab is not None and bel[nd] < 10**6 and d == 0 and nd >= 3 and yd >= stop_tab[nd]:
                stop = True
                break
            nxt_elim = d == K - 1 or elim[d + 1]
            if nd >= design.n_earlystop and ((be[nd] < yd < bd[nd]) or (d == 0 and yd >= bd[nd])
                                             or (nxt_elim and yd <= be[nd])):
                break
            if yd <= be[nd] and d != K - 1:
                if not elim[d + 1]:
                    d += 1
            elif yd >= bd[nd] and d != 0:
                d -= 1
        n_all[t], y_all[t], early[t] = n, y, stop
        sel[t] = 0 if stop else design.select(np.array(n), np.array(y))
    return sel, n_all, y_all, early
