"""Virtual cohort: run the current scenario in a worker (progress bar, cancel), then the report's figures, the
clinical summary, the arm comparison for scenarios with ``arms:`` and the run folder as a zip."""

from __future__ import annotations

import hashlib
import io
import math
import time
import zipfile
from pathlib import Path
from typing import Any

import panel as pn

from nksim.app.figures import figure_grid, png_bytes, png_pane
from nksim.app.jobs import Job, JobControls
from nksim.app.session import Session
from nksim.errors import InputError
from nksim.outdirs import slugify

#: the most patients one app run may have (bigger cohorts: `nksim run`, which has --workers)
MAX_APP_PATIENTS = 20_000
#: progress granularity: about this many chunks per run (each chunk is one progress step and one cancel point);
#: a chunk has 25..256 patients (smaller chunks cost more than they show: 200 patients in chunks of 10 took 5.0 s,
#: in chunks of 25 2.1 s, in one chunk 1.0 s on the loaded 2-core machine)
STEPS = 8
CHUNK_RANGE = (25, 256)
TABLE_CSS = ("table { border-collapse: collapse; font-size: 13px; } th, td { padding: 3px 12px; text-align: left; } "
             "tr:nth-child(even) { background: #f4f4f4; } th { border-bottom: 1px solid #888; }")


def figure_specs(trajectories, patients) -> list[tuple[str, Any]]:
    """(title, draw function) of the report's clinical figures, first-read first."""
    from nksim.report import clinical_plots as cp

    return [
        ("Waterfall: best % change", lambda: cp.waterfall_plot(trajectories, patients)),
        ("Spider: % change over time", lambda: cp.spider_plot(trajectories, patients)),
        ("Progression-free survival (Kaplan-Meier, 95% CI)", lambda: cp.km_plot(trajectories, patients, "pfs")),
        ("Overall survival (Kaplan-Meier, 95% CI)", lambda: cp.km_plot(trajectories, patients, "os")),
        ("Swimmer", lambda: cp.swimmer_plot(trajectories, patients)),
        ("Product cells in blood, with the assay's detection limit", lambda: cp.persistence_plot(trajectories, patients)),
        ("Cytokines and CRS thresholds", lambda: cp.cytokine_plot(trajectories, patients)),
        ("CRS and ICANS grades", lambda: cp.crs_grade_plot(trajectories, patients)),
    ]


def run_folder(session: Session, sc) -> Path:
    """runs/app/cohort-<scenario>-<hash of the resolved scenario>: the same scenario reuses (resumes) its folder."""
    from nksim.spec.io import dump_scenario

    key = hashlib.sha256(dump_scenario(sc).encode("utf-8")).hexdigest()[:10]
    return session.out_folder("cohort", slugify(sc.name)[:48], key)


