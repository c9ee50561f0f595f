"""Readouts from kernel-tracked summaries of the continuous solution instead of a save grid.

``plan`` turns a cohort's readout settings, covariates and random draws into tracker rows for the compiled kernel
(:mod:`nksim.kinetics.integrate.trackers`; quantities :mod:`nksim.kinetics.tracking`); ``summaries`` names the
kernel's outputs per patient (``ReadoutInputs.tracked``); ``event_times`` and ``columns`` give the readouts of
``nksim.clinical.outcomes`` from them. Definitions (docs/results.md, "Tracked readouts"): event times (the
new-lesion and death-hazard thresholds, the lethal burden) are crossings of the continuous solution; peaks, nadirs
and their days are those of the continuous solution within the observation window [0 (or the start), death or end
of follow-up); threshold onsets are crossing times, not the first grid day above; the time below the cytopenia
threshold is an integral; a DLT rule is met at the first time the grade has held for its duration. Grades are
monotone in their drivers, so each grade threshold is a level of the driver (found once from the grading functions,
``level``). The scan-day readouts (responses, burdens) are values at the scan days and do not change.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Callable, Mapping

import numpy as np
import pandas as pd

from nksim.clinical.crs import astct_crs_grade, crs_grade_course, crs_signs
from nksim.clinical.icans import ice_and_grade
from nksim.clinical.safety import ctcae_leukopenia_grade, ctcae_neutropenia_grade, offtumor_grade
from nksim.kinetics.integrate import trackers as T
from nksim.kinetics.tracking import Q

EVENT_ROWS = ("death_hazard_day", "lethal_day", "new_lesion_day")  #: the first rows of a plan (``Plan.events_only``)
ICANS_ROWS = 14  #: ICANS level rows of a plan: the onset, <= 10 ICE score steps, unarousable, padded with +inf
_XS = np.logspace(-9, 15, 6001)  #: where grade functions are scanned for their steps (driver units)
#: DLT toxicities whose grade follows one tracked driver: (quantity, grade function, decreasing in the driver)
_DRIVERS = ("crs", "icans", "offtumor", "neutropenia", "leukopenia")


def _grade_fn(tox: str, p: Mapping[str, float]) -> Callable[[np.ndarray], np.ndarray]:
    if tox == "crs":
        return lambda c: crs_grade_course(np.asarray(c, float)[None, :], p)[0]
    if tox == "icans":
        return lambda c: ice_and_grade(c, p)[1]
    if tox == "offtumor":
        return lambda a: offtumor_grade(a, p)
    if tox == "neutropenia":
        return lambda w: ctcae_neutropenia_grade(np.asarray(w) * p["clinical_neutrophil_fraction"], p)
    return lambda w: ctcae_leukopenia_grade(w, p)


def level(fn: Callable[[np.ndarray], np.ndarray], grade: int, decreasing: bool = False) -> float:
    """The driver level at which a monotone grade function reaches ``grade``: the least value with fn >= grade
    (the greatest one for a grade that falls with its driver, e.g. leukocytes); +inf (-inf) if none, 0 (+inf) if
    every value does."""
    g = np.asarray(fn(_XS)) >= grade
    if decreasing:
        if not g.any():
            return -np.inf
        k = int(np.flatnonzero(g)[-1])
        if k == _XS.size - 1:
            return np.inf
        lo, hi = _XS[k], _XS[k + 1]
        for _ in range(200):
            mid = 0.5 * (lo + hi)
            lo, hi = (mid, hi) if fn(np.array([mid]))[0] >= grade else (lo, mid)
        return float(lo)
    if not g.any():
        return np.inf
    k = int(np.argmax(g))
    if k == 0:
        return 0.0
    lo, hi = _XS[k - 1], _XS[k]
    for _ in range(200):
        mid = 0.5 * (lo + hi)
        lo, hi = (lo, mid) if fn(np.array([mid]))[0] >= grade else (mid, hi)
    return float(hi)


def _key(p: Mapping[str, float]) -> tuple:
    return tuple(sorted((k, float(v)) for k, v in p.items() if k.startswith("clinical_")))


@lru_cache(maxsize=64)
def _icans_levels(key: tuple) -> tuple[float, ...]:
    p = dict(key)
    fn = lambda c: np.asarray(ice_and_grade(c, p), dtype=np.int64).T @ np.array([1, 16])  # noqa: E731 (ice, grade)
    v = fn(_XS)
    out = []
    for k in np.flatnonzero(np.diff(v) != 0):
        lo, hi = _XS[k], _XS[k + 1]
        for _ in range(200):
            mid = 0.5 * (lo + hi)
            lo, hi = (lo, mid) if fn(np.array([mid]))[0] != v[k] else (mid, hi)
        out.append(float(hi))
    return tuple(out)


def icans_levels(p: Mapping[str, float]) -> np.ndarray:
    """Cytokine levels (pg/mL) at which the ICE score or the ICANS grade of a delayed value changes, increasing."""
    return np.array(_icans_levels(_key(p)))


@lru_cache(maxsize=256)
def _dlt_level(key: tuple, tox: str, grade: int) -> float:
    p = dict(key)
    return level(_grade_fn(tox, p), grade, decreasing=tox in ("neutropenia", "leukopenia"))


def density(settings, cov: pd.DataFrame | Mapping[str, np.ndarray], n: int | None = None) -> np.ndarray:
    """Tumor cells per cm3 of lesion per patient, as ``nksim.clinical.outcomes`` reads it (``cov``: the patients'
    covariates, a table or its columns; ``n``: patients, needed with columns)."""
    ro, p = settings.spec, settings.params
    out = np.full(len(cov) if n is None else n, ro.cell_density_per_cm3 or p["tumor_cell_density"], dtype=float)
    if ro.cell_density_per_cm3 is None and "tumor_cell_density" in cov:
        out = np.asarray(cov["tumor_cell_density"], dtype=float)
    if "malignant_fraction" in cov:
        out = out * np.asarray(cov["malignant_fraction"], dtype=float)
    return out


def dlt_rules(ro) -> list:
    """The protocol's DLT rules less the expected effects (``dlt_expected``), in order: tracker rows ``dlt{j}`` and
    the readouts pair with them by position."""
    return [r for r in ro.dlt_rules if r.toxicity not in (ro.dlt_expected or ())]


def detection(settings) -> tuple[bool, float, float]:
    """(analyte is transduced cells, limit per leukocyte, fixed limit in cells/uL) of the scenario's assay
    (``nksim.clinical.detection``): the detection margin is analyte - limit per leukocyte x (host leukocytes +
    product cells), detected at >= the fixed limit."""
    ro, p = settings.spec, settings.params
    a = ro.assay
    transduced = a.analyte_resolved == "transduced"
    if a.kind == "qpcr":
        lloq = a.lloq_copies_per_ug or p["clinical_qpcr_lloq_copies_per_ug"]
        cpc = a.copies_per_cell or p["clinical_transgene_copies_per_cell"]
        return transduced, lloq * p["clinical_dna_per_cell_pg"] * 1e-6 / cpc, 0.0
    if a.kind == "flow":
        return transduced, 0.0, a.lod_cells_per_ul or p["clinical_flow_lod_cells_per_ul"]
    return transduced, a.lod_fraction or p["clinical_chimerism_lod_fraction"], 0.0


@dataclass
class Plan:
    """Tracker rows of a cohort (``spec``: patient x tracker x trackers.SPEC), their names, the windows' end
    ``tcut`` and the quantities' detection settings."""

    spec: np.ndarray
    names: list[str]
    tcut: np.ndarray
    analyte_transduced: bool
    limit_per_leukocyte: np.ndarray  #: (patient,)
    ndeath: int = 2

    def initial_outputs(self) -> np.ndarray:
        """The kernel's initial tracker outputs (patient x tracker x 2): every patient's rows have the same kinds
        (a plan's rows are trackers of all its patients), so they are found for the first and repeated."""
        return np.repeat(T.initial_outputs(self.spec[:1, :, 0]), len(self.spec), axis=0)

    def track_arrays(self, params: np.ndarray, rows: slice, n_lesions: int, n_classes: int, out: np.ndarray):
        """The kernel's tracker arrays (``nksim.kinetics.solver.TrackArrays``) for patients ``rows`` of the plan,
        with engine parameters ``params`` (patients x parameters, all patients) and outputs written to ``out[rows]``
        (contiguous: a view the kernel fills)."""
        from nksim.kinetics.solver import TrackArrays
        from nksim.kinetics.tracking import coefficients

        return TrackArrays(coefficients(params[rows], n_lesions, n_classes, self.analyte_transduced,
                                        self.limit_per_leukocyte[rows]),
                           np.ascontiguousarray(self.spec[rows]), np.ascontiguousarray(self.tcut[rows]), self.ndeath,
                           np.ascontiguousarray(out[rows]))

    def events_only(self) -> "Plan":
        """The same plan with only the event-time rows (death hazard, lethal burden, new lesion): what response
        and survival readouts need (``nksim.sensitivity`` for outputs such as ORR and median PFS). The kernel's
        steps do not depend on the trackers, so these rows give the same numbers as in the whole plan."""
        k = len(EVENT_ROWS)
        if tuple(self.names[:k]) != EVENT_ROWS:
            raise ValueError(f"a plan starting with the event rows {EVENT_ROWS}")
        return Plan(np.ascontiguousarray(self.spec[:, :k]), list(EVENT_ROWS), self.tcut, self.analyte_transduced,
                    self.limit_per_leukocyte, self.ndeath)

    @classmethod
    def concat(cls, plans: list["Plan"]) -> "Plan":
        """The plans of consecutive groups of patients as one (the same trackers, e.g. other readout values)."""
        first = plans[0]
        if any(p.names != first.names or p.analyte_transduced != first.analyte_transduced for p in plans):
            raise ValueError("plans to concatenate must have the same trackers and analyte")
        return cls(np.concatenate([p.spec for p in plans]), first.names, np.concatenate([p.tcut for p in plans]),
                   first.analyte_transduced, np.concatenate([p.limit_per_leukocyte for p in plans]), first.ndeath)


