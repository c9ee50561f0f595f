"""Clinical plots of a run: spider, waterfall, swimmer, Kaplan-Meier PFS/OS, persistence, cytokine and CRS grades.

Every plot function takes ``(trajectories, patients)`` as ``nksim.simulate`` returns them (the patient table with
the clinical outcome columns of ``nksim.clinical.outcomes``) and returns a matplotlib Figure (Agg backend).
``clinical_sections(trajectories, patients, summary_df)`` returns ``(heading, html)`` sections for
``nksim.report.html.write_report``, figures embedded with ``fig_to_img``.

Settings (criteria, persistence assay, CRS thresholds) are read from the scenario recorded in
``trajectories.attrs["resolved_scenario"]`` (registry defaults with the scenario's overrides); without it, from
the registry defaults and the default ``ReadoutSpec``.
"""

from __future__ import annotations

import html
import math
import re
from typing import Any, Mapping

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import xarray as xr  # noqa: E402
from matplotlib.lines import Line2D  # noqa: E402
from matplotlib.patches import Patch  # noqa: E402

from nksim.errors import InputError  # noqa: E402
from nksim.yaml_load import safe_load  # noqa: E402

RESPONSE_ORDER = ("CR", "PR", "SD", "PD", "NE")
RESPONSE_COLORS = {"CR": "#1a7f37", "PR": "#5cb85c", "SD": "#f0ad4e", "PD": "#d9534f", "NE": "#9e9e9e"}
RESPONSE_LABELS = {"CR": "complete response", "PR": "partial response", "SD": "stable disease",
                   "PD": "progressive disease", "NE": "not evaluable"}
_SCAN = re.compile(r"^(resp|burden)_d(\d+(?:\.\d+)?)$")
MAX_SWIMMERS = 60


# ---- settings ---------------------------------------------------------------------------------------------------

def _scenario(trajectories: xr.Dataset) -> Any:
    text = trajectories.attrs.get("resolved_scenario")
    if not text:
        return None
    try:
        from nksim.spec.io import scenario_from_dict

        return scenario_from_dict(safe_load(text), where="trajectories.attrs.resolved_scenario")
    except Exception:  # a foreign or older file: fall back to defaults
        return None


def clinical_settings(trajectories: xr.Dataset, params: Mapping[str, float] | None = None) -> tuple[Any, dict]:
    """(ReadoutSpec, clinical parameter values) for the run: the recorded scenario's, else the defaults."""
    from nksim.clinical._params import clinical_params
    from nksim.spec.clinical import ReadoutSpec

    sc = _scenario(trajectories)
    over: dict[str, float] = {}
    readouts = ReadoutSpec()
    if sc is not None:
        from nksim.population.sampling import typical_values

        over = {k: v for k, v in typical_values(sc).items() if k.startswith("clinical_") or k == "tumor_cell_density"}
        readouts = sc.resolved_readouts()
    over.update(params or {})
    return readouts, clinical_params(over)


def crs_thresholds(p: Mapping[str, float]) -> dict[int, float]:
    """Level of the cytokine proxy C (pg/mL) at which each ASTCT CRS grade starts under the threshold model."""
    return {
        1: p["clinical_crs_fever_pg_ml"],
        2: min(p["clinical_crs_hypotension_fluids_pg_ml"], p["clinical_crs_hypoxia_low_flow_pg_ml"]),
        3: min(p["clinical_crs_hypotension_one_vasopressor_pg_ml"], p["clinical_crs_hypoxia_high_flow_pg_ml"]),
        4: min(p["clinical_crs_hypotension_multi_vasopressor_pg_ml"], p["clinical_crs_hypoxia_positive_pressure_pg_ml"]),
    }


# ---- helpers ----------------------------------------------------------------------------------------------------

def _need(patients: pd.DataFrame, cols: list[str], what: str) -> None:
    if not isinstance(patients, pd.DataFrame):
        raise InputError("patients", type(patients).__name__, "a pandas DataFrame (nksim.simulate(...).patients)")
    missing = [c for c in cols if c not in patients.columns]
    if missing:
        raise InputError("patients.columns", missing, f"the clinical outcome columns ({what}); run nksim.simulate")


