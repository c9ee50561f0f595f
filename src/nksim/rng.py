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
    return uniforms_of(id_hashes(seed, module, ids), *keys)


def id_hashes(seed: int, module: str, ids: np.ndarray) -> np.ndarray:
    """The hashes of (seed, module, id) that :func:`keyed_uniforms` continues with its keys (uint64, one per id):
    computed once, they serve every key of the same ids (:func:`uniforms_of`)."""
    with np.errstate(over="ignore"):
        h = mix64(np.uint64(seed) * GOLDEN + np.uint64(module_key(module)))  # the same for every id
        return mix64(h ^ (np.asarray(ids, dtype=np.uint64) + GOLDEN))


def uniforms_of(hashes: np.ndarray, *keys: int) -> np.ndarray:
    """:func:`keyed_uniforms` of the ids whose :func:`id_hashes` are ``hashes``."""
    h = hashes
    with np.errstate(over="ignore"):
        for k in keys:
            h = mix64(h ^ (np.uint64(k & 0xFFFFFFFFFFFFFFFF) * GOLDEN + np.uint64(1)))
    return ((h >> np.uint64(11)).astype(np.float64) + 0.5) * (1.0 / 9007199254740992.0)


def keyed_normals(seed: int, module: str, ids: np.ndarray, *keys: int) -> np.ndarray:
    """Standard normals by inverse CDF of :func:`keyed_uniforms`."""
    return normals_of(id_hashes(seed, module, ids), *keys)


def normals_of(hashes: np.ndarray, *keys: int) -> np.ndarray:
    """:func:`keyed_normals` of the ids whose :func:`id_hashes` are ``hashes``."""
    from scipy.special import ndtri

    return ndtri(uniforms_of(hashes, *keys))


# ---- vectorised twin of ``stream(seed, module, *ids).random(n)`` ------------------------------------------------
# numpy's SeedSequence (entropy pool of 4 uint32 words, hashmix/mix constants) and Philox4x64-10 (Salmon et al.
# 2011, Random123) written on arrays, so a cohort's per-patient streams cost one pass instead of one Generator per
# patient. ``tests/test_rng_stream_uniforms.py`` checks it against ``stream`` draw for draw.
_SS_INIT_A, _SS_MULT_A = np.uint32(0x43B0D7E5), np.uint32(0x931E8875)
_SS_INIT_B, _SS_MULT_B = np.uint32(0x8B51F9DD), np.uint32(0x58F38DED)
_SS_MIX_L, _SS_MIX_R = np.uint32(0xCA01F9DD), np.uint32(0x4973F715)
_SS_SHIFT = np.uint32(16)
_PHILOX_M = (np.uint64(0xD2E7470EE14C6C93), np.uint64(0xCA5A826395121157))
_PHILOX_W = (np.uint64(0x9E3779B97F4A7C15), np.uint64(0xBB67AE8584CAA73B))
_LO32 = np.uint64(0xFFFFFFFF)
_S32 = np.uint64(32)


def _uint32_words(value: int) -> list[int]:
    """numpy SeedSequence's coercion of a non-negative int: little-endian 32-bit words, [0] for 0."""
    words = []
    while True:
        words.append(value & 0xFFFFFFFF)
        value >>= 32
        if value == 0:
            return words


