"""Parameter-range sweep (issue 16 item 4): every registry parameter at both ends of its plausible range, one at a
time and jointly at random, on every built-in scenario with a few patients.

Each case must end with every patient either simulated (finite, non-negative trajectories) or reported as failed
in the patient table (a ``status`` column other than "ok", with a message); a solver failure that stops the whole
run, a silent NaN/inf, or a traceback is a finding. Findings are collected, not fixed here: the model and its
parameter values belong to the science lead.

``python -m fuzz.sweep [--patients N] [--joint K] [--scenario NAME ...] [--param NAME ...] [--json OUT]`` (from
tests/) prints the counts and the findings (``--json``: also writes them to OUT; `make fuzz` runs one scenario per
job, two jobs at a time). Each case has a time limit (NKSIM_FUZZ_CASE_TIMEOUT, as the property tests): a case past
it is counted as a hang.
"""

from __future__ import annotations

import argparse
import json
import math
import signal
import time
import zlib
import traceback
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from fuzz.harness import CASE_TIMEOUT_S, FOREIGN, Hang, _alarm, failed_patients, result_problems
from nksim.errors import EXIT_INPUT

STATUS_COLUMNS = ("solver_status", "status")


@dataclass
class SweepResult:
    counts: Counter = field(default_factory=Counter)
    findings: list[dict[str, Any]] = field(default_factory=list)

    echo: bool = False

    def add(self, kind: str, **detail: Any) -> None:
        self.counts[kind] += 1
        self.findings.append({"kind": kind, **detail})
        if self.echo:
            print(f"  [{kind}] " + ", ".join(f"{k}={v}" for k, v in detail.items()), flush=True)


def parameter_ends() -> list[tuple[str, float, float]]:
    """(name, low, high) of every registry parameter with a plausible range."""
    from nksim.registry import load_registry

    out = []
    for row in load_registry().table(None):
        lo, hi = row.get("low"), row.get("high")
        if lo is None or hi is None or not (math.isfinite(lo) and math.isfinite(hi)):
            continue
        out.append((row["name"], float(lo), float(hi)))
    return out


def run_case(scenario, changes: dict[str, float], n_patients: int, seed: int, result: SweepResult,
             label: dict[str, Any]) -> None:
    """Simulate one variant; file what goes wrong under ``result``."""
    import nksim
    from nksim.errors import NksimError

    result.counts["cases"] += 1
    try:
        variant = scenario.replace({f"parameters.{k}": v for k, v in changes.items()})
    except NksimError as exc:
        result.add("refused_in_range", **label, message=str(exc)[:400])
        return
    old_handler = signal.signal(signal.SIGALRM, _alarm)
    signal.alarm(CASE_TIMEOUT_S)
    try:
        res = nksim.simulate(variant, n_patients=n_patients, seed=seed)
    except Hang:
        result.add("hang", **label, message=f"past {CASE_TIMEOUT_S} s")
        return
    except NksimError as exc:
        text = str(exc)
        if "joint_draw" in label and exc.exit_code == EXIT_INPUT and not any(w in text for w in FOREIGN):
            # a joint draw may combine ends into an impossible study: a clear refusal is the property
            result.add("joint_refused", **label, message=text[:400])
            return
        kind = "stopped_run_solver" if "solvable configuration" in text else "stopped_run_error"
        result.add(kind, **label, message=text[:400])
        return
    except Exception:  # noqa: BLE001 - a traceback is a finding
        result.add("traceback", **label, message=traceback.format_exc()[-1500:])
        return
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old_handler)
    pts = res.patients
    status = next((c for c in STATUS_COLUMNS if c in pts.columns), None)
    failed = pts.index[failed_patients(pts[status]).to_numpy()] if status else pts.index[:0]
    if len(failed):
        msg_col = next((c for c in ("solver_message", "status_message", "message") if c in pts.columns), None)
        result.counts["patients_failed"] += len(failed)
        result.add("patient_failed", **label, patients=[int(i) for i in failed],
                   message=str(pts.loc[failed[0], msg_col]) if msg_col else f"{status}={pts.loc[failed[0], status]}")
        if msg_col is None:
            result.add("failure_without_message", **label)
    ok = ~pts.index.isin(failed)
    problems = result_problems(res.trajectories.isel(patient=np.flatnonzero(ok)), pts[ok]) if ok.any() else []
    if problems:
        result.add("silent_nan_inf_or_negative", **label, message="; ".join(problems[:5]))
    result.counts["patients"] += len(pts)


