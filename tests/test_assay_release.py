"""In vitro release assay: the killing law in a well against closed forms, limits and the kinetic engine."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.optimize import brentq

from nksim.assay import Effector, Target, lytic_units, pathway_rates, release_assay
from nksim.assay.model import resolve_params
from nksim.errors import InputError
from nksim.spec.io import load_scenario
from nksim.spec.scenario import Construct

NK = Effector()
K562 = Target(name="K562-like", hla_level=0.0)


def _closed_form_killed(e: float, t0: float, r: float, p: dict, hours: float) -> float:
    """Fraction killed for one class and one effector group (implicit solution of the separable ODE).

    With K = a + T/kappa (a = K0 - T0/kappa), dT/dt = -r K T/(k_r K + T + 1) integrates to
    r t = k_r ln(T0/T) + kappa ln(K0/K) + (1/a) [ln(T0/K0) - ln(T/K)]."""
    k_r, kappa = p["k_r"], p["kappa"]
    k0 = p["f_comp"] * e
    a = k0 - t0 / kappa

    def time_to(tt: float) -> float:
        kk = a + tt / kappa
        return (k_r * math.log(t0 / tt) + kappa * math.log(k0 / kk) + (math.log(t0 / k0) - math.log(tt / kk)) / a) / r

    lo = max(-a * kappa, 0.0) * (1 + 1e-12) + 1e-9  # T cannot fall below the level where K is spent
    if time_to(lo) <= hours:
        return 1.0 - lo / t0
    return 1.0 - brentq(lambda tt: time_to(tt) - hours, lo, t0, xtol=1e-12, rtol=1e-13) / t0


@pytest.mark.parametrize("et,kappa", [(0.6, 4.0), (0.3, 1.0), (2.0, 4.0), (10.0, 1.0), (20.0, 6.0)])
def test_ode_equals_closed_form(et: float, kappa: float) -> None:
    params = {"k_nat": 12.0, "kappa": kappa}
    p = resolve_params(params)
    curve = release_assay(NK, K562, [et], params=params)
    r = float(pathway_rates(NK, K562, p)["r_u"][0])
    expected = _closed_form_killed(et * 5000, 5000.0, r, p, 4.0)
    assert curve["fraction_killed"].iloc[0] == pytest.approx(expected, rel=1e-5)


def test_zero_effectors_zero_lysis_and_linear_start() -> None:
    c = release_assay(NK, K562, [0.0, 1e-3, 2e-3])
    assert c["pct_specific_lysis"].iloc[0] == 0.0
    assert c["experimental_release"].iloc[0] == pytest.approx(c["spontaneous_release"].iloc[0])
    y1, y2 = c["pct_specific_lysis"].iloc[1:]
    assert 0 < y1 < y2
    assert y2 / y1 == pytest.approx(2.0, rel=1e-3)  # proportional at vanishing E:T


def test_monotone_and_saturating_at_the_ratio_dependent_plateau() -> None:
    params = {"k_nat": 6.0}
    p = resolve_params(params)
    et = [0.3, 1, 3, 10, 30, 100, 1e4]
    c = release_assay(NK, K562, et, params=params)
    f = c["fraction_killed"].to_numpy()
    assert np.all(np.diff(f) > 0)
    r = float(pathway_rates(NK, K562, p)["r_u"][0])
    plateau = 1.0 - math.exp(-4.0 * r / p["k_r"])  # E:T -> inf: per-target kill rate r/k_r, no exhaustion
    assert np.all(f < plateau)
    assert f[-1] == pytest.approx(plateau, rel=2e-3)
    # diminishing returns: lysis is concave in E:T (slopes fall)
    slopes = np.diff(f) / np.diff(et)
    assert np.all(np.diff(slopes) < 0)


def test_kappa_caps_kills_per_effector() -> None:
    # kappa = 1 and f_comp = 0.5: each effector has at most 0.5 lytic hits
    params = {"k_nat": 500.0, "kappa": 1.0, "f_comp": 0.5}
    c = release_assay(NK, K562, [0.1, 0.25, 0.5, 1.0, 4.0], params=params)
    assert np.all(c["kills_per_effector"] <= 0.5 + 1e-9)
    assert c["kills_per_effector"].iloc[0] == pytest.approx(0.5, rel=0.02)  # targets in excess: the cap binds
    assert np.all(c["fraction_killed"] <= 0.5 * c["et_ratio"] + 1e-9)
    assert c["exhausted_fraction"].iloc[0] == pytest.approx(0.5, rel=0.02)


def test_specific_lysis_formula_and_full_kill() -> None:
    # instant, complete kill: specific lysis 100% whatever the spontaneous and maximum release
    params = {"k_nat": 1e5, "kappa": 1e6, "assay_spontaneous_release": 0.2, "assay_max_release": 0.8}
    c = release_assay(NK, K562, [50.0], params=params)
    assert c["fraction_killed"].iloc[0] == pytest.approx(1.0, abs=1e-6)
    assert c["pct_specific_lysis"].iloc[0] == pytest.approx(100.0, rel=1e-3)
    row = c.iloc[0]
    assert row["pct_specific_lysis"] == pytest.approx(
        100 * (row["experimental_release"] - row["spontaneous_release"])
        / (row["maximum_release"] - row["spontaneous_release"]))


def test_rates_match_the_kinetic_engine() -> None:
    """Per-hour pathway rates x 24 = the engine's per-day rates for the same (typical) patient."""
    from nksim.kinetics import layout as L
    from nksim.kinetics.inputs import build_inputs
    from nksim.population.sampling import sample_patients

    sc = load_scenario("hcc-gpc3-car-nk-il15")
    sc = sc.model_copy(update={"population": sc.population.model_copy(update={"variability": False})})
    pats = sample_patients(sc, np.arange(2))
    P = build_inputs(sc, pats).params
    row = pats.iloc[0]
    eff = Effector.from_scenario(sc, kir_matched=bool(row["kir_matched"]))
    tgt = Target(antigens={"GPC3": 1.0}, ligand_level=row["ligand_level"], hla_level=row["hla_level"],
                 tgfb_ng_ml=row["tgfb_ng_ml"], hypoxia=row["hypoxia"])
    rates = pathway_rates(eff, tgt, resolve_params(scenario=sc))
    assert 24 * rates["nat_t"][0] == pytest.approx(P[0, L.P_NAT_T], rel=1e-12)
    assert 24 * rates["nat_u"][0] == pytest.approx(P[0, L.P_NAT_U], rel=1e-12)
    assert 24 * rates["car_t"][1] == pytest.approx(P[0, L.P_CAR_T], rel=1e-12)  # class 1 = GPC3+
    assert rates["car_t"][0] == 0.0


