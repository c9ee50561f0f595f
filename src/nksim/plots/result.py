"""Plots of a simulation result (``res.plot(kind)``): the nksim patient table and trajectories turned into the
plain tables and arrays the plotting functions take, with the thresholds of the run's response criteria."""

from __future__ import annotations

import re
from typing import Any, Mapping

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from nksim.errors import InputError
from nksim.plots._common import RESPONSE_COLORS
from nksim.plots.pk import pk_matrix
from nksim.plots.response import spider_matrix, swimmer, waterfall
from nksim.plots.survival import kaplan_meier

_SCAN = re.compile(r"^(resp|burden)_d(\d+(?:\.\d+)?)$")
KINDS = ("spider", "waterfall", "swimmer", "pfs", "os", "pk")  # and "rfs" for a result of the adjuvant setting


def scan_columns(patients: pd.DataFrame, kind: str) -> list[tuple[float, str]]:
    """(day, column) of the per-scan ``resp_d<day>`` or ``burden_d<day>`` columns, by day."""
    out = []
    for c in patients.columns:
        m = _SCAN.match(str(c))
        if m and m.group(1) == kind:
            out.append((float(m.group(2)), c))
    return sorted(out)


def best_response(patients: pd.DataFrame) -> np.ndarray:
    r = patients["best_response"].astype(object)
    return np.array([v if v in RESPONSE_COLORS else "NE" for v in r.where(r.notna(), "NE")], dtype=object)


def need(patients: pd.DataFrame, cols: list[str], what: str) -> None:
    if not isinstance(patients, pd.DataFrame):
        raise InputError("patients", type(patients).__name__, "a pandas DataFrame (nksim.simulate(...).patients)")
    missing = [c for c in cols if c not in patients.columns]
    if missing:
        raise InputError("patients.columns", missing, f"the clinical outcome columns ({what}); run nksim.simulate")


def criteria_kind(patients: pd.DataFrame) -> str:
    """'marrow', 'lugano' or 'recist' from which baseline columns the outcome table fills."""
    b = patients.get("baseline_marrow_blasts_pct")
    if b is not None and bool(b.notna().any()):
        return "marrow"
    b, spd = patients.get("baseline_burden_mm"), patients.get("baseline_spd_mm2")
    if b is not None and spd is not None and bool(b.isna().all()) and bool(spd.notna().any()):
        return "lugano"
    return "recist"


def burden_axis(patients: pd.DataFrame, params: Mapping[str, float] | None = None
                ) -> tuple[str, str, tuple[float, ...]]:
    """(baseline column, what the burden is, % change reference lines) of the cohort's response criteria, the
    thresholds from the clinical parameters (registry defaults unless given)."""
    if params is None:
        from nksim.clinical._params import clinical_params

        params = clinical_params({})
    kind = criteria_kind(patients)
    if kind == "marrow":
        return "baseline_marrow_blasts_pct", "marrow blasts", ()  # remission is absolute (< 5% blasts)
    if kind == "lugano":
        return "baseline_spd_mm2", "SPD", (-100.0 * params["clinical_lugano_pr_fraction"],)
    return "baseline_burden_mm", "sum of diameters", (100.0 * params["clinical_recist_pd_fraction"],
                                                      -100.0 * params["clinical_recist_pr_fraction"])


def spider_arrays(patients: pd.DataFrame, params: Mapping[str, float] | None = None) -> dict[str, Any]:
    """days, % change matrix (measurable patients x scans), best responses, ids, label and reference lines."""
    need(patients, ["best_response"], "best_response, burden_d<day>")
    col, what, levels = burden_axis(patients, params)
    base = patients[col].to_numpy(float) if col in patients else np.full(len(patients), np.nan)
    keep = base > 0
    scans = scan_columns(patients, "burden")
    days = np.array([d for d, _ in scans], float)
    b = patients[[c for _, c in scans]].to_numpy(float)[keep] if scans else np.zeros((int(keep.sum()), 0))
    pct = 100.0 * (b - base[keep, None]) / base[keep, None]
    return {"days": days, "pct_change": pct, "response": best_response(patients)[keep],
            "ids": patients.index.to_numpy()[keep], "ylabel": f"% change in {what}", "reference_lines": levels}


def waterfall_note(patients: pd.DataFrame) -> tuple[int, str]:
    """(bars, sentence) explaining who is not a bar and how the response rate's denominator differs."""
    chg = patients["best_pct_change"].astype(float)
    n_bar = int(np.isfinite(chg).sum())
    meas = patients["measurable"].astype(bool) if "measurable" in patients else pd.Series(True, patients.index)
    n_meas = int(meas.sum())
    no_scan = n_meas - int((meas & np.isfinite(chg)).sum())
    not_meas = len(patients) - n_meas
    parts = []
    if no_scan:
        parts.append(f"{no_scan} measurable patient(s) without a post-baseline scan (death or end of follow-up "
                     f"before the first scan) have no bar; the ORR counts them as non-responders (n = {n_meas})")
    if not_meas:
        parts.append(f"{not_meas} patient(s) without measurable disease at baseline are in neither")
    return n_bar, "; ".join(parts)


