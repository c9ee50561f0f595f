"""Mechanistic virtual phase I throughput (issue 13's goal: >= 1,000 trials/s on hcc-post-lt-allo-nk): BOIN, 5 dose
levels, cohorts of 3 up to 30 patients, each trial patient a virtual patient simulated by the cohort engine, in one
process:

- without a pool (every trial patient a new virtual patient), timed on ``--trials-new`` trials;
- with ``pool=P`` (P virtual patients simulated once per dose, trial patients drawn from them; see
  ``nksim.trial.mechanistic``), ``--trials`` trials, the pool's simulation counted in the time.

    python benchmarks/trial_mechanistic_speed.py                     # 20,000 pooled trials, pool 2,000; 20 new
    python benchmarks/trial_mechanistic_speed.py --trials 2000 --pool 500 --trials-new 5

Prints trials per second and the ratio; no assertion.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

import nksim
from nksim.trial.designs import make_design
from nksim.trial.mechanistic import MechanisticOutcomeModel
from nksim.trial.simulate import operating_characteristics


def run(sc, design, n_trials: int, pool: int | None, horizon: float) -> tuple[float, float, object]:
    """(wall seconds, CPU seconds, operating characteristics) of ``n_trials`` trials, the pool included."""
    t, c = time.perf_counter(), time.process_time()
    model = MechanisticOutcomeModel(sc, max_patients=int(design.max_n), horizon_d=horizon, pool=pool)
    rates = model.population_rates(20) if pool is not None else None
    p_tox = rates["p_dlt"].to_numpy() if rates is not None else np.full(model.n_doses, np.nan)
    oc = operating_characteristics(design, p_tox, n_trials=n_trials, seed=sc.simulation.seed, model=model)
    return time.perf_counter() - t, time.process_time() - c, oc


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--scenario", default="hcc-post-lt-allo-nk")
    ap.add_argument("--trials", type=int, default=20_000, help="trials with a pool")
    ap.add_argument("--pool", type=int, default=2_000)
    ap.add_argument("--trials-new", type=int, default=20, help="trials without a pool (0: skip)")
    ap.add_argument("--horizon", type=float, default=112.0, help="days simulated per patient (nksim trial simulate)")
    args = ap.parse_args()
    sc = nksim.load_scenario(args.scenario)
    n_doses = len(sc.regimen.dose_levels)
    design = make_design("boin", n_doses=n_doses, target=0.3, cohort_size=3, n_cohorts=10)
    nksim.simulate(sc, n_patients=4, outputs="summary")  # compile outside the timings
    print(f"{args.scenario}: BOIN, {n_doses} dose levels, up to {design.max_n} patients per trial, "
          f"{args.horizon:g} days per patient")
    wall, cpu, oc = run(sc, design, args.trials, args.pool, args.horizon)
    pooled = args.trials / wall
    print(f"  pool of {args.pool:,} x {n_doses} doses, {args.trials:,} trials: {wall:.2f} s wall, {cpu:.2f} s CPU "
          f"({pooled:,.0f} trials/s wall, {args.trials / cpu:,.0f} per CPU second); selection % "
          f"{np.round(oc.selection_pct, 1).tolist()}")
    if args.trials_new:
        wall, cpu, _ = run(sc, design, args.trials_new, None, args.horizon)
        new = args.trials_new / wall
        print(f"  every patient new, {args.trials_new} trials: {wall:.2f} s wall, {cpu:.2f} s CPU "
              f"({new:,.1f} trials/s wall, {args.trials_new / cpu:,.1f} per CPU second)")
        print(f"  pool vs every patient new: {pooled / new:,.0f}x")


if __name__ == "__main__":
    main()
