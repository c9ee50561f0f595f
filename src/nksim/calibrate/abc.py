"""ABC-SMC calibration of free parameters to published summaries (``nksim.calibrate.to_targets``).

What it does: free parameters (a :class:`~nksim.calibrate.space.ParameterSpace`, priors from the registry ranges)
and published targets (``nksim.calibrate.targets.TARGETS``, by short key, e.g. ``ft596_tmax``, or a
:class:`Target`) go in; out comes a weighted posterior population of parameter sets whose simulated cohorts meet the
targets, with the fit per target, marginal summaries, correlations, each target's posterior predictive interval and a
calibration file (posterior medians, 95% intervals in ``uncertainty``).

**Algorithm.** Population Monte Carlo ABC (Beaumont, Cornuet, Marin & Robert 2009, Biometrika 96:983; Toni et al.
2009, J R Soc Interface 6:187) with an adaptive tolerance schedule (each generation's epsilon is the weighted median,
``quantile``, of the previous population's distances; Del Moral, Doucet & Jasra 2012). Generation 0 samples the
prior; generation t perturbs particles drawn by weight with a Gaussian kernel whose covariance is twice the weighted
covariance of the previous population (Beaumont 2009), on the scale of each prior (log for log-uniform and
log-normal priors), rejects proposals outside the prior's support without simulating, accepts a proposal whose
distance is <= epsilon_t, and weights it by prior density / sum_j w_j K(theta | theta_j) (both on that scale). It
stops after ``generations``, at ``min_epsilon``, or when a generation's simulation budget is spent (the last full
population is kept and the history says so).

**Distance.** Per target, the distance is in units of the target's tolerance: d_i = |value - centre| / half-width of
the published interval [low, high] (d_i <= 1 means the target is met), on the log scale for targets whose interval
spans a factor >= 4 (fold expansion, Cmax: geometric centre, half the log-width). The particle's distance is the root
mean square of the d_i, so epsilon <= 1 means "met on average" and every d_i is reported.

**Common random numbers.** With ``crn=True`` (default for cohorts) every particle simulates the same virtual patients
(same seed): the cohort summary is then a deterministic function of the parameters and the posterior is the prior
restricted to where the summaries lie within epsilon, without cohort-to-cohort noise masking the parameter effect.
Cohort sampling noise comes back in the posterior predictive check, which draws particles by weight and simulates
fresh cohorts (new seeds). With ``crn=False`` each simulation gets its own seed: the usual stochastic ABC, whose
posterior includes the sampling noise of the summaries (the toy test with a known posterior uses this).

**Why not pyabc.** pyabc 0.13 is on the index, but it would bring ~50 packages into the environment (dask and
distributed, redis, ipykernel/ipython/jupyter_client, pyzmq, GitPython, SQLAlchemy, scikit-learn), imports dask at
start and runs multi-process samplers by default; nksim's simulator is in-process and single-particle cheap (~0.1 s
for 40 patients). The algorithm above is pyabc's default (adaptive-population-free variant: fixed population size,
median epsilon, multivariate normal transition with 2x weighted covariance) in ~250 lines with numpy and scipy, which
nksim already depends on; the run's history is written as CSV in the run folder (``save``) instead of pyabc's sqlite.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable, Mapping, Sequence

import numpy as np
import pandas as pd
from scipy import stats
from scipy.special import logsumexp

from nksim.calibrate.space import FreeParameter, ParameterSpace, free
from nksim.calibrate.targets import TARGETS, Target
from nksim.errors import InputError

LOG_SPAN = 4.0  # a target interval spanning at least this factor is scored on the log scale

# short keys for the published targets (nksim.calibrate.targets.TARGETS, by name: rows added to the table do not
# shift them); reported rows have no target
TARGET_KEYS: dict[str, str] = {
    "allo_nk_days_detectable": "unmodified allo NK: days detectable after one infusion (median)",
    "ft596_tmax": "FT596-like: day of peak product cells (median)",
    "ft596_days_detectable": "FT596-like: last day detectable (median)",
    "ft596_crs3": "FT596-like: grade >= 3 CRS",
    "liu_orr": "CD19 CAR/IL-15 CB-NK (Liu 2020): ORR",
    "liu_crs2": "Liu 2020: grade >= 2 CRS",
    "liu_detectable_12mo": "Liu 2020: detectable at 12 months",
    "zuma1_car_d7": "CAR-T-like (ZUMA-1): CAR-T cells/uL at day 7 (median)",
    "zuma1_car_d14": "CAR-T-like (ZUMA-1): CAR-T cells/uL at day 14 (median)",
    "zuma1_car_d28": "CAR-T-like (ZUMA-1): CAR-T cells/uL at day 28 (median)",
    "zuma1_car_d90": "CAR-T-like (ZUMA-1): CAR-T cells/uL at day 90 (median)",
    "bnhl_cart_tmax": "CAR-T-like: Tmax (median)",
    "ball_fold": "B-ALL CAR-T-like: fold expansion (median)",
    "ball_tmax": "B-ALL CAR-T-like: Tmax (median)",
    "ball_cmax": "B-ALL CAR-T-like: Cmax (median)",
    "ball_remission_d28": "B-ALL CAR-T-like: marrow remission at day 28",
    "ball_crs_any": "B-ALL CAR-T-like: CRS any grade",
    "ball_crs3": "B-ALL CAR-T-like: CRS grade >= 3",
    "bnhl_cart_aplasia_d30": "CAR-T-like: B-cell aplasia at day 30",
    "bnhl_cart_aplasia_1y": "CAR-T-like: B-cell aplasia at 1 year",
    "bnhl_cart_orr": "B-NHL CAR-T-like (axi-cel): ORR",
    "bnhl_cart_cr": "B-NHL CAR-T-like (axi-cel): CR",
    "bnhl_cart_pfs_1y": "B-NHL CAR-T-like (axi-cel): progression-free at 1 year",
}
#: keys of targets that became reported rows, with what to fit instead
RETIRED_KEYS: dict[str, str] = {
    "bnhl_cart_fold": "a fittable target: the B-NHL Stein fold is reported since calibration round 5 (a B-ALL / "
                      "4-1BB figure); fit the ZUMA-1 counts zuma1_car_d7, zuma1_car_d14, zuma1_car_d28, zuma1_car_d90",
}
_BY_NAME = {t.name: t for t in TARGETS}


def get_target(key: str | Target) -> Target:
    """A published target by short key (``TARGET_KEYS``) or full name; a :class:`Target` passes through."""
    if isinstance(key, Target):
        tg = key
    elif key in TARGET_KEYS:
        tg = _BY_NAME[TARGET_KEYS[key]]
    elif key in RETIRED_KEYS:
        raise InputError("targets", key, RETIRED_KEYS[key])
    elif key in _BY_NAME:
        tg = _BY_NAME[key]
    else:
        raise InputError("targets", key, f"one of {sorted(TARGET_KEYS)} (or a full target name)")
    if tg.reported:
        raise InputError("targets", key, "a target with a published range (reported rows have none)")
    return tg


def target_key(tg: Target) -> str:
    for k, name in TARGET_KEYS.items():
        if name == tg.name:
            return k
    return tg.name


def km_survival(days: np.ndarray, events: np.ndarray, t: float) -> float:
    """Kaplan-Meier survival at day ``t`` (product-limit over event times <= t)."""
    d = np.asarray(days, float)
    e = np.asarray(events, bool)
    s = 1.0
    for u in np.unique(d[e & (d <= t)]):
        at_risk = int((d >= u).sum())
        if at_risk:
            s *= 1.0 - int(((d == u) & e).sum()) / at_risk
    return float(s)


def summary_target(name: str, scenario: str, metric: str, low: float, high: float, source: str = "user target",
                   overrides: dict | None = None) -> Target:
    """A target on a row of ``SimulationResult.summary()`` (``"ORR"``, ``"CR rate"``, ``"median PFS"``,
    ``"median OS"``, ``"CRS any grade"``, ``"CRS grade>=3"``, ``"DLT rate"``, ...), for ``to_targets``."""
    def value(res) -> float:
        sm = res.summary().set_index("metric")
        if metric not in sm.index:
            raise InputError("summary metric", metric, f"one of {list(sm.index)}")
        return float(sm.loc[metric, "estimate"])

    return Target(name, scenario, f"summary: {metric}", float(low), float(high), source, value, overrides=overrides)


def pfs_target(name: str, scenario: str, day: float, low: float, high: float, source: str = "user target",
               endpoint: str = "pfs") -> Target:
    """A target on Kaplan-Meier PFS (or ``endpoint="os"``) at ``day``."""
    if endpoint not in ("pfs", "os"):
        raise InputError("endpoint", endpoint, "'pfs' or 'os'")
    return Target(name, scenario, f"KM {endpoint.upper()} at day {day:g}", float(low), float(high), source,
                  lambda r: km_survival(r.patients[f"{endpoint}_days"], r.patients[f"{endpoint}_event"], day))


@dataclass(frozen=True)
class Observed:
    """A summary to match: the tolerance interval [low, high] and the scale it is scored on."""

    name: str
    low: float
    high: float
    log: bool = False

    def __post_init__(self) -> None:
        if not (math.isfinite(self.low) and math.isfinite(self.high) and self.low < self.high):
            raise InputError(f"{self.name}.range", [self.low, self.high], "finite bounds with low < high")
        if self.log and self.low <= 0:
            raise InputError(f"{self.name}.range", [self.low, self.high], "a positive low bound on the log scale")

    @classmethod
    def of(cls, tg: Target) -> "Observed":
        log = tg.low > 0 and tg.high / tg.low >= LOG_SPAN
        return cls(target_key(tg), tg.low, tg.high, log)

    def _s(self, x):
        x = np.asarray(x, dtype=float)
        if not self.log:
            return x
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.log(np.where(x > 0, x, np.nan))

    @property
    def center(self) -> float:
        return math.sqrt(self.low * self.high) if self.log else 0.5 * (self.low + self.high)

    def distance(self, value) -> np.ndarray:
        """|value - centre| in half-widths of the interval (<= 1 inside it); NaN values give inf."""
        lo, hi = self._s(self.low), self._s(self.high)
        d = np.abs(self._s(value) - 0.5 * (lo + hi)) / (0.5 * (hi - lo))
        return np.where(np.isfinite(d), d, np.inf)


def distances(values: np.ndarray, observed: Sequence[Observed]) -> np.ndarray:
    """(..., n_targets) values -> (..., n_targets) distances in tolerance half-widths."""
    values = np.asarray(values, dtype=float)
    return np.stack([o.distance(values[..., i]) for i, o in enumerate(observed)], axis=-1)


def aggregate(d: np.ndarray) -> np.ndarray:
    """Root mean square over targets (inf if any target is inf)."""
    d = np.asarray(d, dtype=float)
    with np.errstate(invalid="ignore", over="ignore"):
        return np.sqrt(np.mean(d * d, axis=-1))


# ---------------------------------------------------------------------------------------------------------------- #
# simulator: one cohort per particle, every target's scenario


class CohortSimulator:
    """theta -> the targets' model values: each target scenario simulated once per call (targets sharing a scenario
    share the cohort), with the parameter values applied where they take effect."""

    def __init__(self, targets: Sequence[Target], space: ParameterSpace, n_patients: int = 40) -> None:
        from nksim.spec.io import load_scenario

        if int(n_patients) < 1:
            raise InputError("n_patients", n_patients, "an integer >= 1")
        self.targets = list(targets)
        self.space = space
        self.n_patients = int(n_patients)
        self._groups: dict[tuple, list[int]] = {}
        self._scenarios: dict[tuple, object] = {}
        for i, tg in enumerate(self.targets):
            key = (tg.scenario, tg.transform, str(tg.overrides))
            self._groups.setdefault(key, []).append(i)
            if key not in self._scenarios:
                self._scenarios[key] = tg.transform(load_scenario(tg.scenario))

    def __call__(self, theta: np.ndarray, seed: int) -> np.ndarray:
        from nksim.engine import simulate

        out = np.full(len(self.targets), np.nan)
        for key, idx in self._groups.items():
            tg0 = self.targets[idx[0]]
            try:
                res = simulate(self.space.apply(self._scenarios[key], theta), n_patients=self.n_patients,
                               seed=int(seed), overrides=tg0.overrides, outputs="daily")
            except InputError:  # an unsolvable parameter corner: the particle is rejected
                continue
            for i in idx:
                out[i] = float(self.targets[i].metric(res))
        return out


# ---------------------------------------------------------------------------------------------------------------- #
# the sampler


def _log_axes(space: ParameterSpace) -> np.ndarray:
    return np.array([p.prior in ("loguniform", "lognormal") and p.low > 0 for p in space.params])


def _to_z(space: ParameterSpace, theta: np.ndarray) -> np.ndarray:
    lg = _log_axes(space)
    z = np.array(theta, dtype=float, copy=True)
    z[..., lg] = np.log(z[..., lg])
    return z


def _from_z(space: ParameterSpace, z: np.ndarray) -> np.ndarray:
    lg = _log_axes(space)
    th = np.array(z, dtype=float, copy=True)
    th[..., lg] = np.exp(th[..., lg])
    return th


def _log_prior_z(space: ParameterSpace, z: np.ndarray) -> float:
    """Prior density of z (log-scale axes carry the Jacobian theta)."""
    th = _from_z(space, z)
    lp = space.log_prior(th)
    return lp + float(np.sum(z[_log_axes(space)])) if math.isfinite(lp) else -math.inf


def weighted_quantile(x: np.ndarray, w: np.ndarray, q) -> np.ndarray:
    x = np.asarray(x, dtype=float)
    w = np.asarray(w, dtype=float)
    o = np.argsort(x)
    cw = np.cumsum(w[o])
    cw = (cw - 0.5 * w[o]) / cw[-1]
    return np.interp(q, cw, x[o])


def _weighted_cov(z: np.ndarray, w: np.ndarray) -> np.ndarray:
    w = w / w.sum()
    m = w @ z
    d = z - m
    cov = (d * w[:, None]).T @ d / max(1.0 - float((w * w).sum()), 1e-12)
    return np.atleast_2d(cov)


@dataclass
class ABCResult:
    """A weighted posterior population and how it was reached (``history``: one row per generation)."""

    space: ParameterSpace
    observed: list[Observed]
    theta: np.ndarray          # (N, dim) last population
    weights: np.ndarray        # (N,) normalized
    values: np.ndarray         # (N, n_targets) simulated summaries of the accepted particles
    distance: np.ndarray       # (N,) aggregate distance
    history: pd.DataFrame
    populations: pd.DataFrame  # every generation's particles (generation, parameters, weight, distance, values)
    settings: dict = field(default_factory=dict)
    predictive: pd.DataFrame | None = None  # posterior predictive per target (posterior_predictive)
    checked: list[Observed] = field(default_factory=list)  # targets predicted only, never fitted

    @property
    def names(self) -> list[str]:
        return self.space.names

    @property
    def ess(self) -> float:
        return float(1.0 / np.sum(self.weights ** 2))

    @property
    def epsilon(self) -> float:
        return float(self.history["epsilon"].iloc[-1])

    def particles(self) -> pd.DataFrame:
        df = pd.DataFrame(self.theta, columns=self.names)
        df["weight"] = self.weights
        df["distance"] = self.distance
        for i, o in enumerate(self.observed):
            df[f"value:{o.name}"] = self.values[:, i]
        return df

    def marginals(self) -> pd.DataFrame:
        rows = []
        w = self.weights
        for j, p in enumerate(self.space.params):
            x = self.theta[:, j]
            m = float(w @ x)
            sd = float(math.sqrt(max(w @ (x - m) ** 2, 0.0)))
            q = weighted_quantile(x, w, [0.025, 0.5, 0.975])
            rows.append({"parameter": p.name, "prior": p.describe(), "mean": m, "sd": sd, "median": q[1],
                         "ci_low": q[0], "ci_high": q[2]})
        return pd.DataFrame(rows)

    def correlations(self) -> pd.DataFrame:
        """Weighted correlations between parameters on the sampler's scale (log for log-scale priors)."""
        z = _to_z(self.space, self.theta)
        c = _weighted_cov(z, self.weights)
        sd = np.sqrt(np.maximum(np.diag(c), 1e-300))
        return pd.DataFrame(c / np.outer(sd, sd), index=self.names, columns=self.names)

    def fit(self) -> pd.DataFrame:
        """Per fitted target: interval, the accepted particles' values (weighted median and 95% range), the weight
        share meeting the target and the median distance; predictive columns when computed."""
        rows = []
        d = distances(self.values, self.observed)
        for i, o in enumerate(self.observed):
            v = self.values[:, i]
            q = weighted_quantile(v, self.weights, [0.025, 0.5, 0.975])
            rows.append({"target": o.name, "role": "fitted", "low": o.low, "high": o.high, "scale": "log" if o.log
                         else "linear", "posterior_median": q[1], "posterior_low": q[0], "posterior_high": q[2],
                         "share_met": float(self.weights @ (d[:, i] <= 1.0)),
                         "median_distance": float(weighted_quantile(d[:, i], self.weights, 0.5))})
        df = pd.DataFrame(rows)
        if self.predictive is not None:
            df = df.merge(self.predictive, on="target", how="left")
            extra = self.predictive[~self.predictive["target"].isin(df["target"])].copy()
            if len(extra):
                chk = {o.name: o for o in self.checked}
                extra.insert(1, "role", "checked")
                extra.insert(2, "low", [chk[t].low if t in chk else np.nan for t in extra["target"]])
                extra.insert(3, "high", [chk[t].high if t in chk else np.nan for t in extra["target"]])
                df = pd.concat([df, extra], ignore_index=True)
        return df

    def calibration(self, notes: str = ""):
        from nksim.spec.calibration import Calibration

        m = self.marginals()
        targets = ", ".join(f"{o.name} [{o.low:g}, {o.high:g}]" for o in self.observed)
        unc = {r.parameter: {"mean": float(r.mean), "sd": float(r.sd), "ci_low": float(r.ci_low),
                             "ci_high": float(r.ci_high)}
               for r in m.itertuples()}
        s = self.settings
        return Calibration(
            values={r.parameter: float(r.median) for r in m.itertuples()},
            method="ABC-SMC (nksim.calibrate.abc; posterior median)",
            objective=f"RMS distance in tolerance half-widths to {targets}",
            objective_value=self.epsilon, seed=s.get("seed"), uncertainty=unc,
            free=[p.describe() for p in self.space.params],
            data=[{"target": o.name, "range": f"[{o.low:g}, {o.high:g}]"} for o in self.observed],
            notes=(f"population {s.get('population')}, {len(self.history)} generations, {s.get('n_patients')} "
                   f"patients per cohort, crn {s.get('crn')}, {int(self.history['n_simulations'].sum())} "
                   f"simulations. uncertainty: weighted posterior mean, sd and 95% quantiles (ci_low, ci_high). "
                   f"{notes}").strip())

    def save(self, folder: str | Path) -> Path:
        """Run folder: particles.csv (last population), populations.csv (every generation), history.csv, fit.csv,
        marginals.csv, correlations.csv, calibration.yaml."""
        out = Path(folder)
        out.mkdir(parents=True, exist_ok=True)
        self.particles().to_csv(out / "particles.csv", index=False)
        self.populations.to_csv(out / "populations.csv", index=False)
        self.history.to_csv(out / "history.csv", index=False)
        self.fit().to_csv(out / "fit.csv", index=False)
        self.marginals().to_csv(out / "marginals.csv", index=False)
        self.correlations().to_csv(out / "correlations.csv")
        self.calibration().save(out / "calibration.yaml")
        return out

    def report(self) -> str:
        lines = ["generations:", self.history.to_string(index=False, float_format=lambda v: f"{v:.4g}"),
                 "", "posterior marginals:",
                 self.marginals().drop(columns="prior").to_string(index=False, float_format=lambda v: f"{v:.4g}"),
                 "", "posterior correlations (sampler scale):",
                 self.correlations().to_string(float_format=lambda v: f"{v:.2f}"), "", "fit per target:",
                 self.fit().to_string(index=False, float_format=lambda v: f"{v:.4g}")]
        return "\n".join(lines)


