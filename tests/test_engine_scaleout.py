"""Chunks on a Dask LocalCluster of 2 worker processes: the same bits as one process, and a worker that dies
mid-run costs only its chunk."""

from __future__ import annotations

import sys

import cloudpickle
import pandas as pd
import pytest
import xarray as xr
from conftest import small

from nksim.engine import simulate
from nksim.io.run_folder import RunFolder

distributed = pytest.importorskip("distributed")


class DieOnce(distributed.WorkerPlugin):
    """In each worker process: log every chunk computed (one file per computation) and make the worker process
    exit abruptly the first time chunk 1 starts (a lost worker, as when a node dies)."""

    def __init__(self, folder: str) -> None:
        self.folder = folder

    def setup(self, worker) -> None:
        import os
        import uuid
        from pathlib import Path

        import nksim.engine as engine

        real, folder = engine.compute_chunk, Path(self.folder)

        def compute_chunk(scenario, ids, overrides, backend, outputs=None):
            (folder / f"chunk{int(ids[0])}-{uuid.uuid4().hex}").touch()
            marker = folder / "died"
            if int(ids[0]) == 2 and not marker.exists():
                marker.touch()
                os._exit(1)
            return real(scenario, ids, overrides, backend, outputs)

        engine.compute_chunk = compute_chunk


cloudpickle.register_pickle_by_value(sys.modules[__name__])  # workers cannot import this test module


@pytest.fixture(scope="module")
def client():
    from nksim.scaleout import local_cluster

    with local_cluster(2, silence_logs=50) as c:
        yield c


def test_two_workers_equal_one_process_and_survive_a_lost_worker(client, tmp_path):
    sc = small("hcc-post-lt-allo-nk", n=6, horizon=30.0)
    one = simulate(sc, chunk_size=2)
    client.register_plugin(DieOnce(str(tmp_path)))
    seen: list[tuple[int, int]] = []
    res = simulate(sc, chunk_size=2, scheduler=client, progress=lambda k, m: seen.append((k, m)),
                   sink=RunFolder(tmp_path / "run"))
    xr.testing.assert_identical(res.trajectories.load().drop_attrs(), one.trajectories.drop_attrs())
    pd.testing.assert_frame_equal(res.patients.astype(str), one.patients.astype(str))
    assert (tmp_path / "died").exists()  # a worker was lost while computing chunk 1
    runs = {k: len(list(tmp_path.glob(f"chunk{2 * k}-*"))) for k in range(3)}
    assert runs[1] == 2 and runs[0] <= 2 and runs[2] <= 2, runs  # chunk 1 ran again; the others at most once more
    assert [k for k, _ in seen] == [1, 2, 3] and seen[-1][1] == 6  # progress across workers


def test_an_unreachable_scheduler_is_a_clear_input_error(monkeypatch):
    from nksim.errors import InputError

    monkeypatch.setattr("nksim.scaleout.CONNECT_TIMEOUT", "1s")
    sc = small("hcc-post-lt-allo-nk", n=2, horizon=20.0)
    with pytest.raises(InputError, match="--scheduler = 'tcp://127.0.0.1:9' .* running Dask scheduler"):
        simulate(sc, scheduler="tcp://127.0.0.1:9")


def test_overlapped_chunks_come_in_order_and_fail_loudly():
    """In one process, overlap=True runs the next chunk on a second thread: results in job order, the same as one at
    a time, and a failing chunk raises its own error."""
    import time

    from nksim.scaleout import run_jobs

    def fn(k, delay):
        time.sleep(delay)
        if k == 3:
            raise ValueError("chunk 3 failed")
        return k, k * k

    jobs = {k: (k, 0.02 * (4 - k)) for k in range(3)}  # later chunks finish first
    plain = list(run_jobs(fn, jobs, lambda a, b: (a, b)))
    assert list(run_jobs(fn, jobs, lambda a, b: (a, b), overlap=True)) == plain == [(k, (k, k * k)) for k in range(3)]
    assert list(run_jobs(fn, jobs, lambda a, b: (a, b), overlap=3)) == plain  # three in flight (outputs="summary")
    for depth in (True, 3):
        with pytest.raises(ValueError, match="chunk 3"):
            list(run_jobs(fn, {**jobs, 3: (3, 0.0), 4: (4, 0.0)}, lambda a, b: (a, b), overlap=depth))


def test_overlapping_chunks_take_turns_at_the_kernel(monkeypatch):
    """Threads inside ``kernel_turns`` (the overlapped chunks of one process) solve one at a time; outside, they do
    not wait for each other."""
    import threading
    import time

    from nksim.kinetics import solver

    inside, peak = [0], {True: 0, False: 0}
    lock = threading.Lock()
    mode = [True]

    def fake_solve(*args, **kwargs):
        with lock:
            inside[0] += 1
            peak[mode[0]] = max(peak[mode[0]], inside[0])
        time.sleep(0.02)
        with lock:
            inside[0] -= 1
        return None, None, None, None

    monkeypatch.setattr(solver, "solve", fake_solve)
    monkeypatch.setattr(solver, "compiled", lambda *a, **k: None)

    def work(turns: bool) -> None:
        for _ in range(3):
            if turns:
                with solver.kernel_turns():
                    solver.solve_batch(*[None] * 14)
            else:
                solver.solve_batch(*[None] * 14)

    for turns in (True, False):
        mode[0] = turns
        threads = [threading.Thread(target=work, args=(turns,)) for _ in range(3)]
        for th in threads:
            th.start()
        for th in threads:
            th.join()
    assert peak[True] == 1
    assert peak[False] >= 2
