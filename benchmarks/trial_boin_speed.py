"""Benchmark: 10,000 simulated BOIN trials of 30 patients, vectorised engine vs a per-trial Python loop.

Run: .venv/bin/python benchmarks/trial_boin_speed.py [--trials 10000] [--loop-trials 1000]
The loop is timed on fewer trials and scaled (it is linear in the number of trials); both use the same outcome
model, so their selections agree trial by trial (checked here).
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from nksim.trial.base import run_trials
from nksim.trial.boin import BOIN
from nksim.trial.outcomes import FixedProbabilityModel
from nksim.trial.reference import boin_trial_loop


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--trials", type=int, default=10_000)
    ap.add_argument("--loop-trials", type=int, default=1_000)
    args = ap.parse_args()
    design = BOIN(n_doses=5, target=0.3, cohort_size=3, n_cohorts=10)
    model = FixedProbabilityModel([0.05, 0.15, 0.3, 0.45, 0.6], seed=1)
    run_trials(design, model, 100)  # warm caches (boundary tables)
    t0 = time.perf_counter()
    res = run_trials(design, model, args.trials)
    t_vec = time.perf_counter() - t0
    t0 = time.perf_counter()
    sel, n, y, _ = boin_trial_loop(design, model, args.loop_trials)
    t_loop = (time.perf_counter() - t0) * args.trials / args.loop_trials
    same = np.array_equal(sel, res.selected[: args.loop_trials]) and np.array_equal(n, res.n[: args.loop_trials])
    print(f"BOIN, {args.trials} trials x {design.max_n} patients")
    print(f"vectorised engine : {t_vec:8.3f} s")
    print(f"per-trial loop    : {t_loop:8.3f} s (timed on {args.loop_trials} trials, scaled)")
    print(f"speed-up          : {t_loop / t_vec:8.1f} x")
    print(f"identical selections and allocations on the first {args.loop_trials} trials: {same}")
    print(f"selection %: {np.bincount(res.selected, minlength=6)[1:] / args.trials * 100}")


if __name__ == "__main__":
    main()
