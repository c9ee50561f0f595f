"""Each mechanism of the mechanisms issue pinned by its qualitative behaviour (docs/mechanisms.md), through the public
API: donor NK expansion after lymphodepletion + IL-2, host regulatory T cells competing for IL-2 (not IL-15), TGF-beta
and dnTGFBR2 acting on kills, IFN-gamma cytostasis making dose, number and route of NK infusions matter."""

from __future__ import annotations

import json
from functools import lru_cache

import numpy as np
import pytest

import nksim

IL2 = {"days": [0, 2, 4, 6, 8, 10], "dose": 10.0}  # Miller 2005 / Bachanova 2010: 10 MIU s.c. every other day x 6


def haplo_nk(**changes) -> nksim.Scenario:
    """One unmodified haploidentical NK infusion (2e7/kg) in a competent host: the Miller 2005 setting on the
    HCC scenario's patient (one typical patient, no variability)."""
    base = {"population.immune_status": "competent", "regimen.infusion_days": [0],
            "regimen.dose_levels": [{"value": 2e7, "unit": "cells/kg"}], "regimen.dose_level": 1,
            "regimen.concomitant": None, "population.variability": False, "simulation.horizon_d": 60}
    return nksim.load_scenario("hcc-post-lt-allo-nk").replace({**base, **changes})


@lru_cache(maxsize=None)
def _run(key: str) -> nksim.SimulationResult:
    return nksim.simulate(haplo_nk(**json.loads(key)), n_patients=1, seed=1)


def run(**changes):
    """Trajectories of the single typical patient (cached per change set)."""
    return _run(json.dumps(changes, sort_keys=True)).trajectories.isel(patient=0)


def fold(tr) -> float:
    """Peak product cells in the body over the viable cells infused."""
    return float(tr.product_cells_total.max()) / float(tr.cum_infused.max())


def ld(intensity: float) -> dict:
    return {"day": -5, "intensity": intensity}


def test_conditioning_intensity_raises_il15_and_expansion():
    lo = run(**{"regimen.lymphodepletion": ld(0.3), "regimen.il2": IL2})
    std = run(**{"regimen.lymphodepletion": ld(1.0), "regimen.il2": IL2})
    hi = run(**{"regimen.lymphodepletion": ld(2.0), "regimen.il2": IL2})
    peaks = [float(t.il15_pg_ml.max()) for t in (lo, std, hi)]
    assert peaks[0] < peaks[1] < peaks[2]
    folds = [fold(t) for t in (lo, std, hi)]
    assert folds[0] < folds[1] < folds[2]
    assert folds[0] == pytest.approx(1.0, abs=1e-6)  # low intensity: transient persistence, no expansion (Miller 2005)
    assert folds[2] > 1.2  # high intensity + IL-2: donor NK expand beyond the cells infused


def test_expansion_needs_lymphodepletion_and_cytokine():
    none = run(**{"regimen.lymphodepletion": None, "regimen.il2": IL2})
    assert fold(none) == pytest.approx(1.0, abs=1e-6)
    hi_no_il2 = run(**{"regimen.lymphodepletion": ld(2.0)})
    hi_il2 = run(**{"regimen.lymphodepletion": ld(2.0), "regimen.il2": IL2})
    assert fold(hi_il2) > fold(hi_no_il2)
    # Rubnitz 2010: donor NK median 5,800/mL (5.8/uL) at day 14 after Cy/Flu + IL-2; same order here
    assert 1.0 < float(hi_il2.nk_blood_per_ul.sel(time=14)) < 30.0


def test_il2_expands_tregs_and_lymphodepletion_depletes_them():
    base = run(**{"regimen.lymphodepletion": None})
    with_il2 = run(**{"regimen.lymphodepletion": None, "regimen.il2": IL2})
    depleted = run(**{"regimen.lymphodepletion": ld(1.0)})
    t0 = float(base.treg_per_ul.sel(time=0))
    assert float(with_il2.treg_per_ul.max()) > 2.0 * t0  # Bachanova 2010: 58 -> 180 cells/uL with IL-2
    assert float(depleted.treg_per_ul.min()) < 0.7 * t0


