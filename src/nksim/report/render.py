"""Draw a report's independent parts in parallel: forked worker processes (one per idle core, at most one per part)
each draw whole parts and send back their html; this process reports progress as each part arrives. Where
processes are not forked (Windows, macOS) or a worker fails, the parts are drawn here, in order (the same html)."""

from __future__ import annotations

import multiprocessing
import os
import signal
from typing import Callable, Sequence

Job = tuple[str, Callable[[], str]]  # (progress label, draw: returns the part's html)
Step = Callable[[str], None]

_JOBS: list[Job] = []  # the jobs of the render in progress (inherited by the forked workers)


def cores() -> int:
    """The cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def spare_cores() -> int:
    """Cores not busy by the 1-minute load average (at least 1): on a shared, loaded machine forked workers only
    add the cost of reading the run files twice."""
    try:
        busy = os.getloadavg()[0]
    except (AttributeError, OSError):  # not on a Unix
        return cores()
    return max(1, min(cores(), int(cores() - busy + 1)))


def _worker_init() -> None:
    """A forked worker reads lazily opened run files on its own: no thread pools inherited from the parent."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle
    import dask

    dask.config.set(scheduler="synchronous")
    try:
        import numcodecs.blosc

        numcodecs.blosc.use_threads = False  # blosc's global thread pool does not survive a fork
    except ImportError:
        pass


def _draw(i: int) -> tuple[int, str]:
    return i, _JOBS[i][1]()


def render(jobs: Sequence[Job], step: Step | None = None, processes: int | None = None) -> list[str]:
    """The html of every job, in the jobs' order; ``step(label)`` after each finishes. ``processes``: forked
    workers (default: one per core not busy, ``spare_cores``, at most one per job; 1 = all in this process)."""
    global _JOBS
    step = step or (lambda label: None)
    n = min(len(jobs), spare_cores() if processes is None else processes)
    out: list[str | None] = [None] * len(jobs)
    if n > 1 and "fork" in multiprocessing.get_all_start_methods():
        _JOBS = list(jobs)
        try:
            with multiprocessing.get_context("fork").Pool(n, initializer=_worker_init) as pool:
                for i, text in pool.imap_unordered(_draw, range(len(jobs))):
                    out[i] = text
                    step(jobs[i][0])
        except Exception:
            pass  # a worker could not start or a part failed there: the parts still missing are drawn here
        finally:
            _JOBS = []
    for i, (label, draw) in enumerate(jobs):
        if out[i] is None:
            out[i] = draw()
            step(label)
    return [text for text in out if text is not None]
