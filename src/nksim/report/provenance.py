"""How much of a result rests on assumptions: the registry's provenance status of the parameters a run reads."""

from __future__ import annotations

from typing import Mapping

import pandas as pd

from nksim.registry import STATUSES, load_registry

COHORT_MODULES = ("kinetics", "population", "clinical", "assay")
STATUS_MEANING = {"sourced": "a published number", "derived": "computed from published numbers",
                  "unverified": "from the literature, not yet checked against the source",
                  "assumption": "an assumption (the registry says why)"}


def parameter_status(values: Mapping[str, float], modules: tuple[str, ...] = COHORT_MODULES) -> pd.DataFrame:
    """One row per parameter of ``modules`` in ``values`` (name -> value used): value, unit, status, source,
    whether it varies between patients (IIV) and whether the scenario changed it."""
    reg = load_registry()
    rows = []
    for name, value in values.items():
        p = reg[name]
        if p.module not in modules:
            continue
        rows.append({"parameter": name, "module": p.module, "value": value, "unit": p.unit, "status": p.status,
                     "varies between patients": bool(p.iiv_omega2),
                     "changed by scenario": bool(abs(value - p.default) > 1e-12 * max(1.0, abs(p.default))),
                     "source": p.source})
    return pd.DataFrame(rows)


def assumptions_html(values: Mapping[str, float], modules: tuple[str, ...] = COHORT_MODULES) -> str:
    """A sentence with the counts by status and a collapsible table of the assumptions and unverified values."""
    df = parameter_status(values, modules)
    n = len(df)
    counts = {s: int((df["status"] == s).sum()) for s in STATUSES}
    a, u = counts["assumption"], counts["unverified"]
    iiv_a = int((df["status"].eq("assumption") & df["varies between patients"]).sum()) if n else 0
    text = (f"<p>This result rests on <b>{n}</b> registry parameters ({', '.join(modules)} modules; the "
            f"manufacturing and ABM parameters are not read by a cohort run). <b>{a} ({100 * a / max(n, 1):.0f}%) are "
            f"assumptions</b>, {u} unverified literature values, {counts['derived']} derived and {counts['sourced']} "
            f"sourced. {iiv_a} of the assumptions also set between-patient variability. Treat numbers that depend "
            f"on them as scenarios, not predictions; <code>nksim sensitivity</code> shows which ones move a "
            f"readout.</p>")
    rows = []
    for status in ("assumption", "unverified"):
        sub = df[df["status"] == status]
        if len(sub):
            t = sub.drop(columns=["status"]).to_html(index=False, border=0, escape=True,
                                                     float_format=lambda x: f"{x:.4g}")
            rows.append(f"<details><summary>{len(sub)} {status} parameters ({STATUS_MEANING[status]})"
                        f"</summary>{t}</details>")
    return text + "".join(rows)


def status_counts_text(values: Mapping[str, float]) -> str:
    df = parameter_status(values)
    return ", ".join(f"{int((df['status'] == s).sum())} {s}" for s in STATUSES)


__all__ = ["assumptions_html", "parameter_status", "status_counts_text"]
