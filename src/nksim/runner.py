"""`nksim run`: simulate a scenario chunk by chunk into a run folder and write its report."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

from nksim.engine import SimulationResult, iter_chunks, provenance, simulate_chunk
from nksim.errors import InputError
from nksim.outdirs import prepare_out
from nksim.io.run_folder import parquet_safe, check_resumable, finalize, load_chunk, save_chunk, write_json
from nksim.population.sampling import sample_patients
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
    """report.html of the run (nksim.report.run_report)."""
    from nksim.report.run_report import write_run_report as write

    return write(result, out)
