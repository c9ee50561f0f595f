"""Sub-commands imported only when they run (or their own ``--help`` is asked for): ``nksim --help`` and every
command stay fast, whatever the other layers import (numba, scipy, xarray, ...).

Each lazy entry names ``module:attribute`` (a ``typer.Typer`` group or a command function) and the one-line help
shown in ``nksim --help``; tests/test_cli_structure.py checks that line against the command's own docstring/help.
"""

from __future__ import annotations

import importlib
from typing import Any

import typer
from typer.core import TyperCommand, TyperGroup

LAZY: dict[str, tuple[str, str]] = {
    "trial": ("nksim.trial.cli:app", "Virtual phase I trials, dose-escalation designs and the dose-decision advisor."),
    "abm": ("nksim.spatial.cli:app", "Spatial agent-based model of NK cells in the tumor microenvironment."),
    "manufacture": ("nksim.manufacturing.cli:app", "Manufacturing and product supply: lots, release testing, doses, "
                    "cost."),
    "assay": ("nksim.assay.cli:app", "In vitro release assays (E:T titration) with the model's killing law."),
    "export": ("nksim.export_cli:app", "Export simulated cohorts and the model in other tools' formats."),
    "sensitivity": ("nksim.sensitivity.cli:sensitivity", "Global sensitivity analysis: indices table (CSV), provenance "
                    "(JSON), tornado and index plots."),
    "app": ("nksim.app.cli:app_command", "Interactive app in the browser: scenario designer, virtual cohort, trial "
            "designer, next-dose advisor, manufacturing and spatial view."),
    "fit": ("nksim.calibrate.fit_cli:fit_command", "Fit parameters to data by maximum likelihood; write calibration.yaml, "
            "estimates.csv, predictions.csv and goodness-of-fit plots."),
}


def load_target(spec: str) -> Any:
    """``"pkg.module:attr"`` -> the object (imports the module)."""
    module, attr = spec.split(":")
    return getattr(importlib.import_module(module), attr)


def to_click(name: str, target: Any) -> Any:
    """A typer group or a plain command function as the click command ``name``."""
    if isinstance(target, typer.Typer):
        cmd = typer.main.get_command(target)
    else:
        single = typer.Typer()
        single.command(name)(target)
        cmd = typer.main.get_command(single)
    cmd.name = name
    return cmd


class LazyGroup(TyperGroup):
    """The top-level group: eager commands as typer registers them, the ``LAZY`` ones imported on first use."""

    _listing = False  # True while the group's own help is formatted: lazy commands show their stored line

    def list_commands(self, ctx: Any) -> list[str]:
        return sorted(set(super().list_commands(ctx)) | set(LAZY))

    def get_command(self, ctx: Any, cmd_name: str) -> Any:
        if cmd_name not in LAZY:
            return super().get_command(ctx, cmd_name)
        if self._listing:
            return TyperCommand(cmd_name, help=LAZY[cmd_name][1], short_help=LAZY[cmd_name][1])
        return to_click(cmd_name, load_target(LAZY[cmd_name][0]))

    def format_help(self, ctx: Any, formatter: Any) -> None:
        self._listing = True
        try:
            super().format_help(ctx, formatter)
        finally:
            self._listing = False
