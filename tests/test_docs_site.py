"""The documentation site builds with `mkdocs build --strict` (broken links, missing pages and API objects that do
not resolve fail), and the tutorials' commands are real: each `nksim ...` line parses with the actual CLI (options,
argument types, files it names)."""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from test_readme import parse_only

ROOT = Path(__file__).resolve().parents[1]
TUTORIALS = sorted((ROOT / "docs" / "tutorials").glob("*.md"))


def test_mkdocs_build_strict(tmp_path):
    out = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "-f", str(ROOT / "mkdocs.yml"), "-d",
                          str(tmp_path / "site")], capture_output=True, text=True, encoding="utf-8", cwd=ROOT)
    assert out.returncode == 0, out.stderr[-3000:]
    api = (tmp_path / "site" / "api" / "index.html").read_text(encoding="utf-8")
    for name in ("nksim.engine.simulate", "nksim.spec.scenario.Scenario.replace", "nksim.registry.load_registry"):
        assert f'id="{name}"' in api, name  # the API reference came from the docstrings
    for page in ("tutorials/qsp-modeler", "tutorials/trial-statistician", "tutorials/process-engineer",
                 "tutorials/translational-scientist", "parameters", "cli"):
        assert (tmp_path / "site" / page / "index.html").exists(), page


def test_one_tutorial_per_user_type():
    assert [p.stem for p in TUTORIALS] == ["process-engineer", "qsp-modeler", "translational-scientist",
                                           "trial-statistician"]


@pytest.mark.parametrize("page", TUTORIALS, ids=lambda p: p.stem)
def test_tutorial_commands_parse(page, monkeypatch, tmp_path):
    (tmp_path / "src").symlink_to(ROOT / "src")
    monkeypatch.chdir(tmp_path)
    blocks = re.findall(r"```bash\n(.*?)```", page.read_text(encoding="utf-8"), re.S)
    lines = [re.sub(r"\s+#\s.*$", "", line).strip() for b in blocks for line in b.splitlines()]
    commands = [shlex.split(line)[1:] for line in lines if line.startswith("nksim ")]
    assert len(commands) >= 3
    for args in commands:
        if ">" in args:
            args = args[: args.index(">")]
        parse_only(args)
