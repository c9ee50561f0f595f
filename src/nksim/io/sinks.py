"""Where the engine's finished chunks go: the ``ChunkSink`` interface and the in-memory sink ``simulate`` uses
without a run folder (``nksim.io.run_folder.RunFolder`` is the on-disk one).

A chunk's result is turned into a payload by ``encode`` (a pure function of the chunk, so it can run on the Dask
worker that computed it: compression happens in parallel) and kept by ``store`` in the process that drives the run.
"""

from __future__ import annotations

import functools
from typing import Any, Callable, Protocol

import numpy as np
import pandas as pd
import xarray as xr

Log = Callable[[str], None]


class ChunkSink(Protocol):
    """Receives chunk results in any order and returns the whole cohort at the end."""

    def open(self, key: dict[str, Any], chunks: list[np.ndarray]) -> list[int]:
        """Prepare for a run with these settings (``key``) and chunks; returns the chunk numbers still to compute
        (a resumable sink skips the chunks it already holds intact)."""
        ...

    def encode(self, ds: xr.Dataset, table: pd.DataFrame) -> Any:
        """The payload ``store`` keeps (pure; may run on a worker)."""
        ...

    def store(self, k: int, payload: Any) -> None:
        ...

    def finish(self, attrs: dict[str, Any]) -> tuple[xr.Dataset, pd.DataFrame]:
        """All chunks' trajectories (possibly lazy, dask-backed) and the patient table, in chunk order (response
        columns as ordered categoricals, ``nksim.io.tidy.categorical_responses``)."""
        ...

    @property
    def stats(self) -> dict[str, Any]:
        """``chunks``, ``chunks_resumed`` and ``chunks_recomputed`` (damaged chunks found and computed again)."""
        ...


def concat_chunks(parts: list[xr.Dataset], consume: bool = False) -> xr.Dataset:
    """Chunks joined on ``patient`` (the ``dose`` records of chunks of different lengths are NaN-padded).

    ``consume``: in-memory chunks of the same shape are joined variable by variable, each chunk's copy dropped as
    soon as it is joined (peak memory about the cohort plus one variable, not twice the cohort as ``xr.concat``)."""
    if len(parts) == 1:
        return parts[0]
    if not (consume and _same_layout(parts)):
        return xr.concat(parts, dim="patient", data_vars="minimal", coords="minimal", compat="override",
                         join="outer")
    first = parts[0]
    coords = {n: v for n, v in first.coords.items() if "patient" not in v.dims}
    joined: dict[str, xr.Variable] = {}
    for name in [n for n, v in first.variables.items() if "patient" in v.dims]:
        var = first.variables[name]
        joined[name] = xr.Variable(var.dims, np.concatenate([p.variables[name].values for p in parts],
                                                            axis=var.dims.index("patient")), var.attrs)
        if name in first.data_vars:
            for p in parts:
                del p[name]
    is_coord = set(first.coords)
    return xr.Dataset({n: v for n, v in joined.items() if n not in is_coord},
                      coords={**coords, **{n: v for n, v in joined.items() if n in is_coord}}, attrs=first.attrs)


def _same_layout(parts: list[xr.Dataset]) -> bool:
    """Same variables, dims and sizes (the patient dimension aside) in every chunk, ``patient`` an index."""
    first = parts[0]
    if "patient" not in first.indexes:
        return False
    sizes = {d: n for d, n in first.sizes.items() if d != "patient"}
    layout = {n: v.dims for n, v in first.variables.items()}
    return all({d: n for d, n in p.sizes.items() if d != "patient"} == sizes
               and {n: v.dims for n, v in p.variables.items()} == layout for p in parts[1:])


def attrs_safe(attrs: dict[str, Any]) -> dict[str, Any]:
    """Provenance as NetCDF attributes (numbers and strings; anything else as text)."""
    return {k: (v if isinstance(v, (int, float, str)) else str(v)) for k, v in attrs.items()}


