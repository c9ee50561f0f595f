"""Time the HTML report of an existing run folder (``nksim run ... -o FOLDER`` first).

    python benchmarks/report_time.py runs/hcc-post-lt-allo-nk-seed0 [repeats]

Prints the wall and CPU seconds to write report.html (into a temporary folder; the run folder is not touched), drawn
in this process only (``processes=1``) and in forked workers, one per core (what ``nksim run`` does when cores are idle), in
alternation, so both figures share the machine's load. CPU time counts this process and its finished workers. For a
before/after comparison run it on the same folder with PYTHONPATH pointing at each version's src/.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path


def load(folder: Path):
    from nksim.io.run_folder import open_run

    return open_run(folder)  # lazy, as `nksim run` hands it to the report


def _cpu() -> float:
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system


def main() -> None:
    folder = Path(sys.argv[1])
    repeats = int(sys.argv[2]) if len(sys.argv) > 2 else 1
    res = load(folder)
    from nksim.report.render import cores
    from nksim.report.run_report import write_run_report

    results: dict[str, list[tuple[float, float]]] = {"in this process": [], f"{cores()} forked workers": []}  # forced
    for _ in range(repeats):
        for label, processes in (("in this process", 1), (f"{cores()} forked workers", None)):
            with tempfile.TemporaryDirectory() as tmp:
                t0, c0 = time.perf_counter(), _cpu()
                write_run_report(res, Path(tmp), processes=processes or cores())
                results[label].append((time.perf_counter() - t0, _cpu() - c0))
    load_avg = os.getloadavg()[0]
    for label, runs in results.items():
        print(f"{len(res.patients)} patients, {label}: report {min(w for w, _ in runs):.2f} s wall, "
              f"{min(c for _, c in runs):.2f} s CPU (min of {repeats}; load average {load_avg:.1f})")


if __name__ == "__main__":
    main()
