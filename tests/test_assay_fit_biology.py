"""Assay: CAR vs antigen-negative targets, dnTGFBR2, hypoxia, fitting a known rate, and the CLI."""

from __future__ import annotations

import json

import numpy as np
import pytest
from typer.testing import CliRunner

from nksim.assay import Effector, Target, fit_kill_rate, pathway_rates, release_assay
from nksim.assay.cli import app
from nksim.assay.model import resolve_params
from nksim.errors import InputError
from nksim.spec.io import load_scenario
from nksim.spec.scenario import Construct

ET = [1.0, 2.5, 5.0, 10.0, 20.0]
CAR = Effector(construct=Construct(car_targets=("GPC3",)), transduced_fraction=1.0)
CAR_DN = Effector(construct=Construct(car_targets=("GPC3",), dn_tgfbr2=True), transduced_fraction=1.0)
NK = Effector()


def test_car_kills_antigen_positive_not_negative() -> None:
    pos = release_assay(CAR, Target(antigens={"GPC3": 1.0}), ET)
    neg = release_assay(CAR, Target(antigens={"GPC3": 0.0}), ET)
    plain = release_assay(NK, Target(antigens={"GPC3": 0.0}), ET)
    assert np.all(pos["pct_specific_lysis"] > 2 * neg["pct_specific_lysis"])
    assert np.all(neg["fraction_killed_car"] == 0.0)
    # on an antigen-negative line the CAR adds nothing: natural cytotoxicity only, as an unmodified product
    np.testing.assert_allclose(neg["pct_specific_lysis"], plain["pct_specific_lysis"], rtol=1e-6)
    # a half-positive line: CAR kills only the positive half, so lysis lies between
    half = release_assay(CAR, Target(antigens={"GPC3": 0.5}), ET)
    assert np.all(neg["pct_specific_lysis"] < half["pct_specific_lysis"])
    assert np.all(half["pct_specific_lysis"] < pos["pct_specific_lysis"])
    assert np.all(half["fraction_killed_car"] <= 0.5 + 1e-12)


def test_scenario_product_and_antigen_fraction() -> None:
    sc = load_scenario("hcc-gpc3-car-nk-il15")
    full = release_assay(sc, et_ratios=ET, antigen_fraction=1.0)
    neg = release_assay("hcc-gpc3-car-nk-il15", et_ratios=ET, antigen_fraction=0.0)
    assert np.all(full["pct_specific_lysis"] > neg["pct_specific_lysis"])
    assert np.all(neg["fraction_killed_car"] == 0.0)
    # potency scales every pathway: a potency-0 product kills nothing
    zero = sc.model_copy(update={"product": sc.product.model_copy(update={"potency": 0.0})})
    assert np.all(release_assay(zero, et_ratios=ET)["pct_specific_lysis"] == 0.0)


def test_dntgfbr2_rescues_killing_in_tgf_beta() -> None:
    tgt = Target(antigens={"GPC3": 1.0})
    tgf = tgt.model_copy(update={"tgfb_ng_ml": 20.0})
    base = release_assay(CAR, tgt, ET)["pct_specific_lysis"].to_numpy()
    wt_tgf = release_assay(CAR, tgf, ET)["pct_specific_lysis"].to_numpy()
    dn_tgf = release_assay(CAR_DN, tgf, ET)["pct_specific_lysis"].to_numpy()
    assert np.all(wt_tgf < dn_tgf) and np.all(dn_tgf < base)
    # rescue 1 removes the TGF-beta effect entirely (MODEL.md limit)
    full = release_assay(CAR_DN, tgf, ET, params={"dn_rescue": 1.0})["pct_specific_lysis"].to_numpy()
    np.testing.assert_allclose(full, base, rtol=1e-9)
    # without TGF-beta the dominant negative changes nothing
    np.testing.assert_allclose(release_assay(CAR_DN, tgt, ET)["pct_specific_lysis"], base, rtol=1e-9)


def test_hypoxia_suppresses_natural_not_car_pathway() -> None:
    p = resolve_params()
    tgt = Target(antigens={"GPC3": 1.0})
    hyp = tgt.model_copy(update={"hypoxia": 1.0})
    r0, r1 = pathway_rates(CAR, tgt, p), pathway_rates(CAR, hyp, p)
    assert r1["nat_t"][1] == pytest.approx(r0["nat_t"][1] * (1 - p["hyp_supp"]))
    assert r1["car_t"][1] == r0["car_t"][1]
    a = release_assay(NK, tgt, ET)["pct_specific_lysis"].to_numpy()
    b = release_assay(NK, hyp, ET)["pct_specific_lysis"].to_numpy()
    assert np.all(b < a)


