"""Keyboard / mTPI-2 / mTPI / i3+3 decision tables.

Keyboard references were printed by the R package Keyboard 0.1.3 ``get.boundary.kb(target, ncohort=10,
cohortsize=3)$full_boundary_tab``; the i3+3 rules are those of Liu, Wang & Ji 2020 (J Biopharm Stat 30:294).
"""

import numpy as np
import pytest

from nksim.trial.i3plus3 import I3Plus3
from nksim.trial.keyboard import MTPI2, Keyboard
from nksim.trial.mtpi import MTPI, mtpi_decision_table
from nksim.trial.simulate import exact_oc, operating_characteristics

NA = None
KB = {
    0.3: ([0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 6, 6, 6, 6, 7, 7],
          [1, 1, 2, 2, 2, 3, 3, 3, 4, 4, 4, 5, 5, 5, 6, 6, 6, 7, 7, 7, 8, 8, 9, 9, 9, 10, 10, 10, 11, 11],
          [NA, 2, 3, 3, 4, 4, 5, 5, 5, 6, 6, 7, 7, 8, 8, 8, 9, 9, 9, 10, 10, 11, 11, 11, 12, 12, 12, 13, 13, 14]),
    0.2: ([0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 2, 2, 2, 2, 2, 2, 2, 3, 3, 3, 3, 3, 3, 3, 4, 4],
          [1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 6, 6, 6, 6, 7, 7, 7, 7, 8, 8],
          [1, 2, 2, 3, 3, 3, 4, 4, 4, 5, 5, 5, 5, 6, 6, 6, 7, 7, 7, 7, 8, 8, 8, 8, 9, 9, 9, 9, 10, 10]),
    0.25: ([0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 2, 2, 2, 2, 2, 3, 3, 3, 3, 3, 4, 4, 4, 4, 4, 5, 5, 5, 5, 5],
           [1, 1, 1, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 5, 5, 5, 6, 6, 6, 6, 7, 7, 7, 8, 8, 8, 9, 9, 9, 9],
           [NA, 2, 3, 3, 3, 4, 4, 4, 5, 5, 6, 6, 6, 7, 7, 7, 8, 8, 8, 9, 9, 9, 10, 10, 10, 11, 11, 11, 12, 12]),
}


@pytest.mark.parametrize("target", sorted(KB))
def test_keyboard_table_matches_r(target):
    tab = Keyboard(target=target).boundary_table(30)
    be, bd, bel = KB[target]
    assert tab["escalate_if_dlt_le"] == be
    assert tab["deescalate_if_dlt_ge"] == bd
    assert tab["eliminate_if_dlt_ge"] == bel


def test_mtpi2_decisions_equal_keyboard():
    for t in (0.2, 0.3):
        assert MTPI2(target=t).boundary_table(30) == Keyboard(target=t).boundary_table(30)


def test_keyboard_oc_close_to_r_get_oc_kb():
    # Keyboard 0.1.3 get.oc.kb(0.3, c(.05,.15,.3,.45,.6), 10, 3, ntrial=5000)$selpercent
    r_sel = np.array([1.02, 23.72, 54.88, 19.08, 1.28]) / 100
    ex = exact_oc(Keyboard(), [0.05, 0.15, 0.3, 0.45, 0.6])
    se = np.sqrt(ex["selection"] * (1 - ex["selection"]) / 5000)
    assert np.all(np.abs(r_sel - ex["selection"]) < 3 * se)


def test_i3plus3_rules():
    tab = I3Plus3(target=0.3).boundary_table(12)
    e, d = tab["escalate_if_dlt_le"], tab["deescalate_if_dlt_ge"]
    # n = 3: 0/3 below EI -> E; 1/3 = 0.33 in [0.25, 0.35] -> S; 2/3 above and 1/3 not below EI -> D
    assert (e[2], d[2]) == (0, 2)
    # n = 1: 1/1 is above the EI but (1-1)/1 = 0 is below it -> stay (the i3+3 correction of 3+3-like overreaction)
    assert e[0] == 0 and d[0] is None
    # n = 6: 1/6 = 0.17 -> E; 2/6 = 0.33 -> S; 3/6 -> (3-1)/6 = 0.33 not below EI -> D
    assert (e[5], d[5]) == (1, 3)


def test_mtpi_upm_rule():
    t = mtpi_decision_table(0.3, 6)
    assert t[3, 0] == 1 and t[3, 1] == 0 and t[3, 2] == -1 and t[3, 3] == 2
    # every row is monotone: E... S... D... DU
    for n in range(1, 7):
        row = t[n, : n + 1]
        assert np.all(np.diff(np.where(row == 2, 3, row * -1 + 1)) >= 0)


@pytest.mark.parametrize("cls", [Keyboard, MTPI, I3Plus3])
def test_monte_carlo_within_three_se_of_exact(cls):
    p = [0.1, 0.2, 0.35, 0.5]
    d = cls(n_doses=4, n_cohorts=8)
    ex = exact_oc(d, p)
    oc = operating_characteristics(d, p, n_trials=3000, seed=9)
    mc = np.array(oc.selection_pct) / 100
    se = np.sqrt(ex["selection"] * (1 - ex["selection"]) / 3000)
    assert np.all(np.abs(mc - ex["selection"]) < 3 * se + 1e-12)
