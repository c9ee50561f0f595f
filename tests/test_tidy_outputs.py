"""Tidy run-folder outputs (issue 17 item 3): a long per-scan table beside the per-patient table, response columns
as ordered categoricals, units in the Parquet metadata, a CF-style time coordinate."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import xarray as xr

from nksim.io.tidy import (RESPONSE_DTYPE, categorical_responses, column_units, parquet_units, scan_table,
                           write_tidy_tables)


def wide_table() -> pd.DataFrame:
    df = pd.DataFrame({
        "best_response": ["PR", "PD", None],
        "resp_d28": ["SD", "PD", None], "resp_d56": ["PR", None, "NE"],
        "burden_d28": [40.0, 60.0, np.nan], "burden_d56": [25.0, np.nan, np.nan],
        "baseline_burden_mm": [50.0, 45.0, np.nan], "pfs_days": [100.0, 28.0, 5.0], "k_car": [2.0, 1.0, 3.0],
        "peak_nk_per_ul": [1.0, 2.0, 3.0], "dlt": [False, True, False],
    }, index=pd.Index([4, 7, 9], name="patient"))
    return df


def test_scan_table_is_the_wide_columns_long():
    long = scan_table(wide_table())
    assert list(long.columns) == ["patient", "day", "response", "burden"]
    assert len(long) == 3 * 2 and long["response"].dtype == RESPONSE_DTYPE
    row = long[(long.patient == 4) & (long.day == 56)].iloc[0]
    assert row.response == "PR" and row.burden == 25.0
    assert long[(long.patient == 7) & (long.day == 56)].response.isna().all()  # not done -> missing
    assert long["day"].tolist() == [28.0, 56.0] * 3


def test_responses_are_ordered_categoricals():
    df = categorical_responses(wide_table())
    assert df["best_response"].dtype == RESPONSE_DTYPE and df["resp_d28"].dtype == RESPONSE_DTYPE
    assert (df["best_response"] >= "PR").tolist() == [True, False, False]
    assert df["best_response"].isna().tolist() == [False, False, True]
    assert wide_table()["best_response"].dtype == object  # input untouched


def test_units_from_registry_and_names():
    u = column_units(wide_table())
    assert u["k_car"] == "kills/(NK d)" and u["pfs_days"] == "d" and u["burden_d28"] == "mm"
    assert u["peak_nk_per_ul"] == "cells/uL" and "best_response" not in u and "dlt" not in u
    lugano = wide_table().assign(baseline_spd_mm2=[100.0, 90.0, np.nan])
    assert column_units(lugano)["burden_d56"] == "mm2"


def test_parquet_files_carry_units_and_categories(tmp_path):
    paths = write_tidy_tables(tmp_path, wide_table())
    pts = pd.read_parquet(paths["patients"])
    assert pts["best_response"].dtype == RESPONSE_DTYPE and pts.index.name == "patient"
    assert parquet_units(paths["patients"])["pfs_days"] == "d"
    import pyarrow.parquet as pq

    field = pq.read_schema(paths["patients"]).field("baseline_burden_mm")
    assert field.metadata[b"unit"] == b"mm"
    scans = pd.read_parquet(paths["scans"])
    assert scans["response"].dtype == RESPONSE_DTYPE and parquet_units(paths["scans"]) == {"day": "d", "burden": "mm"}


@pytest.mark.slow
def test_run_folder_writes_scans_beside_patients(tmp_path):
    from nksim.runner import run_scenario

    out = tmp_path / "run"
    result, _ = run_scenario("hcc-post-lt-allo-nk", out, n_patients=3, seed=2, show_progress=False)
    pts = pd.read_parquet(out / "patients.parquet")
    scans = pd.read_parquet(out / "scans.parquet")
    n_scans = sum(c.startswith("resp_d") for c in pts.columns)
    assert len(scans) == len(pts) * n_scans and set(scans["patient"]) == set(pts.index)
    assert pts["best_response"].dtype == RESPONSE_DTYPE
    # the long table holds exactly the wide table's values
    day = scans["day"].iloc[0]
    col = f"burden_d{int(day)}"
    first = scans[scans.day == day].set_index("patient")["burden"]
    np.testing.assert_array_equal(first.loc[pts.index].to_numpy(), pts[col].to_numpy())
    assert parquet_units(out / "patients.parquet")["weight_kg"] == "kg"
    from nksim.io.run_folder import open_trajectories

    with open_trajectories(out) as ds:
        assert ds["time"].attrs["standard_name"] == "time" and ds["time"].attrs["units"] == "d"
        assert ds["time"].dtype.kind == "f"  # not decoded into datetimes


def test_simulate_returns_responses_as_ordered_categoricals_that_compare_with_strings():
    """In memory as in the files: best and per-scan responses are ordered categoricals (NE < PD < SD < PR < CR, not
    done missing); comparisons and membership tests with the codes as strings keep working."""
    import nksim
    from nksim.io.tidy import RESPONSE_DTYPE, response_columns

    p = nksim.simulate("hcc-post-lt-allo-nk", n_patients=12, seed=4, outputs="summary").patients
    cols = response_columns(p)
    assert "best_response" in cols and any(c.startswith("resp_d") for c in cols)
    for c in cols:
        assert p[c].dtype == RESPONSE_DTYPE, c
    b = p["best_response"]
    text = b.astype(object)
    assert (b.eq("SD") == text.eq("SD")).all() and (b.isin(["CR", "PR"]) == text.isin(["CR", "PR"])).all()
    assert ((b >= "SD") == text.isin(["SD", "PR", "CR"])).fillna(False).all()
    assert list(b.value_counts().index) and set(b.value_counts().index) == {"NE", "PD", "SD", "PR", "CR"}


def test_categorical_responses_copies_unless_told_not_to():
    """copy=True (the default) leaves the caller's frame as it was; copy=False converts it in place (the sinks use
    it on a freshly concatenated table, so a million-row table is not held three times)."""
    df = pd.DataFrame({"best_response": ["CR", "PD", None], "resp_d28": ["PR", "SD", "NE"], "x": [1.0, 2.0, 3.0]})
    out = categorical_responses(df)
    assert out is not df and df["best_response"].dtype == object and isinstance(out["best_response"].dtype,
                                                                                  pd.CategoricalDtype)
    same = categorical_responses(df, copy=False)
    assert same is df and isinstance(df["resp_d28"].dtype, pd.CategoricalDtype)
    assert list(df["best_response"].astype(object).where(df["best_response"].notna(), None)) == ["CR", "PD", None]


def test_memory_sink_keeps_chunks_categorical_and_joins_them_unchanged():
    """The in-memory sink converts each chunk's response columns when it receives the chunk (a byte a row while the
    chunks wait); the joined table equals the one converted after joining, with the response dtype kept."""
    from nksim.io.sinks import MemorySink

    whole = wide_table()
    sink = MemorySink()
    sink.open({}, [np.arange(2), np.arange(2, 3)])
    parts = [whole.iloc[:2].copy(), whole.iloc[2:].copy()]
    for k, part in enumerate(parts):
        ds, kept = sink.encode(xr.Dataset(coords={"patient": part.index.to_numpy()}), part)
        assert kept.columns["resp_d56"].dtype == RESPONSE_DTYPE
        assert kept.columns["best_response"].dtype == RESPONSE_DTYPE
        sink.store(k, (ds, kept))
    _, table = sink.finish({})
    pd.testing.assert_frame_equal(table, categorical_responses(whole))
    # chunks whose columns differ join as pandas joins them (a column missing in one chunk: missing there)
    sink = MemorySink()
    sink.open({}, [np.arange(2), np.arange(2, 3)])
    parts = [whole.iloc[:2].copy(), whole.iloc[2:].drop(columns=["resp_d56"])]
    for k, part in enumerate(parts):
        sink.store(k, sink.encode(xr.Dataset(coords={"patient": part.index.to_numpy()}), part))
    _, table = sink.finish({})
    pd.testing.assert_frame_equal(table, categorical_responses(pd.concat(parts)))
