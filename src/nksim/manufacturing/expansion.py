"""Stochastic NK growth curves by expansion method, calibrated to published day-21 medians.

Growth law (per donor): d ln N / dt = r exp(-t / tau), so ln F(t) = r tau (1 - exp(-t / tau)): log-phase growth
whose rate decays with a senescence time scale tau (tau -> infinity: pure exponential, Denman 2012 mbIL21;
finite tau: plateau, mbIL15 limited by telomere shortening). Donor-to-donor variability: r = r_med exp(cv_r z1),
tau = tau_med exp(cv_tau z2), z ~ N(0, 1). Only r_med is calibrated, so that the median day-21 fold equals the
published median (ln F is proportional to r_med, so this is exact); the spreads cv_r and cv_tau are assumptions,
which makes Denman's mean/median ratios a held-out check. NK-92 is a line: ln F = ln 2 t / T_d.
"""

from __future__ import annotations

import math
from functools import lru_cache

import numpy as np
from scipy.stats import norm

from nksim.errors import InputError
from nksim.manufacturing.params import Params

CALIBRATION_DAY = 21.0
FOLD21 = {
    "mbil21": "mfg_fold21_median_mbil21",
    "mbil15_41bbl": "mfg_fold21_median_mbil15",
    "pbmc_feeder": "mfg_fold21_median_pbmc_feeder",
    "il2_alone": "mfg_fold21_median_il2_alone",
    "feeder_free": "mfg_fold21_median_feeder_free",
}
TAU = {
    "mbil21": "mfg_senescence_tau_mbil21_d",
    "mbil15_41bbl": "mfg_senescence_tau_mbil15_d",
    "pbmc_feeder": "mfg_senescence_tau_other_d",
    "il2_alone": "mfg_senescence_tau_other_d",
    "feeder_free": "mfg_senescence_tau_other_d",
}
FEEDER_METHODS = ("mbil21", "mbil15_41bbl", "pbmc_feeder")


def log_fold(t: np.ndarray | float, r: float, tau: float) -> np.ndarray | float:
    """ln fold expansion after t days for growth rate r (/d) and senescence time scale tau (d)."""
    if isinstance(t, (int, float)):
        if t < 0:
            raise InputError("days", float(t), "a non-negative number of days in culture")
        return r * tau * -math.expm1(-t / tau)
    t = np.asarray(t, dtype=float)
    if np.any(t < 0):
        raise InputError("days", float(np.min(t)), "a non-negative number of days in culture")
    return r * tau * -np.expm1(-t / tau)


@lru_cache(maxsize=64)
def _median_growth_factor(cv_r: float, cv_tau: float, tau_med: float, day: float, n: int = 401) -> float:
    """Median over donors of exp(cv_r z1) tau (1 - exp(-day/tau)), tau = tau_med exp(cv_tau z2) (quantile grid)."""
    z = norm.ppf((np.arange(n) + 0.5) / n)
    a = np.exp(cv_r * z)[:, None]
    tau = tau_med * np.exp(cv_tau * z)[None, :]
    x = (a * tau * -np.expm1(-day / tau)).ravel()
    return float(np.median(x))


def growth_rate_median(method: str, p: Params, cv_r: float | None = None, cv_tau: float | None = None) -> float:
    """Calibrated median growth rate r_med (/d): the median day-21 fold equals the registry's published median."""
    if method not in FOLD21:
        raise InputError("expansion.method", method, f"one of {sorted(FOLD21)}")
    cv_r = p["mfg_donor_growth_rate_cv"] if cv_r is None else cv_r
    cv_tau = p["mfg_donor_senescence_cv"] if cv_tau is None else cv_tau
    target = np.log(p[FOLD21[method]])
    return float(target / _median_growth_factor(cv_r, cv_tau, p[TAU[method]], CALIBRATION_DAY))


def donor_growth(method: str, p: Params, rng: np.random.Generator, vessel: str = "flask") -> tuple[float, float]:
    """A donor's (r, tau) for a primary-NK method (draws two normals from ``rng``)."""
    z1, z2 = rng.standard_normal(2)
    r = growth_rate_median(method, p) * np.exp(p["mfg_donor_growth_rate_cv"] * z1)
    if vessel == "bioreactor":
        r *= p["mfg_bioreactor_rate_factor"]
    tau = p[TAU[method]] * np.exp(p["mfg_donor_senescence_cv"] * z2)
    return float(r), float(tau)


def nk92_growth(p: Params, rng: np.random.Generator, vessel: str = "flask") -> tuple[float, float]:
    """(r, tau) of an NK-92 culture: r = ln 2 / T_d with a small lot-to-lot spread, no senescence."""
    td = p["mfg_nk92_doubling_time_d"] * np.exp(np.sqrt(p.omega2("mfg_nk92_doubling_time_d")) * rng.standard_normal())
    r = np.log(2.0) / td
    if vessel == "bioreactor":
        r *= p["mfg_bioreactor_rate_factor"]
    return float(r), float("inf")


def log_fold_any(t: np.ndarray | float, r: float, tau: float) -> np.ndarray | float:
    """ln fold for finite or infinite tau."""
    if isinstance(t, (int, float)) and math.isinf(tau):
        if t < 0:
            raise InputError("days", float(t), "a non-negative number of days in culture")
        return r * t
    if np.isinf(tau):
        t = np.asarray(t, dtype=float)
        if np.any(t < 0):
            raise InputError("days", float(np.min(t)), "a non-negative number of days in culture")
        return r * t
    return log_fold(t, r, tau)


def fold_expansion_samples(method: str, day: float, n: int, p: Params, seed: int = 0) -> np.ndarray:
    """Fold expansions at ``day`` for ``n`` donors (for calibration checks), via the lot random streams."""
    from nksim.rng import stream

    if day < 0:
        raise InputError("day", day, "a non-negative number of days in culture")
    out = np.empty(n)
    for k in range(n):
        r, tau = donor_growth(method, p, stream(seed, "manufacturing-calibration", k))
        out[k] = np.exp(log_fold_any(day, r, tau))
    return out
