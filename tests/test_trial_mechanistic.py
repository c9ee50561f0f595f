"""Mechanistic trial mode: trial patients are the scenario's virtual patients, simulated by the engine."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import small

from nksim.errors import InputError
from nksim.trial.designs import make_design
from nksim.trial.mechanistic import MechanisticOutcomeModel
from nksim.trial.simulate import operating_characteristics


@pytest.fixture(scope="module")
def model():
    return MechanisticOutcomeModel(small("hcc-gpc3-car-nk-il15", horizon=60.0), max_patients=9, horizon_d=60.0)


def test_same_patient_same_answer_whatever_the_batch(model):
    a = model.outcomes(np.array([0, 0, 1]), np.array([0, 1, 2]), np.array([1, 2, 3]))
    fresh = MechanisticOutcomeModel(model.scenario, max_patients=9)
    b = fresh.outcomes(np.array([1]), np.array([2]), np.array([3]))
    assert a.response[2] == b.response[0] and a.dlt[2] == b.dlt[0]


def test_patient_keeps_covariates_across_doses(model):
    lo = model._simulate(np.array([5, 6]), np.array([1, 1]))
    hi = model._simulate(np.array([5, 6]), np.array([3, 3]))
    cov = ["weight_kg", "antigen_fraction_GPC3", "lesion0_diameter_mm", "tvdt_d"]
    assert lo[cov].equals(hi[cov])
    assert (hi["dose_per_kg"] > lo["dose_per_kg"]).all()


def test_boin_runs_on_virtual_patients(model):
    design = make_design("boin", n_doses=3, target=0.3, cohort_size=3, n_cohorts=3)
    rates = model.population_rates(20)
    assert list(rates["dose_level"]) == [1, 2, 3]
    assert rates["p_dlt"].between(0, 1).all() and rates["p_response"].between(0, 1).all()
    oc = operating_characteristics(design, rates["p_dlt"], rates["p_response"], n_trials=4, model=model)
    assert abs(sum(oc.selection_pct) + oc.no_selection_pct - 100.0) < 1e-9
    assert sum(oc.mean_patients) <= 9 + 1e-9


def test_bad_settings_named():
    sc = small("hcc-gpc3-car-nk-il15")
    with pytest.raises(InputError, match="max_patients"):
        MechanisticOutcomeModel(sc, max_patients=0)
    with pytest.raises(InputError, match="horizon_d"):
        MechanisticOutcomeModel(sc, max_patients=3, horizon_d=5.0)


def test_cli_trial_simulate(tmp_path):
    import json
    import subprocess
    import sys

    proc = subprocess.run([sys.executable, "-m", "nksim.cli", "trial", "simulate", "hcc-gpc3-car-nk-il15",
                           "--design", "boin", "--trials", "3", "--n-cohorts", "2", "--population", "8",
                           "--horizon", "60", "--out", str(tmp_path), "--json"], capture_output=True,
                               encoding="utf-8", errors="replace")
    assert proc.returncode == 0, proc.stderr
    oc = json.loads(proc.stdout)
    assert len(oc["selection_pct"]) == 3 and len(oc["population_rates"]) == 3
    assert oc["virtual_patients_simulated"] >= 3 * 8
    assert (tmp_path / "oc.json").exists() and (tmp_path / "selection.png").exists()


def test_manufacturing_lots_feed_trial_patients():
    sc = small("bnhl-cd19-car-nk-il15-cb", horizon=40.0)
    m = MechanisticOutcomeModel(sc, max_patients=12, manufacturing="cb-car19-il15")
    ids, levels = np.arange(12), np.full(12, 3)
    ov = m._lot_overrides(ids, levels)
    assert set(ov) >= {"viability", "potency", "car_fraction", "dose_scale", "treated"}
    assert np.all((ov["car_fraction"] >= 0) & (ov["car_fraction"] <= 1))
    # lot k is the same lot whatever else is asked: the same patient gets the same product again
    again = m._lot_overrides(ids[5:7], levels[5:7])
    np.testing.assert_array_equal(again["car_fraction"], ov["car_fraction"][5:7])
    m.outcomes(np.zeros(12, dtype=int), ids, levels)
    assert m.untreated == int((~ov["treated"]).sum())


def test_scenario_names_its_manufacturing_process():
    import nksim
    from nksim.manufacturing.loader import load_manufacturing_spec

    sc = nksim.load_scenario("bnhl-cd19-car-nk-il15-cb")
    assert sc.manufacturing == "cb-car19-il15"
    assert load_manufacturing_spec(sc).name == load_manufacturing_spec("cb-car19-il15").name
    with pytest.raises(Exception, match="expected a built-in process"):
        sc.model_validate({**sc.model_dump(), "manufacturing": "cb-car19-il16"})


@pytest.fixture(scope="module")
def pooled():
    return MechanisticOutcomeModel(small("hcc-gpc3-car-nk-il15", horizon=60.0), max_patients=9, horizon_d=60.0,
                                   pool=12)


def test_a_pool_patient_is_the_virtual_patient_simulated_at_that_dose(pooled):
    """Trial patient (t, j) is pool patient k at every dose; its outcomes are those of virtual patient
    POOL_ID_OFFSET + k simulated at the dose, and the pool's rates are the pool's means."""
    from nksim.trial.mechanistic import POOL_ID_OFFSET

    t, j = np.array([0, 0, 3, 7, 7]), np.array([0, 4, 2, 1, 8])
    k = pooled.pool_index(t, j)
    assert ((k >= 0) & (k < 12)).all() and np.array_equal(k, pooled.pool_index(t[::-1], j[::-1])[::-1])
    for level in (1, 3):
        got = pooled.outcomes(t, j, np.full(t.size, level))
        direct = pooled._simulate(POOL_ID_OFFSET + k, np.full(t.size, level))
        assert np.array_equal(got.dlt, direct["dlt"].to_numpy(dtype=np.int8))
        assert np.array_equal(got.response, direct["best_response"].astype(str).isin(["CR", "PR"]).to_numpy())
        np.testing.assert_array_equal(got.dlt_day, direct["dlt_day"].to_numpy(dtype=float))
    rates = pooled.population_rates()
    assert list(rates["n"]) == [12, 12, 12]
    assert np.allclose(rates["p_dlt"], pooled.pool_table()[:, :, 0].mean(axis=1))


def test_boin_runs_on_a_pool(pooled):
    design = make_design("boin", n_doses=3, target=0.3, cohort_size=3, n_cohorts=3)
    rates = pooled.population_rates()
    simulated = pooled.simulated_patients
    oc = operating_characteristics(design, rates["p_dlt"], rates["p_response"], n_trials=50, model=pooled)
    assert abs(sum(oc.selection_pct) + oc.no_selection_pct - 100.0) < 1e-9
    assert pooled.simulated_patients == simulated  # the trials simulate nobody new: the pool is simulated once


def test_a_bad_pool_is_named():
    with pytest.raises(InputError, match="pool"):
        MechanisticOutcomeModel(small("hcc-gpc3-car-nk-il15"), max_patients=3, pool=0)
