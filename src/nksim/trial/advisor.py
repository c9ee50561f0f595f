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
    """Treated patients in order: dose_level (1-based), dlt (0/1), response (0/1, or None when not recorded) and,
    for TITE-BOIN, followup_days (days each patient has been followed; a patient without DLT and with follow-up
    shorter than the DLT window is pending)."""

    dose_level: np.ndarray
    dlt: np.ndarray
    response: np.ndarray | None = None
    followup_days: np.ndarray | None = None

    def extended(self, dose: int, dlts: int, m: int) -> "TrialData":
        """These data plus a completed cohort of m patients at ``dose`` with ``dlts`` DLTs (for dose paths)."""
        resp = None if self.response is None else np.append(self.response, np.zeros(m, dtype=np.int64))
        tox = np.append(self.dlt, (np.arange(m) < dlts).astype(np.int64))
        return TrialData(np.append(self.dose_level, np.full(m, dose)), tox, resp)

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

    import io
    import re

    from nksim.yaml_load import read_text

    p = Path(path)
    columns = "a header line dose_level,dlt[,response][,followup_days]"
    if not p.is_file():
        raise InputError("data", str(path), "an existing CSV file with columns dose_level, dlt[, response]")
    text = read_text(p, "data", kind="CSV")
    try:
        df = pd.read_csv(io.StringIO(text))
    except pd.errors.EmptyDataError:
        raise InputError("data", str(path), f"a CSV file with {columns} (this one is empty)") from None
    except pd.errors.ParserError as exc:
        m = re.search(r"Expected (\d+) fields in line (\d+), saw (\d+)", str(exc))
        what = (f"rows with as many fields as the header (line {m[2]} has {m[3]}, the header {m[1]})" if m
                else "a CSV file with one patient per row and comma-separated fields")
        raise InputError("data", str(path), what) from None
    except Exception as exc:  # noqa: BLE001 - pandas raises many types for malformed files
        raise InputError("data", str(path), f"a readable CSV file with {columns} ({exc.__class__.__name__})"
                         ) from None
    df.columns = [str(c).strip().lower() for c in df.columns]
    twice = sorted({c for c in df.columns if list(df.columns).count(c) > 1})
    if twice:
        raise InputError("data columns", list(df.columns), f"each column once (names are compared without case and "
                         f"spaces; {', '.join(twice)} appears twice)")
    for col in ("dose_level", "dlt"):
        if col not in df.columns:
            raise InputError("data columns", list(df.columns), "columns dose_level and dlt (and optional response)")
    cols = ["dose_level", "dlt"] + [c for c in ("response", "followup_days") if c in df.columns]
    arrays = {}
    for col in cols:
        values = pd.to_numeric(df[col], errors="coerce").to_numpy()
        if col == "followup_days":
            bad = np.flatnonzero(~(np.isfinite(values) & (values >= 0)))
            if bad.size:
                raise InputError(f"{col} (row {bad[0] + 2} of {p.name})", df[col].iloc[bad[0]], "days >= 0")
            arrays[col] = values.astype(float)
            continue
        allowed = (1, n_doses) if col == "dose_level" else (0, 1)
        for i, v in enumerate(values):
            if not (np.isfinite(v) and float(v).is_integer() and allowed[0] <= v <= allowed[1]):
                what = f"an integer dose level in 1..{n_doses}" if col == "dose_level" else "0 or 1"
                raise InputError(f"{col} (row {i + 2} of {p.name})", df[col].iloc[i], what)
        arrays[col] = values.astype(np.int64)
    return TrialData(arrays["dose_level"], arrays["dlt"], arrays.get("response"), arrays.get("followup_days"))


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
    from nksim.trial.tite_boin import TITEBOIN

    tite = isinstance(design, TITEBOIN)
    K = design.n_doses
    if tite and data.followup_days is not None and 0 < data.dose_level.size < design.max_n:
        s = state_from_data(design, data)
        next_dose, reason = _tite_recommend(design, data, s)
    else:
        next_dose, reason, s = _next_dose(design, data)
    n, y, r, yr = s.n[0].copy(), s.y[0].copy(), s.r[0].copy(), s.yr[0].copy()
    m = int(s.n_total[0])
    if m and s.early_stop[0]:
        estimate = 0
    elif m and design.name == "3+3" and s.selected[0] != 0:
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
        "dose_paths": dose_paths(design, data) if next_dose is not None and not (tite and pending_any(data, design))
        else [],
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


