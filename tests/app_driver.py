"""Drive `nksim app` in headless Chromium (Python Playwright with Debian's chromium; nothing downloaded).

    with app_server(workdir) as url, chromium_page() as page:   # tests/ on sys.path
        page.goto(url); open_page(page, "Virtual cohort")

Used by tests/test_app_browser.py and benchmarks/bench_app.py.
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Iterator

from browser import INSTALL_HINT, find_chromium

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run", "--disable-dev-shm-usage"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def app_server(workdir: Path, timeout: float = 120.0) -> Iterator[str]:
    """`python -m nksim app` on a free port in a subprocess started in ``workdir`` (its runs go to
    ``workdir/runs/app``, the default); yields its URL (read from what it prints)."""
    paths = [str(ROOT / "src"), *filter(None, os.environ.get("PYTHONPATH", "").split(os.pathsep))]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(paths)}
    Path(workdir).mkdir(parents=True, exist_ok=True)
    proc = subprocess.Popen([sys.executable, "-m", "nksim", "app", "--port", str(free_port())], cwd=workdir,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, encoding="utf-8", env=env)
    try:
        url, seen, t0 = None, [], time.monotonic()
        assert proc.stdout is not None
        while url is None and time.monotonic() - t0 < timeout:
            line = proc.stdout.readline()
            if not line and proc.poll() is not None:
                break
            seen.append(line)
            if line.startswith("nksim app: http"):
                url = line.split()[2]
        if url is None:
            raise RuntimeError("nksim app did not start:\n" + "".join(seen[-40:]))
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()


@contextlib.contextmanager
def chromium_page(width: int = 1400, height: int = 1000):
    """A Playwright page in headless Chromium (FileNotFoundError with the install hint when there is none)."""
    from playwright.sync_api import sync_playwright

    exe = find_chromium()
    if exe is None:
        raise FileNotFoundError(INSTALL_HINT)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=exe, args=CHROMIUM_ARGS, headless=True)
        try:
            page = browser.new_page(viewport={"width": width, "height": height})
            page.set_default_timeout(60_000)
            yield page
        finally:
            browser.close()


def open_page(page, title: str) -> None:
    """Click the app's page tab ``title``."""
    page.locator(".nk-pages .bk-tab", has_text=title).first.click()


def fill(page, css: str, value: object) -> None:
    """Type ``value`` into the input of the widget with CSS class ``css`` and commit it (Enter)."""
    box = page.locator(f".{css} input, .{css} textarea").first
    box.fill(str(value))
    box.press("Enter" if box.evaluate("e => e.tagName") == "INPUT" else "Tab")


def screenshot(page, name: str) -> None:
    """docs/images/app-NAME.png when NKSIM_APP_SCREENSHOTS names a folder (make app-test sets it)."""
    folder = os.environ.get("NKSIM_APP_SCREENSHOTS")
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
        page.wait_for_timeout(500)
        page.screenshot(path=str(Path(folder) / f"app-{name}.png"), full_page=True)
