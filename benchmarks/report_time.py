"""Time the HTML report of an existing run folder (``nksim run ... -o FOLDER`` first).

    python benchmarks/report_time.py runs/hcc-post-lt-allo-nk-seed0 [repeats]

Prints the wall and CPU seconds to write report.html (into a temporary folder; the run folder is not touched). For a
before/after comparison run it twice on the same folder with PYTHONPATH pointing at each version's src/.
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

    times, cpu = [], []
    for _ in range(repeats):
        with tempfile.TemporaryDirectory() as tmp:
            t0, c0 = time.perf_counter(), time.process_time()
            write_run_report(res, Path(tmp))
            times.append(time.perf_counter() - t0)
            cpu.append(time.process_time() - c0)
    print(f"{len(res.patients)} patients: report {min(times):.2f} s wall, {min(cpu):.2f} s CPU of this process "
          f"(min of {repeats}; CPU time is the fairer figure on a shared machine)")


if __name__ == "__main__":
    main()
