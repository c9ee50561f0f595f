"""``nksim fit``: fit free registry parameters to data (assay or NONMEM-style CSV); registered in nksim.cli."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer


def fit_command(
    data: Path = typer.Argument(..., help="data CSV: an assay dataset (ID, ET, DV[, HOURS, BLQ, LLOQ]) or a "
                                "NONMEM-style dataset (ID, TIME, EVID, AMT, CMT, DV, MDV, DVID[, BLQ, LLOQ])"),
    scenario: Optional[str] = typer.Option(None, "--scenario", "-s", help="built-in scenario or YAML: the product "
                                           "and patients (required for NONMEM-style data; assays: the effector)"),
    free_params: str = typer.Option(..., "--free", "-f", help="registry names to estimate, comma-separated "
                                    "(omega2:NAME with --population: variability only on those)"),
    error: str = typer.Option("proportional", "--error", "-e", help="residual error: additive, proportional, "
                              "combined, or log-additive (log-normal) etc."),
    population: bool = typer.Option(False, "--population", help="typical values and between-subject variances "
                                    "(EM global two-stage)"),
    individual: bool = typer.Option(False, "--individual", help="one parameter set per subject (standard two-stage "
                                    "summary)"),
    profile: Optional[bool] = typer.Option(None, "--profile/--no-profile", help="profile-likelihood intervals "
                                           "(pooled fits; default on for assay data)"),
    n_starts: int = typer.Option(3, "--starts", help="optimizer starts: the registry value + prior draws"),
    seed: int = typer.Option(0, "--seed", help="seed of the prior draws and the VPC simulations"),
    out: Path = typer.Option(Path("runs/fit"), "--out", "-o", help="output folder"),
    as_json: bool = typer.Option(False, "--json", help="print the estimates table, -2 log L and notes as JSON"),
) -> None:
    """Fit parameters to data by maximum likelihood; write calibration.yaml, estimates.csv, predictions.csv and
    goodness-of-fit plots (gof_*.png, VPC) into --out."""
    from nksim.calibrate.fit import fit_file
    from nksim.errors import InputError

    if population and individual:
        raise InputError("--population/--individual", "both", "one of them (or neither: a pooled fit)")
    mode = "population" if population else ("individual" if individual else "pooled")
    res, files = fit_file(data, out, free_params=free_params, scenario=scenario, error=error, mode=mode,
                          profile=profile, n_starts=n_starts, seed=seed)
    if as_json:
        from nksim.cli_args import to_json

        typer.echo(to_json({"mode": mode, "objective": res.objective_value, "n_obs": res.n_obs,
                            "estimates": res.table().to_dict(orient="records"), "notes": res.notes,
                            "files": {k: str(p) for k, p in files.items()}}))
        return
    typer.echo(res.summary())
    for note in res.notes:
        typer.echo(f"  note: {note}")
    typer.echo(f"written to {out}: " + ", ".join(sorted(p.name for p in files.values())))
