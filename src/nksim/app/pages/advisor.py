"""Next-dose advisor: type or upload the trial's data (dose level, DLT, optionally response), get the design's
decision with its reasoning, the per-dose estimates, the dose paths and the boundary table. The design is built
and the data read by the same functions as `nksim trial next-dose`, so the decision is the CLI's."""

from __future__ import annotations

from typing import Any

import pandas as pd
import panel as pn

from nksim.app.messages import problem_lines
from nksim.app.session import Session
from nksim.app.uploads import MAX_UPLOAD_BYTES, csv_text_from_upload, trial_data_from_text
from nksim.errors import InputError

EXAMPLE = "dose_level,dlt\n1,0\n1,0\n1,0\n2,0\n2,1\n2,0\n"
#: the boundary-table rows as `nksim trial next-dose` prints them
BOUNDARY_ROWS = (("escalate if # of DLT <=", "escalate_if_dlt_le"), ("de-escalate if # of DLT >=", "deescalate_if_dlt_ge"),
                 ("eliminate if # of DLT >=", "eliminate_if_dlt_ge"),
                 ("stop (lowest dose) if >=", "stop_if_dlt_ge_at_lowest_dose"))


def decision_line(rec: dict[str, Any]) -> str:
    """The first line `nksim trial next-dose` prints."""
    nd = rec["next_dose"]
    return f"{rec['design']}: next dose {nd if nd is not None else '- (stop)'}: {rec['decision']}"


def boundary_frame(tab: dict[str, Any]) -> pd.DataFrame:
    """The design's boundary table: one column per number of patients treated at a dose."""
    rows = {label: ["NA" if v is None else v for v in tab[key]] for label, key in BOUNDARY_ROWS if key in tab}
    return pd.DataFrame(rows, index=pd.Index(tab["n_treated"], name="patients treated")).T


def per_dose_frame(rec: dict[str, Any]) -> pd.DataFrame:
    pd_, post = rec["per_dose"], rec["posterior"]
    df = pd.DataFrame({"dose level": pd_["dose_level"], "patients": pd_["n"], "DLTs": pd_["dlt"]})
    if pd_.get("response") is not None:
        df["responses"] = pd_["response"]
    for key, label in (("isotonic_dlt_rate", "isotonic DLT rate"), ("ci95_low", "95% low"), ("ci95_high", "95% high"),
                       ("prob_overdose", "P(overdose)")):
        if key in post:
            df[label] = ["-" if v is None or v != v else f"{float(v):.3f}" for v in post[key]]  # untried: "-"
    return df


def paths_text(rec: dict[str, Any]) -> str:
    lines = []
    for node in rec["dose_paths"]:
        nxt = node["next_dose"] if node["next_dose"] is not None else "stop"
        then = ", ".join(f"{c['dlts']}/{c['of']}->{c['next_dose'] if c['next_dose'] is not None else 'stop'}"
                         for c in node["then"])
        lines.append(f"- dose {node['dose']}: {node['dlts']}/{node['of']} DLT -> {nxt}"
                     + (f"; then at {nxt}: {then}" if then else ""))
    return "\n".join(lines)


