"""Maximum-likelihood fits of free registry parameters to data (``nksim.calibrate.fit``; ``nksim fit``).

Three modes (``mode=``):

- ``pooled``: one parameter set for every subject (for a dataset of one subject, that subject's individual fit);
- ``individual``: one parameter set per subject, the residual error shared; the typical values and omega^2 written
  to the calibration file are the standard two-stage (STS) mean and variance of the individual estimates;
- ``population``: typical values mu and between-subject variances omega^2 (diagonal, on the transformed scale:
  log-normal for rate-like parameters) by an EM form of the global two-stage method (``nksim.calibrate.population``).

The optimizer is scipy's L-BFGS-B with bounds on the transformed scale (log for log-uniform / log-normal priors),
started from the registry value and from prior draws (``n_starts``; the best optimum is kept); gradients are forward
differences, evaluated for every subject in one batched model call per parameter. Standard errors come from the
observed information (central finite-difference Hessian of -log L on the transformed scale; delta method back);
Wald intervals are formed on the transformed scale and mapped back (asymmetric for log parameters). For pooled fits
``profile=True`` adds profile-likelihood intervals (2 x drop in log L = chi2_1 quantile, the others re-optimized).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Sequence

import numpy as np
import pandas as pd
from scipy import optimize, stats

from nksim.calibrate.data import FitData, read_data
from nksim.calibrate.likelihood import Objective, Transform
from nksim.calibrate.models import make_model
from nksim.calibrate.residuals import ErrorModel, parse_error
from nksim.calibrate.space import FreeParameter, ParameterSpace, free
from nksim.errors import InputError
from nksim.spec.calibration import OMEGA, Calibration, file_digest
from nksim.spec.scenario import Scenario

Mode = Literal["pooled", "individual", "population"]
MODES = ("pooled", "individual", "population")
H_GRAD = 1e-4  # forward-difference step on the transformed scale
H_HESS = 1e-2  # central-difference step of the Hessian
ERR_BOUNDS = (-14.0, 8.0)  # log of residual error parameters


@dataclass
class FitResult:
    """A fit: estimates on the natural scale, their uncertainty, per-subject values and the observations with
    predictions and residuals (``predictions``)."""

    mode: str
    space: ParameterSpace
    names: list[str]
    phi: np.ndarray  # typical (population) / pooled values on the transformed scale
    cov_phi: np.ndarray  # their covariance
    err: ErrorModel
    err_se_log: np.ndarray
    objective_value: float  # -2 log L (population: Laplace approximation)
    n_obs: int
    data: FitData
    model: Any
    objective: Objective
    omega2: np.ndarray | None = None  # on the transformed scale
    omega2_se: np.ndarray | None = None
    iiv: np.ndarray | None = None  # bool per parameter: has between-subject variability
    phi_ind: np.ndarray | None = None  # (subjects, k) individual / conditional (MAP) estimates
    se_ind: np.ndarray | None = None
    profile: dict[str, tuple[float, float]] = field(default_factory=dict)
    predictions: pd.DataFrame | None = None
    level: float = 0.95
    scenario: Scenario | None = None
    n_starts: int = 0
    seed: int = 0
    notes: list[str] = field(default_factory=list)
    history: list[dict[str, float]] = field(default_factory=list)

    @property
    def tr(self) -> Transform:
        return self.objective.tr

    @property
    def estimates(self) -> dict[str, float]:
        return dict(zip(self.names, self.tr.to_theta(self.phi).tolist()))

    @property
    def se(self) -> dict[str, float]:
        se_phi = np.sqrt(np.maximum(np.diag(self.cov_phi), 0.0))
        return dict(zip(self.names, (se_phi * self.tr.dtheta_dphi(self.phi)).tolist()))

    def ci(self) -> dict[str, tuple[float, float]]:
        z = stats.norm.ppf(0.5 + self.level / 2)
        se_phi = np.sqrt(np.maximum(np.diag(self.cov_phi), 0.0))
        lo = self.tr.to_theta(self.phi - z * se_phi)
        hi = self.tr.to_theta(self.phi + z * se_phi)
        return {n: (float(a), float(b)) for n, a, b in zip(self.names, lo, hi)}

    def omega2_natural(self) -> dict[str, float]:
        """omega^2 as nksim.population reads it: variance of log theta for log parameters, of theta / typical for
        linear ones."""
        if self.omega2 is None:
            return {}
        th = self.tr.to_theta(self.phi)
        out = {}
        for j, n in enumerate(self.names):
            if self.iiv is not None and not self.iiv[j]:
                continue
            w = self.omega2[j] if self.tr.logs[j] else self.omega2[j] / max(th[j] ** 2, 1e-300)
            out[n] = float(w)
        return out

    def table(self) -> pd.DataFrame:
        """One row per estimated quantity: estimate, SE, RSE %, Wald and (pooled) profile intervals."""
        from nksim.registry import load_registry

        reg = load_registry()
        rows = []
        ci, se, est = self.ci(), self.se, self.estimates
        for n in self.names:
            prof = self.profile.get(n, (math.nan, math.nan))
            rows.append({"parameter": n, "estimate": est[n], "se": se[n],
                         "rse_pct": 100 * se[n] / abs(est[n]) if est[n] else math.nan,
                         "ci_low": ci[n][0], "ci_high": ci[n][1], "profile_low": prof[0], "profile_high": prof[1],
                         "unit": reg[n].unit, "kind": "typical value" if self.mode != "pooled" else "fixed effect"})
        z = stats.norm.ppf(0.5 + self.level / 2)
        for j, (n, w) in enumerate(self.omega2_natural().items()):
            jj = self.names.index(n)
            se_w = self.omega2_se[jj] if self.omega2_se is not None else math.nan
            scale = 1.0 if self.tr.logs[jj] else 1.0 / max(self.tr.to_theta(self.phi)[jj] ** 2, 1e-300)
            se_w = se_w * scale
            lo, hi = (w * math.exp(-z * se_w / w), w * math.exp(z * se_w / w)) if w > 0 and math.isfinite(se_w) \
                else (math.nan, math.nan)
            rows.append({"parameter": OMEGA + n, "estimate": w, "se": se_w,
                         "rse_pct": 100 * se_w / w if w else math.nan, "ci_low": lo, "ci_high": hi,
                         "profile_low": math.nan, "profile_high": math.nan, "unit": "(log scale)^2" if
                         self.tr.logs[jj] else "(relative)^2", "kind": "between-subject variance"})
        for j, n in enumerate(self.err.names):
            v = getattr(self.err, n)
            s = float(self.err_se_log[j]) if j < len(self.err_se_log) else math.nan
            rows.append({"parameter": f"error.{n}", "estimate": v, "se": v * s, "rse_pct": 100 * s,
                         "ci_low": v * math.exp(-z * s) if math.isfinite(s) else math.nan,
                         "ci_high": v * math.exp(z * s) if math.isfinite(s) else math.nan,
                         "profile_low": math.nan, "profile_high": math.nan,
                         "unit": ("log units" if self.err.log else "DV unit") if n == "a" else "fraction",
                         "kind": f"residual error ({self.err.kind}{', log scale' if self.err.log else ''})"})
        return pd.DataFrame(rows)

    def individual_table(self) -> pd.DataFrame | None:
        if self.phi_ind is None:
            return None
        th = self.tr.to_theta(self.phi_ind)
        df = pd.DataFrame(th, columns=self.names)
        df.insert(0, "ID", self.data.ids)
        if self.se_ind is not None:
            d = self.tr.dtheta_dphi(self.phi_ind)
            for j, n in enumerate(self.names):
                df[f"se_{n}"] = self.se_ind[:, j] * d[:, j]
        return df

    def calibration(self, data_paths: Sequence[str | Path] = (), notes: str = "") -> Calibration:
        """The fit as a calibration file (``.save(path)``): typical values, omega2:NAME, uncertainty, provenance."""
        values = dict(self.estimates)
        values.update({OMEGA + n: w for n, w in self.omega2_natural().items()})
        unc: dict[str, dict[str, float]] = {}
        for _, r in self.table().iterrows():
            if r["parameter"].startswith("error."):
                continue
            d = {"se": r["se"], "ci_low": r["ci_low"], "ci_high": r["ci_high"], "level": self.level}
            if math.isfinite(r["profile_low"]) or math.isfinite(r["profile_high"]):
                d.update(profile_low=r["profile_low"], profile_high=r["profile_high"])
            unc[r["parameter"]] = {k: float(v) for k, v in d.items()}
        method = {"pooled": "maximum likelihood (pooled)", "individual":
                  "maximum likelihood per subject, standard two-stage summary",
                  "population": "population maximum likelihood (EM global two-stage, Laplace)"}[self.mode]
        text = (f"{self.n_obs} observations ({int(self.data.obs['BLQ'].sum())} BLQ, M3), {len(self.data.ids)} "
                f"subjects; residual error {self.err.describe()}; scenario "
                f"{self.scenario.name if self.scenario is not None else '(assay defaults)'}; SEs from the observed "
                "information (finite-difference Hessian on the transformed scale, delta method)")
        return Calibration(values={k: float(v) for k, v in values.items()}, method=method,
                           objective="-2 log-likelihood" + (" (Laplace)" if self.mode == "population" else ""),
                           objective_value=float(self.objective_value),
                           data=[file_digest(p) for p in data_paths], seed=self.seed, uncertainty=unc,
                           free=[p.describe() for p in self.space.params],
                           notes="; ".join([text, *self.notes, notes]).strip("; "))

    def summary(self) -> str:
        lines = [f"{self.mode} fit: {self.n_obs} observations, {len(self.data.ids)} subjects, -2LL "
                 f"{self.objective_value:.3f}"]
        for _, r in self.table().iterrows():
            prof = (f"  profile [{r['profile_low']:.4g}, {r['profile_high']:.4g}]"
                    if math.isfinite(r["profile_low"]) or math.isfinite(r["profile_high"]) else "")
            lines.append(f"  {r['parameter']:24s} {r['estimate']:11.4g}  SE {r['se']:10.3g} "
                         f"(RSE {r['rse_pct']:5.1f}%)  {int(100 * self.level)}% CI [{r['ci_low']:.4g}, "
                         f"{r['ci_high']:.4g}]{prof}")
        return "\n".join(lines)


# ---- the optimizer pieces ---------------------------------------------------------------------------------------

class _Stacked:
    """-log L (+ a normal prior on phi) over subjects, with batched forward-difference gradients.

    ``shared``: one phi for all subjects (pooled); else one row per subject, except the ``common`` columns (one value
    for all subjects: fixed effects without between-subject variability). ``free_cols``: columns moved (others held
    at ``phi_fixed``). ``fit_err``: residual error parameters moved too (log scale)."""

    def __init__(self, obj: Objective, err: ErrorModel, shared: bool, fit_err: bool, phi_fixed: np.ndarray,
                 free_cols: Sequence[int] | None = None, prior: tuple[np.ndarray, np.ndarray] | None = None,
                 common: Sequence[int] = ()):
        self.obj, self.err, self.shared, self.fit_err, self.prior = obj, err, shared, fit_err, prior
        self.k = obj.tr.low.size
        self.n = obj.n_sub
        self.phi_fixed = np.array(phi_fixed, dtype=float).reshape((1 if shared else self.n, self.k))
        self.cols = list(range(self.k)) if free_cols is None else list(free_cols)
        com = set() if shared else set(int(c) for c in common)
        self.own = [c for c in self.cols if c not in com]
        self.com = [c for c in self.cols if c in com]

    def pack(self, phi: np.ndarray, err: ErrorModel) -> np.ndarray:
        ph = np.asarray(phi, float).reshape((1 if self.shared else self.n, self.k))
        p = np.concatenate([ph[:, self.own].ravel(), ph[0, self.com]])
        return np.concatenate([p, err.get() if self.fit_err else []])

    def unpack(self, x: np.ndarray) -> tuple[np.ndarray, ErrorModel]:
        m = self.phi_fixed.shape[0] * len(self.own)
        phi = self.phi_fixed.copy()
        phi[:, self.own] = x[:m].reshape(phi.shape[0], len(self.own))
        phi[:, self.com] = x[m:m + len(self.com)]
        m += len(self.com)
        err = self.err.with_params(x[m:]) if self.fit_err else self.err
        return np.broadcast_to(phi, (self.n, self.k)).copy(), err

    def bounds(self) -> list[tuple[float, float]]:
        lo, hi = self.obj.tr.low, self.obj.tr.high
        b = [(lo[j], hi[j]) for _ in range(self.phi_fixed.shape[0]) for j in self.own]
        b += [(lo[j], hi[j]) for j in self.com]
        return b + ([ERR_BOUNDS] * self.err.n_params if self.fit_err else [])

    def _pen(self, phi: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        if self.prior is None:
            return np.zeros(self.n), np.zeros_like(phi)
        mu, oinv = self.prior
        d = phi - mu
        return 0.5 * np.einsum("ij,jk,ik->i", d, oinv, d), d @ oinv

    def per_subject(self, phi: np.ndarray, err: ErrorModel) -> np.ndarray:
        return self.obj.nll(phi, err) + self._pen(phi)[0]

    def fg(self, x: np.ndarray) -> tuple[float, np.ndarray]:
        phi, err = self.unpack(x)
        preds = self.obj.predict(phi)
        nll0 = self.obj.nll_from(preds, err)
        pen, pen_g = self._pen(phi)
        f0 = float(nll0.sum() + pen.sum())
        g = np.zeros((self.n, self.k))
        for j in self.cols:
            hi = self.obj.tr.high[j]
            step = np.where(phi[:, j] + H_GRAD <= hi, H_GRAD, -H_GRAD)
            ph = phi.copy()
            ph[:, j] += step
            g[:, j] = (self.obj.nll(ph, err) - nll0) / step
        g += pen_g
        gs = np.concatenate([(g[:, self.own].sum(axis=0) if self.shared else g[:, self.own].ravel()),
                             g[:, self.com].sum(axis=0)])
        if self.fit_err:
            le = err.get()
            ge = np.empty(le.size)
            for e in range(le.size):
                l2 = le.copy()
                l2[e] += H_GRAD
                ge[e] = (self.obj.nll_from(preds, err.with_params(l2)).sum() - nll0.sum()) / H_GRAD
            gs = np.concatenate([gs, ge])
        if not math.isfinite(f0):
            return 1e15, np.zeros_like(x)
        return f0, gs

    def minimize(self, x0: np.ndarray, maxiter: int = 200, ftol: float = 1e-10,
                 gtol: float = 1e-6, restarts: int = 2) -> optimize.OptimizeResult:
        b = self.bounds()
        x0 = np.clip(x0, [lo for lo, _ in b], [hi for _, hi in b])
        opts = {"maxiter": maxiter, "ftol": ftol, "gtol": gtol}
        r = optimize.minimize(self.fg, x0, jac=True, method="L-BFGS-B", bounds=b, options=opts)
        # forward-difference gradients are noisy at the 1e-8 level: L-BFGS can stop on a failed line search short
        # of the optimum; a fresh start (new curvature memory) from there finishes the job
        for _ in range(restarts):
            r2 = optimize.minimize(self.fg, r.x, jac=True, method="L-BFGS-B", bounds=b, options=opts)
            improved = r2.fun < r.fun - 1e-9 * max(1.0, abs(r.fun))
            if r2.fun <= r.fun:
                r2.nit, r2.nfev = r.nit + r2.nit, r.nfev + r2.nfev
                r = r2
            if not improved:
                break
        return r

    def subject_hessians(self, phi: np.ndarray, err: ErrorModel, h: float = H_HESS) -> np.ndarray:
        """(n, k, k) Hessians of each subject's -log L (+ prior) in phi (central differences, batched)."""
        k = self.k
        f0 = self.per_subject(phi, err)
        H = np.zeros((self.n, k, k))

        def f(dj: int, sj: float, dl: int | None = None, sl: float = 0.0) -> np.ndarray:
            ph = phi.copy()
            ph[:, dj] += sj * h
            if dl is not None:
                ph[:, dl] += sl * h
            return self.per_subject(ph, err)

        for j in range(k):
            H[:, j, j] = (f(j, 1) - 2 * f0 + f(j, -1)) / h ** 2
            for l in range(j):
                v = (f(j, 1, l, 1) - f(j, 1, l, -1) - f(j, -1, l, 1) + f(j, -1, l, -1)) / (4 * h ** 2)
                H[:, j, l] = H[:, l, j] = v
        return H


