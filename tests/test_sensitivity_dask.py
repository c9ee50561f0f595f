"""Sensitivity analysis with chunks of samples on a Dask LocalCluster of 2 worker processes: the same numbers as in
one process, whatever the chunking; bad --workers/--scheduler input is exit 3 naming the option."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from nksim.sensitivity import run_sensitivity

distributed = pytest.importorskip("distributed")

SC = "hcc-gpc3-car-nk-il15"
KW = dict(params="k_car,f_blood,antigen_fraction_GPC3", outputs="orr,pfs_median,peak_cells", n=4, patients=6, seed=3,
          plots=False)


@pytest.fixture(scope="module")
def client():
    from nksim.scaleout import local_cluster

    with local_cluster(2, silence_logs=50) as c:
        yield c


def test_two_workers_equal_one_process(client, tmp_path):
    one = run_sensitivity(SC, **KW)  # one process, one chunk
    seen: list[tuple[int, int]] = []
    two = run_sensitivity(SC, **KW, scheduler=client, chunk_samples=3, out=tmp_path / "run",
                          progress=lambda k, m: seen.append((k, m)))
    assert one.timings["dask_workers"] == 0 and two.timings["dask_workers"] == 2
    assert one.provenance["engine_path"] == "resample"  # patients of a chunk drawn in one call: chunking-free
    np.testing.assert_array_equal(two.Y, one.Y)
    pd.testing.assert_frame_equal(two.indices, one.indices)
    assert two.baseline == one.baseline and two.swing == one.swing
    assert seen[-1] == (20, 20) and len(seen) == 1 + 7  # nothing read back, then 7 chunks of 3 as they arrive
    assert len(list((tmp_path / "run" / "chunks").glob("design_*.npy"))) == 7
    again = run_sensitivity(SC, **KW, out=tmp_path / "run", chunk_samples=3)  # resumed here from the workers' chunks
    assert again.timings["samples_resumed"] == 20 + 7 and again.timings["samples_evaluated"] == 0
    np.testing.assert_array_equal(again.Y, one.Y)


@pytest.mark.parametrize("args, field", [
    (["--workers", "0"], "--workers"),
    (["--workers", "2", "--scheduler", "tcp://127.0.0.1:9"], "--workers"),
])
def test_cli_bad_workers_or_scheduler_exit_3(args, field, tmp_path):
    proc = subprocess.run([sys.executable, "-m", "nksim", "sensitivity", SC, "--params", "k_car,f_blood", "--outputs",
                           "peak_cells", "--n", "2", "--out", str(tmp_path / "s"), "--no-plots", *args],
                          capture_output=True, encoding="utf-8", errors="replace")
    assert proc.returncode == 3, proc.stderr
    assert field in proc.stderr and "Traceback" not in proc.stderr
    assert not (tmp_path / "s").exists()  # refused before any work


def test_unreachable_scheduler_is_a_clear_input_error(monkeypatch):
    from nksim.errors import InputError

    monkeypatch.setattr("nksim.scaleout.CONNECT_TIMEOUT", "1s")
    with pytest.raises(InputError, match="--scheduler = 'tcp://127.0.0.1:9' .* running Dask scheduler"):
        run_sensitivity(SC, params="k_car,f_blood", outputs="peak_cells", n=2, plots=False,
                        scheduler="tcp://127.0.0.1:9")
