"""Write ``nksim/kinetics/_layout.py``, the state / parameter / event layout derived from the process declarations,
as plain constants an IDE and a type checker can see. Run ``python -m nksim.kinetics.codegen.layout_file`` after
changing a declaration (a test compares the committed file with this output)."""

from __future__ import annotations

import re
from pathlib import Path

from nksim.kinetics.processes import EV_NONE, layout

TARGET = Path(__file__).resolve().parent.parent / "_layout.py"


def _const(name: str) -> str:
    return re.sub(r"\W", "_", name).upper()


def render() -> str:
    L = layout()
    out = ["# ruff: noqa: E501", '"""Index layout of the state, parameter, segment and algebraic vectors, and the event codes.',
           "",
           "GENERATED from the declarations in nksim.kinetics.processes by nksim.kinetics.codegen.layout_file:",
           "do not edit by hand. State vector of a patient = systemic block (NSYS) + per lesion (LES_FIXED lesion",
           "states + one tumor state per antigen class). Parameter vector = scalar block (NPAR) + NLP per lesion +",
           'NCP per class. Segment description = [start time, one value per closed-form pool]."""',
           "", "from __future__ import annotations", ""]

    def table(title: str, var: str, rows: list[tuple[str, str, str, str]], prefix: str, count: str) -> None:
        out.append(f"# ---- {title} " + "-" * max(4, 100 - len(title)))
        out.append(f"{var}: list[tuple[str, str, str]] = [")
        for name, unit, doc, owner in rows:
            out.append(f"    ({name!r}, {unit!r}, {doc!r}),  # {owner}")
        out.append("]")
        for i, (name, *_rest) in enumerate(rows):
            out.append(f"{prefix}{_const(name)} = {i}")
        out.append(f"{count} = {len(rows)}")
        out.append("")

    owner = {id(x): o for x, o in L.STATES + L.PARAMS}
    table("systemic states", "SYSTEMIC_STATES", [(s.name, s.unit, s.doc, owner[id(s)]) for s in L.SYSTEMIC], "S_",
          "NSYS")
    table("per-lesion states (offsets inside a lesion block; the tumor classes follow)", "LESION_STATE_TABLE",
          [(s.name, s.unit, s.doc, owner[id(s)]) for s in L.LESION], "L_", "LES_FIXED")
    out.append(f"LESION_STATES = [name for name, _, _ in LESION_STATE_TABLE]")
    cs = L.CLASS_STATE
    out.append(f"CLASS_STATE = ({cs.name!r}, {cs.unit!r}, {cs.doc!r})")
    out.append("")
    table("scalar parameters", "SCALAR_PARAM_TABLE", [(p.name, p.unit, p.doc, owner[id(p)]) for p in L.SCALAR], "P_",
          "NPAR")
    out.append("SCALAR_PARAMS = [name for name, _, _ in SCALAR_PARAM_TABLE]")
    out.append("")
    table("per-lesion parameters (offsets inside a lesion parameter block)", "LESION_PARAM_TABLE",
          [(p.name, p.unit, p.doc, owner[id(p)]) for p in L.LESION_PARAMS], "LP_", "NLP")
    out.append("LESION_PARAMS = [name for name, _, _ in LESION_PARAM_TABLE]")
    out.append("")
    table("per-class parameters", "CLASS_PARAM_TABLE", [(p.name, p.unit, p.doc, owner[id(p)]) for p in L.CLASS_PARAMS],
          "CP_", "NCP")
    out.append("CLASS_PARAMS = [name for name, _, _ in CLASS_PARAM_TABLE]")
    out.append("")
    table("closed-form pools (segment entries 1..)", "POOLS", [(p.name, p.unit, p.doc, p.rate) for p in L.POOLS],
          "SEG_", "NPOOL")
    out.append("NSEG = NPOOL + 1")
    out.append("")
    table("algebraic outputs", "ALGEBRAIC", [(a.name, a.unit, a.doc, "") for a in L.ALGEBRAIC], "A_", "NALG")
    out.append("# ---- events " + "-" * 96)
    out.append(f"EV_NONE = {EV_NONE}")
    for e in sorted(L.EVENTS, key=lambda e: e.code):
        what = "; ".join(x for x in (f"a = {e.a}" if e.a else "", f"b = {e.b}" if e.b else "") if x)
        out.append(f"EV_{_const(e.name)} = {e.code}  # {what}")
    out.append("EVENTS: dict[int, str] = {" + ", ".join(f"{e.code}: {e.name!r}" for e in L.EVENTS) + "}")
    out.append("")
    text = "\n".join(out)
    return text.replace("  # \n", "\n")


def main() -> None:
    TARGET.write_text(render(), encoding="utf-8")
    print(f"wrote {TARGET}")


if __name__ == "__main__":
    main()
