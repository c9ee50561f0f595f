"""The outcome model: keyed common random numbers, probabilities, onset days, errors."""

import numpy as np
import pytest
from scipy import stats

from nksim.errors import InputError
from nksim.trial.outcomes import FixedProbabilityModel, PatientOutcomeModel, keyed_uniforms
from nksim.trial.simulate import compare


def test_draws_depend_only_on_their_key():
    t = np.arange(50).repeat(7)
    j = np.tile(np.arange(7), 50)
    u = keyed_uniforms(3, t, j, 0)
    perm = np.random.default_rng(0).permutation(t.size)
    assert np.array_equal(keyed_uniforms(3, t[perm], j[perm], 0), u[perm])
    assert np.array_equal(keyed_uniforms(3, t[:5], j[:5], 0), u[:5])
    assert not np.array_equal(keyed_uniforms(4, t, j, 0), u)
    assert not np.array_equal(keyed_uniforms(3, t, j, 1), u)


def test_uniformity_and_independence():
    t = np.arange(20000)
    u = keyed_uniforms(1, t, np.zeros_like(t), 0)
    v = keyed_uniforms(1, t, np.ones_like(t), 0)
    assert stats.kstest(u, "uniform").pvalue > 1e-3
    assert abs(np.corrcoef(u, v)[0, 1]) < 0.03


def test_fixed_model_rates_latent_tolerance_and_onsets():
    m = FixedProbabilityModel([0.1, 0.4], [0.2, 0.6], seed=2, dlt_window_days=28)
    assert isinstance(m, PatientOutcomeModel)
    t = np.arange(20000)
    j = np.zeros_like(t)
    lo = m.outcomes(t, j, np.ones_like(t))
    hi = m.outcomes(t, j, np.full_like(t, 2))
    assert abs(lo.dlt.mean() - 0.1) < 0.01 and abs(hi.dlt.mean() - 0.4) < 0.015
    assert abs(hi.response.mean() - 0.6) < 0.015
    assert np.all(hi.dlt >= lo.dlt)  # the same patient at a higher dose: at least as toxic
    days = hi.dlt_day[hi.dlt == 1]
    assert np.all((days > 0) & (days <= 28)) and np.isnan(hi.dlt_day[hi.dlt == 0]).all()
    assert abs(np.mean(days > 14) - 0.5) < 0.03  # half the DLTs in the second half of the window


def test_common_random_numbers_across_designs():
    from nksim.trial.boin import BOIN

    a, b = compare([BOIN(), BOIN()], [0.05, 0.15, 0.3, 0.45, 0.6], n_trials=500, seed=7)
    assert a.selection_pct == b.selection_pct and a.mean_dlt == b.mean_dlt


def test_errors_name_the_field():
    with pytest.raises(InputError, match="true_tox"):
        FixedProbabilityModel([0.1, 1.5])
    with pytest.raises(InputError, match="true_eff"):
        FixedProbabilityModel([0.1, 0.2], [0.1])
    with pytest.raises(InputError, match="dose_level"):
        FixedProbabilityModel([0.1, 0.2]).outcomes(np.array([0]), np.array([0]), np.array([3]))


def test_callable_adapter_runs_designs_and_memoises():
    import pandas as pd

    from nksim.trial.base import run_trials
    from nksim.trial.boin import BOIN
    from nksim.trial.outcomes import CallableOutcomeModel

    fixed = FixedProbabilityModel([0.05, 0.15, 0.3, 0.45, 0.6], [0.1, 0.2, 0.3, 0.4, 0.5], seed=4)
    calls = []

    def fake_engine(t, j, d):  # stands in for the cohort engine + clinical readouts
        calls.append(len(t))
        o = fixed.outcomes(t, j, d)
        return pd.DataFrame({"dlt": o.dlt, "dlt_day": o.dlt_day,
                             "best_response": np.where(o.response == 1, "PR", "SD")})

    model = CallableOutcomeModel(fake_engine, n_doses=5)
    a = run_trials(BOIN(), model, 200)
    b = run_trials(BOIN(), fixed, 200)
    assert np.array_equal(a.selected, b.selected) and np.array_equal(a.r, b.r)
    n_calls = sum(calls)
    run_trials(BOIN(), model, 200)
    assert sum(calls) == n_calls  # every (trial, patient, dose) was memoised
