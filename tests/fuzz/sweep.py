"""Parameter-range sweep (issue 16 item 4): every registry parameter at both ends of its plausible range, one at a
time and jointly at random, on every built-in scenario with a few patients.

Each case must end with every patient either simulated (finite, non-negative trajectories) or reported as failed
in the patient table (a ``status`` column other than "ok", with a message); a solver failure that stops the whole
run, a silent NaN/inf, or a traceback is a finding. Findings are collected, not fixed here: the model and its
parameter values belong to the science lead.

``python -m fuzz.sweep [--patients N] [--joint K] [--scenario NAME ...] [--param NAME ...]`` (from tests/) prints
the counts and the findings.
"""

from __future__ import annotations

import argparse
import math
import time
import traceback
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from fuzz.harness import failed_patients, result_problems

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
    try:
        res = nksim.simulate(variant, n_patients=n_patients, seed=seed)
    except NksimError as exc:
        text = str(exc)
        kind = "stopped_run_solver" if "solvable configuration" in text else "stopped_run_error"
        result.add(kind, **label, message=text[:400])
        return
    except Exception:  # noqa: BLE001 - a traceback is a finding
        result.add("traceback", **label, message=traceback.format_exc()[-1500:])
        return
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


#: parameters whose values must increase along the list (grade thresholds): a joint draw keeps their order, or
#: nearly every draw would be refused by the model's own cross-parameter rule
ORDERED = [["clinical_crs_hypotension_fluids_pg_ml", "clinical_crs_hypotension_one_vasopressor_pg_ml",
            "clinical_crs_hypotension_multi_vasopressor_pg_ml"],
           ["clinical_crs_hypoxia_low_flow_pg_ml", "clinical_crs_hypoxia_high_flow_pg_ml",
            "clinical_crs_hypoxia_positive_pressure_pg_ml"],
           ["clinical_icans_onset_pg_ml", "clinical_icans_ice_zero_pg_ml", "clinical_icans_unarousable_pg_ml"],
           ["clinical_offtumor_grade1", "clinical_offtumor_grade2", "clinical_offtumor_grade3",
            "clinical_offtumor_grade4"]]


def _ordered(changes: dict[str, float]) -> dict[str, float]:
    for family in ORDERED:
        names = [n for n in family if n in changes]
        for n, v in zip(names, sorted(changes[n] for n in names)):
            changes[n] = v
    return changes


def sweep(scenarios: list[str] | None = None, params: list[str] | None = None, n_patients: int = 2,
          joint: int = 5, seed: int = 20261204, progress: bool = False, single: bool = True) -> SweepResult:
    """One parameter at a time at each end, then ``joint`` random joint draws per scenario."""
    from nksim.spec.io import builtin_names, load_scenario

    result = SweepResult(echo=progress)
    ends = [e for e in parameter_ends() if params is None or e[0] in params]
    rng = np.random.default_rng(seed)
    t0 = time.perf_counter()
    for name in scenarios or builtin_names():
        sc = load_scenario(name)
        for p, lo, hi in ends if single else []:
            for end, value in (("low", lo), ("high", hi)):
                run_case(sc, {p: value}, n_patients, seed, result, {"scenario": name, "param": p, "end": end,
                                                                     "value": value})
        for j in range(joint):
            # each parameter at its low end, its high end or log-uniform inside (uniform when the range holds 0)
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
            run_case(sc, _ordered(changes), n_patients, seed + j, result, {"scenario": name, "joint_draw": j,
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
    args = ap.parse_args(argv)
    res = sweep(args.scenario, args.param, args.patients, args.joint, progress=True, single=not args.joint_only)
    print_result(res)
    return 0


def print_result(res: SweepResult) -> None:
    c = res.counts
    print(f"parameter sweep: {c['cases']} cases, {c['patients']} patients; tracebacks {c['traceback']}, "
          f"stopped runs (solver) {c['stopped_run_solver']}, stopped runs (other) {c['stopped_run_error']}, "
          f"patients failed (reported) {c['patients_failed']}, failures without message "
          f"{c['failure_without_message']}, silent NaN/inf/negative {c['silent_nan_inf_or_negative']}, "
          f"refused in range {c['refused_in_range']}")
    shown: Counter = Counter()
    for f in res.findings:
        if shown[f["kind"]] < 15:
            shown[f["kind"]] += 1
            print("  " + ", ".join(f"{k}={v}" for k, v in f.items() if k != "message") + f"\n      {f.get('message', '')}")


if __name__ == "__main__":
    raise SystemExit(main())
