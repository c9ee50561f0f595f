"""Tumor response plots for any cohort: spider, waterfall and swimmer plots from plain tables or arrays.

Large cohorts are drawn as single collections (one artist for all patients), so 10,000 patients draw in well under
a second; the spider plot draws a stated, seeded sample of patient lines over the per-response medians of all.
"""

from __future__ import annotations

import textwrap
import warnings
from typing import Sequence

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.collections import LineCollection, PolyCollection
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from nksim.errors import InputError
from nksim.plots._common import (RESPONSE_COLORS, RESPONSE_ORDER, as_float_array, colors_for, empty, need_columns,
                                 new_axes, response_codes, response_legend, sample_rows)

SPIDER_MAX_LINES = 200
SWIMMER_MAX_PATIENTS = 40


def _reference_lines(ax: plt.Axes, levels: Sequence[float], labels: dict[float, str] | None = None) -> None:
    ax.axhline(0, color="0.3", lw=0.7)
    for level in levels:
        ax.axhline(level, color="0.3", ls="--", lw=0.9)
        name = (labels or {}).get(level, "PD" if level > 0 else "PR")
        ax.text(1.0, level, f" {level:+g}% ({name})", transform=ax.get_yaxis_transform(), va="center", fontsize=8)


# ---- spider -------------------------------------------------------------------------------------------------------

def spider_matrix(days: Sequence[float], pct_change: np.ndarray, response: Sequence | None = None, *,
                  reference_lines: Sequence[float] = (20, -30), max_lines: int = SPIDER_MAX_LINES, seed: int = 0,
                  ax: plt.Axes | None = None, ylabel: str = "% change from baseline",
                  xlabel: str = "day since first dose", title: str | None = None) -> plt.Figure:
    """Spider plot from a matrix: ``pct_change[i, j]`` is patient i's % change from baseline at ``days[j]`` (NaN:
    no assessment). Lines start at 0% on day 0 and are colored by best response (CR/PR/SD/PD/NE; anything else NE).

    Up to ``max_lines`` patients are drawn as one LineCollection; beyond that a seeded random sample of
    ``max_lines`` (proportional to each response group) is drawn thin, and the median % change of *all* patients
    of each response group is drawn thick; the title states both."""
    days = as_float_array(days, "days", 1)
    y = as_float_array(pct_change, "pct_change", 2)
    if y.shape[1] != days.size:
        raise InputError("pct_change", f"{y.shape[1]} columns", f"{days.size} columns (one per day in days)")
    n = y.shape[0]
    codes = response_codes(response, n)
    fig, ax = new_axes(ax, (11.0, 4.6))
    x = np.concatenate([[0.0], days])
    yy = np.concatenate([np.zeros((n, 1)), y], axis=1)
    rows = sample_rows(n, max_lines, seed, codes)
    segs, cols = [], []
    for i in rows:
        ok = np.isfinite(yy[i])
        if ok.sum() >= 1:
            segs.append(np.column_stack([x[ok], yy[i, ok]]))
            cols.append(RESPONSE_COLORS[codes[i]])
    sampled = rows.size < n
    lc = LineCollection(segs, colors=cols, linewidths=0.6 if sampled else 1.0, alpha=0.45 if sampled else 0.8)
    lc.set_gid("patients")
    ax.add_collection(lc)
    if sampled:
        for r in RESPONSE_ORDER:
            m = codes == r
            if m.sum() >= 3:
                with warnings.catch_warnings():  # days nobody in the group was assessed: NaN, not drawn
                    warnings.simplefilter("ignore", RuntimeWarning)
                    med = np.nanmedian(yy[m], axis=0)
                ok = np.isfinite(med)
                ax.plot(x[ok], med[ok], color=RESPONSE_COLORS[r], lw=2.6, gid=f"median-{r}")
    _reference_lines(ax, reference_lines)
    if n:
        finite = yy[np.isfinite(yy)]
        lo, hi = float(finite.min()), float(finite.max())
        bottom = min(lo, min(reference_lines, default=0.0)) - 10
        ax.set_ylim(max(bottom, -105.0), max(min(hi, 300.0), max(reference_lines, default=0.0)) + 10)
        ax.set_xlim(0, float(x.max()) * 1.02 if x.max() > 0 else 1.0)
    else:
        empty(ax, "no patient with measurable disease")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    what = (f"{rows.size} of {n} patients drawn (random sample, seed {seed}); thick lines: median of all patients "
            "with that best response" if sampled else f"{n} patients")
    ax.set_title(title or f"Spider plot: {what}", fontsize=10)
    response_legend(ax, set(codes.tolist()), outside=True)
    return fig


