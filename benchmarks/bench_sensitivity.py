"""Sensitivity-analysis benchmark: a Sobol analysis of 20 parameters through the cohort engine.

1. Typical patient: Sobol with second-order indices, N = 1024, d = 20 -> N (2d + 2) = 43,008 samples, one typical
   patient each (variability off), outputs burden_d84 and peak_cells: wall time of the whole analysis (design,
   batched engine runs, SALib analysis), and the engine time per sample. Goal: < 60 s on the 2-core machine.
2. Cohorts: a smaller run with 100 virtual patients per sample (outputs orr, pfs_median) measures the time per
   sample; printed with the extrapolated time of Sobol designs of 20 parameters (first order + total) at N = 64,
   128, 1024. Goal: < 10 min for the design this machine is meant to run.
3. The alternative without batching: one ``nksim.simulate`` call per sample (typical patient), per-sample time.

No assertion on time.

    python benchmarks/bench_sensitivity.py            # full (about 2 minutes)
    python benchmarks/bench_sensitivity.py --small    # N = 128 for part 1 (seconds)
"""

from __future__ import annotations

import argparse
import time

import numpy as np

import nksim
from nksim.sensitivity import run_sensitivity
from nksim.sensitivity.analysis import n_rows
from nksim.sensitivity.evaluate import prepare_scenario

SCENARIO = "hcc-gpc3-car-nk-il15"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--small", action="store_true", help="N = 128 in part 1")
    ap.add_argument("--cohort-n", type=int, default=2, help="Sobol N of the measured cohort run (default 2)")
    a = ap.parse_args()
    n = 128 if a.small else 1024

    # warm-up: compile / load the engine once
    run_sensitivity(SCENARIO, outputs="peak_cells", n=2, seed=0, plots=False)

    t0 = time.perf_counter()
    r = run_sensitivity(SCENARIO, outputs="burden_d84,peak_cells", method="sobol", n=n, second_order=True, seed=1,
                        plots=False)
    wall = time.perf_counter() - t0
    d = len(r.provenance["params"])
    print(f"[1] typical patient: Sobol (second order) d = {d}, N = {n}: {r.provenance['samples']:,} samples in "
          f"{wall:.1f} s (engine {r.timings['evaluate_s']:.1f} s = {r.timings['per_sample_ms']:.2f} ms/sample; "
          f"setup {r.timings['setup_s']:.1f} s; analysis {wall - r.timings['evaluate_s'] - r.timings['setup_s']:.1f} "
          f"s); engine path '{r.provenance['engine_path']}'")
    print(r.summary())

    t0 = time.perf_counter()
    rc = run_sensitivity(SCENARIO, outputs="orr,pfs_median", method="sobol", n=a.cohort_n, patients=100, seed=1,
                         plots=False)
    wall_c = time.perf_counter() - t0
    per = rc.timings["evaluate_s"] / (rc.provenance["samples"] + 1 + 2 * d)
    print(f"[2] 100-patient cohorts: {rc.provenance['samples']} samples (+ {1 + 2 * d} tornado) in {wall_c:.1f} s: "
          f"{per:.2f} s/sample ({1e3 * per / 100:.2f} ms/patient); path '{rc.provenance['engine_path']}'")
    for nn in (64, 128, 1024):
        rows = n_rows("sobol", nn, d) + 1 + 2 * d
        print(f"    estimate, Sobol d = {d}, N = {nn}: {rows:,} samples x 100 patients = {rows * per / 60:.1f} min")

    sc = prepare_scenario(nksim.load_scenario(SCENARIO), 1, 1)
    space_names = [p["name"] for p in r.provenance["params"]]
    from nksim.calibrate.space import ParameterSpace

    space = ParameterSpace(space_names)
    theta = space.from_unit(np.random.default_rng(0).random((40, d)))
    t0 = time.perf_counter()
    for th in theta:
        nksim.simulate(space.apply(sc, th), n_patients=1, seed=1)
    per_single = (time.perf_counter() - t0) / len(theta)
    print(f"[3] unbatched (one nksim.simulate per sample, typical patient): {1e3 * per_single:.1f} ms/sample -> "
          f"{r.provenance['samples'] * per_single / 60:.1f} min for the {r.provenance['samples']:,} samples of [1]")


if __name__ == "__main__":
    main()
