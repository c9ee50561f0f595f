"""Immune effector cell-associated neurotoxicity syndrome (ICANS): ICE score from the delayed cytokine proxy.

ASTCT consensus (Lee DW et al., Biol Blood Marrow Transplant 2019;25:625-638), adults, by the ICE score (0-10:
orientation 4, naming 3, following commands 1, writing 1, attention 1) and the level of consciousness:
- grade 1: ICE 7-9 (awakens spontaneously);
- grade 2: ICE 3-6 (awakens to voice);
- grade 3: ICE 0-2 (awakens only to tactile stimulus);
- grade 4: unarousable / unable to perform ICE (ICE 0), or life-threatening findings. Seizures, motor findings
  and raised intracranial pressure / cerebral edema, which also grade ICANS, are not modelled; children (CAPD)
  neither.

Model (assumption, MODEL.md 12): ICANS follows C with a delay; with Cd(t) = C(t - delay), ICE = 10 below
``clinical_icans_onset_pg_ml``, then falls from 9 to 0 log-linearly in Cd up to
``clinical_icans_ice_zero_pg_ml``; the patient is unarousable at Cd >= ``clinical_icans_unarousable_pg_ml``. The
three levels are cumulative (``nksim.grade_order``: a threshold below a milder one's acts at the milder).
"""

from __future__ import annotations

from typing import Mapping

import numpy as np

from nksim.clinical._grid import interp_at, interp_weights
from nksim.errors import InputError


def ice_score(c_delayed: np.ndarray, onset_pg_ml: float, zero_pg_ml: float) -> np.ndarray:
    """ICE score (integer 0-10) for delayed cytokine values (pg/mL); ``zero_pg_ml`` at or below the onset (grades
    are cumulative: ``nksim.grade_order``) takes the score from 10 straight to 0 at the onset."""
    if not onset_pg_ml > 0:
        raise InputError("clinical_icans_onset_pg_ml", onset_pg_ml, "a threshold > 0 pg/mL")
    c = np.maximum(np.asarray(c_delayed, dtype=float), 1e-300)
    if not zero_pg_ml > onset_pg_ml:
        return np.where(c < onset_pg_ml, 10, 0).astype(np.int8)
    x = np.log(c / onset_pg_ml) / np.log(zero_pg_ml / onset_pg_ml)  # 0 at onset, 1 at ICE 0
    lost = np.floor(9.0 * np.clip(x, 0.0, 1.0) + 1e-9)
    return np.where(c < onset_pg_ml, 10, 9 - lost).astype(np.int8)


def astct_icans_grade(ice: np.ndarray, unarousable: np.ndarray | bool = False) -> np.ndarray:
    """ASTCT ICANS grade (0-4) from the ICE score and whether the patient is unarousable."""
    ice = np.asarray(ice)
    if np.any((ice < 0) | (ice > 10)):
        raise InputError("ice", "out of range", "ICE scores 0-10")
    grade = np.select([ice >= 10, ice >= 7, ice >= 3], [0, 1, 2], default=3)
    return np.where(np.asarray(unarousable, dtype=bool), 4, grade).astype(np.int8)


def delayed(t: np.ndarray, y: np.ndarray, delay_days: float) -> np.ndarray:
    """y(t - delay) on the grid (patient, time); before the first time point the first value is used.

    When every delayed time is a grid time (a whole-day delay on a daily grid) the values are taken as they are:
    ``interp_at`` would add the next value times 0, which changes no finite value (only the sign of a zero, which no
    threshold, maximum or first crossing sees)."""
    if delay_days <= 0:
        return y
    i, w = interp_weights(t, t - delay_days)
    if t.size > 1 and not w.any():
        return np.take(y, i, axis=1)
    return interp_at(y, t, t - delay_days)


def icans_course(t: np.ndarray, c: np.ndarray, params: Mapping[str, float]) -> tuple[np.ndarray, np.ndarray]:
    """ICE score and ICANS grade over time (patient, time) from C (patient, time)."""
    return ice_and_grade(delayed(t, c, params["clinical_icans_delay_days"]), params)


def ice_and_grade(cd: np.ndarray, params: Mapping[str, float]) -> tuple[np.ndarray, np.ndarray]:
    """ICE score and ICANS grade at delayed cytokine values ``cd`` (any shape). An unarousable patient cannot do
    the ICE test (ICE 0, ASTCT); the unarousable level needs the ICE-0 and onset thresholds too (cumulative)."""
    onset, zero, unarousable = (params[k] for k in ("clinical_icans_onset_pg_ml", "clinical_icans_ice_zero_pg_ml",
                                                     "clinical_icans_unarousable_pg_ml"))
    ice = ice_score(cd, onset, zero)
    out = np.asarray(cd) >= max(unarousable, zero, onset)
    return np.where(out, 0, ice).astype(np.int8), astct_icans_grade(np.where(out, 0, ice), out)
