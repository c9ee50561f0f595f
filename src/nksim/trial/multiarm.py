"""Randomized multi-arm dose / schedule comparison (dose-optimisation trials, e.g. FDA Project Optimus).

:func:`analyze_arms` takes one row per patient (arm, PFS time, progression/death indicator, response 0/1) - from
:func:`simulate_randomized` or from virtual patients of the cohort engine - and reports per arm: ORR with the
exact Clopper-Pearson 95% interval, Kaplan-Meier PFS (median with 95% CI, and the curve), and against the
reference arm (the first): log-rank test and Cox hazard ratio with 95% CI (lifelines), plus the all-arm log-rank
test.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from nksim.errors import InputError
from nksim.rng import stream
from nksim.stats import clopper_pearson as _clopper_pearson


@dataclass(frozen=True)
class Arm:
    """A randomized arm: name, true objective response probability and true median PFS (months, exponential)."""

    name: str
    p_response: float
    median_pfs_months: float


def parse_arms(text: str) -> list[Arm]:
    """Arms from 'name:p_response:median_pfs_months,...' (e.g. 'low:0.2:4,high:0.35:6')."""
    arms = []
    for part in [p for p in text.split(",") if p.strip()]:
        bits = part.split(":")
        if len(bits) != 3:
            raise InputError("arms", part, "name:p_response:median_pfs_months")
        try:
            pr, med = float(bits[1]), float(bits[2])
        except ValueError:
            raise InputError("arms", part, "numbers for p_response and median_pfs_months") from None
        if not 0 <= pr <= 1 or not med > 0:
            raise InputError("arms", part, "p_response in [0, 1] and a positive median PFS")
        arms.append(Arm(bits[0].strip(), pr, med))
    if len(arms) < 2:
        raise InputError("arms", text, "at least two arms")
    return arms


def clopper_pearson(x: int, n: int, level: float = 0.95) -> tuple[float, float]:
    """Exact binomial confidence interval (Clopper & Pearson 1934) at confidence ``level``:
    :func:`nksim.stats.clopper_pearson` with alpha = 1 - level ((nan, nan) when n = 0)."""
    return _clopper_pearson(x, n, 1 - level)


def simulate_randomized(arms: list[Arm], n_per_arm: int, *, seed: int = 1, accrual_months: float = 12.0,
                        followup_months: float = 12.0) -> pd.DataFrame:
    """Patients randomized in permuted blocks of one per arm, uniform accrual, exponential PFS, administrative
    censoring at the end of follow-up. Draws keyed by (seed, "trial.multiarm", patient)."""
    k = len(arms)
    rows = []
    for i in range(n_per_arm * k):
        g = stream(seed, "trial.multiarm", i)
        block = stream(seed, "trial.multiarm.block", i // k).permutation(k)
        arm = arms[int(block[i % k])]
        entry = g.uniform(0, accrual_months)
        t = g.exponential(arm.median_pfs_months / np.log(2))
        horizon = accrual_months + followup_months - entry
        rows.append({"arm": arm.name, "pfs_months": min(t, horizon), "progressed": int(t <= horizon),
                     "response": int(g.uniform() < arm.p_response)})
    df = pd.DataFrame(rows)
    df["arm"] = pd.Categorical(df["arm"], categories=[a.name for a in arms])
    return df


def analyze_arms(df: pd.DataFrame, reference: str | None = None) -> dict[str, Any]:
    """ORR, KM PFS, log-rank and hazard ratios by arm (see module docstring). Arms in category order (or order of
    appearance); the reference defaults to the first."""
    from lifelines import CoxPHFitter, KaplanMeierFitter
    from lifelines.exceptions import ConvergenceError
    from lifelines.statistics import logrank_test, multivariate_logrank_test

    need = {"arm", "pfs_months", "progressed", "response"}
    if not need <= set(df.columns):
        raise InputError("columns", sorted(df.columns), "arm, pfs_months, progressed, response")
    names = (list(df["arm"].cat.categories) if isinstance(df["arm"].dtype, pd.CategoricalDtype)
             else list(dict.fromkeys(df["arm"])))
    ref = reference or names[0]
    if ref not in names:
        raise InputError("reference", ref, f"one of the arms {names}")
    out: dict[str, Any] = {"reference": ref, "arms": {}}
    ref_df = df[df["arm"] == ref]
    for name in names:
        a = df[df["arm"] == name]
        x, n = int(a["response"].sum()), len(a)
        km = KaplanMeierFitter().fit(a["pfs_months"], a["progressed"], label=name)
        med = km.median_survival_time_
        from lifelines.utils import median_survival_times

        ci = median_survival_times(km.confidence_interval_).to_numpy().ravel()
        entry: dict[str, Any] = {
            "n": n, "responders": x, "orr": x / n if n else float("nan"), "orr_ci95": clopper_pearson(x, n),
            "median_pfs_months": float(med), "median_pfs_ci95": [float(ci[0]), float(ci[1])],
            "km_time": km.survival_function_.index.to_numpy().round(4).tolist(),
            "km_survival": km.survival_function_.iloc[:, 0].to_numpy().round(6).tolist(),
        }
        if name != ref:
            lr = logrank_test(a["pfs_months"], ref_df["pfs_months"], a["progressed"], ref_df["progressed"])
            both = pd.concat([ref_df, a])
            try:
                cph = CoxPHFitter().fit(
                    pd.DataFrame({"t": both["pfs_months"].to_numpy(), "e": both["progressed"].to_numpy(),
                                  "arm": (both["arm"] == name).astype(float).to_numpy()}), "t", "e")
                hr = float(np.exp(cph.params_["arm"]))
                lo, hi = np.exp(cph.confidence_intervals_.loc["arm"].to_numpy())
            except ConvergenceError:  # no events, or identical arms with too few patients: no hazard ratio
                hr, lo, hi = float("nan"), float("nan"), float("nan")
            entry.update({"logrank_chi2": float(lr.test_statistic), "logrank_p": float(lr.p_value),
                          "hazard_ratio": hr, "hazard_ratio_ci95": [float(lo), float(hi)]})
        out["arms"][name] = entry
    mv = multivariate_logrank_test(df["pfs_months"], df["arm"].astype(str), df["progressed"])
    out["logrank_all_chi2"] = float(mv.test_statistic)
    out["logrank_all_p"] = float(mv.p_value)
    return out
