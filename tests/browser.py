"""Headless Chromium for tests and docs: screenshots of HTML files at a desktop width (1400 px).

    from browser import screenshot   # tests/ on sys.path; in tests: the ``browser`` fixture (tests/conftest.py)
    png = screenshot("runs/x/report.html", "out.png", width=1400, height=3000)

Debian's ``chromium`` package (``apt-get install chromium``); ``NKSIM_CHROMIUM`` names another binary. The
fixture skips, saying how to install it, only where no Chromium is found.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

CANDIDATES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
INSTALL_HINT = "headless Chromium not found: install Debian's package (`apt-get install -y chromium`) or set NKSIM_CHROMIUM"


def find_chromium() -> str | None:
    """Path of a Chromium binary (NKSIM_CHROMIUM first), or None."""
    env = os.environ.get("NKSIM_CHROMIUM")
    if env:
        return shutil.which(env) or (env if Path(env).exists() else None)
    for name in CANDIDATES:
        path = shutil.which(name)
        if path:
            return path
    return None


def _trim_bottom(png: Path) -> None:
    """Cut the blank (uniform) rows below the page's content, keeping a 20 px margin."""
    import numpy as np
    from PIL import Image

    img = Image.open(png).convert("RGB")
    a = np.asarray(img)
    rows = np.flatnonzero((a != a[-1:, :, :]).any(axis=(1, 2)))
    if rows.size and rows[-1] + 21 < a.shape[0]:
        img.crop((0, 0, a.shape[1], int(rows[-1]) + 21)).save(png)


def screenshot(html: str | Path, png: str | Path, width: int = 1400, height: int = 2000, trim: bool = True,
               timeout: float = 120.0) -> Path:
    """Render ``html`` (a file) in headless Chromium at ``width`` x ``height`` px and save ``png``; ``trim`` cuts
    the blank rows below the content (so a tall window gives a full-page picture)."""
    exe = find_chromium()
    if exe is None:
        raise FileNotFoundError(INSTALL_HINT)
    html, png = Path(html).resolve(), Path(png).resolve()
    png.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="nksim-chromium-") as profile:
        cmd = [exe, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--mute-audio",
               "--no-first-run", "--disable-dev-shm-usage", f"--user-data-dir={profile}",
               "--force-device-scale-factor=1", f"--window-size={width},{height}", f"--screenshot={png}",
               html.as_uri()]
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    if proc.returncode != 0 or not png.exists():
        raise RuntimeError(f"chromium failed ({proc.returncode}): {proc.stderr[-2000:]}")
    if trim:
        _trim_bottom(png)
    return png
