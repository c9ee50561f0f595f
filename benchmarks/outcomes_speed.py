"""Readouts at the kernel's pace: ``nksim.clinical.outcomes`` now vs the frozen copy from before vectorisation.

Simulates each scenario once, then times both functions on the same trajectories and patient table (fastest of
``--repeat``) and checks that the readouts are identical except the intended fixes: new lesions after death are
censored (issue 15 item 6) and toxicities the scenario expects are not DLT. The comparison drops ``draw_attempt``
so both functions read the same random streams (a re-drawn candidate now has its own). Prints times and the ratio;
no assertion on wall-clock time.

    python benchmarks/outcomes_speed.py                  # 10,000 patients, hcc-post-lt-allo-nk and hcc-gpc3-car-nk-il15
    python benchmarks/outcomes_speed.py -n 2000 --repeat 1
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import pandas as pd

import nksim
from nksim.clinical import outcomes
from nksim.clinical.resolved import resolve

sys.path.insert(0, str(Path(__file__).parent))
from _outcomes_before import outcomes as outcomes_before  # noqa: E402

INTENDED = ("new_lesion_day", "dlt", "dlt_day", "dlt_toxicity", "dlt_evaluable")


def differing(a: pd.DataFrame, b: pd.DataFrame) -> dict[str, int]:
    out = {}
    for c in a.columns:
        x, y = a[c], b[c]
        same = (x == y) | (x.isna() & y.isna())
        if not same.all():
            out[c] = int((~same).sum())
    return out


def best_of(fn, repeat: int) -> tuple[float, pd.DataFrame]:
    best, out = float("inf"), None
    for _ in range(repeat):
        t = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t)
    return best, out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("-n", type=int, default=10_000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("scenarios", nargs="*", default=["hcc-post-lt-allo-nk", "hcc-gpc3-car-nk-il15"])
    args = ap.parse_args()
    for name in args.scenarios:
        res = nksim.simulate(name, n_patients=args.n, seed=1)
        r = resolve(res.scenario)
        pts = res.patients.drop(columns=["draw_attempt"])
        ds = res.trajectories
        kw = dict(seed=res.scenario.simulation.seed, params=r.params)
        t_old, old = best_of(lambda: outcomes_before(ds, pts, r.readouts, **kw), args.repeat)
        t_new, new = best_of(lambda: outcomes(ds, pts, r.readouts, **kw), args.repeat)
        diff = differing(old, new)
        unintended = {c: k for c, k in diff.items() if c not in INTENDED}
        print(f"{name}: {args.n} patients, outcomes before {t_old:.3f} s, now {t_new:.3f} s, "
              f"ratio {t_old / t_new:.2f}x; intended differences {({c: k for c, k in diff.items() if c in INTENDED})}, "
              f"other differences {unintended or 'none'}")


if __name__ == "__main__":
    main()
