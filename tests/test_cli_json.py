"""Every command that prints results takes --json and prints one parseable JSON document on stdout (issue 17).

The command list is read from the CLI itself: a new command without --json, or without a case here, fails. The one
exception is a command that prints no results because it serves until stopped (`nksim app`, ``SERVERS``)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from nksim.calibrate import datasets
from nksim.cli import app

runner = CliRunner()
#: commands that serve until Ctrl-C and print only their address (no result to print as JSON)
SERVERS = {("app",)}


def leaf_commands() -> dict[tuple[str, ...], object]:
    """Every command that runs (not a group), by its path of names."""
    out: dict[tuple[str, ...], object] = {}

    def walk(cmd, path):
        ctx = typer.Context(cmd)
        names = cmd.list_commands(ctx) if hasattr(cmd, "list_commands") else []
        if not names:
            out[path] = cmd
        for n in names:
            walk(cmd.get_command(ctx, n), path + (n,))

    walk(typer.main.get_command(app), ())
    return {path: cmd for path, cmd in out.items() if path not in SERVERS}


def cases(tmp: Path) -> dict[tuple[str, ...], list[list[str]]]:
    """Cheap arguments for each command (small cohorts, few trials, tiny lattices)."""
    bad = tmp / "bad.yaml"
    bad.write_text("name: x\nsimulation: {n_patients: 0}\nproduct: {nmae: y}\n", encoding="utf-8")
    run = tmp / "run"
    abm = tmp / "abm"
    return {
        ("run",): [["run", "hcc-post-lt-allo-nk", "-n", "3", "--seed", "2", "--out", str(run)]],
        ("arms",): [["arms", "hcc-post-lt-allo-nk", "-n", "3", "--arms", "all", "--out", str(tmp / "arms")]],
        ("demo",): [["demo", "-n", "2", "--out", str(tmp / "demo")]],
        ("validate",): [["validate", "hcc-gpc3-car-nk-il15"], ["validate", str(bad)]],
        ("show",): [["show", "hcc-gpc3-car-nk-il15"]],
        ("catalog",): [["catalog"], ["catalog", "antigens"]],
        ("params",): [["params"], ["params", "k_car"]],
        ("scenarios",): [["scenarios"]],
        ("calibration",): [["calibration", "-n", "10"], ["calibration", "--crs-table", "-n", "10"]],
        ("sensitivity",): [["sensitivity", "hcc-post-lt-allo-nk", "--method", "morris", "--params", "k_car,k_nat",
                            "--outputs", "orr", "--n", "2", "--no-plots", "--out", str(tmp / "sens")]],
        ("fit",): [["fit", str(datasets.shipped("lysis.csv")), "--scenario", datasets.LYSIS_SCENARIO, "--free",
                    "k_car", "--no-profile", "--starts", "1", "--out", str(tmp / "fit")]],
        ("trial", "oc"): [["trial", "oc", "--design", "boin", "--true-tox", "0.05,0.15,0.3", "--trials", "20",
                           "--out", str(tmp / "oc")]],
        ("trial", "simulate"): [["trial", "simulate", "hcc-post-lt-allo-nk", "--trials", "2", "--population", "6",
                                 "--n-cohorts", "2", "--out", str(tmp / "tsim")]],
        ("trial", "compare"): [["trial", "compare", "--designs", "3+3,boin", "--true-tox", "0.05,0.15,0.3",
                                "--trials", "20", "--out", str(tmp / "cmp")]],
        ("trial", "next-dose"): [["trial", "next-dose", "--n-doses", "3", "--data", str(_trial_data(tmp))]],
        ("trial", "boundaries"): [["trial", "boundaries", "--max-n", "6"]],
        ("trial", "multiarm"): [["trial", "multiarm", "--arms", "low:0.2:4,high:0.35:7", "--n-per-arm", "10",
                                 "--out", str(tmp / "ma")]],
        ("manufacture",): [["manufacture", "ipsc-nk-bank", "--lots", "5", "--no-plots", "--out", str(tmp / "mf")]],
        ("assay", "lysis"): [["assay", "lysis", "hcc-gpc3-car-nk-il15", "--et", "1,5"]],
        ("assay", "fit"): [["assay", "fit", "--et", "1,2.5,5,10,20", "--lysis", "5,12,22,35,50"]],
        ("abm", "run"): [["abm", "run", "hcc-gpc3-car", "--days", "0.1", "--size", "30x30", "--out", str(abm)]],
        ("abm", "resume"): [["abm", "resume", str(abm)]],
        ("export", "nonmem"): [["export", "nonmem", str(run), "-o", str(tmp / "nm.csv"), "--times", "0,7"]],
        ("export", "sbml"): [["export", "sbml", "hcc-post-lt-allo-nk", "--patient", "typical", "-o",
                              str(tmp / "m.xml")]],
    }


def _trial_data(tmp: Path) -> Path:
    f = tmp / "dlt.csv"
    f.write_text("dose_level,dlt\n1,0\n1,0\n1,0\n2,0\n2,1\n2,0\n", encoding="utf-8")
    return f


def test_every_command_has_json_and_a_case(tmp_path):
    leaves = leaf_commands()
    no_json = [" ".join(p) for p, cmd in leaves.items() if not any("--json" in o.opts for o in cmd.params)]
    assert no_json == []
    assert set(leaves) == set(cases(tmp_path)), "add a --json case for each new command"


def test_every_command_prints_parseable_json(tmp_path):
    """Order matters: `run` makes the folder `export nonmem` reads, `abm run` the one `abm resume` continues."""
    parsed = {}
    for path, arg_lists in cases(tmp_path).items():
        for args in arg_lists:
            r = runner.invoke(app, [*args, "--json"])
            bad_input = args[-1].endswith("bad.yaml")
            assert r.exit_code == (3 if bad_input else 0), (args, r.output[-2000:])
            try:
                doc = json.loads(r.stdout)
            except json.JSONDecodeError as exc:
                raise AssertionError(f"{' '.join(args)} --json: not JSON ({exc}): {r.stdout[:400]!r}") from None
            assert "NaN" not in r.stdout and "Infinity" not in r.stdout  # strict JSON for any parser
            parsed[" ".join(args[:2])] = doc
    assert parsed["run hcc-post-lt-allo-nk"]["patients"] == 3
    assert {m["metric"] for m in parsed["run hcc-post-lt-allo-nk"]["summary"]} >= {"ORR", "DLT rate"}
    assert parsed["params k_car"]["name"] == "k_car" and parsed["params k_car"]["source"]
    bad = parsed[f"validate {tmp_path / 'bad.yaml'}"]
    assert bad["ok"] is False and len(bad["problems"]) >= 2
    assert parsed["validate hcc-gpc3-car-nk-il15"]["ok"] is True
    assert parsed["show hcc-gpc3-car-nk-il15"]["name"] == "hcc-gpc3-car-nk-il15"
