# TEAM RULES: read /work/main/CONTRIBUTING.md first (commit only your own paths; deadline 21:45 UTC; venv /work/main/.venv).
"""`nksim abm ...` commands (filled in by the spatial module)."""

import typer

app = typer.Typer(help="Spatial agent-based model of NK cells in the tumor microenvironment.", no_args_is_help=True)
