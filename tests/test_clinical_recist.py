"""RECIST 1.1 and mRECIST per-scan response: worked cases from Eisenhauer 2009 (and Lencioni & Llovet 2010).
"""

import numpy as np
import pytest

from nksim.clinical import ReadoutSpec, cells_for_diameter, diameter_mm, outcomes, recist_scan_responses
from nksim.clinical.codes import from_labels, to_labels
from nksim.clinical.synthetic import make_trajectories


def seq(baseline, scans, nontarget=None, nt_baseline=0.0, new=None, **kw):
    """One patient: baseline target diameters (mm) and a list of per-scan target diameters -> labels."""
    scans = np.asarray(scans, dtype=float)[None]
    n = scans.shape[1]
    nt = np.zeros((1, n)) if nontarget is None else np.asarray(nontarget, dtype=float)[None]
    new = np.zeros((1, n), bool) if new is None else np.asarray(new, bool)[None]
    codes = recist_scan_responses(
        scans,
        np.asarray(baseline, float)[None],
        nt,
        np.array([nt_baseline]),
        new,
        np.ones((1, n), bool),
        **kw,
    )
    return list(to_labels(codes[0]))


def test_partial_response_needs_30_percent_decrease_of_the_sum():
    # baseline sum 60 + 40 = 100 mm: 70 mm is exactly -30% (PR); 71 mm is -29% (SD)
    assert seq([60, 40], [[42, 28]]) == ["PR"]
    assert seq([60, 40], [[43, 28]]) == ["SD"]


def test_progression_needs_20_percent_over_nadir_and_5_mm():
    # nadir 50 (PR), then 60 = +20% and +10 mm -> PD; 59 -> still PR vs baseline (59 <= 70)
    assert seq([60, 40], [[30, 20], [36, 24]]) == ["PR", "PD"]
    assert seq([60, 40], [[30, 20], [35, 24]]) == ["PR", "PR"]
    # small lesion: nadir 10 mm, then 14 mm = +40% but only +4 mm -> not PD; 15 mm -> PD
    assert seq([12], [[10], [14]]) == ["SD", "SD"]
    assert seq([12], [[10], [15]]) == ["SD", "PD"]


def test_nadir_includes_baseline():
    # growth from baseline 50 to 60 (+20%, +10 mm) is PD even without any shrinkage first
    assert seq([30, 20], [[36, 24]]) == ["PD"]
    assert seq([30, 20], [[35, 24]]) == ["SD"]


def test_new_lesion_is_progression_whatever_the_targets():
    assert seq([60, 40], [[10, 10], [0, 0]], new=[False, True]) == ["PR", "PD"]


def test_complete_response_needs_non_target_disease_gone():
    assert seq([30, 20], [[0, 0]], nontarget=[0.0], nt_baseline=20.0) == ["CR"]
    assert seq([30, 20], [[0, 0]], nontarget=[12.0], nt_baseline=20.0) == ["PR"]


def test_reappearance_after_complete_response_is_progression():
    assert seq([30, 20], [[0, 0], [6, 0]]) == ["CR", "PD"]
    assert seq([30, 20], [[0, 0], [0, 0]], nontarget=[0.0, 8.0], nt_baseline=10.0) == ["CR", "PD"]


def test_unequivocal_non_target_progression():
    # non-target volume up ~73% (1.2^3, EORTC RECIST FAQ) over its nadir -> PD; +52% (1.15^3) -> not
    nt = 20.0
    assert seq([30], [[30]], nontarget=[nt * 1.2], nt_baseline=nt) == ["PD"]
    assert seq([30], [[30]], nontarget=[nt * 1.15], nt_baseline=nt) == ["SD"]


def test_scans_after_progression_and_not_done_scans():
    out = recist_scan_responses(
        np.array([[[50.0], [80.0], [10.0]]]),
        np.array([[50.0]]),
        np.zeros((1, 3)),
        np.zeros(1),
        np.zeros((1, 3), bool),
        np.array([[True, True, True]]),
    )
    assert list(to_labels(out[0])) == ["SD", "PD", None]
    out = recist_scan_responses(
        np.array([[[50.0], [80.0]]]),
        np.array([[50.0]]),
        np.zeros((1, 2)),
        np.zeros(1),
        np.zeros((1, 2), bool),
        np.array([[True, False]]),
    )
    assert list(to_labels(out[0])) == ["SD", None]


def test_no_measurable_disease_is_not_evaluable_unless_progression():
    assert seq([8, 9], [[8, 9], [8, 9]]) == ["NE", "NE"]
    assert seq([8, 9], [[8, 9]], new=[True]) == ["PD"]


def test_labels_round_trip():
    codes = np.array([-1, 0, 1, 2, 3, 4])
    assert np.array_equal(from_labels(to_labels(codes)), codes)


