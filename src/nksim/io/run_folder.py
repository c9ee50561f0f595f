"""Run folders: the on-disk chunk sink of ``simulate`` / ``nksim run``; resumable and self-checking.

Layout of ``OUT``::

    scenario.yaml                     resolved scenario (every default filled in)
    run_key.json                      the settings that fix the numbers (a rerun with other settings is refused)
    provenance.json                   version, seed, registry hash, backend, chunking, timings
    trajectories/part-00000.zarr.zip ...   one Zarr store (zipped; delta + blosc-zstd, lossless; a variable that is
                                      an exact copy of another stored once, ``nksim.io.zarr_zip``) per chunk
    patients.parquet                  one row per patient (responses as ordered categoricals, units in the metadata)
    scans.parquet                     one row per patient and scan (``nksim.io.tidy``)
    chunks/patients-00000.parquet ... each chunk's rows of the patient table until the run completes
    chunks/part-00000.json ...        completion record of each chunk: size and SHA-256 of its two files
    chunks/complete.json              the finished run: size and SHA-256 of patients.parquet, which then holds
                                      every chunk's rows (the chunk tables are deleted: no second copy)
    report.html

Every file is written to a hidden temporary name and renamed when complete; a chunk's record is written last, so a
chunk counts as done only when both files are whole. In a run in this process, a chunk is compressed and written by
a writer thread while the next chunk is simulated (at most ``WRITE_AHEAD`` chunks wait for it, so memory stays
O(chunk)); on a Dask cluster the workers compress and the writer thread only writes. On a rerun each finished chunk is checked against its record
(present, same size, same checksum, same run settings); a damaged chunk is computed again and the run says so.
``open_trajectories(OUT)`` opens all chunks as one lazy (dask-backed) Dataset; nothing is copied into a second file.
"""

from __future__ import annotations

import io
import json
import threading
import warnings
from concurrent.futures import Future, ThreadPoolExecutor, wait
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import pandas as pd
import xarray as xr

from nksim.errors import InputError
from nksim.io.atomic import TMP_SUFFIX, file_digest, json_digest, write_bytes_atomic, write_json_atomic
from nksim.io.sinks import Log, attrs_safe, concat_chunks

TRAJ_DIR = "trajectories"
PATIENTS = "patients.parquet"
RECORD_DIR = "chunks"
RUN_KEY = "run_key.json"
COMPLETE = "complete.json"  # in RECORD_DIR: written when the run's patients.parquet is whole
LEGACY_TRAJ = "trajectories.nc"  # the single-file layout of earlier versions (still opened by open_trajectories)
TRAJ_SUFFIX = ".zarr.zip"  # Zarr v2 in a zip (delta + blosc-zstd; NetCDF4/zlib is as small, but h5netcdf ~0.25 s per
# file of ~55 variables to open, Zarr ~0.03 s)


WRITE_AHEAD = 2  # chunks that may wait for the writer thread before the run waits for it
_WRITES: dict[Path, list[Future]] = {}  # writes still under way, per run folder (a new sink on it waits for them)
_WRITES_LOCK = threading.Lock()


class _Raw(NamedTuple):
    """A chunk not yet encoded (the writer thread of the driving process encodes it)."""
    ds: xr.Dataset
    table: pd.DataFrame


class ResumeWarning(UserWarning):
    """A run folder held damaged or foreign state that was recomputed."""


def write_json(path: Path, data: dict[str, Any]) -> None:
    """Small metadata files: temp-then-rename (kept under this name for callers)."""
    write_json_atomic(path, data)


def parquet_safe(df: pd.DataFrame) -> pd.DataFrame:
    out = df.copy()
    for c in out.columns:
        if out[c].dtype == object:
            out[c] = out[c].astype(str)
    return out


def part_name(k: int) -> str:
    return f"part-{k:05d}"


def encode_chunk(ds: xr.Dataset, table: pd.DataFrame) -> tuple[bytes, bytes]:
    """A chunk as file contents: a zipped Zarr store (``nksim.io.zarr_zip``; CF-style time attributes) and
    Parquet."""
    from nksim.io.tidy import time_attrs
    from nksim.io.zarr_zip import dataset_to_zarr_zip

    if "time" in ds.coords:
        ds = ds.assign_coords(time=ds["time"].copy().assign_attrs(time_attrs()))
    table_buf = io.BytesIO()
    parquet_safe(table).to_parquet(table_buf)
    return dataset_to_zarr_zip(ds), table_buf.getvalue()


