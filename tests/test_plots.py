"""nksim.plots on users' own data: what each plot draws, large cohorts as single collections, BLQ handling,
number-at-risk counts, bad input messages; res.plot on a simulation result."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
from matplotlib.collections import LineCollection, PolyCollection  # noqa: E402
from matplotlib.colors import to_hex  # noqa: E402
from matplotlib.patches import Rectangle  # noqa: E402

from nksim import plots  # noqa: E402
from nksim.errors import InputError  # noqa: E402


def _by_gid(ax, gid):
    found = [a for a in ax.get_children() if a.get_gid() == gid]
    assert len(found) == 1, (gid, found)
    return found[0]


@pytest.fixture(autouse=True)
def _close():
    yield
    plt.close("all")


def test_spider_from_a_long_table_one_line_per_patient_colored_by_response():
    df = pd.DataFrame({"subject": [1, 1, 2, 2, 3], "day": [28, 56, 28, 56, 28],
                       "chg": [-10.0, -40.0, 5.0, 25.0, 0.0], "bor": ["PR", "PR", "PD", "PD", "SD"]})
    fig = plots.spider(df, id="subject", time="day", value="chg", response="bor")
    lc = _by_gid(fig.axes[0], "patients")
    segs = lc.get_segments()
    assert len(segs) == 3
    assert all(tuple(s[0]) == (0.0, 0.0) for s in segs)  # every line starts at baseline
    assert [s[-1][1] for s in segs] == [-40.0, 25.0, 0.0]
    assert [to_hex(c) for c in lc.get_colors()] == [plots.RESPONSE_COLORS[r] for r in ("PR", "PD", "SD")]


def test_spider_large_cohort_draws_a_stated_sample_over_medians_of_all():
    rng = np.random.default_rng(0)
    n = 3000
    y = rng.normal(0, 20, (n, 6))
    y[:, 3:][rng.random((n, 3)) < 0.3] = np.nan
    resp = np.where(y[:, 2] < -30, "PR", np.where(y[:, 2] > 20, "PD", "SD"))
    fig = plots.spider_matrix([28, 56, 84, 112, 140, 168], y, resp, max_lines=100, seed=1)
    ax = fig.axes[0]
    assert len(ax.collections) == 1  # one artist for all sampled patients
    drawn = len(_by_gid(ax, "patients").get_segments())
    assert 95 <= drawn <= 105 and f"{drawn} of {n} patients drawn" in ax.get_title()
    for r in ("PR", "SD", "PD"):
        med = _by_gid(ax, f"median-{r}")
        expected = np.nanmedian(np.column_stack([np.zeros(n), y])[resp == r], axis=0)
        assert np.allclose(med.get_ydata(), expected[np.isfinite(expected)])
    again = plots.spider_matrix([28, 56, 84, 112, 140, 168], y, resp, max_lines=100, seed=1)
    assert all(np.array_equal(a, b) for a, b in zip(_by_gid(again.axes[0], "patients").get_segments(),
                                                     _by_gid(ax, "patients").get_segments()))  # seeded


def test_waterfall_one_collection_sorted_capped_and_missing_left_out():
    v = np.array([50.0, -80.0, np.nan, 250.0, -10.0])
    fig = plots.waterfall(v, ["SD", "CR", "NE", "PD", "SD"], cap=100)
    ax = fig.axes[0]
    bars = _by_gid(ax, "bars")
    assert not [p for p in ax.patches if isinstance(p, Rectangle)]
    heights = [p.vertices[1, 1] for p in bars.get_paths()]
    assert heights == [100.0, 50.0, -10.0, -80.0]  # worst first, 250 cut at the cap
    assert "n = 4" in ax.get_xlabel()
    assert any("1 bar(s) above +100% cut" in t.get_text() for t in ax.get_legend().get_texts())
    big = plots.waterfall(np.random.default_rng(2).normal(0, 30, 10_000))
    assert len(big.axes[0].collections) == 1 and len(big.axes[0].collections[0].get_paths()) == 10_000


def test_swimmer_bars_end_at_first_event_and_only_censored_get_arrows():
    df = pd.DataFrame({"id": [1, 2, 3, 4], "time": [300.0, 300.0, 200.0, 120.0],
                       "progression": [90.0, np.nan, np.nan, 60.0], "death": [np.nan, 150.0, np.nan, 100.0],
                       "response_onset": [28.0, np.nan, 56.0, np.nan], "response": ["PR", "SD", "CR", "PD"]})
    fig = plots.swimmer(df)
    ax = fig.axes[0]
    widths = sorted(p.get_width() for p in ax.patches)
    assert widths == [60.0, 90.0, 150.0, 200.0]  # progression, progression, death, follow-up
    assert sorted(_by_gid(ax, "end-progression").get_xdata()) == [60.0, 90.0]
    assert list(_by_gid(ax, "end-death").get_xdata()) == [150.0]
    assert list(_by_gid(ax, "end-censored").get_xdata()) == [200.0]  # the only patient without an event
    assert sorted(_by_gid(ax, "response-onset").get_xdata()) == [28.0, 56.0]
    assert [t.get_fontsize() for t in ax.get_yticklabels()] == [8.0] * 4
    few = plots.swimmer(df, max_patients=2)
    assert "2 of 4 patients" in few.axes[0].get_title()


def test_kaplan_meier_number_at_risk_and_median():
    from lifelines import KaplanMeierFitter

    rng = np.random.default_rng(3)
    d = rng.exponential(100, 300).round()
    e = rng.random(300) < 0.7
    arm = np.where(rng.random(300) < 0.5, "A", "B")
    fig = plots.kaplan_meier(d, e, arm, ticks=[0, 50, 100, 200])
    ax, tab = fig.axes
    rows = {}
    for t in tab.texts:
        rows.setdefault(round(t.get_position()[1]), []).append((t.get_position()[0], int(t.get_text().replace(",", ""))))
    for k, lab in enumerate(["A", "B"] if arm[0] == "A" else ["B", "A"]):
        got = [c for _, c in sorted(rows[1 - k])]
        assert got == [int((d[arm == lab] >= x).sum()) for x in (0, 50, 100, 200)]
    med = KaplanMeierFitter().fit(d[arm == "A"], e[arm == "A"]).median_survival_time_
    assert f"A: median {med:.3g} d" in " ".join(ax.texts[0].get_text().split())
    # on a scan grid the median is explained as lying between two scans
    grid_d = np.repeat([28.0, 56.0, 84.0, 112.0], [40, 50, 60, 50])  # median on the scan of day 84
    fig = plots.kaplan_meier(grid_d, np.ones(200, bool), grid=[28, 56, 84, 112])
    assert "events dated at scans, so the median lies in (56, 84] d" in " ".join(fig.axes[0].texts[0].get_text().split())
    with pytest.raises(InputError, match="durations"):
        plots.kaplan_meier([1.0, -2.0], [True, False])
    with pytest.raises(InputError, match="events"):
        plots.kaplan_meier([1.0, 2.0], [True])


def test_pk_blq_values_are_never_drawn_below_the_limit():
    t = np.arange(0.0, 30.0)
    rng = np.random.default_rng(4)
    y = 100 * np.exp(-t[None, :] * rng.uniform(0.1, 0.5, (20, 1)))
    lloq = np.linspace(0.5, 2.0, t.size)  # a limit that moves over time
    fig = plots.pk_matrix(t, y, lloq=lloq, blq="mask")
    ax = fig.axes[0]
    for seg in _by_gid(ax, "individuals").get_segments():
        assert (seg[:, 1] >= np.interp(seg[:, 0], t, lloq) - 1e-12).all()
    med = _by_gid(ax, "median")
    x, m = med.get_xdata(), np.asarray(med.get_ydata(), float)
    ok = np.isfinite(m)
    assert (m[ok] >= np.interp(x[ok], t, lloq)).all() and (~ok).any()  # the median ends at the limit
    assert ax.get_ylim()[0] > 0.1  # no band of values floored far below the limit
    frac = 100 * (y < lloq).sum() / y.size
    assert any(f"{frac:.0f}% of values, not drawn" in tx.get_text() for tx in ax.get_legend().get_texts())
    half = plots.pk_matrix(t, y, lloq=1.0, blq="half")
    pts = _by_gid(half.axes[0], "blq")
    assert np.allclose(pts.get_ydata(), 0.5) and len(pts.get_xdata()) == int((y < 1.0).sum())
    with pytest.raises(InputError, match="blq"):
        plots.pk_matrix(t, y, lloq=1.0, blq="zero")


def test_pk_long_table_reported_blq_and_per_sample_limits():
    df = pd.DataFrame({"id": [1, 1, 1, 2, 2], "day": [1, 7, 14, 1, 7], "conc": [50.0, 3.0, np.nan, 20.0, 0.4],
                       "lod": [1.0, 1.0, 1.0, 0.2, 0.2]})
    fig = plots.pk(df, time="day", value="conc", lloq="lod", blq="half", band=False)
    pts = _by_gid(fig.axes[0], "blq")
    assert list(pts.get_xdata()) == [14.0] and list(pts.get_ydata()) == [0.5]  # reported BLQ (NaN) at LLOQ/2
    with pytest.raises(InputError, match="data.columns"):
        plots.pk(df, time="day", value="value")


def test_sci_writes_doses_as_protocols_do():
    assert [plots.sci(v) for v in (1e6, 1e7, 2.5e7, 300.0, 0.5, 1.2345e8)] == [
        "1e6", "1e7", "2.5e7", "300", "0.5", "1.2345e8"]


def test_result_plot_every_kind(car_nk_result):
    for kind in plots.KINDS:
        fig = car_nk_result.plot(kind)
        assert isinstance(fig, plt.Figure) and fig.axes
    wf = car_nk_result.plot("waterfall").axes[0]
    assert "best % change in sum of diameters" in wf.get_ylabel()
    dashed = {round(float(ln.get_ydata()[0]), 9) for ln in wf.get_lines() if ln.get_linestyle() == "--"}
    assert dashed == set(car_nk_result.resolved.criteria.reference_lines.values())  # the criteria's PD/PR lines
    with pytest.raises(InputError, match="kind"):
        car_nk_result.plot("pie")


@pytest.fixture(scope="module")
def car_nk_result():
    import nksim
    from conftest import small

    return nksim.simulate(small("hcc-gpc3-car-nk-il15", n=6), seed=2)


def test_report_prints_dose_levels_readably_with_the_1_based_level_used():
    import nksim
    from nksim.report.run_report import dose_levels_text

    sc = nksim.load_scenario("hcc-post-lt-allo-nk")
    sc = sc.replace({"regimen.dose_levels": [{"value": 1e6, "unit": "cells/kg"}, {"value": 1e7, "unit": "cells/kg"},
                                            {"value": 1e8, "unit": "cells/kg"}], "regimen.dose_level": 2})
    assert dose_levels_text(sc) == "1e6, 1e7, 1e8 cells/kg (level 2 used: 1e7 cells/kg)"
