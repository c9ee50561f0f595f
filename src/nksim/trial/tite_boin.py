"""TITE-BOIN: BOIN for late-onset toxicity (Yuan, Lin, Li, Nie & Warren 2018, Clin Cancer Res 24:4921), in the
approximated-likelihood form of Lin & Yuan 2020 (Biostatistics 21:807) implemented by the R package TITEgBOIN
(``get_oc_TITE_QuasiBOIN`` / ``next_TITE_QuasiBOIN`` with TITE = TRUE and uniform prior on the DLT time).

Patients enter one at a time (Poisson accrual; gaps from the outcome model's keyed streams) and the next dose is
decided at each new arrival, while earlier patients may still be pending (inside their DLT window, no DLT yet):

- effective sample size at a dose: ESS = n - c + STFT, with c pending patients and STFT the sum of their
  follow-up fractions (follow-up / window); observed DLT rate p = y / ESS (y = DLTs observed so far);
- suspend accrual (wait for the next arrival) when more than ``max_pending_fraction`` (0.5) of the patients at
  the current dose are pending, and when de-escalation is called for at dose 1 while patients are pending;
- elimination: n >= 3 and Pr(p > target | y, n; Beta(1, 1)) > 0.95 with n (not ESS), as TITEgBOIN does; if the
  current dose is eliminated move to the dose below it (stop with no MTD if it is dose 1);
- otherwise the BOIN rule with lambda_e / lambda_d on p; n_earlystop as BOIN;
- after the last cohort the trial ends one DLT window after the last entry; the MTD is chosen by BOIN's isotonic
  rule on the complete data.
DLT onset days come from the :class:`PatientOutcomeModel` (``dlt_day``), so in mechanistic mode they are the
kinetic model's onset days.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from nksim.errors import InputError
from nksim.trial.base import TrialResults
from nksim.trial.boin import BOIN
from nksim.trial.outcomes import CHANNEL_ARRIVAL, PatientOutcomeModel, arrival_gaps, keyed_uniforms
from nksim.trial.isotonic import prob_above

_WAIT_OFFSET = 1_000_000  # key offset of the arrival gaps drawn while accrual is suspended


@dataclass(frozen=True)
class TITEBOIN(BOIN):
    """TITE-BOIN; ``decide`` (all outcomes known) is BOIN's, ``simulate`` runs the time-to-event conduct."""

    name: ClassVar[str] = "tite-boin"
    max_pending_fraction: float = 0.5
    dlt_window_days: float = 28.0  # used by the advisor; simulations take the outcome model's window

    def __post_init__(self) -> None:
        super().__post_init__()
        if not 0 < self.max_pending_fraction <= 0.65:
            raise InputError("max_pending_fraction", self.max_pending_fraction, "a fraction in (0, 0.65] (TITEgBOIN)")
        if not self.dlt_window_days > 0:
            raise InputError("dlt_window_days", self.dlt_window_days, "a positive number of days")

    def tite_decision(self, d: int, n: np.ndarray, y_obs: np.ndarray, pending: np.ndarray, stft: np.ndarray,
                      eliminated: np.ndarray) -> tuple[int, str]:
        """One TITE-BOIN decision at current dose d (1-based). Returns (next dose, status) with status in
        'go', 'suspend', 'stop' (no MTD) or 'done' (n_earlystop)."""
        K = self.n_doses
        lam_e, lam_d = self.lambdas
        pa = prob_above(self.target, y_obs, n)
        for j in range(K):
            if n[j] >= 3 and pa[j] > self.cutoff_eli:
                eliminated[j:] = True
                break
        if self.extrasafe and d == 1 and n[0] >= 3 and pa[0] > self.cutoff_eli - self.offset:
            return 0, "stop"
        if eliminated[d - 1]:
            low = int(np.flatnonzero(eliminated)[0])
            return (0, "stop") if low == 0 else (low, "go")
        k = d - 1
        if pending[k] > n[k] * self.max_pending_fraction:
            return d, "suspend"
        ess = n[k] - pending[k] + stft[k]
        p = y_obs[k] / ess if pending[k] else y_obs[k] / n[k]
        if p <= lam_e:
            nxt = d if d == K or eliminated[d] else d + 1
        elif p >= lam_d:
            if d == 1:
                return 1, ("suspend" if pending[k] else ("done" if n[k] >= self.n_earlystop else "go"))
            nxt = d - 1
        else:
            nxt = d
        if n[k] >= self.n_earlystop and nxt == d:
            return d, "done"
        return nxt, "go"

    def simulate(self, model: PatientOutcomeModel, n_trials: int, *, first_trial: int = 0,
                 accrual_gap_days: float = 7.0) -> TrialResults:
        """Simulate TITE-BOIN trials patient by patient (a loop over trials; cohorts of outcomes are batched)."""
        K, N, W = self.n_doses, self.max_n, float(model.dlt_window_days)
        seed = int(getattr(model, "seed", 0))
        T = int(n_trials)
        res_n = np.zeros((T, K), dtype=np.int64)
        res_y = np.zeros((T, K), dtype=np.int64)
        res_r = np.zeros((T, K), dtype=np.int64)
        early = np.zeros(T, dtype=bool)
        n_tot = np.zeros(T, dtype=np.int64)
        dur = np.zeros(T)
        dose_path = np.zeros((T, N), dtype=np.int8)
        dlt_path = np.zeros((T, N), dtype=np.int8)
        for t in range(T):
            tid = first_trial + t
            gaps = arrival_gaps(seed, np.full(N, tid), np.arange(N), accrual_gap_days)
            waits = -np.log1p(-keyed_uniforms(seed, np.full(4 * N, tid), _WAIT_OFFSET + np.arange(4 * N),
                                              CHANNEL_ARRIVAL)) * accrual_gap_days
            n_wait = 0
            doses: list[int] = []
            entry = np.zeros(N)
            dlt = np.zeros(N, dtype=bool)
            onset = np.full(N, np.inf)
            resp = np.zeros(N, dtype=np.int64)
            d, clock, stopped = int(self.start_dose), 0.0, False
            eliminated = np.zeros(K, dtype=bool)
            for c in range(int(self.n_cohorts)):
                m = min(int(self.cohort_size), N - len(doses))
                if m <= 0:
                    break
                j0 = len(doses)
                for j in range(j0, j0 + m):
                    entry[j] = clock if j == j0 else entry[j - 1] + gaps[j]
                out = model.outcomes(np.full(m, tid), np.arange(j0, j0 + m), np.full(m, d))
                dlt[j0:j0 + m] = out.dlt.astype(bool)
                onset[j0:j0 + m] = np.where(out.dlt.astype(bool), out.dlt_day, np.inf)
                resp[j0:j0 + m] = out.response
                doses.extend([d] * m)
                clock = entry[j0 + m - 1]
                if len(doses) >= N:
                    break
                while True:
                    clock += waits[n_wait % waits.size]
                    n_wait += 1
                    dv = np.asarray(doses)
                    e = entry[: dv.size]
                    seen = dlt[: dv.size] & (e + onset[: dv.size] <= clock)
                    pend = ~seen & (e + W > clock)
                    fu = np.clip(clock - e, 0, W) / W
                    n = np.bincount(dv - 1, minlength=K)
                    y_obs = np.bincount(dv - 1, weights=seen, minlength=K).astype(np.int64)
                    c_pend = np.bincount(dv - 1, weights=pend, minlength=K).astype(np.int64)
                    stft = np.bincount(dv - 1, weights=np.where(pend, fu, 0.0), minlength=K)
                    d, status = self.tite_decision(d, n, y_obs, c_pend, stft, eliminated)
                    if status != "suspend":
                        break
                if status in ("stop", "done"):
                    stopped = True
                    early[t] = status == "stop"
                    break
            m_all = len(doses)
            dv = np.asarray(doses, dtype=np.int64)
            res_n[t] = np.bincount(dv - 1, minlength=K)
            res_y[t] = np.bincount(dv - 1, weights=dlt[:m_all], minlength=K)
            res_r[t] = np.bincount(dv - 1, weights=resp[:m_all], minlength=K)
            n_tot[t] = m_all
            dur[t] = entry[m_all - 1] + W if not stopped or m_all else clock
            dose_path[t, :m_all] = dv
            dlt_path[t, :m_all] = dlt[:m_all]
        sel = np.array([0 if early[t] else self.select(res_n[t], res_y[t]) for t in range(T)], dtype=np.int64)
        return TrialResults(design=self.name, n=res_n, y=res_y, r=res_r, selected=sel, early_stop=early,
                            n_total=n_tot, duration_days=dur, dose_path=dose_path, dlt_path=dlt_path)
