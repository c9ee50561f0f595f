"""End to end as users meet it: ``nksim.simulate`` (sampling, solve, trajectories, clinical readouts) on
hcc-post-lt-allo-nk, against the same call with the scipy reference backend (LSODA calling the compiled right-hand
side) and the plain-Python scipy loop (LSODA calling the uncompiled right-hand side) on smaller subsets, all scaled
per patient-year, in one process. Issue 13's goals: <= 50 us per patient-year, >= 100x the scipy reference backend,
>= 1,000x the plain-Python loop. Prints figures and ratios; no assertion.

    python benchmarks/bench_end_to_end.py                       # 20,000 patients; 100 scipy, 2 plain Python
    python benchmarks/bench_end_to_end.py -n 2000 --scipy 20    # smaller
    python benchmarks/bench_end_to_end.py --outputs summary     # any outputs= choice, the same for every engine
    python benchmarks/bench_end_to_end.py --folder              # also the run-folder sink (compressed chunks)
    python benchmarks/bench_end_to_end.py --scenario hcc-gpc3-car-nk-il15
    python benchmarks/bench_end_to_end.py --with-trajectories   # default outputs, .trajectories read in the timing

With the default outputs, ``simulate`` returns the patient table and builds ``.trajectories`` on first access (the
cohort solved again with the daily grid saved); ``--with-trajectories`` times that access too, for every engine.
"""

from __future__ import annotations

import argparse
import functools
import resource
import shutil
import tempfile
import time
from pathlib import Path

import nksim


def patient_years(res) -> float:
    return len(res.patients) * res.scenario.simulation.horizon_d / 365.0


def timed(label: str, repeat: int, fn) -> tuple[float, object]:
    """Fastest of ``repeat`` calls: (wall seconds per patient-year, last result). CPU time (all threads of this
    process) is printed too: on a shared machine it moves less than wall time."""
    best, cpu, res = float("inf"), float("inf"), None
    for _ in range(repeat):
        t, c = time.perf_counter(), time.process_time()
        res = fn()
        best, cpu = min(best, time.perf_counter() - t), min(cpu, time.process_time() - c)
    py = patient_years(res)
    print(f"  {label}: {best:.2f} s wall, {cpu:.2f} s CPU for {py:,.1f} patient-years "
          f"({best / py * 1e6:,.1f} us/patient-year wall, {cpu / py * 1e6:,.1f} CPU)", flush=True)
    return best / py, res


def plain_python_reference():
    """The reference backend with the right-hand side as plain Python (numba's py_func), for the duration."""
    from nksim.kinetics import reference

    real = reference.solve_reference_batch
    reference.solve_reference_batch = functools.partial(real, python_rhs=True)
    return real


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--scenario", default="hcc-post-lt-allo-nk")
    ap.add_argument("-n", type=int, default=20_000, help="patients, compiled engine")
    ap.add_argument("--scipy", type=int, default=100, help="patients, scipy reference backend (0: skip)")
    ap.add_argument("--python", type=int, default=2, help="patients, plain-Python scipy loop (0: skip)")
    ap.add_argument("--outputs", default=None, help="outputs= for every engine (default: simulate's default)")
    ap.add_argument("--chunk-size", type=int, default=None, help="chunk_size= for the compiled engine")
    ap.add_argument("--folder", action="store_true", help="also time the compiled engine into a run folder")
    ap.add_argument("--repeat", type=int, default=1, help="fastest of N runs per engine")
    ap.add_argument("--with-trajectories", action="store_true", help="read .trajectories inside the timing")
    args = ap.parse_args()
    sc = nksim.load_scenario(args.scenario)
    kw = {} if args.outputs is None else {"outputs": args.outputs}

    def sim(*a, **k):
        res = nksim.simulate(*a, **k)
        if args.with_trajectories:
            res.trajectories  # noqa: B018 (built on first access)
        return res

    print(f"{args.scenario}: horizon {sc.simulation.horizon_d:g} d, outputs={args.outputs or 'default'}")
    nksim.simulate(sc, n_patients=4, **kw)  # compile outside the timings
    if args.scipy or args.python:
        nksim.simulate(sc, n_patients=1, backend="reference", **kw)

    fast, res = timed(f"compiled, {args.n:,} patients", args.repeat,
                      lambda: sim(sc, n_patients=args.n, chunk_size=args.chunk_size, **kw))
    if res.trajectories_loaded:
        print(f"    trajectories in memory: {res.trajectories.nbytes / 1e9:.2f} GB")
    else:
        print("    trajectories: built on first access (not read here)")
    del res
    if args.folder:
        from nksim.io.run_folder import RunFolder

        tmp = Path(tempfile.mkdtemp(prefix="nksim-bench-"))
        try:
            per, res = timed(f"compiled into a run folder, {args.n:,} patients", 1, lambda: nksim.simulate(
                sc, n_patients=args.n, chunk_size=args.chunk_size or 256, sink=RunFolder(tmp / "run"), **kw))
            size = sum(p.stat().st_size for p in (tmp / "run").rglob("*") if p.is_file())
            print(f"    run folder: {size / 1e6:.0f} MB ({per / fast:.2f}x the in-memory time)")
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    if args.scipy:
        slow, _ = timed(f"scipy reference backend (LSODA, compiled RHS), {args.scipy} patients", 1,
                        lambda: sim(sc, n_patients=args.scipy, backend="reference", **kw))
        print(f"  compiled engine vs scipy reference backend: {slow / fast:,.0f}x")
    if args.python:
        real = plain_python_reference()
        try:
            plain, _ = timed(f"plain-Python scipy loop (LSODA, Python RHS), {args.python} patients", 1,
                             lambda: sim(sc, n_patients=args.python, backend="reference", **kw))
        finally:
            from nksim.kinetics import reference

            reference.solve_reference_batch = real
        print(f"  compiled engine vs plain-Python scipy loop: {plain / fast:,.0f}x")
    print(f"peak memory of this process: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6:.2f} GB")


if __name__ == "__main__":
    main()