def abc_smc(space: ParameterSpace, simulator: Callable[[np.ndarray, int], np.ndarray],
            observed: Sequence[Observed], population: int = 50, generations: int = 4, quantile: float = 0.5,
            min_epsilon: float = 0.0, max_simulations: int = 5000, crn: bool = True, seed: int = 0,
            progress: Callable[[str], None] | None = None) -> ABCResult:
    """ABC-SMC (module docstring). ``simulator(theta, seed)`` returns the summaries in the order of ``observed``;
    ``max_simulations`` caps the simulations of one generation."""
    if int(population) < 2:
        raise InputError("population", population, "an integer >= 2")
    if int(generations) < 1:
        raise InputError("generations", generations, "an integer >= 1")
    if not 0.0 < quantile < 1.0:
        raise InputError("quantile", quantile, "a number in (0, 1)")
    if not observed:
        raise InputError("targets", [], "one or more targets")
    rng = np.random.default_rng(seed)
    n = int(population)
    dim = space.dim
    hist, pops = [], []

    def run(theta):
        s = seed if crn else int(rng.integers(2**31 - 1))
        v = np.asarray(simulator(theta, s), dtype=float)
        if v.shape != (len(observed),):
            raise InputError("simulator output", list(v.ravel())[:8], f"{len(observed)} values")
        return v

    def record(g, th, w, dist, vals, eps, nsim, nprop, t0, note=""):
        hist.append({"generation": g, "epsilon": eps, "n_simulations": nsim, "n_proposals": nprop,
                     "acceptance": n / max(nsim, 1), "ess": float(1.0 / np.sum(w ** 2)),
                     "median_distance": float(weighted_quantile(dist, w, 0.5)), "seconds": time.time() - t0,
                     "note": note})
        df = pd.DataFrame(th, columns=space.names)
        df.insert(0, "generation", g)
        df["weight"], df["distance"] = w, dist
        for i, o in enumerate(observed):
            df[f"value:{o.name}"] = vals[:, i]
        pops.append(df)
        if progress:
            progress(f"generation {g}: epsilon {eps:.4g}, {nsim} simulations, ESS {hist[-1]['ess']:.1f}")

    # generation 0: the prior
    t0 = time.time()
    th, vals, dist = [], [], []
    nsim = 0
    draws = space.sample(max(4 * n, 64), seed=int(rng.integers(2**31 - 1)))
    k = 0
    while len(th) < n:
        if nsim >= max_simulations:
            raise InputError("max_simulations", max_simulations,
                             f"enough simulations for {n} prior particles with finite distance")
        if k == len(draws):
            draws, k = space.sample(max(4 * n, 64), seed=int(rng.integers(2**31 - 1))), 0
        t = draws[k]
        k += 1
        v = run(t)
        nsim += 1
        d = float(aggregate(distances(v, observed)))
        if math.isfinite(d):
            th.append(t), vals.append(v), dist.append(d)
    theta, values, dist = np.array(th), np.array(vals), np.array(dist)
    w = np.full(n, 1.0 / n)
    record(0, theta, w, dist, values, math.inf, nsim, nsim, t0)

    for g in range(1, int(generations)):
        eps = float(weighted_quantile(dist, w, quantile))
        if eps < min_epsilon:
            eps = min_epsilon
        t0 = time.time()
        z_prev = _to_z(space, theta)
        cov = 2.0 * _weighted_cov(z_prev, w)
        cov = cov + np.eye(dim) * 1e-12 * max(float(np.trace(cov)), 1e-12)
        kern = stats.multivariate_normal(mean=np.zeros(dim), cov=cov, allow_singular=True)
        chol = np.linalg.cholesky(cov)
        new_t, new_v, new_d, new_lw = [], [], [], []
        nsim = nprop = 0
        budget_hit = False
        while len(new_t) < n:
            if nsim >= max_simulations or nprop >= 50 * max_simulations:
                budget_hit = True
                break
            j = int(rng.choice(n, p=w))
            z = z_prev[j] + chol @ rng.standard_normal(dim)
            nprop += 1
            lp = _log_prior_z(space, z)
            if not math.isfinite(lp):
                continue
            t = _from_z(space, z)
            v = run(t)
            nsim += 1
            d = float(aggregate(distances(v, observed)))
            if d <= eps:
                lk = logsumexp(np.log(w) + kern.logpdf(z - z_prev).reshape(-1))
                new_t.append(t), new_v.append(v), new_d.append(d), new_lw.append(lp - lk)
        if budget_hit:
            hist.append({"generation": g, "epsilon": eps, "n_simulations": nsim, "n_proposals": nprop,
                         "acceptance": len(new_t) / max(nsim, 1), "ess": float("nan"),
                         "median_distance": float("nan"), "seconds": time.time() - t0,
                         "note": f"stopped: {max_simulations} simulations gave {len(new_t)}/{n} particles; "
                                 "previous population kept"})
            if progress:
                progress(hist[-1]["note"])
            break
        theta, values, dist = np.array(new_t), np.array(new_v), np.array(new_d)
        lw = np.array(new_lw)
        w = np.exp(lw - lw.max())
        w /= w.sum()
        record(g, theta, w, dist, values, eps, nsim, nprop, t0)
        if eps <= min_epsilon:
            break

    return ABCResult(space, list(observed), theta, w, values, dist, pd.DataFrame(hist),
                     pd.concat(pops, ignore_index=True),
                     settings={"population": n, "generations": int(generations), "quantile": quantile,
                               "min_epsilon": min_epsilon, "crn": crn, "seed": seed,
                               "max_simulations": max_simulations})


