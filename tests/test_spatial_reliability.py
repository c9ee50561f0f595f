"""ABM reliability (issue 16 item 5): the same seed gives identical fields and agents; a checkpoint at any tumor step
resumes to exactly the uninterrupted run; a killed `nksim abm run` resumes from its last checkpoint; damaged
checkpoints and bad spatial specs get one clear error."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from nksim.errors import InputError
from nksim.spatial import Simulation
from nksim.spec.spatial import load_spatial_spec

ARRAYS = ("cell", "ag", "engaged", "nk_occ", "F", "counters", "kill_hist")


def _spec(**extra):
    return load_spatial_spec("hcc-gpc3-car").with_updates(**{
        "tissue.size": (32, 32), "nk.initial_nk": 40, "nk.blood_nk_per_ul": (40.0,), "nk.blood_times_d": (0.0,),
        "product.il15": "secreted", "time.snapshots": 3, **extra})


def _assert_same(a: Simulation, b: Simulation) -> None:
    assert a.scalars == b.scalars
    assert np.array_equal(np.array(a.records), np.array(b.records))
    for k in ARRAYS:
        assert np.array_equal(a.arrays[k], b.arrays[k]), k
    pa, pb = a.per_nk(), b.per_nk()
    assert pa.keys() == pb.keys()
    for k in pa:
        assert np.array_equal(pa[k], pb[k]), k
    assert len(a.frames) == len(b.frames) and all(np.array_equal(x, y) for x, y in zip(a.frames, b.frames))
    assert a.frame_times == b.frame_times and a.depth_times == b.depth_times
    assert all(np.array_equal(x, y) for x, y in zip(a.depth_profiles, b.depth_profiles))


def test_same_seed_twice_gives_identical_fields_and_agents():
    spec = _spec()
    a = Simulation.create(spec, seed=11, days=0.25).run()
    b = Simulation.create(spec, seed=11, days=0.25).run()
    _assert_same(a, b)
    assert a.scalars["n_nk"] > 0 and a.arrays["counters"].sum() > 0  # something happened to compare


def test_checkpoint_at_any_step_resumes_to_the_uninterrupted_run(tmp_path):
    spec = _spec()
    full = Simulation.create(spec, seed=4, days=0.25).run()
    n_t = full.scalars["tstep"]
    assert n_t >= 5
    for k in range(0, n_t + 1):  # before the first step, at each step, after the last
        part = Simulation.create(spec, seed=4, days=0.25)
        if k:
            part.run(stop_after_tsteps=k)
        ck = tmp_path / f"c{k}.npz"
        part.save_checkpoint(ck)
        resumed = Simulation.resume(ck)
        if k == 2:  # a chain: resume, stop again, checkpoint again, resume
            resumed.run(stop_after_tsteps=1)
            resumed.save_checkpoint(ck)
            resumed = Simulation.resume(ck)
        _assert_same(full, resumed.run())


def _abm(*args: str, cwd: Path) -> list[str]:
    return [sys.executable, "-m", "nksim.cli", "abm", *args]


def _checkpoint_step(path: Path) -> int:
    try:
        with np.load(path) as z:
            return int(z["scalars"][3])
    except Exception:  # noqa: BLE001 - being written right now
        return -1


@pytest.mark.slow
@pytest.mark.parametrize("how", ["resume", "rerun"])
def test_killed_abm_run_resumes_from_its_last_checkpoint(tmp_path, how):
    out = tmp_path / "run"
    args = ["run", "hcc-gpc3-car", "--size", "24x24", "--days", "12", "--seed", "2", "--checkpoint-every", "1",
            "--out", str(out)]
    env = dict(os.environ, PYTHONPATH=str(Path(__file__).parents[1] / "src"))
    proc = subprocess.Popen(_abm(*args, cwd=tmp_path), cwd=tmp_path, env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE)
    ck = out / "checkpoint.npz"
    deadline = time.monotonic() + 600
    while _checkpoint_step(ck) < 5 and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.wait(60)
    step = _checkpoint_step(ck)
    total = 12 * 24
    assert 5 <= step < total, f"killed at tumor step {step} of {total} (the run should still have been going)"
    assert not (out / "results.nc").exists()
    again = ["resume", str(out)] if how == "resume" else args
    done = subprocess.run(_abm(*again, cwd=tmp_path), cwd=tmp_path, env=env, capture_output=True, encoding="utf-8",
                          errors="replace", timeout=600)
    assert done.returncode == 0, done.stderr
    if how == "rerun":
        assert "resuming" in done.stdout
    import xarray as xr

    spec = load_spatial_spec("hcc-gpc3-car").with_updates(**{"tissue.size": (24, 24), "tissue.dims": 2})
    ref = Simulation.create(spec, seed=2, days=12).run().dataset()
    got = xr.load_dataset(out / "results.nc")
    for name in ref.data_vars:
        assert np.array_equal(ref[name].values, got[name].values), name


def test_rerun_into_a_folder_of_another_run_is_refused_and_damaged_checkpoints_are_said(tmp_path):
    from nksim.spatial.cli import app

    out = tmp_path / "run"
    base = ["run", "hcc-gpc3-car", "--size", "16x16", "--days", "0.1", "--out", str(out)]
    runner = CliRunner()
    assert runner.invoke(app, base + ["--seed", "1"]).exit_code == 0
    r = runner.invoke(app, base + ["--seed", "2"])
    assert isinstance(r.exception, InputError) and "differs in ['seed']" in str(r.exception)
    ck = out / "checkpoint.npz"
    ck.write_bytes(ck.read_bytes()[:200])
    r = runner.invoke(app, ["resume", str(out)])
    assert isinstance(r.exception, InputError) and "damaged" in str(r.exception) and "checkpoint.npz" in str(
        r.exception)
    r = runner.invoke(app, base + ["--seed", "1"])  # a damaged checkpoint of this run: said, and started over
    assert r.exit_code == 0 and "damaged" in r.output and "starting over" in r.output
    assert Simulation.resume(ck).scalars["tstep"] > 0


@pytest.mark.parametrize("changes, field, words", [
    ({"time.dt_nk_min": 1e-6}, "time.dt_nk_min", ">= 0.01"),
    ({"time.days": 1e6}, "time.days", "<= 365"),
    ({"time.dt_tumor_min": 65.0}, "time.dt_tumor_min", "a whole multiple of dt_field_min = 10"),
    ({"time.snapshots": 10**9}, "time.snapshots", "<= 1000"),
    ({"tissue.size": (100000, 100000)}, "tissue.size", "GB"),
    ({"tissue.size": (40, 40, 40)}, "tissue.size", "2 entries (tissue.dims = 2)"),
    ({"nk.initial_nk": 10**12}, "nk.initial_nk", "one per voxel"),
    ({"nk.blood_nk_per_ul": (1.0, 2.0)}, "nk.blood_nk_per_ul", "one level per day of blood_times_d"),
    ({"nk.blood_times_d": (3.0, 0.0, 10.0), "nk.blood_nk_per_ul": (1.0, 2.0, 3.0)}, "nk.blood_times_d",
     "increasing order"),
    ({"nk.blood_nk_per_ul": (-1.0, 2.0), "nk.blood_times_d": (0.0, 1.0)}, "nk.blood_nk_per_ul.0", ">= 0"),
    ({"tissue.vessel_density_per_mm2": float("inf")}, "tissue.vessel_density_per_mm2", "finite"),
    ({"product.car_targets": ("GPC4",)}, "product.car_targets", "GPC3"),
])
def test_bad_spatial_specs_get_clear_errors(changes, field, words):
    with pytest.raises(InputError) as exc:
        _spec(**changes)
    text = str(exc.value)
    assert f"{field}" in text and words in text, text
    assert "Value error" not in text and "Input should" not in text and "Traceback" not in text


def test_cli_days_beyond_the_limit_is_refused(tmp_path):
    with pytest.raises(InputError, match="days"):
        Simulation.create(_spec(), days=1e9)
