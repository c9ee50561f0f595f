"""Lot economics (cost from user-supplied unit costs only) and logistics (cycle and vein-to-vein times)."""

from __future__ import annotations

import math

import numpy as np

from nksim.manufacturing.draws import lognormal_median
from nksim.manufacturing.expansion import FEEDER_METHODS
from nksim.manufacturing.params import Params
from nksim.spec.manufacturing import ManufacturingSpec


def media_litres(days: np.ndarray, cells: np.ndarray, spec: ManufacturingSpec, p: Params) -> float:
    """Medium used: initial volume plus the daily exchanged fraction of the culture volume (cells / density)."""
    if len(days) < 2:
        return 0.0
    key = "mfg_bioreactor_density" if spec.expansion.vessel == "bioreactor" else "mfg_flask_density"
    vol_l = cells / p[key] / 1000.0
    exchanged = float(np.sum(0.5 * (vol_l[1:] + vol_l[:-1]) * np.diff(days))) * p["mfg_media_exchange_per_day"]
    return float(vol_l[0] + exchanged)


def feeder_stimulations(spec: ManufacturingSpec, p: Params) -> int:
    if spec.expansion.method not in FEEDER_METHODS or spec.expansion.days <= 0:
        return 0
    return int(math.ceil(spec.expansion.days / p["mfg_feeder_restim_interval_d"]))


def lot_cost(spec: ManufacturingSpec, p: Params, *, litres: float, facility_days: float,
             doses: int) -> tuple[float | None, dict[str, float]]:
    """Total lot cost and its breakdown; None when no unit cost was supplied (no prices are invented)."""
    c = spec.costs
    items: dict[str, float] = {}
    if c.media_per_l is not None:
        items["media"] = c.media_per_l * litres
    if c.cytokines_per_l is not None:
        items["cytokines"] = c.cytokines_per_l * litres
    if c.feeder_per_stimulation is not None:
        items["feeders"] = c.feeder_per_stimulation * feeder_stimulations(spec, p)
    if c.vector_per_lot is not None and spec.gene_transfer.method != "none":
        items["vector"] = c.vector_per_lot
    if c.qc_per_lot is not None:
        items["qc"] = c.qc_per_lot
    if c.facility_per_day is not None:
        items["facility"] = c.facility_per_day * facility_days
    if c.cryo_per_dose is not None and spec.cryo.frozen:
        items["cryo"] = c.cryo_per_dose * doses
    if c.collection_per_lot is not None:
        items["collection"] = c.collection_per_lot
    if c.other_per_lot is not None:
        items["other"] = c.other_per_lot
    if not any(v is not None for k, v in c.model_dump().items() if k != "currency"):
        return None, {}
    return float(sum(items.values())), items


def lot_times(spec: ManufacturingSpec, p: Params, rng: np.random.Generator,
              differentiation_days: float) -> tuple[float, float]:
    """(manufacturing cycle time, vein-to-vein time) in days; three normals always consumed.

    Cycle: differentiation + culture + formulation + release testing (frozen lots only; a fresh lot is infused on
    rapid tests). Vein-to-vein: made to order = scheduling + cycle + shipping; off the shelf = shipping only
    (order to infusion from a released inventory).
    """
    sched = lognormal_median(rng, p["mfg_scheduling_days"], p.omega2("mfg_scheduling_days"))
    testing = lognormal_median(rng, p["mfg_release_testing_days"], p.omega2("mfg_release_testing_days"))
    ship = lognormal_median(rng, p["mfg_shipping_days"], p.omega2("mfg_shipping_days"))
    cycle = differentiation_days + spec.expansion.days + p["mfg_formulation_days"] + (testing if spec.cryo.frozen else 0.0)
    if spec.logistics.mode == "off_the_shelf":
        return cycle, ship
    return cycle, sched + cycle + ship
