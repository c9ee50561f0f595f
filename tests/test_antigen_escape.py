"""Antigen-negative escape (docs/mechanisms.md, "CAR T cells in lymphoma nodes"): negative subclones are present at
enrollment in some patients (antigen_negative_prob_<antigen>) and arise de novo only if mu_loss > 0, so a CAR product
that clears every antigen-positive cell of a patient without such a subclone leaves a lasting remission."""

from __future__ import annotations

import numpy as np
import pytest

import nksim
from nksim.population.sampling import sample_patients
from nksim.registry import load_registry
from nksim.spec.io import load_scenario


def test_only_some_patients_carry_a_cd19_negative_subclone():
    sc = load_scenario("bnhl-car-t-like")
    frac = sample_patients(sc, np.arange(2000))["antigen_fraction_CD19"].to_numpy()
    prob = load_registry()["antigen_negative_prob_CD19"].default
    carriers = frac < 1.0
    assert carriers.mean() == pytest.approx(prob, abs=0.04)
    assert np.median(frac[carriers]) == pytest.approx(load_registry()["antigen_fraction_CD19"].default, abs=0.03)
    # the typical patient (no variability) carries the typical share; solid-tumor antigens have no such mixture
    typical = sample_patients(sc.replace({"population.variability": False}), np.arange(1))
    assert float(typical["antigen_fraction_CD19"].iloc[0]) < 1.0
    gpc3 = sample_patients(load_scenario("hcc-gpc3-car-nk-il15"), np.arange(500))["antigen_fraction_GPC3"]
    assert (gpc3 < 1.0).all()


def _patient_without_negatives(mu_loss: float):
    sc = load_scenario("bnhl-car-t-like")
    cov = {**sc.population.covariates, "antigen_fraction_CD19": 1.0}
    sc = sc.replace({"population.variability": False, "population.covariates": cov,
                     "parameters": {"mu_loss": mu_loss}, "simulation.horizon_d": 365.0})
    res = nksim.simulate(sc, n_patients=1, seed=2, outputs="daily")
    cells = res.trajectories["tumor_class_cells"].sum("lesion").isel(patient=0)
    return res.patients.iloc[0], cells


def test_a_remission_lasts_without_antigen_loss_and_relapses_negative_with_it():
    """Without de novo loss the typical axi-cel patient with an all-CD19+ tumor is cleared for good; with the loss
    rate of the model before round 7 (1e-3/d) a CD19-negative class seeded during treatment regrows."""
    pt, cells = _patient_without_negatives(0.0)
    assert float(cells.isel(antigen_class=1).isel(time=-1)) < 1.0
    assert float(cells.isel(antigen_class=0).max()) == 0.0
    assert not bool(pt["pfs_event"])
    pt_loss, cells_loss = _patient_without_negatives(1e-3)
    assert bool(pt_loss["pfs_event"])
    end = cells_loss.isel(time=-1)
    assert float(end.isel(antigen_class=0)) > 100.0 * float(end.isel(antigen_class=1)) + 1e6