def pending_any(data: TrialData, design: Design, window_days: float = 28.0) -> bool:
    if data.followup_days is None:
        return False
    return bool(np.any((data.dlt == 0) & (data.followup_days < getattr(design, "dlt_window_days", window_days))))


def _tite_recommend(design, data: TrialData, s: CohortState) -> tuple[int | None, str]:
    """TITE-BOIN decision with pending patients (followup_days shorter than the DLT window and no DLT yet)."""
    K = design.n_doses
    w = design.dlt_window_days
    k = data.dose_level - 1
    pend = (data.dlt == 0) & (data.followup_days < w)
    frac = np.where(pend, np.clip(data.followup_days / w, 0, 1), 0.0)
    n = np.bincount(k, minlength=K)
    y = np.bincount(k, weights=data.dlt, minlength=K).astype(np.int64)
    c = np.bincount(k, weights=pend, minlength=K).astype(np.int64)
    stft = np.bincount(k, weights=frac, minlength=K)
    cur = int(data.dose_level[-1])
    elim = np.zeros(K, dtype=bool)
    nxt, status = design.tite_decision(cur, n, y, c, stft, elim)
    s.eliminated[0] = elim
    if status == "stop":
        s.early_stop[0] = True
        return None, "stop the trial: the lowest dose is too toxic, no MTD"
    if status == "done":
        return None, "stop the trial: stopping rule met, select the MTD"
    if status == "suspend":
        return cur, (f"suspend accrual: {int(c[cur - 1])} of {int(n[cur - 1])} patients at dose {cur} are pending; "
                     "wait and decide at the next arrival")
    ess = n[cur - 1] - c[cur - 1] + stft[cur - 1]
    move = "escalate" if nxt > cur else "de-escalate" if nxt < cur else "stay"
    return nxt, (f"{move} (dose {cur}: {int(n[cur - 1])} treated, {int(y[cur - 1])} DLT observed, "
                 f"{int(c[cur - 1])} pending, effective sample size {ess:.2f})")


def dose_paths(design: Design, data: TrialData, depth: int = 2) -> list[dict[str, Any]]:
    """Dose-transition pathways: for each possible DLT count in the next cohort(s), the design's next dose.

    A tree (list of nodes ``{"dlts": k, "of": m, "dose": d, "next_dose": d' or None, "then": [...]}``) from the
    current data, ``depth`` cohorts ahead (Yap et al. 2017, Clin Cancer Res 23:7440).
    """
    if depth <= 0:
        return []
    d = _next_dose(design, data)[0]
    if d is None:
        return []
    m = int(design.cohort_size)
    if data.dose_level.size + m > design.max_n:
        m = design.max_n - data.dose_level.size
    if m <= 0:
        return []
    out = []
    for k in range(m + 1):
        nxt_data = data.extended(d, k, m)
        nxt = _next_dose(design, nxt_data)[0]
        out.append({"dose": d, "dlts": k, "of": m, "next_dose": nxt,
                    "then": dose_paths(design, nxt_data, depth - 1) if nxt is not None else []})
    return out


def _next_dose(design: Design, data: TrialData) -> tuple[int | None, str, CohortState]:
    """(next dose or None = stop, the reason, the state after the decision) for complete data."""
    s = state_from_data(design, data)
    m = data.dose_level.size
    if m == 0:
        return int(design.start_dose), "no patient treated yet: start dose", s
    if m >= design.max_n:
        return None, f"maximum sample size {design.max_n} reached: select the MTD", s
    cur = int(s.dose[0])
    n_cur, y_cur = int(s.n[0, cur - 1]), int(s.y[0, cur - 1])
    if design.name == "3+3" and n_cur % 3:
        return cur, "3+3: complete the current cohort of 3", s
    design.decide(s, np.array([0]))
    if not s.active[0]:
        why = ("the lowest dose is too toxic, no MTD" if s.early_stop[0] else "stopping rule met, select the MTD")
        return None, f"stop the trial: {why}", s
    nxt = int(s.dose[0])
    move = "escalate" if nxt > cur else "de-escalate" if nxt < cur else "stay"
    return nxt, f"{move} (current dose {cur}: {n_cur} treated, {y_cur} DLT)", s
