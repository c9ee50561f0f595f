"""TITE-BOIN (Lin & Yuan 2020; TITEgBOIN conduct): limits and its effect on duration."""

import numpy as np

from nksim.trial.advisor import TrialData, recommend
from nksim.trial.base import run_trials
from nksim.trial.boin import BOIN
from nksim.trial.outcomes import FixedProbabilityModel
from nksim.trial.tite_boin import TITEBOIN

P = [0.05, 0.15, 0.3, 0.45, 0.6]


def test_equals_boin_when_no_patient_is_ever_pending():
    # accrual so slow (mean gap 1e7 days) that every DLT window is over at each decision: TITE-BOIN is BOIN
    model = FixedProbabilityModel(P, seed=5)
    tite = TITEBOIN().simulate(model, 150, accrual_gap_days=1e7)
    boin = run_trials(BOIN(), model, 150)
    assert np.array_equal(tite.selected, boin.selected)
    assert np.array_equal(tite.n, boin.n)


def test_fast_accrual_shortens_trials_and_keeps_selection():
    model = FixedProbabilityModel(P, seed=6, dlt_window_days=28)
    tite = TITEBOIN().simulate(model, 300, accrual_gap_days=5)
    boin = run_trials(BOIN(), model, 300, accrual_gap_days=5)
    assert tite.duration_days.mean() < 0.8 * boin.duration_days.mean()
    pcs_t, pcs_b = np.mean(tite.selected == 3), np.mean(boin.selected == 3)
    assert abs(pcs_t - pcs_b) < 0.12


def test_suspension_and_ess_rule():
    d = TITEBOIN(n_doses=3)
    elim = np.zeros(3, dtype=bool)
    # 3 patients at dose 1, 2 still pending (> 50%): suspend accrual
    assert d.tite_decision(1, np.array([3, 0, 0]), np.array([0, 0, 0]), np.array([2, 0, 0]),
                           np.array([0.5, 0, 0]), elim)[1] == "suspend"
    # 6 patients, 1 DLT, 2 pending with half their window: ESS = 6 - 2 + 1 = 5, p = 0.2 <= lambda_e -> escalate
    assert d.tite_decision(1, np.array([6, 0, 0]), np.array([1, 0, 0]), np.array([2, 0, 0]),
                           np.array([1.0, 0, 0]), elim) == (2, "go")
    # same with 2 DLTs: p = 0.4 >= lambda_d at dose 2 -> de-escalate
    assert d.tite_decision(2, np.array([3, 6, 0]), np.array([0, 2, 0]), np.array([0, 2, 0]),
                           np.array([0, 1.0, 0]), elim) == (1, "go")


def test_advisor_on_complete_data_is_boin():
    data = TrialData(np.array([1, 1, 1, 2, 2, 2]), np.array([0, 0, 0, 0, 0, 1]))
    assert recommend(TITEBOIN(), data)["next_dose"] == recommend(BOIN(), data)["next_dose"] == 2


def test_advisor_with_pending_patients(tmp_path):
    from nksim.trial.advisor import read_trial_data

    f = tmp_path / "tite.csv"
    # dose 2: 6 treated, 1 DLT, 4 pending (> 50%): suspend accrual
    f.write_text("dose_level,dlt,followup_days\n1,0,40\n1,0,35\n1,0,30\n2,0,28\n2,1,10\n2,0,12\n2,0,5\n2,0,2\n2,0,1\n", encoding="utf-8")
    rec = recommend(TITEBOIN(), read_trial_data(f, 5))
    assert rec["next_dose"] == 2 and rec["decision"].startswith("suspend")
    # 2 pending of 6 with 14 of 28 days each: ESS = 4 + 1 = 5, 1 DLT: p = 0.2 <= lambda_e -> escalate
    data = TrialData(np.array([1, 1, 1, 2, 2, 2, 2, 2, 2]), np.array([0, 0, 0, 0, 1, 0, 0, 0, 0]),
                     followup_days=np.array([40, 40, 40, 30, 30, 30, 30, 14, 14.0]))
    rec = recommend(TITEBOIN(), data)
    assert rec["next_dose"] == 3 and "effective sample size 5.00" in rec["decision"]


def test_agrees_with_r_titegboin_reference():
    # TITEgBOIN 0.4.0 get_oc_TITE_QuasiBOIN(target=0.3, prob=P, TITE=TRUE, ncohort=10, cohortsize=3, maxt=1,
    # accrual=3, maxpen=0.5, ntrial=6000, seed=11): selpercent, npatients, duration (in DLT windows)
    r_sel = np.array([0.9833333, 23.7333333, 55.1833333, 18.55, 1.5]) / 100
    r_n = np.array([4.9000, 9.8345, 10.3275, 4.1445, 0.7805])
    r_duration = 12.873
    model = FixedProbabilityModel(P, seed=8, dlt_window_days=28)
    res = TITEBOIN().simulate(model, 2000, accrual_gap_days=28 / 3)  # 3 arrivals per window, as accrual=3
    ours = np.bincount(res.selected, minlength=6)[1:] / 2000
    se = np.sqrt(r_sel * (1 - r_sel) / 6000 + ours * (1 - ours) / 2000)
    assert np.all(np.abs(ours - r_sel) < 3 * se + 1e-3)
    n_se = res.n.std(axis=0) * np.sqrt(1 / 2000 + 1 / 6000)
    assert np.all(np.abs(res.n.mean(axis=0) - r_n) < 3 * n_se + 0.02)
    assert abs(res.duration_days.mean() / 28 - r_duration) < 0.15
