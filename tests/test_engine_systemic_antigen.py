"""The systemic antigen compartment (docs/model.md process 15): normal B cells for a CD19/CD20 CAR.

Inert for other products; its ledger balances; B-cell aplasia follows CAR activity and lymphodepletion and recovers
after lymphodepletion alone.
"""

from __future__ import annotations

import numpy as np
import pytest
from conftest import small

import nksim


@pytest.fixture
def car_t():
    return small("bnhl-car-t-like", n=4, horizon=365.0)


def _b_at(ds, day):
    return ds.bsys_blood_per_ul.sel(time=day, method="nearest").values


def test_inert_for_non_cd19_products(car_nk, allo_nk):
    for sc in (car_nk, allo_nk):
        ds = nksim.simulate(sc).trajectories
        for name in ("bsys_cells", "cum_kill_sys", "cum_bsys_ld", "cum_bsys_net"):
            assert float(abs(ds[name]).max()) == 0.0, name


def test_ledger_balances(car_t):
    ds = nksim.simulate(car_t).trajectories
    b0 = ds.bsys_cells.isel(time=0)
    assert float(b0.min()) > 1e9  # total-body B cells of an adult (~6e10)
    bal = ds.bsys_cells - (b0 + ds.cum_bsys_net - ds.cum_kill_sys - ds.cum_bsys_ld)
    assert float(abs(bal).max() / b0.min()) < 1e-6
    # product ledger still balances with the systemic antigen-driven divisions
    prod = ds.product_cells_total - (ds.cum_infused - ds.cum_prod_death + ds.cum_prod_div)
    assert float(abs(prod).max() / ds.cum_infused.max()) < 1e-5
    assert float(ds.cum_kill_sys.isel(time=-1).min()) > 0.0


def test_aplasia_follows_car_activity_and_lymphodepletion(car_t):
    with_car = nksim.simulate(car_t).trajectories
    ld_only = nksim.simulate(car_t, overrides={"treated": False}).trajectories
    no_ld = car_t.model_copy(update={"regimen": car_t.regimen.model_copy(update={"lymphodepletion": None})})
    nothing = nksim.simulate(no_ld, overrides={"treated": False}).trajectories
    base = _b_at(ld_only, -6)
    # lymphodepletion depletes B cells; without it (and without product) they stay at baseline
    assert np.all(_b_at(ld_only, 0) < 0.3 * base)
    np.testing.assert_allclose(_b_at(nothing, 30), _b_at(nothing, -6), rtol=1e-6)
    # after lymphodepletion alone B cells recover over months (marrow output and their own division, k_b)
    assert np.all(_b_at(ld_only, 30) < 0.6 * base)
    assert np.all(_b_at(ld_only, 180) > 0.5 * base)
    assert np.all(_b_at(ld_only, 365) > 0.9 * base)
    # the CAR keeps them aplastic while it persists
    assert np.all(_b_at(with_car, 30) < 0.1 * _b_at(ld_only, 30))
    # a weaker CAR (lower potency) kills fewer B cells
    weak = nksim.simulate(car_t, overrides={"potency": 0.1}).trajectories
    assert np.all(weak.cum_kill_sys.isel(time=-1).values < with_car.cum_kill_sys.isel(time=-1).values)
