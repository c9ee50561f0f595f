"""Manufacturing: simulate lots of a process (`nksim manufacture`): yield, release, doses per lot, cost and
vein-to-vein time, with the growth curves and doses-per-lot plots."""

from __future__ import annotations

from typing import Any

import pandas as pd
import panel as pn

from nksim.app.figures import figure_grid, file_pane
from nksim.app.jobs import Job, JobControls
from nksim.app.session import Session
from nksim.errors import InputError


def page(session: Session) -> pn.layout.Panel:
    from nksim.manufacturing.loader import builtin_processes

    processes = builtin_processes()
    own = session.scenario.manufacturing
    options = ({"(the current scenario's process)": "scenario"} if own is not None else {}) | {
        f"{k}: {v[:70]}": k for k, v in processes.items()}
    process = pn.widgets.Select(label="process", options=options, width=560, css_classes=["nk-mfg-process"])
    lots = pn.widgets.IntInput(label="lots", value=200, start=1, end=5000, width=120, css_classes=["nk-mfg-lots"])
    seed = pn.widgets.IntInput(label="seed", value=0, start=0, width=100)
    table = pn.pane.DataFrame(None, index=False, width=1000, css_classes=["nk-mfg-table"], justify="left",
                              stylesheets=["td, th { text-align: left !important; padding: 3px 14px; }"])
    notes = pn.pane.Markdown("", sizing_mode="stretch_width")
    plots = pn.Column(sizing_mode="stretch_width")

    def make_work():
        from nksim.manufacturing.loader import load_manufacturing_spec

        spec = load_manufacturing_spec(session.scenario if process.value == "scenario" else process.value)
        n, s = int(lots.value), int(seed.value)
        if n < 1:
            raise InputError("lots", n, "a positive integer")

        def work(job: Job) -> dict[str, Any]:
            from nksim.manufacturing.cli import run_manufacture

            job.report(0.05, f"simulating {n} lots of {spec.name}")
            folder = session.out_folder("manufacture", spec.name or "process", s)
            summary = run_manufacture(spec, n, s, folder, plots=True, progress=False)
            job.report(1.0, f"{n} lots of {spec.name}; run folder `{folder}`")
            return {"summary": summary, "folder": folder}

        return work

    def done(res: dict[str, Any]) -> None:
        from nksim.manufacturing.cli import COST_NOTE, _rows

        s = res["summary"]
        table.object = pd.DataFrame(_rows(s), columns=["quantity", "median / rate", "90% of lots (5th-95th pct)"])
        a = s.get("assumptions", [])
        n_ass = sum(r["status"] == "assumption" for r in a)
        notes.object = ((COST_NOTE + "\n\n" if s.get("cost") else "")
                        + f"Not data: {n_ass} assumptions and {len(a) - n_ass} unverified/derived values feed this "
                        "process (summary.json in the run folder lists them with their sources).")
        folder = res["folder"]
        plots[:] = figure_grid([file_pane(folder / f, t) for f, t in (("growth_curves.png", "Growth curves"),
                                                                       ("doses_per_lot.png", "Doses per lot"))
                                if (folder / f).exists()])

    controls = JobControls("Simulate lots", make_work, done, name="mfg")
    intro = pn.pane.Markdown("Lots of a manufacturing process, as `nksim manufacture`: expansion, release tests, "
                             "full doses per lot, cost per dose and vein-to-vein time (median and 90% of lots).",
                             sizing_mode="stretch_width")
    return pn.Column(intro, pn.Row(process, lots, seed), controls.panel(), table, notes, plots,
                     sizing_mode="stretch_width")
