"""The package version, from one source: ``version`` in pyproject.toml, read through the installed distribution's
metadata (``importlib.metadata``).

A small module with no nksim imports, so that the top package and its submodules (e.g. ``nksim.engine``,
``nksim.spatial.results``) can all read the version without importing the top package.
"""

from __future__ import annotations

import tomllib
from importlib.metadata import PackageNotFoundError
from importlib.metadata import version as _distribution_version
from pathlib import Path

DISTRIBUTION = "nksim"
UNKNOWN = "0+unknown"
SOURCE_PYPROJECT = Path(__file__).resolve().parents[2] / "pyproject.toml"  # src/nksim/version.py -> repository root


def source_tree_version(pyproject: Path = SOURCE_PYPROJECT) -> str:
    """``[project] version`` of the pyproject.toml of an uninstalled source tree (``UNKNOWN`` if unreadable)."""
    try:
        return str(tomllib.loads(Path(pyproject).read_text(encoding="utf-8"))["project"]["version"])
    except (OSError, KeyError, TypeError, tomllib.TOMLDecodeError):
        return UNKNOWN


def get_version() -> str:
    """The installed nksim's version; for a source tree that was never installed, its pyproject.toml's."""
    try:
        return _distribution_version(DISTRIBUTION)
    except PackageNotFoundError:
        return source_tree_version()


__version__ = get_version()

__all__ = ["__version__", "get_version", "source_tree_version"]
