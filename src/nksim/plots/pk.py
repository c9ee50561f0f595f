"""Cell kinetics (PK of a cell product) over time with a detection limit: what is below it is not drawn as if
measured. Individual curves (one LineCollection, a stated sample for large cohorts), median and 10-90% band."""

from __future__ import annotations

import warnings
from typing import Sequence

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.collections import LineCollection
from matplotlib.lines import Line2D
from matplotlib.ticker import LogLocator, NullFormatter, ScalarFormatter

from nksim.errors import InputError
from nksim.plots._common import as_float_array, need_columns, new_axes, sample_rows

BLQ_MODES = ("mask", "half", "show")
PK_MAX_LINES = 40


def _lloq_matrix(lloq, shape: tuple[int, int]) -> np.ndarray | None:
    """The limit as a (patient, time) matrix from a number, one value per time, per patient, or a matrix."""
    if lloq is None:
        return None
    arr = as_float_array(lloq, "lloq")
    if arr.ndim == 1 and arr.size == shape[0] and arr.size != shape[1]:
        arr = arr[:, None]
    try:
        return np.broadcast_to(arr, shape)
    except ValueError:
        raise InputError("lloq", f"shape {arr.shape}", f"a number, one value per time ({shape[1]}), per patient "
                                                       f"({shape[0]}) or a {shape} matrix") from None


