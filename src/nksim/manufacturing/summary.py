"""Summary of many lots: yield, doses per lot, release pass rate, cost per dose and times, with intervals.

Intervals over lots are the 5th-95th percentiles (lot-to-lot variability); rates carry a 95% Wilson interval
(Monte Carlo uncertainty of the rate from the number of lots simulated).
"""

from __future__ import annotations

import math
from typing import Sequence

import numpy as np

from nksim.manufacturing.lot import Lot
from nksim.manufacturing.params import Params, assumptions_used
from nksim.manufacturing.release import TESTS
from nksim.spec.manufacturing import ManufacturingSpec


def spread(x) -> dict[str, float | None]:
    """Median and 5th-95th percentiles (None for an empty sample)."""
    x = np.asarray(x, dtype=float)
    x = x[np.isfinite(x)]
    if x.size == 0:
        return {"median": None, "q05": None, "q95": None, "mean": None}
    q = np.quantile(x, [0.5, 0.05, 0.95])
    return {"median": float(q[0]), "q05": float(q[1]), "q95": float(q[2]), "mean": float(x.mean())}


def wilson(k: int, n: int, z: float = 1.96) -> dict[str, float]:
    """Proportion k/n with its 95% Wilson score interval."""
    if n == 0:
        return {"rate": float("nan"), "low": float("nan"), "high": float("nan")}
    ph = k / n
    den = 1 + z * z / n
    c = (ph + z * z / (2 * n)) / den
    h = z * math.sqrt(ph * (1 - ph) / n + z * z / (4 * n * n)) / den
    return {"rate": ph, "low": max(0.0, c - h), "high": min(1.0, c + h)}


def summarize_lots(lots: Sequence[Lot], spec: ManufacturingSpec | None = None,
                   params: Params | None = None) -> dict[str, object]:
    """A JSON-ready summary (see module docstring)."""
    n = len(lots)
    rel = np.array([lot.released for lot in lots])
    doses = np.array([lot.doses for lot in lots], dtype=float)
    plan = lots[0].plan
    meets = rel & (doses >= plan.planned_doses_per_lot)
    released_doses = doses * rel
    out: dict[str, object] = {
        "n_lots": n,
        "process": None if spec is None else spec.name,
        "source": lots[0].source,
        "fold_expansion": spread([lot.fold_expansion for lot in lots]),
        "yield_nk_cells": spread([lot.formulated_nk for lot in lots]),
        "harvest_viability": spread([lot.harvest_viability for lot in lots]),
        "car_fraction": spread([lot.car_fraction for lot in lots]),
        "car_half_life_d": float(lots[0].transfer.half_life_d) if math.isfinite(lots[0].transfer.half_life_d) else "inf",
        "post_thaw_viability": spread([lot.post_thaw_viability for lot in lots]),
        "potency": spread([lot.potency for lot in lots]),
        "cd3_per_kg": spread([lot.cd3_per_kg for lot in lots]),
        "dose_plan": {"cells_per_kg": plan.cells_per_kg, "flat_cells": plan.flat_cells, "basis": plan.basis,
                      "doses_per_patient": plan.doses_per_patient, "body_weight_kg": plan.body_weight_kg,
                      "planned_doses_per_lot": plan.planned_doses_per_lot, "patients_per_lot": plan.patients_per_lot},
        "doses_per_lot": spread(doses),
        "released_doses_per_lot": spread(released_doses),
        "release_pass": wilson(int(rel.sum()), n),
        "failure_by_test": {t: wilson(int(sum(not lot.tests[t] for lot in lots)), n) for t in TESTS},
        "meets_planned_dose_count": wilson(int(meets.sum()), n),
        "patients_per_lot": spread([lot.patients_served for lot in lots]),
        "cycle_time_d": spread([lot.cycle_time_d for lot in lots]),
        "vein_to_vein_d": spread([lot.vein_to_vein_d for lot in lots]),
    }
    costs = [lot.cost for lot in lots]
    if any(c is None for c in costs):
        out["cost"] = None
        out["cost_note"] = "no unit costs supplied (costs: block); nksim has no built-in prices"
    else:
        c = np.array(costs, dtype=float)
        total_doses = released_doses.sum()
        per_dose_released = [lot.cost / lot.doses for lot in lots if lot.released and lot.doses > 0]
        items = sorted({k for lot in lots for k in lot.cost_items})
        out["cost"] = {
            "currency": spec.costs.currency if spec is not None else "",
            "per_lot": spread(c),
            "per_released_dose": float(c.sum() / total_doses) if total_doses > 0 else None,
            "per_dose_in_released_lots": spread(per_dose_released),
            "items_costed": items,
            "mean_by_item": {k: float(np.mean([lot.cost_items.get(k, 0.0) for lot in lots])) for k in items},
        }
    cov = [lot.covariates.get("cb_unit_optimal") for lot in lots]
    if cov[0] is not None:
        out["cb_unit_optimal"] = wilson(int(sum(bool(x) for x in cov)), n)
    served = np.array([lot.patients_served for lot in lots], dtype=float)
    if spec is not None and spec.source.kind == "ipsc" and spec.source.bank_vials:
        vials = spec.source.bank_vials
        from nksim.rng import stream

        g = stream(0, "manufacturing-summary", 0)
        sums = served[g.integers(0, n, size=(2000, vials))].sum(axis=1)
        out["patients_per_bank"] = {"vials": vials, **spread(sums)}
    if spec is not None and spec.source.kind == "cord_blood":
        out["patients_per_cord_blood_unit"] = spread(served)
    if params is not None:
        out["assumptions"] = assumptions_used(params)
    return out
