"""Recurrence-free survival in the adjuvant setting (nksim.clinical.recurrence) and its scenario."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import small

import nksim
from nksim.clinical import summarize
from nksim.clinical.lesions import cells_for_diameter
from nksim.clinical.recurrence import recurrence_free_survival, rfs_at

T = np.arange(0.0, 401.0, 1.0)
SCANS = np.array([90.0, 180.0, 270.0, 360.0])
DENS = 1e8


def _grow(d0_mm: float, doubling_d: float) -> np.ndarray:
    return cells_for_diameter(d0_mm, DENS) * 2.0 ** (T / doubling_d)


def _rfs(viable, new_day=None, death_day=None, end=400.0, detect=10.0):
    n = viable.shape[0]
    new_day = np.full(n, np.inf) if new_day is None else np.asarray(new_day, float)
    death_day = np.full(n, np.inf) if death_day is None else np.asarray(death_day, float)
    return recurrence_free_survival(T, viable, np.full(n, DENS), SCANS, new_day, death_day, end, detect, 0.0)


def test_recurrence_dated_at_first_scan_over_threshold():
    # 2 mm doubling in volume every 30 d: diameter x 2^(t/90); 10 mm at t = 90 log2(5) = 209 d -> scan 270
    v = np.stack([_grow(2.0, 30.0), _grow(0.5, 60.0)])[:, :, None]
    out = _rfs(v)
    assert out["rfs_days"][0] == 270.0 and out["rfs_event"][0] and out["recurrence_kind"][0] == "local"
    # the slow one stays below 10 mm: censored at the last scan, no event
    assert out["rfs_days"][1] == 360.0 and not out["rfs_event"][1] and np.isnan(out["recurrence_day"][1])
    assert out["disease_free"].all()


def test_new_lesion_and_death_are_events_and_scans_stop_at_death():
    v = np.stack([_grow(0.5, 1e9)] * 3)[:, :, None]
    out = _rfs(v, new_day=[100.0, np.inf, np.inf], death_day=[np.inf, 200.0, 500.0], end=400.0)
    assert out["rfs_days"][0] == 180.0 and out["recurrence_kind"][0] == "new_lesion"
    assert out["rfs_days"][1] == 200.0 and out["rfs_event"][1] and out["recurrence_kind"][1] == ""
    assert out["rfs_days"][2] == 360.0 and not out["rfs_event"][2]  # death after follow-up: censored


def test_detectable_at_start_is_not_disease_free():
    v = np.stack([_grow(15.0, 1e9)])[:, :, None]
    out = _rfs(v)
    assert not out["disease_free"][0] and out["rfs_days"][0] == 90.0


def test_a_larger_threshold_never_dates_recurrence_earlier():
    rng = np.random.default_rng(3)
    v = np.stack([_grow(d, dt) for d, dt in zip(rng.uniform(0.5, 5, 40), rng.uniform(20, 200, 40))])[:, :, None]
    a, b = _rfs(v, detect=10.0), _rfs(v, detect=15.0)
    assert np.all(b["rfs_days"] >= a["rfs_days"])
    assert b["rfs_event"].sum() <= a["rfs_event"].sum()


@pytest.fixture(scope="module")
def adjuvant():
    sc = small("hcc-adjuvant-post-lt-nk", n=30, horizon=1095.0)
    return sc, nksim.simulate(sc), nksim.simulate(sc, overrides={"treated": False})


def test_adjuvant_scenario_reports_rfs_with_and_without_nk(adjuvant):
    sc, nk, ctrl = adjuvant
    for res in (nk, ctrl):
        p = res.patients
        for col in ("rfs_days", "rfs_event", "recurrence_day", "recurrence_kind", "disease_free"):
            assert col in p.columns
        assert p.disease_free.all()  # eligibility: nothing detectable at start
        assert (p.rfs_days >= 0).all() and (p.rfs_days <= sc.readouts.follow_up_days).all()
        assert 0 < p.rfs_event.sum() < len(p)  # some recur within 3 years, some do not
        s = summarize(p)
        assert "median RFS" in set(s.metric)
        assert 0.0 <= rfs_at(p.rfs_days, p.rfs_event, 730.0) <= rfs_at(p.rfs_days, p.rfs_event, 365.0) <= 1.0
    assert float(nk.trajectories.product_cells_total.max()) > 0.0
    assert float(ctrl.trajectories.product_cells_total.max()) == 0.0
    # NK can only kill residual tumor: no patient recurs earlier with NK than without
    assert np.all(nk.patients.rfs_days.values >= ctrl.patients.rfs_days.values - 1e-9)


def test_advanced_setting_has_no_rfs_columns():
    res = nksim.simulate(small("hcc-post-lt-allo-nk", n=2, horizon=60.0))
    assert "rfs_days" not in res.patients.columns


def test_rfs_km_plot(adjuvant):
    from nksim.report.clinical_plots import km_plot

    _, nk, _ = adjuvant
    fig = km_plot(nk.trajectories, nk.patients, "rfs")
    assert "Recurrence-free" in fig.axes[0].get_title()


def test_arms_table_has_rfs_in_the_adjuvant_setting():
    from nksim.arms import compare_arms
    from nksim.clinical.recurrence import RFS_TABLE_COLUMNS
    from nksim.report.arms import markdown

    sc = small("hcc-adjuvant-post-lt-nk", n=12, horizon=1095.0)
    cmp = compare_arms(sc, arms="control,kim2021")
    t = cmp.table.set_index("arm")
    assert set(RFS_TABLE_COLUMNS) <= set(t.columns)
    for arm, res in cmp.results.items():
        p = res.patients
        assert t.loc[arm, "rfs_events"] == int(p.rfs_event.sum())
        assert t.loc[arm, "rfs_2y"] == pytest.approx(rfs_at(p.rfs_days, p.rfs_event, 730.5))
    assert np.isnan(t.loc["control", "rfs_logrank_p_vs_control"]) and 0 <= t.loc["kim2021", "rfs_logrank_p_vs_control"] <= 1
    assert "Recurrence-free survival" in markdown(cmp)
