"""The model's scalar right-hand side and events for one patient, by configuration (kept for code that called them
here; the equations live in :mod:`nksim.kinetics.processes` and this is generated from them).

``rhs(t, y, p, nl, nc, seg, dy, alg)`` writes d(state)/dt into ``dy`` and the algebraic outputs into ``alg``;
``seg`` is the segment description (its start time, then the closed-form pools then: ``layout.NSEG`` entries).
``apply_event(kind, t, y, p, nl, nc, seg, a, b)`` applies one event in place.
"""

from __future__ import annotations

import numpy as np

from nksim.kinetics.codegen.python import numba_functions
from nksim.kinetics.processes.chemotherapy import LD_HORIZON  # noqa: F401
from nksim.kinetics.processes.base import LUNG_HORIZON  # noqa: F401


def rhs(t: float, y: np.ndarray, p: np.ndarray, nl: int, nc: int, seg: np.ndarray, dy: np.ndarray,
        alg: np.ndarray) -> None:
    numba_functions(nl, nc)[0](t, y, p, seg, dy, alg)


def apply_event(kind: int, t: float, y: np.ndarray, p: np.ndarray, nl: int, nc: int, seg: np.ndarray, a: float,
                b: float) -> None:
    numba_functions(nl, nc)[1](kind, t, y, p, seg, a, b)
