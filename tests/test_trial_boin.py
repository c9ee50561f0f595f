"""BOIN against the reference R implementation (BOIN 2.7.2, Yan et al. 2020 J Stat Softw 94(13)) and exact values.

Reference tables below were printed by BOIN 2.7.2 ``get.boundary(target, ncohort=10, cohortsize=3)``
(``full_boundary_tab``); the target-0.3 table is also Table 1 of Yuan et al. 2016 (Clin Cancer Res 22:4291).
"""

import numpy as np
import pytest

from nksim.errors import InputError
from nksim.trial.advisor import TrialData, recommend
from nksim.trial.base import run_trials
from nksim.trial.boin import BOIN, boin_lambdas
from nksim.trial.isotonic import pava, select_mtd_boin
from nksim.trial.outcomes import FixedProbabilityModel
from nksim.trial.reference import boin_trial_loop
from nksim.trial.simulate import exact_oc, operating_characteristics

NA = None
R_TABLES = {  # target: (escalate <=, de-escalate >=, eliminate >=) for n = 1..30
    0.3: ([0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4, 4, 5, 5, 5, 5, 6, 6, 6, 6, 7],
          [1, 1, 2, 2, 2, 3, 3, 3, 4, 4, 4, 5, 5, 6, 6, 6, 7, 7, 7, 8, 8, 8, 9, 9, 9, 10, 10, 11, 11, 11],
          [NA, NA, 3, 3, 4, 4, 5, 5, 5, 6, 6, 7, 7, 8, 8, 8, 9, 9, 9, 10, 10, 11, 11, 11, 12, 12, 12, 13, 13, 14]),
    0.2: ([0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 2, 2, 2, 2, 2, 2, 2, 3, 3, 3, 3, 3, 3, 4, 4, 4, 4, 4],
          [1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 6, 6, 6, 6, 6, 7, 7, 7, 7, 8],
          [NA, NA, 2, 3, 3, 3, 4, 4, 4, 5, 5, 5, 5, 6, 6, 6, 7, 7, 7, 7, 8, 8, 8, 8, 9, 9, 9, 9, 10, 10]),
    0.25: ([0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 2, 2, 2, 2, 2, 3, 3, 3, 3, 3, 4, 4, 4, 4, 4, 5, 5, 5, 5, 5],
           [1, 1, 1, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 5, 5, 5, 6, 6, 6, 6, 7, 7, 7, 8, 8, 8, 9, 9, 9, 9],
           [NA, NA, 3, 3, 3, 4, 4, 4, 5, 5, 6, 6, 6, 7, 7, 7, 8, 8, 8, 9, 9, 9, 10, 10, 10, 11, 11, 11, 12, 12]),
    0.5: ([0, 0, 1, 1, 1, 2, 2, 3, 3, 3, 4, 4, 5, 5, 5, 6, 6, 7, 7, 7, 8, 8, 9, 9, 9, 10, 10, 11, 11, 11],
          [1, 2, 2, 3, 4, 4, 5, 5, 6, 7, 7, 8, 8, 9, 10, 10, 11, 11, 12, 13, 13, 14, 14, 15, 16, 16, 17, 17, 18, 19],
          [NA, NA, NA, 4, 5, 6, 6, 7, 8, 8, 9, 9, 10, 11, 11, 12, 12, 13, 14, 14, 15, 15, 16, 17, 17, 18, 18, 19, 19, 20]),
}
P_TRUE = [0.05, 0.15, 0.3, 0.45, 0.6]


def test_lambdas_liu_yuan_2015():
    # Liu & Yuan 2015 (JRSS-C 64:507), Table 1: phi = 0.3 -> (0.236, 0.358); phi = 0.25 -> (0.197, 0.298)
    # (published to 3 decimals; lambda_d = 0.35852 is printed as 0.358 in Yuan et al. 2016, Table 1)
    le, ld = boin_lambdas(0.3)
    assert abs(le - 0.236) < 1e-3 and abs(ld - 0.358) < 1e-3
    assert abs(le - 0.2364906852) < 1e-9 and abs(ld - 0.3585194646) < 1e-9  # BOIN 2.7.2 get.boundary
    le, ld = boin_lambdas(0.25)
    assert abs(le - 0.197) < 1e-3 and abs(ld - 0.298) < 1e-3


@pytest.mark.parametrize("target", sorted(R_TABLES))
def test_boundary_table_matches_r_get_boundary(target):
    tab = BOIN(target=target).boundary_table(30)
    be, bd, bel = R_TABLES[target]
    assert tab["escalate_if_dlt_le"] == be
    assert tab["deescalate_if_dlt_ge"] == bd
    assert tab["eliminate_if_dlt_ge"] == bel


def test_n3_rules_for_target_03():
    tab = BOIN(target=0.3).boundary_table(3)
    assert (tab["escalate_if_dlt_le"][2], tab["deescalate_if_dlt_ge"][2], tab["eliminate_if_dlt_ge"][2]) == (0, 2, 3)


