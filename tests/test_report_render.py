"""The report's parts drawn in forked workers: the same html as drawn in one process, progress once per part, and
a part that fails in a worker fails in this process with its own error."""

from __future__ import annotations

import pytest
from conftest import small

import nksim
from nksim.report.render import render
from nksim.report.run_report import report_steps, write_run_report


@pytest.fixture(scope="module")
def result():
    return nksim.simulate(small("hcc-post-lt-allo-nk", n=6, horizon=60.0), seed=2)


def test_parallel_report_equals_serial_and_reports_each_part(result, tmp_path):
    labels: list[str] = []
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    forked = write_run_report(result, tmp_path / "a", step=labels.append, processes=2).read_text(encoding="utf-8")
    serial = write_run_report(result, tmp_path / "b", processes=1).read_text(encoding="utf-8")
    assert forked == serial
    assert len(labels) == report_steps(result) and len(set(labels)) == len(labels)
    assert {"cohort table", "swimmer plot", "Kaplan-Meier curves", "kills by pathway"} <= set(labels)
    assert forked.count("<h2>Kinetics") == 1 and forked.count("data:image/png") >= 10


def _fails() -> str:
    raise ValueError("part 2 is broken")


def test_a_part_failing_in_a_worker_is_raised_here():
    steps: list[str] = []
    with pytest.raises(ValueError, match="part 2 is broken"):
        render([("one", lambda: "<p>1</p>"), ("two", _fails), ("three", lambda: "<p>3</p>")], steps.append,
               processes=2)
    assert render([("one", lambda: "<p>1</p>"), ("three", lambda: "<p>3</p>")], steps.append,
                  processes=2) == ["<p>1</p>", "<p>3</p>"]
