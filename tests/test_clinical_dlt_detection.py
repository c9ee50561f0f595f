"""DLT within the window (with onset day) and product detection by qPCR, flow and chimerism."""

import numpy as np
import pandas as pd
import pytest

from nksim.clinical import AssaySpec, DLTRule, ReadoutSpec, outcomes
from nksim.clinical._params import clinical_params
from nksim.clinical.detection import detectable, detection_limit_cells_per_ul, last_detectable_day
from nksim.clinical.dlt import evaluate_dlt
from nksim.clinical.synthetic import make_trajectories

P = clinical_params()
T = np.arange(-5.0, 60.0)


def course(onset, end, grade, t=T):
    return np.where((t >= onset) & (t < end), grade, 0)[None, :]


def test_dlt_onset_day_and_window():
    rules = (DLTRule(toxicity="crs", min_grade=3),)
    dlt, day, cause = evaluate_dlt(T, {"crs": course(5, 8, 3)}, rules, 28.0)
    assert dlt[0] and day[0] == 5.0 and cause[0] == "crs"
    dlt, day, _ = evaluate_dlt(T, {"crs": course(35, 40, 4)}, rules, 28.0)
    assert not dlt[0] and np.isnan(day[0])
    dlt, _, _ = evaluate_dlt(T, {"crs": course(5, 8, 2)}, rules, 28.0)
    assert not dlt[0]


def test_dlt_minimum_duration_counts_from_before_infusion():
    rules = (DLTRule(toxicity="neutropenia", min_grade=4, min_duration_days=28.0),)
    dlt, day, _ = evaluate_dlt(T, {"neutropenia": course(-3, 40, 4)}, rules, 28.0)
    assert dlt[0] and day[0] == 25.0
    dlt, _, _ = evaluate_dlt(T, {"neutropenia": course(-3, 20, 4)}, rules, 28.0)
    assert not dlt[0]


def test_earliest_rule_names_the_cause():
    rules = (DLTRule(toxicity="crs", min_grade=3), DLTRule(toxicity="icans", min_grade=3))
    dlt, day, cause = evaluate_dlt(T, {"crs": course(9, 12, 3), "icans": course(6, 9, 3)}, rules, 28.0)
    assert day[0] == 6.0 and cause[0] == "icans"


def test_dlt_in_outcomes_from_cytokine_storm():
    t = np.arange(-2.0, 40.0, 0.5)
    storm = 10.0 * max(v for k, v in clinical_params().items() if k.endswith("_pg_ml"))  # past every CRS threshold
    c = np.where((t >= 4) & (t < 6), storm, 1.0)[None, :].repeat(2, axis=0)
    c[1] = 1.0
    ds = make_trajectories(t, np.full((2, t.size, 1), 1e9), cytokine_pg_ml=c)
    pts = pd.DataFrame(
        {"cd3_per_kg": 0.0, "n_infusions": 1, "indication": "CRC"}, index=pd.Index([0, 1], name="patient")
    )
    o = outcomes(ds, pts, ReadoutSpec(scan_days=(28.0,)), seed=0)
    assert o.dlt.tolist() == [True, False]
    assert o.loc[0, "dlt_day"] == 4.0 and o.loc[0, "dlt_toxicity"] == "crs"
    assert o.loc[0, "crs_grade"] == 4 and o.loc[0, "crs_onset_day"] == 4.0
    short = outcomes(ds, pts, ReadoutSpec(scan_days=(28.0,), dlt_window_days=3.0), seed=0)
    assert not short.dlt.any()


def test_qpcr_limit_worked_example():
    # LLOQ 50 copies/ug; 1000 leukocytes/uL carry 1000 x 6.6 pg = 6.6e-3 ug DNA -> 0.33 copies... cells/uL
    assay = AssaySpec(kind="qpcr", lloq_copies_per_ug=50.0, copies_per_cell=1.0)
    assert detection_limit_cells_per_ul(np.array([1000.0]), assay, P)[0] == pytest.approx(0.33)
    # two copies per cell halve the limit; 1 ug DNA ~ 1.5e5 cells
    assay2 = AssaySpec(kind="qpcr", lloq_copies_per_ug=50.0, copies_per_cell=2.0)
    assert detection_limit_cells_per_ul(np.array([1000.0]), assay2, P)[0] == pytest.approx(0.165)
    assert 1.0 / (P["clinical_dna_per_cell_pg"] * 1e-6) == pytest.approx(1.5e5, rel=0.02)


