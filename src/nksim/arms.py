"""Multi-arm studies of one scenario: the same virtual patients simulated in each of its named ``arms``.

Common random numbers: every arm is simulated with the same seed and patient ids, and a patient's covariates are
keyed by (seed, patient id, parameter) (``nksim.population.sampling``), so patient i is the same person in every
arm (unless an arm changes the population itself). Per arm: n, ORR (CR + PR over all patients of the arm, NE counts
as non-response) with its exact 95% interval, Kaplan-Meier median PFS with its 95% interval; across arms: the
log-rank test of all arms (lifelines ``multivariate_logrank_test``) and, against the control arm (the arm marked
``control: true``, else the first), pairwise log-rank tests and Cox hazard ratios (``nksim.trial.multiarm``). In
the adjuvant setting (``readouts.setting: adjuvant``) the table also has recurrence-free survival per arm
(``nksim.clinical.recurrence.RFS_TABLE_COLUMNS``: events, median, RFS at 1 and 2 years, log-rank vs control).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np
import pandas as pd

from nksim.engine import SimulationResult, simulate
from nksim.errors import InputError, did_you_mean
from nksim.spec.scenario import Scenario

DAYS_PER_MONTH = 365.25 / 12
#: columns of ``ArmComparison.table`` (one row per arm)
TABLE_COLUMNS = ["arm", "description", "n", "responders", "orr", "orr_ci_low", "orr_ci_high", "pfs_events",
                 "median_pfs_d", "median_pfs_ci_low_d", "median_pfs_ci_high_d", "logrank_chi2_vs_control",
                 "logrank_p_vs_control", "hazard_ratio_vs_control", "hazard_ratio_ci_low", "hazard_ratio_ci_high"]


@dataclass
class ArmComparison:
    """The result of :func:`compare_arms`: ``table`` (one row per arm, ``TABLE_COLUMNS``), the all-arm log-rank
    test, the control arm and each arm's full :class:`SimulationResult`."""

    scenario: str
    control: str
    seed: int
    n_patients: int
    table: pd.DataFrame
    logrank_chi2: float
    logrank_p: float
    logrank_df: int
    results: dict[str, SimulationResult] = field(repr=False)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready (non-finite numbers as None: a median 'not reached' has an infinite bound)."""
        rows = [{k: _plain(v) for k, v in row.items()} for row in self.table.to_dict(orient="records")]
        return {"scenario": self.scenario, "control": self.control, "seed": self.seed, "n_patients": self.n_patients,
                "arms": rows, "logrank_all": {"test": "multivariate log-rank (lifelines)", "chi2": _plain(
                    self.logrank_chi2), "df": self.logrank_df, "p": _plain(self.logrank_p)},
                "units": {"median_pfs_d": "days", "orr": "fraction", "median_rfs_d": "days", "rfs_1y": "fraction",
                          "rfs_2y": "fraction"}}


def _plain(v: Any) -> Any:
    if isinstance(v, (np.integer,)):
        return int(v)
    if isinstance(v, (float, np.floating)):
        return float(v) if np.isfinite(v) else None
    return v


def select_arms(scenario: Scenario, arms: str | Sequence[str] | None) -> list[str]:
    """Arm names in scenario order: None or "all" for every arm; a comma-separated string or a list picks some."""
    names = list(scenario.arms)
    if not names:
        raise InputError("arms", scenario.name, "a scenario with `arms` (e.g. hcc-post-lt-allo-nk)")
    if arms is None or arms == "all":
        return names
    picked = [a.strip() for a in arms.split(",")] if isinstance(arms, str) else list(arms)
    for a in picked:
        if a not in names:
            raise InputError("arms", a, f"an arm of {scenario.name}{did_you_mean(a, names)}: {', '.join(names)} "
                             "or all")
    if len(set(picked)) != len(picked) or len(picked) < 2:
        raise InputError("arms", ",".join(picked), "at least two different arms (comma-separated) or all")
    return [a for a in names if a in picked]


def compare_arms(scenario: Scenario | str, arms: str | Sequence[str] | None = None, n_patients: int | None = None,
                 seed: int | None = None, **simulate_kwargs: Any) -> ArmComparison:
    """Simulate the same virtual patients in each arm of ``scenario`` and compare them (module docstring).

    ``arms``: None / "all" / names; ``n_patients``, ``seed``: as ``nksim.simulate`` (default: the scenario's);
    other keywords go to ``nksim.simulate`` for every arm."""
    from nksim.spec.io import load_scenario
    from nksim.trial.multiarm import analyze_arms

    sc = load_scenario(scenario) if isinstance(scenario, str) else scenario
    names = select_arms(sc, arms)
    seed = sc.simulation.seed if seed is None else int(seed)
    results = {a: simulate(sc, n_patients=n_patients, seed=seed, arm=a, **simulate_kwargs) for a in names}
    control = sc.control_arm if sc.control_arm in names else names[0]
    frames = []
    for a, res in results.items():
        p = res.patients
        frames.append(pd.DataFrame({"arm": a, "pfs_months": p["pfs_days"].to_numpy(float) / DAYS_PER_MONTH,
                                    "progressed": p["pfs_event"].astype(int).to_numpy(),
                                    "response": p["best_response"].isin(["CR", "PR"]).astype(int).to_numpy()}))
    df = pd.concat(frames, ignore_index=True)
    df["arm"] = pd.Categorical(df["arm"], categories=names)
    out = analyze_arms(df, reference=control)
    rows = []
    for a in names:
        e = out["arms"][a]
        lo, hi = e["median_pfs_ci95"]
        hr_lo, hr_hi = e.get("hazard_ratio_ci95", [np.nan, np.nan])
        rows.append({"arm": a, "description": " ".join(sc.arms[a].description.split()), "n": e["n"],
                     "responders": e["responders"], "orr": e["orr"], "orr_ci_low": e["orr_ci95"][0],
                     "orr_ci_high": e["orr_ci95"][1], "pfs_events": int(df.loc[df["arm"] == a, "progressed"].sum()),
                     "median_pfs_d": _days(e["median_pfs_months"]), "median_pfs_ci_low_d": _days(lo),
                     "median_pfs_ci_high_d": _days(hi),
                     "logrank_chi2_vs_control": e.get("logrank_chi2", np.nan),
                     "logrank_p_vs_control": e.get("logrank_p", np.nan),
                     "hazard_ratio_vs_control": e.get("hazard_ratio", np.nan),
                     "hazard_ratio_ci_low": hr_lo, "hazard_ratio_ci_high": hr_hi})
    n = len(next(iter(results.values())).patients)
    table = pd.DataFrame(rows, columns=TABLE_COLUMNS)
    if all("rfs_days" in r.patients for r in results.values()):  # adjuvant setting
        from nksim.clinical.recurrence import rfs_by_arm

        rfs = rfs_by_arm({a: r.patients for a, r in results.items()}, control)
        table = pd.concat([table, rfs.reset_index(drop=True)], axis=1)
    return ArmComparison(sc.name, control, seed, n, table,
                         out["logrank_all_chi2"], out["logrank_all_p"], len(names) - 1, results)


def _days(months: float) -> float:
    return round(float(months) * DAYS_PER_MONTH, 6) if np.isfinite(months) else float(months)
