"""Virtual populations by plausible-patient selection (nksim.calibrate.vpop, Allen, Rieger & Musante 2016)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from nksim.calibrate.space import ParameterSpace
from nksim.calibrate.vpop import plausible_population, select_vpop
from nksim.errors import InputError


def test_selection_reproduces_a_target_distribution():
    rng = np.random.default_rng(1)
    plausible = pd.DataFrame({"x": rng.uniform(0.0, 10.0, 3000), "other": rng.normal(size=3000)})
    target = stats.norm(5.0, 1.2)
    vp = select_vpop(plausible, target, columns=["x"], seed=2)
    assert vp.n_selected > 300
    assert vp.min_pvalue > 0.1
    assert abs(vp.selected["x"].mean() - 5.0) < 0.15 and abs(vp.selected["x"].std() - 1.2) < 0.15
    # the plausible population itself does not match (the selection does the work)
    assert stats.kstest(plausible["x"], target.cdf).pvalue < 1e-6
    assert "other" in vp.selected.columns and len(vp.p_include) == 3000 and vp.scaling_factor >= 1.0


def test_selection_against_observed_data_two_outputs():
    rng = np.random.default_rng(4)
    plausible = pd.DataFrame({"a": rng.uniform(0, 10, 2500), "b": rng.uniform(-2, 6, 2500)})
    mvn = stats.multivariate_normal([4.0, 2.0], [[1.0, 0.3], [0.3, 0.6]])
    observed = pd.DataFrame(mvn.rvs(200, random_state=5), columns=["a", "b"])
    fast = {"n_repeats": 8, "n_grid": 12}
    vp = select_vpop(plausible, observed, columns=["a", "b"], seed=2, **fast)
    assert vp.min_pvalue > 0.05 and vp.n_selected >= 50
    vp2 = select_vpop(plausible, mvn, columns=["a", "b"], seed=2, **fast)
    assert vp2.min_pvalue > 0.05
    # a larger fixed scaling factor keeps more patients and matches worse
    vp3 = select_vpop(plausible, mvn, columns=["a", "b"], seed=2, scaling_factor=50.0, **fast)
    assert vp3.n_selected > vp2.n_selected and vp3.ks["statistic"].sum() > vp2.ks["statistic"].sum()


def test_bad_vpop_inputs():
    df = pd.DataFrame({"x": np.linspace(0, 1, 50)})
    with pytest.raises(InputError) as e:
        select_vpop(df, stats.norm(0.5, 0.1), columns=["y"])
    assert e.value.field == "columns" and e.value.value == "y"
    with pytest.raises(InputError) as e:
        select_vpop(df, [stats.norm(0, 1), stats.norm(0, 1)], columns=["x"])
    assert e.value.field == "target"
    with pytest.raises(InputError) as e:
        select_vpop(df, stats.norm(0.5, 0.1), scaling_factor=0.5)
    assert e.value.field == "scaling_factor"


def test_plausible_population_on_a_builtin_scenario():
    pp = plausible_population("hcc-post-lt-allo-nk", {"days": "days_detectable", "peak": "peak_nk_per_ul"},
                              n_patients=24, space=ParameterSpace(["k_rej"]), n_sets=3, bounds={"days": (1, 60)},
                              seed=0)
    assert len(pp) == 24 and set(pp["set"]) == {0, 1, 2} and pp["k_rej"].nunique() == 3
    assert pp["plausible"].dtype == bool
    assert ((pp["days"] >= 1) & (pp["days"] <= 60) == pp["plausible"]).all()
    with pytest.raises(InputError) as e:
        plausible_population("hcc-post-lt-allo-nk", {"d": "no_column"}, n_patients=4)
    assert e.value.field == "outputs.d"
