"""Release testing of a lot: viability, CD3+ per kg at the planned dose, CAR+ fraction, sterility, endotoxin,
mycoplasma, and enough cells for a dose. A lot is released when it passes every test that applies."""

from __future__ import annotations

import numpy as np

from nksim.manufacturing.params import Params
from nksim.spec.manufacturing import ManufacturingSpec

TESTS = ("viability", "cd3_per_kg", "car_fraction", "sterility", "endotoxin", "mycoplasma", "yield")


def limits(spec: ManufacturingSpec, p: Params) -> dict[str, float | None]:
    r = spec.release
    return {
        "min_viability": r.min_viability if r.min_viability is not None else p["mfg_release_min_viability"],
        "max_cd3_per_kg": r.max_cd3_per_kg if r.max_cd3_per_kg is not None else p["mfg_release_max_cd3_per_kg"],
        "min_car_fraction": (None if spec.gene_transfer.method == "none" else
                             r.min_car_fraction if r.min_car_fraction is not None else p["mfg_release_min_car_fraction"]),
    }


def release_tests(spec: ManufacturingSpec, p: Params, rng: np.random.Generator, *, viability: float,
                  cd3_per_kg: float, car_fraction: float, dose_fraction_available: float) -> dict[str, bool]:
    """Pass/fail by test (three uniforms always consumed for the microbiology tests)."""
    lim = limits(spec, p)
    u = rng.random(3)
    r = spec.release
    out = {
        "viability": viability >= lim["min_viability"],
        "cd3_per_kg": cd3_per_kg <= lim["max_cd3_per_kg"],
        "car_fraction": True if lim["min_car_fraction"] is None else car_fraction >= lim["min_car_fraction"],
        "sterility": (u[0] < p["mfg_sterility_pass_prob"]) if r.sterility else True,
        "endotoxin": (u[1] < p["mfg_endotoxin_pass_prob"]) if r.endotoxin else True,
        "mycoplasma": (u[2] < p["mfg_mycoplasma_pass_prob"]) if r.mycoplasma else True,
        "yield": dose_fraction_available >= max(spec.dose.min_dose_fraction, 1e-12),
    }
    return {k: bool(v) for k, v in out.items()}
