"""Linear transit chains solved exactly inside the Runge-Kutta steps (Lawson's integrating-factor steps), as IR.

A chain (x_0, ..., x_m) with rate k (a process declares it: :class:`nksim.kinetics.processes.base.TransitChain`) has
the transit part L x = (0, k (x_0 - x_1), ..., k (x_{m-1} - x_m)). The right-hand side f splits exactly into L x and
the remainder N(x) = f(x) - L x, whatever else the model adds (for the leukocytes: the progenitors' feedback
proliferation and chemotherapy kill). On the chain's rows a step of the tableau (a, c, e; b = the last row of a) is
the Lawson step (Lawson 1967; Hochbruck & Ostermann, Acta Numerica 19 (2010), sec. 2.3)

    Y_s = E(c_s h) y + h sum_j a_sj E((c_s - c_j) h) N(Y_j),   E(tau) = exp(tau L),

with the error estimate h sum_j e_j E((1 - c_j) h) N(Y_j); every other state takes the tableau's own step. It is
computed as Lawson wrote it, in the transformed variable: G_j = E(-c_j h) N(Y_j), Y_s = E(c_s h) (y + h sum_j a_sj
G_j), 13 products with a triangular E a step instead of 34 (E(-c h) amplifies rounding by at most e^(k h) (k h)^m / m!
relative to h N, ~2e4 at the step bound below). L is lower
bidiagonal with equal rates, so E has a closed form (z = k tau):

    E[i][l] = e^-z z^(i-l) / (i-l)!  (1 <= l <= i),   E[0][0] = 1,   E[i][0] = 1 - e^-z sum_{q<i} z^q / q!.

The source's own diagonal is 0 in L: its explicit remainder (k x_0 (feedback - 1) - kill x_0) vanishes at rest,
whereas -k x_0 in L would leave +k x_0 feedback explicit, a growing mode (tried: 2x the steps).

Steps are limited to k h <= :data:`MAX_KH`. The feedback on the source is explicit, so the pair is stable on the
chain's closed loop only up to a k h that falls with the loop gain g (linearised at rest, g = wbc_gamma k for the
leukocytes; spectral radius of the step's amplification matrix): k h 17.8 at g / k = 0.1, 10.5 at 0.17, 8.5 at 0.25,
7 at 0.4, 6.5 at 0.5 (the plain Tsitouras pair: 2.2). Beyond it an oscillation grows by up to 1.5x a step while the
error estimate, which shares the instability, stays below 1 for months (a 0.7 cells/uL error of the late leukocytes
at k h = 12, wbc_gamma 0.17). 6 keeps twice the registry's largest feedback (wbc_gamma 0.25) stable and the tableau's
nodes resolve the transit kernel E((1 - c_j) h) (at k h ~ 25-30 the chain's local error was 30x its estimate).

The dense output on the chain's rows is Lawson's continuous extension, E(x h) (y + h sum_j b_j(x) G_j) with the
tableau's dense weights b_j(x), in steps with k h <= :data:`DENSE_KH`, where the chain moves within the step (the days
after lymphodepletion: 0.02-0.04 cells/uL from the reference where the tableau's own interpolant was 0.07-0.14 and the
Hermite one 0.3-0.4, GPC3 prototype); in longer steps the cubic Hermite interpolant of the step's end values and
derivatives (the one the trackers use for every quantity; error O(h^4) against O(h^5)): the transformed variable's
interpolation error is multiplied by up to e^(k h) (k h)^m / m! there (15 cells/uL at k h = 6, 110 at 12).
"""

from __future__ import annotations

from llvmlite import ir

from nksim.kinetics.codegen.irmath import VecMath

MAX_KH = 6.0  # largest step x chain rate (see the module docstring)
DENSE_KH = 1.0  # Lawson's continuous extension on the chain's rows up to this step x rate, the Hermite one beyond

Chain = tuple[tuple[int, ...], int]  # (state indices from the source on, rate parameter index)


