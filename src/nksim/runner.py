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
        bar = stack.enter_context(RunProgress(sc.name, sc.simulation.n_patients, report)) if show_progress else None
        if scheduler is None and workers is not None and workers > 1:
            from nksim.scaleout import local_cluster

            scheduler = stack.enter_context(local_cluster(workers))
        result = simulate(sc, chunk_size=chunk_size, sink=RunFolder(out, log), scheduler=scheduler,
                          progress=bar.patients if bar else False)
        if bar:
            bar.step("patient and scan tables")
        result.provenance["wall_seconds"] = round(time.perf_counter() - t_start, 3)
        result.provenance["workers"] = workers or 1
        write_json(out / "provenance.json", result.provenance)
        if not report:
            return result, None
        if bar:
            from nksim.report.run_report import report_steps

            bar.add_steps(report_steps(result))
        return result, write_run_report(result, out, step=bar.step if bar else None)


class RunProgress:
    """One rich progress display for a run: the patients simulated, then each step after the last chunk (the
    patient tables, each group of the report's figures), so the display does not sit at 100% with nothing said.
    Like the engine's bar it is drawn only on a terminal (rich prints nothing live when output is piped)."""

    def __init__(self, name: str, n_patients: int, report: bool = True) -> None:
        from rich.progress import (BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn,
                                   TimeRemainingColumn)

        self.progress = Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                                 TimeElapsedColumn(), TimeRemainingColumn(), transient=False)
        self.n = n_patients
        self.sim = self.progress.add_task(f"{name + ': ' if name else ''}patients", total=n_patients)
        self.after = self.progress.add_task("after the last chunk: waiting", total=1, visible=False, start=False)

    def __enter__(self) -> "RunProgress":
        self.progress.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.progress.stop()

    def patients(self, chunks_done: int, patients_done: int) -> None:
        """The engine's progress callback."""
        self.progress.update(self.sim, completed=patients_done)
        if patients_done >= self.n:  # the sink joins the chunks and writes the patient tables now
            self.progress.start_task(self.after)
            self.progress.update(self.after, visible=True, description="writing patient and scan tables")

    def add_steps(self, n: int) -> None:
        task = self.progress.tasks[self.after]
        self.progress.update(self.after, total=(task.total or 0) + n, description="report: starting")

    def step(self, label: str) -> None:
        """One step after the simulation done (``label``: what was just finished)."""
        self.progress.update(self.after, advance=1, description=f"done: {label}")
        task = self.progress.tasks[self.after]
        if task.total is not None and task.completed >= task.total:
            self.progress.update(self.after, description="tables and report written")


def write_run_report(result: SimulationResult, out: Path, step: Callable[[str], None] | None = None) -> Path:
    """report.html of the run (nksim.report.run_report); ``step(label)`` after each part is drawn."""
    from nksim.report.run_report import write_run_report as write

    return write(result, out, step=step)
