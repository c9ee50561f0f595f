"""Exit codes, output-folder containment and the catalog command; one tiny run at the edges of the allowed domain."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml
from typer.testing import CliRunner

import nksim
from nksim.cli import app
from nksim.errors import EXIT_INPUT, EXIT_INTERRUPTED, EXIT_OK, EXIT_RUNTIME, EXIT_USAGE, InputError
from nksim.outdirs import default_out, prepare_out, slugify
from nksim.spec.io import dump_scenario, load_scenario


def _nksim(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "nksim.cli", *args], capture_output=True,
                          encoding="utf-8", errors="replace", cwd=cwd,
                          timeout=300)


def test_exit_code_table_is_distinct():
    assert len({EXIT_OK, EXIT_RUNTIME, EXIT_USAGE, EXIT_INPUT, EXIT_INTERRUPTED}) == 5
    assert (EXIT_USAGE, EXIT_INPUT) == (2, 3)


def test_usage_error_and_invalid_input_have_different_codes(tmp_path):
    usage = _nksim("validate", "--no-such-option")
    assert usage.returncode == EXIT_USAGE
    bad = tmp_path / "bad.yaml"
    bad.write_bytes(b"\xff\xfe\x00binary")
    invalid = _nksim("validate", str(bad))
    assert invalid.returncode == EXIT_INPUT and "Traceback" not in invalid.stderr and "binary" in invalid.stderr
    missing = _nksim("validate", str(tmp_path / "nope.yaml"))
    assert missing.returncode == EXIT_INPUT


def test_validate_prints_every_problem_and_warnings(tmp_path):
    d = yaml.safe_load(dump_scenario(load_scenario("hcc-gpc3-car-nk-il15")))
    d["product"]["potency"] = 9
    d["simulation"]["seed"] = 10**30
    p = tmp_path / "s.yaml"
    p.write_text(yaml.safe_dump(d), encoding="utf-8")
    proc = _nksim("validate", str(p))
    assert proc.returncode == EXIT_INPUT and "2 problems" in proc.stderr
    assert "product.potency" in proc.stderr and "simulation.seed" in proc.stderr
    d["product"]["potency"], d["simulation"]["seed"] = 1.0, 1
    d["parameters"] = {"k_LB": 10.0}
    p.write_text(yaml.safe_dump(d), encoding="utf-8")
    ok = CliRunner().invoke(app, ["validate", str(p)])
    assert ok.exit_code == 0 and "warning: parameters.k_LB = 10 is outside the plausible range" in ok.output


def test_catalog_lists_the_names_the_schema_enumerates():
    r = CliRunner().invoke(app, ["catalog", "antigens", "--json"])
    assert r.exit_code == 0
    names = [row["name"] for row in json.loads(r.output)]
    schema = load_scenario("hcc-gpc3-car-nk-il15").model_json_schema()["$defs"]
    assert names == schema["Tumor"]["properties"]["antigens"]["items"]["enum"]
    r = CliRunner().invoke(app, ["validate", "--list", "indications"])
    assert r.exit_code == 0 and "HCC" in r.output and "mRECIST" in r.output
    r = CliRunner().invoke(app, ["catalog", "antigenz"])
    assert isinstance(r.exception, InputError)


@pytest.mark.parametrize("name, slug", [("../..", "unnamed"), ("/anywhere/else", "anywhere-else"),
                                         ("a b/../c", "a-b-..-c"), ("hcc-gpc3", "hcc-gpc3"), ("", "unnamed")])
def test_names_become_slugs_under_the_root(tmp_path, name, slug):
    assert slugify(name) == slug
    folder = default_out(name, "seed7", root=tmp_path / "runs")
    assert folder.parent == tmp_path / "runs" and "/" not in folder.name and not folder.name.startswith(".")


def test_out_must_be_a_folder_or_creatable(tmp_path):
    f = tmp_path / "file.txt"
    f.write_text("x", encoding="utf-8")
    with pytest.raises(InputError, match="existing file"):
        prepare_out(f)
    with pytest.raises(InputError, match="is a file, not a folder"):
        prepare_out(f / "below")
    with pytest.raises(InputError, match="can be created"):
        prepare_out(Path("/proc/nksim-cannot-create-this/run"))
    assert prepare_out(tmp_path / "new" / "run").is_dir()


def test_run_out_errors_are_one_line(tmp_path):
    f = tmp_path / "file.txt"
    f.write_text("x", encoding="utf-8")
    for out in (f, f / "below"):
        proc = _nksim("run", "hcc-post-lt-allo-nk", "-n", "1", "--out", str(out))
        assert proc.returncode == EXIT_INPUT and "--out" in proc.stderr and "Traceback" not in proc.stderr
    proc = _nksim("run", "hcc-post-lt-allo-nk", "-n", "1", "--seed", str(10**30))
    assert proc.returncode == EXIT_INPUT and "--seed" in proc.stderr and "Traceback" not in proc.stderr


def test_manufacture_and_abm_names_stay_under_runs(tmp_path, monkeypatch):
    from nksim.manufacturing.cli import run_manufacture
    from nksim.manufacturing.loader import load_manufacturing_spec

    monkeypatch.chdir(tmp_path)
    spec = load_manufacturing_spec("nk92-irradiated").model_copy(update={"name": "../../outside"})
    res = run_manufacture(spec, 2, 0, plots=False, progress=False)
    folder = Path(res["run_folder"])
    assert folder.parent == Path("runs") and (tmp_path / folder / "summary.json").exists()
    assert not (tmp_path.parent / "outside-0").exists()
    f = tmp_path / "file.txt"
    f.write_text("x", encoding="utf-8")
    with pytest.raises(InputError, match="--out"):
        run_manufacture(spec, 2, 0, out=f / "x", plots=False, progress=False)
    from nksim.spec.spatial import builtin_spatial_scenarios

    r = CliRunner().invoke(app, ["abm", "run", builtin_spatial_scenarios()[0], "--out", str(f)])
    assert isinstance(r.exception, InputError) and "--out" in str(r.exception)


def test_tiny_run_at_the_edges_of_the_allowed_domain(tmp_path, monkeypatch):
    """Values at the bounds validate and run (two patients, a short horizon); a hostile name stays under runs/."""
    sc = nksim.load_scenario("hcc-post-lt-allo-nk").replace({
        "name": "../../escape", "simulation.n_patients": 2, "simulation.horizon_d": 22.0,
        "simulation.seed": 2**63 - 1, "regimen.lymphodepletion.day": -365.0, "product.cd3_per_kg": 1e10,
        "regimen.il2": {"days": [0.0, 22.0], "dose": 1.0}})
    p = tmp_path / "edge.yaml"
    p.write_text(dump_scenario(sc), encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    r = CliRunner().invoke(app, ["run", str(p)])
    assert r.exit_code == 0, r.output
    folder = tmp_path / "runs" / f"escape-seed{2**63 - 1}"
    assert (folder / "report.html").exists()
    traj = __import__("nksim.io.run_folder").io.run_folder.open_trajectories(folder)
    assert np.isfinite(traj["tumor_viable_total"].values).all()


@pytest.mark.parametrize("exc, code, words", [
    (KeyboardInterrupt(), EXIT_INTERRUPTED, "interrupted"),
    (MemoryError(), EXIT_RUNTIME, "out of memory"),
    (OSError(28, "No space left on device", "runs/x/chunk.nc"), EXIT_RUNTIME, "No space left on device (runs/x"),
    (InputError("f", 1, "2"), EXIT_INPUT, "f = 1 is not allowed; expected 2"),
])
def test_main_maps_failures_to_the_exit_code_table(monkeypatch, capsys, exc, code, words):
    import nksim.cli as cli

    def boom():
        raise exc

    monkeypatch.setattr(cli, "app", boom)
    with pytest.raises(SystemExit) as out:
        cli.main()
    assert out.value.code == code and words in capsys.readouterr().err


def test_spatial_and_manufacturing_specs_list_every_problem():
    from nksim.manufacturing.loader import load_manufacturing_spec

    with pytest.raises(InputError) as exc:
        load_manufacturing_spec({"name": "x", "expansion": {"dayz": 5}, "gene_transfer": {"efficiency": 1.5}})
    text = str(exc.value)
    assert "2 problems" in text and "did you mean 'days'" in text and "expected a number <= 1" in text
