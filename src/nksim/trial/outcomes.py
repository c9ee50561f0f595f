"""Where a simulated trial gets each enrolled patient's outcomes from.

Every design's simulator asks a :class:`PatientOutcomeModel` for the outcomes of the patients it enrols, in
batches (one call per cohort step, all simulated trials together). A patient is named by ``(trial index, patient
index within the trial)``; the model must return the same outcomes for the same patient at the same dose however
the calls are batched, so designs compared on one model see the same simulated patients (common random numbers).

Two implementations:

- :class:`FixedProbabilityModel`: true DLT / response probabilities per dose (the classic operating-characteristics
  setting). Patient ``(t, j)`` carries latent uniforms ``u_tox, u_eff, u_onset`` keyed by
  ``(seed, "trial", t, j, channel)``; DLT = ``u_tox < p_tox[dose]`` so the same patient re-treated at a higher dose
  is at least as likely to have a DLT (a latent tolerance, as in the "potential outcomes" of O'Quigley, Paoletti &
  Maccario 2002).
- mechanistic (to be written by the engine owner): re-simulates virtual patient ``(t, j)`` with
  ``nksim.simulate(scenario, ..., overrides={"dose_level": ...})`` and reads ``dlt``, ``dlt_day`` and
  ``best_response`` from its ``.patients`` table. It only has to satisfy :class:`PatientOutcomeModel`.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Protocol, runtime_checkable

import numpy as np

from nksim.errors import InputError
from nksim.rng import module_key, splitmix64, unit53

CHANNEL_DLT = 0
CHANNEL_RESPONSE = 1
CHANNEL_ONSET = 2
CHANNEL_ARRIVAL = 3
CHANNEL_POOL = 4  #: which pool patient a trial patient is (mechanistic mode with a simulated pool)


@lru_cache(maxsize=1024)
def _base_key(seed: int, channel: int) -> np.ndarray:
    base = splitmix64(np.array([seed & 0xFFFFFFFFFFFFFFFF], dtype=np.uint64))
    base = splitmix64(base ^ np.uint64(module_key("trial")))
    return splitmix64(base ^ np.uint64(channel))


def keyed_uniforms(seed: int, trial_ids: np.ndarray, patient_ids: np.ndarray, channel: int) -> np.ndarray:
    """Uniform(0, 1) draws keyed by ``(seed, "trial", trial id, patient id, channel)``, vectorised.

    A counter-based generator: each key is hashed by chained SplitMix64 rounds, so a draw depends only on its key,
    never on batch size, order or how many other patients were drawn (the vectorised equivalent of
    ``nksim.rng.stream(seed, "trial", t, j)``). Returns float64 in [0, 1) with 53 random bits.
    """
    if seed < 0:
        raise InputError("seed", seed, "a non-negative integer")
    t = np.asarray(trial_ids, dtype=np.int64).astype(np.uint64)
    j = np.asarray(patient_ids, dtype=np.int64).astype(np.uint64)
    z = splitmix64(splitmix64(_base_key(int(seed), int(channel)) ^ t) ^ j)
    return unit53(z)


@dataclass(frozen=True)
class TrialOutcomes:
    """Outcomes of a batch of treated patients (arrays of equal length).

    dlt: 1 if the patient had a dose-limiting toxicity in the DLT assessment window, else 0.
    dlt_day: day of DLT onset after the first infusion (days, NaN when no DLT).
    response: 1 for an objective response (CR/PR), else 0.
    """

    dlt: np.ndarray
    dlt_day: np.ndarray
    response: np.ndarray


@runtime_checkable
class PatientOutcomeModel(Protocol):
    """Anything that gives the outcomes of patient ``(trial_ids[i], patient_ids[i])`` treated at ``dose_levels[i]``.

    ``dose_levels`` are 1-based. The answer for a given (trial, patient, dose) must not depend on the batch it is
    asked in. ``n_doses`` is the number of dose levels the model knows; ``dlt_window_days`` the DLT window.
    """

    n_doses: int
    dlt_window_days: float

    def outcomes(self, trial_ids: np.ndarray, patient_ids: np.ndarray, dose_levels: np.ndarray) -> TrialOutcomes: ...


def _probabilities(name: str, values, n: int | None = None) -> np.ndarray:
    p = np.asarray(values, dtype=float).ravel()
    if p.size == 0 or (n is not None and p.size != n):
        raise InputError(name, list(p), f"{n if n else 'one or more'} probabilities, one per dose")
    if not np.all(np.isfinite(p)) or np.any((p < 0) | (p > 1)):
        raise InputError(name, list(p), "probabilities in [0, 1]")
    return p


class FixedProbabilityModel:
    """True DLT (and response) probability per dose, with common random numbers per (trial, patient).

    p_tox, p_eff: probability per dose level (dose 1 first). p_eff defaults to zeros (no efficacy data).
    dlt_window_days: DLT assessment window (days). Onset of a DLT within the window follows the Weibull model of
    the TITE designs' reference simulator (Lin & Yuan 2020, Biostatistics 21:807; TITEgBOIN get_oc): a fraction
    ``late_onset_fraction`` (alpha, default 0.5) of DLTs happen in the second half of the window.
    Toxicity and response are independent given the dose (the BOIN12 paper's default scenario setting).
    """

    def __init__(
        self,
        p_tox,
        p_eff=None,
        *,
        seed: int = 1,
        dlt_window_days: float = 28.0,
        late_onset_fraction: float = 0.5,
    ) -> None:
        self.p_tox = _probabilities("true_tox", p_tox)
        self.n_doses = int(self.p_tox.size)
        self.p_eff = (
            np.zeros(self.n_doses) if p_eff is None else _probabilities("true_eff", p_eff, self.n_doses)
        )
        if seed < 0:
            raise InputError("seed", seed, "a non-negative integer")
        if not dlt_window_days > 0:
            raise InputError("dlt_window_days", dlt_window_days, "a positive number of days")
        if not 0 < late_onset_fraction < 1:
            raise InputError("late_onset_fraction", late_onset_fraction, "a fraction in (0, 1)")
        self.seed = int(seed)
        self.dlt_window_days = float(dlt_window_days)
        self.late_onset_fraction = float(late_onset_fraction)

    def _onset_day(self, p: np.ndarray, v: np.ndarray) -> np.ndarray:
        """Weibull onset day given a DLT in the window: P(T <= W) = p, P(T <= W/2) = (1 - alpha) p."""
        w = self.dlt_window_days
        p = np.clip(p, 1e-9, 1 - 1e-9)
        p_half = (1.0 - self.late_onset_fraction) * p
        shape = np.log(np.log1p(-p) / np.log1p(-p_half)) / np.log(2.0)
        rate = -np.log1p(-p) / w**shape
        return (-np.log1p(-v * p) / rate) ** (1.0 / shape)

    def outcomes(self, trial_ids: np.ndarray, patient_ids: np.ndarray, dose_levels: np.ndarray) -> TrialOutcomes:
        d = np.asarray(dose_levels, dtype=np.int64)
        if d.size and (d.min() < 1 or d.max() > self.n_doses):
            raise InputError("dose_level", int(d.max() if d.max() > self.n_doses else d.min()),
                             f"a dose level in 1..{self.n_doses}")
        pt = self.p_tox[d - 1]
        dlt = keyed_uniforms(self.seed, trial_ids, patient_ids, CHANNEL_DLT) < pt
        resp = keyed_uniforms(self.seed, trial_ids, patient_ids, CHANNEL_RESPONSE) < self.p_eff[d - 1]
        day = np.full(d.shape, np.nan)
        if dlt.any():
            v = keyed_uniforms(self.seed, trial_ids[dlt], patient_ids[dlt], CHANNEL_ONSET)
            day[dlt] = self._onset_day(pt[dlt], v)
        return TrialOutcomes(dlt=dlt.astype(np.int8), dlt_day=day, response=resp.astype(np.int8))


def arrival_gaps(seed: int, trial_ids: np.ndarray, patient_ids: np.ndarray, mean_gap_days: float) -> np.ndarray:
    """Exponential inter-arrival gaps (days) before patient j of trial t (Poisson accrual), keyed like outcomes."""
    u = keyed_uniforms(seed, trial_ids, patient_ids, CHANNEL_ARRIVAL)
    return -np.log1p(-u) * mean_gap_days


RESPONDER_CATEGORIES = ("CR", "PR")


class CallableOutcomeModel:
    """Adapter for mechanistic outcome sources: wraps ``fn(trial_ids, patient_ids, dose_levels) -> table``.

    ``table`` is a pandas DataFrame (or mapping of arrays) with one row per requested patient, in order, holding
    ``dlt`` (0/1), ``dlt_day`` (days, NaN without DLT) and ``best_response`` (RECIST-like category, a responder is
    CR or PR; 0/1 is accepted too). The engine owner's mechanistic model only has to provide ``fn`` (e.g. map
    patient (t, j) to virtual patient id ``t * max_patients + j`` and call ``nksim.simulate`` with per-patient
    ``dose_level`` overrides). Results are memoised per (trial, patient, dose), so a patient asked twice at the
    same dose is simulated once.
    """

    def __init__(self, fn, n_doses: int, dlt_window_days: float = 28.0, seed: int = 0) -> None:
        self.fn = fn
        self.n_doses = int(n_doses)
        self.dlt_window_days = float(dlt_window_days)
        self.seed = int(seed)
        self._memo: dict[tuple[int, int, int], tuple[int, float, int]] = {}

    def outcomes(self, trial_ids: np.ndarray, patient_ids: np.ndarray, dose_levels: np.ndarray) -> TrialOutcomes:
        t = np.asarray(trial_ids, dtype=np.int64)
        j = np.asarray(patient_ids, dtype=np.int64)
        d = np.asarray(dose_levels, dtype=np.int64)
        keys = list(zip(t.tolist(), j.tolist(), d.tolist()))
        todo = [i for i, k in enumerate(keys) if k not in self._memo]
        if todo:
            tab = self.fn(t[todo], j[todo], d[todo])
            dlt = np.asarray(tab["dlt"]).astype(np.int64)
            day = np.asarray(tab["dlt_day"], dtype=float)
            best = np.asarray(tab["best_response"])
            resp = (np.isin(best.astype(str), RESPONDER_CATEGORIES) | (best.astype(str) == "1")).astype(np.int64)
            if not (len(dlt) == len(day) == len(resp) == len(todo)):
                raise InputError("outcome table", f"{len(dlt)} rows", f"one row per requested patient ({len(todo)})")
            for i, a, b, c in zip(todo, dlt, day, resp):
                self._memo[keys[i]] = (int(a), float(b), int(c))
        vals = np.array([self._memo[k] for k in keys], dtype=float).reshape(-1, 3)
        return TrialOutcomes(dlt=vals[:, 0].astype(np.int8), dlt_day=vals[:, 1], response=vals[:, 2].astype(np.int8))
