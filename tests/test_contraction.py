"""Contraction of CAR cells and the lineages around them (docs/mechanisms.md, "Contraction"): the division timer ends
a predator-prey plateau on normal B cells, the CAR's costimulatory domain sets the T-cell program, leukocytes reach
their nadir after the chemotherapy (Friberg 2002), and a depleted B lineage returns from the marrow over months."""

from __future__ import annotations

import numpy as np
import pytest

import nksim
from nksim.spec.io import load_scenario


def _typical(scenario, **overrides):
    """One typical patient (no between-patient variability): (days, CAR cells/uL, B cells/uL, leukocytes/uL)."""
    sc = scenario.replace({"population.variability": False, **overrides})
    ds = nksim.simulate(sc, n_patients=1, seed=3).trajectories
    pick = [ds[v].transpose("patient", "time").values[0]
            for v in ("car_nk_blood_per_ul", "bsys_blood_per_ul", "wbc_per_ul")]
    return (ds["time"].values, *pick)


@pytest.fixture(scope="module")
def axicel():
    return load_scenario("bnhl-car-t-like")


def test_the_division_timer_ends_the_plateau_on_b_cells(axicel):
    t, car, _, _ = _typical(axicel)
    long_timer = {**axicel.product.parameters, "division_timer_d": 60.0}
    t2, car_long, _, _ = _typical(axicel, **{"product.parameters": long_timer})
    d365 = t == 365.0
    # the default contracts to < 2% of its peak within a year; a program that does not stop holds a plateau
    assert car[d365][0] < 0.02 * car.max()
    assert car_long[t2 == 365.0][0] > 0.005 * car_long.max()
    assert car_long[t2 == 365.0][0] > 10.0 * car[d365][0]


def test_cd28_contracts_sooner_than_4_1bb(axicel):
    out = {}
    for costim in ("CD28", "4-1BB"):
        t, car, _, _ = _typical(axicel, **{"product.construct.costim": costim})
        out[costim] = (t[np.argmax(car)], car[t == 60.0][0] / car.max())
    assert out["CD28"][0] < out["4-1BB"][0]  # earlier peak
    assert out["CD28"][1] < out["4-1BB"][1]  # less left at day 60, relative to the peak


def test_leukocyte_nadir_comes_after_the_chemotherapy(axicel):
    t, _, _, wbc = _typical(axicel)
    ld_day = axicel.regimen.lymphodepletion.day
    nadir_day = t[np.argmin(wbc)]
    assert nadir_day >= ld_day + 5.0  # maturing precursors keep the count up for days (Friberg transit time ~5 d)
    assert wbc.min() < 0.5 * wbc[0]
    assert wbc[-1] > 0.8 * wbc[0]  # and it recovers


def test_b_cells_return_from_the_marrow_over_months(axicel):
    """Lymphodepletion alone (no product): B cells come back over months, faster with a larger marrow share."""
    back = {}
    for share in (0.02, 0.1):
        params = {**axicel.parameters, "b_marrow_share": share}
        t, _, b, _ = _typical(axicel, **{"parameters": params, "regimen.dose_levels": [{"value": 1.0, "unit": "cells/kg"}]})
        b0 = b[0]
        assert b[t == 30.0][0] < 0.5 * b0  # still depleted a month after conditioning
        back[share] = b[t == 90.0][0]
    assert back[0.1] > back[0.02]


def test_t_cells_expand_after_their_time_to_first_division():
    """A T-cell product's blood level rises only after the lag to its first division; without the lag it starts at
    once; a longer lag delays expansion and raises Stein's fold (flat start, then a steeper climb)."""
    from nksim.calibrate.targets import stein_kinetics

    ball = load_scenario("ball-car-t-like")
    curves, folds = {}, {}
    for lag in (0.0, 1.5, 3.0):
        sc = ball.replace({"population.variability": False, "parameters": {**ball.parameters, "t_first_division_d": lag}})
        res = nksim.simulate(sc, n_patients=1, seed=3)
        t = res.trajectories["time"].values
        curves[lag] = res.trajectories["car_nk_blood_per_ul"].transpose("patient", "time").values[0]
        folds[lag] = stein_kinetics(res)[0][0]
    d2 = t == 2.0
    assert curves[0.0][d2][0] > curves[1.5][d2][0] > curves[3.0][d2][0]  # slower start with a longer lag
    assert folds[1.5] > folds[0.0]
    assert curves[1.5].max() > 50.0 * curves[1.5][t == 0.0][0]  # and yet it expands


def test_nk_products_have_no_first_division_lag():
    """The lag parameter belongs to T cells: an NK scenario's numbers do not depend on it."""
    sc = load_scenario("bnhl-cd19-car-nk-il15-cb")
    a = nksim.simulate(sc, n_patients=20, seed=1).patients
    b = nksim.simulate(sc.replace({"parameters": {**sc.parameters, "t_first_division_d": 3.0}}), n_patients=20,
                       seed=1).patients
    assert a["peak_car_nk_per_ul"].tolist() == b["peak_car_nk_per_ul"].tolist()
    assert a["pfs_days"].tolist() == b["pfs_days"].tolist()
