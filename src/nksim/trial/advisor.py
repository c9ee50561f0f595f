"""Dose-decision advisor: the next dose for a real trial, from the treated patients so far.

The advisor builds a batch of one trial from the data and calls the design's own ``decide`` (the same code the
simulator runs), so a recommendation is exactly what the simulated design would have done. Input: a CSV of the
treated patients in treatment order with columns ``dose_level`` (1-based), ``dlt`` (0/1) and optionally
``response`` (0/1).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from nksim.errors import InputError
from nksim.trial.base import CohortState, Design
from nksim.trial.isotonic import isotonic_estimates


@dataclass(frozen=True)
class TrialData:
    """Treated patients in order: dose_level (1-based), dlt (0/1), response (0/1, or None when not recorded)."""

    dose_level: np.ndarray
    dlt: np.ndarray
    response: np.ndarray | None = None

    def counts(self, n_doses: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        k = self.dose_level - 1
        n = np.bincount(k, minlength=n_doses)
        y = np.bincount(k, weights=self.dlt, minlength=n_doses).astype(np.int64)
        resp = np.zeros_like(self.dlt) if self.response is None else self.response
        r = np.bincount(k, weights=resp, minlength=n_doses).astype(np.int64)
        yr = np.bincount(k, weights=resp * self.dlt, minlength=n_doses).astype(np.int64)
        return n, y, r, yr


def read_trial_data(path: str | Path, n_doses: int) -> TrialData:
    """Read and check the advisor CSV (errors name the row, the column and what is allowed)."""
    import pandas as pd

    p = Path(path)
    if not p.is_file():
        raise InputError("data", str(path), "an existing CSV file with columns dose_level, dlt[, response]")
    try:
        df = pd.read_csv(p)
    except Exception as exc:  # pandas raises many types for malformed files
        raise InputError("data", str(path), f"a readable CSV file ({exc.__class__.__name__}: {exc})") from None
    df.columns = [str(c).strip().lower() for c in df.columns]
    for col in ("dose_level", "dlt"):
        if col not in df.columns:
            raise InputError("data columns", list(df.columns), "columns dose_level and dlt (and optional response)")
    cols = ["dose_level", "dlt"] + (["response"] if "response" in df.columns else [])
    arrays = {}
    for col in cols:
        values = pd.to_numeric(df[col], errors="coerce").to_numpy()
        allowed = (1, n_doses) if col == "dose_level" else (0, 1)
        for i, v in enumerate(values):
            if not (np.isfinite(v) and float(v).is_integer() and allowed[0] <= v <= allowed[1]):
                what = f"an integer dose level in 1..{n_doses}" if col == "dose_level" else "0 or 1"
                raise InputError(f"{col} (row {i + 2} of {p.name})", df[col].iloc[i], what)
        arrays[col] = values.astype(np.int64)
    return TrialData(arrays["dose_level"], arrays["dlt"], arrays.get("response"))


def state_from_data(design: Design, data: TrialData) -> CohortState:
    """A batch of one trial holding the data, positioned at the last patient's dose."""
    K = design.n_doses
    s = CohortState.empty(1, K, int(design.start_dose))
    m = data.dose_level.size
    if m == 0:
        return s
    n, y, r, yr = data.counts(K)
    s.n[0], s.y[0], s.r[0], s.yr[0] = n, y, r, yr
    s.n_total[0] = m
    cur = int(data.dose_level[-1])
    s.dose[0] = cur
    tail = 0
    while tail < min(m, int(design.cohort_size)) and data.dose_level[m - 1 - tail] == cur:
        tail += 1
    s.last_m[0] = tail
    s.last_y[0] = int(data.dlt[m - tail:].sum())
    from nksim.trial.interval import IntervalDesign

    if isinstance(design, IntervalDesign):
        _, _, bel = design.tables(int(n.max()))
        hit = np.flatnonzero((n >= 3) & (y >= bel[n]))
        if hit.size:
            s.eliminated[0, hit[0]:] = True
    return s


def recommend(design: Design, data: TrialData) -> dict[str, Any]:
    """Next dose (or stop) with the counts, posterior summaries, boundary table and the current MTD/OBD estimate."""
    if design.uses_efficacy and data.response is None and data.dose_level.size:
        raise InputError("data columns", "no response column", f"a response column (0/1) for {design.name}")
    K = design.n_doses
    s = state_from_data(design, data)
    n, y, r, yr = s.n[0].copy(), s.y[0].copy(), s.r[0].copy(), s.yr[0].copy()
    m = int(s.n_total[0])
    reason = ""
    if m == 0:
        next_dose: int | None = int(design.start_dose)
        reason = "no patient treated yet: start dose"
    elif m >= design.max_n:
        next_dose = None
        reason = f"maximum sample size {design.max_n} reached: select the MTD"
    elif getattr(design, "name", "") == "3+3" and n[s.dose[0] - 1] % 3:
        next_dose = int(s.dose[0])
        reason = "3+3: complete the current cohort of 3"
    else:
        cur = int(s.dose[0])
        design.decide(s, np.array([0]))
        if s.active[0]:
            next_dose = int(s.dose[0])
            move = "escalate" if next_dose > cur else "de-escalate" if next_dose < cur else "stay"
            reason = f"{move} (current dose {cur}: {int(n[cur - 1])} treated, {int(y[cur - 1])} DLT)"
        else:
            next_dose = None
            reason = ("stop the trial: the lowest dose is too toxic, no MTD" if s.early_stop[0]
                      else "stop the trial: stopping rule met, select the MTD")
    if m and s.early_stop[0]:
        estimate = 0
    elif m and getattr(design, "name", "") == "3+3" and s.selected[0] != 0:
        estimate = max(int(s.selected[0]), 0)
    else:
        estimate = (design.select(n, y, r, yr) if design.uses_efficacy else design.select(n, y, r)) if m else 0
    out: dict[str, Any] = {
        "design": design.name,
        "next_dose": next_dose,
        "decision": reason,
        "n_patients": m,
        "current_dose": int(data.dose_level[-1]) if m else None,
        "per_dose": {"dose_level": list(range(1, K + 1)), "n": n.tolist(), "dlt": y.tolist(),
                     "response": r.tolist() if data.response is not None else None},
        "eliminated_doses": (np.flatnonzero(s.eliminated[0]) + 1).tolist(),
        "estimated_mtd" if not design.uses_efficacy else "estimated_obd": estimate or None,
        "posterior": _posterior_summary(design, n, y, r, yr),
        "boundary_table": design.boundary_table(),
        "settings": design.describe(),
    }
    return out


def _posterior_summary(design: Design, n: np.ndarray, y: np.ndarray, r: np.ndarray,
                       yr: np.ndarray) -> dict[str, Any]:
    from nksim.trial.crm import CRM

    out = isotonic_estimates(design.target, n, y)
    if isinstance(design, CRM) and n.sum():
        post = design.posterior(n, y)
        out["crm_dlt_rate"] = post["ptox"][0].round(4).tolist()
        out["crm_a_mean"] = float(post["a_mean"][0])
        out["crm_a_var"] = float(post["a_var"][0])
    extra = getattr(design, "posterior_extra", None)
    if extra is not None:
        out.update(extra(n, y, r, yr))
    return out
