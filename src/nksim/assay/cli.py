"""`nksim assay ...`: simulated in vitro release assays (mounted by the main CLI as `nksim assay`).

    nksim assay lysis SCENARIO --et 1,2.5,5,10,20 [--antigen-fraction 1] [--tgfb 0] [--hypoxia 0] [--json] [--out f.png]
    nksim assay fit --et 1,5,10,20 --lysis 8,25,38,50 [--parameter k_nat] [--also-fit k_r] [--scenario S] [--json]
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Optional

import typer

from nksim.errors import InputError

app = typer.Typer(help="In vitro release assays (E:T titration) with the model's killing law.", no_args_is_help=True)


def _floats(text: str, field: str) -> list[float]:
    try:
        vals = [float(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise InputError(field, text, "comma-separated numbers, e.g. 1,2.5,5,10,20") from None
    if not vals:
        raise InputError(field, text, "comma-separated numbers, e.g. 1,2.5,5,10,20")
    return vals


def _params(items: list[str] | None) -> dict[str, float]:
    out = {}
    for item in items or []:
        name, sep, value = item.partition("=")
        try:
            out[name.strip()] = float(value)
        except ValueError:
            raise InputError("--param", item, "NAME=NUMBER (a registry parameter)") from None
        if not sep:
            raise InputError("--param", item, "NAME=NUMBER (a registry parameter)")
    return out


@app.command("lysis")
def lysis(
    scenario: str = typer.Argument(..., help="built-in scenario name or YAML path (its product is the effector)"),
    et: str = typer.Option("1,2.5,5,10,20", "--et", help="E:T ratios, comma-separated"),
    antigen_fraction: Optional[float] = typer.Option(None, "--antigen-fraction",
                                                     help="share of targets carrying each study antigen (default: "
                                                          "the tumor's typical share; 0 = antigen-negative line)"),
    tgfb: float = typer.Option(0.0, "--tgfb", help="TGF-beta in the well (ng/mL)"),
    hypoxia: float = typer.Option(0.0, "--hypoxia", help="hypoxic share 0..1"),
    hours: Optional[float] = typer.Option(None, "--hours", help="assay duration (default registry assay_hours)"),
    percent: Optional[float] = typer.Option(None, "--percent", help="lysis level of a lytic unit (default 20)"),
    param: Optional[list[str]] = typer.Option(None, "--param", help="registry override NAME=VALUE (repeatable)"),
    as_json: bool = typer.Option(False, "--json", help="print JSON"),
    out: Optional[Path] = typer.Option(None, "--out", help="write a PNG of the curve"),
    compare: bool = typer.Option(False, "--compare", help="with --out: add antigen-negative, TGF-beta 10 ng/mL and "
                                                          "hypoxic-well curves to the figure"),
) -> None:
    """% specific lysis per E:T ratio and lytic units for a scenario's product against its tumor's target."""
    from nksim.assay.lytic import lytic_units
    from nksim.assay.model import Target
    from nksim.assay.release import release_assay
    from nksim.registry import load_registry
    from nksim.spec.io import load_scenario

    if out is not None:
        from nksim.outdirs import prepare_file

        prepare_file(out)
    sc = load_scenario(scenario)
    pp = _params(param)
    base = Target.from_scenario(sc, antigen_fraction, pp)
    try:
        target = base.model_copy(update={"tgfb_ng_ml": tgfb, "hypoxia": hypoxia})
        target = Target.model_validate(target.model_dump())
    except Exception as exc:  # pydantic ValidationError -> one-line InputError
        raise InputError("--tgfb/--hypoxia", (tgfb, hypoxia), "TGF-beta >= 0 ng/mL and hypoxia in [0, 1]") from exc
    curve = release_assay(sc, target, _floats(et, "--et"), hours, params=pp)
    pct = load_registry()["assay_lu_percent"].default if percent is None else percent
    lu = lytic_units(curve, pct)
    if as_json:
        typer.echo(json.dumps({"scenario": sc.name, "hours": curve.attrs["hours"],
                               "targets_per_well": curve.attrs["targets_per_well"], "target": target.model_dump(),
                               "lu_percent": pct, "lu_per_1e7": None if math.isnan(lu) else lu,
                               "curve": curve.to_dict(orient="records")}, indent=2))
    else:
        typer.echo(f"{sc.name}: {curve.attrs['hours']:g} h release assay, {curve.attrs['targets_per_well']:g} "
                   f"targets/well, antigens {target.antigens or '-'}, TGF-beta {tgfb:g} ng/mL, hypoxia {hypoxia:g}")
        typer.echo(f"{'E:T':>7} {'% lysis':>8} {'killed':>7} {'CAR kills':>9} {'kills/E':>8}")
        for r in curve.itertuples():
            typer.echo(f"{r.et_ratio:7.3g} {r.pct_specific_lysis:8.2f} {100 * r.fraction_killed:6.2f}% "
                       f"{100 * r.fraction_killed_car:8.2f}% {r.kills_per_effector:8.3f}")
        if math.isnan(lu):
            bound = 1e7 / (curve["et_ratio"].max() * curve.attrs["targets_per_well"])
            typer.echo(f"LU{pct:g} per 1e7 effectors: < {bound:.3g} ({pct:g}% lysis not reached)")
        else:
            typer.echo(f"LU{pct:g} per 1e7 effectors: {lu:.4g}")
    if out is not None:
        from nksim.assay.plots import lysis_figure

        curves = {f"{sc.name}": curve}
        if compare:
            ets = _floats(et, "--et")
            variants = {"antigen-negative target": base.model_copy(update={"antigens": {a: 0.0 for a in base.antigens}}),
                        "TGF-beta 10 ng/mL": base.model_copy(update={"tgfb_ng_ml": 10.0}),
                        "hypoxic well": base.model_copy(update={"hypoxia": 1.0})}
            for label, tg in variants.items():
                curves[label] = release_assay(sc, tg, ets, hours, params=pp)
        fig = lysis_figure(curves, pct, title=f"{sc.name} vs {target.name}")
        fig.savefig(out, dpi=110)
        if not as_json:
            typer.echo(f"wrote {out}")


@app.command("fit")
def fit(
    et: str = typer.Option(..., "--et", help="E:T ratios, comma-separated"),
    lysis_pct: str = typer.Option(..., "--lysis", help="measured % specific lysis, one per E:T"),
    parameter: str = typer.Option("k_nat", "--parameter", help="k_nat, k_car, k_adcc, kappa or k_r"),
    also_fit: Optional[list[str]] = typer.Option(None, "--also-fit", help="fit jointly (repeatable), e.g. k_r"),
    scenario: Optional[str] = typer.Option(None, "--scenario", help="effector/target from a scenario (default: plain "
                                                                    "NK vs a plain target)"),
    antigen_fraction: Optional[float] = typer.Option(None, "--antigen-fraction", help="with --scenario: antigen share"),
    hours: Optional[float] = typer.Option(None, "--hours", help="assay duration (default registry assay_hours)"),
    param: Optional[list[str]] = typer.Option(None, "--param", help="registry override NAME=VALUE (repeatable)"),
    as_json: bool = typer.Option(False, "--json", help="print JSON"),
    out: Optional[Path] = typer.Option(None, "--out", help="write a PNG of data and fitted curve"),
) -> None:
    """Read a killing parameter (per day, the kinetic model's unit) from measured % lysis with a 95% interval."""
    from nksim.assay.fit import fit_kill_rate
    from nksim.assay.model import Effector, Target
    from nksim.assay.release import release_assay

    if out is not None:
        from nksim.outdirs import prepare_file

        prepare_file(out)
    pp = _params(param)
    eff, tgt = Effector(), Target()
    if scenario is not None:
        from nksim.spec.io import load_scenario

        sc = load_scenario(scenario)
        eff, tgt = Effector.from_scenario(sc), Target.from_scenario(sc, antigen_fraction, pp)
    x, y = _floats(et, "--et"), _floats(lysis_pct, "--lysis")
    res = fit_kill_rate(x, y, eff, tgt, parameter, hours, params=pp, also_fit=tuple(also_fit or ()))
    if as_json:
        typer.echo(json.dumps(res.as_dict(), indent=2))
    else:
        for r in (res, *res.others):
            typer.echo(f"{r.parameter} = {r.estimate:.4g} {r.unit} (95% CI {r.ci_low:.4g} - {r.ci_high:.4g})")
        typer.echo(f"residual RMS {res.rmse_pct:.3g} % lysis over {res.n} points")
    if out is not None:
        from nksim.assay.plots import lysis_figure

        fitted = {**pp, res.parameter: res.estimate, **{o.parameter: o.estimate for o in res.others}}
        grid = sorted(set(x) | {v * f for v in x for f in (0.7, 1.4)})
        curve = release_assay(eff, tgt, grid, hours, params=fitted)
        fig = lysis_figure({"fit": curve}, measured=(x, y), title=f"fit of {parameter}")
        fig.savefig(out, dpi=110)
