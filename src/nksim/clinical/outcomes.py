"""Per-patient clinical outcomes from engine trajectories: response, survival, safety, DLT, persistence.

Data contract (docs/clinical.md): ``trajectories`` is an xarray Dataset with coords ``patient`` (int),
``time`` (days from the first infusion, increasing, may start negative at lymphodepletion) and ``lesion``;
variables viable_cells, dead_cells (patient, time, lesion); nk_blood_per_ul, car_nk_blood_per_ul, wbc_per_ul
(host leukocytes, product excluded), cytokine_pg_ml, offtumor_activity, new_lesion_hazard, death_hazard
(patient, time); is_target (lesion). ``patients`` is a DataFrame indexed by patient id with weight_kg,
cd3_per_kg, n_infusions and antigen_<NAME> columns (all copied to the outcome table for stratification).

Inputs: the readouts read only a ``ReadoutInputs`` (``nksim.clinical.inputs``: tumor cells at the baseline and
scan days, and a few time courses); ``outcomes`` fills it from the trajectories, ``outcomes_from_inputs`` takes one
directly (e.g. filled from kernel-tracked summaries). Every step is vectorised over patients (numpy); the only
per-patient work is none: the random draws of ``stream(seed, "clinical", id)`` come from its vectorised twin.

Censoring (docs/clinical.md "Censoring and eligibility"): nothing is observed after death or after the end of
follow-up: scans, new lesions, progression, toxicities, DLT and product detection are censored at the earlier of
the two. A patient whose solve failed (``solver_status`` != 0 in ``patients``) gets NaN/None readouts.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping, Union

import numpy as np
import pandas as pd
import xarray as xr

from nksim.clinical import _grid, tracked
from nksim.clinical._params import clinical_params
from nksim.clinical.best_response import best_overall_response, continuing_partial_response
from nksim.clinical.codes import CR, ND, PD, PR, SD, to_labels
from nksim.clinical.criteria import ResponseCriteria, ScanData, make_criteria
from nksim.clinical.crs import astct_crs_grade, crs_grade_course, crs_signs
from nksim.clinical.detection import detectable, last_detectable_day
from nksim.clinical.dlt import evaluate_dlt
from nksim.clinical.icans import delayed, ice_and_grade
from nksim.clinical.inputs import REQUIRED_VARS, ZERO_IF_ABSENT, ReadoutInputs, check_dataset, unit_factor
from nksim.clinical.recurrence import recurrence_free_survival_at
from nksim.clinical.safety import (
    ctcae_leukopenia_grade,
    ctcae_neutropenia_grade,
    gvhd_grade,
    gvhd_risk,
    infusion_fevers,
    offtumor_grade,
)
from nksim.clinical.survival import hazard_event_time, progression_free_and_overall_survival
from nksim.errors import InputError
from nksim.rng import stream_uniforms
from nksim.spec.catalog import INDICATIONS
from nksim.spec.clinical import ReadoutSpec, confirmation_for

RNG_MODULE = "clinical"
REQUIRED_PATIENT_COLUMNS = ("cd3_per_kg", "n_infusions")
#: patient-table columns of the engine's per-patient solver status (0 = finished) and its message
STATUS_COLUMN, MESSAGE_COLUMN = "solver_status", "solver_message"
#: the readouts of an events-only tracker plan (besides the per-scan resp_d* and burden_d* columns)
RESPONSE_COLUMNS = ("measurable", "baseline_burden_mm", "baseline_spd_mm2", "baseline_marrow_blasts_pct",
                    "best_response", "best_response_unconfirmed", "best_pct_change", "n_scans", "pfs_days",
                    "pfs_event", "os_days", "os_event", "pd_day", "new_lesion_day", "death_cause")
#: the safety, DLT and persistence readouts, in table order (after RESPONSE_COLUMNS and the per-scan columns)
SAFETY_COLUMNS = ("crs_grade", "crs_onset_day", "icans_grade", "icans_onset_day", "ice_min", "gvhd_risk", "gvhd_grade",
                  "infusion_fevers", "offtumor_grade", "offtumor_onset_day", "offtumor_expected", "cytopenia_days",
                  "wbc_nadir_per_ul", "neutropenia_grade", "leukopenia_grade", "dlt", "dlt_evaluable", "dlt_day",
                  "dlt_toxicity", "peak_nk_per_ul", "tmax_nk_day", "peak_car_nk_per_ul", "peak_cytokine_pg_ml",
                  "detected", "days_detectable")
_DEATH_CAUSES = np.array(["", "lethal_burden", "hazard"], dtype=object)  #: death_cause values (not died first)
#: patient covariates: a table, or its columns as arrays (one value per patient)
Columns = Union[pd.DataFrame, Mapping[str, Any]]
BLOCK = 1024  #: patients per block of the readout computation on a daily grid (``block_rows``)
DAILY_DAYS = 366  #: days of a one-year daily grid (``block_rows``)


def scan_column(day: float) -> str:
    """Column name of the response at a scan day: resp_d56, resp_d56.5."""
    return f"resp_d{int(day)}" if float(day).is_integer() else f"resp_d{day:g}"


def patient_draws(seed: int, patient_ids: np.ndarray, attempts: np.ndarray | None = None) -> np.ndarray:
    """Uniform draws (patient, 4) from ``stream(seed, "clinical", id)``: new-lesion threshold, death
    threshold, GvHD, infusion fever, in that order (so a patient's events never depend on chunking or order).

    ``attempts``: the population's draw attempt per patient (a patient re-drawn after a screen failure, attempt
    k > 0, is a new candidate and reads ``stream(seed, "clinical", id, k)``)."""
    ids = np.asarray(patient_ids, dtype=np.int64)
    att = np.zeros(ids.shape, dtype=np.int64) if attempts is None else np.asarray(attempts, dtype=np.int64)
    out = stream_uniforms(seed, RNG_MODULE, ids, 4)
    again = np.flatnonzero(att > 0)
    if again.size:
        out[again] = stream_uniforms(seed, RNG_MODULE, ids[again], 4, extra=att[again])
    return out


def criteria_from_patients(patients: pd.DataFrame) -> str:
    """The response criteria of the cohort's indication (catalog), when ``readouts.criteria`` is not given."""
    values = list(patients["indication"].unique()) if "indication" in patients.columns else []
    if len(values) != 1 or values[0] not in INDICATIONS:
        raise InputError(
            "readouts.criteria",
            None,
            "one of RECIST1.1, mRECIST, Lugano2014, ALL-marrow (the patients name no single known indication: "
            f"{values[:3]})",
        )
    return INDICATIONS[values[0]].criteria


