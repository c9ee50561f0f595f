"""Readouts a sensitivity analysis can ask for, by name.

Two kinds:

- **continuous** readouts of one patient's trajectories (``burden_dNN``, ``log_burden_dNN``, ``peak_cells``,
  ...): with no cohort (``patients=1``) they are read from one typical patient (between-patient variability off);
  in a cohort they are the cohort median.
- **cohort** readouts (``orr``, ``pfs_median``, ``crs_ge2``, ...) from the clinical outcome table of a cohort of
  virtual patients, with the definitions of ``nksim.clinical.summarize`` (response rates over patients measurable at
  baseline, Kaplan-Meier medians). A median that is not reached is set to the end of follow-up (stated in the run's
  JSON), so every sample has a finite value.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
import numpy as np
import pandas as pd

from nksim.errors import InputError

FLOOR_PER_UL = 1e-3  # log10 floor for cell counts per uL (below any detection limit)


@dataclass(frozen=True)
class Output:
    name: str
    kind: str  # "continuous" (per patient, from trajectories) or "cohort" (from the outcome table)
    unit: str
    description: str


CONTINUOUS = {
    "peak_cells": Output("peak_cells", "continuous", "log10 cells/uL",
                         "log10 peak product cells per uL of blood after the first infusion"),
    "peak_car_cells": Output("peak_car_cells", "continuous", "log10 cells/uL",
                             "log10 peak transduced product cells per uL of blood after the first infusion"),
    "peak_cytokine": Output("peak_cytokine", "continuous", "log10 pg/mL",
                            "log10 peak of the inflammatory cytokine proxy C"),
    "product_auc": Output("product_auc", "continuous", "log10 cell-days",
                          "log10 area under all product cells in the body, day 0 to the horizon"),
}
# burden_d84: viable tumor cells at day 84 over day 0 (a fold, linear: bounded below by 0, so an eradicated tumor is
# not a far outlier that dominates the variance); log_burden_d84: its log10 (cells floored at 1)
BURDEN = re.compile(r"^(log_)?burden_d(\d+)$")

COHORT = {
    "orr": Output("orr", "cohort", "fraction", "objective response rate (CR + PR) among measurable patients"),
    "cr_rate": Output("cr_rate", "cohort", "fraction", "complete response rate among measurable patients"),
    "dcr": Output("dcr", "cohort", "fraction", "disease control rate (CR + PR + SD) among measurable patients"),
    "pfs_median": Output("pfs_median", "cohort", "days", "Kaplan-Meier median PFS (end of follow-up if not reached)"),
    "os_median": Output("os_median", "cohort", "days", "Kaplan-Meier median OS (end of follow-up if not reached)"),
    "crs_any": Output("crs_any", "cohort", "fraction", "CRS any grade"),
    "crs_ge2": Output("crs_ge2", "cohort", "fraction", "CRS grade >= 2"),
    "crs_ge3": Output("crs_ge3", "cohort", "fraction", "CRS grade >= 3"),
    "icans_any": Output("icans_any", "cohort", "fraction", "ICANS any grade"),
    "dlt_rate": Output("dlt_rate", "cohort", "fraction", "DLT rate among DLT-evaluable patients"),
    "detected": Output("detected", "cohort", "fraction", "share of patients with the product ever detectable"),
}
#: cohort readouts of response and survival only: the kernel need not track safety, DLT or persistence for them
RESPONSE_SURVIVAL = ("orr", "cr_rate", "dcr", "pfs_median", "os_median")


def known_outputs() -> list[str]:
    return [*CONTINUOUS, "burden_dNN (e.g. burden_d84)", "log_burden_dNN", *COHORT]


def get_output(name: str) -> Output:
    if name in CONTINUOUS:
        return CONTINUOUS[name]
    if name in COHORT:
        return COHORT[name]
    m = BURDEN.match(name)
    if m:
        day = int(m.group(2))
        if m.group(1):
            return Output(name, "continuous", "log10 fold",
                          f"log10 of viable tumor cells (lesions + systemic) at day {day} over day 0")
        return Output(name, "continuous", "fold", f"viable tumor cells (lesions + systemic) at day {day} over day 0")
    raise InputError("outputs", name, "one of " + ", ".join(known_outputs()))


def parse_outputs(names: str | list[str] | tuple[str, ...]) -> list[Output]:
    items = [s.strip() for s in names.split(",")] if isinstance(names, str) else [str(s).strip() for s in names]
    items = [s for s in items if s]
    if not items:
        raise InputError("outputs", names, "one or more of " + ", ".join(known_outputs()))
    if len(set(items)) != len(items):
        raise InputError("outputs", items, "distinct names")
    return [get_output(s) for s in items]


def _at_day(t: np.ndarray, y: np.ndarray, day: float) -> np.ndarray:
    """Linear interpolation of y (patient, time) at ``day``."""
    if not t[0] <= day <= t[-1]:
        raise InputError("outputs", f"burden_d{day:g}", f"a day within the simulated horizon [{t[0]:g}, {t[-1]:g}]")
    j = int(np.searchsorted(t, day))
    if t[j] == day:
        return y[:, j]
    w = (day - t[j - 1]) / (t[j] - t[j - 1])
    return (1 - w) * y[:, j - 1] + w * y[:, j]


def continuous_values(ds, outputs: list[Output]) -> dict[str, np.ndarray]:
    """Continuous readouts per patient from an engine trajectory Dataset (one value per patient)."""
    t = ds["time"].values.astype(float)
    post = t >= 0.0
    out: dict[str, np.ndarray] = {}
    tumor = None
    for o in outputs:
        if o.kind != "continuous":
            continue
        m = BURDEN.match(o.name)
        if m:
            if tumor is None:
                tumor = ds["tumor_viable_total"].values + ds["tsys_cells"].values
            base = np.maximum(_at_day(t, tumor, 0.0), 1.0)
            fold = np.maximum(_at_day(t, tumor, float(m.group(2))), 1.0) / base
            out[o.name] = np.log10(fold) if m.group(1) else fold
        elif o.name == "peak_cells":
            out[o.name] = np.log10(np.maximum(ds["nk_blood_per_ul"].values[:, post].max(axis=1), FLOOR_PER_UL))
        elif o.name == "peak_car_cells":
            out[o.name] = np.log10(np.maximum(ds["car_nk_blood_per_ul"].values[:, post].max(axis=1), FLOOR_PER_UL))
        elif o.name == "peak_cytokine":
            out[o.name] = np.log10(np.maximum(ds["cytokine_pg_ml"].values[:, post].max(axis=1), FLOOR_PER_UL))
        elif o.name == "product_auc":
            y = ds["product_cells_total"].values[:, post]
            out[o.name] = np.log10(np.maximum(np.trapezoid(y, t[post], axis=1), 1.0))
    return out


def km_median_fast(days: np.ndarray, events: np.ndarray, cap: float) -> float:
    """Kaplan-Meier median (first time the survival estimate is <= 0.5, as lifelines), ``cap`` if not reached."""
    days = np.asarray(days, dtype=float)
    ev = np.asarray(events, dtype=bool)
    if days.size == 0:
        return float("nan")
    order = np.argsort(days, kind="stable")
    d, e = days[order], ev[order]
    times, first = np.unique(d, return_index=True)
    n_at_risk = d.size - first
    deaths = np.add.reduceat(e.astype(float), first)
    with np.errstate(divide="ignore"):  # lifelines' arithmetic, so an estimate of exactly one half rounds alike
        s = np.exp(np.cumsum(np.log(n_at_risk - deaths) - np.log(n_at_risk)))
    hit = np.flatnonzero(s <= 0.5)
    return float(min(times[hit[0]], cap)) if hit.size else float(cap)


def cohort_values(table: pd.DataFrame, outputs: list[Output], follow_up: float) -> dict[str, float]:
    """Cohort readouts of one sample's outcome table."""
    out: dict[str, float] = {}
    meas = table[table["measurable"].astype(bool)] if "measurable" in table else table
    bor = meas["best_response"]
    n_meas = max(len(bor), 1)
    for o in outputs:
        k = o.name
        if k == "orr":
            out[k] = float(bor.isin(["CR", "PR"]).sum() / n_meas)
        elif k == "cr_rate":
            out[k] = float(bor.eq("CR").sum() / n_meas)
        elif k == "dcr":
            out[k] = float(bor.isin(["CR", "PR", "SD"]).sum() / n_meas)
        elif k == "pfs_median":
            out[k] = km_median_fast(table["pfs_days"].to_numpy(), table["pfs_event"].to_numpy(), follow_up)
        elif k == "os_median":
            out[k] = km_median_fast(table["os_days"].to_numpy(), table["os_event"].to_numpy(), follow_up)
        elif k in ("crs_any", "crs_ge2", "crs_ge3"):
            g = {"crs_any": 1, "crs_ge2": 2, "crs_ge3": 3}[k]
            out[k] = float((table["crs_grade"].to_numpy() >= g).mean())
        elif k == "icans_any":
            out[k] = float((table["icans_grade"].to_numpy() >= 1).mean())
        elif k == "dlt_rate":
            pop = table[table["dlt_evaluable"].astype(bool)] if "dlt_evaluable" in table else table
            out[k] = float(pop["dlt"].astype(bool).mean()) if len(pop) else 0.0
        elif k == "detected":
            out[k] = float(table["detected"].astype(bool).mean())
    return out


