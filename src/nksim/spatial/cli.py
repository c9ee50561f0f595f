"""`nksim abm ...` commands: run a spatial scenario into a run folder, resume a run from its checkpoint."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Optional

import typer

from nksim.errors import InputError
from nksim.spatial.pictures import attach_recorder

app = typer.Typer(help="Spatial agent-based model of NK cells in the tumor microenvironment.", no_args_is_help=True)


def _progress_run(sim, checkpoint: Path, every: int, show: bool = True) -> float:
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

    t0 = time.perf_counter()
    with Progress(TextColumn("[bold]{task.description}"), BarColumn(), TextColumn("{task.percentage:>5.1f}%"),
                  TimeElapsedColumn(), TimeRemainingColumn(), disable=not show) as bar:
        task = bar.add_task(f"abm {sim.spec.name} seed {sim.seed}", total=1.0,
                            completed=sim.scalars["fstep"] / max(1, sim.total_fsteps))
        sim.run(checkpoint=checkpoint, checkpoint_every_steps=every,
                progress=lambda f: bar.update(task, completed=f))
    return time.perf_counter() - t0


def _finish(sim, out: Path, wall: float, as_json: bool = False) -> None:
    from nksim.cli_args import to_json
    from nksim.spatial.outputs import write_outputs

    files = write_outputs(sim, out)
    s = sim.dataset()
    last = s.isel(time=-1)
    if as_json:
        keys = ("tumor_antigen_pos", "tumor_antigen_neg", "nk_total", "nk_exhausted", "kills_car", "kills_nat",
                "kills_adcc")
        typer.echo(to_json({"scenario": sim.spec.name, "seed": sim.seed, "day": float(last.time),
                            **{k: int(last[k]) for k in keys}, "agent_updates": sim.agent_updates(),
                            "wall_seconds": wall, "run_folder": str(out),
                            "files": {k: str(p) for k, p in files.items()}}))
        return
    typer.echo(f"{sim.spec.name} seed {sim.seed}: day {float(last.time):.2f}, tumor Ag+ {int(last.tumor_antigen_pos)}, "
               f"Ag- {int(last.tumor_antigen_neg)}, NK alive {int(last.nk_total)} (exhausted {int(last.nk_exhausted)}), "
               f"kills CAR {int(last.kills_car)} / natural {int(last.kills_nat)} / ADCC {int(last.kills_adcc)}")
    ups = sim.agent_updates()
    typer.echo(f"{ups:.3g} agent-updates in {wall:.1f} s ({ups / max(wall, 1e-9):.3g} /s, fields included)")
    typer.echo(f"outputs in {out}: " + ", ".join(Path(p).name for k, p in files.items() if k != "netcdf_engine")
               + f" (netCDF engine: {files['netcdf_engine']})")


@app.command("run")
def run(
    scenario: str = typer.Argument(..., help="built-in spatial scenario name or path to a YAML file"),
    days: Optional[float] = typer.Option(None, "--days", help="simulated days (default: the scenario's)"),
    size: Optional[str] = typer.Option(None, "--size", help="lattice size, e.g. 200x200 or 60x60x60"),
    seed: int = typer.Option(0, "--seed", help="random seed (non-negative)"),
    out: Optional[Path] = typer.Option(None, "--out", help="run folder (default runs/abm-<name>-<seed>)"),
    checkpoint_every: int = typer.Option(24, "--checkpoint-every", help="tumor steps between checkpoints (0: end only)"),
    as_json: bool = typer.Option(False, "--json", help="print the end state and output files as JSON"),
) -> None:
    """Run a spatial scenario; writes results.nc, PNG snapshots, tumor.gif, histograms and a checkpoint."""
    from nksim.spatial.model import Simulation
    from nksim.spec.spatial import load_spatial_spec

    spec = load_spatial_spec(scenario)
    if size is not None:
        try:
            dims = tuple(int(s) for s in size.lower().split("x"))
        except ValueError:
            raise InputError("--size", size, "NXxNY or NXxNYxNZ, e.g. 200x200") from None
        spec = spec.with_updates(**{"tissue.size": dims, "tissue.dims": len(dims)})
    if seed < 0:
        raise InputError("--seed", seed, "a non-negative integer")
    from nksim.outdirs import default_out, prepare_out

    if checkpoint_every < 0:
        raise InputError("--checkpoint-every", checkpoint_every, "a whole number >= 0 (0: at the end only)")
    out = prepare_out(out or default_out("abm", spec.name, seed))  # a name-derived folder stays under runs/
    sim = _resumable(out / "checkpoint.npz", spec, seed, spec.time.days if days is None else float(days))
    if sim is None:
        sim = Simulation.create(spec, seed=seed, days=days)
    elif not as_json:
        typer.echo(f"resuming {out} from its checkpoint at day {sim.time_min / 1440.0:.3g}")
    attach_recorder(sim, out)  # per-agent tables at every snapshot (agents/agents_<k>.csv)
    wall = _progress_run(sim, out / "checkpoint.npz", checkpoint_every, show=not as_json)
    _finish(sim, out, wall, as_json)


def _resumable(checkpoint: Path, spec, seed: int, days: float):
    """The run saved in ``checkpoint`` when it is this run (same scenario, seed and days): re-running a killed
    `abm run` resumes it. None when there is no checkpoint or a damaged one (said; the run starts over);
    InputError when the folder holds a different run."""
    from nksim.spatial.model import Simulation

    if not checkpoint.exists():
        return None
    try:
        meta = Simulation.checkpoint_meta(checkpoint)
    except InputError as exc:
        typer.secho(f"warning: {exc}; starting over", fg=typer.colors.YELLOW, err=True)
        return None
    mine = {"spec": spec.model_dump(mode="json"), "seed": seed, "days": days}
    diff = [k for k in mine if meta.get(k) != mine[k]]
    if diff:
        raise InputError("--out", str(checkpoint.parent), "a new folder, or the same scenario, seed and days to "
                         f"resume the run saved there (differs in {diff})")
    try:
        return Simulation.resume(checkpoint)
    except InputError as exc:
        typer.secho(f"warning: {exc}; starting over", fg=typer.colors.YELLOW, err=True)
        return None


@app.command("resume")
def resume(
    run_dir: Path = typer.Argument(..., help="run folder holding checkpoint.npz"),
    as_json: bool = typer.Option(False, "--json", help="print the end state and output files as JSON"),
) -> None:
    """Resume a run from its last checkpoint; the result equals an uninterrupted run with the same seed."""
    from nksim.spatial.model import Simulation

    sim = Simulation.resume(Path(run_dir) / "checkpoint.npz")
    attach_recorder(sim, Path(run_dir))
    wall = _progress_run(sim, Path(run_dir) / "checkpoint.npz", sim.checkpoint_every, show=not as_json)
    _finish(sim, Path(run_dir), wall, as_json)
