"""The models a fit evaluates: the release assay (lysis vs E:T) and the cohort engine (kinetics, tumor burden).

Both take a matrix of parameter values, one row per subject (a donor / replicate series of an assay dataset, a
patient of a NONMEM-style dataset), and return the predictions at that subject's observations. The kinetics model
simulates every row in one call of the compiled engine (rows are independent lanes), which is what makes the
population fit and the finite-difference derivatives affordable.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import pandas as pd

from nksim.calibrate.data import FitData
from nksim.errors import InputError
from nksim.spec.scenario import Scenario


class AssayModel:
    """% specific lysis from ``nksim.assay.release_assay`` with the scenario's product (or an unmodified NK
    product) against the scenario's target (or a plain target line)."""

    def __init__(self, data: FitData, scenario: Scenario | None, names: Sequence[str]) -> None:
        self.data, self.scenario, self.names = data, scenario, list(names)
        self.subjects = data.ids
        obs = data.obs
        self._rows = [np.flatnonzero(obs["ID"].to_numpy() == s) for s in self.subjects]
        self._hours = obs["HOURS"].to_numpy() if "HOURS" in obs.columns else np.full(len(obs), np.nan)
        self._cache: dict[tuple, np.ndarray] = {}

    def predict_subject(self, theta: np.ndarray, subject_index: int, x: np.ndarray | None = None,
                        hours: np.ndarray | None = None) -> np.ndarray:
        from nksim.assay import Effector, release_assay

        rows = self._rows[subject_index]
        et = self.data.obs["ET"].to_numpy()[rows] if x is None else np.asarray(x, float)
        hrs = self._hours[rows] if hours is None else np.asarray(hours, float)
        key = (np.asarray(theta, float).tobytes(), et.tobytes(), hrs.tobytes())
        hit = self._cache.get(key)
        if hit is not None:  # subjects of a pooled fit share a curve
            return hit.copy()
        pp = {n: float(v) for n, v in zip(self.names, theta)}
        out = np.empty(et.size)
        for h in np.unique(hrs):  # one titration per incubation time
            sel = (hrs == h) if np.isfinite(h) else ~np.isfinite(hrs)
            ux, inv = np.unique(et[sel], return_inverse=True)
            eff = self.scenario if self.scenario is not None else Effector()
            curve = release_assay(eff, None, ux, None if not np.isfinite(h) else float(h), params=pp)
            out[sel] = curve["pct_specific_lysis"].to_numpy()[inv]
        if len(self._cache) > 4096:
            self._cache.clear()
        self._cache[key] = out.copy()
        return out

    def predict(self, theta: np.ndarray, subjects: Sequence[int] | None = None) -> list[np.ndarray]:
        """Predictions for each row of ``theta`` (natural scale), row r for subject index ``subjects[r]``."""
        theta = np.atleast_2d(theta)
        subj = range(len(self.subjects)) if subjects is None else subjects
        return [self.predict_subject(theta[r], int(s)) for r, s in enumerate(subj)]


