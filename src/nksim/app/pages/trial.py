"""Trial designer: dose-escalation designs side by side on the same simulated trials (operating characteristics
table and plots, as `nksim trial compare`), and the mechanistic virtual phase I of the current scenario (as
`nksim trial simulate`)."""

from __future__ import annotations

from typing import Any

import numpy as np
import panel as pn

from nksim.app.figures import png_bytes, png_pane
from nksim.app.jobs import Job, JobControls
from nksim.app.session import Session
from nksim.errors import InputError

DEFAULT_TOX = "0.05, 0.12, 0.25, 0.40, 0.55"


def oc_figure(ocs: list[dict[str, Any]], p_tox=None):
    """Selection %, mean patients per dose and DLT % per dose for each design (grouped bars)."""
    import matplotlib.pyplot as plt

    k = len(ocs[0]["selection_pct"])
    x = np.arange(k)
    w = 0.8 / len(ocs)
    fig, axes = plt.subplots(1, 3, figsize=(14, 3.8), layout="constrained")
    labels = [f"{j + 1}" + (f"\np={p_tox[j]:g}" if p_tox is not None else "") for j in range(k)]
    for i, oc in enumerate(ocs):
        off = (i - (len(ocs) - 1) / 2) * w
        pts, dlt = np.asarray(oc["mean_patients"], float), np.asarray(oc["mean_dlt"], float)
        axes[0].bar(x + off, oc["selection_pct"], w, label=oc["design"])
        axes[1].bar(x + off, pts, w, label=oc["design"])
        axes[2].bar(x + off, 100 * np.divide(dlt, pts, out=np.zeros_like(dlt), where=pts > 0), w, label=oc["design"])
    for ax, title, ylabel in ((axes[0], "selected as MTD/OBD", "% of trials"),
                              (axes[1], "patients treated per dose", "mean patients per trial"),
                              (axes[2], "DLT rate observed per dose", "% of treated patients with a DLT")):
        ax.set_xticks(x, labels)
        ax.set_xlabel("dose level")
        ax.set_ylabel(ylabel)
        ax.set_title(title, fontsize=10)
        ax.set_ylim(0, max(ax.get_ylim()[1], 1.0))
    if not any(np.asarray(oc["mean_dlt"], float).any() for oc in ocs):
        axes[2].text(0.5, 0.5, "no DLT in any simulated trial", ha="center", va="center", transform=axes[2].transAxes)
    axes[0].legend(frameon=False, fontsize=8)
    return fig


def rates_frame(rates):
    """The population rates per dose as a table a reader takes in (doses as 1e+07, rates to 3 digits)."""
    from nksim.plots import sci

    out = rates.copy()
    if "dose" in out:
        out["dose"] = [f"{sci(v)} {u}" for v, u in zip(out["dose"], out.get("unit", [""] * len(out)))]
        out = out.drop(columns=[c for c in ("unit",) if c in out])
    return out.round(3).rename(columns={"dose_level": "dose level", "p_dlt": "P(DLT)", "p_response": "P(response)",
                                        "n": "virtual patients"})


def parse_rates(text: str, field: str, n: int | None = None) -> list[float] | None:
    from nksim.cli_args import parse_floats

    values = parse_floats(text.replace(" ", "") if text else None, field, "comma-separated numbers, e.g. 0.05,0.15,0.3")
    if values is not None and n is not None and len(values) != n:
        raise InputError(field, text, f"{n} numbers, one per dose level")
    return values


