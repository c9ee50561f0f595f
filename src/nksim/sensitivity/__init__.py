"""Global sensitivity analysis (Sobol, Morris) of the cohort engine's readouts to registry parameters.

``run_sensitivity(scenario, params, outputs, method, n, patients, seed, out)`` (``nksim sensitivity`` on the command
line); docs/sensitivity.md. Modules: ``analysis`` (SALib on the unit cube), ``outputs`` (readouts by name),
``evaluate`` (samples through the engine in batches), ``defaults`` (the default parameter set), ``run``, ``plots``,
``cli``.
"""

from nksim.sensitivity.analysis import METHODS, analyze, design
from nksim.sensitivity.outputs import known_outputs
from nksim.sensitivity.run import SensitivityResult, run_sensitivity

__all__ = ["METHODS", "SensitivityResult", "analyze", "design", "known_outputs", "run_sensitivity"]
