"""Free parameters by registry name, with priors from the registry's plausible ranges.

Any registry parameter can be made free (``free("k_car")``), and so can its between-patient variance
(``free("omega2:k_car")``). Unless given, bounds are the registry's range and the prior is

- **log-uniform** on the range for a parameter whose registry transform is "log" (positive, spanning decades), or
- **uniform** on the range for "linear" and "logit" parameters (fractions, shifts),
- for a variance ``omega2:NAME``: uniform on [0, 1] (log-normal CV from 0 to ~130%) unless bounds are given;

``prior="lognormal"`` instead centres a log-normal on the registry default with the range as its 95% interval
(sd = ln(high/low) / (2 x 1.96)), truncated to the range; ``prior="normal"`` does the same on the linear scale.
A :class:`ParameterSpace` maps parameter vectors to scenarios (``apply``), samples the prior, evaluates it, and
maps to and from the unit cube (prior CDF), which is what optimizers, SALib and ABC samplers work on.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Iterable, Literal, Mapping, Sequence

import numpy as np
from scipy import stats

from nksim.errors import InputError
from nksim.registry import Registry, load_registry
from nksim.spec.calibration import OMEGA, apply_values
from nksim.spec.scenario import Scenario

Prior = Literal["loguniform", "uniform", "lognormal", "normal"]
PRIORS = ("loguniform", "uniform", "lognormal", "normal")
Z95 = 1.959963984540054


@dataclass(frozen=True)
class FreeParameter:
    """One free parameter: a registry name (or ``omega2:NAME``), bounds and a prior on them."""

    name: str
    low: float
    high: float
    prior: Prior
    center: float  # registry default (location of the lognormal / normal prior)

    @property
    def is_variance(self) -> bool:
        return self.name.startswith(OMEGA)

    @property
    def registry_name(self) -> str:
        return self.name[len(OMEGA):] if self.is_variance else self.name

    def distribution(self):
        """The prior as a frozen scipy distribution (truncated to the bounds for the bell-shaped priors)."""
        lo, hi = self.low, self.high
        if self.prior == "loguniform":
            return stats.loguniform(lo, hi)
        if self.prior == "uniform":
            return stats.uniform(lo, hi - lo)
        if self.prior == "lognormal":
            mu, sd = math.log(self.center), math.log(hi / lo) / (2 * Z95)
            a, b = (math.log(lo) - mu) / sd, (math.log(hi) - mu) / sd
            return _LogTruncNorm(a, b, mu, sd)
        sd = (hi - lo) / (2 * Z95)
        return stats.truncnorm((lo - self.center) / sd, (hi - self.center) / sd, loc=self.center, scale=sd)

    def describe(self) -> str:
        return f"{self.name}: {self.prior} on [{self.low:g}, {self.high:g}]"


class _LogTruncNorm:
    """exp of a truncated normal (scipy has no truncated log-normal): the methods the space uses."""

    def __init__(self, a: float, b: float, mu: float, sd: float) -> None:
        self._z = stats.truncnorm(a, b, loc=mu, scale=sd)

    def rvs(self, size=None, random_state=None):
        return np.exp(self._z.rvs(size=size, random_state=random_state))

    def ppf(self, q):
        return np.exp(self._z.ppf(q))

    def cdf(self, x):
        return self._z.cdf(np.log(np.maximum(x, 1e-300)))

    def logpdf(self, x):
        x = np.asarray(x, dtype=float)
        with np.errstate(divide="ignore"):
            return self._z.logpdf(np.log(np.maximum(x, 1e-300))) - np.log(np.maximum(x, 1e-300))


def free(name: str, low: float | None = None, high: float | None = None, prior: Prior | None = None,
         registry: Registry | None = None) -> FreeParameter:
    """A free parameter with the registry's range and the default prior for its transform (module docstring)."""
    reg = registry or load_registry()
    is_var = name.startswith(OMEGA)
    base = name[len(OMEGA):] if is_var else name
    if base not in reg:
        raise InputError("free parameter", name, f"a registry parameter name (or omega2:NAME); close: {reg.close(base)}")
    p = reg[base]
    if is_var:
        lo = 0.0 if low is None else float(low)
        hi = 1.0 if high is None else float(high)
        center = p.iiv_omega2 or 0.0
        pr = prior or "uniform"
    else:
        lo = p.low if low is None else float(low)
        hi = p.high if high is None else float(high)
        center = p.default
        pr = prior or ("loguniform" if p.transform == "log" else "uniform")
    if pr not in PRIORS:
        raise InputError(f"{name}.prior", pr, f"one of {PRIORS}")
    if not (math.isfinite(lo) and math.isfinite(hi) and lo < hi):
        raise InputError(f"{name}.bounds", [lo, hi], "finite bounds with low < high")
    if pr in ("loguniform", "lognormal") and lo <= 0:
        raise InputError(f"{name}.bounds", [lo, hi], f"a positive lower bound for a {pr} prior")
    if pr in ("lognormal", "normal") and not lo <= center <= hi:
        center = math.sqrt(lo * hi) if pr == "lognormal" else 0.5 * (lo + hi)
    return FreeParameter(name, lo, hi, pr, center)


