"""Spatial view: run a small region of the agent-based model (`nksim abm run`) in a worker and look at its
fields, cells, counts and the animation."""

from __future__ import annotations

from typing import Any

import panel as pn

from nksim.app.figures import figure_grid, file_pane
from nksim.app.jobs import Job, JobControls
from nksim.app.session import Session
from nksim.errors import InputError

#: the largest lattice side and the longest run the app offers (bigger: `nksim abm run`)
MAX_SIDE = 200
MAX_DAYS = 14.0


def page(session: Session) -> pn.layout.Panel:
    from nksim.spec.spatial import builtin_spatial_scenarios

    names = [n for n in builtin_spatial_scenarios() if "in-vitro" not in n] or builtin_spatial_scenarios()
    scenario = pn.widgets.Select(label="spatial scenario", options=names, width=260, css_classes=["nk-abm-scenario"])
    side = pn.widgets.IntInput(label="lattice side (voxels)", value=60, start=20, end=MAX_SIDE, width=170)
    days = pn.widgets.FloatInput(label="days", value=2.0, start=0.1, end=MAX_DAYS, width=110)
    seed = pn.widgets.IntInput(label="seed", value=0, start=0, width=100)
    out = pn.Column(sizing_mode="stretch_width", css_classes=["nk-abm-out"])

    def make_work():
        from nksim.spec.spatial import load_spatial_spec

        if not 20 <= int(side.value) <= MAX_SIDE:
            raise InputError("lattice side", side.value, f"20..{MAX_SIDE} voxels in the app")
        if not 0 < float(days.value) <= MAX_DAYS:
            raise InputError("days", days.value, f"(0, {MAX_DAYS:g}] in the app")
        spec = load_spatial_spec(scenario.value)  # a built-in name from the list, never a path
        n, d, s = int(side.value), float(days.value), int(seed.value)
        spec = spec.with_updates(**{"tissue.size": (n, n), "tissue.dims": 2})

        def work(job: Job) -> dict[str, Any]:
            from nksim.spatial.model import Simulation
            from nksim.spatial.outputs import write_outputs
            from nksim.spatial.pictures import attach_recorder

            folder = session.out_folder("abm", spec.name, f"{n}x{n}", f"{d:g}d", f"seed{s}")
            job.report(0.0, f"{spec.name}: {n}x{n} voxels, {d:g} days")
            sim = Simulation.create(spec, seed=s, days=d)
            attach_recorder(sim, folder)
            sim.run(progress=lambda f: job.report(0.9 * f, f"day {f * d:.2f} of {d:g}"))
            job.report(0.92, "writing pictures")
            files = write_outputs(sim, folder)
            last = sim.dataset().isel(time=-1)
            job.report(1.0, f"day {float(last.time):.2f}: tumor antigen+ {int(last.tumor_antigen_pos)}, antigen- "
                       f"{int(last.tumor_antigen_neg)}, NK alive {int(last.nk_total)}; kills CAR {int(last.kills_car)}"
                       f" / natural {int(last.kills_nat)} / ADCC {int(last.kills_adcc)}; run folder `{folder}`")
            return files

        return work

    def done(files: dict[str, str]) -> None:
        snaps = sorted(k for k in files if k.startswith("snapshot_"))
        picks = [("animation", "Tumor and NK cells over time (GIF)")] + [
            (k, f"Last snapshot ({k.split('_')[1]})") for k in snaps[-1:]] + [
            ("fields", "Fields at the end"), ("counts", "Cell counts and kills over time"),
            ("depth_profile", "Infiltration depth"), ("kill_histogram", "Kills per NK cell")]
        picks = [(k, t) for k, t in picks if k in files]
        wide = {i for i, (k, _) in enumerate(picks) if k in ("fields", "counts")}
        out[:] = figure_grid([file_pane(files[k], t) for k, t in picks], wide)

    controls = JobControls("Run ABM", make_work, done, name="abm")
    intro = pn.pane.Markdown("A small region of the spatial agent-based model (`nksim abm run`): NK cells entering "
                             "from vessels, killing tumor cells, chemokine and oxygen fields. A 60x60 region for 2 days "
                             "takes about 15 s; larger regions and the 3-D model: `nksim abm run --size`.",
                             sizing_mode="stretch_width")
    return pn.Column(intro, pn.Row(scenario, side, days, seed), controls.panel(), out, sizing_mode="stretch_width")
