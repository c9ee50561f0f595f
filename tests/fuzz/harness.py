"""The fuzz property, checked on one CLI invocation: exit code 0 (finite, non-negative outputs) or the invalid-input
code 3 with one line per problem; never a traceback, never a hang, never NaN/inf in an output table, nothing
written outside the run folder.

Each case runs in its own sandbox: ``in/`` holds the inputs, ``work/`` is the working directory; a run may write
only below ``work/runs/`` (the default root) and the ``--out`` folder the case names (also below ``work/``).
Everything else in the sandbox is compared before and after; hostile names point at ``<sandbox>/escape``.
Counts of every kind of failure go to ``COUNTS`` (``make fuzz`` prints them).
"""

from __future__ import annotations

import contextlib
import io
import math
import os
import re
import signal
import subprocess
import sys
import traceback
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from nksim.errors import EXIT_INPUT, EXIT_OK, EXIT_USAGE

#: cases, tracebacks, hangs, silent NaN/inf, files written outside the run folder, bad messages, other exit codes
COUNTS: Counter = Counter()
#: first few failures of each kind (kind, entry point, detail) for the report
FAILURES: list[tuple[str, str, str]] = []
KINDS = ("cases", "tracebacks", "hangs", "nan_inf", "outside", "bad_message", "bad_exit")

CASE_TIMEOUT_S = int(os.environ.get("NKSIM_FUZZ_CASE_TIMEOUT", "600"))  # generous: 2 shared cores
#: words that must never reach a user (pydantic, numpy, Python internals)
FOREIGN = ("Traceback", "Input should", "Value error", "np.float", "np.int", "pydantic", "Error:", "errors.pydantic")
OUTPUT_TABLES = (".csv", ".parquet", ".nc", ".json")
#: inf that a column documents as a value (docs/manufacturing.md: "inf for stable transfer"), not a silent failure
DOCUMENTED_INF = {("lots.csv", "car_half_life_d")}


class Hang(BaseException):
    """A case ran past its time limit."""


@dataclass
class Outcome:
    code: int | None
    out: str
    err: str
    tb: str | None = None
    outside: list[str] = field(default_factory=list)
    written: list[Path] = field(default_factory=list)


def _alarm(signum, frame):  # pragma: no cover - only on a hang
    raise Hang()


def _tree(root: Path) -> dict[str, tuple[int, int]]:
    out = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for n in filenames + dirnames:
            p = Path(dirpath) / n
            try:
                st = p.lstat()
            except OSError:
                continue
            out[str(p.relative_to(root))] = (st.st_size, st.st_mtime_ns) if n in filenames else (0, 0)
    return out


def sandbox(tmp: Path) -> tuple[Path, Path]:
    """(inputs folder, working folder) of a fresh sandbox under ``tmp``."""
    (tmp / "in").mkdir(parents=True, exist_ok=True)
    (tmp / "work").mkdir(parents=True, exist_ok=True)
    return tmp / "in", tmp / "work"


def invoke(args: list[str], box: Path, allowed: tuple[str, ...] = ("work/runs",), timeout: int | None = None,
           entry: str | None = None, inputs: tuple[Path, ...] = ()) -> Outcome:
    """``nksim ARGS`` in-process (``nksim.cli.main``) with cwd ``box/work``; records the outcome in COUNTS."""
    from nksim import cli

    real_app = cli.app
    work = box / "work"
    before = _tree(box)
    out, err = io.StringIO(), io.StringIO()
    code: int | None = None
    tb = None
    old_argv, old_cwd = sys.argv, os.getcwd()
    old_handler = signal.signal(signal.SIGALRM, _alarm)
    signal.alarm(timeout or CASE_TIMEOUT_S)
    try:
        os.chdir(work)
        sys.argv = ["nksim", *args]
        cli.app = _command()  # main() as users run it, without typer rebuilding the command tree each call
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                cli.main()
                code = 0
            except SystemExit as exc:
                code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    except Hang:
        code = None
    except BaseException:  # noqa: BLE001 - anything that escapes main() is a traceback for a user
        tb = traceback.format_exc()
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old_handler)
        sys.argv = old_argv
        cli.app = real_app
        os.chdir(old_cwd)
    after = _tree(box)
    allowed_dirs = tuple(a.rstrip("/") for a in allowed)
    changed = [p for p, s in after.items() if before.get(p) != s]
    outside = [p for p in changed if not any(p == a or p.startswith(a + "/") for a in allowed_dirs)
               and not any(a.startswith(p + "/") for a in allowed_dirs)]
    written = [box / p for p in changed if p not in outside]
    o = Outcome(code, out.getvalue(), err.getvalue(), tb, outside, written)
    record(o, entry or (args[0] if args else "nksim"), args, inputs)
    return o


