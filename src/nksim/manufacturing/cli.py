"""`nksim manufacture SCENARIO [--lots N] [--seed S] [--json] [--out DIR]`: simulate lots of a process."""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path
from typing import Optional

import typer

from nksim.errors import InputError

app = typer.Typer(help="Manufacturing and product supply: lots, release testing, doses, cost.", no_args_is_help=True)


def _fmt(x: object, unit: str = "") -> str:
    if x is None:
        return "-"
    if isinstance(x, float):
        if math.isinf(x):
            return "inf"
        s = f"{x:.3g}" if (abs(x) >= 1e4 or abs(x) < 1e-2) and x != 0 else f"{x:.3g}"
        return s + unit
    return str(x) + unit


def _planned(n: int) -> str:
    return f"lot released with >= {n} full dose{'' if n == 1 else 's'} (the plan)"


COST_NOTE = ("The two costs differ by failed lots: the cost per usable dose spreads the cost of every lot, failed ones "
             "included, over the doses actually released (what a program pays per dose it can give); the cost per dose "
             "of a released lot divides a successful lot's own cost by its doses.")


def _rows(s: dict) -> list[tuple[str, str, str]]:
    def q(key: str, unit: str = "") -> tuple[str, str]:
        v = s[key]
        return _fmt(v["median"], unit), f"{_fmt(v['q05'])} - {_fmt(v['q95'])}"

    def count(key) -> tuple[str, str]:
        """Whole numbers (patients, doses): the quantiles of counts rounded down, never '62.1 patients'."""
        v = s[key] if isinstance(key, str) else key
        f = lambda x: "-" if x is None else ("inf" if math.isinf(x) else f"{math.floor(x + 1e-9):d}")  # noqa: E731
        return f(v["median"]), f"{f(v['q05'])} - {f(v['q95'])}"

    def rate(v: dict) -> tuple[str, str]:
        return f"{100 * v['rate']:.1f}%", f"{100 * v['low']:.1f} - {100 * v['high']:.1f}% (95% CI)"

    rows = [
        ("fold expansion (NK, culture)", *q("fold_expansion")),
        ("yield: viable NK per lot", *q("yield_nk_cells")),
        ("harvest viability", *q("harvest_viability")),
        ("CAR+ fraction at release", *q("car_fraction")),
        ("post-thaw viable recovery", *q("post_thaw_viability")),
        ("potency (vs fresh)", *q("potency")),
        ("CD3+ per kg at planned dose", *q("cd3_per_kg")),
        ("full doses per lot (at the planned dose)", *count("doses_per_lot")),
        ("release pass rate", *rate(s["release_pass"])),
        (_planned(s['dose_plan']['planned_doses_per_lot']), *rate(s["meets_planned_dose_count"])),
        ("patients a lot can treat (full dose)", *count("patients_per_lot")),
        ("manufacturing cycle time (d)", *q("cycle_time_d")),
        ("vein-to-vein time (d)", *q("vein_to_vein_d")),
    ]
    for test, v in s["failure_by_test"].items():
        if v["rate"] > 0:
            rows.append((f"  fails {test}", *rate(v)))
    if s.get("cost"):
        c = s["cost"]
        rows.append((f"cost per usable dose ({c['currency']}; all lots incl. failed)", _fmt(c["per_released_dose"]),
                     "program cost: every lot's cost / doses released"))
        v = c["per_dose_in_released_lots"]
        rows.append((f"cost per dose of a released lot ({c['currency']})", _fmt(v["median"]),
                     f"{_fmt(v['q05'])} - {_fmt(v['q95'])} (failed lots not counted)"))
    else:
        rows.append(("cost per dose", "-", s.get("cost_note", "")))
    if "patients_per_bank" in s:
        v = s["patients_per_bank"]
        rows.append((f"patients per iPSC bank ({v['vials']} vials)", *count(v)))
    if "patients_per_cord_blood_unit" in s:
        v = s["patients_per_cord_blood_unit"]
        rows.append(("patients per cord-blood unit", *count(v)))
    if "cb_unit_optimal" in s:
        rows.append(("cord-blood units 'optimal' (nRBC, time)", *rate(s["cb_unit_optimal"])))
    return rows


def _print_table(s: dict, out_dir: Path) -> None:
    from rich.console import Console
    from rich.table import Table

    con = Console()
    t = Table(title=f"nksim manufacture {s['process']}: {s['n_lots']} lots (seed {s['seed']})")
    t.add_column("quantity")
    t.add_column("median / rate", justify="right")
    t.add_column("90% of lots (5th-95th pct)")
    for r in _rows(s):
        t.add_row(*r)
    con.print(t)
    if s.get("cost"):
        con.print(COST_NOTE)
    if "uncertainty" in s:
        u = s["uncertainty"]
        tu = Table(title=f"Parameter uncertainty: {u['replicates']} replicates over the registry ranges of "
                         f"{len(u['varied'])} parameters ({u['lots_per_replicate']} lots each)")
        tu.add_column("metric")
        tu.add_column("median replicate", justify="right")
        tu.add_column("5th-95th pct of replicates")
        for k, v in u["metrics"].items():
            tu.add_row(k.replace("_", " "), _fmt(v["median"]), f"{_fmt(v['q05'])} - {_fmt(v['q95'])}")
        con.print(tu)
    a = s.get("assumptions", [])
    n_ass = sum(r["status"] == "assumption" for r in a)
    ta = Table(title=f"NOT DATA: {n_ass} assumptions and {len(a) - n_ass} unverified/derived values used by this "
                     "process (sources in summary.json and parameters.yaml)")
    ta.add_column("registry name", no_wrap=True)
    ta.add_column("value", justify="right")
    ta.add_column("unit")
    ta.add_column("status")
    for row in a:
        ta.add_row(row["name"], _fmt(float(row["value"])), row["unit"], row["status"])
    con.print(ta)
    con.print(f"run folder: {out_dir}")


