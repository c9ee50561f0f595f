"""Mass balance: one ledger row per step and cell population (cells in + generated = cells out + losses by cause)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterable, Sequence

POPULATIONS = ("nk", "t", "other", "ipsc")


@dataclass(frozen=True)
class LedgerRow:
    """Cells of one population through one step (viable cells unless the cause says otherwise)."""

    step: str
    population: str
    cells_in: float
    cells_out: float
    generated: float = 0.0  # cells made in the step (proliferation, differentiation)
    losses: dict[str, float] = field(default_factory=dict)  # cause -> cells

    @property
    def imbalance(self) -> float:
        """(in + generated) - (out + losses); zero when the books balance."""
        return self.cells_in + self.generated - self.cells_out - sum(self.losses.values())

    def as_dict(self) -> dict[str, object]:
        return {"step": self.step, "population": self.population, "cells_in": self.cells_in,
                "generated": self.generated, "cells_out": self.cells_out, "losses": dict(self.losses)}


def row(step: str, population: str, cells_in: float, cells_out: float, generated: float = 0.0,
        **losses: float) -> LedgerRow:
    """A ledger row; losses by cause as keyword arguments (zero causes dropped)."""
    lost = {k: float(v) for k, v in losses.items()}
    return LedgerRow(step, population, float(cells_in), float(cells_out), float(generated),
                     {k: v for k, v in lost.items() if v != 0.0})


def check_ledger(rows: Sequence[LedgerRow], rtol: float = 1e-9) -> list[str]:
    """Problems in a ledger: rows that do not balance, negative entries, and steps that do not chain.

    Chaining: for each population, a row's cells_in equals the previous row's cells_out.
    """
    problems: list[str] = []
    last_out: dict[str, float] = {}
    for r in rows:
        scale = max(r.cells_in + r.generated, r.cells_out, 1.0)
        if abs(r.imbalance) > rtol * scale:
            problems.append(f"{r.step}/{r.population}: imbalance {r.imbalance:.6g} cells")
        entries = [r.cells_in, r.cells_out, r.generated, *r.losses.values()]
        if min(entries) < 0.0:
            problems.append(f"{r.step}/{r.population}: negative entry {min(entries):.6g}")
        prev = last_out.get(r.population)
        if prev is not None and abs(prev - r.cells_in) > rtol * max(prev, 1.0):
            problems.append(f"{r.step}/{r.population}: cells_in {r.cells_in:.6g} != previous out {prev:.6g}")
        last_out[r.population] = r.cells_out
    return problems


def totals(rows: Iterable[LedgerRow]) -> dict[str, dict[str, float]]:
    """Losses by cause summed over steps, per population."""
    out: dict[str, dict[str, float]] = {}
    for r in rows:
        d = out.setdefault(r.population, {})
        for cause, n in r.losses.items():
            d[cause] = d.get(cause, 0.0) + n
    return out
