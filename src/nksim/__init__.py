"""nksim: an in-silico lab for NK and CAR-NK cell cancer immunotherapy.

Public API::

    import nksim
    nksim.list_scenarios()                     # built-in scenario names
    sc = nksim.load_scenario("hcc-gpc3-car-nk-il15")   # or a YAML path
    res = nksim.simulate(sc, n_patients=50, seed=1)
    res.trajectories   # xarray Dataset: patient x time (x lesion x antigen_class), units in attrs
    res.patients       # pandas DataFrame: covariates, product given, solver statistics
    df = nksim.to_nonmem(res)                  # NONMEM-style table: doses, observations, covariates
    nksim.simulate(sc, n_patients=50, seed=1, overrides={"dosing": nksim.read_nonmem("data.csv")})
    xml = nksim.to_sbml(sc, patient=3)         # one patient's model as SBML L3V2 (needs python-libsbml)
    nksim.simulate("hcc-post-lt-allo-nk", arm="D")           # one named arm of a scenario
    cmp = nksim.compare_arms("hcc-post-lt-allo-nk", n_patients=200)   # same patients in every arm, log-rank

The names are imported on first use (PEP 562), so ``import nksim`` and the command line start fast.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

_EXPORTS: dict[str, tuple[str, str]] = {
    "__version__": ("nksim.version", "__version__"),
    "Scenario": ("nksim.spec.scenario", "Scenario"),
    "SimulationResult": ("nksim.engine", "SimulationResult"),
    "compare_arms": ("nksim.arms", "compare_arms"),
    "list_scenarios": ("nksim.spec.io", "builtin_names"),
    "load_scenario": ("nksim.spec.io", "load_scenario"),
    "open_run": ("nksim.io.run_folder", "open_run"),
    "read_nonmem": ("nksim.io.nonmem", "read_nonmem"),
    "simulate": ("nksim.engine", "simulate"),
    "to_nonmem": ("nksim.io.nonmem", "to_nonmem"),
    "to_sbml": ("nksim.io.sbml", "to_sbml"),
}

__all__ = ["Scenario", "SimulationResult", "compare_arms", "list_scenarios", "load_scenario", "open_run", "read_nonmem", "simulate", "to_nonmem",
           "to_sbml", "__version__"]

if TYPE_CHECKING:  # static analysers and IDEs see the names directly
    from nksim.version import __version__
    from nksim.arms import compare_arms
    from nksim.engine import SimulationResult, simulate
    from nksim.io.nonmem import read_nonmem, to_nonmem
    from nksim.io.run_folder import open_run
    from nksim.io.sbml import to_sbml
    from nksim.spec.io import builtin_names as list_scenarios
    from nksim.spec.io import load_scenario
    from nksim.spec.scenario import Scenario


def __getattr__(name: str) -> Any:
    """The public names (and submodules such as ``nksim.engine``) on first access."""
    if name in _EXPORTS:
        module, attr = _EXPORTS[name]
        value = getattr(importlib.import_module(module), attr)
        globals()[name] = value
        return value
    try:
        return importlib.import_module(f"{__name__}.{name}")
    except ModuleNotFoundError as exc:
        if exc.name != f"{__name__}.{name}":
            raise
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_EXPORTS))
