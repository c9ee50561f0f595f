"""The run report as a reader sees it: rendered by headless Chromium at 1400 px, its figures fill the page width
(they were ~450 px and left-aligned)."""

from __future__ import annotations

import numpy as np
import pytest

import nksim
from conftest import small


def _longest_dark_run(row: np.ndarray) -> int:
    dark = np.concatenate([[False], row < 100, [False]])
    edges = np.flatnonzero(np.diff(dark.astype(int)))
    return int((edges[1::2] - edges[::2]).max()) if edges.size else 0


@pytest.mark.slow
def test_report_figures_fill_the_width_at_1400_px(browser, tmp_path):
    from PIL import Image

    from nksim.report.run_report import write_run_report

    res = nksim.simulate(small("hcc-post-lt-allo-nk", n=12, horizon=120.0), seed=1)
    report = write_run_report(res, tmp_path)
    png = browser(report, tmp_path / "report.png", width=1400, height=6000)
    img = np.asarray(Image.open(png).convert("L"))
    assert img.shape[1] == 1400
    widest = max(_longest_dark_run(r) for r in img[::2])
    assert widest >= 800, widest  # an axes frame of a full-width figure (a 450 px figure has < 400)
    text = report.read_text(encoding="utf-8")
    assert "rests on" in text and "are assumptions" in text