@app.callback(invoke_without_command=True, subcommand_metavar="",
              context_settings={"allow_interspersed_args": True})
def manufacture(
    scenario: Optional[str] = typer.Argument(None, help="built-in process name (see --list) or a YAML file"),
    lots: int = typer.Option(200, "--lots", "-n", help="number of lots to simulate"),
    seed: int = typer.Option(0, "--seed", help="random seed (lot k is the same lot whatever --lots)"),
    as_json: bool = typer.Option(False, "--json", help="print the JSON summary instead of the table"),
    out: Optional[Path] = typer.Option(None, "--out", help="run folder (default runs/manufacture-<name>-<seed>)"),
    list_processes: bool = typer.Option(False, "--list", help="list the built-in processes and exit"),
    plots: bool = typer.Option(True, "--plots/--no-plots", help="write PNG plots to the run folder"),
    uncertainty: int = typer.Option(0, "--uncertainty", help="also replicate R times over registry ranges "
                                    "(parameter uncertainty; 0 = off)"),
) -> None:
    """Simulate N lots of a manufacturing process: yield, doses per lot, release pass rate, cost, vein-to-vein."""
    from nksim.manufacturing.loader import builtin_processes, load_manufacturing_spec

    if list_processes:
        for name, desc in builtin_processes().items():
            typer.echo(f"{name}: {desc}")
        return
    if scenario is None:
        raise InputError("SCENARIO", None, "a built-in process name or a YAML file (see --list)")
    spec = load_manufacturing_spec(scenario)
    result = run_manufacture(spec, lots, seed, out, plots=plots, progress=not as_json, uncertainty=uncertainty)
    if as_json:
        typer.echo(json.dumps(result, indent=2, default=_json_default))
    else:
        _print_table(result, Path(result["run_folder"]))


def _json_default(x):
    if isinstance(x, float) and math.isinf(x):
        return "inf"
    try:
        import numpy as np

        if isinstance(x, np.generic):
            return x.item()
    except ImportError:  # pragma: no cover
        pass
    return str(x)


def run_manufacture(spec, n_lots: int, seed: int, out: Optional[Path] = None, *, plots: bool = True,
                    progress: bool = True, uncertainty: int = 0) -> dict:
    """Simulate, summarize and write the run folder (summary.json, lots.csv, ledger, spec, plots)."""
    import pandas as pd
    import yaml

    from nksim.manufacturing.ledger import totals
    from nksim.manufacturing.lot import simulate_lots
    from nksim.manufacturing.params import resolve_parameters
    from nksim.manufacturing.plots import plot_doses_per_lot, plot_growth_curves
    from nksim.manufacturing.summary import summarize_lots

    if isinstance(n_lots, bool) or n_lots < 1:
        raise InputError("--lots", n_lots, "a positive integer")
    if seed < 0:
        raise InputError("--seed", seed, "a non-negative integer")
    p = resolve_parameters(spec)
    name = spec.name or "process"
    from nksim.outdirs import default_out, prepare_out

    # a name-derived folder is a slug under runs/; an explicit --out must be (or become) a writable folder
    out_dir = prepare_out(Path(out) if out is not None else default_out("manufacture", name, seed))
    if progress and n_lots >= 50 and sys.stderr.isatty():
        from rich.progress import Progress

        with Progress(transient=True) as bar:
            task = bar.add_task(f"manufacturing {n_lots} lots", total=n_lots)
            lots = simulate_lots(spec, n_lots, seed, params=p, progress=lambda k: bar.advance(task, k))
    else:
        lots = simulate_lots(spec, n_lots, seed, params=p)
    summary = summarize_lots(lots, spec, p)
    summary["seed"] = seed
    if uncertainty:
        from nksim.manufacturing.uncertainty import uncertainty_replicates

        summary["uncertainty"] = uncertainty_replicates(spec, n_lots, seed, uncertainty)
    summary["run_folder"] = str(out_dir)
    (out_dir / "summary.json").write_text(json.dumps(summary, indent=2, default=_json_default), encoding="utf-8")
    pd.DataFrame([lot.summary() for lot in lots]).to_csv(out_dir / "lots.csv", index=False)
    (out_dir / "ledger_lot0.json").write_text(json.dumps(
        {"lot_id": lots[0].lot_id, "rows": [r.as_dict() for r in lots[0].ledger],
         "losses_by_cause": totals(lots[0].ledger)}, indent=2), encoding="utf-8")
    (out_dir / "process.yaml").write_text(yaml.safe_dump(spec.model_dump(mode="json"), sort_keys=False), encoding="utf-8")
    if plots:
        plot_growth_curves(lots, out_dir / "growth_curves.png")
        plot_doses_per_lot(lots, out_dir / "doses_per_lot.png")
    return summary
