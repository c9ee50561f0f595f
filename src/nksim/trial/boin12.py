"""BOIN12: Bayesian optimal interval phase I/II design for the optimal biological dose (Lin, Zhou, Yan, Li & Yuan
2020, JCO Precis Oncol 4:1393).

Why BOIN12 rather than U-BOIN: NK and CAR-NK products are rarely toxic, so dose finding must run on efficacy as
well, and BOIN12 does it in one seamless stage with tabulated rules (the same BOIN toxicity boundaries plus a
rank-based desirability score), whereas U-BOIN needs a separate second stage of randomisation-free expansion and
model-based posterior computations (Zhou, Lee & Yuan 2019, Stat Med 38:5299). BOIN12 also has a public reference
port (``get_boin12`` of the R package escalation, Brock 2021, checked against the paper and the authors' app),
whose rules are followed here:

- utility of a patient outcome (0-100): u1 = 100 (response, no DLT), u2 (no response, no DLT; default 40),
  u3 (response and DLT; default 60), u4 = 0 (DLT, no response) - the paper's defaults;
- desirability of dose j: Pr(u_j > u_b | data) with quasi-binomial pseudo-data x = sum(u * counts) / 100, a
  Beta(1 + x, 1 + n - x) posterior and benchmark u_b = u_bar + (100 - u_bar) / 2, u_bar the utility of a dose
  with DLT rate phi_T and response rate phi_E;
- admissible doses: Pr(p_T > phi_T) < c_T (0.95) and Pr(p_E < phi_E) < c_E (0.9), Beta(1, 1) priors;
- at the current dose with observed DLT rate p: if n > 8, p < lambda_d and dose d + 1 untried, escalate (dose
  exploration); else if p >= lambda_d, de-escalate; else if lambda_e < p < lambda_d and n >= N* (6), go to the
  more desirable of d - 1 and d (admissible ones); else to the most desirable admissible dose among d - 1, d, d + 1
  (highest dose on a tie); no admissible dose stops the trial. These decisions reproduce the paper's worked trial
  and the authors' app on 109 cases (the escalation package's test cases, see tests/test_trial_boin12.py).
  ``safety_stop=True`` (off by default, as in the app) also stops the trial with no selection when the lowest
  dose meets BOIN's elimination rule (n >= 3, Pr(p_T > phi_T) > 0.95).
- OBD (end of trial, the paper's selection step): the MTD is the treated dose whose isotonic DLT rate is closest
  to phi_T (highest on a tie); the OBD is the dose at or below it with the highest estimated utility, computed
  from the isotonic DLT rate and the observed response rate (toxicity and response taken as independent). (The
  escalation port ranks these doses by the desirability score instead, which favours sparsely treated doses.)
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Any, ClassVar

import numpy as np
from scipy.special import betainc

from nksim.errors import InputError
from nksim.trial.base import CohortState, Design
from nksim.trial.boin import boin_lambdas
from nksim.trial.isotonic import pava


@dataclass(frozen=True)
class BOIN12(Design):
    """BOIN12 with the paper's defaults; ``target`` is phi_T, ``phi_e`` the lowest acceptable response rate."""

    name: ClassVar[str] = "boin12"
    uses_efficacy: ClassVar[bool] = True
    target: float = 0.35
    n_cohorts: int = 12
    phi_e: float = 0.25
    u2: float = 40.0
    u3: float = 60.0
    n_star: int = 6
    c_t: float = 0.95
    c_e: float = 0.9
    n_earlystop: int | None = None
    safety_stop: bool = False

    def __post_init__(self) -> None:
        self._check_common()
        if not 0 < self.phi_e < 1:
            raise InputError("phi_e", self.phi_e, "a response rate in (0, 1)")
        for name in ("u2", "u3"):
            if not 0 <= getattr(self, name) <= 100:
                raise InputError(name, getattr(self, name), "a utility in [0, 100]")

    @property
    def benchmark(self) -> float:
        pt, pe = self.target, self.phi_e
        u_bar = 100 * pe * (1 - pt) + self.u2 * (1 - pt) * (1 - pe) + self.u3 * pt * pe
        return u_bar + (100 - u_bar) / 2

    def desirability(self, n, y, r, yr) -> np.ndarray:
        """100 x Pr(utility > benchmark | data) per dose."""
        n, y, r, yr = (np.asarray(a, dtype=float) for a in (n, y, r, yr))
        y1, y3, y4 = r - yr, yr, y - yr
        y2 = n - y - r + yr
        x = (100 * y1 + self.u2 * y2 + self.u3 * y3) / 100
        return 100 * (1 - betainc(1 + x, 1 + n - x, self.benchmark / 100))

    def true_utility(self, p_tox, p_eff) -> np.ndarray:
        pt, pe = np.asarray(p_tox, dtype=float), np.asarray(p_eff, dtype=float)
        return 100 * pe * (1 - pt) + self.u2 * (1 - pt) * (1 - pe) + self.u3 * pt * pe

    def true_target_doses(self, p_tox, p_eff=None) -> np.ndarray:
        """True OBD: the highest-utility dose among those with DLT rate <= phi_T (and response >= phi_E if any)."""
        if p_eff is None:
            return super().true_target_doses(p_tox)
        pt, pe = np.asarray(p_tox, dtype=float), np.asarray(p_eff, dtype=float)
        u = self.true_utility(pt, pe)
        ok = pt <= self.target + 1e-12
        if (ok & (pe >= self.phi_e)).any():
            ok &= pe >= self.phi_e
        if not ok.any():
            return np.array([1])
        best = u[ok].max()
        return np.flatnonzero(ok & (u >= best - 1e-9)) + 1

    def decide(self, s: CohortState, rows: np.ndarray) -> None:
        for i in rows:
            nxt = _decide_one(self, int(s.dose[i]), tuple(s.n[i]), tuple(s.y[i]), tuple(s.r[i]), tuple(s.yr[i]))
            if nxt <= 0:
                s.active[i] = False
                s.early_stop[i] = True
            else:
                if self.n_earlystop is not None and s.n[i, nxt - 1] >= self.n_earlystop:
                    s.active[i] = False
                s.dose[i] = nxt

    def _rule(self, d: int, n, y, r, yr) -> int:
        K = self.n_doses
        n, y, r, yr = (np.asarray(a, dtype=np.int64) for a in (n, y, r, yr))
        lam_e, lam_d = boin_lambdas(self.target)
        if self.safety_stop and n[0] >= 3 and 1 - betainc(y[0] + 1, n[0] - y[0] + 1, self.target) > 0.95:
            return 0
        nd = n[d - 1]
        p = y[d - 1] / nd
        cand = sorted({max(1, d - 1), d, min(K, d + 1)})
        adm = [j for j in cand if not self._inadmissible(j, n, y, r)]
        des = self.desirability(n, y, r, yr)
        if nd > 8 and p < lam_d and d < K and n[d] == 0:
            return d + 1
        if p >= lam_d:
            return max(d - 1, 1)
        if lam_e < p < lam_d and nd >= self.n_star:
            if d - 1 in adm and d in adm:
                return d - 1 if des[d - 2] >= des[d - 1] else d
            return d - 1 if d - 1 in adm else (d if d in adm else 1)
        if not adm:
            return 0
        best = max(des[j - 1] for j in adm)
        return max(j for j in adm if des[j - 1] == best)

    def _inadmissible(self, j: int, n, y, r) -> bool:
        k = j - 1
        too_toxic = 1 - betainc(1 + y[k], 1 + n[k] - y[k], self.target) >= self.c_t
        futile = betainc(1 + r[k], 1 + n[k] - r[k], self.phi_e) >= self.c_e
        return bool(too_toxic or futile)

    def select(self, n: np.ndarray, y: np.ndarray, r: np.ndarray | None = None,
               yr: np.ndarray | None = None) -> int:
        """OBD from counts per dose; ``yr`` (responses with a DLT) defaults to 0."""
        n = np.asarray(n, dtype=np.int64)
        z = np.zeros_like(n)
        key = tuple(np.concatenate([n, y, z if r is None else r, z if yr is None else yr]).tolist())
        return _select_one(self, key, self.n_doses)

    def select_batch(self, s: CohortState) -> np.ndarray:
        out = np.zeros(s.n.shape[0], dtype=np.int64)
        keys = np.concatenate([s.n, s.y, s.r, s.yr], axis=1)
        ok = ~s.early_stop
        if ok.any():
            uniq, inv = np.unique(keys[ok], axis=0, return_inverse=True)
            K = self.n_doses
            sel = [_select_one(self, tuple(u), K) for u in uniq]
            out[ok] = np.asarray(sel)[inv.ravel()]
        return out

    def posterior_extra(self, n, y, r, yr) -> dict[str, Any]:
        return {"desirability_score": self.desirability(n, y, r, yr).round(3).tolist()}


@lru_cache(maxsize=500_000)
def _decide_one(design: BOIN12, d: int, n: tuple, y: tuple, r: tuple, yr: tuple) -> int:
    return design._rule(d, n, y, r, yr)


@lru_cache(maxsize=200_000)
def _select_one(design: BOIN12, key: tuple, K: int) -> int:
    a = np.asarray(key, dtype=np.int64)
    n, y, r = a[:K], a[K:2 * K], a[2 * K:3 * K]
    given = np.flatnonzero(n > 0)
    if given.size == 0:
        return 0
    iso = pava(y[given] / n[given])
    dist = np.abs(iso - design.target)
    last = int(np.flatnonzero(dist == dist.min())[-1])
    util = design.true_utility(iso[: last + 1], r[given[: last + 1]] / n[given[: last + 1]])
    return int(given[int(np.argmax(util))]) + 1