def test_lytic_units_bryant_convention() -> None:
    import pandas as pd

    curve = pd.DataFrame({"et_ratio": [1.0, 10.0, 100.0], "pct_specific_lysis": [10.0, 30.0, 60.0]})
    lu = lytic_units(curve, percent=20, per_cells=1e7, targets_per_well=5000)
    assert lu == pytest.approx(1e7 / (math.sqrt(10.0) * 5000))  # log-interpolated E:T20 = sqrt(10)
    assert lytic_units(curve, 30, targets_per_well=5000) == pytest.approx(1e7 / (10 * 5000))
    assert lytic_units(curve, 20, targets_per_well=10000) == pytest.approx(lu / 2)
    assert math.isnan(lytic_units(curve, 70, targets_per_well=5000))
    # a more potent effector has more lytic units
    weak = release_assay(NK, K562, [1, 3, 10, 30], params={"k_nat": 4.0})
    strong = release_assay(NK, K562, [1, 3, 10, 30], params={"k_nat": 8.0})
    assert lytic_units(strong) > lytic_units(weak) > 0


@pytest.mark.parametrize("kwargs,field", [
    ({"et_ratios": [1.0, -2.0]}, "et_ratios"),
    ({"et_ratios": []}, "et_ratios"),
    ({"et_ratios": [1.0, float("nan")]}, "et_ratios"),
    ({"et_ratios": [1.0], "hours": 0.0}, "hours"),
    ({"et_ratios": [1.0], "targets_per_well": -5}, "targets_per_well"),
    ({"et_ratios": [1.0], "params": {"k_natt": 1.0}}, "params.k_natt"),
    ({"et_ratios": [1.0], "params": {"assay_spontaneous_release": 0.95}}, "assay_spontaneous_release"),
    ({"et_ratios": [1.0], "params": {"kappa": 0.0}}, "kappa"),
])
def test_bad_inputs_name_field_and_value(kwargs: dict, field: str) -> None:
    with pytest.raises(InputError) as exc:
        release_assay(NK, K562, **kwargs)
    assert exc.value.field == field
    assert field in str(exc.value)


def test_bad_lytic_unit_inputs() -> None:
    import pandas as pd

    c = pd.DataFrame({"et_ratio": [1.0], "pct_specific_lysis": [30.0]})
    with pytest.raises(InputError, match="percent = 150"):
        lytic_units(c, percent=150, targets_per_well=5000)
    with pytest.raises(InputError, match="targets_per_well"):
        lytic_units(c)
    with pytest.raises(InputError, match="effector"):
        release_assay(3.0, K562, [1.0])  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="antigens.GPC3"):
        Target(antigens={"GPC3": 1.5})
