"""Event times: new lesions and death from cumulative hazards, death at a lethal burden; PFS and OS.

An event driven by a cumulative hazard H(t) (from the engine) happens at the first time H(t) reaches an Exp(1)
draw E from the patient's random stream ``nksim.rng.stream(seed, "clinical", patient_id)`` (the
inverse-transform construction of a non-homogeneous Poisson first event); linear interpolation between grid
points.

PFS: event = progression (date of the scan showing PD, RECIST convention) or death, whichever comes first;
otherwise censored at the last response assessment done (day 0 if none). OS: event = death within follow-up;
otherwise censored at the end of follow-up (or of the trajectory if earlier). Days count from the first
infusion.
"""

from __future__ import annotations

import numpy as np

from nksim.clinical._grid import first_crossing_time
from nksim.clinical.codes import ND, PD


def hazard_event_time(t: np.ndarray, cumulative_hazard: np.ndarray, threshold: np.ndarray) -> np.ndarray:
    """First time the cumulative hazard (patient, time) reaches ``threshold`` (patient,); +inf if never."""
    return first_crossing_time(t, cumulative_hazard, threshold)


def progression_free_and_overall_survival(
    scan_days: np.ndarray, codes: np.ndarray, death_day: np.ndarray, end_day: float
) -> dict[str, np.ndarray]:
    """pfs_days, pfs_event, os_days, os_event, pd_day per patient from per-scan codes and death times."""
    scan_days = np.asarray(scan_days, dtype=float)
    codes = np.asarray(codes)
    death_day = np.asarray(death_day, dtype=float)
    has_pd = (codes == PD).any(axis=1)
    pd_day = np.where(has_pd, scan_days[np.argmax(codes == PD, axis=1)], np.nan)
    done = codes != ND
    last_scan = np.where(
        done.any(axis=1), scan_days[done.shape[1] - 1 - np.argmax(done[:, ::-1], axis=1)], 0.0
    )
    os_event = death_day <= end_day
    os_days = np.where(os_event, death_day, end_day)
    pfs_event = has_pd | os_event
    pfs_days = np.where(has_pd, np.fmin(pd_day, death_day), np.where(os_event, death_day, last_scan))
    return {
        "pfs_days": pfs_days,
        "pfs_event": pfs_event,
        "os_days": os_days,
        "os_event": os_event,
        "pd_day": pd_day,
    }
