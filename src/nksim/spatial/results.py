"""ABM results as an xarray Dataset (time x variable, kill-count distribution, depth profiles) with provenance."""

from __future__ import annotations

import json

import numpy as np
import xarray as xr

from nksim.registry import load_registry
from nksim.spatial.params import COUNTER_NAMES, RECORD_NAMES
from nksim.version import __version__

UNITS = {"time_d": "d", "tgfb_mean_tumor_ng_ml": "ng/mL", "il15_mean_tumor_pg_ml": "pg/mL",
         "hypoxic_fraction_tumor": "fraction of tumor cells"}


LONG_NAMES = {
    "tumor_antigen_pos": "viable tumor cells carrying a CAR target (first antigen if no CAR)",
    "tumor_antigen_neg": "viable tumor cells without a CAR target", "tumor_dead": "dead tumor cells not yet cleared",
    "nk_total": "NK alive in the region", "nk_search": "NK searching", "nk_conjugated": "NK conjugated to a target",
    "nk_detach": "NK detaching after a lytic hit", "nk_exhausted": "NK exhausted (kill budget spent)",
    "nk_functional": "NK alive and not exhausted", "nk_competent_active": "killing-competent NK, not exhausted",
    "nk_in_tumor": "NK inside the tumor mass", "nk_competent_in_lesion": "competent, active NK that reached the tumor",
    "nk_exhausted_competent_in_lesion": "competent, exhausted NK that reached the tumor",
    "tumor_voxels_mass": "voxels of the tumor mass (viable + dead)",
    "tgfb_mean_tumor_ng_ml": "mean TGF-beta over tumor cells", "hypoxic_fraction_tumor": "tumor cells below 1% O2",
    "il15_mean_tumor_pg_ml": "mean IL-15 over tumor cells",
}


def to_dataset(sim) -> xr.Dataset:
    """Dataset of one run: counts over time (cumulative event counters), kill-count distribution, depth profiles."""
    rec = np.array(sim.records, dtype=float)
    t = rec[:, 0]
    data = {}
    for j, name in enumerate(RECORD_NAMES[1:], start=1):
        unit = UNITS.get(name, "cells")
        if name in COUNTER_NAMES:
            unit = "events (cumulative)"
        data[name] = ("time", rec[:, j], {"units": unit, "long_name": LONG_NAMES.get(name, name.replace("_", " "))})
    kd = sim.kill_distribution()
    data["nk_by_kills"] = ("kills", kd, {"units": "NK cells", "long_name": "NK cells by number of kills (all ever present)"})
    coords = {"time": ("time", t, {"units": "d"}), "kills": np.arange(kd.size)}
    if sim.depth_profiles:
        edges = sim.depth_edges()
        dp = np.array(sim.depth_profiles)
        coords["snapshot_time"] = ("snapshot_time", np.array(sim.depth_times), {"units": "d"})
        coords["depth_um"] = ("depth_um", 0.5 * (edges[:-1] + edges[1:]), {"units": "um",
                                                                          "long_name": "depth from tumor margin"})
        data["nk_density_by_depth"] = (("snapshot_time", "depth_um"), dp, {"units": "NK per voxel"})
    per = sim.per_nk()
    ds = xr.Dataset(data, coords=coords)
    ds.attrs.update({
        "model": "nksim.spatial ABM", "nksim_version": __version__,
        "scenario": sim.spec.name, "seed": sim.seed, "days": sim.days,
        "resolved_scenario": json.dumps(sim.spec.model_dump(mode="json")),
        "registry_sha256": load_registry().sha256,
        "lattice": "x".join(str(s) for s in sim.shape[: sim.spec.tissue.dims]), "voxel_um": sim.spec.tissue.voxel_um,
        "agent_updates": sim.agent_updates(), "nk_alive_end": int((per["state"] != 4).sum()),
    })
    return ds