@dataclass(frozen=True)
class ReadoutSettings:
    """Readout settings with every registry default filled in (``ReadoutSpec`` + clinical parameters)."""

    spec: ReadoutSpec
    params: Mapping[str, float]
    criteria: ResponseCriteria
    confirmation: bool
    confirmation_min_days: float
    sd_min_days: float
    lethal_burden_cm3: float
    scan_days: np.ndarray

    @classmethod
    def resolve(cls, readouts: ReadoutSpec | None, params: Mapping[str, float] | None,
                patients: pd.DataFrame | None = None) -> "ReadoutSettings":
        ro = readouts or ReadoutSpec()
        p = clinical_params(params)
        name = ro.criteria or criteria_from_patients(patients if patients is not None else pd.DataFrame())
        crit = make_criteria(name, p, imaging_limit_mm=ro.imaging_limit_mm or p["clinical_imaging_limit_mm"],
                             measurable_min_mm=ro.measurable_min_mm or p["clinical_measurable_min_mm"],
                             mrecist_baseline=ro.mrecist_baseline)
        return cls(spec=ro, params=p, criteria=crit,
                   confirmation=confirmation_for(name) if ro.confirmation is None else ro.confirmation,
                   confirmation_min_days=ro.confirmation_min_days or p["clinical_confirmation_min_days"],
                   sd_min_days=ro.sd_min_days if ro.sd_min_days is not None else p["clinical_sd_min_days"],
                   lethal_burden_cm3=ro.lethal_burden_cm3 or p["clinical_lethal_burden_cm3"],
                   scan_days=np.asarray(ro.scan_days, dtype=float))