_COMMAND = []


def _command():
    """The click command of ``nksim.cli.app``, built once (typer builds it on every call: 0.3 s)."""
    if not _COMMAND:
        import typer.main

        from nksim.cli import app

        _COMMAND.append(typer.main.get_command(app))
    return _COMMAND[0]


_LINE = re.compile(r"^error: (.+)$")


def message_problems(err: str, out: str | None = None) -> str | None:
    """Why an exit-3 message breaks the rules (None when it is fine): one "error:" line, or "N problems" and N
    indented lines; each naming ``field = value is not allowed; expected ...`` or the reader's own words."""
    lines = [ln for ln in err.splitlines() if ln.strip() and not ln.startswith("warning:")]
    if not lines and out is not None:  # --json: the problems as JSON on stdout, each with field, value, allowed
        import json

        try:
            doc = json.loads(out)
            problems = doc["problems"]
            if problems and all({"field", "value", "allowed"} <= set(p) for p in problems):
                return None
        except (ValueError, KeyError, TypeError):
            pass
    if not lines:
        return "no message"
    for word in FOREIGN:
        if word in err:
            return f"foreign wording {word!r}"
    first = _LINE.match(lines[0])
    if not first:
        return f"first line is not 'error: ...': {lines[0][:120]!r}"
    m = re.search(r"(\d+) problems$", first.group(1))
    if m:
        n = int(m.group(1))
        if len(lines) != n + 1:
            return f"{n} problems but {len(lines) - 1} lines"
    elif len(lines) != 1:
        return f"{len(lines)} lines for one problem"
    if any(len(ln) > 1500 for ln in lines):
        return "a line over 1500 characters"
    return None


def table_problems(paths: list[Path]) -> list[str]:
    """Output tables holding NaN/inf in numeric columns where they would be silent, or negative state values."""
    import pandas as pd

    bad = []
    for p in paths:
        if not p.is_file() or p.suffix not in OUTPUT_TABLES:
            continue
        try:
            if p.suffix == ".parquet":
                df = pd.read_parquet(p)
                num = df.select_dtypes("number")
                if num.size and not np.isfinite(num.to_numpy(float)[~np.isnan(num.to_numpy(float))]).all():
                    bad.append(f"{p.name}: inf in a numeric column")
            elif p.suffix == ".csv":
                df = pd.read_csv(p)
                num = df.select_dtypes("number").to_numpy(float)
                if np.isinf(num).any():
                    cols = [c for c in df.select_dtypes("number") if np.isinf(df[c].to_numpy(float)).any()
                            and (p.name, c) not in DOCUMENTED_INF]
                    if cols:
                        bad.append(f"{p.name}: inf in {cols[:5]}")
            elif p.suffix == ".json":
                text = p.read_text()
                hits = re.findall(r'"([^"]+)": (NaN|-?Infinity)\b', text)
                if hits or re.search(r"\b(NaN|-?Infinity)\b", text):
                    bad.append(f"{p.name}: NaN/Infinity in JSON {hits[:5]}")
            elif p.suffix == ".nc":
                bad += dataset_problems(p)
        except Exception as exc:  # noqa: BLE001 - an unreadable output table is a failure too
            bad.append(f"{p.name}: unreadable ({exc.__class__.__name__})")
    return bad


def dataset_problems(path: Path) -> list[str]:
    """Non-finite values in a trajectory file, or negative values of a state (counts, concentrations)."""
    import xarray as xr

    bad = []
    with xr.open_dataset(path, engine="h5netcdf") as ds:
        for name, var in ds.data_vars.items():
            if var.dtype.kind != "f":
                continue
            v = var.values
            if not np.isfinite(v).all():
                bad.append(f"{path.name}:{name} holds NaN/inf")
            elif (v < -1e-6 * max(1.0, float(np.abs(v).max()))).any() and not _signed(name):
                bad.append(f"{path.name}:{name} negative (min {float(v.min()):.3g})")
    return bad