def posterior_predictive(result: ABCResult, simulator: Callable[[np.ndarray, int], np.ndarray],
                         observed: Sequence[Observed], n_draws: int = 20, seed: int = 1) -> pd.DataFrame:
    """Draw particles by weight and simulate each with a fresh seed (a new virtual cohort): per target the predictive
    median and 95% interval, whether that interval overlaps the target range, the share of draws meeting the target
    and the distance of the predictive median (half-widths)."""
    rng = np.random.default_rng(seed)
    idx = rng.choice(len(result.weights), size=int(n_draws), p=result.weights)
    vals = np.array([simulator(result.theta[i], seed * 100003 + k + 1) for k, i in enumerate(idx)])
    rows = []
    for i, o in enumerate(observed):
        v = vals[:, i]
        ok = np.isfinite(v)
        if not ok.any():
            rows.append({"target": o.name, "pred_median": np.nan, "pred_low": np.nan, "pred_high": np.nan,
                         "pred_overlaps": False, "pred_share_met": 0.0, "pred_distance": np.inf})
            continue
        q = np.quantile(v[ok], [0.025, 0.5, 0.975])
        rows.append({"target": o.name, "pred_median": q[1], "pred_low": q[0], "pred_high": q[2],
                     "pred_overlaps": bool(q[0] <= o.high and q[2] >= o.low),
                     "pred_share_met": float(np.mean(o.distance(v) <= 1.0)),
                     "pred_distance": float(o.distance(q[1]))})
    return pd.DataFrame(rows)


