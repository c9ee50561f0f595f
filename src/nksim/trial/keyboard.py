"""Keyboard design (Yan, Mandrekar & Yuan 2017, Clin Cancer Res 23:3994) and mTPI-2 (Guo et al. 2017).

Boundaries as ``get.boundary.kb`` of the R package Keyboard 0.1.3: the target key is
[target - margin_l, target + margin_r]; keys of the same width tile (0, 1) on both sides (the end keys cut at 0
and 1 and their posterior mass scaled by width ratio, the "compensation factor"); with a Beta(1, 1) prior, for y
DLTs in n the "strongest key" (highest posterior probability, the highest key on a tie) decides: below the target
key escalate, the target key stay, above it de-escalate. A dose is eliminated when Pr(p > target | y, n) > 0.95
(used from n >= 3, as ``get.oc.kb``); then escalate if y <= b_e(n), de-escalate if y >= b_d(n).

mTPI-2 picks the sub-interval with the highest unit probability mass over the same tiling (Guo, Li & Yuan 2017,
Contemp Clin Trials 58:23), which is the same rule: its decisions equal the Keyboard's (Zhou, Yu & Yuan 2018, Stat
Methods Med Res 27:2340), so :class:`MTPI2` is the Keyboard with its own name.

The Keyboard package's conduct differs from BOIN's in the early-stop rule: stop as soon as n_earlystop patients
were treated at the current dose ("at_n").
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np
from scipy.special import betainc

from nksim.errors import InputError
from nksim.trial.interval import NO_BOUND, IntervalDesign, check_margins


def keyboard_keys(a1: float, a2: float) -> np.ndarray:
    """Key boundaries: the target key [a1, a2] and keys of width a2 - a1 on both sides, clipped to [0, 1]."""
    width = a2 - a1
    left, i, cut = [], 0, a1
    while cut > 0:
        i += 1
        cut = a1 - i * width
        left.insert(0, max(cut, 0.0))
    right, i, cut = [], 0, a2
    while cut < 1:
        i += 1
        cut = a2 + i * width
        right.append(min(cut, 1.0))
    return np.array(left + [a1, a2] + right)


def keyboard_decision_table(target: float, n_max: int, margin_l: float = 0.05, margin_r: float = 0.05,
                            cutoff_eli: float = 0.95) -> np.ndarray:
    """Decision codes [n, y] for n = 1..n_max: -1 de-escalate, 0 stay, 1 escalate, 2 eliminate (DU)."""
    keys = keyboard_keys(target - margin_l, target + margin_r)
    nk = keys.size - 1
    comp = np.ones(nk)
    comp[0] = (margin_l + margin_r) / (keys[1] - keys[0])
    comp[-1] = (margin_l + margin_r) / (keys[-1] - keys[-2])
    tkey = int(np.flatnonzero(keys == target - margin_l)[0])
    table = np.full((n_max + 1, n_max + 1), NO_BOUND, dtype=np.int64)
    for n in range(1, n_max + 1):
        for y in range(n + 1):
            if 1 - betainc(y + 1, n - y + 1, target) > cutoff_eli:
                table[n, y: n + 1] = 2
                break
            cdf = betainc(y + 1, n - y + 1, keys)
            mass = np.diff(cdf) * comp
            high = int(np.flatnonzero(mass == mass.max())[-1])
            table[n, y] = -1 if high > tkey else (0 if high == tkey else 1)
    return table


def boundaries_from_table(table: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """b_e (largest y escalating, -1 if none), b_d (smallest y de-escalating or eliminating), b_elim per n."""
    n_max = table.shape[0] - 1
    be = np.full(n_max + 1, -1, dtype=np.int64)
    bd = np.full(n_max + 1, NO_BOUND, dtype=np.int64)
    bel = np.full(n_max + 1, NO_BOUND, dtype=np.int64)
    for n in range(1, n_max + 1):
        row = table[n, : n + 1]
        e = np.flatnonzero(row == 1)
        d = np.flatnonzero(row == -1)
        u = np.flatnonzero(row == 2)
        if e.size:
            be[n] = e.max()
        if d.size:
            bd[n] = d.min()
        elif u.size:
            bd[n] = u.min()
        if u.size:
            bel[n] = u.min()
        if e.size and bd[n] < NO_BOUND and e.max() >= bd[n]:
            raise InputError("decision table", f"n = {n}", "decisions monotone in the number of DLTs")
    return be, bd, bel


@dataclass(frozen=True)
class Keyboard(IntervalDesign):
    """Keyboard design with the R package's defaults (margins 0.05, cutoff_eli 0.95, n_earlystop 100)."""

    name: ClassVar[str] = "keyboard"
    earlystop_rule: ClassVar[str] = "at_n"
    margin_l: float = 0.05
    margin_r: float = 0.05

    def __post_init__(self) -> None:
        self._check_interval()
        check_margins("margin", self.margin_l, self.margin_r, self.target)

    def _boundaries(self, n_max: int):
        return boundaries_from_table(
            keyboard_decision_table(self.target, n_max, self.margin_l, self.margin_r, self.cutoff_eli))


@dataclass(frozen=True)
class MTPI2(Keyboard):
    """mTPI-2 (Guo, Li & Yuan 2017): same decisions as the Keyboard design with epsilon1 = margin_l, epsilon2 = margin_r."""

    name: ClassVar[str] = "mtpi2"
