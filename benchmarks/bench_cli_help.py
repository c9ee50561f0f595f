"""`nksim --help` start-up: wall and CPU time of the lazy CLI against the same CLI with every sub-command imported
up front (what `nksim --help` cost before the sub-commands became lazy). Goal (issue 13 item 7): under 0.5 s.

    python benchmarks/bench_cli_help.py [--repeat 5]

Prints the best of N fresh processes for each, and their ratio. CPU time (user + system of the child) is less
sensitive to other load on the machine than wall time; both are printed.
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import time

LAZY = "import sys; from nksim.cli import main; sys.argv = ['nksim', '--help']; main()"
EAGER = ("import sys; from nksim.cli import main; from nksim.cli_lazy import LAZY, load_target\n"
         "for spec, _ in LAZY.values(): load_target(spec)\n"
         "import nksim.engine\n"
         "sys.argv = ['nksim', '--help']; main()")


def one(code: str) -> tuple[float, float]:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-c", code], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                   env={**os.environ, "COLUMNS": "100"})
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=5)
    n = ap.parse_args().repeat
    lazy = [one(LAZY) for _ in range(n)]
    eager = [one(EAGER) for _ in range(n)]
    lw, lc = min(w for w, _ in lazy), min(c for _, c in lazy)
    ew, ec = min(w for w, _ in eager), min(c for _, c in eager)
    print(f"nksim --help, best of {n}: lazy {lw:.3f} s wall / {lc:.3f} s CPU; all sub-commands imported "
          f"{ew:.3f} s wall / {ec:.3f} s CPU; ratio {ew / lw:.1f}x wall, {ec / lc:.1f}x CPU; "
          f"goal < 0.5 s: {'met' if lw < 0.5 else 'not met'} (wall)")


if __name__ == "__main__":
    main()
