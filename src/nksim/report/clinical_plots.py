"""Clinical plots of a run: spider, waterfall, swimmer, Kaplan-Meier PFS/OS, persistence, cytokine and CRS grades.

Every plot function takes ``(trajectories, patients)`` as ``nksim.simulate`` returns them (the patient table with
the clinical outcome columns of ``nksim.clinical.outcomes``) and returns a matplotlib Figure (Agg backend). The
response, survival and kinetics plots are drawn by the public plotting module :mod:`nksim.plots`.
``clinical_sections(trajectories, patients, summary_df)`` returns ``(heading, html)`` sections for
``nksim.report.html.write_report``, figures embedded with ``fig_to_img``.

Settings (criteria, persistence assay, CRS thresholds) are read from the scenario recorded in
``trajectories.attrs["resolved_scenario"]`` (registry defaults with the scenario's overrides); without it, from
the registry defaults and the default ``ReadoutSpec``.
"""

from __future__ import annotations

import html
import math
from typing import Any, Mapping

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import xarray as xr  # noqa: E402

from nksim.errors import InputError  # noqa: E402
from nksim.plots import result as pr  # noqa: E402
from nksim.plots._common import RESPONSE_COLORS, RESPONSE_LABELS, RESPONSE_ORDER, fmt as _fmt  # noqa: E402,F401
from nksim.plots.pk import pk_matrix  # noqa: E402
from nksim.plots.response import SWIMMER_MAX_PATIENTS as MAX_SWIMMERS  # noqa: E402
from nksim.yaml_load import safe_load  # noqa: E402


XLABEL = "day since first infusion"  # the time axis of every figure of the report (kinetics, clinical plots)


# ---- settings ---------------------------------------------------------------------------------------------------

def _scenario(trajectories: xr.Dataset) -> Any:
    text = getattr(trajectories, "attrs", {}).get("resolved_scenario")
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
    if sc is not None:  # the scenario resolved once (nksim.clinical.resolved), as the engine read it
        from nksim.clinical.resolved import resolve

        res = resolve(sc)
        over = {k: v for k, v in res.params.items() if k.startswith("clinical_") or k == "tumor_cell_density"}
        readouts = res.readouts
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


# ---- response and survival (nksim.plots) ------------------------------------------------------------------------

def _need(patients: pd.DataFrame, cols: list[str], what: str) -> None:
    pr.need(patients, cols, what)


def _criteria_lines(trajectories: xr.Dataset) -> dict[str, Any]:
    """``{"reference_lines": ...}`` from the recorded scenario's resolved response criteria, else {}."""
    sc = _scenario(trajectories)
    if sc is None:
        return {}
    from nksim.clinical.resolved import resolve

    lines = pr.criteria_lines(resolve(sc))
    return {} if lines is None else {"reference_lines": lines}


def spider_plot(trajectories: xr.Dataset, patients: pd.DataFrame, **kwargs) -> plt.Figure:
    """% change from baseline of the sum of target diameters (Lugano: SPD; ALL-marrow: marrow blasts) at each scan
    for each measurable patient, colored by best overall response, with the criteria's PD/PR lines (read from the
    run's clinical parameters). Up to 200 patients as one LineCollection; larger cohorts: a stated seeded sample
    over the per-response medians of all (:func:`nksim.plots.spider_matrix`)."""
    _, p = clinical_settings(trajectories)
    return pr.plot_patients(patients, "spider", params=p,
                            **{"xlabel": XLABEL, **_criteria_lines(trajectories), **kwargs})


def waterfall_plot(trajectories: xr.Dataset, patients: pd.DataFrame, **kwargs) -> plt.Figure:
    """Best % change from baseline per patient (one bar each, sorted, one PolyCollection), colored by best
    response; the axis note says who has no bar and the ORR denominator."""
    _, p = clinical_settings(trajectories)
    return pr.plot_patients(patients, "waterfall", params=p,
                            **{"note": None, **_criteria_lines(trajectories), **kwargs})


