"""Readouts a trial would report: eligibility screen, censoring at death, the protocol's DLT definition, solver
failures as a per-patient status, response criteria classes and the resolved scenario."""

import warnings

import numpy as np
import pandas as pd
import pytest

import nksim
from nksim.clinical import ReadoutSpec, outcomes, summarize
from nksim.clinical.criteria import CRITERIA, MarrowALL, ScanData, make_criteria
from nksim.clinical.inputs import ReadoutInputs
from nksim.clinical.outcomes import ReadoutSettings, outcomes_from_inputs, patient_draws
from nksim.clinical.resolved import resolve
from nksim.clinical.synthetic import make_trajectories, synthetic_cohort
from nksim.population.sampling import _draw, sample_patients, typical_values
from nksim.population.screening import passes_screen
from nksim.registry import load_registry
from nksim.rng import stream, stream_uniforms
from nksim.spec.clinical import expected_toxicities
from nksim.spec.io import load_scenario


@pytest.fixture(scope="module")
def bnhl():
    return nksim.simulate("bnhl-cd19-car-nk-il15-cb", n_patients=500, seed=1)


# ---- 1. eligibility ------------------------------------------------------------------------------------------


def test_no_patient_enrolled_at_lethal_burden_or_dead_before_treatment(bnhl):
    p = bnhl.patients
    assert (p["os_days"] >= 0).all()
    assert int(p["screen_failures"].sum()) > 0  # without the screen this cohort had 6 patients with os_days < 0
    assert (p["draw_attempt"] >= p["screen_failures"]).all()
    # no enrolled patient reaches the lethal burden before the first scan
    early = p["os_event"] & (p["os_days"] < bnhl.scenario.simulation.scan_days[0])
    assert not (p.loc[early, "death_cause"] == "lethal_burden").any()


def test_screen_is_deterministic_and_independent_of_chunking():
    sc = load_scenario("hcc-gpc3-car-nk-il15")
    ids = np.arange(400)
    whole = sample_patients(sc, ids)
    parts = pd.concat([sample_patients(sc, ids[k:k + 37]) for k in range(0, 400, 37)])
    pd.testing.assert_frame_equal(whole, parts)
    assert whole["screen_failures"].sum() > 0
    assert passes_screen(sc, whole, typical_values(sc)).all()
    # the first candidate of a screened-out slot fails the screen on its own
    pid = int(whole.index[whole["screen_failures"] > 0][0])
    first = _draw(sc, np.array([pid]), np.array([0]), load_registry())
    assert not passes_screen(sc, first.assign(draw_attempt=0), typical_values(sc))[0]


def test_redrawn_candidate_gets_its_own_clinical_draws():
    ids = np.array([3, 4, 5])
    same = patient_draws(7, ids, np.array([0, 0, 0]))
    again = patient_draws(7, ids, np.array([0, 2, 0]))
    assert np.array_equal(same[[0, 2]], again[[0, 2]]) and not np.array_equal(same[1], again[1])
    assert np.array_equal(again[1], stream(7, "clinical", 4, 2).random(4))


def test_stream_uniforms_is_stream_draw_for_draw():
    ids = np.array([0, 1, 17, 2**20 + 3, 2**31 + 11])
    for seed in (0, 5, 2**35 + 1):
        got = stream_uniforms(seed, "clinical", ids, 6)
        want = np.array([stream(seed, "clinical", int(i)).random(6) for i in ids])
        assert np.array_equal(got, want)


# ---- 2. no event after death -----------------------------------------------------------------------------------


def test_no_event_after_death(bnhl):
    p = bnhl.patients
    dead = p["os_event"].astype(bool)
    for col in ("new_lesion_day", "pd_day", "crs_onset_day", "icans_onset_day", "offtumor_onset_day", "dlt_day"):
        assert not ((p[col] >= p["os_days"]) & dead).any(), col
    assert int(((p["new_lesion_day"] > p["os_days"]) & dead).sum()) == 0
    assert (p["pfs_days"] <= p["os_days"] + 1e-9).all()


def test_new_lesion_after_death_is_censored():
    t = np.arange(-5.0, 200.0)
    viable = np.full((2, t.size, 1), 1e9)
    death = np.where(t < 0, 0.0, t / 10.0)[None, :].repeat(2, 0)  # crosses any threshold E by day 10 E
    new = np.where(t < 0, 0.0, t / 1000.0)[None, :].repeat(2, 0)  # crosses much later
    ds = make_trajectories(t, viable, death_hazard=death, new_lesion_hazard=new)
    pts = pd.DataFrame({"cd3_per_kg": 0.0, "n_infusions": 1}, index=pd.Index([0, 1], name="patient"))
    o = outcomes(ds, pts, ReadoutSpec(criteria="RECIST1.1", follow_up_days=199.0), seed=3)
    u = patient_draws(3, np.array([0, 1]))
    assert np.allclose(o["os_days"], -10 * np.log1p(-u[:, 1]))
    new_day = -1000 * np.log1p(-u[:, 0])
    assert (new_day > o["os_days"]).all() and o["new_lesion_day"].isna().all()


# ---- 3. DLT by the protocol's definition -----------------------------------------------------------------------


def test_expected_toxicities_of_lineage_antigen_cars():
    assert expected_toxicities(("CD19",)) == ("offtumor",)
    assert expected_toxicities(("CD20",)) == ("offtumor",)
    assert expected_toxicities(("GPC3",)) == ()
    assert expected_toxicities(("CD19", "CD147")) == ()
    assert expected_toxicities(()) == ()