class RunFolder:
    """The chunk sink of a run folder (see the module docstring). ``log`` receives one line per damaged chunk or
    file found on resume (default: a ``ResumeWarning``)."""

    OVERLAP_OK = True  # encode may run on the thread that computed the chunk (it only wraps it for the writer)

    def __init__(self, out: Path, log: Log | None = None) -> None:
        self.out = Path(out)
        self.log = log or (lambda msg: warnings.warn(msg, ResumeWarning, stacklevel=3))
        self.key_sha = ""
        self.chunks: list[np.ndarray] = []
        self.resumed = 0
        self.recomputed: list[int] = []
        self.rows_in_patients = False  # a completed run: the chunks' rows are in patients.parquet
        self.complete_damaged = False  # a completed run whose patients.parquet no longer matches its record
        self._writer: ThreadPoolExecutor | None = None
        self._pending: list[Future] = []

    def __getstate__(self) -> dict[str, Any]:
        """Sent to Dask workers (for ``encode``) without the writer thread: a worker encodes in place."""
        return {**self.__dict__, "_writer": None, "_pending": []}

    # ------------------------------------------------------------------ paths
    def traj_path(self, k: int) -> Path:
        return self.out / TRAJ_DIR / f"{part_name(k)}{TRAJ_SUFFIX}"

    def table_path(self, k: int) -> Path:
        return self.out / RECORD_DIR / f"patients-{k:05d}.parquet"

    def record_path(self, k: int) -> Path:
        return self.out / RECORD_DIR / f"{part_name(k)}.json"

    # ------------------------------------------------------------------ sink
    def open(self, key: dict[str, Any], chunks: list[np.ndarray]) -> list[int]:
        out = self.out
        wait_for_writes(out)  # an earlier run on this folder in this process (interrupted) finishes its files
        if (out / RECORD_DIR / RUN_KEY).exists() or (out / LEGACY_TRAJ).is_file():
            raise InputError("--out", str(out), "a new folder, or --force to start it over (this one holds a run "
                             "written by an earlier nksim version; open it with nksim.io.run_folder.open_trajectories)")
        self._check_key(key)
        for sub in (TRAJ_DIR, RECORD_DIR):
            if (out / sub).exists() and not (out / sub).is_dir():
                raise InputError("--out", str(out), f"a run folder ({out / sub} should be a folder, not a file)")
            (out / sub).mkdir(parents=True, exist_ok=True)
            for stale in (out / sub).glob(f".*{TMP_SUFFIX}"):  # left by a run killed while writing
                stale.unlink(missing_ok=True)
        self.key_sha = json_digest(key)
        write_json_atomic(out / RUN_KEY, key)
        self.chunks = chunks
        self._writer = ThreadPoolExecutor(1, thread_name_prefix="nksim-run-folder-writer")
        self.rows_in_patients = self._check_complete()
        todo = []
        for k, ids in enumerate(chunks):
            problem = self._check_chunk(k, ids)
            if problem is None:
                self.resumed += 1
                continue
            if problem:
                self.log(f"chunk {k} (patients {int(ids[0])}-{int(ids[-1])}): {problem}; it is recomputed")
                self.recomputed.append(k)
                for p in (self.record_path(k), self.traj_path(k), self.table_path(k)):
                    p.unlink(missing_ok=True)
            todo.append(k)
        return todo

    def encode(self, ds: xr.Dataset, table: pd.DataFrame) -> tuple[bytes, bytes] | _Raw:
        """The chunk's file contents; in the driving process (a writer thread exists) the writer encodes it."""
        return _Raw(ds, table) if self._writer is not None else encode_chunk(ds, table)

    def store(self, k: int, payload: tuple[bytes, bytes] | _Raw) -> None:
        """Hand chunk ``k`` to the writer thread (waits while ``WRITE_AHEAD`` chunks are queued; raises what an
        earlier write raised)."""
        if self._writer is None:
            self._write(k, payload)
            return
        for done in [f for f in self._pending if f.done()]:
            self._pending.remove(done)
            done.result()
        while len(self._pending) >= WRITE_AHEAD:
            self._pending.pop(0).result()
        fut = self._writer.submit(self._write, k, payload)
        self._pending.append(fut)
        with _WRITES_LOCK:
            _WRITES.setdefault(self.out.resolve(), []).append(fut)

    def _write(self, k: int, payload: tuple[bytes, bytes] | _Raw) -> None:
        import hashlib

        nc, pq = encode_chunk(*payload) if isinstance(payload, _Raw) else payload
        files = {}
        for path, data in ((self.traj_path(k), nc), (self.table_path(k), pq)):
            write_bytes_atomic(path, data)
            files[path.relative_to(self.out).as_posix()] = {"bytes": len(data),
                                                            "sha256": hashlib.sha256(data).hexdigest()}
        ids = self.chunks[k]
        write_json_atomic(self.record_path(k), {"chunk": k, "key_sha256": self.key_sha,
                                                "patients": [int(ids[0]), int(ids[-1]), len(ids)], "files": files})

    def close(self) -> None:
        """Wait for the writer thread's chunks (raising what a write raised) and stop it."""
        pending, self._pending = self._pending, []
        try:
            for fut in pending:
                fut.result()
        finally:
            if self._writer is not None:
                self._writer.shutdown(wait=True)
                self._writer = None
            wait_for_writes(self.out)

    def finish(self, attrs: dict[str, Any]) -> tuple[xr.Dataset, pd.DataFrame]:
        """The lazy trajectories and the patient table; writes patients.parquet and scans.parquet, records the
        run as complete and deletes the chunk tables (their rows are in patients.parquet)."""
        self.close()
        n = len(self.chunks)
        for sub, pattern in ((TRAJ_DIR, f"part-*{TRAJ_SUFFIX}"), (RECORD_DIR, "patients-*.parquet"),
                             (RECORD_DIR, "part-*.json")):
            for p in (self.out / sub).glob(pattern):  # parts of an earlier, larger run under a damaged run key
                if int(p.name.split("-")[1].split(".")[0]) >= n:
                    p.unlink()
        from nksim.io.tidy import categorical_responses, write_tidy_tables

        traj = open_trajectories(self.out, n_chunks=n)
        traj.attrs.update(attrs_safe(attrs))
        whole, tables, fresh = None, [], False
        for k in range(n):
            if self.table_path(k).is_file():
                tables.append(pd.read_parquet(self.table_path(k)))
                fresh = True
            else:  # a completed run resumed: the chunk's rows are in patients.parquet (checked at open)
                whole = pd.read_parquet(self.out / PATIENTS) if whole is None else whole
                tables.append(whole.loc[self.chunks[k]])
        patients = categorical_responses(pd.concat(tables), copy=False)  # the concatenation is a fresh frame
        if fresh:
            write_tidy_tables(self.out, patients)  # patients.parquet (categorical responses, units), scans.parquet
        write_json_atomic(self.out / RECORD_DIR / COMPLETE, {"key_sha256": self.key_sha,
                                                              PATIENTS: file_digest(self.out / PATIENTS)})
        for k in range(n):
            self.table_path(k).unlink(missing_ok=True)
        return traj, patients

    @property
    def stats(self) -> dict[str, Any]:
        return {"chunks": len(self.chunks), "chunks_resumed": self.resumed, "chunks_recomputed": self.recomputed}

    # ------------------------------------------------------------------ checks
    def _check_complete(self) -> bool:
        """True when the folder holds this run completed: patients.parquet as recorded (the chunk tables were
        deleted, their rows are there); a damaged patients.parquet is reported once and its chunks recomputed."""
        path = self.out / RECORD_DIR / COMPLETE
        if not path.is_file():
            return False
        try:
            rec = json.loads(path.read_text(encoding="utf-8"))
            want = dict(rec[PATIENTS])
        except (ValueError, UnicodeDecodeError, KeyError, TypeError):
            rec, want = {}, {}
        patients = self.out / PATIENTS
        if rec.get("key_sha256") != self.key_sha:  # another run's (each chunk's record says so on its own)
            path.unlink(missing_ok=True)
            return False
        ok = (patients.is_file() and patients.stat().st_size == want.get("bytes")
              and file_digest(patients)["sha256"] == want.get("sha256"))
        if not ok:
            self.complete_damaged = True
            self.log(f"{PATIENTS} of the completed run is missing or damaged (its size or SHA-256 differs from "
                     f"{RECORD_DIR}/{COMPLETE}): every chunk is recomputed")
            path.unlink(missing_ok=True)
        return ok

    def _check_key(self, key: dict[str, Any]) -> None:
        """Refuse to mix chunks of a different run (scenario, seed, size, chunking, backend, overrides); a damaged
        run key is reported and replaced (each chunk's record carries the settings it was computed with)."""
        marker = self.out / RUN_KEY
        if not marker.exists():
            return
        try:
            old = json.loads(marker.read_text(encoding="utf-8"))
            if not isinstance(old, dict):
                raise ValueError("not a JSON object")
        except (ValueError, UnicodeDecodeError) as exc:
            self.log(f"{marker} is damaged ({type(exc).__name__}); rewriting it and checking every chunk "
                     "against this run's settings")
            return
        if old != key:
            diff = sorted(k for k in set(key) | set(old) if old.get(k) != key.get(k))
            raise InputError("--out", str(self.out), f"a new folder, the same run settings to resume (differs "
                             f"in {diff}), or --force to start it over")

    def _check_chunk(self, k: int, ids: np.ndarray) -> str | None:
        """None when chunk ``k`` is intact; "" when it was never finished; otherwise what is wrong with it."""
        rec_path = self.record_path(k)
        if not rec_path.exists():
            leftovers = [p for p in (self.traj_path(k), self.table_path(k)) if p.exists()]
            return f"{leftovers[0].relative_to(self.out)} has no completion record" if leftovers else ""
        try:
            rec = json.loads(rec_path.read_text(encoding="utf-8"))
            files = dict(rec["files"])
        except (ValueError, UnicodeDecodeError, KeyError, TypeError) as exc:
            return f"its record {rec_path.relative_to(self.out)} is unreadable ({type(exc).__name__})"
        if rec.get("key_sha256") != self.key_sha:
            return "it was computed with other run settings"
        if rec.get("patients") != [int(ids[0]), int(ids[-1]), len(ids)]:
            return "its record names other patients"
        for rel, want in files.items():
            path = self.out / rel
            if rel.startswith(f"{RECORD_DIR}/patients-") and not path.exists():
                if self.rows_in_patients:
                    continue  # the completed run's rows are in patients.parquet
                return "" if self.complete_damaged else f"{rel} is missing"  # damaged: said once at open
            if not path.is_file():
                return f"{rel} is missing"
            size = path.stat().st_size
            if size != want.get("bytes"):
                return f"{rel} has {size} of {want.get('bytes')} bytes (truncated or overwritten)"
            if file_digest(path)["sha256"] != want.get("sha256"):
                return f"{rel} does not match its SHA-256 checksum (corrupted)"
        return None