def _scan_columns(patients: pd.DataFrame, kind: str) -> list[tuple[float, str]]:
    out = []
    for c in patients.columns:
        m = _SCAN.match(str(c))
        if m and m.group(1) == kind:
            out.append((float(m.group(2)), c))
    return sorted(out)


def _response(patients: pd.DataFrame) -> pd.Series:
    r = patients["best_response"].astype(object).where(patients["best_response"].notna(), "NE")
    return r.map(lambda v: v if v in RESPONSE_COLORS else "NE")


def _is_lugano(patients: pd.DataFrame) -> bool:
    b = patients.get("baseline_burden_mm")
    spd = patients.get("baseline_spd_mm2")
    return b is not None and spd is not None and bool(b.isna().all()) and bool(spd.notna().any())


def _is_marrow(patients: pd.DataFrame) -> bool:
    b = patients.get("baseline_marrow_blasts_pct")
    return b is not None and bool(b.notna().any())


def _burden_axis(patients: pd.DataFrame) -> tuple[str, str, tuple[int, ...]]:
    """(baseline column, what the burden is, % change reference lines) for the cohort's response criteria."""
    if _is_marrow(patients):
        return "baseline_marrow_blasts_pct", "marrow blasts", ()  # CR is absolute (< 5% blasts), not a % change
    if _is_lugano(patients):
        return "baseline_spd_mm2", "SPD", (-50,)
    return "baseline_burden_mm", "sum of diameters", (20, -30)


def _response_legend(ax: plt.Axes, present: set[str], loc: str = "best", outside: bool = False) -> None:
    handles = [Patch(color=RESPONSE_COLORS[r], label=r) for r in RESPONSE_ORDER if r in present]
    if handles:
        kw = {"loc": "upper left", "bbox_to_anchor": (1.12, 1.0)} if outside else {"loc": loc}
        ax.legend(handles=handles, fontsize=7, title="best response", title_fontsize=7, **kw)


def _empty(ax: plt.Axes, text: str) -> None:
    ax.text(0.5, 0.5, text, ha="center", va="center", transform=ax.transAxes, color="0.4")


def _fmt(x: float, unit: str = "") -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "-"
    if math.isinf(x):
        return "not reached"
    return f"{x:.3g}{unit}"


# ---- response plots ---------------------------------------------------------------------------------------------

def spider_plot(trajectories: xr.Dataset, patients: pd.DataFrame) -> plt.Figure:
    """% change from baseline of the sum of target diameters (Lugano: SPD; ALL-marrow: marrow blasts) at each scan,
    one line per measurable patient (gid ``patient-<id>``), colored by best overall response, with the PD (+20%) and
    PR (-30%) lines (Lugano: PR -50%; marrow: none, remission is absolute)."""
    _need(patients, ["best_response"], "best_response, burden_d<day>")
    col, what, levels = _burden_axis(patients)
    base = patients[col]
    scans = _scan_columns(patients, "burden")
    resp = _response(patients)
    fig, ax = plt.subplots(figsize=(7.0, 3.8))
    n = 0
    for pid in patients.index:
        b = base.loc[pid]
        if not (b > 0):
            continue
        days = [0.0] + [d for d, _ in scans]
        vals = [b] + [patients.at[pid, c] for _, c in scans]
        pts = [(d, 100.0 * (v - b) / b) for d, v in zip(days, vals) if v == v]
        x, y = zip(*pts)
        (line,) = ax.plot(x, y, "-o", ms=2.5, lw=1.0, alpha=0.8, color=RESPONSE_COLORS[resp.loc[pid]])
        line.set_gid(f"patient-{pid}")
        n += 1
    ax.axhline(0, color="0.3", lw=0.6)
    for level in levels:
        ax.axhline(level, color="0.3", ls="--", lw=0.8)
        ax.text(1.0, level, f" {level:+d}% ({'PD' if level > 0 else 'PR'})", transform=ax.get_yaxis_transform(),
                va="center", fontsize=7)
    if n == 0:
        _empty(ax, "no patient with measurable disease")
    ax.set_xlabel("day since first infusion")
    ax.set_ylabel(f"% change in {what}")
    ax.set_title(f"Spider plot ({n} patients with measurable disease)", fontsize=10)
    _response_legend(ax, set(resp[base > 0]), outside=True)
    fig.tight_layout()
    return fig