def _seed_sequence_key(entropy: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Philox key (2 uint64 arrays) of ``Philox(SeedSequence(entropy))`` for entropy words given as uint32 arrays
    (broadcasting: a word the same for every key may be a 0-d array)."""
    n = len(entropy)
    hash_const = np.full(entropy[0].shape, _SS_INIT_A, dtype=np.uint32)

    def hashmix(value: np.ndarray) -> np.ndarray:
        nonlocal hash_const
        value = value ^ hash_const
        hash_const = hash_const * _SS_MULT_A
        value = value * hash_const
        return value ^ (value >> _SS_SHIFT)

    def mix(x: np.ndarray, y: np.ndarray) -> np.ndarray:
        r = _SS_MIX_L * x - _SS_MIX_R * y
        return r ^ (r >> _SS_SHIFT)

    zero = np.zeros_like(hash_const)
    pool = [hashmix(entropy[i] if i < n else zero) for i in range(4)]
    for src in range(4):
        for dst in range(4):
            if src != dst:
                pool[dst] = mix(pool[dst], hashmix(pool[src]))
    for src in range(4, n):
        for dst in range(4):
            pool[dst] = mix(pool[dst], hashmix(entropy[src]))
    h = np.full(hash_const.shape, _SS_INIT_B, dtype=np.uint32)
    state = []
    for i in range(4):
        v = pool[i % 4] ^ h
        h = h * _SS_MULT_B
        v = v * h
        state.append((v ^ (v >> _SS_SHIFT)).astype(np.uint64))
    return state[0] | (state[1] << _S32), state[2] | (state[3] << _S32)


def _mulhilo(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """High and low 64 bits of the 128-bit products ``a * b`` (uint64, broadcasting), from 32-bit halves."""
    a0, a1 = a & _LO32, a >> _S32
    b0, b1 = b & _LO32, b >> _S32
    p01, p10 = a0 * b1, a1 * b0
    mid = ((a0 * b0) >> _S32) + (p01 & _LO32) + (p10 & _LO32)
    return a1 * b1 + (p01 >> _S32) + (p10 >> _S32) + (mid >> _S32), a * b


def stream_uniforms(seed: int, module: str, ids: np.ndarray, n: int, extra: np.ndarray | None = None) -> np.ndarray:
    """``stream(seed, module, id[, extra]).random(n)`` for every id at once: shape (len(ids), n), identical values.

    ``extra``: a second integer key per id (omitted: the key is (seed, module, id))."""
    ids = np.asarray(ids, dtype=np.int64)
    keys = [ids] if extra is None else [ids, np.asarray(extra, dtype=np.int64)]
    if seed < 0 or any(k.size and (k.min() < 0 or k.max() >= 2**32) for k in keys):
        rows = zip(*(k.tolist() for k in keys))
        return np.array([stream(seed, module, *r).random(n) for r in rows]).reshape(ids.size, n)
    shape = ids.shape
    # the seed's and the module's words are the same for every id: 0-d arrays (broadcast), computed once
    entropy = [np.array(w, dtype=np.uint32) for w in (*_uint32_words(int(seed)), module_key(module))]
    entropy += [k.astype(np.uint32) for k in keys]
    with np.errstate(over="ignore"):
        k0, k1 = _seed_sequence_key(entropy)
        out = np.empty((ids.size, n))
        # Philox4x64-10 on the counter (block, 0, 0, 0); words (c0, c2) and (c1, c3) as rows of two (2, ids)
        # arrays, so each round is one pass of each operation over both multiplications
        m = np.array(_PHILOX_M, dtype=np.uint64)[:, None]
        w = np.array(_PHILOX_W, dtype=np.uint64)[:, None]
        block = 0
        while block * 4 < n:
            block += 1
            even = np.zeros((2,) + shape, np.uint64)  # (c0, c2)
            even[0] = block
            odd = np.zeros((2,) + shape, np.uint64)  # (c1, c3)
            key = np.stack([k0, k1])
            for r in range(10):
                if r:
                    key = key + w
                hi, lo = _mulhilo(m, even)
                even, odd = hi[::-1] ^ odd ^ key, lo[::-1]  # (hi1 ^ c1 ^ key0, hi0 ^ c3 ^ key1), (lo1, lo0)
            for j, word in enumerate((even[0], odd[0], even[1], odd[1])):
                col = (block - 1) * 4 + j
                if col < n:
                    out[:, col] = (word >> np.uint64(11)).astype(np.float64) * (1.0 / 9007199254740992.0)
    return out
