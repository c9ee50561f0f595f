"""Chunks of a cohort computed in this process or on a Dask ``distributed`` cluster.

A chunk's numbers depend only on its patients (per-patient random streams), so where it runs changes nothing: a
2-worker cluster gives the same bits as one process. On a cluster each chunk is one task: the worker simulates it
and encodes the result for the sink (compression runs on the workers); the driving process stores the results as
they arrive. A task whose worker dies is rescheduled by Dask on another worker, and a task that fails is retried
once, so a lost worker costs only the chunks it was computing.
"""

from __future__ import annotations

from contextlib import contextmanager
import uuid
from typing import Any, Callable, Iterator

Job = tuple[Any, ...]  # the arguments of one chunk's function

RETRIES = 1
CONNECT_TIMEOUT = "10s"


def _task(fn: Callable[..., tuple[Any, Any]], args: Job, encode: Callable[[Any, Any], Any],
          kernel_threads: int | None) -> Any:
    """One chunk on a Dask worker: the compiled kernel uses ``kernel_threads`` threads (default 1: the worker's
    own threads are the parallelism)."""
    from nksim.kinetics.solver import set_workers

    set_workers(kernel_threads or 1)
    return encode(*fn(*args))


def run_jobs(fn: Callable[..., tuple[Any, Any]], jobs: dict[int, Job], encode: Callable[[Any, Any], Any],
             scheduler: Any = None, kernel_threads: int | None = None, overlap: bool | int = False
             ) -> Iterator[tuple[int, Any]]:
    """Yield ``(k, encode(*fn(*jobs[k])))`` for every job, in completion order. ``scheduler``: None (here, in
    order), a ``distributed.Client`` or a scheduler address (``tcp://host:8786``). ``overlap`` (here): the next
    chunk starts on a second thread while this one finishes, so one chunk's Python (inputs, readouts) runs while the
    other's compiled solve holds no GIL (the chunks' solves take turns: ``solver.kernel_turns``); still yielded in
    order (only for thread-safe ``fn``: not scipy's LSODA); True: ``OVERLAP`` chunks in flight, a number: that
    many."""
    if scheduler is None:
        if overlap and len(jobs) > 1:
            yield from _overlapped(fn, jobs, encode, OVERLAP if overlap is True else max(2, int(overlap)))
            return
        for k, args in jobs.items():
            yield k, encode(*fn(*args))
        return
    with _client(scheduler) as client:
        from distributed import as_completed

        run = uuid.uuid4().hex[:12]
        futures = {client.submit(_task, fn, args, encode, kernel_threads, key=f"nksim-chunk-{run}-{k}",
                                 retries=RETRIES, pure=False): k for k, args in jobs.items()}
        try:
            with client.as_current():  # as_completed looks for the current client; ours is not the default
                done = as_completed(list(futures))
            for fut in done:
                k = futures.pop(fut)
                yield k, fut.result()
                fut.release()
        finally:
            for fut in futures:  # an error or Ctrl-C: stop the chunks not yet done
                fut.cancel()


OVERLAP = 2  #: chunks in flight with ``overlap=True``


def _overlapped(fn: Callable[..., tuple[Any, Any]], jobs: dict[int, Job], encode: Callable[[Any, Any], Any],
                depth: int = OVERLAP) -> Iterator[tuple[int, Any]]:
    from collections import deque
    from concurrent.futures import ThreadPoolExecutor

    todo = iter(jobs.items())
    with ThreadPoolExecutor(depth) as pool:
        pending: deque = deque()

        def submit() -> None:
            nxt = next(todo, None)
            if nxt is not None:
                pending.append((nxt[0], pool.submit(_in_turn, fn, encode, nxt[1])))

        for _ in range(depth):
            submit()
        try:
            while pending:
                k, fut = pending.popleft()
                out = fut.result()
                submit()
                yield k, out
        finally:
            for _, fut in pending:  # an error or Ctrl-C: chunks not yet started are dropped
                fut.cancel()


def _in_turn(fn: Callable[..., tuple[Any, Any]], encode: Callable[[Any, Any], Any], args: Job) -> Any:
    """One overlapped chunk, its compiled solves taking turns with the other chunks' (``solver.kernel_turns``)."""
    from nksim.kinetics.solver import kernel_turns

    with kernel_turns():
        return encode(*fn(*args))


@contextmanager
def _client(scheduler: Any) -> Iterator[Any]:
    from distributed import Client

    if isinstance(scheduler, Client):
        yield scheduler
        return
    if not isinstance(scheduler, str):
        from nksim.errors import InputError

        raise InputError("scheduler", type(scheduler).__name__, "a distributed.Client or a scheduler address "
                         "such as tcp://host:8786")
    try:
        client = Client(scheduler, set_as_default=False, timeout=CONNECT_TIMEOUT)
    except (OSError, TimeoutError, ValueError) as exc:  # ValueError: not an address ("missing port number")
        from nksim.errors import InputError

        reason = (str(exc).splitlines() or [type(exc).__name__])[0]
        raise InputError("--scheduler", scheduler, f"the address of a running Dask scheduler such as "
                         f"tcp://host:8786 ({reason})") from None
    try:
        yield client
    finally:
        client.close()


@contextmanager
def local_cluster(workers: int, threads_per_worker: int = 1, **kwargs: Any) -> Iterator[Any]:
    """A ``distributed.LocalCluster`` of ``workers`` processes on this machine and a client for it (closed on
    exit); what ``nksim run --workers N`` uses."""
    from distributed import Client, LocalCluster

    cluster = LocalCluster(n_workers=workers, threads_per_worker=threads_per_worker, processes=True,
                           dashboard_address=kwargs.pop("dashboard_address", None), **kwargs)
    client = Client(cluster, set_as_default=False)
    try:
        yield client
    finally:
        client.close()
        cluster.close()
