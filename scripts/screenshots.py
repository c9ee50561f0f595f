"""Screenshots of the run report and the ABM outputs in headless Chromium at 1400 px (``make screenshots``).

    python scripts/screenshots.py [--patients 3000] [--abm-days 3] [--out build/screenshots]

Runs a cohort (hcc-post-lt-allo-nk) and a small ABM (hcc-gpc3-car, 100x100), then saves into docs/images/:
report.png (the whole report page), report-<section>.png (its sections, one picture each), abm.png (the ABM run
folder's index page) and abm-snapshot.png (the last tissue snapshot). Needs Debian's ``chromium``.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from browser import find_chromium, INSTALL_HINT, screenshot  # noqa: E402

SECTIONS = 1800  # px per report-<k>.png slice


def cohort(out: Path, n: int) -> Path:
    from nksim.runner import run_scenario

    t0 = time.perf_counter()
    _, report = run_scenario("hcc-post-lt-allo-nk", out, n_patients=n, seed=0, show_progress=False)
    print(f"cohort of {n}: {time.perf_counter() - t0:.1f} s -> {report}")
    return report


def abm(out: Path, days: float) -> Path:
    from nksim.spatial.model import Simulation
    from nksim.spatial.outputs import write_outputs
    from nksim.spatial.pictures import attach_recorder
    from nksim.spec.spatial import load_spatial_spec

    t0 = time.perf_counter()
    spec = load_spatial_spec("hcc-gpc3-car").with_updates(**{"tissue.size": (100, 100)})
    sim = Simulation.create(spec, seed=0, days=days)
    attach_recorder(sim, out)
    sim.run()
    files = write_outputs(sim, out)
    print(f"ABM {days:g} d: {time.perf_counter() - t0:.1f} s -> {files['index']}")
    return Path(files["index"])


def _cut_rows(img, step: int) -> list[int]:
    """Row indices to cut a tall page into pieces of about ``step`` px, each cut in a blank band (between
    sections or figures), so that no figure is split."""
    import numpy as np

    a = np.asarray(img.convert("L"))
    blank = (a > 245).all(axis=1)
    cuts, top = [0], 0
    while a.shape[0] - top > step:
        target = top + step
        for y in range(target, top + step // 3, -1):
            if blank[y - 12:y + 12].all():
                target = y
                break
        cuts.append(target)
        top = target
    return cuts + [a.shape[0]]


def slices(png: Path, dest: Path, stem: str) -> list[Path]:
    from PIL import Image

    img = Image.open(png)
    cuts = _cut_rows(img, SECTIONS)
    out = []
    for k, (top, bottom) in enumerate(zip(cuts[:-1], cuts[1:])):
        p = dest / f"{stem}-{k}.png"
        img.crop((0, top, img.size[0], bottom)).save(p, optimize=True)
        out.append(p)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--patients", type=int, default=3000)
    ap.add_argument("--abm-days", type=float, default=3.0)
    ap.add_argument("--out", type=Path, default=ROOT / "build" / "screenshots")
    ap.add_argument("--images", type=Path, default=ROOT / "docs" / "images")
    args = ap.parse_args()
    if find_chromium() is None:
        sys.exit(INSTALL_HINT)
    shutil.rmtree(args.out, ignore_errors=True)
    args.images.mkdir(parents=True, exist_ok=True)
    report = cohort(args.out / "cohort", args.patients)
    index = abm(args.out / "abm", args.abm_days)
    full = screenshot(report, args.out / "report.png", width=1400, height=16000)
    for old in args.images.glob("report-*.png"):
        old.unlink()
    made = slices(full, args.images, "report")
    shot = screenshot(index, args.images / "abm.png", width=1400, height=9000)
    last = sorted((args.out / "abm").glob("snapshot_*.png"))[-1]
    shutil.copy(last, args.images / "abm-snapshot.png")
    for p in [*made, shot, args.images / "abm-snapshot.png"]:
        print(f"wrote {p.relative_to(ROOT) if p.is_relative_to(ROOT) else p}")


if __name__ == "__main__":
    main()
