"""`nksim app`: serve the interactive app (imported only when the command runs)."""

from __future__ import annotations

from pathlib import Path

import typer

from nksim.errors import InputError

LOCAL = ("127.0.0.1", "localhost", "::1")


def app_command(
    host: str = typer.Option("127.0.0.1", "--host", help="address to listen on (default: this computer only); "
                             "e.g. 0.0.0.0 serves to the network, with no login"),
    port: int = typer.Option(5006, "--port", "-p", help="port (0: any free port)"),
    runs: Path = typer.Option(Path("runs/app"), "--runs", help="folder the app writes its runs into"),
) -> None:
    """Interactive app in the browser: scenario designer, virtual cohort, trial designer, next-dose advisor,
    manufacturing and spatial view. Serves on http://127.0.0.1:5006 (this computer only) and opens nothing."""
    if not 0 <= port <= 65535:
        raise InputError("--port", port, "a port number in 0..65535")
    if host not in LOCAL:
        typer.secho(f"warning: serving on {host}, not only this computer: there is no login, anyone who can reach "
                    f"port {port} can use the app and fill {runs}/ with runs", fg=typer.colors.YELLOW, err=True)
    from nksim.outdirs import prepare_out

    prepare_out(runs, "--runs")
    from nksim.app.server import serve

    serve(host=host, port=port, runs_root=runs, announce=typer.echo)
