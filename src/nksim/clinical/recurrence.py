"""Recurrence-free survival in the adjuvant setting (after resection or transplantation, no measurable disease).

A patient starts disease-free: residual tumor below the imaging detection threshold. Recurrence is the first
surveillance scan at which a lesion's viable tumor reaches the detection threshold (``detect_mm``, diameter of
the viable volume: enhancing tumor on contrast imaging) or a new lesion has appeared (new lesions come from the
engine's cumulative new-lesion hazard, as for PFS). RFS event = recurrence or death from any cause, whichever comes
first (the usual adjuvant endpoint); otherwise censored at the last surveillance scan done (day 0 if none). A
patient whose residual tumor is already detectable at ``baseline_day`` is not disease-free (``disease_free`` False):
the scenario's eligibility should exclude such patients (e.g. ``max_lesion_diameter_mm < 10``); their recurrence is
dated at their first scan. Days count from the first infusion (the adjuvant scenarios start treatment shortly after
surgery: see their ``sources``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import pandas as pd

from nksim.clinical import _grid
from nksim.clinical.lesions import diameter_mm

RFS_COLUMNS = ("rfs_days", "rfs_event", "recurrence_day", "recurrence_kind", "disease_free")


def recurrence_free_survival(t: np.ndarray, viable: np.ndarray, density: np.ndarray, scan_days: np.ndarray,
                             new_day: np.ndarray, death_day: np.ndarray, end_day: float, detect_mm: float,
                             baseline_day: float) -> dict[str, np.ndarray]:
    """Per patient: ``rfs_days``, ``rfs_event``, ``recurrence_day`` (NaN if none within follow-up),
    ``recurrence_kind`` ('local': a lesion reached ``detect_mm``; 'new_lesion'; '' none) and ``disease_free``
    (no lesion detectable at ``baseline_day``).

    ``viable``: (patient, time, lesion) viable cells on the time grid ``t``; ``density``: cells per cm3 per patient;
    ``new_day``/``death_day``: event times per patient (inf if none); scans after ``end_day`` or at/after death are
    not done."""
    scan_days = np.asarray(scan_days, dtype=float)
    times = np.concatenate([[baseline_day], scan_days])
    return recurrence_free_survival_at(_grid.interp_at(viable, t, times), density, scan_days, new_day, death_day,
                                       end_day, detect_mm, baseline_day)


def recurrence_free_survival_at(viable_at: np.ndarray, density: np.ndarray, scan_days: np.ndarray,
                                new_day: np.ndarray, death_day: np.ndarray, end_day: float, detect_mm: float,
                                baseline_day: float) -> dict[str, np.ndarray]:
    """:func:`recurrence_free_survival` from the viable cells at the baseline and the scan days, ``viable_at``
    (patient, 1 + scan, lesion) (what ``nksim.clinical.inputs.ReadoutInputs`` carries)."""
    scan_days = np.asarray(scan_days, dtype=float)
    d = diameter_mm(viable_at, density[:, None, None])  # (patient, 1 + scan, lesion)
    seen = (d >= detect_mm - 1e-9).any(axis=2)
    disease_free = ~seen[:, 0]
    done = (scan_days[None, :] <= end_day) & (scan_days[None, :] >= baseline_day) & (scan_days[None, :] < death_day[:, None])
    local = seen[:, 1:] & done
    new = (new_day[:, None] <= scan_days[None, :]) & done
    hit = local | new
    any_hit = hit.any(axis=1)
    first = np.argmax(hit, axis=1)
    rec_day = np.where(any_hit, scan_days[first], np.nan)
    rows = np.arange(len(first))
    kind = np.where(~any_hit, "", np.where(local[rows, first], "local", "new_lesion"))
    died = death_day <= end_day
    last_scan = np.where(done.any(axis=1), scan_days[done.shape[1] - 1 - np.argmax(done[:, ::-1], axis=1)], 0.0)
    rfs_days = np.where(any_hit, rec_day, np.where(died, death_day, last_scan))
    return {
        "rfs_days": rfs_days,
        "rfs_event": any_hit | died,
        "recurrence_day": rec_day,
        "recurrence_kind": kind,
        "disease_free": disease_free,
    }


def rfs_at(rfs_days: np.ndarray, rfs_event: np.ndarray, day: float) -> float:
    """Kaplan-Meier recurrence-free probability at ``day`` (lifelines)."""
    from lifelines import KaplanMeierFitter

    kmf = KaplanMeierFitter().fit(np.asarray(rfs_days, float), np.asarray(rfs_event, bool))
    return float(kmf.survival_function_at_times(day).iloc[0])


#: columns :func:`rfs_by_arm` adds to a multi-arm comparison table (``nksim.arms``)
RFS_TABLE_COLUMNS = ["rfs_events", "median_rfs_d", "median_rfs_ci_low_d", "median_rfs_ci_high_d", "rfs_1y", "rfs_2y",
                     "rfs_logrank_chi2_vs_control", "rfs_logrank_p_vs_control"]


def rfs_by_arm(patients: dict[str, "pd.DataFrame"], control: str) -> "pd.DataFrame":
    """Per arm (rows in ``patients`` order, indexed by arm): RFS events, Kaplan-Meier median RFS (days, 95% CI; inf
    = not reached), RFS at 1 and 2 years, and the log-rank test of RFS against ``control`` (lifelines)."""
    import pandas as pd
    from lifelines.statistics import logrank_test

    from nksim.clinical.summary import km_median

    ref = patients[control]
    rows = {}
    for arm, p in patients.items():
        d, e = p["rfs_days"].to_numpy(float), p["rfs_event"].to_numpy(bool)
        med, lo, hi = km_median(d, e)
        chi2 = pval = float("nan")
        if arm != control:
            lr = logrank_test(d, ref["rfs_days"].to_numpy(float), e, ref["rfs_event"].to_numpy(bool))
            chi2, pval = float(lr.test_statistic), float(lr.p_value)
        rows[arm] = [int(e.sum()), med, lo, hi, rfs_at(d, e, 365.25), rfs_at(d, e, 730.5), chi2, pval]
    return pd.DataFrame.from_dict(rows, orient="index", columns=RFS_TABLE_COLUMNS)


__all__ = ["RFS_COLUMNS", "RFS_TABLE_COLUMNS", "recurrence_free_survival", "recurrence_free_survival_at", "rfs_at", "rfs_by_arm"]