def waterfall_plot(trajectories: xr.Dataset, patients: pd.DataFrame) -> plt.Figure:
    """Best % change from baseline per patient (one bar each, sorted), colored by best overall response."""
    _need(patients, ["best_response", "best_pct_change"], "best_response, best_pct_change")
    _, what, levels = _burden_axis(patients)
    d = pd.DataFrame({"chg": patients["best_pct_change"].astype(float), "resp": _response(patients)})
    d = d[np.isfinite(d["chg"])].sort_values("chg", ascending=False, kind="stable")
    fig, ax = plt.subplots(figsize=(6.0, 3.6))
    if len(d):
        ax.bar(np.arange(len(d)), d["chg"].to_numpy(), width=0.85,
               color=[RESPONSE_COLORS[r] for r in d["resp"]])
    else:
        _empty(ax, "no patient with measurable disease")
    for level in levels:
        ax.axhline(level, color="0.3", ls="--", lw=0.8)
    ax.axhline(0, color="0.3", lw=0.6)
    ax.set_xticks([])
    ax.set_xlim(-0.8, max(len(d), 1) - 0.2)
    ax.set_xlabel(f"patients (n = {len(d)})")
    ax.set_ylabel(f"best % change in {what}")
    ax.set_title("Waterfall plot of best response", fontsize=10)
    _response_legend(ax, set(d["resp"]), loc="upper right")
    fig.tight_layout()
    return fig


def _first_response_day(patients: pd.DataFrame) -> pd.Series:
    scans = _scan_columns(patients, "resp")
    out = pd.Series(np.nan, index=patients.index)
    for day, col in reversed(scans):
        hit = patients[col].isin(["CR", "PR"])
        out[hit] = day
    return out


