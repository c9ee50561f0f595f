"""nksim.calibrate.fit: residual error models, M3 censoring, parameter recovery, bad data, nksim fit."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from nksim.calibrate import datasets
from nksim.calibrate.data import read_data
from nksim.calibrate.fit import fit, profile_intervals
from nksim.calibrate.residuals import ErrorModel, parse_error
from nksim.errors import InputError

LYSIS = datasets.shipped("lysis.csv")
PK = datasets.shipped("pk_ft596.csv")


# ---- residual error models ------------------------------------------------------------------------------------------

@pytest.mark.parametrize("kind,a,b,sd", [("additive", 2.0, 0.3, 2.0), ("proportional", 2.0, 0.3, 0.3 * 10.0),
                                         ("combined", 2.0, 0.3, math.sqrt(4.0 + 9.0))])
def test_likelihood_equals_hand_computed(kind, a, b, sd):
    err = ErrorModel(kind, a=a, b=b)
    y, f = 12.5, 10.0
    hand = -0.5 * math.log(2 * math.pi) - math.log(sd) - 0.5 * ((y - f) / sd) ** 2
    assert err.loglik([y], [f]) == pytest.approx(hand, rel=1e-12)
    assert err.normalized_residuals(np.array([y]), np.array([f]))[0] == pytest.approx((y - f) / sd)


def test_log_scale_likelihood_is_lognormal_density():
    err = parse_error("log-additive")
    err = err.with_params(np.log([0.4]))
    y, f = 3.0, 2.0
    assert err.loglik([y], [f]) == pytest.approx(stats.lognorm(s=0.4, scale=f).logpdf(y), rel=1e-12)


def test_m3_censored_observation_contributes_log_phi():
    err = ErrorModel("combined", a=0.5, b=0.2)
    f, lloq = 1.2, 1.0
    sd = math.sqrt(0.25 + (0.2 * f) ** 2)
    got = err.loglik_terms(np.array([999.0]), np.array([f]), np.array([True]), np.array([lloq]))[0]
    assert got == pytest.approx(math.log(stats.norm.cdf((lloq - f) / sd)), rel=1e-12)  # the DV is ignored
    log_err = ErrorModel("additive", log=True, a=0.3)
    got = log_err.loglik_terms(np.array([0.0]), np.array([f]), np.array([True]), np.array([lloq]))[0]
    assert got == pytest.approx(stats.norm.logcdf((math.log(lloq) - math.log(f)) / 0.3), rel=1e-12)


def test_error_model_names_are_checked():
    with pytest.raises(InputError, match="error"):
        parse_error("poisson")
    with pytest.raises(InputError, match="error.a"):
        ErrorModel("additive", a=-1.0)


# ---- data validation ------------------------------------------------------------------------------------------------

def _pk_table() -> pd.DataFrame:
    return pd.read_csv(PK)


def test_missing_column_is_named():
    df = _pk_table().drop(columns=["DV"])
    with pytest.raises(InputError) as e:
        read_data(df)
    assert "DV" in e.value.allowed and e.value.field == "columns"


def test_negative_observation_time_is_rejected():
    df = _pk_table()
    i = int(np.flatnonzero(df["EVID"] == 0)[0])
    df.loc[i, "TIME"] = -1.0
    with pytest.raises(InputError) as e:
        read_data(df)
    assert e.value.field.startswith("TIME") and e.value.value == -1.0 and ">= 0" in e.value.allowed


def test_blq_without_lloq_and_unknown_dvid_are_rejected():
    df = _pk_table().drop(columns=["LLOQ"])
    with pytest.raises(InputError, match="LLOQ"):
        read_data(df)
    df = _pk_table()
    df.loc[df["EVID"] == 0, "DVID"] = 42
    with pytest.raises(InputError, match="DVID"):
        read_data(df)


def test_unknown_parameter_name_is_rejected():
    with pytest.raises(InputError) as e:
        fit(LYSIS, "k_carr", scenario="hcc-gpc3-car-nk-il15")
    assert e.value.value == "k_carr" and "k_car" in e.value.allowed


def test_shipped_datasets_read():
    lys, pk = read_data(LYSIS), read_data(PK)
    assert lys.kind == "assay" and len(lys.ids) == 4 and len(lys.obs) == 72
    assert pk.kind == "nonmem" and len(pk.ids) == datasets.PK_N and 0 < pk.obs["BLQ"].sum() < len(pk.obs) / 2


# ---- parameter recovery ---------------------------------------------------------------------------------------------

def test_assay_recovery_and_coverage():
    """Simulate lysis titrations at known k_car, k_r (no donor variability), refit: the truth inside the 95% CI in
    (nearly) every replicate."""
    truth = {**datasets.LYSIS_TRUTH, "omega2:k_car": 0.0}
    hits = {"k_car": 0, "k_r": 0}
    n_rep = 4
    for rep in range(n_rep):
        df = datasets.lysis_dataset(seed=100 + rep, truth=truth, n_donors=1, replicates=3)
        res = fit(df, "k_car,k_r", scenario=datasets.LYSIS_SCENARIO, error="combined", n_starts=1, profile=False)
        for name, (lo, hi) in res.ci().items():
            hits[name] += lo <= truth[name] <= hi
    assert hits["k_car"] >= n_rep - 1 and hits["k_r"] >= n_rep - 1, hits


def test_profile_interval_brackets_the_estimate_and_agrees_with_wald():
    df = datasets.lysis_dataset(seed=7, truth={**datasets.LYSIS_TRUTH, "omega2:k_car": 0.0}, n_donors=1)
    from nksim.spec.io import load_scenario

    sc = load_scenario(datasets.LYSIS_SCENARIO)
    sc = sc.model_copy(update={"parameters": {**sc.parameters, "k_car": datasets.LYSIS_TRUTH["k_car"]}})
    res = fit(df, "k_r", scenario=sc, error="combined", n_starts=1, profile=False)
    res.profile = profile_intervals(res, ["k_r"])  # the residual error re-optimized along the profile
    lo, hi = res.profile["k_r"]
    wlo, whi = res.ci()["k_r"]
    est = res.estimates["k_r"]
    assert lo < est < hi
    assert lo == pytest.approx(wlo, rel=0.15) and hi == pytest.approx(whi, rel=0.15)
    assert lo <= datasets.LYSIS_TRUTH["k_r"] <= hi


def test_population_fit_recovers_typical_values_and_variability():
    """PK data with between-patient variability (8 patients, BLQ censored): typical values and omega2 inside their
    95% intervals; every output of the calibration file named as the registry and omega2:NAME."""
    df = datasets.pk_dataset(seed=3, n=8)
    res = fit(df, "f_blood,k_rej", scenario=datasets.PK_SCENARIO, error="log-additive", population=True,
              n_starts=1, max_iter=15)
    t = res.table().set_index("parameter")
    for name in ("f_blood", "k_rej", "omega2:k_rej"):
        assert t.loc[name, "ci_low"] <= datasets.PK_TRUTH[name] <= t.loc[name, "ci_high"], (name, t.loc[name])
    cal = res.calibration()
    assert set(cal.values) == {"f_blood", "k_rej", "omega2:f_blood", "omega2:k_rej"}
    assert res.predictions["CWRES"].notna().sum() == (~res.predictions["BLQ"]).sum()
    assert abs(res.predictions["CWRES"].mean()) < 0.5


# ---- command line ---------------------------------------------------------------------------------------------------

def test_cli_fit_writes_calibration_table_and_plots(tmp_path):
    from typer.testing import CliRunner

    from nksim.cli import app
    from nksim.spec.calibration import load_calibration

    out = tmp_path / "fit"
    r = CliRunner().invoke(app, ["fit", str(LYSIS), "--scenario", datasets.LYSIS_SCENARIO, "--free", "k_car,k_r",
                                 "--error", "combined", "--no-profile", "--starts", "1", "--out", str(out)])
    assert r.exit_code == 0, r.output
    assert "k_car" in r.output and "95% CI" in r.output
    cal = load_calibration(out / "calibration.yaml")
    assert set(cal.values) == {"k_car", "k_r"} and cal.data[0]["file"] == "lysis.csv"
    assert cal.uncertainty["k_car"]["ci_low"] < cal.values["k_car"] < cal.uncertainty["k_car"]["ci_high"]
    for name in ("estimates.csv", "predictions.csv", "gof_obs_vs_pred.png", "gof_residuals.png",
                 "gof_individual.png", "gof_vpc.png", "vpc.csv"):
        assert (out / name).stat().st_size > 0


def test_individual_mode_gives_one_row_per_subject_and_sts_summary():
    df = datasets.lysis_dataset(seed=5, n_donors=2, replicates=2)
    res = fit(df, "k_car,k_r", scenario=datasets.LYSIS_SCENARIO, error="combined", mode="individual", n_starts=1)
    ind = res.individual_table()
    assert list(ind["ID"]) == [0, 1] and np.all(np.isfinite(ind[["k_car", "k_r", "se_k_car"]].to_numpy()))
    # typical value = geometric mean of the individual estimates (log parameters), omega2 their log variance
    assert res.estimates["k_car"] == pytest.approx(float(np.exp(np.log(ind["k_car"]).mean())), rel=1e-9)
    assert res.omega2_natural()["k_car"] == pytest.approx(float(np.log(ind["k_car"]).var(ddof=1)), rel=1e-9)


def test_calibration_file_applies_to_a_scenario(tmp_path):
    from nksim.population.sampling import typical_values, varying_parameters
    from nksim.spec.calibration import load_calibration
    from nksim.spec.io import load_scenario

    df = datasets.lysis_dataset(seed=5, n_donors=2, replicates=2)
    res = fit(df, "k_car,k_r", scenario=datasets.LYSIS_SCENARIO, error="combined", mode="individual", n_starts=1)
    path = res.calibration(notes="test").save(tmp_path / "cal.yaml")
    sc = load_calibration(path).apply(load_scenario(datasets.PK_SCENARIO))
    assert typical_values(sc)["k_r"] == pytest.approx(res.estimates["k_r"])
    assert varying_parameters(sc)["k_car"] == pytest.approx(res.omega2_natural()["k_car"])


def test_stacked_parameters_with_shared_columns_round_trip():
    """Population fits with variability on some parameters only: the others are one value for every subject."""
    from types import SimpleNamespace

    from nksim.calibrate.fit import _Stacked
    from nksim.calibrate.likelihood import Transform

    tr = Transform(np.array([True, False, True]), np.array([-3.0, 0.0, -5.0]), np.array([3.0, 1.0, 5.0]))
    obj = SimpleNamespace(tr=tr, n_sub=4)
    err = ErrorModel("combined", a=1.0, b=0.1)
    phi = np.array([[0.1, 0.5, 1.0], [0.2, 0.5, 1.1], [0.3, 0.5, 1.2], [0.4, 0.5, 1.3]])
    st = _Stacked(obj, err, shared=False, fit_err=True, phi_fixed=phi, common=[1])
    x = st.pack(phi, err)
    assert x.size == 4 * 2 + 1 + 2 and len(st.bounds()) == x.size
    back, e2 = st.unpack(x)
    np.testing.assert_allclose(back, phi)
    assert e2.a == pytest.approx(1.0) and e2.b == pytest.approx(0.1)
    x[8] = 0.7  # the shared column moves for everyone
    assert np.all(st.unpack(x)[0][:, 1] == 0.7)


def test_shipped_datasets_regenerate_from_their_seed(tmp_path):
    out = datasets.write_datasets(tmp_path)
    for key, name in (("lysis", "lysis.csv"), ("pk", "pk_ft596.csv")):
        pd.testing.assert_frame_equal(pd.read_csv(out[key]), pd.read_csv(datasets.shipped(name)), rtol=1e-9)