def failed_patients(status):
    """Patients whose solver status says they failed: non-zero codes (``solver_status``) or text other than "ok"."""
    import pandas as pd

    if pd.api.types.is_numeric_dtype(status):
        return (status.fillna(-1) != 0)
    return ~status.astype(str).str.lower().isin(["ok", "0"])


def run_folder_problems(paths: list[Path]) -> list[str]:
    """The trajectories of every run folder among ``paths`` (chunked Zarr stores) checked like a result."""
    import pandas as pd

    from nksim.io.run_folder import open_trajectories

    folders = {p.parent.parent for p in paths if p.name.endswith(".zarr.zip") and p.parent.name == "trajectories"}
    bad = []
    for folder in sorted(folders):
        try:
            traj = open_trajectories(folder).load()
            pts = pd.read_parquet(folder / "patients.parquet")
        except Exception as exc:  # noqa: BLE001 - an unreadable run folder after exit 0 is a failure too
            bad.append(f"{folder.name}: unreadable ({exc.__class__.__name__})")
            continue
        bad += [f"{folder.name}: {b}" for b in result_problems(traj, pts)]
    return bad


def _signed(name: str) -> bool:
    """Variables that may be negative by definition (changes, log ratios, days relative to an event)."""
    return any(w in name for w in ("change", "log", "delta", "slope", "_rel", "time", "day"))


def flush_counts() -> None:
    """Write the counts so far to $NKSIM_FUZZ_COUNTS/<job or worker>.json (a long run can be read while it goes)."""
    path = os.environ.get("NKSIM_FUZZ_COUNTS")
    if path:
        import json

        worker = os.environ.get("NKSIM_FUZZ_JOB") or os.environ.get("PYTEST_XDIST_WORKER", "main")
        Path(path).mkdir(parents=True, exist_ok=True)
        tmp = Path(path) / f".{worker}.json.tmp"
        tmp.write_text(json.dumps({"counts": dict(COUNTS), "failures": FAILURES}, indent=1))
        os.replace(tmp, Path(path) / f"{worker}.json")


def record(o: Outcome, entry: str, args: list[str] | None = None, inputs: tuple[Path, ...] = ()) -> None:
    COUNTS["cases"] += 1
    COUNTS[f"cases:{entry}"] += 1
    if COUNTS["cases"] % 25 == 0:
        flush_counts()

    def fail(kind: str, detail: str) -> None:
        COUNTS[kind] += 1
        if sum(1 for k, e, _ in FAILURES if k == kind and e == entry) < 5:
            FAILURES.append((kind, entry, f"args: {args}\n" + detail[-3000:]))
            keep = os.environ.get("NKSIM_FUZZ_SAVE")
            if keep:  # the failing inputs, to reproduce (`make fuzz` keeps them under runs/fuzz-failures)
                import shutil

                Path(keep).mkdir(parents=True, exist_ok=True)
                for src in inputs:
                    if src.is_file():
                        shutil.copy(src, Path(keep) / f"{kind}-{COUNTS[kind]}-{src.name}")

    if o.tb is not None:
        fail("tracebacks", o.tb)
    elif o.code is None:
        fail("hangs", f"past {CASE_TIMEOUT_S} s")
    elif o.code == EXIT_INPUT:
        why = message_problems(o.err, o.out)
        if why:
            fail("bad_message", f"{why}\n{o.err[:2000]}")
    elif o.code not in (EXIT_OK, EXIT_USAGE):
        fail("bad_exit", f"exit {o.code}: {o.err[-2000:]}")
    if o.outside:
        fail("outside", ", ".join(o.outside[:10]))
    if o.code == EXIT_OK:
        nan = table_problems(o.written) + run_folder_problems(o.written)
        if nan:
            fail("nan_inf", "; ".join(nan[:5]))


def ok(o: Outcome) -> bool:
    """The fuzz property for one outcome."""
    if o.tb is not None or o.code is None or o.outside:
        return False
    if o.code == EXIT_INPUT:
        return message_problems(o.err, o.out) is None
    if o.code == EXIT_OK:
        return not table_problems(o.written) and not run_folder_problems(o.written)
    return o.code == EXIT_USAGE


def explain(o: Outcome) -> str:
    return (f"exit {o.code}\n--- traceback\n{o.tb}\n--- stderr\n{o.err[-3000:]}\n--- outside {o.outside}\n"
            f"--- tables {table_problems(o.written) if o.code == 0 else ''}")