def spider(data: pd.DataFrame, *, id: str = "id", time: str = "time", value: str = "pct_change",
           response: str | None = "response", **kwargs) -> plt.Figure:
    """Spider plot from a long table: one row per patient and assessment (``id``, ``time`` in days, ``value`` =
    % change from baseline), optionally a ``response`` column (best response per patient, CR/PR/SD/PD/NE).
    Keywords as :func:`spider_matrix` (reference lines, max_lines, seed, ax, labels)."""
    cols = [id, time, value] + ([response] if response and response in data.columns else [])
    need_columns(data, cols, "one row per patient and assessment")
    wide = data.pivot_table(index=id, columns=time, values=value, aggfunc="first")
    resp = None
    if len(cols) == 4:
        resp = data.groupby(id)[response].first().reindex(wide.index).to_numpy()
    return spider_matrix(wide.columns.to_numpy(dtype=float), wide.to_numpy(dtype=float), resp, **kwargs)


# ---- waterfall ----------------------------------------------------------------------------------------------------

def waterfall(values: Sequence[float], response: Sequence | None = None, *,
              reference_lines: Sequence[float] = (20, -30), cap: float | None = 100.0, ax: plt.Axes | None = None,
              ylabel: str = "best % change from baseline", note: str | None = None,
              title: str = "Waterfall plot of best response") -> plt.Figure:
    """Waterfall plot: one bar per patient with a finite best % change, sorted from worst to best, colored by best
    response. All bars are one PolyCollection. Bars above ``cap`` % (None: no cap) are cut there and counted in
    the legend. ``note`` is printed under the axis (e.g. who is not shown)."""
    v = as_float_array(values, "values", 1)
    codes = response_codes(response, v.size)
    keep = np.isfinite(v)
    order = np.argsort(-v[keep], kind="stable")
    v, codes = v[keep][order], codes[keep][order]
    n = v.size
    fig, ax = new_axes(ax, (11.0, 4.2))
    shown = np.minimum(v, cap) if cap is not None else v
    w = 0.9 if n <= 200 else 1.0  # no gaps once bars are narrower than a pixel
    x0 = np.arange(n) - w / 2
    verts = np.stack([np.column_stack([x0, np.zeros(n)]), np.column_stack([x0, shown]),
                      np.column_stack([x0 + w, shown]), np.column_stack([x0 + w, np.zeros(n)])], axis=1)
    pc = PolyCollection(verts, facecolors=colors_for(codes), edgecolors="none", antialiased=n <= 500)
    pc.set_gid("bars")
    ax.add_collection(pc)
    _reference_lines(ax, reference_lines)
    extra = []
    if n:
        ax.set_xlim(-1, n)
        top = float(shown.max())
        bottom = min(float(shown.min()), min(reference_lines, default=0.0)) - 10
        ax.set_ylim(max(bottom, -105.0), max(top, max(reference_lines, default=0.0)) + 10)
        cut = int((v > cap).sum()) if cap is not None else 0
        if cut:
            extra.append(Line2D([], [], ls="", label=f"{cut} bar(s) above +{cap:g}% cut at +{cap:g}%"))
    else:
        empty(ax, "no patient with a best % change")
    ax.set_xticks([])
    ax.set_xlabel(f"patients, sorted (n = {n})" + ("\n" + textwrap.fill(note, 140) if note else ""), fontsize=9)
    ax.set_ylabel(ylabel)
    ax.set_title(title, fontsize=10)
    response_legend(ax, set(codes.tolist()), outside=True, extra=extra)
    return fig


