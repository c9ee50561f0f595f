"""The run-folder sink: compressed chunk files, lazy trajectories, resume after a kill, damaged state recomputed."""

from __future__ import annotations

import json
from pathlib import Path

import dask.array as da
import numpy as np
import pandas as pd
import pytest
import xarray as xr
from conftest import small

from nksim.engine import simulate
from nksim.errors import EXIT_INPUT
from nksim.io.run_folder import RunFolder, open_patients, open_trajectories


@pytest.fixture(scope="module")
def scenario():
    return small("hcc-post-lt-allo-nk", n=5, horizon=40.0)


@pytest.fixture(scope="module")
def reference(scenario):
    """The in-memory run every folder run must equal."""
    return simulate(scenario, chunk_size=2)


def _run(sc, out, log=None):
    msgs: list[str] = [] if log is None else log
    return simulate(sc, chunk_size=2, sink=RunFolder(out, msgs.append)), msgs


def _same(res, reference):
    xr.testing.assert_equal(res.trajectories.load(), reference.trajectories)  # values, coords (attrs aside)
    pd.testing.assert_frame_equal(res.patients.astype(str), reference.patients.astype(str))


def test_folder_run_is_lazy_compressed_and_equals_memory(scenario, reference, tmp_path):
    out = tmp_path / "run"
    res, msgs = _run(scenario, out)
    assert msgs == [] and res.provenance["chunks"] == 3 and res.provenance["chunks_resumed"] == 0
    assert isinstance(res.trajectories["viable_cells"].data, da.Array)  # nothing read yet
    assert set(reference.trajectories.data_vars) == set(res.trajectories.data_vars)
    parts = sorted((out / "trajectories").iterdir())
    assert [p.name for p in parts] == [f"part-0000{k}.zarr.zip" for k in range(3)]
    from nksim.io.zarr_zip import read_metadata

    meta = read_metadata(str(parts[0]))
    for v in ("viable_cells", "nk_blood_per_ul"):  # compressed losslessly (delta, blosc-zstd), one zarr chunk per
        assert meta[f"{v}/.zarray"]["compressor"]["cname"] == "zstd"  # run chunk
        assert meta[f"{v}/.zarray"]["filters"] == [{"id": "delta", "dtype": "<i8", "astype": "<i8"}]
        assert res.trajectories[v].data.chunks[0] == (2, 2, 1)
    # single lesion, single antigen class: the three tumor variables hold the same numbers, stored once under
    # their own names (an attribute names the copy; no data chunk)
    for v in ("tumor_class_cells", "tumor_viable_total"):
        assert meta[f"{v}/.zattrs"]["nksim_copy_of"] == "viable_cells"
        with __import__("zipfile").ZipFile(parts[0]) as zf:
            assert not [n for n in zf.namelist() if n.startswith(f"{v}/") and not n.split("/")[1].startswith(".")]
        assert "nksim_copy_of" not in res.trajectories[v].attrs
    _same(res, reference)
    # one copy of the data: no merged file, no temporary files left
    assert not (out / "trajectories.nc").exists() and not list(out.rglob(".*.tmp"))
    xr.testing.assert_equal(open_trajectories(out).load(), reference.trajectories)
    assert open_trajectories(out)["time"].attrs["standard_name"] == "time"  # CF-style
    tidy = open_patients(out)
    assert list(tidy.index) == list(range(5)) and (out / "scans.parquet").is_file()
    np.testing.assert_array_equal(tidy["pfs_days"], reference.patients["pfs_days"])


def test_interrupted_run_resumes_with_the_same_numbers(scenario, reference, tmp_path):
    out = tmp_path / "run"

    class Killed(RunFolder):
        def store(self, k, payload):
            if k == 1:
                raise KeyboardInterrupt  # the run dies while chunk 1 is being written
            super().store(k, payload)

    with pytest.raises(KeyboardInterrupt):
        simulate(scenario, chunk_size=2, sink=Killed(out))
    res, msgs = _run(scenario, out)
    assert res.provenance["chunks_resumed"] == 1 and msgs == []
    _same(res, reference)


@pytest.mark.parametrize("damage, words", [
    (lambda out: _truncate(out / "trajectories" / "part-00001.zarr.zip"), "truncated"),
    (lambda out: (out / "chunks" / "part-00001.json").write_text("{\"chunk\": 1, ", encoding="utf-8"), "record"),
    (lambda out: (out / "trajectories" / "part-00001.zarr.zip").unlink(), "missing"),
])
def test_a_damaged_chunk_is_recomputed_and_reported(scenario, reference, tmp_path, damage, words):
    out = tmp_path / "run"
    _run(scenario, out)
    damage(out)
    res, msgs = _run(scenario, out)
    assert len(msgs) == 1 and msgs[0].startswith("chunk 1 (patients 2-3)") and words in msgs[0], msgs
    assert res.provenance["chunks_resumed"] == 2 and res.provenance["chunks_recomputed"] == [1]
    _same(res, reference)
    assert _run(scenario, out)[1] == []  # repaired: a third run finds nothing wrong


