"""Calibration files: calibrated values with their provenance, loadable by scenarios and the registry.

A calibration file (YAML) records the values (registry names, ``omega2:NAME`` for between-patient variances), their
uncertainty where the method gives one, and how they were obtained: method, objective and its value, the data (file
names and SHA-256), seed, date, nksim version and registry hash. A scenario loads one with its ``calibration:`` field
(values go under the scenario's own ``parameters``, which still win; each calibrated name gets a ``sources`` entry
naming the file); ``Registry.calibrated(...)`` gives a registry whose defaults are the calibrated values, its
sources saying so. Nothing overwrites ``data/parameters.yaml``.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import math
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Mapping

import yaml

from nksim.errors import InputError
from nksim.registry import load_registry
from nksim.spec.scenario import Scenario
from nksim.version import __version__
from nksim.yaml_load import describe_error, read_text, safe_load

FORMAT = "nksim-calibration/1"
OMEGA = "omega2:"  # prefix of a between-patient variance


def file_digest(path: str | Path) -> dict[str, str]:
    """Name and SHA-256 of a data file, for provenance."""
    p = Path(path)
    return {"file": p.name, "sha256": hashlib.sha256(p.read_bytes()).hexdigest()}


@dataclass
class Calibration:
    """Calibrated values and how they were obtained."""

    values: dict[str, float]
    method: str
    objective: str = ""
    objective_value: float | None = None
    data: list[dict[str, str]] = field(default_factory=list)
    seed: int | None = None
    date: str = field(default_factory=lambda: _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"))
    uncertainty: dict[str, dict[str, float]] = field(default_factory=dict)
    free: list[str] = field(default_factory=list)  # priors / bounds of the free parameters, as described
    nksim_version: str = __version__
    registry_sha256: str = field(default_factory=lambda: load_registry().sha256)
    notes: str = ""

    def __post_init__(self) -> None:
        reg = load_registry()
        for name, v in self.values.items():
            base = name[len(OMEGA):] if name.startswith(OMEGA) else name
            if base not in reg:
                raise InputError(f"calibration.values.{name}", v, f"a registry parameter name{reg.suggest(base)}")
            if not isinstance(v, (int, float)) or not math.isfinite(float(v)):
                raise InputError(f"calibration.values.{name}", v, "a finite number")

    def as_dict(self) -> dict[str, Any]:
        return {"format": FORMAT, **asdict(self)}

    def save(self, path: str | Path) -> Path:
        p = Path(path)
        p.write_text(yaml.safe_dump(self.as_dict(), sort_keys=False), encoding="utf-8")
        return p

    @property
    def source(self) -> str:
        return f"calibrated ({self.method}, {self.date[:10]})"

    def apply(self, scenario: Scenario, where: str = "") -> Scenario:
        """``scenario`` with these values under its own ``parameters`` (the scenario's values win)."""
        own = {**scenario.parameters, **scenario.product.parameters, **scenario.population.covariates}
        vals = {k: v for k, v in self.values.items() if k not in own
                and not (k.startswith(OMEGA) and k[len(OMEGA):] in scenario.population.omega2)}
        return apply_values(scenario, vals, source=f"{self.source} {where}".strip())


def load_calibration(path: str | Path) -> Calibration:
    """Read a calibration file (errors name the field, the value and what is allowed)."""
    p = Path(path)
    try:
        raw = safe_load(read_text(p, "calibration"))
    except yaml.YAMLError as exc:
        raise InputError("calibration", str(p), f"valid YAML ({describe_error(exc)})") from None
    if not isinstance(raw, dict) or raw.get("format") != FORMAT:
        raise InputError("calibration.format", raw.get("format") if isinstance(raw, dict) else type(raw).__name__,
                         f"{FORMAT!r} (a file written by nksim's calibration tools)", str(p))
    raw = {k: v for k, v in raw.items() if k != "format"}
    known = set(Calibration.__dataclass_fields__)
    extra = set(raw) - known
    if extra:
        raise InputError(f"calibration.{sorted(extra)[0]}", raw[sorted(extra)[0]], "no such field", str(p))
    if not isinstance(raw.get("values"), Mapping):
        raise InputError("calibration.values", raw.get("values"), "a mapping name -> value", str(p))
    return Calibration(**raw)


def apply_values(scenario: Scenario, values: Mapping[str, float], source: str | None = None) -> Scenario:
    """A scenario with registry values (``NAME``) and between-patient variances (``omega2:NAME``) set.

    A value goes where the scenario already sets that name with the highest precedence (population covariates, then
    product parameters, then scenario parameters), so it is the value the patients get."""
    reg = load_registry()
    params = dict(scenario.parameters)
    prod_params = dict(scenario.product.parameters)
    covariates = dict(scenario.population.covariates)
    omega = dict(scenario.population.omega2)
    sources = dict(scenario.sources)
    for name, v in values.items():
        base = name[len(OMEGA):] if name.startswith(OMEGA) else name
        if base not in reg:
            raise InputError("parameter", name, f"a registry parameter name{reg.suggest(base)}")
        if not math.isfinite(float(v)):
            raise InputError(name, v, "a finite number")
        if name.startswith(OMEGA):
            if v < 0:
                raise InputError(name, v, "a variance >= 0")
            omega[base] = float(v)
        elif base in covariates:
            covariates[base] = float(v)
        elif base in prod_params:
            prod_params[base] = float(v)
        else:
            params[base] = float(v)
        if source:
            sources[name] = source
    pop = scenario.population.model_copy(update={"omega2": omega, "covariates": covariates})
    prod = scenario.product.model_copy(update={"parameters": prod_params})
    return scenario.model_copy(update={"parameters": params, "product": prod, "population": pop, "sources": sources})
