"""`nksim run`: simulate a scenario chunk by chunk into a run folder and write its report."""

from __future__ import annotations

import multiprocessing
import sys
import threading
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

from nksim.engine import SimulationResult, iter_chunks, provenance, simulate_chunk
from nksim.errors import InputError
from nksim.outdirs import prepare_out
from nksim.io.run_folder import parquet_safe, check_resumable, finalize, load_chunk, save_chunk, write_json
from nksim.population.sampling import sample_patients, typical_values
from nksim.report.clinical_plots import clinical_sections
from nksim.report.html import _table, changed_parameters, kinetic_figures, write_report
from nksim.spec.io import dump_scenario, load_scenario
from nksim.spec.scenario import Scenario

DEFAULT_CHUNK = 256


def resolve(scenario: Scenario | str, n_patients: int | None, seed: int | None) -> Scenario:
    sc = load_scenario(scenario) if isinstance(scenario, str) else scenario
    from nksim.spec.scenario import MAX_PATIENTS, MAX_SEED

    update: dict[str, Any] = {}
    if n_patients is not None:
        if not 1 <= n_patients <= MAX_PATIENTS:
            raise InputError("--patients", n_patients, f"a whole number in 1..{MAX_PATIENTS:,}")
        update["simulation.n_patients"] = n_patients
    if seed is not None:
        if not 0 <= seed < MAX_SEED:
            raise InputError("--seed", seed, "a whole number in [0, 2**63)")
        update["simulation.seed"] = seed
    return sc.replace(update, where=sc.name) if update else sc


def run_scenario(scenario: Scenario | str, out: Path, n_patients: int | None = None, seed: int | None = None,
                 chunk_size: int = DEFAULT_CHUNK, show_progress: bool = True) -> tuple[SimulationResult, Path]:
    """Simulate into ``out`` (resumable) and write report.html. Returns (result, report path)."""
    sc = resolve(scenario, n_patients, seed)
    if chunk_size < 1:
        raise InputError("--chunk-size", chunk_size, "an integer >= 1")
    prepare_out(out)
    n = sc.simulation.n_patients
    key = {"scenario": dump_scenario(sc), "chunk_size": chunk_size, "n_patients": n}
    check_resumable(out, key)
    (out / "scenario.yaml").write_text(dump_scenario(sc))
    t_start = time.perf_counter()
    parts, tables, resumed = [], [], 0
    chunks = list(iter_chunks(n, chunk_size))
    columns = [TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
               TimeRemainingColumn()]
    with Progress(*columns, disable=not show_progress, transient=False) as prog:
        task = prog.add_task(f"{sc.name}: patients", total=n)
        for k, idx in enumerate(chunks):
            done = load_chunk(out, k)
            if done is None:
                patients = sample_patients(sc, idx)
                ds, table = simulate_chunk(sc, patients)
                save_chunk(out, k, ds, parquet_safe(table))
            else:
                ds, table = done
                resumed += 1
            parts.append(ds)
            tables.append(table)
            prog.update(task, advance=len(idx))
    prov = provenance(sc, "compiled")
    prov.update({"chunk_size": chunk_size, "chunks": len(chunks), "chunks_resumed": resumed,
                 "wall_seconds": round(time.perf_counter() - t_start, 3)})
    traj, patients = finalize(out, parts, tables, prov)
    write_json(out / "provenance.json", prov)
    result = SimulationResult(traj, patients, sc, prov)
    report = write_run_report(result, out)
    return result, report


def write_run_report(result: SimulationResult, out: Path) -> Path:
    sc = result.scenario
    traj, pts = result.trajectories, result.patients
    t = traj["time"].values
    day0 = int(np.argmin(np.abs(t)))
    tumor = traj["tumor_viable_total"].values
    cohort = pd.DataFrame({
        "patients": [len(pts)],
        "median weight (kg)": [pts["weight_kg"].median()],
        "median TVDT (d)": [pts["tvdt_d"].median()],
        "median sum of diameters (mm)": [pts["sum_diameters_mm"].median()],
        "median viable tumor day 0 (cells)": [np.median(tumor[:, day0])],
        "median viable tumor end / day 0": [np.median(tumor[:, -1] / np.maximum(tumor[:, day0], 1.0))],
        "median peak product cells/uL": [np.median(traj["nk_blood_per_ul"].values.max(axis=1))],
        "median solver steps": [pts["solver_steps"].median()],
    }).T.rename(columns={0: "value"})
    kills = {k: float(traj[k].isel(time=-1).sum()) for k in ("cum_kill_car", "cum_kill_nat", "cum_kill_adcc",
                                                               "cum_chemo_killed")}
    total = sum(kills.values()) or 1.0
    shares = pd.DataFrame({"tumor cells killed": kills, "share": {k: v / total for k, v in kills.items()}})
    changed = changed_parameters(typical_values(sc))
    with _alongside(_kinetic_html, traj) as kinetics:  # the kinetic figures render in a second process
        clinical = clinical_sections(traj, pts)
        kinetic = kinetics()
    sections = [
        ("Scenario", f"<p>{sc.description}</p><p class='note'>product: {sc.product.name}; indication: "
                     f"{sc.tumor.indication}; dose levels: {[d.value for d in sc.regimen.dose_levels]} "
                     f"({sc.regimen.dose_levels[0].unit}), level used {sc.regimen.dose_level}; infusion days "
                     f"{list(sc.regimen.infusion_days)}</p>"),
        ("Cohort", _table(cohort)),
        *clinical,
        ("Kinetics (median, 25-75% and 10-90% bands over patients, five individual patients in grey)", kinetic),
        ("Who killed the tumor: cumulative kills by pathway (all patients)", _table(shares)),
        ("Parameters that differ from registry defaults", _table(changed) if len(changed) else "<p>none</p>"),
    ]
    return write_report(out / "report.html", f"nksim run: {sc.name}", sections, result.provenance)


def _kinetic_html(traj) -> str:
    return "".join(kinetic_figures(traj))


class _alongside:
    """``with _alongside(fn, *args) as result:`` runs fn(*args) in a forked worker process while the block runs, and
    ``result()`` returns its value: the report's two groups of figures render on two cores. Only from a
    single-threaded process on Linux (forking a process whose other threads may hold locks, e.g. a notebook kernel,
    can hang the child); elsewhere, or when the worker fails, ``result()`` computes the value in this process."""

    def __init__(self, fn, *args) -> None:
        self.fn, self.args, self.pool, self.future = fn, args, None, None

    def __enter__(self):
        if sys.platform.startswith("linux") and threading.active_count() == 1:
            try:
                self.pool = ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("fork"))
                self.future = self.pool.submit(self.fn, *self.args)
            except Exception:  # no processes here: compute in place
                self.future = None
        return self.result

    def result(self):
        if self.future is not None:
            try:
                return self.future.result()
            except Exception:
                pass
        return self.fn(*self.args)

    def __exit__(self, *exc) -> None:
        if self.pool is not None:
            self.pool.shutdown(cancel_futures=True)