def _dead_core_cohort():
    """One lesion of 40 mm whose viable cells fall to 1% by day 28 while the dead cells stay (slow clearance).
    """
    t = np.arange(-1.0, 120.0)
    v0 = cells_for_diameter(40.0, 1e8)
    frac = np.where(t < 0, 1.0, np.maximum(0.01, np.exp(-t / 5.0)))
    viable = (v0 * frac)[None, :, None]
    dead = (v0 * (1 - frac) * 0.95)[None, :, None]
    return make_trajectories(t, viable, dead_cells=dead)


def test_mrecist_reads_viable_tumor_only():
    import pandas as pd

    ds = _dead_core_cohort()
    pts = pd.DataFrame(
        {"cd3_per_kg": [0.0], "n_infusions": [1], "indication": "CRC"}, index=pd.Index([0], name="patient")
    )
    scans = (28.0, 56.0, 84.0)
    r = outcomes(
        ds, pts, ReadoutSpec(criteria="RECIST1.1", scan_days=scans, cell_density_per_cm3=1e8), seed=0
    )
    m = outcomes(ds, pts, ReadoutSpec(criteria="mRECIST", scan_days=scans, cell_density_per_cm3=1e8), seed=0)
    # whole mass (viable + dead) ~ 0.96^(1/3) of 40 mm: SD by RECIST; viable 1% -> 8.6 mm (-78%): mRECIST PR
    assert r.loc[0, "resp_d28"] == "SD" and r.loc[0, "best_response"] == "SD"
    assert m.loc[0, "resp_d28"] == "PR" and m.loc[0, "best_response"] == "PR"
    d_viable = diameter_mm(cells_for_diameter(40.0, 1e8) * 0.01, 1e8)
    assert d_viable == pytest.approx(40.0 * 0.01 ** (1 / 3))
    assert m.loc[0, "best_pct_change"] == pytest.approx(100 * (d_viable / 40.0 - 1), rel=1e-6)


def test_mrecist_has_no_absolute_5_mm_rule_by_default():
    # viable nadir 10 mm, then 12.5 mm: +25% but +2.5 mm -> PD by mRECIST (no 5 mm rule), SD by RECIST
    assert seq([10.5], [[10.0], [12.5]], pd_abs_mm=0.0) == ["SD", "PD"]
    assert seq([10.5], [[10.0], [12.5]], pd_abs_mm=5.0) == ["SD", "SD"]


def test_diameter_and_imaging_limit():
    # 1 cm3 at 1e8 cells/cm3 is a sphere of diameter (6/pi)^(1/3) cm = 12.407 mm
    assert diameter_mm(1e8, 1e8) == pytest.approx(10 * (6 / np.pi) ** (1 / 3))
    assert diameter_mm(cells_for_diameter(4.9, 1e8), 1e8, imaging_limit_mm=5.0) == 0.0
    assert diameter_mm(cells_for_diameter(5.1, 1e8), 1e8, imaging_limit_mm=5.0) == pytest.approx(5.1)
    # tenfold density -> same cells give a diameter smaller by 10^(1/3)
    assert diameter_mm(1e9, 1e9) == pytest.approx(diameter_mm(1e8, 1e8))


def test_target_below_measurable_size_at_baseline_is_judged_as_non_target():
    import pandas as pd

    # lesion 0: 30 mm target that disappears; lesion 1: flagged target but 8 mm (< 10 mm) at baseline, stays
    t = np.arange(-1.0, 100.0)
    big = np.where(t < 0, cells_for_diameter(30.0, 1e8), 1.0)
    small = np.full(t.size, cells_for_diameter(8.0, 1e8))
    ds = make_trajectories(t, np.stack([big, small], axis=-1)[None])
    pts = pd.DataFrame(
        {"cd3_per_kg": [0.0], "n_infusions": [1], "indication": "CRC"}, index=pd.Index([0], name="patient")
    )
    o = outcomes(ds, pts, ReadoutSpec(scan_days=(28.0, 56.0), cell_density_per_cm3=1e8), seed=0)
    assert o.loc[0, "baseline_burden_mm"] == pytest.approx(30.0)
    assert o.loc[0, "resp_d28"] == "PR"  # targets gone, non-target disease present
    # per-lesion non-target judgement: each non-target lesion is compared with its own nadir
    codes = recist_scan_responses(
        np.array([[[30.0, 0.0]]]),
        np.array([[30.0, 0.0]]),
        np.array([[[0.0, 12.0, 9.0]]]),
        np.array([[0.0, 12.0, 7.0]]),
        np.zeros((1, 1), bool),
        np.ones((1, 1), bool),
    )
    assert to_labels(codes[0]).tolist() == ["PD"]  # 7 -> 9 mm is x2.1 in volume for that lesion
