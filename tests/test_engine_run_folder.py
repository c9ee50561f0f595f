"""`nksim run`: run folder contents, resume after interruption, report."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pandas as pd
from conftest import small

from nksim.io.run_folder import open_trajectories
from nksim.runner import run_scenario


def test_run_folder_and_resume(tmp_path):
    sc = small("hcc-post-lt-allo-nk", n=5, horizon=40.0)
    out = tmp_path / "run"
    res, report = run_scenario(sc, out, chunk_size=2, show_progress=False)
    for f in ("scenario.yaml", "provenance.json", "run_key.json", "trajectories/part-00002.zarr.zip", "patients.parquet",
              "report.html"):
        assert (out / f).exists(), f
    prov = json.loads((out / "provenance.json").read_text(encoding="utf-8"))
    assert prov["seed"] == sc.simulation.seed and prov["chunks"] == 3 and prov["chunks_resumed"] == 0
    html = report.read_text(encoding="utf-8")
    assert html.count("data:image/png;base64") >= 4 and "<script src" not in html
    first = open_trajectories(out).load()
    # simulate an interruption: the last chunk is lost; re-running resumes and gives the same numbers
    (out / "chunks" / "part-00002.json").unlink()
    res2, _ = run_scenario(sc, out, chunk_size=2, show_progress=False)
    prov2 = json.loads((out / "provenance.json").read_text(encoding="utf-8"))
    assert prov2["chunks_resumed"] == 2
    second = open_trajectories(out)
    np.testing.assert_array_equal(first.viable_cells.values, second.viable_cells.values)
    pts = pd.read_parquet(out / "patients.parquet")
    assert list(pts.index) == [0, 1, 2, 3, 4]


def test_run_refuses_to_mix_runs(tmp_path):
    sc = small("hcc-post-lt-allo-nk", n=2, horizon=20.0)
    out = tmp_path / "run"
    run_scenario(sc, out, chunk_size=2, show_progress=False)
    proc = subprocess.run([sys.executable, "-m", "nksim.cli", "run", "hcc-post-lt-allo-nk", "-n", "3", "--out", str(out)],
                          capture_output=True, encoding="utf-8", errors="replace")
    assert proc.returncode == 3 and "--out" in proc.stderr and "Traceback" not in proc.stderr  # invalid input
