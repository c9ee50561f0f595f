"""NONMEM-style datasets (the layout of NONMEM, Monolix, mrgsolve, rxode2 / nlmixr2) in and out.

Out: ``to_nonmem(result_or_run_folder)`` gives one table per cohort: dose rows (EVID 1) of every dose each patient
was simulated with, observation rows (EVID 0) of product cells in blood, tumor burden and cytokine (others on request)
at the save times, and baseline covariates. ``write_nonmem`` writes it as CSV with a JSON sidecar (``<file>.json``:
units per CMT/DVID, column dictionary, provenance).

In: ``read_nonmem(path_or_df)`` reads and validates such a table; its dose rows drive per-patient regimens through
``nksim.simulate(..., overrides={"dosing": table})`` (see ``nksim.kinetics.dosing``). Simulate, export, import the
dose rows and simulate again gives the same trajectories bit for bit.

Time: TIME is days since the first product infusion (day 0), the engine's convention; lymphodepletion and pre-infusion
doses have negative TIME. At equal TIME dose rows come before observation rows: observations are post-dose (the
engine saves values after the events of a save time).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np
import pandas as pd
import xarray as xr

from nksim.errors import InputError
from nksim.kinetics.dosing import DOSE_CMTS, UNSUPPORTED_ZERO, as_dosing, normalize_columns

FORMAT = "nksim-nonmem"
FORMAT_VERSION = 1
TIME_ORIGIN = ("days since the first product infusion (day 0 = first infusion, the engine's convention); "
               "lymphodepletion and pre-infusion doses have negative TIME")


@dataclass(frozen=True)
class Observation:
    name: str
    dvid: int
    unit: str
    description: str
    variable: str  # trajectories variable it is read from

    @property
    def cmt(self) -> int:
        return 10 + self.dvid


def _target_cells(ds: xr.Dataset) -> np.ndarray:
    viable = np.asarray(ds["viable_cells"].transpose("patient", "time", "lesion").values, dtype=float)
    return viable[..., np.asarray(ds["is_target"].values, dtype=bool)].sum(axis=-1)


OBSERVATIONS: dict[str, Observation] = {o.name: o for o in (
    Observation("product_blood", 1, "cells/uL", "product cells (transduced + untransduced) per uL of blood",
                "nk_blood_per_ul"),
    Observation("car_product_blood", 2, "cells/uL", "transduced (CAR+) product cells per uL of blood",
                "car_nk_blood_per_ul"),
    Observation("tumor_target_cells", 3, "cells", "tumor burden: viable tumor cells summed over the target lesions "
                "(the non-target remainder excluded; the clinical layer turns lesion cells into diameters at scans)",
                "viable_cells"),
    Observation("tumor_total_cells", 4, "cells", "viable tumor cells, all lesions (non-target remainder included)",
                "tumor_viable_total"),
    Observation("cytokine", 5, "pg/mL", "inflammatory cytokine proxy C (IL-6-like) that drives CRS/ICANS grading",
                "cytokine_pg_ml"),
    Observation("il15", 6, "pg/mL", "systemic IL-15", "il15_pg_ml"),
    Observation("il2", 7, "pg/mL", "systemic IL-2", "il2_pg_ml"),
    Observation("wbc", 8, "cells/uL", "leukocytes", "wbc_per_ul"),
    Observation("antibody", 9, "ug/mL", "antibody or engager concentration", "antibody_ug_ml"),
    Observation("b_cells_blood", 10, "cells/uL", "normal antigen-bearing (B) cells per uL of blood",
                "bsys_blood_per_ul"),
)}
DEFAULT_OBSERVATIONS = ("product_blood", "tumor_target_cells", "cytokine")
_DERIVED: dict[str, Callable[[xr.Dataset], np.ndarray]] = {"tumor_target_cells": _target_cells}

COLUMNS: dict[str, tuple[str, str]] = {
    "ID": ("1", "nksim patient id (the index of result.patients; 0-based as nksim numbers patients)"),
    "TIME": ("d", TIME_ORIGIN),
    "EVID": ("1", "event id: 1 dose, 0 observation"),
    "AMT": ("unit of the CMT", "dose amount in the dose compartment's unit (see compartments); 0 on observation rows"),
    "CMT": ("1", "compartment: 1-10 and 21 dose compartments, 11-20 observation compartments (10 + DVID)"),
    "DV": ("unit of the CMT", "observed (simulated) value in the observation's unit; 0 on dose rows"),
    "MDV": ("1", "missing dependent variable: 1 on dose rows, 0 on observation rows"),
    "DVID": ("1", "observation type (see compartments); 0 on dose rows"),
}

BASELINE_COVARIATES = ("weight_kg", "chemosensitivity", "hla_level", "hypoxia", "ligand_level", "tgfb_ng_ml",
                       "wbc0_per_ul", "b_blood_per_ul", "tvdt_d", "kir_matched", "sum_diameters_mm",
                       "min_lesion_diameter_mm", "max_lesion_diameter_mm")
_COVARIATE_PATTERNS = (re.compile(r"antigen_fraction_\w+$"), re.compile(r"lesion\d+_diameter_mm$"))
_COHORT_CONSTANTS = ("indication", "immune_status")


def default_covariates(patients: pd.DataFrame) -> list[str]:
    """Baseline covariates of a patient table, in its column order: body weight, chemosensitivity, tumor antigen
    fractions, HLA / ligand levels, TGF-beta, hypoxia, baseline WBC and B cells, tumor doubling time, KIR match and
    lesion diameters. Individual model parameters (delta_0, k_car, ...), the product given and the outcomes are not
    covariates (the doses are rows; ask for any column by name)."""
    return [c for c in patients.columns
            if c in BASELINE_COVARIATES or any(p.match(str(c)) for p in _COVARIATE_PATTERNS)]


# ---- export ---------------------------------------------------------------------------------------------------------

def _load_source(source: Any) -> tuple[xr.Dataset, pd.DataFrame, dict[str, Any]]:
    from nksim.engine import SimulationResult

    if isinstance(source, SimulationResult):
        prov = dict(source.provenance)
        return source.trajectories, source.patients, prov
    if isinstance(source, (str, Path)):
        folder = Path(source)
        from nksim.io.run_folder import open_patients, open_trajectories

        if not folder.is_dir():
            raise InputError("run folder", str(source), "a folder written by `nksim run`")
        traj, pts = open_trajectories(folder), open_patients(folder)
        prov: dict[str, Any] = {}
        if (folder / "provenance.json").exists():
            prov = json.loads((folder / "provenance.json").read_text(encoding="utf-8"))
        prov.pop("resolved_scenario", None)
        return traj, pts, prov
    raise InputError("to_nonmem source", type(source).__name__, "a SimulationResult or a run folder path")


def _observations(names: Sequence[str] | str | None) -> list[Observation]:
    if names is None:
        names = DEFAULT_OBSERVATIONS
    elif isinstance(names, str):
        names = list(OBSERVATIONS) if names == "all" else [n.strip() for n in names.split(",") if n.strip()]
    out = []
    for n in names:
        if n not in OBSERVATIONS:
            raise InputError("observations", n, "one of " + ", ".join(OBSERVATIONS) + ' (or "all")')
        if OBSERVATIONS[n] not in out:
            out.append(OBSERVATIONS[n])
    return sorted(out, key=lambda o: o.dvid)


def _times(grid: np.ndarray, times: Sequence[float] | None) -> np.ndarray:
    if times is None:
        return np.arange(grid.size)
    idx = []
    for t in np.atleast_1d(np.asarray(times, dtype=float)):
        hit = np.flatnonzero(np.abs(grid - t) <= 1e-9)
        if not hit.size:
            raise InputError("times", float(t), f"save times of the simulation (days {grid[0]:g} to {grid[-1]:g}; "
                             "more via simulation.save_every_d or simulation.scan_days)")
        idx.append(int(hit[0]))
    return np.unique(idx)


def _covariates(patients: pd.DataFrame, names: Sequence[str] | str | None) -> list[str]:
    if names is None:
        return default_covariates(patients)
    if isinstance(names, str):
        names = [] if names.strip().lower() == "none" else [n.strip() for n in names.split(",") if n.strip()]
    for c in names:
        if c in COLUMNS:
            raise InputError("covariates", c, "a patient-table column other than the NONMEM columns")
        if c not in patients.columns:
            raise InputError("covariates", c, "a column of the patient table (e.g. "
                             + ", ".join(default_covariates(patients)[:6]) + ")")
        kind = patients[c].dtype.kind
        if kind not in "biuf":
            raise InputError("covariates", c, f"a numeric or boolean column (dtype {patients[c].dtype})")
    return list(dict.fromkeys(names))


def to_nonmem(source: Any, observations: Sequence[str] | str | None = None, times: Sequence[float] | None = None,
              covariates: Sequence[str] | str | None = None) -> pd.DataFrame:
    """A simulated cohort as a NONMEM-style table.

    ``source``: a ``SimulationResult`` or a run folder written by ``nksim run``. ``observations``: names from
    ``OBSERVATIONS`` (default product_blood, tumor_target_cells, cytokine; ``"all"``). ``times``: observation days,
    each a save time of the simulation (default: all save times). ``covariates``: patient-table columns (default
    ``default_covariates``; ``[]`` none). Columns: ID, TIME, EVID, AMT, CMT, DV, MDV, DVID, then the covariates
    (booleans as 0/1); rows sorted by ID, TIME, dose rows first, CMT. ``df.attrs["nksim_nonmem"]`` holds the data
    dictionary (``metadata``), which ``write_nonmem`` writes beside the file."""
    ds, patients, prov = _load_source(source)
    try:
        return _to_nonmem(ds, patients, prov, observations, times, covariates)
    finally:
        if isinstance(source, (str, Path)):
            ds.close()


def _to_nonmem(ds: xr.Dataset, patients: pd.DataFrame, prov: dict[str, Any], observations: Any, times: Any,
               covariates: Any) -> pd.DataFrame:
    obs = _observations(observations)
    covs = _covariates(patients, covariates)
    if "dose_time" not in ds.coords:
        raise InputError("trajectories", "no dose records", "a simulation by an nksim that records its doses "
                         "(coordinates dose_time, dose_cmt, dose_amt); re-run it")
    pid = np.asarray(ds["patient"].values, dtype=np.int64)
    grid = np.asarray(ds["time"].values, dtype=float)
    ti = _times(grid, times)
    # dose rows
    dt = np.asarray(ds["dose_time"].transpose("patient", "dose").values, dtype=float)
    dc = np.asarray(ds["dose_cmt"].transpose("patient", "dose").values, dtype=float)
    da = np.asarray(ds["dose_amt"].transpose("patient", "dose").values, dtype=float)
    given = ~np.isnan(dc)
    nd = int(given.sum())
    parts = {"ID": [np.broadcast_to(pid[:, None], dc.shape)[given]], "TIME": [dt[given]],
             "EVID": [np.ones(nd, np.int64)], "AMT": [da[given]], "CMT": [dc[given].astype(np.int64)],
             "DV": [np.zeros(nd)], "MDV": [np.ones(nd, np.int64)], "DVID": [np.zeros(nd, np.int64)]}
    # observation rows
    n_obs = pid.size * ti.size
    for o in obs:
        values = (_DERIVED[o.name](ds) if o.name in _DERIVED
                  else np.asarray(ds[o.variable].transpose("patient", "time").values, dtype=float))
        parts["ID"].append(np.repeat(pid, ti.size))
        parts["TIME"].append(np.tile(grid[ti], pid.size))
        parts["EVID"].append(np.zeros(n_obs, np.int64))
        parts["AMT"].append(np.zeros(n_obs))
        parts["CMT"].append(np.full(n_obs, o.cmt, np.int64))
        parts["DV"].append(values[:, ti].ravel())
        parts["MDV"].append(np.zeros(n_obs, np.int64))
        parts["DVID"].append(np.full(n_obs, o.dvid, np.int64))
    cols = {k: np.concatenate(v) for k, v in parts.items()}
    order = np.lexsort((cols["CMT"], cols["MDV"] == 0, cols["TIME"], cols["ID"]))  # stable: equal keys keep order
    df = pd.DataFrame({k: v[order] for k, v in cols.items()})
    if covs:
        cov = patients.reindex(df["ID"].to_numpy())[covs].reset_index(drop=True)
        for c in covs:
            df[c] = cov[c].astype(np.int64) if cov[c].dtype.kind == "b" else cov[c]
    df.attrs["nksim_nonmem"] = metadata(obs, covs, patients, prov, n_patients=int(pid.size))
    return df


COVARIATE_DESCRIPTIONS = {
    "weight_kg": "body weight",
    "chemosensitivity": "tumor chemosensitivity (scales the log-kill of lymphodepletion and chemotherapy)",
    "hla_level": "tumor HLA class I level relative to normal tissue",
    "hypoxia": "tumor hypoxia",
    "ligand_level": "tumor NK-activating ligand level relative to typical",
    "tgfb_ng_ml": "tumor TGF-beta",
    "wbc0_per_ul": "baseline leukocytes",
    "b_blood_per_ul": "baseline blood B cells (before lymphodepletion)",
    "tvdt_d": "tumor volume doubling time",
    "kir_matched": "donor KIR-ligand matched (1) or mismatched (0)",
    "sum_diameters_mm": "baseline sum of target-lesion diameters",
    "min_lesion_diameter_mm": "smallest baseline target-lesion diameter",
    "max_lesion_diameter_mm": "largest baseline target-lesion diameter",
}


def _covariate_info(name: str, patients: pd.DataFrame) -> dict[str, str]:
    from nksim.registry import load_registry

    reg = load_registry()
    m = re.fullmatch(r"lesion(\d+)_diameter_mm", name)
    if m:
        return {"unit": "mm", "description": f"baseline diameter of target lesion {m.group(1)}"}
    if name.startswith("antigen_fraction_"):
        return {"unit": "fraction", "description": f"fraction of tumor cells carrying {name[17:]}"}
    unit = "0/1" if patients[name].dtype.kind == "b" else ("mm" if name.endswith("_mm") else "")
    note = ""
    try:
        p = reg[name]
        unit, note = unit or p.unit, p.note
    except InputError:
        pass
    return {"unit": unit, "description": COVARIATE_DESCRIPTIONS.get(name, note or name)}


def metadata(observations: Sequence[Observation], covariates: Sequence[str], patients: pd.DataFrame,
             provenance: dict[str, Any], n_patients: int) -> dict[str, Any]:
    """The data dictionary of a table from ``to_nonmem``: columns, compartments with units, covariates, provenance."""
    comps = [{"cmt": c.cmt, "kind": "dose", "name": c.name, "unit": c.unit, "description": c.description}
             for c in DOSE_CMTS.values()]
    comps += [{"cmt": o.cmt, "dvid": o.dvid, "kind": "observation", "name": o.name, "unit": o.unit,
               "description": o.description, "source_variable": o.variable} for o in observations]
    constants = {c: str(patients[c].iloc[0]) for c in _COHORT_CONSTANTS
                 if c in patients.columns and patients[c].nunique() == 1}
    keep = ("scenario_name", "seed", "nksim_version", "registry_sha256", "backend", "rtol")
    return {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "time_unit": "d",
        "time_origin": TIME_ORIGIN,
        "row_order": "ID, then TIME; at equal TIME dose rows (EVID 1) before observation rows (post-dose values), "
                     "then CMT",
        "columns": {k: {"unit": u, "description": d} for k, (u, d) in COLUMNS.items()},
        "compartments": comps,
        "covariates": {c: _covariate_info(c, patients) for c in covariates},
        "cohort_constants": constants,
        "not_exported": "boundary events of piecewise-constant inputs (concomitant growth inhibition, which stays "
                        "with the scenario's regimen), the regimen's route and the antibody's target and half-life",
        "n_patients": n_patients,
        "provenance": {k: provenance[k] for k in keep if k in provenance},
    }


def sidecar_path(path: str | Path) -> Path:
    path = Path(path)
    return path.with_name(path.name + ".json")


def write_nonmem(data: Any, path: str | Path, **kwargs: Any) -> Path:
    """Write a ``to_nonmem`` table (or a result / run folder, exported with ``kwargs``) as CSV (full float
    precision) and its data dictionary as ``<path>.json``. Returns the CSV path."""
    df = data if isinstance(data, pd.DataFrame) else to_nonmem(data, **kwargs)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    df.to_csv(path, index=False)
    meta = df.attrs.get("nksim_nonmem")
    if meta is not None:
        sidecar_path(path).write_text(json.dumps(meta, indent=2, default=str), encoding="utf-8")
    return path


# ---- import ---------------------------------------------------------------------------------------------------------

def read_nonmem(source: str | Path | pd.DataFrame) -> pd.DataFrame:
    """Read and validate a NONMEM-style table (CSV or Parquet path, or a DataFrame) for ``overrides={"dosing": ...}``.

    Standard columns are renamed to upper case (``time``/``amt``/``cmt`` of mrgsolve and rxode2 are accepted); "."
    reads as missing; numbers are read exactly (round-trip float parsing). The dose rows (EVID 1) are validated now
    (``nksim.kinetics.dosing.as_dosing``); a sidecar ``<path>.json`` from ``write_nonmem``, if present, must state
    the same dose units. Returns the table (observation rows and covariates kept)."""
    if isinstance(source, pd.DataFrame):
        df = normalize_columns(source.copy())
        df.attrs.update(source.attrs)
    else:
        path = Path(source)
        if not path.is_file():
            raise InputError("path", str(path), "a readable NONMEM-style table (.csv or .parquet)")
        try:
            if path.suffix.lower() == ".parquet":
                df = pd.read_parquet(path)
                df.attrs["nonmem_line_offset"] = None
            else:
                df = pd.read_csv(path, na_values=["."], float_precision="round_trip", skipinitialspace=True)
                df.attrs["nonmem_line_offset"] = 2  # header on line 1, row 0 on line 2
        except (OSError, ValueError) as exc:
            raise InputError("path", str(path), f"a readable CSV or Parquet table ({exc})") from None
        df = normalize_columns(df, where=path.name)
        df.attrs["nonmem_source"] = str(path)
        side = sidecar_path(path)
        if side.exists():
            meta = json.loads(side.read_text(encoding="utf-8"))
            _check_sidecar(meta, str(side))
            df.attrs["nksim_nonmem"] = meta
    as_dosing(df)  # raises with the column, row, value and what is allowed
    for c in ("ID", "TIME", "EVID", "AMT", "CMT", "DV", "MDV", "DVID", *UNSUPPORTED_ZERO):
        if c in df.columns:
            df[c] = pd.to_numeric(df[c], errors="coerce")
    return df


def _check_sidecar(meta: dict[str, Any], where: str) -> None:
    if meta.get("format") != FORMAT:
        return  # some other tool's sidecar: nothing to check against
    if meta.get("format_version", FORMAT_VERSION) > FORMAT_VERSION:
        raise InputError("format_version", meta.get("format_version"), f"<= {FORMAT_VERSION} (a newer nksim wrote "
                         "this file)", where)
    for c in meta.get("compartments", []):
        if c.get("kind") == "dose":
            ours = DOSE_CMTS.get(int(c["cmt"]))
            if ours is None or ours.unit != c.get("unit"):
                allowed = f"unit {ours.unit!r}" if ours else "a dose compartment of this nksim"
                raise InputError(f"compartments.CMT {c['cmt']}", c.get("unit"), allowed, where)


def cmt_table() -> pd.DataFrame:
    """All compartments (dose and observation) with names, units and meaning, as in the data dictionary."""
    rows = [{"CMT": c.cmt, "DVID": 0, "kind": "dose", "name": c.name, "unit": c.unit, "description": c.description}
            for c in DOSE_CMTS.values()]
    rows += [{"CMT": o.cmt, "DVID": o.dvid, "kind": "observation", "name": o.name, "unit": o.unit,
              "description": o.description} for o in OBSERVATIONS.values()]
    return pd.DataFrame(rows)


__all__ = ["OBSERVATIONS", "DEFAULT_OBSERVATIONS", "cmt_table", "default_covariates", "metadata", "read_nonmem",
           "sidecar_path", "to_nonmem", "write_nonmem"]
