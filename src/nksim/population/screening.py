"""Clinical screening at enrollment: candidates already at a lethal burden, or who would die before treatment,
are not enrolled (the trial's eligibility; docs/clinical.md "Eligibility and censoring").

A candidate (patient id, draw attempt) fails the screen when, on its untreated natural history from the start of the
simulation (the earliest regimen day, lymphodepletion included):

- its total tumor volume reaches the lethal burden (``readouts.lethal_burden_cm3``, registry
  ``clinical_lethal_burden_cm3``) by the first scan day: already at or near lethal burden at enrollment;
- or its cumulative burden-driven death hazard reaches its own death threshold (the Exp(1) draw the readouts use,
  ``nksim.clinical.outcomes.patient_draws``) before the first infusion (day 0): it would die before treatment.

The natural history is the closed-form Gompertz course of each lesion (process 8 without treatment: r_l ln(k/T),
r_l = ln 2 / TVDT x deviation / max(ln(k/T0), 1)), bounded by its larger end value, and, for a systemic
indication, exponential growth of the marrow tumor capped at its capacity. Treatment only removes tumor, so the untreated course bounds the simulated one from above:
an enrolled patient never reaches the lethal burden before the first scan nor dies before day 0, and
``os_days`` is never negative. A screened-out candidate is replaced by the next draw of the same patient id (as for
the protocol's eligibility rules), so the screen is deterministic for a seed and independent of chunking.
"""

from __future__ import annotations

import math
from typing import Any, Mapping

import numpy as np
import pandas as pd

from nksim.spec.catalog import INDICATIONS
from nksim.spec.scenario import Scenario


def earliest_day(regimen: Any) -> float:
    """The simulation's first day: min(0, every day the regimen names), floored (as the engine's time axis)."""
    days: list[float] = [0.0]

    def walk(node: Any, key: str = "") -> None:
        if isinstance(node, Mapping):
            for k, v in node.items():
                walk(v, str(k))
        elif isinstance(node, (list, tuple)):
            for v in node:
                walk(v, key)
        elif key == "day" or key.endswith("days"):
            if isinstance(node, (int, float)) and math.isfinite(node):
                days.append(float(node))

    walk(regimen.model_dump(mode="python"))
    return float(math.floor(min(days)))


def _gompertz(t0_cells: np.ndarray, r: np.ndarray, k: np.ndarray, dt: float) -> np.ndarray:
    """Closed-form Gompertz dT/dt = r T ln(k/T) after ``dt`` days: k exp(ln(T0/k) e^(-r dt))."""
    with np.errstate(over="ignore", invalid="ignore"):
        return np.where(t0_cells > 0, k * np.exp(np.log(np.maximum(t0_cells, 1e-300) / k) * np.exp(-r * dt)), 0.0)


def reads_draws(scenario: Scenario) -> bool:
    """Whether the screen reads the candidates' readout draws (their death thresholds): when the regimen starts
    before day 0."""
    return earliest_day(scenario.regimen) < 0


def passes_screen(scenario: Scenario, df: pd.DataFrame | Mapping[str, np.ndarray], typ: Mapping[str, float],
                  ids: np.ndarray | None = None, draws: np.ndarray | None = None) -> np.ndarray:
    """Whether each candidate row of ``df`` (``sample_patients`` columns, with ``draw_attempt``: a table indexed by
    patient id, or its columns as arrays with the patient ids ``ids``) is enrolled. ``draws``: the candidates'
    readout draws (``patient_draws`` of their ids and attempts) when the caller has them."""
    pid = df.index.to_numpy() if ids is None else np.asarray(ids)
    n = pid.size

    def val(name: str) -> np.ndarray:
        return np.asarray(df[name], dtype=float) if name in df else np.full(n, float(typ[name]))

    ro = scenario.readouts
    # tumor cells per cm3 of lesion: all cells x the malignant share (the rest a reactive infiltrate that the tumor
    # cells sustain, e.g. Hodgkin lymphoma)
    malignant = val("malignant_fraction")
    density = val("tumor_cell_density") * malignant
    density_readout = np.full(n, ro.cell_density_per_cm3) * malignant if ro.cell_density_per_cm3 else density
    lethal_cells = (ro.lethal_burden_cm3 or typ["clinical_lethal_burden_cm3"]) * density_readout
    k = val("k_tum")
    lam0 = math.log(2.0) / val("tvdt_d")
    nt = scenario.tumor.n_target_lesions
    t_init = [math.pi / 6.0 * (np.asarray(df[f"lesion{l}_diameter_mm"], float) / 10.0) ** 3 * density
              for l in range(nt)]
    devs = [np.asarray(df[f"lesion{l}_growth_dev"], float) for l in range(nt)]
    if scenario.tumor.nontarget_remainder:
        t_init.append(np.sum(t_init, axis=0) * val("nontarget_fraction"))
        devs.append(np.ones(n))
    start = earliest_day(scenario.regimen)
    first_scan = float(scenario.simulation.scan_days[0])

    def peak_burden(dt: float) -> np.ndarray:
        """Upper bound of the total burden over [0, dt] days: each lesion's course is monotone (it grows towards
        k_tum, or shrinks towards it from above), so its larger end value bounds it."""
        total = np.zeros(n)
        for t0l, dev in zip(t_init, devs):
            r = lam0 * dev / np.maximum(np.log(k / np.maximum(t0l, 1.0)), 1.0)  # as nksim.kinetics.inputs
            total += np.fmax(t0l, _gompertz(t0l, r, k, dt))
        return total

    ok = ~(peak_burden(first_scan - start) >= lethal_cells)  # NaN counts as lethal
    pre = -start  # days of natural history before the first infusion
    if pre > 0:
        load = peak_burden(pre)
        if INDICATIONS[scenario.tumor.indication].systemic:
            cap = val("tsys_marrow_cells_per_kg") * val("weight_kg")
            load = load + np.minimum(cap, val("tsys_blast_fraction") * cap * np.exp(val("tsys_growth_rate") * pre))
        hazard = val("h_death") * load * 1e-11 * pre  # the peak bounds the integral
        if draws is None:
            from nksim.clinical.outcomes import patient_draws

            draws = patient_draws(scenario.simulation.seed, pid, np.asarray(df["draw_attempt"]))
        ok &= ~(hazard >= -np.log1p(-draws[:, 1]))
    return ok
