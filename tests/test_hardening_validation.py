"""Scenario validation: the files `nksim validate` used to accept and `nksim run` then crashed on, and the wording of
what it reports (every problem at once, one line each, nksim's words, no whole-dict dumps, no numpy reprs)."""

from __future__ import annotations

import copy
import json

import numpy as np
import pytest
import yaml

from nksim.errors import InputError, InputErrors
from nksim.spec.io import dump_scenario, load_scenario, scenario_from_dict
from nksim.spec.scenario import Scenario

_BASE = yaml.safe_load(dump_scenario(load_scenario("hcc-gpc3-car-nk-il15")))


def _set(d: dict, path: str, value) -> None:
    *head, last = path.split(".")
    for k in head:
        if d.get(k) is None:
            d[k] = {}
        d = d[k]
    d[last] = value


def _error(**changes) -> InputError:
    d = copy.deepcopy(_BASE)
    for path, value in changes.items():
        _set(d, path.replace("__", "."), value)
    with pytest.raises(InputError) as exc:
        scenario_from_dict(d, where="s.yaml")
    msg = str(exc.value)
    assert "Input should" not in msg and "Value error" not in msg and "np." not in msg
    assert "{'name'" not in msg and "(top level)" not in msg  # never the whole scenario
    return exc.value


@pytest.mark.parametrize("changes, field, words", [
    ({"simulation__scan_days": []}, "simulation.scan_days", "a non-empty list"),
    ({"readouts__assay__sample_days": []}, "readouts.assay.sample_days", "a non-empty list"),
    ({"regimen__lymphodepletion__day": -1e9}, "regimen.lymphodepletion.day", ">= -365"),
    ({"regimen__il2__days": [0, 1e9], "regimen__il2__dose": 1.0}, "regimen.il2.days.1", "<= 3650"),
    ({"simulation__horizon_d": 1e7}, "simulation.horizon_d", "GB per chunk"),
    ({"simulation__save_every_d": 1e-6}, "simulation.save_every_d", "GB per chunk"),
    ({"simulation__seed": 10**30}, "simulation.seed", "< 2**63"),
    ({"simulation__n_patients": 10**12}, "simulation.n_patients", "<="),
    ({"product__cd3_per_kg": 1e300}, "product.cd3_per_kg", "<= 1e+10"),
    ({"regimen__dose_levels": [{"value": 0}]}, "regimen.dose_levels.0.value", "> 0"),
    ({"regimen__dose_levels": [{"value": 1e15}]}, "regimen.dose_levels.0.value", "at most 1e+10 cells/kg"),
    ({"population__covariates": {"tumor_cell_density": -1e30}}, "population.covariates.tumor_cell_density", "> 0"),
    ({"parameters": {"f_lung": 2.0}}, "parameters.f_lung", "a fraction in [0, 1]"),
    ({"population__omega2": {"k_nat": -1}}, "population.omega2.k_nat", ">= 0"),
])
def test_physical_domain(changes, field, words):
    err = _error(**changes)
    assert f"{field} = " in str(err) and words in str(err)


def test_run_crashers_from_the_issue_are_refused():
    """The cases that passed validate and crashed `nksim run` with a traceback."""
    for changes in ({"simulation__scan_days": []}, {"readouts__assay__sample_days": []},
                    {"regimen__lymphodepletion__day": -1e9}, {"simulation__horizon_d": 1e7},
                    {"simulation__seed": 10**30}, {"product__cd3_per_kg": 1e300, "regimen__infusion_days": [0, 3000]}):
        _error(**changes)


def test_every_problem_at_once_one_line_each():
    err = _error(product__potency=7, simulation__seed=-1, product__viabilty=1, tumor__antigens=["GPC4"])
    assert isinstance(err, InputErrors) and len(err.problems) == 4
    lines = str(err).splitlines()
    assert lines[0] == "s.yaml: 4 problems" and len(lines) == 5
    text = str(err)
    assert "product.potency = 7 is not allowed; expected a number <= 3" in text
    assert "simulation.seed = -1 is not allowed; expected a number >= 0" in text
    assert "product.viabilty = 1 is not allowed; expected a field name of product (did you mean 'viability'?)" in text
    assert "tumor.antigens.0 = 'GPC4'" in text and "did you mean 'GPC3'" in text and "nksim catalog antigens" in text


