"""Virtual populations by plausible-patient selection (Allen, Rieger & Musante 2016, CPT Pharmacometrics Syst
Pharmacol 5:140).

1. **Plausible patients** (:func:`plausible_population`): parameter sets drawn from the prior (a ParameterSpace,
   one set per sub-cohort) with the scenario's own between-patient draws on top, simulated, and kept when every
   output lies inside its plausibility bounds (physiological ranges, not the data).
2. **Selection** (:func:`select_vpop`, general: any table of plausible outputs and a target distribution): the
   probability of inclusion of plausible patient i is p_i = min(1, sf x r_i / max_j r_j) with
   r_i = f_target(y_i) / f_plausible(y_i), the target density over the plausible population's density (a Gaussian
   kernel density estimate of the plausible outputs). With sf = 1 this is exact rejection sampling from the target
   (fewest patients kept); a larger sf keeps more patients at the cost of a distorted upper tail of r. As in Allen
   2016 the scaling factor is optimized: sf is chosen on a log grid to minimize the sum over outputs of the
   Kolmogorov-Smirnov statistic between the selected population and the target (averaged over ``n_repeats``
   selection draws with common uniforms), which trades the size of the population against its match.
3. **Goodness of match**: per output, the KS statistic and p-value of the selected population against the target
   (one-sample against the target's marginal CDF, or two-sample against observed data).

The target is a frozen scipy distribution (univariate, for one output), a list of them (independent margins), a
frozen ``multivariate_normal``, or observed data (an array or DataFrame, one column per output; its density is a
Gaussian KDE).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Mapping, Sequence

import numpy as np
import pandas as pd
from scipy import stats

from nksim.errors import InputError


@dataclass
class VPopResult:
    selected: pd.DataFrame        # the selected plausible patients (all their columns)
    p_include: np.ndarray         # probability of inclusion of each plausible patient (at the chosen sf)
    scaling_factor: float
    ks: pd.DataFrame              # per output: KS statistic and p-value, selected population vs target
    n_plausible: int
    sf_scores: pd.DataFrame = field(default_factory=pd.DataFrame)  # sf grid: mean summed KS, mean population size

    @property
    def n_selected(self) -> int:
        return len(self.selected)

    @property
    def min_pvalue(self) -> float:
        return float(self.ks["pvalue"].min())

    def report(self) -> str:
        return (f"{self.n_selected} of {self.n_plausible} plausible patients selected (scaling factor "
                f"{self.scaling_factor:.3g})\n" + self.ks.to_string(index=False, float_format=lambda v: f"{v:.3g}"))


class _Target:
    """Density and per-output goodness-of-match for the accepted target forms."""

    def __init__(self, target: Any, columns: list[str]) -> None:
        k = len(columns)
        self.columns = columns
        self.data = None
        self.margins = None
        self.mvn = None
        if isinstance(target, (pd.DataFrame, np.ndarray)):
            data = target[columns].to_numpy(float) if isinstance(target, pd.DataFrame) else np.asarray(target, float)
            data = data.reshape(len(data), -1)
            if data.shape[1] != k or len(data) < 5 or not np.isfinite(data).all():
                raise InputError("target", f"data of shape {data.shape}",
                                 f"finite observed data with >= 5 rows and {k} column(s) ({', '.join(columns)})")
            self.data = data
            self._kde = stats.gaussian_kde(data.T)
        elif hasattr(target, "cov") and hasattr(target, "mean") and hasattr(target, "logpdf"):
            mean = np.atleast_1d(np.asarray(target.mean, float))
            if mean.shape != (k,):
                raise InputError("target", f"multivariate normal of dimension {mean.size}", f"dimension {k}")
            self.mvn = target
            cov = np.atleast_2d(np.asarray(target.cov, float))
            self.margins = [stats.norm(mean[i], np.sqrt(cov[i, i])) for i in range(k)]
        else:
            ms = list(target) if isinstance(target, (list, tuple)) else [target]
            if len(ms) != k or not all(hasattr(m, "cdf") and hasattr(m, "logpdf") for m in ms):
                raise InputError("target", type(target).__name__,
                                 f"a frozen scipy distribution per output ({k}: {', '.join(columns)}), a frozen "
                                 "multivariate_normal, or observed data with those columns")
            self.margins = ms

    def logpdf(self, y: np.ndarray) -> np.ndarray:
        if self.data is not None:
            return self._kde.logpdf(y.T)
        if self.mvn is not None:
            return np.atleast_1d(self.mvn.logpdf(y))
        return np.sum([m.logpdf(y[:, i]) for i, m in enumerate(self.margins)], axis=0)

    def ks(self, y: np.ndarray, i: int):
        if self.data is not None:
            r = stats.ks_2samp(y[:, i], self.data[:, i])
        else:
            r = stats.kstest(y[:, i], self.margins[i].cdf)
        return float(r.statistic), float(r.pvalue)


def select_vpop(plausible: pd.DataFrame | np.ndarray, target: Any, columns: Sequence[str] | None = None,
                scaling_factor: float | None = None, n_repeats: int = 20, n_grid: int = 30, seed: int = 0,
                min_selected: int = 10) -> VPopResult:
    """Select a virtual population from plausible patients so its outputs follow ``target`` (module docstring).

    ``plausible``: one row per plausible patient; ``columns``: the outputs matched (default: all columns of an array,
    or every column of a DataFrame when the target is given for all of them). ``scaling_factor``: fixed sf (>= 1)
    instead of the optimized one. ``min_selected``: sf values keeping fewer patients on average are not chosen."""
    df = plausible if isinstance(plausible, pd.DataFrame) else pd.DataFrame(
        np.asarray(plausible, float).reshape(len(plausible), -1))
    if columns is None:
        columns = list(df.columns)
    columns = [c for c in columns]
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise InputError("columns", missing[0], f"columns of the plausible population: {list(df.columns)}")
    y = df[columns].to_numpy(float)
    if len(y) < 20 or not np.isfinite(y).all():
        raise InputError("plausible", f"{len(y)} rows", "at least 20 plausible patients with finite outputs")
    tg = _Target(target, [str(c) for c in columns])
    kde = stats.gaussian_kde(y.T)
    log_r = tg.logpdf(y) - kde.logpdf(y.T)
    log_r = np.where(np.isfinite(log_r), log_r, -np.inf)
    if not np.isfinite(log_r).any():
        raise InputError("target", "zero density at every plausible patient",
                         "a target distribution overlapping the plausible outputs")
    p0 = np.exp(log_r - log_r.max())  # r_i / max r
    # the selection's own stream (seed, "vpop"): never the plain default_rng(seed) a user may have drawn the
    # plausible outputs with (identical uniforms would correlate selection with the outputs)
    rng = np.random.default_rng([int(seed), 0x76706F70])
    u = rng.random((max(int(n_repeats), 1), len(y)))

    def score(sf: float) -> tuple[float, float]:
        p = np.minimum(1.0, sf * p0)
        tot, size = 0.0, 0.0
        for rep in u:
            sel = rep < p
            size += sel.sum()
            tot += sum(tg.ks(y[sel], i)[0] for i in range(len(columns))) if sel.sum() > 1 else len(columns)
        return tot / len(u), size / len(u)

    if scaling_factor is not None:
        if not scaling_factor >= 1.0:
            raise InputError("scaling_factor", scaling_factor, "a number >= 1 (1 is exact rejection sampling)")
        best = float(scaling_factor)
        grid = pd.DataFrame([{"scaling_factor": best, **dict(zip(("mean_ks_sum", "mean_size"), score(best)))}])
    else:
        hi = max(float(np.log10(1.0 / np.median(p0[p0 > 0]))), 0.5) + 0.5
        rows = [{"scaling_factor": sf, **dict(zip(("mean_ks_sum", "mean_size"), score(sf)))}
                for sf in 10.0 ** np.linspace(0.0, hi, int(n_grid))]
        grid = pd.DataFrame(rows)
        ok = grid[grid["mean_size"] >= min_selected]
        best = float((ok if len(ok) else grid).sort_values("mean_ks_sum")["scaling_factor"].iloc[0])
    p = np.minimum(1.0, best * p0)
    sel = u[0] < p
    ks = pd.DataFrame([{"output": c, "statistic": s, "pvalue": pv}
                       for i, c in enumerate(columns) for s, pv in [tg.ks(y[sel], i)]])
    return VPopResult(df.loc[sel].copy(), p, best, ks, len(df), grid)


def plausible_population(scenario, outputs: Mapping[str, str | Callable], n_patients: int = 400, space=None,
                         n_sets: int = 8, bounds: Mapping[str, Sequence[float]] | None = None, seed: int = 0
                         ) -> pd.DataFrame:
    """Plausible patients of a scenario: ``n_sets`` parameter sets drawn from ``space``'s prior (none: the
    scenario's values), each with ``n_patients / n_sets`` patients of its own between-patient draws (seed + set).

    ``outputs``: name -> a column of the patient table (e.g. ``"days_detectable"``, ``"baseline_burden_mm"``) or a
    function of the SimulationResult returning one value per patient. ``bounds``: name -> (low, high) plausibility
    bounds; rows outside (or non-finite) get ``plausible = False``. Returns outputs, the set's parameter values,
    ``set`` and ``plausible``."""
    from nksim.engine import simulate
    from nksim.spec.io import load_scenario

    sc = load_scenario(scenario) if isinstance(scenario, str) else scenario
    if not outputs:
        raise InputError("outputs", outputs, "one or more name -> patient column or function")
    n_sets = max(int(n_sets), 1) if space is not None else 1
    per = max(int(n_patients) // n_sets, 1)
    thetas = space.sample(n_sets, seed=seed) if space is not None else [None]
    frames = []
    for k, th in enumerate(thetas):
        s = space.apply(sc, th) if th is not None else sc
        res = simulate(s, n_patients=per, seed=seed + k)
        df = pd.DataFrame(index=range(per))
        for name, how in outputs.items():
            if isinstance(how, str):
                if how not in res.patients.columns:
                    raise InputError(f"outputs.{name}", how, f"a patient column: {sorted(res.patients.columns)}")
                df[name] = res.patients[how].to_numpy(float)
            else:
                df[name] = np.asarray(how(res), float).reshape(-1)
        if th is not None:
            for nm, v in zip(space.names, th):
                df[nm] = v
        df["set"] = k
        frames.append(df)
    out = pd.concat(frames, ignore_index=True)
    ok = np.ones(len(out), bool)
    for name in outputs:
        ok &= np.isfinite(out[name].to_numpy(float))
    for name, (lo, hi) in (bounds or {}).items():
        if name not in outputs:
            raise InputError("bounds", name, f"one of the outputs {list(outputs)}")
        ok &= (out[name] >= lo).to_numpy() & (out[name] <= hi).to_numpy()
    out["plausible"] = ok
    return out
