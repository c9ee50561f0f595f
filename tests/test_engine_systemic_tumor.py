"""The systemic tumor (docs/model.md process 15): marrow / blood leukemia carrying the CAR antigen, in the systemic
antigen compartment (B-ALL CAR-T-like scenario).

Inert for non-systemic indications; its ledger balances; it is killed by the CAR, grows without it, drives the
expansion, and takes the lymphodepletion log-kill.
"""

from __future__ import annotations

import numpy as np
import pytest
from conftest import small

import nksim

TSYS = ("tsys_cells", "cum_kill_tsys", "cum_tsys_growth", "cum_tsys_chemo")


@pytest.fixture
def ball():
    return small("ball-car-t-like", n=4, horizon=60.0)


def test_inert_for_non_systemic_indications(car_nk):
    for sc in (car_nk, small("bnhl-car-t-like", n=2, horizon=30.0)):
        ds = nksim.simulate(sc).trajectories
        for name in TSYS:
            assert float(abs(ds[name]).max()) == 0.0, name


def test_inert_without_a_car_against_the_leukemia(ball):
    no_car = ball.model_copy(update={"product": ball.product.model_copy(
        update={"construct": ball.product.construct.model_copy(update={"car_targets": ()})})})
    ds = nksim.simulate(no_car).trajectories
    assert float(abs(ds.tsys_cells).max()) == 0.0


def test_ledger_balances(ball):
    ds = nksim.simulate(ball).trajectories
    # the first saved time is the lymphodepletion day, post-event: add back its log-kill for the initial burden
    first = ds.tsys_cells.isel(time=0) + ds.cum_tsys_chemo.isel(time=0)
    assert float(first.min()) > 1e9  # a leukemic marrow (~1e11 cells at 39 kg)
    bal = ds.tsys_cells - (first + ds.cum_tsys_growth - ds.cum_kill_tsys - ds.cum_tsys_chemo)
    assert float(abs(bal).max() / first.min()) < 1e-6
    assert float(ds.cum_tsys_chemo.isel(time=-1).min()) > 0.0  # Flu/Cy log-kill
    # the product ledger still balances with divisions on the leukemia
    prod = ds.product_cells_total - (ds.cum_infused - ds.cum_prod_death + ds.cum_prod_div)
    assert float(abs(prod).max() / ds.cum_infused.max()) < 1e-5


def test_car_clears_leukemia_and_expands_on_it(ball):
    with_car = nksim.simulate(ball).trajectories
    untreated = nksim.simulate(ball, overrides={"treated": False}).trajectories
    day = lambda ds, d: ds.sel(time=d, method="nearest")  # noqa: E731
    # without product the leukemia regrows towards the marrow capacity; with it, it is killed (all but the slowest
    # expanders: antigen-driven proliferation varies between patients)
    assert np.all(day(untreated, 28).tsys_cells.values > day(untreated, 0).tsys_cells.values)
    cap = untreated.tsys_cells.values.max() / untreated.tsys_marrow_fraction.values.max()
    assert np.all(untreated.tsys_cells.values <= 1.0001 * cap)
    assert np.median(day(with_car, 28).tsys_cells.values / day(untreated, 28).tsys_cells.values) < 0.01
    assert np.all(with_car.cum_kill_tsys.isel(time=-1).values > 0)
    # antigen carries the expansion: with a tiny leukemic burden the CAR pool expands less (normal B cells still
    # start the T-cell program, which runs on for days: Kaech & Ahmed 2001), and with neither leukemia nor B cells
    # it hardly expands at all
    def peak_ratio(**cov):
        low = ball.model_copy(update={"population": ball.population.model_copy(
            update={"covariates": {**ball.population.covariates, **cov}})})
        return np.median(nksim.simulate(low).trajectories.product_transduced_total.max("time").values
                         / with_car.product_transduced_total.max("time").values)

    assert peak_ratio(tsys_blast_fraction=1e-4) < 0.8
    assert peak_ratio(tsys_blast_fraction=1e-4, b_blood_per_ul=0.01) < 0.02