def swimmer_table(patients: pd.DataFrame) -> pd.DataFrame:
    """id, follow-up end, progression day, death day, first response day, best response per patient."""
    need(patients, ["best_response", "os_days", "os_event"], "best_response, os_days, os_event, pd_day")
    onset = pd.Series(np.nan, index=patients.index)
    for day, col in reversed(scan_columns(patients, "resp")):
        onset[patients[col].isin(["CR", "PR"]).to_numpy()] = day
    os_days = patients["os_days"].astype(float)
    follow = patients["pfs_days"].astype(float) if "pfs_days" in patients else os_days
    return pd.DataFrame({
        "id": patients.index.to_numpy(), "time": np.fmax(follow, 0.0).to_numpy() if "pfs_days" in patients
        else os_days.to_numpy(),
        "progression": patients["pd_day"].astype(float).to_numpy() if "pd_day" in patients else np.nan,
        "death": np.where(patients["os_event"].astype(bool), os_days, np.nan),
        "response_onset": onset.to_numpy(), "response": best_response(patients)})


def plot_patients(patients: pd.DataFrame, kind: str, trajectories=None, params: Mapping[str, float] | None = None,
                  **kwargs) -> plt.Figure:
    """One of :data:`KINDS` from an nksim patient table (``pk`` needs the trajectories too)."""
    if kind == "spider":
        a = spider_arrays(patients, params)
        kw = {"reference_lines": a["reference_lines"], "ylabel": a["ylabel"], **kwargs}
        return spider_matrix(a["days"], a["pct_change"], a["response"], **kw)
    if kind == "waterfall":
        need(patients, ["best_response", "best_pct_change"], "best_response, best_pct_change")
        _, what, levels = burden_axis(patients, params)
        _, note = waterfall_note(patients)
        kw = {"reference_lines": levels, "ylabel": f"best % change in {what}", "note": note or None, **kwargs}
        return waterfall(patients["best_pct_change"].to_numpy(float), best_response(patients), **kw)
    if kind == "swimmer":
        return swimmer(swimmer_table(patients), **kwargs)
    if kind in ("pfs", "os", "rfs"):  # rfs: recurrence-free survival, adjuvant setting (dated at scans, as PFS)
        need(patients, [f"{kind}_days", f"{kind}_event"], f"{kind}_days, {kind}_event")
        grid = [d for d, _ in scan_columns(patients, "resp")] if kind in ("pfs", "rfs") else None
        name = {"pfs": "Progression-free survival", "os": "Overall survival", "rfs": "Recurrence-free survival"}[kind]
        kw = {"grid": grid or None, "title": name, **kwargs}
        return kaplan_meier(patients[f"{kind}_days"].to_numpy(float), patients[f"{kind}_event"].to_numpy(bool), **kw)
    if kind == "pk":
        if trajectories is None:
            raise InputError("trajectories", None, "the run's trajectories for kind='pk'")
        var = kwargs.pop("variable", "nk_blood_per_ul")
        if var not in trajectories:
            raise InputError("variable", var, f"a trajectory variable, e.g. nk_blood_per_ul")
        y = np.asarray(trajectories[var].transpose("patient", "time").values, float)
        unit = trajectories[var].attrs.get("units", "")
        kw = {"ylabel": f"{var} ({unit})" if unit else var, **kwargs}
        return pk_matrix(trajectories["time"].values, y, **kw)
    raise InputError("kind", kind, f"one of {KINDS}, or 'rfs' (adjuvant setting)")


def criteria_lines(resolved) -> tuple[float, ...] | None:
    """The PD/PR reference lines (% change) of a resolved scenario's response criteria, or None without one."""
    lines = getattr(getattr(resolved, "criteria", None), "reference_lines", None)
    return tuple(sorted(lines.values(), reverse=True)) if isinstance(lines, dict) else None


def plot_result(result, kind: str = "waterfall", **kwargs) -> plt.Figure:
    """``res.plot(kind, **kwargs)``: a plot of a :class:`nksim.SimulationResult` (see :data:`KINDS`); the spider
    and waterfall reference lines are those of the run's response criteria."""
    if kind in ("spider", "waterfall") and "reference_lines" not in kwargs:
        try:
            lines = criteria_lines(result.resolved)
        except Exception:  # a result without a resolvable scenario: the thresholds of the clinical parameters
            lines = None
        if lines is not None:
            kwargs["reference_lines"] = lines
    return plot_patients(result.patients, kind, trajectories=result.trajectories, **kwargs)
