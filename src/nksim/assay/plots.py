"""Figure of a simulated (and optionally measured) E:T titration."""

from __future__ import annotations

import math
from typing import Sequence

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402

from nksim.assay.lytic import et_at_lysis  # noqa: E402


def lysis_figure(curves: dict[str, pd.DataFrame], percent: float = 20.0,
                 measured: tuple[Sequence[float], Sequence[float]] | None = None, title: str = "") -> plt.Figure:
    """% specific lysis against E:T (log axis), one line per curve, the LU threshold and the E:T reaching it."""
    fig, ax = plt.subplots(figsize=(5.4, 3.6))
    for i, (label, c) in enumerate(curves.items()):
        c = c[c["et_ratio"] > 0]
        ax.plot(c["et_ratio"], c["pct_specific_lysis"], marker="osd^v"[i % 5], ls=("-", "--", ":", "-.")[i % 4],
                ms=6 - i % 3, color=f"C{i}", label=label)
        ex = et_at_lysis(c["et_ratio"].to_numpy(), c["pct_specific_lysis"].to_numpy(), percent)
        if not math.isnan(ex):
            ax.plot([ex], [percent], "x", color=f"C{i}", ms=8)
    if measured is not None:
        ax.plot(measured[0], measured[1], "ks", mfc="none", label="measured")
    ax.axhline(percent, color="0.5", ls="--", lw=1, label=f"{percent:g}% (lytic unit)")
    ax.set_xscale("log")
    ax.set_ylim(0, 100)
    ax.set_xlabel("effector : target ratio")
    ax.set_ylabel("% specific lysis")
    ax.set_title(title or "release assay", fontsize=10)
    ax.legend(fontsize=7, loc="upper left")
    fig.tight_layout()
    return fig