def swimmer_plot(trajectories: xr.Dataset, patients: pd.DataFrame, max_patients: int = MAX_SWIMMERS,
                 **kwargs) -> plt.Figure:
    """Time on study per patient: bar to progression, death or last assessment, with first response, progression,
    death and censoring (censored only: no event) marks; the first ``max_patients`` ids (stated in the title)."""
    return pr.plot_patients(patients, "swimmer", max_patients=max_patients, **{"xlabel": XLABEL, **kwargs})


def km_plot(trajectories: xr.Dataset, patients: pd.DataFrame, endpoint: str = "pfs", **kwargs) -> plt.Figure:
    """Kaplan-Meier curve of PFS, OS or RFS (``endpoint``; RFS in the adjuvant setting) with the 95% pointwise band,
    number at risk, and the median with its 95% interval (PFS, RFS: explained on the scan grid, where progression
    and recurrence are dated)."""
    if endpoint not in ("pfs", "os", "rfs"):
        raise InputError("endpoint", endpoint, "'pfs', 'os' or 'rfs' (adjuvant setting)")
    return pr.plot_patients(patients, endpoint, **{"xlabel": XLABEL, **kwargs})


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


def detection_limit_note(kind: str) -> str:
    """Why the detection limit drawn in cells/uL moves (qPCR, chimerism) or not (flow)."""
    if kind == "qpcr":
        return ("qPCR reads transgene copies per µg of genomic DNA; a fixed limit in copies/µg is fewer cells per µL "
                "when leukocytes are few, so the limit in cells/µL falls after lymphodepletion and rises as the "
                "white-cell count recovers (dashed line: median over patients).")
    if kind == "chimerism":
        return ("donor chimerism detects product cells as a fraction of leukocytes, so the limit in cells/µL follows "
                "the white-cell count (dashed line: median over patients).")
    return "flow cytometry counts product cells per µL against a fixed limit."


def persistence_plot(trajectories: xr.Dataset, patients: pd.DataFrame,
                     params: Mapping[str, float] | None = None) -> plt.Figure:
    """Product cells per uL of blood over time (the analyte of the scenario's assay: transduced cells for qPCR,
    all product cells for flow/chimerism): individual patients (a sample), median and 10-90% band, with the assay's
    detection limit in cells/uL (median over patients; it moves with the leukocyte count for qPCR and chimerism).
    Values below the limit are not drawn (no artificial floor)."""
    from nksim.clinical.detection import detection_limit_cells_per_ul

    readouts, p = clinical_settings(trajectories, params)
    assay = readouts.assay
    var = "car_nk_blood_per_ul" if assay.analyte_resolved == "transduced" else "nk_blood_per_ul"
    y = _need_var(trajectories, var)
    t = trajectories["time"].values
    lim = None
    if "wbc_per_ul" in trajectories:
        leuk = _need_var(trajectories, "wbc_per_ul") + _need_var(trajectories, "nk_blood_per_ul")
        lim = detection_limit_cells_per_ul(leuk, assay, p)
    what = "CAR+ product cells" if var == "car_nk_blood_per_ul" else "product cells"
    det = patients["detected"].mean() if "detected" in patients.columns and len(patients) else float("nan")
    title = f"Persistence in blood ({_fmt(100 * det)}% ever detected)" if det == det else "Persistence in blood"
    return pk_matrix(t, y, lloq=lim, blq="mask", ylabel=f"{what} / µL blood", xlabel="day since first infusion",
                     lloq_label=f"detection limit ({assay.kind})", title=title, size=(11.0, 4.4))


