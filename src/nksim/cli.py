"""Command-line interface (typer). Sub-command groups come from the layer packages."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Optional

import typer

from nksim.assay.cli import app as assay_app
from nksim.calibrate.fit_cli import fit_command
from nksim.errors import EXIT_INTERRUPTED, EXIT_RUNTIME, InputError, NksimError
from nksim.export_cli import app as export_app
from nksim.manufacturing.cli import app as manufacture_app
from nksim.sensitivity.cli import sensitivity as sensitivity_cmd
from nksim.spatial.cli import app as abm_app
from nksim.trial.cli import app as trial_app

app = typer.Typer(
    help="nksim: simulate NK and CAR-NK cell therapy from product to virtual phase I trial.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
app.add_typer(trial_app, name="trial")
app.add_typer(abm_app, name="abm")
app.add_typer(manufacture_app, name="manufacture")
app.add_typer(assay_app, name="assay")
app.add_typer(export_app, name="export")
app.command("sensitivity")(sensitivity_cmd)
app.command("fit")(fit_command)


@app.command()
def run(
    scenario: str = typer.Argument(..., help="built-in scenario name (see `nksim scenarios`) or a YAML file"),
    patients: Optional[int] = typer.Option(None, "--patients", "-n", help="number of virtual patients"),
    seed: Optional[int] = typer.Option(None, "--seed", "-s", help="random seed (same seed, same numbers)"),
    out: Optional[Path] = typer.Option(None, "--out", "-o", help="run folder (default runs/<scenario>-seed<S>)"),
    chunk_size: int = typer.Option(256, "--chunk-size", help="patients per chunk (written as each finishes)"),
    arm: Optional[str] = typer.Option(None, "--arm", help="one of the scenario's named arms (`nksim show` lists them)"),
    arms: Optional[str] = typer.Option(None, "--arms", help="compare arms (all, or A,B,...): as `nksim arms`"),
) -> None:
    """Simulate a scenario's virtual cohort; write results, provenance and report.html into a run folder.

    Re-running the same command resumes: finished chunks are kept and skipped."""
    from nksim.runner import resolve, run_scenario

    from nksim.outdirs import default_out

    if arms is not None:
        if arm is not None:
            raise InputError("--arm", arm, "either --arm (one arm) or --arms (a comparison), not both")
        arms_command(scenario, patients, seed, arms, out, False)
        return
    sc = resolve(scenario, patients, seed).with_arm(arm)
    for note in sc.warnings():
        typer.secho(f"warning: {note}", fg=typer.colors.YELLOW, err=True)
    folder = out or default_out(sc.name, f"seed{sc.simulation.seed}")  # a slug of the name, always under runs/
    result, report = run_scenario(sc, folder, chunk_size=chunk_size)
    typer.echo(f"{len(result.patients)} patients simulated; run folder: {folder}")
    typer.echo(f"report: {report}")


@app.command("arms")
def arms_command(
    scenario: str = typer.Argument(..., help="built-in scenario name or YAML file with `arms`"),
    patients: Optional[int] = typer.Option(None, "--patients", "-n", help="virtual patients per arm"),
    seed: Optional[int] = typer.Option(None, "--seed", "-s", help="random seed (the same patients in every arm)"),
    arms: str = typer.Option("all", "--arms", help="arms to compare: all, or comma-separated names"),
    out: Optional[Path] = typer.Option(None, "--out", "-o", help="run folder (default runs/<scenario>-arms-seed<S>)"),
    as_json: bool = typer.Option(False, "--json", help="print the comparison as JSON"),
) -> None:
    """Simulate the same virtual patients in each named arm of a scenario: per-arm n, ORR, median PFS (95% CI) and
    log-rank tests (all arms; each arm vs the control). Writes KM curves, table and arms.html into a run folder."""
    from nksim.arms import compare_arms
    from nksim.outdirs import default_out, prepare_out
    from nksim.report.arms import write_arms_report
    from nksim.runner import resolve

    sc = resolve(scenario, patients, seed)
    folder = prepare_out(out or default_out(sc.name, "arms", f"seed{sc.simulation.seed}"))
    cmp = compare_arms(sc, arms=arms)
    paths = write_arms_report(cmp, folder)
    if as_json:
        typer.echo(json.dumps({**cmp.to_dict(), "files": {k: str(v) for k, v in paths.items()}}, indent=2))
        return
    typer.echo(paths["md"].read_text().split("\n", 2)[2].rstrip())
    typer.echo(f"run folder: {folder} (KM curves {paths['png'].name}, report {paths['html'].name})")


@app.command()
def demo(
    out: Path = typer.Option(Path("runs/demo"), "--out", "-o", help="run folder"),
    patients: int = typer.Option(100, "--patients", "-n"),
) -> None:
    """Run the default scenario (unmodified allogeneic NK for HCC recurrence after liver transplantation)."""
    from nksim.runner import run_scenario

    result, report = run_scenario("hcc-post-lt-allo-nk", out, n_patients=patients)
    typer.echo(f"demo: {len(result.patients)} virtual patients, scenario hcc-post-lt-allo-nk")
    typer.echo(f"results: {out}/trajectories.nc, {out}/patients.parquet")
    typer.echo(f"report:  {report.resolve()}")


@app.command()
def validate(
    file: Optional[Path] = typer.Argument(None, help="scenario YAML to check"),
    schema: bool = typer.Option(False, "--schema", help="print the scenario JSON Schema instead"),
    list_names: Optional[str] = typer.Option(None, "--list", help="list the names a scenario may use: antigens, "
                                             "indications, criteria or chemokine_receptors (as `nksim catalog`)"),
) -> None:
    """Check a scenario file (field names, values, antigens, parameter names) without running it.

    Every problem is listed (one line each, exit code 3); warnings (values outside a parameter's plausible range,
    scans after the horizon) are printed and the file still passes."""
    from nksim.population.sampling import typical_values
    from nksim.spec.io import load_scenario
    from nksim.spec.scenario import Scenario, check_arms

    if schema:
        typer.echo(json.dumps(Scenario.model_json_schema(), indent=2))
        return
    if list_names is not None:
        catalog(list_names, False)
        return
    if file is None:
        raise typer.BadParameter("give a scenario file, --schema or --list", param_hint="FILE")
    sc = check_arms(load_scenario(str(file)), str(file))  # every arm's changes too
    typical_values(sc)  # checks every parameter name
    for note in sc.warnings():
        typer.secho(f"warning: {note}", fg=typer.colors.YELLOW, err=True)
    typer.echo(f"ok: {sc.name} ({sc.tumor.indication}, {sc.product.name}, {sc.simulation.n_patients} patients)")


@app.command()
def catalog(
    kind: Optional[str] = typer.Argument(None, help="antigens, indications, criteria or chemokine_receptors "
                                         "(default: all)"),
    as_json: bool = typer.Option(False, "--json", help="machine-readable output"),
) -> None:
    """List the names scenarios may use: antigens, indications (with their criteria and organ), response criteria
    and chemokine receptors (the same lists are enums in `nksim validate --schema`)."""
    from nksim.spec.catalog_table import KINDS, catalog_rows

    if kind is not None and kind not in KINDS:
        raise InputError("catalog", kind, f"one of {', '.join(KINDS)}")
    rows = {k: catalog_rows(k) for k in ([kind] if kind else KINDS)}
    if as_json:
        typer.echo(json.dumps(rows if kind is None else rows[kind], indent=2))
        return
    for k, items in rows.items():
        if kind is None:
            typer.echo(f"{k}:")
        for it in items:
            typer.echo(f"  {it['name']:20s} {it['about']}")


@app.command()
def params(
    as_json: bool = typer.Option(False, "--json", help="machine-readable output"),
    module: Optional[str] = typer.Option(None, "--module", help="only this module (kinetics, population, ...)"),
) -> None:
    """Print the parameter registry: default, unit, range, variability, source."""
    from rich.console import Console
    from rich.table import Table

    from nksim.registry import load_registry

    rows = load_registry().table(module)
    if as_json:
        typer.echo(json.dumps(rows, indent=2))
        return
    table = Table(title=f"nksim parameter registry ({len(rows)} parameters)")
    for col in ("name", "module", "default", "unit", "range", "omega2", "status", "source"):
        table.add_column(col, overflow="fold")
    for r in rows:
        table.add_row(r["name"], r["module"], f"{r['default']:g}", r["unit"], f"{r['low']:g}-{r['high']:g}",
                      "" if r["iiv_omega2"] is None else f"{r['iiv_omega2']:g}", r["status"], r["source"])
    Console(width=200).print(table)


@app.command()
def scenarios(as_json: bool = typer.Option(False, "--json", help="machine-readable output")) -> None:
    """List the built-in scenarios."""
    from nksim.spec.io import builtin_names, load_scenario

    items = []
    for name in builtin_names():
        sc = load_scenario(name)
        items.append({"name": name, "indication": sc.tumor.indication, "product": sc.product.name,
                      "description": " ".join(sc.description.split())})
    if as_json:
        typer.echo(json.dumps(items, indent=2))
        return
    for it in items:
        typer.echo(f"{it['name']:32s} {it['indication']:12s} {it['product']}")


@app.command()
def show(name: str = typer.Argument(..., help="built-in scenario name or YAML file")) -> None:
    """Print a scenario with every default filled in (YAML)."""
    from nksim.spec.io import dump_scenario, load_scenario

    typer.echo(dump_scenario(load_scenario(name)))




@app.command()
def calibration(
    patients: int = typer.Option(200, "--patients", "-n", help="virtual patients per scenario"),
    seed: Optional[int] = typer.Option(None, "--seed", "-s"),
    as_json: bool = typer.Option(False, "--json"),
    fit_crs: bool = typer.Option(False, "--fit-crs", help="re-fit the CRS thresholds on the CAR-T-like cohort "
                                 "(MODEL.md 12 step 2) and print them next to the registry's"),
    crs_table: bool = typer.Option(False, "--crs-table", help="CAR-NK CRS incidence across the NK/T release "
                                   "ratio (step 3: reported, never tuned)"),
    abc: bool = typer.Option(False, "--abc", help="fit --free parameters to --target targets by ABC-SMC "
                             "(posterior, fit per target, predictive intervals; --out writes a run folder)"),
    target: list[str] = typer.Option([], "--target", help="target key to fit (repeat; nksim.calibrate.abc.TARGET_KEYS)"),
    check: list[str] = typer.Option([], "--check", help="target key to predict only, never fit (repeat)"),
    free: list[str] = typer.Option([], "--free", help="free parameter NAME or NAME=LOW:HIGH (repeat)"),
    cross_validate: bool = typer.Option(False, "--cross-validate", help="refit with each target family held out "
                                        "and predict it (B-ALL CAR-T-like set; a few minutes at the defaults)"),
    cohort: int = typer.Option(40, "--cohort", help="patients per simulated cohort in --abc / --cross-validate"),
    population: int = typer.Option(30, "--population", help="ABC-SMC particles"),
    generations: int = typer.Option(4, "--generations", help="ABC-SMC generations"),
    draws: int = typer.Option(10, "--draws", help="posterior predictive cohorts (fresh seeds) per fit"),
    out: Optional[Path] = typer.Option(None, "--out", help="run folder for --abc"),
) -> None:
    """Show each published calibration target next to the model's value (met / not met / reported).

    Tunes nothing; --fit-crs shows what the CRS threshold fit gives (the registry holds its result); --abc fits
    free parameters to chosen targets; --cross-validate holds out each target family in turn."""
    if abc or cross_validate:
        from nksim.calibrate import abc_cli

        if cross_validate:
            abc_cli.run_cross_validate(free, cohort, population, generations, draws, seed or 0, as_json)
        else:
            abc_cli.run_abc(target, free, cohort, population, generations, seed or 0, out, as_json, check, draws)
        return
    if fit_crs or crs_table:
        _crs_calibration(patients, seed, fit_crs, crs_table, as_json)
        return
    from nksim.calibrate.targets import evaluate

    table = evaluate(n_patients=patients, seed=seed)
    if as_json:
        typer.echo(table.to_json(orient="records", indent=2))
        return
    for _, row in table.iterrows():
        mark = "reported" if row.reported else ("met" if row.met else "NOT MET")
        span = "" if row.reported else f"  target [{row.low:g}, {row.high:g}]"
        typer.echo(f"{mark:8s} {row.target[:62]:62s} model {row.model:10.4g}{span}")
        typer.echo(f"         source: {row.source}")


def _crs_calibration(patients: int, seed: Optional[int], fit: bool, table: bool, as_json: bool) -> None:
    from nksim.calibrate import crs

    if fit:
        fitted, pts = crs.fit_from_cohort(n_patients=patients, seed=seed)
        now = crs.registry_thresholds()
        rows = [{"threshold": k, "fitted_pg_ml": v, "registry_pg_ml": now[k]} for k, v in fitted.items()]
        if as_json:
            typer.echo(json.dumps(rows, indent=2))
        else:
            typer.echo(f"CRS thresholds fitted on {crs.CRS_SCENARIO} ({len(pts)} patients): any grade "
                       f"{crs.ANY_GRADE:.1%}, grade >= 3 {crs.GRADE3:.1%}")
            for r in rows:
                typer.echo(f"  {r['threshold']:52s} fitted {r['fitted_pg_ml']:10.4g}  registry {r['registry_pg_ml']:10.4g}")
    if table:
        df = crs.release_ratio_table(n_patients=patients, seed=seed)
        typer.echo(df.to_json(orient="records", indent=2) if as_json else df.to_string(index=False))


def main() -> None:
    """Entry point: user errors print one line (one per problem), never a traceback. Exit codes
    (``nksim.errors``, README "Exit codes"): 0 ok, 1 runtime failure, 2 bad usage, 3 invalid input, 130 interrupted."""
    try:
        app()
    except NksimError as exc:
        typer.secho(f"error: {exc}", fg=typer.colors.RED, err=True)
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        typer.secho("interrupted", fg=typer.colors.RED, err=True)
        sys.exit(EXIT_INTERRUPTED)
    except MemoryError:
        typer.secho("error: out of memory (fewer patients, a shorter horizon_d or a larger save_every_d need less)",
                    fg=typer.colors.RED, err=True)
        sys.exit(EXIT_RUNTIME)
    except OSError as exc:  # disk full, permissions changed under a run, ...
        typer.secho(f"error: {exc.strerror or exc}{f' ({exc.filename})' if exc.filename else ''}",
                    fg=typer.colors.RED, err=True)
        sys.exit(EXIT_RUNTIME)


if __name__ == "__main__":
    main()
