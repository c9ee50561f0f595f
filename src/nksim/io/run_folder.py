"""Run folders: resolved scenario, results chunk by chunk (NetCDF), patients.parquet, provenance; resumable.

Layout of ``OUT``::

    scenario.yaml        resolved scenario (every default filled in)
    provenance.json      version, seed, registry hash, backend, chunk size, timings
    chunks/chunk_00000.nc, chunks/patients_00000.parquet, ...   written as each chunk finishes
    trajectories.nc      all chunks joined (NetCDF4 via h5netcdf)
    patients.parquet     one row per patient (responses as ordered categoricals, units in the Parquet metadata)
    scans.parquet        one row per patient and scan: day, response, burden (``nksim.io.tidy``)

A run that stops (error, Ctrl-C) keeps its finished chunks; running the same command again skips them.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

import pandas as pd
import xarray as xr

from nksim.errors import InputError

CHUNK_DIR = "chunks"


def write_json(path: Path, data: dict[str, Any]) -> None:
    """Written to a temporary file, then renamed: a crash never leaves half a file."""
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(data, indent=2, default=str))
    os.replace(tmp, path)


def chunk_paths(out: Path, k: int) -> tuple[Path, Path]:
    return out / CHUNK_DIR / f"chunk_{k:05d}.nc", out / CHUNK_DIR / f"patients_{k:05d}.parquet"


def check_resumable(out: Path, key: dict[str, Any]) -> None:
    """Refuse to mix chunks of a different run (scenario, seed, size, chunking, version) into ``out``."""
    marker = out / CHUNK_DIR / "run_key.json"
    if marker.exists():
        try:
            old = json.loads(marker.read_text())
        except (OSError, ValueError) as exc:
            raise InputError("--out", str(out), f"a run folder whose {CHUNK_DIR}/run_key.json is readable (it is "
                             f"damaged: {exc.__class__.__name__}; delete {out / CHUNK_DIR} to start the run over)"
                             ) from None
        if old != key:
            diff = sorted(k for k in key if old.get(k) != key[k])
            raise InputError("--out", str(out), f"a new folder, the same run settings to resume (differs in {diff}), or --force to start it over")
    else:
        (out / CHUNK_DIR).mkdir(parents=True, exist_ok=True)
        write_json(marker, key)


def save_chunk(out: Path, k: int, ds: xr.Dataset, patients: pd.DataFrame) -> None:
    nc, pq = chunk_paths(out, k)
    tmp = nc.with_suffix(".tmp")
    ds.to_netcdf(tmp, engine="h5netcdf")
    patients.to_parquet(pq)
    tmp.rename(nc)  # the .nc appears only when complete: a crash never leaves a half chunk that looks done


def load_chunk(out: Path, k: int) -> tuple[xr.Dataset, pd.DataFrame] | None:
    nc, pq = chunk_paths(out, k)
    if nc.exists() and pq.exists():
        try:
            return xr.load_dataset(nc, engine="h5netcdf"), pd.read_parquet(pq)
        except Exception as exc:  # noqa: BLE001 - h5py, pyarrow and xarray raise many types for a damaged file
            sys.stderr.write(f"warning: {out}: chunk {k} is damaged ({exc.__class__.__name__}); recomputed\n")
    return None


def finalize(out: Path, parts: list[xr.Dataset], tables: list[pd.DataFrame], attrs: dict[str, Any]) -> tuple[xr.Dataset, pd.DataFrame]:
    traj = parts[0] if len(parts) == 1 else xr.concat(parts, dim="patient", data_vars="minimal", coords="minimal",
                                                        compat="override", join="outer")
    traj.attrs.update({k: (v if isinstance(v, (int, float, str)) else json.dumps(v, default=str)) for k, v in attrs.items()})
    patients = pd.concat(tables)
    from nksim.io.tidy import time_attrs, write_tidy_tables

    traj["time"].attrs.update(time_attrs())  # CF-style time coordinate
    traj.to_netcdf(out / "trajectories.nc", engine="h5netcdf")
    write_tidy_tables(out, patients)  # patients.parquet (categorical responses, units) and scans.parquet
    return traj, patients


def parquet_safe(df: pd.DataFrame) -> pd.DataFrame:
    out = df.copy()
    for c in out.columns:
        if out[c].dtype == object:
            out[c] = out[c].astype(str)
    return out


