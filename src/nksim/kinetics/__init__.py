"""nksim.kinetics: the reference kinetic model, its compiled and reference solvers."""

from nksim.numba_cache import refresh as _refresh_numba_cache

_refresh_numba_cache(__file__)
