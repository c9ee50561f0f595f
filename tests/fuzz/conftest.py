"""Fuzz tests: the sandbox fixture and, for `make fuzz`, the counts written at the end of the session."""

from __future__ import annotations

from pathlib import Path

import pytest

from fuzz import harness


@pytest.fixture
def box(tmp_path) -> Path:
    harness.sandbox(tmp_path)
    return tmp_path


def pytest_sessionfinish(session, exitstatus):
    harness.flush_counts()
