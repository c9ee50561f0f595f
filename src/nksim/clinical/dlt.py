"""Dose-limiting toxicity within a declared window.

Each toxicity has a grade course (patient, time) on the trajectory grid. A DLT rule (toxicity, minimum grade,
minimum duration) is met at the first time t in [0, window] where the grade is at or above the minimum and has
been so without interruption for at least the minimum duration; the DLT day is the earliest such time over all
rules.
"""

from __future__ import annotations

from typing import Iterable, Mapping

import numpy as np

from nksim.clinical._grid import run_start_time
from nksim.errors import InputError
from nksim.spec.clinical import DLTRule


def rule_onset(t: np.ndarray, grade: np.ndarray, rule: DLTRule, window_days: float) -> np.ndarray:
    """Day each patient meets ``rule`` within [0, window_days]; NaN if not."""
    mask = grade >= rule.min_grade
    if rule.min_duration_days > 0:
        start = run_start_time(t, mask)
        mask = mask & (t[None, :] - start >= rule.min_duration_days - 1e-9)
    mask &= (t[None, :] >= 0) & (t[None, :] <= window_days)
    hit = mask.any(axis=1)
    return np.where(hit, t[np.argmax(mask, axis=1)], np.nan)


def evaluate_dlt(
    t: np.ndarray, courses: Mapping[str, np.ndarray], rules: Iterable[DLTRule], window_days: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(dlt bool, dlt_day, cause) per patient; cause names the toxicity of the earliest DLT ('' if none)."""
    n = next(iter(courses.values())).shape[0]
    day = np.full(n, np.nan)
    cause = np.full(n, "", dtype=object)
    for rule in rules:
        if rule.toxicity not in courses:
            raise InputError("readouts.dlt_rules.toxicity", rule.toxicity, f"one of {sorted(courses)}")
        d = rule_onset(t, courses[rule.toxicity], rule, window_days)
        earlier = ~np.isnan(d) & (np.isnan(day) | (d < day))
        day = np.where(earlier, d, day)
        cause = np.where(earlier, rule.toxicity, cause)
    return ~np.isnan(day), day, cause
