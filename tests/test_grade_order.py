"""Grade thresholds are cumulative (nksim.grade_order): every threshold at either end of its plausible range gives a
valid scenario (a warning when it falls below a milder level's) and grades that never skip a milder level."""

from __future__ import annotations

import numpy as np
import pytest

from nksim.clinical._params import clinical_params
from nksim.clinical.crs import crs_signs
from nksim.clinical.icans import ice_and_grade
from nksim.clinical.safety import ctcae_leukopenia_grade, offtumor_grade
from nksim.grade_order import FAMILIES, cumulative, order_warnings
from nksim.registry import load_registry
from nksim.spec.io import load_scenario

ENDS = [(name, end) for keys in FAMILIES.values() for name in keys for end in ("low", "high")]


def test_registry_defaults_are_in_order_and_give_no_warning():
    values = load_registry().resolve({})
    assert order_warnings(values) == []
    for keys in FAMILIES.values():
        th = [values[k] for k in keys]
        assert list(cumulative(th)) == th


@pytest.mark.parametrize("name, end", ENDS)
def test_each_threshold_at_either_end_of_its_range_is_a_valid_scenario(name, end):
    entry = load_registry()[name]
    value = entry.low if end == "low" else entry.high
    sc = load_scenario("hcc-gpc3-car-nk-il15").replace({f"parameters.{name}": value})  # no InputError
    values = load_registry().resolve({name: value})
    th = [values[k] for k in next(keys for keys in FAMILIES.values() if name in keys)]
    notes = [w for w in sc.warnings() if "cumulative" in w]
    assert bool(notes) == (list(cumulative(th)) != th), notes  # warned exactly when out of order
    assert all(name in w and "is below" in w for w in notes)


def test_cumulative_levels_never_skip_a_milder_level():
    p = clinical_params({"clinical_crs_hypoxia_high_flow_pg_ml": 1.0, "clinical_offtumor_grade3": 1.0})
    c = np.geomspace(1.0, 1e6, 400)
    _, _, hypox = crs_signs(c, p)
    assert (hypox[c < p["clinical_crs_hypoxia_low_flow_pg_ml"]] == 0).all()
    assert (hypox[(c >= p["clinical_crs_hypoxia_low_flow_pg_ml"])
                  & (c < p["clinical_crs_hypoxia_positive_pressure_pg_ml"])] == 2).all()
    a = np.geomspace(1.0, 1e12, 400)
    g = offtumor_grade(a, p)
    assert (np.diff(g) >= 0).all() and set(np.diff(g).tolist()) <= {0, 1, 2}
    assert (g[a < p["clinical_offtumor_grade2"]] <= 1).all()  # grade 3 not before grade 2's threshold


def test_unarousable_below_ice_zero_means_ice_zero_and_grade_4():
    p = clinical_params({"clinical_icans_unarousable_pg_ml": 1.0})
    zero = p["clinical_icans_ice_zero_pg_ml"]
    ice, grade = ice_and_grade(np.array([0.5, zero * 0.99, zero, zero * 10]), p)
    assert ice[2:].tolist() == [0, 0] and grade[2:].tolist() == [4, 4]
    assert 0 < ice[1] < 10 and grade[1] < 4 and grade[0] == 0


def test_ice_zero_at_or_below_onset_is_a_step():
    p = clinical_params({"clinical_icans_ice_zero_pg_ml": 1.0})
    onset = p["clinical_icans_onset_pg_ml"]
    ice, grade = ice_and_grade(np.array([onset * 0.99, onset]), p)
    assert ice.tolist() == [10, 0] and grade[0] == 0 and grade[1] >= 3


def test_ordered_thresholds_are_unchanged():
    p = clinical_params()
    bounds = [p[k] for k in FAMILIES["leukopenia (CTCAE)"]]
    wbc = np.array([bounds[0] * 0.9, bounds[0], bounds[1], bounds[2], bounds[3], bounds[3] * 2])
    assert ctcae_leukopenia_grade(wbc, p).tolist() == [4, 3, 2, 1, 0, 0]