def subprocess_invoke(args: list[str], box: Path, timeout: float) -> tuple[int | None, str]:
    """``python -m nksim.cli ARGS`` in a child process with a hard time limit (hang checks); (code or None, stderr)."""
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in (str(Path(__file__).parents[2] / "src"),
                                                                   os.environ.get("PYTHONPATH", "")) if p))
    try:
        p = subprocess.run([sys.executable, "-m", "nksim.cli", *args], cwd=box / "work", capture_output=True,
                           encoding="utf-8", errors="replace", timeout=timeout, env=env)
    except subprocess.TimeoutExpired:
        COUNTS["hangs"] += 1
        return None, ""
    return p.returncode, p.stderr


def finite(x: float) -> bool:
    return isinstance(x, (int, float)) and math.isfinite(x)


def simulate_case(path: Path, entry: str = "simulate", n_patients: int = 2) -> Outcome:
    """The Python API on a scenario file: ``nksim.simulate`` of a few patients; an NksimError is the exit-3 path
    (one line per problem), anything else a traceback; the trajectories must be finite and non-negative."""
    import nksim
    from nksim.errors import NksimError

    code, err, tb = 0, "", None
    bad: list[str] = []
    old_handler = signal.signal(signal.SIGALRM, _alarm)
    signal.alarm(CASE_TIMEOUT_S)
    try:
        res = nksim.simulate(nksim.load_scenario(str(path)), n_patients=n_patients)
        bad = result_problems(res.trajectories, res.patients)
    except Hang:
        code = None
    except NksimError as exc:
        code, err = exc.exit_code, f"error: {exc}\n"
    except BaseException:  # noqa: BLE001
        tb = traceback.format_exc()
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old_handler)
    o = Outcome(code, "", err, tb)
    record(o, entry, ["simulate", str(path)], (path,))
    if bad:
        COUNTS["nan_inf"] += 1
        FAILURES.append(("nan_inf", entry, f"{path.name}: " + "; ".join(bad[:5])))
    o.outside = []
    o.written = []
    o.out = "; ".join(bad)
    return o


def result_problems(traj, patients) -> list[str]:
    """Non-finite or negative trajectory values; inf in the patient table (NaN there means 'not reached')."""
    bad = []
    status = next((c for c in ("solver_status", "status") if c in patients.columns), None)
    if status is not None:  # patients reported as failed (with a message) may hold NaN: not silent
        failed = failed_patients(patients[status])
        if failed.any() and "patient" in traj.dims and traj.sizes["patient"] == len(patients):
            traj = traj.isel(patient=np.flatnonzero(~failed.to_numpy()))
            patients = patients[~failed.to_numpy()]
    for name, var in traj.data_vars.items():
        if var.dtype.kind != "f":
            continue
        v = var.values
        if not np.isfinite(v).all():
            bad.append(f"{name} holds NaN/inf")
        elif v.size and (v < -1e-6 * max(1.0, float(np.abs(v).max()))).any() and not _signed(name):
            bad.append(f"{name} negative (min {float(v.min()):.3g})")
    num = patients.select_dtypes("number").to_numpy(float)
    if np.isinf(num).any():
        cols = [c for c in patients.select_dtypes("number") if np.isinf(patients[c].to_numpy(float)).any()]
        bad.append(f"patient table inf in {cols[:5]}")
    return bad


@contextlib.contextmanager
def fresh_box():
    """A new sandbox per hypothesis example (function fixtures are not reset between examples)."""
    import tempfile

    with tempfile.TemporaryDirectory(prefix="nksim-fuzz-") as d:
        box = Path(d)
        sandbox(box)
        yield box


def allowed_for(args: list[str], box: Path) -> tuple[str, ...]:
    """The folders a command may write: runs/ under the working folder and the --out it names (inside the box)."""
    allowed = ["work/runs"]
    for flag in ("--out", "-o"):
        for i, a in enumerate(args[:-1]):
            if a == flag:  # an empty --out is the working folder itself (Path("") is ".")
                target = (box / "work" / args[i + 1]).resolve()
                try:
                    allowed.append(str(target.relative_to(box.resolve())))
                except ValueError:
                    pass
    if len(args) >= 2 and args[:2] == ["abm", "resume"] and args[2:]:
        try:
            allowed.append(str((box / "work" / args[2]).resolve().relative_to(box.resolve())))
        except ValueError:
            pass
    return tuple(allowed)