def space_of(free_params: ParameterSpace | Iterable[str | FreeParameter] | Mapping[str, Sequence[float]]
             ) -> ParameterSpace:
    """A ParameterSpace from names, FreeParameters or {name: (low, high)} (registry priors otherwise)."""
    if isinstance(free_params, ParameterSpace):
        return free_params
    if isinstance(free_params, Mapping):
        ps = []
        for k, b in free_params.items():
            if b is None:
                ps.append(free(k))
            elif len(b) == 2:
                ps.append(free(k, float(b[0]), float(b[1])))
            else:
                raise InputError(f"free.{k}", b, "None or (low, high)")
        return ParameterSpace(ps)
    if isinstance(free_params, str):
        free_params = [free_params]
    return ParameterSpace(list(free_params))


def to_targets(targets: Sequence[str | Target], free_params, n_patients: int = 40, population: int = 40,
               generations: int = 4, quantile: float = 0.5, min_epsilon: float = 0.0, max_simulations: int = 2000,
               seed: int = 0, crn: bool = True, predictive_draws: int = 20, check: Sequence[str | Target] = (),
               out: str | Path | None = None, progress: Callable[[str], None] | None = None) -> ABCResult:
    """Calibrate free parameters to published targets by ABC-SMC (module docstring).

    ``targets``: keys of :data:`TARGET_KEYS`, full target names or :class:`Target` objects (fitted). ``check``:
    targets only predicted (posterior predictive), never fitted. ``free_params``: names, FreeParameters,
    ``{name: (low, high)}`` or a ParameterSpace. ``n_patients``: patients per simulated cohort (common random numbers:
    seed ``seed`` for every particle when ``crn``). ``predictive_draws``: fresh cohorts for the posterior predictive
    (0 skips it). ``out``: a run folder to write (``ABCResult.save``)."""
    if isinstance(targets, (str, Target)):
        targets = [targets]
    fitted = [get_target(t) for t in targets]
    checked = [get_target(t) for t in check]
    if not fitted:
        raise InputError("targets", list(targets), f"one or more of {sorted(TARGET_KEYS)}")
    names = [t.name for t in fitted]
    if len(set(names)) != len(names):
        raise InputError("targets", [target_key(t) for t in fitted], "distinct targets")
    space = space_of(free_params)
    sim = CohortSimulator(fitted, space, n_patients)
    obs = [Observed.of(t) for t in fitted]
    res = abc_smc(space, sim, obs, population=population, generations=generations, quantile=quantile,
                  min_epsilon=min_epsilon, max_simulations=max_simulations, crn=crn, seed=seed, progress=progress)
    res.settings.update({"n_patients": int(n_patients), "targets": [o.name for o in obs],
                         "checked": [target_key(t) for t in checked]})
    if predictive_draws:
        allt = fitted + [t for t in checked if t.name not in names]
        psim = CohortSimulator(allt, space, n_patients)
        pobs = [Observed.of(t) for t in allt]
        res.predictive = posterior_predictive(res, psim, pobs, n_draws=predictive_draws, seed=seed + 1)
        res.checked = pobs[len(fitted):]
    if out is not None:
        res.save(out)
    return res
