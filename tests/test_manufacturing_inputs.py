"""Bad inputs fail with one clear message naming the field, the value and what is allowed."""

import pytest

from nksim.errors import InputError
from nksim.manufacturing import load_manufacturing_spec, log_fold, lots_to_overrides, simulate_lots
from nksim.manufacturing.expansion import fold_expansion_samples
from nksim.manufacturing.params import resolve_parameters
from nksim.spec.manufacturing import ManufacturingSpec


def _err(data) -> InputError:
    with pytest.raises(InputError) as e:
        load_manufacturing_spec(data)
    return e.value


def test_efficiency_above_one():
    e = _err({"gene_transfer": {"method": "retroviral", "efficiency": 1.5}})
    assert e.field == "gene_transfer.efficiency" and e.value == 1.5 and "expected a number <= 1" in str(e)


def test_negative_days():
    e = _err({"expansion": {"days": -3}})
    assert e.field == "expansion.days" and e.value == -3 and "expected a number >= 0" in str(e)


def test_registry_override_checked():
    e = _err({"parameters": {"mfg_eff_retroviral": 1.2}})
    assert e.field == "parameters.mfg_eff_retroviral" and "[0, 1]" in str(e)
    e = _err({"parameters": {"mfg_eff_retroviarl": 0.5}})
    assert "mfg_eff_retroviral" in str(e)  # suggests the close name
    e = _err({"parameters": {"mfg_formulation_days": -1}})
    assert "non-negative" in str(e)


def test_cross_field_rules():
    e = _err({"expansion": {"days": 10}, "gene_transfer": {"method": "retroviral", "day": 12}})
    assert "after the end of culture" in str(e)
    e = _err({"dose": {"cells_per_kg": 1e6, "basis": "car_positive"}})
    assert "car_positive" in str(e)
    e = _err({"dose": {"cells_per_kg": 1e6, "flat_cells": 1e8}})
    assert "exactly one" in str(e)
    e = _err({"source": {"kind": "nk92"}, "expansion": {"method": "mbil21"}})
    assert "NK-92" in str(e)


def test_unknown_fields_and_kinds():
    assert "expansion.dayz" in str(_err({"expansion": {"dayz": 5}})) and "did you mean 'days'" in str(_err({"expansion": {"dayz": 5}}))
    e = _err({"source": {"kind": "bone_marrow"}})
    assert e.field == "source.kind" and e.value == "bone_marrow" and "cord_blood" in str(e)
    e = _err("no-such-process")
    assert e.field == "scenario" and "cb-car19-il15" in str(e)


def test_negative_times_and_counts():
    p = resolve_parameters(ManufacturingSpec())
    with pytest.raises(InputError, match="days"):
        log_fold(-1.0, 0.5, 20.0)
    with pytest.raises(InputError, match="day"):
        fold_expansion_samples("mbil21", -2.0, 3, p)
    with pytest.raises(InputError, match="lots"):
        simulate_lots("cb-car19-il15", 0, seed=1)
    with pytest.raises(InputError, match="seed"):
        simulate_lots("cb-car19-il15", 2, seed=-1)
    lots = simulate_lots("cb-car19-il15", 2, seed=1)
    with pytest.raises(InputError, match="n_patients"):
        lots_to_overrides(lots, n_patients=5)
    with pytest.raises(InputError, match="body_weight_kg"):
        lots_to_overrides(lots, n_patients=2, body_weight_kg=[70.0, -1.0])


def test_full_scenario_without_block(tmp_path):
    f = tmp_path / "s.yaml"
    f.write_text("name: x\nmanufacturing: null\n", encoding="utf-8")
    e = _err(str(f))
    assert "manufacturing block" in str(e)
    f.write_text("name: [unclosed\n", encoding="utf-8")
    assert "valid YAML" in str(_err(str(f)))


def test_engine_scenario_without_manufacturing_block():
    e = _err("hcc-gpc3-car-nk-il15")
    assert e.field == "manufacturing" and "no" in str(e)
