"""Free parameters by registry name with priors from the registry ranges; calibration files with provenance."""

from __future__ import annotations

import math

import numpy as np
import pytest
import yaml

import nksim
from nksim.calibrate.space import ParameterSpace, free
from nksim.errors import InputError
from nksim.population.sampling import typical_values, varying_parameters
from nksim.registry import load_registry
from nksim.spec.calibration import Calibration, load_calibration


def test_defaults_come_from_the_registry():
    reg = load_registry()
    p = free("k_car")
    assert (p.low, p.high) == (reg["k_car"].low, reg["k_car"].high)
    assert p.prior == ("loguniform" if reg["k_car"].transform == "log" else "uniform")
    lin = next(n for n, q in reg.items() if q.transform == "linear")
    assert free(lin).prior == "uniform"
    assert free("omega2:k_car").prior == "uniform" and free("omega2:k_car").low == 0.0
    with pytest.raises(InputError, match="k_car"):
        free("k_cra")
    with pytest.raises(InputError, match="positive lower bound"):
        free("k_car", low=0.0, prior="loguniform")


def test_prior_sampling_quantiles_and_density():
    sp = ParameterSpace(["k_car", "f_comp", free("kappa", prior="lognormal")])
    x = sp.sample(4000, seed=3)
    assert x.shape == (4000, 3)
    lows = np.array([p.low for p in sp.params])
    highs = np.array([p.high for p in sp.params])
    assert (x >= lows).all() and (x <= highs).all()
    np.testing.assert_allclose(sp.from_unit(sp.to_unit(x[:50])), x[:50], rtol=1e-9)
    # log-uniform: the log is uniform, so the median is the geometric mean of the bounds
    assert np.median(x[:, 0]) == pytest.approx(math.sqrt(lows[0] * highs[0]), rel=0.1)
    # lognormal centred on the registry default
    assert np.median(x[:, 2]) == pytest.approx(load_registry()["kappa"].default, rel=0.15)
    assert sp.log_prior(x[0]) > -math.inf
    assert sp.log_prior(highs * 1.01) == -math.inf
    assert np.array_equal(sp.sample(10, seed=3), sp.sample(10, seed=3))
    assert sp.salib_problem()["names"] == ["k_car", "f_comp", "kappa"]


def test_apply_sets_the_values_the_patients_get():
    sc = nksim.load_scenario("hcc-gpc3-car-nk-il15")
    sp = ParameterSpace(["k_car", "omega2:k_car"])
    out = sp.apply(sc, [2.5, 0.2])
    assert typical_values(out)["k_car"] == 2.5
    assert varying_parameters(out)["k_car"] == 0.2
    assert "k_car" not in sc.parameters  # the original is untouched
    # a name the product already sets is changed there (it would otherwise override the scenario's value)
    prod = sc.product.model_copy(update={"parameters": {"k_car": 9.0}})
    out = sp.apply(sc.model_copy(update={"product": prod}), [2.5, 0.2])
    assert typical_values(out)["k_car"] == 2.5
    with pytest.raises(InputError, match="theta"):
        sp.apply(sc, [1.0])


def test_calibration_file_round_trip_and_scenario_loading(tmp_path):
    data = tmp_path / "lysis.csv"
    data.write_text("et,lysis\n1,10\n", encoding="utf-8")
    from nksim.spec.calibration import file_digest

    cal = Calibration(values={"k_car": 3.0, "kappa": 7.0, "omega2:k_car": 0.3}, method="mle", objective="-2LL",
                      objective_value=12.5, data=[file_digest(data)], seed=4,
                      uncertainty={"k_car": {"se": 0.2, "ci_low": 2.6, "ci_high": 3.4}})
    path = cal.save(tmp_path / "cal.yaml")
    back = load_calibration(path)
    assert back.values == cal.values and back.data[0]["sha256"] == cal.data[0]["sha256"]
    assert back.registry_sha256 == load_registry().sha256 and back.nksim_version == nksim.__version__
    sc = yaml.safe_load(open(tmp_path / "cal.yaml"))  # plain YAML a person can read
    assert sc["format"] == "nksim-calibration/1"
    # a scenario that loads it: calibrated values apply, the scenario's own value wins, sources say where from
    base = nksim.load_scenario("hcc-gpc3-car-nk-il15").model_dump(mode="json")
    base["calibration"] = "cal.yaml"
    base["parameters"] = {"kappa": 5.0}
    (tmp_path / "s.yaml").write_text(yaml.safe_dump(base), encoding="utf-8")
    loaded = nksim.load_scenario(str(tmp_path / "s.yaml"))
    typ = typical_values(loaded)
    assert typ["k_car"] == 3.0 and typ["kappa"] == 5.0
    assert varying_parameters(loaded)["k_car"] == 0.3
    assert "cal.yaml" in loaded.sources["k_car"] and "kappa" not in loaded.sources


def test_bad_calibration_files_say_what_is_wrong(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("values: {k_car: 1}\n", encoding="utf-8")
    with pytest.raises(InputError, match="format"):
        load_calibration(bad)
    bad.write_text("format: nksim-calibration/1\nvalues: {k_cra: 1}\nmethod: x\n", encoding="utf-8")
    with pytest.raises(InputError, match="k_cra"):
        load_calibration(bad)
    with pytest.raises(InputError, match="readable"):
        load_calibration(tmp_path / "missing.yaml")


def test_a_calibrated_registry_leaves_the_registry_alone():
    reg = load_registry()
    cal = reg.calibrated({"k_car": 3.3}, "calibrated (test, 2026-12-04)")
    assert cal["k_car"].default == 3.3 and "calibrated" in cal["k_car"].source
    assert load_registry()["k_car"].source == reg["k_car"].source != cal["k_car"].source
    assert cal.sha256 != reg.sha256
    assert cal["kappa"] == reg["kappa"]