def _full_hessian(fun, x: np.ndarray, h: np.ndarray) -> np.ndarray:
    n = x.size
    H = np.zeros((n, n))
    f0 = fun(x)
    E = np.eye(n)
    for i in range(n):
        fp, fm = fun(x + h[i] * E[i]), fun(x - h[i] * E[i])
        H[i, i] = (fp - 2 * f0 + fm) / h[i] ** 2
        for j in range(i):
            v = (fun(x + h[i] * E[i] + h[j] * E[j]) - fun(x + h[i] * E[i] - h[j] * E[j])
                 - fun(x - h[i] * E[i] + h[j] * E[j]) + fun(x - h[i] * E[i] - h[j] * E[j])) / (4 * h[i] * h[j])
            H[i, j] = H[j, i] = v
    return H


def _inv(H: np.ndarray) -> tuple[np.ndarray, bool]:
    H = 0.5 * (H + H.T)
    try:
        w = np.linalg.eigvalsh(H)
        if np.all(w > 0):
            return np.linalg.inv(H), True
    except np.linalg.LinAlgError:
        pass
    return np.full(H.shape, np.nan), False


# ---- public entry point --------------------------------------------------------------------------------------------

def _space(free_params: Sequence[str | FreeParameter] | ParameterSpace) -> tuple[ParameterSpace, ParameterSpace | None]:
    if isinstance(free_params, ParameterSpace):
        ps = list(free_params.params)
    else:
        if isinstance(free_params, str):
            free_params = [s.strip() for s in free_params.split(",") if s.strip()]
        ps = [free(p) if isinstance(p, str) else p for p in free_params]
    struct = [p for p in ps if not p.is_variance]
    var = [p for p in ps if p.is_variance]
    if not struct:
        raise InputError("free", [p.name for p in ps], "at least one registry parameter to estimate (e.g. k_car)")
    for v in var:
        if v.registry_name not in [p.name for p in struct]:
            raise InputError("free", v.name, f"omega2:NAME for a free parameter NAME ({[p.name for p in struct]})")
    return ParameterSpace(struct), (ParameterSpace(var) if var else None)