def test_adcc_needs_antibody_and_antigen() -> None:
    cd16 = Effector(construct=Construct(hn_cd16=True), transduced_fraction=1.0)
    none = release_assay(cd16, Target(antigens={"CD20": 1.0}), ET)
    ab = release_assay(cd16, Target(antigens={"CD20": 1.0}, antibody="CD20", antibody_ug_ml=10.0), ET)
    ab_neg = release_assay(cd16, Target(antigens={"CD20": 0.0}, antibody="CD20", antibody_ug_ml=10.0), ET)
    assert np.all(ab["pct_specific_lysis"] > none["pct_specific_lysis"])
    np.testing.assert_allclose(ab_neg["pct_specific_lysis"], none["pct_specific_lysis"], rtol=1e-9)


def test_fit_recovers_known_rate_from_noisy_data() -> None:
    tgt = Target(hla_level=0.0)
    true = 3.0
    clean = release_assay(NK, tgt, ET, params={"k_nat": true})["pct_specific_lysis"].to_numpy()
    rng = np.random.default_rng(11)
    noisy = clean + rng.normal(0.0, 1.0, clean.size)
    fit = fit_kill_rate(ET, noisy, NK, tgt, "k_nat")
    assert fit.ci_low < true < fit.ci_high
    assert fit.estimate == pytest.approx(true, rel=0.1)
    assert fit.ci_high / fit.ci_low < 1.5  # 1% noise pins the rate down
    exact = fit_kill_rate(ET, clean, NK, tgt, "k_nat")
    assert exact.estimate == pytest.approx(true, rel=1e-4)


def test_fit_car_rate_and_joint_k_r() -> None:
    tgt = Target(antigens={"GPC3": 1.0})
    truth = {"k_car": 5.0, "k_r": 0.3}
    y = release_assay(CAR, tgt, ET, params=truth)["pct_specific_lysis"].to_numpy()
    fit = fit_kill_rate(ET, y, CAR, tgt, "k_car", also_fit=("k_r",))
    assert fit.estimate == pytest.approx(5.0, rel=1e-3)
    assert fit.others[0].parameter == "k_r"
    assert fit.others[0].estimate == pytest.approx(0.3, rel=1e-3)


@pytest.mark.parametrize("args,field", [
    (dict(et=[1, 2, 3], lysis=[1, 2]), "lysis"),
    (dict(et=[1, 2, 3], lysis=[1, 2, 3], parameter="k_foo"), "parameter"),
    (dict(et=[1], lysis=[1]), "et"),
    (dict(et=[1, 2, 3], lysis=[1, float("inf"), 3]), "lysis"),
    (dict(et=[1, 2, 3], lysis=[1, 2, 3], parameter="k_car"), "parameter"),
])
def test_fit_bad_inputs(args: dict, field: str) -> None:
    with pytest.raises(InputError) as exc:
        fit_kill_rate(**args)
    assert exc.value.field == field


def test_cli_lysis_json_png_and_fit(tmp_path) -> None:
    runner = CliRunner()
    png = tmp_path / "curve.png"
    r = runner.invoke(app, ["lysis", "hcc-gpc3-car-nk-il15", "--et", "1,5,20", "--antigen-fraction", "1",
                            "--param", "k_car=20", "--json", "--out", str(png)])
    assert r.exit_code == 0, r.output
    out = json.loads(r.output)
    lys = [row["pct_specific_lysis"] for row in out["curve"]]
    assert len(lys) == 3 and lys == sorted(lys)
    assert out["lu_per_1e7"] is not None and out["lu_per_1e7"] > 0
    assert png.stat().st_size > 1000
    png2 = tmp_path / "compare.png"
    r = runner.invoke(app, ["lysis", "hcc-gpc3-car-nk-il15", "--et", "1,5", "--compare", "--out", str(png2)])
    assert r.exit_code == 0, r.output
    assert png2.stat().st_size > png.stat().st_size // 2 and "LU20" in r.output
    r = runner.invoke(app, ["fit", "--et", "1,2.5,5,10,20", "--lysis", "5,12,22,35,50", "--also-fit", "k_r"])
    assert r.exit_code == 0, r.output
    assert "k_nat =" in r.output and "k_r =" in r.output
    r = runner.invoke(app, ["lysis", "hcc-gpc3-car-nk-il15", "--et", "1,x"])
    assert isinstance(r.exception, InputError) and r.exception.field == "--et"
