"""Summaries-first throughput: ``nksim.simulate(..., outputs="summary")`` on hcc-post-lt-allo-nk (one year each, so
patients = patient-years), wall time, CPU time and peak memory (this process's maximum resident set). Issue 13's
goal: 1,000,000 patient-years in < 60 s on 2 cores with peak memory < 2 GB. Prints figures; no assertion.

    python benchmarks/bench_summary.py                 # 1,000,000 patients
    python benchmarks/bench_summary.py -n 50000        # a smaller run (the time scales with n; memory does not)
    python benchmarks/bench_summary.py --profile       # where the time goes (cProfile, top entries)
"""

from __future__ import annotations

import argparse
import resource
import time

import nksim


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("-n", type=int, default=1_000_000)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--profile", action="store_true")
    args = ap.parse_args()
    sc = nksim.load_scenario("hcc-post-lt-allo-nk")
    assert sc.simulation.horizon_d == 365.0
    nksim.simulate(sc, n_patients=8, outputs="summary")  # compile outside the timing
    t, c = time.perf_counter(), time.process_time()
    if args.profile:
        import cProfile
        import pstats

        prof = cProfile.Profile()
        res = prof.runcall(nksim.simulate, sc, n_patients=args.n, outputs="summary", workers=args.workers)
        pstats.Stats(prof).sort_stats("tottime").print_stats(25)
    else:
        res = nksim.simulate(sc, n_patients=args.n, outputs="summary", workers=args.workers)
    wall, cpu = time.perf_counter() - t, time.process_time() - c
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"{args.n} patient-years, outputs='summary', {args.workers} threads: {wall:.1f} s wall, {cpu:.1f} s CPU "
          f"({wall / args.n * 1e6:.0f} us per patient-year wall); peak memory {peak_mb:.0f} MB; "
          f"{len(res.patients)} rows; 1,000,000 patient-years at this rate: {wall / args.n * 1e6:.0f} s "
          "(goal < 60 s, < 2 GB)")


if __name__ == "__main__":
    main()