def page(session: Session) -> pn.layout.Panel:
    from nksim.trial.designs import DESIGNS

    designs = pn.widgets.MultiChoice(label="designs", options=list(DESIGNS), value=["3+3", "boin", "crm", "keyboard"],
                                     width=420, css_classes=["nk-trial-designs"])
    target = pn.widgets.FloatInput(label="target DLT rate", value=0.3, step=0.05, width=130)
    cohort = pn.widgets.IntInput(label="cohort size", value=3, start=1, width=110)
    n_cohorts = pn.widgets.IntInput(label="max cohorts", value=10, start=1, width=110)
    tox = pn.widgets.TextInput(label="true DLT probability per dose", value=DEFAULT_TOX, width=300,
                               css_classes=["nk-trial-tox"])
    eff = pn.widgets.TextInput(label="true response probability per dose (BOIN12)", value="", width=300)
    trials = pn.widgets.IntInput(label="simulated trials", value=2000, start=1, end=100_000, width=140)
    seed = pn.widgets.IntInput(label="seed", value=1, start=0, width=100)
    table = pn.pane.DataFrame(None, sizing_mode="stretch_width", css_classes=["nk-trial-table"])
    plots = pn.Column(sizing_mode="stretch_width")

    def make_oc_work():
        from nksim.trial.cli import _design

        p_tox = parse_rates(tox.value, "true DLT probability")
        if not p_tox:
            raise InputError("true DLT probability", tox.value, "one probability per dose, e.g. 0.05, 0.15, 0.3")
        p_eff = parse_rates(eff.value, "true response probability", len(p_tox)) if eff.value.strip() else None
        if not designs.value:
            raise InputError("designs", [], "at least one design")
        ds = [_design(n, float(target.value), len(p_tox), int(cohort.value), int(n_cohorts.value), 1, None, False,
                      False, None, "empiric", None) for n in designs.value]
        if p_eff is None and any(d.uses_efficacy for d in ds):
            raise InputError("true response probability", None, "a response probability per dose for boin12")
        n_trials, s = int(trials.value), int(seed.value)

        def work(job: Job) -> dict[str, Any]:
            from nksim.trial.simulate import compare, compare_table

            job.report(0.1, f"{len(ds)} designs x {n_trials} trials")
            ocs = [o.to_dict() for o in compare(ds, p_tox, p_eff, n_trials=n_trials, seed=s)]
            job.report(1.0, f"{len(ds)} designs on the same {n_trials} simulated trials (common random numbers)")
            return {"table": compare_table(ocs), "png": png_bytes(lambda: oc_figure(ocs, p_tox))}

        return work

    def oc_done(res: dict[str, Any]) -> None:
        table.object = res["table"]
        plots[:] = [png_pane(res["png"], "Operating characteristics")]

    oc_controls = JobControls("Simulate trials", make_oc_work, oc_done, name="trial")

    # ---- mechanistic virtual phase I ----------------------------------------------------------------------------
    mech_design = pn.widgets.Select(label="design", options=list(DESIGNS), value="boin", width=140)
    mech_trials = pn.widgets.IntInput(label="virtual trials", value=20, start=1, end=2000, width=130)
    population = pn.widgets.IntInput(label="patients per dose (population rates)", value=100, start=10, end=5000,
                                     width=230)
    mech_out = pn.Column(sizing_mode="stretch_width", css_classes=["nk-mech-out"])

    def make_mech_work():
        from nksim.trial.cli import _design

        sc = session.scenario
        n_doses = len(sc.regimen.dose_levels)
        d = _design(mech_design.value, float(target.value), n_doses, int(cohort.value), int(n_cohorts.value), 1,
                    None, False, False, None, "empiric", None)
        n_trials, n_pop = int(mech_trials.value), int(population.value)

        def work(job: Job) -> dict[str, Any]:
            from nksim.trial.mechanistic import MechanisticOutcomeModel
            from nksim.trial.simulate import compare_table, operating_characteristics

            job.report(0.05, f"population rates: {n_pop} virtual patients at each of {n_doses} doses")
            model = MechanisticOutcomeModel(sc, max_patients=int(d.max_n), horizon_d=112.0)
            rates = model.population_rates(n_pop)
            job.report(0.5, f"{n_trials} virtual trials of {d.name}")
            oc = operating_characteristics(d, rates["p_dlt"].to_numpy(), rates["p_response"].to_numpy(),
                                           n_trials=n_trials, seed=sc.simulation.seed, model=model).to_dict()
            job.report(1.0, f"{sc.name}: {model.simulated_patients} virtual patients simulated")
            return {"rates": rates, "table": compare_table([oc]),
                    "png": png_bytes(lambda: oc_figure([oc], rates["p_dlt"].round(3).tolist()))}

        return work

    def mech_done(res: dict[str, Any]) -> None:
        mech_out[:] = [pn.pane.Markdown("**Population DLT and response rates per dose** (the same virtual patients "
                                        "at every dose)"),
                       pn.pane.DataFrame(rates_frame(res["rates"]), index=False),
                       pn.pane.DataFrame(res["table"], width=520),
                       png_pane(res["png"], "Mechanistic virtual phase I")]

    mech_controls = JobControls("Run virtual phase I", make_mech_work, mech_done, name="mech")
    intro = pn.pane.Markdown(
        "**Designs side by side** for fixed true DLT probabilities (`nksim trial compare`; the same simulated "
        "patients for every design). Rows that are easy to misread: PCS = probability of selecting the correct "
        "dose(s); 'ended before max N' includes 3+3's own stopping rule.", sizing_mode="stretch_width")
    mech_intro = pn.pane.Markdown(
        "### Mechanistic virtual phase I of the current scenario\n`nksim trial simulate`: every patient a trial "
        "enrolls is a virtual patient of the scenario, simulated at the dose the design gives (DLT and response from "
        "the clinical readouts). Target, cohort size and max cohorts are taken from above.", sizing_mode="stretch_width")
    return pn.Column(intro, pn.Row(designs, target, cohort, n_cohorts), pn.Row(tox, eff, trials, seed),
                     oc_controls.panel(), table, plots, mech_intro, pn.Row(mech_design, mech_trials, population),
                     mech_controls.panel(), mech_out, sizing_mode="stretch_width")
