"""PNG plots of a manufacturing run (matplotlib, Agg backend): growth curves and doses per lot."""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np

from nksim.manufacturing.lot import Lot


def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def plot_growth_curves(lots: Sequence[Lot], path: Path, max_curves: int = 40) -> Path:
    """Viable NK in culture by day for up to ``max_curves`` lots (log scale)."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(6.5, 4.2))
    shown = [lot for lot in lots[:max_curves] if len(lot.curve_days) > 1]
    for lot in shown:
        ax.plot(lot.curve_days, lot.curve_nk, color="tab:blue" if lot.released else "tab:red", alpha=0.35, lw=1)
    if shown:
        ax.set_yscale("log")
        ax.set_title(f"NK growth in culture ({len(shown)} lots; red = failed release)")
    else:
        ax.set_title("no expansion step in this process")
    ax.set_xlabel("day in culture")
    ax.set_ylabel("viable NK cells")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def plot_doses_per_lot(lots: Sequence[Lot], path: Path) -> Path:
    """Histogram of full doses per lot, released vs failed, with the planned dose count."""
    plt = _plt()
    d = np.array([lot.doses for lot in lots], dtype=float)
    rel = np.array([lot.released for lot in lots])
    fig, ax = plt.subplots(figsize=(6.5, 4.2))
    hi = max(float(np.quantile(d, 0.99)), 1.0)
    bins = np.linspace(0, hi * 1.05 + 1, 40)
    ax.hist([np.minimum(d[rel], bins[-1]), np.minimum(d[~rel], bins[-1])], bins=bins, stacked=True,
            color=["tab:blue", "tab:red"], label=["released", "failed release"])
    ax.axvline(lots[0].plan.planned_doses_per_lot, color="k", ls="--", label="planned doses per lot")
    ax.set_xlabel("full planned doses per lot (counting weight)")
    ax.set_ylabel("lots")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