def test_tregs_compete_for_il2_not_il15():
    """A Treg-depleting agent raises IL-2 (and with it NK expansion) when IL-2 is given, and changes nothing
    without IL-2: Tregs do not use IL-15 (Bachanova 2014)."""
    dep = {"days": [-2]}
    with_il2 = run(**{"regimen.lymphodepletion": ld(1.0), "regimen.il2": IL2})
    with_il2_dt = run(**{"regimen.lymphodepletion": ld(1.0), "regimen.il2": IL2, "regimen.treg_depletion": dep})
    assert float(with_il2_dt.treg_per_ul.sel(time=5)) < float(with_il2.treg_per_ul.sel(time=5))
    assert float(with_il2_dt.il2_pg_ml.sel(time=5)) > float(with_il2.il2_pg_ml.sel(time=5))
    assert fold(with_il2_dt) > fold(with_il2)
    assert float(with_il2_dt.product_cells_total.sel(time=14)) > float(with_il2.product_cells_total.sel(time=14))
    no_il2 = run(**{"regimen.lymphodepletion": ld(1.0)})
    no_il2_dt = run(**{"regimen.lymphodepletion": ld(1.0), "regimen.treg_depletion": dep})
    # equal within the solver tolerance (the dose day is an extra step boundary)
    np.testing.assert_allclose(no_il2_dt.il15_pg_ml.values, no_il2.il15_pg_ml.values, rtol=1e-5)
    np.testing.assert_allclose(no_il2_dt.product_cells_total.values, no_il2.product_cells_total.values, rtol=1e-5,
                               atol=1.0)


def _kills(tgfb: float, dn: bool) -> tuple[float, float]:
    sc = nksim.load_scenario("hcc-gpc3-car-nk-il15").replace(
        {"population.covariates.tgfb_ng_ml": tgfb, "product.construct.dn_tgfbr2": dn,
         "population.variability": False, "simulation.horizon_d": 120})
    f = nksim.simulate(sc, n_patients=1, seed=2).trajectories.isel(patient=0, time=-1)
    return float(f.cum_kill_car), float(f.cum_kill_nat)


def test_tgfb_lowers_kills_and_dntgfbr2_restores_them():
    """The dossier's direction in kills, not only in rates: TGF-beta lowers CAR and natural kills of a CAR-NK
    product (granule budget, proliferation and rate), dnTGFBR2 takes most of that back."""
    low, high = _kills(0.1, False), _kills(20.0, False)
    assert high[0] < low[0] and high[1] < low[1]
    rescued = _kills(20.0, True)
    assert rescued[0] > high[0] and rescued[1] > high[1]


def _hcc(n_infusions: int, dose: float, route: str = "iv"):
    days = [7.0 * k for k in range(n_infusions)]
    sc = nksim.load_scenario("hcc-post-lt-allo-nk").replace(
        {"regimen.infusion_days": days, "regimen.dose_levels": [{"value": dose, "unit": "cells/kg"}],
         "regimen.dose_level": 1, "regimen.route": route, "population.variability": False,
         "simulation.horizon_d": 120})
    return nksim.simulate(sc, n_patients=1, seed=4).trajectories.isel(patient=0)


def test_nk_dose_number_and_route_slow_hcc_growth():
    """Through the lesion's NK and their IFN-gamma: more cells, more infusions and the hepatic artery each leave
    less viable tumor at day 84 than the untreated course."""
    untreated = float(_hcc(1, 1.0).tumor_viable_total.sel(time=84))
    low4 = float(_hcc(4, 1e7).tumor_viable_total.sel(time=84))
    normal4 = float(_hcc(4, 2e7).tumor_viable_total.sel(time=84))
    normal8 = float(_hcc(8, 2e7).tumor_viable_total.sel(time=84))
    ia8 = float(_hcc(8, 2e7, "hepatic_artery").tumor_viable_total.sel(time=84))
    assert untreated > low4 > normal4 > normal8 > ia8
    assert normal8 < 0.985 * untreated
    assert ia8 < 0.9 * untreated


def test_iv_lesion_entry_is_within_the_expected_share_of_the_dose():
    """domain.md 4.5: 0.1-1% of an i.v. dose expected to reach a solid tumor (no human number; assumption)."""
    tr = _hcc(1, 2e7)
    share = float(tr.cum_lesion_entry.isel(time=-1) / tr.cum_infused.isel(time=-1))
    assert 1e-3 <= share <= 1e-2
    ia = _hcc(1, 2e7, "hepatic_artery")
    assert float(ia.cum_lesion_entry.isel(time=-1) / ia.cum_infused.isel(time=-1)) > 10 * share


