"""i3+3 design (Liu, Wang & Ji 2020, J Biopharm Stat 30:294).

With y DLTs in n at the current dose and the equivalence interval EI = [target - eps1, target + eps2]:
escalate if y/n is below the EI; stay if y/n is inside it; if y/n is above it, stay when (y - 1)/n is below the
EI and de-escalate otherwise. A dose is eliminated when Pr(p > target | y, n; Beta(1, 1)) > 0.95 (from n >= 3).
The EI bounds are inclusive to 1e-12 (so 0.3 - 0.05 counts as 0.25 in floating point). Conduct and MTD
selection as the other interval designs; defaults eps1 = eps2 = 0.05 as in the paper.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from nksim.trial.interval import NO_BOUND, IntervalDesign, check_margins, elimination_boundary

_TOL = 1e-12


@dataclass(frozen=True)
class I3Plus3(IntervalDesign):
    """i3+3 with eps1 = eps2 = 0.05."""

    name: ClassVar[str] = "i3+3"
    eps1: float = 0.05
    eps2: float = 0.05

    def __post_init__(self) -> None:
        self._check_interval()
        check_margins("eps", self.eps1, self.eps2, self.target)

    def _boundaries(self, n_max: int):
        lo, hi = self.target - self.eps1, self.target + self.eps2
        be = np.full(n_max + 1, -1, dtype=np.int64)
        bd = np.full(n_max + 1, NO_BOUND, dtype=np.int64)
        bel = elimination_boundary(self.target, n_max, self.cutoff_eli)
        for n in range(1, n_max + 1):
            for y in range(n + 1):
                rate = y / n
                if rate < lo - _TOL:
                    be[n] = y
                elif rate > hi + _TOL and (y - 1) / n >= lo - _TOL:
                    bd[n] = y
                    break
            bd[n] = min(bd[n], bel[n])
        return be, bd, bel
