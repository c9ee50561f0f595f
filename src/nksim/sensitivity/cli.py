"""`nksim sensitivity SCENARIO ...`: global sensitivity (Sobol, Morris) of readouts to registry parameters."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer


def sensitivity(
    scenario: str = typer.Argument(..., help="built-in scenario name or YAML path"),
    method: str = typer.Option("sobol", "--method", help="sobol (first-order and total indices) or morris (mu*, "
                                                         "sigma; cheaper screening)"),
    params: Optional[str] = typer.Option(None, "--params", help="registry parameter names, comma-separated "
                                                                "(omega2:NAME for a between-patient variance); "
                                                                "default: up to 20 that act in this scenario"),
    outputs: str = typer.Option("orr,pfs_median", "--outputs",
                                help="readouts, comma-separated: orr, cr_rate, dcr, pfs_median, os_median, crs_any, "
                                     "crs_ge2, crs_ge3, icans_any, dlt_rate, detected (cohort); burden_dNN, "
                                     "log_burden_dNN, peak_cells, peak_car_cells, peak_cytokine, product_auc "
                                     "(continuous)"),
    n: int = typer.Option(64, "--n", help="Sobol: base samples (power of 2; N x (d + 2) runs); Morris: "
                                          "trajectories (N x (d + 1) runs)"),
    patients: Optional[int] = typer.Option(None, "--patients", help="virtual patients per sample (default: 1 "
                                                                     "typical patient if every output is "
                                                                     "continuous, else 100)"),
    seed: int = typer.Option(0, "--seed", help="design, patients and readout draws (same seed, same numbers)"),
    second_order: bool = typer.Option(False, "--second-order", help="Sobol: also second-order indices "
                                                                     "(N x (2d + 2) runs)"),
    out: Path = typer.Option(Path("runs/sens"), "--out", help="run folder (resumes a run of the same "
                                                              "configuration)"),
    no_plots: bool = typer.Option(False, "--no-plots", help="skip the PNG figures"),
    as_json: bool = typer.Option(False, "--json", help="print the indices and the run's provenance as JSON"),
    workers: Optional[int] = typer.Option(None, "--workers", "-w", help="Dask worker processes on this machine "
                                          "(a LocalCluster for N > 1; chunks of samples as tasks; same numbers "
                                          "as one process)"),
    scheduler: Optional[str] = typer.Option(None, "--scheduler", help="address of a running Dask scheduler "
                                            "(e.g. tcp://host:8786); results come back here"),
) -> None:
    """Global sensitivity analysis: indices table (CSV), provenance (JSON), tornado and index plots.

    --workers/--scheduler evaluate chunks of samples on Dask (docs/sensitivity.md)."""
    from rich.console import Console

    from nksim.errors import InputError
    from nksim.sensitivity.analysis import check_method, check_n
    from nksim.sensitivity.run import run_sensitivity

    console = Console()
    check_method(method)
    check_n(method, n)
    if workers is not None and workers < 1:
        raise InputError("--workers", workers, "an integer >= 1 (Dask worker processes on this machine)")
    if workers is not None and scheduler is not None:
        raise InputError("--workers", workers, "either --workers (a cluster on this machine) or --scheduler (an "
                         "existing one), not both")
    res = run_sensitivity(scenario, params=params, outputs=outputs, method=method, n=n, patients=patients,
                          seed=seed, out=out, second_order=second_order, progress=not as_json, plots=not no_plots,
                          workers=workers, scheduler=scheduler)
    if as_json:
        from nksim.cli_args import to_json

        print(to_json({"provenance": res.provenance, "indices": res.indices.to_dict(orient="records"),
                       "baseline": res.baseline, "run_folder": str(out)}))
        return
    p = res.provenance
    who = "one typical patient" if p["patients_per_sample"] == 1 else f"{p['patients_per_sample']} patients"
    console.print(f"[bold]{p['scenario']}[/bold]: {method}, {len(p['params'])} parameters, N = {n}, "
                  f"{p['samples']} samples x {who}, seed {seed}; engine path '{p['engine_path']}', "
                  f"{res.timings['evaluate_s']:.1f} s evaluating {res.timings['samples_evaluated']} samples"
                  + (f" on {res.timings['dask_workers']} Dask workers" if res.timings["dask_workers"] > 0 else
                     " on a Dask cluster" if res.timings["dask_workers"] < 0 else "")
                  + (f" ({res.timings['samples_resumed']} read back from the folder)"
                     if res.timings["samples_resumed"] else ""), soft_wrap=True)
    if p["no_effect"]:
        console.print(f"no effect in this scenario (indices 0): {', '.join(p['no_effect'])}", soft_wrap=True)
    by_reason: dict[str, list[str]] = {}
    for name, why in p["dropped_defaults"].items():
        by_reason.setdefault(why, []).append(name)
    for why, names in by_reason.items():
        console.print(f"left out of the default set, {why}: {', '.join(names)}", soft_wrap=True)
    console.print("top drivers (" + ("total index ST, +- 95% half-width" if method == "sobol" else
                                     "mu*, +- 95% half-width") + "):")
    print(res.summary())
    console.print(f"wrote {out}/indices.csv, sensitivity.json, samples.csv.gz" +
                  ("" if no_plots else f", tornado.png, {method}.png"))
