"""Property-based fuzzing of every entry point (issue 16 item 4): scenario documents (valid, mutated, hostile bytes),
``Scenario.replace``, the trial CSV reader, manufacturing and ABM specs and the CLI argument parsers.

Property (fuzz.harness): exit code 0 with finite, non-negative trajectories, or exit code 3 with one line per
problem in nksim's words; never a traceback, never a hang, never NaN/inf in an output table, nothing written outside
the run folder. In `make test` a small derandomized slice runs (marked ``fuzz``); `make fuzz` (tests/fuzz/run_fuzz.py)
runs >= 10,000 cases in shards (one test, NKSIM_FUZZ_EXAMPLES examples, its own --hypothesis-seed) with
NKSIM_FUZZ_COUNT=1, where failures are counted instead of raised so that every case runs, and prints the counts.
"""

from __future__ import annotations

import os
import zlib

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fuzz import harness
from fuzz import strategies as fs

pytestmark = pytest.mark.fuzz

SCALE = float(os.environ.get("NKSIM_FUZZ_SCALE", "0"))  # 0: the make-test slice
COUNT_ONLY = os.environ.get("NKSIM_FUZZ_COUNT") == "1"
TINY = ("name: tiny\nproduct: {name: p}\nregimen: {dose_levels: [{value: 1e7}]}\n"
        "simulation: {n_patients: 1, horizon_d: 30, scan_days: [28]}\n")


def fuzz_settings(slice_examples: int, full_examples: int):
    n = slice_examples if SCALE <= 0 else max(1, int(full_examples * SCALE))
    shard = os.environ.get("NKSIM_FUZZ_EXAMPLES")  # one job of `make fuzz`: this many, drawn with its own seed
    return settings(max_examples=int(shard) if shard else n, derandomize=SCALE <= 0 and not shard, deadline=None,
                    database=None, print_blob=True, suppress_health_check=list(HealthCheck))


def check(o: harness.Outcome) -> None:
    if not COUNT_ONLY:
        assert harness.ok(o), harness.explain(o)


@fuzz_settings(12, 4000)
@given(case=fs.document_bytes("scenario"))
def test_scenario_documents(case):
    origin, data = case
    pick = zlib.crc32(data)  # which valid documents also run: spread evenly (hypothesis favours small draws)
    simulate, full_run = pick % 10 == 3, pick % 150 == 7
    with harness.fresh_box() as box:
        path = box / "in" / "scenario.yaml"
        path.write_bytes(data)
        o = harness.invoke(["validate", str(path)], box, entry="validate", inputs=(path,))
        check(o)
        if o.code == 0 and simulate:
            check(harness.simulate_case(path))
        if o.code == 0 and full_run:
            args = ["run", str(path), "-n", "1"]
            check(harness.invoke(args, box, entry="run", inputs=(path,)))


@fuzz_settings(10, 2000)
@given(data=st.data())
def test_scenario_replace(data):
    """``Scenario.replace`` (the API way to derive a variant): a Scenario or an InputError, never anything else."""
    from nksim.errors import InputError
    from nksim.spec.io import load_scenario

    name, text = data.draw(st.sampled_from(fs.builtin_docs("scenario")))
    sc = load_scenario(name)
    import yaml

    paths = [".".join(str(p) for p in path) for path in fs._paths(yaml.safe_load(text))]
    changes = {data.draw(st.sampled_from(paths + ["nope.x", "", "simulation..seed"])):
               data.draw(st.sampled_from(fs.EXTREME_NUMBERS + fs.ODD_VALUES)) for _ in range(data.draw(st.integers(1, 3)))}
    code, err, tb = 0, "", None
    try:
        sc.replace(changes)
    except InputError as exc:
        code, err = 3, f"error: {exc}\n"
    except BaseException:  # noqa: BLE001
        import traceback

        tb = traceback.format_exc()
    o = harness.Outcome(code, "", err, tb)
    harness.record(o, "replace")
    check(o)


@fuzz_settings(10, 2000)
@given(csv=fs.trial_csv(), design=st.sampled_from(fs.DESIGNS[:-2]), n_doses=st.sampled_from(["1", "3", "5", "0", "-2"]))
def test_trial_csv(csv, design, n_doses):
    with harness.fresh_box() as box:
        path = box / "in" / "trial.csv"
        path.write_bytes(csv)
        args = ["trial", "next-dose", "--design", design, "--n-doses", n_doses, "--data", str(path), "--json"]
        check(harness.invoke(args, box, entry="trial-csv", inputs=(path,)))


@fuzz_settings(8, 600)
@given(csv=st.one_of(fs.trial_csv(("ET", "DV"), fs.DATA_COLUMNS), fs.trial_csv(("ID", "TIME", "DV"), fs.DATA_COLUMNS)),
       suffix=st.sampled_from([".csv", ".csv", ".parquet"]))
def test_fit_data(csv, suffix):
    """The data `nksim fit` reads (assay or NONMEM-style CSV; bytes named .parquet too): FitData or an InputError
    in nksim's words, never a traceback."""
    from nksim.calibrate.data import read_data
    from nksim.errors import InputError

    with harness.fresh_box() as box:
        path = box / "in" / f"data{suffix}"
        path.write_bytes(csv)
        code, err, tb = 0, "", None
        try:
            read_data(path)
        except InputError as exc:
            code, err = 3, f"error: {exc}\n"
        except BaseException:  # noqa: BLE001
            import traceback

            tb = traceback.format_exc()
        o = harness.Outcome(code, "", err, tb)
        harness.record(o, "fit-data", ["fit", str(path)], (path,))
        check(o)


@fuzz_settings(5, 1000)
@given(case=fs.document_bytes("manufacturing"))
def test_manufacturing_specs(case):
    origin, data = case
    with harness.fresh_box() as box:
        path = box / "in" / "process.yaml"
        path.write_bytes(data)
        check(harness.invoke(["manufacture", str(path), "-n", "2", "--no-plots", "--json"], box,
                             entry="manufacture", inputs=(path,)))


@fuzz_settings(2, 150)
@given(case=fs.document_bytes("spatial"), size=st.sampled_from(["12x12", "14x14", "8x8x8"]))
def test_spatial_specs(case, size):
    origin, data = case
    with harness.fresh_box() as box:
        path = box / "in" / "abm.yaml"
        path.write_bytes(data)
        args = ["abm", "run", str(path), "--days", "0.02", "--size", size, "--checkpoint-every", "1"]
        check(harness.invoke(args, box, entry="abm", inputs=(path,)))


@fuzz_settings(12, 1000)
@given(data=st.data())
def test_command_lines(data):
    table = fs.command_table()
    with harness.fresh_box() as box:
        (box / "in" / "tiny.yaml").write_text(TINY)
        (box / "in" / "file.txt").write_text("x")
        (box / "in" / "trial.csv").write_text("dose_level,dlt\n1,0\n1,0\n1,1\n2,0\n")
        args = data.draw(fs.command_line(table, str(box / "in")))
        o = harness.invoke(args, box, allowed=harness.allowed_for(args, box), entry="cli:" + " ".join(
            a for a in args[:2] if not a.startswith("-") and "/" not in a))
        check(o)
