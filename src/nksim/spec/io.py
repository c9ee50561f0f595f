"""Reading scenarios from YAML and built-in names, with errors that name the field, the value and what is allowed."""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from nksim.errors import InputError
from nksim.spec.scenario import Scenario
from nksim.yaml_load import safe_load

BUILTIN_DIR = "data/scenarios"


def _loc(loc: tuple[Any, ...]) -> str:
    return ".".join(str(p) for p in loc) or "(top level)"


def validation_to_input_error(exc: ValidationError, where: str) -> InputError:
    """The first pydantic error as an InputError (field path, value, what is allowed)."""
    err = exc.errors()[0]
    field = _loc(err["loc"])
    kind = err["type"]
    value = err.get("input")
    if kind == "extra_forbidden":
        allowed = "no such field (misspelt?); see `nksim validate --schema` for the fields"
    elif kind == "missing":
        allowed = "a value (the field is required)"
    else:
        allowed = err["msg"].removeprefix("Value error, ")
    return InputError(field, value, allowed, where)


def scenario_from_dict(data: Any, where: str = "scenario") -> Scenario:
    if not isinstance(data, dict):
        raise InputError("(document)", type(data).__name__, "a mapping of scenario fields", where)
    try:
        return Scenario.model_validate(data)
    except ValidationError as exc:
        raise validation_to_input_error(exc, where) from None


def read_yaml(path: Path) -> Any:
    try:
        text = path.read_text()
    except OSError as exc:
        raise InputError("path", str(path), f"a readable file ({exc.strerror})") from None
    try:
        return safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        at = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise InputError("yaml", path.name, f"valid YAML ({getattr(exc, 'problem', exc)}{at})", str(path)) from None


def builtin_names() -> list[str]:
    folder = resources.files("nksim").joinpath(BUILTIN_DIR)
    return sorted(p.name[:-5] for p in folder.iterdir() if p.name.endswith(".yaml"))


def load_scenario(name_or_path: str | Path) -> Scenario:
    """A built-in scenario by name, or a YAML file by path."""
    text = str(name_or_path)
    if text in builtin_names():
        ref = resources.files("nksim").joinpath(f"{BUILTIN_DIR}/{text}.yaml")
        with resources.as_file(ref) as path:
            return scenario_from_dict(read_yaml(path), where=text)
    path = Path(text)
    if not path.exists():
        raise InputError("scenario", text, f"a built-in name ({', '.join(builtin_names())}) or an existing YAML file")
    return with_calibration(scenario_from_dict(read_yaml(path), where=str(path)), path.parent)


def with_calibration(scenario: Scenario, base: Path | None = None) -> Scenario:
    """The scenario with the values of its ``calibration`` file applied (path relative to ``base``)."""
    if scenario.calibration is None:
        return scenario
    from nksim.spec.calibration import load_calibration

    cal_path = Path(scenario.calibration)
    if not cal_path.is_absolute() and base is not None:
        cal_path = base / cal_path
    if not cal_path.exists():
        raise InputError("calibration", scenario.calibration, "an existing calibration file (relative to the scenario)")
    return load_calibration(cal_path).apply(scenario, where=cal_path.name)


def dump_scenario(scenario: Scenario) -> str:
    """YAML of the scenario with every default filled in (the resolved scenario of a run)."""
    return yaml.safe_dump(scenario.model_dump(mode="json"), sort_keys=False)
