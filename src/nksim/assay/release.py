"""A label-release cytotoxicity assay (51Cr / calcein style) of an E:T titration, simulated with the killing law.

Label bookkeeping (fractions of the label loaded into the targets):
- intact targets leak label at a constant rate lambda, set so that targets alone release ``assay_spontaneous_release``
  in ``assay_hours`` (spontaneous-release wells);
- a target killed at time tau releases ``assay_max_release`` of the label it still holds (e^{-lambda tau}); the
  detergent (maximum-release) wells read ``assay_max_release``;
- % specific lysis = 100 (experimental - spontaneous) / (maximum - spontaneous), the standard formula.
Specific lysis equals 100 x the fraction of targets killed when kills happen at time 0 (or with no leak and full
release); otherwise the two differ by a few percent relative (a target killed at tau frees m e^{-lambda tau} at once
instead of leaking e^{-lambda tau} - e^{-lambda H} by the end).
"""

from __future__ import annotations

import math
from typing import Mapping, Sequence

import numpy as np
import pandas as pd
from scipy.integrate import solve_ivp

from nksim.assay.model import Effector, Target, antigen_classes, check_positive, pathway_rates, resolve_params
from nksim.errors import InputError
from nksim.kinetics.processes.killing import kill_rate_per_target
from nksim.spec.scenario import Scenario

COLUMNS = ["et_ratio", "effectors", "targets", "killing_competent", "fraction_killed", "fraction_killed_car",
           "kills_per_effector", "exhausted_fraction", "experimental_release", "spontaneous_release",
           "maximum_release", "pct_specific_lysis"]


def _et_ratios(et_ratios: Sequence[float] | np.ndarray) -> np.ndarray:
    try:
        et = np.atleast_1d(np.asarray(et_ratios, dtype=float))
    except (TypeError, ValueError):
        raise InputError("et_ratios", et_ratios, "numbers >= 0 (effector:target ratios)") from None
    if et.ndim != 1 or et.size == 0 or not np.all(np.isfinite(et)) or np.any(et < 0):
        raise InputError("et_ratios", list(np.ravel(et)) if et.size < 20 else "...",
                         "a non-empty list of finite numbers >= 0 (effector:target ratios)")
    return et


def simulate_well(effectors: float, targets: float, rates: Mapping[str, np.ndarray], class_frac: np.ndarray,
                  transduced_fraction: float, p: Mapping[str, float], hours: float, leak_per_h: float,
                  max_release: float, rtol: float = 1e-8) -> dict[str, float]:
    """Integrate one well over ``hours``; returns killed fractions, exhausted share and released label."""
    nc = class_frac.size
    k_r, kappa, f_comp = p["k_r"], p["kappa"], p["f_comp"]
    r_t, r_u, car_t = rates["r_t"], rates["r_u"], rates["car_t"]
    t0 = targets * class_frac
    kt0 = f_comp * transduced_fraction * effectors
    ku0 = f_comp * (1.0 - transduced_fraction) * effectors
    # state: T (nc), K_t, K_u, extra released label (cells x label), CAR kills
    y0 = np.concatenate([t0, [kt0, ku0, 0.0, 0.0]])
    lab_end = math.exp(-leak_per_h * hours)

    def rhs(t: float, y: np.ndarray) -> np.ndarray:
        tt = np.maximum(y[:nc], 0.0)
        kt = max(y[nc], 0.0)
        ku = max(y[nc + 1], 0.0)
        # the kinetic model's law (nksim.kinetics.processes.killing), per target cell of each class
        by_t = kill_rate_per_target(kt, r_t, kt + ku, tt.sum(), k_r) * tt
        by_u = kill_rate_per_target(ku, r_u, kt + ku, tt.sum(), k_r) * tt
        kills = by_t + by_u
        lab = math.exp(-leak_per_h * t)
        dy = np.empty_like(y)
        dy[:nc] = -kills
        dy[nc] = -by_t.sum() / kappa
        dy[nc + 1] = -by_u.sum() / kappa
        # label released beyond the spontaneous leak: a target killed at t releases m e^{-lam t} now instead of
        # leaking e^{-lam t} - e^{-lam H} by the end (exact zero without kills)
        dy[nc + 2] = kills.sum() * ((max_release - 1.0) * lab + lab_end)
        dy[nc + 3] = (kill_rate_per_target(kt, car_t, kt + ku, tt.sum(), k_r) * tt).sum()
        return dy

    sol = solve_ivp(rhs, (0.0, hours), y0, method="LSODA", rtol=rtol, atol=1e-9 * max(targets, 1.0))
    if not sol.success:  # pragma: no cover - LSODA on a smooth, non-stiff system
        raise RuntimeError(f"assay ODE failed: {sol.message}")
    y = sol.y[:, -1]
    killed = t0.sum() - np.maximum(y[:nc], 0.0).sum()
    k0 = kt0 + ku0
    return {"fraction_killed": killed / targets, "fraction_killed_car": y[nc + 3] / targets,
            "kills_per_effector": killed / effectors if effectors > 0 else 0.0,
            "exhausted_fraction": (k0 - y[nc] - y[nc + 1]) / effectors if effectors > 0 else 0.0,
            "killing_competent": k0, "extra_release": y[nc + 2] / targets}