def test_extrasafe_stop_boundary_matches_r():
    # BOIN 2.7.2 get.boundary(0.25, 10, 3, extrasafe=TRUE)$stop_boundary
    ref = [NA, NA, 2, 3, 3, 3, 4, 4, 4, 5, 5, 5, 6, 6, 6, 7, 7, 7, 8, 8, 8, 8, 9, 9, 9, 10, 10, 10, 11, 11]
    assert BOIN(target=0.25, extrasafe=True).boundary_table(30)["stop_if_dlt_ge_at_lowest_dose"] == ref


def test_pava_and_select_mtd():
    assert np.allclose(pava([0.1, 0.3, 0.2, 0.4]), [0.1, 0.25, 0.25, 0.4])
    assert np.allclose(pava([3, 1], [1, 3]), [1.5, 1.5])
    # BOIN 2.7.2: select.mtd(0.3, c(3,6,9,3,0), c(0,1,2,3,0))$MTD == 3 (dose 4 eliminated: 3/3)
    assert select_mtd_boin(0.3, [3, 6, 9, 3, 0], [0, 1, 2, 3, 0]) == 3
    assert select_mtd_boin(0.3, [3, 0, 0], [3, 0, 0]) == 0  # lowest dose eliminated
    # tie-break: pooled estimate above target -> lower dose, below target -> higher dose
    assert select_mtd_boin(0.3, [6, 6], [3, 3]) == 1
    assert select_mtd_boin(0.3, [6, 6], [1, 1]) == 2


def test_vectorised_engine_equals_per_trial_loop():
    for design in (BOIN(), BOIN(n_earlystop=12, extrasafe=True), BOIN(target=0.25, cohort_size=1, n_cohorts=20)):
        model = FixedProbabilityModel(P_TRUE, seed=3)
        res = run_trials(design, model, 400)
        sel, n, y, early = boin_trial_loop(design, model, 400)
        assert np.array_equal(sel, res.selected)
        assert np.array_equal(n, res.n) and np.array_equal(y, res.y)
        assert np.array_equal(early, res.early_stop)


def test_exact_oc_agrees_with_r_get_oc_and_monte_carlo():
    ex = exact_oc(BOIN(), P_TRUE)
    assert abs(ex["selection"].sum() + ex["no_selection"] - 1) < 1e-9
    # BOIN 2.7.2 get.oc(0.3, P_TRUE, ncohort=10, cohortsize=3, ntrial=10000): selpercent / npatients
    r_sel = np.array([1.08, 23.52, 54.96, 19.03, 1.39]) / 100
    r_n = np.array([4.1520, 9.1968, 11.1498, 4.7322, 0.7638])
    se = np.sqrt(ex["selection"] * (1 - ex["selection"]) / 10_000)
    assert np.all(np.abs(r_sel - ex["selection"]) < 3 * se + 1e-12)
    assert np.all(np.abs(r_n - ex["mean_patients"]) < 0.15)
    oc = operating_characteristics(BOIN(), P_TRUE, n_trials=4000, seed=11)
    assert oc.correct_doses == [3] and abs(oc.pcs - oc.selection_pct[2]) < 1e-9
    assert abs(oc.overdose_selection_pct - sum(oc.selection_pct[3:])) < 1e-9  # doses with p > target
    mc = np.array(oc.selection_pct) / 100
    se = np.sqrt(ex["selection"] * (1 - ex["selection"]) / 4000)
    assert np.all(np.abs(mc - ex["selection"]) < 3 * se + 1e-12)


def test_r_get_oc_with_earlystop_and_extrasafe():
    # BOIN 2.7.2 get.oc(..., n.earlystop=12, extrasafe=TRUE, ntrial=10000): selpercent, percentstop 0.65
    ex = exact_oc(BOIN(n_earlystop=12, extrasafe=True), P_TRUE)
    r_sel = np.array([1.36, 26.30, 52.75, 17.81, 1.13]) / 100
    se = np.sqrt(ex["selection"] * (1 - ex["selection"]) / 10_000)
    assert np.all(np.abs(r_sel - ex["selection"]) < 3 * se + 1e-12)
    assert abs(ex["no_selection"] - 0.0065) < 3 * np.sqrt(0.0065 / 10_000)


def test_all_doses_toxic_stops_early():
    oc = operating_characteristics(BOIN(n_doses=3), [0.7, 0.8, 0.9], n_trials=2000, seed=2)
    assert oc.no_selection_pct > 90 and oc.early_stop_pct > 90
    assert oc.mean_patients[2] < 0.5


