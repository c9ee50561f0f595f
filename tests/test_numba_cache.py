"""Stale numba cache files are dropped when a package's sources change (constants frozen from sibling modules)."""

from pathlib import Path

from nksim.numba_cache import STAMP, refresh


def _package(tmp_path: Path) -> Path:
    pkg = tmp_path / "pkg"
    (pkg / "__pycache__").mkdir(parents=True)
    (pkg / "__init__.py").write_text("", encoding="utf-8")
    (pkg / "layout.py").write_text("N = 3\n", encoding="utf-8")
    return pkg


def test_cache_files_survive_until_a_source_changes(tmp_path):
    pkg = _package(tmp_path)
    refresh(str(pkg / "__init__.py"))  # first import records the fingerprint
    cached = pkg / "__pycache__" / "rhs.rhs-1.py311.nbi"
    cached.write_text("compiled", encoding="utf-8")
    assert refresh(str(pkg / "__init__.py")) is False
    assert cached.exists()
    (pkg / "layout.py").write_text("N = 4\n", encoding="utf-8")  # a constant the compiled code froze
    assert refresh(str(pkg / "__init__.py")) is True
    assert not cached.exists()
    assert (pkg / "__pycache__" / STAMP).exists()


def test_a_source_outside_the_package_can_be_watched_too(tmp_path):
    pkg = _package(tmp_path)
    outside = tmp_path / "rng.py"
    outside.write_text("GOLDEN = 1\n", encoding="utf-8")
    refresh(str(pkg / "__init__.py"), also=(str(outside),))
    cached = pkg / "__pycache__" / "kernels.step-1.py311.nbc"
    cached.write_text("compiled", encoding="utf-8")
    assert refresh(str(pkg / "__init__.py"), also=(str(outside),)) is False
    outside.write_text("GOLDEN = 2\n", encoding="utf-8")  # a constant imported from another package
    assert refresh(str(pkg / "__init__.py"), also=(str(outside),)) is True
    assert not cached.exists()


def test_the_abm_guard_watches_the_shared_generator():
    """nksim.spatial compiles nksim.rng's SplitMix64 code into its cached kernels: its stamp covers nksim/rng.py."""
    import pytest

    import nksim.rng
    import nksim.spatial
    from nksim.numba_cache import fingerprint

    stamp = Path(nksim.spatial.__file__).resolve().parent / "__pycache__" / STAMP
    if not stamp.exists():
        pytest.skip("read-only install: no stamp written")
    pkg = Path(nksim.spatial.__file__).resolve().parent
    assert stamp.read_text(encoding="utf-8") == fingerprint(pkg, (nksim.rng.__file__,))
    assert stamp.read_text(encoding="utf-8") != fingerprint(pkg)
