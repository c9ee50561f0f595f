"""`nksim trial ...` as a user runs it (typer's CliRunner on the main app)."""

import json

import pytest
from typer.testing import CliRunner

from nksim.cli import app

runner = CliRunner()


def test_boundaries_json():
    r = runner.invoke(app, ["trial", "boundaries", "--design", "boin", "--target", "0.3", "--max-n", "30", "--json"])
    assert r.exit_code == 0, r.output
    tab = json.loads(r.output)
    assert tab["escalate_if_dlt_le"][2] == 0 and tab["deescalate_if_dlt_ge"][2] == 2
    assert tab["eliminate_if_dlt_ge"][2] == 3 and round(tab["lambda_e"], 3) == 0.236


def test_next_dose(tmp_path):
    f = tmp_path / "patients.csv"
    f.write_text("dose_level,dlt\n1,0\n1,0\n1,0\n2,0\n2,1\n2,0\n3,1\n3,1\n3,0\n", encoding="utf-8")
    r = runner.invoke(app, ["trial", "next-dose", "--design", "boin", "--target", "0.3", "--n-doses", "5",
                            "--data", str(f), "--json"])
    assert r.exit_code == 0, r.output
    out = json.loads(r.output)
    assert out["next_dose"] == 2 and out["estimated_mtd"] == 2
    r = runner.invoke(app, ["trial", "next-dose", "--n-doses", "5", "--data", str(f)])
    assert r.exit_code == 0 and "next dose 2" in r.output and "lambda_e" in r.output


def test_next_dose_rejects_bad_rows(tmp_path):
    f = tmp_path / "bad.csv"
    f.write_text("dose_level,dlt\n1,0\n7,1\n", encoding="utf-8")
    r = runner.invoke(app, ["trial", "next-dose", "--n-doses", "5", "--data", str(f)])
    assert r.exit_code != 0
    assert "dose_level (row 3 of bad.csv)" in str(r.exception)


def test_oc_json_fields(tmp_path):
    r = runner.invoke(app, ["trial", "oc", "--design", "boin", "--target", "0.3", "--true-tox",
                            "0.05,0.15,0.3,0.45,0.6", "--cohort-size", "3", "--n-cohorts", "10", "--trials", "300",
                            "--seed", "1", "--json", "--out", str(tmp_path)])
    assert r.exit_code == 0, r.output
    oc = json.loads(r.output)
    for key in ("selection_pct", "no_selection_pct", "mean_patients", "mean_dlt", "early_stop_pct", "pcs"):
        assert key in oc
    assert len(oc["selection_pct"]) == 5 and abs(sum(oc["selection_pct"]) + oc["no_selection_pct"] - 100) < 1e-6
    assert (tmp_path / "selection.png").stat().st_size > 1000 and (tmp_path / "dose_paths.png").exists()


def test_compare_and_multiarm(tmp_path):
    r = runner.invoke(app, ["trial", "compare", "--designs", "3+3,boin,crm", "--true-tox", "0.05,0.15,0.3,0.45",
                            "--trials", "200", "--json", "--out", str(tmp_path / "c")])
    assert r.exit_code == 0, r.output
    ocs = json.loads(r.output)
    assert [o["design"] for o in ocs] == ["3+3", "boin", "crm"]
    import pandas as pd

    table = pd.read_csv(tmp_path / "c" / "compare.csv", index_col=0)  # designs side by side
    assert list(table.columns) == ["3+3", "boin", "crm"]
    for j, oc in enumerate(ocs):
        col = table.iloc[:, j]
        assert float(col["selected dose 3 (%)"]) == pytest.approx(oc["selection_pct"][2], abs=0.05)
        assert float(col["patients treated above target (%)"]) == pytest.approx(oc["overdose_allocation_pct"],
                                                                               abs=0.05)
        assert float(col["ended before max N = 30 (%)"]) == pytest.approx(oc["early_stop_pct"], abs=0.05)
    r = runner.invoke(app, ["trial", "compare", "--designs", "3+3,boin", "--true-tox", "0.05,0.15,0.3,0.45",
                            "--trials", "100", "--out", str(tmp_path / "c2")])
    assert r.exit_code == 0, r.output
    header = r.output.splitlines()[1].split()
    assert header == ["3+3", "boin"] and "3+3 stops by" in r.output and "not a safety stop" in r.output
    r = runner.invoke(app, ["trial", "multiarm", "--arms", "low:0.2:4,high:0.35:7", "--n-per-arm", "20",
                            "--out", str(tmp_path / "m")])
    assert r.exit_code == 0, r.output
    assert "HR" in r.output and (tmp_path / "m" / "km_pfs.png").exists()


def test_unknown_design_is_a_clear_error():
    r = runner.invoke(app, ["trial", "oc", "--design", "boinn", "--true-tox", "0.1,0.2"])
    assert r.exit_code != 0 and "design" in str(r.exception)


def test_dose_path_flowchart_lines_touch_their_boxes(tmp_path, monkeypatch):
    import matplotlib

    matplotlib.use("Agg")
    import numpy as np
    from matplotlib.figure import Figure

    from nksim.trial.advisor import TrialData, dose_paths
    from nksim.trial.designs import make_design
    from nksim.trial.plots import plot_dose_transitions

    d = make_design("boin", target=0.3, n_doses=4, cohort_size=3, n_cohorts=10)
    tree = dose_paths(d, TrialData(np.zeros(0, np.int64), np.zeros(0, np.int64), None))
    seen = {}
    orig = Figure.savefig

    def grab(self, *a, **k):
        ax = self.axes[0]
        boxes = [t.get_bbox_patch().get_window_extent() for t in ax.texts if t.get_bbox_patch() is not None]
        lines = [ax.transData.transform(np.column_stack(ln.get_data())) for ln in ax.get_lines()
                 if ln.get_gid() == "edge"]
        seen.update(boxes=boxes, lines=lines)
        return orig(self, *a, **k)

    monkeypatch.setattr(Figure, "savefig", grab)
    plot_dose_transitions(tree, tmp_path / "f.png", 1)
    assert seen["lines"]

    def on_edge(x, y):
        return any((abs(x - b.x0) < 1.5 or abs(x - b.x1) < 1.5) and b.y0 - 1 <= y <= b.y1 + 1 for b in seen["boxes"])

    for (x0, y0), (x1, y1) in seen["lines"]:
        assert on_edge(x0, y0) and on_edge(x1, y1)  # each branch starts at its parent box and ends at its child
