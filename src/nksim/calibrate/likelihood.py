"""The objective of a fit: -log-likelihood per subject of a model, a dataset and a residual error model.

Free parameters move on a transformed scale phi: log for parameters whose prior is log-uniform / log-normal (rates,
counts), identity otherwise; bounds are the ParameterSpace's, transformed. Between-patient variability is normal on
that scale (log-normal for log parameters, as ``nksim.population`` draws them).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from nksim.calibrate.data import FitData
from nksim.calibrate.residuals import ErrorModel
from nksim.calibrate.space import ParameterSpace


@dataclass
class Transform:
    """phi = log(theta) (``log``) or theta, per free parameter, with bounds on the phi scale."""

    logs: np.ndarray  # bool per parameter
    low: np.ndarray
    high: np.ndarray

    @classmethod
    def of(cls, space: ParameterSpace) -> "Transform":
        logs = np.array([p.prior in ("loguniform", "lognormal") for p in space.params])
        lo = np.array([p.low for p in space.params], dtype=float)
        hi = np.array([p.high for p in space.params], dtype=float)
        return cls(logs, np.where(logs, np.log(np.maximum(lo, 1e-300)), lo), np.where(logs, np.log(hi), hi))

    def to_theta(self, phi: np.ndarray) -> np.ndarray:
        phi = np.asarray(phi, dtype=float)
        return np.where(self.logs, np.exp(phi), phi)

    def to_phi(self, theta: np.ndarray) -> np.ndarray:
        theta = np.asarray(theta, dtype=float)
        return np.where(self.logs, np.log(np.maximum(theta, 1e-300)), theta)

    def clip(self, phi: np.ndarray) -> np.ndarray:
        return np.clip(phi, self.low, self.high)

    def dtheta_dphi(self, phi: np.ndarray) -> np.ndarray:
        return np.where(self.logs, np.exp(phi), 1.0)


class Objective:
    """-log-likelihood of each subject for a parameter matrix (rows = subjects) and an error model."""

    def __init__(self, model, data: FitData, transform: Transform) -> None:
        self.model, self.data, self.tr = model, data, transform
        obs = data.obs
        self.rows = [np.flatnonzero(obs["ID"].to_numpy() == s) for s in data.ids]
        self.y = [obs["DV"].to_numpy(dtype=float)[r] for r in self.rows]
        self.cens = [obs["BLQ"].to_numpy(dtype=bool)[r] for r in self.rows]
        self.lloq = [obs["LLOQ"].to_numpy(dtype=float)[r] for r in self.rows]
        self.n_sub = len(self.rows)
        self.n_obs = int(len(obs))
        self.n_evals = 0

    def predict(self, phi: np.ndarray, subjects: Sequence[int] | None = None) -> list[np.ndarray]:
        phi = np.atleast_2d(phi)
        subj = list(range(self.n_sub)) if subjects is None else list(subjects)
        if phi.shape[0] == 1 and len(subj) > 1:
            phi = np.repeat(phi, len(subj), axis=0)
        self.n_evals += 1
        return self.model.predict(self.tr.to_theta(phi), subj)

    def nll_from(self, preds: list[np.ndarray], err: ErrorModel, subjects: Sequence[int] | None = None) -> np.ndarray:
        subj = list(range(self.n_sub)) if subjects is None else list(subjects)
        out = np.empty(len(subj))
        for k, (s, f) in enumerate(zip(subj, preds)):
            if not np.all(np.isfinite(f)):
                out[k] = 1e12
                continue
            out[k] = -err.loglik(self.y[s], f, self.cens[s], self.lloq[s])
        return out

    def nll(self, phi: np.ndarray, err: ErrorModel, subjects: Sequence[int] | None = None) -> np.ndarray:
        return self.nll_from(self.predict(phi, subjects), err, subjects)
