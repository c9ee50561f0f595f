"""Sensitivity analysis through the cohort engine: small runs, the batched path against honest simulations, resume,
bad input."""

from __future__ import annotations

import json

import numpy as np
import pytest

import nksim
from nksim.calibrate.space import ParameterSpace
from nksim.errors import InputError
from nksim.sensitivity import run_sensitivity
from nksim.sensitivity.evaluate import Evaluator
from nksim.sensitivity.outputs import EngineArrays, continuous_values, parse_outputs

SC = "hcc-gpc3-car-nk-il15"
PARAMS = "f_blood,k_car,kappa,hypoxia"


@pytest.fixture(scope="module")
def typical_run():
    return run_sensitivity(SC, params=PARAMS, outputs="peak_cells,burden_d84", n=32, seed=4, plots=False)


def test_typical_patient_run_finite_and_dominant_parameter(typical_run):
    r = typical_run
    assert r.provenance["samples"] == 32 * (4 + 2) and r.provenance["patients_per_sample"] == 1
    assert np.isfinite(r.indices[["S1", "S1_conf", "ST", "ST_conf"]].to_numpy()).all()
    # peak product cells per uL of blood = f_blood x (systemic pool) / blood volume: the blood share (20-fold prior
    # range) dominates; kill rates and hypoxia act on the tumor, not on the blood count
    peak = r.indices[r.indices["output"] == "peak_cells"].set_index("parameter")
    assert peak["ST"].idxmax() == "f_blood" and peak.loc["f_blood", "ST"] > 0.5
    assert (peak.drop("f_blood")["ST"] < 0.1).all()
    assert "f_blood" in r.summary()


def test_same_seed_same_numbers(typical_run):
    again = run_sensitivity(SC, params=PARAMS, outputs="peak_cells,burden_d84", n=32, seed=4, plots=False)
    assert again.indices.equals(typical_run.indices)
    np.testing.assert_array_equal(again.Y, typical_run.Y)
    other = run_sensitivity(SC, params=PARAMS, outputs="peak_cells", n=32, seed=5, plots=False)
    assert not np.array_equal(other.Y[:, 0], typical_run.Y[:, 0])


def test_batched_cohort_equals_honest_simulations():
    space = ParameterSpace(["k_car", "tgfb_ng_ml", "antigen_fraction_GPC3", "tgf_ic50_car"])
    outs = parse_outputs("orr,pfs_median,crs_any,peak_cells")
    theta = space.from_unit(np.random.default_rng(1).random((2, space.dim)))
    ev = Evaluator(nksim.load_scenario(SC), space, outs, patients=12, seed=3)
    assert ev.paths["k_car"] == "columns" and ev.paths["tgf_ic50_car"] == "scenario"  # read via the scenario only
    Y = ev.evaluate(theta)
    space2 = ParameterSpace(space.names[:3])
    ev2 = Evaluator(nksim.load_scenario(SC), space2, outs, patients=12, seed=3)
    assert ev2.path == "resample"  # GPC3 share has an eligibility rule: patients are redrawn per sample
    Y2 = ev2.evaluate(theta[:, :3])
    for k in range(2):
        for sc, y in ((space.apply(ev.base, theta[k]), Y[k]), (space2.apply(ev2.base, theta[k, :3]), Y2[k])):
            res = nksim.simulate(sc, n_patients=12, seed=3)
            s = res.summary().set_index("metric")["estimate"]
            pfs = s["median PFS"] if np.isfinite(s["median PFS"]) else ev.follow_up
            peak = np.median(continuous_values(res.trajectories, outs)["peak_cells"])
            np.testing.assert_allclose(y, [s["ORR"], pfs, s["CRS any grade"], peak], rtol=1e-9)



def test_batched_clinical_readout_parameters_and_common_patients():
    """Clinical readout parameters (per-sample readout settings) in one batch equal honest simulations; every sample
    has the same patients with the same readout draws (common random numbers): two samples with the same values
    give the same readouts whatever their position in the batch."""
    space = ParameterSpace(["k_car", "clinical_lethal_burden_cm3", "clinical_crs_fever_pg_ml"])
    outs = parse_outputs("orr,pfs_median,os_median,crs_any,detected")
    theta = space.from_unit(np.random.default_rng(5).random((3, space.dim)))
    theta = np.vstack([theta, theta[:1]])  # the first sample again, last in the batch
    ev = Evaluator(nksim.load_scenario(SC), space, outs, patients=10, seed=2)
    assert ev.per_sample_readout and ev.paths["clinical_crs_fever_pg_ml"] == "columns"
    assert ev.paths["clinical_lethal_burden_cm3"] == "resample_each"  # the enrolment screen reads it (from typ)
    Y = ev.evaluate(theta)
    np.testing.assert_array_equal(Y[0], Y[-1])
    assert not np.array_equal(Y[0], Y[1])
    np.testing.assert_array_equal(ev.evaluate(theta[2:3]), Y[2:3])  # alone or in a batch: the same
    for k in range(3):
        res = nksim.simulate(space.apply(ev.base, theta[k]), n_patients=10, seed=2)
        s = res.summary().set_index("metric")["estimate"]
        pfs, os_ = (s[m] if np.isfinite(s[m]) else ev.follow_up for m in ("median PFS", "median OS"))
        detected = res.patients["detected"].astype(bool).mean()
        np.testing.assert_allclose(Y[k], [s["ORR"], pfs, os_, s["CRS any grade"], detected], rtol=1e-9)

