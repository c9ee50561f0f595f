"""`nksim manufacture ...` command (filled in by the manufacturing module)."""

import typer

app = typer.Typer(help="Manufacturing and product supply: lots, release testing, doses, cost.", no_args_is_help=True)
