"""NK cell engagers (docs/model.md process 18): PK, redirected killing on antigen-positive classes only, binding arms,
IL-15 moiety, zero dose, endogenous term and input validation."""

from __future__ import annotations

import math

import numpy as np
import pytest
from conftest import small

import nksim
from nksim.errors import InputError
from nksim.kinetics.pathways import rates_per_effector
from nksim.kinetics.processes import trace
from nksim.kinetics.symbolic import evaluate
from nksim.registry import load_registry
from nksim.spec.scenario import Construct, Engager


@pytest.fixture
def afm13():
    """AFM13 + CB-NK (CD30+ lymphoma), 3 patients, 8 weeks (two cycles' AFM13 doses)."""
    return small("hl-afm13-cb-nk", n=3, horizon=56.0)


def _with(sc, **changes):
    return sc.replace(changes)


def _classes(ds):
    labels = list(ds.antigen_class.values)
    return labels.index("CD30+"), labels.index("CD30-")


def test_engager_kills_antigen_positive_class_only(afm13):
    """Engager kills need the target antigen: with (almost) no CD30+ tumor cells the engager kills (almost) nothing,
    though it is dosed and the NK are there; with the scenario's CD30+ tumor it kills. (Tumor size is not the test:
    extra kills also exhaust killers, which lowers their IFN-gamma cytostasis, docs/model.md process 16.)"""
    afm13 = _with(afm13, **{"parameters.mu_loss": 0.0})  # no antigen loss: the classes exchange no cells
    with_eng = nksim.simulate(afm13).trajectories
    without = nksim.simulate(_with(afm13, **{"regimen.engager": None, "tumor.antigens": ["CD30"]})).trajectories
    assert float(with_eng.cum_kill_engager.isel(time=-1).min()) > 1e6
    assert float(without.cum_kill_engager.max()) == 0.0
    neg_only = _with(afm13, **{"population.covariates.antigen_fraction_CD30": 1e-6,
                               "population.omega2.antigen_fraction_CD30": 0.0})
    few = nksim.simulate(neg_only).trajectories
    assert float(few.engager_ug_ml.max()) > 1.0  # dosed as before
    ratio = few.cum_kill_engager.isel(time=-1).values / with_eng.cum_kill_engager.isel(time=-1).values
    assert np.all(ratio < 1e-4)


def test_engager_pathway_only_on_classes_with_its_target():
    """The traced rate law: engager kills (tuple entries 5, 6) are occupancy x eng_w x ..., zero on eng_w = 0."""
    tr = trace(1, 2)
    m = tr.model
    kills = m.lq(0).kills
    L = m.L
    env = {("t",): 0.0}
    for i in range(L.n_states(1, 2)):
        env[("y", i)] = 0.0
    for i in range(L.n_params(1, 2)):
        env[("p", i)] = 1.0
    env[("y", L.SYSTEMIC_INDEX["ENG"])] = 5.0
    b0 = L.NSYS
    env[("y", b0 + L.LESION_INDEX["K_u"])] = 1e6
    env[("y", b0 + L.LESION_INDEX["K_t"])] = 1e6
    env[("y", b0 + L.LES_FIXED + 0)] = 1e8
    env[("y", b0 + L.LES_FIXED + 1)] = 1e8
    cpo = L.NPAR + 1 * L.NLP
    env[("p", cpo + 0 * L.NCP + L.CLASS_PARAM_INDEX["eng_w"])] = 0.0
    env[("p", cpo + 1 * L.NCP + L.CLASS_PARAM_INDEX["eng_w"])] = 1.0
    k0 = [evaluate(x, env) for x in kills[0]]
    k1 = [evaluate(x, env) for x in kills[1]]
    assert k0[5] == 0.0 and k0[6] == 0.0
    assert k1[5] > 0.0 and k1[6] > 0.0
    env[("y", L.SYSTEMIC_INDEX["ENG"])] = 0.0
    assert [evaluate(x, env) for x in kills[1]][5:] == [0.0, 0.0]


def test_zero_dose_equals_no_engager(afm13):
    afm13 = _with(afm13, **{"simulation.rtol": 1e-10, "simulation.atol_cells": 1e-6})  # compare beyond solver error
    zero = nksim.simulate(_with(afm13, **{"regimen.engager.dose": 0.0})).trajectories
    none = nksim.simulate(_with(afm13, **{"regimen.engager": None, "tumor.antigens": ["CD30"]})).trajectories
    assert float(zero.engager_ug_ml.max()) == 0.0
    assert float(zero.cum_kill_engager.max()) == 0.0
    np.testing.assert_allclose(zero.viable_cells.values, none.viable_cells.values, rtol=1e-6, atol=1.0)
    np.testing.assert_allclose(zero.product_cells_total.values, none.product_cells_total.values, rtol=1e-6, atol=1.0)


