"""FROZEN COPY of nksim.clinical.outcomes.outcomes before vectorization (commit e47457b), for benchmarks/outcomes_speed.py only.

Data contract (docs/clinical.md): ``trajectories`` is an xarray Dataset with coords ``patient`` (int),
``time`` (days from the first infusion, increasing, may start negative at lymphodepletion) and ``lesion``;
variables viable_cells, dead_cells (patient, time, lesion); nk_blood_per_ul, car_nk_blood_per_ul, wbc_per_ul
(host leukocytes, product excluded), cytokine_pg_ml, offtumor_activity, new_lesion_hazard, death_hazard
(patient, time); is_target (lesion). ``patients`` is a DataFrame indexed by patient id with weight_kg,
cd3_per_kg, n_infusions and antigen_<NAME> columns (all copied to the outcome table for stratification).
"""

from __future__ import annotations

import re
from typing import Mapping

import numpy as np
import pandas as pd
import xarray as xr

from nksim.clinical import _grid
from nksim.clinical._params import clinical_params
from nksim.clinical.best_response import best_overall_response, continuing_partial_response
from nksim.clinical.codes import CR, ND, PD, PR, SD, to_labels
from nksim.clinical.crs import crs_grade_course
from nksim.clinical.detection import detectable, last_detectable_day
from nksim.clinical.dlt import evaluate_dlt
from nksim.clinical.icans import icans_course
from nksim.clinical.lesions import diameter_mm
from nksim.clinical.lugano import lugano_scan_responses
from nksim.clinical.marrow import marrow_scan_responses
from nksim.clinical.recist import recist_scan_responses
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
from nksim.rng import stream
from nksim.spec.catalog import INDICATIONS
from nksim.spec.clinical import ReadoutSpec, confirmation_for

RNG_MODULE = "clinical"
REQUIRED_VARS = ("viable_cells", "dead_cells", "nk_blood_per_ul", "wbc_per_ul", "cytokine_pg_ml")
ZERO_IF_ABSENT = ("new_lesion_hazard", "death_hazard", "offtumor_activity")
REQUIRED_PATIENT_COLUMNS = ("cd3_per_kg", "n_infusions")


def scan_column(day: float) -> str:
    """Column name of the response at a scan day: resp_d56, resp_d56.5."""
    return f"resp_d{int(day)}" if float(day).is_integer() else f"resp_d{day:g}"


def patient_draws(seed: int, patient_ids: np.ndarray) -> np.ndarray:
    """Uniform draws (patient, 4) from ``stream(seed, "clinical", id)``: new-lesion threshold, death
    threshold, GvHD, infusion fever, in that order (so a patient's events never depend on chunking or order).
    """
    out = np.empty((len(patient_ids), 4))
    for k, pid in enumerate(patient_ids):
        out[k] = stream(seed, RNG_MODULE, int(pid)).random(4)
    return out


def _check(ds: xr.Dataset, patients: pd.DataFrame) -> None:
    for dim in ("patient", "time", "lesion"):
        if dim not in ds.dims:
            raise InputError(
                "trajectories.dims", sorted(ds.dims), f"dimensions patient, time and lesion ({dim} missing)"
            )
    for name in REQUIRED_VARS:
        if name not in ds:
            raise InputError(
                "trajectories", name, f"a Dataset with variables {', '.join(REQUIRED_VARS)} (missing)"
            )
    t = ds["time"].values.astype(float)
    if t.size < 2 or not np.all(np.diff(t) > 0):
        raise InputError("trajectories.time", t[:5].tolist(), "at least two strictly increasing times (days)")
    for name in (*REQUIRED_VARS, *(v for v in ZERO_IF_ABSENT if v in ds), "car_nk_blood_per_ul"):
        if name in ds:
            v = ds[name].values
            bad = ~np.isfinite(v) | (v < 0)
            if bad.any():
                raise InputError(f"trajectories.{name}", v[bad].flat[0], "finite values >= 0")
    missing = [c for c in REQUIRED_PATIENT_COLUMNS if c not in patients.columns]
    if missing:
        raise InputError(
            "patients.columns", missing, f"a table with columns {', '.join(REQUIRED_PATIENT_COLUMNS)}"
        )
    absent = pd.Index(ds["patient"].values).difference(patients.index)
    if len(absent):
        raise InputError("patients.index", int(absent[0]), "a row for every patient of the trajectories")


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


