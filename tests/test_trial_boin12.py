"""BOIN12 (Lin et al. 2020, JCO Precis Oncol 4:1393): utilities, admissibility, decisions and OBD finding."""

import numpy as np

from nksim.trial.advisor import TrialData, recommend
from nksim.trial.boin import BOIN
from nksim.trial.boin12 import BOIN12
from nksim.trial.simulate import compare


def test_benchmark_utility():
    # phi_T = 0.35, phi_E = 0.25, (u1, u2, u3, u4) = (100, 40, 60, 0): u_bar = 16.25 + 19.5 + 5.25 = 41
    d = BOIN12(target=0.35, phi_e=0.25)
    assert abs(d.benchmark - (41 + (100 - 41) / 2)) < 1e-12
    # desirability grows with responses and falls with DLTs
    s = d.desirability([6, 6, 6], [0, 0, 3], [1, 4, 4], [0, 0, 2])
    assert s[1] > s[0] and s[1] > s[2]


def test_decisions():
    d = BOIN12(n_doses=4, target=0.35, phi_e=0.25)
    # 3 patients, no DLT: escalate to an untried dose (untried doses are admissible and desirable)
    rec = recommend(d, TrialData(np.array([1, 1, 1]), np.array([0, 0, 0]), np.array([0, 1, 0])))
    assert rec["next_dose"] == 2
    # DLT rate >= lambda_d: de-escalate
    rec = recommend(d, TrialData(np.array([1, 1, 1, 2, 2, 2]), np.array([0, 0, 0, 1, 1, 0]),
                                 np.array([0, 0, 0, 1, 1, 1])))
    assert rec["next_dose"] == 1
    # lowest dose meets the elimination rule: stop, no OBD
    rec = recommend(d, TrialData(np.array([1, 1, 1]), np.array([1, 1, 1]), np.array([0, 0, 0])))
    assert rec["next_dose"] is None and rec["estimated_obd"] is None


def test_finds_plateau_obd_where_boin_climbs_to_the_top():
    # NK-like: little toxicity, efficacy plateau from dose 3: BOIN12's OBD is dose 3, BOIN goes to the top
    p_tox, p_eff = [0.02, 0.05, 0.08, 0.10, 0.12], [0.1, 0.3, 0.5, 0.5, 0.5]
    b12, boin = compare([BOIN12(target=0.35, phi_e=0.25), BOIN(target=0.3)], p_tox, p_eff, n_trials=600, seed=3)
    assert b12.correct_doses == [3]
    assert b12.selection_pct[2] > boin.selection_pct[2] + 15
    assert boin.selection_pct[4] > 80
    assert sum(b12.mean_patients[3:]) < sum(boin.mean_patients[3:])