def _initial_error(err: ErrorModel, data: FitData) -> ErrorModel:
    y = data.obs.loc[~data.obs["BLQ"], "DV"].to_numpy(dtype=float)
    a = err.a
    if not err.log and err.kind != "proportional":
        a = max(0.1 * float(np.mean(np.abs(y))) if y.size else 1.0, 1e-6)
    return ErrorModel(err.kind, err.log, a=a, b=err.b)


def fit(data: str | Path | pd.DataFrame | FitData, free_params: Sequence[str | FreeParameter] | ParameterSpace | str,
        scenario: Scenario | str | None = None, error: str | ErrorModel = "proportional", mode: Mode | None = None,
        population: bool = False, n_starts: int = 3, seed: int = 0, profile: bool | None = None,
        level: float = 0.95, max_iter: int = 30, log: bool | None = None) -> FitResult:
    """Fit free registry parameters to ``data`` by maximum likelihood.

    ``data``: an assay dataset (ET, DV) or a NONMEM-style dataset (path or table; ``nksim.calibrate.data``).
    ``free_params``: registry names (``"k_car,k_r"``), ``FreeParameter`` objects or a ``ParameterSpace``; entries
    ``omega2:NAME`` (population fits) restrict between-subject variability to those parameters and bound it.
    ``scenario``: the product / patients the data come from (needed for NONMEM-style data; for assays the effector
    and target, default an unmodified NK product on a plain target). ``error``: ``additive``, ``proportional``,
    ``combined``, optionally ``log-`` prefixed (``nksim.calibrate.residuals``). ``mode``: ``pooled`` (default),
    ``individual`` or ``population`` (``population=True`` is the same). ``profile``: profile-likelihood intervals
    (default: for pooled fits of assay data, where they are cheap)."""
    from nksim.calibrate.population import fit_population

    if not 0.0 < float(level) < 1.0:
        raise InputError("level", level, "an interval coverage in (0, 1), e.g. 0.95")
    mode = mode or ("population" if population else "pooled")
    if mode not in MODES:
        raise InputError("mode", mode, f"one of {MODES}")
    if int(n_starts) < 1:
        raise InputError("n_starts", n_starts, "an integer >= 1")
    fd = data if isinstance(data, FitData) else read_data(data)
    if isinstance(scenario, str):
        from nksim.spec.io import load_scenario

        scenario = load_scenario(scenario)
    space, var_space = _space(free_params)
    err0 = _initial_error(parse_error(error, log), fd)
    model = make_model(fd, scenario, space.names)
    tr = Transform.of(space)
    obj = Objective(model, fd, tr)
    if mode == "population" and len(fd.ids) < 2:
        raise InputError("mode", mode, "a dataset with two or more subjects (IDs) for a population fit")
    pooled = _fit_pooled(obj, space, err0, n_starts, seed, scenario)
    if mode == "pooled":
        res = pooled
        res.level = float(level)
        if profile if profile is not None else fd.kind == "assay":
            res.profile = profile_intervals(res)
    elif mode == "individual":
        res = _fit_individual(obj, pooled)
    else:
        res = fit_population(obj, pooled, var_space, max_iter=max_iter)
    res.level = float(level)
    res.n_starts, res.seed = int(n_starts), int(seed)
    res.predictions = residual_table(res)
    return res


