"""A generic explicit Runge-Kutta integrator for many patients at once, as diffrax structures it.

- :mod:`.tableau`: Butcher tableaus as data (Tsitouras 5(4), Dormand-Prince 5(4)), with dense output and error weights;
- :mod:`.calls`: calling a compiled right-hand side and event function through their addresses;
- :mod:`.stepir`: one step attempt of any explicit tableau over W vector lanes, emitted as LLVM IR from its data;
- :mod:`.controller`: initial step and the step-size controller;
- :mod:`.segments`: dosing events and between-event segments (exact discontinuities);
- :mod:`.scheduler`: the lane scheduler (each lane its own patient, time, step and events) and worker threads.

The integrator knows nothing of the model: it receives the addresses of a right-hand side
``rhs(t*, Y*, P*, SEG*, DY*, ALG*)`` over W lanes, of an event function ``event(kind, t, y*, p*, seg*, a, b)`` and
of a step attempt (:mod:`nksim.kinetics.codegen.llvm` compiles all three per configuration, from the process modules
and the tableau).
"""

from pathlib import Path as _Path

from nksim.numba_cache import refresh as _refresh_numba_cache

# the integrator's cached kernels freeze constants of its own modules and of the lane operations
_refresh_numba_cache(__file__, also=(str(_Path(__file__).resolve().parent.parent / "lanes.py"),))