def test_cross_field_errors_name_their_fields_not_the_whole_scenario():
    err = _error(regimen__route="hepatic_artery", tumor__indication="GC")
    assert str(err).startswith("s.yaml: regimen.route = 'hepatic_artery' is not allowed")
    assert "tumor.in_liver" in str(err) and "tumor.indication = 'GC'" in str(err)
    err = _error(product__construct__car_logic="AND", product__construct__car_targets=[])
    assert "product.construct.car_targets = [] is not allowed; expected exactly 2 antigens" in str(err)


def test_dose_level_beyond_the_levels_and_empty_levels():
    assert "regimen.dose_level = 5 is not allowed; expected a level in 1..3 (3 dose_levels given)" in str(
        _error(regimen__dose_level=5))
    err = _error(regimen__dose_levels=[])
    assert "regimen.dose_levels = [] is not allowed; expected a non-empty list" in str(err)
    assert "1..0" not in str(err)


def test_unknown_parameter_gets_did_you_mean_and_a_pointer():
    err = _error(parameters={"k_natt": 1.0})
    assert "parameters.k_natt" in str(err) and "did you mean 'k_nat'" in str(err) and "`nksim params`" in str(err)
    assert "close: []" not in str(err)


def test_misspelt_field_did_you_mean():
    assert "did you mean 'infusion_days'" in str(_error(regimen__infusion_dayz=[0]))


def test_1e7_in_a_string_field_is_not_echoed_as_a_quoted_string(tmp_path):
    p = tmp_path / "s.yaml"
    d = copy.deepcopy(_BASE)
    d["regimen"]["dose_levels"] = [{"value": 0}]
    p.write_text(yaml.safe_dump(d).replace("value: 0", "value: 1e13"), encoding="utf-8")
    with pytest.raises(InputError) as exc:
        load_scenario(str(p))
    assert "'1e13'" not in str(exc.value) and "10000000000000.0" in str(exc.value)


def test_infusions_after_the_horizon_are_an_error_scans_a_warning():
    err = _error(regimen__infusion_days=[0, 7, 400], simulation__horizon_d=90)
    assert "regimen.infusion_days" in str(err) and "horizon_d = 90" in str(err) and "day 400" in str(err)
    d = copy.deepcopy(_BASE)
    d["simulation"]["horizon_d"] = 90
    notes = scenario_from_dict(d).warnings()
    assert any(n.startswith("simulation.scan_days") and "never observed" in n for n in notes)


def test_outside_the_plausible_range_is_a_warning_with_range_and_source():
    d = copy.deepcopy(_BASE)
    d["parameters"] = {"k_LB": 10.0}
    notes = scenario_from_dict(d).warnings()
    assert any("parameters.k_LB = 10 is outside the plausible range [0.3, 3]" in n and "Meller" in n
               and "10.1007/s00259-003-1398-4" in n for n in notes)  # the registry's source, with its DOI


def test_a_source_for_the_block_explains_its_values():
    """A scenario that cites a source for a whole block (sources: {parameters: ...}) gets no plausible-range warning
    for the values in it (the built-in T-cell comparator's product parameters: no NK-range warnings)."""
    d = copy.deepcopy(_BASE)
    d["parameters"] = {"k_LB": 10.0}
    d["sources"] = {"parameters": "a study's own estimate"}
    assert not any("k_LB" in n for n in scenario_from_dict(d).warnings())
    assert not any("outside the plausible range" in n for n in load_scenario("bnhl-car-t-like").warnings())


def test_no_numpy_reprs_in_messages():
    sc = load_scenario("hcc-gpc3-car-nk-il15")
    with pytest.raises(InputError) as exc:
        sc.replace({"regimen.dose_level": np.int64(7)})
    assert "np.int64" not in str(exc.value) and "regimen.dose_level = 7 " in str(exc.value)


