"""simulate(..., outputs=...): what comes back changes, the readouts never do."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import xarray as xr

import nksim
from nksim.errors import InputError
from nksim.kinetics.outputs import READOUT_VARIABLES, Outputs


@pytest.fixture(scope="module")
def daily():
    return nksim.simulate("hcc-gpc3-car-nk-il15", n_patients=12, seed=5)


@pytest.mark.parametrize("outputs", ["scans", "summary", [0.0, 10.5, 100.0], ["wbc_per_ul", "viable_cells"]])
def test_readouts_are_identical_whatever_the_outputs(daily, outputs):
    other = nksim.simulate("hcc-gpc3-car-nk-il15", n_patients=12, seed=5, outputs=outputs, chunk_size=5)
    pd.testing.assert_frame_equal(other.patients, daily.patients, check_exact=True)
    tr = other.trajectories
    if outputs == "summary":
        assert "time" not in tr.sizes and list(tr.data_vars) == [] and tr.sizes["patient"] == 12
        return
    if isinstance(outputs, list) and isinstance(outputs[0], str):
        assert list(tr.data_vars) == outputs
    if outputs == "scans":
        ro = daily.scenario.resolved_readouts()
        assert tr.time.values.tolist() == [daily.trajectories.time.values[0], *ro.scan_days]
    if not isinstance(outputs[0], float):
        common = tr.time.values
    else:
        common = np.intersect1d(tr.time.values, daily.trajectories.time.values)
        assert tr.time.values.tolist() == outputs  # 10.5 is not on the daily grid: saved from the dense output
    for v in tr.data_vars:  # a value at a time is the same whatever else is saved
        np.testing.assert_array_equal(tr[v].sel(time=common).values, daily.trajectories[v].sel(time=common).values,
                                      err_msg=v)


def test_a_grid_value_between_days_lies_on_the_solution(daily):
    """Day 10.5 is saved from the dense output: it sits between its neighbours' values for a smooth variable."""
    tr = nksim.simulate("hcc-gpc3-car-nk-il15", n_patients=12, seed=5, outputs=[10.0, 10.5, 11.0]).trajectories
    w = tr["wbc_per_ul"].values
    lo, hi = np.minimum(w[:, 0], w[:, 2]), np.maximum(w[:, 0], w[:, 2])
    span = hi - lo
    assert np.all(w[:, 1] >= lo - 0.05 * span - 1e-9) and np.all(w[:, 1] <= hi + 0.05 * span + 1e-9)


def test_the_readout_variables_are_all_the_readouts_read(daily):
    """outcomes on a dataset of READOUT_VARIABLES only gives the table it gives on the full dataset (if the
    readouts start reading another variable, this fails and READOUT_VARIABLES must name it)."""
    from nksim.clinical import outcomes
    from nksim.population.sampling import typical_values

    sc = daily.scenario
    cov = daily.patients[[c for c in daily.patients.columns if c in ("cd3_per_kg", "n_infusions", "indication")
                          or c.startswith("antigen_")]]
    args = (sc.resolved_readouts(),)
    kw = {"seed": sc.simulation.seed, "params": typical_values(sc)}
    full = outcomes(daily.trajectories, cov, *args, **kw)
    narrow = outcomes(daily.trajectories[list(READOUT_VARIABLES)], cov, *args, **kw)
    pd.testing.assert_frame_equal(narrow, full, check_exact=True)


@pytest.mark.parametrize("bad, match", [("weekly", "daily"), ([5.0, 3.0], "increasing"), (["no_such_var"], "variable"),
                                        ([], "not empty"), ([0.0, 1e6], "within the simulated span")])
def test_bad_outputs_are_refused_with_what_is_allowed(bad, match):
    with pytest.raises(InputError, match=match):
        nksim.simulate("hcc-post-lt-allo-nk", n_patients=2, outputs=bad)


def test_outputs_parse_keeps_a_parsed_choice():
    o = Outputs.parse(np.array([1.0, 2.0]))
    assert o.kind == "grid" and Outputs.parse(o) is o and Outputs.parse(None).kind == "daily"


def test_default_trajectories_are_built_on_access_and_equal_the_eager_ones(daily):
    """The default result solves with the readout grid only; its trajectories come on first access, the numbers of
    an eager outputs="daily" run (the solver's steps do not depend on what is saved)."""
    lazy = nksim.simulate("hcc-gpc3-car-nk-il15", n_patients=12, seed=5)
    assert not lazy.trajectories_loaded and "on access" in repr(lazy)
    eager = nksim.simulate("hcc-gpc3-car-nk-il15", n_patients=12, seed=5, outputs="daily")
    assert eager.trajectories_loaded
    pd.testing.assert_frame_equal(lazy.patients, eager.patients, check_exact=True)
    xr.testing.assert_identical(lazy.trajectories, eager.trajectories)
    assert lazy.trajectories_loaded and lazy.trajectories is lazy.trajectories  # built once, kept


