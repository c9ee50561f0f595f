"""A slice of the parameter-range sweep (the full one runs in `make fuzz`): parameters at both ends of their
plausible range run to the end, every patient simulated or reported, no traceback, no silent NaN/inf."""

from __future__ import annotations

import pytest

from fuzz.sweep import parameter_ends, sweep

pytestmark = pytest.mark.fuzz

SLICE = ["k_LB", "k_nat", "k_exh", "s_arm", "antigen_fraction_CLDN18.2", "blood_volume_ml_per_kg"]


def test_every_registry_parameter_has_a_finite_range():
    from nksim.registry import load_registry

    ends = {n for n, _, _ in parameter_ends()}
    assert ends == {row["name"] for row in load_registry().table(None)}
    assert all(lo <= hi for _, lo, hi in parameter_ends())


def test_parameter_sweep_slice():
    res = sweep(["hcc-gpc3-car-nk-il15"], [p for p in SLICE if p in {n for n, _, _ in parameter_ends()}],
                n_patients=2, joint=1)
    c = res.counts
    assert c["cases"] >= 2 * 5 + 1
    assert c["traceback"] == 0 and c["silent_nan_inf_or_negative"] == 0, res.findings
    assert c["refused_in_range"] == 0, res.findings  # names with dots (CLDN18.2) go through Scenario.replace
    assert c["stopped_run_solver"] == 0 and c["failure_without_message"] == 0, res.findings