def test_pk_half_life_matches_parameter(afm13):
    reg = load_registry()
    for hl, expected in ((None, reg["eng_half_life_d"].default), (2.5, 2.5)):
        sc = _with(afm13, **{"regimen.engager.half_life_d": hl, "regimen.engager.days": [0.0],
                             "simulation.save_every_d": 0.25})
        ds = nksim.simulate(sc).trajectories
        c = ds.engager_ug_ml.isel(patient=0)
        t = ds.time.values
        a, b = 1.0, 1.0 + expected
        ca = float(c.interp(time=a))
        cb = float(c.interp(time=b)) if b in t else float(np.exp(np.interp(b, t, np.log(np.maximum(c.values, 1e-300)))))
        assert cb / ca == pytest.approx(0.5, rel=1e-3)
        # dose / volume at the peak: 200 mg flat into eng_volume_ml_per_kg x weight
        w = float(nksim.simulate(sc).patients.weight_kg.iloc[0])
        peak = float(c.sel(time=0.0))
        assert peak == pytest.approx(200.0 * 1000.0 / (reg["eng_volume_ml_per_kg"].default * w), rel=1e-6)


def test_sc_route_peaks_later_and_lower(afm13):
    iv = nksim.simulate(_with(afm13, **{"regimen.engager.days": [0.0], "simulation.save_every_d": 0.25}))
    sc = nksim.simulate(_with(afm13, **{"regimen.engager.days": [0.0], "regimen.engager.route": "sc",
                                        "simulation.save_every_d": 0.25}))
    ci, cs = iv.trajectories.engager_ug_ml.isel(patient=0), sc.trajectories.engager_ug_ml.isel(patient=0)
    assert float(cs.max()) < float(ci.max())
    assert float(cs.idxmax()) > float(ci.idxmax())


def test_il15_moiety_raises_signal_and_expansion(afm13):
    base = {"regimen.engager.binding": ["CD16"], "regimen.engager.dose": 50.0, "regimen.engager.dose_unit": "ug/kg",
            "regimen.engager.days": [0.0, 1.0, 2.0, 7.0, 8.0, 9.0]}
    bike = nksim.simulate(_with(afm13, **base)).trajectories
    trike = nksim.simulate(_with(afm13, **{**base, "regimen.engager.il15_moiety": True})).trajectories
    # while the engager is there (later, the larger TriKE-expanded product consumes a little more IL-15)
    on = (trike.time.values >= 0) & (trike.time.values <= 12)
    assert np.all(trike.cytokine_signal.values[:, on] >= bike.cytokine_signal.values[:, on] - 1e-12)
    assert float((trike.cytokine_signal - bike.cytokine_signal).sel(time=1.0).min()) > 0.05
    assert np.all(trike.product_cells_total.sel(time=14.0).values > bike.product_cells_total.sel(time=14.0).values)
    # the systemic IL-15 readout is the cytokine itself, not the moiety
    np.testing.assert_allclose(trike.il15_pg_ml.sel(time=-5.0).values, bike.il15_pg_ml.sel(time=-5.0).values)


def _rates(engager, hn_cd16=False, hypoxia=0.5):
    reg = load_registry()
    p = {k: reg[k].default for k in ("k_nat", "i_self", "hyp_supp", "k_car", "k_adcc", "dn_rescue", "m_cd16",
                                     "k_eng_rel", "tgf_ic50_nat", "tgf_ic50_car", "tgf_ic50_adcc")}
    con = Construct(hn_cd16=hn_cd16)
    return rates_per_effector(p, con, True, tgfb=2.0, ligand=1.0, hla=0.8, kir=1.0, hypoxia=hypoxia, f_is=1.0,
                              potency=1.0, engager=engager), p


def test_binding_arms_cd16_boosted_by_hncd16_nkp46_by_nothing_and_hypoxia_sensitive():
    cd16 = Engager(target="CD30", binding=("CD16",), dose=1.0)
    nkp46 = Engager(target="CD30", binding=("NKp46",), dose=1.0)
    both = Engager(target="CD30", binding=("CD16", "NKp46"), dose=1.0)
    r16, p = _rates(cd16)
    r16hn, _ = _rates(cd16, hn_cd16=True)
    assert r16hn["eng_t"] == pytest.approx(r16["eng_t"] * (1 + p["m_cd16"]))
    assert r16hn["eng_u"] == pytest.approx(r16["eng_u"])  # untransduced cells carry native CD16
    r46, _ = _rates(nkp46)
    r46hn, _ = _rates(nkp46, hn_cd16=True)
    assert r46hn["eng_t"] == pytest.approx(r46["eng_t"])  # hnCD16 does not help an NKp46 engager
    r46_norm, _ = _rates(nkp46, hypoxia=0.0)
    assert r46["eng_u"] == pytest.approx(r46_norm["eng_u"] * (1 - p["hyp_supp"] * 0.5))
    assert _rates(cd16, hypoxia=0.9)[0]["eng_u"] == pytest.approx(r16["eng_u"])  # CD16 spared by hypoxia
    rb, _ = _rates(both)
    assert rb["eng_u"] == pytest.approx(max(r16["eng_u"], r46["eng_u"]))
    assert _rates(None)[0]["eng_u"] == 0.0


