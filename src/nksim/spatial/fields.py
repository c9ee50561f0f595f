"""Diffusion-reaction fields on the lattice: Douglas ADI (first order, unconditionally stable).

For dC/dt = D lap(C) - lam(x) C + S(x), one step of length dt solves, axis by axis,
    (I - dt (D dxx - lam)) C1 = C + dt (D dyy C + D dzz C + S)
    (I - dt D dyy) C2 = C1 - dt D dyy C
    (I - dt D dzz) C' = C2 - dt D dzz C
with zero-flux box walls. Its fixed point is the exact steady state of the discrete operator whatever dt, so the
(quasi-steady) fields the cells see do not depend on the field step; transients are first-order accurate. All
fields (substrate-major array F[s, voxel]) advance together; lines are solved in parallel (numba prange).
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from nksim.spatial.params import STROMA, TUMOR, VESSEL

BLOCK = 64


@njit(cache=True)
def _reaction(cell, table_row, extra, nvox):
    lam = np.empty(nvox)
    src = np.empty(nvox)
    dec, upt, st, ss, ex, lev = table_row[0], table_row[1], table_row[2], table_row[3], table_row[4], table_row[5]
    for v in range(nvox):
        c = cell[v]
        lv = dec
        sv = extra[v]
        if c == TUMOR:
            lv += upt
            sv += st
        elif c == STROMA:
            sv += ss
        elif c == VESSEL:
            lv += ex
            sv += ex * lev
        lam[v] = lv
        src[v] = sv
    return lam, src


def _explicit_second_diff(C, out, n_line, stride, nx, ny, nz):
    """out += second difference of C along an axis (zero-flux), for every voxel."""
    nvox = nx * ny * nz
    for v in prange(nvox):
        if stride == 1:
            k = v % nx
        elif stride == nx:
            k = (v // nx) % ny
        else:
            k = v // (nx * ny)
        c = C[v]
        d = 0.0
        if k > 0:
            d += C[v - stride] - c
        if k < n_line - 1:
            d += C[v + stride] - c
        out[v] += d


def _solve_x(C, rhs, lam, r, dt, nx, nlines):
    """Tridiagonal solves along x (contiguous lines) with diagonal 1 + dt lam + r (#neighbours)."""
    for li in prange(nlines):
        base = li * nx
        cp = np.empty(nx)
        dp = np.empty(nx)
        for k in range(nx):
            v = base + k
            nnb = (1 if k > 0 else 0) + (1 if k < nx - 1 else 0)
            b = 1.0 + dt * lam[v] + r * nnb
            a = -r if k > 0 else 0.0
            c = -r if k < nx - 1 else 0.0
            if k == 0:
                cp[k] = c / b
                dp[k] = rhs[v] / b
            else:
                den = b - a * cp[k - 1]
                cp[k] = c / den
                dp[k] = (rhs[v] - a * dp[k - 1]) / den
        C[base + nx - 1] = dp[nx - 1]
        for k in range(nx - 2, -1, -1):
            C[base + k] = dp[k] - cp[k] * C[base + k + 1]


def _solve_strided(C, rhs, r, n, stride, nx, ny, nz):
    """Tridiagonal solves (I - r d2) along y (stride nx) or z (stride nx*ny), blocks of adjacent lines at once."""
    if stride == nx:
        n_bases = nx * nz  # base = x + nx*ny*z
    else:
        n_bases = nx * ny  # base = x + nx*y
    nblocks = (n_bases + BLOCK - 1) // BLOCK
    # constant coefficients: factorise once
    cp = np.empty(n)
    den = np.empty(n)
    for k in range(n):
        nnb = (1 if k > 0 else 0) + (1 if k < n - 1 else 0)
        b = 1.0 + r * nnb
        a = -r if k > 0 else 0.0
        c = -r if k < n - 1 else 0.0
        dd = b - (a * cp[k - 1] if k > 0 else 0.0)
        den[k] = dd
        cp[k] = c / dd
    for bi in prange(nblocks):
        j0 = bi * BLOCK
        j1 = min(j0 + BLOCK, n_bases)
        dp = np.empty((n, j1 - j0))
        for k in range(n):
            for j in range(j0, j1):
                if stride == nx:
                    base = (j % nx) + nx * ny * (j // nx)
                else:
                    base = j
                v = base + k * stride
                if k == 0:
                    dp[k, j - j0] = rhs[v] / den[k]
                else:
                    dp[k, j - j0] = (rhs[v] + r * dp[k - 1, j - j0]) / den[k]
        for j in range(j0, j1):
            if stride == nx:
                base = (j % nx) + nx * ny * (j // nx)
            else:
                base = j
            C[base + (n - 1) * stride] = dp[n - 1, j - j0]
            for k in range(n - 2, -1, -1):
                C[base + k * stride] = dp[k, j - j0] - cp[k] * C[base + (k + 1) * stride]


# serial builds for small lattices (thread start-up dominates there), parallel builds for large ones
PARALLEL_MIN_VOXELS = 200_000
_KERNELS = {
    par: tuple(njit(cache=True, parallel=par)(f) for f in (_explicit_second_diff, _solve_x, _solve_strided))
    for par in (False, True)
}


_sd_s, _sx_s, _ss_s = _KERNELS[False]


@njit(cache=True)
def _field_step_serial(F, cell, extra, diff, table, dt, dx, nx, ny, nz):
    """The same Douglas ADI step as :func:`field_step`, fused into one compiled call (small lattices)."""
    nvox = nx * ny * nz
    for s in range(F.shape[0]):
        C = F[s]
        r = diff[s] * dt / (dx * dx)
        lam, src = _reaction(cell, table[s], extra[s], nvox)
        ey = np.zeros(nvox)
        _sd_s(C, ey, ny, nx, nx, ny, nz)
        ez = np.zeros(nvox)
        if nz > 1:
            _sd_s(C, ez, nz, nx * ny, nx, ny, nz)
        rhs = C + dt * src + r * (ey + ez)
        C1 = np.empty(nvox)
        _sx_s(C1, rhs, lam, r, dt, nx, ny * nz)
        C2 = np.empty(nvox)
        _ss_s(C2, C1 - r * ey, r, ny, nx, nx, ny, nz)
        if nz > 1:
            C3 = np.empty(nvox)
            _ss_s(C3, C2 - r * ez, r, nz, nx * ny, nx, ny, nz)
            C2 = C3
        for v in range(nvox):
            F[s, v] = C2[v] if C2[v] > 0.0 else 0.0


@njit(cache=True)
def _clip(C):
    for v in range(C.shape[0]):
        if C[v] < 0.0:
            C[v] = 0.0


def field_step(F: np.ndarray, cell: np.ndarray, extra: np.ndarray, diff: np.ndarray, table: np.ndarray,
               dt: float, dx: float, shape: tuple[int, int, int]) -> None:
    """Advance every field F[s] by dt (min) in place. extra[s] is an additional source per voxel (units/min)."""
    nx, ny, nz = shape
    nvox = nx * ny * nz
    if nvox < PARALLEL_MIN_VOXELS:
        _field_step_serial(F, cell, extra, diff, table, float(dt), float(dx), nx, ny, nz)
        return
    second_diff, solve_x, solve_strided = _KERNELS[True]
    for s in range(F.shape[0]):
        C = F[s]
        r = diff[s] * dt / (dx * dx)
        lam, src = _reaction(cell, table[s], extra[s], nvox)
        # explicit parts of the other axes (kept for the correction steps)
        ey = np.zeros(nvox)
        second_diff(C, ey, ny, nx, nx, ny, nz)
        ez = np.zeros(nvox)
        if nz > 1:
            second_diff(C, ez, nz, nx * ny, nx, ny, nz)
        rhs = C + dt * src + r * (ey + ez)
        C1 = np.empty(nvox)
        solve_x(C1, rhs, lam, r, dt, nx, ny * nz)
        C2 = np.empty(nvox)
        solve_strided(C2, C1 - r * ey, r, ny, nx, nx, ny, nz)
        if nz > 1:
            C3 = np.empty(nvox)
            solve_strided(C3, C2 - r * ez, r, nz, nx * ny, nx, ny, nz)
            C2 = C3
        _clip(C2)
        F[s] = C2


def steady_fields(F: np.ndarray, cell: np.ndarray, extra: np.ndarray, diff: np.ndarray, table: np.ndarray,
                  dx: float, shape: tuple[int, int, int], dt: float = 30.0, iters: int = 60) -> None:
    """Relax the fields towards their steady state (initialisation): repeated large-step Douglas ADI."""
    for _ in range(iters):
        field_step(F, cell, extra, diff, table, dt, dx, shape)
