"""CRM: the continual reassessment method (O'Quigley, Pepe & Fisher 1990, Biometrics 46:33), as in R's dfcrm.

Models (Cheung 2011, "Dose Finding by the Continual Reassessment Method"; dfcrm 0.2-2 ``crm``):
- power ("empiric"): p_k(a) = s_k ^ exp(a);
- logistic: p_k(a) = 1 / (1 + exp(-c - exp(a) x_k)) with x_k = logit(s_k) - c, c = ``intcpt`` (default 3);
s = skeleton, prior a ~ Normal(0, scale^2) with scale = sqrt(1.34). The posterior mean of a is plugged in
(p_k = p_k(E[a | data])) and the next dose is the one whose estimate is closest to the target.

Conduct as dfcrm ``crmsim`` (one-stage Bayesian CRM, cohorts of ``cohort_size`` starting at ``start_dose``) with
``restrict=True``: no skipping (at most one level above the last dose) and coherence (no escalation right after a
cohort whose DLT rate is >= target). Optional stopping rules (off by default, as in dfcrm): stop for safety when
Pr(p_1 > target | data) > ``stop_tox_prob`` (no MTD), and stop when ``n_earlystop`` patients have been treated
at the recommended dose. Skeletons by indifference intervals (Lee & Cheung 2009, Clin Trials 6:227): :func:`getprior`.

Integrals use a fixed trapezoid grid on [-10, 10] (dfcrm integrates adaptively over the same range; the two agree
to ~1e-9 in the posterior mean), so the posterior of every simulated trial is one matrix product.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cached_property
from typing import ClassVar

import numpy as np
from scipy.special import expit

from nksim.errors import InputError
from nksim.trial.base import CohortState, Design

_GRID = np.linspace(-10.0, 10.0, 1601)


def getprior(halfwidth: float, target: float, nu: int, n_levels: int, model: str = "empiric",
             intcpt: float = 3.0) -> np.ndarray:
    """Skeleton by the indifference-interval method of Lee & Cheung (2009), as dfcrm ``getprior``.

    halfwidth: half-width delta of the indifference interval target +- delta; nu: prior MTD (1-based).
    """
    if not 0 < halfwidth < min(target, 1 - target):
        raise InputError("halfwidth", halfwidth, f"a number in (0, {min(target, 1 - target):g})")
    if not 1 <= nu <= n_levels:
        raise InputError("prior_mtd", nu, f"a dose level in 1..{n_levels}")
    lo, hi = target - halfwidth, target + halfwidth
    x = np.empty(n_levels)
    i = nu - 1
    if model == "empiric":
        x[i] = target
        for k in range(i, 0, -1):
            b = math.log(math.log(hi) / math.log(x[k]))
            x[k - 1] = math.exp(math.log(lo) / math.exp(b))
        for k in range(i, n_levels - 1):
            b = math.log(math.log(lo) / math.log(x[k]))
            x[k + 1] = math.exp(math.log(hi) / math.exp(b))
        return x
    if model == "logistic":
        x[i] = math.log(target / (1 - target)) - intcpt
        for k in range(i, 0, -1):
            b = math.log((math.log(hi / (1 - hi)) - intcpt) / x[k])
            x[k - 1] = (math.log(lo / (1 - lo)) - intcpt) / math.exp(b)
        for k in range(i, n_levels - 1):
            b = math.log((math.log(lo / (1 - lo)) - intcpt) / x[k])
            x[k + 1] = (math.log(hi / (1 - hi)) - intcpt) / math.exp(b)
        return 1.0 / (1.0 + np.exp(-intcpt - x))
    raise InputError("model", model, "'empiric' (power) or 'logistic'")


@dataclass(frozen=True)
class CRM(Design):
    """Bayesian one-parameter CRM. ``skeleton`` None = getprior(0.05, target, ceil(K/2), K)."""

    name: ClassVar[str] = "crm"
    skeleton: tuple[float, ...] | None = None
    model: str = "empiric"
    intcpt: float = 3.0
    scale: float = math.sqrt(1.34)
    restrict: bool = True
    stop_tox_prob: float | None = None
    n_earlystop: int | None = None

    def __post_init__(self) -> None:
        self._check_common()
        if self.model not in ("empiric", "logistic"):
            raise InputError("model", self.model, "'empiric' (power) or 'logistic'")
        sk = self.skel
        if sk.size != self.n_doses or np.any(np.diff(sk) <= 0) or sk[0] <= 0 or sk[-1] >= 1:
            raise InputError("skeleton", list(sk), f"{self.n_doses} increasing probabilities in (0, 1)")
        if self.model == "logistic" and not np.all(np.log(sk / (1 - sk)) - self.intcpt < 0):
            raise InputError("intcpt", self.intcpt, "an intercept with logit(skeleton) - intcpt < 0 (dfcrm)")
        if not self.scale > 0:
            raise InputError("scale", self.scale, "a positive prior standard deviation")
        if self.stop_tox_prob is not None and not 0.5 < self.stop_tox_prob < 1:
            raise InputError("stop_tox_prob", self.stop_tox_prob, "a probability in (0.5, 1) or None")

    @property
    def skel(self) -> np.ndarray:
        if self.skeleton is None:
            return getprior(0.05, self.target, (self.n_doses + 1) // 2, self.n_doses)
        return np.asarray(self.skeleton, dtype=float)

    def ptox_at(self, a: np.ndarray) -> np.ndarray:
        """p_k(a), shape (..., K) for a of shape (...)."""
        a = np.asarray(a, dtype=float)[..., None]
        sk = self.skel
        if self.model == "empiric":
            return sk ** np.exp(a)
        x = np.log(sk / (1 - sk)) - self.intcpt
        return expit(self.intcpt + np.exp(a) * x)

    @cached_property
    def _log_terms(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """log p_k(a), log(1 - p_k(a)) on the grid (K, G), and the log prior density (G)."""
        a = _GRID
        sk = self.skel[:, None]
        if self.model == "empiric":
            lp = np.exp(a)[None, :] * np.log(sk)
            lq = np.log(-np.expm1(lp))
        else:
            x = np.log(sk / (1 - sk)) - self.intcpt
            eta = self.intcpt + np.exp(a)[None, :] * x
            lp = -np.logaddexp(0.0, -eta)
            lq = -np.logaddexp(0.0, eta)
        return lp, lq, -0.5 * (a / self.scale) ** 2

    def posterior(self, n: np.ndarray, y: np.ndarray) -> dict[str, np.ndarray]:
        """Posterior mean / variance of a, plug-in p_k and Pr(p_1 > target) for counts of shape (T, K)."""
        lp, lq, lprior = self._log_terms
        n = np.atleast_2d(n).astype(float)
        y = np.atleast_2d(y).astype(float)
        ll = y @ lp + (n - y) @ lq + lprior
        ll -= ll.max(axis=1, keepdims=True)
        w = np.exp(ll)
        w /= w.sum(axis=1, keepdims=True)
        mean = w @ _GRID
        var = w @ _GRID**2 - mean**2
        p1_above = w @ (self.ptox_at(_GRID)[:, 0] > self.target).astype(float)
        return {"a_mean": mean, "a_var": var, "ptox": self.ptox_at(mean), "prob_dose1_above_target": p1_above}

    def recommend(self, n: np.ndarray, y: np.ndarray) -> np.ndarray:
        """Dose (1-based) with plug-in estimate closest to the target, per row."""
        ptox = self.posterior(n, y)["ptox"]
        return np.argmin(np.abs(ptox - self.target), axis=1) + 1

    def _posterior_unique(self, n: np.ndarray, y: np.ndarray) -> dict[str, np.ndarray]:
        """``posterior`` evaluated once per distinct count pattern (many simulated trials share one)."""
        uniq, inv = np.unique(np.concatenate([n, y], axis=1), axis=0, return_inverse=True)
        k = n.shape[1]
        post = self.posterior(uniq[:, :k], uniq[:, k:])
        return {key: v[inv.ravel()] for key, v in post.items()}

    def decide(self, s: CohortState, rows: np.ndarray) -> None:
        post = self._posterior_unique(s.n[rows], s.y[rows])
        rec = np.argmin(np.abs(post["ptox"] - self.target), axis=1) + 1
        d = s.dose[rows]
        if self.restrict:
            coherent = s.last_y[rows] >= self.target * np.maximum(s.last_m[rows], 1)
            rec = np.where(coherent, np.minimum(rec, d), np.minimum(rec, d + 1))
        s.dose[rows] = rec
        if self.stop_tox_prob is not None:
            unsafe = post["prob_dose1_above_target"] > self.stop_tox_prob
            s.active[rows[unsafe]] = False
            s.early_stop[rows[unsafe]] = True
        if self.n_earlystop is not None:
            enough = s.n[rows, rec - 1] >= self.n_earlystop
            s.active[rows[enough]] = False

    def select(self, n: np.ndarray, y: np.ndarray, r: np.ndarray | None = None) -> int:
        if np.sum(n) == 0:
            return 0
        return int(self.recommend(n, y)[0])

    def select_batch(self, s: CohortState) -> np.ndarray:
        ptox = self._posterior_unique(s.n, s.y)["ptox"]
        out = np.argmin(np.abs(ptox - self.target), axis=1) + 1
        out[s.early_stop] = 0
        return out
