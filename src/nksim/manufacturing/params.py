"""Registry values for one manufacturing process: defaults of module ``manufacturing`` plus the spec's overrides.

``Params`` records which entries a simulation read, so the CLI can list the assumptions a process rests on.
"""

from __future__ import annotations

import math
from typing import Mapping

from nksim.errors import InputError
from nksim.registry import Parameter, load_registry
from nksim.spec.manufacturing import ManufacturingSpec

MODULE = "manufacturing"
_FRACTION_UNITS = ("fraction", "probability")


class Params:
    """Resolved manufacturing parameters (name -> value) that remember which names were read."""

    def __init__(self, values: Mapping[str, float], entries: Mapping[str, Parameter]) -> None:
        self._values = dict(values)
        self._entries = dict(entries)
        self.used: set[str] = set()

    def __getitem__(self, name: str) -> float:
        if name not in self._values:
            raise InputError("parameter", name, f"a manufacturing registry name{load_registry().suggest(name)}")
        self.used.add(name)
        return self._values[name]

    def entry(self, name: str) -> Parameter:
        return self._entries[name]

    def omega2(self, name: str) -> float:
        """Lot-to-lot log-normal variance of ``name``: the registry entry ``<name>_lot_omega2`` (0 if none)."""
        key = f"{name}_lot_omega2"
        return self[key] if key in self._values else 0.0

    def range_sd(self, name: str) -> float:
        """SD implied by reading the registry range of ``name`` as a lot range (about +/- 2 SD)."""
        e = self._entries[name]
        return (e.high - e.low) / 4.0

    def as_dict(self) -> dict[str, float]:
        return dict(self._values)


def resolve_parameters(spec: ManufacturingSpec) -> Params:
    """Registry defaults of module ``manufacturing`` with ``spec.parameters`` applied (checked by name and value)."""
    reg = load_registry()
    entries = {k: p for k, p in reg.items() if p.module == MODULE}
    values = {k: p.default for k, p in entries.items()}
    for name, value in spec.parameters.items():
        if name not in entries:
            raise InputError(
                f"parameters.{name}", value, f"a manufacturing registry parameter name{reg.suggest(name)}"
            )
        v = float(value)
        if not math.isfinite(v):
            raise InputError(f"parameters.{name}", value, "a finite number")
        unit = entries[name].unit
        if unit in _FRACTION_UNITS and not 0.0 <= v <= 1.0:
            raise InputError(f"parameters.{name}", value, f"a {unit} in [0, 1]")
        if v < 0.0:
            raise InputError(f"parameters.{name}", value, f"a non-negative value ({unit})")
        values[name] = v
    return Params(values, entries)


def assumptions_used(params: Params) -> list[dict[str, object]]:
    """Registry entries read by a simulation whose status is not 'sourced' (assumption, unverified, derived)."""
    rows = []
    for name in sorted(params.used):
        e = params.entry(name)
        if e.status != "sourced":
            rows.append({"name": name, "value": params.as_dict()[name], "unit": e.unit, "status": e.status,
                         "range": [e.low, e.high], "source": e.source})
    return rows
