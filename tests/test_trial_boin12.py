"""BOIN12 (Lin et al. 2020, JCO Precis Oncol 4:1393): the paper's worked trial, the authors' app, utilities and
OBD finding.

APP_CASES_*: outcomes -> next dose of the MD Anderson BOIN12 app (biostatistics.mdanderson.org/shinyapps/BOIN12)
for two parameterisations, as recorded in the test suite of the R package escalation (Brock; tests/testthat/
test_boin12.R). Outcome codes: per cohort, the dose then one letter per patient: N neither, E response only,
T DLT only, B both. None = the trial stops (sample size or n at a dose reached).
"""

import re

import numpy as np
import pytest

from nksim.trial.advisor import TrialData, recommend
from nksim.trial.boin import BOIN
from nksim.trial.boin12 import BOIN12
from nksim.trial.simulate import compare

APP_CASES_1 = [
    ("1EBB", 1),
    ("1EEB", 1),
    ("1EEE", 1),
    ("1EET", 1),
    ("1ETB", 1),
    ("1ETT", 1),
    ("1NBB", 1),
    ("1NEB", 1),
    ("1NEE", 1),
    ("1NET", 2),
    ("1NNB", 2),
    ("1NNE", 2),
    ("1NNN", 2),
    ("1NNT", 2),
    ("1NTB", 1),
    ("1NTT", 1),
    ("2BBB", 1),
    ("2EBB", 1),
    ("2EEB", 2),
    ("2EEE", 2),
    ("2EET", 2),
    ("2ETB", 1),
    ("2ETT", 1),
    ("2NBB", 1),
    ("2NEB", 2),
    ("2NEE", 2),
    ("2NET", 3),
    ("2NNB", 3),
    ("2NNE", 3),
    ("2NNN", 3),
    ("2NNT", 3),
    ("2NTB", 1),
    ("2NTT", 1),
    ("2TBB", 1),
    ("2TTB", 1),
    ("2TTT", 1),
    ("5BBB", 4),
    ("5EBB", 4),
    ("5EEB", 5),
    ("5EEE", 5),
    ("5EET", 5),
    ("5ETB", 4),
    ("5ETT", 4),
    ("5NBB", 4),
    ("5NEB", 5),
    ("5NEE", 5),
    ("5NET", 4),
    ("5NNB", 4),
    ("5NNE", 4),
    ("5NNN", 4),
    ("5NNT", 4),
    ("5NTB", 4),
    ("5NTT", 4),
    ("5TBB", 4),
    ("5TTB", 4),
    ("5TTT", 4),
]

APP_CASES_2 = [
    ("1EBB", 1),
    ("1EEB", 1),
    ("1EEE", 1),
    ("1EET", 1),
    ("1ETB", 1),
    ("1ETT", 1),
    ("1NBB", 1),
    ("1NEB", 1),
    ("1NEE", 1),
    ("1NET", 1),
    ("1NNB", 1),
    ("1NNE", 2),
    ("1NNN", 2),
    ("1NTB", 1),
    ("2BBB", 1),
    ("2EBB", 1),
    ("2EEB", 1),
    ("2EEE", 2),
    ("2EET", 1),
    ("2ETB", 1),
    ("2ETT", 1),
    ("2NBB", 1),
    ("2NEB", 1),
    ("2NEE", 2),
    ("2NET", 1),
    ("2NNB", 1),
    ("2NNN", 3),
    ("2NNT", 1),
    ("2NTB", 1),
    ("2NTT", 1),
    ("2TBB", 1),
    ("2TTB", 1),
    ("2TTT", 1),
    ("5BBB", 4),
    ("5EBB", 4),
    ("5EEB", 4),
    ("5EEE", 5),
    ("5EET", 4),
    ("5ETB", 4),
    ("5ETT", 4),
    ("5NBB", 4),
    ("5NEB", 4),
    ("5NEE", 5),
    ("5NET", 4),
    ("5NNB", 4),
    ("5NNE", 4),
    ("5NNN", 4),
    ("5NNT", 4),
    ("5NTB", 4),
    ("5NTT", 4),
    ("5TBB", 4),
    ("5TTB", 4),
    ("5TTT", 4),
]


def _parse(outcomes: str) -> TrialData:
    d, t, e = [], [], []
    for cohort in outcomes.split():
        m = re.match(r"(\d+)([NETB]+)", cohort)
        for ch in m.group(2):
            d.append(int(m.group(1)))
            t.append(int(ch in "TB"))
            e.append(int(ch in "EB"))
    return TrialData(np.array(d), np.array(t), np.array(e))


def test_published_worked_trial():
    # Lin et al. 2020 p.1396 and Data Supplement section 6 / Figure S2 (phi_T 0.35, phi_E 0.25, max 30, 12 per dose)
    d = BOIN12(n_doses=5, target=0.35, phi_e=0.25, n_cohorts=10, n_earlystop=12)
    seq = "1NNN 2NNB 3NEE 3NTN 4ETE 4NBE 4BNN 5BEN 5NBT 4NEN".split()
    expected = [2, 3, 3, 4, 4, 4, 5, 5, 4, None]
    got = [recommend(d, _parse(" ".join(seq[: i + 1])))["next_dose"] for i in range(len(seq))]
    assert got == expected
    assert recommend(d, _parse("1NNN 2ENT 3ETT 2EEN"))["next_dose"] == 2


@pytest.mark.parametrize("params,cases", [
    (dict(target=0.35, phi_e=0.25, u2=40, u3=60, c_t=0.95, c_e=0.9), APP_CASES_1),
    (dict(target=0.15, phi_e=0.4, u2=50, u3=30, c_t=0.9, c_e=0.8), APP_CASES_2),
])
def test_decisions_match_the_authors_app(params, cases):
    d = BOIN12(n_doses=5, n_cohorts=12, n_earlystop=12, **params)
    got = [recommend(d, _parse(s))["next_dose"] for s, _ in cases]
    assert got == [exp for _, exp in cases]


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
    # lowest dose meets the elimination rule: the app stays at dose 1; with safety_stop the trial stops, no OBD
    data = TrialData(np.array([1, 1, 1]), np.array([1, 1, 1]), np.array([0, 0, 0]))
    assert recommend(d, data)["next_dose"] == 1
    rec = recommend(BOIN12(n_doses=4, target=0.35, phi_e=0.25, safety_stop=True), data)
    assert rec["next_dose"] is None and rec["estimated_obd"] is None


def test_finds_plateau_obd_where_boin_climbs_to_the_top():
    # NK-like: little toxicity, efficacy plateau from dose 3: BOIN12's OBD is dose 3, BOIN goes to the top
    p_tox, p_eff = [0.02, 0.05, 0.08, 0.10, 0.12], [0.1, 0.3, 0.5, 0.5, 0.5]
    b12, boin = compare([BOIN12(target=0.35, phi_e=0.25), BOIN(target=0.3)], p_tox, p_eff, n_trials=600, seed=3)
    assert b12.correct_doses == [3]
    assert b12.selection_pct[2] > boin.selection_pct[2] + 15
    assert boin.selection_pct[4] > 80
    assert sum(b12.mean_patients[3:]) < sum(boin.mean_patients[3:])