def wait_for_writes(out: Path) -> None:
    """Let the writes an earlier sink on ``out`` queued in this process finish (their errors are its run's)."""
    with _WRITES_LOCK:
        futures = _WRITES.pop(Path(out).resolve(), [])
    wait(futures)


def _parts(folder: Path, sub: str, suffix: str, n_chunks: int | None) -> list[Path]:
    if n_chunks is not None:
        return [folder / sub / f"{part_name(k)}{suffix}" for k in range(n_chunks)]
    return sorted((folder / sub).glob(f"part-*{suffix}"))


def open_trajectories(folder: Path | str, n_chunks: int | None = None) -> xr.Dataset:
    """All trajectories of a run folder as one lazy Dataset (dask arrays, one dask chunk per run chunk; nothing is
    read until used). Opens the single ``trajectories.nc`` of folders written by earlier versions too."""
    import zarr

    folder = Path(folder)
    legacy = folder / LEGACY_TRAJ
    if legacy.is_file() and not (folder / TRAJ_DIR).is_dir():
        return xr.open_dataset(legacy, engine="h5netcdf", chunks={})
    paths = _parts(folder, TRAJ_DIR, TRAJ_SUFFIX, n_chunks)
    if not paths:
        raise InputError("run folder", str(folder), f"a folder written by `nksim run` ({TRAJ_DIR}/part-*{TRAJ_SUFFIX})")
    missing = [p for p in paths if not p.is_file()]
    if missing:
        raise InputError("run folder", str(folder), f"a complete run ({missing[0].relative_to(folder)} is missing; "
                         "rerun the same command to compute it)")
    from nksim.io.zarr_zip import open_zarr_zips, restore_copies

    ds = open_zarr_zips([str(p) for p in paths], "patient")
    if ds is None:  # chunks of different shapes (e.g. dose records of different lengths): xarray aligns them
        ds = concat_chunks([restore_copies(xr.open_zarr(zarr.storage.ZipStore(p, mode="r", read_only=True),
                                                        consolidated=True, zarr_format=2)) for p in paths])
    prov = folder / "provenance.json"
    if prov.is_file():
        try:
            ds.attrs.update(attrs_safe(json.loads(prov.read_text(encoding="utf-8"))))
        except ValueError:
            pass
    return ds


def open_patients(folder: Path | str) -> pd.DataFrame:
    """The patient table of a run folder (one row per patient; responses as ordered categoricals)."""
    path = Path(folder) / PATIENTS
    if not path.is_file():
        raise InputError("run folder", str(folder), f"a folder written by `nksim run` (with {PATIENTS})")
    return pd.read_parquet(path)


def open_run(folder: Path | str):
    """A run folder as a ``SimulationResult``: lazy trajectories, patient table, resolved scenario, provenance."""
    from nksim.engine import SimulationResult
    from nksim.spec.io import load_scenario

    folder = Path(folder)
    prov_path = folder / "provenance.json"
    if not (folder / "scenario.yaml").is_file() or not prov_path.is_file():
        raise InputError("run folder", str(folder), "a finished `nksim run` folder (scenario.yaml, provenance.json)")
    try:
        prov = json.loads(prov_path.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError):
        raise InputError("run folder", str(folder), "a readable provenance.json (rerun the same command to "
                         "rewrite it)") from None
    return SimulationResult(open_trajectories(folder), open_patients(folder), load_scenario(str(folder / "scenario.yaml")),
                            prov)
