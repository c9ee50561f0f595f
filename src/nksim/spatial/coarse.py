"""Coarse-graining the ABM into the kinetic model's lesion parameters, and the lesion ODE that uses them.

Per condition (TGF-beta level, hypoxia knob, antigen fraction, armoring) the ABM runs over seeds and gives
* ``e_x``: infiltration efficiency = NK reaching the tumor per day / (perfusion x lesion volume x blood NK per mL)
  (the kinetic model's k_Bl = Q V / V_b e_x m_chemo, so with this table m_chemo = 1: the receptor is inside e_x);
* ``k_nat_eff``, ``k_car_eff``: kills per killing-competent, non-exhausted NK in the lesion per day, by pathway,
  with TGF-beta and hypoxia suppression already inside (the engine then skips its own factors);
* ``exhausted_fraction``: time-averaged exhausted share of competent NK in the lesion; ``f_comp`` as used.
"""

from __future__ import annotations

import itertools
from importlib import resources
from pathlib import Path

import numpy as np
import pandas as pd

from nksim.errors import InputError
from nksim.spatial.model import Simulation
from nksim.spatial.params import RECORD_NAMES
from nksim.spec.spatial import SpatialSpec, load_spatial_spec

PARAMETER_COLUMNS = ("e_x", "k_nat_eff", "k_car_eff", "exhausted_fraction", "f_comp")
CONDITION_COLUMNS = ("tgfb_ng_ml", "o2_consumption_scale", "antigen_fraction", "il15", "dntgfbr2",
                     "chemokine_receptor")
DEFAULT_GRID = {
    "tgfb_ng_ml": (0.5, 2.0, 10.0),
    "o2_consumption_scale": (0.3, 1.0),
    "antigen_fraction": (0.5, 0.9),
    "armoring": (("none", False, None), ("none", True, None), ("secreted", True, "CXCR2")),
}


def _idx(name: str) -> int:
    return RECORD_NAMES.index(name)


def condition_spec(base: SpatialSpec, tgfb: float, o2_scale: float, ag_frac: float, il15: str, dn: bool,
                   receptor: str | None) -> SpatialSpec:
    antigens = [a.model_dump() for a in base.tissue.antigens]
    for a in antigens:
        if a["name"] in base.product.car_targets:
            a["positive_fraction"] = ag_frac
    return base.with_updates(**{"fields.tgfb_tumor_ng_ml": tgfb, "fields.o2_consumption_scale": o2_scale,
                                "tissue.antigens": antigens, "product.il15": il15, "product.dntgfbr2": dn,
                                "product.chemokine_receptor": receptor, "time.snapshots": 0})


def measure(sim: Simulation) -> dict[str, float]:
    """Coarse-grained parameters of one finished run."""
    r = np.array(sim.records, dtype=float)
    t = r[:, 0]
    comp_days = np.trapezoid(r[:, _idx("nk_competent_in_lesion")], t)
    exh = r[:, _idx("nk_exhausted_competent_in_lesion")]
    act = r[:, _idx("nk_competent_in_lesion")]
    tot = exh + act
    w = tot > 0
    exhausted_fraction = float(np.trapezoid(exh, t) / max(np.trapezoid(tot, t), 1e-12)) if w.any() else 0.0
    v = sim.values
    voxel_ml = (sim.spec.tissue.voxel_um * 1e-4) ** 3
    lesion_ml = float(np.mean(r[:, _idx("tumor_voxels_mass")])) * voxel_ml
    days = t[-1] - t[0]
    blood_per_ml = np.mean([sim.blood_level(x) for x in t]) * 1000.0
    infil = r[-1, _idx("nk_infiltrated")] - r[0, _idx("nk_infiltrated")]
    flux_capacity = v["tumor_perfusion_ml_per_ml_d"] * lesion_ml * blood_per_ml * days
    return {
        "e_x": float(infil / flux_capacity) if flux_capacity > 0 else float("nan"),
        "k_nat_eff": float(r[-1, _idx("kills_nat")] / comp_days) if comp_days > 0 else float("nan"),
        "k_car_eff": float(r[-1, _idx("kills_car")] / comp_days) if comp_days > 0 else float("nan"),
        "exhausted_fraction": exhausted_fraction,
        "f_comp": float(v["f_comp"]),
        "hypoxic_fraction": float(np.mean(r[:, _idx("hypoxic_fraction_tumor")])),
    }


