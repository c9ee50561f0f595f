"""Scenario designer: start from a built-in scenario or an uploaded YAML file, edit it in forms generated from
the schema, see ``nksim validate``'s verdict after every edit, download the YAML."""

from __future__ import annotations

import html
import io

import panel as pn

from nksim.app.forms import ScenarioForm
from nksim.app.messages import ok_line, problem_lines, variant
from nksim.app.session import Session
from nksim.app.uploads import MAX_UPLOAD_BYTES, scenario_from_upload
from nksim.errors import InputError
from nksim.outdirs import slugify
from nksim.spec.io import builtin_names, dump_scenario, load_scenario


def page(session: Session) -> pn.layout.Panel:
    picker = pn.widgets.Select(label="built-in scenario", options=builtin_names(), value=session.scenario.name
                               if session.scenario.name in builtin_names() else None, css_classes=["nk-picker"],
                               width=320)
    upload = pn.widgets.FileInput(accept=".yaml,.yml", multiple=False, css_classes=["nk-upload-scenario"])
    verdict = pn.pane.Markdown("", css_classes=["nk-verdict"], sizing_mode="stretch_width")
    tabs = pn.Tabs(sizing_mode="stretch_width", css_classes=["nk-form"])
    state: dict[str, object] = {"base": session.scenario, "form": None}

    def show(lines: list[str], ok: bool, warnings: list[str] = ()) -> None:
        head = "" if ok else "**invalid** (as `nksim validate` reports it; the other pages keep the last " \
            "valid scenario):\n\n"
        body = "\n".join(f"- `{html.escape(x)}`" if not ok else f"**{html.escape(x)}**" for x in lines)
        warn = "".join(f"\n\n**warning:** {html.escape(w)}" for w in warnings)
        verdict.object = head + body + warn

    def revalidate() -> None:
        form: ScenarioForm = state["form"]  # type: ignore[assignment]
        if form.errors:
            show([line for e in form.errors.values() for line in problem_lines(e)], False)
            return
        try:
            sc = variant(state["base"], form.changes)  # type: ignore[arg-type]
        except InputError as exc:
            show(problem_lines(exc), False)
            return
        session.scenario = sc
        show([ok_line(sc)], True, sc.warnings())

    def rebuild(sc) -> None:
        state["base"] = sc
        form = ScenarioForm(sc, revalidate)
        state["form"] = form
        sections = form.sections()
        tabs[:] = sections
        tabs.active = [title for title, _ in sections].index("regimen")  # dose levels, dose level, infusions
        revalidate()

    def pick(event) -> None:
        if event.new:
            rebuild(load_scenario(event.new))

    def uploaded(event) -> None:
        if upload.value is None:
            return
        try:
            sc = scenario_from_upload(upload.value, upload.filename)
        except InputError as exc:
            show(problem_lines(exc), False)
            return
        picker.value = None
        rebuild(sc)

    picker.param.watch(pick, "value")
    upload.param.watch(uploaded, "value")
    download = pn.widgets.FileDownload(callback=lambda: io.StringIO(dump_scenario(session.scenario)),
                                       filename=f"{slugify(session.scenario.name)}.yaml", button_type="success",
                                       label="Download YAML", css_classes=["nk-download-yaml"], width=200)
    session.param.watch(lambda e: setattr(download, "filename", f"{slugify(e.new.name)}.yaml"), "scenario")
    rebuild(session.scenario)
    intro = pn.pane.Markdown(
        "Start from a built-in scenario or upload a YAML file (at most "
        f"{MAX_UPLOAD_BYTES / 1e6:g} MB, read as YAML only), change any field, and read the verdict below: the same "
        "check and the same messages as `nksim validate`. Lists, mappings and unset groups are edited as one line "
        "of YAML (e.g. `[0, 7, 14]`). The other pages use the last valid scenario.", sizing_mode="stretch_width")
    return pn.Column(intro, pn.Row(picker, pn.Column("upload a scenario (YAML)", upload), download),
                     verdict, tabs, sizing_mode="stretch_width")
