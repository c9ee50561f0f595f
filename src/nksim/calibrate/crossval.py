"""Cross-validation of a calibration over target families (``nksim calibration --cross-validate``).

Each family of targets is held out in turn: the free parameters are refitted by ABC-SMC (``nksim.calibrate.abc``) to
the other families, and the held-out targets are predicted from the posterior (posterior predictive on fresh
cohorts): does the 95% predictive interval overlap the published range, what share of predicted cohorts meets it,
and how far is the predictive median (in tolerance half-widths; <= 1 is inside the range). The model's value at the
scenario's own parameter values is shown next to it, so a fit that helps (or hurts) a held-out target is visible.
Targets in ``check_only`` are never fitted in any fold, only predicted.

The default set is the B-ALL CAR-T-like scenario (one scenario, five targets with published ranges in three
families) with three free parameters that act on expansion (antigen-driven proliferation ``rho_a``, its
half-saturation ``k_a``) and contraction (``delta_0``), bounds around the scenario's Stein-derived values; Stein's
fold expansion is checked only (docs/calibration.md round 3: it cannot be met by whole-body expansion).
"""

from __future__ import annotations

import time
from typing import Callable, Mapping, Sequence

import numpy as np
import pandas as pd

from nksim.calibrate.abc import CohortSimulator, Observed, get_target, space_of, target_key, to_targets
from nksim.errors import InputError

DEFAULT_FAMILIES: dict[str, list[str]] = {
    "kinetics": ["ball_tmax", "ball_cmax"],
    "remission": ["ball_remission_d28"],
    "crs": ["ball_crs_any", "ball_crs3"],
}
DEFAULT_CHECK_ONLY = ["ball_fold"]
DEFAULT_FREE: dict[str, tuple[float, float]] = {"rho_a": (0.5, 2.0), "k_a": (0.1, 10.0), "delta_0": (0.08, 0.32)}


def cross_validate(families: Mapping[str, Sequence[str]] | None = None, free_params=None,
                   check_only: Sequence[str] | None = None, n_patients: int = 40, population: int = 30,
                   generations: int = 4, predictive_draws: int = 10, seed: int = 0, max_simulations: int = 2000,
                   progress: Callable[[str], None] | None = None) -> pd.DataFrame:
    """One row per (held-out family, held-out target); see the module docstring. Larger runs: raise
    ``population``, ``generations``, ``n_patients`` and ``predictive_draws``."""
    if check_only is None:
        check_only = DEFAULT_CHECK_ONLY if families is None else []
    check_only = list(check_only)
    families = dict(families or DEFAULT_FAMILIES)
    if len(families) < 2:
        raise InputError("families", list(families), "two or more target families (one is held out at a time)")
    for fam, keys in families.items():
        if not keys:
            raise InputError(f"families.{fam}", keys, "one or more target keys")
        for k in keys:
            get_target(k)
    for k in check_only:
        get_target(k)
    space = space_of(free_params if free_params is not None else DEFAULT_FREE)
    rows = []
    for fam, held in families.items():
        fitted = [k for f, ks in families.items() if f != fam for k in ks]
        t0 = time.time()
        if progress:
            progress(f"holding out {fam}: fitting {', '.join(fitted)}")
        res = to_targets(fitted, space, n_patients=n_patients, population=population, generations=generations,
                         seed=seed, max_simulations=max_simulations, predictive_draws=predictive_draws,
                         check=list(held) + [k for k in check_only if k not in held])
        fit = res.fit().set_index("target")
        base_targets = [get_target(k) for k in list(held) + check_only]
        base = CohortSimulator(base_targets, space, n_patients)
        at_default = _at_scenario_values(base, seed + 7)
        for j, tg in enumerate(base_targets):
            key = target_key(tg)
            r = fit.loc[key]
            o = Observed.of(tg)
            rows.append({"held_out": fam, "target": key, "role": "held out" if key in held else "checked only",
                         "fitted_on": ", ".join(fitted), "low": tg.low, "high": tg.high,
                         "pred_median": r["pred_median"], "pred_low": r["pred_low"], "pred_high": r["pred_high"],
                         "pi_overlaps_target": bool(r["pred_overlaps"]), "share_met": r["pred_share_met"],
                         "distance": r["pred_distance"], "scenario_value": at_default[j],
                         "scenario_distance": float(o.distance(at_default[j])),
                         "fit_epsilon": res.epsilon,
                         "fitted_met_share": float(fit.loc[fitted, "pred_share_met"].mean()),
                         "seconds": time.time() - t0})
    return pd.DataFrame(rows)


def _at_scenario_values(sim: CohortSimulator, seed: int) -> np.ndarray:
    """The targets' values with no parameter changed (the scenario as it is), on a fresh cohort."""
    from nksim.engine import simulate

    out = np.full(len(sim.targets), np.nan)
    for key, idx in sim._groups.items():
        res = simulate(sim._scenarios[key], n_patients=sim.n_patients, seed=seed,
                       overrides=sim.targets[idx[0]].overrides, outputs="daily")
        for i in idx:
            out[i] = float(sim.targets[i].metric(res))
    return out