def outcomes(
    trajectories: xr.Dataset,
    patients: pd.DataFrame,
    readouts: ReadoutSpec | None = None,
    seed: int = 0,
    params: Mapping[str, float] | None = None,
) -> pd.DataFrame:
    """One row per patient: best response and per-scan responses, PFS/OS, CRS/ICANS/GvHD/off-tumor/cytopenia,
    DLT, persistence; then the patient covariates. ``params``: registry overrides (a scenario's resolved
    parameters may be passed whole; only ``clinical_*`` names are read). Patients with a non-zero
    ``solver_status`` column get NaN/None readouts."""
    ds = trajectories
    check_dataset(ds)
    settings = ReadoutSettings.resolve(readouts, params, patients)
    scan_times = np.concatenate([[_baseline_day(settings.spec, ds["time"].values.astype(float))],
                                 settings.scan_days])
    pid = ds["patient"].values.astype(np.int64)
    _check_patients(patients, pid)
    ok = np.ones(pid.size, dtype=bool)
    if STATUS_COLUMN in patients.columns:
        status = patients[STATUS_COLUMN].reindex(pid).to_numpy()
        ok = np.asarray(pd.isna(status) | (status == 0), dtype=bool)
    cov = patients.loc[pid]
    marrow = settings.criteria.name == "ALL-marrow"
    # blocks of patients keep the (patient, time) temporaries small (cache-sized, reused memory); a patient's
    # readouts do not depend on its block
    parts = []
    for k in range(0, pid.size, BLOCK):
        sl = slice(k, k + BLOCK)
        inp = ReadoutInputs.from_trajectories(ds.isel(patient=sl), scan_times, ok=ok[sl], marrow=marrow)
        parts.append(_block_readouts(inp, cov.iloc[sl], settings, seed))
    return _table(_joined(parts), cov, pid)


def _baseline_day(ro: ReadoutSpec, t: np.ndarray) -> float:
    baseline_day = t[0] if ro.baseline_day is None else float(ro.baseline_day)
    if not t[0] <= baseline_day <= t[-1]:
        raise InputError("readouts.baseline_day", baseline_day, f"a day within the trajectory [{t[0]}, {t[-1]}]")
    return baseline_day


def _check_patients(patients: Columns, pid: np.ndarray) -> None:
    missing = [c for c in REQUIRED_PATIENT_COLUMNS if c not in patients]
    if missing:
        raise InputError("patients.columns", missing, f"a table with columns {', '.join(REQUIRED_PATIENT_COLUMNS)}")
    if not isinstance(patients, pd.DataFrame):
        lengths = {len(v) for v in patients.values()}
        if lengths != {pid.size}:
            raise InputError("patients", f"columns of {sorted(lengths)} values", f"{pid.size} values per column")
        return
    absent = pd.Index(pid).difference(patients.index)
    if len(absent):
        raise InputError("patients.index", int(absent[0]), "a row for every patient of the trajectories")


def outcomes_from_inputs(inputs: ReadoutInputs, patients: Columns, settings: ReadoutSettings,
                         seed: int = 0) -> pd.DataFrame:
    """``outcomes`` on a ``ReadoutInputs``; rows of patients not ``inputs.ok`` hold NaN/None readouts.
    ``patients``: a table indexed by patient id, or its columns as arrays in the order of ``inputs.patient``
    (the table is then built once, readouts first)."""
    pid = inputs.patient
    _check_patients(patients, pid)
    cov = patients
    if isinstance(patients, pd.DataFrame) and not patients.index.equals(pd.Index(pid)):
        cov = patients.loc[pid]
    rows = block_rows(inputs.t.size)
    whole = pid.size <= rows
    parts = [_block_readouts(inputs if whole else inputs.subset(slice(k, k + rows)),
                             cov if whole else _take(cov, slice(k, k + rows)), settings, seed)
             for k in range(0, pid.size, rows)]
    return _table(_joined(parts), cov, pid)


