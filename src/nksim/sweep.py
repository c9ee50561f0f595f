"""`nksim run --sweep PATH=V1,V2,...`: one run per value of a scenario field (a dose level, a parameter) in one
folder, and a comparison of their clinical summaries.

Layout of ``OUT``::

    <leaf>-<value>/      one run folder per value (scenario.yaml, patients.parquet, report.html, ...)
    comparison.csv       long table: path, value, metric, estimate, ci_low, ci_high, n_events, n, unit, run_folder
                         (the clinical summary of each run, and PFS hazard ratio / log-rank p against the first
                         value: the same virtual patients in every run, as `nksim arms` compares arms)
    comparison.html      the metrics side by side (one column per value) with links to each run's report
"""

from __future__ import annotations

import html
from pathlib import Path
from typing import Any, Callable

import pandas as pd

from nksim.outdirs import slugify
from nksim.spec.scenario import Scenario


def sweep_variants(sc: Scenario, path: str, values: list[Any]) -> list[Scenario]:
    """One validated scenario per value (all checked before anything runs)."""
    return [sc.replace({path: v}, where=f"--sweep {path}={v}") for v in values]


def sweep_folder(out: Path, path: str, value: Any) -> Path:
    return out / slugify(f"{path.rsplit('.', 1)[-1]}-{value}")


def comparison_table(path: str, values: list[Any], summaries: list[pd.DataFrame], folders: list[Path]) -> pd.DataFrame:
    """The runs' ``SimulationResult.summary()`` tables stacked, each row tagged with its sweep value."""
    frames = []
    for v, s, f in zip(values, summaries, folders):
        s = s.copy()
        s.insert(0, "value", str(v))
        s.insert(0, "path", path)
        s["run_folder"] = str(f)
        frames.append(s)
    return pd.concat(frames, ignore_index=True)


def pfs_contrasts(values: list[Any], patients: list[pd.DataFrame]) -> list[pd.DataFrame]:
    """Per value, the PFS hazard ratio and log-rank p against the first value (the same patients in every run),
    as summary rows; from ``nksim.trial.multiarm.analyze_arms``, as ``nksim arms`` computes them."""
    from nksim.arms import DAYS_PER_MONTH
    from nksim.trial.multiarm import analyze_arms

    names = [str(v) for v in values]
    df = pd.concat([pd.DataFrame({"arm": n, "pfs_months": p["pfs_days"].to_numpy(float) / DAYS_PER_MONTH,
                                  "progressed": p["pfs_event"].astype(int).to_numpy(),
                                  "response": p["best_response"].isin(["CR", "PR"]).astype(int).to_numpy()})
                    for n, p in zip(names, patients)], ignore_index=True)
    df["arm"] = pd.Categorical(df["arm"], categories=names)
    res = analyze_arms(df, reference=names[0])
    nan = float("nan")
    frames = []
    for n, p in zip(names, patients):
        e = res["arms"][n]
        lo, hi = e.get("hazard_ratio_ci95", [nan, nan])
        events = int(p["pfs_event"].astype(int).sum())
        frames.append(pd.DataFrame([
            {"metric": f"PFS hazard ratio vs {names[0]}",
             "estimate": 1.0 if n == names[0] else e.get("hazard_ratio", nan), "ci_low": lo,
             "ci_high": hi, "n_events": events, "n": len(p), "unit": "ratio"},
            {"metric": f"PFS log-rank p vs {names[0]}", "estimate": e.get("logrank_p", nan), "ci_low": nan,
             "ci_high": nan, "n_events": events, "n": len(p), "unit": "p"}]))
    return frames


def wide(table: pd.DataFrame) -> pd.DataFrame:
    """Metric rows x value columns, each cell ``estimate [ci_low, ci_high]`` (rates in %)."""
    def cell(r: pd.Series) -> str:
        scale, unit = (100.0, "%") if r["unit"] == "fraction" else (1.0, f" {r['unit']}" if r["unit"] else "")
        if pd.isna(r["estimate"]):
            return "n/a"
        if r["unit"] in ("p", "ratio"):
            scale, unit = 1.0, ""
        if pd.isna(r["ci_low"]) and pd.isna(r["ci_high"]):
            return f"{r['estimate'] * scale:.3g}{unit}"
        return f"{r['estimate'] * scale:.3g}{unit} [{r['ci_low'] * scale:.3g}, {r['ci_high'] * scale:.3g}]"

    t = table.assign(cell=table.apply(cell, axis=1))
    order = list(dict.fromkeys(t["value"]))
    out = t.pivot(index="metric", columns="value", values="cell")[order]
    return out.loc[list(dict.fromkeys(t["metric"]))]


def write_comparison(out: Path, table: pd.DataFrame, title: str) -> Path:
    """comparison.csv and comparison.html (the side-by-side table, links to each run's report)."""
    from nksim.report.html import write_report

    table.to_csv(out / "comparison.csv", index=False)
    runs = table.drop_duplicates("value")[["value", "run_folder"]]
    links = "".join(f"<li>{html.escape(r.value)}: <a href='{html.escape(Path(r.run_folder).name)}/report.html'>"
                    f"{html.escape(Path(r.run_folder).name)}/report.html</a></li>" for r in runs.itertuples())
    sections = [("Comparison (estimate [95% interval]; rates in %)", wide(table).to_html(border=0)),
                ("Run reports", f"<ul>{links}</ul>")]
    return write_report(out / "comparison.html", title, sections, {"sweep": table["path"].iloc[0]})


def run_sweep(sc: Scenario, path: str, values: list[Any], out: Path,
              run: Callable[[Scenario, Path], Any]) -> tuple[pd.DataFrame, Path]:
    """Run each variant with ``run(scenario, folder) -> SimulationResult`` and write the comparison."""
    variants = sweep_variants(sc, path, values)
    folders = [sweep_folder(out, path, v) for v in values]
    results = [run(v, f) for v, f in zip(variants, folders)]
    contrasts = pfs_contrasts(values, [r.patients for r in results])
    summaries = [pd.concat([r.summary(), c], ignore_index=True) for r, c in zip(results, contrasts)]
    table = comparison_table(path, values, summaries, folders)
    return table, write_comparison(out, table, f"nksim sweep: {sc.name}, {path} = {', '.join(map(str, values))}")
