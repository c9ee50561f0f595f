"""Matplotlib figures (drawn by ``nksim.plots`` and the report) as PNG panes.

pyplot keeps global state, so figures are drawn one at a time (``PLOT_LOCK``) in whichever thread draws them;
each figure is closed as soon as it is a PNG.
"""

from __future__ import annotations

import io
import threading
from typing import Callable

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import panel as pn  # noqa: E402

PLOT_LOCK = threading.Lock()
DPI = 110


def png_bytes(draw: Callable[[], "plt.Figure | None"]) -> bytes | None:
    """``draw()`` as PNG bytes (None when it drew nothing)."""
    with PLOT_LOCK:
        fig = draw()
        if fig is None:
            return None
        buf = io.BytesIO()
        try:
            fig.savefig(buf, format="png", dpi=DPI, bbox_inches="tight")
        finally:
            plt.close(fig)
    return buf.getvalue()


def png_pane(data: bytes, title: str, css: str = "nk-figure") -> pn.layout.Panel:
    """A titled PNG that fills its column's width (never wider than drawn)."""
    return pn.Column(pn.pane.Markdown(f"**{title}**", margin=(0, 5)),
                     pn.pane.PNG(data, sizing_mode="scale_width", max_width=1100, css_classes=[css]),
                     sizing_mode="stretch_width")


def file_pane(path, title: str, css: str = "nk-figure") -> pn.layout.Panel:
    """A PNG or GIF file the app wrote (its own run folder) as a pane."""
    from pathlib import Path

    p = Path(path)
    kind = pn.pane.GIF if p.suffix == ".gif" else pn.pane.PNG
    return pn.Column(pn.pane.Markdown(f"**{title}**", margin=(0, 5)),
                     kind(p.read_bytes(), sizing_mode="scale_width", max_width=1100, css_classes=[css]),
                     sizing_mode="stretch_width")
