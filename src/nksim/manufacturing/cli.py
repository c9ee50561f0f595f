# TEAM RULES: read /work/main/CONTRIBUTING.md first (commit only your own paths; deadline 21:45 UTC; venv /work/main/.venv).
"""`nksim manufacture ...` command (filled in by the manufacturing module)."""

import typer

app = typer.Typer(help="Manufacturing and product supply: lots, release testing, doses, cost.", no_args_is_help=True)
