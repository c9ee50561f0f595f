"""Keep numba's on-disk caches in step with the sources they were compiled from.

numba invalidates a cached function only when the file that defines it changes; the compiled code also freezes
module-level constants imported from other files (e.g. the state layout in ``nksim.kinetics.layout``). A package
that holds compiled code calls :func:`refresh` on import: when any ``.py`` file of that package differs from the
last recorded fingerprint, its cached ``.nbi``/``.nbc`` files are removed, so they are rebuilt instead of running
stale code.
"""

from __future__ import annotations

import hashlib
import types
from pathlib import Path

STAMP = "nksim-sources.sha256"


def fingerprint(package_dir: Path, also: tuple[str, ...] = ()) -> str:
    """SHA-256 over the names and contents of the package's .py files (sorted), then of the files ``also``."""
    h = hashlib.sha256()
    for f in [*sorted(package_dir.glob("*.py")), *(Path(a) for a in also)]:
        h.update(f.name.encode())
        h.update(f.read_bytes())
    return h.hexdigest()


def refresh(package_file: str, also: tuple[str, ...] = ()) -> bool:
    """Drop stale numba cache files next to the package whose ``__init__`` is ``package_file``; ``also``: source
    files outside the package whose constants its compiled code freezes.

    Returns True when files were removed. A read-only install is left alone (numba then caches elsewhere)."""
    pkg = Path(package_file).resolve().parent
    cache = pkg / "__pycache__"
    stamp = cache / STAMP
    current = fingerprint(pkg, also)
    try:
        if stamp.exists() and stamp.read_text(encoding="utf-8") == current:
            return False
        removed = False
        for f in list(cache.glob("*.nbi")) + list(cache.glob("*.nbc")):
            f.unlink(missing_ok=True)
            removed = True
        cache.mkdir(exist_ok=True)
        stamp.write_text(current, encoding="utf-8")
        return removed
    except OSError:
        return False


def renamed_copy(f: types.FunctionType, name: str) -> types.FunctionType:
    """A copy of a Python function under another name, so that a second numba build of it (e.g. serial and
    parallel) gets its own on-disk cache entry (numba keys its cache by the function's qualified name)."""
    g = types.FunctionType(f.__code__.replace(co_name=name, co_qualname=name), f.__globals__, name, f.__defaults__,
                           f.__closure__)
    g.__qualname__ = name
    return g