def _typical_start(space: ParameterSpace, scenario: Scenario | None) -> np.ndarray:
    from nksim.population.sampling import typical_values
    from nksim.registry import load_registry

    typ = typical_values(scenario) if scenario is not None else load_registry().defaults()
    return np.array([min(max(typ.get(p.name, p.center), p.low), p.high) for p in space.params])


def _fit_pooled(obj: Objective, space: ParameterSpace, err0: ErrorModel, n_starts: int, seed: int,
                scenario: Scenario | None) -> FitResult:
    tr = obj.tr
    starts = np.vstack([_typical_start(space, scenario)[None, :], space.sample(max(n_starts - 1, 0), seed)])
    st = _Stacked(obj, err0, shared=True, fit_err=True, phi_fixed=tr.to_phi(starts[0]))
    best = None
    for s in starts:
        r = st.minimize(st.pack(tr.to_phi(s), err0))
        if best is None or r.fun < best.fun:
            best = r
    x = best.x
    phi, err = st.unpack(x)
    cache: dict[bytes, list[np.ndarray]] = {}

    def F(xx: np.ndarray) -> float:
        p, e = st.unpack(xx)
        key = p[0].tobytes()
        if key not in cache:
            cache[key] = obj.predict(p)
        return float(obj.nll_from(cache[key], e).sum())

    H = _full_hessian(F, x, np.full(x.size, H_HESS))
    cov, ok = _inv(H)
    k = space.dim
    notes = [] if ok else ["observed information not positive definite at the optimum (a parameter is not "
                           "identifiable from these data or sits on a bound): no standard errors"]
    at_bound = [space.names[j] for j in range(k) if min(phi[0, j] - tr.low[j], tr.high[j] - phi[0, j]) < 1e-6]
    if at_bound:
        notes.append(f"on a bound: {', '.join(at_bound)}")
    return FitResult(mode="pooled", space=space, names=space.names, phi=phi[0], cov_phi=cov[:k, :k], err=err,
                     err_se_log=np.sqrt(np.maximum(np.diag(cov)[k:], 0.0)), objective_value=2 * float(best.fun),
                     n_obs=obj.n_obs, data=obj.data, model=obj.model, objective=obj, scenario=scenario,
                     phi_ind=np.repeat(phi[:1], obj.n_sub, axis=0), notes=notes)