def test_product_fitness_acts_on_expansion_and_persistence():
    """Cord-blood unit quality (Marin 2024) through mechanism: a less fit product expands and persists less."""
    sc = nksim.load_scenario("bnhl-cd19-car-nk-il15-cb").replace({"population.variability": False})
    fit = nksim.simulate(sc, n_patients=1, seed=1).trajectories.isel(patient=0)
    unfit = nksim.simulate(sc, n_patients=1, seed=1, overrides={"fitness": 0.6}).trajectories.isel(patient=0)
    assert float(unfit.product_cells_total.max()) < 0.7 * float(fit.product_cells_total.max())
    assert float(unfit.car_nk_blood_per_ul.sel(time=180)) < float(fit.car_nk_blood_per_ul.sel(time=180))
    with pytest.raises(nksim.errors.InputError, match="fitness"):
        nksim.simulate(sc, n_patients=1, seed=1, overrides={"fitness": -1.0})


def test_suboptimal_cord_blood_units_carry_lower_fitness():
    from nksim.manufacturing.lot import Lot

    assert Lot.__dataclass_fields__["fitness"].default == 1.0
    from nksim.registry import load_registry

    assert load_registry().defaults()["mfg_cb_suboptimal_fitness"] < 1.0


def test_programmed_burst_gives_a_dose_response_in_expansion_and_persistence():
    """Each infused transduced cell runs a clonal burst of about burst_div antigen-driven divisions: a 100-fold
    smaller CAR-NK dose expands later and persists less (in the population: fewer responses, docs/arms.md)."""
    sc = nksim.load_scenario("bnhl-cd19-car-nk-il15-cb").replace({"population.variability": False})
    lo = nksim.simulate(sc, n_patients=1, seed=1, overrides={"dose_level": 1}).trajectories.isel(patient=0)
    hi = nksim.simulate(sc, n_patients=1, seed=1, overrides={"dose_level": 3}).trajectories.isel(patient=0)
    assert float(lo.product_transduced_total.sel(time=7)) < float(hi.product_transduced_total.sel(time=7))
    assert float(lo.car_nk_blood_per_ul.sel(time=365)) < float(hi.car_nk_blood_per_ul.sel(time=365))
    # the burst is spent: divisions per infused cell stay of the order of burst_div
    from nksim.registry import load_registry

    burst = load_registry().defaults()["burst_div"]
    per_cell = float(lo.cum_ag_div.isel(time=-1)) / float(lo.cum_infused.isel(time=-1) * 0.69)
    assert per_cell < 3 * burst


def test_a_lesion_near_its_capacity_does_not_run_away():
    """Issue 15's robustness case: without lymphodepletion at dose level 3 (220 patients, seed 2020) one patient's
    bulky node starts within a factor e of the Gompertz capacity; its growth rate stays finite and positive, so
    every patient is solved and no overall survival is negative."""
    sc = nksim.load_scenario("bnhl-cd19-car-nk-il15-cb").replace(
        {"regimen.lymphodepletion": None, "regimen.dose_level": 3})
    p = nksim.simulate(sc, n_patients=220, seed=2020).patients
    assert (p["solver_status"] == 0).all()
    assert (p["os_days"] >= 0).all()


def test_access_shell_adds_about_3d_over_r_for_large_lesions_and_many_fold_for_micro_foci():
    import math

    from nksim.kinetics.processes.trafficking import access_shell_volume

    d = 0.015  # cm (150 um)
    for r in (1.5, 0.5):  # large lesions: shell / lesion volume ~ 3 d / r
        vol = 4.0 / 3.0 * math.pi * r ** 3
        assert access_shell_volume(vol, d) / vol == pytest.approx(3 * d / r, rel=0.05)
    r = 0.01  # a 200 um focus: the shell is many times the focus itself
    vol = 4.0 / 3.0 * math.pi * r ** 3
    assert access_shell_volume(vol, d) / vol == pytest.approx((1 + d / r) ** 3 - 1, rel=1e-9)
    assert access_shell_volume(vol, 0.0) == 0.0


def _adjuvant_entry_per_tumor_cell(diameter_mm: float, depth_um: float | None = None) -> float:
    changes = {"population.variability": False, "population.covariates": {"lesion_diameter_mm": diameter_mm},
               "population.eligibility": [], "regimen.infusion_days": [0], "simulation.horizon_d": 14,
               "simulation.scan_days": [14]}
    if depth_um is not None:
        changes["parameters"] = {"host_access_depth_um": depth_um}
    sc = nksim.load_scenario("hcc-adjuvant-post-lt-nk").replace(changes)
    tr = nksim.simulate(sc, n_patients=1, seed=1).trajectories.isel(patient=0)
    return float(tr.cum_lesion_entry.max()) / float(tr.tumor_viable_total.isel(time=0))


