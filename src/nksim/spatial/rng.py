"""Counter-based random numbers for the ABM: uniform = hash(seed, agent id, step, purpose).

Stateless (splitmix64 finaliser chained over the key words), so a checkpoint needs no generator state and a resumed
run draws exactly what an uninterrupted one would.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from nksim.rng import GOLDEN as _G
from nksim.rng import MIX_M1 as _M1
from nksim.rng import MIX_M2 as _M2
from nksim.rng import MIX_S1 as _S30
from nksim.rng import MIX_S2 as _S27
from nksim.rng import MIX_S3 as _S31  # the SplitMix64 constants, shared with the cohort and trial generators

_S11 = np.uint64(11)
_INV53 = 1.0 / 9007199254740992.0

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
def _mix(z: np.uint64) -> np.uint64:
    z = (z ^ (z >> _S30)) * _M1
    z = (z ^ (z >> _S27)) * _M2
    return z ^ (z >> _S31)


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
    return float(hash4(seed, a, b, c) >> _S11) * _INV53


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