def _fit_individual(obj: Objective, pooled: FitResult) -> FitResult:
    """One phi per subject (started at the pooled estimate), the residual error shared; STS mean and variance."""
    n, k = obj.n_sub, pooled.phi.size
    phi0 = np.repeat(pooled.phi[None, :], n, axis=0)
    st = _Stacked(obj, pooled.err, shared=False, fit_err=True, phi_fixed=phi0)
    r = st.minimize(st.pack(phi0, pooled.err), maxiter=400)
    phi, err = st.unpack(r.x)
    st_fixed = _Stacked(obj, err, shared=False, fit_err=False, phi_fixed=phi)
    H = st_fixed.subject_hessians(phi, err)
    se = np.full((n, k), np.nan)
    for i in range(n):
        c, ok = _inv(H[i])
        if ok:
            se[i] = np.sqrt(np.diag(c))
    mu = phi.mean(axis=0)
    om = phi.var(axis=0, ddof=1) if n > 1 else np.zeros(k)
    cov_mu = np.diag(om / max(n, 1)) if n > 1 else np.diag(se[0] ** 2)
    om_se = np.sqrt(2.0 / max(n - 1, 1)) * om
    res = FitResult(mode="individual", space=pooled.space, names=pooled.names, phi=mu, cov_phi=cov_mu, err=err,
                    err_se_log=np.full(err.n_params, np.nan), objective_value=2 * float(r.fun), n_obs=obj.n_obs,
                    data=obj.data, model=obj.model, objective=obj, scenario=pooled.scenario,
                    omega2=om if n > 1 else None, omega2_se=om_se if n > 1 else None,
                    iiv=np.ones(k, bool), phi_ind=phi, se_ind=se,
                    notes=["typical values and omega2: mean and variance of the individual estimates (standard "
                           "two-stage; omega2 includes their estimation error)"])
    return res


