"""`make fuzz`: the long fuzz run (>= 10,000 generated cases over every entry point) and the full parameter sweep,
split into jobs that a pool of worker processes runs side by side (two on a 2-core machine), then one line of
counts each. Exit status 1 when anything was found (the findings are listed; failing inputs are kept under
runs/fuzz-failures/ to reproduce; each job's output is in runs/fuzz-logs/).

    python tests/fuzz/run_fuzz.py [--scale 1.0] [--workers 2] [--no-sweep] [--no-properties]
                                  [--sweep-patients 2] [--sweep-joint 5] [--seed 20261204]

A property job is one hypothesis test with a share of its examples and its own ``--hypothesis-seed`` (so the
shards draw different cases and a shard reruns identically); a sweep job is one built-in scenario. Every case has
its own time limit (NKSIM_FUZZ_CASE_TIMEOUT, 600 s: a loaded machine is not a hang); a job that outlives its own
generous limit (a hang no alarm could interrupt) is killed and counted as a hang.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests"))
RUNS = ROOT / "runs"

#: property test -> (examples in the full run, examples per job, measured seconds per example on one core)
PROPERTIES = {
    "test_scenario_documents": (4000, 400, 0.15),
    "test_scenario_replace": (2000, 1000, 0.03),
    "test_trial_csv": (2000, 1000, 0.05),
    "test_fit_data": (600, 600, 0.03),
    "test_manufacturing_specs": (1000, 500, 0.05),
    "test_spatial_specs": (150, 50, 2.3),  # an ABM case is the dearest: a few hundred cover its spec and options
    "test_command_lines": (1000, 200, 0.5),
}
SWEEP_S_PER_CASE = 0.05


@dataclass
class Job:
    name: str
    cmd: list[str]
    env: dict[str, str]
    estimate_s: float
    result: Path


def property_jobs(scale: float, seed: int, counts_dir: Path) -> list[Job]:
    jobs = []
    for test, (full, per_job, s_each) in PROPERTIES.items():
        total = max(1, int(full * scale))
        shards = -(-total // per_job)
        for i in range(shards):
            n = total // shards + (1 if i < total % shards else 0)
            name = f"{test.removeprefix('test_')}-{i}"
            env = dict(os.environ, NKSIM_FUZZ_SCALE="1", NKSIM_FUZZ_EXAMPLES=str(n), NKSIM_FUZZ_COUNT="1",
                       NKSIM_FUZZ_COUNTS=str(counts_dir), NKSIM_FUZZ_JOB=name,
                       NKSIM_FUZZ_SAVE=str(RUNS / "fuzz-failures"))
            cmd = [sys.executable, "-m", "pytest", "-q", "-o", "addopts=", "-p", "no:cacheprovider",
                   "-p", "no:xdist", f"--hypothesis-seed={seed + 1000 * i + len(test)}",
                   f"tests/fuzz/test_fuzz_properties.py::{test}"]
            jobs.append(Job(name, cmd, env, 10 + n * s_each, counts_dir / f"{name}.json"))
    return jobs


def sweep_jobs(patients: int, joint: int, out_dir: Path) -> list[Job]:
    from fuzz.sweep import parameter_ends
    from nksim.spec.io import builtin_names

    n_params = len(parameter_ends())
    jobs = []
    for name in builtin_names():
        out = out_dir / f"sweep-{name}.json"
        env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT / "tests"), os.environ.get("PYTHONPATH", "")]))
        cmd = [sys.executable, "-m", "fuzz.sweep", "--scenario", name, "--patients", str(patients), "--joint",
               str(joint), "--json", str(out)]
        jobs.append(Job(f"sweep-{name}", cmd, env, 10 + (2 * n_params + joint) * SWEEP_S_PER_CASE, out))
    return jobs


def run_jobs(jobs: list[Job], workers: int, logs: Path) -> dict[str, str]:
    """Run every job (longest first, ``workers`` at a time); job name -> problem ('' when it ended normally)."""
    logs.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()

    def one(job: Job) -> tuple[str, str, float]:
        t = time.perf_counter()
        limit = 4 * job.estimate_s + 1800
        with open(logs / f"{job.name}.log", "w", encoding="utf-8") as log:
            try:
                p = subprocess.run(job.cmd, cwd=ROOT, env=job.env, stdout=log, stderr=subprocess.STDOUT,
                                   timeout=limit)
                problem = "" if job.result.exists() else f"exit {p.returncode} without results (see its log)"
            except subprocess.TimeoutExpired:
                problem = f"hang: killed after {limit:.0f} s"
        return job.name, problem, time.perf_counter() - t

    problems = {}
    with ThreadPoolExecutor(max_workers=workers) as pool:
        futures = [pool.submit(one, j) for j in sorted(jobs, key=lambda j: -j.estimate_s)]
        for i, fut in enumerate(as_completed(futures), 1):
            name, problem, took = fut.result()
            problems[name] = problem
            print(f"  [{i}/{len(jobs)} jobs, {time.perf_counter() - t0:.0f} s] {name}: {took:.0f} s"
                  + (f" -- {problem}" if problem else ""), flush=True)
    return problems


def repo_changes() -> set[str]:
    """Files git sees as new or changed outside runs/ (a fuzz run may write only below runs/ and temp folders)."""
    p = subprocess.run(["git", "status", "--porcelain", "--untracked-files=all"], cwd=ROOT, capture_output=True,
                       encoding="utf-8", check=False)
    return {ln[3:] for ln in p.stdout.splitlines() if not ln[3:].startswith("runs/")}


def main() -> int:
    ap = argparse.ArgumentParser(description="nksim long fuzz run and parameter sweep")
    ap.add_argument("--scale", type=float, default=1.0, help="examples relative to the full run (1.0: >= 10,000)")
    ap.add_argument("--workers", type=int, default=2, help="jobs run side by side (processes)")
    ap.add_argument("--no-sweep", action="store_true")
    ap.add_argument("--no-properties", action="store_true")
    ap.add_argument("--sweep-patients", type=int, default=2)
    ap.add_argument("--sweep-joint", type=int, default=5, help="random joint draws per scenario")
    ap.add_argument("--seed", type=int, default=20261204)
    args = ap.parse_args()
    t0 = time.perf_counter()
    counts_dir, sweep_dir = RUNS / "fuzz-counts", RUNS / "fuzz-sweep"
    for d in (counts_dir, sweep_dir):
        d.mkdir(parents=True, exist_ok=True)
        for f in d.glob("*.json"):
            f.unlink()
    jobs = [] if args.no_properties else property_jobs(args.scale, args.seed, counts_dir)
    jobs += [] if args.no_sweep else sweep_jobs(args.sweep_patients, args.sweep_joint, sweep_dir)
    before = repo_changes()
    load0 = os.getloadavg()
    print(f"fuzz: {len(jobs)} jobs on {args.workers} workers (load average {load0[0]:.1f}); logs in "
          f"{RUNS / 'fuzz-logs'}", flush=True)
    job_problems = run_jobs(jobs, args.workers, RUNS / "fuzz-logs")
    outside_repo = sorted(repo_changes() - before)
    wall = time.perf_counter() - t0

    from fuzz.harness import KINDS

    counts, failures = Counter(), []
    for f in counts_dir.glob("*.json"):
        d = json.loads(f.read_text(encoding="utf-8"))
        counts.update(d["counts"])
        failures += d["failures"]
    lost = {n: p for n, p in job_problems.items() if p}
    counts["hangs"] += sum(1 for p in lost.values() if p.startswith("hang"))
    counts["outside"] += len(outside_repo)
    found = sum(counts[k] for k in KINDS if k != "cases") + len(lost)
    print(f"\nfuzz: {len(jobs)} jobs in {wall:.0f} s on {args.workers} workers (load average 1/5/15 min at the end: "
          + "/".join(f"{x:.1f}" for x in os.getloadavg()) + ")")
    if not args.no_properties:
        groups = Counter()
        for k, v in counts.items():
            if k.startswith("cases:"):
                entry = k.split(":", 1)[1]
                groups[entry.split(" ")[0] if entry.startswith("cli:") else entry] += v
        print(f"generated cases: {counts['cases']}; tracebacks {counts['tracebacks']}, hangs {counts['hangs']}, "
              f"silent NaN/inf {counts['nan_inf']}, files written outside the run folder {counts['outside']}, "
              f"bad messages {counts['bad_message']}, other exit codes {counts['bad_exit']}")
        print("  cases by entry point: " + ", ".join(f"{k} {v}" for k, v in sorted(groups.items())))
    for kind, entry, detail in failures:
        print(f"  [{kind}] {entry}: {detail[:600]}")
    for path in outside_repo[:20]:
        print(f"  [outside] written in the repository: {path}")
    for name, problem in sorted(lost.items()):
        print(f"  [job] {name}: {problem}")
    sweep_found = 0
    if not args.no_sweep:
        from fuzz.sweep import FINDINGS, SweepResult, print_result

        res = SweepResult()
        for f in sorted(sweep_dir.glob("*.json")):
            d = json.loads(f.read_text(encoding="utf-8"))
            res.counts.update(d["counts"])
            res.findings += d["findings"]
        print_result(res, show=40)
        sweep_found = sum(res.counts[k] for k in FINDINGS)
    return 1 if found or sweep_found else 0


if __name__ == "__main__":
    raise SystemExit(main())