class ChainStep:
    """One chain's rows in one step attempt from the state ``y`` with the first stage ``f0`` (the chain's rows, the
    source first); ``k`` and ``h`` are vectors (W lanes), stage values, remainders and the error estimate lists of
    vectors."""

    def __init__(self, vm: VecMath, rows: tuple[int, ...], k: ir.Value, h: ir.Value, y: list[ir.Value],
                 f0: list[ir.Value]) -> None:
        self.vm, self.b, self.rows, self.m = vm, vm.b, rows, len(rows)
        self.k, self.hk, self.y = k, vm.b.fmul(k, h), y
        self._exp: dict[float, tuple[list[ir.Value], list[ir.Value]]] = {}
        self.G: dict[int, list[ir.Value]] = {}
        self.remainder(0, 0.0, y, f0)

    def _expm(self, tau: float | ir.Value) -> tuple[list[ir.Value], list[ir.Value]]:
        """E(tau h): (J, H) with J[q] = e^-z z^q / q! (q < m) and H[i] = E[i][0] (i >= 1), z = k tau h (tau a
        constant or an IR value)."""
        if tau not in self._exp:
            b, vm = self.b, self.vm
            z = b.fmul(self.hk, vm.c(tau) if isinstance(tau, float) else tau)
            if isinstance(tau, float) and -tau in self._exp:  # exp(-z) = 1 / exp(z)
                ez = b.fdiv(vm.c(1.0), self._exp[-tau][0][0])
            else:
                ez = vm.exp(b.fsub(vm.c(0.0), z))
            J = [ez]
            for q in range(1, self.m):
                J.append(b.fmul(b.fmul(J[-1], z), vm.c(1.0 / q)))
            H = [vm.c(1.0)]
            acc = None
            for i in range(1, self.m):
                acc = J[0] if acc is None else b.fadd(acc, J[i - 1])
                H.append(b.fsub(vm.c(1.0), acc))
            self._exp[tau] = (J, H)
        return self._exp[tau]

    def apply(self, tau: float | ir.Value, u: list[ir.Value]) -> list[ir.Value]:
        """E(tau h) u."""
        if isinstance(tau, float) and tau == 0.0:
            return list(u)
        b = self.b
        J, H = self._expm(tau)
        out = [u[0]]
        for i in range(1, self.m):
            acc = b.fmul(H[i], u[0])
            for l in range(1, i + 1):
                acc = b.fadd(acc, b.fmul(J[i - l], u[l]))
            out.append(acc)
        return out

    def remainder(self, s: int, c: float, y: list[ir.Value], f: list[ir.Value]) -> None:
        """Stage s (at t + c h) done: its remainder N = f - L y on the chain's rows from its input y and right-hand
        side f, kept as G_s = E(-c h) N (Lawson's transformed variable: the stage sums are then the tableau's)."""
        b = self.b
        n = [f[0]]
        for i in range(1, self.m):
            n.append(b.fsub(f[i], b.fmul(self.k, b.fsub(y[i - 1], y[i]))))
        self.G[s] = self.apply(-c, n)

    def _sum(self, start: list[ir.Value], terms: list[tuple[ir.Value, int]]) -> list[ir.Value]:
        acc = list(start)
        for w, j in terms:
            acc = [_fma(self.vm, w, g, a) for g, a in zip(self.G[j], acc)]
        return acc

    def stage(self, c: float, terms: list[tuple[ir.Value, int]]) -> list[ir.Value]:
        """The input of the stage at t + c h: E(c h) (y + sum over terms (w, j) of w G_j), w = h a_sj (vectors);
        = E(c h) y + h sum_j a_sj E((c - c_j) h) N_j."""
        return self.apply(c, self._sum(self.y, terms))

    def error(self, terms: list[tuple[ir.Value, int]]) -> list[ir.Value]:
        """The error estimate E(h) sum over terms (w, j) of w G_j, w = h e_j."""
        return self.apply(1.0, self._sum([self.vm.c(0.0)] * self.m, terms))


def _fma(vm: VecMath, x: ir.Value, y: ir.Value, z: ir.Value) -> ir.Value:
    return vm.intrinsic("fma", x, y, z)


def hermite(vm: VecMath, x: ir.Value, h: ir.Value, y0: ir.Value, y1: ir.Value, f0: ir.Value, f1: ir.Value
            ) -> ir.Value:
    """The cubic Hermite interpolant at t + x h of values y0, y1 and derivatives f0, f1 at t and t + h."""
    b = vm.b
    u = b.fsub(vm.c(1.0), x)
    x2, u2 = b.fmul(x, x), b.fmul(u, u)
    h00 = b.fmul(b.fadd(vm.c(1.0), b.fmul(vm.c(2.0), x)), u2)
    h01 = b.fmul(x2, b.fsub(vm.c(3.0), b.fmul(vm.c(2.0), x)))
    slope = b.fsub(b.fmul(b.fmul(x, u2), f0), b.fmul(b.fmul(x2, u), f1))
    return b.fadd(b.fadd(b.fmul(h00, y0), b.fmul(h01, y1)), b.fmul(h, slope))