def plan(settings, cov: pd.DataFrame, draws: np.ndarray, t_end: float) -> Plan:
    """Tracker rows for the patients of ``cov`` (their covariates, as ``outcomes`` reads them) with readout
    ``settings`` (``ReadoutSettings``) and readout draws ``draws`` (``outcomes.patient_draws``), solved to t_end."""
    ro, p = settings.spec, settings.params
    npat = len(cov)
    e_new, e_death = -np.log1p(-draws[:, 0]), -np.log1p(-draws[:, 1])
    rows: list[tuple[str, int, int, np.ndarray | float, float, float, float]] = []
    inf = np.inf

    def add(name, kind, q, lev=0.0, dur=0.0, t_from=-inf, t_fire=-inf):
        rows.append((name, kind, Q[q], lev, dur, t_from, t_fire))

    add("death_hazard_day", T.RUN_GE, "death_hazard", e_death)  # the first two end the windows (ndeath = 2)
    add("lethal_day", T.RUN_GE, "tumor_viable_total", settings.lethal_burden_cm3 * density(settings, cov))
    add("new_lesion_day", T.RUN_GE, "new_lesion_hazard", e_new)
    add("crs_onset", T.RUN_GE, "cytokine_pg_ml", p["clinical_crs_fever_pg_ml"], t_from=0.0)
    add("cytokine_max", T.MAX, "cytokine_pg_ml", t_from=0.0)
    levels = [p["clinical_icans_onset_pg_ml"], *icans_levels(p)]  # crossing times of C, all checked at once
    levels += [np.inf] * (ICANS_ROWS - len(levels))  # as many rows whatever the thresholds (plans concatenate)
    add("icans", T.LEVELS, "cytokine_pg_ml", 0.0, float(len(levels)), t_from=0.0)
    for k, lev in enumerate(levels):
        add("icans_onset" if k == 0 else f"icans_level{k - 1}", T.NONE, "cytokine_pg_ml", lev)
    add("offtumor_max", T.MAX, "offtumor_activity", t_from=0.0)
    add("offtumor_onset", T.RUN_GE, "offtumor_activity", p["clinical_offtumor_grade1"], t_from=0.0)
    add("wbc_min", T.MIN, "wbc_per_ul")
    add("cytopenia_days", T.BELOW, "wbc_per_ul", p["clinical_cytopenia_wbc_per_ul"])
    add("nk_max", T.MAX, "nk_blood_per_ul", t_from=0.0)
    add("car_nk_max", T.MAX, "car_nk_blood_per_ul", t_from=0.0)
    transduced, kappa, lod = detection(settings)
    if ro.assay.sample_days is None:
        add("detect_last", T.LAST_GE, "detection_margin", lod, t_from=0.0)
    key = _key(p)
    for j, rule in enumerate(dlt_rules(ro)):
        if rule.toxicity not in _DRIVERS:
            continue
        lev = _dlt_level(key, rule.toxicity, int(rule.min_grade))
        q = {"crs": "cytokine_pg_ml", "icans": "cytokine_pg_ml", "offtumor": "offtumor_activity"}.get(
            rule.toxicity, "wbc_per_ul")
        if rule.toxicity in ("neutropenia", "leukopenia"):  # the grade course counts before day 0 too
            add(f"dlt{j}", T.RUN_LE, q, lev, float(rule.min_duration_days), t_fire=0.0)
        else:
            add(f"dlt{j}", T.RUN_GE, q, lev, float(rule.min_duration_days), t_from=0.0)
    spec = np.empty((npat, len(rows), T.SPEC))
    spec[:] = [(kind, q, 0.0 if np.ndim(lev) else lev, dur, t_from, t_fire) for _, kind, q, lev, dur, t_from, t_fire in rows]
    for k, row in enumerate(rows):
        if np.ndim(row[3]):  # a level per patient
            spec[:, k, 2] = row[3]
    end_day = min(ro.follow_up_days, t_end)
    tcut = np.full(npat, np.nextafter(end_day, np.inf))
    return Plan(spec, [r[0] for r in rows], tcut, transduced, np.full(npat, kappa))


