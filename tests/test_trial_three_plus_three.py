"""3+3 against exact probabilities: the escalation-probability table of Storer 1989 as reproduced in Le Tourneau,
Lee & Siu 2009 (J Natl Cancer Inst 101:708, Table 2) and the closed form of Lin & Shih 2001 (Biostatistics 2:203)."""

import numpy as np
import pytest

from nksim.errors import InputError
from nksim.trial.advisor import TrialData, recommend
from nksim.trial.simulate import exact_oc, operating_characteristics
from nksim.trial.three_plus_three import ThreePlusThree, escalation_probability, exact_selection_no_deescalation

P = [0.05, 0.15, 0.3, 0.45, 0.6]


def test_escalation_probability_table():
    # true DLT rate -> probability of escalating (Le Tourneau et al. 2009, Table 2)
    table = {0.1: 0.91, 0.2: 0.71, 0.3: 0.49, 0.4: 0.31, 0.5: 0.17, 0.6: 0.08, 0.7: 0.03, 0.8: 0.01}
    for p, ref in table.items():
        assert round(escalation_probability(p), 2) == ref


def test_exact_enumeration_equals_closed_form():
    sel, none = exact_selection_no_deescalation(P)
    ex = exact_oc(ThreePlusThree(), P)
    assert np.allclose(ex["selection"], sel, atol=1e-12)
    assert abs(ex["no_selection"] - none) < 1e-12


@pytest.mark.parametrize("deesc", [False, True])
def test_monte_carlo_within_three_standard_errors_of_exact(deesc):
    d = ThreePlusThree(deescalation=deesc)
    ex = exact_oc(d, P)
    oc = operating_characteristics(d, P, n_trials=6000, seed=5)
    mc = np.array(oc.selection_pct + [oc.no_selection_pct]) / 100
    exact = np.append(ex["selection"], ex["no_selection"])
    se = np.sqrt(exact * (1 - exact) / 6000)
    assert np.all(np.abs(mc - exact) < 3 * se + 1e-12)
    n_se = 6.0 / np.sqrt(6000)  # patients per dose lie in [0, 6]: sd <= 3
    assert np.all(np.abs(np.array(oc.mean_patients) - ex["mean_patients"]) < 3 * n_se)


def test_variants_differ_as_declared():
    # 0/3 at dose 1, then 2/3 at dose 2: without de-escalation select dose 1 (3 patients); with it, expand dose 1
    data = TrialData(np.array([1, 1, 1, 2, 2, 2]), np.array([0, 0, 0, 1, 1, 0]))
    assert recommend(ThreePlusThree(), data)["next_dose"] is None
    assert recommend(ThreePlusThree(), data)["estimated_mtd"] == 1
    rec = recommend(ThreePlusThree(deescalation=True), data)
    assert rec["next_dose"] == 1
    more = TrialData(np.append(data.dose_level, [1, 1, 1]), np.append(data.dlt, [0, 1, 1]))
    rec = recommend(ThreePlusThree(deescalation=True), more)
    assert rec["next_dose"] is None and rec["estimated_mtd"] is None  # 2/6 at dose 1: no MTD
    assert recommend(ThreePlusThree(), TrialData(np.array([1, 1]), np.array([0, 0])))["next_dose"] == 1


def test_expansion_and_top_dose():
    d = ThreePlusThree(n_doses=2)
    assert recommend(d, TrialData(np.array([1, 1, 1]), np.array([1, 0, 0])))["next_dose"] == 1
    rec = recommend(d, TrialData(np.array([1, 1, 1, 2, 2, 2]), np.array([0, 0, 0, 0, 0, 0])))
    assert rec["next_dose"] is None and rec["estimated_mtd"] == 2


def test_cohort_size_must_be_three():
    with pytest.raises(InputError, match="cohort_size"):
        ThreePlusThree(cohort_size=2)
