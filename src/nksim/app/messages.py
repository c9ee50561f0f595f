"""Validation the way ``nksim validate`` does it, with its messages (one line per problem), for the pages."""

from __future__ import annotations

from typing import Any, Mapping

from nksim.errors import InputError, InputErrors, show_value
from nksim.spec.scenario import Scenario


def problem_lines(exc: InputError) -> list[str]:
    """The lines ``nksim validate`` prints for an error: ``field = value is not allowed; expected ...``."""
    problems = exc.problems if isinstance(exc, InputErrors) else [exc]
    return [f"{p.field} = {show_value(p.value)} is not allowed; expected {p.allowed}" for p in problems]


def check(scenario: Scenario, where: str) -> Scenario:
    """What ``nksim validate`` checks beyond the schema: every arm's changes and every parameter name."""
    from nksim.population.sampling import typical_values
    from nksim.spec.scenario import check_arms

    sc = check_arms(scenario, where)
    typical_values(sc)
    return sc


def variant(base: Scenario, changes: Mapping[str, Any], where: str = "app") -> Scenario:
    """``base`` with the form's changes, validated like a file (``Scenario.replace``) and checked as above."""
    sc = base.replace(dict(changes), where=where) if changes else base
    return check(sc, where)


def ok_line(sc: Scenario) -> str:
    """The line ``nksim validate`` prints for a valid scenario."""
    return f"ok: {sc.name} ({sc.tumor.indication}, {sc.product.name}, {sc.simulation.n_patients} patients)"