class EngineArrays:
    """The few trajectory variables continuous readouts need, computed from the raw engine output with the
    functions ``nksim.kinetics.trajectories.to_dataset`` uses (which builds all 44; tested equal), indexable like
    that Dataset (``arrays["nk_blood_per_ul"].values``)."""

    def __init__(self, ys: np.ndarray, als: np.ndarray, inp) -> None:
        self.ys, self.als, self.inp = ys, als, inp

    def __getitem__(self, name: str):
        from types import SimpleNamespace

        from nksim.kinetics import layout as L
        from nksim.kinetics.trajectories import blood_per_ul, lesion_blocks, product_totals

        ys, als, inp = self.ys, self.als, self.inp
        if name == "time":
            return SimpleNamespace(values=np.asarray(inp.t_save, dtype=float))
        if name == "tumor_viable_total":
            v = lesion_blocks(ys, inp)[..., L.LES_FIXED:].sum(axis=-1).sum(axis=-1)
        elif name == "tsys_cells":
            v = ys[..., L.S_T_SYS]
        elif name in ("nk_blood_per_ul", "car_nk_blood_per_ul"):
            v = blood_per_ul(ys, inp, transduced_only=name == "car_nk_blood_per_ul")
        elif name == "cytokine_pg_ml":
            v = als[..., L.A_C]
        elif name == "product_cells_total":
            v = product_totals(ys, als, lesion_blocks(ys, inp))[1]
        else:
            raise KeyError(name)
        return SimpleNamespace(values=v)
