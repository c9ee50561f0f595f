"""The cohort's dosing built for all patients of a regimen at once (nksim.kinetics.cohort_dosing) gives each patient
the bits of building it alone: events, dosing parameters, product given and dose records, whatever the mix of dose
levels, zero doses, product splits, per-patient regimens and dosing-table patients in the cohort."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from conftest import every_dose_kind, small

from nksim.errors import InputError
from nksim.kinetics import dosing as D
from nksim.kinetics.cohort_dosing import row_mean, unique_rows
from nksim.kinetics.inputs import build_inputs
from nksim.population.sampling import sample_patients

N = 14


def mixed_overrides(sc):
    """Per-patient dose levels, scales (some 0), untreated patients, product splits 0 / 1 / between, two regimens
    (one with multipliers and fewer infusions) and a dosing table for two patients."""
    other = sc.regimen.model_copy(update={"infusion_days": sc.regimen.infusion_days[:2], "il2": None,
                                          "per_infusion": None})
    n_lev = len(sc.regimen.dose_levels)
    table = pd.DataFrame({"ID": [3, 3, 3, 9], "TIME": [-5.0, 0.0, 7.0, 0.0], "EVID": 1,
                          "AMT": [1.0, 2e8, 1e8, 5e7], "CMT": [3, 1, 2, 2]})
    return {
        "dose_level": [1 + i % n_lev if i % 3 else 0 for i in range(N)],
        "dose_scale": [0.0 if i % 5 == 0 else 0.5 + i / 7 for i in range(N)],
        "treated": [i % 6 != 4 for i in range(N)],
        "car_fraction": [(0.0, 1.0, 0.35, 0.8)[i % 4] for i in range(N)],
        "viability": np.linspace(0.6, 0.95, N),
        "regimen": [sc.regimen if i % 4 else other for i in range(N)],
        "dosing": table,
    }


def one(ov, i):
    return {k: (v if k == "dosing" else v[i:i + 1]) for k, v in ov.items()}


def assert_row_equal(cohort, alone, i):
    for name in ("y0", "params"):
        np.testing.assert_array_equal(getattr(cohort, name)[i], getattr(alone, name)[0], err_msg=name)
    k = alone.ev_t.shape[1]
    for name in ("ev_t", "ev_k", "ev_a", "ev_b"):
        a, b = getattr(cohort, name)[i], getattr(alone, name)[0]
        np.testing.assert_array_equal(a[:k], b, err_msg=name)
        assert (a[k:] == (np.inf if name == "ev_t" else 0)).all(), name  # padding
    d = alone.doses.shape[1]
    np.testing.assert_array_equal(cohort.doses[i, :d], alone.doses[0])
    assert np.isnan(cohort.doses[i, d:]).all()
    pd.testing.assert_frame_equal(cohort.product_given.iloc[[i]], alone.product_given, check_exact=True)


def test_each_patient_gets_the_bits_of_its_own_build():
    sc = every_dose_kind(N)
    pts = sample_patients(sc, np.arange(N))
    ov = mixed_overrides(sc)
    cohort = build_inputs(sc, pts, ov)
    # the mix really has several record patterns, zero doses, table patients and both regimens
    assert len({tuple(r) for r in np.isnan(cohort.doses[..., 0])}) >= 4
    assert (cohort.product_given.n_infusions == 0).any() and (cohort.product_given.dose_level == 0).sum() == 2
    for i in range(N):
        assert_row_equal(cohort, build_inputs(sc, pts.iloc[[i]], one(ov, i)), i)


def test_explicit_doses_in_cells_and_multipliers():
    for per_infusion in ({"doses": [2e9, 1e9, 3e9, 1e9], "unit": "cells"}, {"multipliers": [1.0, 0.0, 2.0, 1.5]}):
        sc = small("hcc-post-lt-allo-nk", n=6).replace({"regimen.per_infusion": per_infusion})
        pts = sample_patients(sc, np.arange(6))
        ov = {"dose_scale": [1.0, 0.0, 2.0, 1.0, 0.5, 1.0]}
        cohort = build_inputs(sc, pts, ov)
        for i in range(6):
            assert_row_equal(cohort, build_inputs(sc, pts.iloc[[i]], one(ov, i)), i)


def test_row_mean_is_numpys_mean_of_each_list():
    rng = np.random.default_rng(0)
    for k in (1, 2, 3, 7, 8, 9, 17, 40):
        cols = [rng.random(50) * 10.0 ** rng.uniform(-3, 12, 50) for _ in range(k)]
        want = [np.mean([c[i] for c in cols]) for i in range(50)]
        np.testing.assert_array_equal(row_mean(cols, 50), want)


@pytest.mark.parametrize("width", [1, 3, 8, 9, 30, 70])
def test_unique_rows_is_numpys_unique_of_the_rows(width):
    rng = np.random.default_rng(width)
    for share in (0.0, 0.05, 0.5, 1.0):
        present = rng.random((500, width)) < share
        present[::3] = present[0]  # repeated rows
        patterns, which = unique_rows(present)
        ref, ref_which = np.unique(present, axis=0, return_inverse=True)
        assert np.array_equal(patterns, ref) and np.array_equal(which, ref_which.reshape(-1))
        assert np.array_equal(patterns[which], present)


def test_regimen_doses_refuses_mixed_records_in_one_call():
    sc = small("hcc-post-lt-allo-nk")
    k = len(sc.regimen.infusion_days)
    with pytest.raises(ValueError, match="all > 0 or all <= 0"):
        D.regimen_doses(sc.regimen, [np.array([1e8, 0.0])] * k, np.array([0.0, 0.0]), 0.5, np.array([70.0, 80.0]))


def test_bad_dose_level_is_named():
    sc = small("hcc-post-lt-allo-nk", n=3)
    pts = sample_patients(sc, np.arange(3))
    n_lev = len(sc.regimen.dose_levels)
    with pytest.raises(InputError) as e:
        build_inputs(sc, pts, {"dose_level": [1, n_lev + 1, 1]})
    assert e.value.field == "overrides.dose_level" and e.value.value == n_lev + 1
    with pytest.raises(InputError) as e:
        build_inputs(sc, pts, {"dose_level": [1, float("nan"), 1]})
    assert e.value.field == "overrides.dose_level"
