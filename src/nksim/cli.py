"""Command-line interface (typer). Sub-command groups come from the layer packages."""

from __future__ import annotations

import sys

import typer

from nksim.errors import NksimError
from nksim.manufacturing.cli import app as manufacture_app
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


def main() -> None:
    """Entry point: user errors print one line, never a traceback."""
    try:
        app()
    except NksimError as exc:
        typer.secho(f"error: {exc}", fg=typer.colors.RED, err=True)
        sys.exit(2)


if __name__ == "__main__":
    main()
