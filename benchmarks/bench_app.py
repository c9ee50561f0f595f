"""Time from pressing "Run cohort" in `nksim app` to its first figures, in headless Chromium (issue 18: a
200-patient cohort shows its first figures in < 10 s warm).

    python benchmarks/bench_app.py [--patients 200] [--repeat 3]

Warm = the server has run one 20-patient cohort before (imports, compiled kernels and matplotlib loaded); each
timed run uses a new seed, so nothing is reused from an earlier run folder. Prints the browser-side time (click
to the first figure visible) and the app's own figure (worker start to first figures drawn).
"""

from __future__ import annotations

import argparse
import re
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from app_driver import app_server, chromium_page, fill, open_page  # noqa: E402


def run_once(page, patients: int, seed: int) -> tuple[float, float]:
    """(seconds from the click to the first figure in the browser, seconds the app reports)."""
    fill(page, "nk-patients", patients)
    fill(page, "nk-seed", seed)
    page.wait_for_timeout(300)
    t0 = time.perf_counter()
    page.locator(".nk-run-cohort button").click()
    page.locator(".nk-figures img").first.wait_for(state="detached", timeout=30_000)  # the last run's figures go
    page.locator(".nk-figures img").first.wait_for(state="visible", timeout=300_000)
    seen = time.perf_counter() - t0
    note = page.locator(".nk-summary").get_by_text(re.compile("first figures after")).first.inner_text()
    m = re.search(r"first figures after ([0-9.]+) s", note)
    page.locator(".nk-download-run button").wait_for(state="visible", timeout=300_000)  # the run has ended
    return seen, float(m.group(1)) if m else float("nan")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--patients", type=int, default=200)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="nksim-bench-app-") as tmp:
        with app_server(Path(tmp)) as url, chromium_page() as page:
            page.goto(url)
            page.locator(".nk-verdict", has_text="ok:").wait_for()
            open_page(page, "Virtual cohort")
            warm = run_once(page, 20, 1000)
            print(f"warm-up: 20 patients, first figure in the browser after {warm[0]:.2f} s")
            times = []
            for k in range(args.repeat):
                seen, app = run_once(page, args.patients, 2000 + k)
                times.append(seen)
                print(f"{args.patients} patients (seed {2000 + k}): first figure in the browser after {seen:.2f} s "
                      f"(the app: {app:.2f} s from the start of the run)")
            times.sort()
            print(f"{args.patients} patients warm: min {times[0]:.2f} s, median {times[len(times) // 2]:.2f} s "
                  f"(goal < 10 s)")


if __name__ == "__main__":
    main()
