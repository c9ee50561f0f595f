"""Isotonic regression (pool-adjacent-violators) and the BOIN-family MTD selection rule.

``select_mtd_boin`` follows ``select.mtd`` of the BOIN R package 2.7.2 (Liu & Yuan 2015; Yan et al. 2020, J Stat
Softw 94(13)), also used by the Keyboard package's ``select.mtd.kb``:

1. Dose elimination from the final data: the lowest dose j with n_j >= 3 and Pr(p_j > target | Beta(1, 1) prior) >
   ``cutoff_eli`` and every dose above it are eliminated; with ``extrasafe`` the lowest dose is also eliminated
   when that probability exceeds ``cutoff_eli - offset``. No dose is selected if the lowest dose is eliminated.
2. For the treated, non-eliminated doses, posterior means under a Beta(0.05, 0.05) prior,
   phat = (y + 0.05) / (n + 0.1), with variance (y + 0.05)(n - y + 0.05) / ((n + 0.1)^2 (n + 1.1)).
3. PAVA with weights 1 / variance, then ``phat + i * 1e-10`` (i = 1, 2, ...) so that among tied pooled estimates
   the lower dose wins above the target and the higher dose wins below it; the MTD is the dose whose estimate is
   closest to the target (first one on an exact tie).
4. ``bound_mtd``: only doses with estimate <= lambda_d are eligible (no selection if none).
"""

from __future__ import annotations

import numpy as np
from scipy.special import betainc


def prob_above(target: float, y, n, a: float = 1.0, b: float = 1.0):
    """Pr(p > target) under a Beta(a + y, b + n - y) posterior, computed as 1 - pbeta like the R packages."""
    y = np.asarray(y, dtype=float)
    n = np.asarray(n, dtype=float)
    return 1.0 - betainc(y + a, n - y + b, target)


def pava(x, w=None) -> np.ndarray:
    """Weighted isotonic (non-decreasing) fit by pooling adjacent violators, first violation first (weights default
    to 1): the array interface of :func:`_pava_list`, which does the pooling."""
    x = np.array(x, dtype=float)
    n = x.size
    if n <= 1:
        return x
    w = np.ones(n) if w is None else np.asarray(w, dtype=float)
    if np.isnan(x).any() or np.isnan(w).any():
        raise ValueError("pava: missing values in x or weights")
    return np.array(_pava_list(x.tolist(), w.tolist()), dtype=float)


