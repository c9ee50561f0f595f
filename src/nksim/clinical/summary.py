"""Cohort summary: response rates, median PFS/OS, CRS, ICANS and DLT rates, each with a 95% interval.

Rates carry exact Clopper-Pearson intervals (beta quantiles); medians come from the Kaplan-Meier estimator
(lifelines) with the interval of lifelines' ``median_survival_times`` on the pointwise confidence band (an
infinite bound or estimate means "not reached"). Response rates use the patients with measurable disease at
baseline as denominator (NE counts as non-response); the DLT rate uses the DLT-evaluable patients (a DLT, or
followed alive through the window); other safety rates use every patient. Patients whose solve failed
(``solver_status`` != 0) are left out of every estimate and counted in a "solver failures" row; candidates screened
out at enrollment are counted in a "screen failures" row. Stratification by a column (e.g. a
biomarker such as antigen_GPC3) answers patient-selection questions.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import pandas as pd

from nksim.errors import InputError
from nksim.stats import clopper_pearson as clopper_pearson  # defined in nksim.stats; still importable from here

SUMMARY_COLUMNS = ["metric", "estimate", "ci_low", "ci_high", "n_events", "n", "unit"]


def km_median(durations: np.ndarray, events: np.ndarray, alpha: float = 0.05) -> tuple[float, float, float]:
    """Kaplan-Meier median and its (1 - alpha) interval (lifelines); inf = not reached; nan if no patients."""
    durations = np.asarray(durations, dtype=float)
    if durations.size == 0:
        return float("nan"), float("nan"), float("nan")
    from lifelines import KaplanMeierFitter
    from lifelines.utils import median_survival_times

    kmf = KaplanMeierFitter(alpha=alpha).fit(durations, np.asarray(events, dtype=bool))
    ci = median_survival_times(kmf.confidence_interval_)
    return float(kmf.median_survival_time_), float(ci.iloc[0, 0]), float(ci.iloc[0, 1])


def _rate(name: str, hits: pd.Series, alpha: float) -> dict:
    n = int(hits.size)
    k = int(hits.sum())
    lo, hi = clopper_pearson(k, n, alpha)
    return {
        "metric": name,
        "estimate": k / n if n else float("nan"),
        "ci_low": lo,
        "ci_high": hi,
        "n_events": k,
        "n": n,
        "unit": "fraction",
    }


def _median(name: str, days: pd.Series, events: pd.Series, alpha: float) -> dict:
    m, lo, hi = km_median(days.to_numpy(), events.to_numpy(), alpha)
    return {
        "metric": name,
        "estimate": m,
        "ci_low": lo,
        "ci_high": hi,
        "n_events": int(events.sum()),
        "n": int(days.size),
        "unit": "days",
    }


def _summary_rows(df: pd.DataFrame, alpha: float) -> list[dict]:
    rows: list[dict] = []
    failed = None
    if "solver_status" in df:  # a patient whose solve failed has no readouts: counted, then left out
        failed = df["solver_status"].fillna(0) != 0
        df = df[~failed]
        df = df.astype({c: ("bool" if str(t) == "boolean" else "int64") for c, t in df.dtypes.items()
                        if str(t) in ("boolean", "Int64")})
    evaluable = df[df["measurable"]] if "measurable" in df else df
    bor = evaluable["best_response"]
    rows.append(_rate("ORR", bor.isin(["CR", "PR"]), alpha))
    rows.append(_rate("CR rate", bor.eq("CR"), alpha))
    rows.append(_rate("DCR", bor.isin(["CR", "PR", "SD"]), alpha))
    rows.append(_median("median PFS", df["pfs_days"], df["pfs_event"], alpha))
    rows.append(_median("median OS", df["os_days"], df["os_event"], alpha))
    if "rfs_days" in df:  # adjuvant setting (nksim.clinical.recurrence)
        rows.append(_median("median RFS", df["rfs_days"], df["rfs_event"], alpha))
    rows.append(_rate("CRS any grade", df["crs_grade"] >= 1, alpha))
    rows.append(_rate("CRS grade>=3", df["crs_grade"] >= 3, alpha))
    rows.append(_rate("ICANS any grade", df["icans_grade"] >= 1, alpha))
    rows.append(_rate("ICANS grade>=3", df["icans_grade"] >= 3, alpha))
    dlt_pop = df[df["dlt_evaluable"].astype(bool)] if "dlt_evaluable" in df else df
    rows.append(_rate("DLT rate", dlt_pop["dlt"].astype(bool), alpha))
    if "gvhd_grade" in df:
        rows.append(_rate("GvHD grade>=2", df["gvhd_grade"] >= 2, alpha))
    if "detected" in df:
        rows.append(_rate("product detected", df["detected"].astype(bool), alpha))
    if "screen_failures" in df:  # candidates screened out at enrollment (nksim.population.screening)
        k = int(df["screen_failures"].sum())
        rows.append({"metric": "screen failures", "estimate": float(k), "ci_low": np.nan, "ci_high": np.nan,
                     "n_events": k, "n": int(len(df)) + k, "unit": "candidates"})
    if failed is not None:
        k = int(failed.sum())
        rows.append({"metric": "solver failures", "estimate": float(k), "ci_low": np.nan, "ci_high": np.nan,
                     "n_events": k, "n": int(failed.size), "unit": "patients"})
    return rows


def summarize(
    outcomes: pd.DataFrame,
    by: str | None = None,
    bins: int | Sequence[float] | None = None,
    alpha: float = 0.05,
) -> pd.DataFrame:
    """Tidy summary (one row per metric, and per stratum when ``by`` is given).

    ``by``: an outcome-table column (e.g. ``antigen_GPC3``). ``bins``: None groups by the column's values when
    it has at most 10 distinct values, else by quartiles; an int asks for that many quantile groups; a
    sequence gives bin edges (intervals closed on the right, lowest edge included).
    """
    needed = [
        "best_response",
        "pfs_days",
        "pfs_event",
        "os_days",
        "os_event",
        "crs_grade",
        "icans_grade",
        "dlt",
    ]
    missing = [c for c in needed if c not in outcomes.columns]
    if missing:
        raise InputError("outcomes.columns", missing, "an outcome table from nksim.clinical.outcomes()")
    if not 0 < alpha < 1:
        raise InputError("alpha", alpha, "a number in (0, 1)")
    if by is None:
        return pd.DataFrame(_summary_rows(outcomes, alpha), columns=SUMMARY_COLUMNS)
    if by not in outcomes.columns:
        raise InputError(
            "by",
            by,
            f"an outcome-table column, e.g. {[c for c in outcomes.columns if c.startswith('antigen_')][:3]}",
        )
    col = outcomes[by]
    if bins is None and col.nunique(dropna=True) <= 10:
        groups = col
    elif bins is None or isinstance(bins, (int, np.integer)):
        q = 4 if bins is None else int(bins)
        if q < 1:
            raise InputError("bins", bins, "a positive number of quantile groups or a list of edges")
        groups = pd.qcut(col, q=q, duplicates="drop")
    else:
        edges = list(bins)
        if len(edges) < 2 or any(b <= a for a, b in zip(edges, edges[1:])):
            raise InputError("bins", bins, "at least two strictly increasing bin edges")
        groups = pd.cut(col, bins=edges, include_lowest=True)
    frames = []
    for key, part in outcomes.groupby(groups, observed=True, sort=True):
        f = pd.DataFrame(_summary_rows(part, alpha), columns=SUMMARY_COLUMNS)
        f.insert(0, by, str(key) if isinstance(key, pd.Interval) else key)
        frames.append(f)
    return pd.concat(frames, ignore_index=True)
