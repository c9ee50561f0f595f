"""mTPI: modified toxicity probability interval design (Ji, Liu, Li & Bekele 2010, Clin Trials 7:653).

Three intervals: under-dosing (0, target - eps1), equivalence [target - eps1, target + eps2] and over-dosing
(target + eps2, 1). With a Beta(1, 1) prior, the unit probability mass UPM = Pr(p in interval | y, n) / length
decides: escalate, stay or de-escalate for the interval with the largest UPM (ties stay). A dose is eliminated
when Pr(p > target | y, n) > 0.95 (from n >= 3). Conduct and MTD selection as the other interval designs
(``nksim.trial.interval``); defaults eps1 = eps2 = 0.05 as in the paper.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np
from scipy.special import betainc

from nksim.trial.interval import NO_BOUND, IntervalDesign, check_margins
from nksim.trial.keyboard import boundaries_from_table


def mtpi_decision_table(target: float, n_max: int, eps1: float = 0.05, eps2: float = 0.05,
                        cutoff_eli: float = 0.95) -> np.ndarray:
    """Decision codes [n, y]: -1 de-escalate, 0 stay, 1 escalate, 2 eliminate."""
    lo, hi = target - eps1, target + eps2
    table = np.full((n_max + 1, n_max + 1), NO_BOUND, dtype=np.int64)
    for n in range(1, n_max + 1):
        for y in range(n + 1):
            a, b = y + 1, n - y + 1
            if 1 - betainc(a, b, target) > cutoff_eli:
                table[n, y: n + 1] = 2
                break
            c_lo, c_hi = betainc(a, b, lo), betainc(a, b, hi)
            u_e, u_s, u_d = c_lo / lo, (c_hi - c_lo) / (hi - lo), (1 - c_hi) / (1 - hi)
            table[n, y] = 1 if u_e > max(u_s, u_d) else (-1 if u_d > max(u_e, u_s) else 0)
    return table


@dataclass(frozen=True)
class MTPI(IntervalDesign):
    """mTPI with eps1 = eps2 = 0.05 and the BOIN-family conduct."""

    name: ClassVar[str] = "mtpi"
    eps1: float = 0.05
    eps2: float = 0.05

    def __post_init__(self) -> None:
        self._check_interval()
        check_margins("eps", self.eps1, self.eps2, self.target)

    def _boundaries(self, n_max: int):
        return boundaries_from_table(mtpi_decision_table(self.target, n_max, self.eps1, self.eps2, self.cutoff_eli))
