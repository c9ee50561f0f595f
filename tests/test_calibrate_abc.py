"""ABC-SMC to published summaries (nksim.calibrate.abc) and target cross-validation (nksim.calibrate.crossval)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from typer.testing import CliRunner

from nksim.calibrate.abc import TARGET_KEYS, Observed, abc_smc, get_target, to_targets
from nksim.calibrate.crossval import cross_validate
from nksim.calibrate.space import FreeParameter, ParameterSpace, free
from nksim.errors import InputError
from nksim.spec.calibration import load_calibration


def test_toy_normal_mean_posterior_recovered():
    """y_1..y_n ~ N(mu, 1), uniform prior on [-5, 5]: the posterior is N(ybar, 1/n) (truncation negligible). The
    summary ybar goes through the same sampler (stochastic simulator, no common random numbers)."""
    n, ybar = 20, 1.3
    space = ParameterSpace([FreeParameter("mu", -5.0, 5.0, "uniform", 0.0)])

    def sim(theta, seed):
        return np.array([np.random.default_rng(seed).normal(theta[0], 1.0, n).mean()])

    res = abc_smc(space, sim, [Observed("ybar", ybar - 0.1, ybar + 0.1)], population=300, generations=8,
                  crn=False, seed=3, max_simulations=20000)
    m = res.marginals().iloc[0]
    sd_true = 1.0 / math.sqrt(n)
    assert res.epsilon < 1.0  # final tolerance below 0.1 in data units, small against the posterior sd 0.22
    assert abs(m["mean"] - ybar) < 0.06
    assert abs(m["sd"] / sd_true - 1.0) < 0.2
    assert m["ci_low"] < ybar < m["ci_high"]
    assert res.ess > 100
    # weights normalized, history has every generation
    assert np.isclose(res.weights.sum(), 1.0) and list(res.history["generation"]) == list(range(len(res.history)))


def test_distance_in_tolerance_units():
    o = Observed("x", 10.0, 20.0)
    assert o.distance(15.0) == 0.0 and o.distance(20.0) == 1.0 and o.distance(25.0) == 2.0
    assert np.isinf(o.distance(np.nan))
    lg = Observed.of(get_target("ball_fold"))  # 1000-15000: log scale
    assert lg.log and np.isclose(lg.distance(1000.0), 1.0) and np.isclose(lg.distance(math.sqrt(1.5e7)), 0.0)


def test_builtin_scenario_moves_rejection_towards_persistence(tmp_path):
    """Liu 2020 persistence at 12 months (>= 50% of the patients alive then) rules out strong rejection: the posterior
    of k_rej drops the upper part of its log-uniform prior on [0.05, 1] (strong rejection clears allogeneic NK within
    months) and is narrower than the prior, and the distance to the fitted target does not grow from the prior
    population (30 patients: the fraction moves in steps of 1/30)."""
    res = to_targets(["liu_detectable_12mo"], ["k_rej"], n_patients=30, population=20, generations=3, seed=0,
                     predictive_draws=4, check=["liu_crs2"], out=tmp_path / "run")
    prior_q = lambda q: 0.05 * (1.0 / 0.05) ** q  # noqa: E731  (quantiles of the log-uniform prior)
    post = res.marginals().iloc[0]
    assert post["ci_high"] < prior_q(0.9)
    assert math.log(post["ci_high"] / post["ci_low"]) < 0.5 * math.log(prior_q(0.975) / prior_q(0.025))
    g0 = res.populations[res.populations["generation"] == 0]
    assert res.history["median_distance"].iloc[-1] <= float(np.median(g0["distance"]))
    assert res.history["median_distance"].iloc[-1] < float(np.max(g0["distance"]))
    fit = res.fit().set_index("target")
    assert fit.loc["liu_crs2", "role"] == "checked" and fit.loc["liu_detectable_12mo", "role"] == "fitted"
    assert {"pred_low", "pred_high", "pred_overlaps"} <= set(fit.columns)
    cal = load_calibration(tmp_path / "run" / "calibration.yaml")
    assert cal.values["k_rej"] == pytest.approx(post["median"])
    assert cal.uncertainty["k_rej"]["ci_low"] <= cal.values["k_rej"] <= cal.uncertainty["k_rej"]["ci_high"]
    assert (tmp_path / "run" / "populations.csv").exists() and (tmp_path / "run" / "history.csv").exists()


def test_bad_inputs_name_field_value_and_allowed():
    with pytest.raises(InputError) as e:
        to_targets(["liu_orr", "no_such_target"], ["k_rej"])
    assert e.value.field == "targets" and e.value.value == "no_such_target" and "liu_orr" in e.value.allowed
    with pytest.raises(InputError) as e:
        to_targets(["liu_orr"], ["k_rejj"])
    assert e.value.value == "k_rejj" and "k_rej" in e.value.allowed
    with pytest.raises(InputError) as e:
        get_target("Liu 2020 arm without NK: ORR of lymphodepletion alone")  # a reported row, no published range
    assert e.value.field == "targets"
    with pytest.raises(InputError) as e:
        abc_smc(ParameterSpace([free("k_rej")]), lambda t, s: np.zeros(1), [Observed("x", 0, 1)], population=1)
    assert e.value.field == "population"
    assert all(not get_target(k).reported for k in TARGET_KEYS)
    with pytest.raises(InputError, match="zuma1_car_d7"):
        get_target("bnhl_cart_fold")  # retired: a reported row since round 5, the error says what to fit instead


def test_cross_validation_and_cli():
    df = cross_validate({"peak": ["ft596_tmax"], "persistence": ["ft596_days_detectable"]}, ["k_rej"],
                        n_patients=20, population=10, generations=2, predictive_draws=3)
    assert list(df["held_out"]) == ["peak", "persistence"]
    assert list(df["fitted_on"]) == ["ft596_days_detectable", "ft596_tmax"]
    assert set(df["role"]) == {"held out"} and df["pi_overlaps_target"].dtype == bool
    assert np.isfinite(df["distance"]).all()
    from nksim.cli import app

    r = CliRunner().invoke(app, ["calibration", "--abc", "--target", "ft596_tmax", "--free", "k_rej=0.1:0.6",
                                 "--cohort", "10", "--population", "8", "--generations", "2"])
    assert r.exit_code == 0, r.output
    assert "posterior marginals" in r.output and "ft596_tmax" in r.output



def test_cross_validate_cli_says_what_was_fitted_and_what_only_checked(monkeypatch):
    import nksim.calibrate.crossval as cv
    from nksim.cli import app

    monkeypatch.setattr(cv, "DEFAULT_FAMILIES", {"peak": ["ft596_tmax"], "persistence": ["ft596_days_detectable"]})
    monkeypatch.setattr(cv, "DEFAULT_CHECK_ONLY", ["ft596_crs3"])
    r = CliRunner().invoke(app, ["calibration", "--cross-validate", "--free", "k_rej=0.1:0.6", "--cohort", "10",
                                 "--population", "6", "--generations", "2", "--draws", "2"])
    assert r.exit_code == 0, r.output
    assert "checked only, never fitted: ft596_crs3" in r.output
    assert ("fold 'peak': fitted ft596_days_detectable; checked (held out) ft596_tmax; checked only ft596_crs3"
            in r.output)
    assert ("fold 'persistence': fitted ft596_tmax; checked (held out) ft596_days_detectable; checked only "
            "ft596_crs3" in r.output)

def test_user_targets_on_summary_and_km():
    import nksim
    from lifelines import KaplanMeierFitter

    from nksim.calibrate.abc import km_survival, pfs_target, summary_target

    rng = np.random.default_rng(0)
    d, e = rng.integers(1, 100, 50).astype(float), rng.random(50) < 0.6
    ref = float(KaplanMeierFitter().fit(d, e).survival_function_at_times(40).iloc[0])
    assert km_survival(d, e, 40.0) == pytest.approx(ref)
    res = nksim.simulate("bnhl-cd19-car-nk-il15-cb", n_patients=12, seed=1)
    orr = summary_target("ORR", "bnhl-cd19-car-nk-il15-cb", "ORR", 0.6, 0.85)
    assert orr.metric(res) == pytest.approx(res.patients["best_response"].isin(["CR", "PR"]).mean())
    pfs = pfs_target("PFS 6 mo", "bnhl-cd19-car-nk-il15-cb", 180.0, 0.3, 0.6)
    assert 0.0 <= pfs.metric(res) <= 1.0
    with pytest.raises(InputError) as err:
        summary_target("x", "bnhl-cd19-car-nk-il15-cb", "ORR rate", 0, 1).metric(res)
    assert err.value.field == "summary metric" and "ORR" in err.value.allowed
