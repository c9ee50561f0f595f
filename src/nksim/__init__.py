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
"""

from __future__ import annotations

from nksim.version import __version__ as __version__
from nksim.engine import SimulationResult as SimulationResult
from nksim.engine import simulate as simulate
from nksim.arms import compare_arms as compare_arms
from nksim.io.nonmem import read_nonmem as read_nonmem
from nksim.io.nonmem import to_nonmem as to_nonmem
from nksim.io.sbml import to_sbml as to_sbml
from nksim.spec.io import builtin_names as list_scenarios
from nksim.spec.io import load_scenario as load_scenario
from nksim.spec.scenario import Scenario as Scenario

__all__ = ["Scenario", "SimulationResult", "compare_arms", "list_scenarios", "load_scenario", "read_nonmem", "simulate", "to_nonmem",
           "to_sbml", "__version__"]
