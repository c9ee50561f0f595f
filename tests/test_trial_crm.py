"""CRM against R's dfcrm 0.2-2.1 (Cheung 2011): the ``crm`` help example, ``getprior`` and ``crmsim``."""

import numpy as np
import pytest

from nksim.errors import InputError
from nksim.trial.advisor import TrialData, recommend
from nksim.trial.crm import CRM, getprior
from nksim.trial.simulate import operating_characteristics

SKEL = (0.05, 0.10, 0.20, 0.35, 0.50, 0.70)
LEVEL = np.array([3, 4, 4, 3, 3, 4, 3, 2, 2, 2])
TOX = np.array([0, 0, 1, 0, 0, 1, 1, 0, 0, 0])


def _counts():
    return np.bincount(LEVEL - 1, minlength=6), np.bincount(LEVEL - 1, weights=TOX, minlength=6)


def test_dfcrm_crm_example_empiric():
    # dfcrm: crm(prior, 0.2, y, level): estimate -0.2121715263, post.var 0.1575955281, mtd 2
    post = CRM(n_doses=6, target=0.2, skeleton=SKEL).posterior(*_counts())
    assert abs(post["a_mean"][0] + 0.2121715263) < 1e-7
    assert abs(post["a_var"][0] - 0.1575955281) < 1e-6
    ref = [0.08865294696, 0.15530092743, 0.27205387847, 0.42778977757, 0.57084621730, 0.74939583484]
    assert np.allclose(post["ptox"][0], ref, atol=1e-7)
    assert CRM(n_doses=6, target=0.2, skeleton=SKEL).select(*_counts()) == 2


def test_dfcrm_crm_example_logistic():
    # dfcrm: crm(..., model="logistic"): estimate -0.1101116088
    post = CRM(n_doses=6, target=0.2, skeleton=SKEL, model="logistic").posterior(*_counts())
    assert abs(post["a_mean"][0] + 0.1101116088) < 1e-7
    assert np.allclose(post["ptox"][0][:3], [0.08910298223, 0.16038967259, 0.28313703716], atol=1e-7)


def test_getprior_lee_cheung_2009():
    # dfcrm getprior(0.10, 0.25, 3, 6, model="logistic") and getprior(0.05, 0.25, 3, 5)
    assert np.allclose(getprior(0.10, 0.25, 3, 6, "logistic"),
                       [0.01772616629, 0.08611653616, 0.25, 0.46682345246, 0.64686097293, 0.76305706685], atol=1e-9)
    assert np.allclose(getprior(0.05, 0.25, 3, 5), [0.08397349131, 0.15674102114, 0.25, 0.35450042762,
                                                    0.46034311109], atol=1e-9)


def test_restrictions_no_skipping_and_coherence():
    d = CRM(n_doses=5, target=0.3, skeleton=(0.05, 0.1, 0.2, 0.3, 0.4))
    # three patients at dose 1 without DLT: the model would jump, no-skipping allows only dose 2
    assert recommend(d, TrialData(np.array([1, 1, 1]), np.zeros(3, dtype=int)))["next_dose"] == 2
    # a toxic last cohort at dose 2 (2/3 >= target): no escalation, whatever the model says
    data = TrialData(np.array([1, 1, 1, 1, 1, 1, 2, 2, 2]), np.array([0, 0, 0, 0, 0, 0, 1, 1, 0]))
    assert recommend(d, data)["next_dose"] <= 2


def test_operating_characteristics_agree_with_dfcrm_crmsim():
    # dfcrm crmsim(PI, getprior(0.05, 0.3, 3, 5), 0.3, 30, 1, nsim=2000, mcohort=3): MTD selection
    r_sel = np.array([0.0025, 0.1425, 0.5645, 0.2680, 0.0225])
    oc = operating_characteristics(CRM(skeleton=tuple(getprior(0.05, 0.3, 3, 5))), [0.05, 0.15, 0.3, 0.45, 0.6],
                                   n_trials=2000, seed=4)
    ours = np.array(oc.selection_pct) / 100
    se = np.sqrt(r_sel * (1 - r_sel) / 2000 + ours * (1 - ours) / 2000)
    assert np.all(np.abs(ours - r_sel) < 3 * se + 0.003)


def test_safety_stop_rule():
    d = CRM(stop_tox_prob=0.9)
    oc = operating_characteristics(d, [0.7, 0.75, 0.8, 0.85, 0.9], n_trials=500, seed=1)
    assert oc.no_selection_pct > 80


def test_bad_skeleton():
    with pytest.raises(InputError, match="skeleton"):
        CRM(n_doses=3, skeleton=(0.3, 0.2, 0.1))


def test_monte_carlo_within_three_se_of_exact_enumeration():
    from nksim.trial.simulate import exact_oc

    p = [0.05, 0.15, 0.3, 0.45, 0.6]
    d = CRM(n_cohorts=6)
    ex = exact_oc(d, p)  # counts plus the last cohort determine the CRM's decision: enumeration is exact
    assert abs(ex["selection"].sum() - 1) < 1e-9
    oc = operating_characteristics(d, p, n_trials=3000, seed=3)
    mc = np.array(oc.selection_pct) / 100
    se = np.sqrt(ex["selection"] * (1 - ex["selection"]) / 3000)
    assert np.all(np.abs(mc - ex["selection"]) < 3 * se + 1e-12)


def test_logistic_model_operating_characteristics_agree_with_dfcrm():
    # dfcrm crmsim(c(.05,.1,.25,.4,.55), getprior(0.05, 0.25, 3, 5, model="logistic"), 0.25, 24, 1, nsim=3000,
    # mcohort=3, model="logistic", seed=77): MTD selection and patients per dose
    r_sel = np.array([0.005333333, 0.161333333, 0.519666667, 0.264, 0.049666667])
    r_n = np.array([4.057, 6.021, 8.157, 4.758, 1.007])
    sk = getprior(0.05, 0.25, 3, 5, "logistic")
    assert np.allclose(sk, [0.08887356486, 0.15804892203, 0.25, 0.35549606942, 0.46177221669], atol=1e-9)
    d = CRM(target=0.25, skeleton=tuple(sk), model="logistic", n_cohorts=8)
    oc = operating_characteristics(d, [0.05, 0.1, 0.25, 0.4, 0.55], n_trials=3000, seed=9)
    ours = np.array(oc.selection_pct) / 100
    se = np.sqrt(r_sel * (1 - r_sel) / 3000 + ours * (1 - ours) / 3000)
    assert np.all(np.abs(ours - r_sel) < 3 * se + 0.002)
    assert np.all(np.abs(np.array(oc.mean_patients) - r_n) < 0.3)
