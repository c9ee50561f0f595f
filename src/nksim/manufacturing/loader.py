"""Load a manufacturing process: a ManufacturingSpec, a dict, a YAML file (bare spec or a scenario with a
``manufacturing:`` block) or the name of a built-in process (``src/nksim/data/manufacturing/<name>.yaml``)."""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from nksim.errors import InputError
from nksim.spec.manufacturing import ManufacturingSpec
from nksim.yaml_load import describe_error, read_text, safe_load


def builtin_processes() -> dict[str, str]:
    """Built-in process name -> description."""
    out = {}
    folder = resources.files("nksim").joinpath("data/manufacturing")
    for f in sorted(folder.iterdir(), key=lambda x: x.name):
        if f.name.endswith(".yaml"):
            raw = safe_load(f.read_text(encoding="utf-8")) or {}
            out[f.name[:-5]] = str(raw.get("description", "")).strip()
    return out


def _from_validation_error(exc: ValidationError, where: str) -> InputError:
    """Every problem, one line each, in nksim's words (``nksim.spec.io.validation_to_input_error``)."""
    from nksim.spec.io import validation_to_input_error

    return validation_to_input_error(exc, where, root=ManufacturingSpec)


def spec_from_dict(data: Any, where: str = "manufacturing") -> ManufacturingSpec:
    """Validate a mapping as a ManufacturingSpec; errors become one InputError naming field, value and rule."""
    if not isinstance(data, dict):
        raise InputError("manufacturing", data, "a mapping of process fields", where)
    if "manufacturing" not in data and {"product", "regimen"} & set(data):
        raise InputError("manufacturing", None, "a manufacturing block (this scenario has none)", where)
    if "manufacturing" in data:  # a full scenario: read only its manufacturing block
        data = data["manufacturing"]
        if data is None:
            raise InputError("manufacturing", None, "a manufacturing block (the scenario has none)", where)
    try:
        spec = ManufacturingSpec.model_validate(data)
    except ValidationError as exc:
        raise _from_validation_error(exc, where) from None
    from nksim.manufacturing.params import resolve_parameters

    resolve_parameters(spec)  # registry overrides: known names, finite, fractions in [0, 1]
    return spec


def _builtin_scenario_text(name: str) -> str | None:
    """YAML text of a built-in engine scenario called ``name`` (None if there is none)."""
    folder = resources.files("nksim").joinpath("data/scenarios")
    try:
        entry = folder.joinpath(f"{name}.yaml")
        return entry.read_text(encoding="utf-8") if entry.is_file() else None
    except (FileNotFoundError, NotADirectoryError):
        return None


def load_manufacturing_spec(obj: Any) -> ManufacturingSpec:
    """A ManufacturingSpec from a spec, a dict, a YAML path, a built-in process name (see ``builtin_processes``),
    a built-in engine scenario name or a Scenario object (their ``manufacturing`` block)."""
    if isinstance(obj, ManufacturingSpec):
        return obj
    if isinstance(obj, dict):
        return spec_from_dict(obj)
    if isinstance(obj, (str, Path)):
        path = Path(obj)
        if path.suffix in (".yaml", ".yml") or path.exists():
            if not path.exists():
                raise InputError("scenario", str(obj), "an existing YAML file or a built-in process name")
            try:
                raw = safe_load(read_text(path, "scenario"))
            except yaml.YAMLError as exc:
                raise InputError("scenario", str(obj), f"valid YAML ({describe_error(exc)})") from None
            spec = spec_from_dict(raw, where=str(path))
            return spec if spec.name else spec.model_copy(update={"name": path.stem})
        names = builtin_processes()
        if str(obj) in names:
            text = resources.files("nksim").joinpath(f"data/manufacturing/{obj}.yaml").read_text(encoding="utf-8")
            spec = spec_from_dict(safe_load(text), where=f"built-in process {obj}")
            return spec if spec.name else spec.model_copy(update={"name": str(obj)})
        scenario_text = _builtin_scenario_text(str(obj))
        if scenario_text is not None:  # an engine scenario by name: use its manufacturing block
            block = (safe_load(scenario_text) or {}).get("manufacturing")
            if isinstance(block, str):  # the scenario names a built-in process
                return load_manufacturing_spec(block)
            spec = spec_from_dict(safe_load(scenario_text) or {}, where=f"built-in scenario {obj}")
            return spec if spec.name else spec.model_copy(update={"name": str(obj)})
        raise InputError("scenario", str(obj), f"a YAML file or a built-in process: {', '.join(names)}")
    if hasattr(obj, "manufacturing"):  # a Scenario object
        if obj.manufacturing is None:
            raise InputError("manufacturing", None, "a manufacturing block (the scenario has none)",
                             getattr(obj, "name", None))
        return load_manufacturing_spec(obj.manufacturing)
    raise InputError("scenario", obj, "a ManufacturingSpec, a mapping, a YAML path or a built-in process name")
