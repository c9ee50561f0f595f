"""Lugano 2014 CT-based response (Cheson 2014, Table 3): worked cases on spherical nodes (PPD = d^2)."""

import numpy as np

from nksim.clinical import lugano_scan_responses
from nksim.clinical.codes import to_labels


def seq(baseline, scans, nontarget=None, nt_baseline=0.0, new=None):
    scans = np.asarray(scans, dtype=float)[None]
    n = scans.shape[1]
    nt = np.zeros((1, n)) if nontarget is None else np.asarray(nontarget, dtype=float)[None]
    new = np.zeros((1, n), bool) if new is None else np.asarray(new, bool)[None]
    codes = lugano_scan_responses(
        scans, np.asarray(baseline, float)[None], nt, np.array([nt_baseline]), new, np.ones((1, n), bool)
    )
    return list(to_labels(codes[0]))


def test_partial_response_is_50_percent_decrease_of_spd():
    # SPD 40^2 + 30^2 = 2500; 28^2 + 21^2 = 1225 <= 1250 -> PR; 29^2 + 21^2 = 1282 -> SD
    assert seq([40, 30], [[28, 21]]) == ["PR"]
    assert seq([40, 30], [[29, 21]]) == ["SD"]


def test_complete_response_when_every_node_is_at_most_15_mm():
    assert seq([40, 30], [[15, 12]]) == ["CR"]
    assert seq([40, 30], [[16, 12]]) == ["PR"]
    assert seq([40, 30], [[15, 12]], nontarget=[20.0], nt_baseline=30.0) == ["PR"]


def test_individual_node_progression_small_lesion():
    # nadir 10 mm; 16 mm: > 15 mm, PPD 256 >= 1.5 x 100, +6 mm >= 5 mm (lesion <= 2 cm) -> PD
    assert seq([30, 40], [[10, 20], [16, 20]]) == ["PR", "PD"]
    # nadir 14 mm; 18 mm: PPD 324 >= 294 but +4 mm < 5 mm -> no PD; 19 mm: +5 mm -> PD
    assert seq([30, 40], [[14, 20], [18, 20]]) == ["PR", "PR"]
    assert seq([30, 40], [[14, 20], [19, 20]]) == ["PR", "PD"]
    # 15 mm is not abnormal (> 15 mm needed)
    assert seq([30, 40], [[10, 20], [15, 20]]) == ["PR", "PR"]


def test_individual_node_progression_large_lesion_needs_10_mm():
    # nadir 30 mm; 37 mm: PPD 1369 >= 1350 but +7 mm < 10 mm (lesion > 2 cm) -> SD; 40 mm: +10 mm -> PD
    assert seq([30, 30], [[30, 30], [37, 30]]) == ["SD", "SD"]
    assert seq([30, 30], [[30, 30], [40, 30]]) == ["SD", "PD"]


def test_spd_growth_alone_is_not_progression():
    # every node +4 mm from 30 mm: SPD +28% but no single node qualifies -> SD (Lugano has no SPD PD rule)
    assert seq([30, 30, 30], [[34, 34, 34]]) == ["SD"]


def test_regrowth_of_resolved_node_and_new_lesion():
    assert seq([30, 30], [[0, 0], [21, 0]]) == ["CR", "PD"]
    assert seq([30, 30], [[20, 20]], new=[True]) == ["PD"]
    assert seq([30, 30], [[0, 0], [0, 0]], nontarget=[0.0, 16.0], nt_baseline=25.0) == ["CR", "PD"]


def test_no_measurable_node_is_not_evaluable():
    assert seq([12, 14], [[12, 14]]) == ["NE"]
