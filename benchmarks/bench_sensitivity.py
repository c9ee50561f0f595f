"""Sensitivity-analysis benchmark: a Sobol analysis of 20 parameters through the cohort engine.

1. Typical patient: Sobol with second-order indices, N = 1024, d = 20 -> N (2d + 2) = 43,008 samples, one typical
   patient each (variability off), outputs burden_d84 and peak_cells: wall time of the whole analysis (design,
   batched engine runs, SALib analysis), and the engine time per sample. Goal: < 60 s on the 2-core machine.
2. Cohorts: a Sobol run of the same 20 parameters with 100 virtual patients per sample (outputs orr, pfs_median;
   common random numbers: the same patients and readout draws in every sample) at a small N (``--cohort-n``,
   default 8: 8 x 22 + 41 = 217 samples), timed end to end; in the same process, one engine batch of 10 samples
   (1,000 patients) is timed with the engine inputs and tracked solve alone, the floor batching can reach. Printed with the time
   per sample and the extrapolated wall time of N = 1024 designs (first order + total: 22,528 samples; with second
   order: 43,008 samples) and the largest N that fits in 10 minutes. Goal: < 10 min for N = 1024.
3. The alternative without batching: one ``nksim.simulate`` call per sample (typical patient), per-sample time.

No assertion on time; the machine is shared, so compare figures of one run (ratios); CPU seconds (all threads of
this process) move less with the machine's load than wall seconds and are printed too, with the load average.

    python benchmarks/bench_sensitivity.py            # full (about 4 minutes on a quiet machine)
    python benchmarks/bench_sensitivity.py --small    # N = 128 in part 1, N = 2 in part 2
    python benchmarks/bench_sensitivity.py --parts 2 --cohort-n 16    # the cohort run alone, 393 samples
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np

import nksim
from nksim.sensitivity import run_sensitivity
from nksim.sensitivity.analysis import n_rows
from nksim.sensitivity.evaluate import prepare_scenario

SCENARIO = "hcc-gpc3-car-nk-il15"
BUDGET_S = 600.0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--small", action="store_true", help="N = 128 in part 1, N = 2 in part 2")
    ap.add_argument("--cohort-n", type=int, default=None, help="Sobol N of the measured cohort run (default 8)")
    ap.add_argument("--parts", default="1,2,3", help="which parts to run (default 1,2,3)")
    a = ap.parse_args()
    n = 128 if a.small else 1024
    cohort_n = a.cohort_n or (2 if a.small else 8)
    parts = {int(p) for p in a.parts.split(",")}
    print(f"load average {os.getloadavg()[0]:.2f} (2 cores)")

    # warm-up: compile / load the engine once
    run_sensitivity(SCENARIO, outputs="peak_cells", n=2, seed=0, plots=False)

    names = None
    if 1 in parts:
        t0 = time.perf_counter()
        r = run_sensitivity(SCENARIO, outputs="burden_d84,peak_cells", method="sobol", n=n, second_order=True, seed=1,
                            plots=False)
        wall = time.perf_counter() - t0
        names = [p["name"] for p in r.provenance["params"]]
        print(f"[1] typical patient: Sobol (second order) d = {len(names)}, N = {n}: {r.provenance['samples']:,} "
              f"samples in {wall:.1f} s (engine {r.timings['evaluate_s']:.1f} s = {r.timings['per_sample_ms']:.2f} "
              f"ms/sample; setup {r.timings['setup_s']:.1f} s; analysis "
              f"{wall - r.timings['evaluate_s'] - r.timings['setup_s']:.1f} s); engine path "
              f"'{r.provenance['engine_path']}'")
        print(r.summary())

    if 2 in parts:
        names = _cohort(cohort_n)
    if 3 in parts:
        _unbatched(names, r.provenance["samples"] if 1 in parts else n_rows("sobol", n, 20, True))


def _cohort(cohort_n: int) -> list[str]:
    """Part 2: the cohort run timed end to end, one batch split into solver and the rest, N = 1024 estimates."""
    t0, c0 = time.perf_counter(), time.process_time()
    rc = run_sensitivity(SCENARIO, outputs="orr,pfs_median", method="sobol", n=cohort_n, patients=100, seed=1,
                         plots=False)
    wall_c, cpu_c = time.perf_counter() - t0, time.process_time() - c0
    d = len(rc.provenance["params"])
    total = rc.provenance["samples"] + 1 + 2 * d
    per = rc.timings["evaluate_s"] / total
    fixed = wall_c - rc.timings["evaluate_s"]
    print(f"[2] 100-patient cohorts: Sobol d = {d}, N = {cohort_n}: {rc.provenance['samples']} samples (+ {1 + 2 * d} "
          f"tornado) in {wall_c:.1f} s (setup and analysis {fixed:.1f} s): {1e3 * per:.1f} ms/sample "
          f"({1e3 * per / 100:.3f} ms/patient); CPU {1e3 * cpu_c / total:.1f} ms/sample (setup included); "
          f"path '{rc.provenance['engine_path']}'; load average now {os.getloadavg()[0]:.2f}")
    print(rc.summary())
    whole, floor = _batch_split(rc)
    print(f"    one batch of 10 samples x 100 patients alone (fastest of 3, no overlap): {whole:.1f} ms/sample, of "
          f"which engine inputs and the tracked solve {floor:.1f} ms ({100 * floor / whole:.0f}%; the rest: patient "
          f"draws, tracker plans and clinical readouts; in the run above the next batch's solve overlaps them)")
    for label, so in (("first order + total", False), ("with second order", True)):
        rows = n_rows("sobol", 1024, d, so) + 1 + 2 * d
        fit = max((2 ** k for k in range(1, 11) if (n_rows("sobol", 2 ** k, d, so) + 1 + 2 * d) * per + fixed
                   <= BUDGET_S), default=0)
        print(f"    estimate, N = 1024 {label}: {rows:,} samples x 100 patients = {(rows * per + fixed) / 60:.0f} min "
              f"(inputs and solve alone {rows * floor / 6e4:.0f} min at the batch's rate); largest N within 10 min: "
              f"{fit or 'none'}")
    return [p["name"] for p in rc.provenance["params"]]


def _unbatched(names: list[str] | None, samples: int) -> None:
    """Part 3: one ``nksim.simulate`` call per sample (typical patient)."""
    from nksim.calibrate.space import ParameterSpace
    from nksim.sensitivity.defaults import default_param_names

    sc = prepare_scenario(nksim.load_scenario(SCENARIO), 1, 1)
    space = ParameterSpace(names or default_param_names(sc)[:20])
    theta = space.from_unit(np.random.default_rng(0).random((40, space.dim)))
    t0 = time.perf_counter()
    for th in theta:
        nksim.simulate(space.apply(sc, th), n_patients=1, seed=1)
    per_single = (time.perf_counter() - t0) / len(theta)
    print(f"[3] unbatched (one nksim.simulate per sample, typical patient): {1e3 * per_single:.1f} ms/sample -> "
          f"{samples * per_single / 60:.1f} min for {samples:,} samples")


def _batch_split(rc, repeats: int = 3) -> tuple[float, float]:
    """(whole evaluation, engine inputs and the tracked compiled solve alone) in ms per sample on one batch of 10
    samples x 100 patients of the cohort run, each the fastest of ``repeats`` alternating runs (the machine is
    shared)."""
    from nksim.calibrate.space import ParameterSpace
    from nksim.engine import solve_summaries, track_plan
    from nksim.sensitivity.evaluate import Evaluator
    from nksim.sensitivity.outputs import parse_outputs

    space = ParameterSpace([p["name"] for p in rc.provenance["params"]])
    ev = Evaluator(nksim.load_scenario(SCENARIO), space, parse_outputs("orr,pfs_median"), 100, 1)
    theta = rc.theta[:10]
    patients = ev.batch_patients(theta)
    ids = np.tile(ev.ids, len(theta))
    plan = track_plan(ev.base, patients, float(ev.base.simulation.horizon_d), draw_ids=ids,
                      settings=ev.settings).events_only()  # orr and pfs_median: event times only
    whole, solver = [], []
    for _ in range(repeats):
        t0 = time.perf_counter()
        ev.evaluate(theta)
        whole.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        solve_summaries(ev.base, patients, None, "compiled", lambda _: None, plan=plan)
        solver.append(time.perf_counter() - t0)
    return 1e3 * min(whole) / len(theta), 1e3 * min(solver) / len(theta)


if __name__ == "__main__":
    main()
