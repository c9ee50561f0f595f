"""`make fuzz`: the long fuzz run (>= 10,000 generated cases over every entry point) and the full parameter sweep,
then one line of counts each. Exit status 1 when anything was found (the findings are listed; failing inputs are
kept under runs/fuzz-failures/ to reproduce).

    python tests/fuzz/run_fuzz.py [--scale 1.0] [--workers 2] [--no-sweep] [--sweep-patients 2] [--sweep-joint 5]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests"))


def run_properties(scale: float, workers: int) -> tuple[Counter, list]:
    counts_dir = ROOT / "runs" / "fuzz-counts"
    if counts_dir.exists():
        for f in counts_dir.glob("*.json"):
            f.unlink()
    env = dict(os.environ, NKSIM_FUZZ_SCALE=str(scale), NKSIM_FUZZ_COUNT="1", NKSIM_FUZZ_COUNTS=str(counts_dir),
               NKSIM_FUZZ_SAVE=str(ROOT / "runs" / "fuzz-failures"))
    cmd = [sys.executable, "-m", "pytest", "-q", "-o", "addopts=", "-p", "no:cacheprovider",
           "tests/fuzz/test_fuzz_properties.py"] + (["-n", str(workers)] if workers > 1 else [])
    subprocess.run(cmd, cwd=ROOT, env=env, check=False)
    counts, failures = Counter(), []
    for f in counts_dir.glob("*.json"):
        d = json.loads(f.read_text())
        counts.update(d["counts"])
        failures += d["failures"]
    return counts, failures


def main() -> int:
    ap = argparse.ArgumentParser(description="nksim long fuzz run and parameter sweep")
    ap.add_argument("--scale", type=float, default=1.0, help="examples relative to the full run (1.0: >= 10,000)")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--no-sweep", action="store_true")
    ap.add_argument("--sweep-patients", type=int, default=2)
    ap.add_argument("--sweep-joint", type=int, default=5)
    args = ap.parse_args()
    t0 = time.perf_counter()
    counts, failures = run_properties(args.scale, args.workers)
    from fuzz.harness import KINDS

    by_entry = sorted((k.split(":", 1)[1], v) for k, v in counts.items() if k.startswith("cases:"))
    found = sum(counts[k] for k in KINDS if k != "cases")
    print(f"\nfuzz: {counts['cases']} cases in {time.perf_counter() - t0:.0f} s; tracebacks {counts['tracebacks']}, "
          f"hangs {counts['hangs']}, silent NaN/inf {counts['nan_inf']}, files written outside the run folder "
          f"{counts['outside']}, bad messages {counts['bad_message']}, other exit codes {counts['bad_exit']}")
    groups = Counter()
    for entry, n in by_entry:
        groups[entry.split(" ")[0] if entry.startswith("cli:") else entry] += n
    print("  cases by entry point: " + ", ".join(f"{k} {v}" for k, v in sorted(groups.items())))
    for kind, entry, detail in failures:
        print(f"  [{kind}] {entry}: {detail[:600]}")
    sweep_found = 0
    if not args.no_sweep:
        from fuzz.sweep import print_result, sweep

        t1 = time.perf_counter()
        res = sweep(n_patients=args.sweep_patients, joint=args.sweep_joint, progress=True)
        print(f"(sweep took {time.perf_counter() - t1:.0f} s)")
        print_result(res)
        c = res.counts
        sweep_found = c["traceback"] + c["stopped_run_solver"] + c["silent_nan_inf_or_negative"] + c[
            "failure_without_message"] + c["refused_in_range"]
    return 1 if found or sweep_found else 0


if __name__ == "__main__":
    raise SystemExit(main())
