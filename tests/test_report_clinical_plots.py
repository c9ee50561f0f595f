"""Clinical report plots on a small real simulation and on edge cases (all PD, no events, one patient)."""

from __future__ import annotations

import base64
import re

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest

import nksim
from nksim.errors import InputError
from nksim.report import clinical_plots as cp

PLOTS = [cp.spider_plot, cp.waterfall_plot, cp.swimmer_plot, cp.pfs_plot, cp.os_plot, cp.persistence_plot,
         cp.cytokine_plot, cp.crs_grade_plot]


@pytest.fixture(scope="module")
def run():
    sc = nksim.load_scenario("hcc-gpc3-car-nk-il15")
    sc = sc.model_copy(update={"simulation": sc.simulation.model_copy(update={"horizon_d": 120.0})})
    res = nksim.simulate(sc, n_patients=10, seed=3)
    return res.trajectories, res.patients, res.summary()


def _patient_lines(fig: plt.Figure) -> list:
    """Segments of the spider plot's patient LineCollection (one per drawn patient, in patient-table order)."""
    (lc,) = [c for c in fig.axes[0].collections if c.get_gid() == "patients"]
    return list(lc.get_segments())


def _line_colors(fig: plt.Figure) -> list[str]:
    from matplotlib.colors import to_hex

    (lc,) = [c for c in fig.axes[0].collections if c.get_gid() == "patients"]
    return [to_hex(c) for c in lc.get_colors()]


def _bars(fig: plt.Figure) -> list[float]:
    """Heights of the waterfall's bars (one PolyCollection), left to right."""
    (pc,) = [c for c in fig.axes[0].collections if c.get_gid() == "bars"]
    return [float(p.vertices[1, 1]) for p in pc.get_paths()]


def _measurable(pts: pd.DataFrame) -> int:
    return int((pts["baseline_burden_mm"] > 0).sum())


def test_every_plot_runs_on_a_real_simulation(run) -> None:
    traj, pts, _ = run
    for f in PLOTS:
        fig = f(traj, pts)
        assert isinstance(fig, plt.Figure)
        plt.close(fig)


def test_spider_one_line_per_measurable_patient_with_reference_lines(run) -> None:
    traj, pts, _ = run
    fig = cp.spider_plot(traj, pts)
    lines = _patient_lines(fig)
    assert len(lines) == _measurable(pts) == 10
    # each line starts at 0% on day 0 and its color is the patient's best response
    measurable = pts[pts["baseline_burden_mm"] > 0]
    for seg, color, pid in zip(lines, _line_colors(fig), measurable.index):
        assert tuple(seg[0]) == (0.0, 0.0)
        r = pts.at[pid, "best_response"]
        assert color == cp.RESPONSE_COLORS[r if r in cp.RESPONSE_COLORS else "NE"]
        # the most negative point is the best % change (scans only, baseline included)
        assert min(seg[:, 1]) == pytest.approx(min(0.0, pts.at[pid, "best_pct_change"]), abs=1e-9) or \
            np.isnan(pts.at[pid, "best_pct_change"])
    hlines = {round(ln.get_ydata()[0], 6) for ln in fig.axes[0].get_lines() if ln.get_gid() is None}
    assert {20.0, -30.0} <= hlines
    plt.close(fig)


def test_waterfall_bars_sorted_and_colored(run) -> None:
    traj, pts, _ = run
    fig = cp.waterfall_plot(traj, pts)
    heights = _bars(fig)
    finite = pts["best_pct_change"].dropna()
    assert len(heights) == len(finite)
    assert heights == sorted(heights, reverse=True)
    assert sorted(heights) == pytest.approx(sorted(np.minimum(finite, 100.0)))
    plt.close(fig)


def test_swimmer_bars_and_markers(run) -> None:
    traj, pts, _ = run
    fig = cp.swimmer_plot(traj, pts)
    ax = fig.axes[0]
    assert len(ax.patches) == len(pts)
    # a bar ends at progression, death or the last assessment: the PFS time
    assert sorted(b.get_width() for b in ax.patches) == pytest.approx(sorted(pts["pfs_days"]))
    by_gid = {ln.get_gid(): ln for ln in ax.get_lines()}
    pd_seen = pts["pd_day"].notna()
    assert len(by_gid["end-progression"].get_xdata()) == int(pd_seen.sum())
    assert len(by_gid["end-death"].get_xdata()) == int((pts["pfs_event"] & ~pd_seen).sum())
    assert len(by_gid["end-censored"].get_xdata()) == int((~pts["pfs_event"].astype(bool)).sum())
    responders = pts["best_response"].isin(["CR", "PR"]).sum()
    assert len(by_gid["response-onset"].get_xdata()) >= responders
    plt.close(fig)
    big = cp.swimmer_plot(traj, pts, max_patients=4)
    assert len(big.axes[0].patches) == 4 and "4 of 10" in big.axes[0].get_title()
    plt.close(big)


def test_km_median_matches_clinical_summary(run) -> None:
    traj, pts, summary = run
    for endpoint, metric in (("pfs", "median PFS"), ("os", "median OS")):
        fig = cp.km_plot(traj, pts, endpoint)
        texts = " ".join(t.get_text() for t in fig.axes[0].texts)
        med = float(summary.loc[summary["metric"] == metric, "estimate"].iloc[0])
        if np.isfinite(med):
            assert f"median {med:.3g} d" in texts
        else:
            assert "median not reached" in texts
        assert len(fig.axes[0].collections) >= 1  # the 95% band
        plt.close(fig)


