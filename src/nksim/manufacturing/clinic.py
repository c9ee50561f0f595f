"""Link to the clinic: manufactured lots become per-patient product attributes (the cohort engine's overrides).

Patients are assigned to lots in order: lot j serves patients j*m .. j*m + m - 1 (m = patients per lot). A patient
whose lot failed release is not treated; within a released lot patients take cells in order, and a patient who gets
less than a full planned dose is treated at the lower dose when it is at least ``min_dose_fraction`` of it, else not
treated. ``dose_scale`` is the labelled dose delivered over the planned dose; viability (post-thaw) is separate, so
the engine's viable dose = planned x dose_scale x viability.
"""

from __future__ import annotations

import math
from dataclasses import replace
from typing import Sequence

import numpy as np

from nksim.errors import InputError
from nksim.manufacturing.lot import Lot, dose_plan, simulate_lots
from nksim.manufacturing.params import resolve_parameters

OVERRIDE_KEYS = ("viability", "potency", "fitness", "car_fraction", "car_half_life_d", "cd3_per_kg", "dose_scale",
                 "treated")


def _weights(body_weight_kg, n: int, default: float) -> np.ndarray:
    if body_weight_kg is None:
        return np.full(n, default)
    w = np.broadcast_to(np.asarray(body_weight_kg, dtype=float), (n,)) if np.ndim(body_weight_kg) == 0 else \
        np.asarray(body_weight_kg, dtype=float)
    if w.shape != (n,):
        raise InputError("body_weight_kg", f"array of length {w.size}", f"a number or an array of length {n}")
    if not np.all(np.isfinite(w)) or np.any(w <= 0):
        raise InputError("body_weight_kg", float(np.min(w)), "positive, finite weights in kg")
    return w.astype(float)


