"""Counter-based random streams keyed by (seed, module, entity id).

A patient's (or lot's, or agent's) draws never depend on chunking, worker count or order: each key gets its own
``numpy.random.Generator`` (Philox) from a ``SeedSequence`` built from the seed, a stable hash of the module name and
the integer id(s).

The vectorised and compiled generators hash their keys with SplitMix64 (:func:`mix64`, :func:`splitmix64`,
:func:`unit53`), implemented here once: the cohort draws (:func:`keyed_uniforms`), the trial outcomes
(``nksim.trial.outcomes``) and the agent-based model (``nksim.spatial.rng``, which compiles these functions with
numba) all call them.
"""

from __future__ import annotations

import zlib

import numpy as np


def module_key(module: str) -> int:
    """Stable 32-bit key of a module name (crc32; independent of Python's hash randomisation)."""
    return zlib.crc32(module.encode())


def stream(seed: int, module: str, *ids: int) -> np.random.Generator:
    """A Philox generator for the key (seed, module, *ids)."""
    if seed < 0:
        raise ValueError(f"seed = {seed} is not allowed; expected a non-negative integer")
    ss = np.random.SeedSequence([int(seed), module_key(module), *(int(i) for i in ids)])
    return np.random.Generator(np.random.Philox(ss))


# SplitMix64 (Steele, Lea & Flood 2014): the golden-ratio increment and the finaliser's multipliers and shifts.
GOLDEN = np.uint64(0x9E3779B97F4A7C15)
MIX_M1 = np.uint64(0xBF58476D1CE4E5B9)
MIX_M2 = np.uint64(0x94D049BB133111EB)
MIX_S1, MIX_S2, MIX_S3 = np.uint64(30), np.uint64(27), np.uint64(31)
UNIT_SHIFT = np.uint64(11)  # keep the top 53 bits of a 64-bit hash: the mantissa of a double
UNIT_SCALE = 1.0 / 9007199254740992.0  # 2**-53

# The three functions below are written for both callers: numpy (elementwise on uint64 arrays) and numba, which
# compiles them for uint64 scalars (``nksim.spatial.rng``; its numba cache guard watches this file). Integer
# arithmetic wraps modulo 2**64 in both (numpy does not warn on integer array overflow).


def mix64(x: np.ndarray) -> np.ndarray:
    """SplitMix64 finaliser (bijective 64-bit mixing) of uint64 values."""
    x = x ^ (x >> MIX_S1)
    x = x * MIX_M1
    x = x ^ (x >> MIX_S2)
    x = x * MIX_M2
    return x ^ (x >> MIX_S3)


def splitmix64(x: np.ndarray) -> np.ndarray:
    """One SplitMix64 output step of uint64 state(s) ``x``: the golden-ratio increment, then the finaliser."""
    return mix64(x + GOLDEN)


def unit53(h: np.ndarray) -> np.ndarray:
    """Float64 in [0, 1) from the top 53 bits of uint64 hash(es) ``h`` (exact: every value is a multiple of
    2**-53)."""
    return (h >> UNIT_SHIFT) * UNIT_SCALE


def keyed_uniforms(seed: int, module: str, ids: np.ndarray, *keys: int) -> np.ndarray:
    """Counter-based uniforms in (0, 1), one per id, keyed by (seed, module, id, *keys).

    Vectorised twin of :func:`stream` for large cohorts: each value depends only on its key, never on the position of
    the id in the array, so chunking and worker count cannot change a patient's draws.
    """
    with np.errstate(over="ignore"):
        h = mix64(np.full(np.shape(ids), np.uint64(seed) * GOLDEN + np.uint64(module_key(module)), dtype=np.uint64))
        h = mix64(h ^ (np.asarray(ids, dtype=np.uint64) + GOLDEN))
        for k in keys:
            h = mix64(h ^ (np.uint64(k & 0xFFFFFFFFFFFFFFFF) * GOLDEN + np.uint64(1)))
    return ((h >> np.uint64(11)).astype(np.float64) + 0.5) * (1.0 / 9007199254740992.0)


def keyed_normals(seed: int, module: str, ids: np.ndarray, *keys: int) -> np.ndarray:
    """Standard normals by inverse CDF of :func:`keyed_uniforms`."""
    from scipy.special import ndtri

    return ndtri(keyed_uniforms(seed, module, ids, *keys))
