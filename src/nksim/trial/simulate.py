"""Operating characteristics: simulate a design many times and summarise, or compute them exactly.

Definitions (BOIN-family reports, Yan et al. 2020 J Stat Softw 94(13); escalation's ``simulate_compare``):

- selection_pct: % of trials selecting each dose; no_selection_pct: % selecting none.
- mean_patients / mean_dlt / mean_response: mean number per dose.
- early_stop_pct: % of trials that ended before enrolling the maximum sample size (safety stop, 3+3 stop,
  n_earlystop rule). (The R packages' ``percentstop`` is our ``no_selection_pct``.)
- pcs: % selecting a correct dose (for MTD designs: true DLT rate closest to the target; for BOIN12: the true
  OBD); pca: % of patients treated at a correct dose.
- overdose_selection_pct (POS): % selecting a dose whose true DLT rate exceeds the target (phi_T for BOIN12);
  overdose_allocation_pct (POA): % of patients treated at such doses; pct_trials_overdosed_60: % of trials putting
  > 60% of the patients there (BOIN ``get.oc``'s ``overdose60``, which also counts doses with p.true > target).
- duration_days: mean trial duration with Poisson accrual and one DLT window per cohort.
Monte Carlo standard errors are reported for selection_pct and pcs (binomial: sqrt(p(1-p)/trials)).

``compare`` runs several designs on the same :class:`PatientOutcomeModel`, hence on the same simulated patients
(common random numbers). ``exact_oc`` enumerates every reachable count state of a design whose decisions depend on
the counts only (3+3, BOIN, Keyboard, mTPI, i3+3), which gives the exact operating characteristics.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
from scipy.stats import binom

from nksim.errors import InputError
from nksim.trial.base import CohortState, Design, TrialResults, run_trials
from nksim.trial.outcomes import FixedProbabilityModel, PatientOutcomeModel


@dataclass
class OperatingCharacteristics:
    """Summary of simulated (or exact) trials; lists are per dose level, percentages in 0..100."""

    design: str
    n_trials: int
    selection_pct: list[float]
    no_selection_pct: float
    mean_patients: list[float]
    mean_dlt: list[float]
    mean_response: list[float]
    mean_total_patients: float
    mean_total_dlt: float
    early_stop_pct: float
    pcs: float
    pca: float
    overdose_selection_pct: float
    overdose_allocation_pct: float
    pct_trials_overdosed_60: float
    duration_days: float
    selection_se_pct: list[float]
    pcs_se_pct: float
    correct_doses: list[int]
    settings: dict[str, Any]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def summarize(design: Design, res: TrialResults, p_tox, p_eff=None,
              settings: dict[str, Any] | None = None) -> OperatingCharacteristics:
    """Operating characteristics of simulated trials ``res`` of ``design`` under true probabilities."""
    T, K = res.n.shape
    sel = res.selected
    pct = np.array([np.mean(sel == k) * 100 for k in range(1, K + 1)])
    correct = design.true_target_doses(np.asarray(p_tox), None if p_eff is None else np.asarray(p_eff))
    pcs = float(pct[correct - 1].sum())
    total = res.n.sum()
    over = np.asarray(p_tox, dtype=float) > design.target + 1e-12
    over_n = res.n[:, over].sum(axis=1)
    return OperatingCharacteristics(
        design=design.name,
        n_trials=T,
        selection_pct=pct.tolist(),
        no_selection_pct=float(np.mean(sel == 0) * 100),
        mean_patients=res.n.mean(axis=0).round(4).tolist(),
        mean_dlt=res.y.mean(axis=0).round(4).tolist(),
        mean_response=res.r.mean(axis=0).round(4).tolist(),
        mean_total_patients=float(res.n.sum(axis=1).mean()),
        mean_total_dlt=float(res.y.sum(axis=1).mean()),
        early_stop_pct=float(np.mean(res.n_total < design.max_n) * 100),
        pcs=pcs,
        pca=float(res.n[:, correct - 1].sum() / max(total, 1) * 100),
        overdose_selection_pct=float(np.mean(over[np.maximum(sel, 1) - 1] & (sel > 0)) * 100),
        overdose_allocation_pct=float(over_n.sum() / max(total, 1) * 100),
        pct_trials_overdosed_60=float(np.mean(over_n > 0.6 * design.max_n) * 100),
        duration_days=float(res.duration_days.mean()),
        selection_se_pct=(np.sqrt(pct * (100 - pct) / T)).round(4).tolist(),
        pcs_se_pct=float(np.sqrt(pcs * (100 - pcs) / T)),
        correct_doses=correct.tolist(),
        settings={**design.describe(), **(settings or {})},
    )


def operating_characteristics(design: Design, p_tox, p_eff=None, *, n_trials: int = 10_000, seed: int = 1,
                              dlt_window_days: float = 28.0, accrual_gap_days: float = 7.0,
                              model: PatientOutcomeModel | None = None) -> OperatingCharacteristics:
    """Simulate ``n_trials`` trials with fixed true probabilities (or a given outcome model) and summarise."""
    model = model or FixedProbabilityModel(p_tox, p_eff, seed=seed, dlt_window_days=dlt_window_days)
    if hasattr(design, "simulate"):
        res = design.simulate(model, n_trials, accrual_gap_days=accrual_gap_days)
    else:
        res = run_trials(design, model, n_trials, accrual_gap_days=accrual_gap_days)
    return summarize(design, res, p_tox, p_eff, {"seed": seed, "dlt_window_days": model.dlt_window_days,
                                                  "accrual_gap_days": accrual_gap_days})


def compare(designs: list[Design], p_tox, p_eff=None, *, n_trials: int = 10_000, seed: int = 1,
            **kw) -> list[OperatingCharacteristics]:
    """Operating characteristics of several designs on the same simulated patients (common random numbers)."""
    model = FixedProbabilityModel(p_tox, p_eff, seed=seed, dlt_window_days=kw.pop("dlt_window_days", 28.0))
    return [operating_characteristics(d, p_tox, p_eff, n_trials=n_trials, seed=seed, model=model, **kw)
            for d in designs]


def exact_oc(design: Design, p_tox) -> dict[str, Any]:
    """Exact selection probabilities and mean patients / DLTs per dose by enumerating count states.

    Valid for designs whose ``decide`` depends only on the counts and the current dose (not CRM's last-cohort
    coherence rule, which it also handles since the last cohort is part of the state). Returns fractions (0..1).
    """
    if getattr(design, "titration", False):
        raise InputError("titration", True, "no titration for exact enumeration (simulate instead)")
    p = np.asarray(p_tox, dtype=float)
    K, m = design.n_doses, int(design.cohort_size)
    s = CohortState.empty(1, K, int(design.start_dose))
    prob = np.ones(1)
    sel_p = np.zeros(K + 1)
    n_mean = np.zeros(K)
    y_mean = np.zeros(K)
    stop_p = 0.0
    for _ in range(int(design.n_cohorts)):
        if s.n.shape[0] == 0:
            break
        T = s.n.shape[0]
        mm = min(m, design.max_n - int(s.n_total[0]))
        ys = np.arange(mm + 1)
        # branch every state into mm + 1 outcomes
        rep = np.repeat(np.arange(T), mm + 1)
        yk = np.tile(ys, T)
        d = s.dose[rep]
        pr = prob[rep] * binom.pmf(yk, mm, p[d - 1])
        ns = _take(s, rep)
        rows = np.arange(rep.size)
        ns.n[rows, d - 1] += mm
        ns.y[rows, d - 1] += yk
        ns.n_total += mm
        ns.last_m[:] = mm
        ns.last_y[:] = yk
        full = ns.n_total >= design.max_n
        ns.active[full] = False
        if (~full).any():
            design.decide(ns, rows[~full])
        done = ~ns.active
        if done.any():
            fin = _take(ns, np.flatnonzero(done))
            sel = design.select_batch(fin)
            np.add.at(sel_p, sel, pr[done])
            n_mean += pr[done] @ fin.n
            y_mean += pr[done] @ fin.y
            stop_p += pr[done][fin.n_total < design.max_n].sum()
        keep = np.flatnonzero(~done)
        s, prob = _merge(_take(ns, keep), pr[keep])
    return {"selection": sel_p[1:], "no_selection": sel_p[0], "mean_patients": n_mean, "mean_dlt": y_mean,
            "early_stop": stop_p}


def _take(s: CohortState, idx: np.ndarray) -> CohortState:
    return CohortState(n=s.n[idx].copy(), y=s.y[idx].copy(), r=s.r[idx].copy(), yr=s.yr[idx].copy(),
                       dose=s.dose[idx].copy(), last_m=s.last_m[idx].copy(), last_y=s.last_y[idx].copy(),
                       active=s.active[idx].copy(), early_stop=s.early_stop[idx].copy(),
                       eliminated=s.eliminated[idx].copy(), selected=s.selected[idx].copy(),
                       n_total=s.n_total[idx].copy())


def _merge(s: CohortState, prob: np.ndarray) -> tuple[CohortState, np.ndarray]:
    """Merge identical states (adding their probabilities)."""
    if s.n.shape[0] == 0:
        return s, prob
    key = np.concatenate([s.n, s.y, s.dose[:, None], s.last_m[:, None], s.last_y[:, None],
                          s.eliminated.astype(np.int64), s.selected[:, None]], axis=1)
    uniq, first, inv = np.unique(key, axis=0, return_index=True, return_inverse=True)
    merged = np.bincount(inv.ravel(), weights=prob, minlength=uniq.shape[0])
    return _take(s, first), merged


COMPARE_NOTES = (
    "ended before max N: the share of trials that stopped before enrolling the maximum sample size. 3+3 stops by "
    "its own rule as soon as a dose is declared (MTD found or the lowest dose too toxic), so close to 100% is "
    "expected for it and is not a safety stop; the safety-stop rate is 'no dose selected'.",
    "patients treated above target: the share of all treated patients who received a dose whose true DLT rate "
    "exceeds the target (allocation to overdoses, POA); overdose selected: trials selecting such a dose (POS).",
    "PCS: probability of correct selection (the dose(s) whose true DLT rate is closest to the target), with its "
    "Monte Carlo standard error; all designs ran on the same simulated patients (common random numbers).",
)


def compare_table(ocs: list[dict[str, Any]]) -> "Any":
    """Designs side by side (one column each, one row per operating characteristic) from ``compare(...)``'s
    ``to_dict()`` results; :data:`COMPARE_NOTES` explain the rows that are easy to misread."""
    import pandas as pd

    cols = {}
    for oc in ocs:
        k = len(oc["selection_pct"])
        st = oc.get("settings", {})
        max_n = st.get("max_n") or (st["cohort_size"] * st["n_cohorts"] if "cohort_size" in st and "n_cohorts" in st
                                    else None)
        col = {f"selected dose {j + 1} (%)": oc["selection_pct"][j] for j in range(k)}
        col["no dose selected (%)"] = oc["no_selection_pct"]
        col["correct dose(s)"] = ", ".join(str(d) for d in oc["correct_doses"])
        col["PCS (%)"] = f"{oc['pcs']:.1f} +- {oc['pcs_se_pct']:.1f}"
        col["overdose selected (%)"] = oc["overdose_selection_pct"]
        col["patients at the correct dose (%)"] = oc["pca"]
        col["patients treated above target (%)"] = oc["overdose_allocation_pct"]
        col.update({f"mean patients at dose {j + 1}": oc["mean_patients"][j] for j in range(k)})
        col["mean patients (total)"] = oc["mean_total_patients"]
        col["mean DLTs (total)"] = oc["mean_total_dlt"]
        col["ended before max N (%)" if max_n is None else f"ended before max N = {max_n} (%)"] = oc["early_stop_pct"]
        col["mean duration (days)"] = oc["duration_days"]
        cols[oc["design"]] = col
    table = pd.DataFrame(cols)
    return table.map(lambda v: round(v, 1) if isinstance(v, float) else v)
