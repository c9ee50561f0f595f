"""Scenario language: YAML round trip, JSON Schema, and bad input named by field, value and what is allowed."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml

import nksim
from nksim.errors import InputError
from nksim.population.sampling import typical_values
from nksim.spec.io import dump_scenario, load_scenario
from nksim.spec.scenario import Scenario


def _write(tmp_path: Path, data: dict) -> Path:
    p = tmp_path / "s.yaml"
    p.write_text(yaml.safe_dump(data), encoding="utf-8")
    return p


def _base() -> dict:
    return yaml.safe_load(dump_scenario(load_scenario("hcc-gpc3-car-nk-il15")))


def test_builtins_listed_and_round_trip(tmp_path):
    names = nksim.list_scenarios()
    assert {"hcc-post-lt-allo-nk", "hcc-gpc3-car-nk-il15"} <= set(names)
    for name in names:
        sc = load_scenario(name)
        again = load_scenario(str(_write(tmp_path, yaml.safe_load(dump_scenario(sc)))))
        assert again == sc


def test_json_schema_has_fields():
    schema = Scenario.model_json_schema()
    assert {"product", "regimen", "tumor", "population", "simulation"} <= set(schema["properties"])


def test_frozen():
    sc = load_scenario("hcc-post-lt-allo-nk")
    with pytest.raises(Exception):
        sc.name = "x"  # type: ignore[misc]


def test_misspelt_field_names_field(tmp_path):
    data = _base()
    data["product"]["viabilty"] = 0.8
    with pytest.raises(InputError) as exc:
        load_scenario(str(_write(tmp_path, data)))
    msg = str(exc.value)
    assert "product.viabilty" in msg and "0.8" in msg and "did you mean 'viability'" in msg


def test_negative_dose(tmp_path):
    data = _base()
    data["regimen"]["dose_levels"][0]["value"] = -1e6
    with pytest.raises(InputError) as exc:
        load_scenario(str(_write(tmp_path, data)))
    assert "regimen.dose_levels.0.value" in str(exc.value) and "-1000000" in str(exc.value)
    assert "expected a number > 0" in str(exc.value) and "Input should" not in str(exc.value)


def test_unknown_antigen(tmp_path):
    data = _base()
    data["product"]["construct"]["car_targets"] = ["GPC4"]
    with pytest.raises(InputError) as exc:
        load_scenario(str(_write(tmp_path, data)))
    assert "GPC4" in str(exc.value) and "GPC3" in str(exc.value)


def test_unknown_parameter(tmp_path):
    data = _base()
    data["parameters"] = {"k_natt": 1.0}
    with pytest.raises(InputError) as exc:  # names are checked when the scenario is read
        load_scenario(str(_write(tmp_path, data)))
    assert "parameters.k_natt" in str(exc.value) and "k_nat" in str(exc.value)


def test_broken_yaml(tmp_path):
    p = tmp_path / "bad.yaml"
    p.write_text("name: x\nproduct: [unclosed\n", encoding="utf-8")
    with pytest.raises(InputError) as exc:
        load_scenario(str(p))
    assert "line" in str(exc.value) and "YAML" in str(exc.value)


def test_cli_reports_without_traceback(tmp_path):
    data = _base()
    data["regimen"]["dose_level"] = 9
    p = _write(tmp_path, data)
    proc = subprocess.run([sys.executable, "-m", "nksim.cli", "validate", str(p)], capture_output=True,
                          encoding="utf-8", errors="replace")
    assert proc.returncode == 3  # invalid input (nksim.errors.EXIT_INPUT)
    assert "regimen" in proc.stderr and "9" in proc.stderr and "Traceback" not in proc.stderr
    ok = subprocess.run([sys.executable, "-m", "nksim.cli", "validate", str(_write(tmp_path, _base()))],
                        capture_output=True, encoding="utf-8", errors="replace")
    assert ok.returncode == 0 and "ok:" in ok.stdout
