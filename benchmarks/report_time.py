"""Time the HTML report of an existing run folder (``nksim run ... -o FOLDER`` first).

    python benchmarks/report_time.py runs/hcc-post-lt-allo-nk-seed0 [repeats]

Prints the seconds to write report.html (into a temporary copy's folder, the run folder is not touched) and the
time of each figure group, so that a before/after comparison runs both in one process on the same data.
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path


def load(folder: Path):
    from nksim.io.run_folder import open_run

    res = open_run(folder)
    res.trajectories.load()
    return res


def main() -> None:
    folder = Path(sys.argv[1])
    repeats = int(sys.argv[2]) if len(sys.argv) > 2 else 1
    res = load(folder)
    from nksim.runner import write_run_report

    times = []
    for _ in range(repeats):
        with tempfile.TemporaryDirectory() as tmp:
            t0 = time.perf_counter()
            write_run_report(res, Path(tmp))
            times.append(time.perf_counter() - t0)
    print(f"{len(res.patients)} patients: report {min(times):.2f} s (min of {repeats})")


if __name__ == "__main__":
    main()
