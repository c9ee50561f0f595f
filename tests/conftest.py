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


def every_dose_kind(n: int = 4) -> Scenario:
    """FT516-like (IL-2, anti-CD20, three infusions, lymphodepletion) plus IL-15, Treg depletion, log-kill
    chemotherapy and an NK engager dosed per kg (its records are mg for each patient's weight); ``n`` patients."""
    from nksim.spec.scenario import Concomitant, CytokineDoses, Engager, TregDepletion

    sc = small("bnhl-ft516-like", n=n, horizon=60.0)
    reg = sc.regimen.model_copy(update={
        "il15": CytokineDoses(days=(1.0, 8.0), dose=3.3),
        "treg_depletion": TregDepletion(days=(-2.0,)),
        "engager": Engager(target="CD20", binding=("CD16", "NKp46"), days=(0.0, 7.0), dose=0.5, dose_unit="mg/kg"),
        "concomitant": Concomitant(growth_inhibition=0.2, start_d=0.0, end_d=30.0, logkill_days=(0.0, 10.0),
                                   logkill=0.7)})
    return sc.model_copy(update={"regimen": reg})


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
