"""The Panel application and its Bokeh server (``nksim app``)."""

from __future__ import annotations

import importlib
import sys
import threading
from pathlib import Path

import panel as pn

from nksim.app.session import new_session

#: (tab title, module in nksim.app.pages); each module has ``page(session)``
PAGES = (
    ("Scenario designer", "designer"),
    ("Virtual cohort", "cohort"),
    ("Trial designer", "trial"),
    ("Next-dose advisor", "advisor"),
    ("Manufacturing", "manufacturing"),
    ("Spatial view", "spatial"),
)
#: largest websocket message the server accepts (bounds every upload; the pages check their own, smaller limit)
MAX_MESSAGE_BYTES = 4_000_000

CSS = """
.nk-header h1 { margin: 0.2em 0; }
"""


def create_app(runs_root: Path) -> pn.layout.Panel:
    """One browser session's app: a header and one tab per page (built when first opened)."""
    from nksim.version import __version__

    session = new_session(runs_root)
    header = pn.pane.Markdown(
        f"# nksim {__version__}: NK and CAR-NK cell therapy in silico\n"
        f"Design a therapy, run a virtual cohort or trial, read the results. Runs are written under "
        f"`{runs_root}`. Models and numbers: see the docs; every result is a simulation, not a prediction for a "
        "patient.", css_classes=["nk-header"], sizing_mode="stretch_width")
    tabs = pn.Tabs(dynamic=True, sizing_mode="stretch_width", css_classes=["nk-pages"])
    for title, module in PAGES:
        build = lambda m=module: importlib.import_module(f"nksim.app.pages.{m}").page(session)  # noqa: E731
        tabs.append((title, pn.param.ParamFunction(build, lazy=True, sizing_mode="stretch_width")))
    return pn.Column(header, tabs, sizing_mode="stretch_width", styles={"padding": "0 16px"})


def warm_up(scenario: str = "hcc-gpc3-car-nk-il15") -> None:
    """Load what a first cohort run needs (the engine, its compiled kernel for the first scenario, the report's
    plotting) while the first page is read: in a daemon thread at server start; errors are ignored (the run
    itself reports them)."""
    try:
        import nksim.report.clinical_plots  # noqa: F401
        import nksim.runner  # noqa: F401
        from nksim.engine import simulate

        simulate(scenario, n_patients=2, seed=0, outputs="summary")
    except Exception:  # noqa: BLE001 - only a head start
        pass


def serve(host: str = "127.0.0.1", port: int = 5006, runs_root: Path = Path("runs/app"),
          announce=print) -> None:
    """Serve the app until interrupted; prints the URL, opens no browser."""
    pn.extension(raw_css=[CSS], notifications=False)
    runs_root = Path(runs_root)
    origins = ["*"] if host not in ("127.0.0.1", "localhost") else [f"127.0.0.1:{port}", f"localhost:{port}"]
    server = pn.serve({"/": lambda: create_app(runs_root)}, address=host, port=port, show=False, start=False,
                      title="nksim", websocket_origin=origins, websocket_max_message_size=MAX_MESSAGE_BYTES,
                      num_procs=1, print=False)
    shown = "127.0.0.1" if host in ("0.0.0.0", "::") else host
    announce(f"nksim app: http://{shown}:{server.port}/  (runs in {runs_root}/; Ctrl-C stops)")
    sys.stdout.flush()
    server.start()
    threading.Thread(target=warm_up, daemon=True, name="nksim-app-warm-up").start()
    try:
        server.io_loop.start()
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()