# ---- swimmer ------------------------------------------------------------------------------------------------------

def swimmer(data: pd.DataFrame, *, id: str = "id", time: str = "time", progression: str | None = "progression",
            death: str | None = "death", response_onset: str | None = "response_onset",
            response: str | None = "response", max_patients: int = SWIMMER_MAX_PATIENTS, seed: int | None = None,
            ax: plt.Axes | None = None, xlabel: str = "day since first dose",
            title: str | None = None) -> plt.Figure:
    """Swimmer plot, one bar per patient from day 0 to the first of progression, death or last follow-up
    (``time``); the bar's end is marked: square = progression, cross = death, arrow = censored (still on study,
    no progression or death). A triangle marks the first response (``response_onset``, day or NaN). Columns that
    are missing or None are not drawn. Bars are colored by ``response`` (best response).

    More than ``max_patients`` rows: the first ``max_patients`` ids (or, with ``seed``, a seeded random sample),
    stated in the title."""
    need_columns(data, [id, time], "one row per patient")
    total = len(data)
    if seed is None:
        sel = data.sort_values(id, kind="stable").iloc[:max_patients]
        how = f"first {max_patients} patient ids"
    else:
        sel = data.iloc[sample_rows(total, max_patients, seed)]
        how = f"random sample, seed {seed}"

    def col(name: str | None) -> np.ndarray:
        if name and name in sel.columns:
            return sel[name].to_numpy(dtype=float)
        return np.full(len(sel), np.nan)

    follow, prog, dead, onset = col(time), col(progression), col(death), col(response_onset)
    end = np.fmin(np.fmin(prog, dead), follow)
    kind = np.where(np.isfinite(prog) & (prog <= end), "progression",
                    np.where(np.isfinite(dead) & (dead <= end), "death", "censored"))
    codes = response_codes(sel[response].to_numpy() if response and response in sel.columns else None, len(sel))
    order = np.argsort(end, kind="stable")
    end, kind, codes, onset = end[order], kind[order], codes[order], onset[order]
    ids = sel[id].to_numpy()[order]
    n = len(sel)
    fig, ax = new_axes(ax, (11.0, max(3.0, 1.2 + 0.24 * n)))
    y = np.arange(n)
    if n:
        ax.barh(y, end, height=0.7, color=colors_for(codes))
        for k, mk, c, ms in (("progression", "s", "black", 6), ("death", "X", "darkred", 8),
                             ("censored", ">", "0.25", 7)):
            m = kind == k
            ax.plot(end[m], y[m], mk, color=c, ms=ms, ls="", gid=f"end-{k}")
        m = np.isfinite(onset) & (onset <= end)
        ax.plot(onset[m], y[m], "^", color="navy", ms=7, ls="", gid="response-onset")
        ax.set_xlim(0, float(np.nanmax(end)) * 1.06 if np.nanmax(end) > 0 else 1.0)
    else:
        empty(ax, "no patients")
    ax.set_yticks(y)
    ax.set_yticklabels([str(i) for i in ids], fontsize=8)
    ax.set_ylim(-0.8, max(n, 1) - 0.2)
    ax.set_ylabel("patient id")
    ax.set_xlabel(xlabel)
    shown = f"{n} of {total} patients ({how})" if n < total else f"{n} patients"
    ax.set_title(title or f"Swimmer plot: {shown}; bars end at progression, death or last follow-up", fontsize=10)
    handles = [Patch(color=RESPONSE_COLORS[r], label=r) for r in RESPONSE_ORDER if r in set(codes.tolist())]
    handles += [Line2D([], [], marker=mk, color=c, ls="", ms=7, label=lab) for mk, c, lab in
                (("^", "navy", "first response (PR/CR)"), ("s", "black", "progression"), ("X", "darkred", "death"),
                 (">", "0.25", "censored: on study, no event"))]
    ax.legend(handles=handles, fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0), title="best response",
              title_fontsize=8)
    return fig
