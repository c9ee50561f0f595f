"""CRS threshold calibration (MODEL.md 12 step 2) and the NK/T release ratio (step 3)."""

from __future__ import annotations

import numpy as np
import pytest

import nksim
from nksim.calibrate import crs
from nksim.clinical.crs import crs_signs


def test_ladder_map_moves_the_anchors_and_keeps_the_order():
    th = crs.ladder_map(crs.LADDER_SHAPE, 100.0, 2000.0)
    assert th[crs.FEVER] == pytest.approx(100.0)
    assert min(th[k] for k in crs.GRADE3_KEYS) == pytest.approx(2000.0)
    old = sorted(crs.LADDER_SHAPE, key=crs.LADDER_SHAPE.get)
    assert sorted(th, key=th.get) == old  # same order as the first assumed ladder
    # log-spacing ratios are kept: equal steps in log C stay equal
    lo, hi = np.log([crs.LADDER_SHAPE[k] for k in old]), np.log([th[k] for k in old])
    np.testing.assert_allclose(np.diff(hi) / np.diff(lo), (hi[-1] - hi[0]) / (lo[-1] - lo[0]))
    with pytest.raises(ValueError, match="anchors"):
        crs.ladder_map(crs.LADDER_SHAPE, 500.0, 400.0)


def test_fit_gives_the_target_rates_on_the_fitted_cohort():
    peaks = np.random.default_rng(3).lognormal(np.log(3000.0), 1.2, 20_000)
    th = crs.fit_thresholds(peaks, any_grade=0.744, grade3=0.116)
    fever, hypo, hypox = crs_signs(peaks, th)
    assert fever.mean() == pytest.approx(0.744, abs=1e-3)
    assert ((hypo >= 2) | (hypox >= 2)).mean() == pytest.approx(0.116, abs=1e-3)


def test_registry_holds_the_fit():
    """The registry's thresholds are what the fit gives (provenance: re-running it reproduces them)."""
    fitted, _ = crs.fit_from_cohort(n_patients=400)
    now = crs.registry_thresholds()
    for k, v in fitted.items():
        assert now[k] == pytest.approx(v, rel=0.01), k


def test_nk_cytokine_rises_with_the_release_ratio():
    base = nksim.load_scenario("bnhl-cd19-car-nk-il15-cb")
    peaks = []
    for r in (0.01, 0.1, 1.0):
        sc = base.model_copy(update={"parameters": {**base.parameters, "nk_t_release_ratio": r}})
        peaks.append(nksim.simulate(sc, n_patients=20).patients["peak_cytokine_pg_ml"].median())
    assert peaks[0] < peaks[1] < peaks[2]
