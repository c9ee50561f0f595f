"""CAR T cells in lymphoma nodes (docs/mechanisms.md, "CAR T cells in lymphoma nodes"): T cells that meet antigen in a
node are held there, kill serially for days, a CD28 domain kills harder than 4-1BB, dead lymphoma cells are cleared
within days, and new lesions appear at a rate that grows less than in proportion to the burden (Iwata 2000)."""

from __future__ import annotations

import numpy as np
import pytest

import nksim
from nksim.kinetics.inputs import PARAM_INDEX, build_inputs
from nksim.population.sampling import sample_patients
from nksim.registry import load_registry
from nksim.spec.io import load_scenario


def _params(scenario) -> np.ndarray:
    sc = scenario.replace({"population.variability": False})
    return build_inputs(sc, sample_patients(sc, np.arange(1))).params[0]


def _typical(scenario, **changes):
    sc = scenario.replace({"population.variability": False, **changes})
    return nksim.simulate(sc, n_patients=1, seed=5, outputs="daily").trajectories.isel(patient=0)


@pytest.fixture(scope="module")
def axicel():
    return load_scenario("bnhl-car-t-like")


@pytest.fixture(scope="module")
def reg():
    registry = load_registry()

    class _Defaults(dict):
        def __missing__(self, name):
            return registry[name].default

    return _Defaults()


def test_derived_parameters_follow_cell_type_organ_and_costim(axicel, reg):
    """T cells in lymph nodes: retention, the T-cell kill budget, the CD28 factor; NK products and solid tumors keep
    the NK values."""
    t = _params(axicel)
    assert t[PARAM_INDEX["ret_ln"]] == reg["ln_retention"]
    assert t[PARAM_INDEX["kappa"]] == reg["kappa_t"]
    assert t[PARAM_INDEX["k_clear"]] == pytest.approx(reg["k_clear_lymphoid"])
    bb = _params(axicel.replace({"product.construct.costim": "4-1BB"}))
    assert t[PARAM_INDEX["car_t"]] == pytest.approx(reg["cd28_effector"] * bb[PARAM_INDEX["car_t"]], rel=1e-12)
    assert t[PARAM_INDEX["c_div"]] == pytest.approx(reg["cd28_effector"] * bb[PARAM_INDEX["c_div"]], rel=1e-12)
    nk = _params(load_scenario("bnhl-cd19-car-nk-il15-cb"))  # a CD28 CAR too, on NK
    assert nk[PARAM_INDEX["ret_ln"]] == 0.0
    assert nk[PARAM_INDEX["kappa"]] == reg["kappa"]
    nk_bb = _params(load_scenario("bnhl-cd19-car-nk-il15-cb").replace({"product.construct.costim": "4-1BB"}))
    assert nk[PARAM_INDEX["car_t"]] == nk_bb[PARAM_INDEX["car_t"]]
    hcc = _params(load_scenario("hcc-post-lt-allo-nk"))
    assert hcc[PARAM_INDEX["k_clear"]] == reg["k_clear"]
    # a Hodgkin node: the dead HRS cell's reactive share clears at the tissue rate
    hl = _params(load_scenario("hl-afm13-cb-nk"))
    mf = reg["malignant_fraction_HL"]
    assert hl[PARAM_INDEX["k_clear"]] == pytest.approx(mf * reg["k_clear_lymphoid"] + (1 - mf) * reg["k_clear"])


def test_antigen_holds_t_cells_in_the_node(axicel):
    """With retention more of the product sits in the nodes at its peak and more tumor is killed; without antigen
    (no tumor cell carries CD19) retention changes nothing."""
    held = _typical(axicel)
    free = _typical(axicel, parameters={"ln_retention": 0.0})
    share = [float((x.nk_lesion.sum("lesion") / x.product_transduced_total).sel(time=10.0)) for x in (held, free)]
    assert share[0] > 1.5 * share[1]
    assert float(held.cum_kill_car.isel(time=-1)) > 1.3 * float(free.cum_kill_car.isel(time=-1))
    no_ag = {"population.covariates": {**axicel.population.covariates, "antigen_fraction_CD19": 1e-6}}
    a = _typical(axicel, **no_ag, parameters={"b_blood_per_ul": 0.0})
    b = _typical(axicel, **no_ag, parameters={"ln_retention": 0.0, "b_blood_per_ul": 0.0})
    assert float(a.nk_lesion.sum("lesion").sel(time=10.0)) == pytest.approx(
        float(b.nk_lesion.sum("lesion").sel(time=10.0)), rel=0.1)


def test_t_cells_kill_on_where_nk_spend_their_granules(axicel):
    """With the NK budget (kappa 4) T cells in the node exhaust within a day of killing and kill far less."""
    t_budget = _typical(axicel)
    nk_budget = _typical(axicel, parameters={"kappa_t": 4.0})
    ex = [float((x.nk_lesion_exhausted.sum("lesion") / x.nk_lesion.sum("lesion")).sel(time=10.0))
          for x in (t_budget, nk_budget)]
    assert ex[0] < 0.2 < ex[1]
    assert float(t_budget.cum_kill_car.isel(time=-1)) > 2.0 * float(nk_budget.cum_kill_car.isel(time=-1))


def test_dead_lymphoma_cells_clear_within_days(axicel):
    """After lymphodepletion the dead cells of a lymphoma node halve in ~2 days (k_clear_lymphoid 0.3/d); at the solid
    tumor rate (0.05/d) they would still fill the node weeks later."""
    nodal = _typical(axicel, **{"product.parameters": {**axicel.product.parameters, "k_car": 0.0}})
    slow = _typical(axicel, **{"product.parameters": {**axicel.product.parameters, "k_car": 0.0}},
                    parameters={"k_clear_lymphoid": 0.05})
    d = [x.dead_cells.sum("lesion") for x in (nodal, slow)]
    assert float(d[0].sel(time=14.0) / d[0].sel(time=0.0)) < 0.05
    assert float(d[1].sel(time=14.0) / d[1].sel(time=0.0)) > 0.4


def test_new_lesion_hazard_grows_as_burden_to_the_iwata_exponent(axicel, reg):
    """Untreated, the cumulative new-lesion hazard's rate at a burden x is h_new (x / 1e10)^0.663: a 4-fold burden
    raises it 4^0.663 = 2.5-fold, not 4-fold."""
    sc = axicel.replace({"population.variability": False, "simulation.horizon_d": 5.0})
    rates = []
    for d_mm in (20.0, 20.0 * 4 ** (1 / 3)):
        cov = {**sc.population.covariates, "lesion_diameter_mm": d_mm, "tvdt_d": 1e6}
        ds = nksim.simulate(sc.replace({"population.covariates": cov}), n_patients=1, seed=1, overrides={"treated": False},
                            outputs="daily").trajectories.isel(patient=0)
        burden = float(ds.tumor_viable_total.isel(time=0))
        h = ds.new_lesion_hazard.values
        rate = (h[1] - h[0]) / float(ds.time[1] - ds.time[0])
        assert rate == pytest.approx(reg["h_new_lesion"] * (burden / 1e10) ** reg["new_lesion_exponent"], rel=0.05)
        rates.append(rate)
    assert rates[1] / rates[0] == pytest.approx(4 ** reg["new_lesion_exponent"], rel=0.08)
