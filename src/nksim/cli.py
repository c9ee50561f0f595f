"""Command-line interface (typer). Sub-command groups come from the layer packages and are imported only when
used (``nksim.cli_lazy``), so ``nksim --help`` stays fast."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any, Optional

import typer

from nksim.cli_args import to_json
from nksim.cli_lazy import LazyGroup
from nksim.errors import EXIT_INTERRUPTED, EXIT_RUNTIME, InputError, NksimError

EXIT_CODES = """Exit codes:

0    success

1    runtime failure: valid input, but the work failed (out of memory, disk full, an internal error)

2    bad usage: unknown command or option, missing argument, wrong option type

3    invalid input: a scenario, parameter, data file or output folder nksim refuses (one line per problem)

130  interrupted (Ctrl-C); `run`, `demo` and `sensitivity` resume when the same command is run again, an ABM run \
with `nksim abm resume RUN_FOLDER`"""

RESUMABLE = {"run", "demo", "abm", "sensitivity"}  # commands whose rerun resumes (finished work is kept)

app = typer.Typer(
    cls=LazyGroup,
    help="nksim: simulate NK and CAR-NK cell therapy from product to virtual phase I trial.",
    epilog=EXIT_CODES,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)


def _version(value: bool) -> None:
    if value:
        from nksim.version import __version__

        typer.echo(f"nksim {__version__}")
        raise typer.Exit()


@app.callback()
def _root(version: bool = typer.Option(False, "--version", is_eager=True, callback=_version,
                                       help="print the installed nksim version and exit")) -> None:
    """nksim: simulate NK and CAR-NK cell therapy from product to virtual phase I trial."""


def _echo_json(obj: Any) -> None:
    typer.echo(to_json(obj))


def _warn(sc) -> None:
    for note in sc.warnings():
        typer.secho(f"warning: {note}", fg=typer.colors.YELLOW, err=True)


def _warn_line(message: str) -> None:
    typer.secho(f"warning: {message}", fg=typer.colors.YELLOW, err=True)


def _start_over(folder: Path) -> None:
    """``--force``: remove a run folder nksim wrote (never a folder holding anything else)."""
    import shutil

    folder = Path(folder)
    if not folder.exists():
        return
    marks = ("scenario.yaml", "run_key.json", "provenance.json", "chunks", "comparison.csv", "patients.parquet")
    if not folder.is_dir() or (any(folder.iterdir()) and not any((folder / m).exists() for m in marks)):
        raise InputError("--force", str(folder), "a run folder written by nksim (this one holds other files; "
                         "nothing was deleted)")
    shutil.rmtree(folder)


def _run_json(result, folder: Path, report: Path) -> dict[str, Any]:
    sc = result.scenario
    return {"scenario": sc.name, "patients": len(result.patients), "seed": sc.simulation.seed,
            "dose_level": sc.regimen.dose_level, "run_folder": str(folder), "report": str(report),
            "files": sorted(p.name for p in Path(folder).iterdir() if p.is_file()),
            "summary": result.summary().to_dict(orient="records")}


@app.command()
def run(
    scenario: str = typer.Argument(..., help="built-in scenario name (see `nksim scenarios`) or a YAML file"),
    patients: Optional[int] = typer.Option(None, "--patients", "-n", help="number of virtual patients"),
    seed: Optional[int] = typer.Option(None, "--seed", "-s", help="random seed (same seed, same numbers)"),
    out: Optional[Path] = typer.Option(None, "--out", "-o", help="run folder (default runs/<scenario>-seed<S>)"),
    chunk_size: int = typer.Option(256, "--chunk-size", help="patients per chunk (written as each finishes)"),
    arm: Optional[str] = typer.Option(None, "--arm", help="one of the scenario's named arms (`nksim show` lists them)"),
    arms: Optional[str] = typer.Option(None, "--arms", help="compare arms (all, or A,B,...): as `nksim arms`"),
    dose_level: Optional[int] = typer.Option(None, "--dose-level", "-d", help="dose level to give (1-based, as "
                                             "regimen.dose_level; see `nksim show`)"),
    set_: list[str] = typer.Option([], "--set", help="change a scenario field: PATH=VALUE, e.g. "
                                   "regimen.infusion_days=[0,7,14] or k_car=0.5 (a bare registry name means "
                                   "parameters.NAME); repeatable; checked like the file"),
    sweep: Optional[str] = typer.Option(None, "--sweep", help="one run per value, PATH=V1,V2,...: e.g. "
                                        "dose_level=1,2,3 or k_car=0.5,1,2; writes one folder per value and "
                                        "comparison.csv / comparison.html side by side"),
    force: bool = typer.Option(False, "--force", help="start the run folder over (delete what an earlier run "
                               "wrote there) instead of resuming it"),
    as_json: bool = typer.Option(False, "--json", help="print the result (run folder, files, clinical summary) as "
                                 "JSON"),
    workers: Optional[int] = typer.Option(None, "--workers", "-w", help="Dask worker processes on this machine "
                                          "(a LocalCluster for N > 1; same numbers as one process)"),
    scheduler: Optional[str] = typer.Option(None, "--scheduler", help="address of a running Dask scheduler "
                                            "(e.g. tcp://host:8786); the run folder must be reachable from here"),
) -> None:
    """Simulate a scenario's virtual cohort; write results, provenance and report.html into a run folder.

    Re-running the same command resumes: finished chunks are checked and skipped, damaged ones computed again
    (--force starts over). --workers/--scheduler run the chunks on Dask (docs/cluster.md)."""
    from nksim.cli_args import parse_assignment, parse_sweep
    from nksim.outdirs import default_out
    from nksim.runner import resolve, run_scenario

    if arms is not None:
        if arm is not None:
            raise InputError("--arm", arm, "either --arm (one arm) or --arms (a comparison), not both")
        arms_command(scenario, patients, seed, arms, out, as_json)
        return
    sc = resolve(scenario, patients, seed).with_arm(arm)
    changes = dict(parse_assignment(item, "--set") for item in set_)
    if dose_level is not None:
        changes["regimen.dose_level"] = dose_level
    if changes:
        sc = sc.replace(changes, where="--set" if set_ else "--dose-level")
    _warn(sc)
    folder = out or default_out(sc.name, f"seed{sc.simulation.seed}")  # a slug of the name, always under runs/
    if sweep is not None:
        path, values = parse_sweep(sweep)
        folder = out or default_out(sc.name, f"seed{sc.simulation.seed}", "sweep", path.rsplit(".", 1)[-1])
        _run_sweep(sc, path, values, folder, chunk_size, force, as_json)
        return
    if workers is not None and scheduler is not None:
        raise InputError("--workers", workers, "either --workers (a cluster on this machine) or --scheduler (an "
                         "existing one), not both")
    if force:
        _start_over(folder)
    result, report = run_scenario(sc, folder, chunk_size=chunk_size, show_progress=not as_json, workers=workers,
                                  scheduler=scheduler, log=_warn_line)
    if as_json:
        _echo_json(_run_json(result, folder, report))
        return
    typer.echo(f"{len(result.patients)} patients simulated; run folder: {folder}")
    typer.echo(f"report: {report}")


def _run_sweep(sc, path: str, values: list, folder: Path, chunk_size: int, force: bool, as_json: bool) -> None:
    from nksim.runner import run_scenario
    from nksim.sweep import run_sweep, sweep_variants, wide

    sweep_variants(sc, path, values)  # every value checked before anything runs
    if force:
        _start_over(folder)

    def one(variant, sub: Path):
        if not as_json:
            typer.echo(f"{path} = {variant_value(variant, path)}: {sub}")
        return run_scenario(variant, sub, chunk_size=chunk_size, show_progress=not as_json)[0]

    table, report = run_sweep(sc, path, values, folder, one)
    if as_json:
        _echo_json({"scenario": sc.name, "sweep": path, "values": values, "run_folder": str(folder),
                    "report": str(report), "comparison": table.to_dict(orient="records")})
        return
    _print_frame(wide(table))
    typer.echo(f"comparison: {folder / 'comparison.csv'}, {report}")


def variant_value(sc, path: str) -> Any:
    """The value at a dotted ``path`` of a scenario (for messages)."""
    cur: Any = sc.model_dump(mode="python")
    for part in path.split("."):
        cur = cur[int(part)] if isinstance(cur, list) else cur.get(part)
    return cur


def _print_frame(df) -> None:
    """A DataFrame as a table that fits the terminal (COLUMNS when set; 80 columns when piped)."""
    from rich.console import Console
    from rich.table import Table

    table = Table(show_header=True, header_style="bold")
    table.add_column(df.index.name or "", overflow="fold")
    for c in df.columns:
        table.add_column(str(c), overflow="fold")
    for idx, row in df.iterrows():
        table.add_row(str(idx), *(str(v) for v in row))
    Console(soft_wrap=False).print(table)


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
        _echo_json({**cmp.to_dict(), "files": {k: str(v) for k, v in paths.items()}})
        return
    typer.echo(paths["md"].read_text(encoding="utf-8").split("\n", 2)[2].rstrip())
    typer.echo(f"run folder: {folder} (KM curves {paths['png'].name}, report {paths['html'].name})")


@app.command()
def demo(
    out: Path = typer.Option(Path("runs/demo"), "--out", "-o", help="run folder"),
    patients: int = typer.Option(100, "--patients", "-n", help="number of virtual patients"),
    force: bool = typer.Option(False, "--force", help="start the run folder over instead of resuming it"),
    as_json: bool = typer.Option(False, "--json", help="print the result (run folder, files, clinical summary) as "
                                 "JSON"),
) -> None:
    """Run the default scenario (unmodified allogeneic NK for HCC recurrence after liver transplantation)."""
    from nksim.runner import run_scenario

    if force:
        _start_over(out)
    result, report = run_scenario("hcc-post-lt-allo-nk", out, n_patients=patients, show_progress=not as_json)
    if as_json:
        _echo_json(_run_json(result, out, report))
        return
    typer.echo(f"demo: {len(result.patients)} virtual patients, scenario hcc-post-lt-allo-nk")
    typer.echo(f"results: {out}/trajectories/, {out}/patients.parquet (nksim.open_run(\"{out}\") opens both)")
    typer.echo(f"report:  {report.resolve()}")


@app.command()
def validate(
    file: Optional[Path] = typer.Argument(None, help="scenario YAML to check"),
    schema: bool = typer.Option(False, "--schema", help="print the scenario JSON Schema instead"),
    list_names: Optional[str] = typer.Option(None, "--list", help="list the names a scenario may use: antigens, "
                                             "indications, criteria or chemokine_receptors (as `nksim catalog`)"),
    as_json: bool = typer.Option(False, "--json", help="print the verdict as JSON: ok, name, problems, warnings "
                                 "(exit code 3 when there are problems, as without --json)"),
) -> None:
    """Check a scenario file (field names, values, antigens, parameter names) without running it.

    Every problem is listed (one line each, exit code 3); warnings (values outside a parameter's plausible range,
    scans after the horizon) are printed and the file still passes."""
    from nksim.population.sampling import typical_values
    from nksim.spec.io import load_scenario
    from nksim.spec.scenario import Scenario, check_arms

    from nksim.errors import InputErrors

    if schema:
        typer.echo(json.dumps(Scenario.model_json_schema(), indent=2))
        return
    if list_names is not None:
        catalog(list_names, as_json)
        return
    if file is None:
        raise typer.BadParameter("give a scenario file, --schema or --list", param_hint="FILE")
    try:
        sc = check_arms(load_scenario(str(file)), str(file))  # every arm's changes too
        typical_values(sc)  # checks every parameter name
    except InputError as exc:
        if not as_json:
            raise
        problems = exc.problems if isinstance(exc, InputErrors) else [exc]
        _echo_json({"ok": False, "file": str(file), "problems": [
            {"field": p.field, "value": repr(p.value), "allowed": p.allowed, "message": str(p)} for p in problems],
            "warnings": []})
        raise typer.Exit(exc.exit_code) from None
    if as_json:
        _echo_json({"ok": True, "file": str(file), "name": sc.name, "indication": sc.tumor.indication,
                    "product": sc.product.name, "n_patients": sc.simulation.n_patients, "problems": [],
                    "warnings": list(sc.warnings())})
        return
    _warn(sc)
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
    name: Optional[str] = typer.Argument(None, help="one parameter to look up (default: the whole registry)"),
    as_json: bool = typer.Option(False, "--json", help="machine-readable output"),
    module: Optional[str] = typer.Option(None, "--module", help="only this module (kinetics, population, ...)"),
) -> None:
    """Print the parameter registry: default, unit, range, variability, status, source; or one parameter in full
    (`nksim params k_car`)."""
    from nksim.registry import load_registry

    reg = load_registry()
    if name is not None:
        row = reg[name].as_dict()  # an unknown name: did you mean ..., exit code 3
        if as_json:
            _echo_json(row)
            return
        width = max(len(k) for k in row)
        for k, v in row.items():
            typer.echo(f"{k:{width}s}  {'' if v is None else v}")
        return
    if module is not None and module not in {p.module for p in reg.values()}:
        raise InputError("--module", module, f"one of {', '.join(sorted({p.module for p in reg.values()}))}")
    rows = reg.table(module)
    if as_json:
        _echo_json(rows)
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"nksim parameter registry ({len(rows)} parameters)")
    for col in ("name", "module", "default", "unit", "range", "omega2", "status", "source"):
        table.add_column(col, overflow="fold")
    for r in rows:
        table.add_row(r["name"], r["module"], f"{r['default']:g}", r["unit"], f"{r['low']:g}-{r['high']:g}",
                      "" if r["iiv_omega2"] is None else f"{r['iiv_omega2']:g}", r["status"], r["source"])
    Console().print(table)  # as wide as the terminal (COLUMNS when set; 80 columns when piped)


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
def show(
    name: str = typer.Argument(..., help="built-in scenario name or YAML file"),
    as_json: bool = typer.Option(False, "--json", help="the same scenario as JSON"),
) -> None:
    """Print a scenario with every default filled in (YAML)."""
    from nksim.spec.io import dump_scenario, load_scenario

    sc = load_scenario(name)
    if as_json:
        typer.echo(sc.model_dump_json(indent=2))
        return
    typer.echo(dump_scenario(sc))


@app.command()
def calibration(
    patients: int = typer.Option(200, "--patients", "-n", help="virtual patients per scenario"),
    seed: Optional[int] = typer.Option(None, "--seed", "-s"),
    as_json: bool = typer.Option(False, "--json"),
    fit_crs: bool = typer.Option(False, "--fit-crs", help="re-fit the CRS thresholds on the CAR-T-like cohort "
                                 "(docs/calibration.md, CRS thresholds) and print them next to the registry's"),
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


def interrupt_message(args: list[str]) -> str:
    """What Ctrl-C prints: for a resumable command, that running it again continues where it stopped."""
    words = [a for a in args if not a.startswith("-")]
    if words and words[0] in RESUMABLE:
        return ("interrupted: finished work is kept in the run folder; run the same command again to resume "
                "(add --force to start over)" if words[0] in ("run", "demo", "sensitivity") else
                "interrupted: `nksim abm resume RUN_FOLDER` continues from the last checkpoint")
    return "interrupted"


def main() -> None:
    """Entry point: user errors print one line (one per problem), never a traceback. Exit codes
    (``nksim.errors``, README "Exit codes"): 0 ok, 1 runtime failure, 2 bad usage, 3 invalid input, 130 interrupted."""
    try:
        app()
    except NksimError as exc:
        typer.secho(f"error: {exc}", fg=typer.colors.RED, err=True)
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        typer.secho(interrupt_message(sys.argv[1:]), fg=typer.colors.RED, err=True)
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