def sweep(scenarios: list[str] | None = None, params: list[str] | None = None, n_patients: int = 2,
          joint: int = 5, seed: int = 20261204, progress: bool = False, single: bool = True) -> SweepResult:
    """One parameter at a time at each end, then ``joint`` random joint draws per scenario."""
    from nksim.spec.io import builtin_names, load_scenario

    result = SweepResult(echo=progress)
    ends = [e for e in parameter_ends() if params is None or e[0] in params]
    t0 = time.perf_counter()
    for name in scenarios or builtin_names():
        sc = load_scenario(name)
        rng = np.random.default_rng([seed, zlib.crc32(name.encode())])  # per scenario: the same draws in any job
        for p, lo, hi in ends if single else []:
            for end, value in (("low", lo), ("high", hi)):
                run_case(sc, {p: value}, n_patients, seed, result, {"scenario": name, "param": p, "end": end,
                                                                     "value": value})
        for j in range(joint):
            # each parameter at its low end, its high end or log-uniform inside (uniform when the range holds 0);
            # grade thresholds may come out of order (they are cumulative: nksim.grade_order, a warning)
            changes = {}
            for p, lo, hi in ends:
                u = rng.random()
                if u < 1 / 3:
                    changes[p] = lo
                elif u < 2 / 3:
                    changes[p] = hi
                else:
                    changes[p] = float(np.exp(rng.uniform(np.log(lo), np.log(hi)))) if lo > 0 else float(
                        rng.uniform(lo, hi))
            run_case(sc, changes, n_patients, seed + j, result, {"scenario": name, "joint_draw": j,
                                                                  "seed": seed + j})
        if progress:
            print(f"  {name}: {result.counts['cases']} cases, {time.perf_counter() - t0:.0f} s; "
                  + ", ".join(f"{k} {v}" for k, v in sorted(result.counts.items())), flush=True)
    return result


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--patients", type=int, default=2)
    ap.add_argument("--joint", type=int, default=5)
    ap.add_argument("--scenario", action="append")
    ap.add_argument("--param", action="append")
    ap.add_argument("--joint-only", action="store_true", help="only the random joint draws")
    ap.add_argument("--json", help="also write the counts and findings to this JSON file")
    args = ap.parse_args(argv)
    res = sweep(args.scenario, args.param, args.patients, args.joint, progress=True, single=not args.joint_only)
    print_result(res)
    if args.json:
        tmp = f"{args.json}.tmp"
        with open(tmp, "w", encoding="utf-8") as f:
            json.dump({"counts": dict(res.counts), "findings": res.findings}, f, indent=1, default=str)
        import os

        os.replace(tmp, args.json)
    return 0


#: sweep findings that fail `make fuzz` (a patient's solver failure reported in the table is not one)
FINDINGS = ("traceback", "hang", "stopped_run_solver", "stopped_run_error", "silent_nan_inf_or_negative",
            "failure_without_message", "refused_in_range")


def print_result(res: SweepResult, show: int = 15) -> None:
    c = res.counts
    print(f"parameter sweep: {c['cases']} cases, {c['patients']} patients; tracebacks {c['traceback']}, "
          f"hangs {c['hang']}, stopped runs (solver) {c['stopped_run_solver']}, stopped runs (other) "
          f"{c['stopped_run_error']}, silent NaN/inf/negative {c['silent_nan_inf_or_negative']}, refused in range "
          f"{c['refused_in_range']}, failures without message {c['failure_without_message']}; joint draws refused "
          f"with a clear message {c['joint_refused']}; solver failures reported per patient: {c['patients_failed']} "
          f"patients in {c['patient_failed']} cases")
    shown: Counter = Counter()
    for f in res.findings:
        if shown[f["kind"]] < show:
            shown[f["kind"]] += 1
            print("  " + ", ".join(f"{k}={v}" for k, v in f.items() if k != "message") + f"\n      {f.get('message', '')}")


if __name__ == "__main__":
    raise SystemExit(main())