def swimmer_plot(trajectories: xr.Dataset, patients: pd.DataFrame, max_patients: int = MAX_SWIMMERS) -> plt.Figure:
    """Time on study per patient (bar to death or censoring, colored by best response) with the first response
    (triangle), progression (square), death (cross) and censoring (arrow). Large cohorts show the first
    ``max_patients`` patient ids (stated in the title)."""
    _need(patients, ["best_response", "os_days", "os_event"], "best_response, os_days, os_event, pd_day")
    sel = patients.sort_index().iloc[:max_patients]
    sel = sel.assign(_t=sel["os_days"].astype(float)).sort_values("_t", kind="stable")
    resp = _response(sel)
    onset = _first_response_day(sel)
    pd_day = sel["pd_day"].astype(float) if "pd_day" in sel.columns else pd.Series(np.nan, index=sel.index)
    n = len(sel)
    fig, ax = plt.subplots(figsize=(7.2, max(2.6, 0.7 + 0.16 * n)))
    y = np.arange(n)
    t = sel["_t"].to_numpy()
    if n:
        ax.barh(y, t, height=0.7, color=[RESPONSE_COLORS[r] for r in resp])
        m = onset.notna().to_numpy()
        ax.plot(onset.to_numpy()[m], y[m], "^", color="navy", ms=5, label="first response (PR/CR)")
        m = pd_day.notna().to_numpy()
        ax.plot(pd_day.to_numpy()[m], y[m], "s", color="black", ms=4, label="progression")
        dead = sel["os_event"].astype(bool).to_numpy()
        ax.plot(t[dead], y[dead], "X", color="darkred", ms=6, label="death")
        ax.plot(t[~dead], y[~dead], ">", color="0.25", ms=5, label="censored (alive)")
    else:
        _empty(ax, "no patients")
    ax.set_yticks(y)
    ax.set_yticklabels([str(i) for i in sel.index], fontsize=6 if n > 30 else 7)
    ax.set_ylabel("patient")
    ax.set_xlabel("days since first infusion")
    shown = f"{n} of {len(patients)}" if n < len(patients) else f"{n}"
    ax.set_title(f"Swimmer plot ({shown} patients)", fontsize=10)
    handles = [Patch(color=RESPONSE_COLORS[r], label=r) for r in RESPONSE_ORDER if r in set(resp)]
    handles += [Line2D([], [], marker=mk, color=c, ls="", label=lab) for mk, c, lab in
                (("^", "navy", "first response"), ("s", "black", "progression"), ("X", "darkred", "death"),
                 (">", "0.25", "censored"))]
    ax.legend(handles=handles, fontsize=6, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    fig.tight_layout()
    return fig


# ---- survival -----------------------------------------------------------------------------------------------------

def km_plot(trajectories: xr.Dataset, patients: pd.DataFrame, endpoint: str = "pfs") -> plt.Figure:
    """Kaplan-Meier curve of PFS or OS (``endpoint``) with the 95% pointwise band (lifelines, Greenwood /
    exponential Greenwood) and the median with its 95% interval (not reached when the curve stays above 0.5)."""
    from lifelines import KaplanMeierFitter
    from lifelines.utils import median_survival_times

    if endpoint not in ("pfs", "os"):
        raise InputError("endpoint", endpoint, "'pfs' or 'os'")
    _need(patients, [f"{endpoint}_days", f"{endpoint}_event"], f"{endpoint}_days, {endpoint}_event")
    name = "Progression-free survival" if endpoint == "pfs" else "Overall survival"
    fig, ax = plt.subplots(figsize=(5.2, 3.6))
    dur = patients[f"{endpoint}_days"].astype(float).to_numpy()
    ev = patients[f"{endpoint}_event"].astype(bool).to_numpy()
    if len(dur) == 0:
        _empty(ax, "no patients")
        ax.set_title(name, fontsize=10)
        return fig
    kmf = KaplanMeierFitter(label=f"{endpoint.upper()} (n = {len(dur)}, {int(ev.sum())} events)")
    kmf.fit(dur, ev, alpha=0.05)
    kmf.plot_survival_function(ax=ax, ci_show=True, show_censors=True, censor_styles={"ms": 4, "marker": "|"},
                               color="C0")
    med = float(kmf.median_survival_time_)
    ci = median_survival_times(kmf.confidence_interval_)
    lo, hi = (float(ci.iloc[0, 0]), float(ci.iloc[0, 1]))
    ax.axhline(0.5, color="0.5", ls=":", lw=0.8)
    if math.isfinite(med):
        ax.plot([med, med], [0, 0.5], color="0.5", ls=":", lw=0.8)
    text = f"median {_fmt(med, ' d')}\n95% CI {_fmt(lo)} - {_fmt(hi)}"
    ax.text(0.97, 0.95, text, transform=ax.transAxes, ha="right", va="top", fontsize=8,
            bbox={"boxstyle": "round", "fc": "white", "ec": "0.7"})
    ax.set_ylim(0, 1.02)
    ax.set_xlim(left=0)
    ax.set_xlabel("days since first infusion")
    ax.set_ylabel("probability")
    ax.set_title(name, fontsize=10)
    ax.legend(fontsize=7, loc="lower left")
    fig.tight_layout()
    return fig


def pfs_plot(trajectories: xr.Dataset, patients: pd.DataFrame) -> plt.Figure:
    return km_plot(trajectories, patients, "pfs")


def os_plot(trajectories: xr.Dataset, patients: pd.DataFrame) -> plt.Figure:
    return km_plot(trajectories, patients, "os")


# ---- kinetics and safety ------------------------------------------------------------------------------------------

def _need_var(trajectories: xr.Dataset, var: str) -> np.ndarray:
    if not isinstance(trajectories, xr.Dataset) or var not in trajectories:
        raise InputError("trajectories", var,
                         f"an xarray Dataset with variable {var} (nksim.simulate(...).trajectories)")
    return np.asarray(trajectories[var].transpose("patient", "time").values, dtype=float)


def _individual_and_median(ax: plt.Axes, t: np.ndarray, y: np.ndarray, floor: float, color: str = "C0") -> None:
    yy = np.maximum(y, floor)
    for i in range(min(yy.shape[0], 60)):
        ax.plot(t, yy[i], color="0.55", lw=0.5, alpha=0.5)
    if yy.shape[0]:
        ax.plot(t, np.median(yy, axis=0), color=color, lw=2, label="median")


def persistence_plot(trajectories: xr.Dataset, patients: pd.DataFrame,
                     params: Mapping[str, float] | None = None) -> plt.Figure:
    """Product cells per uL of blood over time (the analyte of the scenario's assay: transduced cells for qPCR,
    all product cells for flow/chimerism), individual patients and the median, with the assay's detection limit
    in cells/uL (median over patients; it moves with the leukocyte count for qPCR and chimerism)."""
    from nksim.clinical.detection import detection_limit_cells_per_ul

    readouts, p = clinical_settings(trajectories, params)
    assay = readouts.assay
    var = "car_nk_blood_per_ul" if assay.analyte_resolved == "transduced" else "nk_blood_per_ul"
    y = _need_var(trajectories, var)
    t = trajectories["time"].values
    floor = 1e-3
    fig, ax = plt.subplots(figsize=(5.6, 3.6))
    _individual_and_median(ax, t, y, floor)
    if "wbc_per_ul" in trajectories:
        leuk = _need_var(trajectories, "wbc_per_ul") + _need_var(trajectories, "nk_blood_per_ul")
        lim = detection_limit_cells_per_ul(leuk, assay, p)
        med = np.median(lim, axis=0) if lim.shape[0] else np.full(t.shape, np.nan)
        ax.plot(t, np.maximum(med, floor), color="C3", ls="--", lw=1.2, label=f"detection limit ({assay.kind})")
    ax.set_yscale("log")
    ax.set_ylim(bottom=1e-3)
    ax.set_xlabel("day since first infusion")
    what = "CAR/transgene+ product cells" if var == "car_nk_blood_per_ul" else "product cells"
    ax.set_ylabel(f"{what} per uL blood")
    det = patients["detected"].mean() if "detected" in patients.columns and len(patients) else float("nan")
    ax.set_title(f"Persistence in blood ({_fmt(100 * det)}% ever detected)" if det == det else "Persistence in blood",
                 fontsize=10)
    ax.legend(fontsize=7, loc="upper right")
    fig.tight_layout()
    return fig


def cytokine_plot(trajectories: xr.Dataset, patients: pd.DataFrame,
                  params: Mapping[str, float] | None = None, max_day: float | None = 90.0) -> plt.Figure:
    """Inflammatory cytokine proxy C (IL-6-like, pg/mL) over time, individual patients and the median, with the
    levels at which the threshold model assigns CRS grade 1-4. ``max_day`` limits the time axis (CRS happens in
    the first weeks; None = the whole trajectory)."""
    _, p = clinical_settings(trajectories, params)
    y = _need_var(trajectories, "cytokine_pg_ml")
    t = trajectories["time"].values
    if max_day is not None and t.size and t[-1] > max_day:
        keep = t <= max_day
        t, y = t[keep], y[:, keep]
    fig, ax = plt.subplots(figsize=(5.6, 3.6))
    _individual_and_median(ax, t, y, 1e-2, color="C1")
    thr = crs_thresholds(p)
    for g, level in thr.items():
        ax.axhline(level, color=plt.cm.Reds(0.35 + 0.15 * g), ls="--", lw=1)
        ax.text(1.0, level, f" CRS {g}", transform=ax.get_yaxis_transform(), va="center", fontsize=7)
    ax.set_yscale("log")
    top = max(float(np.nanmax(y)) if y.size else 1.0, thr[4]) * 1.5
    ax.set_ylim(max(1e-2, float(np.nanmin(np.maximum(y, 1e-2))) / 2) if y.size else 1e-2, top)
    ax.set_xlabel("day since first infusion")
    ax.set_ylabel("cytokine proxy C (pg/mL)")
    span = f" (days <= {max_day:g})" if max_day is not None else ""
    ax.set_title(f"Inflammatory cytokine and CRS grade thresholds{span}", fontsize=10)
    ax.legend(fontsize=7, loc="upper left")
    fig.tight_layout()
    return fig


def crs_grade_plot(trajectories: xr.Dataset, patients: pd.DataFrame) -> plt.Figure:
    """Share of patients by worst CRS grade (0-4) and, when present, worst ICANS grade (0-4): one bar per grade."""
    _need(patients, ["crs_grade"], "crs_grade")
    panels = [("crs_grade", "CRS (ASTCT)")]
    if "icans_grade" in patients.columns:
        panels.append(("icans_grade", "ICANS (ASTCT)"))
    fig, axes = plt.subplots(1, len(panels), figsize=(3.2 * len(panels), 3.2), squeeze=False)
    n = len(patients)
    for ax, (col, title) in zip(axes[0], panels):
        g = patients[col].fillna(0).astype(int).to_numpy()
        counts = np.array([(g == k).sum() for k in range(5)])
        share = 100.0 * counts / n if n else np.zeros(5)
        bars = ax.bar(np.arange(5), share, color=[plt.cm.Reds(0.15 + 0.2 * k) for k in range(5)], edgecolor="0.3")
        for b, c in zip(bars, counts):
            ax.text(b.get_x() + b.get_width() / 2, b.get_height() + 1, str(c), ha="center", fontsize=7)
        ax.set_xticks(range(5))
        ax.set_xticklabels(["0", "1", "2", "3", "4"])
        ax.set_xlabel("worst grade")
        ax.set_ylim(0, 110)
        ax.set_ylabel("% of patients")
        ge3 = 100.0 * (g >= 3).mean() if n else float("nan")
        ax.set_title(f"{title}: any {_fmt(100.0 * (g >= 1).mean() if n else float('nan'))}%, "
                     f">=3 {_fmt(ge3)}%", fontsize=9)
    fig.tight_layout()
    return fig


# ---- report sections ----------------------------------------------------------------------------------------------

def summary_table_html(summary_df: pd.DataFrame) -> str:
    """The ``nksim.clinical.summarize`` table as HTML: estimate, 95% interval, events / n."""
    rows = []
    for r in summary_df.itertuples(index=False):
        d = r._asdict()
        frac = d.get("unit") == "fraction"
        f = (lambda v: _fmt(100.0 * v, "%")) if frac else (lambda v: _fmt(v, " d" if d.get("unit") == "days" else ""))
        stratum = {k: v for k, v in d.items() if k not in ("metric", "estimate", "ci_low", "ci_high", "n_events",
                                                              "n", "unit")}
        row = {**{k: str(v) for k, v in stratum.items()}, "metric": d["metric"], "estimate": f(d["estimate"]),
               "95% interval": f"{f(d['ci_low'])} - {f(d['ci_high'])}",
               "events / n": f"{int(d['n_events'])} / {int(d['n'])}"}
        rows.append(row)
    table = pd.DataFrame(rows)
    return table.to_html(index=False, border=0, escape=True)


def clinical_sections(trajectories: xr.Dataset, patients: pd.DataFrame,
                      summary_df: pd.DataFrame | None = None) -> list[tuple[str, str]]:
    """(heading, html) sections for ``write_report``: summary with 95% intervals, response (waterfall, spider,
    swimmer), survival (KM PFS and OS), safety (CRS/ICANS grades, cytokine course) and persistence."""
    from nksim.clinical import summarize
    from nksim.report.html import fig_to_img

    if summary_df is None:
        summary_df = summarize(patients)
    readouts, _ = clinical_settings(trajectories)
    crit = html.escape(str(readouts.criteria or "criteria of the indication"))
    note = (f"<p class='note'>{len(patients)} virtual patients; response by {crit}; intervals: Clopper-Pearson "
            f"for rates, Kaplan-Meier (lifelines) for medians; persistence assay: {readouts.assay.kind}.</p>")
    sections = [
        ("Clinical summary (95% intervals)", note + summary_table_html(summary_df)),
        ("Tumor response", fig_to_img(waterfall_plot(trajectories, patients), "waterfall plot")
         + fig_to_img(spider_plot(trajectories, patients), "spider plot")),
        ("Time on study", fig_to_img(swimmer_plot(trajectories, patients), "swimmer plot")),
        ("Progression-free and overall survival (Kaplan-Meier, 95% bands)",
         fig_to_img(pfs_plot(trajectories, patients), "Kaplan-Meier PFS")
         + fig_to_img(os_plot(trajectories, patients), "Kaplan-Meier OS")),
        ("Safety: cytokine release and neurotoxicity",
         fig_to_img(crs_grade_plot(trajectories, patients), "CRS and ICANS grades")
         + fig_to_img(cytokine_plot(trajectories, patients), "cytokine proxy with CRS thresholds")),
        ("Product persistence in blood", fig_to_img(persistence_plot(trajectories, patients), "product cells per uL")),
    ]
    return sections