def test_bcell_aplasia_is_an_adverse_event_not_a_dlt_unless_the_scenario_opts_in():
    sc = load_scenario("ball-car-t-like")
    default = nksim.simulate(sc, n_patients=120, seed=5).patients
    assert (default["offtumor_grade"] >= 3).mean() > 0.5  # reported as an adverse event ...
    assert default["offtumor_expected"].all()
    assert not (default["dlt_toxicity"] == "offtumor").any()  # ... and never as DLT
    opt_in = nksim.simulate(sc.replace({"readouts.dlt_expected": []}), n_patients=120, seed=5).patients
    assert (opt_in["dlt_toxicity"] == "offtumor").sum() > 0 and not opt_in["offtumor_expected"].any()
    assert opt_in["dlt"].mean() > default["dlt"].mean()
    # same patients, same toxicity grades: only the definition differs
    assert (opt_in["offtumor_grade"] == default["offtumor_grade"]).all()
    assert (opt_in["crs_grade"] == default["crs_grade"]).all()


# ---- 4. solver failure is a per-patient status -------------------------------------------------------------------


def test_solver_failure_flags_the_patient_and_the_run_finishes(monkeypatch):
    import nksim.engine as engine

    monkeypatch.setattr(engine, "MAX_STEPS", 250)  # between the cohort's fewest and most steps (~170-530)
    with pytest.warns(RuntimeWarning, match="could not be solved"):
        res = nksim.simulate("bnhl-cd19-car-nk-il15-cb", n_patients=24, seed=3, chunk_size=10)
    p = res.patients
    failed = p["solver_status"] != 0
    assert 0 < failed.sum() < len(p)
    assert (p.loc[failed, "solver_status"] == 1).all()
    assert p.loc[failed, "solver_message"].str.contains("step limit").all()
    assert (p.loc[~failed, "solver_message"] == "").all()
    for col in ("os_days", "pfs_days", "best_pct_change", "peak_nk_per_ul", "crs_grade", "dlt"):
        assert p.loc[failed, col].isna().all(), col
        assert p.loc[~failed, col].notna().all() or col in ("best_pct_change", "peak_nk_per_ul"), col
    assert p.loc[failed, "best_response"].isna().all()  # no response (missing in the ordered categorical)
    assert np.isnan(res.trajectories["viable_cells"].sel(patient=p.index[failed][0]).values).all()
    s = summarize(p).set_index("metric")
    assert s.loc["solver failures", "n_events"] == failed.sum()
    assert s.loc["median OS", "n"] == (~failed).sum()


# ---- 5. criteria classes and the resolved scenario --------------------------------------------------------------


def test_criteria_classes_share_one_interface_and_read_the_registry():
    from nksim.clinical._params import clinical_params

    p = clinical_params()
    lines = {name: make_criteria(name, p, imaging_limit_mm=5, measurable_min_mm=10).reference_lines
             for name in CRITERIA}
    assert lines == {"RECIST1.1": {"PD": 20.0, "PR": -30.0}, "mRECIST": {"PD": 20.0, "PR": -30.0},
                     "Lugano2014": {"PR": -50.0}, "ALL-marrow": {}}
    p40 = clinical_params({"clinical_recist_pr_fraction": 0.4})
    assert make_criteria("RECIST1.1", p40, imaging_limit_mm=5, measurable_min_mm=10).reference_lines["PR"] == -40.0
    with pytest.raises(nksim.errors.InputError, match="tsys_marrow_fraction"):
        MarrowALL(p).burden(ScanData(np.ones((1, 2, 1)), np.zeros((1, 2, 1)), np.ones(1), np.ones(1, bool)))


def test_resolved_scenario_is_carried_on_the_result_and_cached():
    res = nksim.simulate("hcc-gpc3-car-nk-il15", n_patients=4, seed=2)
    r = res.resolved
    assert r is res.resolved and r is resolve(res.scenario)
    assert r.criteria.name == "mRECIST" and r.readouts.criteria == "mRECIST"
    assert r.thresholds["pr_fraction"] == r.clinical["clinical_mrecist_pr_fraction"]
    assert r.params == typical_values(res.scenario)
    sc = res.scenario.replace({"parameters.clinical_mrecist_pr_fraction": 0.5})
    assert resolve(sc).criteria.reference_lines["PR"] == -50.0


def test_outcomes_from_inputs_equals_outcomes_and_blocks_do_not_matter(monkeypatch):
    import sys

    oc = sys.modules["nksim.clinical.outcomes"]  # the module (the package exports the function by that name)
    ds, pts = synthetic_cohort(60, seed=4)
    ro = ReadoutSpec(follow_up_days=300.0)
    whole = outcomes(ds, pts, ro, seed=9)
    monkeypatch.setattr(oc, "BLOCK", 7)
    pd.testing.assert_frame_equal(outcomes(ds, pts, ro, seed=9), whole)
    settings = ReadoutSettings.resolve(ro, None, pts)
    times = np.concatenate([[ds.time.values[0]], settings.scan_days])
    inp = ReadoutInputs.from_trajectories(ds, times)
    pd.testing.assert_frame_equal(outcomes_from_inputs(inp, pts, settings, seed=9), whole)
