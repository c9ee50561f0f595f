"""The kinetic model accepts the spatial model's coarse-grained table in place of its own trafficking and killing."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import small

import nksim
from nksim.errors import InputError
from nksim.kinetics import layout as L
from nksim.kinetics.abm_table import effective_parameters, load_table
from nksim.kinetics.inputs import build_inputs
from nksim.population.sampling import sample_patients


def _plain_car(microenvironment: str):
    sc = small("hcc-gpc3-car-nk-il15", n=6, horizon=60.0)
    con = sc.product.construct.model_copy(update={"il15": "none"})
    return sc.model_copy(update={"product": sc.product.model_copy(update={"construct": con}),
                                 "tumor": sc.tumor.model_copy(update={"microenvironment": microenvironment})})


def test_table_values_replace_ode_factors():
    sc = _plain_car("abm_table")
    pts = sample_patients(sc)
    inp = build_inputs(sc, pts)
    eff = effective_parameters(sc, pts)
    np.testing.assert_array_equal(inp.params[:, L.P_E_X], eff["e_x"])
    np.testing.assert_array_equal(inp.params[:, L.P_F_COMP], eff["f_comp"])
    # TGF-beta and hypoxia are not applied twice: the natural rate is the table's, times potency only
    np.testing.assert_allclose(inp.params[:, L.P_NAT_U], eff["k_nat_eff"] * sc.product.potency)
    np.testing.assert_allclose(inp.params[:, L.P_CAR_T], eff["k_car_eff"] * sc.product.potency)
    # nearest condition: a high-TGF-beta patient gets a high-TGF-beta row
    tab = load_table()
    assert set(np.round(eff["e_x"], 6)) <= set(np.round(tab["e_x"], 6))


def test_runs_and_differs_from_ode():
    a = nksim.simulate(_plain_car("ode")).trajectories
    b = nksim.simulate(_plain_car("abm_table")).trajectories
    assert float(abs(a.cum_kill_car - b.cum_kill_car).max()) > 0


def test_untabulated_armoring_is_named():
    sc = small("hcc-gpc3-car-nk-il15", n=2, horizon=10.0)
    sc = sc.model_copy(update={"tumor": sc.tumor.model_copy(update={"microenvironment": "abm_table"})})
    with pytest.raises(InputError, match="tumor.microenvironment.*tabulated"):
        nksim.simulate(sc)
