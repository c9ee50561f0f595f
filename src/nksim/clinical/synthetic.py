"""Synthetic trajectories that follow the engine's data contract (for tests, docs and benchmarks).

``make_trajectories`` wraps given arrays into a contract Dataset; ``synthetic_cohort`` draws simple
closed-form courses (tumor log-kill and regrowth, product expansion and decline, lymphodepletion nadir of
leukocytes, a cytokine bump) that exercise every readout. They are not the kinetic model: only a stand-in with
the same shape.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import xarray as xr

from nksim.clinical.lesions import cells_for_diameter
from nksim.rng import stream


def make_trajectories(
    time: np.ndarray,
    viable_cells: np.ndarray,
    *,
    dead_cells: np.ndarray | None = None,
    nk_blood_per_ul: np.ndarray | None = None,
    car_nk_blood_per_ul: np.ndarray | None = None,
    wbc_per_ul: np.ndarray | None = None,
    cytokine_pg_ml: np.ndarray | None = None,
    il15_pg_ml: np.ndarray | None = None,
    offtumor_activity: np.ndarray | None = None,
    new_lesion_hazard: np.ndarray | None = None,
    death_hazard: np.ndarray | None = None,
    is_target: np.ndarray | None = None,
    patient_ids: np.ndarray | None = None,
    seed: int = 0,
) -> xr.Dataset:
    """A contract Dataset from arrays: viable/dead (patient, time, lesion), the others (patient, time).

    Missing (patient, time) variables get neutral values: no product, 5000 leukocytes/uL, cytokine 1 pg/mL,
    zero hazards and off-tumor activity.
    """
    t = np.asarray(time, dtype=float)
    v = np.asarray(viable_cells, dtype=float)
    if v.ndim == 2:
        v = v[:, :, None]
    n, nt, nl = v.shape
    pt = (n, nt)

    def fill(x, value):
        return (
            np.full(pt, float(value)) if x is None else np.broadcast_to(np.asarray(x, dtype=float), pt).copy()
        )

    dims2, dims3 = ("patient", "time"), ("patient", "time", "lesion")
    nk = fill(nk_blood_per_ul, 0.0)
    ds = xr.Dataset(
        {
            "viable_cells": (dims3, v),
            "dead_cells": (
                dims3,
                np.zeros_like(v) if dead_cells is None else np.asarray(dead_cells, dtype=float),
            ),
            "nk_blood_per_ul": (dims2, nk),
            "car_nk_blood_per_ul": (
                dims2,
                nk.copy() if car_nk_blood_per_ul is None else fill(car_nk_blood_per_ul, 0),
            ),
            "wbc_per_ul": (dims2, fill(wbc_per_ul, 5000.0)),
            "cytokine_pg_ml": (dims2, fill(cytokine_pg_ml, 1.0)),
            "il15_pg_ml": (dims2, fill(il15_pg_ml, 5.0)),
            "offtumor_activity": (dims2, fill(offtumor_activity, 0.0)),
            "new_lesion_hazard": (dims2, fill(new_lesion_hazard, 0.0)),
            "death_hazard": (dims2, fill(death_hazard, 0.0)),
            "is_target": (
                ("lesion",),
                np.ones(nl, bool) if is_target is None else np.asarray(is_target, bool),
            ),
        },
        coords={
            "patient": np.arange(n) if patient_ids is None else np.asarray(patient_ids, dtype=np.int64),
            "time": t,
            "lesion": np.arange(nl),
        },
        attrs={"seed": int(seed), "source": "nksim.clinical.synthetic"},
    )
    return ds


def synthetic_cohort(
    n_patients: int = 50,
    seed: int = 0,
    *,
    t_start: float = -5.0,
    t_end: float = 365.0,
    dt: float = 1.0,
    n_target: int = 3,
    nontarget: bool = True,
    density_per_cm3: float = 1e8,
    cytokine_scale: float = 1.0,
    cd3_per_kg: float | np.ndarray | None = None,
    indication: str = "CRC",
) -> tuple[xr.Dataset, pd.DataFrame]:
    """Random closed-form courses for ``n_patients`` and a matching patient table (reproducible by seed)."""
    rng = stream(seed, "clinical.synthetic")
    t = np.arange(t_start, t_end + 0.5 * dt, dt)
    n = n_patients
    nl = n_target + int(nontarget)
    d0 = np.exp(rng.normal(np.log(30.0), 0.4, (n, nl)))  # baseline diameters, mm
    v0 = cells_for_diameter(d0, density_per_cm3)
    growth = np.exp(rng.normal(np.log(0.005), 0.5, (n, 1, 1)))  # /d
    antigen = rng.beta(4, 2, n)
    depth = rng.gamma(2.0, 1.2, (n, 1, 1)) * antigen[:, None, None]  # log-kill depth
    tau = 20.0
    tt = t[None, :, None]
    post = np.clip(tt, 0.0, None)
    logv = np.log(v0)[:, None, :] + growth * tt - depth * (1.0 - np.exp(-post / tau))
    viable = np.exp(logv)
    killed = v0[:, None, :] * (1.0 - np.exp(-depth * (1.0 - np.exp(-post / tau))))
    dead = killed * np.exp(-post / 60.0)
    peak = np.exp(rng.normal(np.log(20.0), 1.0, (n, 1)))
    tpk = rng.uniform(1.0, 10.0, (n, 1))
    ts = t[None, :]
    nk = np.where(ts < 0, 0.0, peak * np.where(ts < tpk, ts / tpk, np.exp(-0.15 * (ts - tpk))))
    car = 0.6 * nk
    nadir = np.exp(rng.normal(np.log(400.0), 0.6, (n, 1)))
    recov = rng.uniform(8.0, 30.0, (n, 1))
    since_ld = ts - t_start
    wbc = 5000.0 - (5000.0 - nadir) * np.where(since_ld < 5, since_ld / 5, np.exp(-(since_ld - 5) / recov))
    cpk = cytokine_scale * np.exp(rng.normal(np.log(40.0), 1.3, (n, 1)))
    ctp = rng.uniform(1.0, 7.0, (n, 1))
    cyt = 2.0 + cpk * np.exp(-0.5 * ((ts - ctp) / 1.5) ** 2)
    off = np.cumsum(nk * 1e6 * 0.1, axis=1) * dt
    burden = viable.sum(axis=2) / v0.sum(axis=1)[:, None]
    new_h = np.cumsum(0.002 * burden, axis=1) * dt
    death_h = np.cumsum(0.0005 * burden**2, axis=1) * dt
    is_target = np.array([True] * n_target + [False] * int(nontarget))
    ids = np.arange(n)
    ds = make_trajectories(
        t,
        viable,
        dead_cells=dead,
        nk_blood_per_ul=nk,
        car_nk_blood_per_ul=car,
        wbc_per_ul=wbc,
        cytokine_pg_ml=cyt,
        offtumor_activity=off,
        new_lesion_hazard=new_h,
        death_hazard=death_h,
        is_target=is_target,
        patient_ids=ids,
        seed=seed,
    )
    cd3 = np.exp(rng.normal(np.log(2e4), 1.0, n)) if cd3_per_kg is None else np.broadcast_to(cd3_per_kg, (n,))
    patients = pd.DataFrame(
        {
            "weight_kg": rng.normal(70, 12, n).clip(40, 120),
            "cd3_per_kg": cd3,
            "n_infusions": rng.integers(1, 4, n),
            "antigen_GPC3": antigen,
            "indication": indication,
        },
        index=pd.Index(ids, name="patient"),
    )
    return ds, patients
