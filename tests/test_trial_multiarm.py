"""Multi-arm comparison against a classic survival data set: the 6-MP leukaemia remission trial (Freireich et al.
1963, Blood 21:699; Gehan 1965). Reference values by R survival 3.4: survfit KM of the 6-MP arm, survdiff
chi-square 16.79 (the textbook value, e.g. Kleinbaum & Klein, Survival Analysis), coxph (Efron) HR 0.2076."""

import numpy as np
import pandas as pd
import pytest

from nksim.errors import InputError
from nksim.trial.multiarm import analyze_arms, clopper_pearson, parse_arms, simulate_randomized

T_6MP = [6, 6, 6, 7, 10, 13, 16, 22, 23, 6, 9, 10, 11, 17, 19, 20, 25, 32, 32, 34, 35]
E_6MP = [1] * 9 + [0] * 12
T_PBO = [1, 1, 2, 2, 3, 4, 4, 5, 5, 8, 8, 8, 8, 11, 11, 12, 12, 15, 17, 22, 23]


def _gehan():
    return pd.DataFrame({"arm": ["placebo"] * 21 + ["6-MP"] * 21, "pfs_months": T_PBO + T_6MP,
                         "progressed": [1] * 21 + E_6MP, "response": [0] * 21 + [1] * 9 + [0] * 12})


def test_kaplan_meier_logrank_and_hazard_ratio():
    res = analyze_arms(_gehan())
    a = res["arms"]["6-MP"]
    surv = dict(zip(a["km_time"], a["km_survival"]))
    ref = {6: 0.85714286, 7: 0.80672269, 10: 0.75294118, 13: 0.69019608, 16: 0.62745098, 22: 0.53781513,
           23: 0.44817927}
    for t, s in ref.items():
        assert abs(surv[t] - s) < 1e-6
    assert abs(a["logrank_chi2"] - 16.79294) < 1e-3
    assert abs(a["hazard_ratio"] - 0.2076035) < 1e-3
    assert res["arms"]["placebo"]["median_pfs_months"] == 8
    assert a["median_pfs_months"] == 23


def test_clopper_pearson():
    # exact 95% intervals: 5/10 -> (0.1871, 0.8129); 0/10 -> (0, 0.3085)
    lo, hi = clopper_pearson(5, 10)
    assert abs(lo - 0.18709) < 1e-4 and abs(hi - 0.81291) < 1e-4
    assert clopper_pearson(0, 10)[0] == 0 and abs(clopper_pearson(0, 10)[1] - 0.30850) < 1e-4


def test_simulated_randomized_trial_detects_a_large_effect():
    df = simulate_randomized(parse_arms("low:0.1:3,high:0.4:9"), 80, seed=2)
    assert (df["arm"] == "low").sum() == 80
    res = analyze_arms(df)
    assert res["reference"] == "low" and list(res["arms"]) == ["low", "high"]
    assert res["arms"]["high"]["hazard_ratio"] < 0.6 and res["arms"]["high"]["logrank_p"] < 0.01
    assert res["arms"]["high"]["orr"] > res["arms"]["low"]["orr"]


def test_bad_arms():
    with pytest.raises(InputError, match="arms"):
        parse_arms("only:0.2:3")
