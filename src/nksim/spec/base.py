"""Base class of every scenario object: frozen, extra fields forbidden, finite numbers only."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field


class Frozen(BaseModel):
    """Immutable pydantic model that rejects unknown (misspelt) fields and non-finite numbers (inf, nan)."""

    model_config = ConfigDict(frozen=True, extra="forbid", validate_default=True, allow_inf_nan=False)


class FieldProblem(ValueError):
    """Raised by a validator: ``field`` (dotted, relative to the model that raises it; "" for the model's own
    field), its ``value`` and what is ``allowed``. ``nksim.spec.io`` turns it into one line naming the full field
    path, never the whole model's input."""

    def __init__(self, field: str, value: object, allowed: str) -> None:
        super().__init__(f"{field} = {value!r}; expected {allowed}")
        self.field, self.value, self.allowed = field, value, allowed
        self.problems: list[FieldProblem] = [self]

    @staticmethod
    def raise_all(problems: list["FieldProblem"]) -> None:
        """Raise nothing for an empty list, else one FieldProblem carrying all of them (reported one line each)."""
        if problems:
            first = problems[0]
            err = FieldProblem(first.field, first.value, first.allowed)
            err.problems = list(problems)
            if len(problems) > 1:
                err.args = ("; ".join(str(p) for p in problems),)
            raise err


#: Days relative to the first infusion that a scenario may name (lymphodepletion before, scans and doses after).
MIN_DAY = -365.0
MAX_DAY = 3650.0
#: The longest simulated horizon (10 years); see ``Simulation``.
MAX_HORIZON_D = MAX_DAY
Day = Annotated[float, Field(ge=MIN_DAY, le=MAX_DAY)]
