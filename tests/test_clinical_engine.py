"""Contract check against the cohort engine: its trajectories and patient table feed nksim.clinical as is."""

import numpy as np
import pandas as pd

from nksim.clinical import AssaySpec, ReadoutSpec, outcomes, summarize
from nksim.engine import simulate


def test_engine_output_gives_outcomes(car_nk):
    res = simulate(car_nk)
    ds, pts = res.trajectories, res.patients
    ro = ReadoutSpec(scan_days=car_nk.simulation.scan_days, follow_up_days=car_nk.simulation.horizon_d)
    o = outcomes(ds, pts, ro, seed=car_nk.simulation.seed, params=car_nk.parameters)
    assert len(o) == len(pts) and list(o.index) == list(pts.index)
    assert set(o.best_response) <= {"CR", "PR", "SD", "PD", "NE"}
    assert (o.pfs_days <= o.os_days + 1e-9).all() and (o.os_days <= car_nk.simulation.horizon_d).all()
    assert o.measurable.all()  # the population draws measurable target lesions
    assert (o.peak_car_nk_per_ul <= o.peak_nk_per_ul + 1e-9).all()
    # HCC -> mRECIST from the catalog: same table as asking for it explicitly
    explicit = outcomes(ds, pts, ro.model_copy(update={"criteria": "mRECIST"}), seed=car_nk.simulation.seed)
    pd.testing.assert_frame_equal(o, explicit)
    s = summarize(o, by="antigen_fraction_GPC3", bins=[0.0, 0.5, 1.0])
    assert {"ORR", "median PFS", "CRS grade>=3", "DLT rate"} <= set(s.metric)


def test_unmodified_allogeneic_nk_by_chimerism(allo_nk):
    res = simulate(allo_nk)
    ro = ReadoutSpec(scan_days=allo_nk.simulation.scan_days, follow_up_days=allo_nk.simulation.horizon_d,
                     assay=AssaySpec(kind="chimerism"))
    o = outcomes(res.trajectories, res.patients, ro, seed=1)
    assert np.isfinite(o.days_detectable).all() and (o.days_detectable >= 0).all()
    assert (o.gvhd_risk >= 0).all()
