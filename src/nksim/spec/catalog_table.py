"""The shared catalogs (``nksim.spec.catalog``) as rows for ``nksim catalog`` and ``nksim validate --list``."""

from __future__ import annotations

from typing import Any

from nksim.spec.catalog import ANTIGENS, CHEMOKINE_RECEPTORS, INDICATIONS, RESPONSE_CRITERIA

KINDS = ("antigens", "indications", "criteria", "chemokine_receptors")


def catalog_rows(kind: str) -> list[dict[str, Any]]:
    """One dict per name (``name``, ``about`` and the entry's fields), sorted by name."""
    if kind == "antigens":
        return [{"name": a.name, "about": f"{a.kind}; {a.note}", "kind": a.kind,
                 "normal_tissue_expression": a.normal_tissue_expression, "normal_circulating": a.normal_circulating}
                for a in sorted(ANTIGENS.values(), key=lambda a: a.name)]
    if kind == "indications":
        return [{"name": i.name, "about": f"{i.note} (criteria {i.criteria}; organ {i.organ})", "criteria": i.criteria,
                 "organ": i.organ, "chemokines": list(i.chemokines), "systemic": i.systemic}
                for i in sorted(INDICATIONS.values(), key=lambda i: i.name)]
    if kind == "criteria":
        return [{"name": k, "about": v} for k, v in sorted(RESPONSE_CRITERIA.items())]
    if kind == "chemokine_receptors":
        return [{"name": k, "about": "follows " + ", ".join(v), "chemokines": list(v)}
                for k, v in sorted(CHEMOKINE_RECEPTORS.items())]
    raise KeyError(kind)
