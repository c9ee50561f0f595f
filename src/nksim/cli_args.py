"""Parsing of command-line argument values shared by the CLI modules (errors name the option and the value), and
the JSON the ``--json`` options print."""

from __future__ import annotations

import json
import math
from typing import Any, Optional

from nksim.errors import InputError


def parse_floats(text: Optional[str], field: str, allowed: str) -> Optional[list[float]]:
    """``"0,7,14"`` -> [0.0, 7.0, 14.0]; None stays None; anything else is an error naming ``field``
    and what is ``allowed``."""
    if text is None:
        return None
    try:
        return [float(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise InputError(field, text, allowed) from None


def scenario_path(name: str) -> str:
    """A ``--set``/``--sweep`` path as a scenario field path: ``dose_level`` -> ``regimen.dose_level``, a bare
    registry parameter name (``k_car``) -> ``parameters.k_car``; dotted paths stay as given."""
    if "." in name:
        return name
    if name in ("dose_level", "n_patients", "seed", "horizon_d"):
        return {"dose_level": "regimen.dose_level"}.get(name, f"simulation.{name}")
    from nksim.registry import load_registry
    from nksim.spec.scenario import Scenario

    reg = load_registry()
    if name in reg:
        return f"parameters.{name}"
    if name in Scenario.model_fields:
        return name
    raise InputError("PATH", name, "a scenario field path (e.g. regimen.dose_level) or a registry parameter name"
                     + reg.suggest(name))


def _yaml_value(text: str, option: str, whole: str) -> Any:
    import yaml

    from nksim.yaml_load import safe_load

    try:
        return safe_load(text)
    except yaml.YAMLError as exc:
        raise InputError(option, whole, f"a value written as in a scenario file ({str(exc).splitlines()[0]})") from None


def parse_assignment(text: str, option: str) -> tuple[str, Any]:
    """``"regimen.dose_level=2"`` -> ("regimen.dose_level", 2): the value read as YAML (strictly, as a scenario file
    is: ``1e7`` is a number, ``[0, 7]`` a list, ``true`` a boolean)."""
    path, sep, value = text.partition("=")
    if not sep or not path.strip() or not value.strip():
        raise InputError(option, text, "PATH=VALUE, e.g. regimen.dose_level=2, parameters.k_car=0.5 or k_car=0.5")
    return scenario_path(path.strip()), _yaml_value(value.strip(), option, text)


def parse_sweep(text: str, option: str = "--sweep") -> tuple[str, list[Any]]:
    """``"dose_level=1,2,3"`` -> ("regimen.dose_level", [1, 2, 3]); each value read as YAML."""
    path, sep, values = text.partition("=")
    items = [v.strip() for v in values.split(",") if v.strip()]
    if not sep or not path.strip() or len(items) < 2:
        raise InputError(option, text, "PATH=V1,V2[,...] with at least two values, e.g. dose_level=1,2,3 or "
                         "k_car=0.5,1,2")
    vals = [_yaml_value(v, option, text) for v in items]
    if len({json.dumps(v, sort_keys=True, default=str) for v in vals}) < len(vals):
        raise InputError(option, text, "distinct values")
    return scenario_path(path.strip()), vals


def _finite(obj: Any) -> Any:
    if isinstance(obj, float) and not math.isfinite(obj):
        return None if math.isnan(obj) else ("inf" if obj > 0 else "-inf")
    if isinstance(obj, dict):
        return {str(k): _finite(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_finite(v) for v in obj]
    if callable(getattr(obj, "tolist", None)):  # numpy scalars and arrays
        return _finite(obj.tolist())
    return obj


def to_json(obj: Any) -> str:
    """Strict JSON (no NaN/Infinity tokens: NaN -> null, inf -> "inf"); numpy scalars as numbers, paths as text."""
    return json.dumps(_finite(obj), indent=2, default=str, allow_nan=False)
