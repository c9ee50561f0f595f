"""BOIN: Bayesian optimal interval design (Liu & Yuan 2015, JRSS-C 64:507; Yuan et al. 2016, Clin Cancer Res 22:4291).

Boundaries exactly as ``get.boundary`` of the BOIN R package 2.7.2:

- lambda_e = log((1 - phi1) / (1 - phi)) / log(phi (1 - phi1) / (phi1 (1 - phi))),
  lambda_d = log((1 - phi) / (1 - phi2)) / log(phi2 (1 - phi) / (phi (1 - phi2))),
  with phi1 = 0.6 phi and phi2 = 1.4 phi by default (Liu & Yuan 2015, section 2.3);
- for n treated: escalate if y <= floor(lambda_e n); de-escalate if y >= ceil(lambda_d n) (lambda_d n + 1 when
  lambda_d n is an integer, to 1e-12); eliminate if n >= 3 and Pr(p > phi | y, n; Beta(1, 1)) > 0.95 (the smallest
  such y); the de-escalation boundary is capped at the elimination boundary.

For phi = 0.3: lambda_e = 0.2365, lambda_d = 0.3585; with 3 treated escalate on 0 DLTs, de-escalate on >= 2,
eliminate on 3.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from nksim.errors import InputError
from nksim.trial.interval import NO_BOUND, IntervalDesign, elimination_boundary
from nksim.trial.isotonic import select_mtd_from_counts


def boin_lambdas(target: float, p_saf: float | None = None, p_tox: float | None = None) -> tuple[float, float]:
    """(lambda_e, lambda_d) of BOIN for the target DLT rate phi and the rates phi1, phi2 (defaults 0.6/1.4 phi)."""
    phi1 = 0.6 * target if p_saf is None else p_saf
    phi2 = 1.4 * target if p_tox is None else p_tox
    lam_e = math.log((1 - phi1) / (1 - target)) / math.log(target * (1 - phi1) / (phi1 * (1 - target)))
    lam_d = math.log((1 - target) / (1 - phi2)) / math.log(phi2 * (1 - target) / (target * (1 - phi2)))
    return lam_e, lam_d


@dataclass(frozen=True)
class BOIN(IntervalDesign):
    """BOIN with the R package's defaults (cutoff_eli 0.95, no extra-safe rule, n_earlystop 100 = off).

    p_saf / p_tox: phi1 and phi2 (None = 0.6 and 1.4 times the target). bound_mtd: select only doses whose
    isotonic estimate is <= lambda_d (``boundMTD`` of ``select.mtd``). titration: accelerated titration as
    ``get.oc(titration=TRUE)``: one patient per dose upwards until the first DLT, then the first cohort fills that
    dose up to the cohort size (ignored for cohorts of 1, as in R); useful when DLTs are rare at low doses.
    """

    name: ClassVar[str] = "boin"
    p_saf: float | None = None
    p_tox: float | None = None
    bound_mtd: bool = False
    titration: bool = False

    def __post_init__(self) -> None:
        self._check_interval()
        if not 0.05 <= self.target <= 0.6:
            raise InputError("target", self.target, "a target DLT rate in [0.05, 0.6] (BOIN get.boundary limits)")
        phi1, phi2 = self.phis
        if self.target - phi1 < 0.1 * self.target or phi1 <= 0:
            raise InputError("p_saf", phi1, f"a rate in (0, {0.9 * self.target:g}] (not too close to the target)")
        if phi2 - self.target < 0.1 * self.target or phi2 >= 1:
            raise InputError("p_tox", phi2, f"a rate in [{1.1 * self.target:g}, 1) (not too close to the target)")

    @property
    def phis(self) -> tuple[float, float]:
        return (0.6 * self.target if self.p_saf is None else self.p_saf,
                1.4 * self.target if self.p_tox is None else self.p_tox)

    @property
    def lambdas(self) -> tuple[float, float]:
        return boin_lambdas(self.target, *self.phis)

    def _boundaries(self, n_max: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        lam_e, lam_d = self.lambdas
        ns = np.arange(n_max + 1)
        be = np.floor(lam_e * ns).astype(np.int64)
        x = lam_d * ns
        bd = np.where(np.abs(np.round(x) - x) < 1e-12, np.round(x) + 1, np.ceil(x)).astype(np.int64)
        bel = elimination_boundary(self.target, n_max, self.cutoff_eli)
        bd = np.minimum(bd, bel)
        bd[0] = NO_BOUND
        return be, bd, bel

    def select(self, n: np.ndarray, y: np.ndarray, r: np.ndarray | None = None) -> int:
        """MTD by ``select.mtd`` (with ``boundMTD``); equals :func:`nksim.trial.isotonic.select_mtd_boin`."""
        return select_mtd_from_counts(self.target, *self._final_elimination(n, y),
                                      lambda_d=self.lambdas[1] if self.bound_mtd else None)

    def boundary_table(self, max_n: int | None = None) -> dict[str, list]:
        lam_e, lam_d = self.lambdas
        return {"lambda_e": lam_e, "lambda_d": lam_d, **super().boundary_table(max_n)}