def test_schema_has_catalog_enums():
    defs = Scenario.model_json_schema()["$defs"]
    assert "GPC3" in defs["Tumor"]["properties"]["indication"]["enum"] or "HCC" in defs["Tumor"]["properties"][
        "indication"]["enum"]
    assert "GPC3" in defs["Tumor"]["properties"]["antigens"]["items"]["enum"]
    assert "GPC3" in defs["Construct"]["properties"]["car_targets"]["items"]["enum"]
    assert "mRECIST" in json.dumps(defs["Tumor"]["properties"]["criteria"])


def test_replace_derives_a_validated_variant():
    sc = load_scenario("hcc-gpc3-car-nk-il15")
    level = sc.regimen.dose_level
    v = sc.replace({"population.variability": False, "regimen.dose_level": 3, "parameters.k_LB": 1.5,
                    "regimen.dose_levels.0.value": 2e6})
    assert v.population.variability is False and v.regimen.dose_level == 3 != level
    assert v.parameters["k_LB"] == 1.5 and v.regimen.dose_levels[0].value == 2e6
    assert v.product == sc.product and sc.regimen.dose_level == level  # the original is unchanged
    assert v.tumor == sc.tumor and v.readouts == sc.readouts
    with pytest.raises(InputError) as exc:
        sc.replace({"regimen.dose_level": 9, "population.variabilty": False, "simulation.seed": 10**30})
    text = str(exc.value)
    assert "3 problems" in text and "did you mean 'variability'" in text and "< 2**63" in text
    with pytest.raises(InputError, match="list position"):
        sc.replace({"regimen.dose_levels.7.value": 1e6})
    with pytest.raises(InputError, match="a group of fields"):
        sc.replace({"regimen.dose_level.x": 1})


def test_follow_up_after_the_horizon_is_a_warning():
    """Issue 16: follow-up inside the horizon or a clear warning (the readouts stop at the horizon)."""
    d = copy.deepcopy(_BASE)
    d["simulation"]["horizon_d"] = 90
    d["simulation"]["scan_days"] = [28, 56, 84]
    notes = scenario_from_dict(d).warnings()
    assert any(n.startswith("readouts.follow_up_days = 365 is after simulation.horizon_d = 90") and "censored" in n
               for n in notes), notes
    d["readouts"]["follow_up_days"] = 90
    assert not any("follow_up_days" in n for n in scenario_from_dict(d).warnings())


def test_a_population_at_a_lethal_burden_is_refused_naming_the_cause():
    """Two registry range ends that contradict each other (the largest typical lesion, the smallest lethal burden:
    every candidate is at a lethal burden at enrollment; found by the joint parameter sweep) are refused with the
    cause named, not blamed on the eligibility rules."""
    from nksim.population.sampling import sample_patients

    sc = load_scenario("gc-nkg2d-car-nk").replace({"parameters.lesion_diameter_mm": 120,
                                                   "parameters.clinical_lethal_burden_cm3": 300,
                                                   "simulation.n_patients": 2, "simulation.seed": 20261207})
    with pytest.raises(InputError) as exc:
        sample_patients(sc)
    msg = str(exc.value)
    assert msg.startswith("population = ") and "clinical screen" in msg and "lethal burden" in msg
    assert "lesion_diameter_mm = 120" in msg and "clinical_lethal_burden_cm3 = 300 cm3" in msg
    sc = load_scenario("gc-nkg2d-car-nk").replace({"population.eligibility": ["min_lesion_diameter_mm >= 500"],
                                                   "simulation.n_patients": 1})
    with pytest.raises(InputError, match=r"population.eligibility = .* failed the eligibility rules"):
        sample_patients(sc)


def test_an_unknown_key_with_a_bracket_is_named_not_a_traceback():
    """A key with "[" looks like pydantic's union-branch tags; it is the user's key (make fuzz found an IndexError)."""
    d = load_scenario("hcc-post-lt-allo-nk").model_dump(mode="json")
    d["p[Iroduct"] = d.pop("product")
    d["tumor"]["indi[cation"] = d["tumor"].pop("indication")
    with pytest.raises(InputError) as e:
        scenario_from_dict(d)
    text = str(e.value)
    assert "p[Iroduct" in text and "did you mean 'product'" in text
    assert "tumor.indi[cation" in text and "did you mean 'indication'" in text