def test_endogenous_term_acts_without_product(afm13):
    """k_eng_endo lets the engager kill antigen-positive tumor through host NK, no product; 0 switches it off."""
    ov = {"treated": False}
    off = nksim.simulate(_with(afm13, **{"parameters.k_eng_endo": 0.0}), overrides=ov).trajectories
    assert float(off.cum_kill_engager.max()) == 0.0
    on = nksim.simulate(_with(afm13, **{"parameters.k_eng_endo": 0.02}), overrides=ov).trajectories
    pos, neg = _classes(on)
    assert float(on.cum_kill_engager.isel(time=-1).min()) > 0.0
    cls_on = on.tumor_class_cells.sum("lesion").isel(time=-1)
    cls_off = off.tumor_class_cells.sum("lesion").isel(time=-1)
    assert np.all(cls_on.isel(antigen_class=pos).values < cls_off.isel(antigen_class=pos).values)
    # books: every killed cell is a dead cell formed
    formed = on.cum_kill_car + on.cum_kill_nat + on.cum_kill_adcc + on.cum_kill_engager + on.cum_chemo_killed
    accounted = on.dead_cells.sum("lesion") + on.cum_cleared
    assert float(abs(formed - accounted).max() / formed.max()) < 1e-5


@pytest.mark.parametrize("change, field", [
    ({"regimen.engager.binding": ["CD16", "CD16"]}, "binding"),
    ({"regimen.engager.binding": ["NKG2D"]}, "binding"),
    ({"regimen.engager.target": "NKG2DL"}, "target"),
    ({"regimen.engager.target": "CD3O"}, "target"),
    ({"regimen.engager.dose": 500.0, "regimen.engager.dose_unit": "mg/kg"}, "dose"),
    ({"regimen.engager.dose": -1.0}, "dose"),
    ({"regimen.engager.days": [7.0, 0.0]}, "days"),
    ({"regimen.engager.days": [0.0, 400.0]}, "regimen.engager.days"),
    ({"regimen.engager.half_life_d": 0.0}, "half_life_d"),
    ({"regimen.engager.route": "im"}, "route"),
])
def test_engager_validation_names_the_field(afm13, change, field):
    with pytest.raises(InputError) as exc:
        afm13.replace(change)
    assert field in str(exc.value)


def test_dosing_table_engager_needs_regimen_engager(afm13):
    import pandas as pd

    sc = _with(afm13, **{"regimen.engager": None})
    df = pd.DataFrame({"ID": [0, 0], "TIME": [0.0, 0.0], "EVID": [1, 1], "AMT": [5e8, 100.0], "CMT": [2, 21]})
    with pytest.raises(InputError) as exc:
        nksim.simulate(sc, overrides={"dosing": df})
    assert "regimen.engager" in str(exc.value)


def test_engager_dose_per_kg_scales_with_weight():
    e = Engager(target="CD33", dose=50.0, dose_unit="ug/kg")
    assert e.dose_mg(80.0) == pytest.approx(4.0)
    assert Engager(target="CD33", dose=3.0, dose_unit="mg").dose_mg(80.0) == 3.0
    assert math.isclose(Engager(target="CD33", dose=1.0).dose_mg(70.0), 70.0)


def test_per_patient_regimen_engager_must_match_the_scenario(afm13):
    other = afm13.regimen.model_copy(update={"engager": afm13.regimen.engager.model_copy(update={"target": "CD33"})})
    with pytest.raises(InputError) as exc:
        nksim.simulate(afm13, overrides={"regimen": other})
    assert "regimen.engager" in str(exc.value)
    # a different dose and half-life per patient is fine
    same = afm13.regimen.model_copy(update={"engager": afm13.regimen.engager.model_copy(
        update={"dose": 20.0, "half_life_d": 2.0})})
    low = nksim.simulate(afm13, overrides={"regimen": same}).trajectories
    assert float(low.engager_ug_ml.max()) < float(nksim.simulate(afm13).trajectories.engager_ug_ml.max())
