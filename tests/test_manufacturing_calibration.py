"""Expansion calibration (Denman 2012 day-21 medians) and held-out checks (Denman mean/median, Lim 2014 day 42).

Only the day-21 medians are fitted (the median growth rate per method). The donor spreads are registry assumptions,
so Denman's mean/median ratios and Lim 2014 are checks on what was not fitted; see docs/manufacturing.md for the
honest outcome of each (the mbIL15 spread and the Lim 2014 mean are discrepancies, documented there).
"""

import numpy as np
import pytest

from nksim.manufacturing import fold_expansion_samples, growth_rate_median, log_fold
from nksim.manufacturing.params import resolve_parameters
from nksim.spec.manufacturing import ManufacturingSpec

DENMAN = {"mbil21": (47967.0, 31747.0), "mbil15_41bbl": (825.0, 325.0)}  # day-21 (mean, median), 22 donors
LIM_2014_DAY42 = {"control": 2004.2, "il21_first_week": 3743.8, "intermittent": 2063.9}  # n = 10 donors


@pytest.fixture(scope="module")
def p():
    return resolve_parameters(ManufacturingSpec())


@pytest.mark.parametrize("method", ["mbil21", "mbil15_41bbl"])
def test_day21_median_matches_denman(method, p):
    """Calibration: simulated day-21 median within 6% of Denman's median (3000 donors; MC error ~2-3%)."""
    x = fold_expansion_samples(method, 21.0, 3000, p, seed=11)
    published = DENMAN[method][1]
    assert abs(np.median(x) / published - 1.0) < 0.06


def test_calibration_is_exact_in_the_growth_law(p):
    """ln F is proportional to r_med, so the median donor (z = 0 on the rate) hits ln(median) up to tau spread."""
    r = growth_rate_median("mbil21", p, cv_r=0.0, cv_tau=0.0)
    assert np.isclose(np.exp(log_fold(21.0, r, p["mfg_senescence_tau_mbil21_d"])), DENMAN["mbil21"][1], rtol=1e-9)


def _study_ratios(method, p, n_studies=400, n_donors=22, seed=5):
    x = fold_expansion_samples(method, 21.0, n_studies * n_donors, p, seed=seed).reshape(n_studies, n_donors)
    return x.mean(axis=1) / np.median(x, axis=1)


def test_heldout_denman_mean_median_ratio_mbil21(p):
    """Held out: Denman's mbIL21 mean/median (1.51) lies inside the 5-95% range of simulated 22-donor studies."""
    r = _study_ratios("mbil21", p)
    obs = DENMAN["mbil21"][0] / DENMAN["mbil21"][1]
    lo, hi = np.quantile(r, [0.05, 0.95])
    assert lo < obs < hi


def test_heldout_denman_mean_median_ratio_mbil15_what_holds(p):
    """Held out, a documented discrepancy: the model under-predicts the mbIL15 spread (observed 2.54 sits above the
    simulated 95th percentile of 22-donor studies, ~2.4). What holds: mean > median in most studies, and the
    observed ratio is within a factor 2 of the simulated median study and inside the 99.5th percentile."""
    r = _study_ratios("mbil15_41bbl", p)
    obs = DENMAN["mbil15_41bbl"][0] / DENMAN["mbil15_41bbl"][1]
    assert np.mean(r > 1.0) > 0.9
    assert obs / 2.0 < np.median(r) < obs
    assert obs < np.quantile(r, 0.995)


def test_heldout_lim2014_day42_order_of_magnitude(p):
    """Held out: Lim 2014 day-42 control (2004-fold, IL-2/IL-15 feeder culture, n = 10) against the mbIL15-feeder
    model at day 42. Holds: model median within a factor 2 and the value inside the range the senescence assumption
    spans (tau 10-60 d); mbIL21 predicts far more (no plateau). Discrepancy (documented): the observed value is below
    the 5th percentile of simulated 10-donor MEANS (the model's right tail is heavy)."""
    obs = LIM_2014_DAY42["control"]
    med = np.median(fold_expansion_samples("mbil15_41bbl", 42.0, 3000, p, seed=3))
    assert obs / 2.0 < med < obs * 2.0
    e = p.entry("mfg_senescence_tau_mbil15_d")
    meds = []
    for tau in (e.low, e.high):  # recalibrated to the same day-21 median at each end of the assumption's range
        pt = resolve_parameters(ManufacturingSpec(parameters={"mfg_senescence_tau_mbil15_d": tau}))
        meds.append(float(np.median(fold_expansion_samples("mbil15_41bbl", 42.0, 1000, pt, seed=3))))
    assert min(meds) < obs < max(meds)
    med21 = np.median(fold_expansion_samples("mbil21", 42.0, 500, p, seed=3))
    assert med21 > 100 * obs
    # the IL-21 timing effect (first week 1.87x control) is not modelled: soluble IL-21 schedules are not a method
    assert LIM_2014_DAY42["il21_first_week"] > LIM_2014_DAY42["intermittent"] >= LIM_2014_DAY42["control"]


def test_method_ordering_and_senescence(p):
    """mbIL21 > PBMC feeders > mbIL15 > IL-2 alone at day 21; mbIL15 growth slows (plateau), mbIL21 does not."""
    med = {m: np.median(fold_expansion_samples(m, 21.0, 400, p, seed=2))
           for m in ("mbil21", "pbmc_feeder", "mbil15_41bbl", "il2_alone")}
    assert med["mbil21"] > med["pbmc_feeder"] > med["mbil15_41bbl"] > med["il2_alone"]
    r15 = growth_rate_median("mbil15_41bbl", p)
    tau15 = p["mfg_senescence_tau_mbil15_d"]
    early = log_fold(7.0, r15, tau15) - log_fold(0.0, r15, tau15)
    late = log_fold(42.0, r15, tau15) - log_fold(35.0, r15, tau15)
    assert late < 0.5 * early
    r21 = growth_rate_median("mbil21", p)
    tau21 = p["mfg_senescence_tau_mbil21_d"]
    assert (log_fold(42.0, r21, tau21) - log_fold(35.0, r21, tau21)) > 0.95 * (log_fold(7.0, r21, tau21))
