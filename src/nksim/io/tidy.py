"""Tidy outputs of a run folder: response columns as ordered categoricals, a long per-scan table beside the
per-patient table, and units stored in the Parquet files (field and schema metadata) and in NetCDF attributes.

``scans.parquet`` has one row per patient and scan day: ``patient``, ``day`` (days since the first infusion),
``response`` (CR/PR/SD/PD/NE; missing when the scan was not done) and ``burden`` (sum of target diameters in mm;
Lugano: sum of products of diameters, mm2; ALL marrow: blasts, % of marrow cells). Read the units back with
``parquet_units(path)``.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pandas as pd

RESPONSES = ("NE", "PD", "SD", "PR", "CR")  # ordered worst to best, as the response codes
RESPONSE_DTYPE = pd.CategoricalDtype(list(RESPONSES), ordered=True)
UNITS_KEY = b"nksim.units"
_SCAN = re.compile(r"^(resp|burden)_d(\d+(?:\.\d+)?)$")

_EXACT = {
    "best_pct_change": "%", "gvhd_risk": "probability", "weight_kg": "kg", "dose_per_kg": "cells/kg",
    "cd3_per_kg": "cells/kg", "viable_cells_per_infusion": "cells", "car_fraction": "fraction",
    "viability": "fraction", "potency": "fraction", "n_scans": "count", "n_infusions": "count",
    "infusion_fevers": "count", "solver_steps": "count", "solver_rejected": "count", "ice_min": "ICE score (0-10)",
    "lesion0_perfusion": "mL blood/(mL tissue d)",
}
_SUFFIX = (("_mm2", "mm2"), ("_mm", "mm"), ("_pct", "%"), ("_days", "d"), ("_day", "d"), ("_d", "d"),
           ("_per_ul", "cells/uL"), ("_pg_ml", "pg/mL"), ("_ng_ml", "ng/mL"), ("_grade", "grade (CTCAE/ASTCT)"))


def response_columns(df: pd.DataFrame) -> list[str]:
    """best_response, best_response_unconfirmed and every per-scan ``resp_d<day>`` column present."""
    return [c for c in df.columns if c in ("best_response", "best_response_unconfirmed") or c.startswith("resp_d")]


def categorical_responses(df: pd.DataFrame, copy: bool = True) -> pd.DataFrame:
    """A copy (``copy=False``: ``df`` itself, changed in place) with response columns as ordered categoricals (NE < PD
    < SD < PR < CR; not done -> missing), so ``df.best_response >= "PR"`` selects responders and value counts list
    every category."""
    out = df.copy() if copy else df
    for c in response_columns(out):
        out[c] = out[c].astype(RESPONSE_DTYPE)  # a value outside the categories (None: not done) becomes missing
    return out


def burden_unit(df: pd.DataFrame) -> str:
    """Unit of the per-scan burden: mm (RECIST/mRECIST), mm2 (Lugano SPD) or % (ALL marrow blasts)."""
    if "baseline_spd_mm2" in df and df["baseline_spd_mm2"].notna().any():
        return "mm2"
    if "baseline_marrow_blasts_pct" in df and df["baseline_marrow_blasts_pct"].notna().any():
        return "%"
    return "mm"


def scan_table(df: pd.DataFrame) -> pd.DataFrame:
    """Long per-scan table (patient, day, response, burden) from the wide ``resp_d<day>``/``burden_d<day>``
    columns of a patient table; rows ordered by patient, then day."""
    days = sorted({float(m.group(2)) for c in df.columns if (m := _SCAN.match(c))})
    frames = []
    pid = df.index.to_numpy()
    for day in days:
        tag = f"{int(day)}" if day.is_integer() else f"{day:g}"
        resp = df.get(f"resp_d{tag}")
        burden = df.get(f"burden_d{tag}")
        frames.append(pd.DataFrame({
            "patient": pid, "day": day,
            "response": (resp if resp is not None else pd.Series(None, index=df.index, dtype=object)).to_numpy(),
            "burden": (burden if burden is not None else pd.Series(float("nan"), index=df.index)).to_numpy(float),
        }))
    if not frames:
        return pd.DataFrame({"patient": pd.Series(dtype=pid.dtype), "day": pd.Series(dtype=float),
                             "response": pd.Series(dtype=RESPONSE_DTYPE), "burden": pd.Series(dtype=float)})
    long = pd.concat(frames, ignore_index=True)
    long["response"] = long["response"].astype(RESPONSE_DTYPE)
    return long.sort_values(["patient", "day"], kind="stable", ignore_index=True)


def column_units(df: pd.DataFrame) -> dict[str, str]:
    """Unit of each patient-table column that has one: registry parameters (covariates) from the registry, the
    rest from the column's name (``_mm``, ``_days``, ``_per_ul``, ...); categories and flags get none."""
    from nksim.registry import load_registry

    reg = load_registry()
    b_unit = burden_unit(df)
    units: dict[str, str] = {}
    for c in df.columns:
        if c in reg:
            units[c] = reg[c].unit
        elif c in _EXACT:
            units[c] = _EXACT[c]
        elif c.startswith("burden_d"):
            units[c] = b_unit
        elif c.startswith("resp_d") or c in ("best_response", "best_response_unconfirmed"):
            continue
        else:
            for suffix, unit in _SUFFIX:
                if c.endswith(suffix):
                    units[c] = unit
                    break
    return units


def write_parquet(df: pd.DataFrame, path: Path, units: dict[str, str], index: bool = True) -> Path:
    """``df`` as Parquet with each column's unit in its field metadata (``unit``) and all of them, as JSON, in the
    schema metadata under ``nksim.units``."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pa.Table.from_pandas(df, preserve_index=index)
    fields = [f.with_metadata({**(f.metadata or {}), b"unit": units[f.name].encode()}) if f.name in units else f
              for f in table.schema]
    schema = pa.schema(fields, metadata={**(table.schema.metadata or {}), UNITS_KEY: json.dumps(units).encode()})
    from nksim.io.atomic import atomic_path

    with atomic_path(Path(path)) as tmp:  # a reader or a resumed run never sees half a file
        pq.write_table(table.cast(schema), tmp)
    return Path(path)


def parquet_units(path: Path) -> dict[str, str]:
    """The units a Parquet file written by nksim carries (column -> unit)."""
    import pyarrow.parquet as pq

    meta = pq.read_schema(path).metadata or {}
    return json.loads(meta.get(UNITS_KEY, b"{}"))


def time_attrs() -> dict[str, str]:
    """CF-style attributes of the time coordinate: days (UDUNITS "d") from the first infusion (day 0). No
    "days since <date>" (a run has no calendar date; xarray would turn it into datetimes)."""
    return {"units": "d", "long_name": "days since first infusion", "standard_name": "time", "axis": "T",
            "comment": "study day: day 0 is the first infusion; negative days are lymphodepletion"}


def write_tidy_tables(out: Path, patients: pd.DataFrame) -> dict[str, Path]:
    """patients.parquet (response columns categorical, units in the metadata) and scans.parquet into ``out``."""
    tidy = categorical_responses(patients)
    for c in tidy.columns:
        if tidy[c].dtype == object:
            tidy[c] = tidy[c].astype(str)
    scans = scan_table(tidy)
    return {
        "patients": write_parquet(tidy, Path(out) / "patients.parquet", column_units(tidy)),
        "scans": write_parquet(scans, Path(out) / "scans.parquet", {"day": "d", "burden": burden_unit(tidy)},
                               index=False),
    }
