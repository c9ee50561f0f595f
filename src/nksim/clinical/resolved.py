"""A scenario resolved once: parameter typical values, readout settings, response criteria and their thresholds.

``resolve(scenario)`` is what the engine, the report and the trials read instead of re-deriving parameter values or
hard-coding the criteria's -30/+20 lines; ``SimulationResult.resolved`` carries it::

    res = nksim.simulate("hcc-gpc3-car-nk-il15", n_patients=100)
    res.resolved.criteria.name              # 'mRECIST'
    res.resolved.criteria.reference_lines   # {'PD': 20.0, 'PR': -30.0} (% change from baseline)
    res.resolved.thresholds                 # {'pr_fraction': 0.3, 'pd_fraction': 0.2, ...}
    res.resolved.params["k_tum"]            # typical value after the scenario's overrides

The object is cached per scenario object (scenarios are immutable), so resolving again costs nothing.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Mapping

from nksim.clinical.criteria import ResponseCriteria
from nksim.clinical.outcomes import ReadoutSettings
from nksim.population.sampling import typical_values
from nksim.spec.clinical import ReadoutSpec
from nksim.spec.scenario import Scenario


@dataclass(frozen=True)
class ResolvedScenario:
    """``params``: registry defaults with the scenario's, product's and population's overrides (typical patient);
    ``readouts``: the readout settings with scan days, criteria and expected toxicities filled in; ``settings``:
    every readout number with its registry default applied; ``criteria``: the response-criteria object."""

    scenario: Scenario
    params: Mapping[str, float]
    readouts: ReadoutSpec
    settings: ReadoutSettings

    @property
    def criteria(self) -> ResponseCriteria:
        return self.settings.criteria

    @property
    def thresholds(self) -> dict[str, float]:
        """The response criteria's thresholds by name (fractions, mm), from the registry and the scenario."""
        return self.settings.criteria.thresholds

    @property
    def clinical(self) -> Mapping[str, float]:
        """The clinical registry values (``clinical_*`` and the shared ``tumor_cell_density``) in use."""
        return self.settings.params


_CACHE: dict[int, ResolvedScenario] = {}
_CACHE_SIZE = 32
_LOCK = threading.Lock()


def resolve(scenario: Scenario) -> ResolvedScenario:
    """The scenario resolved once (cached by identity: a scenario is immutable)."""
    hit = _CACHE.get(id(scenario))
    if hit is not None and hit.scenario is scenario:
        return hit
    params = typical_values(scenario)
    readouts = scenario.resolved_readouts()
    out = ResolvedScenario(scenario, params, readouts, ReadoutSettings.resolve(readouts, params))
    with _LOCK:  # chunks run on two threads (overlap): evict and insert as one step
        if len(_CACHE) >= _CACHE_SIZE:
            _CACHE.pop(next(iter(_CACHE)))
        _CACHE[id(scenario)] = out
    return out
