"""The reference kinetic model: non-negativity, mass balance and the limits of MODEL.md's last section."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import small

import nksim
from nksim.spec.scenario import Antibody


def _run(sc, **kw):
    return nksim.simulate(sc, **kw)


def test_non_negative(car_nk, allo_nk):
    for sc in (car_nk, allo_nk):
        ds = _run(sc).trajectories
        for name, var in ds.data_vars.items():
            assert float(var.min()) >= 0.0, name


def test_product_mass_balance(car_nk):
    """Product cells: body total = infused - deaths + divisions, at every saved time."""
    ds = _run(car_nk).trajectories
    lhs = ds.product_cells_total
    rhs = ds.cum_infused - ds.cum_prod_death + ds.cum_prod_div
    scale = ds.cum_infused.max("time")
    assert float(abs(lhs - rhs).max() / scale.min()) < 1e-5


def test_product_mass_balance_no_killing_no_growth(car_nk):
    """With killing and proliferation off, product cells change only by death and the books balance."""
    params = {"k_nat": 0.1, "rho_h": 0.05, "rho_a": 0.1}
    sc = car_nk.model_copy(update={"parameters": params})
    ov = {"potency": 0.0}
    res = nksim.simulate(sc.model_copy(update={"population": sc.population.model_copy(
        update={"covariates": {"rho_h": 0.05}, "omega2": {"rho_h": 0.0, "rho_a": 0.0}})}), overrides=ov)
    ds = res.trajectories
    assert float(ds.cum_kill_car.max() + ds.cum_kill_nat.max() + ds.cum_kill_adcc.max()) == 0.0
    bal = ds.product_cells_total - (ds.cum_infused - ds.cum_prod_death + ds.cum_prod_div)
    assert float(abs(bal).max() / ds.cum_infused.max()) < 1e-5


def test_tumor_kills_equal_dead_formed(car_nk):
    ds = _run(car_nk).trajectories
    formed = ds.cum_kill_car + ds.cum_kill_nat + ds.cum_kill_adcc + ds.cum_chemo_killed
    accounted = ds.dead_cells.sum("lesion") + ds.cum_cleared
    assert float(abs(formed - accounted).max() / formed.max()) < 1e-5


def test_zero_dose_equals_control(car_nk):
    """A zero NK dose with the same lymphodepletion equals the NK-free control (no product at all)."""
    a = _run(car_nk, overrides={"dose_scale": 0.0}).trajectories
    b = _run(car_nk, overrides={"treated": False}).trajectories
    assert float(a.product_cells_total.max()) == 0.0
    np.testing.assert_allclose(a.viable_cells.values, b.viable_cells.values, rtol=1e-12)
    # and the NK arm differs from control (the product does something)
    c = _run(car_nk).trajectories
    assert float(abs(c.viable_cells - a.viable_cells).max()) > 1.0


def test_empty_construct_transduced_behaves_like_untransduced(allo_nk):
    """No CAR and no armoring: a 'transduced' share behaves exactly like untransduced cells."""
    # equal up to integration error: compare at a tight solver tolerance
    sc = allo_nk.model_copy(update={"simulation": allo_nk.simulation.model_copy(update={"rtol": 1e-10, "atol_cells": 1e-6})})
    a = _run(sc).trajectories
    b = _run(sc, overrides={"car_fraction": 0.5}).trajectories
    np.testing.assert_allclose(a.product_cells_total.values, b.product_cells_total.values, rtol=1e-6, atol=1.0)
    np.testing.assert_allclose(a.viable_cells.values, b.viable_cells.values, rtol=1e-7)
    assert float(b.product_transduced_total.max()) > 0


def test_dn_tgfbr2_full_rescue_removes_tgf_effect(car_nk):
    con = car_nk.product.construct.model_copy(update={"dn_tgfbr2": True})
    prod = car_nk.product.model_copy(update={"construct": con})
    base = car_nk.model_copy(update={"product": prod, "parameters": {"dn_rescue": 1.0}})

    def with_tgf(level: float):
        pop = base.population.model_copy(update={"covariates": {"tgfb_ng_ml": level}, "omega2": {"tgfb_ng_ml": 0.0}})
        return _run(base.model_copy(update={"population": pop}), overrides={"car_fraction": 1.0}).trajectories

    lo, hi = with_tgf(0.1), with_tgf(20.0)
    np.testing.assert_allclose(lo.viable_cells.values, hi.viable_cells.values, rtol=1e-9)
    # without the receptor, TGF-beta does change killing
    pop = car_nk.population.model_copy(update={"covariates": {"tgfb_ng_ml": 20.0}, "omega2": {"tgfb_ng_ml": 0.0}})
    hi_plain = _run(car_nk.model_copy(update={"population": pop}), overrides={"car_fraction": 1.0}).trajectories
    assert float(hi_plain.cum_kill_car.isel(time=-1).sum()) < float(hi.cum_kill_car.isel(time=-1).sum())


def test_no_antibody_no_adcc(car_nk):
    ds = _run(car_nk).trajectories
    assert float(ds.cum_kill_adcc.max()) == 0.0
    reg = car_nk.regimen.model_copy(update={"antibody": Antibody(target="GPC3", days=(0.0, 7.0), dose_mg=500.0)})
    ds2 = _run(car_nk.model_copy(update={"regimen": reg})).trajectories
    assert float(ds2.cum_kill_adcc.max()) > 0.0
    assert float(ds2.antibody_ug_ml.max()) > 1.0


def test_five_lesions_and_remainder_run():
    sc = small("hcc-gpc3-car-nk-il15", n=3, horizon=60.0, n_target_lesions=5, nontarget_remainder=True)
    ds = nksim.simulate(sc).trajectories
    assert ds.sizes["lesion"] == 6
    assert list(ds.is_target.values) == [True] * 5 + [False]
    assert float(ds.viable_cells.min()) >= 0


def test_lymphodepletion_drives_il15_and_wbc(car_nk):
    ds = _run(car_nk).trajectories
    t = ds.time.values
    pre = ds.il15_pg_ml.sel(time=t[0]).values
    assert np.all(ds.il15_pg_ml.sel(time=-1.0).values > 2 * 2.5)
    assert np.all(ds.wbc_per_ul.min("time").values < 0.5 * ds.wbc_per_ul.isel(time=0).values)
    assert pre.shape == (car_nk.simulation.n_patients,)


@pytest.mark.parametrize("antigen_frac", [0.02, 0.98])
def test_car_kills_track_antigen(car_nk, antigen_frac):
    pop = car_nk.population.model_copy(update={"covariates": {"antigen_fraction_GPC3": antigen_frac},
                                               "omega2": {"antigen_fraction_GPC3": 0.0}, "eligibility": ()})
    ds = _run(car_nk.model_copy(update={"population": pop})).trajectories
    share = float(ds.cum_kill_car.isel(time=-1).sum() / (ds.cum_kill_car + ds.cum_kill_nat).isel(time=-1).sum())
    if antigen_frac < 0.5:
        assert share < 0.5
    else:
        assert share > 0.5
