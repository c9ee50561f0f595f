"""The kernel alone on the summary path: the daily save grid (what the readouts read before the kernel-tracked
summaries) against the readout days only, and the readout days with the trackers (what ``outputs="summary"`` and the
default patient table run now), on the same patients in one process, one thread, as many patients per call
(``nksim.engine.readout_batch``) into reused buffers as ``nksim.engine.solve_summaries`` does; and the last of these
with the transit chains taking the plain tableau's steps (``exact_chains=False``: the kernel before the Lawson steps
of nksim.kinetics.integrate.chains).
Prints CPU microseconds and step attempts per patient-year; no assertion.

    python benchmarks/bench_tracked.py                              # hcc-post-lt-allo-nk, 2048 patients
    python benchmarks/bench_tracked.py --scenario hcc-gpc3-car-nk-il15 -n 1024 --repeat 3
"""

from __future__ import annotations

import argparse
import time

import numpy as np

import nksim
from nksim.clinical.resolved import resolve
from nksim.engine import readout_batch, readout_days, track_plan
from nksim.kinetics import solver
from nksim.kinetics.inputs import build_inputs
from nksim.population.sampling import sample_patients


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--scenario", default="hcc-post-lt-allo-nk")
    ap.add_argument("-n", type=int, default=2048)
    ap.add_argument("--repeat", type=int, default=3, help="fastest of N runs per variant")
    args = ap.parse_args()
    solver.set_workers(1)
    sc = nksim.load_scenario(args.scenario)
    pts = sample_patients(sc, np.arange(args.n))
    inp = build_inputs(sc, pts)
    days = readout_days(resolve(sc).settings, inp.t_save)
    plan = track_plan(sc, pts, inp.t_end)
    years = args.n * (inp.t_end - inp.t0) / 365.0

    def run(t_save: np.ndarray, tracked: bool, exact: bool = True) -> tuple[float, float, float]:
        batch = readout_batch(t_save.size)
        bufs = solver.output_buffers(min(args.n, batch), inp.n_lesions, inp.n_classes, t_save.size)
        out = plan.initial_outputs()
        steps = rejected = 0
        c = time.process_time()
        for s in range(0, args.n, batch):
            r = slice(s, min(args.n, s + batch))
            track = plan.track_arrays(inp.params, r, inp.n_lesions, inp.n_classes, out) if tracked else None
            _, _, st = solver.solve_batch(inp.y0[r], inp.params[r], inp.n_lesions, inp.n_classes, inp.ev_t[r],
                                          inp.ev_k[r], inp.ev_a[r], inp.ev_b[r], inp.t0, inp.t_end, t_save, 1e-6,
                                          inp.atol, 500_000, out=bufs, track=track, exact_chains=exact)
            steps += int(st[:, 1].sum())
            rejected += int(st[:, 2].sum())
        return (time.process_time() - c) / years * 1e6, steps / years, rejected / years

    run(days, True)  # compile outside the timing
    run(days[:2], False, False)
    print(f"{args.scenario}: {args.n} patients, {inp.t_end - inp.t0:g} d each, {len(plan.names)} tracker rows, "
          f"{days.size} readout days; CPU us per patient-year, one thread, fastest of {args.repeat}")
    best: dict[str, float] = {}
    steps: dict[str, tuple[float, float]] = {}
    variants = (("daily grid", inp.t_save, False, True), ("readout days only", days, False, True),
                ("readout days + trackers (now)", days, True, True),
                ("the same, chains explicit (before)", days, True, False))
    for _ in range(args.repeat):
        for label, t_save, tracked, exact in variants:
            us, acc, rej = run(t_save, tracked, exact)
            best[label] = min(best.get(label, np.inf), us)
            steps[label] = (acc, rej)
    for label, us in best.items():
        acc, rej = steps[label]
        print(f"  {label:36s} {us:7.1f} us/patient-year, {acc:.1f} accepted + {rej:.1f} rejected steps")
    now, before = best["readout days + trackers (now)"], best["the same, chains explicit (before)"]
    print(f"  exact chains: now / before {now / before:.2f}")
    print(f"  the trackers: {now - best['readout days only']:.1f} us per patient-year")


if __name__ == "__main__":
    main()
