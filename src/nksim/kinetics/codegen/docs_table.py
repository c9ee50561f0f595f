"""The model tables of docs/model.md, generated from the process declarations: per process, its states,
parameters (with the registry parameter each is read from, or how it is derived), pools, outputs and events.
``python -m nksim.kinetics.codegen.docs_table`` rewrites the block between the markers; a test compares."""

from __future__ import annotations

from pathlib import Path

from nksim.kinetics.processes import PROCESSES

BEGIN = "<!-- BEGIN GENERATED: nksim.kinetics.codegen.docs_table -->"
END = "<!-- END GENERATED -->"
DOC = Path(__file__).resolve().parents[4] / "docs" / "model.md"


def _cell(x: str) -> str:
    return x.replace("|", "\\|")


def render() -> str:
    out = [BEGIN, ""]
    for mod in PROCESSES:
        short = mod.__name__.rsplit(".", 1)[-1]
        first = (mod.__doc__ or "").strip().split("\n\n")[0].replace("\n", " ")
        out.append(f"### `{short}` ([src/nksim/kinetics/processes/{short}.py](../src/nksim/kinetics/processes/{short}.py))")
        out.append("")
        out.append(first)
        out.append("")
        rows = []
        for s in getattr(mod, "STATES", ()):
            rows.append(("state" + ("" if s.scope == "systemic" else f" ({s.scope})"), s.name, s.unit, s.doc, ""))
        for p in getattr(mod, "POOLS", ()):
            rows.append(("pool (closed form)", p.name, p.unit, p.doc, f"decays at `{p.rate}`"))
        for p in getattr(mod, "PARAMS", ()):
            src = f"registry `{p.registry}`" if p.registry else f"derived: {p.derived}"
            rows.append(("parameter" + ("" if p.scope == "scalar" else f" ({p.scope})"), p.name, p.unit, p.doc, src))
        for a in getattr(mod, "ALGEBRAIC", ()):
            rows.append(("output", a.name, a.unit, a.doc, ""))
        for e in getattr(mod, "EVENTS", ()):
            rows.append((f"event {e.code}", e.name, "", "; ".join(x for x in (f"a: {e.a}" if e.a else "",
                                                                               f"b: {e.b}" if e.b else "") if x), ""))
        if rows:
            out.append("| kind | name | unit | meaning | source |")
            out.append("|---|---|---|---|---|")
            for kind, name, unit, doc, src in rows:
                out.append(f"| {kind} | `{name}` | {_cell(unit)} | {_cell(doc)} | {_cell(src)} |")
            out.append("")
    out.append(END)
    return "\n".join(out)


def update(text: str) -> str:
    """``text`` (docs/model.md) with its generated block replaced."""
    i, j = text.index(BEGIN), text.index(END) + len(END)
    return text[:i] + render() + text[j:]


if __name__ == "__main__":
    DOC.write_text(update(DOC.read_text(encoding="utf-8")))
    print(f"updated {DOC}")
