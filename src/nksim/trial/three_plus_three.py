"""The 3+3 design, in its two common variants (declared explicitly with ``deescalation``).

Cohorts of 3 at the current dose d (Storer 1989; rules as in Korn et al. 1994, Stat Med 13:1799, and the
``three_plus_three`` function of the R package escalation, Brock 2021):

- 0/3 DLTs: escalate; 1/3: treat 3 more at d; 0 or 1 of 6: escalate; >= 2 of 3 or of 6: d exceeds the MTD.
- escalating beyond the top dose is impossible: the top dose is selected; escalation also stops (selecting d)
  when the next dose already had >= 2 DLTs or 6 patients (only possible after a de-escalation).
- ``deescalation=False`` ("3+3 without expansion"): when d exceeds the MTD the trial stops and selects d - 1
  whatever its number of patients (none when d = 1). The exact selection probabilities are those of Lin & Shih
  2001 (Biostatistics 2:203), see :func:`exact_selection_no_deescalation`.
- ``deescalation=True`` ("3+3 with de-escalation"): the dose below is expanded to 6 when it had only 3; the trial
  stops when the dose below already had 6, selecting the highest dose with >= 6 patients and <= 1 DLT.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from nksim.errors import InputError
from nksim.trial.base import CohortState, Design


@dataclass(frozen=True)
class ThreePlusThree(Design):
    """3+3 (target is only used to count correct selections in operating characteristics)."""

    name: ClassVar[str] = "3+3"
    deescalation: bool = False

    def __post_init__(self) -> None:
        self._check_common()
        if self.cohort_size != 3:
            raise InputError("cohort_size", self.cohort_size, "3 for the 3+3 design")

    def decide(self, s: CohortState, rows: np.ndarray) -> None:
        K = self.n_doses
        d = s.dose[rows]
        n, y = s.at_dose(rows)
        top = d == K
        dn = np.minimum(d, K - 1)  # index of d + 1 (0-based d) where it exists
        nxt_bad = ~top & ((s.n[rows, dn] >= 6) | (s.y[rows, dn] >= 2))
        ok = ((n == 3) & (y == 0)) | ((n == 6) & (y <= 1))
        expand = (n == 3) & (y == 1)
        toxic = y >= 2
        # acceptable: escalate, or stop and select d
        stop_sel = ok & (top | nxt_bad)
        up = ok & ~stop_sel
        s.dose[rows[up]] += 1
        self._stop(s, rows[stop_sel], d[stop_sel])
        # d exceeds the MTD
        tox_rows, tox_d = rows[toxic], d[toxic]
        if not self.deescalation:
            self._stop(s, tox_rows, tox_d - 1)
        else:
            low = tox_d == 1
            self._stop(s, tox_rows[low], np.zeros(int(low.sum()), dtype=np.int64))
            r2, d2 = tox_rows[~low], tox_d[~low]
            below_small = s.n[r2, d2 - 2] < 6
            s.dose[r2[below_small]] -= 1
            done = r2[~below_small]
            if done.size:
                good = (s.n[done] >= 6) & (s.y[done] <= 1)
                highest = np.where(good.any(axis=1), K - np.argmax(good[:, ::-1], axis=1), 0)
                self._stop(s, done, highest)
        bad = ~(ok | expand | toxic)
        if bad.any():
            raise InputError("3+3 data", f"{int(y[bad][0])} DLTs in {int(n[bad][0])} patients at the current dose",
                             "3 or 6 patients at the current dose (3+3 cohorts of 3)")

    @staticmethod
    def _stop(s: CohortState, rows: np.ndarray, sel: np.ndarray) -> None:
        s.active[rows] = False
        s.selected[rows] = np.where(sel > 0, sel, -1)
        s.early_stop[rows[sel <= 0]] = True

    def select(self, n: np.ndarray, y: np.ndarray, r: np.ndarray | None = None) -> int:
        """Fallback when the sample size ran out: the highest dose with 0/3 or <= 1/6 below any dose with >= 2 DLTs."""
        n = np.asarray(n)
        y = np.asarray(y)
        bad = np.flatnonzero(y >= 2)
        limit = bad[0] if bad.size else n.size
        need = 6 if self.deescalation else 3
        good = [i for i in range(limit) if n[i] >= need and (y[i] == 0 or (n[i] >= 6 and y[i] <= 1))]
        return good[-1] + 1 if good else 0

    def select_batch(self, s: CohortState) -> np.ndarray:
        out = np.where(s.selected > 0, s.selected, 0)
        pending = s.selected == 0
        if pending.any():
            out[pending] = [self.select(s.n[i], s.y[i]) for i in np.flatnonzero(pending)]
        return out


def exact_selection_no_deescalation(p_tox) -> tuple[np.ndarray, float]:
    """Exact selection probabilities of 3+3 without de-escalation (Lin & Shih 2001, Biostatistics 2:203).

    With A_j = P(0/3) + P(1/3) P(0/3) the probability of escalating past dose j, P(select j) = A_1 ... A_j
    (1 - A_{j+1}) (A_{K+1} = 0) and P(no dose) = 1 - A_1. Returns (selection per dose, no-selection probability).
    """
    p = np.asarray(p_tox, dtype=float)
    b0 = (1 - p) ** 3
    b1 = 3 * p * (1 - p) ** 2
    a = b0 + b1 * b0
    cum = np.cumprod(a)
    nxt = np.append(a[1:], 0.0)
    return cum * (1 - nxt), float(1 - a[0])


def escalation_probability(p: float) -> float:
    """P(escalating past a dose with DLT probability p) under 3+3: (1-p)^3 [1 + 3p(1-p)^2]."""
    return float((1 - p) ** 3 * (1 + 3 * p * (1 - p) ** 2))