def beta_posterior_estimates(y: np.ndarray, n: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Posterior mean and variance of a DLT rate under the Beta(0.05, 0.05) prior of ``select.mtd``."""
    y = np.asarray(y, dtype=float)
    n = np.asarray(n, dtype=float)
    mean = (y + 0.05) / (n + 0.1)
    var = (y + 0.05) * (n - y + 0.05) / ((n + 0.1) ** 2 * (n + 0.1 + 1))
    return mean, var


def eliminated_from(target: float, n, y, cutoff_eli: float = 0.95, extrasafe: bool = False,
                    offset: float = 0.05) -> np.ndarray:
    """Boolean per dose: eliminated for toxicity by the final-data rule of ``select.mtd``."""
    n = np.asarray(n)
    y = np.asarray(y)
    k = n.size
    elim = np.zeros(k, dtype=bool)
    pa = prob_above(target, y, n)
    for i in range(k):
        if n[i] >= 3 and pa[i] > cutoff_eli:
            elim[i:] = True
            break
    if extrasafe and n[0] >= 3 and pa[0] > cutoff_eli - offset:
        elim[:] = True
    return elim


def select_mtd_boin(target: float, n, y, *, cutoff_eli: float = 0.95, extrasafe: bool = False,
                    offset: float = 0.05, bound_mtd: bool = False, lambda_d: float | None = None) -> int:
    """MTD (1-based dose level, 0 = none) by the isotonic rule of BOIN's ``select.mtd`` (see module docstring)."""
    n = np.asarray(n, dtype=np.int64)
    y = np.asarray(y, dtype=np.int64)
    elim = eliminated_from(target, n, y, cutoff_eli, extrasafe, offset)
    if elim[0] or n[~elim].sum() == 0:
        return 0
    adm = np.flatnonzero((n != 0) & ~elim)
    phat, var = beta_posterior_estimates(y[adm], n[adm])
    phat = pava(phat, 1.0 / var)
    phat = phat + np.arange(1, phat.size + 1) * 1e-10
    if bound_mtd:
        if lambda_d is None:
            raise ValueError("bound_mtd needs lambda_d")
        keep = phat <= lambda_d
        if not keep.any():
            return 0
        phat = phat[keep]
    return int(adm[int(np.argmin(np.abs(phat - target)))] + 1)


def isotonic_estimates(target: float, n, y) -> dict[str, list]:
    """Per-dose summaries for the advisor: isotonic DLT estimate, 95% interval and Pr(overdose) (untreated: None).

    The interval is the Beta(0.05 + y, 0.05 + n - y) 2.5% / 97.5% quantiles (as ``select.mtd`` prints, without
    isotonic smoothing of the bounds); Pr(overdose) = Pr(p > target) under that posterior, made monotone by PAVA.
    """
    from scipy.stats import beta as beta_dist

    n = np.asarray(n, dtype=np.int64)
    y = np.asarray(y, dtype=np.int64)
    tr = np.flatnonzero(n > 0)
    est: list = [None] * n.size
    lo: list = [None] * n.size
    hi: list = [None] * n.size
    pod: list = [None] * n.size
    if tr.size:
        mean, var = beta_posterior_estimates(y[tr], n[tr])
        iso = pava(mean, 1.0 / var)
        a, b = y[tr] + 0.05, n[tr] - y[tr] + 0.05
        over = pava(beta_dist.sf(target, a, b))
        for j, i in enumerate(tr):
            est[i] = float(iso[j])
            lo[i] = float(beta_dist.ppf(0.025, a[j], b[j]))
            hi[i] = float(beta_dist.ppf(0.975, a[j], b[j]))
            pod[i] = float(over[j])
    return {"isotonic_dlt_rate": est, "ci95_low": lo, "ci95_high": hi, "prob_overdose": pod}


def _pava_list(x: list[float], w: list[float]) -> list[float]:
    """Weighted PAVA on plain lists (``x`` is pooled in place and returned): the one implementation, behind
    :func:`pava` and the simulators' :func:`select_mtd_from_counts` (pure Python: fast for a handful of doses).

    The order of pooling (first violation first, a pooled level's weighted mean summed in dose order) follows the
    ``pava`` helper of the BOIN package.
    """
    n = len(x)
    level = list(range(n))
    while True:
        i = next((k for k in range(n - 1) if x[k + 1] - x[k] < 0), -1)
        if i < 0:
            return x
        a, b = level[i], level[i + 1]
        idx = [k for k in range(n) if level[k] == a or level[k] == b]
        v = sum(x[k] * w[k] for k in idx) / sum(w[k] for k in idx)
        for k in idx:
            x[k] = v
            level[k] = a


def select_mtd_from_counts(target: float, n: list[int], y: list[int], first_eliminated: int,
                           lambda_d: float | None = None) -> int:
    """``select_mtd_boin`` for plain lists when the eliminated doses are known (index of the lowest one, or
    len(n) if none): the simulators' fast path. ``lambda_d`` set = ``bound_mtd``."""
    if first_eliminated == 0 or sum(n[:first_eliminated]) == 0:
        return 0
    adm = [i for i in range(first_eliminated) if n[i] != 0]
    phat = [(y[i] + 0.05) / (n[i] + 0.1) for i in adm]
    wts = [((n[i] + 0.1) ** 2 * (n[i] + 0.1 + 1)) / ((y[i] + 0.05) * (n[i] - y[i] + 0.05)) for i in adm]
    phat = _pava_list(phat, wts)
    phat = [p + (k + 1) * 1e-10 for k, p in enumerate(phat)]
    if lambda_d is not None:
        keep = [k for k, p in enumerate(phat) if p <= lambda_d]
        if not keep:
            return 0
        phat = [phat[k] for k in keep]
    dist = [abs(p - target) for p in phat]
    return adm[dist.index(min(dist))] + 1
