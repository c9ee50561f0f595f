"""The command line as a newcomer meets it (issue 17): fast help with lazy sub-commands, --version, the exit-code
table in --help, `params NAME`, --set / --dose-level / --sweep / --force on `run`, terminal-width tables and the
Ctrl-C message."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from nksim import cli
from nksim.cli import app
from nksim.cli_args import parse_assignment, parse_sweep, scenario_path, to_json
from nksim.cli_lazy import LAZY, load_target, to_click
from nksim.errors import EXIT_INTERRUPTED, InputError

runner = CliRunner()
HEAVY = ("numba", "scipy", "xarray", "pandas", "matplotlib", "pydantic", "h5py", "lifelines")


def test_help_imports_no_heavy_library():
    code = ("import sys; from nksim.cli import main; sys.argv = ['nksim', '--help']\n"
            "try:\n    main()\nexcept SystemExit:\n    pass\n"
            f"print('LOADED', sorted({{m.split('.')[0] for m in sys.modules}} & set({HEAVY!r})))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, encoding="utf-8", check=True)
    assert "Exit codes" in out.stdout and "130" in out.stdout
    assert out.stdout.strip().splitlines()[-1] == "LOADED []"


@pytest.mark.parametrize("name", sorted(LAZY))
def test_lazy_help_line_is_the_commands_own(name):
    cmd = to_click(name, load_target(LAZY[name][0]))
    own = " ".join((cmd.help or "").split())
    assert own.startswith(LAZY[name][1].rstrip(".")), (own, LAZY[name][1])


def test_version_from_package_metadata():
    from nksim.version import get_version

    r = runner.invoke(app, ["--version"])
    assert r.exit_code == 0 and r.stdout.strip() == f"nksim {get_version()}"


def test_params_name_lookup_and_unknown_name():
    r = runner.invoke(app, ["params", "k_car"])
    assert r.exit_code == 0 and "source" in r.stdout and "kills/(NK d)" in r.stdout
    r = runner.invoke(app, ["params", "k_carr"])
    assert isinstance(r.exception, InputError) and "did you mean 'k_car'" in str(r.exception)
    r = runner.invoke(app, ["params", "--module", "kinetix"])
    assert isinstance(r.exception, InputError)


def test_tables_fit_the_terminal_width():
    r = runner.invoke(app, ["params", "--module", "population"], env={"COLUMNS": "72"})
    assert r.exit_code == 0
    widths = [len(line) for line in r.stdout.splitlines()]
    assert max(widths) <= 72 and len(widths) > 10


def test_set_paths_and_values():
    assert scenario_path("dose_level") == "regimen.dose_level"
    assert scenario_path("k_car") == "parameters.k_car"
    assert scenario_path("population.variability") == "population.variability"
    assert parse_assignment("k_car=1e-1", "--set") == ("parameters.k_car", 0.1)  # 1e-1 is a number, as in files
    assert parse_assignment("regimen.infusion_days=[0, 7]", "--set") == ("regimen.infusion_days", [0, 7])
    assert parse_sweep("dose_level=1,2,3") == ("regimen.dose_level", [1, 2, 3])
    for bad in ("k_car", "=1", "k_car="):
        with pytest.raises(InputError, match="PATH=VALUE"):
            parse_assignment(bad, "--set")
    with pytest.raises(InputError, match="at least two values"):
        parse_sweep("dose_level=1")
    with pytest.raises(InputError, match="distinct"):
        parse_sweep("dose_level=1,1")


def test_set_and_dose_level_are_validated_like_the_file(tmp_path):
    r = runner.invoke(app, ["run", "hcc-post-lt-allo-nk", "--dose-level", "9", "--out", str(tmp_path / "a")])
    assert isinstance(r.exception, InputError) and "regimen.dose_level" in str(r.exception)
    r = runner.invoke(app, ["run", "hcc-post-lt-allo-nk", "--set", "k_carr=1", "--out", str(tmp_path / "b")])
    assert isinstance(r.exception, InputError) and "did you mean 'k_car'" in str(r.exception)
    r = runner.invoke(app, ["run", "hcc-post-lt-allo-nk", "--set", "simulation.n_patients=-4", "--out",
                            str(tmp_path / "c")])
    assert isinstance(r.exception, InputError) and "n_patients" in str(r.exception)
    r = runner.invoke(app, ["run", "hcc-post-lt-allo-nk", "--sweep", "dose_level=1,9", "--out", str(tmp_path / "d")])
    assert isinstance(r.exception, InputError) and not (tmp_path / "d").exists()  # every value checked before any run


def test_run_with_set_and_force_then_sweep(tmp_path):
    out = tmp_path / "r"
    args = ["run", "hcc-post-lt-allo-nk", "-n", "2", "--out", str(out), "--json"]
    r = runner.invoke(app, [*args, "--seed", "1", "--dose-level", "2", "--set", "k_car=1.5"])
    assert r.exit_code == 0, r.output
    doc = json.loads(r.stdout)
    assert doc["dose_level"] == 2 and doc["seed"] == 1
    scenario = (out / "scenario.yaml").read_text(encoding="utf-8")
    assert "dose_level: 2" in scenario and "k_car: 1.5" in scenario
    r = runner.invoke(app, [*args, "--seed", "2"])
    assert isinstance(r.exception, InputError) and "--force" in str(r.exception)
    r = runner.invoke(app, [*args, "--seed", "2", "--force"])
    assert r.exit_code == 0 and json.loads(r.stdout)["seed"] == 2
    sw = tmp_path / "sw"
    r = runner.invoke(app, ["run", "hcc-post-lt-allo-nk", "-n", "2", "--sweep", "dose_level=1,3", "--out", str(sw)],
                      env={"COLUMNS": "100"})
    assert r.exit_code == 0, r.output
    table = pd.read_csv(sw / "comparison.csv")
    assert list(dict.fromkeys(table["value"])) == [1, 3] and set(table["path"]) == {"regimen.dose_level"}
    assert "ORR" in set(table["metric"]) and (sw / "comparison.html").exists()
    hr = table[table.metric == "PFS hazard ratio vs 1"].set_index("value")["estimate"]
    assert hr.loc[1] == 1.0 and (np.isnan(hr.loc[3]) or hr.loc[3] > 0)  # the first value is the reference
    for level in (1, 3):
        assert f"dose_level: {level}" in (sw / f"dose_level-{level}" / "scenario.yaml").read_text(encoding="utf-8")
    rows = [x for x in r.stdout.splitlines() if "│" in x or "┃" in x]
    assert any("ORR" in x for x in rows) and max(len(x) for x in rows) <= 100


def test_force_never_deletes_a_folder_nksim_did_not_write(tmp_path):
    (tmp_path / "notes.txt").write_text("mine", encoding="utf-8")
    with pytest.raises(InputError, match="nothing was deleted"):
        cli._start_over(tmp_path)
    assert (tmp_path / "notes.txt").exists()


def test_interrupt_says_how_to_resume(monkeypatch, capsys):
    def interrupted(*a, **k):
        raise KeyboardInterrupt

    monkeypatch.setattr(cli, "app", interrupted)
    monkeypatch.setattr(sys, "argv", ["nksim", "run", "hcc-post-lt-allo-nk", "-n", "5"])
    with pytest.raises(SystemExit) as exc:
        cli.main()
    assert exc.value.code == EXIT_INTERRUPTED
    assert "run the same command again to resume" in capsys.readouterr().err
    assert "abm resume" in cli.interrupt_message(["abm", "run", "x"])
    assert cli.interrupt_message(["trial", "oc"]) == "interrupted"


def test_json_is_strict():
    import numpy as np

    doc = json.loads(to_json({"a": float("nan"), "b": float("inf"), "c": np.float64(2.5), "d": np.arange(2)}))
    assert doc == {"a": None, "b": "inf", "c": 2.5, "d": [0, 1]}
