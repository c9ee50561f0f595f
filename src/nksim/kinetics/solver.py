"""The compiled cohort engine: the generic lane integrator (:mod:`nksim.kinetics.integrate`) with the model's
right-hand side and event function compiled from the process modules (:mod:`nksim.kinetics.codegen.llvm`).

Each patient is integrated independently; a worker thread runs W patients at once, one per vector lane, each lane with
its own time, step size, step control and events. Between events the solver takes adaptive steps (Tsitouras 2011
5(4) pair with its dense output, standard step-size controller as in Hairer, Norsett & Wanner); at an event time it
stops exactly, applies the jump and restarts. Values on the save grid come from the dense output (post-event values
at event times).
"""

from __future__ import annotations

import threading
from contextlib import contextmanager, nullcontext
from typing import Iterator

import numpy as np

from nksim.kinetics.codegen.llvm import compiled
from nksim.kinetics.integrate.scheduler import (
    STATUS_MAX_STEPS,
    STATUS_NONFINITE,
    STATUS_OK,
    STATUS_STEP_UNDERFLOW,
    TrackArrays,
    set_workers,
    solve,
)
from nksim.kinetics.integrate.tableau import TSIT5, Tableau

__all__ = ["STATUS_MAX_STEPS", "STATUS_NONFINITE", "STATUS_OK", "STATUS_STEP_UNDERFLOW", "TrackArrays", "kernel_turns",
           "output_buffers", "set_workers", "solve_batch"]


_TURN = threading.Lock()
_taking_turns = threading.local()


@contextmanager
def kernel_turns() -> Iterator[None]:
    """Inside, this thread's compiled solves take turns with those of the other threads inside (one at a time; each
    uses every kernel thread): chunks that overlap in one process then keep the cores on one kernel while the others
    do their Python (sampling, inputs, readouts), instead of two kernels finishing together and leaving both chunks'
    Python to one core under the GIL. The numbers do not change."""
    _taking_turns.on = True
    try:
        yield
    finally:
        _taking_turns.on = False


def output_buffers(npat: int, nl: int, nc: int, n_save: int, tableau: Tableau = TSIT5) -> tuple[np.ndarray, ...]:
    """Buffers (ys, als, sg, stats) for ``solve_batch(..., out=)`` of up to ``npat`` patients and ``n_save`` save
    times."""
    fns = compiled(nl, nc, tableau)
    return (np.zeros((npat, n_save, fns.n)), np.zeros((npat, n_save, fns.nalg)), np.zeros((npat, n_save, fns.nseg)),
            np.zeros((npat, 3), dtype=np.int64))


def solve_batch(y0: np.ndarray, p: np.ndarray, nl: int, nc: int, ev_t: np.ndarray, ev_k: np.ndarray,
                ev_a: np.ndarray, ev_b: np.ndarray, t0: float, t_end: float, t_save: np.ndarray, rtol: float,
                atol: np.ndarray, max_steps: int, tableau: Tableau = TSIT5, out: tuple[np.ndarray, ...] | None = None,
                track: TrackArrays | None = None, exact_chains: bool = True
                ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Solve every patient (rows of y0, p and the event arrays) of a configuration with ``nl`` lesions and ``nc``
    antigen classes. Returns (ys: patient x save time x state, algebraic outputs, stats: status / accepted /
    rejected steps). ``out``: buffers to write into (``nksim.kinetics.integrate.scheduler.solve``;
    ``output_buffers`` makes them). ``track``: kernel-tracked summaries of every patient, updated in place
    (``nksim.kinetics.integrate.scheduler.TrackArrays``; ``nksim.kinetics.tracking`` builds the coefficients).
    ``exact_chains=False``: the transit chains take the tableau's explicit steps too (for comparisons)."""
    fns = compiled(nl, nc, tableau, exact_chains)
    with _TURN if getattr(_taking_turns, "on", False) else nullcontext():
        ys, als, _, stats = solve(fns, y0, p, ev_t, ev_k, ev_a, ev_b, t0, t_end, t_save, rtol, atol, max_steps, out,
                                  track)
    return ys, als, stats
