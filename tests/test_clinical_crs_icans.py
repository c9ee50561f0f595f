"""CRS by the ASTCT consensus (Lee 2019) from signs driven by the cytokine proxy; ICANS by the ICE score."""

import numpy as np
import pandas as pd
import pytest

from nksim.clinical import (
    ReadoutSpec,
    astct_crs_grade,
    astct_icans_grade,
    crs_grade_course,
    crs_signs,
    icans_course,
    ice_score,
    outcomes,
)
from nksim.clinical._params import clinical_params
from nksim.clinical.synthetic import make_trajectories, synthetic_cohort
from nksim.errors import InputError


@pytest.mark.parametrize(
    "fever, hypotension, hypoxia, grade",
    [
        (False, 0, 0, 0),
        (False, 2, 3, 0),  # no fever, no CRS (fever is required to diagnose CRS)
        (True, 0, 0, 1),  # fever only
        (True, 1, 0, 2),  # hypotension not needing vasopressors
        (True, 0, 1, 2),  # low-flow oxygen
        (True, 2, 0, 3),  # one vasopressor
        (True, 0, 2, 3),  # high-flow oxygen
        (True, 1, 2, 3),  # the more severe sign sets the grade
        (True, 3, 0, 4),  # several vasopressors
        (True, 0, 3, 4),  # positive pressure
        (True, 2, 3, 4),
    ],
)
def test_astct_crs_table(fever, hypotension, hypoxia, grade):
    assert astct_crs_grade(np.array(fever), np.array(hypotension), np.array(hypoxia)) == grade


def test_signs_follow_thresholds():
    p = clinical_params()
    c = np.array(
        [
            p["clinical_crs_fever_pg_ml"] * 0.99,
            p["clinical_crs_fever_pg_ml"],
            p["clinical_crs_hypotension_fluids_pg_ml"],
            p["clinical_crs_hypoxia_high_flow_pg_ml"],
            p["clinical_crs_hypotension_multi_vasopressor_pg_ml"],
        ]
    )
    fever, hypo, hypox = crs_signs(c, p)
    assert list(fever) == [False, True, True, True, True]
    assert list(hypo) == [0, 0, 1, 2, 3]
    assert hypox[3] == 2 and hypox[0] == 0


def test_crs_grade_rises_with_the_cytokine_proxy():
    p = clinical_params()
    top = max(v for k, v in p.items() if k.startswith("clinical_crs_") and k.endswith("_pg_ml"))
    c = np.geomspace(1, 10.0 * top, 200)[None, :]  # past the highest threshold, whatever the fitted ladder
    g = crs_grade_course(c, p)[0]
    assert np.all(np.diff(g) >= 0) and g[0] == 0 and g[-1] == 4


def test_fever_once_seen_need_not_persist():
    # thresholds set so hypotension appears below the fever level: after fever it still grades CRS
    p = clinical_params({"clinical_crs_fever_pg_ml": 1000.0, "clinical_crs_hypotension_fluids_pg_ml": 100.0,
                         "clinical_crs_hypotension_one_vasopressor_pg_ml": 500.0,
                         "clinical_crs_hypotension_multi_vasopressor_pg_ml": 2000.0,
                         "clinical_crs_hypoxia_low_flow_pg_ml": 150.0, "clinical_crs_hypoxia_high_flow_pg_ml": 700.0,
                         "clinical_crs_hypoxia_positive_pressure_pg_ml": 3000.0})
    c = np.array([[150.0, 2000.0, 150.0]])
    assert list(crs_grade_course(c, p)[0]) == [0, 4, 2]


def test_unordered_thresholds_are_cumulative():
    """A level set below a milder one's is reached with the milder (nksim.grade_order), never before it."""
    p = clinical_params({"clinical_crs_hypotension_one_vasopressor_pg_ml": 50.0})
    fluids = p["clinical_crs_hypotension_fluids_pg_ml"]
    _, hypo, _ = crs_signs(np.array([10.0, 60.0, fluids * 0.99, fluids]), p)
    assert hypo.tolist() == [0, 0, 0, 2]


def test_unknown_clinical_parameter_is_rejected():
    with pytest.raises(InputError, match="clinical_crs_fevr_pg_ml"):
        clinical_params({"clinical_crs_fevr_pg_ml": 1.0})


@pytest.mark.parametrize(
    "ice, unarousable, grade",
    [
        (10, False, 0),
        (9, False, 1),
        (7, False, 1),
        (6, False, 2),
        (3, False, 2),
        (2, False, 3),
        (0, False, 3),
        (0, True, 4),
    ],
)
def test_astct_icans_from_ice(ice, unarousable, grade):
    assert astct_icans_grade(np.array(ice), np.array(unarousable)) == grade


def test_ice_score_scale():
    assert ice_score(np.array([99.0, 100.0, 10000.0, 1e6]), 100.0, 10000.0).tolist() == [10, 9, 0, 0]
    s = ice_score(np.geomspace(10, 1e5, 100), 100.0, 10000.0)
    assert np.all(np.diff(s) <= 0)


def test_icans_follows_the_cytokine_with_a_delay():
    p = clinical_params({"clinical_icans_delay_days": 3.0})
    t = np.arange(0.0, 20.0, 0.5)
    storm = 10.0 * max(v for k, v in p.items() if k.endswith("_pg_ml"))  # past every threshold of the fitted ladder
    c = np.where((t >= 5) & (t < 7), storm, 1.0)[None, :]
    ice, grade = icans_course(t, c, p)
    onset = t[np.argmax(grade[0] >= 1)]
    assert onset == pytest.approx(8.0)  # pulse starts at day 5, delay 3 days
    assert grade.max() == 4 and ice.min() == 0


def _cohort_rates(scale):
    ds, pts = synthetic_cohort(300, seed=4, cytokine_scale=scale, t_end=120.0)
    o = outcomes(ds, pts, ReadoutSpec(follow_up_days=120.0), seed=1)
    return o


def test_crs_and_icans_incidence_respond_to_their_driver():
    # the synthetic cytokine peaks near 40 pg/mL x scale: scales are set relative to the fever threshold
    k = clinical_params()["clinical_crs_fever_pg_ml"] / 40.0
    low, mid, high = (_cohort_rates(s * k) for s in (0.3, 1.0, 30.0))
    assert (low.crs_grade >= 1).mean() < (mid.crs_grade >= 1).mean() < (high.crs_grade >= 1).mean()
    assert (low.crs_grade >= 3).mean() <= (mid.crs_grade >= 3).mean() < (high.crs_grade >= 3).mean()
    assert (low.icans_grade >= 1).mean() < (high.icans_grade >= 1).mean()
    # same patients, larger cytokine: no patient's grade goes down
    assert np.all(high.crs_grade.to_numpy() >= mid.crs_grade.to_numpy())
    onset = high.crs_onset_day.dropna()
    assert ((onset >= 0) & (onset <= 10)).all()


def test_crs_is_read_after_the_first_infusion_only():
    t = np.arange(-5.0, 30.0)
    c = np.where(t < 0, 1e5, 1.0)[None, :]
    ds = make_trajectories(t, np.full((1, t.size, 1), 1e9), cytokine_pg_ml=c)
    pts = pd.DataFrame(
        {"cd3_per_kg": [0.0], "n_infusions": [1], "indication": "CRC"}, index=pd.Index([0], name="patient")
    )
    o = outcomes(ds, pts, ReadoutSpec(scan_days=(28.0,)), seed=0)
    assert o.loc[0, "crs_grade"] == 0
