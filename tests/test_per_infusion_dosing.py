"""Per-infusion dosing (regimen.per_infusion): explicit doses, multipliers and escalation rules reach the kernel
through the dose records; validation names field, value and what is allowed; scenarios without it are unchanged."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from conftest import small

import nksim
from nksim.errors import InputError
from nksim.kinetics.dosing import CMT_PRODUCT_UNTRANSDUCED
from nksim.spec.scenario import Escalation

DAYS = [0.0, 7.0, 14.0, 21.0]


def allo(n: int = 3, **per_infusion: object):
    sc = small("hcc-post-lt-allo-nk", n=n, horizon=30.0)
    sc = sc.replace({"simulation.save_every_d": 0.05, "population.variability": False})
    return sc.replace({"regimen.per_infusion": per_infusion}) if per_infusion else sc


def product_jumps(res: nksim.SimulationResult) -> np.ndarray:
    """(patient, infusion): rise of all product cells in the body across each infusion day (one save step)."""
    tr = res.trajectories
    t = tr["time"].values
    total = tr["product_cells_total"].values
    out = []
    for d in DAYS:
        k = int(np.argmin(np.abs(t - d)))
        out.append(total[:, k] - (total[:, k - 1] if k > 0 else 0.0))  # no product before the first infusion
    return np.stack(out, axis=1)


def infusion_records(res: nksim.SimulationResult) -> np.ndarray:
    tr = res.trajectories
    cmt = tr["dose_cmt"].values
    return np.where(cmt == CMT_PRODUCT_UNTRANSDUCED, tr["dose_amt"].values, np.nan)


def test_escalation_rule_gives_the_listed_multipliers():
    assert Escalation(start=0.5, step=0.5).multipliers(4) == (0.5, 1.0, 1.5, 2.0)
    assert Escalation(start=0.5, step=0.5, every=2).multipliers(5) == (0.5, 0.5, 1.0, 1.0, 1.5)
    assert Escalation(start=1.0, step=1.0, max=2.5).multipliers(4) == (1.0, 2.0, 2.5, 2.5)
    assert Escalation(start=1.0, step=-0.5).multipliers(4) == (1.0, 0.5, 0.0, 0.0)


def test_per_infusion_doses_reach_the_kernel():
    """Product cells gained across infusion k scale with dose k (multipliers, escalation and explicit doses), and
    the dose records are the base dose x the multiplier."""
    base = nksim.simulate(allo())
    mult = nksim.simulate(allo(multipliers=[1.0, 0.5, 2.0, 0.0]))
    esc = nksim.simulate(allo(escalation={"start": 0.5, "step": 0.5}))
    explicit = nksim.simulate(allo(doses=[1e7, 2e7, 3e7, 4e7]))
    b = product_jumps(base)
    assert np.allclose(b, b[:, :1], rtol=0.05)  # equal doses: equal jumps
    np.testing.assert_allclose(product_jumps(mult), b * [1.0, 0.5, 2.0, 0.0], rtol=0.05, atol=0.01 * b[0, 0])
    np.testing.assert_allclose(product_jumps(esc), b * [0.5, 1.0, 1.5, 2.0], rtol=0.05)
    # the base dose is level 2 (2e7/kg): explicit doses 1-4e7/kg are 0.5, 1, 1.5, 2 x
    np.testing.assert_allclose(product_jumps(explicit), b * [0.5, 1.0, 1.5, 2.0], rtol=0.05)
    rec_b, rec_m = infusion_records(base), infusion_records(mult)
    first = rec_b[:, ~np.isnan(rec_b[0])][:, 0]
    np.testing.assert_allclose(rec_m[:, ~np.isnan(rec_m[0])], first[:, None] * [1.0, 0.5, 2.0], rtol=1e-12)
    assert (mult.patients["n_infusions"] == 3).all()  # the zero dose is skipped
    np.testing.assert_allclose(esc.trajectories["cum_infused"].values[:, -1],
                               base.trajectories["cum_infused"].values[:, -1] * 1.25, rtol=1e-12)


def test_zero_doses_equal_no_product():
    """All multipliers 0: no infusion record, not treated, the same tumor as the untreated override."""
    none = nksim.simulate(allo(multipliers=[0, 0, 0, 0]))
    untreated = nksim.simulate(allo(), overrides={"treated": False})
    assert not none.patients["treated"].any()
    np.testing.assert_array_equal(none.trajectories["tumor_viable_total"].values,
                                  untreated.trajectories["tumor_viable_total"].values)


def test_absent_fields_change_nothing():
    """The same seed without per_infusion and with multipliers all 1 / routes all the regimen's: the same numbers."""
    sc = small("hcc-post-lt-allo-nk", n=4, horizon=60.0)
    a = nksim.simulate(sc, seed=5)
    b = nksim.simulate(sc.replace({"regimen.per_infusion": {"multipliers": [1, 1, 1, 1],
                                                            "routes": ["iv"] * 4}}), seed=5)
    for name in ("tumor_viable_total", "product_cells_total", "nk_blood_per_ul"):
        np.testing.assert_array_equal(a.trajectories[name].values, b.trajectories[name].values)
    cols = ["best_response", "pfs_days", "viable_cells_per_infusion", "n_infusions", "dose_per_kg"]
    assert a.patients[cols].equals(b.patients[cols])


