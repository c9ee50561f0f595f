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


class PlainDraws:
    """Outcomes from one numpy Generator, like R's runif(cohortsize) < p (no keyed CRN): the cheapest loop."""

    def __init__(self, p_tox, seed: int = 1, dlt_window_days: float = 28.0) -> None:
        self.p = np.asarray(p_tox)
        self.n_doses = self.p.size
        self.dlt_window_days = dlt_window_days
        self.rng = np.random.default_rng(seed)

    def outcomes(self, trial_ids, patient_ids, dose_levels):
        from nksim.trial.outcomes import TrialOutcomes

        dlt = (self.rng.random(len(dose_levels)) < self.p[dose_levels - 1]).astype(np.int8)
        return TrialOutcomes(dlt=dlt, dlt_day=np.full(dlt.size, np.nan), response=np.zeros_like(dlt))


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
    t0 = time.perf_counter()
    boin_trial_loop(design, PlainDraws([0.05, 0.15, 0.3, 0.45, 0.6]), args.loop_trials)
    t_plain = (time.perf_counter() - t0) * args.trials / args.loop_trials
    same = np.array_equal(sel, res.selected[: args.loop_trials]) and np.array_equal(n, res.n[: args.loop_trials])
    print(f"BOIN, {args.trials} trials x {design.max_n} patients")
    print(f"vectorised engine : {t_vec:8.3f} s")
    print(f"per-trial loop    : {t_loop:8.3f} s (timed on {args.loop_trials} trials, scaled)")
    print(f"per-trial loop, plain RNG draws (no keyed CRN): {t_plain:8.3f} s (scaled)")
    print(f"speed-up vs loop (same model)  : {t_loop / t_vec:8.1f} x")
    print(f"speed-up vs loop (plain draws) : {t_plain / t_vec:8.1f} x")
    print(f"identical selections and allocations on the first {args.loop_trials} trials: {same}")
    print(f"selection %: {np.bincount(res.selected, minlength=6)[1:] / args.trials * 100}")


if __name__ == "__main__":
    main()