def pk_matrix(times: Sequence[float], values: np.ndarray, *, lloq=None, blq: str = "mask", log: bool = True,
              max_lines: int = PK_MAX_LINES, seed: int = 0, band: bool = True, ax: plt.Axes | None = None,
              ylabel: str = "cells per µL blood", xlabel: str = "day since first dose", lloq_label: str = "LLOQ",
              title: str | None = None, color: str = "C0", size: tuple[float, float] = (7.0, 4.4),
              legend_loc: str = "best") -> plt.Figure:
    """Concentration-time plot of ``values[i, j]`` (patient i at ``times[j]``; NaN = not sampled).

    ``lloq``: the lower limit of quantification/detection (a number, one per time, per patient, or a matrix; it
    may move, e.g. a qPCR limit in copies/ug DNA converted to cells/uL moves with the leukocyte count); its median
    over patients is drawn as a dashed line. Values below it are BLQ and handled by ``blq``:
    ``"mask"`` not drawn (curves end where they fall below the limit), ``"half"`` drawn at LLOQ/2 with open
    markers (the M5-like convention of PK plots), ``"show"`` drawn as simulated (a model's sub-detectable values).
    Zero and negative values are never drawn on a log axis (no artificial floor).

    The median and 10-90% band are over all patients (BLQ values included as they are) and drawn only where they
    are above the limit unless ``blq="show"``. More than ``max_lines`` patients: a seeded sample is drawn, stated
    in the title."""
    t = as_float_array(times, "times", 1)
    y = as_float_array(values, "values", 2)
    if y.shape[1] != t.size:
        raise InputError("values", f"{y.shape[1]} columns", f"{t.size} columns (one per time)")
    if blq not in BLQ_MODES:
        raise InputError("blq", blq, f"one of {BLQ_MODES}")
    n = y.shape[0]
    lim = _lloq_matrix(lloq, y.shape)
    fig, ax = new_axes(ax, size)
    below = np.zeros(y.shape, bool) if lim is None else (y < lim)
    shown = y.copy()
    if blq == "mask":
        shown[below] = np.nan
    elif blq == "half":
        shown[below] = lim[below] / 2
    if log:
        shown[shown <= 0] = np.nan
    rows = sample_rows(n, max_lines, seed)
    segs = []
    for i in rows:
        ok = np.isfinite(shown[i])
        if ok.any():
            segs.append(np.column_stack([t[ok], shown[i, ok]]))
    ax.add_collection(LineCollection(segs, colors="0.55", linewidths=0.6, alpha=0.6, gid="individuals"))
    if blq == "half" and below.any():
        r, c = np.nonzero(below[rows])
        ax.plot(t[c], shown[rows][r, c], "o", mfc="none", mec="0.4", ms=4, ls="", gid="blq")
    handles = [Line2D([], [], color="0.55", lw=0.8, label="individual patients" + (
        f" ({rows.size} of {n}, random sample)" if rows.size < n else ""))]
    if band and n >= 3:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            q = (np.percentile(y, [10, 50, 90], axis=0) if not np.isnan(y).any()
                 else np.nanpercentile(y, [10, 50, 90], axis=0))
        if lim is not None and blq != "show":
            lim_med = np.median(lim, axis=0)
            q = np.where(q >= lim_med, q, np.nan)
        if log:
            q = np.where(q > 0, q, np.nan)
        ax.fill_between(t, q[0], q[2], color=color, alpha=0.18, lw=0, gid="band")
        ax.plot(t, q[1], color=color, lw=2.2, gid="median")
        handles += [Line2D([], [], color=color, lw=2.2, label="median"),
                    plt.Rectangle((0, 0), 1, 1, color=color, alpha=0.18, label="10-90% of patients")]
    if lim is not None:
        lm = np.median(lim, axis=0)
        ax.plot(t, lm, color="C3", ls="--", lw=1.3, gid="lloq")
        handles.append(Line2D([], [], color="C3", ls="--", label=lloq_label))
    if log:
        ax.set_yscale("log")
        pos = shown[np.isfinite(shown)]
        floor = np.nanmin(lim) / 3 if lim is not None and np.isfinite(lim).any() else (
            np.percentile(pos, 1) if pos.size else 1e-3)
        top = np.nanmax(pos) * 2 if pos.size else floor * 100
        bottom = max(floor, top * 1e-8) / 1.5
        ax.set_ylim(bottom, max(top, floor * 10))
        if top / bottom < 30:  # under ~1.5 decades: plain numbers, not 2x10^0
            ax.yaxis.set_major_locator(LogLocator(subs=(1.0, 2.0, 5.0)))
            ax.yaxis.set_major_formatter(ScalarFormatter())
            ax.yaxis.set_minor_formatter(NullFormatter())
        under = int((np.isfinite(y) & ~below & ((y <= 0) | (y < bottom))).sum())
        if under and lim is None:
            pct = 100 * under / max(int(np.isfinite(y).sum()), 1)
            share = f"{pct:.0f}%" if pct >= 0.5 else "<1%"
            handles.append(Line2D([], [], ls="", label=f"{share} of values below {bottom:.1g} (axis floor) not drawn"))
    ax.set_xlim(float(t.min()) if t.size else 0, float(t.max()) if t.size else 1)
    n_blq = int((below & np.isfinite(y)).sum())
    n_obs = int(np.isfinite(y).sum())
    if lim is not None:
        what = {"mask": "not drawn", "half": "drawn at LLOQ/2 (open circles)", "show": "drawn as simulated"}[blq]
        handles.append(Line2D([], [], ls="", label=f"below limit: {100 * n_blq / max(n_obs, 1):.0f}% of values, {what}"))
    ax.legend(handles=handles, fontsize=8, loc=legend_loc, framealpha=0.9)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if title:
        ax.set_title(title, fontsize=10)
    return fig


def pk(data: pd.DataFrame, *, id: str = "id", time: str = "time", value: str = "value", lloq: str | float | None = None,
       **kwargs) -> plt.Figure:
    """:func:`pk_matrix` from a long table (one row per sample: ``id``, ``time``, ``value``); ``lloq`` a number or
    the name of a column (per-sample limits). BLQ samples reported as NaN or 0 count as below the limit."""
    cols = [id, time, value] + ([lloq] if isinstance(lloq, str) else [])
    need_columns(data, cols, "one row per sample")
    if lloq is not None:  # a sample reported without a value (BLQ as missing) is below the limit
        data = data.assign(**{value: data[value].fillna(0.0)})
    wide = data.pivot_table(index=id, columns=time, values=value, aggfunc="first", dropna=False)
    lim = lloq
    if isinstance(lloq, str):
        lim = data.pivot_table(index=id, columns=time, values=lloq, aggfunc="first", dropna=False)
        lim = lim.reindex(index=wide.index, columns=wide.columns).to_numpy(float)
    return pk_matrix(wide.columns.to_numpy(float), wide.to_numpy(float), lloq=lim, **kwargs)
