"""Interval designs: decisions read from escalation / de-escalation / elimination boundaries by number treated.

BOIN, Keyboard (= mTPI-2 decisions), mTPI and i3+3 differ only in how the boundaries are derived; the conduct is
the same and follows ``get.oc`` of the BOIN R package 2.7.2 (Yan et al. 2020):

after each cohort at the current dose d with n patients and y DLTs,
1. elimination: if n >= 3 and y >= elim(n), dose d and all higher doses are eliminated; the trial stops with no
   MTD if d = 1. With ``extrasafe`` (checked only where elim(n) exists, as in ``get.oc``) the trial also stops when
   d = 1 and Pr(p_1 > target | y, n) > cutoff_eli - offset.
2. early stop at ``n_earlystop`` patients on the current dose: BOIN 2.7 stops only when the next dose would be the
   same dose (stay; or de-escalate at dose 1; or escalate at the top / below an eliminated dose); the Keyboard
   package (``get.oc.kb``) stops as soon as n >= n_earlystop, before the elimination check ("at_n").
3. escalate if y <= b_e(n) (unless d is the top dose; stay if d + 1 is eliminated), else de-escalate if
   y >= b_d(n) (unless d = 1), else stay.
The MTD is then chosen by :func:`nksim.trial.isotonic.select_mtd_boin`.
"""

from __future__ import annotations

from dataclasses import dataclass

from abc import abstractmethod
from functools import lru_cache
from typing import ClassVar

import numpy as np

from nksim.errors import InputError
from nksim.trial.base import CohortState, Design
from nksim.trial.isotonic import prob_above, select_mtd_from_counts

NO_BOUND = 10**6  # "never" for an elimination boundary that does not exist at this n (R's NA)


def elimination_boundary(target: float, n_max: int, cutoff: float, min_n: int = 3) -> np.ndarray:
    """elim[n] = smallest y in 1..n with Pr(p > target | Beta(1 + y, 1 + n - y)) > cutoff (NO_BOUND if none, n < min_n)."""
    out = np.full(n_max + 1, NO_BOUND, dtype=np.int64)
    for n in range(max(min_n, 1), n_max + 1):
        ys = np.arange(1, n + 1)
        hit = np.flatnonzero(prob_above(target, ys, n) > cutoff)
        if hit.size:
            out[n] = ys[hit[0]]
    return out


def check_margins(name: str, lower: float, upper: float, target: float) -> None:
    """Interval half-widths around the target: lower in (0, target), upper in (0, 1 - target)."""
    if not (0 < lower < target and 0 < upper < 1 - target):
        raise InputError(name, (lower, upper), f"lower in (0, target), upper in (0, 1 - target) for target {target}")