def summaries(pl: Plan, out: np.ndarray, sample_days: np.ndarray) -> dict[str, np.ndarray]:
    """Named per-patient arrays of the kernel's tracker outputs (``ReadoutInputs.tracked``). ``sample_days``: the
    days blood is drawn when the assay names none (the save grid's days: the product is detected on a day within
    its detectable span, from its first to its last time above the limit)."""
    res: dict[str, np.ndarray] = {}
    icans = [k for k, nm in enumerate(pl.names) if nm.startswith("icans_level")]
    for k, nm in enumerate(pl.names):
        if not nm.startswith("icans_level") and nm != "icans":
            res[nm] = out[:, k, 0].copy()
    res["icans_levels"] = out[:, icans, 0].copy() if icans else np.zeros((out.shape[0], 0))
    for nm in ("cytokine_max", "nk_max", "wbc_min"):
        if nm in pl.names:  # not in an events-only plan
            res[nm + "_day"] = out[:, pl.names.index(nm), 1].copy()
    if "detect_last" in pl.names:
        k = pl.names.index("detect_last")
        first, last = out[:, k, 1], out[:, k, 0]
        days = np.asarray(sample_days, dtype=float)
        days = days[days >= 0]
        j = np.searchsorted(days, last, side="right") - 1  # the last sample day at or before the last time
        day = np.where(j >= 0, days[np.clip(j, 0, None)], -np.inf)
        res["detected"] = np.isfinite(first) & (day >= first)
        res["detect_last"] = np.where(res["detected"], day, -np.inf)
    return res