def test_persistence_and_cytokine_reference_lines(run) -> None:
    traj, pts, _ = run
    fig = cp.persistence_plot(traj, pts)
    ax = fig.axes[0]
    gids = {a.get_gid() for a in ax.get_children()}
    assert {"lloq", "median", "individuals"} <= gids
    assert any("detection limit (qpcr)" in t.get_text() for t in ax.get_legend().get_texts())
    (lim,) = [ln for ln in ax.get_lines() if ln.get_gid() == "lloq"]
    (ind,) = [c for c in ax.collections if c.get_gid() == "individuals"]
    lowest = np.asarray(lim.get_ydata(), float)  # median limit; each patient's own limit is what masks
    assert all(len(seg) for seg in ind.get_segments())
    assert ax.get_ylim()[0] > 0.1 * np.nanmin(lowest)  # the axis stops within a decade of the limit: no floor band
    plt.close(fig)
    fig = cp.cytokine_plot(traj, pts)
    _, p = cp.clinical_settings(traj)
    thr = cp.crs_thresholds(p)
    assert list(thr.values()) == sorted(thr.values())
    levels = {round(ln.get_ydata()[0], 9) for ln in fig.axes[0].get_lines() if len(set(ln.get_ydata())) == 1}
    assert set(round(v, 9) for v in thr.values()) <= levels
    plt.close(fig)


def test_crs_grade_bars_count_patients(run) -> None:
    traj, pts, _ = run
    fig = cp.crs_grade_plot(traj, pts)
    assert len(fig.axes) == 2
    for ax, col in zip(fig.axes, ("crs_grade", "icans_grade")):
        assert len(ax.patches) == 5
        shares = [b.get_height() for b in ax.patches]
        assert sum(shares) == pytest.approx(100.0)
        expected = [100.0 * (pts[col] == g).mean() for g in range(5)]
        assert shares == pytest.approx(expected)
    plt.close(fig)


def test_edge_all_pd_no_events_single_patient(run) -> None:
    traj, pts, _ = run
    all_pd = pts.copy()
    all_pd["best_response"] = "PD"
    all_pd["best_pct_change"] = np.linspace(5, 40, len(pts))
    fig = cp.waterfall_plot(traj, all_pd)
    assert len(_bars(fig)) == len(pts)
    (pc,) = fig.axes[0].collections
    assert {tuple(c[:3]) for c in pc.get_facecolors()} == {
        tuple(int(cp.RESPONSE_COLORS["PD"][i:i + 2], 16) / 255 for i in (1, 3, 5))}
    plt.close(fig)
    fig = cp.spider_plot(traj, all_pd)
    assert set(_line_colors(fig)) == {cp.RESPONSE_COLORS["PD"]}
    plt.close(fig)

    no_events = pts.copy()
    for e in ("pfs", "os"):
        no_events[f"{e}_event"] = False
    no_events["pd_day"] = np.nan
    for endpoint in ("pfs", "os"):
        fig = cp.km_plot(traj, no_events, endpoint)
        assert "median not reached" in " ".join(t.get_text() for t in fig.axes[0].texts)
        plt.close(fig)
    fig = cp.swimmer_plot(traj, no_events)
    ends = {ln.get_gid(): len(ln.get_xdata()) for ln in fig.axes[0].get_lines() if ln.get_gid()}
    assert ends["end-death"] == 0 and ends["end-progression"] == 0 and ends["end-censored"] == len(pts)
    plt.close(fig)

    one_t, one_p = traj.isel(patient=[0]), pts.iloc[[0]]
    for f in PLOTS:
        fig = f(one_t, one_p)
        plt.close(fig)
    fig = cp.waterfall_plot(one_t, one_p)
    assert len(_bars(fig)) == int(one_p["best_pct_change"].notna().sum())
    plt.close(fig)

    nothing = pts.copy()
    nothing["baseline_burden_mm"] = np.nan
    nothing["best_pct_change"] = np.nan
    fig = cp.spider_plot(traj, nothing)
    assert len(_patient_lines(fig)) == 0
    plt.close(fig)
    fig = cp.waterfall_plot(traj, nothing)
    assert len(_bars(fig)) == 0
    plt.close(fig)


def test_clinical_sections_embed_figures_and_summary(run, tmp_path) -> None:
    from nksim.report.html import write_report

    traj, pts, summary = run
    sections = cp.clinical_sections(traj, pts, summary)
    headings = [h for h, _ in sections]
    assert headings[0].startswith("Clinical summary")
    body = "".join(h for _, h in sections)
    imgs = re.findall(r'src="data:image/png;base64,([^"]+)"', body)
    any_grade = bool((pts[["crs_grade", "icans_grade"]] > 0).any().any())
    assert len(imgs) == 7 + any_grade  # the CRS/ICANS bars only when a patient had either
    if not any_grade:
        assert "No patient had cytokine release syndrome" in body
    assert all(base64.b64decode(i)[:4] == b"\x89PNG" for i in imgs)
    assert "95% interval" in sections[0][1] and "ORR" in sections[0][1]
    out = write_report(tmp_path / "r.html", "t", sections, {"seed": 3})
    assert out.stat().st_size > 10_000


def test_bad_inputs() -> None:
    with pytest.raises(InputError, match="patients.columns"):
        cp.waterfall_plot(None, pd.DataFrame({"x": [1]}))  # type: ignore[arg-type]
    with pytest.raises(InputError, match="endpoint"):
        cp.km_plot(None, pd.DataFrame(), "dfs")  # type: ignore[arg-type]
    with pytest.raises(InputError, match="cytokine_pg_ml"):
        cp.cytokine_plot(__import__("xarray").Dataset(), pd.DataFrame())
