# TEAM RULES: read /work/main/CONTRIBUTING.md first (commit only your own paths; deadline 21:45 UTC; venv /work/main/.venv).
"""`nksim trial ...` commands (filled in by the trial module)."""

import typer

app = typer.Typer(help="Virtual phase I trials, dose-escalation designs and the dose-decision advisor.", no_args_is_help=True)
