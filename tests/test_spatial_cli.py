"""`nksim abm run` / `nksim abm resume` write the run folder; the ODE fed with coarse-grained parameters tracks the
ABM it came from."""

import json

import numpy as np
from typer.testing import CliRunner

from nksim.spatial.cli import app


def test_cli_run_and_resume(tmp_path):
    out = tmp_path / "run"
    runner = CliRunner()
    res = runner.invoke(app, ["run", "hcc-gpc3-car", "--days", "0.25", "--size", "40x40", "--seed", "3",
                              "--out", str(out), "--checkpoint-every", "2"])
    assert res.exit_code == 0, res.output
    for f in ("results.nc", "tumor.gif", "kill_histogram.png", "depth_profile.png", "counts.png", "fields.png",
              "checkpoint.npz", "summary.json", "snapshot_000.png"):
        assert (out / f).exists(), f
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    assert summary["seed"] == 3 and summary["days"] == 0.25
    res2 = runner.invoke(app, ["resume", str(out)])
    assert res2.exit_code == 0, res2.output
    assert json.loads((out / "summary.json").read_text(encoding="utf-8")) == summary  # already finished: same result


def test_cli_bad_size_and_scenario(tmp_path):
    runner = CliRunner()
    res = runner.invoke(app, ["run", "hcc-gpc3-car", "--size", "40by40", "--out", str(tmp_path / "x")])
    assert res.exit_code != 0 and "--size" in str(res.exception)
    res = runner.invoke(app, ["run", "no-such", "--out", str(tmp_path / "y")])
    assert res.exit_code != 0 and "scenario" in str(res.exception)


def test_lesion_ode_with_coarse_parameters_tracks_abm():
    from nksim.spatial import Simulation
    from nksim.spatial.coarse import coarse_grain, condition_spec, lesion_ode
    from nksim.spatial.model import RECORD_NAMES as R
    from nksim.spec.spatial import load_spatial_spec

    grid = {"tgfb_ng_ml": (2.0,), "o2_consumption_scale": (1.0,), "antigen_fraction": (0.76,),
            "armoring": (("none", False, None),)}
    params = coarse_grain(grid=grid, seeds=range(3), days=2.0, size=50).iloc[0].to_dict()
    base = load_spatial_spec("hcc-gpc3-car").with_updates(**{"tissue.size": (50, 50)})
    spec = condition_spec(base, 2.0, 1.0, 0.76, "none", False, None)
    sims = [Simulation.create(spec, seed=20 + s, days=2.0).run() for s in range(4)]  # held-out seeds
    rec = np.mean([np.array(s.records) for s in sims], axis=0)
    ode = lesion_ode(params, sims[0], rec[:, 0])
    abm_kills = rec[-1, R.index("kills_nat")] + rec[-1, R.index("kills_car")]
    assert abm_kills > 10
    assert abs(ode["kills"][-1] - abm_kills) < 0.35 * abm_kills
    abm_tumor = rec[-1, R.index("tumor_antigen_pos")] + rec[-1, R.index("tumor_antigen_neg")]
    assert abs(ode["tumor"][-1] - abm_tumor) < 0.05 * abm_tumor
