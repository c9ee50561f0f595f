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

CSS = """body{font-family:system-ui,sans-serif;max-width:1320px;margin:1.5em auto;padding:0 1.2em;color:#222;
line-height:1.45}
h1{font-size:1.6em}h2{font-size:1.25em;border-bottom:1px solid #ccc;padding-bottom:.2em;margin-top:1.8em}
table{border-collapse:collapse;font-size:.9em}td,th{border:1px solid #ddd;padding:3px 8px;text-align:right}
th{background:#f4f4f4}td:first-child,th:first-child{text-align:left}
table.arms td:nth-child(2){text-align:left;min-width:22em;max-width:36em}table.arms th{text-align:left}
.fig{margin:.6em 0}.fig img{width:100%;height:auto;display:block}
.grid{display:grid;grid-template-columns:repeat(auto-fill,minmax(560px,1fr));gap:1em;align-items:start}
.note{color:#555;font-size:.92em;max-width:75em}
details{margin:.6em 0}summary{cursor:pointer;color:#1a5fb4}
pre{background:#f8f8f8;padding:.8em;font-size:.8em;overflow-x:auto}"""


def fig_to_img(fig: plt.Figure, alt: str, caption: str | None = None) -> str:
    """Embed a figure as a base64 PNG that fills its container's width (CSS), optionally with a caption."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110)
    plt.close(fig)
    data = base64.b64encode(buf.getvalue()).decode()
    cap = f"<p class='note'>{html.escape(caption)}</p>" if caption else ""
    return f'<div class="fig"><img alt="{html.escape(alt)}" src="data:image/png;base64,{data}"/>{cap}</div>'


def grid(*items: str) -> str:
    """Figures side by side on a wide screen, stacked on a narrow one."""
    return '<div class="grid">' + "".join(items) + "</div>"


def kinetic_figures(traj: xr.Dataset, detection_limit_per_ul: float | None = None) -> list[str]:
    """Median, 10-90% band and a sample of patients for the tumor, product cells, IL-15 and the cytokine proxy;
    values at or below zero are not drawn on log axes (no floor band)."""
    return [draw() for _, draw in kinetic_figure_jobs(traj, detection_limit_per_ul)]


KINETIC_SPECS = (
    ("tumor_viable_total", "viable tumor cells (all lesions)", True),
    ("nk_blood_per_ul", "product cells per µL blood", True),
    ("il15_pg_ml", "IL-15 (pg/mL)", False),
    ("cytokine_pg_ml", "inflammatory cytokine C, IL-6-like (pg/mL)", True),
)


def kinetic_figure_jobs(traj: xr.Dataset, detection_limit_per_ul: float | None = None) -> list[tuple[str, Any]]:
    """:func:`kinetic_figures` as ``(progress label, draw)`` pairs, one per figure (``nksim.report.render``)."""
    from nksim.plots.pk import pk_matrix

    def draw(var: str, label: str, log: bool) -> str:
        t = traj["time"].values
        y = np.asarray(traj[var].transpose("patient", "time").values, dtype=float)
        lim = detection_limit_per_ul if var == "nk_blood_per_ul" and detection_limit_per_ul else None
        fig = pk_matrix(t, y, lloq=lim, blq="show", log=log, ylabel=label, xlabel="day since first infusion",
                        title=label, max_lines=5, lloq_label="detection limit")
        return fig_to_img(fig, label)

    return [(f"kinetics: {var}", lambda v=var, lab=label, lg=log: draw(v, lab, lg))
            for var, label, log in KINETIC_SPECS if var in traj]


def _number(x: float, floatfmt: str = "{:.4g}") -> str:
    """Whole numbers as integers with thousands separators (10,000 patients, not 1e+04); others to 4 digits."""
    if float(x).is_integer() and abs(x) < 1e9:
        return f"{int(x):,}"
    return floatfmt.format(x)


def _table(df: pd.DataFrame, floatfmt: str = "{:.4g}") -> str:
    return df.to_html(float_format=lambda x: _number(x, floatfmt), border=0, escape=True)


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
    body.append("<h2>Resolved scenario</h2><details><summary>the scenario as run (YAML; also scenario.yaml in the run "
                "folder)</summary><pre>" + html.escape(str(provenance.get("resolved_scenario", ""))) + "</pre></details>")
    text = (f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
            f"<style>{CSS}</style></head><body>{''.join(body)}</body></html>")
    path.write_text(text, encoding="utf-8")
    return path
