"""outcomes(): one row per patient, survival and event times, random streams, data-contract errors."""

import numpy as np
import pandas as pd
import pytest

from nksim.clinical import ReadoutSpec, cells_for_diameter, outcomes, scan_column
from nksim.clinical.codes import from_labels
from nksim.clinical.outcomes import patient_draws
from nksim.clinical.survival import progression_free_and_overall_survival
from nksim.clinical.synthetic import make_trajectories, synthetic_cohort
from nksim.errors import InputError

CONTRACT_COLUMNS = [
    "best_response",
    "pfs_days",
    "pfs_event",
    "os_days",
    "os_event",
    "crs_grade",
    "crs_onset_day",
    "icans_grade",
    "gvhd_grade",
    "gvhd_risk",
    "offtumor_grade",
    "cytopenia_days",
    "dlt",
    "dlt_day",
    "peak_nk_per_ul",
    "days_detectable",
]


def pts_for(ids):
    return pd.DataFrame(
        {"weight_kg": 70.0, "cd3_per_kg": 0.0, "n_infusions": 1, "antigen_GPC3": 0.5, "indication": "CRC"},
        index=pd.Index(ids, name="patient"),
    )


@pytest.fixture(scope="module")
def cohort():
    ds, pts = synthetic_cohort(120, seed=11, t_end=200.0)
    ro = ReadoutSpec(follow_up_days=200.0)
    return ds, pts, ro, outcomes(ds, pts, ro, seed=7)


def test_one_row_per_patient_with_contract_columns(cohort):
    ds, pts, ro, o = cohort
    assert list(o.index) == list(ds.patient.values) and o.index.name == "patient"
    for c in CONTRACT_COLUMNS + [scan_column(d) for d in ro.scan_days] + list(pts.columns):
        assert c in o.columns, c
    assert set(o.best_response) <= {"CR", "PR", "SD", "PD", "NE"}
    assert (o.pfs_days <= o.os_days + 1e-9).all()
    assert (o.pfs_days >= 0).all() and (o.os_days <= 200.0).all()
    # per-scan burden: present exactly where a response was assessed; best % change is its minimum
    for d in ro.scan_days:
        assert (o[scan_column(d)].isna() == o[scan_column(d).replace("resp_", "burden_")].isna()).all()
    burden = o[[scan_column(d).replace("resp_", "burden_") for d in ro.scan_days]]
    best = 100 * (burden.min(axis=1) / o.baseline_burden_mm - 1)
    ok = o.measurable & burden.notna().any(axis=1)
    assert np.allclose(best[ok], o.best_pct_change[ok])
    # a PFS event without death is a PD scan; every PD patient has a PD scan date
    assert (o.loc[o.pd_day.notna(), "pfs_days"] == o.loc[o.pd_day.notna(), "pd_day"]).all()


def test_reproducible_and_independent_of_chunking(cohort):
    ds, pts, ro, o = cohort
    pd.testing.assert_frame_equal(o, outcomes(ds, pts, ro, seed=7))
    part = ds.isel(patient=slice(30, 60))
    pd.testing.assert_frame_equal(outcomes(part, pts, ro, seed=7), o.iloc[30:60])
    rev = ds.isel(patient=slice(None, None, -1))
    pd.testing.assert_frame_equal(outcomes(rev, pts, ro, seed=7).sort_index(), o)
    other = outcomes(ds, pts, ro, seed=8)
    assert not other.new_lesion_day.equals(o.new_lesion_day)


def test_draws_come_from_the_patient_stream():
    from nksim.rng import stream

    u = patient_draws(3, np.array([5, 9]))
    assert np.array_equal(u[1], stream(3, "clinical", 9).random(4))


def test_death_from_cumulative_hazard_and_new_lesion_progression():
    t = np.arange(-1.0, 400.0)
    lam_death, lam_new = 0.01, 0.02
    ids = np.array([3, 4, 5])
    v = np.full((3, t.size, 1), cells_for_diameter(30.0, 1e8))
    H_d = lam_death * np.clip(t, 0, None)[None, :].repeat(3, axis=0)
    H_n = lam_new * np.clip(t, 0, None)[None, :].repeat(3, axis=0)
    ds = make_trajectories(t, v, death_hazard=H_d, new_lesion_hazard=H_n, patient_ids=ids)
    ro = ReadoutSpec(scan_days=tuple(float(d) for d in range(28, 400, 28)), follow_up_days=398.0)
    o = outcomes(ds, pts_for(ids), ro, seed=21)
    u = patient_draws(21, ids)
    death = -np.log1p(-u[:, 1]) / lam_death
    new = -np.log1p(-u[:, 0]) / lam_new
    for k, pid in enumerate(ids):
        row = o.loc[pid]
        if death[k] <= 398.0:
            assert row.os_event and row.os_days == pytest.approx(death[k], abs=1e-9)
            assert row.death_cause == "hazard"
        else:
            assert not row.os_event and row.os_days == 398.0
        first_scan_after_new = next((d for d in ro.scan_days if d >= new[k]), None)
        if first_scan_after_new is not None and first_scan_after_new < min(death[k], 398.0):
            assert row.pd_day == first_scan_after_new and row.pfs_event
            assert row[scan_column(first_scan_after_new)] == "PD"
            assert row.pfs_days == first_scan_after_new


