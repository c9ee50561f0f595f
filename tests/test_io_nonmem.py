"""NONMEM-style datasets: export (doses, observations, covariates), import of dosing tables, exact round trips,
validation errors, run folders and the `nksim export nonmem` command."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import xarray as xr
from conftest import every_dose_kind, small
from typer.testing import CliRunner

import nksim
from nksim.cli import app
from nksim.errors import InputError
from nksim.io.nonmem import OBSERVATIONS, read_nonmem, sidecar_path, to_nonmem, write_nonmem
from nksim.kinetics.dosing import DOSE_CMTS, as_dosing

DOSE_COLS = ["ID", "TIME", "EVID", "AMT", "CMT"]


def doses(df: pd.DataFrame) -> pd.DataFrame:
    return df.loc[df.EVID == 1, DOSE_COLS].reset_index(drop=True)


def assert_same_trajectories(a: xr.Dataset, b: xr.Dataset) -> None:
    assert set(a.data_vars) == set(b.data_vars)
    for name in a.data_vars:
        np.testing.assert_array_equal(a[name].values, b[name].values, err_msg=name)  # exact
    for name in ("time", "dose_time", "dose_cmt", "dose_amt"):
        np.testing.assert_array_equal(a[name].values, b[name].values, err_msg=name)


def test_round_trip_is_exact():
    """simulate -> export -> import the dose rows -> simulate: the same trajectories; the re-export has the same
    dose rows (exact floats). Every dose kind, both product compartments, several chunks."""
    sc = every_dose_kind()
    ov = {"car_fraction": 0.6}
    res = nksim.simulate(sc, overrides=ov, chunk_size=3)
    df = to_nonmem(res)
    assert set(doses(df).CMT) == set(DOSE_CMTS) - {8, 9}  # hepatic-artery CMTs: tests/test_per_infusion_dosing.py
    res2 = nksim.simulate(sc, overrides={**ov, "dosing": df}, chunk_size=2)
    assert_same_trajectories(res.trajectories, res2.trajectories)
    pd.testing.assert_frame_equal(to_nonmem(res2), df, check_exact=True)
    # the clinical readouts follow the same trajectories
    for col in ("best_response", "pfs_days", "crs_grade", "n_infusions", "treated"):
        pd.testing.assert_series_equal(res.patients[col], res2.patients[col])
    # patients without overrides: the dosing table alone reproduces the product split of the regimen
    assert (res2.patients.dose_level == 0).all()
    np.testing.assert_allclose(res2.patients.car_fraction, 0.6, rtol=1e-12)


def test_round_trip_through_a_csv_file(tmp_path):
    sc = every_dose_kind()
    res = nksim.simulate(sc, overrides={"car_fraction": 0.25})
    path = write_nonmem(res, tmp_path / "data.csv", observations="all")
    meta = json.loads(sidecar_path(path).read_text(encoding="utf-8"))
    assert meta["format"] == "nksim-nonmem" and meta["time_unit"] == "d"
    units = {c["cmt"]: c["unit"] for c in meta["compartments"]}
    assert units[1] == units[2] == "cells" and units[4] == "MIU" and units[11] == "cells/uL" and units[15] == "pg/mL"
    back = read_nonmem(path)
    pd.testing.assert_frame_equal(doses(back), doses(to_nonmem(res)), check_exact=True)
    res2 = nksim.simulate(sc, overrides={"dosing": back})
    assert_same_trajectories(res.trajectories, res2.trajectories)
    # a file path works directly as the override too
    res3 = nksim.simulate(sc, overrides={"dosing": str(path)})
    assert_same_trajectories(res.trajectories, res3.trajectories)


def test_imported_regimen_drives_patients_and_exports_the_same_rows():
    """Per-infusion amounts differ; patient 0 from the table, patients 1-3 follow the regimen."""
    sc = small("hcc-gpc3-car-nk-il15", n=4, horizon=40.0)
    table = pd.DataFrame({
        "ID": [0, 0, 0, 0, 0, 0, 0, 0],
        "TIME": [-3.0, 0.0, 0.0, 7.0, 7.0, 14.0, 2.0, 9.0],
        "EVID": [1] * 8,
        "AMT": [0.5, 1.0e8, 2.5e7, 3.0e8, 7.5e7, 9.0e8, 2.0, 2.0],
        "CMT": [3, 1, 2, 1, 2, 1, 5, 5],
    })
    base = nksim.simulate(sc)
    res = nksim.simulate(sc, overrides={"dosing": table})
    out = doses(to_nonmem(res))
    mine = out[out.ID == 0].reset_index(drop=True)
    expected = table.sort_values(["TIME", "CMT"], kind="stable").reset_index(drop=True)
    pd.testing.assert_frame_equal(mine, expected, check_exact=True, check_dtype=False)
    ds = res.trajectories.sel(patient=0)
    assert float(ds.cum_infused.isel(time=-1)) == pytest.approx(1.0e8 + 2.5e7 + 3.0e8 + 7.5e7 + 9.0e8, rel=1e-12)
    assert float(ds.il15_pg_ml.sel(time=3.0)) > float(base.trajectories.il15_pg_ml.sel(patient=0, time=3.0))
    assert float(res.trajectories.time[0]) == -5.0  # patients 1-3 still have their regimen's day -5 course
    row = res.patients.loc[0]
    assert row.n_infusions == 3 and row.treated and row.dose_level == 0
    assert row.viable_cells_per_infusion == pytest.approx((1.25e8 + 3.75e8 + 9.0e8) / 3)
    # patients not in the table: their regimen, the same numbers as without the table
    for name in ("nk_blood_per_ul", "viable_cells", "cytokine_pg_ml"):
        np.testing.assert_array_equal(res.trajectories[name].sel(patient=[1, 2, 3]).values,
                                      base.trajectories[name].sel(patient=[1, 2, 3]).values)
    pd.testing.assert_frame_equal(out[out.ID > 0].reset_index(drop=True),
                                  doses(to_nonmem(base)).query("ID > 0").reset_index(drop=True), check_exact=True)


def test_listed_patient_without_dose_rows_gets_nothing():
    sc = small("hcc-gpc3-car-nk-il15", n=2, horizon=20.0)
    table = pd.DataFrame({"ID": [1], "TIME": [0.0], "EVID": [0], "AMT": [0.0], "CMT": [11], "DV": [0.0]})
    res = nksim.simulate(sc, overrides={"dosing": table})
    assert float(res.trajectories.product_cells_total.sel(patient=1).max()) == 0.0
    assert np.isnan(res.trajectories.dose_cmt.sel(patient=1).values).all()
    assert not res.patients.loc[1, "treated"] and res.patients.loc[1, "n_infusions"] == 0
    assert float(res.trajectories.product_cells_total.sel(patient=0).max()) > 0.0


def test_observation_rows_are_the_trajectories():
    sc = small("hcc-gpc3-car-nk-il15", n=3, horizon=30.0)
    res = nksim.simulate(sc)
    ds = res.trajectories
    df = to_nonmem(res, observations="all")
    obs = df[df.EVID == 0]
    assert (obs.MDV == 0).all() and (obs.AMT == 0).all() and (df.loc[df.EVID == 1, "MDV"] == 1).all()
    assert set(obs.DVID) == {o.dvid for o in OBSERVATIONS.values()}
    assert (obs.CMT == 10 + obs.DVID).all()
    target = ds.viable_cells.where(ds.is_target, 0.0).sum("lesion").transpose("patient", "time").values
    for o in OBSERVATIONS.values():
        part = obs[obs.DVID == o.dvid]
        got = part.pivot(index="ID", columns="TIME", values="DV")
        assert list(got.columns) == list(ds.time.values) and list(got.index) == list(ds.patient.values)
        want = target if o.name == "tumor_target_cells" else ds[o.variable].transpose("patient", "time").values
        np.testing.assert_array_equal(got.values, want, err_msg=o.name)
    # rows: sorted by ID and TIME, doses before the observations of the same time
    key = df.ID.to_numpy() * 1e6 + df.TIME.to_numpy()
    assert (np.diff(key) >= 0).all()
    day0 = df[(df.ID == 0) & (df.TIME == 0.0)]
    assert list(day0.EVID) == sorted(day0.EVID, reverse=True)
    # covariates: the patient table's baseline values, booleans as 0/1
    for c in ("weight_kg", "antigen_fraction_GPC3", "lesion0_diameter_mm", "kir_matched"):
        want = res.patients.loc[df.ID, c].to_numpy()
        np.testing.assert_array_equal(df[c].to_numpy(), want.astype(int) if c == "kir_matched" else want)
    assert "k_car" not in df.columns and "best_response" not in df.columns
    # chosen times, observations and covariates
    sub = to_nonmem(res, observations=["cytokine"], times=[0, 7, 14], covariates=["weight_kg", "delta_0"])
    assert sorted(sub[sub.EVID == 0].TIME.unique()) == [0.0, 7.0, 14.0]
    assert set(sub.DVID) == {0, OBSERVATIONS["cytokine"].dvid}
    assert list(sub.columns) == ["ID", "TIME", "EVID", "AMT", "CMT", "DV", "MDV", "DVID", "weight_kg", "delta_0"]
    pd.testing.assert_frame_equal(doses(sub), doses(df), check_exact=True)


@pytest.mark.parametrize("kwargs, field", [
    ({"observations": ["tumour"]}, "observations"),
    ({"times": [3.5]}, "times"),
    ({"covariates": ["indication"]}, "covariates"),
    ({"covariates": ["no_such_column"]}, "covariates"),
])
def test_export_option_errors(kwargs, field):
    res = nksim.simulate(small("hcc-gpc3-car-nk-il15", n=1, horizon=10.0))
    with pytest.raises(InputError) as err:
        to_nonmem(res, **kwargs)
    assert err.value.field == field


def _table(changes=None):
    t = pd.DataFrame({"ID": [0, 0, 0, 1, 1], "TIME": [-5.0, 0.0, 7.0, 0.0, 0.0], "EVID": [1, 1, 1, 0, 1],
                      "AMT": [1.0, 1e8, 1e8, 0.0, 5e7], "CMT": [3, 1, 1, 11, 2]})
    for (col, row), value in (changes or {}).items():
        t[col] = t[col].astype(object)
        t.loc[row, col] = value
    return t


@pytest.mark.parametrize("changes, field, row, allowed", [
    ({("EVID", 2): 4}, "dosing.EVID", 2, "resets"),
    ({("ID", 1): 0.5}, "dosing.ID", 1, "integer"),
    ({("ID", 0): -1}, "dosing.ID", 0, "integer >= 0"),
    ({("CMT", 2): 11}, "dosing.CMT", 2, "dose compartment"),
    ({("AMT", 1): -1.0}, "dosing.AMT", 1, ">= 0"),
    ({("AMT", 1): "many"}, "dosing.AMT", 1, ">= 0"),
    ({("AMT", 0): 2.5}, "dosing.AMT", 0, "[0, 2]"),
    ({("TIME", 0): 1.0}, "dosing.TIME", 0, "<= 0"),
    ({("TIME", 2): float("nan")}, "dosing.TIME", 2, "finite"),
    ({("TIME", 1): 3.0}, "dosing.TIME", 1, "first product infusion"),
    ({("CMT", 2): 3, ("TIME", 2): -1.0, ("AMT", 2): 1.0}, "dosing.CMT", 2, "one lymphodepletion"),
])
def test_dosing_table_errors_name_column_row_value(changes, field, row, allowed):
    table = _table(changes)
    with pytest.raises(InputError) as err:
        as_dosing(table)
    e = err.value
    assert e.field == field and e.where.startswith(f"dosing table row {row}") and allowed in e.allowed
    col = field.split(".")[1]
    assert str(table.loc[row, col]) == str(e.value)


def test_dosing_table_errors_other():
    with pytest.raises(InputError, match="missing CMT"):
        as_dosing(_table().drop(columns="CMT"))
    with pytest.raises(InputError, match="RATE"):
        as_dosing(_table().assign(RATE=[0, 10.0, 0, 0, 0]))
    with pytest.raises(InputError, match="one column named TIME"):
        as_dosing(_table().assign(time=1.0))
    with pytest.raises(InputError, match="DataFrame"):
        as_dosing([1, 2, 3])
    # lower-case mrgsolve/rxode2 names, no EVID column (every row a dose), "." on observation-free rows
    t = as_dosing(pd.DataFrame({"id": [2, 2], "time": [0.0, 7.0], "amt": [1e8, 2e8], "cmt": [2, 2]}))
    assert t.doses == {2: [(0.0, 2, 1e8), (7.0, 2, 2e8)]}
    # zero-amount infusion rows give no dose (the patient is still listed)
    t = as_dosing(pd.DataFrame({"ID": [4], "TIME": [0.0], "AMT": [0.0], "CMT": [1]}))
    assert t.doses == {4: []}


def test_dosing_ids_must_be_simulated_and_antibody_needs_a_target(tmp_path):
    sc = small("hcc-gpc3-car-nk-il15", n=2, horizon=10.0)
    with pytest.raises(InputError) as err:
        nksim.simulate(sc, overrides={"dosing": _table().assign(ID=[0, 0, 0, 5, 5])})
    assert err.value.field == "dosing.ID" and err.value.value == 5 and "0..1" in err.value.allowed
    ab = pd.DataFrame({"ID": [0, 0], "TIME": [0.0, 1.0], "AMT": [1e8, 100.0], "CMT": [1, 6]})
    with pytest.raises(InputError, match="regimen.antibody"):
        nksim.simulate(sc, overrides={"dosing": ab})
    # errors from a file name its line
    path = tmp_path / "bad.csv"
    _table({("AMT", 2): -3.0}).to_csv(path, index=False)
    with pytest.raises(InputError) as err:
        read_nonmem(path)
    assert "line 4 of" in err.value.where and err.value.field == "dosing.AMT"
    # a sidecar with other dose units is refused
    good = tmp_path / "good.csv"
    _table().to_csv(good, index=False)
    sidecar_path(good).write_text(json.dumps({"format": "nksim-nonmem", "format_version": 1, "compartments": [
        {"cmt": 4, "kind": "dose", "unit": "IU"}]}), encoding="utf-8")
    with pytest.raises(InputError, match="MIU"):
        read_nonmem(good)


def test_run_folder_and_cli(tmp_path):
    from nksim.runner import run_scenario

    sc = small("hcc-gpc3-car-nk-il15", n=3, horizon=20.0)
    folder = tmp_path / "run"
    res, _ = run_scenario(sc, folder, chunk_size=2, show_progress=False)
    from_folder = to_nonmem(folder)
    pd.testing.assert_frame_equal(from_folder, to_nonmem(res), check_exact=True)
    assert from_folder.attrs["nksim_nonmem"]["provenance"]["seed"] == sc.simulation.seed
    cli = CliRunner()
    out = tmp_path / "data.csv"
    r = cli.invoke(app, ["export", "nonmem", str(folder), "-o", str(out), "--times", "0,7,14"])
    assert r.exit_code == 0, r.output
    assert "3 patients" in r.output and sidecar_path(out).exists()
    back = read_nonmem(out)
    assert sorted(back.loc[back.EVID == 0, "TIME"].unique()) == [0.0, 7.0, 14.0]
    pd.testing.assert_frame_equal(doses(back), doses(from_folder), check_exact=True)
    # a scenario is simulated first; run-folder sources take no simulation options
    out2 = tmp_path / "s.csv"
    r = cli.invoke(app, ["export", "nonmem", "hcc-gpc3-car-nk-il15", "-n", "2", "-s", "3", "-o", str(out2),
                         "--observations", "product_blood,car_product_blood", "--covariates", "none"])
    assert r.exit_code == 0, r.output
    assert list(pd.read_csv(out2).columns) == ["ID", "TIME", "EVID", "AMT", "CMT", "DV", "MDV", "DVID"]
    r = cli.invoke(app, ["export", "nonmem", str(folder), "-o", str(out2), "--seed", "4"])
    assert r.exit_code != 0 and isinstance(r.exception, InputError)
