"""summarize(): Clopper-Pearson intervals, Kaplan-Meier medians, biomarker strata."""

import numpy as np
import pandas as pd
import pytest

from nksim.clinical import ReadoutSpec, clopper_pearson, km_median, outcomes, summarize
from nksim.clinical.synthetic import synthetic_cohort
from nksim.errors import InputError


@pytest.mark.parametrize(
    "k, n, lo, hi",
    [
        (5, 10, 0.1871, 0.8129),  # textbook exact interval for 5/10
        (0, 10, 0.0, 0.3085),
        (10, 10, 0.6915, 1.0),
        (8, 11, 0.3903, 0.9398),  # e.g. Liu 2020: 8/11 responses
    ],
)
def test_clopper_pearson_reference_values(k, n, lo, hi):
    a, b = clopper_pearson(k, n)
    assert a == pytest.approx(lo, abs=1e-4) and b == pytest.approx(hi, abs=1e-4)


def test_clopper_pearson_edge_cases():
    assert all(np.isnan(clopper_pearson(0, 0)))
    with pytest.raises(InputError):
        clopper_pearson(4, 3)


def test_km_median_by_hand():
    assert km_median(np.array([1, 2, 3, 4, 5.0]), np.ones(5, bool))[0] == 3.0
    # S: t1 6/7, t2 x5/6 = .714, censored at 2, t3 x3/4 = .536, censored 4, t5 x1/2 = .268 -> median 5
    d = np.array([1, 2, 2, 3, 4, 5, 6.0])
    e = np.array([1, 1, 0, 1, 0, 1, 1], bool)
    m, lo, hi = km_median(d, e)
    assert m == 5.0 and lo <= m <= hi
    assert km_median(np.array([5.0, 6.0]), np.zeros(2, bool))[0] == np.inf  # not reached


@pytest.fixture(scope="module")
def table():
    ds, pts = synthetic_cohort(400, seed=3, t_end=200.0)
    return outcomes(ds, pts, ReadoutSpec(follow_up_days=200.0), seed=2)


def test_rates_match_counts(table):
    s = summarize(table).set_index("metric")
    ev = table[table.measurable]
    assert s.loc["ORR", "n_events"] == ev.best_response.isin(["CR", "PR"]).sum()
    assert s.loc["ORR", "n"] == len(ev)
    assert s.loc["DCR", "estimate"] == pytest.approx(ev.best_response.isin(["CR", "PR", "SD"]).mean())
    assert s.loc["CRS grade>=3", "estimate"] == pytest.approx((table.crs_grade >= 3).mean())
    assert s.loc["DLT rate", "n_events"] == table.dlt.sum()
    for metric in ("ORR", "CR rate", "DCR", "CRS any grade", "CRS grade>=3", "DLT rate"):
        row = s.loc[metric]
        assert row.ci_low <= row.estimate <= row.ci_high
        assert (row.ci_low, row.ci_high) == pytest.approx(clopper_pearson(int(row.n_events), int(row.n)))
    m, lo, hi = km_median(table.pfs_days.to_numpy(), table.pfs_event.to_numpy())
    assert s.loc["median PFS", "estimate"] == m


def test_stratified_by_biomarker(table):
    s = summarize(table, by="antigen_GPC3", bins=[0.0, 0.5, 1.0])
    orr = s[s.metric == "ORR"]
    assert len(orr) == 2 and orr.n.sum() == table.measurable.sum()
    # in the synthetic cohort log-kill depth scales with antigen fraction: more antigen, more responses
    assert orr.estimate.iloc[1] > orr.estimate.iloc[0]
    q = summarize(table, by="antigen_GPC3", bins=3)
    assert q.antigen_GPC3.nunique() == 3
    assert summarize(table, by="n_infusions").n_infusions.nunique() == table.n_infusions.nunique()


def test_summary_input_errors(table):
    with pytest.raises(InputError, match="by"):
        summarize(table, by="antigen_XYZ")
    with pytest.raises(InputError, match="bins"):
        summarize(table, by="antigen_GPC3", bins=[0.5, 0.2])
    with pytest.raises(InputError, match="outcomes.columns"):
        summarize(pd.DataFrame({"x": [1]}))
