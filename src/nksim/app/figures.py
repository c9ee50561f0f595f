"""Matplotlib figures (drawn by ``nksim.plots`` and the report) as PNG panes.

pyplot keeps global state, so figures are drawn one at a time (``PLOT_LOCK``) in whichever thread draws them;
each figure is closed as soon as it is a PNG.
"""

from __future__ import annotations

import base64
import html
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


def image_pane(data: bytes, title: str, kind: str = "png", css: str = "nk-figure",
               max_width_px: int | None = None) -> pn.layout.Panel:
    """A titled image as wide as its column, or at most ``max_width_px`` (the browser scales it, keeping its aspect
    ratio)."""
    src = f"data:image/{kind};base64," + base64.b64encode(data).decode("ascii")
    cap = f"max-width:{max_width_px}px;" if max_width_px else ""
    return pn.Column(pn.pane.Markdown(f"**{html.escape(title)}**", margin=(0, 5)),
                     pn.pane.HTML(f'<img src="{src}" alt="{html.escape(title)}" style="width:100%;{cap}height:auto">',
                                  sizing_mode="stretch_width", css_classes=[css]),
                     sizing_mode="stretch_width")


def png_pane(data: bytes, title: str, css: str = "nk-figure", max_width_px: int | None = None) -> pn.layout.Panel:
    """A titled PNG (bytes) as wide as its column (or ``max_width_px``)."""
    return image_pane(data, title, "png", css, max_width_px)


def file_pane(path, title: str, css: str = "nk-figure") -> pn.layout.Panel:
    """A PNG or GIF file the app wrote (in its own run folder) as wide as its column."""
    from pathlib import Path

    p = Path(path)
    return image_pane(p.read_bytes(), title, "gif" if p.suffix == ".gif" else "png", css)


def figure_grid(panes: list[pn.layout.Panel], wide: set[int] = frozenset()) -> list[pn.layout.Panel]:
    """Figures two per row; those whose index is in ``wide`` (multi-panel figures) get a row of their own."""
    rows, pair = [], []
    for i, pane in enumerate(panes):
        if i in wide:
            rows.append(pane)
            continue
        pair.append(pane)
        if len(pair) == 2:
            rows.append(pn.Row(*pair, sizing_mode="stretch_width"))
            pair = []
    if pair:
        rows.append(pn.Row(*pair, pn.Spacer(sizing_mode="stretch_width"), sizing_mode="stretch_width"))
    return rows
