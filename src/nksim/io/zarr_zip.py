"""A Dataset as the bytes of a zipped Zarr store (Zarr format 2, consolidated metadata, one chunk per variable),
which ``xarray.open_zarr(zarr.storage.ZipStore(path, mode="r"))`` opens lazily.

Written directly with numcodecs rather than through ``Dataset.to_zarr``: a run chunk has ~55 small variables and
zarr-python's per-array overhead (~10 ms each, its async machinery) cost 5-10x the compression itself; the format
written is exactly Zarr v2's (https://zarr-specs.readthedocs.io/en/latest/v2/v2.0.html) and is read by zarr/xarray.
"""

from __future__ import annotations

import io
import json
import zipfile
from typing import Any

import numpy as np
import xarray as xr

CODEC = {"cname": "zstd", "clevel": 3, "shuffle": 1}  # blosc-zstd, byte shuffle: lossless, ~4.4x on trajectories


def _array(arr: np.ndarray, codec: Any) -> tuple[dict[str, Any], bytes | None]:
    if arr.dtype == object:
        arr = arr.astype(str)
    arr = np.ascontiguousarray(arr)
    meta = {
        "shape": list(arr.shape), "chunks": [max(1, s) for s in arr.shape], "dtype": arr.dtype.str,
        "fill_value": "NaN" if arr.dtype.kind == "f" else None, "order": "C", "filters": None,
        "dimension_separator": ".", "compressor": codec.get_config(), "zarr_format": 2,
    }
    return meta, (codec.encode(arr) if arr.size else None)


def _jsonable(attrs: dict[str, Any]) -> dict[str, Any]:
    return {k: (v.item() if isinstance(v, np.generic) else v.tolist() if isinstance(v, np.ndarray) else v)
            for k, v in attrs.items()}


def dataset_to_zarr_zip(ds: xr.Dataset, codec_options: dict[str, Any] | None = None) -> bytes:
    """The zipped Zarr store of ``ds`` (every variable and coordinate with its attributes and dimensions)."""
    from numcodecs import Blosc

    codec = Blosc(**(codec_options or CODEC))
    coords = sorted(str(c) for c in ds.coords if c not in ds.dims)
    meta: dict[str, Any] = {".zgroup": {"zarr_format": 2},
                            ".zattrs": {**_jsonable(dict(ds.attrs)), **({"coordinates": " ".join(coords)} if coords
                                                                        else {})}}
    chunks: dict[str, bytes] = {}
    for name, var in ds.variables.items():
        array_meta, data = _array(var.values, codec)
        meta[f"{name}/.zarray"] = array_meta
        meta[f"{name}/.zattrs"] = {**_jsonable(dict(var.attrs)), "_ARRAY_DIMENSIONS": list(var.dims)}
        if data is not None:
            chunks[f"{name}/" + ".".join("0" * var.ndim or "0")] = data
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_STORED) as zf:  # chunks are compressed already
        for key, value in meta.items():
            zf.writestr(key, json.dumps(value, allow_nan=True))
        zf.writestr(".zmetadata", json.dumps({"metadata": meta, "zarr_consolidated_format": 1}, allow_nan=True))
        for key, data in chunks.items():
            zf.writestr(key, data)
    return buf.getvalue()
