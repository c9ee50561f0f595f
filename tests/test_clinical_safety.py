"""GvHD, infusion fever, on-target/off-tumor toxicity and cytopenia: each responds to its own driver."""

import numpy as np
import pandas as pd
import pytest

from nksim.clinical import ReadoutSpec, outcomes
from nksim.clinical._grid import time_below
from nksim.clinical._params import clinical_params
from nksim.clinical.safety import (
    ctcae_leukopenia_grade,
    ctcae_neutropenia_grade,
    gvhd_grade,
    gvhd_risk,
    infusion_fevers,
    offtumor_grade,
)
from nksim.clinical.synthetic import make_trajectories, synthetic_cohort
from nksim.errors import InputError

P = clinical_params()


def test_gvhd_risk_dose_response():
    ed50, pmax = P["clinical_gvhd_cd3_ed50_per_kg"], P["clinical_gvhd_max_risk"]
    d = np.array([0.0, 1e3, 1e5, ed50, 1e7, 1e9])
    r = gvhd_risk(d, P)
    assert r[0] == 0 and np.all(np.diff(r) > 0)
    assert r[3] == pytest.approx(pmax / 2)
    assert r[-1] == pytest.approx(pmax, rel=1e-3)
    with pytest.raises(InputError, match="cd3_per_kg"):
        gvhd_risk(np.array([-1.0]), P)


def test_gvhd_grade_from_draw():
    risk = np.full(4, 0.5)
    u = np.array([0.01, 0.2, 0.4, 0.9])
    # severe share 0.3: u < 0.15 -> III-IV (3), u < 0.5 -> II (2), else none
    assert gvhd_grade(risk, u, P).tolist() == [3, 2, 2, 0]


def test_gvhd_incidence_rises_with_cd3_dose_in_cohort():
    rates = []
    for cd3 in (1e3, 1e5, 1e7):
        ds, pts = synthetic_cohort(400, seed=2, t_end=60.0, cd3_per_kg=cd3)
        o = outcomes(ds, pts, ReadoutSpec(scan_days=(28.0, 56.0), follow_up_days=60.0), seed=5)
        rates.append((o.gvhd_grade >= 2).mean())
        assert np.allclose(o.gvhd_risk.to_numpy(), gvhd_risk(np.array([cd3]), P)[0])
    assert rates[0] < rates[1] < rates[2]


def test_infusion_fevers_rise_with_number_of_infusions():
    u = np.random.default_rng(0).random(5000)
    counts = [infusion_fevers(np.full(5000, n), u, P) for n in (0, 1, 3, 8)]
    assert counts[0].sum() == 0
    assert all(np.all(b >= a) for a, b in zip(counts, counts[1:]))
    assert counts[1].mean() == pytest.approx(P["clinical_infusion_fever_prob"], abs=0.02)
    assert counts[3].mean() == pytest.approx(8 * P["clinical_infusion_fever_prob"], rel=0.1)


def test_offtumor_grade_thresholds():
    th = [P[f"clinical_offtumor_grade{g}"] for g in (1, 2, 3, 4)]
    a = np.array([0.0, th[0] * 0.99, th[0], th[1], th[2], th[3] * 10])
    assert offtumor_grade(a, P).tolist() == [0, 0, 1, 2, 3, 4]


def test_offtumor_toxicity_follows_activity_integral():
    t = np.arange(0.0, 40.0)
    rate = np.array([0.0, 1e8, 1e9, 1e10])[:, None]
    ds = make_trajectories(t, np.full((4, t.size, 1), 1e9), offtumor_activity=rate * t[None, :])
    pts = pd.DataFrame(
        {"cd3_per_kg": 0.0, "n_infusions": 1, "indication": "CRC"}, index=pd.Index(range(4), name="patient")
    )
    o = outcomes(ds, pts, ReadoutSpec(scan_days=(28.0,), follow_up_days=39.0), seed=0)
    g = o.offtumor_grade.tolist()
    assert g[0] == 0 and g == sorted(g) and g[-1] == 4
    # grade 1 threshold 1e9 at 1e9 per day is crossed on day 1
    assert o.loc[2, "offtumor_onset_day"] == pytest.approx(1.0)


@pytest.mark.parametrize("wbc, grade", [(5000, 0), (3500, 1), (2500, 2), (1500, 3), (900, 4)])
def test_ctcae_leukopenia(wbc, grade):
    assert ctcae_leukopenia_grade(np.array([wbc]), P)[0] == grade


@pytest.mark.parametrize("anc, grade", [(2500, 0), (1600, 1), (1200, 2), (700, 3), (400, 4)])
def test_ctcae_neutropenia(anc, grade):
    assert ctcae_neutropenia_grade(np.array([anc]), P)[0] == grade


def test_time_below_is_exact_for_piecewise_linear_courses():
    t = np.array([0.0, 10.0, 20.0])
    y = np.array([[2000.0, 0.0, 2000.0]])
    assert time_below(t, y, 1000.0)[0] == pytest.approx(10.0)
    assert time_below(t, y, 1000.0, t_to=10.0)[0] == pytest.approx(5.0)


def test_cytopenia_lasts_longer_with_deeper_lymphodepletion():
    t = np.arange(-5.0, 60.0, 0.5)
    nadirs = np.array([[1500.0], [600.0], [100.0]])
    wbc = 5000 - (5000 - nadirs) * np.exp(-np.maximum(t[None, :], 0) / 10.0)
    ds = make_trajectories(t, np.full((3, t.size, 1), 1e9), wbc_per_ul=wbc)
    pts = pd.DataFrame(
        {"cd3_per_kg": 0.0, "n_infusions": 1, "indication": "CRC"}, index=pd.Index(range(3), name="patient")
    )
    o = outcomes(ds, pts, ReadoutSpec(scan_days=(28.0,)), seed=0)
    days = o.cytopenia_days.to_numpy()
    assert days[0] == 0 and days[1] < days[2]
    # analytic: WBC < 1000 while 5000 - (5000 - n) e^{-t/10} < 1000 -> t < 10 ln((5000 - n) / 4000), + 5 d
    assert days[2] == pytest.approx(5 + 10 * np.log(4900 / 4000), abs=0.05)
    assert o.neutropenia_grade.tolist() == [3, 4, 4]


def test_offtumor_activity_units_prefix_is_applied():
    from nksim.clinical.outcomes import unit_factor

    assert unit_factor("1e9 cell-days") == 1e9 and unit_factor("cells/uL") == 1.0 and unit_factor(None) == 1.0
    t = np.arange(0.0, 10.0)
    ds = make_trajectories(t, np.full((1, t.size, 1), 1e9), offtumor_activity=(5.0 * t)[None, :])
    pts = pd.DataFrame(
        {"cd3_per_kg": 0.0, "n_infusions": 1, "indication": "CRC"}, index=pd.Index([0], name="patient")
    )
    ro = ReadoutSpec(scan_days=(5.0,))
    assert outcomes(ds, pts, ro, seed=0).loc[0, "offtumor_grade"] == 0  # 45 cell-days: nothing
    ds["offtumor_activity"].attrs["units"] = "1e9 cell-days"
    assert outcomes(ds, pts, ro, seed=0).loc[0, "offtumor_grade"] == 4  # 4.5e10 cell-days