def coarse_grain(base: SpatialSpec | None = None, grid: dict | None = None, seeds=range(2), days: float = 3.0,
                 size: int = 60) -> pd.DataFrame:
    """Run the ABM over a grid of conditions and seeds; one row per condition with the kinetic-model parameters
    (means over seeds) and their standard errors (``*_se``)."""
    base = base or load_spatial_spec("hcc-gpc3-car").with_updates(**{"tissue.size": (size, size)})
    g = {**DEFAULT_GRID, **(grid or {})}
    rows = []
    for tgfb, o2s, agf, (il15, dn, rec) in itertools.product(g["tgfb_ng_ml"], g["o2_consumption_scale"],
                                                             g["antigen_fraction"], g["armoring"]):
        spec = condition_spec(base, tgfb, o2s, agf, il15, dn, rec)
        ms = pd.DataFrame([measure(Simulation.create(spec, seed=s, days=days).run()) for s in seeds])
        row = {"tgfb_ng_ml": tgfb, "o2_consumption_scale": o2s, "antigen_fraction": agf, "il15": il15,
               "dntgfbr2": dn, "chemokine_receptor": rec or "none"}
        for c in (*PARAMETER_COLUMNS, "hypoxic_fraction"):
            row[c] = ms[c].mean()
        for c in ("e_x", "k_nat_eff", "k_car_eff", "exhausted_fraction"):
            row[f"{c}_se"] = ms[c].std(ddof=1) / np.sqrt(len(ms)) if len(ms) > 1 else float("nan")
        row.update({"n_seeds": len(ms), "days": days, "lattice": f"{size}x{size}"})
        rows.append(row)
    return pd.DataFrame(rows)


def load_table() -> pd.DataFrame:
    """The shipped coarse-grained table (nksim/data/spatial/coarse_grained.csv)."""
    with resources.files("nksim").joinpath("data/spatial/coarse_grained.csv").open() as f:
        return pd.read_csv(f, keep_default_na=False)


def lookup(tgfb_ng_ml: float, hypoxic_fraction: float, antigen_fraction: float, il15: str = "none",
           dntgfbr2: bool = False, chemokine_receptor: str | None = None, table: pd.DataFrame | None = None) -> dict:
    """Kinetic-model parameters for a condition: exact armoring match, nearest condition in (log TGF-beta,
    hypoxic fraction, antigen fraction)."""
    tab = load_table() if table is None else table
    sel = tab[(tab.il15 == il15) & (tab.dntgfbr2.astype(str).str.lower() == str(bool(dntgfbr2)).lower())
              & (tab.chemokine_receptor == (chemokine_receptor or "none"))]
    if sel.empty:
        combos = sorted({(a, str(b), c) for a, b, c in zip(tab.il15, tab.dntgfbr2, tab.chemokine_receptor)})
        raise InputError("armoring", (il15, dntgfbr2, chemokine_receptor), f"one of the tabulated combinations {combos}")
    d = ((np.log(sel.tgfb_ng_ml.astype(float)) - np.log(max(tgfb_ng_ml, 1e-3))) ** 2
         + (sel.hypoxic_fraction.astype(float) - hypoxic_fraction) ** 2
         + (sel.antigen_fraction.astype(float) - antigen_fraction) ** 2)
    row = sel.iloc[int(np.argmin(d.values))]
    return {c: float(row[c]) for c in PARAMETER_COLUMNS}


def lesion_ode(params: dict, sim: Simulation, t_days: np.ndarray) -> dict[str, np.ndarray]:
    """Lesion ODE of MODEL.md (single lesion, competent K / exhausted X / non-killing N, tumor T) fed with the
    coarse-grained parameters and the ABM's own inflow, growth and NK death, for comparison with the ABM."""
    from scipy.integrate import solve_ivp

    v = sim.values
    voxel_ml = (sim.spec.tissue.voxel_um * 1e-4) ** 3
    r = np.array(sim.records, dtype=float)
    lesion_ml = float(np.mean(r[:, _idx("tumor_voxels_mass")])) * voxel_ml
    q = v["tumor_perfusion_ml_per_ml_d"]
    kill = params["k_nat_eff"] + params["k_car_eff"]
    kappa = v["kappa"]
    sig = 0.0
    delta = v["delta_0"]
    k_rec = v["k_rec"]
    div = (r[-1, _idx("tumor_divisions")] - r[0, _idx("tumor_divisions")]) / max(
        np.trapezoid(r[:, _idx("tumor_antigen_pos")] + r[:, _idx("tumor_antigen_neg")], r[:, 0]), 1e-12)
    T0 = r[0, _idx("tumor_antigen_pos")] + r[0, _idx("tumor_antigen_neg")]

    def rhs(t, y):
        K, X, T, kills = y
        inflow = params["e_x"] * q * lesion_ml * sim.blood_level(t) * 1000.0
        k = kill * K * T / (0.1 * K + T) if T > 0 else 0.0
        return [params["f_comp"] * inflow - k / kappa + k_rec * sig * X - delta * K,
                k / kappa - k_rec * sig * X - delta * X, div * T - k, k]

    sol = solve_ivp(rhs, (float(t_days[0]), float(t_days[-1])), [0.0, 0.0, T0, 0.0], t_eval=t_days,
                    method="LSODA", rtol=1e-6, atol=1e-6)
    return {"competent": sol.y[0], "exhausted": sol.y[1], "tumor": sol.y[2], "kills": sol.y[3]}


def write_table(path: Path | None = None, **kwargs) -> Path:
    """Regenerate the shipped table (slow: the full default grid)."""
    path = Path(path) if path else Path(str(resources.files("nksim").joinpath("data/spatial/coarse_grained.csv")))
    coarse_grain(**kwargs).to_csv(path, index=False, float_format="%.6g")
    return path