def zip_folder(folder: Path) -> io.BytesIO:
    """The run folder as a zip (in memory), paths relative to the folder."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for p in sorted(folder.rglob("*")):
            if p.is_file():
                z.write(p, Path(folder.name) / p.relative_to(folder))
    buf.seek(0)
    return buf


def page(session: Session) -> pn.layout.Panel:
    sc0 = session.scenario
    patients = pn.widgets.IntInput(label="virtual patients", value=20, start=1, end=MAX_APP_PATIENTS, width=160,
                                   css_classes=["nk-patients"])
    seed = pn.widgets.IntInput(label="seed", value=sc0.simulation.seed, start=0, width=160, css_classes=["nk-seed"])
    dose = pn.widgets.Select(label="dose level", width=260, css_classes=["nk-dose-level"])
    arm = pn.widgets.Select(label="arm", width=200, css_classes=["nk-arm"])
    about = pn.pane.Markdown("", sizing_mode="stretch_width")
    summary = pn.pane.HTML("", sizing_mode="stretch_width", css_classes=["nk-summary"], stylesheets=[TABLE_CSS])
    figures = pn.Column(sizing_mode="stretch_width", css_classes=["nk-figures"])
    download = pn.widgets.FileDownload(label="Download run folder (zip)", button_type="success", visible=False,
                                       width=260, css_classes=["nk-download-run"])
    arms_out = pn.Column(sizing_mode="stretch_width", css_classes=["nk-arms-out"])
    state: dict[str, Any] = {}

    def sync(*_: Any) -> None:
        from nksim.report.run_report import dose_levels_text

        sc = session.scenario
        levels = sc.regimen.dose_levels
        dose.options = {f"{k + 1}: {d.value:.3g} {d.unit}": k + 1 for k, d in enumerate(levels)}
        dose.value = sc.regimen.dose_level
        arm.options = {"(scenario as designed)": ""} | {a: a for a in sc.arms}
        arm.value = ""
        about.object = (f"**{sc.name}**: {sc.product.name}, {sc.tumor.indication}; dose levels "
                        f"{dose_levels_text(sc)}; infusion days {', '.join(f'{d:g}' for d in sc.regimen.infusion_days)}"
                        f"; horizon {sc.simulation.horizon_d:g} d. Change it on the designer page.")
        arms_box.visible = bool(sc.arms)

    def resolved():
        from nksim.runner import resolve

        sc = resolve(session.scenario, patients.value, seed.value)
        if patients.value is None or patients.value > MAX_APP_PATIENTS:
            raise InputError("virtual patients", patients.value, f"1..{MAX_APP_PATIENTS:,} in the app (more: "
                             "`nksim run --workers N`)")
        sc = sc.with_arm(arm.value or None)
        return sc.replace({"regimen.dose_level": dose.value}, where="dose level") if dose.value else sc

    def make_work():
        sc = resolved()
        folder = run_folder(session, sc)
        n = sc.simulation.n_patients
        figures[:], summary.object, download.visible = [], "", False  # the last run's results go

        def work(job: Job) -> dict[str, Any]:
            from nksim.clinical import summarize
            from nksim.report.clinical_plots import summary_table_html
            from nksim.runner import run_scenario, write_run_report

            t0 = time.perf_counter()
            job.report(0.0, f"simulating {n} patients")
            chunk = min(max(CHUNK_RANGE[0], math.ceil(n / STEPS)), CHUNK_RANGE[1])
            result, _ = run_scenario(sc, folder, chunk_size=chunk, report=False,
                                     show_progress=lambda k, m: job.report(0.9 * m / n, f"{m} of {n} patients"))
            job.report(0.9, "drawing figures")
            traj, pts = result.trajectories, result.patients
            table = summary_table_html(summarize(pts))
            pngs = []
            for title, draw in figure_specs(traj, pts):
                data = png_bytes(draw)
                if data is not None:
                    pngs.append((title, data))
                if len(pngs) == 2:  # the first figures show while the rest are drawn
                    job.partial = {"folder": folder, "table": table, "figures": list(pngs),
                                   "seconds": time.perf_counter() - t0}
            job.partial = {"folder": folder, "table": table, "figures": pngs, "seconds": time.perf_counter() - t0}
            job.report(0.97, "writing report.html")
            write_run_report(result, folder)
            job.report(1.0, f"{n} patients in {time.perf_counter() - t0:.1f} s; run folder `{folder}` "
                       "(report.html, patients.parquet, trajectories)")
            return job.partial

        return work

    def show(res: dict[str, Any]) -> None:
        if state.get("shown") == (id(res), len(res["figures"])):
            return
        state["shown"] = (id(res), len(res["figures"]))
        summary.object = f"<p>first figures after {res['seconds']:.1f} s</p>" + res["table"]
        figures[:] = figure_grid([png_pane(data, title) for title, data in res["figures"]])
        folder: Path = res["folder"]
        download.filename = f"{folder.name}.zip"
        download.callback = lambda: zip_folder(folder)

    def done(res: dict[str, Any]) -> None:
        show(res)
        download.visible = True

    controls = JobControls("Run cohort", make_work, done, name="cohort", on_partial=show)

    # ---- arm comparison ---------------------------------------------------------------------------------------
    def make_arms_work():
        sc = resolved() if not arm.value else session.scenario
        n, s = patients.value, seed.value

        def work(job: Job) -> dict[str, Any]:
            from nksim.arms import compare_arms
            from nksim.report.arms import km_figure, markdown, write_arms_report

            job.report(0.05, f"simulating {n} patients in each of {len(sc.arms)} arms")
            cmp = compare_arms(sc, arms="all", n_patients=n, seed=s)
            folder = session.out_folder("arms", slugify(sc.name)[:48], f"n{n}", f"seed{s}")
            write_arms_report(cmp, folder)
            job.report(1.0, f"arms compared; files in `{folder}`")
            return {"md": markdown(cmp).split("\n", 2)[2], "png": png_bytes(lambda: km_figure(cmp))}

        return work

    def arms_done(res: dict[str, Any]) -> None:
        arms_out[:] = [pn.pane.Markdown(res["md"], sizing_mode="stretch_width", css_classes=["nk-arms-table"]),
                       png_pane(res["png"], "PFS by arm", max_width_px=900)]

    arms_controls = JobControls("Compare arms", make_arms_work, arms_done, name="arms")
    arms_box = pn.Column(pn.pane.Markdown("### Arm comparison\nThe same virtual patients in every arm of the "
                                          "scenario (`nksim arms`): ORR, median PFS with 95% CI, log-rank tests."),
                         arms_controls.panel(), arms_out, sizing_mode="stretch_width")
    session.param.watch(sync, "scenario")
    sync()
    return pn.Column(about, pn.Row(patients, seed, dose, arm), controls.panel(), download, summary, figures,
                     arms_box, sizing_mode="stretch_width")