@dataclass(frozen=True)
class IntervalDesign(Design):
    """Shared conduct and settings of the interval designs (subclasses give the boundaries)."""

    earlystop_rule: ClassVar[str] = "boin"  # or "at_n"
    n_earlystop: int = 100
    cutoff_eli: float = 0.95
    extrasafe: bool = False
    offset: float = 0.05

    def _check_interval(self) -> None:
        self._check_common()
        if not 0.5 < self.cutoff_eli < 1:
            raise InputError("cutoff_eli", self.cutoff_eli, "a posterior probability in (0.5, 1)")
        if not 0 < self.offset < 0.5:
            raise InputError("offset", self.offset, "a number in (0, 0.5)")
        if int(self.n_earlystop) < 1:
            raise InputError("n_earlystop", self.n_earlystop, "an integer >= 1")

    @abstractmethod
    def _boundaries(self, n_max: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Arrays b_e, b_d, b_elim indexed by n = 0..n_max (index 0 unused; NO_BOUND where none)."""

    def tables(self, n_max: int | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        return _tables(self, max(int(n_max or 0), self.max_n))

    def stop_boundary(self, n_max: int) -> np.ndarray:
        """Extra-safe stopping boundary at the lowest dose (cutoff_eli - offset)."""
        return np.asarray(_elim_table(self.target, self.cutoff_eli - self.offset, n_max))

    def decide(self, s: CohortState, rows: np.ndarray) -> None:
        K = self.n_doses
        need = int(s.n[rows].max(initial=0))
        be, bd, bel = self.tables(need)
        d = s.dose[rows]
        n, y = s.at_dose(rows)
        go = np.ones(rows.size, dtype=bool)
        if self.earlystop_rule == "at_n":
            hit = n >= self.n_earlystop
            s.active[rows[hit]] = False
            go &= ~hit
        has_elim = bel[n] < NO_BOUND
        el = go & (n >= 3) & (y >= bel[n])
        if el.any():
            s.eliminated[rows[el]] |= np.arange(K)[None, :] >= (d[el] - 1)[:, None]
        stop = el & (d == 1)
        if self.extrasafe:
            sb = self.stop_boundary(max(need, self.max_n))
            stop |= go & has_elim & (d == 1) & (n >= 3) & (y >= sb[n])
        s.active[rows[stop]] = False
        s.early_stop[rows[stop]] = True
        go &= ~stop
        esc = y <= be[n]
        dec = y >= bd[n]
        top = d == K
        nxt_elim = np.ones(rows.size, dtype=bool)
        nxt_elim[~top] = s.eliminated[rows[~top], d[~top]]
        if self.earlystop_rule == "boin":
            stay = ~esc & ~dec
            hit = go & (n >= self.n_earlystop) & (stay | ((d == 1) & dec) | ((top | nxt_elim) & esc))
            s.active[rows[hit]] = False
            go &= ~hit
        up = go & esc & ~top & ~nxt_elim
        down = go & ~(esc & ~top) & dec & (d != 1)
        s.dose[rows[up]] += 1
        s.dose[rows[down]] -= 1

    def select(self, n: np.ndarray, y: np.ndarray, r: np.ndarray | None = None) -> int:
        """MTD by BOIN's ``select.mtd`` (:func:`nksim.trial.isotonic.select_mtd_boin`, computed on plain lists)."""
        return select_mtd_from_counts(self.target, *self._final_elimination(n, y))

    def _final_elimination(self, n, y) -> tuple[list[int], list[int], int]:
        """(n, y, index of the lowest dose eliminated by the final-data rule of ``select.mtd``)."""
        n = [int(v) for v in n]
        y = [int(v) for v in y]
        bel = _elim_table(self.target, self.cutoff_eli, max(max(n), self.max_n))
        first = next((i for i in range(len(n)) if n[i] >= 3 and y[i] >= bel[n[i]]), len(n))
        if self.extrasafe and n[0] >= 3:
            sb = _elim_table(self.target, self.cutoff_eli - self.offset, max(max(n), self.max_n))
            if y[0] >= sb[n[0]]:
                first = 0
        return n, y, first

    def boundary_table(self, max_n: int | None = None) -> dict[str, list]:
        """The table of ``get.boundary``: escalate if DLTs <= b_e, de-escalate if >= b_d, eliminate if >= elim."""
        n_max = int(max_n or self.max_n)
        be, bd, bel = self.tables(n_max)
        ns = list(range(1, n_max + 1))

        def clean(a):
            return [None if (v >= NO_BOUND or v < 0) else int(v) for v in a[1: n_max + 1]]

        out = {
            "n_treated": ns,
            "escalate_if_dlt_le": [int(v) for v in be[1: n_max + 1]],
            "deescalate_if_dlt_ge": clean(bd),
            "eliminate_if_dlt_ge": clean(bel),
        }
        if self.extrasafe:
            out["stop_if_dlt_ge_at_lowest_dose"] = clean(self.stop_boundary(n_max))
        return out


@lru_cache(maxsize=256)
def _elim_table(target: float, cutoff: float, n_max: int) -> list[int]:
    return elimination_boundary(target, n_max, cutoff).tolist()


@lru_cache(maxsize=256)
def _tables(design: IntervalDesign, n_max: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    be, bd, bel = design._boundaries(n_max)
    for a in (be, bd, bel):
        a.setflags(write=False)
    return be, bd, bel
