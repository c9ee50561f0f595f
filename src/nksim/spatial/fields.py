"""Diffusion-reaction fields on the lattice: Douglas ADI (first order, unconditionally stable).

For dC/dt = D lap(C) - lam(x) C + S(x), one step of length dt solves, axis by axis,
    (I - dt (D dxx - lam)) C1 = C + dt (D dyy C + D dzz C + S)
    (I - dt D dyy) C2 = C1 - dt D dyy C
    (I - dt D dzz) C' = C2 - dt D dzz C
with zero-flux box walls. Its fixed point is the exact steady state of the discrete operator whatever dt, so the
(quasi-steady) fields the cells see do not depend on the field step; transients are first-order accurate. All
fields (substrate-major array F[s, voxel]) advance together in one compiled call; lines are solved in parallel
(numba prange) on large lattices, serially on small ones (thread start-up dominates there).
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from nksim.numba_cache import renamed_copy
from nksim.spatial.params import STROMA, TUMOR, VESSEL

BLOCK = 32
PARALLEL_MIN_VOXELS = 200_000


def _fields_step(F, cell, extra, diff, table, dt, dx, nx, ny, nz, ey, ez, rhs, C1):
    nxy = nx * ny
    nlines = ny * nz
    nbx = (nx + BLOCK - 1) // BLOCK
    for s in range(F.shape[0]):
        C = F[s]
        r = diff[s] * dt / (dx * dx)
        dec, upt, st, ss, ex, lev = table[s, 0], table[s, 1], table[s, 2], table[s, 3], table[s, 4], table[s, 5]
        # pass 1: explicit second differences along y (and z), right-hand side of the x solve
        for li in prange(nlines):
            y = li % ny
            z = li // ny
            base = li * nx
            for x in range(nx):
                v = base + x
                c = C[v]
                d = 0.0
                if y > 0:
                    d += C[v - nx] - c
                if y < ny - 1:
                    d += C[v + nx] - c
                ey[v] = d
                e = 0.0
                if nz > 1:
                    if z > 0:
                        e += C[v - nxy] - c
                    if z < nz - 1:
                        e += C[v + nxy] - c
                ez[v] = e
                cv = cell[v]
                src = extra[s, v]
                if cv == TUMOR:
                    src += st
                elif cv == STROMA:
                    src += ss
                elif cv == VESSEL:
                    src += ex * lev
                rhs[v] = c + dt * src + r * (d + e)
        # pass 2: implicit x with the reaction (Thomas per line)
        for li in prange(nlines):
            base = li * nx
            cp = np.empty(nx)
            dp = np.empty(nx)
            for k in range(nx):
                v = base + k
                cv = cell[v]
                lam = dec
                if cv == TUMOR:
                    lam += upt
                elif cv == VESSEL:
                    lam += ex
                nnb = (1 if k > 0 else 0) + (1 if k < nx - 1 else 0)
                b = 1.0 + dt * lam + r * nnb
                c = -r if k < nx - 1 else 0.0
                if k == 0:
                    inv = 1.0 / b
                    cp[k] = c * inv
                    dp[k] = rhs[v] * inv
                else:
                    inv = 1.0 / (b + r * cp[k - 1])
                    cp[k] = c * inv
                    dp[k] = (rhs[v] + r * dp[k - 1]) * inv
            C1[base + nx - 1] = dp[nx - 1]
            for k in range(nx - 2, -1, -1):
                C1[base + k] = dp[k] - cp[k] * C1[base + k + 1]
        # constant-coefficient factorisations for y and z
        cpy = np.empty(ny)
        deny = np.empty(ny)  # inverse pivots
        for k in range(ny):
            nnb = (1 if k > 0 else 0) + (1 if k < ny - 1 else 0)
            dd = 1.0 + r * nnb + (r * cpy[k - 1] if k > 0 else 0.0)
            deny[k] = 1.0 / dd
            cpy[k] = (-r if k < ny - 1 else 0.0) / dd
        # pass 3: implicit y, blocks of adjacent x; result into rhs (then C or z pass)
        for bi in prange(nz * nbx):
            z = bi // nbx
            x0 = (bi % nbx) * BLOCK
            x1 = min(x0 + BLOCK, nx)
            w = x1 - x0
            dp = np.empty((ny, w))
            for k in range(ny):
                off = z * nxy + k * nx + x0
                for j in range(w):
                    v = off + j
                    val = C1[v] - r * ey[v]
                    if k == 0:
                        dp[k, j] = val * deny[k]
                    else:
                        dp[k, j] = (val + r * dp[k - 1, j]) * deny[k]
            for j in range(w):
                rhs[z * nxy + (ny - 1) * nx + x0 + j] = dp[ny - 1, j]
            for k in range(ny - 2, -1, -1):
                off = z * nxy + k * nx + x0
                for j in range(w):
                    rhs[off + j] = dp[k, j] - cpy[k] * rhs[off + nx + j]
        if nz > 1:
            cpz = np.empty(nz)
            denz = np.empty(nz)
            for k in range(nz):
                nnb = (1 if k > 0 else 0) + (1 if k < nz - 1 else 0)
                dd = 1.0 + r * nnb + (r * cpz[k - 1] if k > 0 else 0.0)
                denz[k] = 1.0 / dd
                cpz[k] = (-r if k < nz - 1 else 0.0) / dd
            for bi in prange(ny * nbx):
                y = bi // nbx
                x0 = (bi % nbx) * BLOCK
                x1 = min(x0 + BLOCK, nx)
                w = x1 - x0
                dp = np.empty((nz, w))
                for k in range(nz):
                    off = k * nxy + y * nx + x0
                    for j in range(w):
                        v = off + j
                        val = rhs[v] - r * ez[v]
                        if k == 0:
                            dp[k, j] = val * denz[k]
                        else:
                            dp[k, j] = (val + r * dp[k - 1, j]) * denz[k]
                for j in range(w):
                    v = (nz - 1) * nxy + y * nx + x0 + j
                    C[v] = dp[nz - 1, j] if dp[nz - 1, j] > 0.0 else 0.0
                for k in range(nz - 2, -1, -1):
                    off = k * nxy + y * nx + x0
                    for j in range(w):
                        val = dp[k, j] - cpz[k] * C[off + nxy + j]
                        C[off + j] = val
                for k in range(nz - 1):
                    off = k * nxy + y * nx + x0
                    for j in range(w):
                        if C[off + j] < 0.0:
                            C[off + j] = 0.0
        else:
            for li in prange(nlines):
                base = li * nx
                for x in range(nx):
                    val = rhs[base + x]
                    C[base + x] = val if val > 0.0 else 0.0


_step_serial = njit(cache=True)(renamed_copy(_fields_step, "_fields_step_serial"))
_step_parallel = njit(cache=True, parallel=True)(renamed_copy(_fields_step, "_fields_step_parallel"))


class FieldWorkspace:
    """Preallocated work arrays of one lattice."""

    def __init__(self, nvox: int) -> None:
        self.ey = np.empty(nvox)
        self.ez = np.empty(nvox)
        self.rhs = np.empty(nvox)
        self.c1 = np.empty(nvox)


_WS: dict[int, FieldWorkspace] = {}


def field_step(F: np.ndarray, cell: np.ndarray, extra: np.ndarray, diff: np.ndarray, table: np.ndarray,
               dt: float, dx: float, shape: tuple[int, int, int], ws: FieldWorkspace | None = None) -> None:
    """Advance every field F[s] by dt (min) in place. extra[s] is an additional source per voxel (units/min)."""
    nx, ny, nz = shape
    nvox = nx * ny * nz
    if ws is None:
        ws = _WS.get(nvox)
        if ws is None:
            _WS.clear()
            ws = _WS[nvox] = FieldWorkspace(nvox)
    step = _step_parallel if nvox >= PARALLEL_MIN_VOXELS else _step_serial
    step(F, cell, extra, diff, table, float(dt), float(dx), nx, ny, nz, ws.ey, ws.ez, ws.rhs, ws.c1)


def steady_fields(F: np.ndarray, cell: np.ndarray, extra: np.ndarray, diff: np.ndarray, table: np.ndarray,
                  dx: float, shape: tuple[int, int, int], dt: float = 30.0, iters: int = 60) -> None:
    """Relax the fields towards their steady state (initialisation): repeated large-step Douglas ADI."""
    for _ in range(iters):
        field_step(F, cell, extra, diff, table, dt, dx, shape)
