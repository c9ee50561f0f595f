"""Resolve the clinical registry parameters (defaults + a scenario's overrides)."""

from __future__ import annotations

import math
from typing import Mapping

from nksim.errors import InputError
from nksim.registry import load_registry

MODULE = "clinical"
#: Parameters of other modules the readouts also read (one registry entry each, shared with the engine).
SHARED = ("tumor_cell_density",)


def clinical_params(params: Mapping[str, float] | None = None) -> dict[str, float]:
    """Registry defaults of ``module: clinical`` with ``params`` applied.

    ``params`` may be a full resolved parameter dict of a scenario (names of other modules are ignored); an
    unknown name starting with ``clinical_`` or a non-finite value is an error.
    """
    reg = load_registry()
    values = reg.defaults(module=MODULE)
    values.update({name: reg[name].default for name in SHARED})
    for name, value in (params or {}).items():
        if name in values:
            v = float(value)
            if not math.isfinite(v):
                raise InputError(f"params.{name}", value, "a finite number")
            values[name] = v
        elif name.startswith(MODULE + "_"):
            raise InputError(
                f"params.{name}", value, f"a clinical registry parameter{reg.suggest(name)}"
            )
    return values