def block_rows(n_times: int) -> int:
    """Patients per block of the readout computation: ``BLOCK`` on a daily grid, more when the time courses hold
    fewer days (kernel-tracked summaries read values at the readout days only), so the (patient, time) temporaries
    stay the same size and a chunk needs fewer blocks."""
    return max(BLOCK, BLOCK * DAILY_DAYS // max(int(n_times), 1))


def _take(cov: Columns, rows: slice | np.ndarray) -> Columns:
    """The rows (positions) ``rows`` of covariates given as a table or as columns."""
    if isinstance(cov, pd.DataFrame):
        return cov.iloc[rows]
    return {k: np.asarray(v)[rows] for k, v in cov.items()}


def _values(col: pd.Series) -> Any:
    """A table column's values by position: a numpy array, or the pandas array of a nullable/extension dtype."""
    return col.to_numpy() if isinstance(col.dtype, np.dtype) else col.array


def _joined(parts: list[dict[str, np.ndarray] | pd.DataFrame]) -> dict[str, Any]:
    """The blocks' readout columns as one set of columns (blocks with failed rows are tables with nullable
    dtypes: joined as tables)."""
    if len(parts) == 1 and isinstance(parts[0], dict):
        return parts[0]
    if all(isinstance(part, dict) for part in parts):
        return {k: np.concatenate([part[k] for part in parts]) for k in parts[0]}
    frame = pd.concat([part if isinstance(part, pd.DataFrame) else pd.DataFrame(part) for part in parts],
                      ignore_index=True)
    return {k: _values(frame[k]) for k in frame.columns}


def _table(readouts: Mapping[str, Any], cov: Columns, pid: np.ndarray) -> pd.DataFrame:
    """The patient table: the readout columns, then the covariates' other columns (by position), built once."""
    cols = dict(readouts)
    for k in cov:
        if k not in cols:
            cols[k] = _values(cov[k]) if isinstance(cov, pd.DataFrame) else cov[k]
    return pd.DataFrame(cols, index=pd.Index(pid, name="patient"))


def _block_readouts(inp: ReadoutInputs, cov: Columns, settings: ReadoutSettings,
                    seed: int) -> dict[str, np.ndarray] | pd.DataFrame:
    """The readout columns of a block; with failed solves, a table whose failed rows hold NaN/None/<NA>."""
    if inp.ok is None or np.all(inp.ok):
        return _readouts(inp, cov, settings, seed)
    good = np.asarray(inp.ok, dtype=bool)
    if not good.any():  # only the columns are needed: computed on one failed row (NaN in, discarded)
        with np.errstate(all="ignore"):
            part = pd.DataFrame(_readouts(inp.subset(slice(0, 1)), _take(cov, slice(0, 1)), settings, seed)).iloc[:0]
    else:
        rows = np.flatnonzero(good)
        part = pd.DataFrame(_readouts(inp.subset(good), _take(cov, rows), settings, seed),
                            index=pd.Index(inp.patient[rows], name="patient"))
    return _with_failed_rows(part, pd.Index(inp.patient, name="patient"))


def _with_failed_rows(part: pd.DataFrame, index: pd.Index) -> pd.DataFrame:
    """Readouts of all patients: rows absent from ``part`` (failed solves) are NaN/None/<NA> (nullable dtypes)."""
    full = part.reindex(index)
    for col in part.columns:
        kind = part[col].dtype.kind
        if kind == "b":
            full[col] = full[col].astype("boolean")
        elif kind in "iu":
            full[col] = full[col].astype("Int64")
        elif kind == "O":
            full[col] = full[col].astype(object).where(full[col].notna(), None)
    return full


def _readouts(inp: ReadoutInputs, cov: Columns, st: ReadoutSettings, seed: int) -> dict[str, np.ndarray]:
    """The readout columns of the patients of ``inp`` (``cov``: their covariates, a table or its columns)."""
    ro, p, crit = st.spec, st.params, st.criteria
    pid, t = inp.patient, inp.t
    n_pat = pid.size
    density = tracked.density(st, cov, n_pat)  # tumor cells per cm3 of lesion, per patient (the kernel's definition)
    baseline_day = float(inp.scan_times[0])
    end_day = min(ro.follow_up_days, t[-1])
    scan_days = st.scan_days

    # ---- random thresholds and event times (censored at death and at the end of follow-up) -----------------
    if inp.draws is not None:
        u = inp.draws
    else:
        u = patient_draws(seed, pid, np.asarray(cov["draw_attempt"]) if "draw_attempt" in cov else None)
    tr = inp.tracked
    if tr is not None:  # kernel-tracked: crossings of the continuous solution (nksim.clinical.tracked)
        new_day, death_hazard_day, lethal_day = tracked.event_times(tr)
    else:  # on the save grid
        e_new, e_death = -np.log1p(-u[:, 0]), -np.log1p(-u[:, 1])
        new_day = hazard_event_time(t, inp.new_lesion_hazard, e_new)
        death_hazard_day = hazard_event_time(t, inp.death_hazard, e_death)
        lethal_day = _grid.first_crossing_time(t, inp.burden, st.lethal_burden_cm3 * density)
    death_day = np.fmin(death_hazard_day, lethal_day)
    died = death_day <= end_day
    # causes as one shared string object each (a text array would become a string object per patient in the table)
    death_cause = _DEATH_CAUSES[np.where(~died, 0, np.where(lethal_day <= death_hazard_day, 1, 2))]
    new_seen_day = np.where((new_day <= end_day) & (new_day < death_day), new_day, np.nan)

    # ---- tumor response at scans -------------------------------------------------------------------------
    burden = crit.burden(ScanData(inp.viable_at, inp.dead_at, density, inp.is_target, inp.marrow_at))
    done = (
        (scan_days[None, :] <= end_day)
        & (scan_days[None, :] >= baseline_day)
        & (scan_days[None, :] < death_day[:, None])
    )
    codes = crit.scan_responses(burden, done, new_day[:, None] <= scan_days[None, :])
    measurable = burden.measurable
    values = burden.values
    confirm = st.confirmation
    conf_days = st.confirmation_min_days
    bor = best_overall_response(codes, scan_days, confirmation=confirm, confirmation_min_days=conf_days,
                                sd_min_days=st.sd_min_days)
    shown = continuing_partial_response(codes, scan_days, confirmation=confirm, confirmation_min_days=conf_days)
    bor_unconf = best_overall_response(codes, scan_days, confirmation=False, sd_min_days=st.sd_min_days)
    assessed = codes != ND
    with np.errstate(invalid="ignore", divide="ignore"):
        change = 100.0 * (values[:, 1:] - values[:, :1]) / values[:, :1]
    change = np.where(assessed & measurable[:, None], change, np.nan)
    all_nan = np.isnan(change).all(axis=1)
    best_change = np.full(n_pat, np.nan)
    if change.shape[1]:
        best_change[~all_nan] = np.nanmin(change[~all_nan], axis=1)
    surv = progression_free_and_overall_survival(scan_days, codes, death_day, end_day)

    criteria = crit.name
    cols: dict[str, np.ndarray] = {
        "measurable": measurable,
        "baseline_burden_mm": np.where(criteria in ("Lugano2014", "ALL-marrow"), np.nan, values[:, 0]),
        "baseline_spd_mm2": np.where(criteria == "Lugano2014", values[:, 0], np.nan),
        "baseline_marrow_blasts_pct": np.where(criteria == "ALL-marrow", values[:, 0], np.nan),
        "best_response": to_labels(bor),
        "best_response_unconfirmed": to_labels(bor_unconf),
        "best_pct_change": best_change,
        "n_scans": assessed.sum(axis=1),
    }
    for j, day in enumerate(scan_days):
        cols[scan_column(day)] = to_labels(shown[:, j])
    for j, day in enumerate(scan_days):  # sum of target diameters (mm; Lugano: SPD, mm2) at each scan done
        cols[scan_column(day).replace("resp_", "burden_")] = np.where(assessed[:, j], values[:, j + 1], np.nan)
    cols.update(
        {
            "pfs_days": surv["pfs_days"],
            "pfs_event": surv["pfs_event"],
            "os_days": surv["os_days"],
            "os_event": surv["os_event"],
            "pd_day": surv["pd_day"],
            "new_lesion_day": new_seen_day,
            "death_cause": death_cause,
        }
    )
    if tr is None or not tracked.events_only(tr):  # events-only summaries: response and survival only
        cols.update(_safety(inp, cov, st, u, death_day, end_day))
    if ro.setting == "adjuvant":  # recurrence-free survival (nksim.clinical.recurrence)
        detect = ro.recurrence_detect_mm or p["clinical_recurrence_detect_mm"]
        cols.update(recurrence_free_survival_at(inp.viable_at, density, scan_days, new_day, death_day, end_day, detect,
                                                baseline_day))
    return cols


def _safety(inp: ReadoutInputs, cov: Columns, st: ReadoutSettings, u: np.ndarray, death_day: np.ndarray,
            end_day: float) -> dict[str, np.ndarray]:
    """The ``SAFETY_COLUMNS`` (safety, DLT, persistence): from the kernel-tracked summaries when the inputs have
    them (``tracked.columns``), else from the time courses on the grid (``_grid_safety``)."""
    ro, p = st.spec, st.params
    n_pat = inp.patient.size
    risk = gvhd_risk(np.asarray(cov["cd3_per_kg"], dtype=float), p)
    gvhd_onset = p["clinical_gvhd_onset_day"]
    gvhd_seen = (gvhd_onset <= end_day) & (gvhd_onset < death_day)
    g_gvhd = np.where(gvhd_seen, gvhd_grade(risk, u[:, 2], p), 0)
    fevers = infusion_fevers(np.asarray(cov["n_infusions"]), u[:, 3], p)
    tr = inp.tracked
    if tr is not None:  # safety, DLT and persistence of the continuous solution
        out = tracked.columns(tr, st, death_day, end_day, g_gvhd, fevers)
        if "detected" not in out:  # an assay with its own sample days: detection at those days
            out.update(_detection(inp, st, None, death_day, end_day))
    else:
        out = _grid_safety(inp, st, death_day, end_day, g_gvhd, fevers)
    # the off-tumor effect is expected from the mechanism (B-cell aplasia of a lineage-antigen CAR): graded and
    # reported as an adverse event, not a DLT (readouts.dlt_expected)
    out.update({"gvhd_risk": risk, "gvhd_grade": g_gvhd.astype(int), "infusion_fevers": fevers,
                "offtumor_expected": np.full(n_pat, "offtumor" in (ro.dlt_expected or ()))})
    return {k: out[k] for k in SAFETY_COLUMNS}


def _grid_safety(inp: ReadoutInputs, st: ReadoutSettings, death_day: np.ndarray, end_day: float, g_gvhd: np.ndarray,
                 fevers: np.ndarray) -> dict[str, np.ndarray]:
    """Safety, DLT and persistence readouts from the time courses on the grid ``inp.t`` (no tracked summaries)."""
    ro, p = st.spec, st.params
    t = inp.t
    n_pat = inp.patient.size
    # ---- safety: observation windows, then maxima and first crossings (grades are monotone in their drivers) ---
    stop = np.fmin(death_day, np.nextafter(end_day, np.inf))  # observed at t < stop (t <= end_day, t < death)
    alive = t[None, :] < stop[:, None]  # observed, any time (incl. before day 0)
    post = alive & (t[None, :] >= 0)  # observed after the first infusion
    any_post = post.any(axis=1)
    c = inp.cytokine
    c_post = np.where(post, c, -np.inf)
    fever_pg = p["clinical_crs_fever_pg_ml"]
    crs_onset = _grid.first_true_time(t, c_post >= fever_pg)
    after_fever = np.where(t[None, :] >= crs_onset[:, None], c_post, -np.inf)  # NaN onset: never
    c_top = after_fever.max(axis=1)
    fever, hypo, hypox = crs_signs(np.where(np.isfinite(c_top), c_top, 0.0), p)
    crs_grade = np.where(np.isfinite(c_top), astct_crs_grade(np.ones(n_pat, bool), hypo, hypox), 0)
    cd = delayed(t, np.where(t[None, :] >= 0, c, 0.0), p["clinical_icans_delay_days"])  # signs after infusion
    cd_post = np.where(post, cd, -np.inf)
    cd_top = np.where(any_post, cd_post.max(axis=1), 0.0)
    ice_top, icans_top = _icans_at(cd_top, p)
    icans_grade = np.where(any_post, icans_top, 0)
    ice_min = np.where(any_post, ice_top, 10)
    icans_onset = _grid.first_true_time(t, cd_post >= p["clinical_icans_onset_pg_ml"])
    gvhd_onset = p["clinical_gvhd_onset_day"]
    off_act = inp.offtumor
    off_post = np.where(post, off_act, -np.inf)
    off_grade = np.where(any_post, offtumor_grade(np.where(any_post, off_post.max(axis=1), 0.0), p), 0)
    off_onset = _grid.first_true_time(t, off_post >= p["clinical_offtumor_grade1"])
    wbc = inp.wbc
    nadir = np.where(alive, wbc, np.inf).min(axis=1)
    finite_nadir = np.where(np.isfinite(nadir), nadir, 0.0)
    neut_grade = np.where(np.isfinite(nadir),
                          ctcae_neutropenia_grade(finite_nadir * p["clinical_neutrophil_fraction"], p), 0)
    leuk_grade = np.where(np.isfinite(nadir), ctcae_leukopenia_grade(finite_nadir, p), 0)
    cyto_days = _grid.time_below(t, wbc, p["clinical_cytopenia_wbc_per_ul"], t_to=np.fmin(death_day, end_day))

    # ---- DLT: grade courses on the window only (the protocol's definition, expected effects excluded) --------
    w = int(np.searchsorted(t, ro.dlt_window_days, side="right"))
    tw, postw, alivew = t[:w], post[:, :w], alive[:, :w]
    rules = tracked.dlt_rules(ro)
    need = {r.toxicity for r in rules}
    courses: dict[str, np.ndarray] = {}
    if "crs" in need:
        cw = c[:, :w]
        courses["crs"] = np.where(postw, crs_grade_course(np.where(postw, cw, 0.0), p), 0)
    if "icans" in need:
        courses["icans"] = np.where(postw, _icans_at(cd[:, :w], p)[1], 0)
    if "gvhd" in need:
        courses["gvhd"] = np.where(tw[None, :] >= gvhd_onset, g_gvhd[:, None], 0) * postw
    if "offtumor" in need:
        courses["offtumor"] = np.where(postw, offtumor_grade(off_act[:, :w], p), 0)
    if "neutropenia" in need:
        courses["neutropenia"] = np.where(alivew, ctcae_neutropenia_grade(wbc[:, :w] * p["clinical_neutrophil_fraction"], p), 0)
    if "leukopenia" in need:
        courses["leukopenia"] = np.where(alivew, ctcae_leukopenia_grade(wbc[:, :w], p), 0)
    if "infusion_fever" in need:
        courses["infusion_fever"] = np.where((fevers[:, None] > 0) & (tw[None, :] >= 0) & (tw[None, :] <= 1.0), 1, 0) * postw
    if not courses:
        courses["none"] = np.zeros((n_pat, w), dtype=np.int8)
    dlt, dlt_day, dlt_cause = evaluate_dlt(tw, courses, rules, ro.dlt_window_days)

    # ---- persistence -------------------------------------------------------------------------------------
    nk = inp.nk
    nk_post = np.where(post, nk, -np.inf)
    peak_idx = np.argmax(nk_post, axis=1)
    nk_peak = nk_post[np.arange(n_pat), peak_idx]
    car_peak = (np.where(post, inp.car_nk, 0.0).max(axis=1) if inp.car_nk is not None else np.zeros(n_pat))
    return {
        "crs_grade": crs_grade.astype(int),
        "crs_onset_day": crs_onset,
        "icans_grade": icans_grade.astype(int),
        "icans_onset_day": icans_onset,
        "ice_min": ice_min.astype(int),
        "offtumor_grade": off_grade.astype(int),
        "offtumor_onset_day": off_onset,
        "cytopenia_days": cyto_days,
        "wbc_nadir_per_ul": np.where(np.isfinite(nadir), nadir, np.nan),  # NaN: no observation while alive
        "neutropenia_grade": neut_grade.astype(int),
        "leukopenia_grade": leuk_grade.astype(int),
        "dlt": dlt,
        # DLT-evaluable: a DLT, or observed alive through the whole window (3+3-style evaluability)
        "dlt_evaluable": dlt | ((death_day > ro.dlt_window_days) & (end_day >= ro.dlt_window_days)),
        "dlt_day": dlt_day,
        "dlt_toxicity": dlt_cause,
        "peak_nk_per_ul": np.where(any_post, nk_peak, np.nan),
        "tmax_nk_day": np.where(any_post & (nk_peak > 0), t[peak_idx], np.nan),
        "peak_car_nk_per_ul": car_peak,
        "peak_cytokine_pg_ml": np.where(any_post, c_post.max(axis=1), 0.0),  # C >= 0
        **_detection(inp, st, post, death_day, end_day),
    }


def _detection(inp: ReadoutInputs, st: ReadoutSettings, post: np.ndarray | None, death_day: np.ndarray,
               end_day: float) -> dict[str, np.ndarray]:
    """``detected`` and ``days_detectable`` by the scenario's assay: at its sample days (values interpolated
    there), or at every grid day observed after the first infusion (``post``) when it names none."""
    ro, p, t = st.spec, st.params, inp.t
    if ro.assay.analyte_resolved == "transduced":
        if inp.car_nk is None:
            raise InputError("trajectories", "car_nk_blood_per_ul", "present for a qPCR or transduced-cell assay")
        analyte = inp.car_nk
    else:
        analyte = inp.nk
    if ro.assay.sample_days is None:
        det = detectable(analyte, inp.wbc + inp.nk, ro.assay, p) & post
        days_det = last_detectable_day(t, det)
    else:
        sd = np.asarray(ro.assay.sample_days, dtype=float)
        det = detectable(_grid.interp_at(analyte, t, sd), _grid.interp_at(inp.wbc + inp.nk, t, sd), ro.assay, p)
        det &= (sd[None, :] >= 0) & (sd[None, :] <= end_day) & (sd[None, :] < death_day[:, None])
        days_det = last_detectable_day(sd, det)
    return {"detected": det.any(axis=1), "days_detectable": days_det}


def _icans_at(cd: np.ndarray, p: Mapping[str, float]) -> tuple[np.ndarray, np.ndarray]:
    """ICE score and ICANS grade at delayed cytokine values ``cd`` (any shape; ``icans_course`` pointwise)."""
    return ice_and_grade(cd, p)


__all__ = ["outcomes", "outcomes_from_inputs", "ReadoutInputs", "ReadoutSettings", "scan_column", "patient_draws",
           "unit_factor", "REQUIRED_VARS", "ZERO_IF_ABSENT", "CR", "PR", "SD", "PD"]
