"""report.html of a cohort run (``nksim run``): scenario, cohort, clinical sections, kinetics, kills by pathway,
how many parameters behind the result are assumptions, changed parameters and provenance."""

from __future__ import annotations

import html
from pathlib import Path

import numpy as np
import pandas as pd

from nksim.plots._common import sci
from nksim.report.clinical_plots import clinical_section_jobs
from nksim.report.html import _table, changed_parameters, grid, kinetic_figure_jobs, write_report
from nksim.report.provenance import assumptions_html
from nksim.report.render import Step, render


def dose_levels_text(scenario) -> str:
    """'1e6, 1e7, 1e8 cells/kg (level 2 used: 1e7 cells/kg)': the dose levels as a protocol writes them
    (``regimen.dose_level`` is 1-based)."""
    levels = scenario.regimen.dose_levels
    unit = levels[0].unit if levels else ""
    used = scenario.regimen.dose_level
    vals = ", ".join(sci(d.value) for d in levels)
    chosen = ""
    if isinstance(used, int) and 1 <= used <= len(levels):  # regimen.dose_level is 1-based
        chosen = f" (level {used} used: {sci(levels[used - 1].value)} {unit})"
    return f"{vals} {unit}{chosen}"


def cohort_table(result, traj=None) -> pd.DataFrame:
    """Size and medians of the cohort (``traj``: the result's trajectories, or a copy with variables loaded)."""
    traj = result.trajectories if traj is None else traj
    pts = result.patients
    t = traj["time"].values
    day0 = int(np.argmin(np.abs(t)))
    tumor = traj["tumor_viable_total"].values
    return pd.DataFrame({
        "patients": [len(pts)],
        "median weight (kg)": [pts["weight_kg"].median()],
        "median TVDT (d)": [pts["tvdt_d"].median()],
        "median sum of diameters (mm)": [pts["sum_diameters_mm"].median()],
        "median viable tumor day 0 (cells)": [np.median(tumor[:, day0])],
        "median viable tumor end / day 0": [np.median(tumor[:, -1] / np.maximum(tumor[:, day0], 1.0))],
        "median peak product cells/µL": [np.median(traj["nk_blood_per_ul"].values.max(axis=1))],
        "median solver steps": [pts["solver_steps"].median()],
    }).T.rename(columns={0: "value"})


KILL_PATHWAYS = {"cum_kill_car": "CAR-mediated", "cum_kill_nat": "natural cytotoxicity", "cum_kill_adcc": "ADCC",
                 "cum_kill_engager": "NK engager", "cum_chemo_killed": "chemotherapy"}


def kills_table(traj) -> pd.DataFrame:
    """Tumor cells killed by each pathway over the run (all patients) and its share."""
    kills = {KILL_PATHWAYS[k]: float(traj[k].isel(time=-1).sum()) for k in KILL_PATHWAYS if k in traj}
    total = sum(kills.values()) or 1.0
    return pd.DataFrame({"tumor cells killed": kills,
                         "share": {k: f"{100 * v / total:.1f}%" for k, v in kills.items()}})


def report_steps(result) -> int:
    """How many parts ``write_run_report`` draws (``step`` is called once per part)."""
    return len(_jobs(result))


SHARED_VARIABLES = ("nk_blood_per_ul", "tumor_viable_total", "cytokine_pg_ml")  # read by several parts


def shared_trajectories(traj):
    """A shallow copy of the trajectories with the variables several parts read loaded once (from a lazy run
    folder each read decompresses every chunk; forked workers inherit the loaded arrays)."""
    out = traj.copy(deep=False)
    for v in SHARED_VARIABLES:
        if v in out and not isinstance(out[v].data, np.ndarray):
            out[v] = out[v].load()
    return out


def _jobs(result, traj=None) -> list[tuple[str, str, object]]:
    """(heading, progress label, draw) of every drawn part, in the report's order."""
    traj = result.trajectories if traj is None else traj
    pts = result.patients
    kinetics = kinetic_figure_jobs(traj)
    return [
        ("Cohort", "cohort table", lambda: _table(cohort_table(result, traj))),
        *clinical_section_jobs(traj, pts),
        *(("Kinetics (median, 10-90% band over patients, five individual patients in grey)", label, draw)
          for label, draw in kinetics),
        ("Who killed the tumor: cumulative kills by pathway (all patients)", "kills by pathway",
         lambda: _table(kills_table(traj))),
    ]


def write_run_report(result, out: Path, step: Step | None = None, processes: int | None = None) -> Path:
    """Write ``out/report.html`` for a :class:`nksim.SimulationResult`; returns its path. The figures are drawn in
    parallel (``nksim.report.render``; ``processes``: forked workers, 1 = in this process); ``step(label)`` is
    called as each part is done (``report_steps(result)`` parts)."""
    from nksim.population.sampling import typical_values

    sc = result.scenario
    jobs = _jobs(result, shared_trajectories(result.trajectories))
    parts = render([(label, draw) for _, label, draw in jobs], step, processes)
    drawn: list[tuple[str, str]] = []
    for (heading, _, _), text in zip(jobs, parts):  # the kinetic figures share one section, side by side
        if drawn and drawn[-1][0] == heading and heading.startswith("Kinetics"):
            drawn[-1] = (heading, drawn[-1][1] + text)
        else:
            drawn.append((heading, text))
    drawn = [(h, grid(t) if h.startswith("Kinetics") else t) for h, t in drawn]
    values = typical_values(sc)
    changed = changed_parameters(values)
    sections = [
        ("Scenario", f"<p>{html.escape(sc.description)}</p><p class='note'>product: {html.escape(sc.product.name)}; "
                     f"indication: {html.escape(str(sc.tumor.indication))}; dose levels: "
                     f"{html.escape(dose_levels_text(sc))}; infusion days "
                     f"{', '.join(f'{d:g}' for d in sc.regimen.infusion_days)}</p>"),
        ("How much of this result rests on assumptions", assumptions_html(values)),
        *drawn,
        ("Parameters that differ from registry defaults", _table(changed) if len(changed) else "<p>none</p>"),
    ]
    return write_report(out / "report.html", f"nksim run: {sc.name}", sections, result.provenance)
