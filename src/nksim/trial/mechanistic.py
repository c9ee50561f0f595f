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
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from nksim.engine import simulate
from nksim.errors import InputError
from nksim.spec.scenario import Scenario
from nksim.trial.outcomes import RESPONDER_CATEGORIES, CallableOutcomeModel, TrialOutcomes

POPULATION_ID_OFFSET = 10**9  # virtual patients used to estimate population rates, apart from trial patients


class MechanisticOutcomeModel:
    """A :class:`~nksim.trial.outcomes.PatientOutcomeModel` backed by the kinetic model and clinical readouts."""

    def __init__(self, scenario: Scenario, *, max_patients: int, horizon_d: float | None = None,
                 overrides: dict[str, Any] | None = None, manufacturing: Any = None) -> None:
        if max_patients < 1:
            raise InputError("max_patients", max_patients, "an integer >= 1 (patients per simulated trial)")
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
        res = simulate(self.scenario, patient_ids=ids, overrides=ov)
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
        return self._adapter.outcomes(trial_ids, patient_ids, dose_levels)

    def population_rates(self, n: int = 200) -> pd.DataFrame:
        """DLT and response rate per dose level in ``n`` virtual patients (the same patients at every dose): the
        mechanistic counterpart of the 'true' probabilities of a fixed-probability simulation."""
        ids = POPULATION_ID_OFFSET + np.arange(n, dtype=np.int64)
        rows = []
        for level in range(1, self.n_doses + 1):
            tab = self._simulate(ids, np.full(n, level))
            resp = tab["best_response"].astype(str).isin(RESPONDER_CATEGORIES)
            rows.append({"dose_level": level, "dose": self.scenario.regimen.dose_levels[level - 1].value,
                         "unit": self.scenario.regimen.dose_levels[level - 1].unit,
                         "p_dlt": float(tab["dlt"].mean()), "p_response": float(resp.mean()), "n": n})
        return pd.DataFrame(rows)
