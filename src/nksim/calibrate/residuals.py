"""Residual error models and the likelihood of observations, with M3 censoring below the detection limit.

An observation y of a model prediction f has

- ``additive``:      sd = a
- ``proportional``:  sd = b |f|
- ``combined``:      sd = sqrt(a^2 + (b f)^2)

and is normal with mean f and that sd. With ``log=True`` the model holds on the log scale: log y is normal with mean
log f and sd as above evaluated on log f (``additive`` on the log scale is the usual "exponential" error, a constant
CV of about a; ``proportional``/``combined`` are rarely wanted there). An observation flagged below the limit of
quantification (BLQ) contributes P(y < LLOQ) = Phi((LLOQ - f) / sd) (Beal's M3 method; log scale: (log LLOQ - log f)
/ sd), never its DV. Error parameters are positive and estimated on the log scale with the structural ones.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
from scipy import special

from nksim.errors import InputError

Kind = Literal["additive", "proportional", "combined"]
KINDS = ("additive", "proportional", "combined")
LOG_2PI = math.log(2.0 * math.pi)
TINY = 1e-12  # floor of a prediction on the log scale (a model value of exactly 0)


@dataclass
class ErrorModel:
    """A residual error model: its kind, whether it holds on the log scale and its parameters ``a``, ``b``."""

    kind: Kind = "proportional"
    log: bool = False
    a: float = 1.0  # additive sd (data unit, or log units with log=True)
    b: float = 0.2  # proportional coefficient (CV)
    names: tuple[str, ...] = field(init=False)

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise InputError("error", self.kind, f"one of {KINDS}")
        for n in ("a", "b"):
            v = getattr(self, n)
            if not (isinstance(v, (int, float)) and math.isfinite(v) and v > 0):
                raise InputError(f"error.{n}", v, "a finite number > 0")
        self.names = {"additive": ("a",), "proportional": ("b",), "combined": ("a", "b")}[self.kind]

    # the estimated parameters, on the log scale (what the optimizer moves)
    @property
    def n_params(self) -> int:
        return len(self.names)

    def get(self) -> np.ndarray:
        return np.log([getattr(self, n) for n in self.names])

    def with_params(self, log_values: np.ndarray) -> "ErrorModel":
        vals = {n: float(math.exp(v)) for n, v in zip(self.names, np.atleast_1d(log_values))}
        return ErrorModel(self.kind, self.log, vals.get("a", self.a), vals.get("b", self.b))

    def describe(self) -> str:
        vals = ", ".join(f"{n} = {getattr(self, n):.4g}" for n in self.names)
        form = {"additive": "sd = a", "proportional": "sd = b f", "combined": "sd = sqrt(a^2 + (b f)^2)"}[self.kind]
        return f"{self.kind}{' on log scale' if self.log else ''} ({form}; {vals})"

    # the model
    def scale(self, f: np.ndarray) -> np.ndarray:
        """The location on the scale where the error is normal (f, or log f)."""
        f = np.asarray(f, dtype=float)
        return np.log(np.maximum(f, TINY)) if self.log else f

    def sd(self, f: np.ndarray) -> np.ndarray:
        m = self.scale(f)
        if self.kind == "additive":
            s = np.full(m.shape, self.a)
        elif self.kind == "proportional":
            s = self.b * np.abs(m)
        else:
            s = np.sqrt(self.a ** 2 + (self.b * m) ** 2)
        return np.maximum(s, 1e-9 * max(self.a if self.kind != "proportional" else self.b, 1e-300))

    def loglik_terms(self, y: np.ndarray, f: np.ndarray, censored: np.ndarray | None = None,
                     lloq: np.ndarray | None = None) -> np.ndarray:
        """Log-likelihood of each observation (censored ones: log P(y < LLOQ))."""
        y = np.asarray(y, dtype=float)
        m = self.scale(f)
        s = self.sd(f)
        out = np.empty(m.shape)
        cen = np.zeros(m.shape, bool) if censored is None else np.asarray(censored, bool)
        obs = ~cen
        if obs.any():
            z = (self.scale(y[obs]) - m[obs]) / s[obs]
            out[obs] = -0.5 * LOG_2PI - np.log(s[obs]) - 0.5 * z * z
            if self.log:  # density of y, not of log y (the Jacobian: comparable with linear-scale models)
                out[obs] -= np.log(np.maximum(y[obs], TINY))
        if cen.any():
            if lloq is None:
                raise InputError("LLOQ", None, "a limit of quantification for each censored (BLQ) observation")
            q = self.scale(np.asarray(lloq, dtype=float)[cen])
            out[cen] = special.log_ndtr((q - m[cen]) / s[cen])
        return out

    def loglik(self, y, f, censored=None, lloq=None) -> float:
        return float(self.loglik_terms(y, f, censored, lloq).sum())

    def normalized_residuals(self, y: np.ndarray, f: np.ndarray) -> np.ndarray:
        """(y - f) / sd on the error model's scale (censored rows: compute them separately)."""
        return (self.scale(y) - self.scale(f)) / self.sd(f)

    def sample(self, f: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """Observations drawn around predictions ``f`` (log scale: exp of the normal draw)."""
        m = self.scale(f)
        y = m + self.sd(f) * rng.standard_normal(m.shape)
        return np.exp(y) if self.log else y

    def as_dict(self) -> dict:
        return {"kind": self.kind, "log": self.log, **{n: getattr(self, n) for n in self.names}}


def parse_error(spec: str | ErrorModel | None, log: bool | None = None) -> ErrorModel:
    """``"proportional"``, ``"combined"``, ``"additive"``, with a ``log-`` prefix or ``log=True`` for the log scale
    (``"log-additive"``: exponential error)."""
    if isinstance(spec, ErrorModel):
        return spec
    s = (spec or "proportional").strip().lower()
    is_log = s.startswith("log-") or s.startswith("log_")
    kind = s[4:] if is_log else s
    if kind not in KINDS:
        raise InputError("error", spec, f"one of {KINDS}, optionally prefixed log- (e.g. log-additive)")
    is_log = bool(log) or is_log
    a = 0.3 if is_log else 1.0
    return ErrorModel(kind, is_log, a=a, b=0.2)
