"""Counter-based random numbers for the ABM: uniform = hash(seed, agent id, step, purpose).

Stateless (the SplitMix64 finaliser of ``nksim.rng`` chained over the key words, compiled here by numba), so a
checkpoint needs no generator state and a resumed run draws exactly what an uninterrupted one would.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from nksim.rng import GOLDEN as _G
from nksim.rng import mix64, unit53

# nksim.rng's SplitMix64 finaliser and 53-bit float, compiled for uint64 scalars and inlined into the kernels (the
# package's numba cache guard watches nksim/rng.py, whose code and constants the cached kernels freeze)
_mix = njit(inline="always")(mix64)
_unit = njit(inline="always")(unit53)

# purposes (streams) of draws
P_EVENT = 0  # per NK event slot k: P_EVENT + 4 k ... (0..3 used per slot)
P_TUMOR_DIV = 1000
P_TUMOR_DIR = 1001
P_TUMOR_DEATH = 1002
P_ENTRY = 2000
P_ENTRY_POS = 2001
P_BUDGET = 3000
P_COMP = 3001
P_CAR = 3002


@njit(cache=True, inline="always")
def hash4(seed: np.int64, a: np.int64, b: np.int64, c: np.int64) -> np.uint64:
    h = _mix(np.uint64(seed) * _G + np.uint64(0x243F6A8885A308D3))
    h = _mix(h ^ (np.uint64(a) + _G))
    h = _mix(h ^ (np.uint64(b) * _G + np.uint64(1)))
    h = _mix(h ^ (np.uint64(c) + np.uint64(0x13198A2E03707344)))
    return h


@njit(cache=True, inline="always")
def uniform(seed: np.int64, a: np.int64, b: np.int64, c: np.int64) -> float:
    """Uniform on [0, 1) keyed by (seed, a, b, c): 53 random bits."""
    return _unit(hash4(seed, a, b, c))


@njit(cache=True)
def uniforms(seed: np.int64, a: np.ndarray, b: np.int64, c: np.int64) -> np.ndarray:
    """Vector of uniforms for ids ``a`` (tests and initialisation)."""
    out = np.empty(a.shape[0])
    for i in range(a.shape[0]):
        out[i] = uniform(seed, a[i], b, c)
    return out


@njit(cache=True, inline="always")
def poisson_small(lam: float, u: float) -> int:
    """Poisson draw by inversion of one uniform (for small means, capped at 64)."""
    if lam <= 0.0:
        return 0
    p = np.exp(-lam)
    c = p
    k = 0
    while u > c and k < 64:
        k += 1
        p *= lam / k
        c += p
    return k


@njit(cache=True, inline="always")
def geometric_budget(kappa: float, u: float) -> int:
    """Kills before exhaustion: geometric on {1, 2, ...} with mean kappa (each kill exhausts w.p. 1/kappa)."""
    if kappa <= 1.0:
        return 1
    q = 1.0 - 1.0 / kappa
    return 1 + int(np.floor(np.log(1.0 - u) / np.log(q)))
