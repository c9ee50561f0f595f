"""Named arms of a scenario: validation like a file, the changes applied, the same patients in every arm, the
comparison table and log-rank tests, the CLI (`nksim arms`, `nksim run --arm / --arms`) and its JSON."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import yaml
from typer.testing import CliRunner

import nksim
from nksim.arms import TABLE_COLUMNS
from nksim.cli import app
from nksim.errors import InputError
from nksim.report.arms import markdown
from nksim.spec.scenario import check_arms

HCC = "hcc-post-lt-allo-nk"
YANG = ["control", "A", "B", "C", "D"]  # the seed trial's groups and the no-NK control (other arms may follow)
COVARIATES = ["weight_kg", "tvdt_d", "lesion0_diameter_mm", "k_nat", "chemosensitivity", "kir_matched"]


@pytest.fixture(scope="module")
def comparison() -> nksim.arms.ArmComparison:
    return nksim.compare_arms(HCC, arms=YANG, n_patients=8, seed=3)


def test_seed_trial_arms_are_built_in():
    sc = nksim.load_scenario(HCC)
    assert list(sc.arms)[:5] == YANG and sc.control_arm == "control"
    a, c, d = sc.with_arm("A"), sc.with_arm("C"), sc.with_arm("D")
    assert a.regimen.dose_level == 1 and len(a.regimen.infusion_days) == 4
    assert c.regimen.infusion_days == tuple(7.0 * k for k in range(8)) and c.regimen.infusion_multipliers() == (1.0,) * 8
    level = d.regimen.dose_levels[d.regimen.dose_level - 1].value
    doses = [level * m for m in d.regimen.infusion_multipliers()]
    np.testing.assert_allclose(doses, [1e7, 1.5e7, 2e7, 2.5e7, 3e7, 3e7, 3e7, 3e7])
    assert set(sc.with_arm("control").regimen.infusion_multipliers()) == {0.0}
    assert d.name == f"{HCC} (arm D)" and not d.arms and "incremental" in d.description
    assert sc.with_arm(None) is sc


def test_cd19_dose_level_arms():
    sc = nksim.load_scenario("bnhl-cd19-car-nk-il15-cb")
    assert sc.control_arm == "ld-only" and list(sc.arms) == ["ld-only", "DL1", "DL2", "DL3"]
    for k, arm in enumerate(("DL1", "DL2", "DL3")):
        r = sc.with_arm(arm).regimen
        assert r.dose_levels[r.dose_level - 1].value == 10.0 ** (5 + k)
    ld = sc.with_arm("ld-only").regimen
    assert ld.lymphodepletion == sc.regimen.lymphodepletion and set(ld.infusion_multipliers()) == {0.0}


def test_unknown_arm_names_the_choices():
    with pytest.raises(InputError, match=r"arm = 'E' is not allowed; expected an arm of hcc-post-lt-allo-nk.*control, A, B, C, D"):
        nksim.load_scenario(HCC).with_arm("E")
    with pytest.raises(InputError, match="defines no `arms`"):
        nksim.load_scenario("hcc-gpc3-car-nk-il15").with_arm("A")


@pytest.mark.parametrize("arms, field, words", [
    ({"X": {"changes": {"regimen.dose_level": 9}}}, "arms.X.changes.regimen.dose_level", "a level in 1..3"),
    ({"X": {"changes": {"regimen.per_infusion": {"multipliers": [1, 2]}}}}, "arms.X.changes.regimen.per_infusion.multipliers",
     "4 entries"),
    ({"X": {"changes": {"regimen.dose_levle": 1}}}, "arms.X.changes.regimen.dose_levle", "did you mean"),
    ({"X": {"changes": {"arms.Y": {}}}}, "arms.X.changes.arms.Y", "a path outside `arms`"),
    ({"all": {"changes": {}}}, "arms.all", "an arm name"),
    ({"a b": {"changes": {}}}, "arms.a b", "an arm name"),
    ({"X": {"control": True}, "Y": {"control": True}}, "arms.Y.control", "one control arm (X is the control)"),
    ({"X": {"sett": {}}}, "arms.X.sett", "a field name"),
])
def test_arms_are_validated_like_a_file(arms, field, words, tmp_path):
    """Each arm's changes are validated like a file: `nksim validate` and check_arms fail naming
    arms.ARM.changes.FIELD, the value and what is allowed (the arm's shape already when the file is read)."""
    data = nksim.load_scenario(HCC).model_dump(mode="json", exclude_unset=True)
    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump({**data, "arms": arms}), encoding="utf-8")
    with pytest.raises(InputError) as err:
        check_arms(nksim.load_scenario(str(path)))
    assert field in str(err.value) and words in str(err.value), str(err.value)
    r = CliRunner().invoke(app, ["validate", str(path)])
    assert isinstance(r.exception, InputError) and field in str(r.exception)