def cytokine_plot(trajectories: xr.Dataset, patients: pd.DataFrame,
                  params: Mapping[str, float] | None = None, max_day: float | None = 90.0) -> plt.Figure:
    """Inflammatory cytokine proxy C (IL-6-like, pg/mL) over time, individual patients (a sample), median and
    10-90% band, with the levels at which the threshold model assigns CRS grade 1-4. ``max_day`` limits the time
    axis (CRS happens in the first weeks; None = the whole trajectory)."""
    _, p = clinical_settings(trajectories, params)
    y = _need_var(trajectories, "cytokine_pg_ml")
    t = trajectories["time"].values
    if max_day is not None and t.size and t[-1] > max_day:
        keep = t <= max_day
        t, y = t[keep], y[:, keep]
    span = f" (days <= {max_day:g})" if max_day is not None else ""
    fig = pk_matrix(t, y, ylabel="cytokine proxy C (pg/mL)", xlabel="day since first infusion", color="C1",
                    title=f"Inflammatory cytokine and CRS grade thresholds{span}", legend_loc="center right")
    ax = fig.axes[0]
    thr = crs_thresholds(p)
    for g, level in thr.items():
        ax.axhline(level, color=plt.cm.Reds(0.35 + 0.15 * g), ls="--", lw=1)
        ax.text(1.0, level, f" CRS {g}", transform=ax.get_yaxis_transform(), va="center", fontsize=8)
    lo, hi = ax.get_ylim()
    ax.set_ylim(lo, max(hi, thr[4] * 1.5))
    return fig


def crs_grade_plot(trajectories: xr.Dataset, patients: pd.DataFrame, skip_absent: bool = False) -> plt.Figure | None:
    """Share of patients by worst CRS grade (0-4) and, when present, worst ICANS grade (0-4): one bar per grade.
    ``skip_absent``: a syndrome nobody had is left out (the report says so with :func:`grade_sentence`), None when
    neither occurred."""
    _need(patients, ["crs_grade"], "crs_grade")
    panels = [(c, t) for c, t in (("crs_grade", "CRS (ASTCT)"), ("icans_grade", "ICANS (ASTCT)"))
              if c in patients.columns and (not skip_absent or (patients[c].fillna(0) > 0).any())]
    if not panels:
        return None
    fig, axes = plt.subplots(1, len(panels), figsize=(4.6 * len(panels), 3.4), squeeze=False, layout="constrained")
    n = len(patients)
    for ax, (col, title) in zip(axes[0], panels):
        g = patients[col].fillna(0).astype(int).to_numpy()
        counts = np.array([(g == k).sum() for k in range(5)])
        share = 100.0 * counts / n if n else np.zeros(5)
        bars = ax.bar(np.arange(5), share, color=[plt.cm.Reds(0.15 + 0.2 * k) for k in range(5)], edgecolor="0.3")
        for b, c in zip(bars, counts):
            ax.text(b.get_x() + b.get_width() / 2, b.get_height() + 1, str(c), ha="center", fontsize=8)
        ax.set_xticks(range(5))
        ax.set_xlabel("worst grade")
        ax.set_ylim(0, 112)
        ax.set_ylabel("% of patients (count above bar)")
        ge3 = 100.0 * (g >= 3).mean() if n else float("nan")
        ax.set_title(f"{title}: any grade {_fmt(100.0 * (g >= 1).mean() if n else float('nan'))}%, "
                     f"grade >= 3 {_fmt(ge3)}%", fontsize=9)
    return fig


