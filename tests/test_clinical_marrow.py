"""ALL marrow response (CR < 5% blasts, relapse after CR, PD by a 25% rise over the nadir) with worked cases."""

import numpy as np

import nksim
from nksim.clinical.codes import CR, ND, NE, PD, SD
from nksim.clinical.marrow import marrow_scan_responses


def test_remission_then_relapse():
    codes = marrow_scan_responses(np.array([[0.30, 0.02, 0.01, 0.08, 0.01]]), np.array([0.5]),
                                  np.ones((1, 5), dtype=bool))
    assert codes[0].tolist() == [SD, CR, CR, PD, ND]  # no assessment after progression


def test_progression_without_remission_is_a_rise_over_the_nadir():
    codes = marrow_scan_responses(np.array([[0.20, 0.24, 0.26]]), np.array([0.30]), np.ones((1, 3), dtype=bool))
    assert codes[0].tolist() == [SD, SD, PD]  # nadir 0.20: 0.24 is +20%, 0.26 is +30%


def test_no_marrow_disease_and_missed_scans():
    codes = marrow_scan_responses(np.array([[0.01, 0.01], [0.01, 0.5]]), np.array([0.02, 0.4]),
                                  np.array([[True, True], [False, True]]))
    assert codes[0].tolist() == [NE, NE]
    assert codes[1].tolist() == [ND, PD]  # 0.5 is a 25% rise over 0.4


def test_b_all_scenario_reads_the_marrow():
    res = nksim.simulate(nksim.load_scenario("ball-car-t-like"), n_patients=20)
    p = res.patients
    assert p["baseline_marrow_blasts_pct"].notna().all() and p["baseline_spd_mm2"].isna().all()
    blasts = res.trajectories["tsys_marrow_fraction"]
    for pid in p.index[p["best_response"] == "CR"]:
        scans = blasts.sel(patient=pid).interp(time=[28.0, 56.0, 84.0, 112.0, 168.0, 224.0, 280.0, 336.0])
        assert float(scans.min()) < 0.05
    assert (p["best_response"] == "CR").mean() > 0.5  # CAR-T-like product: most patients remit (ELIANA 81%)


def test_report_plots_show_marrow_blasts():
    import matplotlib

    matplotlib.use("Agg")
    from nksim.report.clinical_plots import spider_plot, waterfall_plot

    res = nksim.simulate(nksim.load_scenario("ball-car-t-like"), n_patients=10)
    spider = spider_plot(res.trajectories, res.patients)
    assert "marrow blasts" in spider.axes[0].get_ylabel()
    assert spider.axes[0].lines  # measurable marrow disease is plotted, not "no patient with measurable disease"
    assert "marrow blasts" in waterfall_plot(res.trajectories, res.patients).axes[0].get_ylabel()