def test_death_at_lethal_burden():
    t = np.arange(0.0, 300.0)
    v0 = 1e10
    growth = 0.02
    viable = (v0 * np.exp(growth * t))[None, :, None]
    ds = make_trajectories(t, viable)
    ro = ReadoutSpec(scan_days=(56.0, 112.0, 168.0), lethal_burden_cm3=500.0, cell_density_per_cm3=1e8)
    o = outcomes(ds, pts_for([0]), ro, seed=0)
    expected = np.log(500.0 * 1e8 / v0) / growth  # day 80.47
    assert o.loc[0, "os_event"] and o.loc[0, "os_days"] == pytest.approx(expected, abs=0.05)
    assert o.loc[0, "death_cause"] == "lethal_burden"
    assert o.loc[0, "resp_d56"] == "PD" and o.loc[0, "resp_d112"] is None
    assert o.loc[0, "pfs_days"] == 56.0


def test_pfs_censored_at_last_assessment():
    codes = from_labels(["SD", "PR", None])[None]
    s = progression_free_and_overall_survival(np.array([28.0, 56.0, 84.0]), codes, np.array([np.inf]), 70.0)
    assert s["pfs_days"][0] == 56.0 and not s["pfs_event"][0]
    assert s["os_days"][0] == 70.0 and not s["os_event"][0]
    s = progression_free_and_overall_survival(np.array([28.0, 56.0, 84.0]), codes, np.array([60.0]), 365.0)
    assert s["pfs_days"][0] == 60.0 and s["pfs_event"][0] and s["os_event"][0]


def test_lugano_in_outcomes_and_confirmation_default():
    t = np.arange(-1.0, 120.0)
    v0 = cells_for_diameter(40.0, 1e9)
    frac = np.where(t < 0, 1.0, np.maximum(np.exp(-t / 5.0), (10.0 / 40.0) ** 3))  # 10 mm from ~day 21
    ds = make_trajectories(t, (v0 * frac)[None, :, None])
    ro = ReadoutSpec(criteria="Lugano2014", scan_days=(28.0,), cell_density_per_cm3=1e9)
    assert not ro.confirmation_resolved and ReadoutSpec().confirmation_resolved
    o = outcomes(ds, pts_for([0]), ro, seed=0)
    assert o.loc[0, "resp_d28"] == "CR" and o.loc[0, "best_response"] == "CR"
    assert o.loc[0, "baseline_spd_mm2"] == pytest.approx(1600.0)


def test_contract_errors_name_the_field():
    ds, pts = synthetic_cohort(3, seed=0, t_end=30.0)
    with pytest.raises(InputError, match="cytokine_pg_ml"):
        outcomes(ds.drop_vars("cytokine_pg_ml"), pts)
    with pytest.raises(InputError, match="patients.index"):
        outcomes(ds, pts.iloc[:2])
    with pytest.raises(InputError, match="cd3_per_kg"):
        outcomes(ds, pts.drop(columns="cd3_per_kg"))
    bad = ds.copy()
    bad["viable_cells"] = bad["viable_cells"].where(bad.time < 5, np.nan)
    with pytest.raises(InputError, match="viable_cells"):
        outcomes(bad, pts)
    with pytest.raises(InputError, match="baseline_day"):
        outcomes(ds, pts, ReadoutSpec(baseline_day=-50.0))
    with pytest.raises(InputError, match="dims"):
        outcomes(ds.isel(lesion=0), pts)


def test_larger_cohort_runs_vectorised():
    ds, pts = synthetic_cohort(3000, seed=1, t_end=120.0, dt=2.0)
    o = outcomes(ds, pts, ReadoutSpec(follow_up_days=120.0), seed=0)
    assert len(o) == 3000 and o.best_response.notna().all()
    assert 0 < (o.best_response.isin(["CR", "PR"])).mean() < 1