class ParameterSpace:
    """An ordered set of free parameters."""

    def __init__(self, params: Iterable[FreeParameter | str]) -> None:
        ps = [free(p) if isinstance(p, str) else p for p in params]
        names = [p.name for p in ps]
        if len(set(names)) != len(names) or not names:
            raise InputError("free parameters", names, "one or more distinct names")
        self.params: tuple[FreeParameter, ...] = tuple(ps)
        self._dists = [p.distribution() for p in ps]

    @property
    def names(self) -> list[str]:
        return [p.name for p in self.params]

    @property
    def dim(self) -> int:
        return len(self.params)

    def __repr__(self) -> str:
        return "ParameterSpace(" + "; ".join(p.describe() for p in self.params) + ")"

    def as_dict(self, theta: Sequence[float]) -> dict[str, float]:
        theta = self._check(theta)
        return {p.name: float(v) for p, v in zip(self.params, theta)}

    def _check(self, theta: Sequence[float]) -> np.ndarray:
        t = np.asarray(theta, dtype=float)
        if t.shape != (self.dim,):
            raise InputError("theta", list(np.ravel(t))[:8], f"{self.dim} values ({', '.join(self.names)})")
        return t

    def sample(self, n: int, seed: int = 0) -> np.ndarray:
        """(n, dim) draws from the prior (independent across parameters), reproducible by ``seed``."""
        rng = np.random.default_rng(seed)
        return np.column_stack([d.rvs(size=n, random_state=rng) for d in self._dists]) if n else np.zeros((0, self.dim))

    def from_unit(self, u: np.ndarray) -> np.ndarray:
        """Parameter values at prior quantiles ``u`` in (0, 1) (shape (..., dim))."""
        u = np.clip(np.asarray(u, dtype=float), 1e-12, 1 - 1e-12)
        return np.stack([d.ppf(u[..., j]) for j, d in enumerate(self._dists)], axis=-1)

    def to_unit(self, theta: np.ndarray) -> np.ndarray:
        theta = np.asarray(theta, dtype=float)
        return np.stack([d.cdf(theta[..., j]) for j, d in enumerate(self._dists)], axis=-1)

    def log_prior(self, theta: Sequence[float]) -> float:
        t = self._check(theta)
        if np.any(t < [p.low for p in self.params]) or np.any(t > [p.high for p in self.params]):
            return -math.inf
        return float(sum(d.logpdf(v) for d, v in zip(self._dists, t)))

    def salib_problem(self) -> dict:
        """The SALib problem on the unit cube (sample there, map with :meth:`from_unit`): every prior, not only
        uniform ones, is sampled through its quantile function."""
        return {"num_vars": self.dim, "names": self.names, "bounds": [[0.0, 1.0]] * self.dim}

    def apply(self, scenario: Scenario, theta: Sequence[float] | Mapping[str, float]) -> Scenario:
        """``scenario`` with these values: registry parameters into ``parameters``, variances into
        ``population.omega2`` (values of the scenario itself are replaced)."""
        values = dict(theta) if isinstance(theta, Mapping) else self.as_dict(theta)
        return apply_values(scenario, values)
