"""Stale numba cache files are dropped when a package's sources change (constants frozen from sibling modules)."""

from pathlib import Path

from nksim.numba_cache import STAMP, refresh


def _package(tmp_path: Path) -> Path:
    pkg = tmp_path / "pkg"
    (pkg / "__pycache__").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "layout.py").write_text("N = 3\n")
    return pkg


def test_cache_files_survive_until_a_source_changes(tmp_path):
    pkg = _package(tmp_path)
    refresh(str(pkg / "__init__.py"))  # first import records the fingerprint
    cached = pkg / "__pycache__" / "rhs.rhs-1.py311.nbi"
    cached.write_text("compiled")
    assert refresh(str(pkg / "__init__.py")) is False
    assert cached.exists()
    (pkg / "layout.py").write_text("N = 4\n")  # a constant the compiled code froze
    assert refresh(str(pkg / "__init__.py")) is True
    assert not cached.exists()
    assert (pkg / "__pycache__" / STAMP).exists()
