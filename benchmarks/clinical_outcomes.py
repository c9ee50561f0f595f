"""Benchmark of nksim.clinical.outcomes: vectorised cohort vs a one-patient-at-a-time baseline.

Usage: python benchmarks/clinical_outcomes.py [n_patients]   (default 20000; goal: 10^5 patients in seconds)
Prints seconds per 10^5 patients for both paths and their ratio.
"""

from __future__ import annotations

import sys
import time

from nksim.clinical import ReadoutSpec, outcomes, summarize
from nksim.clinical.synthetic import synthetic_cohort


def main(n: int) -> None:
    ds, pts = synthetic_cohort(n, seed=1, t_end=365.0, dt=2.0, n_target=2)
    ro = ReadoutSpec()
    outcomes(ds.isel(patient=slice(0, 10)), pts, ro, seed=0)  # warm up (registry, imports)
    t0 = time.perf_counter()
    table = outcomes(ds, pts, ro, seed=0)
    vec = (time.perf_counter() - t0) / n * 1e5
    t0 = time.perf_counter()
    summarize(table)
    summ = time.perf_counter() - t0
    k = min(n, 200)
    t0 = time.perf_counter()
    for i in range(k):
        outcomes(ds.isel(patient=slice(i, i + 1)), pts, ro, seed=0)
    one = (time.perf_counter() - t0) / k * 1e5
    print(f"patients: {n}, times: {ds.sizes['time']}, lesions: {ds.sizes['lesion']}")
    print(f"vectorised outcomes: {vec:.1f} s per 1e5 patients")
    print(f"one-by-one baseline: {one:.1f} s per 1e5 patients (from {k} patients)")
    print(f"speed-up ratio: {one / vec:.1f}x; summarize: {summ:.2f} s")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 20000)
