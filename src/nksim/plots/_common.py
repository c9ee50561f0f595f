"""Shared pieces of the plotting module: response colors, figure creation, seeded samples, number formatting."""

from __future__ import annotations

import math
from typing import Sequence

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.patches import Patch  # noqa: E402

from nksim.errors import InputError  # noqa: E402

RESPONSE_ORDER = ("CR", "PR", "SD", "PD", "NE")
RESPONSE_COLORS = {"CR": "#1a7f37", "PR": "#5cb85c", "SD": "#f0ad4e", "PD": "#d9534f", "NE": "#9e9e9e"}
RESPONSE_LABELS = {"CR": "complete response", "PR": "partial response", "SD": "stable disease",
                   "PD": "progressive disease", "NE": "not evaluable"}
OTHER_COLOR = "#4a6fa5"


def new_axes(ax: plt.Axes | None, size: tuple[float, float]) -> tuple[plt.Figure, plt.Axes]:
    """(figure, axes): the given axes' figure, or a new constrained-layout figure of ``size`` inches."""
    if ax is not None:
        return ax.figure, ax
    fig, ax = plt.subplots(figsize=size, layout="constrained")
    return fig, ax


def response_codes(values: Sequence | None, n: int) -> np.ndarray:
    """Best-response codes as strings; anything not CR/PR/SD/PD (missing included) is NE. None: all NE."""
    if values is None:
        return np.full(n, "NE", dtype=object)
    arr = np.asarray(values, dtype=object)
    if arr.shape != (n,):
        raise InputError("response", f"{arr.shape[0] if arr.ndim else 0} values", f"{n} values (one per patient)")
    return np.array([v if v in RESPONSE_COLORS else "NE" for v in arr], dtype=object)


def colors_for(codes: np.ndarray) -> list[str]:
    return [RESPONSE_COLORS[c] for c in codes]


def response_legend(ax: plt.Axes, present: set[str], loc: str = "best", extra: list | None = None,
                    outside: bool = False, title: str = "best response") -> None:
    handles = [Patch(color=RESPONSE_COLORS[r], label=f"{r} ({RESPONSE_LABELS[r]})") for r in RESPONSE_ORDER
               if r in present]
    handles += extra or []
    if handles:
        kw = {"loc": "upper left", "bbox_to_anchor": (1.01, 1.0)} if outside else {"loc": loc}
        ax.legend(handles=handles, fontsize=8, title=title, title_fontsize=8, framealpha=0.9, **kw)


def sample_rows(n: int, k: int, seed: int, strata: np.ndarray | None = None) -> np.ndarray:
    """Sorted indices of a seeded random sample of ``k`` of ``n`` rows (all when k >= n); with ``strata``,
    proportional to each stratum's size (every non-empty stratum keeps at least one row)."""
    if k >= n:
        return np.arange(n)
    rng = np.random.default_rng(seed)
    if strata is None:
        return np.sort(rng.choice(n, size=k, replace=False))
    picked = []
    for s in dict.fromkeys(strata.tolist()):
        idx = np.flatnonzero(strata == s)
        m = max(1, int(round(k * idx.size / n)))
        picked.append(rng.choice(idx, size=min(m, idx.size), replace=False))
    return np.sort(np.concatenate(picked))


def empty(ax: plt.Axes, text: str) -> None:
    ax.text(0.5, 0.5, text, ha="center", va="center", transform=ax.transAxes, color="0.4")


def fmt(x: float | None, unit: str = "") -> str:
    """A number to 3 significant digits; '-' when missing, 'not reached' when infinite."""
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "-"
    if math.isinf(x):
        return "not reached"
    return f"{x:.3g}{unit}"


def sci(x: float) -> str:
    """A dose-like number the way clinicians write it: 1e6, 2.5e7, 300 (no '1000000.0', no '1e+06')."""
    x = float(x)
    if x == 0 or not math.isfinite(x):
        return f"{x:g}"
    if 1e-3 <= abs(x) < 1e4:
        return f"{x:g}"
    e = int(math.floor(math.log10(abs(x))))
    m = x / 10 ** e
    if abs(m - round(m)) < 1e-9:
        m = round(m)
    return f"{m:g}e{e}"


def as_float_array(values, name: str, ndim: int | None = None) -> np.ndarray:
    try:
        arr = np.asarray(values, dtype=float)
    except (TypeError, ValueError):
        raise InputError(name, type(values).__name__, "numbers (a list, array or Series)") from None
    if ndim is not None and arr.ndim != ndim:
        raise InputError(name, f"an array of shape {arr.shape}", f"a {ndim}-dimensional array")
    return arr


def need_columns(data, cols: Sequence[str], what: str) -> None:
    import pandas as pd

    if not isinstance(data, pd.DataFrame):
        raise InputError("data", type(data).__name__, f"a pandas DataFrame with columns {list(cols)} ({what})")
    missing = [c for c in cols if c not in data.columns]
    if missing:
        raise InputError("data.columns", missing, f"columns {list(cols)} ({what}); pass the column names as "
                                                  "keywords when yours differ")