def test_a_base_change_is_checked_per_arm_when_it_is_run():
    """A horizon shorter than arm C's 8 weekly infusions: the base stays usable, arm C names the problem."""
    sc = nksim.load_scenario(HCC).replace({"simulation.horizon_d": 30.0})
    assert sc.with_arm("A").simulation.horizon_d == 30.0
    with pytest.raises(InputError, match=r"regimen.infusion_days .* within simulation.horizon_d = 30"):
        sc.with_arm("C")
    with pytest.raises(InputError, match=r"arms.C.changes.regimen.infusion_days"):
        check_arms(sc)
    notes = sc.warnings()
    assert any(n.startswith("arms.C.changes.regimen.infusion_days") and "cannot be run" in n for n in notes), notes
    assert not any(n.startswith("arms.") for n in nksim.load_scenario(HCC).warnings())


def test_arm_overrides_reach_the_simulation():
    sc = nksim.load_scenario(HCC).replace({"simulation.horizon_d": 60.0})
    a = nksim.simulate(sc, n_patients=3, seed=2, arm="D")
    b = nksim.simulate(sc.with_arm("D"), n_patients=3, seed=2)
    np.testing.assert_array_equal(a.trajectories["product_cells_total"].values,
                                  b.trajectories["product_cells_total"].values)
    assert (a.patients["n_infusions"] == 8).all()
    assert a.scenario.name == f"{HCC} (arm D)"


def test_same_patients_in_every_arm(comparison):
    res = comparison.results
    assert list(res) == YANG
    first = res["control"].patients
    for arm, r in res.items():
        pd.testing.assert_frame_equal(r.patients[COVARIATES], first[COVARIATES], obj=arm)
    assert not first["treated"].any() and all(res[a].patients["treated"].all() for a in "ABCD")
    infused = {a: r.trajectories["cum_infused"].values[:, -1] for a, r in res.items()}
    np.testing.assert_allclose(infused["B"], 2 * infused["A"], rtol=1e-12)  # level 2 = 2 x level 1
    np.testing.assert_allclose(infused["C"], 2 * infused["B"], rtol=1e-12)  # 8 vs 4 infusions
    np.testing.assert_allclose(infused["D"], infused["A"] * 19 / 4, rtol=1e-12)  # (1+1.5+2+2.5+3x4) / (1 x 4) x 1e7/kg


def test_comparison_table(comparison):
    t = comparison.table
    assert list(t.columns) == TABLE_COLUMNS and list(t.arm) == YANG
    assert (t.n == 8).all() and comparison.control == "control" and comparison.logrank_df == 4
    ctrl = t.set_index("arm").loc["control"]
    assert np.isnan(ctrl.logrank_chi2_vs_control) and not t.logrank_p_vs_control.iloc[1:].isna().any()
    assert ((t.orr >= t.orr_ci_low) & (t.orr <= t.orr_ci_high)).all()
    med = t.median_pfs_d
    assert ((t.median_pfs_ci_low_d <= med) | med.isna()).all()
    assert 0.0 <= comparison.logrank_p <= 1.0 and comparison.logrank_chi2 >= 0.0
    json.dumps(comparison.to_dict(), allow_nan=False)  # JSON-ready


def test_select_arms_errors():
    with pytest.raises(InputError, match="arms = 'Z' is not allowed; expected an arm of"):
        nksim.compare_arms(HCC, arms="A,Z", n_patients=2)
    with pytest.raises(InputError, match="at least two different arms"):
        nksim.compare_arms(HCC, arms=["A"], n_patients=2)
    with pytest.raises(InputError, match="a scenario with `arms`"):
        nksim.compare_arms("hcc-gpc3-car-nk-il15", n_patients=2)