def profile_intervals(res: FitResult, names: Sequence[str] | None = None) -> dict[str, tuple[float, float]]:
    """Profile-likelihood intervals of a pooled fit: where -2 log L rises by the chi2_1 quantile of ``level``,
    the other parameters (residual error included) re-optimized at each point."""
    obj, tr = res.objective, res.tr
    crit = float(stats.chi2.ppf(res.level, 1))
    f_min = res.objective_value
    se_phi = np.sqrt(np.maximum(np.diag(res.cov_phi), 0.0))
    out: dict[str, tuple[float, float]] = {}
    for j, name in enumerate(res.names):
        if names is not None and name not in names:
            continue
        others = [c for c in range(res.phi.size) if c != j]
        warm: dict[int, tuple[np.ndarray, ErrorModel]] = {}

        def prof(v: float, _j=j, _others=others, _warm=warm) -> float:
            # warm start from the last point profiled on this side
            side = int(np.sign(v - res.phi[_j]))
            phi, err = _warm.get(side, (res.phi.copy(), res.err))
            phi = phi.copy()
            phi[_j] = v
            st = _Stacked(obj, err, shared=True, fit_err=True, phi_fixed=phi, free_cols=_others)
            r = st.minimize(st.pack(phi, err), maxiter=100, ftol=1e-9, gtol=1e-5)
            p2, e2 = st.unpack(r.x)
            _warm[side] = (p2[0], e2)
            return 2 * float(r.fun) - f_min - crit

        ends = []
        for sign in (-1.0, 1.0):
            bound = tr.low[j] if sign < 0 else tr.high[j]
            step = max(2.0 * se_phi[j] if np.isfinite(se_phi[j]) and se_phi[j] > 0 else 0.2, 0.02)
            a, fa = res.phi[j], -crit
            end = math.nan
            for _ in range(8):
                b = res.phi[j] + sign * step
                if (b - bound) * sign >= 0:
                    b = bound
                fb = prof(b)
                if fb > 0:
                    end = optimize.brentq(prof, min(a, b), max(a, b), xtol=5e-3) if fa < 0 else b
                    break
                if b == bound:
                    end = bound  # no crossing inside the bounds: the interval reaches the bound
                    break
                a, fa = b, fb
                step *= 2.0
            ends.append(float(tr.to_theta(np.array([end]))[0]) if math.isfinite(end) else math.nan)
        out[name] = (ends[0], ends[1])
    return out