def test_flow_and_chimerism_limits():
    x, w = np.array([0.4, 0.6, 30.0]), np.array([1000.0, 1000.0, 1000.0])
    assert detectable(x, w, AssaySpec(kind="flow", lod_cells_per_ul=0.5), P).tolist() == [False, True, True]
    assert detectable(x, w, AssaySpec(kind="chimerism", lod_fraction=0.01), P).tolist() == [
        False,
        False,
        True,
    ]


def test_days_detectable_for_exponential_decline():
    t = np.arange(0.0, 100.0)
    x = 100.0 * np.exp(-0.1 * t)[None, :]
    det = detectable(x, np.full_like(x, 5000.0), AssaySpec(kind="flow", lod_cells_per_ul=1.0), P)
    assert last_detectable_day(t, det)[0] == 46.0  # 100 e^{-0.1 t} >= 1 until t = 10 ln 100 = 46.05


def test_low_leukocytes_after_lymphodepletion_lengthen_qpcr_detection():
    t = np.arange(-5.0, 100.0)
    x = np.where(t < 0, 0.0, 50.0 * np.exp(-0.1 * np.maximum(t, 0)))[None, :].repeat(2, axis=0)
    wbc = np.array([[5000.0], [300.0]]) * np.ones_like(t)[None, :]
    ds = make_trajectories(
        t, np.full((2, t.size, 1), 1e9), nk_blood_per_ul=x, car_nk_blood_per_ul=x, wbc_per_ul=wbc
    )
    pts = pd.DataFrame(
        {"cd3_per_kg": 0.0, "n_infusions": 1, "indication": "CRC"}, index=pd.Index([0, 1], name="patient")
    )
    o = outcomes(ds, pts, ReadoutSpec(scan_days=(28.0,)), seed=0)
    assert o.loc[1, "days_detectable"] > o.loc[0, "days_detectable"] > 0
    assert o.loc[0, "peak_nk_per_ul"] == pytest.approx(50.0) and o.loc[0, "tmax_nk_day"] == 0.0
    # flow on sample days only: last sample with >= 0.5 cells/uL among days 0, 7, 14, 28, 56
    flow = ReadoutSpec(
        scan_days=(28.0,),
        assay=AssaySpec(kind="flow", lod_cells_per_ul=0.5, sample_days=(0.0, 7.0, 14.0, 28.0, 56.0)),
    )
    assert outcomes(ds, pts, flow, seed=0).loc[0, "days_detectable"] == 28.0


def test_never_detected():
    t = np.arange(0.0, 30.0)
    ds = make_trajectories(t, np.full((1, t.size, 1), 1e9), nk_blood_per_ul=np.full((1, t.size), 1e-3))
    pts = pd.DataFrame(
        {"cd3_per_kg": 0.0, "n_infusions": 1, "indication": "CRC"}, index=pd.Index([0], name="patient")
    )
    o = outcomes(ds, pts, ReadoutSpec(scan_days=(28.0,)), seed=0)
    assert not o.loc[0, "detected"] and o.loc[0, "days_detectable"] == 0.0


def test_dlt_evaluability_and_rate_denominator():
    from nksim.clinical import summarize

    t = np.arange(-2.0, 60.0)
    c = np.ones((3, t.size))
    c[0, (t >= 4) & (t < 6)] = 1e5  # DLT (grade 4 CRS) on day 4
    death = np.zeros((3, t.size))
    death[1] = np.where(t >= 10, 1e3, 0.0)  # dies on day ~10 without DLT: not evaluable
    ds = make_trajectories(t, np.full((3, t.size, 1), 1e9), cytokine_pg_ml=c, death_hazard=death)
    pts = pd.DataFrame({"cd3_per_kg": 0.0, "n_infusions": 1, "indication": "CRC"},
                       index=pd.Index([0, 1, 2], name="patient"))
    o = outcomes(ds, pts, ReadoutSpec(scan_days=(28.0,)), seed=0)
    assert o.dlt.tolist() == [True, False, False]
    assert o.dlt_evaluable.tolist() == [True, False, True]
    row = summarize(o).set_index("metric").loc["DLT rate"]
    assert row.n == 2 and row.n_events == 1
