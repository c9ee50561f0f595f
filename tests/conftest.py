"""Shared fixtures: small scenarios built from the built-in ones."""

from __future__ import annotations

import pytest

import nksim
from nksim.spec.scenario import Scenario


def small(name: str, n: int = 4, horizon: float = 120.0, **tumor: object) -> Scenario:
    """A built-in scenario cut down for tests (few patients, shorter horizon)."""
    sc = nksim.load_scenario(name)
    sim = sc.simulation.model_copy(update={"n_patients": n, "horizon_d": horizon})
    upd: dict[str, object] = {"simulation": sim}
    if tumor:
        upd["tumor"] = sc.tumor.model_copy(update=tumor)
    return sc.model_copy(update=upd)


@pytest.fixture
def car_nk() -> Scenario:
    return small("hcc-gpc3-car-nk-il15")


@pytest.fixture
def allo_nk() -> Scenario:
    return small("hcc-post-lt-allo-nk")


@pytest.fixture(scope="session")
def browser():
    """``screenshot(html, png, width=1400, height=2000)`` in headless Chromium (tests/browser.py); skips, saying how
    to install Chromium, where it is absent."""
    from browser import INSTALL_HINT, find_chromium, screenshot  # tests/browser.py (tests/ is on sys.path)

    if find_chromium() is None:
        pytest.skip(INSTALL_HINT)
    return screenshot
