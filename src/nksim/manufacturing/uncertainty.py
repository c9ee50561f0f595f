"""Parameter uncertainty: replicate a process over registry ranges (what we do not know), apart from lot-to-lot
variability (how lots differ).

Each replicate draws every registry entry the process reads (except those the process itself fixes in
``parameters:`` and the defaults that stand for process choices, such as release limits) from its registry range: log-uniform for log-transformed positive entries, uniform otherwise. The
same lot ids and seed are used in every replicate (common random numbers), so differences between replicates come
from the parameters.
"""

from __future__ import annotations

import math

import numpy as np

from nksim.errors import InputError
from nksim.manufacturing.lot import simulate_lots
from nksim.manufacturing.params import resolve_parameters
from nksim.manufacturing.summary import spread
from nksim.rng import stream
from nksim.spec.manufacturing import ManufacturingSpec


# Registry defaults that stand for process choices (limits, conventions, set-points), not unknown biology: fixed.
PROCESS_CHOICES = frozenset({
    "mfg_release_min_viability", "mfg_release_max_cd3_per_kg", "mfg_release_min_car_fraction",
    "mfg_reference_body_weight_kg", "mfg_seed_nk_cells", "mfg_viral_transfer_day", "mfg_feeder_restim_interval_d",
    "mfg_qc_sample_cells", "mfg_ipsc_cells_per_vial", "mfg_nk92_cells_per_vial",
})


def _draw(entry, g: np.random.Generator) -> float:
    u = g.random()
    lo, hi = entry.low, entry.high
    if entry.transform == "log" and lo > 0:
        return float(math.exp(math.log(lo) + u * (math.log(hi) - math.log(lo))))
    return float(lo + u * (hi - lo))


def _metrics(lots) -> dict[str, float]:
    rel = np.array([lot.released for lot in lots])
    doses = np.array([lot.doses for lot in lots], dtype=float)
    out = {
        "release_pass_rate": float(rel.mean()),
        "meets_planned_dose_count": float((rel & (doses >= lots[0].plan.planned_doses_per_lot)).mean()),
        "median_doses_per_lot": float(np.median(doses)),
        "median_yield_nk_cells": float(np.median([lot.formulated_nk for lot in lots])),
        "median_vein_to_vein_d": float(np.median([lot.vein_to_vein_d for lot in lots])),
        "median_car_fraction": float(np.median([lot.car_fraction for lot in lots])),
        "median_post_thaw_viability": float(np.median([lot.post_thaw_viability for lot in lots])),
        "median_potency": float(np.median([lot.potency for lot in lots])),
    }
    if all(lot.cost is not None for lot in lots):
        released = float((doses * rel).sum())
        out["cost_per_released_dose"] = float(sum(lot.cost for lot in lots) / released) if released else float("nan")
    return out


def uncertainty_replicates(spec: ManufacturingSpec, n_lots: int, seed: int, n_reps: int) -> dict[str, object]:
    """Spread (median, 5th-95th percentiles over replicates) of the key lot metrics under parameter uncertainty."""
    if isinstance(n_reps, bool) or int(n_reps) != n_reps or n_reps < 2:
        raise InputError("--uncertainty", n_reps, "an integer >= 2 (number of parameter replicates)")
    p0 = resolve_parameters(spec)
    simulate_lots(spec, min(n_lots, 20), seed, params=p0)  # which entries does this process read?
    names = sorted(n for n in p0.used if n not in spec.parameters and n not in PROCESS_CHOICES)
    rows = []
    for r in range(int(n_reps)):
        g = stream(seed, "manufacturing-uncertainty", r)
        draws = {n: _draw(p0.entry(n), g) for n in names}
        spec_r = spec.model_copy(update={"parameters": {**spec.parameters, **draws}})
        rows.append(_metrics(simulate_lots(spec_r, n_lots, seed)))
    keys = rows[0].keys()
    return {"replicates": int(n_reps), "lots_per_replicate": int(n_lots), "varied": names,
            "metrics": {k: spread([row[k] for row in rows]) for k in keys}}
