"""Counter-based random streams keyed by (seed, module, entity id).

A patient's (or lot's, or agent's) draws never depend on chunking, worker count or order: each key gets its own
``numpy.random.Generator`` (Philox) from a ``SeedSequence`` built from the seed, a stable hash of the module name and
the integer id(s).
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
