"""SALib sampling and analysis on the unit cube, independent of the engine (tested on the Ishigami function).

``design(problem, method, n, seed)`` gives the sample matrix X (rows in [0, 1]^d, SALib's own designs) and
``analyze(problem, method, X, Y, seed)`` the indices as a tidy table: Sobol first-order ``S1`` and total ``ST``
with their 95% bootstrap half-widths ``S1_conf`` / ``ST_conf`` (Saltelli 2010 / Jansen estimators of SALib), or
Morris ``mu_star`` (mean absolute elementary effect, with ``mu_star_conf``), ``mu`` and ``sigma``.
"""

from __future__ import annotations

import math
import warnings
from typing import Any

import numpy as np
import pandas as pd

from nksim.errors import InputError

METHODS = ("sobol", "morris")
MORRIS_LEVELS = 4
RESAMPLES = 200


def check_method(method: str) -> str:
    if method not in METHODS:
        raise InputError("method", method, f"one of {METHODS}")
    return method


def check_n(method: str, n: int) -> int:
    n = int(n)
    if method == "sobol" and (n < 2 or n & (n - 1)):
        raise InputError("n", n, "a power of 2 >= 2 for Sobol (base samples of the Sobol' sequence), "
                                 "e.g. 64, 256, 1024")
    if method == "morris" and n < 2:
        raise InputError("n", n, "an integer >= 2 (Morris trajectories)")
    return n


def n_rows(method: str, n: int, d: int, second_order: bool = False) -> int:
    """How many model evaluations a design needs."""
    if method == "sobol":
        return n * (2 * d + 2 if second_order else d + 2)
    return n * (d + 1)


def design(problem: dict, method: str, n: int, seed: int, second_order: bool = False) -> np.ndarray:
    """The SALib design on the problem's bounds: Sobol' (Saltelli's scheme, scrambled, ``n`` base samples) or Morris
    (``n`` trajectories on a 4-level grid). Same seed, same matrix."""
    check_method(method)
    check_n(method, n)
    if method == "sobol":
        from SALib.sample import sobol as s_sobol

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return s_sobol.sample(problem, n, calc_second_order=second_order, scramble=True, seed=seed)
    from SALib.sample import morris as s_morris

    return s_morris.sample(problem, n, num_levels=MORRIS_LEVELS, seed=seed)


def analyze(problem: dict, method: str, X: np.ndarray, Y: np.ndarray, seed: int,
            second_order: bool = False) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Indices of one output ``Y`` (one value per row of ``X``) as a table (one row per parameter) and a note dict
    (``{"constant": True}`` when Y does not vary: every index is 0 then; ``{"nonfinite": k}`` when k values
    were not finite: an error, the caller decides what a readout that cannot be computed means)."""
    check_method(method)
    Y = np.asarray(Y, dtype=float)
    names = list(problem["names"])
    bad = int((~np.isfinite(Y)).sum())
    if bad:
        raise InputError("outputs", f"{bad} non-finite values of {Y.size}", "finite values for every sample")
    if np.ptp(Y) <= 1e-12 * max(1.0, float(np.abs(Y).max())):
        cols = (["S1", "S1_conf", "ST", "ST_conf"] if method == "sobol" else ["mu_star", "mu_star_conf", "mu", "sigma"])
        return pd.DataFrame({"parameter": names, **{c: 0.0 for c in cols}}), {"constant": True}
    if method == "sobol":
        from SALib.analyze import sobol as a_sobol

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            r = a_sobol.analyze(problem, Y, calc_second_order=second_order, num_resamples=RESAMPLES,
                                conf_level=0.95, seed=seed)
        df = pd.DataFrame({"parameter": names, "S1": r["S1"], "S1_conf": r["S1_conf"],
                           "ST": r["ST"], "ST_conf": r["ST_conf"]})
        note: dict[str, Any] = {"variance": float(np.var(Y))}
        if second_order:
            note["S2"] = np.nan_to_num(np.asarray(r["S2"]), nan=0.0).tolist()
        return df, note
    from SALib.analyze import morris as a_morris

    r = a_morris.analyze(problem, np.asarray(X, dtype=float), Y, num_levels=MORRIS_LEVELS, conf_level=0.95,
                         num_resamples=RESAMPLES, seed=seed)
    df = pd.DataFrame({"parameter": names, "mu_star": r["mu_star"], "mu_star_conf": r["mu_star_conf"],
                       "mu": r["mu"], "sigma": r["sigma"]})
    return df, {"variance": float(np.var(Y))}


def rank_key(method: str) -> str:
    return "ST" if method == "sobol" else "mu_star"


def top_drivers(table: pd.DataFrame, method: str, k: int = 3) -> list[tuple[str, float]]:
    key = rank_key(method)
    t = table.sort_values(key, ascending=False).head(k)
    return [(str(p), float(v)) for p, v in zip(t["parameter"], t[key]) if math.isfinite(v)]


def ishigami(X: np.ndarray, a: float = 7.0, b: float = 0.1) -> np.ndarray:
    """Ishigami function on x in [-pi, pi]^3 (analytic Sobol indices in :func:`ishigami_indices`)."""
    x1, x2, x3 = X[:, 0], X[:, 1], X[:, 2]
    return np.sin(x1) + a * np.sin(x2) ** 2 + b * x3 ** 4 * np.sin(x1)


def ishigami_indices(a: float = 7.0, b: float = 0.1) -> dict[str, tuple[float, float]]:
    """Analytic (S1, ST) of the Ishigami function."""
    v1 = 0.5 * (1 + b * math.pi ** 4 / 5) ** 2
    v2 = a ** 2 / 8
    v13 = b ** 2 * math.pi ** 8 * (1 / 18 - 1 / 50)
    v = v1 + v2 + v13
    return {"x1": (v1 / v, (v1 + v13) / v), "x2": (v2 / v, v2 / v), "x3": (0.0, v13 / v)}
