"""The parameter registry: one data file (``data/parameters.yaml``) with every model parameter.

Each entry has a name, default, unit, plausible range (parameter uncertainty), optional between-patient variability
(log-normal omega^2, kept apart from the range), a source from the research dossier or the word "assumption", a
status (sourced / derived / unverified / assumption) and a note. Code reads parameters only through this module.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass
from functools import cached_property, lru_cache
from importlib import resources
from typing import Any, Iterable, Mapping

from nksim.errors import InputError, did_you_mean
from nksim.yaml_load import safe_load

STATUSES = ("sourced", "derived", "unverified", "assumption")
#: units of quantities that divide (times, densities, sizes): 0 is outside their physical domain; rates and
#: amounts may be 0 (a process switched off)
POSITIVE_UNITS = frozenset({"d", "h", "cells/cm3", "cells/mL", "kg", "mm", "cm3", "mL/kg", "copies/cell", "pg/cell"})


@dataclass(frozen=True)
class Parameter:
    """One registry entry."""

    name: str
    module: str
    default: float
    unit: str
    low: float
    high: float
    source: str
    status: str
    note: str = ""
    iiv_omega2: float | None = None
    transform: str = "log"  # "log" (log-normal variability/uncertainty) or "linear" / "logit" for fractions

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    def domain(self) -> tuple[float, float, bool, str]:
        """The physical domain (low, high, low_open, words): fractions in [0, 1], times, densities and sizes
        (``POSITIVE_UNITS``) > 0, other non-negative quantities >= 0. A value outside the plausible ``[low, high]``
        but inside the domain is allowed (``check`` returns a warning)."""
        inf = float("inf")
        if self.transform == "logit" or self.unit == "fraction":
            return 0.0, 1.0, False, "a fraction in [0, 1]"
        if self.unit in POSITIVE_UNITS and self.low > 0:
            return 0.0, inf, True, "a number > 0"
        if self.low >= 0:
            return 0.0, inf, False, "a number >= 0"
        return -inf, inf, False, "a finite number"

    def check(self, value: float, field: str) -> str | None:
        """Raise InputError when ``value`` is outside the physical domain; return a warning (range and source)
        when it is outside the plausible range; None when it is inside."""
        import math

        lo, hi, open_lo, words = self.domain()
        v = float(value)
        if not math.isfinite(v) or v < lo or v > hi or (open_lo and v <= lo):
            raise InputError(field, value, f"{words} ({self.name}, {self.unit}; plausible range [{self.low:g}, "
                                           f"{self.high:g}])")
        if not self.low <= v <= self.high:
            return (f"{field} = {v:g} is outside the plausible range [{self.low:g}, {self.high:g}] {self.unit} "
                    f"(source: {self.source})")
        return None


def _check_entry(raw: Mapping[str, Any], index: int) -> Parameter:
    where = f"parameters.yaml entry {index}"
    required = ("name", "module", "default", "unit", "range", "source", "status")
    for key in required:
        if key not in raw:
            raise InputError(key, None, "a value (every registry entry needs " + ", ".join(required) + ")", where)
    name = str(raw["name"])
    unknown = set(raw) - {*required, "note", "iiv_omega2", "transform"}
    if unknown:
        raise InputError(f"{name}.{sorted(unknown)[0]}", raw[sorted(unknown)[0]], "no such registry field", where)
    lo, hi = (float(v) for v in raw["range"])
    default = float(raw["default"])
    if not lo <= default <= hi:
        raise InputError(f"{name}.default", default, f"a value inside its range [{lo}, {hi}]", where)
    status = str(raw["status"])
    if status not in STATUSES:
        raise InputError(f"{name}.status", status, f"one of {STATUSES}", where)
    if status == "assumption" and "assumption" not in str(raw["source"]).lower():
        raise InputError(f"{name}.source", raw["source"], "a source that says 'assumption' for status assumption", where)
    omega2 = raw.get("iiv_omega2")
    return Parameter(
        name=name,
        module=str(raw["module"]),
        default=default,
        unit=str(raw["unit"]),
        low=lo,
        high=hi,
        source=str(raw["source"]),
        status=status,
        note=str(raw.get("note", "")),
        iiv_omega2=None if omega2 is None else float(omega2),
        transform=str(raw.get("transform", "log")),
    )


class Registry(Mapping[str, Parameter]):
    """Read-only mapping name -> Parameter, with defaults and override checking."""

    def __init__(self, entries: Iterable[Parameter], text: str) -> None:
        self._entries: dict[str, Parameter] = {}
        for p in entries:
            if p.name in self._entries:
                raise InputError("name", p.name, "a parameter name used once in the registry", "parameters.yaml")
            self._entries[p.name] = p
        self.sha256 = hashlib.sha256(text.encode()).hexdigest()

    def __getitem__(self, name: str) -> Parameter:
        try:
            return self._entries[name]
        except KeyError:
            raise InputError("parameter", name, f"a registry parameter name{self.suggest(name)}")

    def __contains__(self, name: object) -> bool:
        return name in self._entries

    def __iter__(self):
        return iter(self._entries)

    def __len__(self) -> int:
        return len(self._entries)

    @cached_property
    def iiv_omega2(self) -> dict[str, float]:
        """Name -> between-patient variance omega^2 of every parameter that gives one (computed once: the registry
        is read-only; do not change the dict)."""
        return {n: p.iiv_omega2 for n, p in self._entries.items() if p.iiv_omega2}

    def close(self, name: str) -> list[str]:
        import difflib

        return difflib.get_close_matches(name, list(self._entries), n=3)

    def suggest(self, name: str) -> str:
        """`` (did you mean 'x'?); see `nksim params``` for a name that is not in the registry."""
        return f"{did_you_mean(name, self._entries)}; see `nksim params`"

    def defaults(self, module: str | None = None) -> dict[str, float]:
        return {k: p.default for k, p in self._entries.items() if module is None or p.module == module}

    def resolve(self, overrides: Mapping[str, float] | None, where: str = "parameters") -> dict[str, float]:
        """Defaults with ``overrides`` applied by name; an unknown name or a non-finite value is an error."""
        values = self.defaults()
        for name, value in (overrides or {}).items():
            if name not in self._entries:
                raise InputError(f"{where}.{name}", value, f"a registry parameter name{self.suggest(name)}")
            self._entries[name].check(value, f"{where}.{name}")
            values[name] = float(value)
        return values

    def calibrated(self, values: Mapping[str, float], source: str) -> "Registry":
        """A registry whose defaults are ``values`` (a calibration), each such entry's source and status saying so;
        the file on disk is not changed. Values outside a parameter's range widen the range (noted)."""
        from dataclasses import replace

        entries = []
        for name, p in self._entries.items():
            if name in values:
                v = float(values[name])
                note = f"{p.note}; registry default {p.default:g} ({p.source})".strip("; ")
                entries.append(replace(p, default=v, low=min(p.low, v), high=max(p.high, v), source=source,
                                       status="derived", note=note))
            else:
                entries.append(p)
        out = Registry(entries, "")
        out.sha256 = hashlib.sha256((self.sha256 + json.dumps(dict(values), sort_keys=True)).encode()).hexdigest()
        return out

    def table(self, module: str | None = None) -> list[dict[str, Any]]:
        return [p.as_dict() for p in self._entries.values() if module is None or p.module == module]

    def to_json(self) -> str:
        return json.dumps(self.table(), indent=2)


@lru_cache(maxsize=1)
def load_registry() -> Registry:
    """Load and validate ``nksim/data/parameters.yaml`` (cached)."""
    text = resources.files("nksim").joinpath("data/parameters.yaml").read_text(encoding="utf-8")
    raw = safe_load(text) or []
    return Registry((_check_entry(r, i) for i, r in enumerate(raw)), text)