def test_criteria_follow_the_indication_when_not_given():
    from nksim.clinical.outcomes import criteria_from_patients

    assert criteria_from_patients(pd.DataFrame({"indication": ["HCC", "HCC"]})) == "mRECIST"
    assert criteria_from_patients(pd.DataFrame({"indication": ["B-NHL"]})) == "Lugano2014"
    assert criteria_from_patients(pd.DataFrame({"indication": ["GC"]})) == "RECIST1.1"
    ds, pts = synthetic_cohort(4, seed=0, t_end=60.0)
    with pytest.raises(InputError, match="readouts.criteria"):
        outcomes(ds, pts.drop(columns="indication"), ReadoutSpec(scan_days=(28.0,)))
    with pytest.raises(InputError, match="readouts.criteria"):
        outcomes(ds, pts.assign(indication=["HCC", "GC", "GC", "GC"]), ReadoutSpec(scan_days=(28.0,)))
    hcc = outcomes(ds, pts.assign(indication="HCC"), ReadoutSpec(scan_days=(28.0,)), seed=0)
    explicit = outcomes(ds, pts, ReadoutSpec(criteria="mRECIST", scan_days=(28.0,)), seed=0)
    pd.testing.assert_frame_equal(hcc.drop(columns="indication"), explicit.drop(columns="indication"))


def test_mrecist_baseline_counts_tumor_killed_at_the_first_time_point_as_viable():
    # the engine applies the lymphodepletion kill at its first saved time: 40% of a 30 mm lesion is dead at t0
    t = np.arange(-5.0, 60.0)
    v0 = cells_for_diameter(30.0, 1e8)
    viable = np.full(t.size, 0.6 * v0)[None, :, None]
    dead = np.full(t.size, 0.4 * v0)[None, :, None]
    ds = make_trajectories(t, viable, dead_cells=dead)
    ro = ReadoutSpec(criteria="mRECIST", scan_days=(28.0,), cell_density_per_cm3=1e8)
    a = outcomes(ds, pts_for([0]), ro, seed=0)
    b = outcomes(ds, pts_for([0]), ro.model_copy(update={"mrecist_baseline": "viable"}), seed=0)
    assert a.loc[0, "baseline_burden_mm"] == pytest.approx(30.0)
    assert b.loc[0, "baseline_burden_mm"] == pytest.approx(30.0 * 0.6 ** (1 / 3))
    assert a.loc[0, "resp_d28"] == "SD" and b.loc[0, "resp_d28"] == "SD"
    assert a.loc[0, "best_pct_change"] == pytest.approx(100 * (0.6 ** (1 / 3) - 1))


def test_per_patient_density_column():
    t = np.arange(0.0, 40.0)
    ds = make_trajectories(t, np.full((2, t.size, 1), 1e9))
    pts = pts_for([0, 1]).assign(tumor_cell_density=[1e8, 1e9])
    o = outcomes(ds, pts, ReadoutSpec(scan_days=(28.0,)), seed=0)
    # ten times denser -> diameter smaller by 10^(1/3)
    assert o.loc[0, "baseline_burden_mm"] == pytest.approx(o.loc[1, "baseline_burden_mm"] * 10 ** (1 / 3))


def test_last_axis_sum_is_numpys_sum_bit_for_bit():
    """The lesion/class sums of the readout inputs: numpy's own bits (signed zeros and tiny negatives included)
    for every length of the last axis."""
    from nksim.clinical._grid import last_axis_sum

    rng = np.random.default_rng(2)
    for k in range(12):
        for shape in ((30, 40, k), (50, k), (7, 3, 2, k)):
            v = rng.random(shape) * 10.0 ** rng.uniform(-5, 12, shape)
            v[rng.random(shape) < 0.2] = 0.0
            v[rng.random(shape) < 0.1] = -0.0
            v[rng.random(shape) < 0.1] *= -1e-12
            np.testing.assert_array_equal(last_axis_sum(v).view(np.int64), v.sum(axis=-1).view(np.int64))


def test_delayed_on_grid_times_equals_interpolation():
    """A whole-day delay on a daily grid takes the values as they are: equal to the interpolation (finite values);
    a fractional delay still interpolates."""
    from nksim.clinical._grid import interp_at
    from nksim.clinical.icans import delayed

    t = np.arange(-5.0, 60.0)
    y = np.random.default_rng(3).random((9, t.size)) * 1e5
    y[:, ::7] = 0.0
    for d in (1.0, 2.0, 2.5, 100.0):
        np.testing.assert_array_equal(delayed(t, y, d), interp_at(y, t, t - d))
    assert delayed(t, y, 0.0) is y