def test_chunks_overlapped_in_one_process_give_the_same_numbers():
    """Chunks of 2 samples (two in flight on two threads) equal one chunk of every sample, bit for bit."""
    kw = dict(params="k_car,f_blood,antigen_fraction_GPC3", outputs="orr,pfs_median,peak_cells", n=2, patients=6,
              seed=3, plots=False)
    one = run_sensitivity(SC, **kw, chunk_samples=100)
    many = run_sensitivity(SC, **kw, chunk_samples=2)
    np.testing.assert_array_equal(many.Y, one.Y)
    assert many.swing == one.swing and many.baseline == one.baseline


def test_response_outputs_track_the_event_times_only_with_the_same_numbers():
    """ORR, CR, DCR and the medians need only the event-time trackers (the kernel tracks 3 rows instead of ~30):
    the same readouts as a run that also tracks safety (crs_any needs every tracker)."""
    space = ParameterSpace(["k_car", "f_blood", "clinical_lethal_burden_cm3"])
    theta = space.from_unit(np.random.default_rng(7).random((3, space.dim)))
    few = Evaluator(nksim.load_scenario(SC), space, parse_outputs("orr,cr_rate,dcr,pfs_median,os_median"), 12, 2)
    all_ = Evaluator(nksim.load_scenario(SC), space, parse_outputs("orr,cr_rate,dcr,pfs_median,os_median,crs_any"),
                     12, 2)
    np.testing.assert_array_equal(few.evaluate(theta), all_.evaluate(theta)[:, :5])


def test_engine_arrays_equal_the_dataset():
    res = nksim.simulate(SC, n_patients=3, seed=2)
    from nksim.kinetics.inputs import build_inputs
    from nksim.kinetics.solver import solve_batch
    from nksim.population.sampling import sample_patients

    sc = res.scenario
    inp = build_inputs(sc, sample_patients(sc))
    ys, als, _ = solve_batch(inp.y0, inp.params, inp.n_lesions, inp.n_classes, inp.ev_t, inp.ev_k, inp.ev_a,
                             inp.ev_b, inp.t0, inp.t_end, inp.t_save, sc.simulation.rtol, inp.atol, 500_000)
    arr = EngineArrays(ys, als, inp)
    for name in ("tumor_viable_total", "tsys_cells", "nk_blood_per_ul", "car_nk_blood_per_ul", "cytokine_pg_ml",
                 "product_cells_total"):
        np.testing.assert_allclose(arr[name].values, res.trajectories[name].values, rtol=1e-12, err_msg=name)


def test_run_folder_resume_plots_and_provenance(tmp_path):
    out = tmp_path / "sens"
    kw = dict(params="f_blood,k_car,hcc_tvdt_rapid_d", outputs="peak_cells", method="morris", n=4, seed=1)
    r1 = run_sensitivity(SC, out=out, **kw)
    for f in ("indices.csv", "sensitivity.json", "samples.csv.gz", "tornado.png", "morris.png", "config.json"):
        assert (out / f).exists(), f
    doc = json.loads((out / "sensitivity.json").read_text(encoding="utf-8"))
    assert doc["scenario"] == SC and doc["seed"] == 1 and doc["nksim_version"] == nksim.__version__
    assert [p["name"] for p in doc["params"]] == ["f_blood", "k_car", "hcc_tvdt_rapid_d"]
    assert doc["params"][0]["prior"] == "uniform" and doc["params"][1]["prior"] == "loguniform"
    assert doc["no_effect"] == ["hcc_tvdt_rapid_d"]  # the typical patient's tumor is not of the rapid class
    mu = r1.indices.set_index("parameter")["mu_star"]
    assert mu["hcc_tvdt_rapid_d"] == 0.0
    chunks = sorted((out / "chunks").glob("design_*.npy"))
    assert chunks
    chunks[-1].unlink()  # an interrupted run: the rerun computes only what is missing, same numbers
    r2 = run_sensitivity(SC, out=out, **kw)
    assert r2.indices.equals(r1.indices)
    with pytest.raises(InputError) as exc:
        run_sensitivity(SC, out=out, **{**kw, "seed": 2})
    assert exc.value.field == "out"


@pytest.mark.parametrize("kw,field,value", [
    ({"params": "k_car,not_a_param"}, None, "not_a_param"),
    ({"outputs": "orr,response"}, "outputs", "response"),
    ({"method": "fast"}, "method", "fast"),
    ({"n": 48}, "n", 48),
    ({"outputs": "orr", "patients": 1}, "outputs", ["orr"]),
    ({"params": "k_car,clinical_measurable_min_mm"}, "params", "clinical_measurable_min_mm"),
])
def test_bad_input_names_field_value_and_allowed(kw, field, value):
    args = {"params": "k_car,kappa", "outputs": "peak_cells", "n": 4, **kw}
    with pytest.raises(InputError) as exc:
        run_sensitivity(SC, **args)
    e = exc.value
    if field is not None:
        assert e.field == field
    assert e.value == value and e.allowed