def release_assay(effector: Effector | Scenario | str, target: Target | None = None,
                  et_ratios: Sequence[float] = (1.0, 2.5, 5.0, 10.0, 20.0), hours: float | None = None, *,
                  targets_per_well: float | None = None, params: Mapping[str, float] | None = None,
                  antigen_fraction: float | None = None) -> pd.DataFrame:
    """% specific lysis of ``target`` by ``effector`` at each E:T ratio after ``hours`` (default registry
    ``assay_hours``, 4 h).

    ``effector`` may be an :class:`Effector`, a :class:`nksim.Scenario` or a scenario name; with a scenario the
    scenario's parameter overrides apply and ``target`` defaults to ``Target.from_scenario(scenario,
    antigen_fraction)``. ``params`` overrides registry values by name (e.g. ``{"k_nat": 2.0}``).
    Returns one row per E:T (columns ``COLUMNS``); ``attrs`` hold the settings (hours, targets per well, ...)."""
    scenario = None
    if isinstance(effector, str):
        from nksim.spec.io import load_scenario

        effector = load_scenario(effector)
    if isinstance(effector, Scenario):
        scenario = effector
        effector = Effector.from_scenario(scenario)
        if target is None:
            target = Target.from_scenario(scenario, antigen_fraction, params)
    if not isinstance(effector, Effector):
        raise InputError("effector", type(effector).__name__, "an Effector, a Scenario or a scenario name")
    if target is None:
        target = Target()
    if not isinstance(target, Target):
        raise InputError("target", type(target).__name__, "a Target")
    p = resolve_params(params, scenario)
    et = _et_ratios(et_ratios)
    hours = check_positive("hours", p["assay_hours"] if hours is None else hours)
    n_t = check_positive("targets_per_well", p["assay_targets_per_well"] if targets_per_well is None
                         else targets_per_well)
    spont = p["assay_spontaneous_release"]
    mx = p["assay_max_release"]
    if not 0.0 <= spont < mx <= 1.0:
        raise InputError("assay_spontaneous_release", spont,
                         f"0 <= spontaneous < maximum release ({mx}) <= 1")
    for name in ("k_r", "kappa", "f_comp"):
        if not p[name] > 0:
            raise InputError(name, p[name], "a number > 0")
    # leak rate from the spontaneous release over the registry's reference duration
    leak = -math.log(1.0 - spont) / p["assay_hours"]
    spont_h = 1.0 - math.exp(-leak * hours)
    rates = pathway_rates(effector, target, p)
    _, _, frac = antigen_classes(target)
    rows = []
    for r in et:
        w = simulate_well(r * n_t, n_t, rates, frac, effector.transduced_fraction, p, hours, leak, mx)
        extra = w["extra_release"]
        exp_rel = spont_h + extra
        rows.append({"et_ratio": r, "effectors": r * n_t, "targets": n_t,
                     "killing_competent": w["killing_competent"], "fraction_killed": w["fraction_killed"],
                     "fraction_killed_car": w["fraction_killed_car"], "kills_per_effector": w["kills_per_effector"],
                     "exhausted_fraction": w["exhausted_fraction"], "experimental_release": exp_rel,
                     "spontaneous_release": spont_h, "maximum_release": mx,
                     "pct_specific_lysis": 100.0 * extra / (mx - spont_h)})
    df = pd.DataFrame(rows, columns=COLUMNS)
    df.attrs.update({"hours": hours, "targets_per_well": n_t, "effector": effector.name, "target": target.name,
                     "scenario": scenario.name if scenario is not None else None})
    return df