def grade_sentence(patients: pd.DataFrame) -> str:
    """A sentence for each syndrome nobody had (its plot is left out)."""
    n = len(patients)
    out = []
    for col, name in (("crs_grade", "cytokine release syndrome"), ("icans_grade", "ICANS")):
        if col in patients.columns and not (patients[col].fillna(0) > 0).any():
            out.append(f"No patient had {name} (grade 0 in all {n}).")
    return " ".join(out)


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
    swimmer), survival (KM PFS and OS with numbers at risk), safety (CRS/ICANS grades when any occurred, cytokine
    course) and persistence, each figure with the sentence a reader needs to read it."""
    return [(heading, make()) for heading, _, make in clinical_section_jobs(trajectories, patients, summary_df)]


def clinical_section_jobs(trajectories: xr.Dataset, patients: pd.DataFrame, summary_df: pd.DataFrame | None = None
                          ) -> list[tuple[str, str, Any]]:
    """The sections of :func:`clinical_sections` as ``(heading, progress label, make)``: ``make()`` draws the
    section's figures and returns its html (independent of each other: the report renders them in parallel and
    reports progress as each finishes)."""
    from nksim.report.html import fig_to_img, grid

    readouts, p = clinical_settings(trajectories)

    def summary() -> str:
        from nksim.clinical import summarize

        crit = html.escape(str(readouts.criteria or "criteria of the indication"))
        scans = [d for d, _ in pr.scan_columns(patients, "resp")]
        grid_days = ", ".join(f"{d:g}" for d in scans[:8]) + (", ..." if len(scans) > 8 else "")
        note = (f"<p class='note'>{len(patients)} virtual patients; response by {crit}; intervals: Clopper-Pearson "
                f"for rates, Kaplan-Meier (lifelines, Brookmeyer-Crowley) for medians; persistence assay: "
                f"{readouts.assay.kind}. Progression is only seen at a scan (days {grid_days}), so PFS times take "
                f"only scan days and a median PFS with a 95% CI of one day (e.g. 168-168) means the scans bracket "
                f"it: the true median lies between that scan and the one before.</p>")
        return note + summary_table_html(summarize(patients) if summary_df is None else summary_df)

    def response() -> str:
        n_bar, why = pr.waterfall_note(patients) if "best_pct_change" in patients else (0, "")
        resp_note = (f"Waterfall: {n_bar} bars, one per measurable patient with at least one post-baseline scan"
                     + (f"; {why}." if why else "."))
        pd_level = max((lv for lv in pr.burden_axis(patients, p)[2] if lv > 0), default=None)
        if "best_pct_change" in patients and pd_level is not None:
            pd_small = int((patients["best_response"].eq("PD") & (patients["best_pct_change"] < pd_level)).sum())
            if pd_small:
                resp_note += (f" {pd_small} PD bar(s) lie below +{pd_level:g}%: progression by a new lesion or "
                              "non-target lesions, or a rise from the nadir rather than from baseline.")
        return (fig_to_img(waterfall_plot(trajectories, patients), "waterfall plot", resp_note)
                + fig_to_img(spider_plot(trajectories, patients), "spider plot"))

    def survival() -> str:
        return grid(*([fig_to_img(km_plot(trajectories, patients, "rfs"), "Kaplan-Meier RFS")]
                      if "rfs_days" in patients else []),
                    fig_to_img(pfs_plot(trajectories, patients), "Kaplan-Meier PFS"),
                    fig_to_img(os_plot(trajectories, patients), "Kaplan-Meier OS"))

    def safety() -> str:
        figs = []
        sentence = grade_sentence(patients)
        grades = crs_grade_plot(trajectories, patients, skip_absent=True)
        if grades is not None:
            figs.append(fig_to_img(grades, "CRS and ICANS grades"))
        figs.append(fig_to_img(cytokine_plot(trajectories, patients), "cytokine proxy with CRS thresholds"))
        return (f"<p>{html.escape(sentence)}</p>" if sentence else "") + grid(*figs)

    def persistence() -> str:
        return fig_to_img(persistence_plot(trajectories, patients), "product cells per uL",
                          "Detection limit: " + detection_limit_note(readouts.assay.kind)
                          + " Values below the limit are not drawn; curves end where a patient's cells become "
                            "undetectable.")

    return [
        ("Clinical summary (95% intervals)", "clinical summary", summary),
        ("Tumor response", "waterfall and spider plots", response),
        ("Time on study", "swimmer plot",
         lambda: fig_to_img(swimmer_plot(trajectories, patients), "swimmer plot")),
        ("Progression-free and overall survival (Kaplan-Meier, 95% bands, number at risk)", "Kaplan-Meier curves",
         survival),
        ("Safety: cytokine release and neurotoxicity", "CRS, ICANS and cytokine plots", safety),
        ("Product persistence in blood", "persistence plot", persistence),
    ]