def test_advisor_decisions():
    d = BOIN(n_doses=5)
    data = TrialData(np.array([1, 1, 1, 2, 2, 2, 3, 3, 3]), np.array([0, 0, 0, 0, 1, 0, 1, 1, 0]))
    rec = recommend(d, data)
    assert rec["next_dose"] == 2 and rec["estimated_mtd"] == 2
    rec = recommend(d, TrialData(np.array([1, 1, 1]), np.array([0, 0, 0])))
    assert rec["next_dose"] == 2
    rec = recommend(d, TrialData(np.array([1, 1, 1]), np.array([1, 1, 1])))
    assert rec["next_dose"] is None and rec["estimated_mtd"] is None and rec["eliminated_doses"] == [1, 2, 3, 4, 5]
    rec = recommend(d, TrialData(np.array([1, 1, 1, 2, 2, 2]), np.array([0, 0, 0, 1, 1, 1])))
    assert rec["next_dose"] == 1 and rec["eliminated_doses"] == [2, 3, 4, 5]


def test_bad_settings_name_the_field():
    with pytest.raises(InputError, match="target"):
        BOIN(target=0.8)
    with pytest.raises(InputError, match="start_dose"):
        BOIN(n_doses=3, start_dose=4)


def test_fast_selection_equals_reference_select_mtd():
    rng = np.random.default_rng(0)
    designs = [BOIN(), BOIN(extrasafe=True), BOIN(bound_mtd=True), BOIN(target=0.2, cutoff_eli=0.9)]
    for _ in range(3000):
        n = rng.integers(0, 13, size=5)
        y = rng.binomial(n, rng.uniform(0, 0.8, size=5))
        for d in designs:
            ref = select_mtd_boin(d.target, n, y, cutoff_eli=d.cutoff_eli, extrasafe=d.extrasafe,
                                  offset=d.offset, bound_mtd=d.bound_mtd, lambda_d=d.lambdas[1])
            assert d.select(n, y) == ref


def test_jss_worked_example_select_mtd():
    # Yan et al. 2020 (J Stat Softw 94(13)), select.mtd(target=0.3, npts=c(3,3,15,9,0), ntox=c(0,0,4,4,0)):
    # MTD 3; p_est 0.02, 0.02, 0.27, 0.45; p_overdose 0.01, 0.01, 0.36, 0.81 (BOIN 2.7.2 output)
    n, y = [3, 3, 15, 9, 0], [0, 0, 4, 4, 0]
    assert BOIN().select(np.array(n), np.array(y)) == 3
    from nksim.trial.isotonic import isotonic_estimates

    est = isotonic_estimates(0.3, n, y)
    assert [round(v, 2) for v in est["isotonic_dlt_rate"][:4]] == [0.02, 0.02, 0.27, 0.45]
    assert [round(v, 2) for v in est["prob_overdose"][:4]] == [0.01, 0.01, 0.36, 0.81]
    assert est["isotonic_dlt_rate"][4] is None
    # more BOIN 2.7.2 select.mtd results
    assert BOIN(target=0.25).select(np.array([3, 6, 12, 9, 3]), np.array([0, 0, 2, 4, 2])) == 3
    assert BOIN(n_doses=4, bound_mtd=True).select(np.array([6, 9, 9, 3]), np.array([0, 2, 3, 2])) == 3


def test_dose_paths_follow_the_boundary_table():
    from nksim.trial.advisor import dose_paths

    tree = dose_paths(BOIN(), TrialData(np.zeros(0, dtype=int), np.zeros(0, dtype=int)))
    # from dose 1: 0/3 -> 2, 1/3 -> 1, 2/3 -> 1 (cannot go lower), 3/3 -> stop (dose 1 eliminated)
    assert [(nd["dlts"], nd["next_dose"]) for nd in tree] == [(0, 2), (1, 1), (2, 1), (3, None)]
    # after 1/3 at dose 1: 0/3 more (1/6 <= 0.236 * 6) -> 2; 3/3 more (4/6 >= elim 4) -> stop
    second = tree[1]["then"]
    assert second[0]["next_dose"] == 2 and second[3]["next_dose"] is None


def test_titration_matches_loop_and_r_get_oc():
    p = [0.02, 0.05, 0.1, 0.2, 0.3, 0.5]
    d = BOIN(n_doses=6, titration=True)
    model = FixedProbabilityModel(p, seed=3)
    res = run_trials(d, model, 300)
    sel, n, y, _ = boin_trial_loop(d, model, 300)
    assert np.array_equal(sel, res.selected) and np.array_equal(n, res.n) and np.array_equal(y, res.y)
    # BOIN 2.7.2 get.oc(0.3, p, ncohort=10, cohortsize=3, ntrial=10000, titration=TRUE)
    r_sel = np.array([0.03, 0.28, 4.10, 27.91, 56.23, 11.45]) / 100
    r_n = np.array([1.1353, 1.4984, 3.1899, 7.4309, 10.9326, 5.8129])
    oc = operating_characteristics(d, p, n_trials=4000, seed=2)
    ours = np.array(oc.selection_pct) / 100
    se = np.sqrt(r_sel * (1 - r_sel) / 10_000 + ours * (1 - ours) / 4000)
    assert np.all(np.abs(ours - r_sel) < 3 * se + 1e-3)
    assert np.all(np.abs(np.array(oc.mean_patients) - r_n) < 0.25)
    assert oc.mean_patients[0] < 1.2  # one patient at dose 1 in most trials
