"""The seeds' qualitative claims as paired ABM comparisons over seeds (docs/spatial.md; tests assert directions).

Each claim runs arm A (control) and arm B (intervention) on the same seeds (same tissue), takes a metric from the
final state and reports the mean paired difference B - A with a 95% t-interval.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np
from scipy import stats

from nksim.spatial.model import Simulation
from nksim.spec.spatial import SpatialSpec, load_spatial_spec


def small_hcc(size: int = 60, **updates) -> SpatialSpec:
    """A small HCC region for fast comparisons."""
    base = {"tissue.size": (size, size), "time.snapshots": 0, "nk.blood_nk_per_ul": (40.0,),
            "nk.blood_times_d": (0.0,)}
    base.update(updates)
    return load_spatial_spec("hcc-gpc3-car").with_updates(**base)


@dataclass(frozen=True)
class Claim:
    name: str
    statement: str
    base: Callable[[], SpatialSpec]
    arm_a: dict
    arm_b: dict
    metric: Callable[[Simulation], float]
    metric_name: str
    days: float
    direction: int = 1  # +1: B > A expected


def _infiltrated(sim: Simulation) -> float:
    return float(sim.records[-1][sim_index("nk_in_tumor")])


def sim_index(name: str) -> int:
    from nksim.spatial.params import RECORD_NAMES

    return RECORD_NAMES.index(name)


def _kills(sim: Simulation) -> float:
    r = sim.records[-1]
    return float(r[sim_index("kills_nat")] + r[sim_index("kills_car")] + r[sim_index("kills_adcc")])


def _neg_left_fraction(sim: Simulation) -> float:
    r0, r1 = sim.records[0], sim.records[-1]
    i = sim_index("tumor_antigen_neg")
    return float(r1[i] / max(r0[i], 1))


def _functional(sim: Simulation) -> float:
    return float(sim.records[-1][sim_index("nk_functional")])


CLAIMS: dict[str, Claim] = {
    "chemokine_receptor_infiltration": Claim(
        "chemokine_receptor_infiltration",
        "A chemokine receptor matched to the tumor's chemokines (CXCR2 for CXCL1/CXCL8 in HCC) raises infiltration",
        lambda: small_hcc(64, **{"tissue.vessel_layout": "peripheral", "tissue.tumor_radius_fraction": 0.6}),
        {"product.chemokine_receptor": None}, {"product.chemokine_receptor": "CXCR2"},
        _infiltrated, "NK inside the tumor mass at the end", 1.25),
    "dntgfbr2_restores_killing": Claim(
        "dntgfbr2_restores_killing",
        "dnTGFBR2 restores killing in a TGF-beta-rich tumor (NK without CAR: natural cytotoxicity, IC50_nat low)",
        lambda: small_hcc(60, **{"fields.tgfb_tumor_ng_ml": 10.0, "nk.initial_nk": 150,
                                 "nk.initial_placement": "tumor", "product.car_targets": ()}),
        {"product.dntgfbr2": False}, {"product.dntgfbr2": True}, _kills, "tumor cells killed", 0.5),
    "natural_cytotoxicity_clears_antigen_negative": Claim(
        "natural_cytotoxicity_clears_antigen_negative",
        "A CAR alone leaves antigen-negative islands that natural cytotoxicity then clears",
        lambda: small_hcc(60, **{"nk.initial_nk": 300, "nk.initial_placement": "tumor", "tumor.hla_level": 0.3}),
        {"product.natural_cytotoxicity_scale": 0.0}, {"product.natural_cytotoxicity_scale": 1.0},
        _neg_left_fraction, "antigen-negative tumor left (fraction of start)", 2.0, direction=-1),
    "il15_armoring_prolongs_activity": Claim(
        "il15_armoring_prolongs_activity",
        "IL-15 armoring (secreted) prolongs NK activity",
        lambda: small_hcc(50, **{"nk.initial_nk": 200, "nk.initial_placement": "tumor", "nk.blood_nk_per_ul": (0.0,),
                                 "fields.il15_systemic_pg_ml": 1.0}),
        {"product.il15": "none"}, {"product.il15": "secreted"}, _functional, "functional (non-exhausted) NK alive",
        2.5),
}


def compare(claim: Claim | str, seeds: range | list[int] = range(10)) -> dict:
    """Run both arms on each seed; mean of A and B, paired difference B - A and its 95% t-interval."""
    c = CLAIMS[claim] if isinstance(claim, str) else claim
    base = c.base()
    spec_a, spec_b = base.with_updates(**c.arm_a), base.with_updates(**c.arm_b)
    a = np.array([c.metric(Simulation.create(spec_a, seed=s, days=c.days).run()) for s in seeds])
    b = np.array([c.metric(Simulation.create(spec_b, seed=s, days=c.days).run()) for s in seeds])
    d = b - a
    n = d.size
    half = stats.t.ppf(0.975, n - 1) * d.std(ddof=1) / np.sqrt(n) if n > 1 else np.inf
    return {"claim": c.name, "statement": c.statement, "metric": c.metric_name, "n_seeds": n,
            "mean_a": float(a.mean()), "mean_b": float(b.mean()), "diff": float(d.mean()),
            "ci_low": float(d.mean() - half), "ci_high": float(d.mean() + half), "direction": c.direction,
            "holds": bool((d.mean() - half > 0) if c.direction > 0 else (d.mean() + half < 0)),
            "a": a.tolist(), "b": b.tolist()}