#: readouts the engine takes from kernel-tracked summaries of the continuous solution (nksim.clinical.tracked);
#: nksim.clinical.outcomes on a trajectory Dataset keeps the grid definitions of the same columns
EVENT_DAYS = ("new_lesion_day", "os_days", "pfs_days")
ONSET_DAYS = ("crs_onset_day", "icans_onset_day", "offtumor_onset_day", "dlt_day")
GRADES = ("crs_grade", "icans_grade", "ice_min", "offtumor_grade", "neutropenia_grade", "leukopenia_grade")
PEAKS = {"peak_nk_per_ul": "nk_blood_per_ul", "peak_car_nk_per_ul": "car_nk_blood_per_ul",
         "peak_cytokine_pg_ml": "cytokine_pg_ml", "wbc_nadir_per_ul": "wbc_per_ul"}
TRACKED = EVENT_DAYS + ONSET_DAYS + GRADES + tuple(PEAKS) + (
    "days_detectable", "tmax_nk_day", "cytopenia_days", "dlt", "dlt_evaluable", "dlt_toxicity", "detected", "death_cause", "os_event",
    "pfs_event")


def test_the_engine_readouts_are_outcomes_of_the_trajectories(daily):
    """nksim.clinical.outcomes on the returned trajectories (the daily grid) gives the engine's table: exactly for
    the scan-day readouts (values at the scan days), within the grid's resolution for the readouts the kernel
    tracks on the continuous solution (event times and onsets within a day, peaks and nadirs within a day's change
    of their variable, grades one apart at most, cumulative durations within two days)."""
    from nksim.clinical import outcomes
    from nksim.clinical.resolved import resolve
    from nksim.io.tidy import categorical_responses

    res = resolve(daily.scenario)
    again = outcomes(daily.trajectories, daily.patients, res.readouts, seed=daily.scenario.simulation.seed,
                     params=res.params)
    exact = [c for c in again.columns if c not in TRACKED]
    assert any(c.startswith("resp_d") for c in exact) and "best_response" in exact
    # simulate's table holds the responses as ordered categoricals, outcomes() as text
    pd.testing.assert_frame_equal(categorical_responses(again[exact]), daily.patients[exact], check_exact=True)
    eng, grid = daily.patients, again
    f = lambda c, t: t[c].to_numpy(dtype=float)  # noqa: E731
    for c in EVENT_DAYS:  # crossings of the continuous solution vs linear between days: close
        a, b = f(c, eng), f(c, grid)
        assert np.array_equal(np.isfinite(a), np.isfinite(b)) and np.nanmax(np.abs(a - b), initial=0) < 0.05, c
    for c in ONSET_DAYS:  # a crossing time vs the first (last) grid day past it
        a, b = f(c, eng), f(c, grid)
        assert np.array_equal(np.isnan(a), np.isnan(b)), c
        assert np.nanmax(np.abs(a - b), initial=0) <= 1.0 + 1e-9, c
    for c in ("days_detectable", "detected"):  # sampled on the save grid's days in both
        np.testing.assert_array_equal(f(c, eng), f(c, grid), err_msg=c)
    for c in GRADES:
        assert np.max(np.abs(f(c, eng) - f(c, grid))) <= 1, c
    tr = daily.trajectories
    for c, var in PEAKS.items():  # within the largest change of the variable over a day of the window
        v = tr[var].values
        step = np.nanmax(np.abs(np.diff(v, axis=1)), axis=1)
        a, b = f(c, eng), f(c, grid)
        ok = np.isnan(a) == np.isnan(b)
        assert ok.all() and np.all(np.abs(np.nan_to_num(a - b)) <= step + 1e-9 * np.abs(np.nan_to_num(b))), c
    nk = f("peak_nk_per_ul", eng)
    assert np.all(nk >= f("peak_nk_per_ul", grid) * (1 - 1e-3))  # the continuous peak is at least the daily one
    assert np.all(f("wbc_nadir_per_ul", eng) <= f("wbc_nadir_per_ul", grid) * (1 + 1e-3))
    assert np.max(np.abs(f("cytopenia_days", eng) - f("cytopenia_days", grid))) <= 2.0
