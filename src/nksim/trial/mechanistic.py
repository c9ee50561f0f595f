"""Mechanistic mode: trial patients are virtual patients of a scenario, simulated by the cohort engine.

Patient j of simulated trial t is virtual patient ``t * max_patients + j`` of the scenario (covariates keyed by the
scenario seed and that id), so the same patient re-simulated at another dose keeps every covariate, and designs run
on this model see the same patients (common random numbers). DLT, DLT onset day and best response come from the
clinical readouts of ``nksim.simulate`` (``.patients``: ``dlt``, ``dlt_day``, ``best_response``).

With ``manufacturing`` (a process spec, a built-in process name, or True for the scenario's ``manufacturing``
block), each patient's product comes from a manufactured lot: virtual patient ``i`` gets lot ``i // m`` (m patients
per lot, from the process plan), planned at the dose level the design assigns. A lot that fails release or runs out
leaves the patient untreated or treated at a lower dose (``dose_scale``), and lot viability, potency, CAR+ fraction,
CAR half-life and CD3+ cells flow into the simulation. Untreated patients stay in the trial as non-responders
without DLT (intention to treat); ``untreated`` counts them.

With ``pool=P``, the model simulates P virtual patients once at every dose level (``outputs="summary"``) and trial
patient (t, j) is pool patient ``floor(u * P)``, u a uniform keyed by (seed, t, j) (``CHANNEL_POOL``): trials
then draw their patients with replacement from a fixed virtual population of P instead of each patient being a new
virtual patient. The same trial patient is the same pool patient at every dose (common random numbers, as
without a pool), a design sees the pool's patients, and thousands of trials cost one P x doses simulation plus
table look-ups (``benchmarks/trial_mechanistic_speed.py``). What it changes statistically: the operating
characteristics are those of the design on the pool's population (its DLT and response rates per dose are
``population_rates()``, computed on the pool itself, so the 'truth' the selections are judged against is exactly
the population the trials sample); the pool's rates differ from the scenario's infinite-population rates by
their sampling error, about sqrt(p (1 - p) / P) (0.007 for p = 0.1 at P = 2000), and trials share patients, so the
Monte Carlo error of a selection percentage over n trials no longer shrinks below that pool-level error however
large n is. Use a pool of at least ~100 times the trial's size; without a pool every trial patient is new.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from nksim.engine import simulate
from nksim.errors import InputError
from nksim.spec.scenario import Scenario
from nksim.trial.outcomes import (
    CHANNEL_POOL,
    RESPONDER_CATEGORIES,
    CallableOutcomeModel,
    TrialOutcomes,
    keyed_uniforms,
)

POPULATION_ID_OFFSET = 10**9  # virtual patients used to estimate population rates, apart from trial patients
POOL_ID_OFFSET = 2 * 10**9  # virtual patients of a pool (``pool=``), apart from both


class MechanisticOutcomeModel:
    """A :class:`~nksim.trial.outcomes.PatientOutcomeModel` backed by the kinetic model and clinical readouts."""

    def __init__(self, scenario: Scenario, *, max_patients: int, horizon_d: float | None = None,
                 overrides: dict[str, Any] | None = None, manufacturing: Any = None, pool: int | None = None) -> None:
        if max_patients < 1:
            raise InputError("max_patients", max_patients, "an integer >= 1 (patients per simulated trial)")
        if pool is not None and not 1 <= int(pool) <= 10_000_000:
            raise InputError("pool", pool, "a whole number of virtual patients in 1..10,000,000 (or None: no pool)")
        self.pool = None if pool is None else int(pool)
        self._pool_table: np.ndarray | None = None  # (dose, pool patient, [dlt, dlt_day, response])
        sim = scenario.simulation
        if horizon_d is not None:
            if horizon_d < scenario.readouts.dlt_window_days:
                raise InputError("horizon_d", horizon_d, f">= the DLT window ({scenario.readouts.dlt_window_days} d)")
            sim = sim.model_copy(update={"horizon_d": float(horizon_d)})
        self.scenario = scenario.model_copy(update={"simulation": sim})
        self.max_patients = int(max_patients)
        self.n_doses = len(scenario.regimen.dose_levels)
        self.dlt_window_days = float(scenario.readouts.dlt_window_days)
        self.extra = dict(overrides or {})
        self.simulated_patients = 0
        self.untreated = 0
        self.manufacturing = None
        if manufacturing is not None and manufacturing is not False:
            from nksim.manufacturing.loader import load_manufacturing_spec

            spec = scenario.manufacturing if manufacturing is True else manufacturing
            if spec is None:
                raise InputError("manufacturing", True, "a scenario with a manufacturing block, or a process name")
            self.manufacturing = load_manufacturing_spec(spec)
        self._adapter = CallableOutcomeModel(self._table, self.n_doses, self.dlt_window_days, sim.seed)

    def _lot_overrides(self, ids: np.ndarray, dose_levels: np.ndarray) -> dict[str, np.ndarray]:
        """Product attributes from each patient's lot (lot i // m), planned at the patient's dose level."""
        from nksim.manufacturing.clinic import lots_to_overrides
        from nksim.manufacturing.lot import simulate_lot
        from nksim.manufacturing.params import resolve_parameters
        from nksim.manufacturing.lot import dose_plan
        from nksim.population.sampling import sample_patients

        spec = self.manufacturing
        params = resolve_parameters(spec)
        m = dose_plan(spec, params).patients_per_lot
        weights = sample_patients(self.scenario, ids)["weight_kg"].to_numpy(float)
        out: dict[str, list] = {}
        for pid, level, w in zip(ids.tolist(), np.asarray(dose_levels).tolist(), weights.tolist()):
            dose = self.scenario.regimen.dose_levels[int(level) - 1]
            per_kg = dose.value if dose.unit == "cells/kg" else dose.value / w
            lot = simulate_lot(spec, pid // m, self.scenario.simulation.seed, params)
            ov = lots_to_overrides([lot], m, body_weight_kg=w, planned_cells_per_kg=per_kg)
            for k, v in ov.items():
                out.setdefault(k, []).append(v[pid % m])
        return {k: np.asarray(v) for k, v in out.items()}

    def _simulate(self, ids: np.ndarray, dose_levels: np.ndarray) -> pd.DataFrame:
        ov = {**self.extra, "dose_level": np.asarray(dose_levels, dtype=np.int64)}
        if self.manufacturing is not None:
            ov.update(self._lot_overrides(ids, dose_levels))
        res = simulate(self.scenario, patient_ids=ids, overrides=ov, outputs="summary")
        self.simulated_patients += len(ids)
        self.untreated += int((~res.patients["treated"].astype(bool)).sum())
        return res.patients.loc[ids]

    def _table(self, trial_ids: np.ndarray, patient_ids: np.ndarray, dose_levels: np.ndarray) -> pd.DataFrame:
        if np.any(patient_ids >= self.max_patients):
            raise InputError("patient index", int(patient_ids.max()), f"< max_patients ({self.max_patients})")
        ids = np.asarray(trial_ids, dtype=np.int64) * self.max_patients + np.asarray(patient_ids, dtype=np.int64)
        tab = self._simulate(ids, dose_levels)
        return pd.DataFrame({"dlt": tab["dlt"].to_numpy(), "dlt_day": tab["dlt_day"].to_numpy(),
                             "best_response": tab["best_response"].astype(str).to_numpy()})

    def outcomes(self, trial_ids: np.ndarray, patient_ids: np.ndarray, dose_levels: np.ndarray) -> TrialOutcomes:
        if self.pool is None:
            return self._adapter.outcomes(trial_ids, patient_ids, dose_levels)
        d = np.asarray(dose_levels, dtype=np.int64)
        if d.size and (d.min() < 1 or d.max() > self.n_doses):
            raise InputError("dose level", int(d.min() if d.min() < 1 else d.max()), f"in 1..{self.n_doses}")
        vals = self.pool_table()[d - 1, self.pool_index(trial_ids, patient_ids)]
        return TrialOutcomes(dlt=vals[:, 0].astype(np.int8), dlt_day=vals[:, 1], response=vals[:, 2].astype(np.int8))

    def pool_index(self, trial_ids: np.ndarray, patient_ids: np.ndarray) -> np.ndarray:
        """Which pool patient trial patient (t, j) is (``pool=`` mode): floor(u * pool), u keyed by (seed, t, j)."""
        if self.pool is None:
            raise InputError("pool", None, "a pool size (MechanisticOutcomeModel(..., pool=P))")
        u = keyed_uniforms(self.scenario.simulation.seed, trial_ids, patient_ids, CHANNEL_POOL)
        return np.minimum((u * self.pool).astype(np.int64), self.pool - 1)

    def pool_table(self) -> np.ndarray:
        """(dose level - 1, pool patient, [dlt, dlt_day, responder]): the pool simulated once at every dose level
        (virtual patients ``POOL_ID_OFFSET + k``, the same patients at every dose)."""
        if self._pool_table is None:
            ids = POOL_ID_OFFSET + np.arange(self.pool, dtype=np.int64)
            out = np.empty((self.n_doses, self.pool, 3))
            for level in range(1, self.n_doses + 1):
                tab = self._simulate(ids, np.full(self.pool, level))
                out[level - 1, :, 0] = tab["dlt"].to_numpy(dtype=float)
                out[level - 1, :, 1] = tab["dlt_day"].to_numpy(dtype=float)
                out[level - 1, :, 2] = tab["best_response"].astype(str).isin(RESPONDER_CATEGORIES).to_numpy()
            self._pool_table = out
        return self._pool_table

    def population_rates(self, n: int = 200) -> pd.DataFrame:
        """DLT and response rate per dose level in ``n`` virtual patients (the same patients at every dose): the
        mechanistic counterpart of the 'true' probabilities of a fixed-probability simulation. With a pool, the
        rates of the pool itself (``n`` is then ignored): the population the trials sample."""
        if self.pool is not None:
            tab = self.pool_table()
            return pd.DataFrame([{"dose_level": level, "dose": self.scenario.regimen.dose_levels[level - 1].value,
                                  "unit": self.scenario.regimen.dose_levels[level - 1].unit,
                                  "p_dlt": float(tab[level - 1, :, 0].mean()),
                                  "p_response": float(tab[level - 1, :, 2].mean()), "n": self.pool}
                                 for level in range(1, self.n_doses + 1)])
        ids = POPULATION_ID_OFFSET + np.arange(n, dtype=np.int64)
        rows = []
        for level in range(1, self.n_doses + 1):
            tab = self._simulate(ids, np.full(n, level))
            resp = tab["best_response"].astype(str).isin(RESPONDER_CATEGORIES)
            rows.append({"dose_level": level, "dose": self.scenario.regimen.dose_levels[level - 1].value,
                         "unit": self.scenario.regimen.dose_levels[level - 1].unit,
                         "p_dlt": float(tab["dlt"].mean()), "p_response": float(resp.mean()), "n": n})
        return pd.DataFrame(rows)