def test_cli_arms_json_and_run_folder(tmp_path):
    runner = CliRunner()
    out = tmp_path / "cmp"
    r = runner.invoke(app, ["arms", HCC, "-n", "4", "--seed", "3", "--arms", "control,D", "--json", "--out", str(out)])
    assert r.exit_code == 0, r.output
    data = json.loads(r.stdout)
    assert [a["arm"] for a in data["arms"]] == ["control", "D"] and data["logrank_all"]["df"] == 1
    for name in ("km_pfs_by_arm.png", "arms.csv", "arms.json", "arms.md", "arms.html"):
        assert (out / name).stat().st_size > 0
    assert list(pd.read_csv(out / "arms.csv").columns) == TABLE_COLUMNS
    text = runner.invoke(app, ["run", HCC, "-n", "4", "--seed", "3", "--arms", "A,B", "--out", str(tmp_path / "r")])
    assert text.exit_code == 0, text.output
    assert "median PFS" in text.stdout and "multivariate log-rank" in text.stdout
    one = runner.invoke(app, ["run", HCC, "-n", "2", "--arm", "D", "--out", str(tmp_path / "d")])
    assert one.exit_code == 0, one.output
    assert "arm D" in (tmp_path / "d" / "scenario.yaml").read_text(encoding="utf-8")
    bad = runner.invoke(app, ["run", HCC, "--arm", "D", "--arms", "all"])
    assert isinstance(bad.exception, InputError) and "either --arm" in str(bad.exception)


def test_no_events_gives_no_hazard_ratio_and_valid_json():
    """A horizon before any progression: log-rank chi2 0, hazard ratios not estimable (NaN, null in JSON)."""
    sc = nksim.load_scenario(HCC).replace({"simulation.horizon_d": 25.0})
    cmp = nksim.compare_arms(sc, arms="control,A", n_patients=4, seed=1)
    assert (cmp.table.pfs_events == 0).all() and cmp.logrank_chi2 == 0.0
    assert np.isnan(cmp.table.hazard_ratio_vs_control).all()
    data = json.loads(json.dumps(cmp.to_dict(), allow_nan=False))
    assert data["arms"][1]["hazard_ratio_vs_control"] is None and data["arms"][1]["median_pfs_d"] is None
    assert "not estimable" in markdown(cmp)


def test_km_by_arm_has_a_number_at_risk_row_per_arm(comparison):
    """The arms report's KM plot is nksim.plots.kaplan_meier: one curve and one at-risk row per arm, the counts at
    day 0 equal to each arm's n and never rising."""
    import matplotlib.pyplot as plt

    from nksim.report.arms import km_figure

    fig = km_figure(comparison)
    ax, tab = fig.axes[:2]  # then the medians, written under the plot for more than two arms
    assert tab.get_title(loc="left") == "number at risk"
    rows = [t.get_text() for t in tab.get_yticklabels()]
    assert sorted(rows) == sorted(f"{a} (control)" if a == comparison.control and a != "control" else a
                                  for a in comparison.results)
    counts: dict[float, list[tuple[float, int]]] = {}
    for t in tab.texts:
        counts.setdefault(t.get_position()[1], []).append((t.get_position()[0], int(t.get_text().replace(",", ""))))
    assert len(counts) == len(comparison.results)
    for row in counts.values():
        row.sort()
        assert row[0] == (0.0, 8) and all(a[1] >= b[1] for a, b in zip(row, row[1:]))
    assert len([line for line in ax.get_legend().get_texts()]) == len(comparison.results)
    plt.close(fig)


def test_arms_page_table_reads_as_the_markdown(comparison, tmp_path):
    """arms.html's table: the markdown's columns (ORR in % with its CI, median PFS with its CI, log-rank and HR vs
    control), not the CSV's raw columns."""
    from nksim.report.arms import table_html, write_arms_report

    text = table_html(comparison)
    assert "ORR, % (95% CI)" in text and "median PFS, d (95% CI)" in text and "orr_ci_low" not in text
    assert text.count("<tr") == len(comparison.results) + 1  # header and one row per arm
    page = write_arms_report(comparison, tmp_path / "cmp")["html"].read_text(encoding="utf-8")
    assert "number at risk" in page and "dataframe arms" in page
