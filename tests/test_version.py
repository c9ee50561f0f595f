"""One version source (pyproject.toml through the distribution metadata) and one-way imports around it."""

import ast
import importlib.metadata
from pathlib import Path

import nksim
import nksim.version as version_module
from nksim import engine

SRC = Path(nksim.__file__).resolve().parent


def _imports(path: Path) -> set[str]:
    """Modules imported anywhere in a file (``from a import b`` gives ``a`` and ``a.b``)."""
    out: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            out.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            out.add(node.module)
            out.update(f"{node.module}.{a.name}" for a in node.names)
    return out


def test_the_version_comes_from_the_distribution_metadata():
    assert nksim.__version__ == importlib.metadata.version("nksim") == version_module.get_version()
    assert engine.__version__ == nksim.__version__


def test_an_uninstalled_source_tree_reads_pyproject(monkeypatch, tmp_path):
    def not_installed(name):
        raise importlib.metadata.PackageNotFoundError(name)

    monkeypatch.setattr(version_module, "_distribution_version", not_installed)
    pyproject = version_module.SOURCE_PYPROJECT
    if pyproject.exists():
        assert version_module.get_version() == importlib.metadata.version("nksim")
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "nksim"\nversion = "9.8.7"\n', encoding="utf-8")
    assert version_module.source_tree_version(tmp_path / "pyproject.toml") == "9.8.7"
    assert version_module.source_tree_version(tmp_path / "missing.toml") == version_module.UNKNOWN


def test_no_module_writes_the_version_literal():
    literal = nksim.__version__
    for f in SRC.rglob("*.py"):
        consts = [n.value for n in ast.walk(ast.parse(f.read_text(encoding="utf-8"))) if isinstance(n, ast.Constant)]
        assert literal not in consts, f


def test_imports_go_one_way():
    assert not {"nksim", "nksim.__version__"} & _imports(SRC / "engine.py")
    results = _imports(SRC / "spatial" / "results.py")
    assert "nksim" not in results and not any(m.startswith("nksim.spatial.model") for m in results)
    assert not any(m.startswith("nksim.") and m != "nksim.version" or m == "nksim"
                   for m in _imports(SRC / "version.py"))