def page(session: Session) -> pn.layout.Panel:
    from nksim.trial.designs import DESIGNS

    n_levels = len(session.scenario.regimen.dose_levels)
    design = pn.widgets.Select(label="design", options=list(DESIGNS), value="boin", width=150, css_classes=["nk-adv-design"])
    target = pn.widgets.FloatInput(label="target DLT rate", value=0.3, step=0.05, width=130, css_classes=["nk-adv-target"])
    n_doses = pn.widgets.IntInput(label="dose levels", value=max(n_levels, 2), start=1, width=110,
                                  css_classes=["nk-adv-ndoses"])
    cohort = pn.widgets.IntInput(label="cohort size", value=3, start=1, width=110, css_classes=["nk-adv-cohort"])
    n_cohorts = pn.widgets.IntInput(label="max cohorts", value=10, start=1, width=110, css_classes=["nk-adv-ncohorts"])
    phi_e = pn.widgets.FloatInput(label="lowest response rate (BOIN12)", value=None, width=200)
    data = pn.widgets.TextAreaInput(label="treated patients in order (CSV: dose_level,dlt[,response])", value=EXAMPLE,
                                    height=220, width=380, css_classes=["nk-adv-data"])
    upload = pn.widgets.FileInput(accept=".csv,.txt", css_classes=["nk-adv-upload"])
    button = pn.widgets.Button(label="Recommend next dose", button_type="primary", css_classes=["nk-adv-run"])
    decision = pn.pane.Markdown("", sizing_mode="stretch_width", css_classes=["nk-adv-decision"])
    details = pn.Column(sizing_mode="stretch_width")

    def uploaded(_: Any) -> None:
        if upload.value is None:
            return
        try:
            data.value = csv_text_from_upload(upload.value, upload.filename)
        except InputError as exc:
            decision.object = "**error:** " + "; ".join(problem_lines(exc))

    def recommend_now(_: Any = None) -> None:
        import dataclasses

        from nksim.trial.advisor import recommend
        from nksim.trial.cli import _design  # the CLI's own settings -> design mapping

        try:
            d = _design(design.value, float(target.value), int(n_doses.value), int(cohort.value), int(n_cohorts.value),
                        1, None, False, False, None, "empiric", phi_e.value)
            if d.name == "tite-boin":
                d = dataclasses.replace(d, dlt_window_days=28.0)
            folder = session.out_folder("advisor")
            rec = recommend(d, trial_data_from_text(data.value or "", int(n_doses.value), folder))
        except InputError as exc:
            decision.object = "**error:** " + "; ".join(problem_lines(exc))
            details[:] = []
            return
        key = "estimated_obd" if "estimated_obd" in rec else "estimated_mtd"
        decision.object = (f"### {decision_line(rec)}\n\n{rec['n_patients']} patients so far; "
                           f"{key.replace('_', ' ').replace('mtd', 'MTD').replace('obd', 'OBD')}: {rec[key] or 'none'}; eliminated doses: "
                           f"{rec['eliminated_doses'] or 'none'}")
        parts: list[Any] = [pn.pane.Markdown("**Per dose**"), pn.pane.DataFrame(per_dose_frame(rec), index=False)]
        if rec["dose_paths"]:
            parts += [pn.pane.Markdown("**Dose paths for the next cohorts** (DLTs/patients -> next dose)\n\n"
                                       + paths_text(rec))]
        if rec["boundary_table"]:
            tab = rec["boundary_table"]
            lam = (f" (lambda_e = {tab['lambda_e']:.4f}, lambda_d = {tab['lambda_d']:.4f})"
                   if "lambda_e" in tab else "")
            parts += [pn.pane.Markdown(f"**Boundary table{lam}**"),
                      pn.pane.DataFrame(boundary_frame(tab), sizing_mode="stretch_width",
                                        css_classes=["nk-adv-boundaries"])]
        details[:] = parts

    upload.param.watch(uploaded, "value")
    button.on_click(recommend_now)
    intro = pn.pane.Markdown(
        "The decision for a running dose-escalation trial, as `nksim trial next-dose` gives it (the BOIN app's "
        f"'trial conduct'). Type the treated patients in order or upload a CSV (at most {MAX_UPLOAD_BYTES / 1e6:g} "
        "MB); a `response` column (0/1) is needed for BOIN12, `followup_days` for TITE-BOIN.",
        sizing_mode="stretch_width")
    return pn.Column(intro, pn.Row(design, target, n_doses, cohort, n_cohorts, phi_e),
                     pn.Row(data, pn.Column("or upload a CSV", upload, button)), decision, details,
                     sizing_mode="stretch_width")
