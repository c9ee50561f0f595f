"""Kaplan-Meier curves with pointwise 95% bands, censoring ticks, medians with intervals and a number-at-risk table."""

from __future__ import annotations

import math
import textwrap
from typing import Sequence

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from nksim.errors import InputError
from nksim.plots._common import as_float_array, fmt


NOTES_INSIDE = 2  # up to this many curves the medians are written in a box on the plot; more go under it


def _at_risk(durations: np.ndarray, ticks: np.ndarray) -> list[int]:
    return [int((durations >= t).sum()) for t in ticks]


def median_note(median: float, low: float, high: float, grid: Sequence[float] | None) -> str:
    """The median and its interval in words; with an assessment ``grid`` (e.g. scan days), where an event can
    only be dated at a grid day, a median on a grid day is stated as lying between that day and the one before."""
    text = f"median {fmt(median, ' d')} (95% CI {fmt(low)} - {fmt(high)})"
    if grid is not None and math.isfinite(median):
        g = np.sort(np.asarray(grid, dtype=float))
        on = np.isclose(g, median)
        if on.any():
            k = int(np.flatnonzero(on)[0])
            prev = g[k - 1] if k > 0 else 0.0
            text += f"; events dated at scans, so the median lies in ({prev:g}, {median:g}] d"
    return text


def kaplan_meier(durations: Sequence[float], events: Sequence[bool], groups: Sequence | None = None, *,
                 alpha: float = 0.05, at_risk: bool = True, ci: bool = True, ticks: Sequence[float] | None = None,
                 grid: Sequence[float] | None = None, xlabel: str = "day since first dose",
                 ylabel: str = "probability", title: str = "Kaplan-Meier estimate",
                 size: tuple[float, float] = (6.4, 4.2)) -> plt.Figure:
    """Kaplan-Meier curve(s) (lifelines) of ``durations`` (days) with ``events`` (True = event, False = censored),
    one per value of ``groups``: pointwise (1 - alpha) band (exponential Greenwood), censoring ticks, median with
    its interval (Brookmeyer-Crowley, lifelines; in a box on the plot, or under it for more than two curves), and
    under the plot the number at risk at each x tick.

    ``grid``: the days at which events can be observed (scan days for progression), so that a median falling on a
    grid day is explained (its interval is then often a single day: the scans bracket it)."""
    from lifelines import KaplanMeierFitter
    from lifelines.utils import median_survival_times

    d = as_float_array(durations, "durations", 1)
    e = np.asarray(events, dtype=bool)
    if e.shape != d.shape:
        raise InputError("events", f"{e.size} values", f"{d.size} values (one per duration)")
    if (d[np.isfinite(d)] < 0).any() or not np.isfinite(d).all():
        raise InputError("durations", "negative or missing values", "finite times >= 0")
    g = np.full(d.size, "all", dtype=object) if groups is None else np.asarray(groups, dtype=object)
    if g.shape != d.shape:
        raise InputError("groups", f"{g.size} values", f"{d.size} values (one per duration)")
    labels = list(dict.fromkeys(g.tolist()))
    below = len(labels) > NOTES_INSIDE  # many curves: the medians are written under the plot, not over the curves
    heights = [size[1]] + ([0.28 * len(labels) + 0.5] if at_risk else []) + ([0.19 * len(labels) + 0.15] if below
                                                                             else [])
    fig = plt.figure(figsize=(size[0], sum(heights)), layout="constrained")
    gs = fig.add_gridspec(len(heights), 1, height_ratios=heights)
    ax = fig.add_subplot(gs[0])
    tab = fig.add_subplot(gs[1]) if at_risk else None
    notes_ax = fig.add_subplot(gs[-1]) if below else None
    notes = []
    for k, lab in enumerate(labels):
        m = g == lab
        name = "" if groups is None else f"{lab}: "
        kmf = KaplanMeierFitter(label=f"{name}n = {int(m.sum())}, {int(e[m].sum())} events")
        if m.sum() == 0:
            continue
        kmf.fit(d[m], e[m], alpha=alpha)
        kmf.plot_survival_function(ax=ax, ci_show=ci, show_censors=True, color=f"C{k}",
                                   censor_styles={"ms": 5, "marker": "|"})
        med = float(kmf.median_survival_time_)
        lo, hi = (float(v) for v in median_survival_times(kmf.confidence_interval_).iloc[0, :2])
        notes.append(name + median_note(med, lo, hi, grid))
        if math.isfinite(med):
            ax.plot([med, med], [0, 0.5], color=f"C{k}", ls=":", lw=0.9)
    ax.axhline(0.5, color="0.5", ls=":", lw=0.8)
    ax.set_ylim(0, 1.02)
    ax.set_xlim(left=0, right=max(float(d.max()), 1.0) * 1.02 if d.size else 1.0)
    ax.set_ylabel(ylabel)
    ax.set_title(title, fontsize=10)
    ax.legend(fontsize=9, loc="best", title=f"{int(100 * (1 - alpha))}% pointwise band shaded",
              title_fontsize=9)
    if notes and notes_ax is not None:
        notes_ax.axis("off")
        notes_ax.text(0.0, 1.0, "\n".join(notes), transform=notes_ax.transAxes, fontsize=9, va="top", ha="left")
    elif notes:
        ax.text(0.01, 0.03, "\n".join(textwrap.fill(n, 60) for n in notes), transform=ax.transAxes, fontsize=9,
                va="bottom",
                bbox={"boxstyle": "round", "fc": "white", "ec": "0.7", "alpha": 0.9})
    xt = np.asarray(ticks, dtype=float) if ticks is not None else ax.get_xticks()
    xt = xt[(xt >= 0) & (xt <= ax.get_xlim()[1])]
    ax.set_xticks(xt)
    ax.set_xlabel(xlabel)
    if tab is None:
        return fig
    tab.set_xlim(ax.get_xlim())
    tab.set_ylim(-0.5, len(labels) - 0.5)
    for k, lab in enumerate(labels):
        counts = _at_risk(d[g == lab], xt)
        for x, c in zip(xt, counts):
            tab.text(x, len(labels) - 1 - k, f"{c:,}", ha="center", va="center", fontsize=9, color=f"C{k}")
    tab.set_yticks(range(len(labels)))
    tab.set_yticklabels(["" if groups is None else str(lab) for lab in reversed(labels)], fontsize=9)
    tab.set_xticks([])
    tab.set_title("number at risk", fontsize=9, loc="left", pad=2)
    for s in ("top", "right", "left", "bottom"):
        tab.spines[s].set_visible(False)
    tab.tick_params(axis="y", length=0, pad=22)
    return fig


def kaplan_meier_table(data: pd.DataFrame, *, time: str = "time", event: str = "event", group: str | None = None,
                       **kwargs) -> plt.Figure:
    """:func:`kaplan_meier` from a table with one row per patient (``time`` in days, ``event`` bool/0-1)."""
    from nksim.plots._common import need_columns

    need_columns(data, [time, event] + ([group] if group else []), "one row per patient")
    return kaplan_meier(data[time].to_numpy(float), data[event].to_numpy(bool),
                        data[group].to_numpy() if group else None, **kwargs)
