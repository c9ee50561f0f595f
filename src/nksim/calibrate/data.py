"""Data to fit: in vitro lysis titrations and NONMEM-style kinetics / tumor datasets, validated.

Two layouts, told apart by their columns:

- **assay** (a column ``ET``): ``ID`` (donor / replicate series, optional), ``ET`` (effector:target ratio), ``DV``
  (% specific lysis), optional ``HOURS`` (incubation; default the registry's ``assay_hours``), ``MDV``.
- **NONMEM-style** (``nksim.read_nonmem``; docs/results.md): dose rows (EVID 1) drive each patient's doses,
  observation rows (EVID 0, MDV 0) with ``DVID`` (or ``CMT`` = 10 + DVID) name what was observed:
  1 product cells per uL of blood, 2 CAR+ product cells per uL, 3 tumor target cells, 4 all tumor cells, ...

Both may carry ``BLQ`` (1 = below the limit of quantification; its DV is ignored) and ``LLOQ`` (the limit, per row);
a row with DV < LLOQ and no BLQ column is flagged BLQ. Errors name the column, the row and what is allowed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from nksim.errors import InputError

ASSAY_DVID = 0  # observations of an assay dataset


@dataclass
class FitData:
    """Observations to fit (one row each) and, for NONMEM-style data, the table that holds the doses."""

    kind: str  # "assay" or "nonmem"
    obs: pd.DataFrame  # ID, X (ET or TIME), DV, DVID, BLQ (bool), LLOQ (float, NaN if none), [HOURS]
    table: pd.DataFrame | None = None  # the whole NONMEM-style table (doses), None for assays
    source: str = ""
    attrs: dict[str, Any] = field(default_factory=dict)

    @property
    def ids(self) -> np.ndarray:
        return np.unique(self.obs["ID"].to_numpy())

    @property
    def x_name(self) -> str:
        return "ET" if self.kind == "assay" else "TIME"

    def dvids(self) -> list[int]:
        return sorted(int(v) for v in self.obs["DVID"].unique())

    def __repr__(self) -> str:
        return (f"FitData({self.kind}, {len(self.obs)} observations, {len(self.ids)} IDs, "
                f"{int(self.obs['BLQ'].sum())} BLQ)")


def _where(df: pd.DataFrame) -> str:
    return str(df.attrs.get("nonmem_source", "data"))


def _line(df: pd.DataFrame, i: int) -> str:
    off = df.attrs.get("nonmem_line_offset")
    return f"row {i}" + (f" (line {i + off})" if off is not None else "")


def _num(df: pd.DataFrame, col: str, where: str) -> np.ndarray:
    v = pd.to_numeric(df[col], errors="coerce").to_numpy(dtype=float)
    raw_missing = df[col].isna().to_numpy()
    bad = np.isnan(v) & ~raw_missing
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise InputError(f"{col} ({_line(df, i)})", df[col].iloc[i], "a number", where)
    return v


def _censoring(df: pd.DataFrame, obs_rows: np.ndarray, dv: np.ndarray, where: str) -> tuple[np.ndarray, np.ndarray]:
    n = obs_rows.size
    lloq = _num(df, "LLOQ", where)[obs_rows] if "LLOQ" in df.columns else np.full(n, np.nan)
    if "BLQ" in df.columns:
        blq_raw = _num(df, "BLQ", where)[obs_rows]
        bad = ~np.isin(np.nan_to_num(blq_raw, nan=0.0), (0.0, 1.0))
        if bad.any():
            i = int(obs_rows[np.flatnonzero(bad)[0]])
            raise InputError(f"BLQ ({_line(df, i)})", df["BLQ"].iloc[i], "0 or 1", where)
        blq = np.nan_to_num(blq_raw, nan=0.0) == 1.0
    else:
        blq = np.isfinite(lloq) & np.isfinite(dv) & (dv < lloq)
    bad = blq & ~(np.isfinite(lloq) & (lloq > 0))
    if bad.any():
        i = int(obs_rows[np.flatnonzero(bad)[0]])
        raise InputError(f"LLOQ ({_line(df, i)})", df["LLOQ"].iloc[i] if "LLOQ" in df.columns else None,
                         "a limit of quantification > 0 on every BLQ row (column LLOQ)", where)
    return blq, lloq


def read_data(source: str | Path | pd.DataFrame) -> FitData:
    """Read and validate a dataset to fit (CSV / Parquet path or DataFrame; layouts in the module docstring)."""
    if isinstance(source, pd.DataFrame):
        df = source.copy()
        df.attrs.update(source.attrs)
        where = "data"
    else:
        path = Path(source)
        if not path.is_file():
            raise InputError("data", str(path), "a readable CSV or Parquet file")
        where = path.name
        df = _read_table(path)
        df.attrs["nonmem_source"] = str(path)
        df.attrs["nonmem_line_offset"] = None if path.suffix.lower() == ".parquet" else 2
    df.columns = [str(c).strip().upper() if str(c).strip().upper() in
                  ("ID", "ET", "DV", "MDV", "EVID", "TIME", "AMT", "CMT", "DVID", "BLQ", "LLOQ", "HOURS")
                  else str(c).strip() for c in df.columns]
    twice = sorted({c for c in df.columns if list(df.columns).count(c) > 1})
    if twice:
        raise InputError("data columns", list(df.columns), f"each column once (names are compared without spaces, "
                         f"the standard ones without case; {', '.join(twice)} appears twice)", where)
    if "ET" in df.columns:
        return _read_assay(df, where)
    return _read_nonmem(df, source if not isinstance(source, pd.DataFrame) else df, where)


def _read_table(path: Path) -> pd.DataFrame:
    """A Parquet file, or a CSV file read as UTF-8 text (``nksim.yaml_load.read_text``: no binary content, no
    other encoding); a malformed file is an ``InputError`` in nksim's words (the row, not the parser's text)."""
    import io
    import re

    from nksim.yaml_load import read_text

    if path.suffix.lower() == ".parquet":
        try:
            return pd.read_parquet(path)
        except (OSError, ValueError) as exc:
            raise InputError("data", str(path), f"a readable Parquet table ({exc.__class__.__name__})") from None
    text = read_text(path, "data", kind="CSV")
    try:
        return pd.read_csv(io.StringIO(text), na_values=["."], skipinitialspace=True)
    except pd.errors.EmptyDataError:
        raise InputError("data", str(path), "a CSV table with a header line (this one is empty)") from None
    except pd.errors.ParserError as exc:
        m = re.search(r"Expected (\d+) fields in line (\d+), saw (\d+)", str(exc))
        what = (f"rows with as many fields as the header (line {m[2]} has {m[3]}, the header {m[1]})" if m
                else "a CSV table with one record per row, comma-separated fields and closed quotes")
        raise InputError("data", str(path), what) from None
    except (ValueError, OverflowError) as exc:
        raise InputError("data", str(path), f"a readable CSV table ({exc.__class__.__name__})") from None


def _require(df: pd.DataFrame, cols: tuple[str, ...], where: str, layout: str) -> None:
    for c in cols:
        if c not in df.columns:
            raise InputError("columns", sorted(map(str, df.columns)), f"a column {c!r} ({layout}: "
                             f"{', '.join(cols)} required)", where)


def _read_assay(df: pd.DataFrame, where: str) -> FitData:
    _require(df, ("ET", "DV"), where, "an assay dataset")
    if "ID" not in df.columns:
        df["ID"] = 0
    et = _num(df, "ET", where)
    dv = _num(df, "DV", where)
    mdv = _num(df, "MDV", where) if "MDV" in df.columns else np.zeros(len(df))
    keep = np.nan_to_num(mdv, nan=0.0) == 0
    rows = np.flatnonzero(keep)
    bad = ~np.isfinite(et[rows]) | (et[rows] < 0)
    if bad.any():
        i = int(rows[np.flatnonzero(bad)[0]])
        raise InputError(f"ET ({_line(df, i)})", df["ET"].iloc[i], "an E:T ratio >= 0", where)
    blq, lloq = _censoring(df, rows, dv[rows], where)
    bad = ~blq & ~(np.isfinite(dv[rows]) & (dv[rows] >= -100) & (dv[rows] <= 200))
    if bad.any():
        i = int(rows[np.flatnonzero(bad)[0]])
        raise InputError(f"DV ({_line(df, i)})", df["DV"].iloc[i], "% specific lysis between -100 and 200", where)
    obs = pd.DataFrame({"ID": df["ID"].to_numpy()[rows], "ET": et[rows], "DV": dv[rows], "DVID": ASSAY_DVID,
                        "BLQ": blq, "LLOQ": lloq})
    if "HOURS" in df.columns:
        h = _num(df, "HOURS", where)[rows]
        bad = ~(np.isfinite(h) & (h > 0))
        if bad.any():
            i = int(rows[np.flatnonzero(bad)[0]])
            raise InputError(f"HOURS ({_line(df, i)})", df["HOURS"].iloc[i], "an incubation time > 0 (h)", where)
        obs["HOURS"] = h
    if obs.empty:
        raise InputError("DV", "no observations", "at least one row with MDV 0", where)
    return FitData("assay", obs.reset_index(drop=True), None, where)


def _read_nonmem(df: pd.DataFrame, source: Any, where: str) -> FitData:
    from nksim.io.nonmem import OBSERVATIONS, read_nonmem

    _require(df, ("ID", "TIME", "DV"), where, "a NONMEM-style dataset")
    given = sorted(map(str, df.columns))
    if "DVID" not in df.columns and not ("CMT" in df.columns and df["CMT"].notna().any()):
        raise InputError("columns", given, "a DVID (or CMT = 10 + DVID) column naming what each observation is "
                         "(1 product cells/uL, 3 tumor target cells, ...; docs/results.md)", where)
    if "EVID" not in df.columns:
        df["EVID"] = 0 if "AMT" not in df.columns else np.where(pd.to_numeric(df["AMT"], errors="coerce")
                                                                 .fillna(0) > 0, 1, 0)
    for c, v in (("AMT", 0.0), ("CMT", np.nan)):
        if c not in df.columns:
            df[c] = v
    evid = _num(df, "EVID", where)
    mdv = _num(df, "MDV", where) if "MDV" in df.columns else (evid != 0).astype(float)
    time = _num(df, "TIME", where)
    dv = _num(df, "DV", where)
    rows = np.flatnonzero((evid == 0) & (np.nan_to_num(mdv, nan=0.0) == 0))
    if rows.size == 0:
        raise InputError("EVID/MDV", "no observation rows", "rows with EVID 0 and MDV 0 (observations)", where)
    bad = ~np.isfinite(time[rows]) | (time[rows] < 0)
    if bad.any():
        i = int(rows[np.flatnonzero(bad)[0]])
        raise InputError(f"TIME ({_line(df, i)})", df["TIME"].iloc[i],
                         "an observation time >= 0 (days since the first infusion)", where)
    if "DVID" in df.columns:
        dvid = _num(df, "DVID", where)[rows]
    elif df["CMT"].notna().any():
        dvid = _num(df, "CMT", where)[rows] - 10
    else:  # pragma: no cover - checked above
        raise InputError("columns", given, "a DVID (or CMT = 10 + DVID) column", where)
    known = {o.dvid: o for o in OBSERVATIONS.values()}
    bad = ~np.isin(dvid, list(known))
    if bad.any():
        i = int(rows[np.flatnonzero(bad)[0]])
        raise InputError(f"DVID ({_line(df, i)})", float(dvid[np.flatnonzero(bad)[0]]),
                         "one of " + ", ".join(f"{k} ({o.name})" for k, o in known.items()), where)
    blq, lloq = _censoring(df, rows, dv[rows], where)
    bad = ~blq & ~(np.isfinite(dv[rows]) & (dv[rows] >= 0))
    if bad.any():
        i = int(rows[np.flatnonzero(bad)[0]])
        raise InputError(f"DV ({_line(df, i)})", df["DV"].iloc[i], "an observed value >= 0 (or BLQ 1 with LLOQ)",
                         where)
    ids = pd.to_numeric(df["ID"], errors="coerce").to_numpy()
    if not np.all(np.isfinite(ids)) or np.any(ids < 0) or np.any(ids != np.round(ids)):
        i = int(np.flatnonzero(~np.isfinite(ids) | (ids < 0) | (ids != np.round(ids)))[0])
        raise InputError(f"ID ({_line(df, i)})", df["ID"].iloc[i], "an integer >= 0 (nksim patient id)", where)
    table = read_nonmem(df)  # dose rows validated (column, row, value, allowed)
    obs = pd.DataFrame({"ID": ids[rows].astype(np.int64), "TIME": time[rows], "DV": dv[rows],
                        "DVID": dvid.astype(np.int64), "BLQ": blq, "LLOQ": lloq})
    has_dose = set(table.loc[table["EVID"] == 1, "ID"].astype(np.int64))
    missing = sorted(set(obs["ID"]) - has_dose)
    if missing:
        raise InputError("ID", int(missing[0]), "a patient with dose rows (EVID 1) as well as observations", where)
    return FitData("nonmem", obs.reset_index(drop=True), table, where,
                   attrs=dict(df.attrs.get("nksim_nonmem", {}) or {}))