def unit_factor(units: str | None) -> float:
    """Numeric prefix of a units string ('1e9 cell-days' -> 1e9; 'cells/uL' or None -> 1)."""
    m = re.match(r"\s*([0-9]*\.?[0-9]+(?:[eE][+-]?[0-9]+)?)\s+\S", units or "")
    return float(m.group(1)) if m else 1.0


def _arr(ds: xr.Dataset, name: str, dims: tuple[str, ...]) -> np.ndarray:
    """Variable as a float array in ``dims`` order (zeros if absent); a numeric units prefix is multiplied in.
    """
    if name not in ds:
        shape = tuple(ds.sizes[d] for d in dims)
        return np.zeros(shape)
    values = np.asarray(ds[name].transpose(*dims).values, dtype=float)
    factor = unit_factor(ds[name].attrs.get("units"))
    return values * factor if factor != 1.0 else values


def outcomes(
    trajectories: xr.Dataset,
    patients: pd.DataFrame,
    readouts: ReadoutSpec | None = None,
    seed: int = 0,
    params: Mapping[str, float] | None = None,
) -> pd.DataFrame:
    """One row per patient: best response and per-scan responses, PFS/OS, CRS/ICANS/GvHD/off-tumor/cytopenia,
    DLT, persistence; then the patient covariates. ``params``: registry overrides (a scenario's resolved
    parameters may be passed whole; only ``clinical_*`` names are read)."""
    ro = readouts or ReadoutSpec()
    p = clinical_params(params)
    ds = trajectories
    _check(ds, patients)
    criteria = ro.criteria or criteria_from_patients(patients)
    pid = ds["patient"].values.astype(np.int64)
    t = ds["time"].values.astype(float)
    n_pat = pid.size

    density = np.full(n_pat, ro.cell_density_per_cm3 or p["tumor_cell_density"])
    if ro.cell_density_per_cm3 is None and "tumor_cell_density" in patients.columns:
        density = patients.loc[pid, "tumor_cell_density"].to_numpy(dtype=float)  # per-patient values win
    imaging = ro.imaging_limit_mm or p["clinical_imaging_limit_mm"]
    measurable_min = ro.measurable_min_mm or p["clinical_measurable_min_mm"]
    lethal_cm3 = ro.lethal_burden_cm3 or p["clinical_lethal_burden_cm3"]
    conf_days = ro.confirmation_min_days or p["clinical_confirmation_min_days"]
    sd_min = ro.sd_min_days if ro.sd_min_days is not None else p["clinical_sd_min_days"]
    fold = p["clinical_nontarget_pd_volume_fold"]
    baseline_day = t[0] if ro.baseline_day is None else float(ro.baseline_day)
    if not t[0] <= baseline_day <= t[-1]:
        raise InputError(
            "readouts.baseline_day", baseline_day, f"a day within the trajectory [{t[0]}, {t[-1]}]"
        )
    end_day = min(ro.follow_up_days, t[-1])
    scan_days = np.asarray(ro.scan_days, dtype=float)

    # ---- random thresholds and event times ---------------------------------------------------------------
    u = patient_draws(seed, pid)
    e_new, e_death = -np.log1p(-u[:, 0]), -np.log1p(-u[:, 1])
    viable = _arr(ds, "viable_cells", ("patient", "time", "lesion"))
    dead = _arr(ds, "dead_cells", ("patient", "time", "lesion"))
    new_day = hazard_event_time(t, _arr(ds, "new_lesion_hazard", ("patient", "time")), e_new)
    death_hazard_day = hazard_event_time(t, _arr(ds, "death_hazard", ("patient", "time")), e_death)
    lethal_day = _grid.first_crossing_time(t, viable.sum(axis=2), lethal_cm3 * density)
    death_day = np.fmin(death_hazard_day, lethal_day)
    death_cause = np.where(
        ~(death_day <= end_day), "", np.where(lethal_day <= death_hazard_day, "lethal_burden", "hazard")
    )

    # ---- tumor response at scans -------------------------------------------------------------------------
    is_target = (
        np.asarray(ds["is_target"].values, dtype=bool)
        if "is_target" in ds
        else np.ones(ds.sizes["lesion"], dtype=bool)
    )
    if not is_target.any():
        raise InputError("trajectories.is_target", is_target.tolist(), "at least one target lesion")
    times = np.concatenate([[baseline_day], scan_days])
    at = _grid.interp_at(viable, t, times)  # (patient, 1 + scan, lesion); linear, so viable and dead add
    dead_at = _grid.interp_at(dead, t, times)
    if criteria != "mRECIST":
        at = at + dead_at
    elif ro.mrecist_baseline == "viable+dead":
        at[:, 0] += dead_at[:, 0]
    d_all = diameter_mm(at, density[:, None, None], imaging)
    # a target lesion must be measurable at baseline (RECIST >= 10 mm; Lugano node > 15 mm), else non-target
    node_normal = p["clinical_lugano_node_normal_mm"]
    qualifies = (
        d_all[:, 0] > node_normal if criteria == "Lugano2014" else d_all[:, 0] >= measurable_min - 1e-9
    )
    tmask = is_target[None, :] & qualifies
    measurable = tmask.any(axis=1)
    d_target = d_all * tmask[:, None, :]
    d_nontarget = d_all * ~tmask[:, None, :]
    done = (
        (scan_days[None, :] <= end_day)
        & (scan_days[None, :] >= baseline_day)
        & (scan_days[None, :] < death_day[:, None])
    )
    new_seen = new_day[:, None] <= scan_days[None, :]
    if criteria == "ALL-marrow":
        if "tsys_marrow_fraction" not in ds:
            raise InputError("trajectories", "tsys_marrow_fraction", "present for the ALL-marrow criteria")
        blasts = _grid.interp_at(_arr(ds, "tsys_marrow_fraction", ("patient", "time")), t, times)
        codes = marrow_scan_responses(blasts[:, 1:], blasts[:, 0], done,
                                      cr_fraction=p["clinical_marrow_cr_blast_fraction"],
                                      pd_increase=p["clinical_marrow_pd_increase_fraction"])
        measurable = blasts[:, 0] >= p["clinical_marrow_cr_blast_fraction"]
        burden = 100.0 * blasts  # marrow blasts, % of marrow cells
    elif criteria == "Lugano2014":
        codes = lugano_scan_responses(
            d_target[:, 1:],
            d_target[:, 0],
            d_nontarget[:, 1:],
            d_nontarget[:, 0],
            new_seen,
            done,
            pr_fraction=p["clinical_lugano_pr_fraction"],
            node_normal_mm=p["clinical_lugano_node_normal_mm"],
            pd_ppd_fraction=p["clinical_lugano_pd_ppd_fraction"],
            size_class_mm=p["clinical_lugano_pd_size_class_mm"],
            increase_small_mm=p["clinical_lugano_pd_increase_small_mm"],
            increase_large_mm=p["clinical_lugano_pd_increase_large_mm"],
            nontarget_pd_fold=fold,
        )
        burden = (d_target**2).sum(axis=2)  # SPD
    else:
        key = "mrecist" if criteria == "mRECIST" else "recist"
        codes = recist_scan_responses(
            d_target[:, 1:],
            d_target[:, 0],
            d_nontarget[:, 1:],
            d_nontarget[:, 0],
            new_seen,
            done,
            pr_fraction=p[f"clinical_{key}_pr_fraction"],
            pd_fraction=p[f"clinical_{key}_pd_fraction"],
            pd_abs_mm=p[f"clinical_{key}_pd_abs_mm"],
            nontarget_pd_fold=fold,
            measurable_min_mm=measurable_min,
        )
        burden = d_target.sum(axis=2)  # sum of diameters
    confirm = confirmation_for(criteria) if ro.confirmation is None else ro.confirmation
    bor = best_overall_response(
        codes, scan_days, confirmation=confirm, confirmation_min_days=conf_days, sd_min_days=sd_min
    )
    shown = continuing_partial_response(
        codes, scan_days, confirmation=confirm, confirmation_min_days=conf_days
    )
    bor_unconf = best_overall_response(codes, scan_days, confirmation=False, sd_min_days=sd_min)
    assessed = codes != ND
    with np.errstate(invalid="ignore", divide="ignore"):
        change = 100.0 * (burden[:, 1:] - burden[:, :1]) / burden[:, :1]
    change = np.where(assessed & measurable[:, None], change, np.nan)
    all_nan = np.isnan(change).all(axis=1)
    best_change = np.full(n_pat, np.nan)
    if change.shape[1]:
        best_change[~all_nan] = np.nanmin(change[~all_nan], axis=1)
    surv = progression_free_and_overall_survival(scan_days, codes, death_day, end_day)

    # ---- safety ------------------------------------------------------------------------------------------
    alive = (t[None, :] <= end_day) & (
        t[None, :] < death_day[:, None]
    )  # observed, any time (incl. before day 0)
    post = alive & (t[None, :] >= 0)  # observed after the first infusion
    c = _arr(ds, "cytokine_pg_ml", ("patient", "time"))
    crs = np.where(post, crs_grade_course(np.where(post, c, 0.0), p), 0)  # signs read after infusion
    ice, icans = icans_course(t, np.where(t[None, :] >= 0, c, 0.0), p)  # signs read after infusion
    icans = np.where(post, icans, 0)
    ice = np.where(post, ice, 10)
    cov = patients.loc[pid]
    risk = gvhd_risk(cov["cd3_per_kg"].to_numpy(dtype=float), p)
    gvhd_onset = p["clinical_gvhd_onset_day"]
    gvhd_seen = (gvhd_onset <= end_day) & (gvhd_onset < death_day)
    g_gvhd = np.where(gvhd_seen, gvhd_grade(risk, u[:, 2], p), 0)
    gvhd_course = np.where(t[None, :] >= gvhd_onset, g_gvhd[:, None], 0) * post
    fevers = infusion_fevers(cov["n_infusions"].to_numpy(), u[:, 3], p)
    fever_course = np.where((fevers[:, None] > 0) & (t[None, :] >= 0) & (t[None, :] <= 1.0), 1, 0) * post
    off = np.where(post, offtumor_grade(_arr(ds, "offtumor_activity", ("patient", "time")), p), 0)
    wbc = _arr(ds, "wbc_per_ul", ("patient", "time"))
    neut = np.where(alive, ctcae_neutropenia_grade(wbc * p["clinical_neutrophil_fraction"], p), 0)
    leuk = np.where(alive, ctcae_leukopenia_grade(wbc, p), 0)
    cyto_days = _grid.time_below(t, wbc, p["clinical_cytopenia_wbc_per_ul"], t_to=np.fmin(death_day, end_day))
    courses = {
        "crs": crs,
        "icans": icans,
        "gvhd": gvhd_course,
        "offtumor": off,
        "neutropenia": neut,
        "leukopenia": leuk,
        "infusion_fever": fever_course,
    }
    dlt, dlt_day, dlt_cause = evaluate_dlt(t, courses, ro.dlt_rules, ro.dlt_window_days)

    # ---- persistence -------------------------------------------------------------------------------------
    nk = _arr(ds, "nk_blood_per_ul", ("patient", "time"))
    if ro.assay.analyte_resolved == "transduced":
        if "car_nk_blood_per_ul" not in ds:
            raise InputError(
                "trajectories", "car_nk_blood_per_ul", "present for a qPCR or transduced-cell assay"
            )
        analyte = _arr(ds, "car_nk_blood_per_ul", ("patient", "time"))
    else:
        analyte = nk
    leukocytes = wbc + nk
    if ro.assay.sample_days is None:
        det = detectable(analyte, leukocytes, ro.assay, p) & post
        days_det = last_detectable_day(t, det)
    else:
        sd = np.asarray(ro.assay.sample_days, dtype=float)
        det = detectable(_grid.interp_at(analyte, t, sd), _grid.interp_at(leukocytes, t, sd), ro.assay, p)
        det &= (sd[None, :] >= 0) & (sd[None, :] <= end_day) & (sd[None, :] < death_day[:, None])
        days_det = last_detectable_day(sd, det)
    nk_post = np.where(post, nk, -np.inf)
    peak_idx = np.argmax(nk_post, axis=1)
    car_post = np.where(post, _arr(ds, "car_nk_blood_per_ul", ("patient", "time")), 0.0)

    cols: dict[str, object] = {
        "measurable": measurable,
        "baseline_burden_mm": np.where(criteria in ("Lugano2014", "ALL-marrow"), np.nan, burden[:, 0]),
        "baseline_spd_mm2": np.where(criteria == "Lugano2014", burden[:, 0], np.nan),
        "baseline_marrow_blasts_pct": np.where(criteria == "ALL-marrow", burden[:, 0], np.nan),
        "best_response": to_labels(bor),
        "best_response_unconfirmed": to_labels(bor_unconf),
        "best_pct_change": best_change,
        "n_scans": assessed.sum(axis=1),
    }
    for j, day in enumerate(scan_days):
        cols[scan_column(day)] = to_labels(shown[:, j])
    for j, day in enumerate(scan_days):  # sum of target diameters (mm; Lugano: SPD, mm2) at each scan done
        name = scan_column(day).replace("resp_", "burden_")
        cols[name] = np.where(assessed[:, j], burden[:, j + 1], np.nan)
    cols.update(
        {
            "pfs_days": surv["pfs_days"],
            "pfs_event": surv["pfs_event"],
            "os_days": surv["os_days"],
            "os_event": surv["os_event"],
            "pd_day": surv["pd_day"],
            "new_lesion_day": np.where(np.isfinite(new_day) & (new_day <= end_day), new_day, np.nan),
            "death_cause": death_cause,
            "crs_grade": crs.max(axis=1).astype(int),
            "crs_onset_day": _grid.first_true_time(t, crs >= 1),
            "icans_grade": icans.max(axis=1).astype(int),
            "icans_onset_day": _grid.first_true_time(t, icans >= 1),
            "ice_min": ice.min(axis=1).astype(int),
            "gvhd_risk": risk,
            "gvhd_grade": g_gvhd.astype(int),
            "infusion_fevers": fevers,
            "offtumor_grade": off.max(axis=1).astype(int),
            "offtumor_onset_day": _grid.first_true_time(t, off >= 1),
            "cytopenia_days": cyto_days,
            "wbc_nadir_per_ul": np.where(alive, wbc, np.inf).min(axis=1),
            "neutropenia_grade": neut.max(axis=1).astype(int),
            "leukopenia_grade": leuk.max(axis=1).astype(int),
            "dlt": dlt,
            # DLT-evaluable: a DLT, or observed alive through the whole window (3+3-style evaluability)
            "dlt_evaluable": dlt | ((death_day > ro.dlt_window_days) & (end_day >= ro.dlt_window_days)),
            "dlt_day": dlt_day,
            "dlt_toxicity": dlt_cause,
            "peak_nk_per_ul": np.where(post.any(axis=1), nk_post.max(axis=1), np.nan),
            "tmax_nk_day": np.where(post.any(axis=1) & (nk_post.max(axis=1) > 0), t[peak_idx], np.nan),
            "peak_car_nk_per_ul": car_post.max(axis=1),
            "peak_cytokine_pg_ml": np.where(post, c, 0.0).max(axis=1),
            "detected": det.any(axis=1),
            "days_detectable": days_det,
        }
    )
    out = pd.DataFrame(cols, index=pd.Index(pid, name="patient"))
    extra = [col for col in patients.columns if col not in out.columns]
    return out.join(cov[extra].set_axis(out.index))


__all__ = ["outcomes", "scan_column", "patient_draws", "CR", "PR", "SD", "PD"]
