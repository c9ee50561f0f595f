"""Halving every time step (NK, field, tumor) leaves kill counts and tumor size unchanged within Monte Carlo error."""

import numpy as np

from nksim.spatial import Simulation
from nksim.spec.spatial import load_spatial_spec

SEEDS = range(12)


def _arm(spec, dt_nk, dt_field, dt_tumor, days):
    sp = spec.with_updates(**{"time.dt_nk_min": dt_nk, "time.dt_field_min": dt_field, "time.dt_tumor_min": dt_tumor,
                              "time.record_every_min": 60.0, "time.snapshots": 0})
    kills, tumor = [], []
    for s in SEEDS:
        last = Simulation.create(sp, seed=1000 + s, days=days).run().dataset().isel(time=-1)
        kills.append(float(last.kills_car + last.kills_nat + last.kills_adcc))
        tumor.append(float(last.tumor_antigen_pos + last.tumor_antigen_neg))
    return np.array(kills), np.array(tumor)


def _agree(a, b, rel_floor=0.01):
    se = np.sqrt(a.var(ddof=1) / a.size + b.var(ddof=1) / b.size)
    return abs(a.mean() - b.mean()) <= 3.0 * se + rel_floor * abs(a.mean())


def test_dt_halving_tissue():
    spec = load_spatial_spec("hcc-gpc3-car").with_updates(**{
        "tissue.size": (60, 60), "nk.initial_nk": 150, "nk.blood_nk_per_ul": (40.0,), "nk.blood_times_d": (0.0,),
        "product.il15": "secreted"})
    k1, t1 = _arm(spec, 1.0, 10.0, 60.0, 1.5)
    k2, t2 = _arm(spec, 0.5, 5.0, 30.0, 1.5)
    assert k1.mean() > 100  # killing happens
    assert _agree(k1, k2), (k1.mean(), k2.mean())
    assert _agree(t1, t2), (t1.mean(), t2.mean())


def test_dt_halving_well_mixed():
    spec = load_spatial_spec("in-vitro-serial-killing").with_updates(**{"time.days": 0.25})
    k1, t1 = _arm(spec, 1.0, 10.0, 60.0, 0.25)
    k2, t2 = _arm(spec, 0.5, 5.0, 30.0, 0.25)
    assert _agree(k1, k2), (k1.mean(), k2.mean())
    assert _agree(t1, t2)