def test_nk_access_per_tumor_cell_falls_with_lesion_size():
    """The host access shell: a sub-millimetre focus in the liver gets many more entering NK per tumor cell than a
    3 cm lesion, whose access is the lesion's own perfusion to within a few percent."""
    micro, small, large = (_adjuvant_entry_per_tumor_cell(d) for d in (0.3, 2.0, 30.0))
    assert micro > 5 * small > 5 * large
    large_no_shell = _adjuvant_entry_per_tumor_cell(30.0, depth_um=1e-6)
    assert large / large_no_shell == pytest.approx(1.0, abs=0.15)
    assert micro / _adjuvant_entry_per_tumor_cell(0.3, depth_um=1e-6) > 10


def _hl(**changes) -> nksim.SimulationResult:
    sc = nksim.load_scenario("hl-afm13-cb-nk")
    cov = {**sc.population.covariates, **changes.pop("covariates", {})}
    base = {"population.variability": False, "population.covariates": cov, "simulation.horizon_d": 56}
    return nksim.simulate(sc.replace({**base, **changes}), n_patients=1, seed=1)


def test_hodgkin_lesions_are_mostly_reactive_cells_so_nk_meet_fewer_targets():
    """Malignant fraction: a Hodgkin node of the same size holds ~1% HRS cells (Kuppers 2009); its volume follows them,
    the NK entering it are the same, so each meets ~100x fewer targets and kills a larger share of them."""
    # dead cells cleared at one rate in both (a dead HRS cell's reactive share clears at the tissue rate, a dead
    # lymphoma cell at the lymphoid rate), so that the lesions keep the same size
    same_clearance = {"k_clear_lymphoid": 0.05}
    hl = _hl(parameters=same_clearance)
    solid = _hl(parameters=same_clearance, covariates={"malignant_fraction": 1.0})
    assert float(hl.patients.malignant_fraction.iloc[0]) == pytest.approx(0.01)
    a, b = hl.trajectories.isel(patient=0), solid.trajectories.isel(patient=0)
    t0 = float(a.tumor_viable_total.isel(time=0)) / float(b.tumor_viable_total.isel(time=0))
    assert t0 == pytest.approx(0.01, rel=1e-6)
    assert float(hl.patients.baseline_spd_mm2.iloc[0]) == pytest.approx(float(solid.patients.baseline_spd_mm2.iloc[0]))
    day1 = {"time": 1.0}
    assert float(a.cum_lesion_entry.sel(day1)) == pytest.approx(float(b.cum_lesion_entry.sel(day1)), rel=0.05)
    # the product's kills (host NK off) as a share of the tumor cells: far larger among the few HRS cells
    prod = [r.trajectories.isel(patient=0) for r in (_hl(parameters={"k_eng_endo": 0.0}),
                                                     _hl(parameters={"k_eng_endo": 0.0},
                                                         covariates={"malignant_fraction": 1.0}))]
    killed_share = [float(x.cum_kill_engager.isel(time=-1)) / float(x.tumor_viable_total.isel(time=0)) for x in prod]
    assert killed_share[0] > 10 * killed_share[1]
    # other indications keep lesions made of tumor cells
    assert float(nksim.simulate("hcc-post-lt-allo-nk", n_patients=2, seed=1).patients.malignant_fraction.max()) == 1.0


def test_afm13_redirects_host_nk_without_product_and_adds_to_the_product():
    """k_eng_endo (calibrated to AFM13 monotherapy, Rothe 2015): the engager kills CD30+ tumor through host NK with no
    product, and the product leaves less tumor on top of it."""
    alone = _hl(**{"regimen.per_infusion": {"escalation": {"start": 0}}}).trajectories.isel(patient=0)
    combo = _hl().trajectories.isel(patient=0)
    none = _hl(**{"regimen.per_infusion": {"escalation": {"start": 0}}, "regimen.engager.dose": 0.0})
    assert float(none.trajectories.cum_kill_engager.max()) == 0.0
    assert float(alone.cum_kill_engager.isel(time=-1)) > 0.0
    day = {"time": 28.0}
    left = [float(x.tumor_viable_total.sel(day)) for x in (none.trajectories.isel(patient=0), alone, combo)]
    assert left[0] > left[1] > left[2]