def lots_to_overrides(lots: Sequence[Lot], n_patients: int | None = None, *, body_weight_kg=None,
                      patients_per_lot: int | None = None, min_dose_fraction: float | None = None,
                      planned_cells_per_kg=None) -> dict[str, np.ndarray]:
    """Per-patient product attributes with exactly the keys ``OVERRIDE_KEYS`` (arrays of length n_patients).

    ``body_weight_kg``: the patients' weights (number or array; default the plan's counting weight).
    ``planned_cells_per_kg``: each patient's planned dose per kg (number or array, e.g. the dose level a trial
    assigned); replaces the process's planned dose, so cells run out sooner at higher dose levels.

    viability: fraction of labelled viable cells viable at infusion (post-thaw; 1 for fresh); potency:
    cytotoxicity relative to fresh; fitness: in vivo proliferative fitness (cord-blood unit quality); car_fraction: CAR+ fraction; car_half_life_d: CAR expression half-life
    (inf for stable transfer); cd3_per_kg: T cells per kg in each delivered dose; dose_scale: delivered / planned
    dose (0 untreated); treated: bool.
    """
    if len(lots) == 0:
        raise InputError("lots", 0, "at least one manufactured lot")
    plan = lots[0].plan
    m = patients_per_lot if patients_per_lot is not None else plan.patients_per_lot
    if m < 1:
        raise InputError("patients_per_lot", m, "a positive integer")
    n = len(lots) * m if n_patients is None else int(n_patients)
    if n < 0:
        raise InputError("n_patients", n_patients, "a non-negative integer")
    if n > len(lots) * m:
        raise InputError("n_patients", n, f"at most {len(lots) * m} for {len(lots)} lots x {m} patients per lot "
                         f"(simulate {math.ceil(n / m)} lots)")
    fmin = plan.min_dose_fraction if min_dose_fraction is None else float(min_dose_fraction)
    if not 0.0 <= fmin <= 1.0:
        raise InputError("min_dose_fraction", min_dose_fraction, "a fraction in [0, 1]")
    w = _weights(body_weight_kg, n, plan.body_weight_kg)
    per_kg = None
    if planned_cells_per_kg is not None:
        per_kg = np.broadcast_to(np.asarray(planned_cells_per_kg, dtype=float), (n,)) \
            if np.ndim(planned_cells_per_kg) == 0 else np.asarray(planned_cells_per_kg, dtype=float)
        if per_kg.shape != (n,) or not np.all(np.isfinite(per_kg)) or np.any(per_kg < 0):
            raise InputError("planned_cells_per_kg", planned_cells_per_kg, f"a dose >= 0 cells/kg or {n} of them")
    out = {k: np.zeros(n) for k in OVERRIDE_KEYS}
    out["treated"] = np.zeros(n, dtype=bool)
    remaining = {}
    for i in range(n):
        lot = lots[i // m]
        out["viability"][i] = lot.post_thaw_viability
        out["potency"][i] = lot.potency
        out["fitness"][i] = lot.fitness
        out["car_fraction"][i] = lot.car_fraction
        out["car_half_life_d"][i] = lot.transfer.half_life_d
        if not lot.released:
            continue
        left = remaining.setdefault(lot.lot_id, lot.formulated_nk)
        p_i = plan if per_kg is None else replace(plan, cells_per_kg=float(per_kg[i]), flat_cells=None)
        per_dose = p_i.nk_cells_per_dose(w[i], lot.car_fraction)
        need = per_dose * plan.doses_per_patient
        if not math.isfinite(need) or need <= 0:
            continue
        give = min(need, left)
        frac = give / need
        if frac <= 0.0 or frac < fmin - 1e-12:
            continue
        remaining[lot.lot_id] = left - give
        out["dose_scale"][i] = frac
        out["treated"][i] = True
        out["cd3_per_kg"][i] = lot.t_per_nk * per_dose * frac / w[i]
    return out


def manufacture_for_patients(spec, n_patients: int, seed: int = 0, *, body_weight_kg=None,
                             first_lot: int = 0) -> tuple[dict[str, np.ndarray], list[Lot]]:
    """Simulate just enough lots for ``n_patients`` and return (overrides, lots)."""
    from nksim.manufacturing.loader import load_manufacturing_spec

    spec = load_manufacturing_spec(spec)
    if isinstance(n_patients, bool) or int(n_patients) != n_patients or n_patients < 1:
        raise InputError("n_patients", n_patients, "a positive integer")
    p = resolve_parameters(spec)
    m = dose_plan(spec, p).patients_per_lot
    lots = simulate_lots(spec, math.ceil(n_patients / m), seed, first_lot=first_lot, params=p)
    return lots_to_overrides(lots, int(n_patients), body_weight_kg=body_weight_kg), lots


def overrides_for_scenario(scenario, n_patients: int | None = None, seed: int | None = None, *,
                           patient_ids=None) -> tuple[dict[str, np.ndarray], list[Lot]]:
    """Overrides for a Scenario that carries a ``manufacturing`` block, using its virtual patients' weights.

    Lots use the scenario's seed (or ``seed``); patient i gets lot i // patients_per_lot.
    """
    from nksim.manufacturing.loader import load_manufacturing_spec
    from nksim.population.sampling import sample_patients

    mfg = getattr(scenario, "manufacturing", None)
    if mfg is None:
        raise InputError("manufacturing", None, "a scenario with a manufacturing block")
    spec = load_manufacturing_spec(mfg if not isinstance(mfg, dict) else dict(mfg))
    sim = scenario.simulation
    n = int(n_patients if n_patients is not None else sim.n_patients)
    ids = np.arange(n) if patient_ids is None else np.asarray(patient_ids, dtype=np.int64)
    s = int(sim.seed if seed is None else seed)
    weights = sample_patients(scenario, ids)["weight_kg"].to_numpy(dtype=float)
    p = resolve_parameters(spec)
    m = dose_plan(spec, p).patients_per_lot
    lots = simulate_lots(spec, math.ceil(len(ids) / m), s, params=p)
    return lots_to_overrides(lots, len(ids), body_weight_kg=weights), lots
