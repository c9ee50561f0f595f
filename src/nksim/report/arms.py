"""The multi-arm comparison written to one run folder: Kaplan-Meier PFS per arm (PNG), the per-arm table (CSV, JSON),
a markdown summary and an HTML page (``nksim arms``, ``nksim.arms.compare_arms``)."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import TYPE_CHECKING

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402

from nksim.report.html import fig_to_img, write_report  # noqa: E402

if TYPE_CHECKING:
    from nksim.arms import ArmComparison

FILES = {"png": "km_pfs_by_arm.png", "csv": "arms.csv", "json": "arms.json", "md": "arms.md", "html": "arms.html"}


def km_figure(cmp: "ArmComparison", endpoint: str = "pfs") -> plt.Figure:
    """Kaplan-Meier PFS (``endpoint`` "pfs") or recurrence-free survival ("rfs", adjuvant setting) of every arm on one
    axis with 95% bands, censoring ticks, each arm's median (explained on the scan grid) and the number at risk per
    arm under the plot (:func:`nksim.plots.kaplan_meier`)."""
    import numpy as np

    from nksim.plots.result import scan_columns
    from nksim.plots.survival import kaplan_meier

    names = {arm: f"{arm} (control)" if arm == cmp.control and arm != "control" else str(arm) for arm in cmp.results}
    parts = [(names[arm], res.patients) for arm, res in cmp.results.items()]
    days = np.concatenate([p[f"{endpoint}_days"].to_numpy(float) for _, p in parts])
    events = np.concatenate([p[f"{endpoint}_event"].to_numpy(bool) for _, p in parts])
    groups = np.concatenate([np.full(len(p), name, dtype=object) for name, p in parts])
    grid = [d for d, _ in scan_columns(parts[0][1], "resp")] if parts else None
    test = (f"log-rank chi2 {cmp.logrank_chi2:.3g}, df {cmp.logrank_df}, p {cmp.logrank_p:.3g}" if endpoint == "pfs"
            else "log-rank vs control in the table")
    return kaplan_meier(days, events, groups, grid=grid or None, xlabel="days since first infusion",
                        ylabel="progression-free survival" if endpoint == "pfs" else "recurrence-free survival",
                        title=f"{cmp.scenario}: {endpoint.upper()} by arm ({test})", size=(9.0, 4.8))


def _days(v: float) -> str:
    return "not reached" if not math.isfinite(v) else f"{v:.4g}"


def markdown(cmp: "ArmComparison") -> str:
    """The per-arm table and the log-rank tests as markdown."""
    lines = [f"# {cmp.scenario}: arms compared", "",
             f"{cmp.n_patients} virtual patients per arm, the same patients in every arm (seed {cmp.seed}); "
             f"control arm: {cmp.control}.", "",
             "| arm | n | ORR (95% CI) | PFS events | median PFS, d (95% CI) | log-rank vs control chi2 (p) | HR vs "
             "control (95% CI) | description |", "|---|---|---|---|---|---|---|---|"]
    for r in cmp.table.itertuples():
        vs = "-" if r.arm == cmp.control else f"{r.logrank_chi2_vs_control:.3g} ({r.logrank_p_vs_control:.3g})"
        hr = ("-" if r.arm == cmp.control else "not estimable" if not math.isfinite(r.hazard_ratio_vs_control)
              else f"{r.hazard_ratio_vs_control:.3g} ({r.hazard_ratio_ci_low:.3g}-{r.hazard_ratio_ci_high:.3g})")
        lines.append(f"| {r.arm} | {r.n} | {r.orr:.3f} ({r.orr_ci_low:.3f}-{r.orr_ci_high:.3f}) | {r.pfs_events} | "
                     f"{_days(r.median_pfs_d)} ({_days(r.median_pfs_ci_low_d)}-{_days(r.median_pfs_ci_high_d)}) | "
                     f"{vs} | {hr} | {r.description} |")
    lines += ["", f"All arms, multivariate log-rank (lifelines): chi2 = {cmp.logrank_chi2:.4g}, df = {cmp.logrank_df}, "
              f"p = {cmp.logrank_p:.4g}.", ""]
    if "median_rfs_d" in cmp.table:  # adjuvant setting: recurrence-free survival
        lines += ["Recurrence-free survival (adjuvant setting; event = recurrence or death):", "",
                  "| arm | RFS events | median RFS, d (95% CI) | RFS 1 y | RFS 2 y | log-rank vs control chi2 (p) |",
                  "|---|---|---|---|---|---|"]
        for r in cmp.table.itertuples():
            vs = "-" if r.arm == cmp.control else f"{r.rfs_logrank_chi2_vs_control:.3g} ({r.rfs_logrank_p_vs_control:.3g})"
            lines.append(f"| {r.arm} | {r.rfs_events} | {_days(r.median_rfs_d)} ({_days(r.median_rfs_ci_low_d)}-"
                         f"{_days(r.median_rfs_ci_high_d)}) | {r.rfs_1y:.3f} | {r.rfs_2y:.3f} | {vs} |")
        lines.append("")
    return "\n".join(lines)


def _ci(est: float, lo: float, hi: float, scale: float = 1.0, spec: str = ".4g") -> str:
    """'est (lo-hi)'; 'not reached' for a missing bound."""
    f = (lambda v: "not reached" if not math.isfinite(v) else format(scale * v, spec))
    return f"{f(est)} ({f(lo)}-{f(hi)})"


def table_html(cmp: "ArmComparison") -> str:
    """The per-arm table as a reader wants it (the markdown's columns; every raw column is in arms.csv)."""
    import pandas as pd

    rows = []
    for r in cmp.table.itertuples():
        ctrl = r.arm == cmp.control
        row = {"arm": r.arm + (" (control)" if ctrl and r.arm != "control" else ""), "description": r.description,
               "n": r.n, "ORR, % (95% CI)": _ci(r.orr, r.orr_ci_low, r.orr_ci_high, 100.0, ".1f"),
               "PFS events": r.pfs_events,
               "median PFS, d (95% CI)": _ci(r.median_pfs_d, r.median_pfs_ci_low_d, r.median_pfs_ci_high_d),
               "log-rank vs control: chi2 (p)": "-" if ctrl else
               f"{r.logrank_chi2_vs_control:.3g} ({r.logrank_p_vs_control:.3g})",
               "HR vs control (95% CI)": "-" if ctrl else "not estimable" if not math.isfinite(
                   r.hazard_ratio_vs_control) else _ci(r.hazard_ratio_vs_control, r.hazard_ratio_ci_low,
                                                       r.hazard_ratio_ci_high, spec=".3g")}
        if "median_rfs_d" in cmp.table:
            row["median RFS, d (95% CI)"] = _ci(r.median_rfs_d, r.median_rfs_ci_low_d, r.median_rfs_ci_high_d)
        rows.append(row)
    return (pd.DataFrame(rows).to_html(index=False, border=0, escape=True, classes="arms")
            + f"<p class='note'>Every column, unrounded: {FILES['csv']} ({FILES['json']}) in the run folder.</p>")


def write_arms_report(cmp: "ArmComparison", out: Path) -> dict[str, Path]:
    """Write the comparison into ``out`` (created); returns the paths by kind (``FILES``)."""
    out.mkdir(parents=True, exist_ok=True)
    paths = {k: out / name for k, name in FILES.items()}
    fig = km_figure(cmp)
    fig.savefig(paths["png"], dpi=110)
    cmp.table.to_csv(paths["csv"], index=False)
    paths["json"].write_text(json.dumps(cmp.to_dict(), indent=2), encoding="utf-8")
    md = markdown(cmp)
    paths["md"].write_text(md, encoding="utf-8")
    first = next(iter(cmp.results.values()))
    prov = {k: v for k, v in first.provenance.items() if k != "resolved_scenario"}
    prov.update({"scenario": cmp.scenario, "arms": ", ".join(cmp.results), "control": cmp.control})
    sections = [("PFS by arm (Kaplan-Meier, 95% bands, number at risk)", fig_to_img(fig, "Kaplan-Meier PFS by arm")),
                ("Arms", table_html(cmp)),
                ("Log-rank test, all arms", f"<p>chi2 = {cmp.logrank_chi2:.4g}, df = {cmp.logrank_df}, "
                                            f"p = {cmp.logrank_p:.4g} (lifelines multivariate_logrank_test); the "
                                            f"same {cmp.n_patients} virtual patients in every arm (seed "
                                            f"{cmp.seed}); control arm {cmp.control}</p>")]
    if "median_rfs_d" in cmp.table:  # adjuvant setting
        sections.insert(0, ("Recurrence-free survival by arm", fig_to_img(km_figure(cmp, "rfs"),
                                                                          "Kaplan-Meier RFS by arm")))
    write_report(paths["html"], f"nksim arms: {cmp.scenario}", sections, prov)
    return paths