class KineticsModel:
    """Observations of the cohort engine (``nksim.io.nonmem.OBSERVATIONS`` by DVID) for the data's patients.

    The scenario's population is made deterministic (``population.variability`` off: every patient-level value at
    its typical value), baseline covariates the dataset carries (columns named like the patient table's, e.g.
    ``weight_kg``) are set per patient, the free parameters are set per row, and each patient gets exactly the
    doses of its EVID 1 rows. Predictions between save times are interpolated (log-linear for positive values)."""

    def __init__(self, data: FitData, scenario: Scenario, names: Sequence[str], save_every_d: float = 0.25) -> None:
        from nksim.kinetics.dosing import as_dosing
        from nksim.population.sampling import sample_patients
        from nksim.registry import load_registry

        if data.kind != "nonmem":
            raise InputError("data", data.kind, "a NONMEM-style dataset for a kinetics fit")
        self.data, self.names = data, list(names)
        reg = load_registry()
        for n in self.names:
            if n not in reg:
                raise InputError("free parameter", n, f"a registry parameter name; close: {reg.close(n)}")
        t_max = float(data.obs["TIME"].max())
        sim = scenario.simulation.model_copy(update={"horizon_d": max(1.0, float(np.ceil(t_max + 1e-9))),
                                                     "save_every_d": save_every_d, "n_patients": 1,
                                                     "rtol": min(scenario.simulation.rtol, 1e-8)})
        pop = scenario.population.model_copy(update={"variability": False})
        self.scenario = scenario.model_copy(update={"simulation": sim, "population": pop})
        self.subjects = data.ids
        base = sample_patients(self.scenario, np.asarray(self.subjects, dtype=np.int64))
        # covariates carried by the data (first observation row of each patient)
        first = data.table.groupby("ID").first()
        for c in base.columns:
            if c in first.columns and base[c].dtype.kind in "fiub" and c not in ("draw_attempt",):
                vals = pd.to_numeric(first[c], errors="coerce").reindex(self.subjects).to_numpy(dtype=float)
                if np.all(np.isfinite(vals)):
                    base[c] = vals.astype(base[c].dtype) if base[c].dtype.kind == "b" else vals
        self._base = base
        self._dosing = as_dosing(data.table)
        obs = data.obs
        self._rows = [np.flatnonzero(obs["ID"].to_numpy() == s) for s in self.subjects]
        self._cache: dict[tuple, object] = {}

    def _dosing_for(self, subjects: tuple[int, ...]):
        from nksim.kinetics.dosing import DosingTable

        key = ("dosing", subjects)
        if key not in self._cache:
            self._cache[key] = DosingTable({k: self._dosing.doses.get(int(self.subjects[s]), [])
                                            for k, s in enumerate(subjects)}, self._dosing.source)
        return self._cache[key]

    def simulate(self, theta: np.ndarray, subjects: Sequence[int] | None = None):
        """Trajectories (xarray) of one lane per row of ``theta`` (natural scale)."""
        from nksim.engine import simulate_chunk

        theta = np.atleast_2d(np.asarray(theta, dtype=float))
        subj = tuple(range(len(self.subjects))) if subjects is None else tuple(int(s) for s in subjects)
        if theta.shape != (len(subj), len(self.names)):
            raise InputError("theta", f"shape {theta.shape}", f"({len(subj)}, {len(self.names)})")
        pts = self._base.iloc[list(subj)].copy()
        pts.index = pd.Index(np.arange(len(subj), dtype=np.int64), name="patient")
        for j, n in enumerate(self.names):
            pts[n] = theta[:, j]
        ds, _ = simulate_chunk(self.scenario, pts, {"dosing": self._dosing_for(subj)}, with_outcomes=False)
        return ds

    def _observed(self, ds, dvid: int) -> np.ndarray:
        from nksim.io.nonmem import _DERIVED, OBSERVATIONS

        o = next(o for o in OBSERVATIONS.values() if o.dvid == dvid)
        if o.name in _DERIVED:
            return _DERIVED[o.name](ds)
        return np.asarray(ds[o.variable].transpose("patient", "time").values, dtype=float)

    def predict(self, theta: np.ndarray, subjects: Sequence[int] | None = None,
                times: Sequence[np.ndarray] | None = None, dvids: Sequence[np.ndarray] | None = None
                ) -> list[np.ndarray]:
        """Predictions for each row of ``theta`` at its subject's observations (or at ``times``/``dvids``)."""
        subj = list(range(len(self.subjects))) if subjects is None else [int(s) for s in subjects]
        ds = self.simulate(theta, subj)
        grid = np.asarray(ds["time"].values, dtype=float)
        obs = self.data.obs
        cache: dict[int, np.ndarray] = {}
        out = []
        for r, s in enumerate(subj):
            rows = self._rows[s]
            t = obs["TIME"].to_numpy()[rows] if times is None else np.asarray(times[r], float)
            d = obs["DVID"].to_numpy()[rows] if dvids is None else np.asarray(dvids[r])
            pred = np.empty(t.size)
            for dv in np.unique(d):
                if dv not in cache:
                    cache[int(dv)] = self._observed(ds, int(dv))
                sel = d == dv
                pred[sel] = _interp(t[sel], grid, cache[int(dv)][r])
            out.append(pred)
        return out


def _interp(t: np.ndarray, grid: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Values at ``t``: exact on the grid, log-linear between positive values, linear otherwise."""
    i = np.clip(np.searchsorted(grid, t, side="left"), 1, grid.size - 1)
    t0, t1 = grid[i - 1], grid[i]
    y0, y1 = y[i - 1], y[i]
    w = np.clip((t - t0) / np.where(t1 > t0, t1 - t0, 1.0), 0.0, 1.0)
    pos = (y0 > 0) & (y1 > 0)
    lin = y0 + w * (y1 - y0)
    with np.errstate(divide="ignore", invalid="ignore"):
        loglin = np.exp(np.log(np.where(pos, y0, 1.0)) + w * np.log(np.where(pos, y1 / np.where(pos, y0, 1.0), 1.0)))
    return np.where(pos, loglin, lin)


def make_model(data: FitData, scenario: Scenario | None, names: Sequence[str]):
    if data.kind == "assay":
        return AssayModel(data, scenario, names)
    if scenario is None:
        raise InputError("scenario", None, "a scenario (built-in name or YAML) for a NONMEM-style dataset")
    return KineticsModel(data, scenario, names)
