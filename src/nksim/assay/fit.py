"""Read a killing rate (k_nat, k_car, k_adcc, or kappa / k_r) from assay data: least squares on the simulated curve.

The parameter is fitted on the log scale (it is positive) with ``scipy.optimize.least_squares``; the 95% interval is
the Wald interval on log k from the Gauss-Newton covariance s^2 (J'J)^-1, with s^2 = residual sum of squares /
(n - 1) and a Student t quantile, mapped back with exp (so it is asymmetric and positive).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Mapping, Sequence

import numpy as np
from scipy import optimize, stats

from nksim.assay.model import Effector, Target
from nksim.assay.release import _et_ratios, release_assay
from nksim.errors import InputError
from nksim.registry import load_registry

FITTABLE = ("k_nat", "k_car", "k_adcc", "kappa", "k_r")


@dataclass(frozen=True)
class KillRateFit:
    """A fitted parameter (registry unit, per day for rates) with its 95% interval."""

    parameter: str
    estimate: float
    ci_low: float
    ci_high: float
    se_log: float
    rmse_pct: float
    n: int
    unit: str
    others: tuple["KillRateFit", ...] = ()

    def as_dict(self) -> dict[str, float | str | int]:
        d = {k: v for k, v in self.__dict__.items() if k != "others"}
        for o in self.others:
            d.update({f"{o.parameter}_{k}": v for k, v in o.as_dict().items() if k not in ("parameter", "n")})
        return d


def fit_kill_rate(et: Sequence[float], lysis: Sequence[float], effector: Effector | None = None,
                  target: Target | None = None, parameter: str = "k_nat", hours: float | None = None, *,
                  targets_per_well: float | None = None, params: Mapping[str, float] | None = None,
                  level: float = 0.95, also_fit: Sequence[str] = ()) -> KillRateFit:
    """Fit ``parameter`` so that ``release_assay`` reproduces ``lysis`` (% specific lysis) at ratios ``et``.

    Other parameters stay at the registry values (or ``params``), except those in ``also_fit`` (e.g. ``("k_r",)``:
    the E:T at half-maximal lysis reads k_r, the plateau the rate / k_r), fitted jointly and returned in ``others``.
    ``effector`` defaults to an unmodified NK product, ``target`` to a plain target line. Needs at least one more
    point than fitted parameters. ``lysis`` in percent; the estimate is in the registry unit (per day for rates).
    ``level``: coverage of the interval (0.95)."""
    if not 0.0 < float(level) < 1.0:
        raise InputError("level", level, "an interval coverage in (0, 1), e.g. 0.95")
    names = [parameter, *also_fit]
    for i, name in enumerate(names):
        if name not in FITTABLE:
            raise InputError("parameter" if i == 0 else "also_fit", name, f"one of {FITTABLE}")
    if len(set(names)) != len(names):
        raise InputError("also_fit", list(also_fit), f"names other than {parameter!r}, each once")
    x = _et_ratios(et)
    try:
        y = np.asarray(lysis, dtype=float)
    except (TypeError, ValueError):
        raise InputError("lysis", lysis, "numbers (% specific lysis)") from None
    if y.shape != x.shape:
        raise InputError("lysis", list(np.ravel(y)), f"one % lysis value per E:T ratio ({x.size})")
    if not np.all(np.isfinite(y)) or np.any(y < -100) or np.any(y > 200):
        raise InputError("lysis", list(y), "finite % specific lysis values (between -100 and 200)")
    if x.size < len(names) + 1:
        raise InputError("et", list(x), f"at least {len(names) + 1} E:T ratios to fit {len(names)} parameter(s)")
    effector = effector or Effector()
    target = target or Target()
    if parameter == "k_car" and not effector.construct.has_car:
        raise InputError("parameter", parameter, "k_nat / k_adcc for an effector without a CAR")
    reg = load_registry()
    base = dict(params or {})
    start = np.log([float(base.get(n, reg[n].default)) for n in names])

    def model(theta: np.ndarray) -> np.ndarray:
        pp = {**base, **{n: float(math.exp(v)) for n, v in zip(names, theta)}}
        curve = release_assay(effector, target, x, hours, targets_per_well=targets_per_well, params=pp)
        return curve["pct_specific_lysis"].to_numpy()

    k = len(names)
    res = optimize.least_squares(lambda th: model(th) - y, x0=start, method="trf",
                                 bounds=(np.full(k, math.log(1e-6)), np.full(k, math.log(1e4))), diff_step=1e-4,
                                 xtol=1e-10)
    resid = res.fun
    n = x.size
    dof = max(n - k, 1)
    s2 = float(resid @ resid) / dof
    try:
        cov = s2 * np.linalg.inv(res.jac.T @ res.jac)
        se = np.sqrt(np.maximum(np.diag(cov), 0.0))
    except np.linalg.LinAlgError:
        se = np.full(k, math.inf)
    tq = float(stats.t.ppf(0.5 + level / 2.0, dof))
    rmse = math.sqrt(float(resid @ resid) / n)
    fits = [KillRateFit(parameter=nm, estimate=math.exp(th), ci_low=math.exp(th - tq * s) if math.isfinite(s) else 0.0,
                        ci_high=math.exp(th + tq * s) if math.isfinite(s) else math.inf, se_log=float(s),
                        rmse_pct=rmse, n=n, unit=reg[nm].unit) for nm, th, s in zip(names, res.x, se)]
    return KillRateFit(**{**fits[0].__dict__, "others": tuple(fits[1:])})