def test_a_damaged_run_key_is_reported_and_chunks_checked_on_their_own(scenario, reference, tmp_path):
    out = tmp_path / "run"
    _run(scenario, out)
    (out / "run_key.json").write_bytes(b"\x00\xff{not json")
    res, msgs = _run(scenario, out)
    assert len(msgs) == 1 and "run_key.json is damaged" in msgs[0]
    assert res.provenance["chunks_resumed"] == 3  # each chunk's record carries the settings it was computed with
    _same(res, reference)
    assert json.loads((out / "run_key.json").read_text(encoding="utf-8"))["chunk_size"] == 2


def test_chunks_of_other_settings_are_refused_or_recomputed(scenario, reference, tmp_path):
    out = tmp_path / "run"
    _run(scenario, out)
    other = scenario.replace({"simulation.seed": scenario.simulation.seed + 1})
    with pytest.raises(Exception, match="differs in \\['scenario'\\]"):
        _run(other, out)
    (out / "run_key.json").write_text("garbage", encoding="utf-8")  # the key is lost: every chunk is checked against its record
    res, msgs = _run(other, out)
    assert res.provenance["chunks_recomputed"] == [0, 1, 2] and all("other run settings" in m for m in msgs[1:])
    assert not np.array_equal(res.trajectories["viable_cells"].values, reference.trajectories["viable_cells"].values)


def test_run_folder_errors_exit_3_without_traceback(tmp_path, monkeypatch, capsys):
    import nksim.cli as cli

    blocked = tmp_path / "blocked"
    (blocked / "trajectories").parent.mkdir()
    (blocked / "trajectories").write_text("a file where the chunk folder goes", encoding="utf-8")
    f = tmp_path / "file.txt"
    f.write_text("x", encoding="utf-8")
    for out, words in ((f, "existing file"), (f / "below", "is a file"), (Path("/proc/nksim-no/run"), "created"),
                       (blocked, "should be a folder")):
        monkeypatch.setattr("sys.argv", ["nksim", "run", "hcc-post-lt-allo-nk", "-n", "2", "--out", str(out)])
        with pytest.raises(SystemExit) as exc:
            cli.main()
        err = capsys.readouterr().err
        assert exc.value.code == EXIT_INPUT and "--out" in err and words in err and "Traceback" not in err, err


def _truncate(path):
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


def _flip(path):
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))


def test_zarr_zip_round_trip_is_identical(tmp_path):
    """The hand-written Zarr v2 store reads back identically with zarr/xarray (lesions, antigen classes, doses)."""
    import zarr

    from nksim.io.zarr_zip import dataset_to_zarr_zip, open_zarr_zips, restore_copies

    ds = simulate(small("hcc-gpc3-car-nk-il15", n=3, horizon=30.0)).trajectories
    ds.attrs.clear()
    ds["time"].attrs["note"] = np.float64(1.5)
    ds["copy_of_wbc"] = ds["wbc_per_ul"].expand_dims(extra=1, axis=2).copy()  # an exact copy of another shape
    ds["almost"] = ds["wbc_per_ul"].copy()
    ds["almost"][1, 3] = np.nextafter(ds["almost"][1, 3].item(), np.inf)  # one bit differs: stored on its own
    ds["flag"] = ds["wbc_per_ul"] > 0  # other dtypes are not delta-filtered
    path = tmp_path / "x.zarr.zip"
    path.write_bytes(dataset_to_zarr_zip(ds))
    back = xr.open_zarr(zarr.storage.ZipStore(path, mode="r", read_only=True), consolidated=True, zarr_format=2)
    assert back["copy_of_wbc"].attrs["nksim_copy_of"] == "wbc_per_ul" and "nksim_copy_of" not in back["almost"].attrs
    assert back.sizes["lesion"] > 1 and back.sizes["antigen_class"] > 1
    xr.testing.assert_identical(restore_copies(back).load(), ds)  # zarr-python decodes the delta filter itself
    xr.testing.assert_identical(open_zarr_zips([str(path)], "patient").load(), ds)