@pytest.mark.parametrize("per_infusion, field, words", [
    ({"multipliers": [1, 2]}, "regimen.per_infusion.multipliers", "4 entries, one per regimen.infusion_days"),
    ({"doses": [1e7] * 5}, "regimen.per_infusion.doses", "4 entries"),
    ({"routes": ["iv"]}, "regimen.per_infusion.routes", "4 entries"),
    ({"multipliers": [1, -1, 1, 1]}, "regimen.per_infusion.multipliers.1", ">= 0"),
    ({"multipliers": [1, float("nan"), 1, 1]}, "regimen.per_infusion.multipliers.1", "finite"),
    ({"doses": [1e7, float("inf"), 1e7, 1e7]}, "regimen.per_infusion.doses.1", "finite"),
    ({"doses": [1e7, 1e11, 1e7, 1e7]}, "regimen.per_infusion.doses.1", "at most 1e+10 cells/kg"),
    ({"multipliers": [1] * 4, "doses": [1e7] * 4}, "regimen.per_infusion.multipliers", "at most one of"),
    ({"routes": ["iv", "portal", "iv", "iv"]}, "regimen.per_infusion.routes.1", "'iv' or 'hepatic_artery'"),
    ({"escalation": {"start": 0.5, "every": 0}}, "regimen.per_infusion.escalation.every", ">= 1"),
    ({"multiplier": [1] * 4}, "regimen.per_infusion.multiplier", "did you mean"),
])
def test_validation_names_field_value_and_allowed(per_infusion, field, words):
    with pytest.raises(InputError) as err:
        allo(**per_infusion)
    text = str(err.value)
    assert field in text and words in text, text


def test_hepatic_artery_route_needs_liver_lesions():
    sc = small("bnhl-ft516-like", n=2, horizon=30.0)
    n = len(sc.regimen.infusion_days)
    with pytest.raises(InputError, match=r"regimen\.per_infusion\.routes.*'iv' unless the lesions are in the liver"):
        sc.replace({"regimen.per_infusion": {"routes": ["hepatic_artery"] * n}})


def test_explicit_doses_refuse_a_per_patient_base_dose():
    with pytest.raises(InputError, match="overrides.dose_per_kg.*per_infusion.multipliers"):
        nksim.simulate(allo(doses=[1e7] * 4), overrides={"dose_per_kg": 1e6})


MIXED = ["iv", "hepatic_artery", "iv", "hepatic_artery"]


def rise(res: nksim.SimulationResult, name: str) -> np.ndarray:
    """(patient, infusion): rise of a trajectory variable across each infusion day (one save step)."""
    tr = res.trajectories
    t, v = tr["time"].values, tr[name].values
    if v.ndim == 3:
        v = v.sum(axis=2)
    ks = [int(np.argmin(np.abs(t - d))) for d in DAYS]
    return np.stack([v[:, k] - (v[:, k - 1] if k > 0 else 0.0) for k in ks], axis=1)


def test_each_infusion_goes_by_its_own_route():
    """i.v. infusions fill the lung first-pass pool, hepatic-artery ones put cells straight into the liver lesion;
    the records carry the route as the dose compartment (CMT 2 i.v., CMT 9 hepatic artery)."""
    res = nksim.simulate(allo(routes=MIXED))
    lung, lesion = rise(res, "lung_cells"), rise(res, "nk_lesion")
    dose = product_jumps(res)
    assert (lung[:, [0, 2]] > 0.2 * dose[:, [0, 2]]).all() and (lung[:, [1, 3]] < 0).all()
    assert (lesion[:, [1, 3]] > 10 * np.abs(lesion[:, [0, 2]])).all()
    tr = res.trajectories
    inf = np.isin(tr["dose_cmt"].values[0], (2, 9))
    np.testing.assert_array_equal(tr["dose_cmt"].values[0][inf], [2, 9, 2, 9])


def test_hepatic_artery_per_infusion_equals_the_regimen_route():
    """All infusions by their own hepatic-artery route (CMT 9) = regimen.route hepatic_artery (CMT 2 with the
    patient's route flag): the same trajectories."""
    a = nksim.simulate(allo(routes=["hepatic_artery"] * 4))
    b = nksim.simulate(allo().replace({"regimen.route": "hepatic_artery"}))
    for name in ("tumor_viable_total", "product_cells_total", "nk_lesion", "lung_cells"):
        np.testing.assert_allclose(a.trajectories[name].values, b.trajectories[name].values, rtol=1e-12, err_msg=name)


def test_routes_round_trip_through_a_dosing_table():
    res = nksim.simulate(allo(routes=MIXED, multipliers=[1, 2, 1, 2]))
    df = nksim.to_nonmem(res)
    again = nksim.simulate(allo(), overrides={"dosing": df})
    for name in ("tumor_viable_total", "product_cells_total", "nk_lesion", "lung_cells"):
        np.testing.assert_array_equal(res.trajectories[name].values, again.trajectories[name].values, err_msg=name)


def test_hepatic_artery_records_need_liver_lesions():
    sc = small("bnhl-ft516-like", n=1, horizon=30.0)
    df = pd.DataFrame({"ID": [0], "TIME": [0.0], "AMT": [1e9], "CMT": [9]})
    with pytest.raises(InputError, match=r"dosing.CMT = 9.*only with lesions in the liver"):
        nksim.simulate(sc, overrides={"dosing": df})
