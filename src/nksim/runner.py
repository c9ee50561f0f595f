"""`nksim run`: ``simulate`` into a run folder (``nksim.io.run_folder.RunFolder``) and write its report."""

from __future__ import annotations

import time
from contextlib import ExitStack
from pathlib import Path
from typing import Any, Callable

from nksim.engine import SimulationResult, simulate
from nksim.errors import InputError
from nksim.io.atomic import write_text_atomic
from nksim.io.run_folder import RunFolder, write_json
from nksim.outdirs import prepare_out
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
                 chunk_size: int = DEFAULT_CHUNK, show_progress: bool = True, scheduler: Any = None,
                 workers: int | None = None, log: Callable[[str], None] | None = None,
                 report: bool = True) -> tuple[SimulationResult, Path | None]:
    """Simulate into the run folder ``out`` (resumable, memory O(chunk)) and write report.html. ``scheduler``: a
    Dask client or scheduler address; ``workers`` > 1 without one starts a LocalCluster of that many processes.
    ``log`` receives one line per damaged chunk recomputed. Returns (result with lazy trajectories, report path)."""
    sc = resolve(scenario, n_patients, seed)
    if chunk_size < 1:
        raise InputError("--chunk-size", chunk_size, "an integer >= 1")
    if workers is not None and workers < 1:
        raise InputError("--workers", workers, "an integer >= 1")
    prepare_out(out)
    write_text_atomic(out / "scenario.yaml", dump_scenario(sc))
    t_start = time.perf_counter()
    with ExitStack() as stack:
        if scheduler is None and workers is not None and workers > 1:
            from nksim.scaleout import local_cluster

            scheduler = stack.enter_context(local_cluster(workers))
        result = simulate(sc, chunk_size=chunk_size, sink=RunFolder(out, log), scheduler=scheduler,
                          progress=show_progress)
    result.provenance["wall_seconds"] = round(time.perf_counter() - t_start, 3)
    result.provenance["workers"] = workers or 1
    write_json(out / "provenance.json", result.provenance)
    return result, (write_run_report(result, out) if report else None)


def write_run_report(result: SimulationResult, out: Path) -> Path:
    """report.html of the run (nksim.report.run_report)."""
    from nksim.report.run_report import write_run_report as write

    return write(result, out)
