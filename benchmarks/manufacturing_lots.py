"""Speed of lot simulation: lots per second for each built-in process, as a ratio to a goal.

Goal (ours, not a standard): 10,000 lots of any built-in process in under 10 s on one core (1,000 lots/s), so a
virtual trial can draw its lots without noticing. Run: .venv/bin/python benchmarks/manufacturing_lots.py
"""

from __future__ import annotations

import time

from nksim.manufacturing import builtin_processes, load_manufacturing_spec, simulate_lots, summarize_lots

GOAL_LOTS_PER_S = 1000.0


def main(n: int = 2000) -> None:
    print(f"{'process':<20} {'lots/s':>10} {'ratio to goal':>14}")
    for name in builtin_processes():
        spec = load_manufacturing_spec(name)
        simulate_lots(spec, 5, seed=0)  # warm caches (calibration quadrature)
        t = time.perf_counter()
        lots = simulate_lots(spec, n, seed=1)
        summarize_lots(lots, spec)
        rate = n / (time.perf_counter() - t)
        print(f"{name:<20} {rate:>10.0f} {rate / GOAL_LOTS_PER_S:>14.2f}")


if __name__ == "__main__":
    main()
