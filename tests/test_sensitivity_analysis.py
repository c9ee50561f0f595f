"""The analysis path (SALib design + analysis, as nksim.sensitivity uses it) on analytic functions; no engine."""

from __future__ import annotations

import math

import numpy as np
import pytest

from nksim.errors import InputError
from nksim.sensitivity.analysis import analyze, design, ishigami, ishigami_indices, n_rows, top_drivers
from nksim.sensitivity.outputs import km_median_fast, parse_outputs

PROBLEM = {"num_vars": 3, "names": ["x1", "x2", "x3"], "bounds": [[-math.pi, math.pi]] * 3}


def test_sobol_recovers_ishigami_indices():
    X = design(PROBLEM, "sobol", 2048, seed=1)
    assert X.shape == (n_rows("sobol", 2048, 3), 3)
    table, _ = analyze(PROBLEM, "sobol", X, ishigami(X), seed=1)
    exact = ishigami_indices()
    for _, r in table.iterrows():
        s1, st = exact[r["parameter"]]
        assert abs(r["S1"] - s1) < max(0.03, 1.5 * r["S1_conf"]), (r["parameter"], r["S1"], s1)
        assert abs(r["ST"] - st) < max(0.03, 1.5 * r["ST_conf"]), (r["parameter"], r["ST"], st)
        assert 0 < r["S1_conf"] < 0.1 and 0 < r["ST_conf"] < 0.1
    # x3 acts only through its interaction with x1: no first-order effect, a total effect of ~0.24
    x3 = table.set_index("parameter").loc["x3"]
    assert abs(x3["S1"]) < 0.03 and x3["ST"] > 0.2


def test_sobol_same_seed_same_numbers_and_unit_cube_mapping():
    unit = {"num_vars": 3, "names": ["x1", "x2", "x3"], "bounds": [[0.0, 1.0]] * 3}
    X1, X2 = design(unit, "sobol", 256, seed=5), design(unit, "sobol", 256, seed=5)
    np.testing.assert_array_equal(X1, X2)
    Y = ishigami(-math.pi + 2 * math.pi * X1)  # unit cube mapped through the uniform quantile function
    t1, _ = analyze(unit, "sobol", X1, Y, seed=5)
    t2, _ = analyze(unit, "sobol", X2, Y, seed=5)
    assert t1.equals(t2)
    assert top_drivers(t1, "sobol", 1)[0][0] == "x1"  # ST: x1 0.56 > x2 0.44 > x3 0.24


def test_morris_ranks_ishigami():
    X = design(PROBLEM, "morris", 200, seed=3)
    assert X.shape == (n_rows("morris", 200, 3), 3)
    table, _ = analyze(PROBLEM, "morris", X, ishigami(X), seed=3)
    mu = table.set_index("parameter")["mu_star"]
    assert mu["x1"] > mu["x3"] and mu["x2"] > mu["x3"]
    assert (table["mu_star_conf"] > 0).all() and (table["sigma"] >= 0).all()


def test_linear_function_indices():
    # y = 4 x1 + 2 x2 + 0 x3 on the unit cube: S1 = ST = (16, 4, 0) / 20
    unit = {"num_vars": 3, "names": ["a", "b", "c"], "bounds": [[0.0, 1.0]] * 3}
    X = design(unit, "sobol", 1024, seed=2)
    t, _ = analyze(unit, "sobol", X, 4 * X[:, 0] + 2 * X[:, 1], seed=2)
    np.testing.assert_allclose(t["S1"], [0.8, 0.2, 0.0], atol=0.02)
    np.testing.assert_allclose(t["ST"], [0.8, 0.2, 0.0], atol=0.02)


def test_constant_output_gives_zero_and_nonfinite_is_an_error():
    X = design(PROBLEM, "sobol", 8, seed=0)
    t, note = analyze(PROBLEM, "sobol", X, np.ones(len(X)), seed=0)
    assert note == {"constant": True} and (t[["S1", "ST"]] == 0).all().all()
    Y = ishigami(X)
    Y[3] = np.nan
    with pytest.raises(InputError, match="non-finite"):
        analyze(PROBLEM, "sobol", X, Y, seed=0)


@pytest.mark.parametrize("method,n,field", [("sobl", 8, "method"), ("sobol", 100, "n"), ("morris", 1, "n")])
def test_bad_design_input(method, n, field):
    with pytest.raises(InputError) as exc:
        design(PROBLEM, method, n, seed=0)
    assert exc.value.field == field and exc.value.value == (method if field == "method" else n)
    assert exc.value.allowed


def test_unknown_output_names_allowed_ones():
    with pytest.raises(InputError) as exc:
        parse_outputs("orr,orrr")
    assert exc.value.field == "outputs" and exc.value.value == "orrr" and "pfs_median" in exc.value.allowed


def test_fast_km_median_equals_lifelines():
    from nksim.clinical.summary import km_median

    rng = np.random.default_rng(0)
    for k in range(40):
        n = 60 if k < 20 else 12  # small cohorts: the estimate often lands on exactly one half
        days = np.round(rng.exponential(150, n) / 28) * 28  # ties, as on a scan grid
        ev = rng.random(n) < 0.7
        m = km_median(days, ev)[0]
        assert km_median_fast(days, ev, cap=1e9) == (m if math.isfinite(m) else 1e9)
        assert km_median_fast(days, ev, cap=365.0) == min(m, 365.0)