def test_lazy_join_of_chunk_stores_equals_xarray_concat(scenario, tmp_path):
    """open_trajectories' own join of the chunk stores (one dask task per chunk and variable) is identical to
    opening each with zarr/xarray and concatenating; stores that differ in more than their patients are left to
    xarray."""
    import zarr

    from nksim.io.sinks import concat_chunks
    from nksim.io.zarr_zip import dataset_to_zarr_zip, open_zarr_zips

    out = tmp_path / "run"
    _run(scenario, out)
    parts = sorted(str(p) for p in (out / "trajectories").iterdir())
    fast = open_zarr_zips(parts, "patient")
    from nksim.io.zarr_zip import restore_copies

    slow = concat_chunks([restore_copies(xr.open_zarr(zarr.storage.ZipStore(p, mode="r", read_only=True),
                                                      consolidated=True, zarr_format=2)) for p in parts])
    assert fast["viable_cells"].data.chunks[0] == (2, 2, 1)
    xr.testing.assert_identical(fast.load(), slow.load())
    a = xr.Dataset({"x": (("patient", "dose"), np.ones((2, 3)))}, coords={"patient": [0, 1]})
    b = xr.Dataset({"x": (("patient", "dose"), np.ones((1, 4)))}, coords={"patient": [2]})
    for name, ds in (("a", a), ("b", b)):
        (tmp_path / f"{name}.zip").write_bytes(dataset_to_zarr_zip(ds))
    assert open_zarr_zips([str(tmp_path / "a.zip"), str(tmp_path / "b.zip")], "patient") is None


def test_in_memory_join_equals_xr_concat(scenario, reference):
    """simulate's in-memory sink joins chunks variable by variable (dropping each chunk's copy as it goes): the
    same Dataset as xr.concat of the chunks simulated one by one."""
    parts = [simulate(scenario, patient_ids=np.arange(i, min(5, i + 2))).trajectories for i in (0, 2, 4)]
    joined = xr.concat(parts, dim="patient", data_vars="minimal", coords="minimal", compat="override", join="outer")
    xr.testing.assert_identical(reference.trajectories.drop_attrs(), joined.drop_attrs())


def test_the_writer_thread_overlaps_and_its_errors_reach_the_caller(scenario, tmp_path):
    """In this process the chunks are compressed and written by the sink's writer thread; a write that fails
    fails the run (not silently lost), and a sink sent to a Dask worker encodes there (no thread in the copy)."""
    import cloudpickle  # what distributed sends tasks with

    class Failing(RunFolder):
        def _write(self, k, payload):
            if k == 1:
                raise OSError("disk full")
            super()._write(k, payload)

    with pytest.raises(OSError, match="disk full"):
        simulate(scenario, chunk_size=2, sink=Failing(tmp_path / "run"))
    sink = RunFolder(tmp_path / "other")
    sink.open({"k": 1}, [np.arange(2)])
    ds = xr.Dataset({"x": (("patient", "time"), np.ones((2, 3)))}, coords={"patient": [0, 1]})
    assert type(sink.encode(ds, pd.DataFrame({"a": [1, 2]}))).__name__ == "_Raw"  # encoded by the writer thread
    on_worker = cloudpickle.loads(cloudpickle.dumps(sink))
    nc, pq = on_worker.encode(ds, pd.DataFrame({"a": [1, 2]}))
    assert isinstance(nc, bytes) and isinstance(pq, bytes)
    sink.close()


def test_a_completed_run_keeps_one_copy_of_the_patient_rows_and_still_resumes(scenario, reference, tmp_path):
    """After the run the chunk tables are gone (their rows are in patients.parquet, recorded in chunks/
    complete.json); rerunning resumes every chunk from it; a damaged patients.parquet is said once and the chunks
    are computed again; a damaged chunk table of an unfinished run is found by its checksum."""
    out = tmp_path / "run"
    _run(scenario, out)
    assert not list((out / "chunks").glob("patients-*.parquet")) and (out / "chunks" / "complete.json").is_file()
    res, msgs = _run(scenario, out)
    assert msgs == [] and res.provenance["chunks_resumed"] == 3
    _same(res, reference)
    _flip(out / "patients.parquet")
    res, msgs = _run(scenario, out)
    assert len(msgs) == 1 and "patients.parquet" in msgs[0] and res.provenance["chunks_resumed"] == 0, msgs
    _same(res, reference)
    assert _run(scenario, out)[1] == []

    class Killed(RunFolder):
        def store(self, k, payload):
            if k == 2:
                raise KeyboardInterrupt
            super().store(k, payload)

    other = tmp_path / "unfinished"
    with pytest.raises(KeyboardInterrupt):
        simulate(scenario, chunk_size=2, sink=Killed(other))
    from nksim.io.run_folder import wait_for_writes

    wait_for_writes(other)  # chunk 1 may still be on its way to disk (the writer thread finishes it)
    _flip(other / "chunks" / "patients-00001.parquet")
    res, msgs = _run(scenario, other)
    assert len(msgs) == 1 and msgs[0].startswith("chunk 1 (patients 2-3)") and "checksum" in msgs[0], msgs
    _same(res, reference)