class _Columns:
    """A chunk's patient table as one array per column (numpy columns copied out of the frame's blocks), so that the
    chunks can be joined a column at a time, each chunk's column freed as soon as it is joined."""

    def __init__(self, table: pd.DataFrame) -> None:
        self.index = table.index
        self.names = list(table.columns)
        self.columns: dict[Any, Any] = {
            c: (table[c].to_numpy(copy=True) if isinstance(table[c].dtype, np.dtype) else table[c].array)
            for c in self.names}

    def frame(self) -> pd.DataFrame:
        return pd.DataFrame(self.columns, index=self.index, columns=self.names, copy=False)


def _join_columns(parts: list[_Columns]) -> pd.DataFrame:
    """The chunks' tables joined as ``pd.concat`` joins them, a column at a time: the peak is the joined table and
    one column of the chunks, not the joined table and every chunk (at 1,000,000 patients ~0.8 GB less)."""
    if not parts:
        return pd.DataFrame()
    names = parts[0].names
    if any(p.names != names or len(set(p.names)) != len(p.names) for p in parts):
        return pd.concat([p.frame() for p in parts])  # chunks whose columns differ: pandas aligns them
    index = parts[0].index.append([p.index for p in parts[1:]]) if len(parts) > 1 else parts[0].index
    data: dict[Any, Any] = {}
    for k, c in enumerate(names):
        pieces = [p.columns.pop(c) for p in parts]
        if all(isinstance(x, np.ndarray) for x in pieces) and len({x.dtype for x in pieces}) == 1:
            data[c] = np.concatenate(pieces)
        else:  # categoricals, other extension arrays, mixed dtypes: pandas' own rules
            data[c] = pd.concat([pd.Series(x, copy=False) for x in pieces], ignore_index=True).array
        del pieces
        if k % 8 == 7:
            _release_freed_memory()
    return pd.DataFrame(data, index=index, columns=names, copy=False)


def _release_freed_memory() -> None:
    """Give the memory the joined chunks' columns held back to the system (glibc keeps freed small blocks for
    reuse, and the joined columns are large allocations that cannot reuse them); a no-op elsewhere."""
    trim = _malloc_trim()
    if trim is not None:
        trim(0)


@functools.cache
def _malloc_trim() -> Any:
    """glibc's ``malloc_trim``, or None where there is none."""
    import ctypes

    try:
        return ctypes.CDLL("libc.so.6").malloc_trim
    except (OSError, AttributeError):
        return None


class MemorySink:
    """Keeps every chunk in memory and joins them at the end (``simulate`` without a run folder)."""

    OVERLAP_OK = True  # encode may run on the thread that computed the chunk (simulate overlaps two chunks)

    def __init__(self) -> None:
        self.parts: dict[int, tuple[xr.Dataset, pd.DataFrame]] = {}
        self.n_chunks = 0

    def open(self, key: dict[str, Any], chunks: list[np.ndarray]) -> list[int]:
        self.n_chunks = len(chunks)
        return list(range(len(chunks)))

    def encode(self, ds: xr.Dataset, table: pd.DataFrame) -> tuple[xr.Dataset, "_Columns"]:
        """The chunk as kept: its response columns as categoricals already (a byte a row instead of an object
        pointer while the chunks wait; chunks of the same categories concatenate to them), and its table as one
        array per column (``finish`` joins them a column at a time)."""
        from nksim.io.tidy import categorical_responses

        return ds, _Columns(categorical_responses(table, copy=False))

    def store(self, k: int, payload: tuple[xr.Dataset, pd.DataFrame]) -> None:
        self.parts[k] = payload

    def finish(self, attrs: dict[str, Any]) -> tuple[xr.Dataset, pd.DataFrame]:
        order = sorted(self.parts)
        from nksim.io.tidy import categorical_responses

        traj = concat_chunks([self.parts[k][0] for k in order], consume=True)
        table = _join_columns([self.parts[k][1] for k in order])
        self.parts.clear()
        table = categorical_responses(table, copy=False)  # already so (encode), unless a chunk had no such column
        traj.attrs.update(attrs_safe(attrs))
        return traj, table

    @property
    def stats(self) -> dict[str, Any]:
        return {"chunks": self.n_chunks, "chunks_resumed": 0, "chunks_recomputed": []}
