"""The shared interface of every dose-finding design, and the cohort-stepped simulator they all run on.

A design is a small frozen object with three methods:

- ``decide(state, rows)``: after a cohort's outcomes are in, update the current dose (``state.dose``) of the trials
  ``rows`` and stop those that should stop. It works on a whole batch of simulated trials at once (numpy arrays),
  and the advisor calls the very same method with a batch of one built from real data, so a simulated trial and
  the bedside recommendation can never disagree.
- ``select(n, y, r)``: the final recommended dose from the counts per dose (0 = no dose selected).
- ``boundary_table()``: the decision table printed by ``nksim trial boundaries`` (where the design has one).

:func:`run_trials` enrols cohorts into all active trials, asks the :class:`PatientOutcomeModel` for their outcomes
(one call per cohort step), accumulates counts and calls ``decide``. Everything is vectorised over trials.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, ClassVar

import numpy as np

from nksim.errors import InputError
from nksim.trial.outcomes import PatientOutcomeModel, arrival_gaps


@dataclass
class CohortState:
    """Counts and status of a batch of T trials with K doses (dose levels are 1-based everywhere).

    n, y, r, yr: patients, DLTs, responses and (DLT and response) per trial and dose, shape (T, K).
    dose: current dose level per trial. last_m / last_y: size and DLTs of the last cohort.
    active: still enrolling. early_stop: stopped for safety with no dose selected.
    eliminated: dose eliminated for toxicity, shape (T, K). selected: dose chosen at a stop (designs that choose
    along the way, e.g. 3+3; 0 = none yet, -1 = none). n_total: patients enrolled.
    """

    n: np.ndarray
    y: np.ndarray
    r: np.ndarray
    yr: np.ndarray
    dose: np.ndarray
    last_m: np.ndarray
    last_y: np.ndarray
    active: np.ndarray
    early_stop: np.ndarray
    eliminated: np.ndarray
    selected: np.ndarray
    n_total: np.ndarray

    @classmethod
    def empty(cls, n_trials: int, n_doses: int, start_dose: int) -> "CohortState":
        z = np.zeros((n_trials, n_doses), dtype=np.int64)
        return cls(
            n=z.copy(), y=z.copy(), r=z.copy(), yr=z.copy(),
            dose=np.full(n_trials, start_dose, dtype=np.int64),
            last_m=np.zeros(n_trials, dtype=np.int64), last_y=np.zeros(n_trials, dtype=np.int64),
            active=np.ones(n_trials, dtype=bool), early_stop=np.zeros(n_trials, dtype=bool),
            eliminated=np.zeros((n_trials, n_doses), dtype=bool),
            selected=np.zeros(n_trials, dtype=np.int64), n_total=np.zeros(n_trials, dtype=np.int64),
        )

    def add(self, rows: np.ndarray, doses: np.ndarray, dlt: np.ndarray, resp: np.ndarray) -> None:
        """Add one patient per entry (rows may repeat) to the counts."""
        k = doses - 1
        np.add.at(self.n, (rows, k), 1)
        np.add.at(self.y, (rows, k), dlt)
        np.add.at(self.r, (rows, k), resp)
        np.add.at(self.yr, (rows, k), dlt * resp)
        np.add.at(self.n_total, rows, 1)

    def at_dose(self, rows: np.ndarray, doses: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """(n, y) at the given doses (default: the current dose) of the given trials."""
        k = (self.dose[rows] if doses is None else doses) - 1
        return self.n[rows, k], self.y[rows, k]


@dataclass(frozen=True)
class Design(ABC):
    """Base class of every design (abstract; each concrete design is a frozen dataclass subclass adding its own
    settings). The common settings and their defaults are here."""

    name: ClassVar[str]
    uses_efficacy: ClassVar[bool] = False
    n_doses: int = 5
    target: float = 0.3
    cohort_size: int = 3
    n_cohorts: int = 10
    start_dose: int = 1

    def _check_common(self) -> None:
        if int(self.n_doses) < 1:
            raise InputError("n_doses", self.n_doses, "an integer >= 1")
        if not 0 < self.target < 1:
            raise InputError("target", self.target, "a DLT probability in (0, 1)")
        if int(self.cohort_size) < 1:
            raise InputError("cohort_size", self.cohort_size, "an integer >= 1")
        if int(self.n_cohorts) < 1:
            raise InputError("n_cohorts", self.n_cohorts, "an integer >= 1")
        if not 1 <= int(self.start_dose) <= int(self.n_doses):
            raise InputError("start_dose", self.start_dose, f"a dose level in 1..{self.n_doses}")

    @property
    def max_n(self) -> int:
        return int(self.cohort_size) * int(self.n_cohorts)

    @abstractmethod
    def decide(self, s: CohortState, rows: np.ndarray) -> None:
        """Update ``s.dose``, ``s.active``, ``s.early_stop``, ``s.eliminated`` (and ``s.selected``) for ``rows``."""

    @abstractmethod
    def select(self, n: np.ndarray, y: np.ndarray, r: np.ndarray | None = None) -> int:
        """Final selected dose level from counts per dose (0 = none)."""

    def select_batch(self, s: CohortState) -> np.ndarray:
        """Selected dose per trial (0 = none): ``select`` on each distinct count pattern, early stops give 0."""
        out = np.zeros(s.n.shape[0], dtype=np.int64)
        keys = np.concatenate([s.n, s.y, s.r], axis=1) if self.uses_efficacy else np.concatenate([s.n, s.y], axis=1)
        ok = ~s.early_stop
        if not ok.any():
            return out
        uniq, inv = np.unique(keys[ok], axis=0, return_inverse=True)
        k = s.n.shape[1]
        sel = [_select_one(self, tuple(row), k) for row in uniq.tolist()]
        out[ok] = np.asarray(sel, dtype=np.int64)[inv.ravel()]
        return out

    def true_target_doses(self, p_tox: np.ndarray, p_eff: np.ndarray | None = None) -> np.ndarray:
        """Dose levels counted as correct selections: those whose true DLT probability is closest to the target."""
        dist = np.abs(np.asarray(p_tox, dtype=float) - self.target)
        return np.flatnonzero(dist <= dist.min() + 1e-12) + 1

    def boundary_table(self, max_n: int | None = None) -> dict[str, list]:
        """Decision table by number treated (designs without one return an empty dict)."""
        return {}

    def describe(self) -> dict[str, Any]:
        """Design settings for reports and JSON output."""
        from dataclasses import asdict, is_dataclass

        d = asdict(self) if is_dataclass(self) else {}
        return {"design": self.name, **{k: (list(v) if isinstance(v, tuple) else v) for k, v in d.items()}}


@lru_cache(maxsize=200_000)
def _select_one(design: Design, row: tuple, k: int) -> int:
    a = np.asarray(row, dtype=np.int64)
    r = a[2 * k: 3 * k] if a.size == 3 * k else None
    return int(design.select(a[:k], a[k: 2 * k], r))


@dataclass
class TrialResults:
    """Per-trial results of a simulation (T trials, K doses)."""

    design: str
    n: np.ndarray
    y: np.ndarray
    r: np.ndarray
    selected: np.ndarray
    early_stop: np.ndarray
    n_total: np.ndarray
    duration_days: np.ndarray
    dose_path: np.ndarray  # (T, max_n) dose given to each enrolled patient, 0 after the trial ended
    dlt_path: np.ndarray  # (T, max_n) 0/1


def run_trials(
    design: Design,
    model: PatientOutcomeModel,
    n_trials: int,
    *,
    first_trial: int = 0,
    accrual_gap_days: float = 7.0,
    seed: int | None = None,
) -> TrialResults:
    """Simulate ``n_trials`` trials of ``design`` on ``model`` (trial ids ``first_trial ...``), vectorised over trials.

    Each cohort's patients arrive with exponential gaps (mean ``accrual_gap_days``); the next dose is decided one
    DLT window (``model.dlt_window_days``) after the cohort's last arrival; duration is the last decision time.
    """
    if int(n_trials) < 1:
        raise InputError("trials", n_trials, "an integer >= 1")
    if model.n_doses != design.n_doses:
        raise InputError("true_tox", f"{model.n_doses} doses", f"one probability per dose ({design.n_doses} doses)")
    seed = getattr(model, "seed", 0) if seed is None else seed
    T, K, N, m0 = int(n_trials), int(design.n_doses), design.max_n, int(design.cohort_size)
    s = CohortState.empty(T, K, int(design.start_dose))
    tid_all = np.arange(first_trial, first_trial + T, dtype=np.int64)
    clock = np.zeros(T)
    dose_path = np.zeros((T, N), dtype=np.int8)
    dlt_path = np.zeros((T, N), dtype=np.int8)
    fill = np.zeros(T, dtype=bool)
    if getattr(design, "titration", False) and m0 > 1:
        fill = _titrate(design, model, s, tid_all, clock, dose_path, dlt_path, seed, accrual_gap_days)
    for _ in range(int(design.n_cohorts)):
        rows = np.flatnonzero(s.active)
        if rows.size == 0:
            break
        m = np.where(fill[rows], m0 - 1, np.minimum(m0, N - s.n_total[rows]))
        fill[rows] = False
        rows = rows[m > 0]
        m = m[m > 0]
        if rows.size == 0:
            break
        rr = np.repeat(rows, m)
        offs = np.arange(rr.size) - np.repeat(np.cumsum(m) - m, m)
        pid = s.n_total[rr] + offs
        doses = s.dose[rr]
        out = model.outcomes(tid_all[rr], pid, doses)
        dlt = np.asarray(out.dlt, dtype=np.int64)
        resp = np.asarray(out.response, dtype=np.int64)
        dose_path[rr, pid] = doses
        dlt_path[rr, pid] = dlt
        gaps = arrival_gaps(seed, tid_all[rr], pid, accrual_gap_days)
        np.add.at(clock, rr, gaps)
        clock[rows] += model.dlt_window_days
        s.add(rr, doses, dlt, resp)
        s.last_m[rows] = m
        s.last_y[rows] = np.bincount(rr, weights=dlt, minlength=T)[rows].astype(np.int64)
        full = s.n_total[rows] >= N
        s.active[rows[full]] = False  # the last patient is in: no further decision (as BOIN get.oc)
        if (~full).any():
            design.decide(s, rows[~full])
    sel = design.select_batch(s)
    return TrialResults(
        design=design.name, n=s.n, y=s.y, r=s.r, selected=sel, early_stop=s.early_stop.copy(),
        n_total=s.n_total, duration_days=clock, dose_path=dose_path, dlt_path=dlt_path,
    )


def _titrate(design: Design, model: PatientOutcomeModel, s: CohortState, tid_all: np.ndarray, clock: np.ndarray,
             dose_path: np.ndarray, dlt_path: np.ndarray, seed: int, accrual_gap_days: float) -> np.ndarray:
    """Accelerated titration of BOIN ``get.oc(titration=TRUE)``: one patient per dose, upwards, until the first DLT
    (or the top dose); the first cohort then fills that dose up to the cohort size. Returns the 'fill' flags."""
    K = design.n_doses
    going = np.ones(s.n.shape[0], dtype=bool)
    for k in range(K):
        rows = np.flatnonzero(going)
        if rows.size == 0:
            break
        pid = np.full(rows.size, k, dtype=np.int64)
        doses = np.full(rows.size, k + 1, dtype=np.int64)
        out = model.outcomes(tid_all[rows], pid, doses)
        dlt = np.asarray(out.dlt, dtype=np.int64)
        s.add(rows, doses, dlt, np.asarray(out.response, dtype=np.int64))
        dose_path[rows, k] = k + 1
        dlt_path[rows, k] = dlt
        clock[rows] += arrival_gaps(seed, tid_all[rows], pid, accrual_gap_days) + model.dlt_window_days
        hit = dlt == 1
        s.dose[rows[hit]] = k + 1
        going[rows[hit]] = False
    s.dose[going] = K
    return np.ones(s.n.shape[0], dtype=bool)
