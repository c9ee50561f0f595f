"""Manufacturing and product supply: from a donor, cord-blood unit, iPSC bank or NK-92 vial to doses in the freezer.

Public API::

    spec = load_manufacturing_spec("cb-car19-il15")            # name, YAML path, dict or ManufacturingSpec
    lots = simulate_lots(spec, n_lots=200, seed=1)              # lot k is the same lot whatever n_lots
    summary = summarize_lots(lots, spec)                         # yields, pass rate, doses, cost, vein-to-vein
    overrides = lots_to_overrides(lots, n_patients=30)           # per-patient product attributes for the engine
    overrides, lots = manufacture_for_patients(spec, 30, seed=1) # both at once
    overrides, lots = overrides_for_scenario(scenario)           # a Scenario with a manufacturing block
    nksim.simulate(scenario, overrides=overrides)                # failures untreated, quality -> outcome
"""

from nksim.manufacturing.clinic import (
    OVERRIDE_KEYS,
    lots_to_overrides,
    manufacture_for_patients,
    overrides_for_scenario,
)
from nksim.manufacturing.expansion import fold_expansion_samples, growth_rate_median, log_fold
from nksim.manufacturing.ledger import LedgerRow, check_ledger
from nksim.manufacturing.loader import builtin_processes, load_manufacturing_spec
from nksim.manufacturing.lot import Lot, simulate_lot, simulate_lots
from nksim.manufacturing.params import assumptions_used, resolve_parameters
from nksim.manufacturing.summary import summarize_lots

__all__ = [
    "OVERRIDE_KEYS",
    "LedgerRow",
    "Lot",
    "assumptions_used",
    "builtin_processes",
    "check_ledger",
    "fold_expansion_samples",
    "growth_rate_median",
    "load_manufacturing_spec",
    "log_fold",
    "lots_to_overrides",
    "manufacture_for_patients",
    "overrides_for_scenario",
    "resolve_parameters",
    "simulate_lot",
    "simulate_lots",
    "summarize_lots",
]
