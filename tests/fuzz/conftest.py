"""Fuzz tests: the sandbox fixture and, for `make fuzz`, the counts written at the end of the session."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from fuzz import harness


@pytest.fixture
def box(tmp_path) -> Path:
    harness.sandbox(tmp_path)
    return tmp_path


def pytest_sessionfinish(session, exitstatus):
    path = os.environ.get("NKSIM_FUZZ_COUNTS")
    if path:
        worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
        Path(path).mkdir(parents=True, exist_ok=True)
        (Path(path) / f"{worker}.json").write_text(json.dumps(
            {"counts": dict(harness.COUNTS), "failures": harness.FAILURES}, indent=1))