def event_times(tr: Mapping[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(new-lesion day, death-hazard day, lethal-burden day), +inf where never."""
    return tr["new_lesion_day"], tr["death_hazard_day"], tr["lethal_day"]


def events_only(tr: Mapping[str, np.ndarray]) -> bool:
    """Whether the summaries come from an events-only plan (``Plan.events_only``: no safety, DLT or persistence)."""
    return "cytokine_max" not in tr


def columns(tr: Mapping[str, np.ndarray], settings, death_day: np.ndarray, end_day: float, g_gvhd: np.ndarray,
            fevers: np.ndarray) -> dict[str, np.ndarray]:
    """The safety, DLT and persistence columns of the patient table from tracked summaries (the others come
    from the scan days as on the grid)."""
    ro, p = settings.spec, settings.params
    n = death_day.size
    stop = np.fmin(death_day, np.nextafter(end_day, np.inf))
    any_post = stop > 0.0
    seen = lambda t: np.where(t < stop, t, np.nan)  # noqa: E731 (onsets observed while alive and followed)
    cmax = tr["cytokine_max"]
    crs_onset = seen(tr["crs_onset"])
    c_top = np.where(np.isfinite(crs_onset), cmax, -np.inf)
    fever, hypo, hypox = crs_signs(np.where(np.isfinite(c_top), c_top, 0.0), p)
    crs_grade = np.where(np.isfinite(c_top), astct_crs_grade(np.ones(n, bool), hypo, hypox), 0)
    delay = p["clinical_icans_delay_days"]
    times = tr["icans_levels"]
    levels = np.full(times.shape[1], np.inf)
    own = icans_levels(p)
    levels[:own.size] = own
    reached = (tr["icans_levels"] + delay < stop[:, None]) & np.isfinite(tr["icans_levels"])
    top = np.where(reached, levels[None, :], 0.0).max(axis=1, initial=0.0)
    ice_top, icans_top = ice_and_grade(top, p)
    icans_grade = np.where(any_post, icans_top, 0)
    ice_min = np.where(any_post, ice_top, 10)
    icans_onset = seen(tr["icans_onset"] + delay)
    off_max = np.where(np.isfinite(tr["offtumor_max"]), tr["offtumor_max"], 0.0)
    off_grade = np.where(any_post, offtumor_grade(off_max, p), 0)
    nadir = tr["wbc_min"]
    finite_nadir = np.where(np.isfinite(nadir), nadir, 0.0)
    neut = np.where(np.isfinite(nadir), ctcae_neutropenia_grade(finite_nadir * p["clinical_neutrophil_fraction"], p), 0)
    leuk = np.where(np.isfinite(nadir), ctcae_leukopenia_grade(finite_nadir, p), 0)
    # DLT: each rule's first qualifying time, within the window and observed
    window = ro.dlt_window_days
    day = np.full(n, np.nan)
    cause = np.full(n, "", dtype=object)
    for j, rule in enumerate(dlt_rules(ro)):
        d = float(rule.min_duration_days)
        if rule.toxicity in _DRIVERS:
            t = tr[f"dlt{j}"] + (delay if rule.toxicity == "icans" else 0.0)
        elif rule.toxicity == "gvhd":
            t = np.where(g_gvhd >= rule.min_grade, max(p["clinical_gvhd_onset_day"], 0.0) + d, np.inf)
        elif rule.toxicity == "infusion_fever":
            t = np.where((fevers > 0) & (rule.min_grade <= 1) & (d <= 1.0), d, np.inf)
        else:
            from nksim.errors import InputError

            raise InputError("readouts.dlt_rules.toxicity", rule.toxicity,
                             f"one of {sorted(_DRIVERS + ('gvhd', 'infusion_fever'))}")
        t = np.where((t <= window) & (t < stop) & (t >= 0), t, np.nan)
        earlier = ~np.isnan(t) & (np.isnan(day) | (t < day))
        day = np.where(earlier, t, day)
        cause = np.where(earlier, rule.toxicity, cause)
    dlt = ~np.isnan(day)
    nk_peak = tr["nk_max"]
    cols: dict[str, np.ndarray] = {
        "crs_grade": crs_grade.astype(int), "crs_onset_day": crs_onset,
        "icans_grade": icans_grade.astype(int), "icans_onset_day": icans_onset, "ice_min": ice_min.astype(int),
        "offtumor_grade": off_grade.astype(int), "offtumor_onset_day": seen(tr["offtumor_onset"]),
        "cytopenia_days": tr["cytopenia_days"],
        "wbc_nadir_per_ul": np.where(np.isfinite(nadir), nadir, np.nan),
        "neutropenia_grade": neut.astype(int), "leukopenia_grade": leuk.astype(int),
        "dlt": dlt,
        "dlt_evaluable": dlt | ((death_day > ro.dlt_window_days) & (end_day >= ro.dlt_window_days)),
        "dlt_day": day, "dlt_toxicity": cause,
        "peak_nk_per_ul": np.where(any_post, nk_peak, np.nan),
        "tmax_nk_day": np.where(any_post & (nk_peak > 0), tr["nk_max_day"], np.nan),
        "peak_car_nk_per_ul": np.maximum(np.where(np.isfinite(tr["car_nk_max"]), tr["car_nk_max"], 0.0), 0.0),
        "peak_cytokine_pg_ml": np.where(any_post & np.isfinite(cmax), cmax, 0.0),
    }
    if "detect_last" in tr:
        cols["detected"] = tr["detected"] & np.isfinite(tr["detect_last"])
        cols["days_detectable"] = np.where(cols["detected"], tr["detect_last"], 0.0)
    return cols