# ---- residuals ----------------------------------------------------------------------------------------------------

def residual_table(res: FitResult) -> pd.DataFrame:
    """Observations with PRED (typical values), IPRED (individual / conditional estimates), IWRES and CWRES.

    CWRES (Hooker et al. 2007): the model linearized around each subject's conditional estimate,
    E[y] ~ f(phi_i) + J_i (mu - phi_i), Cov = J_i Omega J_i' + R_i, residuals decorrelated with the Cholesky factor
    of Cov, all on the error model's scale; without between-subject variability CWRES = IWRES. Censored (BLQ) rows
    get NaN residuals (their likelihood is P(y < LLOQ))."""
    obj, err, tr = res.objective, res.err, res.tr
    n, k = obj.n_sub, res.phi.size
    phi_i = res.phi_ind if res.phi_ind is not None else np.repeat(res.phi[None, :], n, axis=0)
    pred = obj.predict(np.repeat(res.phi[None, :], n, axis=0))
    ipred = obj.predict(phi_i)
    omega = np.diag(res.omega2) if res.omega2 is not None and res.mode == "population" else None
    jac = []
    if omega is not None:
        for j in range(k):
            ph = phi_i.copy()
            ph[:, j] += H_GRAD
            fj = obj.predict(ph)
            jac.append([(err.scale(a) - err.scale(b)) / H_GRAD for a, b in zip(fj, ipred)])
    df = obj.data.obs.copy()
    df["PRED"], df["IPRED"], df["IWRES"], df["CWRES"] = np.nan, np.nan, np.nan, np.nan
    for i, rows in enumerate(obj.rows):
        y, cen = obj.y[i], obj.cens[i]
        df.loc[rows, "PRED"] = pred[i]
        df.loc[rows, "IPRED"] = ipred[i]
        iw = err.normalized_residuals(y, ipred[i])
        iw[cen] = np.nan
        df.loc[rows, "IWRES"] = iw
        if omega is None:
            df.loc[rows, "CWRES"] = iw
            continue
        u = ~cen
        if not u.any():
            continue
        J = np.column_stack([jac[j][i] for j in range(k)])[u]
        m = err.scale(ipred[i])[u] + J @ (res.phi - phi_i[i])
        cov = J @ omega @ J.T + np.diag(err.sd(ipred[i])[u] ** 2)
        try:
            L = np.linalg.cholesky(cov)
            cw = np.linalg.solve(L, err.scale(y[u]) - m)
        except np.linalg.LinAlgError:
            cw = np.full(u.sum(), np.nan)
        full = np.full(y.size, np.nan)
        full[u] = cw
        df.loc[rows, "CWRES"] = full
    return df


def fit_file(data_path: str | Path, out: str | Path, **kwargs: Any) -> tuple[FitResult, dict[str, Path]]:
    """``fit`` a data file and write ``calibration.yaml``, ``estimates.csv``, ``predictions.csv`` (and
    ``individual.csv``, population fits ``em_history.csv``) and the goodness-of-fit plots into ``out``."""
    from nksim.calibrate.gof import plot_all

    res = fit(data_path, **kwargs)
    folder = Path(out)
    folder.mkdir(parents=True, exist_ok=True)
    files = {"calibration": res.calibration([data_path]).save(folder / "calibration.yaml")}
    res.table().to_csv(folder / "estimates.csv", index=False)
    files["estimates"] = folder / "estimates.csv"
    res.predictions.to_csv(folder / "predictions.csv", index=False)
    files["predictions"] = folder / "predictions.csv"
    ind = res.individual_table()
    if ind is not None and res.mode != "pooled":
        ind.to_csv(folder / "individual.csv", index=False)
        files["individual"] = folder / "individual.csv"
    if res.history:
        pd.DataFrame(res.history).to_csv(folder / "em_history.csv", index=False)
        files["em_history"] = folder / "em_history.csv"
    files.update(plot_all(res, folder, seed=res.seed))
    return res, files
