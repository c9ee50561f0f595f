"""Self-contained HTML report of a run: plots embedded as base64 PNG, tables inline, no external files."""

from __future__ import annotations

import base64
import html
import io
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import xarray as xr  # noqa: E402

from nksim.registry import load_registry  # noqa: E402

CSS = """body{font-family:system-ui,sans-serif;max-width:1100px;margin:2em auto;color:#222}
h1{font-size:1.6em}h2{font-size:1.2em;border-bottom:1px solid #ccc;padding-bottom:.2em;margin-top:1.6em}
table{border-collapse:collapse;font-size:.85em}td,th{border:1px solid #ddd;padding:3px 8px;text-align:right}
th{background:#f4f4f4}.fig{display:inline-block;margin:.5em}.note{color:#666;font-size:.85em}
pre{background:#f8f8f8;padding:.8em;font-size:.8em;overflow-x:auto}"""


def fig_to_img(fig: plt.Figure, alt: str) -> str:
    """Embed a figure as a base64 PNG (figures lay themselves out: one layout pass, not a second 'tight' bbox)."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=90)
    plt.close(fig)
    data = base64.b64encode(buf.getvalue()).decode()
    return f'<div class="fig"><img alt="{html.escape(alt)}" src="data:image/png;base64,{data}"/></div>'


def _band_plot(ax: plt.Axes, t: np.ndarray, y: np.ndarray, label: str, log: bool, floor: float = 0.0) -> None:
    """Median with 10-90% and 25-75% bands over patients (y: patient x time), plus a few individual curves."""
    yy = np.maximum(y, floor) if log else y
    q = np.nanpercentile(yy, [10, 25, 50, 75, 90], axis=0)
    ax.fill_between(t, q[0], q[4], alpha=0.15, color="C0", label="10-90%")
    ax.fill_between(t, q[1], q[3], alpha=0.3, color="C0", label="25-75%")
    ax.plot(t, q[2], color="C0", lw=2, label="median")
    for i in range(min(5, y.shape[0])):
        ax.plot(t, yy[i], color="0.5", lw=0.6, alpha=0.6)
    if log:
        ax.set_yscale("log")
    ax.set_xlabel("day since first infusion")
    ax.set_ylabel(label)


def kinetic_figures(traj: xr.Dataset, detection_limit_per_ul: float | None = None) -> list[str]:
    t = traj["time"].values
    figs = []
    specs = [
        ("tumor_viable_total", "viable tumor cells (all lesions)", True, 1.0),
        ("nk_blood_per_ul", "product cells per uL blood", True, 1e-4),
        ("il15_pg_ml", "IL-15 (pg/mL)", False, 0.0),
        ("cytokine_pg_ml", "inflammatory cytokine C, IL-6-like (pg/mL)", True, 1.0),
    ]
    for var, label, log, floor in specs:
        fig, ax = plt.subplots(figsize=(5.2, 3.4))
        _band_plot(ax, t, traj[var].values, label, log, floor)
        if var == "nk_blood_per_ul" and detection_limit_per_ul:
            ax.axhline(detection_limit_per_ul, color="C3", ls="--", lw=1, label="detection limit")
        ax.set_title(label, fontsize=10)
        ax.legend(fontsize=7, loc="best")
        fig.tight_layout()
        figs.append(fig_to_img(fig, label))
    return figs


def _table(df: pd.DataFrame, floatfmt: str = "{:.4g}") -> str:
    return df.to_html(float_format=lambda x: floatfmt.format(x), border=0, escape=True)


def changed_parameters(resolved_parameters: dict[str, float]) -> pd.DataFrame:
    """Parameters that differ from the registry defaults, with their sources."""
    reg = load_registry()
    rows = []
    for name, value in resolved_parameters.items():
        p = reg[name]
        if not np.isclose(value, p.default):
            rows.append({"parameter": name, "value": value, "default": p.default, "unit": p.unit,
                         "status": p.status, "registry source": p.source})
    return pd.DataFrame(rows)


def write_report(path: Path, title: str, sections: list[tuple[str, str]], provenance: dict[str, Any]) -> Path:
    """Assemble the report from (heading, html) sections."""
    body = [f"<h1>{html.escape(title)}</h1>"]
    for heading, content in sections:
        body.append(f"<h2>{html.escape(heading)}</h2>\n{content}")
    prov = {k: v for k, v in provenance.items() if k != "resolved_scenario"}
    body.append("<h2>Provenance</h2>" + _table(pd.DataFrame({"value": {k: str(v) for k, v in prov.items()}})))
    body.append("<h2>Resolved scenario</h2><pre>" + html.escape(str(provenance.get("resolved_scenario", ""))) + "</pre>")
    text = (f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
            f"<style>{CSS}</style></head><body>{''.join(body)}</body></html>")
    path.write_text(text)
    return path
