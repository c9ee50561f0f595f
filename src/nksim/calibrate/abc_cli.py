"""``nksim calibration --abc`` and ``--cross-validate``: printing for the command line (the work is in ``abc`` and
``crossval``)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Sequence

import pandas as pd
import typer

from nksim.errors import InputError


def parse_free(specs: Sequence[str]) -> dict[str, tuple[float, float] | None]:
    """``NAME`` (registry range and prior) or ``NAME=LOW:HIGH``."""
    out: dict[str, tuple[float, float] | None] = {}
    for s in specs:
        name, _, rng = s.partition("=")
        if not rng:
            out[name] = None
            continue
        lo, sep, hi = rng.partition(":")
        try:
            out[name] = (float(lo), float(hi))
        except ValueError:
            raise InputError("--free", s, "NAME or NAME=LOW:HIGH (numbers)") from None
        if not sep:
            raise InputError("--free", s, "NAME or NAME=LOW:HIGH")
    return out


def _fmt(df: pd.DataFrame) -> str:
    return df.to_string(index=False, float_format=lambda v: f"{v:.4g}")


def run_abc(targets: Sequence[str], free: Sequence[str], cohort: int, population: int, generations: int,
            seed: int, out: Path | None, as_json: bool, check: Sequence[str] = (), draws: int = 20) -> None:
    from nksim.calibrate.abc import to_targets

    if not targets:
        raise InputError("--target", [], "one or more target keys (nksim.calibrate.abc.TARGET_KEYS)")
    if not free:
        raise InputError("--free", [], "one or more registry parameter names (NAME or NAME=LOW:HIGH)")
    res = to_targets(list(targets), parse_free(free), n_patients=cohort, population=population,
                     generations=generations, seed=seed, check=list(check), out=out, predictive_draws=draws,
                     progress=None if as_json else (lambda m: typer.echo(m, err=True)))
    if as_json:
        typer.echo(json.dumps({"history": res.history.to_dict(orient="records"),
                               "marginals": res.marginals().to_dict(orient="records"),
                               "correlations": res.correlations().to_dict(),
                               "fit": res.fit().to_dict(orient="records")}, indent=2, default=float))
        return
    typer.echo(f"ABC-SMC: {population} particles, {len(res.history)} generations, {cohort} patients per cohort "
               f"(common random numbers, seed {seed}); fitted: {', '.join(o.name for o in res.observed)}"
               + (f"; checked only: {', '.join(check)}" if check else ""))
    typer.echo(res.report())
    if out is not None:
        typer.echo(f"run folder: {out} (calibration.yaml, particles.csv, populations.csv, history.csv, fit.csv)")


def run_cross_validate(free: Sequence[str], cohort: int, population: int, generations: int, draws: int, seed: int,
                       as_json: bool) -> None:
    from nksim.calibrate.crossval import DEFAULT_CHECK_ONLY, DEFAULT_FAMILIES, DEFAULT_FREE, cross_validate

    fp = parse_free(free) if free else DEFAULT_FREE
    df = cross_validate(free_params=fp, n_patients=cohort, population=population, generations=generations,
                        predictive_draws=draws, seed=seed,
                        progress=None if as_json else (lambda m: typer.echo(m, err=True)))
    if as_json:
        typer.echo(df.to_json(orient="records", indent=2))
        return
    fams = "; ".join(f"{k}: {', '.join(v)}" for k, v in DEFAULT_FAMILIES.items())
    typer.echo(f"cross-validation over target families ({fams}); checked only, never fitted: "
               f"{', '.join(DEFAULT_CHECK_ONLY)}")
    typer.echo(f"free: {', '.join(fp)}; ABC-SMC {population} particles x {generations} generations, {cohort} "
               f"patients per cohort, {draws} predictive cohorts per fold (seed {seed})")
    for fam, rows in df.groupby("held_out", sort=False):
        held = rows.loc[rows["role"] == "held out", "target"].tolist()
        only = rows.loc[rows["role"] == "checked only", "target"].tolist()
        typer.echo(f"  fold '{fam}': fitted {rows['fitted_on'].iloc[0]}; checked (held out) {', '.join(held)}"
                   + (f"; checked only {', '.join(only)}" if only else "")
                   + f" ({rows['seconds'].max():.0f} s)")
    cols = ["held_out", "target", "role", "low", "high", "pred_median", "pred_low", "pred_high",
            "pi_overlaps_target", "share_met", "distance", "scenario_value", "scenario_distance", "fitted_met_share"]
    typer.echo(_fmt(df[cols]))
    typer.echo("distance: |predictive median - centre| in half-widths of the target range (<= 1: inside); "
               "scenario_*: the scenario's own values, no fit; fitted_met_share: mean share of predictive cohorts "
               "meeting the fold's fitted targets")
